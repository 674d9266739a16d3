//! Reads in two steps: the edge of a range first (its newest or oldest 64th), then the rest
//! (or all of it again) only for the series the edge did not answer. A dashboard's "last
//! value per host" (`last()`), `first()` and "first 5 per host" (`limit()`) read about a
//! 64th of their points, as InfluxQL's edge scans do.

use std::collections::{BTreeMap, HashSet};

use super::args::BResult;
use super::streams::{read_series, Env};
use crate::eval::Evaluator;
use crate::table::{Pred, ReadSpec, SeriesColumns, Table};

/// Reads the series of `spec` (over `spec.range`), keeping and charging the table `f`
/// answers for each; the first error stops the read.
pub(super) fn collect(
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

/// A read in two steps: the edge of the range, then the rest (or the whole range again).
pub(super) struct EdgeFirst {
    /// The edge: the newest (oldest) 64th of the range.
    edge: (i64, i64),
    /// What the second step reads: the rest of the range, or all of it.
    rest: (i64, i64),
    /// The fields read, in the order the store hands them over.
    fields: Vec<String>,
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
