//! `window(every:, period: every, offset: 0s, timeColumn: "_time", startColumn: "_start",
//! stopColumn: "_stop", createEmpty: false)`: every row goes to the windows that hold its
//! time, each a table whose group key gains the window's bounds.
//!
//! Windows start at `offset + k * every` (epoch-aligned) and last `period`, so with a period
//! longer than `every` a row is in several windows. Their bounds are clipped to the stream's
//! range (Flux's execution bounds: [`Stream::bounds`](crate::table::Stream::bounds)), and
//! `every: inf` is one window spanning that range: it undoes an earlier `window()`, rows of
//! one series that were in several windows meet again in one table. Tables with the same key
//! after windowing are one table, as Flux builds them. With `createEmpty`, windows without
//! rows are empty tables (so `count()` can answer 0). Calendar durations (`1mo`, `1y`) give
//! windows of whole months in UTC, counted from 1970-01 (so `1y` windows are calendar years
//! and `3mo` ones quarters), shifted by `offset`, as Flux aligns them; a window ending past
//! the last representable time ends there, but one starting before the first (1677-09-21)
//! is not made (its rows are left out). With a `location` (the argument, else the `location`
//! option) windows are aligned on that zone's wall-clock time, as Flux's windows in a location
//! are: a window starts at the instant its local start names, and ends where its local start
//! plus `period` does (a day across a DST change lasts 23 or 25 hours).

use std::collections::{BTreeMap, HashMap};

use super::args::{bool_arg, duration_arg, string_arg, BResult};
use super::streams::{output, stream_arg, tables};
use crate::eval::Builtin;
use crate::table::{constant, ColKind, Column, Table};
use crate::value::{Duration, Value};

/// `inf`: the longest duration, what `window(every: inf)` is written with.
pub const INF: Duration = Duration {
    months: 0,
    nanos: i64::MAX,
};

pub(super) fn builtin() -> Builtin {
    super::streams::builtin_env(
        "window",
        &[
            "every",
            "period",
            "offset",
            "location",
            "timeColumn",
            "startColumn",
            "stopColumn",
            "createEmpty",
        ],
        true,
        move |ev, env, a| {
            const F: &str = "window";
            let s = stream_arg(F, a)?;
            let every = duration_arg(F, a, "every")?
                .ok_or_else(|| format!("{F}: missing required argument every"))?;
            let every = super::args::lenient_every(F, every, &env.leniency);
            let period = duration_arg(F, a, "period")?.unwrap_or(every);
            let offset = duration_arg(F, a, "offset")?.unwrap_or_default();
            let zone = super::timezone::Zone::of(F, a, env.location.lock().as_ref())?;
            let spec = Spec::new(
                F,
                (every, period, offset),
                string_arg(F, a, "timeColumn", "_time")?,
                (
                    string_arg(F, a, "startColumn", "_start")?,
                    string_arg(F, a, "stopColumn", "_stop")?,
                ),
                bool_arg(F, a, "createEmpty", false)?,
            )?
            .in_zone(zone);
            let bounds = s.bounds();
            let input = tables(ev, env, s)?;
            // A tiny `every` over a long range (or a long `period`) asks for more windows than
            // the query may hold: refuse before making them, not after.
            if spec.cost(&input, bounds) > ev.memory_left() as u128 {
                return Err(crate::eval::EvalErrorKind::MemoryLimit(ev.memory_limit()));
            }
            let out = window(&input, &spec, bounds)?;
            for t in &out {
                ev.charge_bytes(t.weight())?;
            }
            Ok(output(s, out))
        },
    )
}

pub(super) struct Spec {
    every: Duration,
    period: Duration,
    offset: Duration,
    time: String,
    start: String,
    stop: String,
    create_empty: bool,
    infinite: bool,
    zone: Option<super::timezone::Zone>,
}

