//! The read side of [`BucketStore`]: time ranges, measurements and schemas, the series of
//! a measurement (from the file indexes, cached), and scans, whole, once or in pieces.

use std::collections::HashSet;
use std::sync::Arc;

use ferry_lp::FieldType;

use crate::buffer;
use crate::coop;
use crate::error::StoreError;
use crate::files::{read_order, DataFile};
use crate::pq;
use crate::scan::{Acc, ScanRequest, SeriesData, TagPredicate};
use crate::slices;
use crate::tombstone;
use crate::types::{self, SeriesKey, SeriesTags};
use crate::{BucketStore, SeriesCache};

/// The schema of one measurement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeasurementSchema {
    /// Every tag key seen, sorted.
    pub tag_keys: Vec<String>,
    /// Every field with its (fixed) type, sorted by name.
    pub fields: Vec<(String, FieldType)>,
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

impl BucketStore {
    /// The earliest and latest time stored for a measurement (files and buffer) and an upper
    /// bound of its rows (file rows plus buffered values, duplicates counted), so callers can
    /// read it in windows of bounded size. `None` when nothing is stored.
    pub fn time_range(&self, measurement: &str) -> Option<TimeRange> {
        let st = self.state.read();
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
        let mut v: Vec<String> = self.schema.read().keys().cloned().collect();
        v.sort();
        v
    }

    /// The schema of a measurement: tag keys (sorted) and fields with their types (sorted by
    /// name); `None` for an unknown measurement.
    pub fn schema(&self, measurement: &str) -> Option<MeasurementSchema> {
        self.schema
            .read()
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
            let st = self.state.read();
            let active_series = st
                .active
                .meas
                .get(measurement)
                .map_or(0, |m| m.series.len());
            if let Some(c) = self.series_cache.lock().get(measurement) {
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
            let mut keys: types::HashSet<Vec<(String, String)>> = Default::default();
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
                    keys.insert((*e.key).clone());
                }
            }
        }
        let mut out: Vec<Vec<(String, String)>> = keys.into_iter().collect();
        out.sort_unstable();
        let out = Arc::new(out);
        self.series_cache.lock().insert(
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
        let files: Vec<Arc<DataFile>> = self
            .state
            .read()
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
        // A scan small enough for the slice cache reads through it whole (a dashboard's
        // repeated aggregate), which is faster than pieces that decode their pages again.
        let reads = acc.expected_reads();
        let mut expected = acc.expected_by_key();
        if self.opts.slice_cache && uses_slice_cache(reads, self.scan_field_names(req).len()) {
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
        let schema = self.schema.read();
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
            let st = self.state.read();
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
        let cached = cache && uses_slice_cache(acc.expected_reads(), names.len());
        // what the scan is about to decode counts against a guarded query's memory
        coop::charge(acc.expected_total().saturating_mul(
            std::mem::size_of::<i64>()
                + names.len() * std::mem::size_of::<Option<ferry_lp::FieldValue>>(),
        ));
        acc.reserve_expected();
        let spec = pq::ReadSpec {
            start,
            end,
            pred,
            fields: &names,
            cached,
        };
        for f in &files {
            coop::point();
            tombstone::read_live(f, &tombs, &spec, &mut acc)?;
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

/// Whether a scan expected to read `rows` rows of `fields` fields from files (every copy of
/// a time the files hold: what filling the cache would decode and keep) goes through
/// the slice cache: only when its decoded columns would take at most an eighth of the
/// cache's budget, so that the small scans dashboards repeat are served from memory and a
/// scan of a whole range neither pays for filling the cache nor pushes those out.
fn uses_slice_cache(rows: usize, fields: usize) -> bool {
    let budget = slices::SLICES.budget();
    budget > 0 && rows.saturating_mul(8 * (fields + 1)) <= budget / 8
}
