//! The write side of [`BucketStore`]: the field-type check before a write is logged, the
//! apply of logged points to the buffer, persisting the buffer to Parquet files, retention,
//! and writing the manifest that commits every change of the file list.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use ferry_lp::{FieldType, PointView};

use crate::buffer::{Buffer, MeasBuf, PartitionLayout};
use crate::error::StoreError;
use crate::files::{DataFile, FileMeta};
use crate::manifest::{sync_dir, Manifest, ManifestMeasurement};
use crate::pq;
use crate::tombstone::{self, Tombstone};
use crate::types::{partition_start, SeriesKey, SeriesRows};
use crate::{BucketStore, Maint, MeasSchema, Schema};

/// A file-system-safe directory name for a measurement (any UTF-8 allowed in names).
fn measurement_dir(m: &str) -> String {
    let mut s = String::from("m_");
    for b in m.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
            s.push(b as char);
        } else {
            let _ = write!(s, "%{b:02X}");
        }
    }
    if s.len() > 100 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in m.bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        s.truncate(80); // ASCII only: any byte index is a char boundary
        let _ = write!(s, "_{h:016x}");
    }
    s
}

fn conflict_message(
    field: &str,
    measurement: &str,
    input: FieldType,
    existing: FieldType,
) -> String {
    format!(
        "field type conflict: input field \"{field}\" on measurement \"{measurement}\" is type {input}, already exists as type {existing}"
    )
}

impl BucketStore {
    /// Field-type check before a write is logged. Returns, for each point conflicting with
    /// the known schema or with an earlier point of the same batch, its index and InfluxDB's
    /// message (`field type conflict: input field "usage" on measurement "cpu" is type
    /// integer, already exists as type float`). The field types of all other points are
    /// recorded in the schema at once, so a concurrent batch cannot claim other types.
    pub fn check_types<P: PointView>(
        &self,
        points: impl IntoIterator<Item = P>,
    ) -> Vec<(usize, String)> {
        let mut schema = self.schema.write();
        let mut out = Vec::new();
        // A point with the same measurement and field names and types as the last
        // conflict-free point is conflict-free too and registers nothing new.
        let mut last_ok: Option<P> = None;
        for (i, p) in points.into_iter().enumerate() {
            if last_ok.as_ref().is_some_and(|q| same_field_layout(q, &p)) {
                continue;
            }
            let known = schema.get(p.measurement());
            let conflict = p.fields().find_map(|(name, v)| {
                let t = v.field_type();
                match known.and_then(|m| m.fields.get(name)) {
                    Some(&e) if e != t => Some(conflict_message(name, p.measurement(), t, e)),
                    _ => None,
                }
            });
            if let Some(msg) = conflict {
                out.push((i, msg));
                continue;
            }
            let ms = meas_schema_mut(&mut schema, p.measurement());
            for (name, v) in p.fields() {
                if !ms.fields.contains_key(name) {
                    ms.fields.insert(name.to_owned(), v.field_type());
                }
            }
            last_ok = Some(p);
        }
        out
    }

