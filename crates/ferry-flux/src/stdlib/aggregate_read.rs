//! Aggregates straight over a storage read: `from |> range |> filter |> mean()` (or any
//! aggregate and selector of [`super::aggregate`]) and `… |> aggregateWindow(…)` feed the
//! stored columns of each series into the windowed aggregate state without building the
//! series' table first, the way the InfluxQL engine answers the same question. Only the
//! answer's tables are built, and they are the ones the table-by-table path builds.
//!
//! A lone `last()` (`first()`) over fields the filter names reads the newest (oldest) 64th of
//! the range first, then the rest of the range only for the series that had no value there
//! ([`super::edge_read`]).

use ferry_window::windowed::StreamKind;

use super::aggregate_rows::{out_kind, reduce, Reduced, Rows, Windows};
use super::args::BResult;
use super::edge_read::{collect, edge_plan, in_two_steps, EdgeFirst};
use super::stats::Stat;
use super::streams::{output, read_series, unbounded, Env};
use crate::eval::Evaluator;
use crate::table::{
    series_skeleton, series_table, ReadSpec, SeriesColumns, Stream, StreamBody, Table,
};
use crate::value::{DeferredTables, Value};

/// `name()` (an aggregate or selector of kind `kind`) over each series of the read `spec`,
/// piped as `s`.
pub(super) fn whole_series(
    ev: &mut Evaluator<'_>,
    env: &Env,
    s: &Stream,
    spec: &ReadSpec,
    name: &str,
    kind: StreamKind,
) -> BResult<Value> {
    let range = spec.range.ok_or_else(|| unbounded(spec))?;
    if let Some(columns) = &spec.group {
        let tables = super::aggregate_groups::whole_groups(ev, env, spec, columns, name, kind)?;
        return Ok(output(s, tables));
    }
    let mut answer =
        |_: &mut Evaluator<'_>, sc: SeriesColumns<'_>, _: bool| -> BResult<Option<Table>> {
            let Some(col_kind) = sc.kind() else {
                return Ok(None);
            };
            let rows = Rows::Stored(sc.values, sc.times);
            Ok(match reduce(name, kind, rows, col_kind)? {
                Reduced::Row(row) => series_table(
                    range,
                    sc.measurement,
                    sc.tags,
                    sc.field,
                    vec![(sc.times[row], rows.value(row))],
                ),
                Reduced::Value(v) => {
                    Some(
                        series_skeleton(range, sc.measurement, sc.tags, sc.field, col_kind)
                            .reduced("_value", out_kind(kind, col_kind), v),
                    )
                }
            })
        };
    let tables = match edge_first(spec, kind) {
        Some(plan) => in_two_steps(ev, env, spec, &plan, &mut answer)?,
        None => collect(ev, env, spec, &mut |ev, sc| answer(ev, sc, true))?,
    };
    Ok(output(s, tables))
}

/// `aggregateWindow` (the windows `w`) over each series of the read `spec`, piped as `s`.
pub(super) fn windowed_series(
    ev: &mut Evaluator<'_>,
    env: &Env,
    s: &Stream,
    spec: &ReadSpec,
    w: &Windows<'_>,
) -> BResult<Value> {
    let range = spec.range.ok_or_else(|| unbounded(spec))?;
    if let Some(columns) = &spec.group {
        let tables = super::aggregate_groups::windowed_groups(ev, env, spec, columns, w)?;
        return Ok(output(s, tables));
    }
    let deferred = DeferredWindows {
        env: env.clone(),
        spec: spec.clone(),
        range,
        name: w.name.to_string(),
        kinds: w.kinds,
        every_offset: w.every_offset,
        time_src: w.time_src.to_string(),
        time_dst: w.time_dst.to_string(),
        create_empty: w.create_empty,
    };
    let _ = ev;
    Ok(Value::Tables(std::sync::Arc::new(Stream {
        body: StreamBody::Deferred(std::sync::Arc::new(deferred)),
        name: s.name.clone(),
        bounds: s.bounds(),
    })))
}

/// `aggregateWindow` over an ungrouped read, computed a series at a time each time the
/// stream is consumed: `|> to()` writes each table as it comes, and nothing holds them all.
struct DeferredWindows {
    env: Env,
    spec: ReadSpec,
    range: (i64, i64),
    name: String,
    kinds: (StreamKind, Option<Stat>),
    every_offset: (i64, i64),
    time_src: String,
    time_dst: String,
    create_empty: bool,
}

impl DeferredTables for DeferredWindows {
    fn each(
        &self,
        ev: &mut Evaluator<'_>,
        f: &mut dyn FnMut(&mut Evaluator<'_>, Table) -> BResult<()>,
    ) -> BResult<()> {
        let w = Windows {
            name: &self.name,
            kinds: self.kinds,
            every_offset: self.every_offset,
            time_src: &self.time_src,
            time_dst: &self.time_dst,
            create_empty: self.create_empty,
        };
        let range = self.range;
        read_series(ev, &self.env, &self.spec, &mut |ev, sc| {
            let Some(col_kind) = sc.kind() else {
                return Ok(());
            };
            let shape = series_skeleton(range, sc.measurement, sc.tags, sc.field, col_kind);
            w.fits(ev, &shape, range)?;
            let rows = Rows::Stored(sc.values, sc.times);
            let t = w.apply(&shape, rows, col_kind, "_value", range)?;
            f(ev, t)
        })
    }
}

/// For a lone `last` (`first`) over fields the filter names: the edge of the range and the
/// rest. A series that has a value at the edge has its answer there; which series have
/// fields is known only for named fields, so only then can the rest skip the answered ones.
fn edge_first(spec: &ReadSpec, kind: StreamKind) -> Option<EdgeFirst> {
    match kind {
        StreamKind::Last => edge_plan(spec, true, false),
        StreamKind::First => edge_plan(spec, false, false),
        _ => None,
    }
}
