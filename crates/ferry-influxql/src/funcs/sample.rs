//! `sample(*, N)` and `sample()` beside aggregates or another sample: each call answered on
//! its own (by [`super::selectors`], which it is handed as a [`Multi`]) and the rows
//! merged as 1.6's cursor merges them.

use std::collections::HashMap;

use crate::ast::*;
use crate::exec::context::{finish_series, Res};
use crate::result::{Series, Value};
use crate::wildcards;

use super::shared::*;

/// `sample(*, N)` (the only call): each field sampled on its own, the rows joined on time.
pub(super) fn sample_star(s: &Select, plain: &dyn Plain, multi: Multi) -> Res<Option<Vec<Series>>> {
    let [Field {
        expr: Expr::Call(name, _),
        ..
    }] = s.fields.as_slice()
    else {
        return Ok(None);
    };
    if name != "sample" {
        return Ok(None);
    }
    let Some(expanded) = wildcards::expand(s, || plain.fields(s))? else {
        return Ok(None);
    };
    let mut joined = Joined::new(expanded.fields.len());
    let mut bases = Vec::new();
    for (fi, f) in expanded.fields.iter().enumerate() {
        bases.push((f.alias.clone(), String::new()));
        let mut one = expanded.clone();
        one.slimit = 0;
        one.soffset = 0;
        for (key, pts) in one_call(&one, f, plain, multi)? {
            joined.add(key, fi, pts);
        }
    }
    // ORDER BY time DESC: the windows backwards, each window's rows ascending, as
    // `sample(f)` answers (1.6 answers each field's rows one field after the other there)
    let mut asc = s.clone();
    asc.descending = false;
    let mut out = joined.finish(&asc, col_names(&bases));
    if s.descending {
        out.reverse();
        for series in &mut out {
            series.values = windows_backwards(std::mem::take(&mut series.values), s);
        }
    }
    Ok(Some(out))
}

