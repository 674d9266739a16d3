//! Aggregates straight over a storage read: `from |> range |> filter |> mean()` (or any
//! aggregate and selector of [`super::aggregate`]) and `… |> aggregateWindow(…)` feed the
//! stored columns of each series into the windowed aggregate state without building the
//! series' table first, the way the InfluxQL engine answers the same question. Only the
//! answer's tables are built, and they are the ones the table-by-table path builds.
//!
//! A lone `last()` (`first()`) over fields the filter names reads the newest (oldest) 64th of
//! the range first, then the rest of the range only for the series that had no value there:
//! a dashboard's "last value per host" reads a 64th of its points, as InfluxQL's does.
//! `limit()` reads the oldest 64th first the same way ([`in_two_steps`]), then the whole
//! range again for the series that had too few values there.

use std::collections::{BTreeMap, HashSet};

use ferry_window::windowed::StreamKind;

use super::aggregate_rows::{out_kind, reduce, Reduced, Rows, Windows};
use super::args::BResult;
use super::stats::Stat;
use super::streams::{output, read_series, unbounded, Env};
use crate::eval::Evaluator;
use crate::table::{
    series_skeleton, series_table, Pred, ReadSpec, SeriesColumns, Stream, StreamBody, Table,
};
use crate::value::{DeferredTables, Value};

/// Reads the series of `spec` (over `spec.range`), keeping and charging the table `f`
/// answers for each; the first error stops the read.
fn collect(
    ev: &mut Evaluator<'_>,
    env: &Env,
    spec: &ReadSpec,
    f: &mut dyn FnMut(&mut Evaluator<'_>, SeriesColumns<'_>) -> BResult<Option<Table>>,
) -> BResult<Vec<Table>> {
    let mut out = Vec::new();
    read_series(ev, env, spec, &mut |ev, series| {
        if let Some(t) = f(ev, series)? {
            ev.charge_bytes(t.weight())?;
            out.push(t);
        }
        Ok(())
    })?;
    Ok(out)
}

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

/// A read in two steps: the edge of the range, then the rest (or the whole range again).
pub(super) struct EdgeFirst {
    /// The edge: the newest (oldest) 64th of the range.
    edge: (i64, i64),
    /// What the second step reads: the rest of the range, or all of it.
    rest: (i64, i64),
    /// The fields read, in the order the store hands them over.
    fields: Vec<String>,
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

/// The newest (`last`) or oldest 64th of the range of `spec` first, then the rest of it
/// (`whole_again`: all of it), for the fields its filter names (`None` when it names none).
pub(super) fn edge_plan(spec: &ReadSpec, last: bool, whole_again: bool) -> Option<EdgeFirst> {
    let (start, stop) = spec.range?;
    let mut fields = Pred::And(spec.preds.clone()).fields()?;
    let mut seen = HashSet::new();
    fields.retain(|f| seen.insert(f.clone()));
    let edge = (stop.checked_sub(start)? / 64).max(1);
    let (edge, rest) = if last {
        ((stop - edge, stop), (start, stop - edge))
    } else {
        ((start, start + edge), (start + edge, stop))
    };
    let rest = if whole_again { (start, stop) } else { rest };
    Some(EdgeFirst { edge, rest, fields })
}

/// A series and field: measurement, tag set, field.
type SeriesField = (String, Vec<(String, String)>, String);

/// What answers a series and field in a read of two steps: its table, or `None` when this
/// step cannot (the flag: this is the second step, over what the plan reads last).
pub(super) type StepAnswer<'a> =
    dyn FnMut(&mut Evaluator<'_>, SeriesColumns<'_>, bool) -> BResult<Option<Table>> + 'a;

/// Answers `answer` for each series and field of `spec`, reading the edge of the range first
/// and then the rest only where the edge did not answer; the tables come out in the order
/// one read over the whole range gives them.
pub(super) fn in_two_steps(
    ev: &mut Evaluator<'_>,
    env: &Env,
    spec: &ReadSpec,
    plan: &EdgeFirst,
    answer: &mut StepAnswer<'_>,
) -> BResult<Vec<Table>> {
    let mut keyed: Vec<(SeriesField, Table)> = Vec::new();
    let mut step = |ev: &mut Evaluator<'_>,
                    range: (i64, i64),
                    skip_series: Vec<(String, Vec<(String, String)>)>,
                    done: &HashSet<SeriesField>,
                    second: bool|
     -> BResult<Vec<SeriesField>> {
        let mut keys = Vec::new();
        let part = ReadSpec {
            range: Some(range),
            skip_series,
            ..spec.clone()
        };
        let tables = collect(ev, env, &part, &mut |ev, sc| {
            let key = (
                sc.measurement.to_string(),
                sc.tags.to_vec(),
                sc.field.to_string(),
            );
            if done.contains(&key) {
                return Ok(None);
            }
            let t = answer(ev, sc, second)?;
            if t.is_some() {
                keys.push(key);
            }
            Ok(t)
        })?;
        keyed.extend(keys.iter().cloned().zip(tables));
        Ok(keys)
    };
    let at_edge = step(ev, plan.edge, Vec::new(), &HashSet::new(), false)?;
    // the series with every field answered at the edge are not read again
    let mut answered: BTreeMap<(String, Vec<(String, String)>), usize> = BTreeMap::new();
    for (m, tags, _) in &at_edge {
        *answered.entry((m.clone(), tags.clone())).or_default() += 1;
    }
    let skip: Vec<(String, Vec<(String, String)>)> = answered
        .into_iter()
        .filter(|(_, n)| *n >= plan.fields.len())
        .map(|(k, _)| k)
        .collect();
    if plan.rest.0 < plan.rest.1 {
        let done: HashSet<SeriesField> = at_edge.into_iter().collect();
        step(ev, plan.rest, skip, &done, true)?;
    }
    let rank = |f: &str| plan.fields.iter().position(|x| x == f);
    keyed.sort_by(|(a, _), (b, _)| (&a.0, &a.1, rank(&a.2)).cmp(&(&b.0, &b.1, rank(&b.2))));
    Ok(keyed.into_iter().map(|(_, t)| t).collect())
}
