//! The state file: what a sync has copied, per measurement, saved after every window
//! (written to a temporary file, fsynced, renamed over the old one, directory fsynced).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::window::IntervalSet;
use crate::SyncError;

/// Saved progress of one sync.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncState {
    /// Format version (1).
    pub version: u32,
    /// Identity of the sync: source URL, db, rp, target (so a state file is not reused for a
    /// different sync by mistake).
    pub identity: String,
    /// Copied intervals per measurement (ns, `[start, end)`).
    pub done: BTreeMap<String, IntervalSet>,
    /// Points copied so far (all runs).
    #[serde(default)]
    pub points: u64,
}

impl SyncState {
    /// A fresh state for `identity`.
    pub fn new(identity: &str) -> SyncState {
        SyncState {
            version: 1,
            identity: identity.to_string(),
            ..Default::default()
        }
    }

    /// Loads `path`, or a fresh state when it does not exist. A file of another sync is an
    /// error (remove it or pass another `--state`).
    pub fn load(path: &Path, identity: &str) -> Result<SyncState, SyncError> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(SyncState::new(identity))
            }
            Err(e) => return Err(SyncError::io(path, e)),
        };
        let s: SyncState = serde_json::from_slice(&bytes).map_err(|e| {
            SyncError::Config(format!("state file {} is unreadable: {e}", path.display()))
        })?;
        if s.identity != identity {
            return Err(SyncError::Config(format!(
                "state file {} belongs to another sync ({}); remove it or pass --state",
                path.display(),
                s.identity
            )));
        }
        Ok(s)
    }

    /// Saves atomically and durably.
    pub fn save(&self, path: &Path) -> Result<(), SyncError> {
        let body = serde_json::to_vec_pretty(self).expect("state serializes");
        ferry_fs::atomic_write(path, &body, ferry_fs::Access::Default)
            .map_err(|e| SyncError::io(path, e.into()))
    }
}

/// The default state file name: `./ferry-sync-<first 12 hex of sha256(identity)>.json`.
pub fn default_state_path(identity: &str) -> PathBuf {
    let h = Sha256::digest(identity.as_bytes());
    let hex: String = h.iter().take(6).map(|b| format!("{b:02x}")).collect();
    PathBuf::from(format!("ferry-sync-{hex}.json"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::window::plan;

    #[test]
    fn resume_reads_only_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let mut s = SyncState::load(&path, "id").unwrap();
        assert!(s.done.is_empty());
        s.done.entry("cpu".into()).or_default().insert(0, 100);
        s.done.entry("cpu".into()).or_default().insert(200, 300);
        s.points = 42;
        s.save(&path).unwrap();
        assert!(!ferry_fs::temp_path(&path).exists());
        let back = SyncState::load(&path, "id").unwrap();
        assert_eq!(back, s);
        let todo: Vec<_> = plan("cpu", &back.done["cpu"], 0, 400, 100)
            .into_iter()
            .map(|w| (w.start, w.end))
            .collect();
        assert_eq!(todo, vec![(100, 200), (300, 400)]);
        assert!(SyncState::load(&path, "other").is_err());
        std::fs::write(&path, b"{garbage").unwrap();
        assert!(SyncState::load(&path, "id").is_err());
    }

    #[test]
    fn default_name_is_stable() {
        let a = default_state_path("x");
        assert_eq!(a, default_state_path("x"));
        assert_ne!(a, default_state_path("y"));
        assert!(a.to_string_lossy().starts_with("ferry-sync-"));
    }
}
