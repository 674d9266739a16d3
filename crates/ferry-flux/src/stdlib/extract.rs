//! Scalars out of tables (Flux's `stdlib/universe/table_fns.go`): `tableFind(fn: (key) =>
//! bool)` answers the first table whose group key satisfies `fn` (a stream of that one table
//! stands for Flux's table value), `getColumn(column:)` one column's values as an array,
//! `getRecord(idx:)` one row as a record; `findColumn` and `findRecord` do both at once and
//! answer an empty array or record where no table matches.

use std::sync::Arc;

use super::args::{int_arg, required, string_arg, BResult};
use super::streams::{builtin_env, stream_arg, tables, Env};
use crate::eval::{Builtin, EvalErrorKind, Evaluator};
use crate::table::{Stream, Table};
use crate::value::{Array, Record, Value};

pub(super) fn builtins() -> Vec<Builtin> {
    vec![
        builtin_env("tableFind", &["fn"], true, |ev, env, a| {
            let s = stream_arg("tableFind", a)?;
            match find(ev, env, "tableFind", s, a)? {
                Some(t) => Ok(super::streams::output(s, vec![t])),
                None => Err("tableFind: no table found".into()),
            }
        }),
        builtin_env("getColumn", &["column"], true, |ev, env, a| {
            let t = one_table(ev, env, "getColumn", a)?;
            column(ev, "getColumn", &t, a)
        }),
        builtin_env("getRecord", &["idx"], true, |ev, env, a| {
            let t = one_table(ev, env, "getRecord", a)?;
            record(ev, "getRecord", &t, a)
        }),
        finder("findColumn", &["fn", "column"], column),
        finder("findRecord", &["fn", "idx"], record),
    ]
}

type Extract = fn(&mut Evaluator<'_>, &str, &Table, &Record) -> BResult<Value>;

/// `findColumn` / `findRecord`: `extract` of the first table `fn` finds, else the empty value.
fn finder(name: &'static str, params: &[&str], extract: Extract) -> Builtin {
    builtin_env(name, params, true, move |ev, env, a| {
        let s = stream_arg(name, a)?;
        match find(ev, env, name, s, a)? {
            Some(t) => extract(ev, name, &t, a),
            None if name == "findColumn" => Ok(Value::Array(Arc::new(Array::new(Vec::new())))),
            None => Ok(Value::Record(Arc::new(Record::new()))),
        }
    })
}

/// The first table whose group key (as a record) satisfies `fn`.
fn find(
    ev: &mut Evaluator<'_>,
    env: &Env,
    name: &str,
    s: &Stream,
    a: &Record,
) -> BResult<Option<Table>> {
    let f = required(name, a, "fn")?.clone();
    let param = super::transform::row_param(&f);
    for t in tables(ev, env, s)?.iter() {
        let mut args = Record::new();
        args.set(
            param.clone(),
            Value::Record(Arc::new(Record::from_unique(t.key.clone()))),
        );
        match ev.call(&f, args, None) {
            Ok(Value::Bool(true)) => return Ok(Some(t.clone())),
            Ok(Value::Bool(false) | Value::Null) => {}
            Ok(other) => {
                return Err(format!("{name}: fn must return bool, found {}", other.kind()).into())
            }
            Err(e) => return Err(EvalErrorKind::Builtin(e.to_string())),
        }
    }
    Ok(None)
}

/// The piped table of `getColumn` / `getRecord` (what `tableFind` answers).
fn one_table(ev: &mut Evaluator<'_>, env: &Env, name: &str, a: &Record) -> BResult<Table> {
    let s = stream_arg(name, a)?;
    let ts = tables(ev, env, s)?;
    match ts.as_slice() {
        [t] => Ok(t.clone()),
        _ => Err(format!(
            "{name}: expected one table (what tableFind answers), found {}",
            ts.len()
        )
        .into()),
    }
}

fn column(ev: &mut Evaluator<'_>, name: &str, t: &Table, a: &Record) -> BResult<Value> {
    let label = string_arg(name, a, "column", "")?;
    let c = t
        .column(&label)
        .ok_or_else(|| format!("{name}: cannot find column {label}"))?;
    ev.charge_bytes(c.values.len() * std::mem::size_of::<Value>())?;
    Ok(Value::Array(Arc::new(Array::new(c.values.clone()))))
}

fn record(ev: &mut Evaluator<'_>, name: &str, t: &Table, a: &Record) -> BResult<Value> {
    let idx = int_arg(name, a, "idx", None)?;
    let row = usize::try_from(idx)
        .ok()
        .filter(|&i| i < t.len())
        .ok_or_else(|| format!("{name}: index out of bounds: {idx}"))?;
    ev.charge_bytes(t.columns.len() * std::mem::size_of::<(String, Value)>())?;
    Ok(Value::Record(Arc::new(super::transform::row_record(
        t, row,
    ))))
}
