//! Reading data files: the rows of the wanted series and times of a file into a scan's
//! accumulator, through the series index (only the row groups and pages holding them are
//! read, the tag columns not at all) and, for small repeated reads, the slice cache. What a
//! read asks for is a [`ReadSpec`].

use std::path::Path;

use arrow_array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray, UInt64Array,
};
use ferry_lp::FieldValue;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReaderBuilder, RowSelection, RowSelector};
use parquet::arrow::ProjectionMask;

use super::index::{time_values, FileIndex, SeriesEntry};
use crate::error::StoreError;
use crate::scan::{Acc, TagPredicate};
use crate::slices::{self, SLICES};
use crate::types::SeriesKey;

/// What a read of one file asks for: the rows with `start <= time < end` of the series that
/// satisfy `pred` (every series with `None`), projecting `fields` (in that order), and with
/// `cached`, through the slice cache (see [`read_file`]). A scan reads each of its files
/// with the same one (see `tombstone::read_live`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReadSpec<'a> {
    pub start: i64,
    pub end: i64,
    pub pred: Option<&'a TagPredicate>,
    pub fields: &'a [String],
    pub cached: bool,
}

impl ReadSpec<'_> {
    /// Every row of the series read, uncached (a merge's read).
    fn all_rows(fields: &[String]) -> ReadSpec<'_> {
        ReadSpec {
            start: i64::MIN,
            end: i64::MAX,
            pred: None,
            fields,
            cached: false,
        }
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
                        a = idx.series.partition_point(|e| &*e.key < from);
                    }
                    if let Some(to) = to {
                        b = idx.series.partition_point(|e| &*e.key < to).max(a);
                    }
                }
            }
            (a..b).for_each(visit)
        }
    }
}

/// Tells `acc` how many rows a [`read_file`] of a [`ReadSpec`] with the same time range and
/// predicate will add to each series, estimated from the series' row counts and time bounds
/// in the file.
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
        acc.expect_rows(slot, n.min(rows), e.min_t.max(start), e.max_t.min(end - 1));
    });
}

