//! `pivot(rowKey:, columnKey:, valueColumn:)`: one row per distinct row key, one column per
//! distinct column key, as Flux's universe `pivot` (checked against its `pivot_test.flux`):
//!
//! * the output's group key is the input's without the `columnKey` columns, and input tables
//!   that share it become one output table;
//! * kept columns: the group key's and `rowKey`'s, in the input's column order; columns
//!   outside `rowKey`, `columnKey`, `valueColumn` and the group key are dropped;
//! * new columns are named by the `columnKey` values joined with `_`, in order of first
//!   appearance, typed as `valueColumn`;
//! * rows are ordered by the row key; a later value for the same row and column wins.
//!
//! The dashboards' form, `pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn:
//! "_value")` (`schema.fieldsAsCols()`), over a storage read builds each series' row table
//! straight from the store's columns ([`fields_by_time`]): one table per series, its fields'
//! times merged, instead of a table per field, a row key per cell and a sorted map of rows.

use std::collections::{BTreeMap, HashMap};

use super::args::{string_arg, strings_arg, BResult};
use super::streams::{output, read_series, stream_arg, tables, Env};
use super::transform::compare_cells;
use crate::eval::{Builtin, EvalErrorKind, Evaluator};
use crate::table::{
    field_to_value, fill_constant_columns, series_skeleton, ColKind, Column, ReadSpec,
    SeriesColumns, StreamBody, Table,
};
use crate::value::Value;

pub(super) fn builtin() -> Builtin {
    super::streams::builtin_env(
        "pivot",
        &["rowKey", "columnKey", "valueColumn"],
        true,
        move |ev, env, a| {
            const F: &str = "pivot";
            let s = stream_arg(F, a)?;
            let missing =
                |n: &str| EvalErrorKind::from(format!("pivot: missing required argument {n}"));
            let row_key = strings_arg(F, a, "rowKey")?.ok_or_else(|| missing("rowKey"))?;
            let col_key = strings_arg(F, a, "columnKey")?.ok_or_else(|| missing("columnKey"))?;
            let value_col = string_arg(F, a, "valueColumn", "")?;
            if value_col.is_empty() {
                return Err("pivot: missing required argument valueColumn".into());
            }
            if let StreamBody::Read(spec) = &s.body {
                let by_time =
                    row_key == ["_time"] && col_key == ["_field"] && value_col == "_value";
                if let (true, None, Some(range)) = (by_time, &spec.group, spec.range) {
                    return Ok(output(s, fields_by_time(ev, env, spec, range)?));
                }
            }
            let input = tables(ev, env, s)?;
            let out = pivot(
                &input,
                &row_key,
                &col_key,
                &value_col,
                (ev.memory_left(), ev.memory_limit()),
            )?;
            for t in &out {
                ev.charge_bytes(t.weight())?;
            }
            Ok(output(s, out))
        },
    )
}

/// The series at hand: its measurement, tags and fields so far.
struct Series {
    measurement: String,
    tags: Vec<(String, String)>,
    fields: Vec<Field>,
}

/// One field of the series at hand: its name, type, and values at their times.
struct Field {
    name: String,
    kind: ColKind,
    times: Vec<i64>,
    values: Vec<Value>,
}

/// `pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")` over the storage
/// read `spec` (ungrouped, its range set): what [`pivot`] answers over the read's tables
/// (one per series and field, in series order), built from each series' columns. A series'
/// fields come one after the other; its table's rows are the times any field has a value at,
/// ascending, a field's column null where it has none.
fn fields_by_time(
    ev: &mut Evaluator<'_>,
    env: &Env,
    spec: &ReadSpec,
    range: (i64, i64),
) -> BResult<Vec<Table>> {
    let mut out = Vec::new();
    let mut series: Option<Series> = None;
    read_series(ev, env, spec, &mut |ev, sc: SeriesColumns<'_>| {
        let same = series
            .as_ref()
            .is_some_and(|s| s.measurement == sc.measurement && s.tags.as_slice() == sc.tags);
        if !same {
            if let Some(done) = series.take() {
                out.extend(series_rows(ev, range, done)?);
            }
            series = Some(Series {
                measurement: sc.measurement.to_string(),
                tags: sc.tags.to_vec(),
                fields: Vec::new(),
            });
        }
        let Some(kind) = sc.kind() else {
            return Ok(()); // no value in the range: no table, no column
        };
        let mut field = Field {
            name: sc.field.to_string(),
            kind,
            times: Vec::with_capacity(sc.times.len()),
            values: Vec::with_capacity(sc.times.len()),
        };
        for (t, v) in sc.times.iter().zip(sc.values) {
            if let Some(v) = v {
                field.times.push(*t);
                field.values.push(field_to_value(v));
            }
        }
        if let Some(s) = series.as_mut() {
            s.fields.push(field);
        }
        Ok(())
    })?;
    if let Some(done) = series {
        out.extend(series_rows(ev, range, done)?);
    }
    Ok(out)
}

