//! Functions over a table's rows in order: `difference`, `derivative`, `cumulativeSum`,
//! `tail`. Semantics follow Flux's universe tests (`derivative_test.flux` and the docs):
//!
//! * `difference(columns: ["_value"], nonNegative: false, keepFirst: false, initialZero:
//!   false)`: each row minus the previous one; the first row goes unless `keepFirst` (then its
//!   difference is null); ints and uints give ints, floats floats; a negative difference with
//!   `nonNegative` is null, or with `initialZero` the value itself (a counter that reset).
//! * `derivative(unit: 1s, columns: ["_value"], timeColumn: "_time", nonNegative: false,
//!   initialZero: false)`: `(v - v_prev) / ((t - t_prev) / unit)` as a float; the first row
//!   goes, and a row whose time equals the previous kept row's goes too; non-numeric columns
//!   pass through with the current row's value.
//! * `cumulativeSum(columns: ["_value"])`: running sums; a null stays null.
//! * `increase(columns: ["_value"])`: how much a counter grew since the first row (0 there),
//!   a drop counting as a reset to zero: the value itself is added (0 if it is negative), as
//!   Flux's `increase_test.flux` answers.
//! * `tail(n:, offset: 0)`: the last `n` rows (before the last `offset`).
//! * `movingAverage(n:, column: "_value")`: from the `n`th value on, the mean of it and the
//!   `n − 1` before it, as a float; the earlier rows go. The sum runs (the oldest value leaves
//!   as the newest enters), as InfluxQL 1.6's `moving_average` computes it, so both answer
//!   the same bits; null values are skipped (their rows go).
//!
//! Other columns keep the current row's values.

use super::args::{bool_arg, duration_arg, int_arg, string_arg, strings_arg, BResult};
use crate::eval::{Builtin, EvalErrorKind};
use crate::table::{ColKind, Column, Table};
use crate::value::Value;

pub(super) fn builtins() -> Vec<Builtin> {
    let per_table = super::streams::per_table;
    vec![
        per_table(
            "difference",
            &["columns", "nonNegative", "keepFirst", "initialZero"],
            difference,
        ),
        per_table(
            "derivative",
            &[
                "unit",
                "columns",
                "timeColumn",
                "nonNegative",
                "initialZero",
            ],
            derivative,
        ),
        per_table("cumulativeSum", &["columns"], cumulative_sum),
        per_table("increase", &["columns"], increase),
        per_table("tail", &["n", "offset"], tail),
        per_table("movingAverage", &["n", "column"], moving_average),
    ]
}

fn value_columns(f: &str, a: &crate::value::Record, t: &Table) -> BResult<Vec<usize>> {
    let cols = strings_arg(f, a, "columns")?.unwrap_or_else(|| vec!["_value".into()]);
    cols.iter()
        .map(|c| {
            t.index_of(c)
                .ok_or_else(|| EvalErrorKind::from(format!("{f}: column {c:?} does not exist")))
        })
        .collect()
}

/// `a - b` of two cells of one numeric column, as Flux types it (uint - uint is an int).
fn subtract(a: &Value, b: &Value) -> Option<Value> {
    Some(match (a, b) {
        (Value::Int(x), Value::Int(y)) => Value::Int(x.checked_sub(*y)?),
        (Value::UInt(x), Value::UInt(y)) => Value::Int((*x as i128 - *y as i128).try_into().ok()?),
        (Value::Float(x), Value::Float(y)) => Value::Float(x - y),
        _ => return None,
    })
}

fn is_negative(v: &Value) -> bool {
    match v {
        Value::Int(i) => *i < 0,
        Value::Float(f) => *f < 0.0,
        _ => false,
    }
}

/// A numeric value as a float (ints and uints converted); `None` for anything else.
pub(super) fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::UInt(u) => Some(*u as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    }
}

/// The table with rows `rows` (in that order) and the computed columns replaced.
fn with_rows(t: &Table, rows: &[usize], computed: Vec<(usize, ColKind, Vec<Value>)>) -> Table {
    let mut columns: Vec<Column> = t
        .columns
        .iter()
        .map(|c| Column {
            label: c.label.clone(),
            kind: c.kind,
            values: rows.iter().map(|&r| c.values[r].clone()).collect(),
        })
        .collect();
    for (i, kind, values) in computed {
        columns[i].kind = kind;
        columns[i].values = values;
    }
    Table {
        key: t.key.clone(),
        columns,
    }
}