/// Bytes an empty window table takes at the least (its key and column headers), and what a
/// row costs each window it joins: what [`Spec::cost`] counts before windowing.
const WINDOW_BYTES: u128 = 256;
const ROW_BYTES: u128 = 64;

/// The shortest month, what a calendar window is counted as when estimating the cost.
const MONTH_NANOS: u128 = 28 * 86_400_000_000_000;

/// The months from 1970-01 to the month of `t`.
fn month_index(t: i64) -> i64 {
    let (y, m, _) = crate::datetime::civil_from_days(t.div_euclid(86_400_000_000_000));
    (y - 1970) * 12 + i64::from(m) - 1
}

impl Spec {
    /// Checks the durations as Flux does: `every` and `period` positive, each either fixed or
    /// calendar (months and years) but not both; windows of months start at month boundaries
    /// (UTC) counted from 1970-01, then shifted by `offset`.
    pub(super) fn new(
        f: &str,
        (every, period, offset): (Duration, Duration, Duration),
        time: String,
        (start, stop): (String, String),
        create_empty: bool,
    ) -> BResult<Spec> {
        for d in [every, period] {
            if d.months < 0 || d.nanos < 0 {
                return Err("parameter \"every\" must be non-negative".into());
            }
            if d.months == 0 && d.nanos == 0 {
                return Err("duration used as an interval cannot be zero".into());
            }
            if d.months != 0 && d.nanos != 0 {
                // Flux's message
                return Err(
                    "duration used as an interval cannot mix month and nanosecond units".into(),
                );
            }
        }
        if offset.months != 0 && (offset.nanos != 0 || every.months == 0) {
            return Err(format!(
                "{f}: an offset of months ({offset}) cannot mix month and nanosecond units"
            )
            .into());
        }
        let offset = if every.months == 0 && offset.months == 0 {
            Duration::from_nanos(offset.nanos.rem_euclid(every.nanos))
        } else if every.months != 0 && offset.nanos == 0 {
            Duration {
                months: offset.months.rem_euclid(every.months),
                nanos: 0,
            }
        } else {
            offset
        };
        Ok(Spec {
            every,
            period,
            offset,
            time,
            start,
            stop,
            create_empty,
            infinite: every == INF,
            zone: None,
        })
    }

    /// The same windows aligned on `zone`'s wall-clock time (`None`: UTC).
    pub(super) fn in_zone(mut self, zone: Option<super::timezone::Zone>) -> Spec {
        self.zone = zone;
        self
    }

    /// The calendar length of `d` at the least, in ns (for cost estimates).
    fn shortest(d: Duration) -> u128 {
        (d.months.unsigned_abs() as u128 * MONTH_NANOS + d.nanos.unsigned_abs() as u128).max(1)
    }

    /// A lower bound of the bytes windowing `input` makes: each row once per window holding it,
    /// and with `createEmpty` every window of the range.
    pub(super) fn cost(&self, input: &[Table], bounds: Option<(i64, i64)>) -> u128 {
        if self.infinite {
            return 0;
        }
        let per_row = (Spec::shortest(self.period) / Spec::shortest(self.every)).max(1);
        let mut total: u128 = 0;
        for t in input {
            total = total.saturating_add(per_row * t.len() as u128 * ROW_BYTES);
            if self.create_empty {
                let range =
                    bounds.or_else(
                        || match (t.key_value(&self.start), t.key_value(&self.stop)) {
                            (Some(Value::Time(a)), Some(Value::Time(b))) => Some((*a, *b)),
                            _ => None,
                        },
                    );
                if let Some((lo, hi)) = range {
                    let span = (i128::from(hi) - i128::from(lo)).max(0) as u128;
                    total = total.saturating_add(span / Spec::shortest(self.every) * WINDOW_BYTES);
                }
            }
        }
        total
    }

    /// The start of window `k` (window 0 starts at the epoch plus the offset); `None` past
    /// the representable times.
    pub(super) fn start_of(&self, k: i64) -> Option<i64> {
        let local = self.local_start_of(k)?;
        Some(self.zone.as_ref().map_or(local, |z| z.to_utc(local)))
    }

