//! Deletions (InfluxQL `DROP MEASUREMENT`, `DROP SERIES`, `DELETE`; the v2 delete API).
//!
//! A deletion is recorded as a [`Tombstone`] in the manifest (written and fsynced before the
//! delete returns) and applied at once to the buffer, which never holds the deleted values
//! afterwards. The tombstone keeps hiding them where they still exist:
//! - in data files written before it (`seq < file_seq`): scans and compaction drop the
//!   covered rows while reading, so a compacted file no longer holds them; a file whose every
//!   series is covered is removed from the manifest right away;
//! - in log records applied before it (next LSN `<= lsn`): a replay after a crash filters
//!   them out of [`BucketStore::apply`].
//!
//! Once no live file is older than the tombstone and everything it covers is persisted, the
//! next manifest write leaves it out. Deletions never touch the bucket log, so replication
//! streams (which read the log) never see them.
//!
//! This module holds the tombstones and how reads honour them; the store's side of a
//! deletion ([`BucketStore::delete`]) is in the `delete` module.
//!
//! [`BucketStore::apply`]: crate::BucketStore::apply
//! [`BucketStore::delete`]: crate::BucketStore::delete

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::StoreError;
use crate::files::DataFile;
use crate::pq;
use crate::scan::Acc;
use crate::types::{SeriesKey, SeriesTags};

/// What to delete from one measurement: the values of the given series (or of all) with
/// `min_time <= time <= max_time`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deletion {
    /// Measurement name.
    pub measurement: String,
    /// The series (tag sets sorted by key) to delete from; `None` = every series.
    pub series: Option<Vec<SeriesTags>>,
    /// Inclusive lower time bound (ns).
    pub min_time: i64,
    /// Inclusive upper time bound (ns).
    pub max_time: i64,
}

/// A durable deletion (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Tombstone {
    pub measurement: String,
    /// Sorted series keys; `None` = every series of the measurement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<Vec<SeriesKey>>,
    pub min_time: i64,
    pub max_time: i64,
    /// The store's applied LSN at the deletion: log records ending at or before it are
    /// covered when replayed.
    pub lsn: Option<u64>,
    /// Files with a lower sequence number are covered.
    pub file_seq: u64,
}

impl Tombstone {
    /// Whether the tombstone applies to the series `key` (at some time).
    pub fn matches_key(&self, key: &[(String, String)]) -> bool {
        self.series
            .as_ref()
            .is_none_or(|s| s.binary_search_by(|k| k.as_slice().cmp(key)).is_ok())
    }

    /// Whether the value of series `key` at time `t` is deleted.
    pub fn covers(&self, key: &[(String, String)], t: i64) -> bool {
        self.min_time <= t && t <= self.max_time && self.matches_key(key)
    }

    /// Whether the tombstone hides rows of `f`.
    fn applies_to(&self, f: &DataFile) -> bool {
        self.measurement == f.meta.measurement
            && f.meta.seq < self.file_seq
            && self.min_time <= f.meta.max_time
            && f.meta.min_time <= self.max_time
    }

    /// Whether log records ending at `lsn` are covered.
    pub fn covers_record(&self, lsn: u64) -> bool {
        self.lsn.is_some_and(|l| lsn <= l)
    }
}

/// The tombstones that still hide something: rows of a live file, or log records a replay
/// could apply (past `persisted_lsn`; records up to it are in files and skipped on replay).
pub(crate) fn live_tombstones(
    tombs: &[Tombstone],
    files: &[Arc<DataFile>],
    persisted_lsn: Option<u64>,
) -> Vec<Tombstone> {
    tombs
        .iter()
        .filter(|t| {
            let unpersisted = t.lsn.is_some_and(|l| persisted_lsn.is_none_or(|p| l > p));
            unpersisted || files.iter().any(|f| t.applies_to(f))
        })
        .cloned()
        .collect()
}

