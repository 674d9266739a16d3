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

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::buffer::{MeasBuf, SeriesKey};
use crate::scan::Acc;
use crate::{lock, pq, rd, wr, BucketStore, DataFile, SeriesTags, StoreError, TagPredicate};

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

/// Reads the rows of `f` in `[start, end)` whose series satisfy `pred` into `acc`, without
/// the rows `tombs` hide; `cached` as in [`pq::read_file`].
#[allow(clippy::too_many_arguments)]
pub(crate) fn read_live(
    f: &DataFile,
    tombs: &[Tombstone],
    start: i64,
    end: i64,
    pred: Option<&TagPredicate>,
    fields: &[String],
    acc: &mut Acc,
    cached: bool,
) -> Result<(), StoreError> {
    live(f, tombs, fields.len(), acc, |idx, acc| {
        pq::read_file(&f.path, idx, start, end, pred, fields, acc, cached)
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

impl BucketStore {
    /// The deletion of the values in `[min_time, max_time]` of the series of `measurement`
    /// that satisfy `pred` (series as [`series_keys`](Self::series_keys) lists them), or
    /// `None` when no series does.
    pub fn deletion_where(
        &self,
        measurement: &str,
        min_time: i64,
        max_time: i64,
        pred: impl Fn(&[(String, String)]) -> bool,
    ) -> Result<Option<Deletion>, StoreError> {
        let all = self.series_keys(measurement)?;
        let hit: Vec<SeriesTags> = all.iter().filter(|k| pred(k)).cloned().collect();
        if hit.is_empty() {
            return Ok(None);
        }
        Ok(Some(Deletion {
            measurement: measurement.to_string(),
            series: (hit.len() < all.len()).then_some(hit),
            min_time,
            max_time,
        }))
    }

    /// Deletes values (see [`Deletion`]). Returns once the deletion is durable: a restart,
    /// even after a crash, never shows the values again, and values written after the call
    /// are kept. A measurement left without any value disappears from
    /// [`measurements`](Self::measurements) and [`schema`](Self::schema) (its field types
    /// are forgotten, as InfluxDB does). Waits for a running persist or compaction. On error
    /// nothing changed.
    pub fn delete(&self, dels: Vec<Deletion>) -> Result<(), StoreError> {
        let mut dels: Vec<Deletion> = dels
            .into_iter()
            .filter(|d| d.min_time <= d.max_time && d.series.as_ref().is_none_or(|s| !s.is_empty()))
            .collect();
        if dels.is_empty() {
            return Ok(());
        }
        for d in &mut dels {
            if let Some(s) = &mut d.series {
                s.sort_unstable();
                s.dedup();
            }
        }
        let mut maint = lock(&self.maint);
        let files = rd(&self.state).files.clone();
        // Load the indexes of the files concerned before taking the write locks.
        for f in &files {
            if dels.iter().any(|d| d.measurement == f.meta.measurement) {
                f.index()?;
            }
        }
        let mut schema = wr(&self.schema);
        let mut st = wr(&self.state);
        let lsn = st.applied_lsn;
        let new: Vec<Tombstone> = dels
            .into_iter()
            .map(|d| Tombstone {
                measurement: d.measurement,
                series: d.series,
                min_time: d.min_time,
                max_time: d.max_time,
                lsn,
                file_seq: maint.next_seq,
            })
            .collect();
        let mut tombs = maint.tombstones.clone();
        tombs.extend(new.iter().cloned());

        // Files whose every series is deleted leave the manifest.
        let (dropped, kept): (Vec<Arc<DataFile>>, Vec<Arc<DataFile>>) =
            files.iter().cloned().partition(|f| {
                let dead = file_tombstones(&tombs, f);
                !dead.is_empty()
                    && f.index().is_ok_and(|idx| {
                        idx.series.iter().all(|e| {
                            e.start == e.end
                                || coverage(&dead, &e.key, e.min_t, e.max_t) == Coverage::Dead
                        })
                    })
            });
        // The buffers of the measurements concerned, without the deleted values.
        let mut names: Vec<&str> = new.iter().map(|t| t.measurement.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        let mut buffers: Vec<(String, Option<MeasBuf>)> = Vec::new();
        for m in &names {
            let Some(mb) = st.active.meas.get(*m) else {
                buffers.push((m.to_string(), None));
                continue;
            };
            let mut mb = mb.clone();
            let mine: Vec<&Tombstone> = new.iter().filter(|t| t.measurement == *m).collect();
            mb.remove_where(|key, t| mine.iter().any(|d| d.covers(key, t)));
            buffers.push((m.to_string(), (!mb.series.is_empty()).then_some(mb)));
        }
        // Measurements left without any value lose their schema.
        let mut forgotten = Vec::new();
        for (m, mb) in &buffers {
            if mb.is_none() && !kept.iter().any(|f| f.meta.measurement == *m) {
                if let Some(ms) = schema.remove(m.as_str()) {
                    forgotten.push((m.clone(), ms));
                }
            }
        }
        let tombs = live_tombstones(&tombs, &kept, st.persisted_lsn);
        let written = self.write_manifest(&schema, maint.next_seq, &tombs, &kept, st.persisted_lsn);
        if let Err(e) = written {
            schema.extend(forgotten);
            return Err(e);
        }
        maint.tombstones = tombs.clone();
        st.tombstones = Arc::new(tombs);
        st.files = kept;
        for (m, mb) in buffers {
            st.active.set_meas(&m, mb);
        }
        st.generation += 1;
        drop(st);
        drop(schema);
        for f in &dropped {
            f.obsolete.store(true, std::sync::atomic::Ordering::Release);
        }
        tracing::info!(files_removed = dropped.len(), "deleted");
        Ok(())
    }

    /// Whether series entry `e` of file `f` has values left under the tombstones `dead`
    /// (those hiding rows of `f`); reads the series' rows only when the time spans cannot
    /// tell.
    pub(crate) fn entry_alive(
        &self,
        f: &DataFile,
        e: &pq::SeriesEntry,
        dead: &[&Tombstone],
    ) -> Result<bool, StoreError> {
        match coverage(dead, &e.key, e.min_t, e.max_t) {
            Coverage::Alive => Ok(true),
            Coverage::Dead => Ok(false),
            Coverage::Unknown => {
                let fields: Vec<String> = rd(&self.schema)
                    .get(f.meta.measurement.as_str())
                    .map(|ms| ms.fields.keys().cloned().collect())
                    .unwrap_or_default();
                let exact = TagPredicate::And(
                    e.key
                        .iter()
                        .map(|(k, v)| TagPredicate::Eq(k.clone(), v.clone()))
                        .collect(),
                );
                let mut acc = Acc::new(fields.len());
                let owned: Vec<Tombstone> = dead.iter().map(|t| (*t).clone()).collect();
                let end = e.max_t.saturating_add(1);
                read_live(
                    f,
                    &owned,
                    e.min_t,
                    end,
                    Some(&exact),
                    &fields,
                    &mut acc,
                    false,
                )?;
                Ok(acc.finish().iter().any(|s| s.key == e.key))
            }
        }
    }
}
