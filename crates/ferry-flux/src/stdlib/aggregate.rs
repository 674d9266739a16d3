//! Aggregates and selectors (`count`, `sum`, `mean`, `min`, `max`, `first`, `last`, `spread`)
//! over each table, and `aggregateWindow` over time windows of each table.
//!
//! Both feed `ferry_window::windowed::Stream`, the InfluxQL engine's streaming aggregate
//! state, and cut time with its `Grid`, so Flux and InfluxQL compute the same answers.
//! Flux's rules on top of that state (FLUX.md §4 in the design notes, checked against
//! InfluxDB's tests): nulls are skipped; an aggregate keeps the group key and `_value`
//! (`mean` gives a float, `count` an int, `sum` and `spread` the input's type); a selector keeps
//! its row; `aggregateWindow` emits every window of the range unless `createEmpty: false`,
//! an empty window's value being null (0 for `count`), and stamps each with its stop
//! (`timeSrc: "_stop"`) clipped to the range.

use ferry_window::windowed::{Answer, Grid, GridSpec, Stream as AggState, StreamKind};
use ferry_window::Value as QlValue;

use super::args::{bool_arg, builtin, duration_arg, required, string_arg, BResult};
use super::series::as_f64;
use super::stats::{Stat, WINDOWABLE};
use super::streams::{map_tables, stream_arg, Env};
use crate::eval::{Builtin, Evaluator};
use crate::table::{ColKind, Column, Table};
use crate::value::{Record, Value};

const AGGREGATES: [&str; 8] = [
    "count", "sum", "mean", "min", "max", "first", "last", "spread",
];

pub(super) fn builtins(env: &Env) -> Vec<Builtin> {
    let mut out: Vec<Builtin> = AGGREGATES
        .iter()
        .map(|&name| {
            let env = env.clone();
            builtin(name, &["column"], true, move |ev, a| {
                let s = stream_arg(name, a)?;
                let column = string_arg(name, a, "column", "_value")?;
                let kind = StreamKind::of(name);
                map_tables(ev, &env, s, &mut |_, t| {
                    whole_table(name, kind, t, &column).map(Some)
                })
            })
        })
        .collect();
    out.push(builtin(
        "aggregateWindow",
        &[
            "every",
            "period",
            "offset",
            "fn",
            "location",
            "column",
            "timeSrc",
            "timeDst",
            "createEmpty",
        ],
        true,
        {
            let env = env.clone();
            move |ev, a| aggregate_window(ev, &env, a)
        },
    ));
    out
}

/// The numeric or selected answer of one aggregate over one table.
fn whole_table(name: &str, kind: StreamKind, t: &Table, column: &str) -> BResult<Table> {
    let col = t
        .column(column)
        .ok_or_else(|| format!("{name}: column {column:?} does not exist"))?;
    check_input(name, kind, col.kind)?;
    let mut state = AggState::new();
    let times = t.column("_time");
    for (row, v) in col.values.iter().enumerate() {
        if let Some(fv) = field_value(v) {
            let at = times
                .and_then(|c| match c.values[row] {
                    Value::Time(x) => Some(x),
                    _ => None,
                })
                .unwrap_or(row as i64);
            // time order within a table is row order; the row index breaks no ties
            state.add(kind, &fv, (at, 0, row));
        }
    }
    Ok(match state.answer(kind) {
        Some(Answer::Selected((_, _, row))) => {
            let keep: Vec<bool> = (0..t.len()).map(|i| i == row).collect();
            t.filter_rows(&keep)
        }
        answer => {
            let value = match answer {
                Some(Answer::Computed(v, _)) => from_ql(v, col.kind),
                _ if kind == StreamKind::Count => Value::Int(0),
                _ => Value::Null,
            };
            t.reduced(column, out_kind(kind, col.kind), value)
        }
    })
}

