//! ferry-store: the embedded time-series store of one bucket.
//!
//! Writes are applied (after being logged elsewhere) to an in-memory buffer, in log order,
//! each batch with its log sequence number. [`BucketStore::persist`] writes the buffer out as
//! immutable, LZ4-compressed Parquet files (one per measurement and time partition) and
//! atomically replaces `manifest.json`, which holds the schema and the index of live files.
//! Reads ([`BucketStore::scan`]) merge files (in sequence order) and the buffer, last write
//! winning per series, time and field.
//!
//! Layout of a bucket directory:
//! - `manifest.json` — schema, live files, next file sequence number, persisted LSN;
//! - `m_<escaped measurement>/<partition_start>-<seq>.parquet` — data files.
//!   The directory name is only cosmetic: the manifest records each file's path and
//!   measurement, and sequence numbers are unique across the bucket.

mod buffer;
mod compact;
pub mod coop;
pub mod inspect;
mod manifest;
mod pq;
mod scan;
pub mod slices;
mod stats;
mod tombstone;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};

use ferry_lp::{FieldType, Point};

use buffer::{Buffer, SeriesKey, SeriesRows};
use manifest::{sync_dir, FileMeta, Manifest, ManifestMeasurement, MANIFEST};
use scan::Acc;
pub use scan::{ScanRequest, SeriesData, TagPredicate};
pub use stats::StoreStats;
pub use tombstone::Deletion;
use tombstone::Tombstone;

/// One day in nanoseconds.
const DAY_NS: i64 = 86_400_000_000_000;

/// Tuning of a [`BucketStore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// Width of a time partition in nanoseconds (default one day). Fixed when the bucket is
    /// created: reopening with another value keeps the stored one.
    pub partition_duration_ns: i64,
    /// Buffer size above which the caller should persist (default 16 MiB); see
    /// [`BucketStore::needs_persist`]. The store never persists on its own.
    pub buffer_limit_bytes: usize,
    /// [`BucketStore::compact`] merges a run of similar-sized files of a partition when it
    /// holds more files than this (default 3; the policy is in the `compact` module).
    pub max_files_per_partition: usize,
    /// The most rows compaction writes into one file (default 4,000,000); files already this
    /// large are left as they are. Merges stream, so memory does not depend on it.
    pub compaction_max_rows: u64,
    /// Whether small scans read through the process's slice cache (default true; see the
    /// `slices` module). Answers are the same either way; off, every scan decodes its pages.
    pub slice_cache: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            partition_duration_ns: DAY_NS,
            buffer_limit_bytes: 16 << 20,
            max_files_per_partition: 3,
            compaction_max_rows: 4_000_000,
            slice_cache: true,
        }
    }
}

/// Errors of the store. After any error the in-memory state is unchanged (a failed persist
/// keeps its points buffered) and the on-disk state is the previous one.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file-system operation failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// Reading or writing Parquet failed.
    #[error("parquet error: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    /// Building or decoding Arrow data failed.
    #[error("arrow error: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    /// The manifest or a data file is not what this store wrote.
    #[error("corrupt store: {0}")]
    Corrupt(String),
    /// The new manifest replaced the old one, but its directory fsync failed, so a power cut
    /// may still bring back the old one: files either manifest lists are kept, and the change
    /// does not count as persisted.
    #[error("manifest not durable: {0}")]
    ManifestNotDurable(#[source] std::io::Error),
}

impl StoreError {
    /// Whether files written for the failed change must be kept, because a manifest on disk
    /// may list them (see [`StoreError::ManifestNotDurable`]).
    pub fn keeps_new_files(&self) -> bool {
        matches!(self, StoreError::ManifestNotDurable(_))
    }
}

/// The schema of one measurement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeasurementSchema {
    /// Every tag key seen, sorted.
    pub tag_keys: Vec<String>,
    /// Every field with its (fixed) type, sorted by name.
    pub fields: Vec<(String, FieldType)>,
}

#[derive(Debug, Clone, Default)]
struct MeasSchema {
    tags: BTreeSet<String>,
    fields: BTreeMap<String, FieldType>,
}

type Schema = buffer::HashMap<String, MeasSchema>;

/// A live data file. When marked obsolete (compacted or dropped), it is deleted once the
/// last reader holding it lets go.
#[derive(Debug)]
struct DataFile {
    meta: FileMeta,
    path: PathBuf,
    obsolete: AtomicBool,
    /// Footer, page index and series index, loaded on first use.
    index: OnceLock<Arc<pq::FileIndex>>,
}

impl DataFile {
    fn new(meta: FileMeta, path: PathBuf, obsolete: bool) -> DataFile {
        DataFile {
            meta,
            path,
            obsolete: AtomicBool::new(obsolete),
            index: OnceLock::new(),
        }
    }

