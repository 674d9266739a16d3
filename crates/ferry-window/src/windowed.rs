//! Windowed streaming aggregates, shared by the query languages: the windows a range is cut
//! into ([`Grid`]: evenly spaced, aligned to a zone, or only those holding points) and the
//! running state of `count`, `sum`, `mean`, `min`, `max`, `first`, `last` and `spread`
//! ([`Stream`]), fed one point at a time in any series order and answered per window.
//!
//! InfluxQL's `GROUP BY time` uses them (`ferry_influxql::exec`), and so do Flux's
//! `aggregateWindow` and `window |> agg`, so that both languages answer with the same arithmetic.
//! Window arithmetic is done in i128 where a range may span more than i64 holds.

use std::cmp::Ordering;

use ferry_lp::FieldValue;

use crate::tz::{window_start, window_starts, Location};

/// How a statement (or a Flux `window`) cuts time: the `GROUP BY time(every, offset)`
/// dimensions, the `tz()` zone, and whether empty windows are answered at all.
#[derive(Debug, Clone, Default)]
pub struct GridSpec {
    /// `(every, offset)` in ns; `None`: one window for the whole range.
    pub every_offset: Option<(i64, i64)>,
    /// Windows are aligned to this zone's local midnight (InfluxQL's `tz()`).
    pub location: Option<Location>,
    /// Empty windows are left out of the answer (`fill(none)`): state is kept only for the
    /// windows holding points when there are many (see [`SPARSE_FROM_WINDOWS`]).
    pub skip_empty: bool,
    /// Windows one grid may have; 0 for no limit (`max-select-buckets`).
    pub max_windows: usize,
}

/// The windows of a group: one without `GROUP BY time`, else evenly spaced
/// from the window of the range's start to the window of its end, or with `tz()` the
/// starts 1.6's fill iterator steps through.
pub struct Grid {
    /// `GROUP BY time(interval, offset)`.
    pub dims: Option<(i64, i64)>,
    /// The first window's start.
    /// The earliest point.
    pub first: i64,
    /// How many windows it has.
    /// Points added.
    pub n: usize,
    /// With `tz()`: the zone and every window's start.
    pub zoned: Option<(Location, Vec<i64>)>,
    /// With `fill(none)` over many windows: only the windows holding data, by start
    /// (sorted); `n` counts them. See [`SPARSE_FROM_WINDOWS`].
    pub sparse: Option<Vec<i64>>,
}

/// From how many evenly spaced windows a `fill(none)` grid keeps state for the windows
/// holding data only. `fill(none)` answers nothing for an empty window, so state for
/// every window of a long range (`time > now() - 816000h GROUP BY time(10m)`: 4.9M windows
/// per group and aggregate, ~150 B each) is waste; below this a dense grid is cheaper than
/// finding the windows with data (a pass over the group's times and a sort).
pub const SPARSE_FROM_WINDOWS: usize = 1 << 16;

/// A range cut into more windows than [`GridSpec::max_windows`] allows (1.6's text, which
/// InfluxQL answers; Flux prefixes its function's name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooManyWindows {
    /// How many windows the range needs.
    pub windows: usize,
    /// The limit.
    pub max: usize,
}

impl std::fmt::Display for TooManyWindows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "max-select-buckets limit exceeded: ({}/{})",
            self.windows, self.max
        )
    }
}

impl std::error::Error for TooManyWindows {}

/// The statement's error text.
impl From<TooManyWindows> for String {
    fn from(e: TooManyWindows) -> String {
        e.to_string()
    }
}

