//! `distinct`, `unique` and `keys`: the functions the `schema` package is written with.
//!
//! * `distinct(column: "_value")`: per table, the distinct values of the column in order of
//!   first appearance (nulls count once), as `_value`, beside the group key's columns; a
//!   column of the group key gives its one value.
//! * `unique(column: "_value")`: per table, the first row of each distinct value.
//! * `keys(column: "_value")`: per table, one row per group-key column, its label in
//!   `column`, beside the group key's columns.
//! * `mode(column: "_value")`: per table, the non-null values that occur most often, as
//!   `_value` in ascending order beside the group key's columns; one null row when every
//!   value occurs as often as every other (or there are none): Flux's `mode.go` rules, with
//!   its answers for a column of the group key (its value) and a missing column (`""`).

use std::collections::{HashMap, HashSet};

use super::args::{string_arg, BResult};
use super::streams::per_table;
use crate::eval::Builtin;
use crate::table::{constant, ColKind, Column, Table};
use crate::value::{Record, Value};

pub(super) fn builtins() -> Vec<Builtin> {
    vec![
        per_table("distinct", &["column"], distinct),
        per_table("unique", &["column"], unique),
        per_table("keys", &["column"], keys),
        per_table("mode", &["column"], mode),
    ]
}

/// A fingerprint of a cell for set membership (kind and value).
pub(super) fn fingerprint(v: &Value) -> String {
    format!("{v:?}")
}

/// The group key's columns of `t`, each holding its value on `n` rows.
pub(super) fn key_columns(t: &Table, n: usize) -> Vec<Column> {
    t.key
        .iter()
        .map(|(label, v)| {
            let kind = t
                .column(label)
                .map(|c| c.kind)
                .or_else(|| ColKind::of(v))
                .unwrap_or(ColKind::String);
            constant(label, kind, v.clone(), n)
        })
        .collect()
}

fn distinct(a: &Record, t: &Table) -> BResult<Option<Table>> {
    let column = string_arg("distinct", a, "column", "_value")?;
    let Some(col) = t.column(&column) else {
        return Ok(None);
    };
    let values: Vec<Value> = if t.in_key(&column) {
        t.key_value(&column).cloned().into_iter().collect()
    } else {
        let mut seen = HashSet::new();
        col.values
            .iter()
            .filter(|v| seen.insert(fingerprint(v)))
            .cloned()
            .collect()
    };
    let mut columns = key_columns(t, values.len());
    columns.retain(|c| c.label != "_value");
    columns.push(Column {
        label: "_value".into(),
        kind: col.kind,
        values,
    });
    Ok(Some(Table {
        key: t.key.clone(),
        columns,
    }))
}

fn unique(a: &Record, t: &Table) -> BResult<Option<Table>> {
    let column = string_arg("unique", a, "column", "_value")?;
    let Some(col) = t.column(&column) else {
        return Ok(None);
    };
    let mut seen = HashSet::new();
    let keep: Vec<bool> = col
        .values
        .iter()
        .map(|v| seen.insert(fingerprint(v)))
        .collect();
    Ok(Some(t.filter_rows(&keep)))
}

fn keys(a: &Record, t: &Table) -> BResult<Option<Table>> {
    let column = string_arg("keys", a, "column", "_value")?;
    let labels: Vec<Value> = t.key.iter().map(|(k, _)| Value::string(k)).collect();
    let mut columns = key_columns(t, labels.len());
    columns.retain(|c| c.label != column);
    columns.push(Column {
        label: column,
        kind: ColKind::String,
        values: labels,
    });
    Ok(Some(Table {
        key: t.key.clone(),
        columns,
    }))
}

fn mode(a: &Record, t: &Table) -> BResult<Option<Table>> {
    let column = string_arg("mode", a, "column", "_value")?;
    let (kind, values) = match t.column(&column) {
        None => (ColKind::String, vec![Value::string("")]),
        Some(col) if t.in_key(&column) => (
            col.kind,
            t.key_value(&column).cloned().into_iter().collect(),
        ),
        Some(col) => (col.kind, modes(&col.values)),
    };
    let mut columns = key_columns(t, values.len());
    columns.retain(|c| c.label != "_value");
    Ok(Some(with_values(t, columns, kind, values)))
}

/// A table of `t`'s group key with `columns` and then a `_value` column of `values`.
pub(super) fn with_values(
    t: &Table,
    mut columns: Vec<Column>,
    kind: ColKind,
    values: Vec<Value>,
) -> Table {
    columns.push(Column {
        label: "_value".into(),
        kind,
        values,
    });
    Table {
        key: t.key.clone(),
        columns,
    }
}

/// The most frequent non-null values, ascending; `[null]` when all are as frequent.
fn modes(values: &[Value]) -> Vec<Value> {
    let mut counts: HashMap<String, (usize, &Value)> = HashMap::new();
    for v in values.iter().filter(|v| !v.is_null()) {
        counts.entry(fingerprint(v)).or_insert((0, v)).0 += 1;
    }
    let max = counts.values().map(|(n, _)| *n).max().unwrap_or(0);
    let mut most: Vec<Value> = counts
        .values()
        .filter(|(n, _)| *n == max)
        .map(|(_, v)| (*v).clone())
        .collect();
    if most.len() == counts.len() {
        return vec![Value::Null];
    }
    most.sort_by(order);
    most
}

/// Ascending order of two values of one column.
fn order(a: &Value, b: &Value) -> std::cmp::Ordering {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Time(x), Value::Time(y)) => x.cmp(y),
        _ => crate::value::compare_numbers(a, b).unwrap_or(std::cmp::Ordering::Equal),
    }
}