/// Refuses an aggregate over values it cannot add (Flux's message).
fn check_input(name: &str, kind: StreamKind, input: ColKind) -> BResult<()> {
    let numeric = matches!(input, ColKind::Int | ColKind::UInt | ColKind::Float);
    let needs_numbers = !matches!(
        kind,
        StreamKind::Count | StreamKind::First | StreamKind::Last
    );
    if needs_numbers && !numeric {
        return Err(format!(
            "unsupported input type for {name} aggregate: {}",
            input.kind()
        )
        .into());
    }
    Ok(())
}

fn out_kind(kind: StreamKind, input: ColKind) -> ColKind {
    match kind {
        StreamKind::Count => ColKind::Int,
        StreamKind::Mean => ColKind::Float,
        _ => input,
    }
}

/// A computed answer in the input column's type (`sum` of uints stays a uint).
fn from_ql(v: QlValue, input: ColKind) -> Value {
    match (v, input) {
        (QlValue::Int(i), ColKind::UInt) => Value::UInt(i as u64),
        (QlValue::Int(i), _) => Value::Int(i),
        (QlValue::Float(f), _) => Value::Float(f),
        _ => Value::Null,
    }
}

use super::convert::field_value;

fn aggregate_window(ev: &mut Evaluator<'_>, env: &Env, a: &Record) -> BResult<Value> {
    const F: &str = "aggregateWindow";
    let s = stream_arg(F, a)?;
    let every = duration_arg(F, a, "every")?
        .ok_or_else(|| format!("{F}: missing required argument every"))?;
    let every = super::args::lenient_every(F, every, &env.leniency);
    let offset = duration_arg(F, a, "offset")?.unwrap_or_default();
    // windows longer or shorter than their spacing overlap or leave gaps: a point may fall
    // in several windows or none, which the one-window-per-point grid does not model, so
    // those run as Flux defines aggregateWindow (window(every, period) |> fn)
    let period = duration_arg(F, a, "period")?.unwrap_or(every);
    let zone = super::timezone::Zone::of(F, a, env.location.lock().as_ref())?;
    let column = string_arg(F, a, "column", "_value")?;
    let time_src = string_arg(F, a, "timeSrc", "_stop")?;
    let time_dst = string_arg(F, a, "timeDst", "_time")?;
    let create_empty = bool_arg(F, a, "createEmpty", true)?;
    if every.nanos < 0 || every.months < 0 {
        return Err("parameter \"every\" must be non-negative".into());
    }
    if every.nanos == 0 && every.months == 0 {
        return Err("duration used as an interval cannot be zero".into());
    }
    let f = required(F, a, "fn")?;
    let name = match f {
        Value::Builtin(b) => Some(b.name.clone()),
        Value::Function(_) => None,
        other => {
            return Err(super::args::wrong_type(
                F,
                "fn",
                crate::value::Kind::Function,
                other,
            ))
        }
    };
    // the windowed aggregates compute fixed windows of the functions they know; anything
    // else (a user-defined fn, `mode`, `quantile`, calendar windows) runs as Flux defines it
    let known = |n: &String| AGGREGATES.contains(&n.as_str()) || WINDOWABLE.contains(&n.as_str());
    let on_grid = every.months == 0 && offset.months == 0 && period == every && zone.is_none();
    let Some(name) = name.filter(|n| known(n) && on_grid) else {
        return by_definition(
            ev,
            env,
            s,
            f,
            (every, period, offset),
            (&column, &time_src, &time_dst),
            (create_empty, zone),
        );
    };
    let stat = Stat::by_name(&name);
    // a statistic reads numbers and answers floats, as mean does
    let kind = if stat.is_some() {
        StreamKind::Mean
    } else {
        StreamKind::of(&name)
    };
    if time_src != "_stop" && time_src != "_start" {
        return Err(format!("{F}: timeSrc must be \"_start\" or \"_stop\"").into());
    }
    // The window bounds: the table's `_start`/`_stop` key, else the stream's range (a table
    // grouped without them, `group(columns: ["_measurement", "_field"])`, still has one).
    let stream_bounds = s.bounds();
    map_tables(ev, env, s, &mut |ev, t| {
        let bound = |label: &str, i: usize| match (t.key_value(label), stream_bounds) {
            (Some(Value::Time(x)), _) => Ok(*x),
            (_, Some(b)) => Ok(if i == 0 { b.0 } else { b.1 }),
            _ => Err(format!(
                "{F}: missing time bound column {label} (add a range())"
            )),
        };
        let (start, stop) = (bound("_start", 0)?, bound("_stop", 1)?);
        let windows =
            ((i128::from(stop) - i128::from(start)) / i128::from(every.nanos)) as usize + 1;
        if create_empty {
            // every window becomes a row: charge the rows before building them
            ev.charge_bytes(windows.saturating_mul(t.key.len() + 2).saturating_mul(32))?;
        }
        windowed(
            &name,
            (kind, stat),
            t,
            &column,
            (start, stop),
            (every.nanos, offset.nanos.rem_euclid(every.nanos)),
            (&time_src, &time_dst),
            create_empty,
        )
        .map(Some)
    })
}

