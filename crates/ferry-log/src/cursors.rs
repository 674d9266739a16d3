//! The cursors file: named consumer positions, checksummed and replaced atomically.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use ferry_fs::Fs;

use crate::segment::unique_path;
use crate::types::{io_err, LogError, Lsn};

pub(crate) const CURSORS_FILE: &str = "cursors";
pub(crate) const CURSORS_TMP: &str = "cursors.tmp";
pub(crate) const CURSORS_MAGIC: &str = "ferry-log-cursors v1";
pub(crate) const MAX_CURSOR_NAME: usize = 200;
pub(crate) fn validate_cursor_name(name: &str) -> Result<(), LogError> {
    if name.is_empty()
        || name.len() > MAX_CURSOR_NAME
        || name.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(LogError::InvalidArgument(format!(
            "cursor name {name:?} must be 1..={MAX_CURSOR_NAME} bytes without whitespace"
        )));
    }
    Ok(())
}

pub(crate) fn load_cursors(fs: &dyn Fs, dir: &Path) -> Result<BTreeMap<String, Lsn>, LogError> {
    let path = dir.join(CURSORS_FILE);
    let text = match fs.read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(io_err(&path, e)),
    };
    let corrupt = |reason: &str| LogError::Corrupt {
        path: path.clone(),
        lsn: 0,
        reason: reason.to_string(),
    };
    let text = String::from_utf8(text).map_err(|_| corrupt("not UTF-8"))?;
    let body_end = text
        .trim_end_matches('\n')
        .rfind('\n')
        .map(|i| i + 1)
        .ok_or_else(|| corrupt("missing checksum line"))?;
    let (body, trailer) = text.split_at(body_end);
    let crc_hex = trailer
        .trim_end()
        .strip_prefix("crc32c ")
        .ok_or_else(|| corrupt("missing checksum line"))?;
    let crc = u32::from_str_radix(crc_hex, 16).map_err(|_| corrupt("bad checksum line"))?;
    if crc32c::crc32c(body.as_bytes()) != crc {
        return Err(corrupt("checksum mismatch"));
    }
    let mut lines = body.lines();
    if lines.next() != Some(CURSORS_MAGIC) {
        return Err(corrupt("bad magic line"));
    }
    let mut map = BTreeMap::new();
    for line in lines {
        let (name, lsn) = line
            .split_once(' ')
            .ok_or_else(|| corrupt("bad cursor line"))?;
        let lsn: Lsn = lsn.parse().map_err(|_| corrupt("bad cursor LSN"))?;
        map.insert(name.to_string(), lsn);
    }
    Ok(map)
}

pub(crate) fn persist_cursors(
    fs: &dyn Fs,
    dir: &Path,
    cursors: &BTreeMap<String, Lsn>,
) -> Result<(), LogError> {
    let mut body = format!("{CURSORS_MAGIC}\n");
    for (name, lsn) in cursors {
        body.push_str(&format!("{name} {lsn}\n"));
    }
    let crc = crc32c::crc32c(body.as_bytes());
    body.push_str(&format!("crc32c {crc:08x}\n"));
    let path = dir.join(CURSORS_FILE);
    ferry_fs::atomic_write_in(fs, &path, body.as_bytes(), ferry_fs::Access::Default)
        .map_err(|e| io_err(&path, e.into()))
}

/// Replaces the cursors file of the stopped log in `dir` (one that does not read, see
/// [`Inspection::cursors`]) with `cursors`; an existing file is kept as `cursors.corrupt`.
/// For `ferry check --repair`.
pub fn replace_cursors(dir: &Path, cursors: &BTreeMap<String, Lsn>) -> Result<(), LogError> {
    let fs = ferry_fs::RealFs;
    let path = dir.join(CURSORS_FILE);
    if fs.exists(&path) {
        let aside = unique_path(&fs, dir, &format!("{CURSORS_FILE}.corrupt"));
        fs.rename(&path, &aside).map_err(|e| io_err(&path, e))?;
    }
    persist_cursors(&fs, dir, cursors)
}
