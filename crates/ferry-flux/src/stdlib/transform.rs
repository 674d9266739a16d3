//! Table functions that select and reshape: `from`, `range`, `filter` (with push-down of
//! `_measurement`, `_field` and tag equality into the storage read), `yield`, `limit`, `keep`,
//! `drop`, `group`, `sort`, plus `buckets` and `now`.

use std::sync::Arc;

use super::args::{
    bool_arg, builtin, int_arg, required, string_arg, strings_arg, time_arg, BResult,
};
use super::edge_read::{collect, edge_plan, in_two_steps};
use super::group::{groups_series, regroup};
use super::streams::{
    builtin_env, map_tables, output, per_table, source_error, stream_arg, tables, Env,
};
use crate::ast::{Expression, FunctionBody, LogicalOperator, Operator};
use crate::eval::{Builtin, EvalErrorKind, Evaluator, Scope};
use crate::table::{
    series_columns_table, ColKind, Column, Pattern, Pred, ReadSpec, SeriesColumns, Stream,
    StreamBody, Table,
};
use crate::value::{Closure, Record, Value};

pub(super) fn builtins() -> Vec<Builtin> {
    let from = builtin(
        "from",
        &["bucket", "bucketID", "org", "orgID", "host", "token"],
        false,
        move |_, a| {
            if a.get("host").is_some_and(|h| !h.is_null()) {
                return Err("from: reading from a remote host is not supported".into());
            }
            let bucket = match a.get("bucket") {
                Some(Value::String(s)) => s.to_string(),
                _ => return Err("from: missing required argument bucket".into()),
            };
            Ok(Value::Tables(Arc::new(Stream {
                body: StreamBody::Read(ReadSpec {
                    bucket,
                    ..Default::default()
                }),
                name: None,
                bounds: None,
            })))
        },
    );
    let range = builtin_env("range", &["start", "stop"], true, range);
    let filter = builtin_env("filter", &["fn", "onEmpty"], true, filter);
    let yield_ = builtin("yield", &["name"], true, |_, a| {
        let s = stream_arg("yield", a)?;
        let name = string_arg("yield", a, "name", "_result")?;
        Ok(Value::Tables(Arc::new(Stream {
            body: s.body.clone(),
            name: Some(name),
            bounds: s.bounds,
        })))
    });
    let group = builtin_env("group", &["columns", "mode"], true, |ev, env, a| {
        let s = stream_arg("group", a)?;
        let columns = strings_arg("group", a, "columns")?.unwrap_or_default();
        let except = match string_arg("group", a, "mode", "by")?.as_str() {
            "by" => false,
            "except" => true,
            other => return Err(format!("group: unknown group mode {other:?}").into()),
        };
        // a read grouped by what it knows of each series stays a read: an aggregate then
        // runs over its series without building their tables (see `aggregate_read`)
        if let StreamBody::Read(spec) = &s.body {
            if spec.range.is_some() && spec.group.is_none() && !except && groups_series(&columns) {
                let spec = ReadSpec {
                    group: Some(columns),
                    ..spec.clone()
                };
                return Ok(Value::Tables(Arc::new(Stream {
                    body: StreamBody::Read(spec),
                    name: s.name.clone(),
                    bounds: s.bounds,
                })));
            }
        }
        let input = tables(ev, env, s)?;
        Ok(output(s, regroup(&input, &columns, except)))
    });
    let union = builtin_env("union", &["tables"], false, |ev, env, a| {
        let Some(Value::Array(streams)) = a.get("tables") else {
            return Err("union: tables must be an array of streams".into());
        };
        let mut out = Vec::new();
        let mut bounds = None;
        for v in streams.iter() {
            let Value::Tables(s) = v else {
                return Err(format!("union: expected stream but found {}", v.kind()).into());
            };
            bounds = bounds.or(s.bounds());
            out.extend(tables(ev, env, s)?.iter().cloned());
        }
        Ok(Value::Tables(Arc::new(Stream {
            body: StreamBody::Tables(Arc::new(out)),
            name: None,
            bounds,
        })))
    });
    vec![
        union,
        from,
        range,
        filter,
        yield_,
        group,
        limit_fn(),
        keep_drop("keep", true),
        keep_drop("drop", false),
        per_table("sort", &["columns", "desc"], sort),
        buckets(),
        builtin_env("now", &[], false, |_, env, _| Ok(Value::Time(env.now))),
    ]
}

