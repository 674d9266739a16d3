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
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| SyncError::io(dir, e))?;
        }
        ferry_fs::atomic_write(path, &body, ferry_fs::Access::Default)
            .map_err(|e| SyncError::io(path, e.into()))
    }
}

/// The default state file: `ferry-sync-<first 12 hex of sha256(identity)>.json` in
/// [`state_dir`], so the same source, target and database resume wherever the command is
/// run from. A file of that name in the current directory (where releases before 0.1 kept
/// it) is used when present, so an interrupted sync still resumes.
pub fn default_state_path(identity: &str) -> PathBuf {
    let h = Sha256::digest(identity.as_bytes());
    let hex: String = h.iter().take(6).map(|b| format!("{b:02x}")).collect();
    let name = format!("ferry-sync-{hex}.json");
    if Path::new(&name).is_file() {
        return PathBuf::from(name);
    }
    state_dir(|k| std::env::var_os(k)).join(name)
}

/// Where client commands keep their progress: `$FERRY_STATE_DIR`, else
/// `$XDG_STATE_HOME/ferry`, else `$HOME/.local/state/ferry` (the XDG base directory
/// default), else the current directory.
pub fn state_dir(env: impl Fn(&str) -> Option<std::ffi::OsString>) -> PathBuf {
    let set = |k: &str| env(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    set("FERRY_STATE_DIR")
        .or_else(|| set("XDG_STATE_HOME").map(|d| d.join("ferry")))
        .or_else(|| set("HOME").map(|h| h.join(".local/state/ferry")))
        .unwrap_or_else(|| PathBuf::from("."))
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
        let name = a.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("ferry-sync-") && name.ends_with(".json"));
    }

    #[test]
    fn state_dir_follows_xdg() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| std::ffi::OsString::from(v))
            }
        };
        assert_eq!(
            state_dir(env(&[("FERRY_STATE_DIR", "/s"), ("HOME", "/h")])),
            PathBuf::from("/s")
        );
        assert_eq!(
            state_dir(env(&[("XDG_STATE_HOME", "/x"), ("HOME", "/h")])),
            PathBuf::from("/x/ferry")
        );
        assert_eq!(
            state_dir(env(&[("XDG_STATE_HOME", ""), ("HOME", "/h")])),
            PathBuf::from("/h/.local/state/ferry")
        );
        assert_eq!(state_dir(env(&[])), PathBuf::from("."));
    }
}
