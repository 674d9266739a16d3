//! The multi-row selectors (`top`, `bottom`, `distinct`, `sample`) alone or with fields or
//! tags beside them: each window's rows picked and ordered as 1.6 does.

use std::collections::BTreeMap;

use crate::ast::*;
use crate::compile_checks;
use crate::exec::context::{finish_series, page, Res};
use crate::exec::time::split_time_in;
use crate::result::{Series, Value};
use crate::tz::window_start;

use super::sample::{sample_beside_aggregates, sample_star};
use super::shared::*;

pub(super) fn multi(s: &Select, plain: &dyn Plain) -> Res<Vec<Series>> {
    compile_checks::check(s)?;
    if let Some(out) = sample_star(s, plain, multi)? {
        return Ok(out);
    }
    let calls: Vec<&Field> = s
        .fields
        .iter()
        .filter(|f| call_name(&f.expr).is_some())
        .collect();
    if s.fields.len() > 1 && calls.iter().any(|f| call_name(&f.expr) == Some("distinct")) {
        return Err(
            "aggregate function distinct() cannot be combined with other functions or fields"
                .into(),
        );
    }
    let is_sample = |f: &Field| call_name(&f.expr) == Some("sample");
    let top_bottom = |f: &&Field| matches!(call_name(&f.expr), Some("top" | "bottom"));
    if s.fields.iter().any(is_sample)
        && !s.fields.iter().any(|f| top_bottom(&f))
        && (s.fields.iter().filter(|f| is_sample(f)).count() > 1
            || s.fields
                .iter()
                .any(|f| !is_sample(f) && !matches!(f.expr, Expr::Ref(..))))
    {
        return sample_beside_aggregates(s, plain, multi);
    }
    let call = calls[0];
    let Expr::Call(name, args) = &call.expr else {
        return Err("bad call".into());
    };
    let name = name.as_str();
    if calls.len() > 1 {
        // 1.6 names the top or bottom call (sample alone combines with aggregates there)
        let named = calls
            .iter()
            .filter_map(|f| call_name(&f.expr))
            .find(|n| *n == "top" || *n == "bottom")
            .unwrap_or(name);
        return Err(format!(
            "selector function {named}() cannot be combined with other functions"
        ));
    }
    let mut aux: Vec<Field> = Vec::new();
    for f in &s.fields {
        match &f.expr {
            Expr::Call(..) => {}
            Expr::Ref(..) => aux.push(f.clone()),
            _ => return Err("mixing aggregate and non-aggregate queries is not supported".into()),
        }
    }
    let (field, tag_args, n) = if name == "distinct" {
        if args.len() != 1 {
            return Err(format!(
                "distinct function requires at least one argument, got {}",
                args.len()
            ));
        }
        (&args[0], Vec::new(), 0usize)
    } else if name == "sample" {
        (&args[0], Vec::new(), sample_size(args)?)
    } else {
        if args.len() < 2 {
            return Err(format!(
                "invalid number of arguments for {name}, expected at least 2, got {}",
                args.len()
            ));
        }
        let n = match args.last() {
            Some(Expr::Integer(n)) if s.limit > 0 && *n as u64 > s.limit as u64 => {
                return Err(format!(
                    "limit ({n}) in {name} function can not be larger than the LIMIT ({}) \
                     in the select statement",
                    s.limit
                ))
            }
            Some(Expr::Integer(n)) if *n > 0 => *n as usize,
            Some(Expr::Integer(n)) => {
                return Err(format!("limit ({n}) in {name} function must be at least 1"))
            }
            _ => {
                return Err(format!(
                    "expected integer as last argument in {name}(), found {}",
                    "a non-integer"
                ))
            }
        };
        let mut tags = Vec::new();
        for a in &args[1..args.len() - 1] {
            match a {
                Expr::Ref(..) => tags.push(a.clone()),
                _ => {
                    return Err(format!(
                        "only fields or tags are allowed in {name}(), found {a:?}"
                    ))
                }
            }
        }
        (&args[0], tags, n)
    };
    if !matches!(field, Expr::Ref(..)) {
        if name == "top" || name == "bottom" {
            let found = match field {
                Expr::Wildcard => "*".to_string(),
                Expr::Str(v) => format!("'{v}'"),
                Expr::Integer(i) => i.to_string(),
                Expr::Call(n, _) => format!("{n}(…)"),
                other => format!("{other:?}"),
            };
            return Err(format!(
                "expected first argument to be a field in {name}(), found {found}"
            ));
        }
        return Err(format!("expected field argument in {name}()"));
    }
    let mut fields = vec![Field {
        expr: field.clone(),
        alias: None,
    }];
    for t in &tag_args {
        fields.push(Field {
            expr: t.clone(),
            alias: None,
        });
    }
    fields.extend(aux.iter().cloned());
    let mut inner = inner_select(s, fields);
    inner.dims.time = None;
    inner.fill = Fill::Null;
    let mut lo = i64::MIN;
    let mut hi = i64::MAX;
    if let Some(c) = &s.condition {
        split_time_in(c, plain.now_ns(), s.location.as_ref(), &mut lo, &mut hi)?;
    }
    let window = |t: i64| -> i64 {
        match s.dims.time {
            Some((iv, off)) => window_start(t, iv, off, s.location.as_ref()),
            None => {
                if lo == i64::MIN {
                    0
                } else {
                    lo
                }
            }
        }
    };
    let mut bases = vec![(call.alias.clone(), name.to_string())];
    for t in &tag_args {
        if let Expr::Ref(n, _) = t {
            bases.push((None, n.clone()));
        }
    }
    for a in &aux {
        let generated = match &a.expr {
            Expr::Ref(n, _) => n.clone(),
            _ => String::new(),
        };
        bases.push((a.alias.clone(), generated));
    }
    let columns = col_names(&bases);
    let ntags = tag_args.len();
    // the tag columns of the rows (after time and the field) in tag-name order: 1.6's key
    // for a tag combination
    let mut key_cols: Vec<usize> = (0..ntags).collect();
    key_cols.sort_by_key(|&i| match &tag_args[i] {
        Expr::Ref(n, _) => n.as_str(),
        _ => "",
    });
    let key_cols: Vec<usize> = key_cols.into_iter().map(|i| 2 + i).collect();
    // what a window's candidates are: numbers for top and bottom, any value for sample
    let usable = |v: &Value| match name {
        "sample" => !v.is_null(),
        _ => v.as_f64().is_some(),
    };
    let mut out = Vec::new();
    // ORDER BY time DESC answers the windows backwards, each window's rows as ascending
    // (1.6 sorts a window's top/bottom rows by time and its distinct values by when they
    // were seen, whatever the direction; measured)
    let finish = |mut windows: Vec<Vec<Vec<Value>>>| {
        if s.descending {
            windows.reverse();
        }
        page(windows.concat(), s.limit, s.offset)
    };
    // top/bottom of a field alone: the rows are ranked where the scan left them, without
    // building and sorting every raw row first (the same answer; see [`Plain::field_groups`]).
    let fast = name != "distinct" && ntags == 0 && aux.is_empty();
    if let Some(groups) = fast
        .then(|| plain.field_groups(&inner))
        .transpose()?
        .flatten()
    {
        for g in groups {
            let mut wins: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
            for (i, r) in g.rows.iter().enumerate() {
                // a window's candidates: numbers for top and bottom, any value for sample
                if r.t < lo || r.t > hi || (name != "sample" && r.x.is_none()) {
                    continue;
                }
                wins.entry(window(r.t)).or_default().push(i);
            }
            let mut values: Vec<Vec<Vec<Value>>> = Vec::new();
            for cands in wins.into_values() {
                let best = keep(name, cands.len(), n, |k| {
                    let r = &g.rows[cands[k]];
                    (r.x.unwrap_or(0.0), r.t, (r.si as usize, r.ri as usize))
                });
                values.push(
                    best.into_iter()
                        .map(|k| {
                            let r = &g.rows[cands[k]];
                            vec![Value::Time(r.t), g.value(r)]
                        })
                        .collect(),
                );
            }
            let values = finish(values);
            if values.is_empty() {
                continue;
            }
            out.push(Series {
                name: Some(g.name),
                tags: g.tags,
                columns: columns.clone(),
                values,
            });
        }
        return Ok(finish_series(s, out));
    }
    for series in plain.select(&inner, (0, 0))? {
        // windows in time order
        let mut wins: BTreeMap<i64, Vec<&Vec<Value>>> = BTreeMap::new();
        for r in &series.values {
            let (Value::Time(t), v) = (&r[0], &r[1]) else {
                continue;
            };
            if v.is_null() || t < &lo || t > &hi {
                continue;
            }
            wins.entry(window(*t)).or_default().push(r);
        }
        let mut values: Vec<Vec<Vec<Value>>> = Vec::new();
        for (ws, rows) in wins {
            if name == "distinct" {
                values.push(distinct_values(ws, &rows, s.descending));
                continue;
            }
            if ntags > 0 {
                values.push(best_per_tags(name == "top", n, &rows, &key_cols));
                continue;
            }
            let cands: Vec<&Vec<Value>> = rows.into_iter().filter(|r| usable(&r[1])).collect();
            // The n best by value (ties: earlier time, then input order), or n at random.
            let best = keep(name, cands.len(), n, |k| {
                let t = match cands[k][0] {
                    Value::Time(t) => t,
                    _ => 0,
                };
                (cands[k][1].as_f64().unwrap_or(0.0), t, (k, 0))
            });
            values.push(best.into_iter().map(|k| cands[k].clone()).collect());
        }
        let values = finish(values);
        if values.is_empty() {
            continue;
        }
        out.push(Series {
            name: series.name,
            tags: series.tags,
            columns: columns.clone(),
            values,
        });
    }
    Ok(finish_series(s, out))
}

