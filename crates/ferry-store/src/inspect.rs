//! `ferry check` for a bucket's store: what its manifest lists and whether the files are
//! there and readable, without opening the store (which deletes unlisted files); and the one
//! repair that loses nothing still readable: dropping listed files that are gone or unreadable
//! from the manifest.

use std::collections::HashSet;
use std::fs;
use std::path::Path;

use crate::error::StoreError;
use crate::manifest::Manifest;
use crate::pq;

/// One data file the manifest lists that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadFile {
    /// Path relative to the store directory.
    pub path: String,
    /// Rows the manifest says it holds.
    pub rows: u64,
    /// What is wrong.
    pub reason: String,
}

/// What [`inspect`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreInspection {
    /// Whether there is a manifest (a bucket never persisted has none).
    pub has_manifest: bool,
    /// The LSN up to which the files hold the log's records.
    pub persisted_lsn: Option<u64>,
    /// Files listed.
    pub files: usize,
    /// Rows in them (by the manifest).
    pub rows: u64,
    /// Listed files that are missing or whose footer does not read.
    pub bad_files: Vec<BadFile>,
    /// Data files the manifest does not list (left by a crash; the next open deletes them).
    pub unlisted_files: Vec<String>,
    /// Deletions recorded in the manifest.
    pub tombstones: usize,
}

/// Reads the manifest of the store in `dir` and the footer of every file it lists; changes
/// nothing. An unreadable manifest is the error.
pub fn inspect(dir: &Path) -> Result<StoreInspection, StoreError> {
    Ok(read(dir)?.0)
}

/// [`inspect`], and the manifest it read (`None` when there is none).
fn read(dir: &Path) -> Result<(StoreInspection, Option<Manifest>), StoreError> {
    let Some(m) = Manifest::load(dir)? else {
        let found = StoreInspection {
            has_manifest: false,
            persisted_lsn: None,
            files: 0,
            rows: 0,
            bad_files: Vec::new(),
            unlisted_files: unlisted(dir, &HashSet::new())?,
            tombstones: 0,
        };
        return Ok((found, None));
    };
    let bad_files = m
        .files
        .iter()
        .filter_map(|f| {
            unreadable(dir, &f.path).map(|reason| BadFile {
                path: f.path.clone(),
                rows: f.rows,
                reason,
            })
        })
        .collect();
    let listed: HashSet<String> = m.files.iter().map(|f| f.path.clone()).collect();
    let found = StoreInspection {
        has_manifest: true,
        persisted_lsn: m.persisted_lsn,
        files: m.files.len(),
        rows: m.files.iter().map(|f| f.rows).sum(),
        bad_files,
        unlisted_files: unlisted(dir, &listed)?,
        tombstones: m.tombstones.len(),
    };
    Ok((found, Some(m)))
}

/// Why the data file at `rel` cannot be read, if it cannot.
fn unreadable(dir: &Path, rel: &str) -> Option<String> {
    let path = dir.join(rel);
    if !path.is_file() {
        return Some("missing".into());
    }
    pq::FileIndex::load(&path).err().map(|e| e.to_string())
}

fn unlisted(dir: &Path, listed: &HashSet<String>) -> Result<Vec<String>, StoreError> {
    let mut out = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e.into()),
    };
    for entry in entries {
        let entry = entry?;
        let dname = entry.file_name().to_string_lossy().into_owned();
        if !entry.file_type()?.is_dir() || !dname.starts_with("m_") {
            continue;
        }
        for f in fs::read_dir(entry.path())? {
            let fname = f?.file_name().to_string_lossy().into_owned();
            let rel = format!("{dname}/{fname}");
            if fname.ends_with(".parquet") && !listed.contains(&rel) {
                out.push(rel);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Drops the listed files that are missing or unreadable from the manifest (their rows are
/// lost; everything else stays readable) and returns them. The persisted LSN is kept: the
/// log records those files came from may be gone already.
pub fn drop_bad_files(dir: &Path) -> Result<Vec<BadFile>, StoreError> {
    let (found, manifest) = read(dir)?;
    let Some(mut m) = manifest.filter(|_| !found.bad_files.is_empty()) else {
        return Ok(Vec::new());
    };
    let bad: HashSet<&str> = found.bad_files.iter().map(|b| b.path.as_str()).collect();
    m.files.retain(|f| !bad.contains(f.path.as_str()));
    m.store(dir)?;
    Ok(found.bad_files)
}