/// The pivoted table of one series (`None` when none of its fields has a value).
fn series_rows(ev: &mut Evaluator<'_>, range: (i64, i64), s: Series) -> BResult<Option<Table>> {
    let fields = s.fields;
    let Some(first) = fields.first() else {
        return Ok(None);
    };
    let times: Vec<i64> = if fields.iter().all(|f| f.times == first.times) {
        first.times.clone()
    } else {
        let mut all: Vec<i64> = fields
            .iter()
            .flat_map(|f| f.times.iter().copied())
            .collect();
        all.sort_unstable();
        all.dedup();
        all
    };
    // the columns: the read's but `_value` and `_field`, whose values become the new columns
    let mut t = series_skeleton(range, &s.measurement, &s.tags, &first.name, first.kind);
    t.columns
        .retain(|c| c.label != "_value" && c.label != "_field");
    t.key.retain(|(k, _)| k != "_field");
    let cells = times.len() as u128 * (t.columns.len() + fields.len()) as u128;
    if cells.saturating_mul(std::mem::size_of::<Value>() as u128) > ev.memory_left() as u128 {
        return Err(EvalErrorKind::MemoryLimit(ev.memory_limit()));
    }
    fill_constant_columns(&mut t, times.len());
    if let Some(c) = t.columns.iter_mut().find(|c| c.label == "_time") {
        c.values = times.iter().map(|&ns| Value::Time(ns)).collect();
    }
    for f in fields {
        let mut values = vec![Value::Null; times.len()];
        // both ascending: each value to its time's row (a later one for a time wins)
        let mut row = 0;
        for (ns, v) in f.times.into_iter().zip(f.values) {
            while times[row] < ns {
                row += 1;
            }
            values[row] = v;
        }
        t.columns.push(Column {
            label: f.name,
            kind: f.kind,
            values,
        });
    }
    ev.charge_bytes(t.weight())?;
    Ok(Some(t))
}

/// A row key's values, ordered as Flux orders cells (nulls first).
#[derive(Clone)]
struct RowKey(Vec<Value>);

impl PartialEq for RowKey {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for RowKey {}

impl PartialOrd for RowKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for RowKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0
            .iter()
            .zip(&other.0)
            .map(|(a, b)| compare_cells(a, b))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    }
}

struct Builder {
    key: Vec<(String, Value)>,
    /// Kept columns: label and kind.
    kept: Vec<(String, ColKind)>,
    /// New columns: label and kind, in order of appearance.
    new: Vec<(String, ColKind)>,
    /// Row key → (kept values, new values).
    rows: BTreeMap<RowKey, (Vec<Value>, NewCells)>,
}

/// The new columns' values a row has: (new-column index, value), by index.
type NewCells = Vec<(usize, Value)>;

/// The index in `b.new` of the column that row `row` of `t` goes to (named by its values in
/// the column key's columns `ck_idx`, joined with `_`), added when new.
fn new_column(
    b: &mut Builder,
    t: &Table,
    ck_idx: &[usize],
    row: usize,
    vkind: ColKind,
) -> BResult<usize> {
    let name = ck_idx
        .iter()
        .map(|&i| match &t.columns[i].values[row] {
            Value::String(s) => Ok(s.to_string()),
            Value::Null => Ok("null".to_string()),
            other => Err(EvalErrorKind::from(format!(
                "pivot: columnKey values must be strings, found {}",
                other.kind()
            ))),
        })
        .collect::<BResult<Vec<String>>>()?
        .join("_");
    Ok(match b.new.iter().position(|(l, _)| *l == name) {
        Some(i) => {
            if b.new[i].1 != vkind {
                return Err(format!(
                    "pivot: value column {name:?} has two types: {} and {}",
                    b.new[i].1.kind(),
                    vkind.kind()
                )
                .into());
            }
            i
        }
        None => {
            b.new.push((name, vkind));
            b.new.len() - 1
        }
    })
}

