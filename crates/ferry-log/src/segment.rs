//! Segment files: names, the header, creating one atomically.

use std::path::{Path, PathBuf};

use ferry_fs::{AppendFile, Fs};

use crate::types::{io_err, LogError, Lsn, FORMAT_VERSION, SEGMENT_HEADER_LEN, SEGMENT_MAGIC};
pub(crate) fn segment_name(base: Lsn) -> String {
    format!("{base:020}.seg")
}

pub(crate) fn parse_segment_name(name: &str) -> Option<Lsn> {
    let stem = name.strip_suffix(".seg")?;
    if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

pub(crate) fn sync_dir(fs: &dyn Fs, dir: &Path) -> Result<(), LogError> {
    fs.sync_dir(dir).map_err(|e| io_err(dir, e))
}

pub(crate) fn segment_header() -> [u8; SEGMENT_HEADER_LEN as usize] {
    let mut h = [0u8; SEGMENT_HEADER_LEN as usize];
    h[..8].copy_from_slice(SEGMENT_MAGIC);
    h[8..].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    h
}

/// Creates segment `base` atomically ([`ferry_fs::atomic_write`] of its header) and
/// returns it opened for appending, positioned after the header.
pub(crate) fn create_segment(
    fs: &dyn Fs,
    dir: &Path,
    base: Lsn,
) -> Result<Box<dyn AppendFile>, LogError> {
    let path = dir.join(segment_name(base));
    ferry_fs::atomic_write_in(fs, &path, &segment_header(), ferry_fs::Access::Default)
        .map_err(|e| io_err(&path, e.into()))?;
    fs.open_append(&path).map_err(|e| io_err(&path, e))
}

/// Returns `base_name` or `base_name.N` so that no existing file is overwritten.
pub(crate) fn unique_path(fs: &dyn Fs, dir: &Path, base_name: &str) -> PathBuf {
    let mut p = dir.join(base_name);
    let mut n = 1;
    while fs.exists(&p) {
        p = dir.join(format!("{base_name}.{n}"));
        n += 1;
    }
    p
}
