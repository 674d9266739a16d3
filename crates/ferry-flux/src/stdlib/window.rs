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
//! rows are empty tables (so `count()` can answer 0). Calendar durations (`1mo`) and
//! `location` are not supported yet.

use std::collections::{BTreeMap, HashMap};

use super::args::{bool_arg, duration_arg, string_arg, BResult};
use super::streams::{output, stream_arg, tables, Env};
use crate::eval::Builtin;
use crate::table::{constant, ColKind, Column, Table};
use crate::value::{Duration, Value};

/// `inf`: the longest duration, what `window(every: inf)` is written with.
pub const INF: Duration = Duration {
    months: 0,
    nanos: i64::MAX,
};

pub(super) fn builtin(env: &Env) -> Builtin {
    let env = env.clone();
    super::args::builtin(
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
        move |ev, a| {
            const F: &str = "window";
            let s = stream_arg(F, a)?;
            let every = duration_arg(F, a, "every")?
                .ok_or_else(|| format!("{F}: missing required argument every"))?;
            let every = super::args::lenient_every(F, every, &env.leniency);
            let period = duration_arg(F, a, "period")?.unwrap_or(every);
            let offset = duration_arg(F, a, "offset")?.unwrap_or_default();
            if every.months != 0 || period.months != 0 || offset.months != 0 {
                return Err(
                    format!("{F}: calendar durations (mo, y) are not supported yet").into(),
                );
            }
            if a.get("location").is_some_and(|v| !v.is_null()) {
                return Err(format!("{F}: location is not supported yet (windows are UTC)").into());
            }
            if every.nanos <= 0 || period.nanos <= 0 {
                return Err("parameter \"every\" must be non-negative".into());
            }
            let spec = Spec {
                every: every.nanos,
                period: period.nanos,
                offset: offset.nanos.rem_euclid(every.nanos),
                time: string_arg(F, a, "timeColumn", "_time")?,
                start: string_arg(F, a, "startColumn", "_start")?,
                stop: string_arg(F, a, "stopColumn", "_stop")?,
                create_empty: bool_arg(F, a, "createEmpty", false)?,
                infinite: every == INF,
            };
            let bounds = s.bounds();
            let input = tables(ev, &env, s)?;
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

struct Spec {
    every: i64,
    period: i64,
    offset: i64,
    time: String,
    start: String,
    stop: String,
    create_empty: bool,
    infinite: bool,
}

/// Bytes an empty window table takes at the least (its key and column headers), and what a
/// row costs each window it joins: what [`Spec::cost`] counts before windowing.
const WINDOW_BYTES: u128 = 256;
const ROW_BYTES: u128 = 64;

impl Spec {
    /// A lower bound of the bytes windowing `input` makes: each row once per window holding it,
    /// and with `createEmpty` every window of the range.
    fn cost(&self, input: &[Table], bounds: Option<(i64, i64)>) -> u128 {
        if self.infinite {
            return 0;
        }
        let per_row =
            (u128::from(self.period.unsigned_abs()) / u128::from(self.every.unsigned_abs())).max(1);
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
                    total = total.saturating_add(
                        span / u128::from(self.every.unsigned_abs()) * WINDOW_BYTES,
                    );
                }
            }
        }
        total
    }

    /// The start of the last window starting at or before `t`.
    fn floor(&self, t: i64) -> i64 {
        let k = (i128::from(t) - i128::from(self.offset)).div_euclid(i128::from(self.every));
        (k * i128::from(self.every) + i128::from(self.offset))
            .clamp(i64::MIN as i128, i64::MAX as i128) as i64
    }

    /// The (unclipped) starts of the windows holding `t`, ascending.
    fn starts(&self, t: i64) -> Vec<i64> {
        let mut out = Vec::new();
        let mut s = self.floor(t);
        while i128::from(s) + i128::from(self.period) > i128::from(t) {
            out.push(s);
            match s.checked_sub(self.every) {
                Some(x) => s = x,
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

fn window(input: &[Table], spec: &Spec, bounds: Option<(i64, i64)>) -> BResult<Vec<Table>> {
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
        // Window (unclipped start) → rows, ascending by start.
        let mut windows: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
        if spec.create_empty && !spec.infinite {
            let mut s = spec.floor(lo);
            while s < hi {
                if i128::from(s) + i128::from(spec.period) > i128::from(lo) {
                    windows.entry(s).or_default();
                }
                match s.checked_add(spec.every) {
                    Some(x) => s = x,
                    None => break,
                }
            }
        }
        for (row, t_row) in times.iter().enumerate() {
            let Some(x) = *t_row else { continue };
            if spec.infinite {
                // One window for every time: aggregateWindow's rows stamped with their
                // window's `_stop` (the range's stop for the last one) stay.
                windows.entry(lo).or_default().push(row);
                continue;
            }
            if x < lo || x >= hi {
                continue;
            }
            {
                for s in spec.starts(x) {
                    windows.entry(s).or_default().push(row);
                }
            }
        }
        for (s, rows) in windows {
            let (ws, we) = if spec.infinite {
                (lo, hi)
            } else {
                (s.max(lo), s.saturating_add(spec.period).min(hi))
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