/// `sample()` beside aggregates or another sample (`sample(x, 2), mean(y)`), as 1.6
/// answers it: each call computed on its own (a sample as alone, the aggregates as a
/// statement of their own, each with the LIMIT/OFFSET; without `GROUP BY time` at the
/// range's start, selectors too), the calls' rows merged per series in time order, rows of
/// equal time joined; then fill(N) sets the merged rows' nulls to N and fill(previous) to
/// the column's previous value. Under ORDER BY time DESC each call is answered so (a
/// sample's windows backwards, each window's rows ascending; the aggregates' windows
/// backwards, filled and limited from the latest) and the merge takes the latest time
/// first, so a window's aggregate row follows its sample rows (measured).
pub(super) fn sample_beside_aggregates(
    s: &Select,
    plain: &dyn Plain,
    multi: Multi,
) -> Res<Vec<Series>> {
    if s.fields.iter().any(|f| matches!(f.expr, Expr::Ref(..))) {
        return Err(
            "mixing multiple selector functions with tags or fields is not supported".into(),
        );
    }
    // `sample(*, N)`, `max(*)`: one call per field, in place, as 1.6 writes them out (each
    // sample of a field then answered on its own, as `sample(*, N)` alone)
    if let Some(expanded) = wildcards::expand(s, || plain.fields(s))? {
        return sample_beside_aggregates(&expanded, plain, multi);
    }
    // each call as a statement of its own, in the statement's direction (under ORDER BY
    // time DESC its LIMIT keeps the latest rows, fill(previous) fills from the later
    // window and mode() reads a window backwards, as 1.6 answers each call)
    let mut each = s.clone();
    each.slimit = 0;
    each.soffset = 0;
    let n = s.fields.len();
    // per output series (in the order first seen): each call's rows as it answers them
    let mut order: Vec<Key> = Vec::new();
    let mut streams: HashMap<Key, Vec<Vec<(i64, Value)>>> = HashMap::new();
    let mut add = |key: Key, i: usize, pts: Vec<(i64, Value)>| {
        if !streams.contains_key(&key) {
            order.push(key.clone());
        }
        streams.entry(key).or_insert_with(|| vec![Vec::new(); n])[i] = pts;
    };
    let mut bases: Vec<(Option<String>, String)> = vec![(None, String::new()); n];
    let (samples, aggs): (Vec<usize>, Vec<usize>) =
        (0..n).partition(|&i| call_name(&s.fields[i].expr) == Some("sample"));
    for &i in &samples {
        bases[i] = (s.fields[i].alias.clone(), "sample".into());
        let mut series = one_call(&each, &s.fields[i], plain, multi)?;
        if s.descending {
            series.reverse(); // the series in ascending order, as `finish_series` takes them
        }
        for (key, pts) in series {
            add(key, i, pts);
        }
    }
    if !aggs.is_empty() {
        let mut rest = each.clone();
        rest.fields = aggs.iter().map(|&i| s.fields[i].clone()).collect();
        let start = undivided_start(s, plain)?;
        let mut answered = plain.select(&rest, (0, 0))?;
        if s.descending {
            answered.reverse();
        }
        for series in answered {
            for (k, &i) in aggs.iter().enumerate() {
                let named = series.columns.get(k + 1).cloned().unwrap_or_default();
                bases[i] = (s.fields[i].alias.clone(), named);
                let pts = series
                    .values
                    .iter()
                    .filter_map(|r| match r.first() {
                        Some(Value::Time(t)) => Some((
                            start.unwrap_or(*t),
                            r.get(k + 1).cloned().unwrap_or(Value::Null),
                        )),
                        _ => None,
                    })
                    .collect();
                add((series.name.clone(), series.tags.clone()), i, pts);
            }
        }
    }
    let columns = col_names(&bases);
    let mut out = Vec::new();
    for key in order {
        let calls = streams.remove(&key).unwrap_or_default();
        let mut values = merge_calls(calls, s.descending);
        if values.is_empty() {
            continue;
        }
        match s.fill {
            Fill::Value(v, int) => {
                let v = if int {
                    Value::Int(v as i64)
                } else {
                    Value::Float(v)
                };
                for row in &mut values {
                    for c in row.iter_mut().skip(1).filter(|c| c.is_null()) {
                        *c = v.clone();
                    }
                }
            }
            Fill::Previous => {
                let mut last: Vec<Value> = vec![Value::Null; n + 1];
                for row in &mut values {
                    for (c, prev) in row.iter_mut().zip(last.iter_mut()).skip(1) {
                        if c.is_null() {
                            *c = prev.clone();
                        } else {
                            *prev = c.clone();
                        }
                    }
                }
            }
            _ => {}
        }
        out.push(Series {
            name: key.0,
            tags: key.1,
            columns: columns.clone(),
            values,
        });
    }
    Ok(finish_series(s, out))
}

/// The points of multi-row call `f` alone in statement `s` (its other fields left out), per
/// output series.
pub(super) fn one_call(
    s: &Select,
    f: &Field,
    plain: &dyn Plain,
    multi: Multi,
) -> Res<Vec<(Key, Points)>> {
    let mut one = s.clone();
    one.fields = vec![f.clone()];
    Ok(multi(&one, plain)?
        .into_iter()
        .map(|series| {
            let pts = series
                .values
                .into_iter()
                .filter_map(|mut r| match r.first() {
                    Some(Value::Time(t)) => Some((*t, r.swap_remove(1))),
                    _ => None,
                })
                .collect();
            ((series.name, series.tags), pts)
        })
        .collect())
}

/// The rows of several calls' points merged as 1.6's cursor merges them: the earliest
/// (with `desc`, the latest) head time next, the heads at that time joined in one row.
pub(super) fn merge_calls(calls: Vec<Vec<(i64, Value)>>, desc: bool) -> Vec<Vec<Value>> {
    let n = calls.len();
    let mut heads: Vec<std::iter::Peekable<std::vec::IntoIter<(i64, Value)>>> = calls
        .into_iter()
        .map(|c| c.into_iter().peekable())
        .collect();
    let mut rows = Vec::new();
    loop {
        let next = heads.iter_mut().filter_map(|h| h.peek().map(|p| p.0));
        let Some(t) = (if desc { next.max() } else { next.min() }) else {
            break;
        };
        let mut row = vec![Value::Null; n + 1];
        row[0] = Value::Time(t);
        for (i, h) in heads.iter_mut().enumerate() {
            if let Some((_, v)) = h.next_if(|p| p.0 == t) {
                row[i + 1] = v;
            }
        }
        rows.push(row);
    }
    rows
}
