//! Resume after interruption: a small JSON file holding the input byte offset up to which
//! every line was acknowledged, replaced atomically and fsynced.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The identity of one input (so a checkpoint is only used for the same input).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputId {
    /// Name (path or URL).
    pub name: String,
    /// Size in bytes when known.
    pub size: Option<u64>,
}

/// What a checkpoint file holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Format version (1).
    pub version: u32,
    /// The inputs, in order; offsets count their decompressed bytes, concatenated.
    pub inputs: Vec<InputId>,
    /// Every line before this offset was written (or refused and recorded).
    pub offset: u64,
    /// Points written so far (informational).
    pub points: u64,
}

impl Checkpoint {
    /// Reads a checkpoint; `None` when absent or unreadable.
    pub fn load(path: &Path) -> Option<Checkpoint> {
        let text = std::fs::read(path).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// Writes the checkpoint atomically and durably ([`ferry_fs::atomic_write`]).
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let body = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        Ok(ferry_fs::atomic_write(
            path,
            &body,
            ferry_fs::Access::Default,
        )?)
    }
}

/// Tracks acknowledged batches (numbered in input order) and yields the checkpoint offset:
/// the end offset of the longest contiguous acknowledged prefix.
#[derive(Debug, Default)]
pub struct AckTracker {
    next: u64,
    done: BTreeMap<u64, u64>,
    offset: u64,
}

impl AckTracker {
    /// A tracker whose offset starts at `offset` (the resume point).
    pub fn new(offset: u64) -> AckTracker {
        AckTracker {
            next: 0,
            done: BTreeMap::new(),
            offset,
        }
    }

    /// Batch `seq` (safe offset `end` once it and all before it are acknowledged) was
    /// acknowledged. Returns the new checkpoint offset when it moved.
    pub fn ack(&mut self, seq: u64, end: u64) -> Option<u64> {
        self.done.insert(seq, end);
        let before = self.offset;
        while let Some(end) = self.done.remove(&self.next) {
            self.offset = self.offset.max(end);
            self.next += 1;
        }
        (self.offset != before).then_some(self.offset)
    }

    /// The current checkpoint offset.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Acknowledged batches still waiting for an earlier one.
    pub fn waiting(&self) -> usize {
        self.done.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contiguous_prefix_only() {
        let mut t = AckTracker::new(10);
        assert_eq!(t.ack(1, 200), None);
        assert_eq!(t.ack(2, 300), None);
        assert_eq!(t.offset(), 10);
        assert_eq!(t.waiting(), 2);
        assert_eq!(t.ack(0, 100), Some(300));
        assert_eq!(t.ack(4, 500), None);
        assert_eq!(t.ack(3, 400), Some(500));
        assert_eq!(t.waiting(), 0);
        // a batch whose safe offset did not move (coalescing buffer held lines back)
        assert_eq!(t.ack(5, 500), None);
        assert_eq!(t.ack(6, 600), Some(600));
    }

    #[test]
    fn save_load_roundtrip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.ferry-checkpoint");
        assert!(Checkpoint::load(&p).is_none());
        let c = Checkpoint {
            version: 1,
            inputs: vec![InputId {
                name: "a".into(),
                size: Some(5),
            }],
            offset: 42,
            points: 7,
        };
        c.save(&p).unwrap();
        assert_eq!(Checkpoint::load(&p), Some(c));
        assert!(!ferry_fs::temp_path(&p).exists());
    }
}
