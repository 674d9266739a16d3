//! The transformations (`derivative`, `non_negative_derivative`, `difference`,
//! `non_negative_difference`, `moving_average`, `cumulative_sum`, `elapsed`, and those of
//! `ta.rs` and `holt_winters.rs`): each call's inner query through the plain executor, the
//! series transformed, several calls joined on time.

use crate::ast::*;
use crate::exec::context::{page, Res};
use crate::exec::{column_name, OverCalls};
use crate::functions::{AGGREGATES, TRANSFORMS};
use crate::result::{Series, Value};
use crate::{holt_winters, ta, wildcards};

use super::shared::*;

/// What one transformation computes over each series.
pub(super) enum Op {
    /// One of [`transform`]'s, with its parameter.
    Basic(i64),
    /// A technical-analysis function (`ta.rs`).
    Ta(ta::Spec),
    /// `holt_winters` or `holt_winters_with_fit` (`holt_winters.rs`).
    HoltWinters(holt_winters::Spec),
}

/// The call checked by the module that answers it, when it is one of `ta.rs`'s or
/// `holt_winters.rs`'s (they check every argument but the first before the checks common
/// to the transformations, as 1.6 does).
pub(super) fn own_op(name: &str, args: &[Expr]) -> Res<Option<Op>> {
    if let Some(spec) = ta::Spec::parse(name, args) {
        return Ok(Some(Op::Ta(spec.map_err(|e| e.to_string())?)));
    }
    if let Some(spec) = holt_winters::Spec::parse(name, args) {
        return Ok(Some(Op::HoltWinters(spec.map_err(|e| e.to_string())?)));
    }
    Ok(None)
}

/// The numeric values of a series' points, as floats.
pub(super) fn numbers(pts: &[(i64, Value)]) -> Vec<(i64, f64)> {
    pts.iter()
        .filter_map(|(t, v)| v.as_f64().map(|f| (*t, f)))
        .collect()
}

pub(super) fn floats(pts: Vec<(i64, f64)>) -> Vec<(i64, Value)> {
    pts.into_iter().map(|(t, f)| (t, Value::Float(f))).collect()
}

