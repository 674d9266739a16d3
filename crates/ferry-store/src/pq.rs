//! Parquet files: one per (measurement, partition, sequence), rows sorted by series then time.
//!
//! Each file written since the series index was added carries, in its key-value metadata
//! under `ferry.series`, the list of its series in row order: tag set, row count and time
//! span. [`FileIndex`] loads it once per file (with the Parquet footer and page index) so a
//! scan reads only the rows of the series it wants, without decoding the tag columns; for
//! older files without that entry the same list is built once from their tag columns.

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampNanosecondArray, UInt64Array,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use ferry_lp::{FieldType, FieldValue};
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection,
    RowSelector,
};
use parquet::arrow::{ArrowWriter, ProjectionMask};
use parquet::basic::Compression;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;
use serde::{Deserialize, Serialize};

use crate::buffer::{SeriesKey, SeriesRows};
use crate::scan::{Acc, TagPredicate};
use crate::slices::{self, SLICES};
use crate::StoreError;

const KIND: &str = "ferry.kind";
/// Key-value metadata entry holding the file's series index (JSON list of [`StoredSeries`]).
const SERIES_META: &str = "ferry.series";
const ROW_GROUP_ROWS: usize = 64 * 1024;
/// Rows per data page (at most): a single-series read decodes about this many values per
/// column instead of a whole row group.
const PAGE_ROWS: usize = 2048;

/// Data files kept open at once, across all stores of the process: past this, the file read
/// least recently gives its descriptor up, so the descriptors a node holds stay bounded
/// however many files its buckets have (the usual soft limit is 1024) and go to the files
/// being read now (the newest ones, for dashboards) rather than to the first ones opened.
const MAX_RETAINED_FILES: usize = 512;

/// The process's kept descriptors (see [`MAX_RETAINED_FILES`]).
static RETAINED: DescriptorCache = DescriptorCache::new(MAX_RETAINED_FILES);

/// A bounded set of open data files, least recently read given up first.
#[derive(Debug)]
pub(crate) struct DescriptorCache {
    max: usize,
    /// Files holding a descriptor (entries of dropped files are cleaned on the next open).
    open: std::sync::Mutex<Vec<std::sync::Weak<FileSlot>>>,
    /// Ticks once per read: a file's `used` is the tick of its latest read.
    clock: std::sync::atomic::AtomicU64,
}

/// One data file: its path and, while it holds one, its open descriptor.
#[derive(Debug)]
struct FileSlot {
    path: Arc<Path>,
    fd: std::sync::Mutex<Option<Arc<File>>>,
    used: std::sync::atomic::AtomicU64,
}