    /// Applies points (already type-checked) from log entry `lsn` to the buffer. Last write
    /// wins per (measurement, tag set, time, field): a later apply overwrites an earlier
    /// one field by field, other fields of the point are kept. Applying the same points again
    /// yields the same readable state. A field value whose type contradicts the schema (only
    /// possible without [`check_types`](Self::check_types)) is dropped with a warning.
    ///
    /// Entries at or before the persisted LSN are already in files and skipped (a replay
    /// after a crash may offer them again); points a later deletion covers are dropped.
    pub fn apply<P: PointView>(&self, lsn: u64, points: impl IntoIterator<Item = P>) {
        let mut schema = self.schema.write();
        let mut st = self.state.write();
        if st.persisted_lsn.is_some_and(|p| lsn <= p) {
            return;
        }
        let tombs = st.tombstones.clone();
        let dead: Vec<&Tombstone> = tombs.iter().filter(|t| t.covers_record(lsn)).collect();
        let mut keep: Vec<bool> = Vec::new();
        // The point's series key, its strings reused from point to point.
        let mut key: SeriesKey = Vec::new();
        // The last point whose tag keys are registered and all of whose fields were kept:
        // a point with the same layout needs no schema work (see `same_field_layout`).
        let mut last_clean: Option<P> = None;
        for p in points {
            fill_key(&mut key, p.tags());
            if dead
                .iter()
                .any(|t| t.measurement == p.measurement() && t.covers(&key, p.time()))
            {
                continue;
            }
            if let Some(q) = &last_clean {
                if same_field_layout(q, &p) && same_tag_keys(q, &p) {
                    keep.clear();
                    keep.resize(p.field_count(), true);
                    st.active.insert(&p, &key, &keep);
                    continue;
                }
            }
            let ms = meas_schema_mut(&mut schema, p.measurement());
            for (k, _) in p.tags() {
                if !ms.tags.contains(k) {
                    ms.tags.insert(k.to_owned());
                }
            }
            keep.clear();
            for (name, v) in p.fields() {
                let t = v.field_type();
                match ms.fields.get(name) {
                    Some(&e) if e == t => keep.push(true),
                    Some(&e) => {
                        tracing::warn!(measurement = %p.measurement(), field = %name, input = %t, existing = %e,
                            "dropping field value of conflicting type");
                        keep.push(false);
                    }
                    None => {
                        ms.fields.insert(name.to_owned(), t);
                        keep.push(true);
                    }
                }
            }
            st.active.insert(&p, &key, &keep);
            last_clean = keep.iter().all(|k| *k).then_some(p);
        }
        st.applied_lsn = Some(st.applied_lsn.map_or(lsn, |a| a.max(lsn)));
    }

    /// Approximate memory held by buffered (not yet persisted) points, in bytes.
    pub fn buffered_bytes(&self) -> usize {
        let st = self.state.read();
        st.active.bytes + st.frozen.as_ref().map_or(0, |f| f.bytes)
    }

    /// True when [`buffered_bytes`](Self::buffered_bytes) exceeds the configured limit and
    /// the caller should [`persist`](Self::persist).
    pub fn needs_persist(&self) -> bool {
        self.buffered_bytes() > self.opts.buffer_limit_bytes
    }

    /// The highest LSN applied so far (after open: the persisted LSN).
    pub fn applied_lsn(&self) -> Option<u64> {
        self.state.read().applied_lsn
    }

    /// The LSN up to which everything applied is durable in Parquet files.
    pub fn persisted_lsn(&self) -> Option<u64> {
        self.state.read().persisted_lsn
    }

    /// Writes the buffer out as Parquet files (one new file per measurement and partition
    /// touched), fsyncs them and their directories, atomically replaces the manifest, drops
    /// the persisted points from memory and returns the LSN up to which everything is now
    /// persisted (the last LSN applied before the call). Writes and scans proceed meanwhile;
    /// points applied during the call stay buffered. A crash at any point leaves the old or
    /// the new state readable; on error the points stay buffered.
    pub fn persist(&self) -> Result<Option<u64>, StoreError> {
        let mut maint = self.maint.lock();
        let (frozen, lsn) = {
            let mut st = self.state.write();
            if st.active.is_empty() && st.applied_lsn == st.persisted_lsn {
                return Ok(st.persisted_lsn);
            }
            let frozen = Arc::new(std::mem::take(&mut st.active));
            st.frozen = Some(frozen.clone());
            st.generation += 1;
            (frozen, st.applied_lsn)
        };
        let started = std::time::Instant::now();
        let result = self
            .write_buffer(&frozen, &mut maint)
            .and_then(|new_files| {
                let mut files = self.state.read().files.clone();
                files.extend(new_files.iter().cloned());
                match self.store_manifest(&mut maint, &files, lsn) {
                    Ok(tombs) => Ok((files, tombs)),
                    Err(e) => {
                        if !e.keeps_new_files() {
                            for f in &new_files {
                                f.obsolete.store(true, Ordering::Release);
                            }
                        }
                        Err(e)
                    }
                }
            });
        drop(frozen);
        self.counters.persisted(result.is_ok(), started.elapsed());
        let mut st = self.state.write();
        match result {
            Ok((files, tombs)) => {
                st.files = files;
                st.tombstones = tombs;
                st.frozen = None;
                st.generation += 1;
                st.persisted_lsn = lsn;
                Ok(lsn)
            }
            Err(e) => {
                st.generation += 1;
                if let Some(f) = st.frozen.take() {
                    let mut restored = Arc::try_unwrap(f).unwrap_or_else(|a| (*a).clone());
                    restored.append(std::mem::take(&mut st.active));
                    st.active = restored;
                }
                Err(e)
            }
        }
    }