impl Grid {
    /// `None` when an open range has no data to start from; `times` lists the group's
    /// point times (only read with `tz()`).
    pub fn new(
        s: &GridSpec,
        lo: i64,
        hi: i64,
        data_min: Option<i64>,
        times: &dyn Fn() -> Vec<i64>,
    ) -> Result<Option<Grid>, TooManyWindows> {
        let Some((iv, off)) = s.every_offset else {
            return Ok(Some(Grid {
                dims: None,
                first: if lo == i64::MIN { 0 } else { lo },
                n: 1,
                zoned: None,
                sparse: None,
            }));
        };
        let start = match (lo, data_min) {
            (i64::MIN, None) => return Ok(None),
            (i64::MIN, Some(t)) => t,
            (lo, _) => lo,
        };
        // in i128: a range from the earliest time to the latest spans more than i64 has
        let count = |from: i64, to: i64| {
            usize::try_from(((i128::from(to) - i128::from(from)) / i128::from(iv)).max(0))
                .unwrap_or(usize::MAX)
        };
        let max = s.max_windows;
        let check = |n: usize| {
            if max > 0 && n > max {
                return Err(TooManyWindows { windows: n, max });
            }
            Ok(n)
        };
        let mut g = Grid {
            dims: s.every_offset,
            first: window_start(start, iv, off, None),
            n: 0,
            zoned: None,
            sparse: None,
        };
        match &s.location {
            Some(loc) => {
                check(count(start, hi))?;
                let mut data: Vec<i64> = times()
                    .into_iter()
                    .map(|t| window_start(t, iv, off, Some(loc)))
                    .collect();
                data.sort_unstable();
                data.dedup();
                let starts = window_starts(start, hi, iv, off, loc, &data);
                g.first = starts.first().copied().unwrap_or(g.first);
                g.n = starts.len();
                g.zoned = Some((loc.clone(), starts));
            }
            None => {
                let last = window_start(hi, iv, off, None);
                if Grid::goes_sparse(s, start, hi) {
                    // (the pieces path has no times to place; it is not taken then)
                    let mut starts: Vec<i64> = Vec::new();
                    for t in times() {
                        let w = window_start(t, iv, off, None);
                        // a series' times ascend: most repeats are next to each other
                        if starts.last() != Some(&w) && (g.first..=last).contains(&w) {
                            starts.push(w);
                        }
                    }
                    starts.sort_unstable();
                    starts.dedup();
                    g.n = check(starts.len())?;
                    g.sparse = Some(starts);
                } else {
                    g.n = check(count(g.first, last).saturating_add(1))?;
                }
            }
        }
        Ok(Some(g))
    }

    /// Whether the grid of a range from `lo` to `hi` keeps only the windows with data
    /// (see [`Grid::sparse`]); the answer in pieces, which places no point times
    /// beforehand, is not used then.
    pub fn goes_sparse(s: &GridSpec, lo: i64, hi: i64) -> bool {
        let Some((iv, off)) = s.every_offset else {
            return false;
        };
        if !s.skip_empty || s.location.is_some() || lo == i64::MIN {
            return false;
        }
        let (first, last) = (
            window_start(lo, iv, off, None),
            window_start(hi, iv, off, None),
        );
        (i128::from(last) - i128::from(first)) / i128::from(iv) + 1 >= SPARSE_FROM_WINDOWS as i128
    }

    /// The start of the window holding `t`.
    pub fn window_of(&self, t: i64) -> i64 {
        match self.dims {
            Some((iv, off)) => window_start(t, iv, off, self.zoned.as_ref().map(|z| &z.0)),
            None => self.first,
        }
    }

    /// The index of the window holding `t`.
    pub fn index(&self, t: i64) -> Option<usize> {
        let Some((iv, _)) = self.dims else {
            return Some(0);
        };
        if let Some(starts) = self.sparse.as_ref().or(self.zoned.as_ref().map(|z| &z.1)) {
            return starts.binary_search(&self.window_of(t)).ok();
        }
        if t < self.first {
            return None;
        }
        // in 64 bits when the distance fits (a 128-bit division costs several times more,
        // and this runs for every point)
        let wi = match t.checked_sub(self.first) {
            Some(d) => (d as u64 / iv as u64) as usize,
            None => ((i128::from(t) - i128::from(self.first)) / i128::from(iv)) as usize,
        };
        (wi < self.n).then_some(wi)
    }

    /// The start time of window `wi`.
    pub fn start(&self, wi: usize) -> i64 {
        if let Some(starts) = &self.sparse {
            return starts[wi];
        }
        match (&self.zoned, self.dims) {
            (Some((_, starts)), _) => starts[wi],
            (None, Some((iv, _))) => self.first + wi as i64 * iv,
            (None, None) => self.first,
        }
    }