    /// The wall-clock start of window `k` (in UTC, the start).
    fn local_start_of(&self, k: i64) -> Option<i64> {
        if self.every.months == 0 {
            let s = i128::from(k) * i128::from(self.every.nanos) + i128::from(self.offset.nanos);
            return i64::try_from(s).ok();
        }
        let months = Duration {
            months: k.checked_mul(self.every.months)?,
            nanos: 0,
        };
        super::args::add_duration(super::args::add_duration(0, months)?, self.offset)
    }

    /// The (unclipped) end of window `k`: the last representable time for a window that
    /// starts but ends past it (`every: 1000y`).
    pub(super) fn stop_of(&self, k: i64) -> Option<i64> {
        let start = self.local_start_of(k)?;
        let stop = super::args::add_duration(start, self.period).unwrap_or(i64::MAX);
        Some(match &self.zone {
            Some(z) if stop != i64::MAX => z.to_utc(stop),
            _ => stop,
        })
    }

    /// The last window starting at or before `t`.
    pub(super) fn floor(&self, t: i64) -> i64 {
        let Some(zone) = &self.zone else {
            return self.floor_local(t);
        };
        // the window of the wall-clock time, then a step or two where an offset change moved
        // the instant across a boundary
        let mut k = self.floor_local(zone.to_local(t));
        while self.start_of(k).is_some_and(|s| s > t) {
            k -= 1;
        }
        while self.start_of(k + 1).is_some_and(|s| s <= t) {
            k += 1;
        }
        k
    }

    /// The last window whose wall-clock start is at or before the wall-clock time `t`.
    fn floor_local(&self, t: i64) -> i64 {
        if self.every.months == 0 {
            let k = (i128::from(t) - i128::from(self.offset.nanos))
                .div_euclid(i128::from(self.every.nanos));
            return k.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
        }
        // the month of t, less the offset, in windows; then at most a step or two each way
        let shifted = t.saturating_sub(self.offset.nanos);
        let mut k = (month_index(shifted) - self.offset.months).div_euclid(self.every.months);
        while self.local_start_of(k).is_some_and(|s| s > t) {
            k -= 1;
        }
        while self.local_start_of(k + 1).is_some_and(|s| s <= t) {
            k += 1;
        }
        k
    }

    /// The windows holding `t`, ascending.
    fn windows_of(&self, t: i64) -> Vec<i64> {
        let mut out = Vec::new();
        let mut k = self.floor(t);
        while self.stop_of(k).is_some_and(|e| e > t) {
            out.push(k);
            match k.checked_sub(1) {
                Some(x) => k = x,
                None => break,
            }
        }
        out.reverse();
        out
    }
}

/// A window table under construction.
struct Builder {
    key: Vec<(String, Value)>,
    columns: Vec<Column>,
    rows: usize,
}