/// Reads the rows of one file that `spec` asks for into `acc`. Only the row groups and
/// pages holding the wanted series are read, and the tag columns not at all. With `cached`,
/// series entries of up to [`slices::MAX_ENTRY_ROWS`] rows come from the slice cache, and
/// those not there yet are read whole and kept in it (for small scans that repeat); the
/// rows added to `acc` are the same either way.
pub(crate) fn read_file(
    path: &Path,
    idx: &FileIndex,
    spec: &ReadSpec,
    acc: &mut Acc,
) -> Result<(), StoreError> {
    let ReadSpec {
        start,
        end,
        pred,
        cached,
        ..
    } = *spec;
    // One file lists a series once only when its keys are sorted (every file the store
    // writes); only then can entries be read in any order.
    let cached = cached && idx.keys_sorted && SLICES.budget() > 0;
    let p = Projected::new(path, idx, spec);
    // The wanted series read from the file, as (first row, last row + 1, accumulator slot),
    // and those that go through the cache, as (entry, slot).
    let mut runs: Vec<(usize, usize, usize)> = Vec::new();
    let mut via_cache: Vec<(usize, usize)> = Vec::new();
    for_wanted(idx, start, end, pred, |i, e| {
        let (a, b) = idx.rows_for(e, start, end);
        if a >= b {
            return;
        }
        if cached && e.end - e.start <= slices::MAX_ENTRY_ROWS {
            via_cache.push((i, acc.slot(&e.key)));
        } else {
            runs.push((a, b, acc.slot(&e.key)))
        }
    });
    read_runs(path, idx, &runs, &p.roots, |batch, pieces| {
        p.take_pieces(batch, pieces, acc)
    })?;
    if via_cache.is_empty() {
        return Ok(());
    }
    // Cached entries first, then the misses read whole (in one pass over the file).
    let mut misses: Vec<(usize, usize, usize)> = Vec::new();
    for &(i, slot) in &via_cache {
        match SLICES.get(idx.cache_id, i as u32, &p.roots) {
            Some(cols) => p.take_entry(&idx.series[i], &cols, slot, acc)?,
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
    let mut pieces: Vec<Vec<Vec<ArrayRef>>> = vec![vec![Vec::new(); p.roots.len()]; misses.len()];
    read_runs(path, idx, &whole, &p.roots, |batch, runs| {
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
        p.take_entry(e, &cols, slot, acc)?;
        SLICES.put(
            idx.cache_id,
            i as u32,
            p.roots.iter().copied().zip(cols).collect(),
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
    let in_range = |e: &&SeriesEntry| e.start < e.end && &*e.key >= lo && &*e.key <= hi;
    // Files written by the store list their series in key order: the range is one slice.
    let entries: &[SeriesEntry] = if idx.keys_sorted {
        let a = idx.series.partition_point(|e| &*e.key < lo);
        let b = idx.series.partition_point(|e| &*e.key <= hi);
        &idx.series[a..b]
    } else {
        &idx.series
    };
    let runs: Vec<(usize, usize, usize)> = entries
        .iter()
        .filter(in_range)
        .map(|e| (e.start, e.end, acc.slot(&e.key)))
        .collect();
    let p = Projected::new(path, idx, &ReadSpec::all_rows(fields));
    read_runs(path, idx, &runs, &p.roots, |batch, pieces| {
        p.take_pieces(batch, pieces, acc)
    })
}

/// One file as a read projects it: the file, its index, the Parquet root columns read
/// (time and the fields the file has, ascending: a projected batch's column `c` is root
/// `roots[c]`) and what the read asks for.
struct Projected<'a> {
    path: &'a Path,
    idx: &'a FileIndex,
    roots: Vec<usize>,
    spec: ReadSpec<'a>,
}

impl<'a> Projected<'a> {
    fn new(path: &'a Path, idx: &'a FileIndex, spec: &ReadSpec<'a>) -> Projected<'a> {
        let mut roots: Vec<usize> = vec![idx.time_idx];
        roots.extend(
            spec.fields
                .iter()
                .filter_map(|n| idx.field_cols.get(n).copied()),
        );
        roots.sort_unstable();
        roots.dedup();
        Projected {
            path,
            idx,
            roots,
            spec: *spec,
        }
    }

    /// The value readers of the fields asked for (in that order) over projected columns
    /// `cols` (`Missing` for a field the file lacks).
    fn field_readers<'c>(&self, cols: &'c [ArrayRef]) -> Vec<ColReader<'c>> {
        self.spec
            .fields
            .iter()
            .map(|n| match self.idx.field_cols.get(n) {
                Some(i) => {
                    ColReader::new(cols[self.roots.binary_search(i).expect("projected")].as_ref())
                }
                None => ColReader::Missing,
            })
            .collect()
    }

    /// The time column among projected columns `cols`.
    fn times<'c>(&self, cols: &'c [ArrayRef]) -> Result<&'c [i64], StoreError> {
        let tpos = self
            .roots
            .binary_search(&self.idx.time_idx)
            .expect("projected");
        time_values(cols[tpos].as_ref(), self.path)
    }

    /// Adds the rows of `pieces` ((slot, rows of `batch`)) in the time range to `acc`.
    fn take_pieces(
        &self,
        batch: &RecordBatch,
        pieces: &[(usize, std::ops::Range<usize>)],
        acc: &mut Acc,
    ) -> Result<(), StoreError> {
        let times = self.times(batch.columns())?;
        let readers = self.field_readers(batch.columns());
        for (slot, rows) in pieces {
            take_rows(
                acc,
                *slot,
                times,
                &readers,
                rows.clone(),
                self.spec.start,
                self.spec.end,
            );
        }
        Ok(())
    }

    /// Adds the rows of entry `e` in the time range to `acc` from `cols` (the entry's whole
    /// rows of the projected columns, from the slice cache).
    fn take_entry(
        &self,
        e: &SeriesEntry,
        cols: &[ArrayRef],
        slot: usize,
        acc: &mut Acc,
    ) -> Result<(), StoreError> {
        let times = self.times(cols)?;
        let readers = self.field_readers(cols);
        let (start, end) = (self.spec.start, self.spec.end);
        let (a, b) = self.idx.rows_for(e, start, end);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pq::test_rows as rows;
    use crate::pq::{test_read_host, write_file};

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
            &ReadSpec {
                start: 0,
                end: 10,
                pred: None,
                fields: &["v".to_string()],
                cached: false,
            },
            &mut acc,
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
            test_read_host(&path, &idx, "a", (start, end), cached)
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