pub(super) fn transforms(s: &Select, plain: &dyn Plain) -> Res<Vec<Series>> {
    let expanded = wildcards::expand(s, || plain.fields(s))?;
    let s = expanded.as_ref().unwrap_or(s);
    let mut bases = Vec::new();
    let mut joined = Joined::new(s.fields.len());
    for (fi, f) in s.fields.iter().enumerate() {
        let Expr::Call(name, args) = &f.expr else {
            return Err("mixing aggregate and non-aggregate queries is not supported".into());
        };
        if !TRANSFORMS.contains(&name.as_str()) {
            // an aggregate beside transformations: its own windows (or its one row at the
            // range's start), joined on time as 1.6 joins its calls
            match name.as_str() {
                "top" | "bottom" => {
                    return Err(format!(
                        "selector function {name}() cannot be combined with other functions"
                    ))
                }
                "distinct" => {
                    return Err(
                        "aggregate function distinct() cannot be combined with other \
                                functions or fields"
                            .into(),
                    )
                }
                n if AGGREGATES.contains(&n) => {}
                _ => {
                    return Err(
                        "mixing aggregate and non-aggregate queries is not supported".into(),
                    )
                }
            }
            bases.push((f.alias.clone(), name.clone()));
            let start = undivided_start(s, plain)?;
            let sel = inner_select(
                s,
                vec![Field {
                    expr: f.expr.clone(),
                    alias: None,
                }],
            );
            for series in plain.select(&sel, (0, 0))? {
                let mut pts: Vec<(i64, Value)> = series
                    .values
                    .iter()
                    .filter_map(|r| {
                        let t = start.unwrap_or(r.first()?.as_time()?);
                        Some((t, r.get(1)?.clone()))
                    })
                    .collect();
                if s.descending {
                    pts.reverse();
                }
                joined.add((series.name, series.tags), fi, page(pts, s.limit, s.offset));
            }
            continue;
        }
        bases.push((f.alias.clone(), name.clone()));
        let own = own_op(name, args)?;
        let Some(inner) = args.first() else {
            return Err(format!(
                "invalid number of arguments for {name}, expected at least 1, got 0"
            ));
        };
        let is_agg = matches!(inner, Expr::Call(..));
        match (is_agg, s.dims.time) {
            (true, None) => return Err(format!("{name} aggregate requires a GROUP BY interval")),
            (false, Some(_)) => {
                return Err(format!(
                    "aggregate function required inside the call to {name}"
                ))
            }
            _ => {}
        }
        if !matches!(inner, Expr::Call(..) | Expr::Ref(..)) {
            return Err(format!("expected field argument in {name}()"));
        }
        let op = match own {
            Some(op) => op,
            None => Op::Basic(basic_param(s, name, args)?),
        };
        let mut sel = inner_select(
            s,
            vec![Field {
                expr: inner.clone(),
                alias: None,
            }],
        );
        // The transformation skips windows without a value (`pts` below), so empty windows
        // need not be made: fill(null) reads as fill(none). Made, a range from a lower bound
        // to now (`WHERE time >= T GROUP BY time(10s)`, no upper bound) was one window per
        // 10 s up to now and hit the query-memory limit where 1.6 answers the data's windows.
        // Not for count, whose empty windows are 0, a value (1.6 then answers every window).
        let counts = matches!(inner, Expr::Call(n, _) if n == "count");
        // Raw points under ORDER BY time DESC are read descending, so points of equal time
        // (a group of series) come in 1.6's descending merge order, which a running
        // transformation (`cumulative_sum`) sums them in.
        let raw_desc = s.descending && !is_agg;
        sel.descending = raw_desc;
        if sel.fill == Fill::Null && !counts {
            sel.fill = Fill::None;
        }
        // Under ORDER BY time DESC 1.6 fills from the window it answered before, the later
        // one; the inner aggregate is answered ascending, with its empty windows null, and
        // filled backwards below.
        let fill_backwards = s.descending && sel.fill == Fill::Previous;
        if fill_backwards {
            sel.fill = Fill::Null;
        }
        // 1.6 reads one interval more so the first window has a predecessor.
        let extra = match (name.as_str(), s.dims.time) {
            ("cumulative_sum" | "holt_winters" | "holt_winters_with_fit", _) | (_, None) => (0, 0),
            (_, Some((iv, _))) if s.descending => (0, iv),
            (_, Some((iv, _))) => (iv, 0),
        };
        let mut answered = plain.select(&sel, extra)?;
        if raw_desc {
            // read descending, the series came in reverse order: `Joined` keeps the order
            // it first sees and `finish_series` turns it for DESC
            answered.reverse();
        }
        for mut series in answered {
            if fill_backwards {
                // count's empty windows are 0 here: filled as empty too (the latest, with
                // no later window, stays empty and is skipped, as in 1.6)
                let empty = |v: &Value| v.is_null() || counts && *v == Value::Int(0);
                let mut later = Value::Null;
                for row in series.values.iter_mut().rev() {
                    match empty(&row[1]) {
                        true => row[1] = later.clone(),
                        false => later = row[1].clone(),
                    }
                }
            }
            let mut pts: Vec<(i64, Value)> = series
                .values
                .iter()
                .filter_map(|r| match (&r[0], &r[1]) {
                    (Value::Time(t), v) if !v.is_null() => Some((*t, v.clone())),
                    _ => None,
                })
                .collect();
            // raw points under DESC came in 1.6's descending merge order already
            if s.descending && !raw_desc {
                pts.reverse();
            }
            let out = match &op {
                Op::Basic(param) => transform(name, *param, &pts),
                Op::Ta(spec) => {
                    if let Some(iterator) = pts.iter().find_map(|(_, v)| match v {
                        Value::Str(_) => Some("stringInterruptIterator"),
                        Value::Bool(_) => Some("booleanInterruptIterator"),
                        _ => None,
                    }) {
                        let name = name.clone();
                        return Err(ta::Unsupported { name, iterator }.to_string());
                    }
                    floats(spec.run(&numbers(&pts)))
                }
                Op::HoltWinters(spec) => {
                    let iv = s.dims.time.map_or(1, |(iv, _)| iv);
                    floats(spec.run(&numbers(&pts), iv))
                }
            };
            let out = page(out, s.limit, s.offset);
            joined.add((series.name, series.tags), fi, out);
        }
    }
    Ok(joined.finish(s, col_names(&bases)))
}

