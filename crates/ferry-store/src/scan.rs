//! Scan requests, tag predicates, and the merge accumulator (last write wins).

use crate::buffer::HashMap;

use ferry_lp::FieldValue;

use crate::buffer::{SeriesKey, SeriesRows};

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
}

impl TagPredicate {
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

struct SeriesAcc {
    key: SeriesKey,
    times: Vec<i64>,
    cols: Vec<Vec<Option<FieldValue>>>,
    sorted: bool,
}

/// Collects rows from sources given oldest first; `finish` merges them, later sources
/// winning field by field.
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
            sorted: true,
        });
        i
    }

    /// Appends one row; `vals` yields exactly `nfields` values.
    pub fn push_row(
        &mut self,
        slot: usize,
        t: i64,
        vals: impl Iterator<Item = Option<FieldValue>>,
    ) {
        let s = &mut self.series[slot];
        if let Some(&last) = s.times.last() {
            if t <= last {
                s.sorted = false;
            }
        }
        s.times.push(t);
        for (c, v) in s.cols.iter_mut().zip(vals) {
            c.push(v);
        }
    }

    /// Appends a run of ascending rows.
    pub fn push_rows(&mut self, slot: usize, times: Vec<i64>, cols: Vec<Vec<Option<FieldValue>>>) {
        if times.is_empty() {
            return;
        }
        let s = &mut self.series[slot];
        if let Some(&last) = s.times.last() {
            if times[0] <= last {
                s.sorted = false;
            }
        }
        if s.times.is_empty() {
            s.times = times;
            s.cols = cols;
            return;
        }
        s.times.extend(times);
        for (c, v) in s.cols.iter_mut().zip(cols) {
            c.extend(v);
        }
    }

    /// Appends everything of `later` after this accumulator's rows.
    pub fn absorb(&mut self, later: Acc) {
        for s in later.series {
            let slot = self.slot(&s.key);
            let sorted = s.sorted;
            self.push_rows(slot, s.times, s.cols);
            if !sorted {
                self.series[slot].sorted = false;
            }
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

    /// Merges rows (last wins per time and field), drops rows without any value, and
    /// returns the series sorted by key.
    pub fn finish(self) -> Vec<SeriesRows> {
        let mut out: Vec<SeriesRows> = self
            .series
            .into_iter()
            .map(|s| {
                let (times, cols) = if s.sorted {
                    (s.times, s.cols)
                } else {
                    merge_rows(s.times, s.cols)
                };
                let (times, cols) = drop_empty_rows(times, cols);
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
