//! The universe's `join(tables: {a: A, b: B}, on: [...], method: "inner")`, as Flux's
//! merge join (`stdlib/universe/join.go`) computes it:
//!
//! * the two streams are named by the record's keys; the first name in alphabetical order is
//!   the left side; `on` is required and not empty, `method` may only be `"inner"`;
//! * a table lacking one of the `on` columns, or with a null `on` value in its group key,
//!   takes no part;
//! * a left and a right table are joined when their group keys agree on the `on` columns
//!   both sides group by; their rows pair up where every `on` value is equal (a null equals
//!   nothing), left rows first;
//! * a column both sides have that is not in `on` is renamed `<column>_<name>`; the output's
//!   columns are sorted by label, its group key is the union of both group keys (renamed the
//!   same way), and the tables come in the order of their group keys; an empty one is left out;
//! * the rows a pair of runs of equal `on` values makes are charged against the memory limit
//!   before they are built, so a cross product fails with the limit's error instead of
//!   exhausting the node.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use super::args::{required, string_arg, strings_arg, wrong_type, BResult};
use super::streams::{builtin_env, tables, Env};
use super::transform::compare_cells;
use crate::eval::{Builtin, Evaluator};
use crate::table::{ColKind, Column, Stream, StreamBody, Table};
use crate::value::{Kind, Record, Value};

const F: &str = "join";

pub(super) fn builtin_fn() -> Builtin {
    builtin_env("join", &["tables", "on", "method"], false, join_builtin)
}

fn join_builtin(ev: &mut Evaluator<'_>, env: &Env, a: &Record) -> BResult<Value> {
    let streams = match required(F, a, "tables")? {
        Value::Record(r) => r.clone(),
        other => return Err(wrong_type(F, "tables", Kind::Record, other)),
    };
    let mut on =
        strings_arg(F, a, "on")?.ok_or_else(|| format!("{F}: missing required argument on"))?;
    if on.is_empty() {
        return Err(format!("{F}: at least one column in 'on' column list is required").into());
    }
    on.sort();
    on.dedup();
    let method = string_arg(F, a, "method", "inner")?;
    if method != "inner" {
        return Err(format!("{F}: {method} is not a valid join type").into());
    }
    let mut named: Vec<(&str, &Arc<Stream>)> = Vec::new();
    for (name, v) in streams.fields() {
        match v {
            Value::Tables(s) => named.push((name, s)),
            other => {
                return Err(format!(
                    "{F}: expected {name:?} to be a stream of tables, found {}",
                    other.kind()
                )
                .into())
            }
        }
    }
    if named.len() != 2 {
        return Err(format!("{F}: joins currently must only have two parents").into());
    }
    named.sort_by(|a, b| a.0.cmp(b.0));
    let left = tables(ev, env, named[0].1)?;
    let right = tables(ev, env, named[1].1)?;
    let out = join(ev, (named[0].0, &left), (named[1].0, &right), &on)?;
    Ok(Value::Tables(Arc::new(Stream {
        body: StreamBody::Tables(Arc::new(out)),
        name: None,
        bounds: named[0].1.bounds().or(named[1].1.bounds()),
    })))
}

/// Where an output column's values come from.
#[derive(Clone, Copy)]
enum From {
    Left(usize),
    Right(usize),
    Nowhere,
}

fn join(
    ev: &mut Evaluator<'_>,
    (lname, left): (&str, &[Table]),
    (rname, right): (&str, &[Table]),
    on: &[String],
) -> BResult<Vec<Table>> {
    fn usable<'t>(ts: &'t [Table], on: &[String]) -> Vec<&'t Table> {
        ts.iter()
            .filter(|t| {
                on.iter()
                    .all(|c| t.column(c).is_some() && !t.key_value(c).is_some_and(Value::is_null))
            })
            .collect()
    }
    let (l, r) = (usable(left, on), usable(right, on));
    let (Some(l0), Some(r0)) = (l.first(), r.first()) else {
        return Ok(Vec::new());
    };
    let grouped_on: Vec<&String> = on.iter().filter(|c| l0.in_key(c) && r0.in_key(c)).collect();
    let (lcols, rcols) = (columns_of(&l), columns_of(&r));
    let shared = |label: &str| {
        lcols.iter().any(|(c, _)| c == label) && rcols.iter().any(|(c, _)| c == label)
    };
    let rename = |side: &str, label: &str| {
        if shared(label) && !on.iter().any(|c| c == label) {
            format!("{label}_{side}")
        } else {
            label.to_string()
        }
    };
    let mut schema: Vec<(String, ColKind)> = Vec::new();
    for (side, cols) in [(lname, &lcols), (rname, &rcols)] {
        for (label, kind) in cols {
            let new = rename(side, label);
            if !schema.iter().any(|(s, _)| *s == new) {
                schema.push((new, *kind));
            }
        }
    }
    schema.sort_by(|a, b| a.0.cmp(&b.0));

    let mut out: Vec<Table> = Vec::new();
    let mut by_key: HashMap<String, usize> = HashMap::new();
    for lt in &l {
        for rt in &r {
            let agree = grouped_on
                .iter()
                .all(|c| match (lt.key_value(c), rt.key_value(c)) {
                    (Some(a), Some(b)) => same(a, b),
                    _ => false,
                });
            if !agree {
                continue;
            }
            let sources: Vec<From> = schema
                .iter()
                .map(|(label, _)| {
                    if let Some(i) = lt
                        .columns
                        .iter()
                        .position(|c| rename(lname, &c.label) == *label)
                    {
                        return From::Left(i);
                    }
                    rt.columns
                        .iter()
                        .position(|c| rename(rname, &c.label) == *label)
                        .map_or(From::Nowhere, From::Right)
                })
                .collect();
            let mut columns: Vec<Vec<Value>> = vec![Vec::new(); schema.len()];
            for (li, ri) in matches(ev, lt, rt, on, schema.len())? {
                for (col, from) in columns.iter_mut().zip(&sources) {
                    col.push(match *from {
                        From::Left(c) => lt.columns[c].values[li].clone(),
                        From::Right(c) => rt.columns[c].values[ri].clone(),
                        From::Nowhere => Value::Null,
                    });
                }
            }
            if columns.first().is_none_or(Vec::is_empty) {
                continue;
            }
            let mut key: Vec<(String, Value)> = Vec::new();
            for (side, t) in [(lname, lt), (rname, rt)] {
                for (label, v) in &t.key {
                    let new = rename(side, label);
                    if !key.iter().any(|(k, _)| *k == new) {
                        key.push((new, v.clone()));
                    }
                }
            }
            key.sort_by(|a, b| a.0.cmp(&b.0));
            let fingerprint = format!("{key:?}");
            match by_key.get(&fingerprint) {
                Some(&i) => {
                    for (c, more) in out[i].columns.iter_mut().zip(columns) {
                        c.values.extend(more);
                    }
                }
                None => {
                    by_key.insert(fingerprint, out.len());
                    out.push(Table {
                        key,
                        columns: schema
                            .iter()
                            .zip(columns)
                            .map(|((label, kind), values)| Column {
                                label: label.clone(),
                                kind: *kind,
                                values,
                            })
                            .collect(),
                    });
                }
            }
        }
    }
    out.sort_by(|a, b| key_order(&a.key, &b.key));
    Ok(out)
}

