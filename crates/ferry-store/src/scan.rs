//! Scan requests, tag predicates, and the merge accumulator (last write wins).

use ferry_lp::FieldValue;

use crate::types::{HashMap, SeriesKey, SeriesRows};

/// What to read from one measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanRequest {
    /// Measurement name.
    pub measurement: String,
    /// Inclusive lower time bound, in nanoseconds.
    pub start_ns: i64,
    /// Exclusive upper time bound, in nanoseconds.
    pub end_ns: i64,
    /// Only series whose tag set satisfies this predicate; `None` = all series.
    pub tag_filter: Option<TagPredicate>,
    /// Fields to return, in this order (unknown names and repeats are skipped);
    /// `None` = every field of the schema, sorted by name.
    pub fields: Option<Vec<String>>,
}

/// A predicate on a series' tag set. A missing tag compares equal to `""`, as in InfluxDB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagPredicate {
    /// The tag's value (or `""` when missing) equals the given value.
    Eq(String, String),
    /// The tag's value (or `""` when missing) differs from the given value.
    NotEq(String, String),
    /// All sub-predicates hold (true when empty).
    And(Vec<TagPredicate>),
    /// At least one sub-predicate holds (false when empty).
    Or(Vec<TagPredicate>),
    /// The values of the given tags (each `""` when missing), in that order, are one of the
    /// given tuples, which must be sorted: a set of tag-value combinations (such as a batch
    /// of GROUP BY groups) matched in logarithmic time.
    In(Vec<String>, Vec<Vec<String>>),
    /// The tag set itself, as a list of (key, value) sorted by key, lies in `[from, to)`
    /// (`None`: unbounded on that side), in the order scans return series in: a range of
    /// series, as [`BucketStore::scan_pieces`](crate::BucketStore::scan_pieces) reads them.
    KeyRange(Option<Vec<(String, String)>>, Option<Vec<(String, String)>>),
    /// The tag set (sorted by key) is none of these, which must be sorted: every series but
    /// some already read.
    NoneOf(Vec<Vec<(String, String)>>),
}

impl TagPredicate {
    /// A tag this predicate requires to equal a non-empty value (`Eq`, alone or in an `And`),
    /// so that a tag-value index can give the only series that may match.
    pub fn pinned(&self) -> Option<(&str, &str)> {
        match self {
            TagPredicate::Eq(k, v) if !v.is_empty() => Some((k, v)),
            TagPredicate::And(ps) => ps.iter().find_map(TagPredicate::pinned),
            _ => None,
        }
    }

    /// The series range this predicate requires (`KeyRange`, alone or in an `And`), so that
    /// an index sorted by series can skip to it.
    pub fn key_range(&self) -> Option<(Option<&SeriesKey>, Option<&SeriesKey>)> {
        match self {
            TagPredicate::KeyRange(a, b) => Some((a.as_ref(), b.as_ref())),
            TagPredicate::And(ps) => ps.iter().find_map(TagPredicate::key_range),
            _ => None,
        }
    }

    /// Evaluates the predicate on a tag set sorted by key.
    pub fn matches(&self, tags: &[(String, String)]) -> bool {
        fn get<'a>(tags: &'a [(String, String)], k: &str) -> &'a str {
            match tags.binary_search_by(|(tk, _)| tk.as_str().cmp(k)) {
                Ok(i) => tags[i].1.as_str(),
                Err(_) => "",
            }
        }
        match self {
            TagPredicate::Eq(k, v) => get(tags, k) == v,
            TagPredicate::NotEq(k, v) => get(tags, k) != v,
            TagPredicate::And(ps) => ps.iter().all(|p| p.matches(tags)),
            TagPredicate::Or(ps) => ps.iter().any(|p| p.matches(tags)),
            TagPredicate::In(keys, tuples) => tuples
                .binary_search_by(|t| {
                    t.iter()
                        .map(String::as_str)
                        .cmp(keys.iter().map(|k| get(tags, k)))
                })
                .is_ok(),
            TagPredicate::KeyRange(from, to) => {
                from.as_ref().is_none_or(|a| tags >= a.as_slice())
                    && to.as_ref().is_none_or(|b| tags < b.as_slice())
            }
            TagPredicate::NoneOf(sets) => {
                sets.binary_search_by(|s| s.as_slice().cmp(tags)).is_err()
            }
        }
    }
}