fn range(ev: &mut Evaluator<'_>, env: &Env, a: &Record) -> BResult<Value> {
    let s = stream_arg("range", a)?;
    let start = time_arg("range", "start", required("range", a, "start")?, env.now)?;
    let stop = match a.get("stop") {
        None | Some(Value::Null) => env.now,
        Some(v) => time_arg("range", "stop", v, env.now)?,
    };
    if start >= stop {
        return Err("cannot query an empty range".into());
    }
    if let StreamBody::Read(spec) = &s.body {
        if spec.range.is_none() {
            let mut spec = spec.clone();
            spec.range = Some((start, stop));
            return Ok(Value::Tables(Arc::new(Stream {
                body: StreamBody::Read(spec),
                name: s.name.clone(),
                bounds: s.bounds,
            })));
        }
    }
    let ranged = map_tables(ev, env, s, &mut |_, t| {
        let keep: Vec<bool> = match t.column("_time") {
            Some(c) => c
                .values
                .iter()
                .map(|v| matches!(v, Value::Time(x) if (start..stop).contains(x)))
                .collect(),
            None => return Err("range: missing column _time".into()),
        };
        let mut t = t.filter_rows(&keep);
        let n = t.len();
        for (label, v) in [("_start", start), ("_stop", stop)] {
            let col = crate::table::constant(label, ColKind::Time, Value::Time(v), n);
            match t.index_of(label) {
                Some(i) => t.columns[i] = col,
                None => t.columns.insert(0, col),
            }
            match t.key.iter_mut().find(|(k, _)| k == label) {
                Some(slot) => slot.1 = Value::Time(v),
                None => t.key.insert(0, (label.to_string(), Value::Time(v))),
            }
        }
        reorder_start_stop(&mut t);
        Ok(Some(t))
    })?;
    Ok(match ranged {
        Value::Tables(out) => Value::Tables(Arc::new(Stream {
            body: out.body.clone(),
            name: out.name.clone(),
            bounds: Some((start, stop)),
        })),
        other => other,
    })
}

/// Puts `_start`, `_stop` first, in that order, in the columns and the key.
fn reorder_start_stop(t: &mut Table) {
    let rank = |l: &str| match l {
        "_start" => 0,
        "_stop" => 1,
        _ => 2,
    };
    t.columns.sort_by_key(|c| rank(&c.label));
    t.key.sort_by_key(|(k, _)| rank(k));
}

fn filter(ev: &mut Evaluator<'_>, env: &Env, a: &Record) -> BResult<Value> {
    let s = stream_arg("filter", a)?;
    let f = required("filter", a, "fn")?.clone();
    let keep_empty = match string_arg("filter", a, "onEmpty", "drop")?.as_str() {
        "drop" => false,
        "keep" => true,
        other => {
            return Err(
                format!("filter: onEmpty must be \"drop\" or \"keep\", not {other:?}").into(),
            )
        }
    };
    let (pushed, rest) = match &f {
        Value::Function(c) => split_pushdown(c),
        _ => (Vec::new(), true),
    };
    if let StreamBody::Read(spec) = &s.body {
        if (!pushed.is_empty() || !rest) && !keep_empty {
            let mut spec = spec.clone();
            spec.preds.extend(pushed);
            let narrowed = Stream {
                body: StreamBody::Read(spec),
                name: s.name.clone(),
                bounds: s.bounds,
            };
            if !rest {
                return Ok(Value::Tables(Arc::new(narrowed)));
            }
            return filter_rows(ev, env, &narrowed, &f, keep_empty);
        }
    }
    filter_rows(ev, env, s, &f, keep_empty)
}

/// Evaluates `f` on every row.
fn filter_rows(
    ev: &mut Evaluator<'_>,
    env: &Env,
    s: &Stream,
    f: &Value,
    keep_empty: bool,
) -> BResult<Value> {
    let param = row_param(f);
    map_tables(ev, env, s, &mut |ev, t| {
        let mut keep = Vec::with_capacity(t.len());
        for row in 0..t.len() {
            let r = row_record(t, row);
            let mut args = Record::new();
            args.set(param.clone(), Value::Record(Arc::new(r)));
            let v = ev
                .call(f, args, None)
                .map_err(|e| EvalErrorKind::Builtin(e.to_string()))?;
            keep.push(match v {
                Value::Bool(b) => b,
                Value::Null => false,
                other => {
                    return Err(
                        format!("filter: fn must return bool, found {}", other.kind()).into(),
                    )
                }
            });
        }
        let t = t.filter_rows(&keep);
        Ok((!t.is_empty() || keep_empty).then_some(t))
    })
}

