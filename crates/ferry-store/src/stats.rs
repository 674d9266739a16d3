//! Counters of a store's maintenance work since it was opened (not persisted): what the
//! server's `/metrics` reads. Relaxed atomics, bumped once per persist or compaction.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A snapshot of [`Counters`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Persists that wrote the buffer out (an empty buffer's call is not counted).
    pub persists: u64,
    /// Persists that failed (the points stayed buffered).
    pub persist_failures: u64,
    /// Time spent in counted persists, in nanoseconds.
    pub persist_nanos: u64,
    /// Compactions that replaced files with merged ones.
    pub compactions: u64,
    /// Files merged away by those compactions.
    pub compacted_files: u64,
}

/// The live counters a store bumps.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    persists: AtomicU64,
    persist_failures: AtomicU64,
    persist_nanos: AtomicU64,
    compactions: AtomicU64,
    compacted_files: AtomicU64,
}

impl Counters {
    /// A persist that wrote the buffer out (`ok`) or failed, after `took`.
    pub(crate) fn persisted(&self, ok: bool, took: Duration) {
        if ok {
            self.persists.fetch_add(1, Ordering::Relaxed);
            let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
            self.persist_nanos.fetch_add(nanos, Ordering::Relaxed);
        } else {
            self.persist_failures.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A compaction committed, replacing `files` files.
    pub(crate) fn compacted(&self, files: usize) {
        self.compactions.fetch_add(1, Ordering::Relaxed);
        self.compacted_files
            .fetch_add(files as u64, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> StoreStats {
        StoreStats {
            persists: self.persists.load(Ordering::Relaxed),
            persist_failures: self.persist_failures.load(Ordering::Relaxed),
            persist_nanos: self.persist_nanos.load(Ordering::Relaxed),
            compactions: self.compactions.load(Ordering::Relaxed),
            compacted_files: self.compacted_files.load(Ordering::Relaxed),
        }
    }
}