impl DescriptorCache {
    const fn new(max: usize) -> DescriptorCache {
        DescriptorCache {
            max,
            open: std::sync::Mutex::new(Vec::new()),
            clock: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The descriptor of `slot`, opening the file (and, with the cache full, closing the
    /// least recently read one's) if it has none.
    fn file(&self, slot: &Arc<FileSlot>) -> std::io::Result<Arc<File>> {
        use std::sync::atomic::Ordering;
        slot.used.store(
            self.clock.fetch_add(1, Ordering::Relaxed),
            Ordering::Relaxed,
        );
        if let Some(f) = lock(&slot.fd).as_ref() {
            return Ok(f.clone());
        }
        let opened = Arc::new(File::open(&slot.path)?);
        let mut open = lock(&self.open);
        // Another reader may have opened it meanwhile: keep that descriptor.
        if let Some(f) = lock(&slot.fd).as_ref() {
            return Ok(f.clone());
        }
        open.retain(|w| w.strong_count() > 0);
        if open.len() >= self.max {
            let victim = open
                .iter()
                .enumerate()
                .filter_map(|(i, w)| w.upgrade().map(|s| (i, s)))
                .min_by_key(|(_, s)| s.used.load(Ordering::Relaxed));
            if let Some((i, s)) = victim {
                // Reads in flight keep their clone; the descriptor closes after them.
                *lock(&s.fd) = None;
                open.swap_remove(i);
            }
        }
        *lock(&slot.fd) = Some(opened.clone());
        open.push(Arc::downgrade(slot));
        Ok(opened)
    }

    /// How many files hold a descriptor now.
    #[cfg(test)]
    fn held(&self) -> usize {
        lock(&self.open)
            .iter()
            .filter_map(std::sync::Weak::upgrade)
            .filter(|s| lock(&s.fd).is_some())
            .count()
    }
}

/// A poisoned lock still guards consistent data here (an `Option` or a `Vec` of weak refs).
fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A data file read with positioned reads (`pread`) through a descriptor kept in a
/// [`DescriptorCache`], so scans share one descriptor and pay no `open`/`dup`/`lseek`/
/// `close` per page as reading through a `std::fs::File` would (parquet clones and seeks
/// the handle for every read); a file whose descriptor was given up reopens it when read.
#[derive(Debug, Clone)]
pub(crate) struct SharedFile {
    slot: Arc<FileSlot>,
    cache: &'static DescriptorCache,
    len: u64,
}

impl SharedFile {
    fn open(path: &Path) -> Result<SharedFile, StoreError> {
        SharedFile::open_in(path, &RETAINED)
    }

    fn open_in(path: &Path, cache: &'static DescriptorCache) -> Result<SharedFile, StoreError> {
        let slot = Arc::new(FileSlot {
            path: path.into(),
            fd: std::sync::Mutex::new(None),
            used: std::sync::atomic::AtomicU64::new(0),
        });
        let len = cache.file(&slot)?.metadata()?.len();
        Ok(SharedFile { slot, cache, len })
    }

    fn read_at(&self, buf: &mut [u8], pos: u64) -> std::io::Result<usize> {
        use std::os::unix::fs::FileExt;
        self.cache.file(&self.slot)?.read_at(buf, pos)
    }

    fn path(&self) -> &Path {
        &self.slot.path
    }
}

impl parquet::file::reader::Length for SharedFile {
    fn len(&self) -> u64 {
        self.len
    }
}

/// A `Read` over a [`SharedFile`] from a position on.
pub(crate) struct SharedFileReader {
    file: SharedFile,
    pos: u64,
}

impl std::io::Read for SharedFileReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl parquet::file::reader::ChunkReader for SharedFile {
    type T = std::io::BufReader<SharedFileReader>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        Ok(std::io::BufReader::new(SharedFileReader {
            file: self.clone(),
            pos: start,
        }))
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<bytes::Bytes> {
        let mut buf = vec![0u8; length];
        let mut done = 0;
        while done < length {
            match self.read_at(&mut buf[done..], start + done as u64)? {
                0 => {
                    return Err(parquet::errors::ParquetError::EOF(format!(
                        "{}: {length} bytes wanted at {start}, file ends",
                        self.path().display()
                    )))
                }
                n => done += n,
            }
        }
        Ok(buf.into())
    }
}

/// One series of a file as stored in its `ferry.series` metadata, in row order.
#[derive(Debug, Serialize, Deserialize)]
struct StoredSeries {
    /// Tag set, sorted by key.
    k: Vec<(String, String)>,
    /// Number of rows.
    n: u64,
    /// Earliest and latest time.
    lo: i64,
    hi: i64,
    /// Time marks: `t[k]` is the time of row `(k + 1) * r` of the series (absent for
    /// series of at most [`MARK_MIN_ROWS`] rows and in files written before them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    m: Option<TimeMarks>,
}

/// Fewest rows between two time marks of a series.
const MARK_MIN_ROWS: usize = 128;
/// Most time marks per series and file.
const MARK_MAX: usize = 64;

/// Sparse times of one series in a file, so a scan of a time range reads the rows near it
/// rather than the series' whole run (a compacted file holds hours of every series).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TimeMarks {
    /// Rows between two marks.
    r: usize,
    /// The time at rows `r`, `2r`, … of the series.
    t: Vec<i64>,
}

impl TimeMarks {
    /// Marks for a series with these (ascending) times; `None` when it is too short.
    fn of(times: &[i64]) -> Option<TimeMarks> {
        if times.len() <= MARK_MIN_ROWS {
            return None;
        }
        let r = MARK_MIN_ROWS.max(times.len().div_ceil(MARK_MAX + 1));
        let t: Vec<i64> = times.iter().copied().step_by(r).skip(1).collect();
        (!t.is_empty()).then_some(TimeMarks { r, t })
    }

    /// The rows (relative to the series' first, of `n`) that can hold times in
    /// `[start, end)`: rows before a mark earlier than `start` are earlier than `start`,
    /// rows from a mark at or after `end` on are not earlier than `end`.
    fn rows(&self, n: usize, start: i64, end: i64) -> std::ops::Range<usize> {
        let from = self.t.partition_point(|&t| t < start) * self.r;
        let to = (self.t.partition_point(|&t| t < end) + 1) * self.r;
        from.min(n)..to.min(n)
    }
}

fn field_with_kind(name: &str, dt: DataType, nullable: bool, kind: &str) -> Field {
    Field::new(name, dt, nullable)
        .with_metadata(HashMap::from([(KIND.to_string(), kind.to_string())]))
}

fn arrow_type(t: FieldType) -> DataType {
    match t {
        FieldType::Float => DataType::Float64,
        FieldType::Integer => DataType::Int64,
        FieldType::UInteger => DataType::UInt64,
        FieldType::String => DataType::Utf8,
        FieldType::Boolean => DataType::Boolean,
    }
}

/// Summary of a written file.
pub(crate) struct Written {
    pub min_time: i64,
    pub max_time: i64,
    pub rows: u64,
}

/// Writes `series` (sorted by key, each with ascending unique times) to a new file at `path`
/// and fsyncs it. Columns: `time`, one Utf8 column per tag key, one typed column per field
/// that has at least one value.
pub(crate) fn write_file(
    path: &Path,
    field_names: &[String],
    series: &[SeriesRows],
) -> Result<Written, StoreError> {
    let tag_keys: BTreeSet<&str> = series
        .iter()
        .flat_map(|s| s.key.iter().map(|(k, _)| k.as_str()))
        .collect();
    // The fields with at least one value, with their type and value column.
    let (fields, positions): (Vec<(String, FieldType)>, Vec<usize>) = field_names
        .iter()
        .enumerate()
        .filter_map(|(fi, name)| {
            let ty = series
                .iter()
                .flat_map(|s| s.cols.get(fi).into_iter().flatten())
                .find_map(|v| v.as_ref().map(|v| v.field_type()))?;
            Some(((name.clone(), ty), fi))
        })
        .unzip();
    let mut w = FileWriter::create(path, tag_keys.into_iter().map(String::from), fields)?;
    w.write_cols(series, &positions)?;
    w.finish()
}

/// A data file written a batch of series at a time, so a merge of large files never holds
/// more than a batch: rows must come sorted by series key (across batches too), each series
/// once, with ascending unique times. The file is complete and fsynced after
/// [`finish`](Self::finish); before that it holds no series index and must not be used.
pub(crate) struct FileWriter {
    w: ArrowWriter<File>,
    path: std::path::PathBuf,
    schema: Arc<Schema>,
    tag_keys: Vec<String>,
    fields: Vec<(String, FieldType)>,
    index: Vec<StoredSeries>,
    min_time: i64,
    max_time: i64,
    rows: u64,
}

impl FileWriter {
    /// Creates the file with the given tag keys and fields (in column order).
    pub fn create(
        path: &Path,
        tag_keys: impl IntoIterator<Item = String>,
        fields: Vec<(String, FieldType)>,
    ) -> Result<FileWriter, StoreError> {
        let mut tag_keys: Vec<String> = tag_keys.into_iter().collect();
        tag_keys.sort();
        tag_keys.dedup();
        let mut cols = vec![field_with_kind(
            "time",
            DataType::Timestamp(TimeUnit::Nanosecond, None),
            false,
            "time",
        )];
        for k in &tag_keys {
            cols.push(field_with_kind(k, DataType::Utf8, true, "tag"));
        }
        for (name, ty) in &fields {
            cols.push(field_with_kind(name, arrow_type(*ty), true, "field"));
        }
        let schema = Arc::new(Schema::new(cols));
        // Dictionaries only for strings: a numeric column chunk's dictionary page (up to 1 MiB)
        // would be read and decompressed in full for every single-series read of it.
        let mut props = WriterProperties::builder()
            .set_compression(Compression::LZ4_RAW)
            .set_max_row_group_size(ROW_GROUP_ROWS)
            .set_data_page_row_count_limit(PAGE_ROWS)
            .set_write_batch_size(PAGE_ROWS)
            .set_dictionary_enabled(false);
        for f in schema.fields() {
            let col = ColumnPath::from(f.name().as_str());
            match f.data_type() {
                DataType::Utf8 => props = props.set_column_dictionary_enabled(col, true),
                // Time and integers as deltas: 10M cpu points take 333 MB instead of 370 MB
                // (PLAIN), and whole-range counts read them faster.
                DataType::Timestamp(..) | DataType::Int64 => {
                    props = props
                        .set_column_encoding(col, parquet::basic::Encoding::DELTA_BINARY_PACKED)
                }
                _ => {}
            }
        }
        let file = File::create(path)?;
        let w = ArrowWriter::try_new(file, schema.clone(), Some(props.build()))?;
        Ok(FileWriter {
            w,
            path: path.to_path_buf(),
            schema,
            tag_keys,
            fields,
            index: Vec::new(),
            min_time: i64::MAX,
            max_time: i64::MIN,
            rows: 0,
        })
    }

    /// Appends `series`, whose value columns are in the writer's field order.
    pub fn write(&mut self, series: &[SeriesRows]) -> Result<(), StoreError> {
        let positions: Vec<usize> = (0..self.fields.len()).collect();
        self.write_cols(series, &positions)
    }

    /// Appends `series`; the writer's field `i` is value column `positions[i]` of each.
    fn write_cols(&mut self, series: &[SeriesRows], positions: &[usize]) -> Result<(), StoreError> {
        let rows: usize = series.iter().map(|s| s.times.len()).sum();
        if rows == 0 {
            return Ok(());
        }
        let mut cols: Vec<ArrayRef> = Vec::with_capacity(self.schema.fields().len());
        let mut times = Vec::with_capacity(rows);
        for s in series {
            times.extend_from_slice(&s.times);
        }
        cols.push(Arc::new(TimestampNanosecondArray::from(times)));
        for k in &self.tag_keys {
            let mut b = StringBuilder::with_capacity(rows, rows * 8);
            for s in series {
                let v = s
                    .key
                    .binary_search_by(|(tk, _)| tk.cmp(k))
                    .ok()
                    .map(|i| s.key[i].1.as_str());
                for _ in 0..s.times.len() {
                    b.append_option(v);
                }
            }
            cols.push(Arc::new(b.finish()));
        }
        for ((_, ty), &fi) in self.fields.iter().zip(positions) {
            let values = series.iter().flat_map(|s| {
                let n = s.times.len();
                let col = s.cols.get(fi);
                (0..n).map(move |i| col.and_then(|c| c[i].as_ref()))
            });
            cols.push(value_array(*ty, values));
        }
        for s in series.iter().filter(|s| !s.times.is_empty()) {
            let (lo, hi) = (s.times[0], s.times[s.times.len() - 1]);
            self.min_time = self.min_time.min(lo);
            self.max_time = self.max_time.max(hi);
            self.index.push(StoredSeries {
                k: s.key.clone(),
                n: s.times.len() as u64,
                lo,
                hi,
                m: TimeMarks::of(&s.times),
            });
        }
        self.rows += rows as u64;
        let batch = RecordBatch::try_new(self.schema.clone(), cols)?;
        self.w.write(&batch)?;
        Ok(())
    }

    /// Writes the series index and the footer, and fsyncs the file.
    pub fn finish(mut self) -> Result<Written, StoreError> {
        let index =
            serde_json::to_string(&self.index).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.w
            .append_key_value_metadata(KeyValue::new(SERIES_META.to_string(), index));
        self.w.close()?;
        File::open(&self.path)?.sync_all()?;
        let empty = self.rows == 0;
        Ok(Written {
            min_time: if empty { 0 } else { self.min_time },
            max_time: if empty { 0 } else { self.max_time },
            rows: self.rows,
        })
    }
}

/// One field's column; a value of another type than `ty` is stored as null.
fn value_array<'a>(
    ty: FieldType,
    values: impl Iterator<Item = Option<&'a FieldValue>>,
) -> ArrayRef {
    match ty {
        FieldType::Float => Arc::new(Float64Array::from_iter(values.map(|v| match v {
            Some(FieldValue::Float(x)) => Some(*x),
            _ => None,
        }))),
        FieldType::Integer => Arc::new(Int64Array::from_iter(values.map(|v| match v {
            Some(FieldValue::Integer(x)) => Some(*x),
            _ => None,
        }))),
        FieldType::UInteger => Arc::new(UInt64Array::from_iter(values.map(|v| match v {
            Some(FieldValue::UInteger(x)) => Some(*x),
            _ => None,
        }))),
        FieldType::String => Arc::new(StringArray::from_iter(values.map(|v| match v {
            Some(FieldValue::String(x)) => Some(x.as_str()),
            _ => None,
        }))),
        // (BooleanArray's FromIterator needs an upper size bound, which flat_map lacks.)
        FieldType::Boolean => Arc::new(BooleanArray::from(
            values
                .map(|v| match v {
                    Some(FieldValue::Boolean(x)) => Some(*x),
                    _ => None,
                })
                .collect::<Vec<_>>(),
        )),
    }
}

enum ColReader<'a> {
    F(&'a Float64Array),
    I(&'a Int64Array),
    U(&'a UInt64Array),
    S(&'a StringArray),
    B(&'a BooleanArray),
    Missing,
}

impl ColReader<'_> {
    fn new(a: &dyn Array) -> ColReader<'_> {
        let any = a.as_any();
        if let Some(x) = any.downcast_ref::<Float64Array>() {
            ColReader::F(x)
        } else if let Some(x) = any.downcast_ref::<Int64Array>() {
            ColReader::I(x)
        } else if let Some(x) = any.downcast_ref::<UInt64Array>() {
            ColReader::U(x)
        } else if let Some(x) = any.downcast_ref::<StringArray>() {
            ColReader::S(x)
        } else if let Some(x) = any.downcast_ref::<BooleanArray>() {
            ColReader::B(x)
        } else {
            ColReader::Missing
        }
    }

    /// Appends the values of rows `rows` (`None` where null or missing).
    fn extend_into(&self, out: &mut Vec<Option<FieldValue>>, rows: std::ops::Range<usize>) {
        fn ext<A: Array, T>(
            a: &A,
            out: &mut Vec<Option<FieldValue>>,
            rows: std::ops::Range<usize>,
            vals: &[T],
            f: impl Fn(&T) -> FieldValue,
        ) {
            if a.null_count() == 0 {
                out.extend(vals[rows].iter().map(|v| Some(f(v))));
            } else {
                out.extend(rows.map(|i| a.is_valid(i).then(|| f(&vals[i]))));
            }
        }
        match self {
            ColReader::F(a) => ext(*a, out, rows, a.values(), |v| FieldValue::Float(*v)),
            ColReader::I(a) => ext(*a, out, rows, a.values(), |v| FieldValue::Integer(*v)),
            ColReader::U(a) => ext(*a, out, rows, a.values(), |v| FieldValue::UInteger(*v)),
            ColReader::S(a) => out.extend(rows.map(|i| {
                a.is_valid(i)
                    .then(|| FieldValue::String(a.value(i).to_string()))
            })),
            ColReader::B(a) => {
                out.extend(rows.map(|i| a.is_valid(i).then(|| FieldValue::Boolean(a.value(i)))))
            }
            ColReader::Missing => out.resize(out.len() + rows.len(), None),
        }
    }
}

fn kind_of(f: &Field) -> &str {
    f.metadata()
        .get(KIND)
        .map(|s| s.as_str())
        .unwrap_or_else(|| {
            if f.name() == "time" {
                "time"
            } else if f.data_type() == &DataType::Utf8 {
                "tag"
            } else {
                "field"
            }
        })
}

/// One series' rows in a file: rows `start..end` (in file order), times `min_t..=max_t`.
#[derive(Debug, Clone)]
pub(crate) struct SeriesEntry {
    pub key: SeriesKey,
    pub start: usize,
    pub end: usize,
    pub min_t: i64,
    pub max_t: i64,
    marks: Option<TimeMarks>,
}

impl SeriesEntry {
    /// The rows of the series (in file order) that can hold times in `[start, end)`: all of
    /// them, or fewer when the file has time marks.
    fn rows_for(&self, start: i64, end: i64) -> (usize, usize) {
        match &self.marks {
            Some(m) => {
                let r = m.rows(self.end - self.start, start, end);
                (self.start + r.start, self.start + r.end)
            }
            None => (self.start, self.end),
        }
    }
}

/// What a scan needs to know about a file, loaded once: the parsed footer (with the page
/// index, so row selections skip pages), column positions and the series index.
#[derive(Debug)]
pub(crate) struct FileIndex {
    /// The file's id in the slice cache (unique per loaded index).
    cache_id: u64,
    /// The open file (data files never change once written).
    file: SharedFile,
    meta: ArrowReaderMetadata,
    time_idx: usize,
    /// Field columns by name.
    field_cols: HashMap<String, usize>,
    /// First row of every row group, plus the total row count at the end.
    rg_starts: Vec<usize>,
    /// Series in row order.
    pub series: Vec<SeriesEntry>,
    /// Whether `series` is also in key order (true of every file the store writes).
    keys_sorted: bool,
    /// Entries (ascending) by tag key and value, for `tag = 'value'` predicates.
    postings: HashMap<String, HashMap<String, Vec<u32>>>,
}

impl FileIndex {
    /// Whether the file has a column for field `name`.
    pub fn has_field(&self, name: &str) -> bool {
        self.field_cols.contains_key(name)
    }

    /// Loads the footer and series index of the file at `path`.
    pub fn load(path: &Path) -> Result<FileIndex, StoreError> {
        let shared = SharedFile::open(path)?;
        let meta =
            ArrowReaderMetadata::load(&shared, ArrowReaderOptions::new().with_page_index(true))?;
        let schema = meta.schema().clone();
        let mut time_idx = None;
        let mut tag_idx: Vec<usize> = Vec::new();
        let mut field_cols = HashMap::new();
        for (i, f) in schema.fields().iter().enumerate() {
            match kind_of(f) {
                "time" => time_idx = Some(i),
                "tag" => tag_idx.push(i),
                _ => {
                    field_cols.entry(f.name().clone()).or_insert(i);
                }
            }
        }
        let time_idx = time_idx
            .ok_or_else(|| StoreError::Corrupt(format!("{}: no time column", path.display())))?;
        let mut rg_starts = vec![0usize];
        for rg in meta.metadata().row_groups() {
            let last = *rg_starts.last().expect("non-empty");
            rg_starts.push(last + rg.num_rows().max(0) as usize);
        }
        let stored = meta
            .metadata()
            .file_metadata()
            .key_value_metadata()
            .and_then(|kv| kv.iter().find(|e| e.key == SERIES_META))
            .and_then(|e| e.value.as_deref());
        let series = match stored {
            Some(json) => {
                let list: Vec<StoredSeries> = serde_json::from_str(json).map_err(|e| {
                    StoreError::Corrupt(format!("{}: bad series index: {e}", path.display()))
                })?;
                let mut out = Vec::with_capacity(list.len());
                let mut row = 0usize;
                for s in list {
                    let n = s.n as usize;
                    out.push(SeriesEntry {
                        key: s.k,
                        start: row,
                        end: row + n,
                        min_t: s.lo,
                        max_t: s.hi,
                        marks: s.m,
                    });
                    row += n;
                }
                if row != *rg_starts.last().expect("non-empty") {
                    return Err(StoreError::Corrupt(format!(
                        "{}: series index covers {row} rows",
                        path.display()
                    )));
                }
                out
            }
            None => build_series_index(File::open(path)?, &meta, path, time_idx, &tag_idx)?,
        };
        let mut postings: HashMap<String, HashMap<String, Vec<u32>>> = HashMap::new();
        for (i, e) in series.iter().enumerate() {
            for (k, v) in &e.key {
                let by_value = match postings.get_mut(k) {
                    Some(m) => m,
                    None => postings.entry(k.clone()).or_default(),
                };
                match by_value.get_mut(v) {
                    Some(l) => l.push(i as u32),
                    None => {
                        by_value.insert(v.clone(), vec![i as u32]);
                    }
                }
            }
        }
        let keys_sorted = series.windows(2).all(|w| w[0].key < w[1].key);
        Ok(FileIndex {
            cache_id: slices::new_file_id(),
            file: shared,
            meta,
            time_idx,
            field_cols,
            rg_starts,
            series,
            keys_sorted,
            postings,
        })
    }

    /// The entries that can satisfy `pred` when it requires some tag to equal a non-empty
    /// value (from the postings; the caller still evaluates `pred`); `None` = all entries.
    fn candidates(&self, pred: &TagPredicate) -> Option<&[u32]> {
        let (k, v) = pred.pinned()?;
        Some(
            self.postings
                .get(k)
                .and_then(|m| m.get(v))
                .map_or(&[][..], |l| l.as_slice()),
        )
    }
}

impl Drop for FileIndex {
    fn drop(&mut self) {
        SLICES.forget_file(self.cache_id);
    }
}

/// The series index of a file written before `ferry.series` existed: one pass over its
/// time and tag columns (rows are sorted by series; a series split into several runs gets
/// one entry per run).
fn build_series_index(
    file: File,
    meta: &ArrowReaderMetadata,
    path: &Path,
    time_idx: usize,
    tag_idx: &[usize],
) -> Result<Vec<SeriesEntry>, StoreError> {
    let schema = meta.schema().clone();
    let mut tag_idx = tag_idx.to_vec();
    tag_idx.sort_by(|&a, &b| schema.field(a).name().cmp(schema.field(b).name()));
    let mut roots: Vec<usize> = vec![time_idx];
    roots.extend(&tag_idx);
    roots.sort_unstable();
    let pos = |i: usize| roots.binary_search(&i).expect("projected");
    let mask = ProjectionMask::roots(
        meta.metadata().file_metadata().schema_descr(),
        roots.clone(),
    );
    let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(file, meta.clone())
        .with_projection(mask)
        .with_batch_size(8192)
        .build()?;
    let tag_names: Vec<String> = tag_idx
        .iter()
        .map(|&i| schema.field(i).name().clone())
        .collect();
    let mut out: Vec<SeriesEntry> = Vec::new();
    let mut row = 0usize;
    for batch in reader {
        let batch = batch?;
        let times = time_values(batch.column(pos(time_idx)).as_ref(), path)?;
        let tags: Vec<Option<&StringArray>> = tag_idx
            .iter()
            .map(|&i| batch.column(pos(i)).as_any().downcast_ref::<StringArray>())
            .collect();
        for (r, &t) in times.iter().enumerate() {
            let same = out
                .last()
                .is_some_and(|e| same_key(&e.key, &tag_names, &tags, r));
            if same {
                let e = out.last_mut().expect("checked");
                e.end = row + 1;
                e.min_t = e.min_t.min(t);
                e.max_t = e.max_t.max(t);
            } else {
                let mut key = Vec::new();
                for (name, arr) in tag_names.iter().zip(&tags) {
                    if let Some(a) = arr {
                        if a.is_valid(r) && !a.value(r).is_empty() {
                            key.push((name.clone(), a.value(r).to_string()));
                        }
                    }
                }
                out.push(SeriesEntry {
                    key,
                    start: row,
                    end: row + 1,
                    min_t: t,
                    max_t: t,
                    marks: None,
                });
            }
            row += 1;
        }
    }
    Ok(out)
}

fn time_values<'a>(col: &'a dyn Array, path: &Path) -> Result<&'a [i64], StoreError> {
    if let Some(a) = col.as_any().downcast_ref::<TimestampNanosecondArray>() {
        Ok(a.values())
    } else if let Some(a) = col.as_any().downcast_ref::<Int64Array>() {
        Ok(a.values())
    } else {
        Err(StoreError::Corrupt(format!(
            "{}: bad time column type",
            path.display()
        )))
    }
}

/// Calls `f` with every series entry (and its position in the index) of the file holding
/// rows in `[start, end)` whose series satisfies `pred`, in row order.
fn for_wanted(
    idx: &FileIndex,
    start: i64,
    end: i64,
    pred: Option<&TagPredicate>,
    mut f: impl FnMut(usize, &SeriesEntry),
) {
    let mut visit = |i: usize| {
        let e = &idx.series[i];
        if e.min_t >= end || e.max_t < start || e.start == e.end {
            return;
        }
        if pred.is_some_and(|p| !p.matches(&e.key)) {
            return;
        }
        f(i, e)
    };
    match pred.and_then(|p| idx.candidates(p)) {
        Some(c) => c.iter().for_each(|&i| visit(i as usize)),
        None => {
            // A range of series in a file listing its series in key order is one slice.
            let (mut a, mut b) = (0, idx.series.len());
            if let Some((from, to)) = pred.and_then(TagPredicate::key_range) {
                if idx.keys_sorted {
                    if let Some(from) = from {
                        a = idx.series.partition_point(|e| &e.key < from);
                    }
                    if let Some(to) = to {
                        b = idx.series.partition_point(|e| &e.key < to).max(a);
                    }
                }
            }
            (a..b).for_each(visit)
        }
    }
}

/// Tells `acc` how many rows a [`read_file`] of the same arguments (fields aside) will add
/// to each series, estimated from the series' row counts and time bounds in the file.
pub(crate) fn expect_rows(
    idx: &FileIndex,
    start: i64,
    end: i64,
    pred: Option<&TagPredicate>,
    acc: &mut Acc,
) {
    for_wanted(idx, start, end, pred, |_, e| {
        let rows = e.end - e.start;
        let span = (e.max_t as i128 - e.min_t as i128).max(0) + 1;
        let inside = (e.max_t.min(end - 1) as i128 - e.min_t.max(start) as i128).max(0) + 1;
        let n = ((rows as i128 * inside + span - 1) / span) as usize;
        let slot = acc.slot(&e.key);
        acc.expect_rows(slot, n.min(rows));
    });
}

/// Reads the rows of one file with `start <= time < end` whose series satisfy `pred`,
/// projecting the requested `fields` (in that order), into `acc`. Only the row groups and
/// pages holding the wanted series are read, and the tag columns not at all. With `cached`,
/// series entries of up to [`slices::MAX_ENTRY_ROWS`] rows come from the slice cache, and
/// those not there yet are read whole and kept in it (for small scans that repeat); the
/// rows added to `acc` are the same either way.
#[allow(clippy::too_many_arguments)]
pub(crate) fn read_file(
    path: &Path,
    idx: &FileIndex,
    start: i64,
    end: i64,
    pred: Option<&TagPredicate>,
    fields: &[String],
    acc: &mut Acc,
    cached: bool,
) -> Result<(), StoreError> {
    // One file lists a series once only when its keys are sorted (every file the store
    // writes); only then can entries be read in any order.
    let cached = cached && idx.keys_sorted && SLICES.budget() > 0;
    let roots = projected_roots(idx, fields);
    // The wanted series read from the file, as (first row, last row + 1, accumulator slot),
    // and those that go through the cache, as (entry, slot).
    let mut runs: Vec<(usize, usize, usize)> = Vec::new();
    let mut via_cache: Vec<(usize, usize)> = Vec::new();
    for_wanted(idx, start, end, pred, |i, e| {
        let (a, b) = e.rows_for(start, end);
        if a >= b {
            return;
        }
        if cached && e.end - e.start <= slices::MAX_ENTRY_ROWS {
            via_cache.push((i, acc.slot(&e.key)));
        } else {
            runs.push((a, b, acc.slot(&e.key)))
        }
    });
    read_runs(path, idx, &runs, &roots, |batch, pieces| {
        take_pieces(path, idx, &roots, fields, batch, pieces, start, end, acc)
    })?;
    if via_cache.is_empty() {
        return Ok(());
    }
    // Cached entries first, then the misses read whole (in one pass over the file).
    let mut misses: Vec<(usize, usize, usize)> = Vec::new();
    for &(i, slot) in &via_cache {
        match SLICES.get(idx.cache_id, i as u32, &roots) {
            Some(cols) => take_entry(
                path,
                idx,
                &roots,
                fields,
                &idx.series[i],
                &cols,
                start,
                end,
                slot,
                acc,
            )?,
            None => misses.push((i, slot, 0)),
        }
    }
    if misses.is_empty() {
        return Ok(());
    }
    let whole: Vec<(usize, usize, usize)> = misses
        .iter()
        .enumerate()
        .map(|(k, &(i, _, _))| (idx.series[i].start, idx.series[i].end, k))
        .collect();
    let mut pieces: Vec<Vec<Vec<ArrayRef>>> = vec![vec![Vec::new(); roots.len()]; misses.len()];
    read_runs(path, idx, &whole, &roots, |batch, runs| {
        for &(k, ref rows) in runs {
            for (c, col) in batch.columns().iter().enumerate() {
                pieces[k][c].push(col.slice(rows.start, rows.len()));
            }
        }
        Ok(())
    })?;
    for ((i, slot, _), cols) in misses.into_iter().zip(pieces) {
        let cols: Vec<ArrayRef> = cols.iter().map(|p| slices::own(p)).collect();
        let e = &idx.series[i];
        if cols.first().is_none_or(|t| t.len() != e.end - e.start) {
            return Err(StoreError::Corrupt(format!(
                "{}: series entry {i} read short",
                path.display()
            )));
        }
        take_entry(path, idx, &roots, fields, e, &cols, start, end, slot, acc)?;
        SLICES.put(
            idx.cache_id,
            i as u32,
            roots.iter().copied().zip(cols).collect(),
        );
    }
    Ok(())
}

/// Reads every row of the series whose keys lie in `lo..=hi` (in key order), projecting
/// `fields`, into `acc`: a merge reads its files this way, a range of series at a time.
pub(crate) fn read_key_range(
    path: &Path,
    idx: &FileIndex,
    lo: &SeriesKey,
    hi: &SeriesKey,
    fields: &[String],
    acc: &mut Acc,
) -> Result<(), StoreError> {
    let in_range = |e: &&SeriesEntry| e.start < e.end && &e.key >= lo && &e.key <= hi;
    // Files written by the store list their series in key order: the range is one slice.
    let entries: &[SeriesEntry] = if idx.keys_sorted {
        let a = idx.series.partition_point(|e| &e.key < lo);
        let b = idx.series.partition_point(|e| &e.key <= hi);
        &idx.series[a..b]
    } else {
        &idx.series
    };
    let runs: Vec<(usize, usize, usize)> = entries
        .iter()
        .filter(in_range)
        .map(|e| (e.start, e.end, acc.slot(&e.key)))
        .collect();
    let roots = projected_roots(idx, fields);
    read_runs(path, idx, &runs, &roots, |batch, pieces| {
        take_pieces(
            path,
            idx,
            &roots,
            fields,
            batch,
            pieces,
            i64::MIN,
            i64::MAX,
            acc,
        )
    })
}

/// The Parquet root columns a read of `fields` projects, ascending: time and the fields the
/// file has. A projected batch's column `c` is root `roots[c]`.
fn projected_roots(idx: &FileIndex, fields: &[String]) -> Vec<usize> {
    let mut roots: Vec<usize> = vec![idx.time_idx];
    roots.extend(fields.iter().filter_map(|n| idx.field_cols.get(n).copied()));
    roots.sort_unstable();
    roots.dedup();
    roots
}

/// Reads the rows `runs` name ((first row, last row + 1, tag), ascending and disjoint),
/// projecting `roots`, and calls `f` with each batch and its pieces: (tag, rows of the
/// batch), in file order. Only the row groups and pages holding those rows are read.
fn read_runs(
    path: &Path,
    idx: &FileIndex,
    runs: &[(usize, usize, usize)],
    roots: &[usize],
    mut f: impl FnMut(&RecordBatch, &[(usize, std::ops::Range<usize>)]) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    if runs.is_empty() {
        return Ok(());
    }
    // Row groups holding a wanted row; the selection is relative to the rows of those.
    let rg = &idx.rg_starts;
    let mut groups: Vec<usize> = Vec::new();
    for g in 0..rg.len() - 1 {
        let (lo, hi) = (rg[g], rg[g + 1]);
        let i = runs.partition_point(|r| r.1 <= lo);
        if i < runs.len() && runs[i].0 < hi {
            groups.push(g);
        }
    }
    let mut selectors: Vec<RowSelector> = Vec::new();
    let mut selected = 0usize;
    let mut total = 0usize;
    {
        let mut push = |sel: bool, n: usize| {
            if n == 0 {
                return;
            }
            match selectors.last_mut() {
                Some(l) if l.skip != sel => l.row_count += n,
                _ => selectors.push(if sel {
                    RowSelector::select(n)
                } else {
                    RowSelector::skip(n)
                }),
            }
        };
        let mut ri = 0usize;
        for &g in &groups {
            let (lo, hi) = (rg[g], rg[g + 1]);
            total += hi - lo;
            let mut at = lo;
            while ri < runs.len() && runs[ri].1 <= lo {
                ri += 1;
            }
            let mut k = ri;
            while k < runs.len() && runs[k].0 < hi {
                let (s, e) = (runs[k].0.max(lo), runs[k].1.min(hi));
                push(false, s - at);
                push(true, e - s);
                selected += e - s;
                at = e;
                k += 1;
            }
            push(false, hi - at);
        }
    }

    let mask = ProjectionMask::roots(
        idx.meta.metadata().file_metadata().schema_descr(),
        roots.iter().copied(),
    );
    let mut builder =
        ParquetRecordBatchReaderBuilder::new_with_metadata(idx.file.clone(), idx.meta.clone())
            .with_projection(mask)
            .with_row_groups(groups.clone())
            .with_batch_size(selected.clamp(1, 8192)); // no 8192-row buffers for a few rows
    if selected < total {
        builder = builder.with_row_selection(RowSelection::from(selectors));
    }
    let reader = builder.build()?;

    // Walk the selected rows in file order alongside the runs they belong to.
    let mut cursor = RunCursor::new(runs, &groups, rg);
    let mut pieces: Vec<(usize, std::ops::Range<usize>)> = Vec::new();
    for batch in reader {
        crate::coop::point();
        let batch = batch?;
        pieces.clear();
        let mut row = 0usize;
        while row < batch.num_rows() {
            let (tag, left) = cursor.current().ok_or_else(|| {
                StoreError::Corrupt(format!("{}: more rows than selected", path.display()))
            })?;
            let n = left.min(batch.num_rows() - row);
            pieces.push((tag, row..row + n));
            cursor.advance(n);
            row += n;
        }
        f(&batch, &pieces)?;
    }
    Ok(())
}

/// The value readers of `fields` (in that order) over projected columns `cols` (`Missing`
/// for a field the file lacks).
fn field_readers<'a>(
    idx: &FileIndex,
    roots: &[usize],
    fields: &[String],
    cols: &'a [ArrayRef],
) -> Vec<ColReader<'a>> {
    fields
        .iter()
        .map(|n| match idx.field_cols.get(n) {
            Some(i) => ColReader::new(cols[roots.binary_search(i).expect("projected")].as_ref()),
            None => ColReader::Missing,
        })
        .collect()
}