fn difference(a: &crate::value::Record, t: &Table) -> BResult<Option<Table>> {
    const F: &str = "difference";
    let cols = value_columns(F, a, t)?;
    let non_negative = bool_arg(F, a, "nonNegative", false)?;
    let keep_first = bool_arg(F, a, "keepFirst", false)?;
    let initial_zero = bool_arg(F, a, "initialZero", false)?;
    for &c in &cols {
        if !matches!(
            t.columns[c].kind,
            ColKind::Int | ColKind::UInt | ColKind::Float
        ) {
            return Err(format!(
                "{F}: unsupported type for difference: {}",
                t.columns[c].kind.kind()
            )
            .into());
        }
    }
    let first = if keep_first { 0 } else { 1 };
    let rows: Vec<usize> = (first.min(t.len())..t.len()).collect();
    let computed = cols
        .iter()
        .map(|&c| {
            let col = &t.columns[c];
            let kind = if col.kind == ColKind::Float {
                ColKind::Float
            } else {
                ColKind::Int
            };
            let values = rows
                .iter()
                .map(|&r| {
                    if r == 0 {
                        return Value::Null;
                    }
                    let (cur, prev) = (&col.values[r], &col.values[r - 1]);
                    match subtract(cur, prev) {
                        Some(d) if non_negative && is_negative(&d) => {
                            if initial_zero {
                                subtract(cur, &zero_of(cur)).unwrap_or(Value::Null)
                            } else {
                                Value::Null
                            }
                        }
                        Some(d) => d,
                        None => Value::Null,
                    }
                })
                .collect();
            (c, kind, values)
        })
        .collect();
    Ok(Some(with_rows(t, &rows, computed)))
}

fn zero_of(v: &Value) -> Value {
    match v {
        Value::UInt(_) => Value::UInt(0),
        Value::Float(_) => Value::Float(0.0),
        _ => Value::Int(0),
    }
}

fn derivative(a: &crate::value::Record, t: &Table) -> BResult<Option<Table>> {
    const F: &str = "derivative";
    let cols = value_columns(F, a, t)?;
    let unit = duration_arg(F, a, "unit")?
        .map(|d| d.nanos)
        .unwrap_or(1_000_000_000);
    if unit <= 0 {
        return Err("derivative: unit must be positive".into());
    }
    let time_col = string_arg(F, a, "timeColumn", "_time")?;
    let ti = t
        .index_of(&time_col)
        .ok_or_else(|| EvalErrorKind::from(format!("{F}: column {time_col:?} does not exist")))?;
    let non_negative = bool_arg(F, a, "nonNegative", false)?;
    let initial_zero = bool_arg(F, a, "initialZero", false)?;
    let time = |r: usize| match &t.columns[ti].values[r] {
        Value::Time(x) => Some(*x),
        _ => None,
    };
    // The rows kept: each with its predecessor (the previous kept row).
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    let mut prev: Option<usize> = None;
    for r in 0..t.len() {
        let Some(tr) = time(r) else { continue };
        match prev {
            None => prev = Some(r),
            Some(p) if time(p) == Some(tr) => {}
            Some(p) => {
                pairs.push((r, p));
                prev = Some(r);
            }
        }
    }
    let rows: Vec<usize> = pairs.iter().map(|&(r, _)| r).collect();
    let numeric = |c: usize| {
        matches!(
            t.columns[c].kind,
            ColKind::Int | ColKind::UInt | ColKind::Float
        )
    };
    let computed = cols
        .iter()
        .filter(|&&c| numeric(c))
        .map(|&c| {
            let col = &t.columns[c];
            let values = pairs
                .iter()
                .map(|&(r, p)| {
                    let (Some(cur), Some(prev)) = (as_f64(&col.values[r]), as_f64(&col.values[p]))
                    else {
                        return Value::Null;
                    };
                    let dt = (time(r).unwrap_or(0) - time(p).unwrap_or(0)) as f64 / unit as f64;
                    let d = (cur - prev) / dt;
                    if non_negative && d < 0.0 {
                        if initial_zero {
                            Value::Float(cur / dt)
                        } else {
                            Value::Null
                        }
                    } else {
                        Value::Float(d)
                    }
                })
                .collect();
            (c, ColKind::Float, values)
        })
        .collect();
    Ok(Some(with_rows(t, &rows, computed)))
}

