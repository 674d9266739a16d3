//! `distinct`, `unique` and `keys`: the functions the `schema` package is written with.
//!
//! * `distinct(column: "_value")`: per table, the distinct values of the column in order of
//!   first appearance (nulls count once), as `_value`, beside the group key's columns; a
//!   column of the group key gives its one value.
//! * `unique(column: "_value")`: per table, the first row of each distinct value.
//! * `keys(column: "_value")`: per table, one row per group-key column, its label in
//!   `column`, beside the group key's columns.

use std::collections::HashSet;

use super::args::{string_arg, BResult};
use super::streams::{per_table, Env};
use crate::eval::Builtin;
use crate::table::{constant, ColKind, Column, Table};
use crate::value::{Record, Value};

pub(super) fn builtins(env: &Env) -> Vec<Builtin> {
    vec![
        per_table("distinct", &["column"], distinct, env),
        per_table("unique", &["column"], unique, env),
        per_table("keys", &["column"], keys, env),
    ]
}

/// A fingerprint of a cell for set membership (kind and value).
fn fingerprint(v: &Value) -> String {
    format!("{v:?}")
}

/// The group key's columns, `n` rows each.
fn key_columns(t: &Table, n: usize) -> Vec<Column> {
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