/// The points of one series returned by a scan.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesData {
    /// The series' tags, sorted by key.
    pub tags: Vec<(String, String)>,
    /// Timestamps in nanoseconds: ascending and unique.
    pub times: Vec<i64>,
    /// One column per returned field, each as long as `times`; `None` where the point at
    /// that time has no value for the field.
    pub fields: Vec<(String, Vec<Option<FieldValue>>)>,
}

/// One series' rows so far: times strictly ascending, one column per field.
struct SeriesAcc {
    key: SeriesKey,
    times: Vec<i64>,
    cols: Vec<Vec<Option<FieldValue>>>,
    /// Rows expected (see [`Acc::expect_rows`]).
    expected: Expected,
}

/// The rows a series' sources are about to add, estimated from each source's rows and time
/// range (see [`Acc::expect_rows`]).
#[derive(Debug, Clone, Copy)]
struct Expected {
    /// Rows of every source together.
    sum: usize,
    /// First and last time the sources cover (inclusive).
    lo: i64,
    hi: i64,
    /// The densest source's rows per nanosecond.
    density: f64,
}

impl Expected {
    const NONE: Expected = Expected {
        sum: 0,
        lo: i64::MAX,
        hi: i64::MIN,
        density: 0.0,
    };

    /// The sum of the sources' rows, or fewer when they overlap: sources holding the same
    /// times (files of the same points written again) cannot add more rows than the times
    /// they cover together at the densest source's spacing.
    fn rows(&self) -> usize {
        if self.sum == 0 {
            return 0;
        }
        let span = (self.hi as f64 - self.lo as f64).max(0.0) + 1.0;
        let covered = (span * self.density).ceil();
        if covered < self.sum as f64 {
            covered as usize
        } else {
            self.sum
        }
    }
}

/// Collects rows from sources given oldest first, merging as they come: every series stays
/// in ascending unique time order, a later source winning field by field on equal times.
/// Runs that do not overlap what is already there (the common case: files written one
/// after the other) are appended; an overlapping run only re-merges the overlapped tail.
pub(crate) struct Acc {
    nfields: usize,
    index: HashMap<SeriesKey, usize>,
    series: Vec<SeriesAcc>,
}

impl Acc {
    pub fn new(nfields: usize) -> Acc {
        Acc {
            nfields,
            index: HashMap::default(),
            series: Vec::new(),
        }
    }

    /// The slot of a series, created on first use.
    pub fn slot(&mut self, key: &[(String, String)]) -> usize {
        if let Some(&i) = self.index.get(key) {
            return i;
        }
        let i = self.series.len();
        self.index.insert(key.to_vec(), i);
        self.series.push(SeriesAcc {
            key: key.to_vec(),
            times: Vec::new(),
            cols: (0..self.nfields).map(|_| Vec::new()).collect(),
            expected: Expected::NONE,
        });
        i
    }

    /// Notes that about `n` more rows of the series in `slot` will come, at times from `lo`
    /// to `hi` (inclusive); see [`reserve_expected`](Self::reserve_expected). Sources that
    /// overlap in time count once (see [`Expected::rows`]).
    pub fn expect_rows(&mut self, slot: usize, n: usize, lo: i64, hi: i64) {
        if n == 0 {
            return;
        }
        let e = &mut self.series[slot].expected;
        e.sum = e.sum.saturating_add(n);
        e.lo = e.lo.min(lo);
        e.hi = e.hi.max(hi);
        let span = (hi as f64 - lo as f64).max(0.0) + 1.0;
        e.density = e.density.max(n as f64 / span);
    }

    /// Every series with the rows noted for it (see [`expect_rows`](Self::expect_rows)).
    pub fn expected_by_key(&self) -> Vec<(&SeriesKey, usize)> {
        self.series
            .iter()
            .map(|s| (&s.key, s.expected.rows()))
            .collect()
    }