/// The name of a row function's parameter (`r` in `(r) => …`).
pub(crate) fn row_param(f: &Value) -> String {
    match f {
        Value::Function(c) => c
            .expr
            .params
            .first()
            .map(|p| p.key.name().to_string())
            .unwrap_or_else(|| "r".into()),
        _ => "r".into(),
    }
}

/// Row `row` of `t` as a record (the `r` a row function receives).
pub(crate) fn row_record(t: &Table, row: usize) -> Record {
    Record::from_unique(
        t.columns
            .iter()
            .map(|c| (c.label.clone(), c.values[row].clone()))
            .collect(),
    )
}

/// The conjuncts of a filter function a storage read can apply (tests of `_measurement`,
/// `_field` and tags against string literals, `==`/`!=`, or regular expression literals,
/// `=~`/`!~`), and whether anything is left to evaluate per row.
fn split_pushdown(c: &Closure) -> (Vec<Pred>, bool) {
    let param = match c.expr.params.as_slice() {
        [p] => p.key.name().to_string(),
        _ => return (Vec::new(), true),
    };
    let FunctionBody::Expression(body) = &c.expr.body else {
        return (Vec::new(), true);
    };
    let mut conjuncts = Vec::new();
    flatten_and(body, &mut conjuncts);
    let mut pushed = Vec::new();
    let mut rest = false;
    for e in conjuncts {
        // `true` (as the `schema` functions' default predicate is) holds for every row
        if matches!(e, Expression::Identifier(i) if i.name == "true")
            && matches!(c.scope.lookup("true"), Some(Value::Bool(true)))
        {
            continue;
        }
        match pushable(e, &param, &c.scope) {
            Some(p) => pushed.push(p),
            None => rest = true,
        }
    }
    (pushed, rest)
}

fn flatten_and<'a>(e: &'a Expression, out: &mut Vec<&'a Expression>) {
    match e {
        Expression::ParenExpression(p) => flatten_and(&p.expression, out),
        Expression::LogicalExpression(l) if l.operator == LogicalOperator::And => {
            flatten_and(&l.left, out);
            flatten_and(&l.right, out);
        }
        other => out.push(other),
    }
}

/// A predicate on a column a storage read knows (anything but `_value`, `_time`, `_start`,
/// `_stop`), if `e` is one.
fn pushable(e: &Expression, param: &str, scope: &Scope) -> Option<Pred> {
    match e {
        Expression::ParenExpression(p) => pushable(&p.expression, param, scope),
        Expression::LogicalExpression(l) => {
            let (a, b) = (
                pushable(&l.left, param, scope)?,
                pushable(&l.right, param, scope)?,
            );
            Some(match l.operator {
                LogicalOperator::And => Pred::And(vec![a, b]),
                LogicalOperator::Or => Pred::Or(vec![a, b]),
            })
        }
        Expression::BinaryExpression(b)
            if matches!(b.operator, Operator::RegexpMatch | Operator::NotRegexpMatch) =>
        {
            let (Expression::MemberExpression(col), Expression::RegexpLiteral(re)) =
                (&b.left, &b.right)
            else {
                return None;
            };
            let name = row_column(col, param)?;
            let re = Pattern::new(&re.value)?;
            Some(if b.operator == Operator::RegexpMatch {
                Pred::Match(name.to_string(), re)
            } else {
                Pred::NotMatch(name.to_string(), re)
            })
        }
        Expression::BinaryExpression(b)
            if matches!(b.operator, Operator::Equal | Operator::NotEqual) =>
        {
            let (col, lit) = match (&b.left, &b.right) {
                (Expression::MemberExpression(m), other)
                | (other, Expression::MemberExpression(m)) => {
                    (m, string_operand(other, param, scope)?)
                }
                _ => return None,
            };
            let name = row_column(col, param)?;
            Some(if b.operator == Operator::Equal {
                Pred::Eq(name.to_string(), lit)
            } else {
                Pred::NotEq(name.to_string(), lit)
            })
        }
        _ => None,
    }
}

/// The string `e` is before any row is read: a literal, or a variable of the function's
/// scope holding one (`(r) => r._measurement == measurement`, as the `schema` package
/// writes its predicates).
fn string_operand(e: &Expression, param: &str, scope: &Scope) -> Option<String> {
    match e {
        Expression::StringLiteral(s) => Some(s.value.clone()),
        Expression::Identifier(i) if i.name != param => match scope.lookup(&i.name)? {
            Value::String(s) => Some(s.to_string()),
            _ => None,
        },
        _ => None,
    }
}