/// `top`/`bottom(field, tag…, N)` of one window (rows `[time, value, tags…, aux…]` in time
/// order, `key_cols` the tag columns in tag-name order) as 1.6 computes it: a `max` (`min`)
/// per tag combination (the earliest row of equal values), those rows in order of the
/// combination (its tag values joined in tag-name order; not of time: measured against
/// 1.6 with many series tied on time and value, `tests/test_query_ties.py`), then its top
/// (bottom) reducer: a Go heap of N whose root is the worst kept (smaller value, or later
/// time; a row replaces it only when strictly better), emitted sorted best first by Go's
/// `sort.Sort` and then by time. Rows equal in value and time come out as the heap's array
/// left them: only a replay shows the same tag values.
fn best_per_tags<'r>(
    top: bool,
    n: usize,
    rows: &[&'r Vec<Value>],
    key_cols: &[usize],
) -> Vec<Vec<Value>> {
    use std::cmp::Ordering;
    use std::collections::HashMap;
    let time = |r: &Vec<Value>| match r[0] {
        Value::Time(t) => t,
        _ => 0,
    };
    // 1.6's `less` of the reducer's heap, whose root is the worst kept: the smaller value
    // for top (larger for bottom), then the later time. A combination's `max` (`min`)
    // keeps the row its current one is worse than: the better value, or the earlier time.
    let worse = |a: &&Vec<Value>, b: &&Vec<Value>| match value_order(&a[1], &b[1]) {
        Ordering::Equal => time(a) > time(b),
        o => (o == Ordering::Less) == top,
    };
    let mut at: HashMap<String, usize> = HashMap::new();
    let mut best: Vec<(String, &'r Vec<Value>)> = Vec::new();
    let mut key = String::new();
    for &r in rows {
        if r[1].as_f64().is_none() {
            continue;
        }
        key.clear();
        for (i, &c) in key_cols.iter().enumerate() {
            if i > 0 {
                key.push('\0');
            }
            if let Value::Str(v) = &r[c] {
                key.push_str(v);
            }
        }
        match at.get(key.as_str()) {
            Some(&i) => {
                if worse(&best[i].1, &r) {
                    best[i].1 = r;
                }
            }
            None => {
                at.insert(key.clone(), best.len());
                best.push((key.clone(), r));
            }
        }
    }
    best.sort_by(|a, b| a.0.cmp(&b.0));
    let mut heap: Vec<&Vec<Value>> = Vec::with_capacity(n.min(best.len()));
    for (_, r) in best {
        if heap.len() == n {
            if !worse(&heap[0], &r) {
                continue;
            }
            heap[0] = r;
            crate::goheap::fix(&mut heap, worse, 0);
        } else {
            crate::goheap::push(&mut heap, worse, r);
        }
    }
    crate::gosort::sort(&mut heap, |a, b| worse(b, a));
    // then by time, stably (equal times keep the order above)
    heap.sort_by_key(|r| time(r));
    heap.into_iter().cloned().collect()
}

/// A window's distinct values (rows `[time, value, …]` in time order), each once, as 1.6's
/// reducer emits them: each value with the time it was first seen in the scan's direction
/// (ascending: its earliest; ORDER BY time DESC: its latest), sorted by that time, then by
/// value; the rows' time is the window's start `ws`.
pub(super) fn distinct_values(ws: i64, rows: &[&Vec<Value>], descending: bool) -> Vec<Vec<Value>> {
    let mut seen: Vec<(i64, &Value)> = Vec::new();
    let order: Box<dyn Iterator<Item = &&Vec<Value>>> = if descending {
        Box::new(rows.iter().rev())
    } else {
        Box::new(rows.iter())
    };
    for r in order {
        if let (Value::Time(t), v) = (&r[0], &r[1]) {
            if !seen.iter().any(|(_, x)| *x == v) {
                seen.push((*t, v));
            }
        }
    }
    seen.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| value_order(a.1, b.1)));
    seen.into_iter()
        .map(|(_, v)| vec![Value::Time(ws), v.clone()])
        .collect()
}