#[allow(clippy::too_many_arguments)]
fn windowed(
    name: &str,
    (kind, stat): (StreamKind, Option<Stat>),
    t: &Table,
    column: &str,
    (start, stop): (i64, i64),
    every_offset: (i64, i64),
    (time_src, time_dst): (&str, &str),
    create_empty: bool,
) -> BResult<Table> {
    let col = t
        .column(column)
        .ok_or_else(|| format!("aggregateWindow: column {column:?} does not exist"))?;
    check_input(name, kind, col.kind)?;
    let times: Vec<i64> = match t.column("_time") {
        Some(c) => c
            .values
            .iter()
            .map(|v| match v {
                Value::Time(x) => *x,
                _ => i64::MIN,
            })
            .collect(),
        None => return Err("aggregateWindow: missing column _time".into()),
    };
    let spec = GridSpec {
        every_offset: Some(every_offset),
        location: None,
        skip_empty: !create_empty,
        max_windows: 0,
    };
    let grid = Grid::new(&spec, start, stop - 1, times.first().copied(), &|| {
        times.clone()
    })
    .map_err(|e| format!("aggregateWindow: {e}"))?
    .ok_or("aggregateWindow: no windows")?;
    let mut states = vec![AggState::new(); if stat.is_none() { grid.n } else { 0 }];
    let mut numbers: Vec<Vec<f64>> = vec![Vec::new(); if stat.is_some() { grid.n } else { 0 }];
    for (row, v) in col.values.iter().enumerate() {
        let at = times[row];
        if !(start..stop).contains(&at) {
            continue;
        }
        let Some(wi) = grid.index(at) else { continue };
        if stat.is_some() {
            numbers[wi].extend(as_f64(v));
        } else if let Some(fv) = field_value(v) {
            states[wi].add(kind, &fv, (at, 0, row));
        }
    }
    let value_kind = out_kind(kind, col.kind);
    let rest: Vec<&Column> = t
        .columns
        .iter()
        .filter(|c| t.in_key(&c.label) && c.label != "_start" && c.label != "_stop")
        .collect();
    let mut stamps = Vec::new();
    let mut values_out = Vec::new();
    for wi in 0..grid.n {
        let w_start = grid.start(wi);
        let w_stop = grid.end_of(w_start);
        let (lo, hi) = (w_start.max(start), w_stop.min(stop));
        if lo >= hi {
            continue;
        }
        if let Some(stat) = stat {
            let values = &mut numbers[wi];
            if values.is_empty() && !create_empty {
                continue;
            }
            stamps.push(Value::Time(if time_src == "_stop" { hi } else { lo }));
            values_out.push(stat.compute(values));
            continue;
        }
        let value = match states[wi].answer(kind) {
            Some(Answer::Computed(v, _)) => from_ql(v, col.kind),
            Some(Answer::Selected((_, _, row))) => col.values[row].clone(),
            None if !create_empty => continue,
            None if kind == StreamKind::Count => Value::Int(0),
            None => Value::Null,
        };
        stamps.push(Value::Time(if time_src == "_stop" { hi } else { lo }));
        values_out.push(value);
    }
    let n = values_out.len();
    let mut columns = vec![
        crate::table::constant("_start", ColKind::Time, Value::Time(start), n),
        crate::table::constant("_stop", ColKind::Time, Value::Time(stop), n),
        Column {
            label: time_dst.to_string(),
            kind: ColKind::Time,
            values: stamps,
        },
        Column {
            label: column.to_string(),
            kind: value_kind,
            values: values_out,
        },
    ];
    for c in rest {
        let v = t.key_value(&c.label).cloned().unwrap_or(Value::Null);
        columns.push(crate::table::constant(&c.label, c.kind, v, n));
    }
    Ok(Table {
        key: t.key.clone(),
        columns,
    })
}