/// The tombstones hiding rows of `f`.
pub(crate) fn file_tombstones<'a>(tombs: &'a [Tombstone], f: &DataFile) -> Vec<&'a Tombstone> {
    tombs.iter().filter(|t| t.applies_to(f)).collect()
}

/// The files of one partition (ascending sequence) to rewrite for deletions: from the oldest
/// one `tombs` hide rows of to the newest (only a newest run may be merged, see
/// `compaction_run`), when their rows add up to at most `max_rows`; else none.
pub(crate) fn rewrite_run<'a>(
    group: &[&'a Arc<DataFile>],
    tombs: &[Tombstone],
    max_rows: u64,
) -> Vec<&'a Arc<DataFile>> {
    let Some(first) = group
        .iter()
        .position(|f| tombs.iter().any(|t| t.applies_to(f)))
    else {
        return Vec::new();
    };
    let run = &group[first..];
    if run.iter().map(|f| f.meta.rows).sum::<u64>() > max_rows {
        return Vec::new();
    }
    run.to_vec()
}

/// How much of a series' time span `[lo, hi]` (both ends hold a value) the tombstones cover.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Coverage {
    /// None of its values is deleted, or an end value survives: the series has values left.
    Alive,
    /// Every value is deleted.
    Dead,
    /// Both ends are deleted but not everything between: only the data can tell.
    Unknown,
}

/// The coverage of series `key`'s values in `[lo, hi]` by `dead`.
pub(crate) fn coverage(
    dead: &[&Tombstone],
    key: &[(String, String)],
    lo: i64,
    hi: i64,
) -> Coverage {
    let mut ranges: Vec<(i64, i64)> = dead
        .iter()
        .filter(|t| t.matches_key(key) && t.min_time <= hi && lo <= t.max_time)
        .map(|t| (t.min_time, t.max_time))
        .collect();
    let inside = |t: i64| ranges.iter().any(|r| r.0 <= t && t <= r.1);
    if !inside(lo) || !inside(hi) {
        return Coverage::Alive;
    }
    ranges.sort_unstable();
    let mut reach = lo; // everything in [lo, reach] is covered
    for (a, b) in ranges {
        if a > reach.saturating_add(1) {
            break;
        }
        reach = reach.max(b);
    }
    if reach >= hi {
        Coverage::Dead
    } else {
        Coverage::Unknown
    }
}

/// Reads the rows of `f` that `spec` asks for into `acc` (see [`pq::read_file`]), without
/// the rows `tombs` hide.
pub(crate) fn read_live(
    f: &DataFile,
    tombs: &[Tombstone],
    spec: &pq::ReadSpec,
    acc: &mut Acc,
) -> Result<(), StoreError> {
    live(f, tombs, spec.fields.len(), acc, |idx, acc| {
        pq::read_file(&f.path, idx, spec, acc)
    })
}

/// [`pq::read_key_range`] of a file without the rows `tombs` hide.
pub(crate) fn read_live_keys(
    f: &DataFile,
    tombs: &[Tombstone],
    lo: &SeriesKey,
    hi: &SeriesKey,
    fields: &[String],
    acc: &mut Acc,
) -> Result<(), StoreError> {
    live(f, tombs, fields.len(), acc, |idx, acc| {
        pq::read_key_range(&f.path, idx, lo, hi, fields, acc)
    })
}

/// Runs `read` of file `f` into `acc`, dropping the rows `tombs` hide.
fn live(
    f: &DataFile,
    tombs: &[Tombstone],
    nfields: usize,
    acc: &mut Acc,
    read: impl FnOnce(&pq::FileIndex, &mut Acc) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let dead = file_tombstones(tombs, f);
    if dead.is_empty() {
        return read(f.index()?, acc);
    }
    let mut one = Acc::new(nfields);
    read(f.index()?, &mut one)?;
    one.remove_where(|key| {
        dead.iter()
            .filter(|t| t.matches_key(key))
            .map(|t| (t.min_time, t.max_time))
            .collect()
    });
    acc.absorb(one);
    Ok(())
}