/// Adds the rows of `pieces` ((slot, rows of `batch`)) with `start <= time < end` to `acc`.
#[allow(clippy::too_many_arguments)]
fn take_pieces(
    path: &Path,
    idx: &FileIndex,
    roots: &[usize],
    fields: &[String],
    batch: &RecordBatch,
    pieces: &[(usize, std::ops::Range<usize>)],
    start: i64,
    end: i64,
    acc: &mut Acc,
) -> Result<(), StoreError> {
    let tpos = roots.binary_search(&idx.time_idx).expect("projected");
    let times = time_values(batch.column(tpos).as_ref(), path)?;
    let readers = field_readers(idx, roots, fields, batch.columns());
    for (slot, rows) in pieces {
        take_rows(acc, *slot, times, &readers, rows.clone(), start, end);
    }
    Ok(())
}

/// Adds the rows of entry `e` with `start <= time < end` to `acc` from `cols` (the entry's
/// whole rows of `roots`, from the slice cache).
#[allow(clippy::too_many_arguments)]
fn take_entry(
    path: &Path,
    idx: &FileIndex,
    roots: &[usize],
    fields: &[String],
    e: &SeriesEntry,
    cols: &[ArrayRef],
    start: i64,
    end: i64,
    slot: usize,
    acc: &mut Acc,
) -> Result<(), StoreError> {
    let tpos = roots.binary_search(&idx.time_idx).expect("projected");
    let times = time_values(cols[tpos].as_ref(), path)?;
    let readers = field_readers(idx, roots, fields, cols);
    let (a, b) = e.rows_for(start, end);
    take_rows(
        acc,
        slot,
        times,
        &readers,
        a - e.start..b - e.start,
        start,
        end,
    );
    Ok(())
}