/// Transformations inside arithmetic (`derivative(mean(x), 1s) * 8`, `difference(max(x)) +
/// 1`): each call answered as a field of its own by [`transforms`], then each field's
/// expression evaluated over its calls' values row by row, as 1.6 evaluates a binary
/// expression over its calls' iterators. Columns are named as 1.6 names an expression (its
/// calls' names joined by `_`: `derivative`).
pub(super) fn in_expressions(s: &Select, plain: &dyn Plain) -> Res<Vec<Series>> {
    let mut calls: Vec<Field> = Vec::new();
    let mut exprs = Vec::new();
    for f in &s.fields {
        exprs.push(OverCalls::compile(&f.expr, &mut |c| {
            // a transformation, or an aggregate beside one (see `transforms`)
            if !call_name(c).is_some_and(|n| TRANSFORMS.contains(&n) || AGGREGATES.contains(&n)) {
                return Err("mixing aggregate and non-aggregate queries is not supported".into());
            }
            if matches!(c, Expr::Call(_, args) if reads_many(args)) {
                return Err(format!(
                    "unsupported expression with wildcard: {}()",
                    call_name(c).unwrap_or_default()
                ));
            }
            calls.push(Field {
                expr: c.clone(),
                alias: None,
            });
            Ok(calls.len() - 1)
        })?);
    }
    let mut each_call = s.clone();
    each_call.fields = calls;
    let bases: Vec<(Option<String>, String)> = s
        .fields
        .iter()
        .map(|f| (f.alias.clone(), column_name(&f.expr)))
        .collect();
    let columns = col_names(&bases);
    let mut out = transforms(&each_call, plain)?;
    for series in &mut out {
        for row in &mut series.values {
            let values: Vec<Value> = exprs.iter().map(|e| e.eval(&row[1..])).collect();
            row.truncate(1);
            row.extend(values);
        }
        series.columns = columns.clone();
    }
    Ok(out)
}

/// Whether a call's first argument (or its aggregate's) reads several fields: `*`, a regex.
fn reads_many(args: &[Expr]) -> bool {
    match args.first() {
        Some(Expr::Wildcard | Expr::Regex(_)) => true,
        Some(Expr::Call(_, inner)) => reads_many(inner),
        _ => false,
    }
}

/// The parameter of one of [`transform`]'s functions, from its arguments.
pub(super) fn basic_param(s: &Select, name: &str, args: &[Expr]) -> Res<i64> {
    Ok(match (name, args.get(1)) {
        ("derivative" | "non_negative_derivative", None) => {
            s.dims.time.map(|(iv, _)| iv).unwrap_or(1_000_000_000)
        }
        ("derivative" | "non_negative_derivative", Some(Expr::Duration(d))) if *d > 0 => *d,
        ("elapsed", None) => 1,
        ("elapsed", Some(Expr::Duration(d))) if *d > 0 => *d,
        ("elapsed", Some(Expr::Duration(d))) => {
            return Err(format!(
                "duration argument must be positive, got {}",
                duration_text(*d)
            ))
        }
        ("elapsed", Some(other)) => {
            return Err(format!(
                "second argument to elapsed must be a duration, got *influxql.{}",
                match other {
                    Expr::Integer(_) => "IntegerLiteral",
                    Expr::Number(_) => "NumberLiteral",
                    Expr::Str(_) => "StringLiteral",
                    _ => "VarRef",
                }
            ))
        }
        ("moving_average", Some(Expr::Integer(n))) if *n > 1 => *n,
        ("moving_average", Some(Expr::Integer(_))) => {
            return Err(format!(
                "moving_average window must be greater than 1, got {}",
                match args.get(1) {
                    Some(Expr::Integer(n)) => *n,
                    _ => 0,
                }
            ))
        }
        ("moving_average", _) => {
            return Err(format!(
                "invalid number of arguments for moving_average, expected 2, got {}",
                args.len()
            ))
        }
        (_, None) => 0,
        _ => {
            return Err(format!(
                "invalid number of arguments for {name}, expected 1, got {}",
                args.len()
            ))
        }
    })
}

