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

use ferry_window::windowed::StreamKind;

use super::aggregate_rows::{out_kind, reduce, Reduced, Rows, Windows};
use super::args::{bool_arg, duration_arg, required, string_arg, BResult};
use super::stats::{Stat, WINDOWABLE};
use super::streams::{builtin_env, map_tables, stream_arg, Env};
use crate::eval::{Builtin, Evaluator};
use crate::table::{StreamBody, Table};
use crate::value::{Record, Value};

const AGGREGATES: [&str; 8] = [
    "count", "sum", "mean", "min", "max", "first", "last", "spread",
];

pub(super) fn builtins() -> Vec<Builtin> {
    let mut out: Vec<Builtin> = AGGREGATES
        .iter()
        .map(|&name| {
            builtin_env(name, &["column"], true, move |ev, env, a| {
                let s = stream_arg(name, a)?;
                let column = string_arg(name, a, "column", "_value")?;
                let kind = StreamKind::of(name);
                if let (StreamBody::Read(spec), "_value") = (&s.body, column.as_str()) {
                    return super::aggregate_read::whole_series(ev, env, s, spec, name, kind);
                }
                map_tables(ev, env, s, &mut |_, t| {
                    whole_table(name, kind, t, &column).map(Some)
                })
            })
        })
        .collect();
    out.push(builtin_env(
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
        aggregate_window,
    ));
    out
}

/// The numeric or selected answer of one aggregate over one table.
fn whole_table(name: &str, kind: StreamKind, t: &Table, column: &str) -> BResult<Table> {
    let (rows, col_kind) = Rows::of_table(name, t, column)?;
    Ok(match reduce(name, kind, rows, col_kind)? {
        Reduced::Row(row) => {
            let keep: Vec<bool> = (0..t.len()).map(|i| i == row).collect();
            t.filter_rows(&keep)
        }
        Reduced::Value(value) => t.reduced(column, out_kind(kind, col_kind), value),
    })
}

fn aggregate_window(ev: &mut Evaluator<'_>, env: &Env, a: &Record) -> BResult<Value> {
    const F: &str = "aggregateWindow";
    let s = stream_arg(F, a)?;
    // tables made as they are consumed (another aggregateWindow's): made once, here, since
    // their shape decides how this one answers
    let made;
    let s = match &s.body {
        StreamBody::Deferred(_) => {
            made = std::sync::Arc::new(crate::table::Stream {
                body: StreamBody::Tables(super::streams::tables(ev, env, s)?),
                name: s.name.clone(),
                bounds: s.bounds(),
            });
            &made
        }
        _ => s,
    };
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
    let as_defined = |ev: &mut Evaluator<'_>| {
        by_definition(
            ev,
            env,
            s,
            f,
            (every, period, offset),
            (&column, &time_src, &time_dst),
            (create_empty, zone.clone()),
        )
    };
    let Some(name) = name.clone().filter(|n| known(n) && on_grid) else {
        return as_defined(ev);
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
    let w = Windows {
        name: &name,
        kinds: (kind, stat),
        every_offset: (every.nanos, offset.nanos.rem_euclid(every.nanos)),
        time_src: &time_src,
        time_dst: &time_dst,
        create_empty,
    };
    if let (StreamBody::Read(spec), "_value") = (&s.body, column.as_str()) {
        let pushable = match (&spec.group, spec.range) {
            (None, _) => true,
            (Some(columns), Some(range)) => super::aggregate_groups::pushable(columns, &w, range),
            (Some(_), None) => false,
        };
        if pushable {
            return super::aggregate_read::windowed_series(ev, env, s, spec, &w);
        }
    }
    // Tables as a storage read gives them (`_start`, `_stop` in the key, nothing else but
    // `_time` and the value outside it) get what InfluxDB's storage answers for them; any
    // other (regrouped, reshaped) gets Flux's definition, as in InfluxDB, where only the
    // former are pushed down: its key gains `_start`/`_stop` and a selector keeps its row.
    let reshaped = match &s.body {
        StreamBody::Tables(ts) => !ts.iter().all(|t| storage_shaped(t, &column)),
        StreamBody::Read(spec) => spec.group.is_some(),
        StreamBody::Deferred(_) => false,
    };
    if reshaped {
        return as_defined(ev);
    }
    map_tables(ev, env, s, &mut |ev, t| {
        let bound = |label: &str| match t.key_value(label) {
            Some(Value::Time(x)) => Ok(*x),
            _ => Err(format!(
                "{F}: missing time bound column {label} (add a range())"
            )),
        };
        let (start, stop) = (bound("_start")?, bound("_stop")?);
        w.charge(ev, t, (start, stop))?;
        let (rows, col_kind) = Rows::of_table(F, t, &column)?;
        if t.column("_time").is_none() {
            return Err("aggregateWindow: missing column _time".into());
        }
        w.apply(t, rows, col_kind, &column, (start, stop)).map(Some)
    })
}

/// Whether `t` is shaped as a storage read's table: `_start` and `_stop` in its key, and
/// no column outside it but `_time` and `column`.
pub(super) fn storage_shaped(t: &Table, column: &str) -> bool {
    t.in_key("_start")
        && t.in_key("_stop")
        && t.columns
            .iter()
            .all(|c| t.in_key(&c.label) || c.label == "_time" || c.label == column)
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