/// Adds `rows` (of one series, in time order) of `times` and `readers` with
/// `start <= time < end` to the series in `slot`.
fn take_rows(
    acc: &mut Acc,
    slot: usize,
    times: &[i64],
    readers: &[ColReader],
    rows: std::ops::Range<usize>,
    start: i64,
    end: i64,
) {
    let row = rows.start;
    let run = &times[rows.clone()];
    // A series' rows in a file are in time order: the wanted ones are contiguous. Only
    // strictly ascending runs take the append path (it promises unique times); a run with
    // a repeated time goes through `push_rows`, which collapses it.
    if run.windows(2).all(|w| w[0] < w[1]) {
        let a = run.partition_point(|&t| t < start);
        let b = run.partition_point(|&t| t < end);
        if a < b {
            acc.append_run(slot, &run[a..b], |i, col| {
                readers[i].extend_into(col, row + a..row + b)
            });
        }
    } else {
        let keep: Vec<usize> = rows
            .filter(|&r| times[r] >= start && times[r] < end)
            .collect();
        let cols = readers
            .iter()
            .map(|c| {
                let mut v = Vec::with_capacity(keep.len());
                for &r in &keep {
                    c.extend_into(&mut v, r..r + 1);
                }
                v
            })
            .collect();
        acc.push_rows(slot, keep.iter().map(|&r| times[r]).collect(), cols);
    }
}

