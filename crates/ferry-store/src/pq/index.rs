//! A data file's index: its series in row order (each with its rows, time span and sparse
//! time marks), the Parquet footer with the page index, and tag postings, loaded once per
//! file so that a read goes straight to the rows it wants. Files carry the list in their
//! metadata (`ferry.series`, written by the `write` part); for older files it is rebuilt
//! from their tag columns.

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use arrow_array::{Array, Int64Array, StringArray, TimestampNanosecondArray};
use arrow_schema::{DataType, Field};
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::ProjectionMask;
use parquet::file::metadata::{
    FileMetaData, KeyValue, ParquetMetaDataBuilder, ParquetMetaDataReader,
};
use serde::{Deserialize, Serialize};

use super::fd_cache::SharedFile;
use super::{KIND, SERIES_META};
use crate::error::StoreError;
use crate::scan::TagPredicate;
use crate::slices::{self, SLICES};
use crate::types::{intern, SeriesKey};

/// One series of a file as stored in its `ferry.series` metadata, in row order.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct StoredSeries {
    /// Tag set, sorted by key.
    pub k: Vec<(String, String)>,
    /// Number of rows.
    pub n: u64,
    /// Earliest and latest time.
    pub lo: i64,
    pub hi: i64,
    /// Time marks: `t[k]` is the time of row `(k + 1) * r` of the series (absent for
    /// series of at most [`MARK_MIN_ROWS`] rows and in files written before them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub m: Option<TimeMarks>,
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
    pub(super) fn of(times: &[i64]) -> Option<TimeMarks> {
        if times.len() <= MARK_MIN_ROWS {
            return None;
        }
        let r = MARK_MIN_ROWS.max(times.len().div_ceil(MARK_MAX + 1));
        let t: Vec<i64> = times.iter().copied().step_by(r).skip(1).collect();
        (!t.is_empty()).then_some(TimeMarks { r, t })
    }

    /// The rows (relative to the series' first, of `n`) that can hold times in
    /// `[start, end)` (see [`mark_rows`]).
    #[cfg(test)]
    fn rows(&self, n: usize, start: i64, end: i64) -> std::ops::Range<usize> {
        mark_rows(self.r, &self.t, n, start, end)
    }
}

/// The rows (relative to a series' first, of `n`) that can hold times in `[start, end)`,
/// given the times `t` at its rows `every`, `2 × every`, …: rows before a mark earlier than
/// `start` are earlier than `start`, rows from a mark at or after `end` on are not earlier
/// than `end`.
fn mark_rows(every: usize, t: &[i64], n: usize, start: i64, end: i64) -> std::ops::Range<usize> {
    let from = t.partition_point(|&t| t < start) * every;
    let to = (t.partition_point(|&t| t < end) + 1) * every;
    from.min(n)..to.min(n)
}

/// Where an entry's time marks are in its file index's `marks` (`len` 0: it has none).
/// The marks of every entry of a file are one vector: a vector per entry cost 32 bytes
/// in the entry and an allocation, for what is mostly one or two marks.
#[derive(Debug, Clone, Copy, Default)]
struct MarkSpan {
    at: u32,
    len: u32,
    every: u32,
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
    /// Shared with the other files' entries of the series ([`crate::types::intern`]).
    pub key: Arc<SeriesKey>,
    pub start: usize,
    pub end: usize,
    pub min_t: i64,
    pub max_t: i64,
    marks: MarkSpan,
}

/// What a scan needs to know about a file, loaded once: the parsed footer (with the page
/// index, so row selections skip pages), column positions and the series index.
#[derive(Debug)]
pub(crate) struct FileIndex {
    /// The file's id in the slice cache (unique per loaded index).
    pub(super) cache_id: u64,
    /// The open file (data files never change once written).
    pub(super) file: SharedFile,
    pub(super) meta: ArrowReaderMetadata,
    pub(super) time_idx: usize,
    /// Field columns by name.
    pub(super) field_cols: HashMap<String, usize>,
    /// First row of every row group, plus the total row count at the end.
    pub(super) rg_starts: Vec<usize>,
    /// Series in row order.
    pub series: Vec<SeriesEntry>,
    /// The time marks of every entry, each entry's at its [`MarkSpan`].
    marks: Vec<i64>,
    /// Whether `series` is also in key order (true of every file the store writes).
    pub(super) keys_sorted: bool,
    /// Entries (ascending) by tag key and value, for `tag = 'value'` predicates: built on
    /// first use, since most files (merged away soon after their persist) never need them.
    postings: OnceLock<Postings>,
}

