//! Compaction: which files of a partition are merged, and the merge itself.
//!
//! **Policy** (size-tiered). Walking a partition's files from the newest
//! back, a file joins the run while it holds no more rows than the newer files of the run
//! together (or is small: under 1/16 of the maximum) and the run stays within
//! [`StoreOptions::compaction_max_rows`]; the run is
//! merged when it holds more than [`StoreOptions::max_files_per_partition`] files. Equal
//! persists therefore merge like a binary counter (4 files into one of 4, then 4 more and
//! that one into 8, …): every row is rewritten about log₂(max rows / persist rows) times,
//! and a partition keeps a handful of files however long it grows, so a query of the last
//! hour reads one or two files instead of one per persist. The merged file gets a new,
//! highest sequence number, so "later file wins" stays true: the run is the newest one, or
//! the files newer than it share no time with it (a small last file of a partition that
//! receives no more writes would otherwise keep the files before it from ever merging).
//!
//! **Hot partition.** In a measurement's newest partition only small files merge (a run of
//! at most 1/16 of the maximum): its files stay slices of time, as persists wrote them.
//! Dashboards ask for the last hour of every series, and a file spanning the whole partition
//! would hold the rows of that hour in every one of its pages, beside the older rows of each
//! series: merging the 2-hour newest partition of the 10M-point query bench into one file
//! made `last(usage_user) … GROUP BY host` over the last hour 1.3-1.45× slower (and
//! one-host queries ~0.7× faster). Older partitions merge up to the maximum: whole-range
//! queries read a handful of files instead of one per persist (count over the whole range
//! ~0.55× as long).
//!
//! **Merge** (streaming). The union of the run's series keys is walked in key order, about
//! [`pq::WRITE_BATCH_ROWS`] rows at a time: each batch reads those series from every file of the
//! run (in the order scans read them, so later files win on equal times; rows a tombstone
//! hides are dropped) and appends them to the new file. Memory is one batch plus the Parquet writer's
//! open row group, whatever the size of the files.
//!
//! [`StoreOptions::compaction_max_rows`]: crate::StoreOptions::compaction_max_rows
//! [`StoreOptions::max_files_per_partition`]: crate::StoreOptions::max_files_per_partition

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use ferry_lp::FieldType;

use crate::error::StoreError;
use crate::files::{read_order, DataFile};
use crate::pq;
use crate::scan::Acc;
use crate::tombstone::{self, Tombstone};
use crate::types::SeriesKey;
use crate::BucketStore;

/// Files of at most `max_rows / SMALL_SHARE` rows count as similar to any run (as
/// Cassandra's size-tiered compaction buckets all small tables together), so persists of
/// uneven size still merge; in a measurement's newest partition that is also the most a
/// merge writes.
const SMALL_SHARE: u64 = 16;

/// The files of one partition (`group`, ascending sequence) to merge; empty when none
/// should be (see the module docs).
pub(crate) fn run<'a>(
    group: &[&'a Arc<DataFile>],
    max_files: usize,
    max_rows: u64,
) -> Vec<&'a Arc<DataFile>> {
    let small = max_rows / SMALL_SHARE;
    for newer in 0..group.len() {
        let (older, newer) = group.split_at(group.len() - newer);
        let mut rows = 0u64;
        let (mut lo, mut hi) = (i64::MAX, i64::MIN);
        let mut run = Vec::new();
        for f in older.iter().rev() {
            let similar = run.is_empty() || f.meta.rows <= rows.max(small);
            if !similar || rows + f.meta.rows > max_rows {
                break;
            }
            rows += f.meta.rows;
            lo = lo.min(f.meta.min_time);
            hi = hi.max(f.meta.max_time);
            run.push(*f);
        }
        // The merged file becomes the partition's newest: a file left newer than it must
        // not share a time with it, or the order of their values would change.
        let apart = newer
            .iter()
            .all(|f| f.meta.max_time < lo || f.meta.min_time > hi);
        if run.len() > max_files && apart {
            run.reverse();
            return run;
        }
    }
    Vec::new()
}