pub(super) fn num_sub(a: &Value, b: &Value) -> Value {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Value::Int(x.wrapping_sub(*y)),
        _ => Value::Float(a.as_f64().unwrap_or(0.0) - b.as_f64().unwrap_or(0.0)),
    }
}

pub(super) fn num_add(a: &Value, b: &Value) -> Value {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Value::Int(x.wrapping_add(*y)),
        _ => Value::Float(a.as_f64().unwrap_or(0.0) + b.as_f64().unwrap_or(0.0)),
    }
}

pub(super) fn is_negative(v: &Value) -> bool {
    v.as_f64().is_some_and(|f| f < 0.0)
}

/// A duration as 1.6's InfluxQL writes it in errors: in the largest unit it is a whole
/// number of (`90s`, `2w`, `0s`).
pub(super) fn duration_text(ns: i64) -> String {
    const UNITS: [(i64, &str); 7] = [
        (604_800_000_000_000, "w"),
        (86_400_000_000_000, "d"),
        (3_600_000_000_000, "h"),
        (60_000_000_000, "m"),
        (1_000_000_000, "s"),
        (1_000_000, "ms"),
        (1_000, "u"),
    ];
    if ns == 0 {
        return "0s".into();
    }
    match UNITS.iter().find(|(size, _)| ns % size == 0) {
        Some((size, unit)) => format!("{}{unit}", ns / size),
        None => format!("{ns}ns"),
    }
}

/// One transformation over a series' points in time order.
pub(super) fn transform(name: &str, param: i64, pts: &[(i64, Value)]) -> Vec<(i64, Value)> {
    if name == "elapsed" {
        // the time between a point and the one before, in units of `param`, whatever the
        // value's type (strings and booleans too); 0 between points of one time (several
        // series in a group), as in 1.6
        return pts
            .windows(2)
            .map(|w| (w[1].0, Value::Int((w[1].0 - w[0].0) / param)))
            .collect();
    }
    let pts: Vec<&(i64, Value)> = pts.iter().filter(|p| p.1.as_f64().is_some()).collect();
    let mut out = Vec::new();
    match name {
        "derivative" | "non_negative_derivative" | "difference" | "non_negative_difference" => {
            let mut prev: Option<&(i64, Value)> = None;
            for p in pts {
                let Some(q) = prev else {
                    prev = Some(p);
                    continue;
                };
                if q.0 == p.0 {
                    continue;
                }
                let v = if name.ends_with("derivative") {
                    let diff = p.1.as_f64().unwrap_or(0.0) - q.1.as_f64().unwrap_or(0.0);
                    Value::Float(diff / ((p.0 - q.0).abs() as f64 / param as f64))
                } else {
                    num_sub(&p.1, &q.1)
                };
                prev = Some(p);
                if name.starts_with("non_negative") && is_negative(&v) {
                    continue;
                }
                out.push((p.0, v));
            }
        }
        "cumulative_sum" => {
            let mut acc: Option<Value> = None;
            for p in pts {
                let v = match &acc {
                    None => p.1.clone(),
                    Some(a) => num_add(a, &p.1),
                };
                acc = Some(v.clone());
                out.push((p.0, v));
            }
        }
        "moving_average" => {
            // 1.6's running sum, the oldest value out before the newest in; of integers an
            // integer sum (each reducer keeps its type's)
            let n = param as usize;
            let mut win: std::collections::VecDeque<&Value> = Default::default();
            let (mut ints, mut floats) = (0i64, 0.0f64);
            for p in pts {
                if win.len() == n {
                    match win.pop_front() {
                        Some(Value::Int(i)) => ints = ints.wrapping_sub(*i),
                        Some(v) => floats -= v.as_f64().unwrap_or(0.0),
                        None => {}
                    }
                }
                match &p.1 {
                    Value::Int(i) => ints = ints.wrapping_add(*i),
                    v => floats += v.as_f64().unwrap_or(0.0),
                }
                win.push_back(&p.1);
                if win.len() == n {
                    out.push((p.0, Value::Float((ints as f64 + floats) / n as f64)));
                }
            }
        }
        _ => {}
    }
    out
}
