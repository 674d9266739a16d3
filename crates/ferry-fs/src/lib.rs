//! `ferry-fs`: the few file-system operations every durable file of Ferry goes through.
//!
//! - [`atomic_write`]: replace a file so that after a crash or a power cut either the old or
//!   the new contents are there, never a mix and never nothing (temp file, write, fsync,
//!   rename, directory fsync), created with its final permissions from the first byte.
//! - [`sync_dir`]: make the entries created or renamed in a directory durable.
//! - [`DataDirLock`]: one process per data dir.
//! - [`Fs`]: the seam those operations (and the bucket log's) go through: [`RealFs`] in
//!   production, [`sim::SimFs`] in tests, an in-memory file system that injects `ENOSPC`,
//!   `EIO`, failed fsyncs and renames, and simulates power loss by dropping every byte that
//!   was not fsynced and every directory change whose directory was not fsynced.
//!
//! There is one way to do each of these in Ferry, and it is here: the log's segments and
//! cursors, the store's manifest, replication gaps, import and sync checkpoints, CLI
//! profiles, the seal key and the first token all use it.

#![deny(unsafe_code)]

use std::fmt;
use std::io::{self, Read, Seek};
use std::path::{Path, PathBuf};

#[cfg(feature = "inject")]
pub mod inject;
mod lock;
mod real;
pub mod sim;

pub use lock::{DataDirLock, LockError, LOCK_FILE};
pub use real::RealFs;

/// Who may read a file written by [`atomic_write`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// 0644 less the process umask: data files.
    Default,
    /// 0600: tokens, keys, anything that opens something else.
    OwnerOnly,
}

impl Access {
    /// The mode bits a new file gets.
    pub fn mode(self) -> u32 {
        match self {
            Access::Default => 0o644,
            Access::OwnerOnly => 0o600,
        }
    }
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

/// Wraps an error of `op` on `path` into an [`io::Error`] of the same kind naming both.
pub fn at<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> io::Error + 'a {
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

/// A file opened for reading: reads see appends made after it was opened.
pub trait ReadFile: Read + Seek + Send {}
impl<T: Read + Seek + Send> ReadFile for T {}

/// A file opened for appending (the log's active segment).
pub trait AppendFile: Send {
    /// Appends all of `buf` (on error, a prefix may have been written).
    fn append(&mut self, buf: &[u8]) -> io::Result<()>;
    /// `fdatasync`: the appended bytes survive a power cut once this returns `Ok`.
    fn sync_data(&mut self) -> io::Result<()>;
    /// Cuts the file to `len` bytes (not durable until [`AppendFile::sync_data`]).
    fn truncate(&mut self, len: u64) -> io::Result<()>;
    /// The file's current length.
    fn len(&self) -> io::Result<u64>;
    /// Whether the file is empty.
    fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }
}

/// The file-system operations of Ferry's durable files. Paths are absolute or relative to
/// the process's working directory, as with `std::fs`.
pub trait Fs: Send + Sync + fmt::Debug {
    /// Creates `dir` and its parents (durably: their entries are fsynced).
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// The names of the entries of `dir`.
    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// The whole file.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// Opens `path` for reading.
    fn open_read(&self, path: &Path) -> io::Result<Box<dyn ReadFile>>;
    /// Opens an existing `path` for appending.
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn AppendFile>>;
    /// Creates `path`, which must not exist, with `contents` and `access`'s mode, and fsyncs
    /// it (not its directory entry).
    fn write_new(&self, path: &Path, contents: &[u8], access: Access) -> io::Result<()>;
    /// Renames `from` to `to`, replacing `to` (not durable until [`Fs::sync_dir`]).
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes a file (not durable until [`Fs::sync_dir`]).
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Fsyncs directory `dir`: the entries created, renamed or removed in it are durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// The length of `path`.
    fn file_len(&self, path: &Path) -> io::Result<u64>;
    /// Whether `path` exists.
    fn exists(&self, path: &Path) -> bool {
        self.file_len(path).is_ok()
    }
}

/// The temporary name [`atomic_write`] uses for `path` (`<name>.tmp` in the same directory).
/// Readers of a directory may delete such leftovers of a crash.
pub fn temp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".tmp");
    PathBuf::from(s)
}

/// The directory `path` is in (`.` for a bare name).
pub fn parent_dir(path: &Path) -> &Path {
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
    atomic_write_in(&RealFs, path, contents, access)
}

/// [`atomic_write`] on a given [`Fs`].
pub fn atomic_write_in(
    fs: &dyn Fs,
    path: &Path,
    contents: &[u8],
    access: Access,
) -> Result<(), WriteError> {
    let tmp = temp_path(path);
    // A leftover temp file keeps its old mode when opened again: start from none.
    match fs.remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(WriteError::NotReplaced(at("remove", &tmp)(e))),
    }
    if let Err(e) = fs.write_new(&tmp, contents, access) {
        let _ = fs.remove_file(&tmp);
        return Err(WriteError::NotReplaced(at("write", &tmp)(e)));
    }
    if let Err(e) = fs.rename(&tmp, path) {
        let _ = fs.remove_file(&tmp);
        return Err(WriteError::NotReplaced(at("rename", path)(e)));
    }
    fs.sync_dir(parent_dir(path))
        .map_err(|e| WriteError::ReplacedNotDurable(at("fsync directory", parent_dir(path))(e)))
}

/// Fsyncs directory `dir`, making the entries created, renamed or removed in it durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    RealFs.sync_dir(dir).map_err(at("fsync directory", dir))
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
}