/// What one compaction merges: per run, the files (ascending sequence) and the sequence
/// number of the file that replaces them, with the tombstones it reads them through.
pub(crate) struct Plan {
    runs: Vec<PlannedRun>,
    tombs: Arc<Vec<Tombstone>>,
}

struct PlannedRun {
    measurement: String,
    partition: i64,
    files: Vec<Arc<DataFile>>,
    seq: u64,
}

impl BucketStore {
    /// Merges (deduplicating, last write wins) a run of similar-sized files of every
    /// partition where it holds more than `max_files_per_partition` files (see the module
    /// docs for the policy) into one file, and rewrites the newest run of files from the
    /// oldest one a deletion still hides rows of (within the row cap), so deleted rows leave
    /// the disk and their tombstones the manifest. Scan results are unchanged; replaced files
    /// are deleted once no scan uses them. On error nothing changes.
    ///
    /// Merges run without the maintenance lock (persists, deletions and retention go on
    /// meanwhile; only the plan and the commit take it), one compaction at a time. A merged
    /// file takes its sequence number with the file list it is planned from, so files
    /// persisted later are newer and win; if a deletion or retention removed one of the
    /// merged files meanwhile, the merge is discarded and planned again next time.
    pub fn compact(&self) -> Result<(), StoreError> {
        let _one_at_a_time = self.compacting.lock();
        let plan = self.plan_compaction();
        self.carry_out(plan)
    }

    /// Picks the runs to merge, under the maintenance lock: each merged file's sequence
    /// number is taken with the file list it merges from, so every file persisted after the
    /// plan is newer than it and wins.
    pub(crate) fn plan_compaction(&self) -> Plan {
        let mut maint = self.maint.lock();
        let (files, tombs) = {
            let st = self.state.read();
            (st.files.clone(), st.tombstones.clone())
        };
        let mut groups: BTreeMap<(&str, i64), Vec<&Arc<DataFile>>> = BTreeMap::new();
        for f in &files {
            groups
                .entry((f.meta.measurement.as_str(), f.meta.partition_start))
                .or_default()
                .push(f);
        }
        let mut newest: BTreeMap<&str, i64> = BTreeMap::new();
        for &(m, ps) in groups.keys() {
            newest.insert(m, ps); // keys ascend: the last one per measurement stays
        }
        let mut runs = Vec::new();
        for ((m, ps), group) in groups {
            let max_rows = if newest.get(m) == Some(&ps) {
                self.opts.compaction_max_rows / SMALL_SHARE
            } else {
                self.opts.compaction_max_rows
            };
            let mut files = run(&group, self.opts.max_files_per_partition.max(1), max_rows);
            if files.is_empty() {
                files = tombstone::rewrite_run(&group, &tombs, self.opts.compaction_max_rows);
            }
            if !files.is_empty() {
                runs.push(PlannedRun {
                    measurement: m.to_string(),
                    partition: ps,
                    files: files.into_iter().cloned().collect(),
                    seq: maint.take_seq(),
                });
            }
        }
        Plan { runs, tombs }
    }