    /// Writes one file per (measurement, partition) of `buf`, each a batch of series at a
    /// time ([`pq::WRITE_BATCH_ROWS`] rows): a persist holds the frozen buffer and one batch,
    /// not a second copy of the buffer (a 60 MB buffer used to take ~2.5× its size again
    /// while it was written).
    fn write_buffer(
        &self,
        buf: &Buffer,
        maint: &mut Maint,
    ) -> Result<Vec<Arc<DataFile>>, StoreError> {
        let mut out: Vec<Arc<DataFile>> = Vec::new();
        let mut names: Vec<&String> = buf.meas.keys().collect();
        names.sort();
        for m in names {
            let mb = &buf.meas[m];
            let mut keys: Vec<&SeriesKey> = mb.series.keys().collect();
            keys.sort();
            for (partition, layout) in mb.partition_layouts(self.opts.partition_duration_ns) {
                match self.write_partition(m, mb, &keys, partition, &layout, maint) {
                    Ok(f) => out.push(f),
                    Err(e) => {
                        for f in &out {
                            f.obsolete.store(true, Ordering::Release);
                        }
                        return Err(e);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Writes the values of `mb` in `partition` (series in `keys` order) as a new file.
    fn write_partition(
        &self,
        measurement: &str,
        mb: &MeasBuf,
        keys: &[&SeriesKey],
        partition: i64,
        layout: &PartitionLayout<'_>,
        maint: &mut Maint,
    ) -> Result<Arc<DataFile>, StoreError> {
        let (ids, fields): (Vec<Option<usize>>, Vec<(String, FieldType)>) = layout
            .field_types
            .iter()
            .enumerate()
            .filter_map(|(id, ty)| Some((Some(id), (mb.field_names[id].clone(), (*ty)?))))
            .unzip();
        let end = partition.saturating_add(self.opts.partition_duration_ns);
        let tag_keys = layout.tag_keys.iter().map(|k| k.to_string());
        self.new_data_file(measurement, partition, maint.take_seq(), |path| {
            let mut w = pq::FileWriter::create(path, tag_keys, fields)?;
            let (mut batch, mut rows) = (Vec::new(), 0);
            for key in keys {
                let (times, cols) = mb.series[*key].rows(&ids, partition, end);
                if times.is_empty() {
                    continue;
                }
                rows += times.len();
                batch.push(SeriesRows {
                    key: (*key).clone(),
                    times,
                    cols,
                });
                if rows >= pq::WRITE_BATCH_ROWS {
                    w.write(&batch)?;
                    batch.clear();
                    rows = 0;
                }
            }
            w.write(&batch)?;
            w.finish()
        })
    }

    /// A new data file of `measurement` and `partition` with sequence number `seq`, written
    /// by `write` at the path it is given, fsynced with its directory and its index loaded.
    /// It is deleted if `write` fails or when it is dropped before being committed to the
    /// manifest.
    pub(crate) fn new_data_file(
        &self,
        measurement: &str,
        partition: i64,
        seq: u64,
        write: impl FnOnce(&Path) -> Result<pq::Written, StoreError>,
    ) -> Result<Arc<DataFile>, StoreError> {
        let dname = measurement_dir(measurement);
        let mdir = self.dir.join(&dname);
        if !mdir.is_dir() {
            fs::create_dir_all(&mdir)?;
            sync_dir(&self.dir)?;
        }
        let rel = format!("{dname}/{partition}-{seq}.parquet");
        let path = self.dir.join(&rel);
        let file = DataFile::new(
            FileMeta {
                measurement: measurement.to_string(),
                partition_start: partition,
                seq,
                path: rel,
                min_time: 0,
                max_time: 0,
                rows: 0,
            },
            path,
            // Deleted if we fail before handing it out.
            true,
        );
        let w = write(&file.path)?;
        sync_dir(&mdir)?;
        let mut file = file;
        file.meta.min_time = w.min_time;
        file.meta.max_time = w.max_time;
        file.meta.rows = w.rows;
        // Load the index now, off the query path.
        file.index()?;
        file.obsolete.store(false, Ordering::Release);
        Ok(Arc::new(file))
    }

    /// Writes the manifest with the schema as it is and the tombstones still needed, keeps
    /// only those in `maint`, and returns them for the state (so neither list outgrows what
    /// the files and the log can still need).
    pub(crate) fn store_manifest(
        &self,
        maint: &mut Maint,
        files: &[Arc<DataFile>],
        lsn: Option<u64>,
    ) -> Result<Arc<Vec<Tombstone>>, StoreError> {
        let tombs = tombstone::live_tombstones(&maint.tombstones, files, lsn);
        self.write_manifest(&self.schema.read(), maint.next_seq, &tombs, files, lsn)?;
        maint.tombstones = tombs.clone();
        Ok(Arc::new(tombs))
    }

    pub(crate) fn write_manifest(
        &self,
        schema: &Schema,
        next_seq: u64,
        tombstones: &[Tombstone],
        files: &[Arc<DataFile>],
        lsn: Option<u64>,
    ) -> Result<(), StoreError> {
        let schema = schema
            .iter()
            .map(|(m, ms)| {
                (
                    m.clone(),
                    ManifestMeasurement {
                        tags: ms.tags.iter().cloned().collect(),
                        fields: ms
                            .fields
                            .iter()
                            .map(|(f, t)| (f.clone(), t.as_str().to_string()))
                            .collect(),
                    },
                )
            })
            .collect();
        let manifest = Manifest {
            version: 1,
            partition_duration_ns: self.opts.partition_duration_ns,
            next_seq,
            persisted_lsn: lsn,
            schema,
            files: files.iter().map(|f| f.meta.clone()).collect(),
            tombstones: tombstones.to_vec(),
        };
        manifest.store(&self.dir)
    }

    /// Retention: removes every partition (files and buffered points) whose end is at or
    /// before `cutoff_ns`, and returns how many distinct (measurement, partition) pairs were
    /// removed. Partitions ending after the cutoff are untouched, even if they start before.
    pub fn drop_before(&self, cutoff_ns: i64) -> Result<usize, StoreError> {
        let mut maint = self.maint.lock();
        let dur = self.opts.partition_duration_ns;
        let threshold = partition_start(cutoff_ns, dur);
        let (files, lsn) = {
            let st = self.state.read();
            (st.files.clone(), st.persisted_lsn)
        };
        let (dropped, kept): (Vec<_>, Vec<_>) = files
            .iter()
            .cloned()
            .partition(|f| f.meta.partition_start < threshold);
        let mut removed: BTreeSet<(String, i64)> = dropped
            .iter()
            .map(|f| (f.meta.measurement.clone(), f.meta.partition_start))
            .collect();
        let tombs = if dropped.is_empty() {
            None
        } else {
            Some(self.store_manifest(&mut maint, &kept, lsn)?)
        };
        {
            let mut st = self.state.write();
            st.files = kept;
            if let Some(t) = tombs {
                st.tombstones = t;
            }
            st.generation += 1;
            removed.extend(st.active.drop_before(threshold, dur));
        }
        for f in &dropped {
            f.obsolete.store(true, Ordering::Release);
        }
        Ok(removed.len())
    }
}

/// Same measurement and the same field names with the same types, in the same order.
fn same_field_layout(a: &impl PointView, b: &impl PointView) -> bool {
    a.measurement() == b.measurement()
        && a.field_count() == b.field_count()
        && a.fields()
            .zip(b.fields())
            .all(|((an, av), (bn, bv))| an == bn && av.field_type() == bv.field_type())
}

/// The same tag keys in the same order.
fn same_tag_keys(a: &impl PointView, b: &impl PointView) -> bool {
    a.tag_count() == b.tag_count() && a.tags().zip(b.tags()).all(|(x, y)| x.0 == y.0)
}

/// Makes `key` hold `tags`, reusing its strings' allocations.
fn fill_key<'a>(key: &mut SeriesKey, tags: impl Iterator<Item = (&'a str, &'a str)>) {
    let mut n = 0;
    for (k, v) in tags {
        match key.get_mut(n) {
            Some((kk, vv)) => {
                kk.clear();
                kk.push_str(k);
                vv.clear();
                vv.push_str(v);
            }
            None => key.push((k.to_owned(), v.to_owned())),
        }
        n += 1;
    }
    key.truncate(n);
}

fn meas_schema_mut<'a>(schema: &'a mut Schema, m: &str) -> &'a mut MeasSchema {
    if !schema.contains_key(m) {
        schema.insert(m.to_string(), MeasSchema::default());
    }
    schema.get_mut(m).expect("just inserted")
}