/// The labels and types of the columns of `tables`, in order of first appearance.
fn columns_of(tables: &[&Table]) -> Vec<(String, ColKind)> {
    let mut cols: Vec<(String, ColKind)> = Vec::new();
    for t in tables {
        for c in &t.columns {
            if !cols.iter().any(|(l, _)| *l == c.label) {
                cols.push((c.label.clone(), c.kind));
            }
        }
    }
    cols
}

/// The pairs of rows (left, right) whose `on` values are all equal, in the order of those
/// values, left rows first; each run's product is charged before it is made.
fn matches(
    ev: &mut Evaluator<'_>,
    lt: &Table,
    rt: &Table,
    on: &[String],
    width: usize,
) -> BResult<Vec<(usize, usize)>> {
    let (lk, rk) = (on_values(lt, on), on_values(rt, on));
    let (lo, ro) = (sorted_rows(&lk), sorted_rows(&rk));
    let mut pairs = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < lo.len() && j < ro.len() {
        let (a, b) = (&lk[lo[i]], &rk[ro[j]]);
        if a.iter().any(Value::is_null) {
            i += 1;
            continue;
        }
        if b.iter().any(Value::is_null) {
            j += 1;
            continue;
        }
        match compare_rows(a, b) {
            Ordering::Less => i += 1,
            Ordering::Greater => j += 1,
            Ordering::Equal => {
                let i_end = run_end(&lk, &lo, i);
                let j_end = run_end(&rk, &ro, j);
                if a.iter().zip(b).all(|(x, y)| same(x, y)) {
                    let n = (i_end - i).saturating_mul(j_end - j);
                    ev.charge_bytes(n.saturating_mul(width * std::mem::size_of::<Value>()))?;
                    for &li in &lo[i..i_end] {
                        for &ri in &ro[j..j_end] {
                            pairs.push((li, ri));
                        }
                    }
                }
                (i, j) = (i_end, j_end);
            }
        }
    }
    Ok(pairs)
}

/// Each row's values of the `on` columns.
fn on_values(t: &Table, on: &[String]) -> Vec<Vec<Value>> {
    let cols: Vec<&Column> = on.iter().filter_map(|c| t.column(c)).collect();
    (0..t.len())
        .map(|row| cols.iter().map(|c| c.values[row].clone()).collect())
        .collect()
}

/// The row indices ordered by their values (stable, nulls first).
fn sorted_rows(keys: &[Vec<Value>]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by(|&a, &b| compare_rows(&keys[a], &keys[b]));
    order
}

/// Orders two rows of values column by column (nulls first).
pub(super) fn compare_rows(a: &[Value], b: &[Value]) -> Ordering {
    a.iter()
        .zip(b)
        .map(|(x, y)| compare_cells(x, y))
        .find(|o| o.is_ne())
        .unwrap_or(Ordering::Equal)
}

/// The end of the run of rows equal to `order[start]`.
fn run_end(keys: &[Vec<Value>], order: &[usize], start: usize) -> usize {
    let first = &keys[order[start]];
    start
        + order[start..]
            .iter()
            .take_while(|&&r| compare_rows(&keys[r], first).is_eq())
            .count()
}

/// Whether two cells join: equal values of one type (a null equals nothing).
pub(super) fn same(a: &Value, b: &Value) -> bool {
    !a.is_null() && a.kind() == b.kind() && a.equals(b)
}

/// The order of output tables: by their group keys' labels, then values.
pub(super) fn key_order(a: &[(String, Value)], b: &[(String, Value)]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let o = x.0.cmp(&y.0).then_with(|| compare_cells(&x.1, &y.1));
        if o.is_ne() {
            return o;
        }
    }
    a.len().cmp(&b.len())
}