    /// Merges the runs of `plan` without the maintenance lock, then commits them under it:
    /// the manifest and the file list change at once, or (on error, or when a deletion or
    /// retention removed a merged file meanwhile) not at all.
    pub(crate) fn carry_out(&self, plan: Plan) -> Result<(), StoreError> {
        let mut replaced: HashSet<u64> = HashSet::new();
        let mut new_files: Vec<Arc<DataFile>> = Vec::new();
        let discard = |new_files: &[Arc<DataFile>]| {
            for f in new_files {
                f.obsolete.store(true, Ordering::Release);
            }
        };
        for r in &plan.runs {
            let files: Vec<&Arc<DataFile>> = r.files.iter().collect();
            match self.merge_run(&r.measurement, r.partition, r.seq, &files, &plan.tombs) {
                Ok(Some(f)) => new_files.push(f),
                Ok(None) => {}
                Err(e) => {
                    discard(&new_files);
                    return Err(e);
                }
            }
            replaced.extend(files.iter().map(|f| f.meta.seq));
            tracing::debug!(
                measurement = r.measurement.as_str(),
                partition = r.partition,
                files = files.len(),
                "compacted"
            );
        }
        if replaced.is_empty() {
            return Ok(());
        }
        let mut maint = self.maint.lock();
        let (files, lsn) = {
            let st = self.state.read();
            (st.files.clone(), st.persisted_lsn)
        };
        let live: HashSet<u64> = files.iter().map(|f| f.meta.seq).collect();
        if !replaced.iter().all(|seq| live.contains(seq)) {
            discard(&new_files);
            return Ok(());
        }
        let mut kept: Vec<Arc<DataFile>> = files
            .iter()
            .filter(|f| !replaced.contains(&f.meta.seq))
            .cloned()
            .collect();
        kept.extend(new_files.iter().cloned());
        kept.sort_by_key(|f| f.meta.seq);
        let tombs = match self.store_manifest(&mut maint, &kept, lsn) {
            Ok(t) => t,
            Err(e) => {
                if !e.keeps_new_files() {
                    discard(&new_files);
                }
                return Err(e);
            }
        };
        {
            let mut st = self.state.write();
            st.files = kept;
            st.tombstones = tombs;
            st.generation += 1;
        }
        for f in files.iter().filter(|f| replaced.contains(&f.meta.seq)) {
            f.obsolete.store(true, Ordering::Release);
        }
        self.counters.compacted(replaced.len());
        Ok(())
    }

    /// Merges `run` (files of measurement `m` and partition `ps`, ascending sequence) into
    /// one new file with sequence number `seq`, without the rows `tombs` hide; `None` when
    /// no row is left. The new file is not in the manifest yet: the caller commits it (or
    /// drops it, which deletes it).
    pub(crate) fn merge_run(
        &self,
        m: &str,
        ps: i64,
        seq: u64,
        run: &[&Arc<DataFile>],
        tombs: &[Tombstone],
    ) -> Result<Option<Arc<DataFile>>, StoreError> {
        let idxs: Vec<&Arc<pq::FileIndex>> =
            run.iter().map(|f| f.index()).collect::<Result<_, _>>()?;
        let mut rows_by_key: BTreeMap<&SeriesKey, usize> = BTreeMap::new();
        for idx in &idxs {
            for e in &idx.series {
                *rows_by_key.entry(&e.key).or_default() += e.end - e.start;
            }
        }
        let tag_keys: BTreeSet<&str> = rows_by_key
            .keys()
            .flat_map(|k| k.iter().map(|(t, _)| t.as_str()))
            .collect();
        let fields: Vec<(String, FieldType)> = self
            .schema
            .read()
            .get(m)
            .map(|ms| {
                ms.fields
                    .iter()
                    .filter(|(name, _)| idxs.iter().any(|i| i.has_field(name)))
                    .map(|(name, ty)| (name.clone(), *ty))
                    .collect()
            })
            .unwrap_or_default();
        let names: Vec<String> = fields.iter().map(|(n, _)| n.clone()).collect();
        let batches = key_batches(&rows_by_key);
        let run = read_order(run.iter().map(|f| Arc::clone(f)).collect());
        let file = self.new_data_file(m, ps, seq, |path| {
            let mut w =
                pq::FileWriter::create(path, tag_keys.iter().map(|k| k.to_string()), fields)?;
            for (lo, hi) in batches {
                let mut acc = Acc::new(names.len());
                for f in &run {
                    tombstone::read_live_keys(f, tombs, lo, hi, &names, &mut acc)?;
                }
                w.write(&acc.finish())?;
            }
            w.finish()
        })?;
        if file.meta.rows == 0 {
            file.obsolete.store(true, Ordering::Release);
            return Ok(None);
        }
        Ok(Some(file))
    }
}