/// The table with each of the `columns` argument's columns (default `_value`) replaced by
/// what `per_column` makes of it, every row kept.
fn map_columns(
    f: &str,
    a: &crate::value::Record,
    t: &Table,
    per_column: impl Fn(&Column) -> BResult<(ColKind, Vec<Value>)>,
) -> BResult<Option<Table>> {
    let rows: Vec<usize> = (0..t.len()).collect();
    let computed = value_columns(f, a, t)?
        .into_iter()
        .map(|c| per_column(&t.columns[c]).map(|(kind, values)| (c, kind, values)))
        .collect::<BResult<Vec<_>>>()?;
    Ok(Some(with_rows(t, &rows, computed)))
}

fn cumulative_sum(a: &crate::value::Record, t: &Table) -> BResult<Option<Table>> {
    const F: &str = "cumulativeSum";
    map_columns(F, a, t, |col| {
        let mut acc: Option<Value> = None;
        let values = col
            .values
            .iter()
            .map(|v| {
                if v.is_null() {
                    return Ok(Value::Null);
                }
                let next = match (&acc, v) {
                    (None, v) => v.clone(),
                    (Some(Value::Int(x)), Value::Int(y)) => Value::Int(x.wrapping_add(*y)),
                    (Some(Value::UInt(x)), Value::UInt(y)) => Value::UInt(x.wrapping_add(*y)),
                    (Some(Value::Float(x)), Value::Float(y)) => Value::Float(x + y),
                    (_, other) => {
                        return Err(EvalErrorKind::from(format!(
                            "{F}: unsupported type {}",
                            other.kind()
                        )))
                    }
                };
                acc = Some(next.clone());
                Ok(next)
            })
            .collect::<BResult<Vec<Value>>>()?;
        Ok((col.kind, values))
    })
}

fn increase(a: &crate::value::Record, t: &Table) -> BResult<Option<Table>> {
    const F: &str = "increase";
    map_columns(F, a, t, |col| {
        let float = match col.kind {
            ColKind::Float => true,
            ColKind::Int | ColKind::UInt => false,
            other => {
                return Err(EvalErrorKind::from(format!(
                    "{F}: unsupported type for increase: {}",
                    other.kind()
                )))
            }
        };
        let mut total = 0.0f64;
        let mut prev: Option<f64> = None;
        let values = col
            .values
            .iter()
            .map(|v| {
                let Some(x) = as_f64(v) else {
                    return Value::Null;
                };
                if let Some(p) = prev {
                    total += if x >= p { x - p } else { x.max(0.0) };
                }
                prev = Some(x);
                if float {
                    Value::Float(total)
                } else {
                    Value::Int(total as i64)
                }
            })
            .collect();
        Ok((if float { ColKind::Float } else { ColKind::Int }, values))
    })
}

fn moving_average(a: &crate::value::Record, t: &Table) -> BResult<Option<Table>> {
    const F: &str = "movingAverage";
    let n = int_arg(F, a, "n", None)?;
    if n <= 0 {
        return Err(format!("{F}: n must be greater than 0").into());
    }
    let n = n as usize;
    let label = string_arg(F, a, "column", "_value")?;
    let c = t
        .index_of(&label)
        .ok_or_else(|| format!("{F}: column {label:?} does not exist"))?;
    if !matches!(
        t.columns[c].kind,
        ColKind::Float | ColKind::Int | ColKind::UInt
    ) {
        return Err(format!(
            "{F}: unsupported type for movingAverage: {}",
            t.columns[c].kind.kind()
        )
        .into());
    }
    // n comes from the script: never reserve more than the table has
    let mut window: std::collections::VecDeque<f64> =
        std::collections::VecDeque::with_capacity(n.min(t.len()));
    let mut sum = 0.0f64;
    let (mut rows, mut values) = (Vec::new(), Vec::new());
    for (row, v) in t.columns[c].values.iter().enumerate() {
        let Some(x) = as_f64(v) else { continue };
        if window.len() == n {
            sum -= window.pop_front().unwrap_or(0.0);
        }
        window.push_back(x);
        sum += x;
        if window.len() == n {
            rows.push(row);
            values.push(Value::Float(sum / n as f64));
        }
    }
    Ok(Some(with_rows(t, &rows, vec![(c, ColKind::Float, values)])))
}

fn tail(a: &crate::value::Record, t: &Table) -> BResult<Option<Table>> {
    let n = int_arg("tail", a, "n", None)?.max(0) as usize;
    let offset = int_arg("tail", a, "offset", Some(0))?.max(0) as usize;
    let end = t.len().saturating_sub(offset);
    let start = end.saturating_sub(n);
    let rows: Vec<usize> = (start..end).collect();
    Ok(Some(with_rows(t, &rows, Vec::new())))
}