pub(super) fn window(
    input: &[Table],
    spec: &Spec,
    bounds: Option<(i64, i64)>,
) -> BResult<Vec<Table>> {
    let mut builders: Vec<Builder> = Vec::new();
    let mut by_key: HashMap<String, usize> = HashMap::new();
    for t in input {
        let ti = t
            .index_of(&spec.time)
            .ok_or_else(|| format!("window: missing time column {:?}", spec.time))?;
        let times: Vec<Option<i64>> = t.columns[ti]
            .values
            .iter()
            .map(|v| match v {
                Value::Time(x) => Some(*x),
                _ => None,
            })
            .collect();
        // The range: the stream's, else the table's bounds, else its times.
        let table_bound = |label: &str| match t.key_value(label) {
            Some(Value::Time(x)) => Some(*x),
            _ => None,
        };
        let (lo, hi) = match bounds {
            Some(b) => b,
            None => match (table_bound(&spec.start), table_bound(&spec.stop)) {
                (Some(a), Some(b)) => (a, b),
                _ => {
                    let present = times.iter().flatten();
                    match (present.clone().min(), present.max()) {
                        (Some(a), Some(b)) => (*a, b.saturating_add(1)),
                        _ => continue,
                    }
                }
            },
        };
        // Window index → rows, ascending.
        let mut windows: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
        if spec.create_empty && !spec.infinite {
            let mut k = spec.floor(lo);
            while let (Some(s), Some(e)) = (spec.start_of(k), spec.stop_of(k)) {
                if s >= hi {
                    break;
                }
                if e > lo {
                    windows.entry(k).or_default();
                }
                k += 1;
            }
        }
        for (row, t_row) in times.iter().enumerate() {
            let Some(x) = *t_row else { continue };
            if spec.infinite {
                // One window for every time: aggregateWindow's rows stamped with their
                // window's `_stop` (the range's stop for the last one) stay.
                windows.entry(0).or_default().push(row);
                continue;
            }
            if x < lo || x >= hi {
                continue;
            }
            for k in spec.windows_of(x) {
                windows.entry(k).or_default().push(row);
            }
        }
        for (k, rows) in windows {
            let (ws, we) = if spec.infinite {
                (lo, hi)
            } else {
                match (spec.start_of(k), spec.stop_of(k)) {
                    (Some(s), Some(e)) => (s.max(lo), e.min(hi)),
                    _ => continue,
                }
            };
            if ws >= we {
                continue;
            }
            add_window(&mut builders, &mut by_key, t, spec, (ws, we), &rows);
        }
    }
    Ok(builders
        .into_iter()
        .map(|b| Table {
            key: b.key,
            columns: b.columns,
        })
        .collect())
}

/// Appends `rows` of `t` to the table of its key with the window bounds `(ws, we)`.
fn add_window(
    builders: &mut Vec<Builder>,
    by_key: &mut HashMap<String, usize>,
    t: &Table,
    spec: &Spec,
    (ws, we): (i64, i64),
    rows: &[usize],
) {
    let mut key: Vec<(String, Value)> = t
        .key
        .iter()
        .filter(|(k, _)| *k != spec.start && *k != spec.stop)
        .cloned()
        .collect();
    key.insert(0, (spec.stop.clone(), Value::Time(we)));
    key.insert(0, (spec.start.clone(), Value::Time(ws)));
    let fingerprint = format!("{key:?}");
    let bi = *by_key.entry(fingerprint).or_insert_with(|| {
        builders.push(Builder {
            key: key.clone(),
            columns: Vec::new(),
            rows: 0,
        });
        builders.len() - 1
    });
    let b = &mut builders[bi];
    let mut labels: Vec<&str> = vec![spec.start.as_str(), spec.stop.as_str()];
    labels.extend(
        t.columns
            .iter()
            .map(|c| c.label.as_str())
            .filter(|l| *l != spec.start && *l != spec.stop),
    );
    for label in labels {
        let ci = match b.columns.iter().position(|c| c.label == label) {
            Some(i) => i,
            None => {
                let kind = if label == spec.start || label == spec.stop {
                    ColKind::Time
                } else {
                    t.column(label).map_or(ColKind::String, |c| c.kind)
                };
                b.columns.push(constant(label, kind, Value::Null, b.rows));
                b.columns.len() - 1
            }
        };
        let col = &mut b.columns[ci];
        if label == spec.start {
            col.values.extend(rows.iter().map(|_| Value::Time(ws)));
        } else if label == spec.stop {
            col.values.extend(rows.iter().map(|_| Value::Time(we)));
        } else {
            let src = t.column(label).expect("label from this table");
            col.values
                .extend(rows.iter().map(|&r| src.values[r].clone()));
        }
    }
    b.rows += rows.len();
    for c in &mut b.columns {
        c.values.resize(b.rows, Value::Null);
    }
}
