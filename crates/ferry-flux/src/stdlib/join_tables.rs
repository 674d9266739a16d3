//! The `join` package's `tables(left: <-, right:, on: (l, r) => …, as: (l, r) => …, method:)`,
//! as Flux computes it (`stdlib/join/*.go`); `inner`, `left`, `right`, `full` and `time` are
//! written in Flux on top of it (`join.flux`).
//!
//! * `on` must be one comparison `l.a == r.b`, or several joined by `and` (Flux's equi-join
//!   rule and its errors);
//! * only tables with the same group key are compared; each group's rows pair up where every
//!   pair of `on` columns is equal (a null equals nothing), in the order of those values;
//! * `as` makes each output row from a left and a right record; for an outer join a row
//!   without a match is paired with a default record of the other side: its columns, null
//!   but for the group key's;
//! * the output keeps the group key, which `as` may not change; its columns are sorted by label;
//! * each product is charged against the memory limit before `as` runs on it.

use std::collections::HashMap;
use std::sync::Arc;

use super::args::BResult;
use super::join::{compare_rows, key_order, same};
use super::streams::{env_of, tables};
use super::transform::row_record;
use crate::ast::{Expression, FunctionBody, LogicalOperator, Operator, Statement};
use crate::eval::{Builtin, EvalErrorKind, Evaluator};
use crate::table::{Column, Stream, StreamBody, Table};
use crate::value::{Record, Value};

const F: &str = "join.tables";

pub(super) fn tables_fn() -> Builtin {
    Builtin {
        name: "tables".into(),
        params: ["right", "on", "as", "method"].map(String::from).to_vec(),
        pipe: Some("left".into()),
        func: Box::new(move |ev, a| {
            let env = env_of(ev)?;
            let stream = |side: &str| -> BResult<Arc<Stream>> {
                match a.get(side) {
                    None | Some(Value::Null) => {
                        Err(format!("{F}: missing required argument '{side}'").into())
                    }
                    Some(Value::Tables(s)) => Ok(s.clone()),
                    Some(_) => Err(format!("{F}: argument '{side}' must be a table stream").into()),
                }
            };
            let (left, right) = (stream("left")?, stream("right")?);
            let function = |name: &str| match a.get(name) {
                Some(f @ (Value::Function(_) | Value::Builtin(_))) => Ok(f.clone()),
                Some(other) if !other.is_null() => Err(EvalErrorKind::from(format!(
                    "{F}: argument {name}: expected function but found {}",
                    other.kind()
                ))),
                _ => Err(format!("{F}: missing required argument {name}").into()),
            };
            let on = column_pairs(&function("on")?)?;
            let as_fn = function("as")?;
            let method = match a.get("method") {
                Some(Value::String(m)) => m.to_string(),
                _ => return Err(format!("{F}: missing required argument method").into()),
            };
            if !["inner", "left", "right", "full"].contains(&method.as_str()) {
                return Err(format!(
                    "{F}: invalid argument for 'method' - must be \"inner\", \"left\", \"right\", \
                     or \"full\""
                )
                .into());
            }
            let lt = tables(ev, env, &left)?;
            let rt = tables(ev, env, &right)?;
            let out = join(ev, &lt, &rt, &on, &as_fn, &method)?;
            Ok(Value::Tables(Arc::new(Stream {
                body: StreamBody::Tables(Arc::new(out)),
                name: None,
                bounds: left.bounds().or(right.bounds()),
            })))
        }),
    }
}

/// The (left, right) column pairs of an `on` function, or Flux's error for a predicate its
/// equi-join cannot run.
fn column_pairs(f: &Value) -> BResult<Vec<(String, String)>> {
    let Value::Function(c) = f else {
        return Err(unsupported("function body should be a single logical expression that compares columns from each table"));
    };
    let body = match &c.expr.body {
        FunctionBody::Expression(e) => e,
        FunctionBody::Block(b) => match b.body.as_slice() {
            [Statement::ReturnStatement(r)] => &r.argument,
            _ => return Err(unsupported("function body should be a single logical expression that compares columns from each table")),
        },
    };
    let mut pairs = Vec::new();
    walk(body, &mut pairs)?;
    Ok(pairs)
}