/// Walks the selected rows: which run (slot) the next row belongs to and how many rows of
/// it remain, runs clipped to the row groups read.
struct RunCursor {
    /// (slot, rows) in file order.
    pieces: Vec<(usize, usize)>,
    i: usize,
    used: usize,
}

impl RunCursor {
    fn new(runs: &[(usize, usize, usize)], groups: &[usize], rg: &[usize]) -> RunCursor {
        let mut pieces = Vec::new();
        for &g in groups {
            let (lo, hi) = (rg[g], rg[g + 1]);
            for r in runs {
                let (s, e) = (r.0.max(lo), r.1.min(hi));
                if s < e {
                    pieces.push((r.2, e - s));
                }
            }
        }
        RunCursor {
            pieces,
            i: 0,
            used: 0,
        }
    }

    fn current(&self) -> Option<(usize, usize)> {
        self.pieces
            .get(self.i)
            .map(|&(slot, n)| (slot, n - self.used))
    }

    fn advance(&mut self, n: usize) {
        self.used += n;
        if self.used >= self.pieces[self.i].1 {
            self.i += 1;
            self.used = 0;
        }
    }
}

fn same_key(
    cur: &[(String, String)],
    names: &[String],
    tags: &[Option<&StringArray>],
    row: usize,
) -> bool {
    let mut it = cur.iter();
    for (name, arr) in names.iter().zip(tags) {
        let Some(a) = arr else { continue };
        if !a.is_valid(row) || a.value(row).is_empty() {
            continue;
        }
        match it.next() {
            Some((k, v)) if k == name && v == a.value(row) => {}
            _ => return false,
        }
    }
    it.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rows time marks keep for a range hold every row of that range, for series of
    /// every length around the mark spacing and ranges across every boundary.
    #[test]
    fn time_marks_keep_every_row_in_range() {
        for n in [1usize, 128, 129, 200, 256, 257, 1000, 8_321, 100_000] {
            let times: Vec<i64> = (0..n as i64).map(|i| i * 10).collect();
            let Some(m) = TimeMarks::of(&times) else {
                assert!(n <= MARK_MIN_ROWS, "{n} rows without marks");
                continue;
            };
            assert!(m.t.len() <= MARK_MAX, "{n} rows: {} marks", m.t.len());
            let last = *times.last().unwrap();
            let probes = [
                i64::MIN,
                -5,
                0,
                5,
                1275,
                1280,
                1285,
                last / 2,
                last - 10,
                last,
                last + 1,
            ];
            for &start in &probes {
                for &end in &probes {
                    if start >= end {
                        continue;
                    }
                    let r = m.rows(n, start, end);
                    let want = times.iter().filter(|&&t| t >= start && t < end).count();
                    let kept = times[r.clone()]
                        .iter()
                        .filter(|&&t| t >= start && t < end)
                        .count();
                    assert_eq!(kept, want, "{n} rows, [{start}, {end}): kept {r:?}");
                    assert!(
                        r.len() <= want + 2 * m.r,
                        "{n} rows, [{start}, {end}): {r:?}"
                    );
                }
            }
        }
    }

    fn rows(key: &[(&str, &str)], times: &[i64]) -> SeriesRows {
        SeriesRows {
            key: key
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            times: times.to_vec(),
            cols: vec![times
                .iter()
                .map(|&t| Some(FieldValue::Integer(t)))
                .collect()],
        }
    }

    /// With more files than descriptors, the least recently read file gives its descriptor
    /// up, every file still reads the same, and a file read again gets one back.
    #[test]
    fn descriptors_go_to_the_files_read_last() {
        static SMALL: DescriptorCache = DescriptorCache::new(2);
        let dir = tempfile::tempdir().unwrap();
        let many: Vec<i64> = (0..5000).collect();
        let files: Vec<SharedFile> = (0..3)
            .map(|i| {
                let path = dir.path().join(format!("f{i}.parquet"));
                write_file(&path, &["v".to_string()], &[rows(&[("host", "a")], &many)]).unwrap();
                SharedFile::open_in(&path, &SMALL).unwrap()
            })
            .collect();
        let read_all = |file: &SharedFile| -> Vec<i64> {
            let r = ParquetRecordBatchReaderBuilder::try_new(file.clone())
                .unwrap()
                .build()
                .unwrap();
            let mut out = Vec::new();
            for b in r {
                let b = b.unwrap();
                let i = b.schema().index_of("v").unwrap();
                let a = b.column(i).as_any().downcast_ref::<Int64Array>().unwrap();
                out.extend(a.values().iter().copied());
            }
            out
        };
        let holds = |f: &SharedFile| lock(&f.slot.fd).is_some();
        // f0 was opened first and read least recently: f2's open took its descriptor
        assert_eq!(SMALL.held(), 2);
        assert!(!holds(&files[0]) && holds(&files[1]) && holds(&files[2]));
        for f in &files {
            assert_eq!(read_all(f), many);
        }
        // each read took the descriptor of the file read least recently: f1 and f2, read
        // last, hold one
        assert_eq!(SMALL.held(), 2);
        assert!(!holds(&files[0]) && holds(&files[1]) && holds(&files[2]));
        // reading f0 again takes f1's (read before f2)
        assert_eq!(read_all(&files[0]), many);
        assert!(holds(&files[0]) && !holds(&files[1]) && holds(&files[2]));
        // a dropped file frees its place without an eviction
        drop(files);
        assert_eq!(SMALL.held(), 0);
    }

    /// Files written before the `ferry.series` metadata get the same index from their tag
    /// columns, and a single-series read selects only that series' rows.
    #[test]
    fn series_index_stored_and_rebuilt_agree() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.parquet");
        let many: Vec<i64> = (0..5000).collect();
        let series = vec![
            rows(&[], &[5, 6]),
            rows(&[("host", "a")], &many),
            rows(&[("host", "a"), ("region", "r")], &[1, 9]),
            rows(&[("host", "b")], &[3]),
        ];
        write_file(&path, &["v".to_string()], &series).unwrap();
        let idx = FileIndex::load(&path).unwrap();
        let file = File::open(&path).unwrap();
        let tags: Vec<usize> = idx
            .meta
            .schema()
            .fields()
            .iter()
            .enumerate()
            .filter(|(_, f)| kind_of(f) == "tag")
            .map(|(i, _)| i)
            .collect();
        let rebuilt = build_series_index(file, &idx.meta, &path, idx.time_idx, &tags).unwrap();
        let summary = |v: &[SeriesEntry]| {
            v.iter()
                .map(|e| (e.key.clone(), e.start, e.end, e.min_t, e.max_t))
                .collect::<Vec<_>>()
        };
        assert_eq!(summary(&idx.series), summary(&rebuilt));
        assert_eq!(idx.series.len(), 4);
        assert_eq!((idx.series[1].start, idx.series[1].end), (2, 5002));

        let read = |host: &str, start: i64, end: i64| {
            let mut acc = Acc::new(1);
            let pred = TagPredicate::Eq("host".into(), host.into());
            let fields = ["v".to_string()];
            read_file(
                &path,
                &idx,
                start,
                end,
                Some(&pred),
                &fields,
                &mut acc,
                false,
            )
            .unwrap();
            acc.finish()
        };
        let out = read("b", 0, 10);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].times, vec![3]);
        let out = read("a", 4000, 4100);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].times, (4000..4100).collect::<Vec<i64>>());
        assert_eq!(out[0].cols[0][0], Some(FieldValue::Integer(4000)));
    }

    /// A file whose series repeats a time (no writer of ours makes one, an old or foreign
    /// file might) reads as one row per time, the later value winning, also after rows of
    /// an earlier source.
    #[test]
    fn repeated_times_in_a_file_collapse() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.parquet");
        let mut s = rows(&[("host", "a")], &[5, 5, 6]);
        s.cols[0][1] = Some(FieldValue::Integer(50));
        write_file(&path, &["v".to_string()], &[s]).unwrap();
        let idx = FileIndex::load(&path).unwrap();
        let mut acc = Acc::new(1);
        let slot = acc.slot(&[("host".to_string(), "a".to_string())]);
        acc.push_rows(slot, vec![1], vec![vec![Some(FieldValue::Integer(1))]]);
        read_file(
            &path,
            &idx,
            0,
            10,
            None,
            &["v".to_string()],
            &mut acc,
            false,
        )
        .unwrap();
        let out = acc.finish();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].times, vec![1, 5, 6]);
        assert_eq!(out[0].cols[0][1], Some(FieldValue::Integer(50)));
    }

    /// A cached read decodes a series once: a repeat is answered from memory (here, after
    /// the file's pages were overwritten, which the uncached read then trips over), ranges
    /// inside the cached entry are cut exactly, and dropping the index frees its entries.
    #[test]
    fn cached_reads_come_from_memory_and_go_with_their_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.parquet");
        let many: Vec<i64> = (0..5000).collect();
        write_file(
            &path,
            &["v".to_string()],
            &[
                rows(&[("host", "a")], &many),
                rows(&[("host", "b")], &[3, 4]),
            ],
        )
        .unwrap();
        let idx = FileIndex::load(&path).unwrap();
        let read = |start: i64, end: i64, cached: bool| {
            let mut acc = Acc::new(1);
            let pred = TagPredicate::Eq("host".into(), "a".into());
            read_file(
                &path,
                &idx,
                start,
                end,
                Some(&pred),
                &["v".to_string()],
                &mut acc,
                cached,
            )
            .map(|()| acc.finish())
        };
        let direct = read(1000, 1100, false).unwrap();
        assert_eq!(read(1000, 1100, true).unwrap()[0].times, direct[0].times);
        assert!(SLICES.holds(idx.cache_id, 0), "entry of host a cached");
        assert!(!SLICES.holds(idx.cache_id, 1), "host b was not read");

        // Overwrite every column chunk's pages: only memory can still answer.
        let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        for rg in idx.meta.metadata().row_groups() {
            for c in rg.columns() {
                let (at, n) = c.byte_range();
                std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(at)).unwrap();
                std::io::Write::write_all(&mut f, &vec![0xA5u8; n as usize]).unwrap();
            }
        }
        drop(f);
        let direct_after = read(1000, 1100, false);
        assert!(
            direct_after
                .as_ref()
                .map_or(true, |o| o[0].times != direct[0].times
                    || o[0].cols != direct[0].cols),
            "the overwrite did not reach the pages"
        );
        for (start, end) in [(1000, 1100), (0, 1), (4999, 9999), (-5, 3), (2500, 2501)] {
            let got = read(start, end, true).unwrap();
            let want: Vec<i64> = (start.max(0)..end.min(5000)).collect();
            assert_eq!(got[0].times, want, "[{start}, {end})");
            let values: Vec<Option<FieldValue>> =
                want.iter().map(|&t| Some(FieldValue::Integer(t))).collect();
            assert_eq!(got[0].cols[0], values, "[{start}, {end})");
        }
        let id = idx.cache_id;
        drop(idx);
        assert!(
            !SLICES.holds(id, 0),
            "a dropped index leaves no entries behind"
        );
    }
}