    /// The rows noted by [`expect_rows`](Self::expect_rows) since the last reservation.
    pub fn expected_total(&self) -> usize {
        self.series.iter().map(|s| s.expected.rows()).sum()
    }

    /// The rows the sources noted since the last reservation hold, each copy of a time
    /// counted: what reading them decodes.
    pub fn expected_reads(&self) -> usize {
        self.series.iter().map(|s| s.expected.sum).sum()
    }

    /// Allocates every series' expected rows at once, so appending never reallocates.
    pub fn reserve_expected(&mut self) {
        for s in &mut self.series {
            let more = s.expected.rows().saturating_sub(s.times.len());
            s.times.reserve(more);
            for c in &mut s.cols {
                c.reserve(more);
            }
            s.expected = Expected::NONE;
        }
    }

    /// Adds a run of ascending unique rows like [`push_rows`](Self::push_rows), `fill(i,
    /// column)` appending the run's values of field `i` (exactly `times.len()` of them);
    /// a run after every row already there goes straight into the series' columns.
    pub fn append_run(
        &mut self,
        slot: usize,
        times: &[i64],
        mut fill: impl FnMut(usize, &mut Vec<Option<FieldValue>>),
    ) {
        let s = &mut self.series[slot];
        if s.times
            .last()
            .is_none_or(|&last| times.first().is_some_and(|&t| t > last))
        {
            s.times.extend_from_slice(times);
            for (i, c) in s.cols.iter_mut().enumerate() {
                fill(i, c);
            }
            return;
        }
        let cols = (0..self.nfields)
            .map(|i| {
                let mut v = Vec::with_capacity(times.len());
                fill(i, &mut v);
                v
            })
            .collect();
        self.push_rows(slot, times.to_vec(), cols);
    }

    /// Adds a run of rows of one source (`cols` holds `nfields` columns as long as
    /// `times`), later than every source added before: on equal times its values win.
    pub fn push_rows(&mut self, slot: usize, times: Vec<i64>, cols: Vec<Vec<Option<FieldValue>>>) {
        if times.is_empty() {
            return;
        }
        let (times, cols) = if times.windows(2).all(|w| w[0] < w[1]) {
            (times, cols)
        } else {
            merge_rows(times, cols)
        };
        let s = &mut self.series[slot];
        if s.times.is_empty() {
            s.times = times;
            s.cols = cols;
            return;
        }
        let last = *s.times.last().expect("non-empty");
        if times[0] > last {
            s.times.extend(times);
            for (c, v) in s.cols.iter_mut().zip(cols) {
                c.extend(v);
            }
            return;
        }
        // Overlap: merge the new run with the tail of the rows it reaches into.
        let p = s.times.partition_point(|&t| t < times[0]);
        let old_t = s.times.split_off(p);
        let old_c: Vec<Vec<Option<FieldValue>>> =
            s.cols.iter_mut().map(|c| c.split_off(p)).collect();
        merge_two(s, old_t, old_c, times, cols);
    }

    /// Appends everything of `later` after this accumulator's rows (its values win).
    pub fn absorb(&mut self, later: Acc) {
        for s in later.series {
            let slot = self.slot(&s.key);
            self.push_rows(slot, s.times, s.cols);
        }
    }

    /// Removes the rows whose time lies in one of the inclusive ranges `dead(series key)`
    /// returns.
    pub fn remove_where(&mut self, dead: impl Fn(&[(String, String)]) -> Vec<(i64, i64)>) {
        for s in &mut self.series {
            let ranges = dead(&s.key);
            if ranges.is_empty() {
                continue;
            }
            let keep: Vec<bool> = s
                .times
                .iter()
                .map(|t| !ranges.iter().any(|r| r.0 <= *t && *t <= r.1))
                .collect();
            let mut k = keep.iter();
            s.times.retain(|_| *k.next().expect("one flag per row"));
            for c in &mut s.cols {
                let mut k = keep.iter();
                c.retain(|_| *k.next().expect("one flag per row"));
            }
        }
    }

