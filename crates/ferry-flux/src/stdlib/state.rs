//! `stateCount(fn:, column: "stateCount")` and `stateDuration(fn:, column: "stateDuration",
//! timeColumn: "_time", unit: 1s)`, Flux's state tracking (`stdlib/universe/state_tracking.go`):
//! an int column counting the consecutive rows for which `fn` holds (1 on the first), or the
//! time since the first of them in `unit`s (0 on the first); -1 on a row where it does not hold
//! (a null answer does not hold). A row on which `fn` fails is left out and leaves the state
//! as it was (Flux's documented rule). The time column must exist (for `stateCount` too, as in
//! Flux); `stateDuration` refuses a null or out-of-order time.

use std::sync::Arc;

use super::args::{duration_arg, required, string_arg};
use super::streams::{builtin_env, map_tables, stream_arg};
use crate::eval::{Builtin, Evaluator};
use crate::table::{ColKind, Column, Table};
use crate::value::{Record, Value};

pub(super) fn builtins() -> Vec<Builtin> {
    vec![
        tracker("stateCount", &["fn", "column"], false),
        tracker(
            "stateDuration",
            &["fn", "column", "timeColumn", "unit"],
            true,
        ),
    ]
}

fn tracker(name: &'static str, params: &[&str], duration: bool) -> Builtin {
    builtin_env(name, params, true, move |ev, env, a| {
        let s = stream_arg(name, a)?;
        let f = required(name, a, "fn")?.clone();
        let column = string_arg(name, a, "column", name)?;
        let time_column = string_arg(name, a, "timeColumn", "_time")?;
        let unit = match duration_arg(name, a, "unit")? {
            None => 1_000_000_000,
            Some(d) if d.months != 0 => {
                return Err(format!("{name}: unit must be a fixed duration").into())
            }
            Some(d) => d.nanos,
        };
        let param = super::transform::row_param(&f);
        map_tables(ev, env, s, &mut |ev, t| {
            let Some(times) = t.column(&time_column) else {
                return Err(format!("{name}: no column {time_column:?} exists").into());
            };
            let mut out = Vec::with_capacity(t.len());
            let mut kept = Vec::with_capacity(t.len());
            let (mut state, mut start, mut prev) = (-1i64, 0i64, i64::MIN);
            for row in 0..t.len() {
                let Some(holds) = holds(ev, &f, &param, t, row) else {
                    kept.push(false);
                    continue;
                };
                kept.push(true);
                state = if duration {
                    let time = match times.values[row] {
                        Value::Time(x) => x,
                        _ => return Err(format!("{name}: got a null timestamp").into()),
                    };
                    if time < prev {
                        return Err(format!("{name}: got an out-of-order timestamp").into());
                    }
                    prev = time;
                    match (holds, state) {
                        (false, _) => -1,
                        (true, -1) => {
                            start = time;
                            0
                        }
                        (true, _) if unit > 0 => time.saturating_sub(start) / unit,
                        (true, s) => s,
                    }
                } else if holds {
                    state.max(0) + 1
                } else {
                    -1
                };
                out.push(Value::Int(state));
            }
            let mut t = if kept.iter().all(|k| *k) {
                t.clone()
            } else {
                t.filter_rows(&kept)
            };
            t.columns.retain(|c| c.label != column);
            t.columns.push(Column {
                label: column.clone(),
                kind: ColKind::Int,
                values: out,
            });
            Ok(Some(t))
        })
    })
}

/// Whether `fn` holds on row `row` (null does not); `None` where it fails or answers other
/// than a bool.
fn holds(ev: &mut Evaluator<'_>, f: &Value, param: &str, t: &Table, row: usize) -> Option<bool> {
    let mut args = Record::new();
    args.set(
        param,
        Value::Record(Arc::new(super::transform::row_record(t, row))),
    );
    match ev.call(f, args, None) {
        Ok(Value::Bool(b)) => Some(b),
        Ok(Value::Null) => Some(false),
        _ => None,
    }
}