    /// The file's index, loading it on first use (concurrent first uses may both load;
    /// one result is kept).
    fn index(&self) -> Result<&Arc<pq::FileIndex>, StoreError> {
        if let Some(i) = self.index.get() {
            return Ok(i);
        }
        let loaded = Arc::new(pq::FileIndex::load(&self.path)?);
        Ok(self.index.get_or_init(|| loaded))
    }
}

impl Drop for DataFile {
    fn drop(&mut self) {
        if self.obsolete.load(Ordering::Acquire) {
            if let Err(e) = fs::remove_file(&self.path) {
                tracing::warn!(path = %self.path.display(), error = %e, "cannot remove obsolete file");
            }
        }
    }
}

/// The order to read `files` (of one measurement, ascending sequence) in so that a later
/// file still wins on equal series and time, yet rows arrive in time order where they can:
/// partitions by time, and within a partition by time when no two files share a time
/// (then their order cannot matter), else by sequence. Rows arriving in time order append
/// to a series instead of merging into it (compaction can leave a merged file newer in
/// sequence than a file holding later times: see the `compact` module).
fn read_order(mut files: Vec<Arc<DataFile>>) -> Vec<Arc<DataFile>> {
    files.sort_by_key(|f| (f.meta.partition_start, f.meta.min_time));
    for part in files.chunk_by_mut(|a, b| a.meta.partition_start == b.meta.partition_start) {
        if part
            .windows(2)
            .any(|w| w[0].meta.max_time >= w[1].meta.min_time)
        {
            part.sort_by_key(|f| f.meta.seq);
        }
    }
    files
}

#[derive(Debug, Default)]
struct State {
    active: Buffer,
    /// The buffer being persisted (readable until its files are committed).
    frozen: Option<Arc<Buffer>>,
    /// Live files, ascending by sequence number.
    files: Vec<Arc<DataFile>>,
    applied_lsn: Option<u64>,
    persisted_lsn: Option<u64>,
    /// Bumped whenever a series can disappear or move between buffer and files (persist,
    /// compaction, retention, deletion); between two bumps the buffer's series only grow.
    generation: u64,
    /// Deletions hiding rows of older files and log records (a copy of `Maint`'s).
    tombstones: Arc<Vec<Tombstone>>,
}

#[derive(Debug)]
struct Maint {
    /// The sequence number the next data file takes.
    next_seq: u64,
    /// The tombstones in the manifest (see the `tombstone` module).
    tombstones: Vec<Tombstone>,
}

impl Maint {
    /// A new file sequence number, higher than every one taken before.
    fn take_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }
}

/// What [`BucketStore::time_range`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    /// Earliest stored time (ns).
    pub min_time: i64,
    /// Latest stored time (ns).
    pub max_time: i64,
    /// At least the number of rows in the range (file rows plus buffered values).
    pub rows_upper_bound: u64,
}

/// The store of one bucket. `Send + Sync`; all methods take `&self`.
///
/// Lock order: `compacting`, then `maint` (persist, retention, deletion and the commit of a
/// compaction, serialized), then `schema`, then `state`.
#[derive(Debug)]
pub struct BucketStore {
    dir: PathBuf,
    opts: StoreOptions,
    schema: RwLock<Schema>,
    state: RwLock<State>,
    maint: Mutex<Maint>,
    /// Held by [`compact`](Self::compact) (one at a time; its merges run without `maint`).
    compacting: Mutex<()>,
    /// [`series_keys`](Self::series_keys) answers per measurement, valid while the state's
    /// generation and the active buffer's series count are unchanged.
    series_cache: Mutex<buffer::HashMap<String, SeriesCache>>,
    /// Persists and compactions since open (for `/metrics`).
    counters: stats::Counters,
}

#[derive(Debug)]
struct SeriesCache {
    generation: u64,
    active_series: usize,
    keys: Arc<Vec<SeriesTags>>,
}

/// A series' tag set, sorted by key.
pub type SeriesTags = Vec<(String, String)>;

fn rd<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}
fn wr<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}
fn lock<T>(l: &Mutex<T>) -> MutexGuard<'_, T> {
    l.lock().unwrap_or_else(|e| e.into_inner())
}