    /// The end (exclusive) of the window starting at `start`.
    pub fn end_of(&self, start: i64) -> i64 {
        let iv = self.dims.map_or(i64::MAX, |d| d.0);
        match &self.zoned {
            Some((_, starts)) => match starts.binary_search(&start) {
                Ok(i) if i + 1 < starts.len() => starts[i + 1],
                _ => start.saturating_add(iv),
            },
            None => start.saturating_add(iv),
        }
    }
}

/// Aggregates computed in one pass over each series, without merging the group's rows in
/// time order first: the answers equal `exec::reduce::compute`'s over the merged points
/// (ties between points of equal time go to the earlier series, as in the merged order;
/// float sums may differ in the last bits from summing in time order).
pub const STREAMING_AGGS: &[&str] = &[
    "count", "sum", "mean", "min", "max", "first", "last", "spread",
];

/// Which streaming aggregate a [`Stream`] feeds (see [`STREAMING_AGGS`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum StreamKind {
    /// `count`: points.
    Count,
    /// `sum`: of the numeric values.
    Sum,
    /// `mean`: of the numeric values.
    Mean,
    /// `min`: the smallest value's point (the earliest on ties).
    Min,
    /// `max`: the largest value's point (the earliest on ties).
    Max,
    /// `first`: the earliest point (on equal times the larger value, see [`TieValue`]).
    First,
    /// `last`: the latest point (on equal times the larger value, see [`TieValue`]).
    Last,
    /// `spread`: largest minus smallest value.
    Spread,
}

impl Default for Stream {
    fn default() -> Self {
        Stream::new()
    }
}

impl StreamKind {
    /// Whether the answer is one of the points' values (min, max, first, last).
    pub fn selects(self) -> bool {
        matches!(
            self,
            StreamKind::Min | StreamKind::Max | StreamKind::First | StreamKind::Last
        )
    }

    /// The kind of a streaming aggregate by its name (see [`STREAMING_AGGS`]).
    pub fn of(func: &str) -> StreamKind {
        match func {
            "count" => StreamKind::Count,
            "sum" => StreamKind::Sum,
            "mean" => StreamKind::Mean,
            "min" => StreamKind::Min,
            "max" => StreamKind::Max,
            "first" => StreamKind::First,
            "last" => StreamKind::Last,
            _ => StreamKind::Spread,
        }
    }
}

/// The value of the point `first` or `last` holds, as InfluxDB 1.6's reducers compare two
/// points of equal time (`FloatFirstReduce`, `IntegerLastReduce`, …): the larger number or
/// string wins, and of booleans `first` prefers false, `last` true. Only kept for those two
/// aggregates, so the others pay nothing.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum TieValue {
    /// Not tracked, or no point yet.
    #[default]
    None,
    /// A float, integer or unsigned value.
    Num(f64),
    /// A string value.
    Str(Box<str>),
    /// A boolean value.
    Bool(bool),
}

impl TieValue {
    fn of(v: &FieldValue) -> TieValue {
        match v {
            FieldValue::Float(f) => TieValue::Num(*f),
            FieldValue::Integer(i) => TieValue::Num(*i as f64),
            FieldValue::UInteger(u) => TieValue::Num(*u as f64),
            FieldValue::String(s) => TieValue::Str(s.as_str().into()),
            FieldValue::Boolean(b) => TieValue::Bool(*b),
        }
    }

    /// How a point of value `v` compares with the held point of value `self` at the same
    /// time: `Greater` when it wins, `Equal` when neither does.
    fn against(&self, v: &FieldValue, first: bool) -> Ordering {
        let num = |y: f64, x: &f64| y.partial_cmp(x).unwrap_or(Ordering::Equal);
        match (self, v) {
            (TieValue::Num(x), FieldValue::Float(y)) => num(*y, x),
            (TieValue::Num(x), FieldValue::Integer(y)) => num(*y as f64, x),
            (TieValue::Num(x), FieldValue::UInteger(y)) => num(*y as f64, x),
            (TieValue::Str(x), FieldValue::String(y)) => y.as_str().cmp(&**x),
            // first prefers false, last true
            (TieValue::Bool(x), FieldValue::Boolean(y)) if first => x.cmp(y),
            (TieValue::Bool(x), FieldValue::Boolean(y)) => y.cmp(x),
            _ => Ordering::Equal,
        }
    }
}