    /// Drops rows without any value and returns the series sorted by key.
    pub fn finish(self) -> Vec<SeriesRows> {
        let mut out: Vec<SeriesRows> = self
            .series
            .into_iter()
            .map(|s| {
                let (times, cols) = drop_empty_rows(s.times, s.cols);
                SeriesRows {
                    key: s.key,
                    times,
                    cols,
                }
            })
            .filter(|s| !s.times.is_empty())
            .collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        out
    }
}

/// Appends to `s` the merge of two ascending unique runs, `b` winning field by field on
/// equal times.
fn merge_two(
    s: &mut SeriesAcc,
    a_t: Vec<i64>,
    a_c: Vec<Vec<Option<FieldValue>>>,
    b_t: Vec<i64>,
    b_c: Vec<Vec<Option<FieldValue>>>,
) {
    let mut a_c: Vec<std::vec::IntoIter<Option<FieldValue>>> =
        a_c.into_iter().map(Vec::into_iter).collect();
    let mut b_c: Vec<std::vec::IntoIter<Option<FieldValue>>> =
        b_c.into_iter().map(Vec::into_iter).collect();
    let (mut i, mut j) = (0, 0);
    s.times.reserve(a_t.len() + b_t.len());
    while i < a_t.len() || j < b_t.len() {
        let take_a = j == b_t.len() || (i < a_t.len() && a_t[i] < b_t[j]);
        let take_b = i == a_t.len() || (j < b_t.len() && b_t[j] < a_t[i]);
        if take_a {
            s.times.push(a_t[i]);
            for (c, it) in s.cols.iter_mut().zip(a_c.iter_mut()) {
                c.push(it.next().expect("column as long as times"));
            }
            i += 1;
        } else if take_b {
            s.times.push(b_t[j]);
            for (c, it) in s.cols.iter_mut().zip(b_c.iter_mut()) {
                c.push(it.next().expect("column as long as times"));
            }
            j += 1;
        } else {
            s.times.push(b_t[j]);
            for ((c, ia), ib) in s.cols.iter_mut().zip(a_c.iter_mut()).zip(b_c.iter_mut()) {
                let old = ia.next().expect("column as long as times");
                let new = ib.next().expect("column as long as times");
                c.push(new.or(old));
            }
            i += 1;
            j += 1;
        }
    }
}

/// Sorts one source's rows by time (stable), the later of equal times winning field by
/// field.
fn merge_rows(
    times: Vec<i64>,
    mut cols: Vec<Vec<Option<FieldValue>>>,
) -> (Vec<i64>, Vec<Vec<Option<FieldValue>>>) {
    let mut order: Vec<usize> = (0..times.len()).collect();
    order.sort_by_key(|&i| times[i]); // stable: arrival order among equal times
    let mut out_t: Vec<i64> = Vec::with_capacity(times.len());
    let mut out_c: Vec<Vec<Option<FieldValue>>> = cols
        .iter()
        .map(|_| Vec::with_capacity(times.len()))
        .collect();
    for i in order {
        let t = times[i];
        if out_t.last() == Some(&t) {
            for (oc, c) in out_c.iter_mut().zip(cols.iter_mut()) {
                if let Some(v) = c[i].take() {
                    *oc.last_mut().expect("row exists") = Some(v);
                }
            }
        } else {
            out_t.push(t);
            for (oc, c) in out_c.iter_mut().zip(cols.iter_mut()) {
                oc.push(c[i].take());
            }
        }
    }
    (out_t, out_c)
}