/// Start of the partition holding time `t`.
pub(crate) fn partition_start(t: i64, dur: i64) -> i64 {
    t.div_euclid(dur).checked_mul(dur).unwrap_or(i64::MIN)
}

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
    /// Opens (creating if needed) the bucket directory `dir`: loads the schema and file index
    /// from `manifest.json`, and deletes data files the manifest does not list (left by a
    /// crash during persist or compaction). Fails if a listed file is missing.
    pub fn open(dir: &Path, opts: StoreOptions) -> Result<BucketStore, StoreError> {
        fs::create_dir_all(dir)?;
        let mut opts = opts;
        if opts.partition_duration_ns <= 0 {
            opts.partition_duration_ns = DAY_NS;
        }
        let manifest = Manifest::load(dir)?.unwrap_or(Manifest {
            version: 1,
            partition_duration_ns: opts.partition_duration_ns,
            next_seq: 1,
            persisted_lsn: None,
            schema: BTreeMap::new(),
            files: Vec::new(),
            tombstones: Vec::new(),
        });
        if manifest.partition_duration_ns != opts.partition_duration_ns {
            tracing::warn!(
                stored = manifest.partition_duration_ns,
                requested = opts.partition_duration_ns,
                "partition duration is fixed at bucket creation; keeping the stored one"
            );
            opts.partition_duration_ns = manifest.partition_duration_ns;
        }
        if opts.partition_duration_ns <= 0 {
            return Err(StoreError::Corrupt(
                "non-positive partition duration".into(),
            ));
        }

        let mut schema = Schema::default();
        for (m, ms) in &manifest.schema {
            let mut fields = BTreeMap::new();
            for (f, t) in &ms.fields {
                let t = FieldType::from_name(t).ok_or_else(|| {
                    StoreError::Corrupt(format!("unknown field type {t:?} of {m}.{f}"))
                })?;
                fields.insert(f.clone(), t);
            }
            schema.insert(
                m.clone(),
                MeasSchema {
                    tags: ms.tags.iter().cloned().collect(),
                    fields,
                },
            );
        }

        let mut files = Vec::with_capacity(manifest.files.len());
        let mut live: HashSet<String> = HashSet::new();
        for meta in &manifest.files {
            let path = dir.join(&meta.path);
            if !path.is_file() {
                return Err(StoreError::Corrupt(format!(
                    "missing data file {}",
                    path.display()
                )));
            }
            live.insert(meta.path.clone());
            files.push(Arc::new(DataFile::new(meta.clone(), path, false)));
        }
        files.sort_by_key(|f| f.meta.seq);
        remove_orphans(dir, &live)?;

        Ok(BucketStore {
            dir: dir.to_path_buf(),
            opts,
            schema: RwLock::new(schema),
            state: RwLock::new(State {
                files,
                applied_lsn: manifest.persisted_lsn,
                persisted_lsn: manifest.persisted_lsn,
                tombstones: Arc::new(manifest.tombstones.clone()),
                ..State::default()
            }),
            compacting: Mutex::new(()),
            maint: Mutex::new(Maint {
                next_seq: manifest.next_seq,
                tombstones: manifest.tombstones,
            }),
            series_cache: Mutex::new(Default::default()),
            counters: Default::default(),
        })
    }

    /// Persists and compactions since open.
    pub fn stats(&self) -> StoreStats {
        self.counters.snapshot()
    }

    /// The options in effect (the partition duration is the bucket's stored one).
    pub fn options(&self) -> &StoreOptions {
        &self.opts
    }

    /// Field-type check before a write is logged. Returns, for each point conflicting with
    /// the known schema or with an earlier point of the same batch, its index and InfluxDB's
    /// message (`field type conflict: input field "usage" on measurement "cpu" is type
    /// integer, already exists as type float`). The field types of all other points are
    /// recorded in the schema at once, so a concurrent batch cannot claim other types.
    pub fn check_types(&self, points: &[Point]) -> Vec<(usize, String)> {
        let mut schema = wr(&self.schema);
        let mut out = Vec::new();
        // A point with the same measurement and field names and types as the last
        // conflict-free point is conflict-free too and registers nothing new.
        let mut last_ok: Option<&Point> = None;
        for (i, p) in points.iter().enumerate() {
            if last_ok.is_some_and(|q| same_field_layout(q, p)) {
                continue;
            }
            let known = schema.get(p.measurement.as_str());
            let conflict = p.fields.iter().find_map(|(name, v)| {
                let t = v.field_type();
                match known.and_then(|m| m.fields.get(name.as_str())) {
                    Some(&e) if e != t => Some(conflict_message(name, &p.measurement, t, e)),
                    _ => None,
                }
            });
            if let Some(msg) = conflict {
                out.push((i, msg));
                continue;
            }
            let ms = meas_schema_mut(&mut schema, &p.measurement);
            for (name, v) in &p.fields {
                if !ms.fields.contains_key(name.as_str()) {
                    ms.fields.insert(name.clone(), v.field_type());
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
    pub fn apply(&self, lsn: u64, points: &[Point]) {
        let mut schema = wr(&self.schema);
        let mut st = wr(&self.state);
        if st.persisted_lsn.is_some_and(|p| lsn <= p) {
            return;
        }
        let tombs = st.tombstones.clone();
        let dead: Vec<&Tombstone> = tombs.iter().filter(|t| t.covers_record(lsn)).collect();
        let mut keep: Vec<bool> = Vec::new();
        // The last point whose tag keys are registered and all of whose fields were kept:
        // a point with the same layout needs no schema work (see `same_field_layout`).
        let mut last_clean: Option<&Point> = None;
        for p in points {
            if dead
                .iter()
                .any(|t| t.measurement == p.measurement && t.covers(&p.tags, p.time))
            {
                continue;
            }
            if let Some(q) = last_clean {
                if same_field_layout(q, p) && same_tag_keys(q, p) {
                    keep.clear();
                    keep.resize(p.fields.len(), true);
                    st.active.insert(p, &keep);
                    continue;
                }
            }
            let ms = meas_schema_mut(&mut schema, &p.measurement);
            for (k, _) in &p.tags {
                if !ms.tags.contains(k.as_str()) {
                    ms.tags.insert(k.clone());
                }
            }
            keep.clear();
            for (name, v) in &p.fields {
                let t = v.field_type();
                match ms.fields.get(name.as_str()) {
                    Some(&e) if e == t => keep.push(true),
                    Some(&e) => {
                        tracing::warn!(measurement = %p.measurement, field = %name, input = %t, existing = %e,
                            "dropping field value of conflicting type");
                        keep.push(false);
                    }
                    None => {
                        ms.fields.insert(name.clone(), t);
                        keep.push(true);
                    }
                }
            }
            st.active.insert(p, &keep);
            last_clean = keep.iter().all(|k| *k).then_some(p);
        }
        st.applied_lsn = Some(st.applied_lsn.map_or(lsn, |a| a.max(lsn)));
    }

    /// Approximate memory held by buffered (not yet persisted) points, in bytes.
    pub fn buffered_bytes(&self) -> usize {
        let st = rd(&self.state);
        st.active.bytes + st.frozen.as_ref().map_or(0, |f| f.bytes)
    }

    /// True when [`buffered_bytes`](Self::buffered_bytes) exceeds the configured limit and
    /// the caller should [`persist`](Self::persist).
    pub fn needs_persist(&self) -> bool {
        self.buffered_bytes() > self.opts.buffer_limit_bytes
    }

    /// The highest LSN applied so far (after open: the persisted LSN).
    pub fn applied_lsn(&self) -> Option<u64> {
        rd(&self.state).applied_lsn
    }

    /// The LSN up to which everything applied is durable in Parquet files.
    pub fn persisted_lsn(&self) -> Option<u64> {
        rd(&self.state).persisted_lsn
    }

    /// Number of live data files (all measurements).
    pub fn file_count(&self) -> usize {
        rd(&self.state).files.len()
    }

    /// Number of deletions the store still applies to reads and log replay: each one goes
    /// once no file holds rows it hides and the log no longer holds records it covers.
    pub fn tombstone_count(&self) -> usize {
        rd(&self.state).tombstones.len()
    }

    /// Writes the buffer out as Parquet files (one new file per measurement and partition
    /// touched), fsyncs them and their directories, atomically replaces the manifest, drops
    /// the persisted points from memory and returns the LSN up to which everything is now
    /// persisted (the last LSN applied before the call). Writes and scans proceed meanwhile;
    /// points applied during the call stay buffered. A crash at any point leaves the old or
    /// the new state readable; on error the points stay buffered.
    pub fn persist(&self) -> Result<Option<u64>, StoreError> {
        let mut maint = lock(&self.maint);
        let (frozen, lsn) = {
            let mut st = wr(&self.state);
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
                let mut files = rd(&self.state).files.clone();
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
        let mut st = wr(&self.state);
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

    /// Writes one file per (measurement, partition) of `buf`.
    fn write_buffer(
        &self,
        buf: &Buffer,
        maint: &mut Maint,
    ) -> Result<Vec<Arc<DataFile>>, StoreError> {
        let dur = self.opts.partition_duration_ns;
        let mut out: Vec<Arc<DataFile>> = Vec::new();
        let mut names: Vec<&String> = buf.meas.keys().collect();
        names.sort();
        for m in names {
            let mb = &buf.meas[m];
            let ids: Vec<Option<usize>> = (0..mb.field_names.len()).map(Some).collect();
            let mut keys: Vec<&Vec<(String, String)>> = mb.series.keys().collect();
            keys.sort();
            let mut parts: BTreeMap<i64, Vec<SeriesRows>> = BTreeMap::new();
            for key in keys {
                let (times, cols) = mb.series[key].rows(&ids, i64::MIN, i64::MAX);
                split_partitions(key, times, cols, dur, &mut parts);
            }
            for (ps, series) in parts {
                let f = self.write_data_file(m, ps, &mb.field_names, &series, maint);
                match f {
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

    fn write_data_file(
        &self,
        measurement: &str,
        partition: i64,
        field_names: &[String],
        series: &[SeriesRows],
        maint: &mut Maint,
    ) -> Result<Arc<DataFile>, StoreError> {
        self.new_data_file(measurement, partition, maint.take_seq(), |path| {
            pq::write_file(path, field_names, series)
        })
    }

    /// A new data file of `measurement` and `partition` with sequence number `seq`, written
    /// by `write` at the path it is given, fsynced with its directory and its index loaded.
    /// It is deleted if `write` fails or when it is dropped before being committed to the
    /// manifest.
    fn new_data_file(
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
    fn store_manifest(
        &self,
        maint: &mut Maint,
        files: &[Arc<DataFile>],
        lsn: Option<u64>,
    ) -> Result<Arc<Vec<Tombstone>>, StoreError> {
        let tombs = tombstone::live_tombstones(&maint.tombstones, files, lsn);
        self.write_manifest(&rd(&self.schema), maint.next_seq, &tombs, files, lsn)?;
        maint.tombstones = tombs.clone();
        Ok(Arc::new(tombs))
    }

    fn write_manifest(
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

    /// Merges (deduplicating, last write wins) a run of similar-sized files of every
    /// partition where it holds more than `max_files_per_partition` files (see the `compact`
    /// module for the policy) into one file, and rewrites the newest run of files from the
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
        let _one_at_a_time = lock(&self.compacting);
        let plan = self.plan_compaction();
        self.carry_out(plan)
    }

    /// Retention: removes every partition (files and buffered points) whose end is at or
    /// before `cutoff_ns`, and returns how many distinct (measurement, partition) pairs were
    /// removed. Partitions ending after the cutoff are untouched, even if they start before.
    pub fn drop_before(&self, cutoff_ns: i64) -> Result<usize, StoreError> {
        let mut maint = lock(&self.maint);
        let dur = self.opts.partition_duration_ns;
        let threshold = partition_start(cutoff_ns, dur);
        let (files, lsn) = {
            let st = rd(&self.state);
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
            let mut st = wr(&self.state);
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

    /// The earliest and latest time stored for a measurement (files and buffer) and an upper
    /// bound of its rows (file rows plus buffered values, duplicates counted), so callers can
    /// read it in windows of bounded size. `None` when nothing is stored.
    pub fn time_range(&self, measurement: &str) -> Option<TimeRange> {
        let st = rd(&self.state);
        let mut acc: Option<(i64, i64, u64)> = None;
        let mut add = |lo: i64, hi: i64, n: u64| {
            acc = Some(match acc {
                None => (lo, hi, n),
                Some((a, b, c)) => (a.min(lo), b.max(hi), c + n),
            });
        };
        for f in st
            .files
            .iter()
            .filter(|f| f.meta.measurement == measurement)
        {
            add(f.meta.min_time, f.meta.max_time, f.meta.rows);
        }
        for buf in std::iter::once(&st.active).chain(st.frozen.as_deref()) {
            if let Some((lo, hi, n)) = buf.time_range(measurement) {
                add(lo, hi, n);
            }
        }
        acc.map(|(min_time, max_time, rows_upper_bound)| TimeRange {
            min_time,
            max_time,
            rows_upper_bound,
        })
    }

    /// Names of all known measurements, sorted.
    pub fn measurements(&self) -> Vec<String> {
        let mut v: Vec<String> = rd(&self.schema).keys().cloned().collect();
        v.sort();
        v
    }

    /// The schema of a measurement: tag keys (sorted) and fields with their types (sorted by
    /// name); `None` for an unknown measurement.
    pub fn schema(&self, measurement: &str) -> Option<MeasurementSchema> {
        rd(&self.schema)
            .get(measurement)
            .map(|ms| MeasurementSchema {
                tag_keys: ms.tags.iter().cloned().collect(),
                fields: ms.fields.iter().map(|(f, t)| (f.clone(), *t)).collect(),
            })
    }

    /// Every series of a measurement that holds at least one value (in files or buffered),
    /// as tag sets sorted by key, the list sorted and without repeats: what a scan of all
    /// time and fields would return as series, read from the file indexes without touching
    /// any data, and cached until the series can have changed. An unknown measurement
    /// yields none.
    pub fn series_keys(&self, measurement: &str) -> Result<Arc<Vec<SeriesTags>>, StoreError> {
        let (files, mut keys, generation, active_series, tombs) = {
            let st = rd(&self.state);
            let active_series = st
                .active
                .meas
                .get(measurement)
                .map_or(0, |m| m.series.len());
            if let Some(c) = lock(&self.series_cache).get(measurement) {
                if c.generation == st.generation && c.active_series == active_series {
                    return Ok(c.keys.clone());
                }
            }
            let files: Vec<Arc<DataFile>> = st
                .files
                .iter()
                .filter(|f| f.meta.measurement == measurement)
                .cloned()
                .collect();
            let mut keys: buffer::HashSet<Vec<(String, String)>> = Default::default();
            for buf in st
                .frozen
                .as_deref()
                .into_iter()
                .chain(std::iter::once(&st.active))
            {
                if let Some(mb) = buf.meas.get(measurement) {
                    for (n, (k, sb)) in mb.series.iter().enumerate() {
                        if n.is_multiple_of(256) {
                            coop::point();
                        }
                        if !sb.is_empty() {
                            keys.insert(k.clone());
                        }
                    }
                }
            }
            (
                files,
                keys,
                st.generation,
                active_series,
                st.tombstones.clone(),
            )
        };
        for f in &files {
            coop::point();
            let dead = tombstone::file_tombstones(&tombs, f);
            for e in &f.index()?.series {
                if e.start < e.end
                    && !keys.contains(e.key.as_slice())
                    && (dead.is_empty() || self.entry_alive(f, e, &dead)?)
                {
                    keys.insert(e.key.clone());
                }
            }
        }
        let mut out: Vec<Vec<(String, String)>> = keys.into_iter().collect();
        out.sort_unstable();
        let out = Arc::new(out);
        lock(&self.series_cache).insert(
            measurement.to_string(),
            SeriesCache {
                generation,
                active_series,
                keys: out.clone(),
            },
        );
        Ok(out)
    }

    /// Reads one measurement over `[start_ns, end_ns)`: merges the files overlapping the
    /// range (in sequence order, skipping files and row groups outside it by their time
    /// bounds), then the buffer, last write winning per series, time and field. Returns the
    /// matching series sorted by tag set, each with ascending unique times and one column per
    /// requested field known to the schema; rows without any requested value are omitted, and
    /// so are series left without rows. An unknown measurement yields no series.
    ///
    /// A small scan reads through the slice cache (see [`StoreOptions::slice_cache`]).
    pub fn scan(&self, req: &ScanRequest) -> Result<Vec<SeriesData>, StoreError> {
        self.scan_with(req, self.opts.slice_cache)
    }

    /// [`scan`](Self::scan) for one piece of a long read that will not be repeated (a
    /// streamed answer): it neither uses nor fills the slice cache, so such a read leaves
    /// the cache to the queries that come back.
    pub fn scan_once(&self, req: &ScanRequest) -> Result<Vec<SeriesData>, StoreError> {
        self.scan_with(req, false)
    }

    /// [`scan`](Self::scan)'s answer in pieces of about `rows` rows (estimated from the
    /// files' series indexes; a series is never split), handed to `f` in order: one after
    /// the other, the pieces are `scan`'s answer. One piece is held at a time, so a scan of
    /// any size reads in bounded memory. A scan the slice cache would take is one piece
    /// read through it; a scan cut into pieces bypasses it. Stops at the first error, of
    /// the store or of `f`.
    pub fn scan_pieces<E: From<StoreError>>(
        &self,
        req: &ScanRequest,
        rows: usize,
        f: &mut dyn FnMut(Vec<SeriesData>) -> Result<(), E>,
    ) -> Result<(), E> {
        let files: Vec<Arc<DataFile>> = rd(&self.state)
            .files
            .iter()
            .filter(|f| {
                f.meta.measurement == req.measurement
                    && f.meta.min_time < req.end_ns
                    && f.meta.max_time >= req.start_ns
            })
            .cloned()
            .collect();
        let mut acc = Acc::new(0);
        for file in &files {
            let idx = file.index()?;
            pq::expect_rows(
                idx,
                req.start_ns,
                req.end_ns,
                req.tag_filter.as_ref(),
                &mut acc,
            );
        }
        let mut expected = acc.expected_by_key();
        // A scan small enough for the slice cache reads through it whole (a dashboard's
        // repeated aggregate), which is faster than pieces that decode their pages again.
        let total: usize = expected.iter().map(|(_, n)| n).sum();
        if self.opts.slice_cache && uses_slice_cache(total, self.scan_field_names(req).len()) {
            return f(self.scan(req)?);
        }
        expected.sort_unstable();
        // Cut before the series that would take a piece past `rows`. Series only in the
        // buffer fall in whichever range holds them (the buffer is bounded).
        let mut cuts: Vec<SeriesKey> = Vec::new();
        let mut held = 0usize;
        for (key, n) in expected {
            if held > 0 && held.saturating_add(n) > rows {
                cuts.push(key.clone());
                held = 0;
            }
            held = held.saturating_add(n);
        }
        if cuts.is_empty() {
            // One piece: an ordinary scan, small ones through the cache.
            return f(self.scan(req)?);
        }
        let mut from: Option<SeriesKey> = None;
        for to in cuts.into_iter().map(Some).chain(std::iter::once(None)) {
            let range = TagPredicate::KeyRange(from.take(), to.clone());
            let mut piece = req.clone();
            piece.tag_filter = Some(match req.tag_filter.clone() {
                Some(p) => TagPredicate::And(vec![p, range]),
                None => range,
            });
            // a piece is charged while it is read, not while `f` holds it (one piece at a
            // time, of about `rows` rows): `f`'s own charges for what it keeps stand
            f(coop::scoped(|| self.scan_with(&piece, false))?)?;
            from = to;
        }
        Ok(())
    }

    /// The fields a scan returns, in order: those asked for that the measurement has (each
    /// once), or all of them; none for an unknown measurement.
    fn scan_field_names(&self, req: &ScanRequest) -> Vec<String> {
        let schema = rd(&self.schema);
        let Some(ms) = schema.get(req.measurement.as_str()) else {
            return Vec::new();
        };
        match &req.fields {
            None => ms.fields.keys().cloned().collect(),
            Some(list) => {
                let mut seen = HashSet::new();
                list.iter()
                    .filter(|f| ms.fields.contains_key(f.as_str()) && seen.insert(f.as_str()))
                    .cloned()
                    .collect()
            }
        }
    }

    fn scan_with(&self, req: &ScanRequest, cache: bool) -> Result<Vec<SeriesData>, StoreError> {
        let names = self.scan_field_names(req);
        let (start, end) = (req.start_ns, req.end_ns);
        if names.is_empty() || start >= end {
            return Ok(Vec::new());
        }
        let pred = req.tag_filter.as_ref();
        let (files, buf_acc, tombs) = {
            let st = rd(&self.state);
            let files: Vec<Arc<DataFile>> = st
                .files
                .iter()
                .filter(|f| {
                    f.meta.measurement == req.measurement
                        && f.meta.min_time < end
                        && f.meta.max_time >= start
                })
                .cloned()
                .collect();
            let files = read_order(files);
            let mut acc = Acc::new(names.len());
            for buf in st
                .frozen
                .as_deref()
                .into_iter()
                .chain(std::iter::once(&st.active))
            {
                let Some(mb) = buf.meas.get(req.measurement.as_str()) else {
                    continue;
                };
                let ids = mb.ids_for(&names);
                if ids.iter().all(|i| i.is_none()) {
                    continue;
                }
                let mut seen = 0usize;
                let mut add = |key: &Vec<(String, String)>, sb: &buffer::SeriesBuf| {
                    seen += 1;
                    if seen.is_multiple_of(256) {
                        coop::point();
                    }
                    if pred.is_some_and(|p| !p.matches(key)) {
                        return;
                    }
                    let (times, cols) = sb.rows(&ids, start, end);
                    if !times.is_empty() {
                        let slot = acc.slot(key);
                        acc.push_rows(slot, times, cols);
                    }
                };
                match pred.and_then(|p| mb.candidates(p)) {
                    Some(keys) => {
                        for key in keys {
                            if let Some(sb) = mb.series.get(key) {
                                add(key, sb);
                            }
                        }
                    }
                    None => {
                        for (key, sb) in &mb.series {
                            add(key, sb);
                        }
                    }
                }
            }
            (files, acc, st.tombstones.clone())
        };
        let mut acc = Acc::new(names.len());
        for f in &files {
            coop::point();
            pq::expect_rows(f.index()?, start, end, pred, &mut acc);
        }
        let cached = cache && uses_slice_cache(acc.expected_total(), names.len());
        // what the scan is about to decode counts against a guarded query's memory
        coop::charge(acc.expected_total().saturating_mul(
            std::mem::size_of::<i64>()
                + names.len() * std::mem::size_of::<Option<ferry_lp::FieldValue>>(),
        ));
        acc.reserve_expected();
        for f in &files {
            coop::point();
            tombstone::read_live(f, &tombs, start, end, pred, &names, &mut acc, cached)?;
        }
        acc.absorb(buf_acc);
        let out: Vec<SeriesData> = acc
            .finish()
            .into_iter()
            .map(|s| SeriesData {
                tags: s.key,
                times: s.times,
                fields: names.iter().cloned().zip(s.cols).collect(),
            })
            .collect();
        coop::count_read(out.len(), out.iter().map(|s| s.times.len()).sum());
        Ok(out)
    }
}

/// Whether a scan expected to read `rows` rows of `fields` fields from files goes through
/// the slice cache: only when its decoded columns would take at most an eighth of the
/// cache's budget, so that the small scans dashboards repeat are served from memory and a
/// scan of a whole range neither pays for filling the cache nor pushes those out.
fn uses_slice_cache(rows: usize, fields: usize) -> bool {
    let budget = slices::SLICES.budget();
    budget > 0 && rows.saturating_mul(8 * (fields + 1)) <= budget / 8
}

/// Same measurement and the same field names with the same types, in the same order.
fn same_field_layout(a: &Point, b: &Point) -> bool {
    a.measurement == b.measurement
        && a.fields.len() == b.fields.len()
        && a.fields
            .iter()
            .zip(&b.fields)
            .all(|((an, av), (bn, bv))| an == bn && av.field_type() == bv.field_type())
}

/// The same tag keys in the same order.
fn same_tag_keys(a: &Point, b: &Point) -> bool {
    a.tags.len() == b.tags.len() && a.tags.iter().zip(&b.tags).all(|(x, y)| x.0 == y.0)
}

fn meas_schema_mut<'a>(schema: &'a mut Schema, m: &str) -> &'a mut MeasSchema {
    if !schema.contains_key(m) {
        schema.insert(m.to_string(), MeasSchema::default());
    }
    schema.get_mut(m).expect("just inserted")
}

/// Splits one series' ascending rows into per-partition runs.
fn split_partitions(
    key: &[(String, String)],
    times: Vec<i64>,
    mut cols: Vec<Vec<Option<ferry_lp::FieldValue>>>,
    dur: i64,
    parts: &mut BTreeMap<i64, Vec<SeriesRows>>,
) {
    if times.is_empty() {
        return;
    }
    let first = partition_start(times[0], dur);
    let last = partition_start(times[times.len() - 1], dur);
    if first == last {
        parts.entry(first).or_default().push(SeriesRows {
            key: key.to_vec(),
            times,
            cols,
        });
        return;
    }
    let mut i = 0;
    while i < times.len() {
        let ps = partition_start(times[i], dur);
        let j = i + times[i..].partition_point(|&t| partition_start(t, dur) == ps);
        parts.entry(ps).or_default().push(SeriesRows {
            key: key.to_vec(),
            times: times[i..j].to_vec(),
            cols: cols
                .iter_mut()
                .map(|c| c[i..j].iter_mut().map(|v| v.take()).collect())
                .collect(),
        });
        i = j;
    }
}

/// Deletes `.parquet` files in measurement directories that the manifest does not list, and
/// a leftover temporary manifest.
fn remove_orphans(dir: &Path, live: &HashSet<String>) -> Result<(), StoreError> {
    let _ = fs::remove_file(dir.join(format!("{MANIFEST}.tmp")));
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if !entry.file_type()?.is_dir() {
            continue;
        }
        let dname = entry.file_name().to_string_lossy().into_owned();
        if !dname.starts_with("m_") {
            continue;
        }
        for f in fs::read_dir(entry.path())? {
            let f = f?;
            let fname = f.file_name().to_string_lossy().into_owned();
            if fname.ends_with(".parquet") && !live.contains(&format!("{dname}/{fname}")) {
                tracing::info!(file = %f.path().display(), "removing orphan data file");
                fs::remove_file(f.path())?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(partition_start: i64, seq: u64, min_time: i64, max_time: i64) -> Arc<DataFile> {
        let meta = FileMeta {
            measurement: "m".into(),
            partition_start,
            seq,
            path: format!("{seq}.parquet"),
            min_time,
            max_time,
            rows: 1,
        };
        Arc::new(DataFile::new(meta, PathBuf::from("/nonexistent"), false))
    }

    fn seqs(files: Vec<Arc<DataFile>>) -> Vec<u64> {
        read_order(files).iter().map(|f| f.meta.seq).collect()
    }

    #[test]
    fn read_order_is_by_time_only_where_files_share_no_time() {
        // Partition 0: seq 3 (a merged file) holds times before seq 2's: time order.
        // Partition 100: seq 4 and 5 overlap at 150: sequence order, whatever their times.
        let files = vec![
            file(0, 2, 50, 60),
            file(0, 3, 0, 40),
            file(100, 5, 100, 150),
            file(100, 4, 150, 190),
        ];
        assert_eq!(seqs(files), vec![3, 2, 4, 5]);
    }
}