/// Running state of one streaming aggregate in one window. Points are identified by
/// (time, series index, row index); "earlier" compares (time, series index).
#[derive(Clone, Debug)]
pub struct Stream {
    /// Points added.
    pub n: usize,
    /// The earliest point.
    pub first: (i64, usize, usize),
    /// The latest point.
    pub last: (i64, usize, usize),
    /// The value of `first` (for the `first` aggregate only).
    pub first_v: TieValue,
    /// The value of `last` (for the `last` aggregate only).
    pub last_v: TieValue,
    /// Points with a numeric value.
    pub nums: usize,
    /// Whether every numeric value was an integer.
    pub all_int: bool,
    /// Sum of the values as floats.
    pub fsum: f64,
    /// Sum of the values as integers (wrapping, as 1.x).
    pub isum: i64,
    /// Best point for min/max and its value.
    pub best: Option<(f64, (i64, usize, usize))>,
    /// Smallest value as a float.
    pub fmin: f64,
    /// Largest value as a float.
    pub fmax: f64,
    /// Smallest integer value.
    pub imin: i64,
    /// Largest integer value.
    pub imax: i64,
}

impl Stream {
    /// No point yet.
    pub fn new() -> Stream {
        Stream {
            n: 0,
            first: (i64::MAX, usize::MAX, 0),
            last: (i64::MIN, 0, 0),
            first_v: TieValue::None,
            last_v: TieValue::None,
            nums: 0,
            all_int: true,
            fsum: 0.0,
            isum: 0,
            best: None,
            fmin: f64::MAX,
            fmax: f64::MIN,
            imin: i64::MAX,
            imax: i64::MIN,
        }
    }

    /// What [`add`](Self::add) of each of `n` rows of one series, ascending from `first`
    /// (of value `first_v`) to `last` (of value `last_v`), does for count, first and last.
    pub fn add_run(
        &mut self,
        kind: StreamKind,
        (first, first_v): ((i64, usize, usize), &FieldValue),
        (last, last_v): ((i64, usize, usize), &FieldValue),
        n: usize,
    ) {
        let was = self.n;
        self.n += n;
        self.see_first(kind, first_v, first);
        self.see_last(kind, last_v, last, was == 0);
    }

    /// Whether point `at` of value `v` becomes the window's first: the earlier time; on
    /// equal times (rows of several series) the value 1.6's `first` reducer prefers, then the
    /// earlier series.
    #[inline]
    fn see_first(&mut self, kind: StreamKind, v: &FieldValue, at: (i64, usize, usize)) {
        let takes = if at.0 != self.first.0 {
            at.0 < self.first.0
        } else if kind == StreamKind::First {
            match self.first_v.against(v, true) {
                Ordering::Equal => at.1 < self.first.1,
                o => o == Ordering::Greater,
            }
        } else {
            at.1 < self.first.1
        };
        if takes {
            self.first = at;
            if kind == StreamKind::First {
                self.first_v = TieValue::of(v);
            }
        }
    }

    /// Whether point `at` of value `v` becomes the window's last: the later time; on equal
    /// times the value 1.6's `last` reducer prefers, then the later series.
    #[inline]
    fn see_last(&mut self, kind: StreamKind, v: &FieldValue, at: (i64, usize, usize), empty: bool) {
        let takes = if empty || at.0 != self.last.0 {
            empty || at.0 > self.last.0
        } else if kind == StreamKind::Last {
            match self.last_v.against(v, false) {
                Ordering::Equal => at.1 > self.last.1,
                o => o == Ordering::Greater,
            }
        } else {
            at.1 > self.last.1
        };
        if takes {
            self.last = at;
            if kind == StreamKind::Last {
                self.last_v = TieValue::of(v);
            }
        }
    }