fn pivot(
    input: &[Table],
    row_key: &[String],
    col_key: &[String],
    value_col: &str,
    (memory_left, memory_limit): (usize, usize),
) -> BResult<Vec<Table>> {
    let mut builders: Vec<Builder> = Vec::new();
    let mut by_key: HashMap<String, usize> = HashMap::new();
    for t in input {
        let missing = row_key
            .iter()
            .chain(col_key)
            .chain(std::iter::once(&value_col.to_string()))
            .find(|c| t.index_of(c).is_none())
            .cloned();
        if let Some(c) = missing {
            return Err(format!("pivot: the table has no column {c:?}").into());
        }
        if row_key.iter().any(|r| col_key.contains(r)) {
            return Err("pivot: a column cannot be in both rowKey and columnKey".into());
        }
        let key: Vec<(String, Value)> = t
            .key
            .iter()
            .filter(|(k, _)| !col_key.contains(k))
            .cloned()
            .collect();
        let fingerprint = format!("{key:?}");
        let bi = *by_key.entry(fingerprint).or_insert_with(|| {
            let kept = t
                .columns
                .iter()
                .filter(|c| row_key.contains(&c.label) || key.iter().any(|(k, _)| *k == c.label))
                .map(|c| (c.label.clone(), c.kind))
                .collect();
            builders.push(Builder {
                key: key.clone(),
                kept,
                new: Vec::new(),
                rows: BTreeMap::new(),
            });
            builders.len() - 1
        });
        let b = &mut builders[bi];
        let kept_idx: Vec<Option<usize>> = b.kept.iter().map(|(l, _)| t.index_of(l)).collect();
        let rk_idx: Vec<usize> = row_key.iter().filter_map(|c| t.index_of(c)).collect();
        let ck_idx: Vec<usize> = col_key.iter().filter_map(|c| t.index_of(c)).collect();
        let vi = t.index_of(value_col).expect("checked above");
        let vkind = t.columns[vi].kind;
        // rows in a run of equal column-key values (a storage read's table has one `_field`)
        // go to the column the run's first row named
        let mut named: Option<(usize, usize)> = None; // (row, column)
        for row in 0..t.len() {
            let same = |(at, _): &(usize, usize)| {
                ck_idx.iter().all(|&i| {
                    match (&t.columns[i].values[row], &t.columns[i].values[*at]) {
                        (Value::String(x), Value::String(y)) => x == y,
                        (Value::Null, Value::Null) => true,
                        _ => false,
                    }
                })
            };
            let ni = match named.filter(same) {
                Some((_, ni)) => ni,
                None => {
                    let ni = new_column(b, t, &ck_idx, row, vkind)?;
                    named = Some((row, ni));
                    ni
                }
            };
            let rk = RowKey(
                rk_idx
                    .iter()
                    .map(|&i| t.columns[i].values[row].clone())
                    .collect(),
            );
            let entry = b.rows.entry(rk).or_insert_with(|| {
                (
                    kept_idx
                        .iter()
                        .map(|i| i.map_or(Value::Null, |i| t.columns[i].values[row].clone()))
                        .collect(),
                    Vec::new(),
                )
            });
            let value = t.columns[vi].values[row].clone();
            match entry.1.binary_search_by_key(&ni, |(c, _)| *c) {
                Ok(at) => entry.1[at].1 = value,
                Err(at) => entry.1.insert(at, (ni, value)),
            }
        }
    }
    // Distinct row keys times distinct column keys can be far more cells than the input
    // had (a row key and a column per point): count them before making them.
    let cells: u128 = builders
        .iter()
        .map(|b| b.rows.len() as u128 * (b.kept.len() + b.new.len()) as u128)
        .sum();
    if cells.saturating_mul(std::mem::size_of::<Value>() as u128) > memory_left as u128 {
        return Err(EvalErrorKind::MemoryLimit(memory_limit));
    }
    Ok(builders
        .into_iter()
        .map(|b| {
            let mut columns: Vec<Column> = b
                .kept
                .iter()
                .map(|(l, k)| Column {
                    label: l.clone(),
                    kind: *k,
                    values: Vec::with_capacity(b.rows.len()),
                })
                .chain(b.new.iter().map(|(l, k)| Column {
                    label: l.clone(),
                    kind: *k,
                    values: Vec::with_capacity(b.rows.len()),
                }))
                .collect();
            let nkept = b.kept.len();
            for (kept, new) in b.rows.into_values() {
                for (i, v) in kept.into_iter().enumerate() {
                    columns[i].values.push(v);
                }
                let mut new = new.into_iter().peekable();
                for (j, col) in columns[nkept..].iter_mut().enumerate() {
                    let v = new
                        .next_if(|(c, _)| *c == j)
                        .map_or(Value::Null, |(_, v)| v);
                    col.values.push(v);
                }
            }
            Table {
                key: b.key,
                columns,
            }
        })
        .collect())
}