/// Values of one type in 1.6's order: numbers by value (integers exactly), strings by
/// bytes, false before true.
pub(super) fn value_order(a: &Value, b: &Value) -> std::cmp::Ordering {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => x.cmp(y),
        (Value::Str(x), Value::Str(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            _ => std::cmp::Ordering::Equal,
        },
    }
}

/// `sample(field, N)`'s N, checked as 1.6 does.
pub(super) fn sample_size(args: &[Expr]) -> Res<usize> {
    if args.len() != 2 {
        return Err(format!(
            "invalid number of arguments for sample, expected 2, got {}",
            args.len()
        ));
    }
    match args[1] {
        Expr::Integer(n) if n > 0 => Ok(n as usize),
        Expr::Integer(n) => Err(format!("sample window must be greater than 1, got {n}")),
        _ => Err("expected integer argument in sample()".into()),
    }
}

/// The candidates a window keeps of its `len` (`key` as for [`n_best`]), in time order:
/// the `n` best for top and bottom, `n` chosen at random (each subset as likely) for
/// sample.
pub(super) fn keep(
    name: &str,
    len: usize,
    n: usize,
    key: impl Fn(usize) -> (f64, i64, (usize, usize)),
) -> Vec<usize> {
    if name != "sample" {
        return n_best(len, n, name == "top", key);
    }
    use rand::Rng;
    let mut rng = rand::thread_rng();
    // reservoir sampling: candidate k replaces a kept one with probability n / (k + 1)
    let mut kept: Vec<usize> = (0..len.min(n)).collect();
    for k in n..len {
        let j = rng.gen_range(0..=k);
        if j < n {
            kept[j] = k;
        }
    }
    kept.sort_by_key(|&k| {
        let (_, t, tie) = key(k);
        (t, tie, k)
    });
    kept
}