fn walk(e: &Expression, pairs: &mut Vec<(String, String)>) -> BResult<()> {
    match e {
        Expression::ParenExpression(p) => walk(&p.expression, pairs),
        Expression::LogicalExpression(l) => {
            if l.operator != LogicalOperator::And {
                return Err(unsupported("unsupported operator in join predicate: or"));
            }
            walk(&l.left, pairs)?;
            walk(&l.right, pairs)
        }
        Expression::BinaryExpression(b) => {
            if b.operator != Operator::Equal {
                return Err(unsupported(&format!(
                    "unsupported operator in join predicate: {}",
                    b.operator.as_str()
                )));
            }
            let side = |e: &Expression, which: &str| match e {
                Expression::MemberExpression(m) => match &m.object {
                    Expression::Identifier(id) => {
                        Ok((id.name.clone(), m.property.name().to_string()))
                    }
                    _ => Err(EvalErrorKind::from(format!(
                        "{F}: invalid member expression"
                    ))),
                },
                _ => Err(unsupported(&format!(
                    "{which} side of comparison is not a member expression"
                ))),
            };
            let (lob, lcol) = side(&b.left, "left")?;
            let (rob, rcol) = side(&b.right, "right")?;
            if !((lob == "l") != (rob == "l") && (lob == "r") != (rob == "r")) {
                return Err(unsupported(
                    "binary expression operands must reference `l` or `r` only, and may not \
                     reference the same object",
                ));
            }
            pairs.push(if lob == "l" {
                (lcol, rcol)
            } else {
                (rcol, lcol)
            });
            Ok(())
        }
        other => {
            let kind = serde_json::to_value(other)
                .ok()
                .and_then(|v| v["type"].as_str().map(str::to_string))
                .unwrap_or_default();
            Err(unsupported(&format!(
                "illegal expression type in join predicate: {kind}"
            )))
        }
    }
}

fn unsupported(msg: &str) -> EvalErrorKind {
    format!(
        "{F}: error in join function - some expressions are not yet supported in the `on` \
         parameter: {msg}"
    )
    .into()
}

/// One group key's tables: the left's and the right's.
struct Group<'a> {
    key: Vec<(String, Value)>,
    left: Vec<&'a Table>,
    right: Vec<&'a Table>,
}

fn join(
    ev: &mut Evaluator<'_>,
    left: &[Table],
    right: &[Table],
    on: &[(String, String)],
    as_fn: &Value,
    method: &str,
) -> BResult<Vec<Table>> {
    let mut groups: Vec<Group<'_>> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (is_left, ts) in [(true, left), (false, right)] {
        for t in ts.iter().filter(|t| !t.is_empty()) {
            let mut key = t.key.clone();
            key.sort_by(|a, b| a.0.cmp(&b.0));
            let gi = *index.entry(format!("{key:?}")).or_insert_with(|| {
                groups.push(Group {
                    key,
                    left: Vec::new(),
                    right: Vec::new(),
                });
                groups.len() - 1
            });
            let side = if is_left { "left" } else { "right" };
            for (l, r) in on {
                let col = if is_left { l } else { r };
                if t.column(col).is_none() {
                    return Err(format!(
                        "{F}: cannot set join columns in {side} table stream: table is missing \
                         column '{col}'"
                    )
                    .into());
                }
            }
            if is_left {
                groups[gi].left.push(t);
            } else {
                groups[gi].right.push(t);
            }
        }
    }
    groups.sort_by(|a, b| key_order(&a.key, &b.key));
    let (first_left, first_right) = (
        left.iter().find(|t| !t.is_empty()),
        right.iter().find(|t| !t.is_empty()),
    );
    let mut out = Vec::new();
    for g in &groups {
        let lrows = side_rows(&g.left, on.iter().map(|p| p.0.as_str()));
        let rrows = side_rows(&g.right, on.iter().map(|p| p.1.as_str()));
        // the records are a second copy of the group's rows
        let copied: usize = g.left.iter().chain(&g.right).map(|t| t.weight()).sum();
        ev.charge_bytes(copied)?;
        let ldefault = || default_row(g.left.first().copied().or(first_left), &g.key);
        let rdefault = || default_row(g.right.first().copied().or(first_right), &g.key);
        let mut records: Vec<Arc<Record>> = Vec::new();
        for (ls, rs) in products(&lrows, &rrows) {
            let (ls, rs) = match (ls.is_empty(), rs.is_empty()) {
                (true, _) if method == "inner" || method == "left" => continue,
                (_, true) if method == "inner" || method == "right" => continue,
                (true, _) => (vec![ldefault()], rs.iter().map(|r| r.1.clone()).collect()),
                (_, true) => (ls.iter().map(|r| r.1.clone()).collect(), vec![rdefault()]),
                _ => (
                    ls.iter().map(|r| r.1.clone()).collect(),
                    rs.iter().map(|r| r.1.clone()).collect::<Vec<_>>(),
                ),
            };
            let width = ls.first().map_or(0, |r| r.fields().len())
                + rs.first().map_or(0, |r| r.fields().len());
            let n = ls.len().saturating_mul(rs.len());
            ev.charge_bytes(n.saturating_mul(width.max(1) * std::mem::size_of::<Value>()))?;
            for l in &ls {
                for r in &rs {
                    let mut args = Record::new();
                    args.set("l", Value::Record(l.clone()));
                    args.set("r", Value::Record(r.clone()));
                    let rec = match ev.call(as_fn, args, None) {
                        Ok(Value::Record(rec)) => rec,
                        Ok(other) => {
                            return Err(format!(
                                "{F}: as must return a record, found {}",
                                other.kind()
                            )
                            .into())
                        }
                        Err(e) => return Err(EvalErrorKind::Builtin(e.to_string())),
                    };
                    check_key(&rec, g)?;
                    records.push(rec);
                }
            }
        }
        if let Some(t) = table(&g.key, &records)? {
            out.push(t);
        }
    }
    Ok(out)
}

