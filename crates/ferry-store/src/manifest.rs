//! `manifest.json`: the schema and the index of live Parquet files, replaced atomically.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::StoreError;
use crate::files::FileMeta;

/// Name of the manifest file inside the bucket directory.
pub(crate) const MANIFEST: &str = "manifest.json";

/// One measurement's schema as stored.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub(crate) struct ManifestMeasurement {
    pub tags: Vec<String>,
    /// Field name → type name (`float`, `integer`, `unsigned`, `string`, `boolean`).
    pub fields: BTreeMap<String, String>,
}

/// The whole manifest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct Manifest {
    pub version: u32,
    pub partition_duration_ns: i64,
    pub next_seq: u64,
    pub persisted_lsn: Option<u64>,
    pub schema: BTreeMap<String, ManifestMeasurement>,
    pub files: Vec<FileMeta>,
    /// Deletions still hiding data in older files or older log records (absent when none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tombstones: Vec<crate::tombstone::Tombstone>,
}

impl Manifest {
    /// Reads the manifest of `dir`, or `None` when there is none yet.
    pub fn load(dir: &Path) -> Result<Option<Manifest>, StoreError> {
        let path = dir.join(MANIFEST);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let m: Manifest = serde_json::from_slice(&bytes)
            .map_err(|e| StoreError::Corrupt(format!("{}: {e}", path.display())))?;
        if m.version != 1 {
            return Err(StoreError::Corrupt(format!(
                "unsupported manifest version {}",
                m.version
            )));
        }
        Ok(Some(m))
    }

    /// Writes the manifest atomically: temp file, fsync, rename, directory fsync.
    pub fn store(&self, dir: &Path) -> Result<(), StoreError> {
        let bytes =
            serde_json::to_vec_pretty(self).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        ferry_fs::atomic_write(&dir.join(MANIFEST), &bytes, ferry_fs::Access::Default).map_err(
            |e| match e {
                ferry_fs::WriteError::NotReplaced(e) => StoreError::Io(e),
                ferry_fs::WriteError::ReplacedNotDurable(e) => StoreError::ManifestNotDurable(e),
            },
        )
    }
}

/// Fsyncs a directory so that entries created or renamed in it are durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    Ok(ferry_fs::sync_dir(dir)?)
}
