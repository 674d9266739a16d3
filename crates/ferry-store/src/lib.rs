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
//!
//! The façade's parts, one job a file: this file holds [`BucketStore`], its state and its
//! constructor; `write` the write side (type checks, apply, persist, retention, the
//! manifest), `read` the read side (time ranges, schemas, series, scans), `compact` and
//! `delete` the maintenance of that name, `files` the live data files. What they share
//! without naming the façade is in `types` and `error`.

mod buffer;
mod compact;
pub mod coop;
mod delete;
mod error;
mod files;
pub mod inspect;
mod manifest;
mod pq;
mod read;
mod scan;
pub mod slices;
mod stats;
mod tombstone;
mod types;
mod write;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use ferry_lp::FieldType;

use buffer::Buffer;
use files::DataFile;
use manifest::{Manifest, MANIFEST};
use tombstone::Tombstone;

pub use error::StoreError;
pub use read::{MeasurementSchema, TimeRange};
pub use scan::{ScanRequest, SeriesData, TagPredicate};
pub use stats::StoreStats;
pub use tombstone::Deletion;
pub use types::SeriesTags;

/// One day in nanoseconds.
const DAY_NS: i64 = 86_400_000_000_000;

/// Tuning of a [`BucketStore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// Width of a time partition in nanoseconds (default one day). Fixed when the bucket is
    /// created: reopening with another value keeps the stored one.
    pub partition_duration_ns: i64,
    /// Buffer size above which the caller should persist (default 8 MiB); see
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
            buffer_limit_bytes: 8 << 20,
            max_files_per_partition: 3,
            compaction_max_rows: 4_000_000,
            slice_cache: true,
        }
    }
}

#[derive(Debug, Clone, Default)]
struct MeasSchema {
    tags: BTreeSet<String>,
    fields: BTreeMap<String, FieldType>,
}

type Schema = types::HashMap<String, MeasSchema>;

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
    series_cache: Mutex<types::HashMap<String, SeriesCache>>,
    /// Persists and compactions since open (for `/metrics`).
    counters: stats::Counters,
}

#[derive(Debug)]
struct SeriesCache {
    generation: u64,
    active_series: usize,
    keys: Arc<Vec<SeriesTags>>,
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

    /// Number of live data files (all measurements).
    pub fn file_count(&self) -> usize {
        self.state.read().files.len()
    }

    /// Number of deletions the store still applies to reads and log replay: each one goes
    /// once no file holds rows it hides and the log no longer holds records it covers.
    pub fn tombstone_count(&self) -> usize {
        self.state.read().tombstones.len()
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