/// The `n` best of `len` candidates for top (greatest value first) or bottom (least first),
/// `key(k)` giving candidate k's (numeric value, time, tie-break): ties on value go to the
/// earlier time, then to the smaller tie-break. Returns the chosen candidates in time
/// order, those of equal time in that ranking. One pass with a heap of n: most candidates
/// cost one comparison with the worst kept so far.
pub(super) fn n_best(
    len: usize,
    n: usize,
    top: bool,
    key: impl Fn(usize) -> (f64, i64, (usize, usize)),
) -> Vec<usize> {
    use std::collections::BinaryHeap;
    // Smaller key = better: f64::total_cmp's order as an i64 (reversed for top), time,
    // tie-break, candidate.
    let rank = |k: usize| {
        let (v, t, tie) = key(k);
        let bits = v.to_bits() as i64;
        let v = bits ^ (((bits >> 63) as u64) >> 1) as i64;
        (if top { !v } else { v }, t, tie, k)
    };
    // sized by the candidates, not by N (a client's `top(f, 9223372036854775807)`)
    let mut kept: BinaryHeap<(i64, i64, (usize, usize), usize)> =
        BinaryHeap::with_capacity(n.min(len).saturating_add(1));
    if n > 0 {
        for k in 0..len {
            let r = rank(k);
            if kept.len() < n {
                kept.push(r);
            } else if kept.peek().is_some_and(|worst| r < *worst) {
                kept.pop();
                kept.push(r);
            }
        }
    }
    let mut ranked = kept.into_vec();
    ranked.sort_unstable_by_key(|&(v, t, tie, _)| (t, v, tie));
    ranked.into_iter().map(|(_, _, _, k)| k).collect()
}