/// For each tag key (sorted), the numbers of the entries that have it, sorted by the tag's
/// value and, among equal values, ascending. The values are read from the entries' shared
/// keys: 4 bytes per series and tag. (Maps from key to value to entries, owning a copy of
/// every value, cost ~135 KB for a file of 1000 series, as much as the rest of its index,
/// and a dashboard filtering on one host builds them on every file it reads.)
#[derive(Debug)]
struct Postings(Vec<(String, Vec<u32>)>);

/// The value of tag `k` in `key` (sorted by tag key).
fn tag_value<'a>(key: &'a SeriesKey, k: &str) -> Option<&'a str> {
    key.binary_search_by(|(tk, _)| tk.as_str().cmp(k))
        .ok()
        .map(|i| key[i].1.as_str())
}

impl Postings {
    fn build(series: &[SeriesEntry]) -> Postings {
        let mut by_key: HashMap<&str, Vec<u32>> = HashMap::new();
        for (i, e) in series.iter().enumerate() {
            for (k, _) in e.key.iter() {
                by_key.entry(k.as_str()).or_default().push(i as u32);
            }
        }
        let mut lists: Vec<(String, Vec<u32>)> = by_key
            .into_iter()
            .map(|(k, mut list)| {
                let value = |i: u32| tag_value(&series[i as usize].key, k).unwrap_or("");
                // Stable: equal values keep their ascending entry order.
                list.sort_by(|&a, &b| value(a).cmp(value(b)));
                list.shrink_to_fit();
                (k.to_string(), list)
            })
            .collect();
        lists.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        Postings(lists)
    }

    /// The entries (ascending) whose tag `k` is `v`.
    fn get<'a>(&'a self, series: &[SeriesEntry], k: &str, v: &str) -> &'a [u32] {
        let Ok(at) = self.0.binary_search_by(|(tk, _)| tk.as_str().cmp(k)) else {
            return &[];
        };
        let list = &self.0[at].1;
        let value = |i: u32| tag_value(&series[i as usize].key, k).unwrap_or("");
        let a = list.partition_point(|&i| value(i) < v);
        let b = a + list[a..].partition_point(|&i| value(i) <= v);
        &list[a..b]
    }
}

