//! Files only the node's user may read (mode 0600): the seal key, the first start's operator
//! token. Replaced atomically and made durable with their directory entry, since losing or
//! truncating either after a power cut loses access to what they guard.

use std::path::Path;

/// Writes `contents` to `path` (mode 0600 from its first byte) with
/// [`ferry_fs::atomic_write`]: after a crash the file holds the old or the new contents.
pub fn write(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    Ok(ferry_fs::atomic_write(
        path,
        contents,
        ferry_fs::Access::OwnerOnly,
    )?)
}