    /// Adds one point of value `v` at `at`.
    #[inline]
    pub fn add(&mut self, kind: StreamKind, v: &FieldValue, at: (i64, usize, usize)) {
        self.n += 1;
        self.see_first(kind, v, at);
        self.see_last(kind, v, at, self.n == 1);
        if matches!(
            kind,
            StreamKind::Count | StreamKind::First | StreamKind::Last
        ) {
            return; // the point's time and position are all these need
        }
        let (x, int) = match v {
            FieldValue::Float(f) => (*f, None),
            FieldValue::Integer(i) => (*i as f64, Some(*i)),
            // above i64::MAX an unsigned value aggregates as a float, not as a wrapped integer
            FieldValue::UInteger(u) => match i64::try_from(*u) {
                Ok(i) => (i as f64, Some(i)),
                Err(_) => (*u as f64, None),
            },
            // 1.6's boolean min/max (`BooleanMinReduce`, …): true above false
            FieldValue::Boolean(b) if matches!(kind, StreamKind::Min | StreamKind::Max) => {
                self.all_int = false;
                self.see_best(kind, f64::from(u8::from(*b)), at);
                return;
            }
            _ => {
                self.all_int = false;
                return;
            }
        };
        self.nums += 1;
        match int {
            Some(i) => {
                self.isum = self.isum.wrapping_add(i);
                self.imin = self.imin.min(i);
                self.imax = self.imax.max(i);
            }
            None => self.all_int = false,
        }
        self.fsum += x;
        self.fmin = self.fmin.min(x);
        self.fmax = self.fmax.max(x);
        if matches!(kind, StreamKind::Min | StreamKind::Max) {
            self.see_best(kind, x, at);
        }
    }

    /// Whether point `at` of value `x` becomes min's (max's) point: the smaller (larger)
    /// value, then the earlier point.
    #[inline]
    fn see_best(&mut self, kind: StreamKind, x: f64, at: (i64, usize, usize)) {
        let better = match &self.best {
            None => true,
            Some((y, b)) => {
                let strictly = if kind == StreamKind::Min {
                    x < *y
                } else {
                    x > *y
                };
                strictly || (x == *y && (at.0, at.1) < (b.0, b.1))
            }
        };
        if better {
            self.best = Some((x, at));
        }
    }
}

/// A window's answer for one streaming aggregate: a value computed from the points, or the
/// point a selector chose (whose value the caller looks up, and whose row may lend the
/// answer its other columns).
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// count, sum, mean, spread; with the time of the window's first point.
    Computed(crate::Value, (i64, usize, usize)),
    /// min, max, first, last.
    Selected((i64, usize, usize)),
}

impl Stream {
    /// The answer of aggregate `kind` over the points added; `None` when no point (with a
    /// numeric value, where it needs one) was added.
    pub fn answer(&self, kind: StreamKind) -> Option<Answer> {
        use crate::Value;
        if self.n == 0 {
            return None;
        }
        let numeric = self.nums > 0;
        let computed = |v: Value| Some(Answer::Computed(v, self.first));
        match kind {
            StreamKind::Count => computed(Value::Int(self.n as i64)),
            StreamKind::Sum if numeric && self.all_int => computed(Value::Int(self.isum)),
            StreamKind::Sum if numeric => computed(Value::Float(self.fsum)),
            StreamKind::Mean if numeric => computed(Value::Float(self.fsum / self.nums as f64)),
            StreamKind::Spread if numeric && self.all_int => {
                computed(Value::Int(self.imax - self.imin))
            }
            StreamKind::Spread if numeric => computed(Value::Float(self.fmax - self.fmin)),
            StreamKind::Min | StreamKind::Max => self.best.map(|(_, at)| Answer::Selected(at)),
            StreamKind::First => Some(Answer::Selected(self.first)),
            StreamKind::Last => Some(Answer::Selected(self.last)),
            _ => None,
        }
    }
}