/// The column `r.<name>` names when it is one a storage read knows before reading rows.
fn row_column<'a>(col: &'a crate::ast::MemberExpression, param: &str) -> Option<&'a str> {
    match &col.object {
        Expression::Identifier(i) if i.name == param => {}
        _ => return None,
    }
    let name = col.property.name();
    (!matches!(name, "_value" | "_time" | "_start" | "_stop")).then_some(name)
}

/// `limit(n:, offset:)`: rows `offset..offset + n` of each table. Over a storage read, each
/// series' table is built from only the rows it keeps (a dashboard's "first 5 per host"
/// reads every series but builds 5 rows of each); when the filter names its fields, the
/// oldest 64th of the range is read first and the whole range only for the series with
/// fewer than `offset + n` values there (as `first()` reads: [`super::edge_read`]).
fn limit_fn() -> Builtin {
    builtin_env("limit", &["n", "offset"], true, |ev, env, a| {
        let s = stream_arg("limit", a)?;
        let (n, offset) = limit_args(a)?;
        if let StreamBody::Read(spec) = &s.body {
            if let (None, Some(range), true) = (&spec.group, spec.range, n > 0) {
                let need = offset.saturating_add(n);
                let mut answer = |_: &mut Evaluator<'_>,
                                  sc: SeriesColumns<'_>,
                                  second: bool|
                 -> BResult<Option<Table>> {
                    // up to the row holding the (offset + n)th value
                    let mut seen = 0;
                    let end = sc
                        .values
                        .iter()
                        .position(|v| {
                            seen += usize::from(v.is_some());
                            seen == need
                        })
                        .map_or(sc.values.len(), |i| i + 1);
                    if seen < need && !second {
                        return Ok(None); // the rest of the range may hold more
                    }
                    let kept = SeriesColumns {
                        times: &sc.times[..end],
                        values: &sc.values[..end],
                        ..sc
                    };
                    Ok(series_columns_table(range, &kept).map(|t| limited(&t, n, offset)))
                };
                let tables = match edge_plan(spec, false, true) {
                    Some(plan) => in_two_steps(ev, env, spec, &plan, &mut answer)?,
                    None => collect(ev, env, spec, &mut |ev, sc| answer(ev, sc, true))?,
                };
                return Ok(output(s, tables));
            }
        }
        map_tables(ev, env, s, &mut |_, t| Ok(Some(limited(t, n, offset))))
    })
}

pub(super) fn limit_args(a: &Record) -> BResult<(usize, usize)> {
    let n = int_arg("limit", a, "n", None)?;
    let offset = int_arg("limit", a, "offset", Some(0))?;
    if n < 0 || offset < 0 {
        return Err("limit: n and offset must not be negative".into());
    }
    Ok((n as usize, offset as usize))
}

/// Rows `offset..offset + n` of `t`.
fn limited(t: &Table, n: usize, offset: usize) -> Table {
    let keep: Vec<bool> = (0..t.len())
        .map(|i| i >= offset && i - offset < n)
        .collect();
    t.filter_rows(&keep)
}

/// `keep` / `drop` (`keep` false): the columns named in `columns`, or those for which
/// `fn: (column) => bool` is true, are kept (dropped); the group key follows.
fn keep_drop(name: &'static str, keep: bool) -> Builtin {
    builtin_env(name, &["columns", "fn"], true, move |ev, env, a| {
        let s = stream_arg(name, a)?;
        let f = a.get("fn").filter(|v| !v.is_null()).cloned();
        let columns = strings_arg(name, a, "columns")?.unwrap_or_default();
        if f.is_some() && !columns.is_empty() {
            return Err(format!("{name}: give columns or fn, not both").into());
        }
        let param = f.as_ref().map(row_param).unwrap_or_default();
        map_tables(ev, env, s, &mut |ev, t| {
            let mut chosen = Vec::with_capacity(t.columns.len());
            for c in &t.columns {
                let named = match &f {
                    None => columns.contains(&c.label),
                    Some(f) => {
                        let mut args = Record::new();
                        args.set(param.clone(), Value::string(&c.label));
                        match ev.call(f, args, None) {
                            Ok(Value::Bool(b)) => b,
                            Ok(Value::Null) => false,
                            Ok(other) => {
                                return Err(format!(
                                    "{name}: fn must return a bool, found {}",
                                    other.kind()
                                )
                                .into())
                            }
                            Err(e) => return Err(EvalErrorKind::Builtin(e.to_string())),
                        }
                    }
                };
                chosen.push(named == keep);
            }
            let columns: Vec<Column> = t
                .columns
                .iter()
                .zip(&chosen)
                .filter(|(_, &k)| k)
                .map(|(c, _)| c.clone())
                .collect();
            Ok(Some(Table {
                key: t
                    .key
                    .iter()
                    .filter(|(k, _)| columns.iter().any(|c| c.label == *k))
                    .cloned()
                    .collect(),
                columns,
            }))
        })
    })
}