fn drop_empty_rows(
    times: Vec<i64>,
    cols: Vec<Vec<Option<FieldValue>>>,
) -> (Vec<i64>, Vec<Vec<Option<FieldValue>>>) {
    let n = times.len();
    let keep: Vec<bool> = (0..n)
        .map(|i| cols.iter().any(|c| c[i].is_some()))
        .collect();
    if keep.iter().all(|&k| k) {
        return (times, cols);
    }
    let times = times
        .into_iter()
        .zip(&keep)
        .filter(|(_, &k)| k)
        .map(|(t, _)| t)
        .collect();
    let cols = cols
        .into_iter()
        .map(|c| {
            c.into_iter()
                .zip(&keep)
                .filter(|(_, &k)| k)
                .map(|(v, _)| v)
                .collect()
        })
        .collect();
    (times, cols)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(v: i64) -> Option<FieldValue> {
        Some(FieldValue::Integer(v))
    }

    /// Runs added oldest first merge into ascending unique rows: an overlapping run re-merges
    /// only the tail it reaches into, a later value wins field by field, a null never
    /// overwrites, and an unsorted run is sorted (its own later duplicate winning).
    #[test]
    fn runs_merge_last_write_wins_per_field() {
        let mut acc = Acc::new(2);
        let k = acc.slot(&[("host".to_string(), "a".to_string())]);
        acc.push_rows(
            k,
            vec![1, 3, 5, 7],
            vec![vec![f(1), f(3), f(5), f(7)], vec![None; 4]],
        );
        // overlaps 5 and 7, fills in between and after
        acc.push_rows(
            k,
            vec![5, 6, 7, 9],
            vec![
                vec![None, f(60), f(70), f(90)],
                vec![f(-5), None, f(-7), None],
            ],
        );
        // entirely before the first row
        acc.append_run(k, &[0], |i, c| c.push(if i == 0 { f(0) } else { None }));
        // after the last row: appended straight into the columns
        acc.append_run(k, &[10], |i, c| c.push(f(100 + i as i64)));
        // unsorted, with a duplicate time: the later (second) 2 wins
        acc.push_rows(
            k,
            vec![4, 2, 2],
            vec![vec![f(4), f(20), f(21)], vec![None, None, None]],
        );
        let out = acc.finish();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].times, vec![0, 1, 2, 3, 4, 5, 6, 7, 9, 10]);
        assert_eq!(
            out[0].cols[0],
            vec![
                f(0),
                f(1),
                f(21),
                f(3),
                f(4),
                f(5),
                f(60),
                f(70),
                f(90),
                f(100)
            ]
        );
        assert_eq!(
            out[0].cols[1],
            vec![
                None,
                None,
                None,
                None,
                None,
                f(-5),
                None,
                f(-7),
                None,
                f(101)
            ]
        );
    }

    /// Reserving the expected rows keeps the rows appended afterwards intact.
    #[test]
    fn expected_rows_are_reserved_once() {
        let mut acc = Acc::new(1);
        let k = acc.slot(&[]);
        acc.expect_rows(k, 1000, 0, 999);
        acc.reserve_expected();
        let cap = acc.series[k].times.capacity();
        assert!(cap >= 1000);
        for t in 0..1000 {
            acc.append_run(k, &[t], |_, c| c.push(f(t)));
        }
        assert_eq!(acc.series[k].times.capacity(), cap);
        let out = acc.finish();
        assert_eq!(out[0].times.len(), 1000);
        assert_eq!(out[0].cols[0][999], f(999));
    }

    /// Sources holding the same times (the same points written again, in many files)
    /// count once; sources one after the other add up; a sparse source beside a dense one
    /// never lowers the estimate below what the dense one covers.
    #[test]
    fn overlapping_sources_are_expected_once() {
        let mut acc = Acc::new(1);
        let k = acc.slot(&[]);
        // 20 files of the same 360 rows, 10 s apart
        for _ in 0..20 {
            acc.expect_rows(k, 360, 0, 3590);
        }
        assert_eq!(acc.expected_total(), 360);
        assert_eq!(acc.expected_reads(), 20 * 360);
        acc.reserve_expected();
        assert_eq!(acc.expected_total(), 0);
        // three files one after the other
        for i in 0..3 {
            acc.expect_rows(k, 100, i * 1000, i * 1000 + 990);
        }
        assert_eq!(acc.expected_total(), 300);
        acc.reserve_expected();
        // files far apart: their sum, not the hull
        acc.expect_rows(k, 10, 0, 90);
        acc.expect_rows(k, 10, 1_000_000, 1_000_090);
        assert_eq!(acc.expected_total(), 20);
        acc.reserve_expected();
        // one row, then a dense run around it
        acc.expect_rows(k, 1, 50, 50);
        acc.expect_rows(k, 100, 0, 99);
        assert_eq!(acc.expected_total(), 100);
    }
}
