//! What the `schema` package (`schema.flux`) is built on, so that Grafana's variable
//! queries (`schema.tagValues`, `schema.measurements`, `schema.tagKeys`, …) read series,
//! not rows:
//!
//! * `_distinctColumn(column:)` is `keep(columns: [column]) |> group() |> distinct(column:)`:
//!   the distinct values of a column over every row of every table, in the order they first
//!   come, as `_value` of one table with an empty key (no table when there is none);
//! * `_distinctKeys()` is `keys() |> keep(columns: ["_value"]) |> group() |> distinct()`:
//!   the distinct labels of the tables' group keys, likewise.
//!
//! Over a storage read (ungrouped) and a column every row of a series shares (a tag,
//! `_measurement`, `_field`, `_start`, `_stop`), each series with a value in the range gives
//! its values without a table being built: a bucket of millions of points answers in the
//! time of one scan, in the memory of its answer.

use std::collections::HashSet;

use super::args::{string_arg, BResult};
use super::distinct::fingerprint;
use super::group::groups_series;
use super::streams::{builtin_env, read_series, stream_arg, tables, Env};
use crate::eval::{Builtin, Evaluator};
use crate::table::{ColKind, Column, SeriesColumns, StreamBody, Table};
use crate::value::{Record, Value};

/// The package's builtins.
pub(super) fn builtins() -> Vec<Builtin> {
    vec![
        builtin_env("_distinctColumn", &["column"], true, move |ev, env, a| {
            let column = string_arg("_distinctColumn", a, "column", "_value")?;
            distinct_column(ev, env, a, &column)
        }),
        builtin_env("_distinctKeys", &[], true, move |ev, env, a| {
            distinct_keys(ev, env, a)
        }),
    ]
}

/// Distinct values in the order they come, of one type (the first value's column's).
struct Distinct {
    seen: HashSet<String>,
    values: Vec<Value>,
    kind: Option<ColKind>,
}

impl Distinct {
    fn new() -> Self {
        Distinct {
            seen: HashSet::new(),
            values: Vec::new(),
            kind: None,
        }
    }

    /// Adds `v` if it is new, charging what it holds as it comes: a tag of millions of
    /// values is refused at the query's memory limit, not after it was all gathered.
    fn add(&mut self, ev: &mut Evaluator<'_>, v: &Value, kind: ColKind) -> BResult<()> {
        self.kind.get_or_insert(kind);
        let print = fingerprint(v);
        if !self.seen.contains(&print) {
            ev.charge_bytes(2 * print.len() + 2 * std::mem::size_of::<Value>())?;
            self.seen.insert(print);
            self.values.push(v.clone());
        }
        Ok(())
    }

    /// One table of `_value`, or none when no value came.
    fn into_stream(self, s: &crate::table::Stream) -> BResult<Value> {
        let Some(kind) = self.kind else {
            return Ok(super::streams::output(s, Vec::new()));
        };
        let t = Table {
            key: Vec::new(),
            columns: vec![Column {
                label: "_value".into(),
                kind,
                values: self.values,
            }],
        };
        Ok(super::streams::output(s, vec![t]))
    }
}

/// The value a series gives column `column` on every row, with its type (`None`: the
/// series has no such column).
fn series_value(
    sc: &SeriesColumns<'_>,
    column: &str,
    range: (i64, i64),
) -> Option<(Value, ColKind)> {
    Some(match column {
        "_measurement" => (Value::string(sc.measurement), ColKind::String),
        "_field" => (Value::string(sc.field), ColKind::String),
        "_start" => (Value::Time(range.0), ColKind::Time),
        "_stop" => (Value::Time(range.1), ColKind::Time),
        tag => {
            let (_, v) = sc.tags.iter().find(|(k, _)| k == tag)?;
            (Value::string(v), ColKind::String)
        }
    })
}

fn distinct_column(ev: &mut Evaluator<'_>, env: &Env, a: &Record, column: &str) -> BResult<Value> {
    let s = stream_arg("_distinctColumn", a)?;
    let mut out = Distinct::new();
    match &s.body {
        StreamBody::Read(spec) if spec.group.is_none() && groups_series(&[column.to_string()]) => {
            let range = spec.range.unwrap_or_default();
            read_series(ev, env, spec, &mut |ev, sc| {
                if sc.values.iter().any(Option::is_some) {
                    if let Some((v, kind)) = series_value(&sc, column, range) {
                        out.add(ev, &v, kind)?;
                    }
                }
                Ok(())
            })?;
        }
        _ => {
            for t in tables(ev, env, s)?.iter() {
                if let Some(c) = t.column(column) {
                    for v in &c.values {
                        out.add(ev, v, c.kind)?;
                    }
                }
            }
        }
    }
    out.into_stream(s)
}

fn distinct_keys(ev: &mut Evaluator<'_>, env: &Env, a: &Record) -> BResult<Value> {
    let s = stream_arg("_distinctKeys", a)?;
    let mut out = Distinct::new();
    match &s.body {
        StreamBody::Read(spec) if spec.group.is_none() => {
            read_series(ev, env, spec, &mut |ev, sc| {
                if sc.values.iter().any(Option::is_some) {
                    let mut labels: Vec<&str> = sc
                        .tags
                        .iter()
                        .map(|(k, _)| k.as_str())
                        .chain(["_field", "_measurement"])
                        .collect();
                    labels.sort_unstable();
                    for l in ["_start", "_stop"].into_iter().chain(labels) {
                        out.add(ev, &Value::string(l), ColKind::String)?;
                    }
                }
                Ok(())
            })?;
        }
        _ => {
            for t in tables(ev, env, s)?.iter() {
                for (label, _) in &t.key {
                    out.add(ev, &Value::string(label), ColKind::String)?;
                }
            }
        }
    }
    out.into_stream(s)
}
