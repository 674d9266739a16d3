//! One process per data dir: an exclusive `flock` on `<data-dir>/ferry.lock`.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

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