fn sort(a: &Record, t: &Table) -> BResult<Option<Table>> {
    let (columns, desc) = sort_args(a)?;
    let mut order: Vec<usize> = (0..t.len()).collect();
    order.sort_by(row_order(t, &columns, desc));
    Ok(Some(rows_in_order(t, &order)))
}

/// `sort(columns:, desc:)`'s arguments.
pub(super) fn sort_args(a: &Record) -> BResult<(Vec<String>, bool)> {
    let columns = strings_arg("sort", a, "columns")?.unwrap_or_else(|| vec!["_value".into()]);
    Ok((columns, bool_arg("sort", a, "desc", false)?))
}

/// `sort`'s order of two rows of `t` (a stable sort keeps equal rows in table order).
pub(super) fn row_order<'t>(
    t: &'t Table,
    columns: &[String],
    desc: bool,
) -> impl Fn(&usize, &usize) -> std::cmp::Ordering + 't {
    let idx: Vec<usize> = columns.iter().filter_map(|c| t.index_of(c)).collect();
    move |&x, &y| {
        let o = idx
            .iter()
            .map(|&c| compare_cells(&t.columns[c].values[x], &t.columns[c].values[y]))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal);
        if desc {
            o.reverse()
        } else {
            o
        }
    }
}

/// Rows `order` of `t`, in that order.
pub(super) fn rows_in_order(t: &Table, order: &[usize]) -> Table {
    Table {
        key: t.key.clone(),
        columns: t
            .columns
            .iter()
            .map(|c| Column {
                label: c.label.clone(),
                kind: c.kind,
                values: order.iter().map(|&i| c.values[i].clone()).collect(),
            })
            .collect(),
    }
}

/// Orders two cells of one column: nulls first, then by value.
pub(crate) fn compare_cells(a: &Value, b: &Value) -> std::cmp::Ordering {
    use std::cmp::Ordering::*;
    match (a, b) {
        (Value::Null, Value::Null) => Equal,
        (Value::Null, _) => Less,
        (_, Value::Null) => Greater,
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Time(x), Value::Time(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ => crate::value::compare_numbers(a, b).unwrap_or(Equal),
    }
}

/// `group(columns:, mode:)`: rows regrouped by the values of the key columns, tables in order
/// of their first row; a column missing from some input tables is null there.
fn buckets() -> Builtin {
    builtin_env(
        "buckets",
        &["org", "orgID", "host", "token"],
        false,
        |_, env, _| {
            let list = env.source.buckets().map_err(source_error)?;
            let mut by_org: Vec<(String, Vec<usize>)> = Vec::new();
            for (i, b) in list.iter().enumerate() {
                match by_org.iter_mut().find(|(o, _)| *o == b.org_id) {
                    Some((_, v)) => v.push(i),
                    None => by_org.push((b.org_id.clone(), vec![i])),
                }
            }
            let tables = by_org
                .into_iter()
                .map(|(org, idx)| {
                    let col = |label: &str, kind, f: &dyn Fn(usize) -> Value| Column {
                        label: label.into(),
                        kind,
                        values: idx.iter().map(|&i| f(i)).collect(),
                    };
                    Table {
                        key: vec![("organizationID".into(), Value::string(&org))],
                        columns: vec![
                            col("name", ColKind::String, &|i| Value::string(&list[i].name)),
                            col("id", ColKind::String, &|i| Value::string(&list[i].id)),
                            col("organizationID", ColKind::String, &|i| {
                                Value::string(&list[i].org_id)
                            }),
                            col("retentionPolicy", ColKind::String, &|_| Value::Null),
                            col("retentionPeriod", ColKind::Int, &|i| {
                                Value::Int(list[i].retention_ns)
                            }),
                        ],
                    }
                })
                .collect();
            Ok(Value::Tables(Arc::new(Stream {
                body: StreamBody::Tables(Arc::new(tables)),
                name: None,
                bounds: None,
            })))
        },
    )
}
