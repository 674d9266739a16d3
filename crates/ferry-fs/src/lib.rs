//! `ferry-fs`: the few file-system operations every durable file of Ferry goes through.
//!
//! - [`atomic_write`]: replace a file so that after a crash or a power cut either the old or
//!   the new contents are there, never a mix and never nothing (temp file, write, fsync,
//!   rename, directory fsync), created with its final permissions from the first byte.
//! - [`sync_dir`]: make the entries created or renamed in a directory durable.
//! - [`DataDirLock`]: one process per data dir.
//!
//! There is one way to do each of these in Ferry, and it is here: the log's cursors, the
//! store's manifest, replication gaps, import and sync checkpoints, CLI profiles, the seal
//! key and the first token all use it.

#![deny(unsafe_code)]

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Who may read a file written by [`atomic_write`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// 0644 less the process umask: data files.
    Default,
    /// 0600: tokens, keys, anything that opens something else.
    OwnerOnly,
}

/// An I/O error with the operation and the path it happened on, kept as the source of an
/// [`io::Error`] of the same kind (so `?` works everywhere and the path is in the message).
#[derive(Debug, thiserror::Error)]
#[error("{op} {}: {source}", path.display())]
pub struct PathError {
    /// What was being done ("write", "rename", "fsync directory", ...).
    pub op: &'static str,
    /// The file or directory.
    pub path: PathBuf,
    /// The underlying error.
    #[source]
    pub source: io::Error,
}

fn at<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> io::Error + 'a {
    move |source| {
        io::Error::new(
            source.kind(),
            PathError {
                op,
                path: path.to_path_buf(),
                source,
            },
        )
    }
}

/// The temporary name [`atomic_write`] uses for `path` (`<name>.tmp` in the same directory).
/// Readers of a directory may delete such leftovers of a crash.
pub fn temp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".tmp");
    PathBuf::from(s)
}

fn parent_dir(path: &Path) -> &Path {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Why [`atomic_write`] failed, and so what the file holds now.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Nothing was replaced: the file holds its old contents (or is still missing).
    #[error("{0}")]
    NotReplaced(#[source] io::Error),
    /// The new contents are in place and visible, but the directory fsync failed: a power
    /// cut may still bring back the old ones. A caller must keep whatever either version
    /// refers to, and must not count the new one as durable.
    #[error("{0} (the file was replaced, but the replacement may not survive a power cut)")]
    ReplacedNotDurable(#[source] io::Error),
}

impl WriteError {
    /// The underlying I/O error.
    pub fn io(&self) -> &io::Error {
        match self {
            WriteError::NotReplaced(e) | WriteError::ReplacedNotDurable(e) => e,
        }
    }
}

impl From<WriteError> for io::Error {
    fn from(e: WriteError) -> io::Error {
        io::Error::new(e.io().kind(), e)
    }
}

/// Replaces `path` with `contents` atomically and durably: writes `<path>.tmp` (created anew
/// with `access`'s mode, so the bytes are never readable by others even for a moment),
/// fsyncs it, renames it over `path` and fsyncs the directory. When this returns `Ok` the new
/// contents survive a power cut; the error says whether the file was replaced
/// ([`WriteError`]); the temp file is removed where possible.
pub fn atomic_write(path: &Path, contents: &[u8], access: Access) -> Result<(), WriteError> {
    let tmp = temp_path(path);
    // A leftover temp file keeps its old mode when opened again: start from none.
    match std::fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(WriteError::NotReplaced(at("remove", &tmp)(e))),
    }
    let mode = match access {
        Access::Default => 0o644,
        Access::OwnerOnly => 0o600,
    };
    let written = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
            .map_err(at("create", &tmp))?;
        f.write_all(contents).map_err(at("write", &tmp))?;
        f.sync_all().map_err(at("fsync", &tmp))
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(WriteError::NotReplaced(e));
    }
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(WriteError::NotReplaced(at("rename", path)(e)));
    }
    sync_dir(parent_dir(path)).map_err(WriteError::ReplacedNotDurable)
}

/// Fsyncs directory `dir`, making the entries created, renamed or removed in it durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(at("fsync directory", dir))
}

/// Why a data dir could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds the lock.
    #[error("the data dir {} is in use by another process{}; stop it first, or give this one its own --data-dir", dir.display(), holder.as_deref().map(|h| format!(" ({h})")).unwrap_or_default())]
    InUse {
        /// The data dir.
        dir: PathBuf,
        /// What the holder wrote into the lock file (its PID), if readable.
        holder: Option<String>,
    },
    /// The lock file could not be created or locked.
    #[error("cannot lock the data dir {}: {source}", dir.display())]
    Io {
        /// The data dir.
        dir: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

/// The name of the lock file in a data dir.
pub const LOCK_FILE: &str = "ferry.lock";

/// An exclusive advisory lock (`flock`) on `<data-dir>/ferry.lock`, held while this value
/// lives. The kernel releases it when the process dies, however it dies, so a crash never
/// leaves a stale lock behind; the PID written into the file is only for the message.
#[derive(Debug)]
pub struct DataDirLock {
    file: File,
    dir: PathBuf,
}

impl DataDirLock {
    /// Takes the lock or says who holds it. Never waits.
    pub fn acquire(dir: &Path) -> Result<DataDirLock, LockError> {
        let path = dir.join(LOCK_FILE);
        let io = |source| LockError::Io {
            dir: dir.to_path_buf(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(&path)
                    .ok()
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty());
                return Err(LockError::InUse {
                    dir: dir.to_path_buf(),
                    holder,
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        file.set_len(0)
            .and_then(|_| file.write_all(format!("pid {}\n", std::process::id()).as_bytes()))
            .map_err(io)?;
        Ok(DataDirLock {
            file,
            dir: dir.to_path_buf(),
        })
    }

    /// The locked data dir.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for DataDirLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn replaces_whole_and_leaves_no_temp() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f.json");
        atomic_write(&p, b"one", Access::Default).unwrap();
        atomic_write(&p, b"two!", Access::Default).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two!");
        assert!(!temp_path(&p).exists());
    }

    #[test]
    fn owner_only_from_the_first_byte_even_over_a_leftover_temp() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("key");
        let tmp = temp_path(&p);
        std::fs::write(&tmp, b"stale").unwrap();
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o666)).unwrap();
        atomic_write(&p, b"secret", Access::OwnerOnly).unwrap();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(std::fs::read(&p).unwrap(), b"secret");
    }

    #[test]
    fn errors_name_the_path() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("missing-dir").join("f");
        let e = atomic_write(&p, b"x", Access::Default).unwrap_err();
        assert!(matches!(e, WriteError::NotReplaced(_)), "{e}");
        let e = io::Error::from(e);
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert!(e.to_string().contains("missing-dir"), "{e}");
    }

    #[test]
    fn second_lock_is_refused_with_the_holder_and_freed_on_drop() {
        let d = tempfile::tempdir().unwrap();
        let first = DataDirLock::acquire(d.path()).unwrap();
        let e = DataDirLock::acquire(d.path()).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, LockError::InUse { .. }), "{msg}");
        assert!(
            msg.contains(&format!("pid {}", std::process::id())),
            "{msg}"
        );
        drop(first);
        DataDirLock::acquire(d.path()).unwrap();
    }
}