/// `meta` without the file's series list (`ferry.series`, already parsed into the index):
/// kept, it was held twice more per open file (in the footer and in the Arrow schema's
/// metadata), ~45 KB for a file of 1000 series.
fn without_series_list(meta: &ArrowReaderMetadata) -> Result<ArrowReaderMetadata, StoreError> {
    let md = meta.metadata();
    let fm = md.file_metadata();
    let kv: Vec<KeyValue> = fm
        .key_value_metadata()
        .map(|kv| {
            kv.iter()
                .filter(|e| e.key != SERIES_META)
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let file_meta = FileMetaData::new(
        fm.version(),
        fm.num_rows(),
        fm.created_by().map(str::to_string),
        (!kv.is_empty()).then_some(kv),
        fm.schema_descr_ptr(),
        fm.column_orders().cloned(),
    );
    let stripped = ParquetMetaDataBuilder::new(file_meta)
        .set_row_groups(md.row_groups().to_vec())
        .set_offset_index(md.offset_index().cloned())
        .build();
    Ok(ArrowReaderMetadata::try_new(
        Arc::new(stripped),
        ArrowReaderOptions::new().with_page_index(true),
    )?)
}

impl FileIndex {
    /// The rows of entry `e` (in file order) that can hold times in `[start, end)`: all of
    /// them, or fewer when the file has time marks.
    pub(super) fn rows_for(&self, e: &SeriesEntry, start: i64, end: i64) -> (usize, usize) {
        let m = e.marks;
        if m.len == 0 {
            return (e.start, e.end);
        }
        let t = &self.marks[m.at as usize..m.at as usize + m.len as usize];
        let r = mark_rows(m.every as usize, t, e.end - e.start, start, end);
        (e.start + r.start, e.start + r.end)
    }

    /// Whether the file has a column for field `name`.
    pub fn has_field(&self, name: &str) -> bool {
        self.field_cols.contains_key(name)
    }

    /// Loads the footer and series index of the file at `path`.
    pub fn load(path: &Path) -> Result<FileIndex, StoreError> {
        let shared = SharedFile::open(path)?;
        // The offset index (where each page is) lets row selections skip pages; the column
        // index (every page's min and max) is read by nothing here, and was a third of an
        // open file's index.
        let footer = ParquetMetaDataReader::new()
            .with_column_indexes(false)
            .with_offset_indexes(true)
            .parse_and_finish(&shared)?;
        let meta = ArrowReaderMetadata::try_new(
            Arc::new(footer),
            ArrowReaderOptions::new().with_page_index(true),
        )?;
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
        let mut marks = Vec::new();
        let series = match stored {
            Some(json) => {
                let list: Vec<StoredSeries> = serde_json::from_str(json).map_err(|e| {
                    StoreError::Corrupt(format!("{}: bad series index: {e}", path.display()))
                })?;
                let mut out = Vec::with_capacity(list.len());
                let mut row = 0usize;
                let too_many =
                    || StoreError::Corrupt(format!("{}: too many time marks", path.display()));
                for s in list {
                    let n = s.n as usize;
                    let span = match s.m {
                        Some(m) => {
                            let span = MarkSpan {
                                at: u32::try_from(marks.len()).map_err(|_| too_many())?,
                                len: u32::try_from(m.t.len()).map_err(|_| too_many())?,
                                every: u32::try_from(m.r).map_err(|_| too_many())?,
                            };
                            marks.extend_from_slice(&m.t);
                            span
                        }
                        None => MarkSpan::default(),
                    };
                    out.push(SeriesEntry {
                        key: intern(s.k),
                        start: row,
                        end: row + n,
                        min_t: s.lo,
                        max_t: s.hi,
                        marks: span,
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
        let meta = if stored.is_some() {
            without_series_list(&meta)?
        } else {
            meta
        };
        let keys_sorted = series.windows(2).all(|w| w[0].key < w[1].key);
        Ok(FileIndex {
            cache_id: slices::new_file_id(),
            file: shared,
            meta,
            time_idx,
            field_cols,
            rg_starts,
            series,
            marks: {
                marks.shrink_to_fit();
                marks
            },
            keys_sorted,
            postings: OnceLock::new(),
        })
    }

    /// The entries that can satisfy `pred` when it requires some tag to equal a non-empty
    /// value (from the postings, built on the file's first such read; the caller still
    /// evaluates `pred`); `None` = all entries.
    pub(super) fn candidates(&self, pred: &TagPredicate) -> Option<&[u32]> {
        let (k, v) = pred.pinned()?;
        let postings = self.postings.get_or_init(|| Postings::build(&self.series));
        Some(postings.get(&self.series, k, v))
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
                    key: intern(key),
                    start: row,
                    end: row + 1,
                    min_t: t,
                    max_t: t,
                    marks: MarkSpan::default(),
                });
            }
            row += 1;
        }
    }
    Ok(out)
}

pub(super) fn time_values<'a>(col: &'a dyn Array, path: &Path) -> Result<&'a [i64], StoreError> {
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
    use crate::pq::test_rows as rows;
    use crate::pq::{test_read_host, write_file};
    use ferry_lp::FieldValue;

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
            test_read_host(&path, &idx, host, (start, end), false).unwrap()
        };
        let out = read("b", 0, 10);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].times, vec![3]);
        let out = read("a", 4000, 4100);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].times, (4000..4100).collect::<Vec<i64>>());
        assert_eq!(out[0].cols[0][0], Some(FieldValue::Integer(4000)));
    }

    /// The postings give, for every tag and value, exactly the entries that have it, in row
    /// order: values shared by many series, values of one series, a key some series lack,
    /// values that sort around each other, and values no series has.
    #[test]
    fn candidates_are_the_entries_with_the_value_in_row_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.parquet");
        let mut series = Vec::new();
        for h in 0..40 {
            let host = format!("h{:02}", (h * 7) % 40);
            let region = ["b", "a", "c"][h % 3];
            if h % 5 == 0 {
                series.push(rows(&[("host", &host)], &[h as i64]));
            } else {
                series.push(rows(&[("host", &host), ("region", region)], &[h as i64]));
            }
        }
        series.sort_by(|a, b| a.key.cmp(&b.key));
        write_file(&path, &["v".to_string()], &series).unwrap();
        let idx = FileIndex::load(&path).unwrap();
        let mut probes: Vec<(String, String)> = Vec::new();
        for h in 0..41 {
            probes.push(("host".into(), format!("h{h:02}")));
        }
        for r in ["a", "b", "c", "d", "0"] {
            probes.push(("region".into(), r.into()));
        }
        probes.push(("zone".into(), "a".into()));
        for (k, v) in probes {
            let pred = TagPredicate::Eq(k.clone(), v.clone());
            let got = idx.candidates(&pred).unwrap().to_vec();
            let want: Vec<u32> = (0..idx.series.len() as u32)
                .filter(|&i| tag_value(&idx.series[i as usize].key, &k) == Some(v.as_str()))
                .collect();
            assert_eq!(got, want, "{k} = {v}");
        }
        let pinned = TagPredicate::And(vec![
            TagPredicate::Eq("region".into(), "c".into()),
            TagPredicate::Eq("host".into(), "h07".into()),
        ]);
        let got = idx.candidates(&pinned).unwrap();
        assert!(
            got.len() > 1 && got.windows(2).all(|w| w[0] < w[1]),
            "{got:?}"
        );
    }
}