/// A side's rows of one group, as (join key, record), ordered by join key, nulls last.
fn side_rows<'a>(
    ts: &[&Table],
    cols: impl Iterator<Item = &'a str> + Clone,
) -> Vec<(Vec<Value>, Arc<Record>)> {
    let mut rows: Vec<(Vec<Value>, Arc<Record>)> = Vec::new();
    for t in ts {
        for row in 0..t.len() {
            let key = cols
                .clone()
                .map(|c| t.column(c).map_or(Value::Null, |c| c.values[row].clone()))
                .collect();
            rows.push((key, Arc::new(row_record(t, row))));
        }
    }
    rows.sort_by(|a, b| {
        let (an, bn) = (has_null(&a.0), has_null(&b.0));
        an.cmp(&bn).then_with(|| compare_rows(&a.0, &b.0))
    });
    rows
}

fn has_null(k: &[Value]) -> bool {
    k.iter().any(Value::is_null)
}

type Rows<'a> = &'a [(Vec<Value>, Arc<Record>)];

/// The runs of rows with one join key, paired across the sides in key order; a run without a
/// match (and every row with a null in its key) is paired with nothing.
fn products<'a>(l: Rows<'a>, r: Rows<'a>) -> Vec<(Rows<'a>, Rows<'a>)> {
    let run = |rows: Rows<'a>, i: usize| -> usize {
        if has_null(&rows[i].0) {
            return i + 1;
        }
        i + rows[i..]
            .iter()
            .take_while(|x| x.0.iter().zip(&rows[i].0).all(|(a, b)| same(a, b)))
            .count()
    };
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < l.len() || j < r.len() {
        let take_left = |i: usize, j: usize| -> Option<bool> {
            match (l.get(i), r.get(j)) {
                (Some(_), None) => Some(true),
                (None, Some(_)) => Some(false),
                (Some(a), Some(b)) => {
                    if has_null(&a.0) || has_null(&b.0) {
                        return Some(!has_null(&a.0) || has_null(&b.0));
                    }
                    if a.0.iter().zip(&b.0).all(|(x, y)| same(x, y)) {
                        return None;
                    }
                    Some(compare_rows(&a.0, &b.0).is_le())
                }
                (None, None) => Some(true),
            }
        };
        match take_left(i, j) {
            None => {
                let (ie, je) = (run(l, i), run(r, j));
                out.push((&l[i..ie], &r[j..je]));
                (i, j) = (ie, je);
            }
            Some(true) => {
                let ie = run(l, i);
                out.push((&l[i..ie], &r[j..j]));
                i = ie;
            }
            Some(false) => {
                let je = run(r, j);
                out.push((&l[i..i], &r[j..je]));
                j = je;
            }
        }
    }
    out
}

/// A record of `t`'s columns, null but for the group key's.
fn default_row(t: Option<&Table>, key: &[(String, Value)]) -> Arc<Record> {
    let fields = match t {
        Some(t) => t
            .columns
            .iter()
            .map(|c| {
                let v = key
                    .iter()
                    .find(|(k, _)| *k == c.label)
                    .map_or(Value::Null, |(_, v)| v.clone());
                (c.label.clone(), v)
            })
            .collect(),
        None => key.to_vec(),
    };
    Arc::new(Record::from_unique(fields))
}

/// Flux's refusal of an output row that changes the group key.
fn check_key(rec: &Record, g: &Group<'_>) -> BResult<()> {
    for (label, v) in &g.key {
        if !rec
            .get(label)
            .is_some_and(|x| x.equals(v) || (x.is_null() && v.is_null()))
        {
            let t = g.left.first().or(g.right.first());
            let kind = t
                .and_then(|t| t.column(label))
                .map_or("string", |c| c.kind.kind().name());
            return Err(format!(
                "{F}: join cannot modify group key: output record has a missing or invalid \
                 value for column '{label}:{kind}'"
            )
            .into());
        }
    }
    Ok(())
}

/// The output table of one group: the records' fields as columns, sorted by label.
fn table(key: &[(String, Value)], records: &[Arc<Record>]) -> BResult<Option<Table>> {
    if records.is_empty() {
        return Ok(None);
    }
    let mut labels: Vec<&String> = Vec::new();
    for r in records {
        for (k, _) in r.fields() {
            if !labels.contains(&k) {
                labels.push(k);
            }
        }
    }
    labels.sort();
    let mut columns = Vec::with_capacity(labels.len());
    for label in labels {
        let values: Vec<Value> = records
            .iter()
            .map(|r| r.get(label).cloned().unwrap_or(Value::Null))
            .collect();
        let kind = super::reshape::column_kind(F, label, &values)?;
        columns.push(Column {
            label: label.clone(),
            kind,
            values,
        });
    }
    Ok(Some(Table {
        key: key.to_vec(),
        columns,
    }))
}
