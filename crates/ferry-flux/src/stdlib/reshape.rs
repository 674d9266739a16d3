//! Table functions that rewrite rows and columns: `map`, `set`, `rename`, `duplicate`,
//! `timeShift`, `fill`.
//!
//! `map` follows Flux's rules: the function's record is the whole new row (`{r with …}` keeps
//! the others), a group-key column the record drops leaves the key, and a row whose key values
//! change moves to the table of its new key.

use std::collections::HashMap;
use std::sync::Arc;

use super::args::{bool_arg, duration_arg, required, string_arg, strings_arg, BResult};
use super::streams::{builtin_env, map_tables, stream_arg};
use crate::eval::{Builtin, EvalErrorKind};
use crate::table::{ColKind, Column, Table};
use crate::value::{Record, Value};

pub(super) fn builtins() -> Vec<Builtin> {
    let per_table = super::streams::per_table;
    vec![
        builtin_env("map", &["fn", "mergeKey"], true, move |ev, env, a| {
            let s = stream_arg("map", a)?;
            let f = required("map", a, "fn")?.clone();
            let param = super::transform::row_param(&f);
            let mut regrouped: Vec<Table> = Vec::new();
            map_tables(ev, env, s, &mut |ev, t| {
                let mut rows = Vec::with_capacity(t.len());
                for row in 0..t.len() {
                    let mut args = Record::new();
                    args.set(
                        param.clone(),
                        Value::Record(Arc::new(super::transform::row_record(t, row))),
                    );
                    match ev.call(&f, args, None) {
                        Ok(Value::Record(r)) => rows.push(r),
                        Ok(other) => {
                            return Err(format!(
                                "map: fn must return a record, found {}",
                                other.kind()
                            )
                            .into())
                        }
                        Err(e) => return Err(EvalErrorKind::Builtin(e.to_string())),
                    }
                }
                for table in rows_to_tables(t, &rows)? {
                    ev.charge_bytes(table.weight())?;
                    regrouped.push(table);
                }
                Ok(None)
            })?;
            Ok(super::streams::output(s, regrouped))
        }),
        per_table("set", &["key", "value"], set),
        {
            builtin_env("rename", &["columns", "fn"], true, move |ev, env, a| {
                let s = stream_arg("rename", a)?;
                map_tables(ev, env, s, &mut |ev, t| rename(ev, a, t).map(Some))
            })
        },
        per_table("duplicate", &["column", "as"], duplicate),
        per_table("timeShift", &["duration", "columns"], time_shift),
        per_table("fill", &["column", "value", "usePrevious"], fill),
    ]
}

/// The tables of `map`'s output rows: columns in the order the records give them, the
/// input's key columns that remain, one table per distinct key.
fn rows_to_tables(input: &Table, rows: &[Arc<Record>]) -> BResult<Vec<Table>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut labels: Vec<String> = Vec::new();
    for r in rows {
        for (k, _) in r.fields() {
            if !labels.contains(k) {
                labels.push(k.clone());
            }
        }
    }
    let key_labels: Vec<String> = input
        .key
        .iter()
        .map(|(k, _)| k.clone())
        .filter(|k| labels.contains(k))
        .collect();
    let mut groups: Vec<(Vec<Value>, Vec<usize>)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        let key: Vec<Value> = key_labels
            .iter()
            .map(|k| r.get(k).cloned().unwrap_or(Value::Null))
            .collect();
        let fp = format!("{key:?}");
        let gi = *index.entry(fp).or_insert_with(|| {
            groups.push((key.clone(), Vec::new()));
            groups.len() - 1
        });
        groups[gi].1.push(i);
    }
    let mut out = Vec::with_capacity(groups.len());
    for (key, members) in groups {
        let mut columns = Vec::with_capacity(labels.len());
        for label in &labels {
            let values: Vec<Value> = members
                .iter()
                .map(|&i| rows[i].get(label).cloned().unwrap_or(Value::Null))
                .collect();
            let kind = column_kind("map", label, &values)?;
            columns.push(Column {
                label: label.clone(),
                kind,
                values,
            });
        }
        out.push(Table {
            key: key_labels.iter().cloned().zip(key).collect(),
            columns,
        });
    }
    Ok(out)
}

/// The one type of a column's non-null values (a column of nulls is a string column).
/// The type of a new column of `values` (string when all are null); `f` names the function
/// in errors.
pub(crate) fn column_kind(f: &str, label: &str, values: &[Value]) -> BResult<ColKind> {
    let mut kind = None;
    for v in values.iter().filter(|v| !v.is_null()) {
        let k = ColKind::of(v).ok_or_else(|| {
            format!(
                "{f}: column {label:?} cannot hold a value of type {}",
                v.kind()
            )
        })?;
        match kind {
            None => kind = Some(k),
            Some(prev) if prev != k => {
                return Err(format!(
                    "{f}: column {label:?} has values of two types: {} and {}",
                    prev.csv_name(),
                    k.csv_name()
                )
                .into())
            }
            _ => {}
        }
    }
    Ok(kind.unwrap_or(ColKind::String))
}

fn set(a: &Record, t: &Table) -> BResult<Option<Table>> {
    let key = string_arg("set", a, "key", "")?;
    let value = string_arg("set", a, "value", "")?;
    let mut t = t.clone();
    let col = crate::table::constant(&key, ColKind::String, Value::string(&value), t.len());
    match t.index_of(&key) {
        Some(i) => t.columns[i] = col,
        None => t.columns.push(col),
    }
    if let Some(slot) = t.key.iter_mut().find(|(k, _)| *k == key) {
        slot.1 = Value::string(&value);
    }
    Ok(Some(t))
}

