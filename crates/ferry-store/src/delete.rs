//! Deletions as the store carries them out: [`BucketStore::delete`] records tombstones in
//! the manifest and drops the deleted values from the buffer (and files left without any),
//! [`BucketStore::deletion_where`] turns a series predicate into a [`Deletion`]. What a
//! tombstone is and how reads and compaction honour it is the `tombstone` module's.

use std::sync::Arc;

use crate::buffer::MeasBuf;
use crate::error::StoreError;
use crate::files::DataFile;
use crate::pq;
use crate::scan::{Acc, TagPredicate};
use crate::tombstone::{
    coverage, file_tombstones, live_tombstones, read_live, Coverage, Deletion, Tombstone,
};
use crate::types::SeriesTags;
use crate::BucketStore;

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
        let mut maint = self.maint.lock();
        let files = self.state.read().files.clone();
        // Load the indexes of the files concerned before taking the write locks.
        for f in &files {
            if dels.iter().any(|d| d.measurement == f.meta.measurement) {
                f.index()?;
            }
        }
        let mut schema = self.schema.write();
        let mut st = self.state.write();
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
                let fields: Vec<String> = self
                    .schema
                    .read()
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
                let spec = pq::ReadSpec {
                    start: e.min_t,
                    end,
                    pred: Some(&exact),
                    fields: &fields,
                    cached: false,
                };
                read_live(f, &owned, &spec, &mut acc)?;
                Ok(acc.finish().iter().any(|s| s.key == *e.key))
            }
        }
    }
}