/// `aggregateWindow` as Flux defines it (`universe.flux`): `window(every:, offset:,
/// createEmpty:) |> fn(column:) |> duplicate(column: timeSrc, as: timeDst) |> window(every:
/// inf, timeColumn: timeDst)`. What runs a user-defined `fn` (`(column, tables=<-) => …`), a
/// builtin the windowed aggregates do not compute (`mode`, `quantile`, …), calendar
/// windows (`every: 1mo`) and windows in a location.
fn by_definition(
    ev: &mut Evaluator<'_>,
    env: &Env,
    s: &std::sync::Arc<crate::table::Stream>,
    f: &Value,
    (every, period, offset): (
        crate::value::Duration,
        crate::value::Duration,
        crate::value::Duration,
    ),
    (column, time_src, time_dst): (&str, &str, &str),
    (create_empty, zone): (bool, Option<super::timezone::Zone>),
) -> BResult<Value> {
    const F: &str = "aggregateWindow";
    use super::window::{window, Spec, INF};
    let labels = || ("_start".to_string(), "_stop".to_string());
    let spec = Spec::new(
        F,
        (every, period, offset),
        "_time".into(),
        labels(),
        create_empty,
    )?
    .in_zone(zone);
    let bounds = s.bounds();
    let input = super::streams::tables(ev, env, s)?;
    if spec.cost(&input, bounds) > ev.memory_left() as u128 {
        return Err(crate::eval::EvalErrorKind::MemoryLimit(ev.memory_limit()));
    }
    let windowed = window(&input, &spec, bounds)?;
    for t in &windowed {
        ev.charge_bytes(t.weight())?;
    }
    let mut args = Record::new();
    args.set("column", Value::string(column));
    let piped = super::streams::output(s, windowed);
    let aggregated = match ev.call(f, args, Some(piped)) {
        Ok(Value::Tables(out)) => out,
        Ok(other) => {
            return Err(format!(
                "{F}: fn must return a stream of tables, found {}",
                other.kind()
            )
            .into())
        }
        Err(e) => return Err(crate::eval::EvalErrorKind::Builtin(e.to_string())),
    };
    let tables = super::streams::tables(ev, env, &aggregated)?;
    let stamped = tables
        .iter()
        .map(|t| super::reshape::duplicated(F, t, time_src, time_dst))
        .collect::<BResult<Vec<Table>>>()?;
    let merge = Spec::new(
        F,
        (INF, INF, crate::value::Duration::default()),
        time_dst.to_string(),
        labels(),
        false,
    )?;
    let out = window(&stamped, &merge, bounds)?;
    for t in &out {
        ev.charge_bytes(t.weight())?;
    }
    Ok(super::streams::output(s, out))
}