/// `rename(columns: {old: "new"})` or `rename(fn: (column) => …)`: the columns (and group
/// key labels) renamed; a name the record does not list, or one `fn` returns unchanged, stays.
fn rename(ev: &mut crate::eval::Evaluator<'_>, a: &Record, t: &Table) -> BResult<Table> {
    let by_fn = a.get("fn").filter(|v| !v.is_null());
    let by_record = a.get("columns").filter(|v| !v.is_null());
    let mut renamed: HashMap<String, String> = HashMap::new();
    match (by_record, by_fn) {
        (Some(Value::Record(map)), None) => {
            for (old, new) in map.fields() {
                match new {
                    Value::String(s) => {
                        renamed.insert(old.clone(), s.to_string());
                    }
                    other => {
                        return Err(format!(
                            "rename: new name of {old:?} must be a string, found {}",
                            other.kind()
                        )
                        .into())
                    }
                }
            }
        }
        (None, Some(f)) => {
            let param = super::transform::row_param(f);
            for c in &t.columns {
                let mut args = Record::new();
                args.set(param.clone(), Value::string(&c.label));
                match ev.call(f, args, None) {
                    Ok(Value::String(s)) => {
                        renamed.insert(c.label.clone(), s.to_string());
                    }
                    Ok(other) => {
                        return Err(format!(
                            "rename: fn must return a string, found {}",
                            other.kind()
                        )
                        .into())
                    }
                    Err(e) => return Err(EvalErrorKind::Builtin(e.to_string())),
                }
            }
        }
        (Some(_), Some(_)) => {
            return Err("rename: give either columns or fn, not both".into());
        }
        _ => return Err("rename: columns must be a record of old: \"new\" names".into()),
    }
    let mut t = t.clone();
    for c in &mut t.columns {
        if let Some(n) = renamed.get(&c.label) {
            c.label = n.clone();
        }
    }
    for (k, _) in &mut t.key {
        if let Some(n) = renamed.get(k.as_str()) {
            *k = n.clone();
        }
    }
    for (i, c) in t.columns.iter().enumerate() {
        if t.columns[..i].iter().any(|d| d.label == c.label) {
            return Err(format!("rename: two columns would be named {:?}", c.label).into());
        }
    }
    Ok(t)
}

fn duplicate(a: &Record, t: &Table) -> BResult<Option<Table>> {
    let column = string_arg("duplicate", a, "column", "")?;
    let as_ = string_arg("duplicate", a, "as", "")?;
    duplicated("duplicate", t, &column, &as_).map(Some)
}

/// `t` with column `column` copied as `as_` (replacing a column of that name, which leaves
/// the group key).
pub(super) fn duplicated(f: &str, t: &Table, column: &str, as_: &str) -> BResult<Table> {
    let src = t
        .column(column)
        .ok_or_else(|| format!("{f}: column {column:?} does not exist"))?
        .clone();
    let mut t = t.clone();
    let copy = Column {
        label: as_.to_string(),
        ..src
    };
    match t.index_of(as_) {
        Some(i) => t.columns[i] = copy,
        None => t.columns.push(copy),
    }
    t.key.retain(|(k, _)| *k != as_);
    Ok(t)
}

fn time_shift(a: &Record, t: &Table) -> BResult<Option<Table>> {
    let d = duration_arg("timeShift", a, "duration")?
        .ok_or("timeShift: missing required argument duration")?;
    let columns = strings_arg("timeShift", a, "columns")?
        .unwrap_or_else(|| vec!["_start".into(), "_stop".into(), "_time".into()]);
    let shift = |v: &Value| -> BResult<Value> {
        match v {
            Value::Time(x) => super::args::add_duration(*x, d)
                .map(Value::Time)
                .ok_or_else(|| "timeShift: time out of range".into()),
            other => Ok(other.clone()),
        }
    };
    let mut t = t.clone();
    for c in t.columns.iter_mut().filter(|c| columns.contains(&c.label)) {
        for v in &mut c.values {
            *v = shift(v)?;
        }
    }
    for (k, v) in &mut t.key {
        if columns.contains(k) {
            *v = shift(v)?;
        }
    }
    Ok(Some(t))
}

fn fill(a: &Record, t: &Table) -> BResult<Option<Table>> {
    let column = string_arg("fill", a, "column", "_value")?;
    let previous = bool_arg("fill", a, "usePrevious", false)?;
    let value = a.get("value").filter(|v| !v.is_null()).cloned();
    if previous == value.is_some() {
        return Err("fill: give exactly one of value and usePrevious".into());
    }
    let mut t = t.clone();
    let Some(i) = t.index_of(&column) else {
        return Ok(Some(t));
    };
    let c = &mut t.columns[i];
    if let Some(v) = &value {
        if ColKind::of(v) != Some(c.kind) && c.values.iter().any(|x| !x.is_null()) {
            return Err(format!(
                "fill: value type {} does not match the column's {}",
                v.kind(),
                c.kind.csv_name()
            )
            .into());
        }
        if let Some(k) = ColKind::of(v) {
            c.kind = k;
        }
    }
    let mut last = Value::Null;
    for x in &mut c.values {
        if x.is_null() {
            *x = match &value {
                Some(v) => v.clone(),
                None => last.clone(),
            };
        } else {
            last = x.clone();
        }
    }
    Ok(Some(t))
}
