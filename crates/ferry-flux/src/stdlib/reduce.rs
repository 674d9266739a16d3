//! `reduce(fn: (r, accumulator) => ({…}), identity: {…})`: folds each table's rows into one
//! record, starting from `identity`, and answers one row per table: the group key's columns,
//! then the record's fields (Flux's `reduce_test.flux`). A field named like a group-key column
//! replaces its value, in the row and in the key (as Flux documents it). A table without rows
//! answers the identity. Every record `fn` returns must be a record of column values.

use std::sync::Arc;

use super::args::{required, wrong_type, BResult};
use super::streams::{builtin_env, map_tables, stream_arg};
use crate::eval::{Builtin, EvalErrorKind};
use crate::table::{ColKind, Column, Table};
use crate::value::{Kind, Record, Value};

pub(super) fn builtin_fn() -> Builtin {
    builtin_env("reduce", &["fn", "identity"], true, move |ev, env, a| {
        const F: &str = "reduce";
        let s = stream_arg(F, a)?;
        let f = required(F, a, "fn")?.clone();
        let identity = match required(F, a, "identity")? {
            Value::Record(r) => r.clone(),
            other => return Err(wrong_type(F, "identity", Kind::Record, other)),
        };
        map_tables(ev, env, s, &mut |ev, t| {
            let mut acc = identity.clone();
            for row in 0..t.len() {
                let mut args = Record::new();
                args.set(
                    "r",
                    Value::Record(Arc::new(super::transform::row_record(t, row))),
                );
                args.set("accumulator", Value::Record(acc));
                acc = match ev.call(&f, args, None) {
                    Ok(Value::Record(r)) => r,
                    Ok(other) => {
                        return Err(
                            format!("{F}: fn must return a record, found {}", other.kind()).into(),
                        )
                    }
                    Err(e) => return Err(EvalErrorKind::Builtin(e.to_string())),
                };
            }
            reduced(t, &acc).map(Some)
        })
    })
}

/// The one row of `t` reduced to `acc`.
fn reduced(t: &Table, acc: &Record) -> BResult<Table> {
    let mut key = t.key.clone();
    let mut columns: Vec<Column> = Vec::with_capacity(key.len() + acc.fields().len());
    for (label, v) in &mut key {
        let v = match acc.get(label) {
            Some(new) => {
                *v = new.clone();
                new
            }
            None => v,
        };
        let kind = t
            .column(label)
            .map(|c| c.kind)
            .or_else(|| ColKind::of(v))
            .unwrap_or(ColKind::String);
        columns.push(crate::table::constant(label, kind, v.clone(), 1));
    }
    for (label, v) in acc.fields() {
        if columns.iter().any(|c| c.label == *label) {
            continue;
        }
        let kind = match v {
            Value::Null => ColKind::String,
            v => ColKind::of(v).ok_or_else(|| {
                format!(
                    "reduce: column {label:?} cannot hold a value of type {}",
                    v.kind()
                )
            })?,
        };
        columns.push(crate::table::constant(label, kind, v.clone(), 1));
    }
    Ok(Table { key, columns })
}
