//! Fault injection into [`crate::RealFs`] for tests (feature `inject`, enabled only by
//! dev-dependencies, so a release build has none of it): the next operation of a kind on a
//! path ending with a given suffix fails with a given error, once.

use parking_lot::Mutex;
use std::io;
use std::path::Path;

/// The operations a fault can be armed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// [`crate::Fs::write_new`] (creating, writing and fsyncing a new file).
    WriteNew,
    /// [`crate::Fs::rename`] (matched on the destination).
    Rename,
    /// [`crate::Fs::sync_dir`].
    SyncDir,
}

struct Armed {
    op: Op,
    suffix: String,
    errno: i32,
}

static ARMED: Mutex<Vec<Armed>> = Mutex::new(Vec::new());

/// Makes the next `op` on a path ending with `suffix` fail with OS error `errno` (e.g. 28
/// for `ENOSPC`, 5 for `EIO`).
pub fn fail_next(op: Op, suffix: &str, errno: i32) {
    ARMED.lock().push(Armed {
        op,
        suffix: suffix.to_string(),
        errno,
    });
}

/// The armed fault for `op` on `path`, consumed.
pub(crate) fn take(op: Op, path: &Path) -> Option<io::Error> {
    let mut armed = ARMED.lock();
    let at = armed
        .iter()
        .position(|a| a.op == op && path.to_string_lossy().ends_with(&a.suffix))?;
    Some(io::Error::from_raw_os_error(armed.remove(at).errno))
}
