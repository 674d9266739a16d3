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

use std::collections::{BTreeMap, HashMap};

use super::args::{string_arg, strings_arg, BResult};
use super::streams::{output, stream_arg, tables};
use super::transform::compare_cells;
use crate::eval::{Builtin, EvalErrorKind};
use crate::table::{ColKind, Column, Table};
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