/// Consecutive key ranges (inclusive) covering `rows_by_key`, each of about
/// [`pq::WRITE_BATCH_ROWS`] rows (a larger series is a range of its own).
fn key_batches<'k>(
    rows_by_key: &BTreeMap<&'k SeriesKey, usize>,
) -> Vec<(&'k SeriesKey, &'k SeriesKey)> {
    let mut out = Vec::new();
    let mut open: Option<(&SeriesKey, &SeriesKey, usize)> = None;
    for (&k, &n) in rows_by_key {
        open = match open {
            Some((lo, _, rows)) if rows + n <= pq::WRITE_BATCH_ROWS => Some((lo, k, rows + n)),
            Some((lo, hi, _)) => {
                out.push((lo, hi));
                Some((k, k, n))
            }
            None => Some((k, k, n)),
        };
    }
    out.extend(open.map(|(lo, hi, _)| (lo, hi)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StoreOptions;
    use ferry_lp::{FieldValue, Point};

    fn point(v: i64) -> Point {
        Point {
            measurement: "cpu".into(),
            tags: vec![("host".into(), "a".into())],
            fields: vec![("v".into(), FieldValue::Integer(v))],
            time: 10,
        }
    }

    /// A file persisted while a merge is under way (after its plan) is newer than the
    /// merged file: its value wins, before and after a reopen.
    #[test]
    fn a_file_persisted_during_a_merge_stays_newer() {
        let dir = tempfile::tempdir().unwrap();
        let store = BucketStore::open(dir.path(), StoreOptions::default()).unwrap();
        for v in 0..4 {
            store.apply(v as u64 + 1, &[point(v)]);
            store.persist().unwrap();
        }
        let plan = store.plan_compaction();
        assert_eq!(plan.runs.len(), 1);
        store.apply(5, &[point(99)]);
        store.persist().unwrap();
        store.carry_out(plan).unwrap();
        assert_eq!(store.file_count(), 2, "the four merged, the fifth kept");
        let value = |store: &BucketStore| {
            let req = crate::ScanRequest {
                measurement: "cpu".into(),
                start_ns: i64::MIN,
                end_ns: i64::MAX,
                tag_filter: None,
                fields: None,
            };
            store.scan(&req).unwrap()[0].fields[0].1.clone()
        };
        assert_eq!(value(&store), vec![Some(FieldValue::Integer(99))]);
        drop(store);
        let store = BucketStore::open(dir.path(), StoreOptions::default()).unwrap();
        assert_eq!(value(&store), vec![Some(FieldValue::Integer(99))]);
    }

    fn key(host: &str) -> SeriesKey {
        vec![("host".to_string(), host.to_string())]
    }

    #[test]
    fn key_batches_cover_every_key_once_in_order() {
        let keys: Vec<SeriesKey> = (0..10).map(|i| key(&format!("h{i}"))).collect();
        assert_eq!(
            pq::WRITE_BATCH_ROWS,
            16_384,
            "the sizes below are for this batch"
        );
        let sizes = [10_000, 5_000, 2_500, 25_000, 1, 1, 16_250, 7_500, 7_500, 2];
        let map: BTreeMap<&SeriesKey, usize> = keys.iter().zip(sizes).collect();
        let b = key_batches(&map);
        let names = |(lo, hi): (&SeriesKey, &SeriesKey)| (lo[0].1.clone(), hi[0].1.clone());
        let got: Vec<(String, String)> = b.into_iter().map(names).collect();
        let want = [
            ("h0", "h1"), // 15k; h2 would pass the batch size
            ("h2", "h2"),
            ("h3", "h3"), // larger than a batch: alone
            ("h4", "h6"),
            ("h7", "h9"),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(got, want);
    }
}
