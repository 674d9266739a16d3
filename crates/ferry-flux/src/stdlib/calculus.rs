//! `integral` and `elapsed`: functions of a table's rows over time.
//!
//! * `integral(unit: 1s, column: "_value", timeColumn: "_time", interpolate: "")`: the area
//!   under the column's values by the trapezoidal rule, `Σ (v_prev + v) / 2 · (t − t_prev) /
//!   unit`, as a float in one row per table (the group key's columns and `column`); nulls are
//!   skipped, a table of fewer than two values answers 0. With `interpolate: "linear"` the
//!   line through the first two values is extended back to the table's `_start` and the line
//!   through the last two forward to its `_stop`, and those areas count too; a lone value
//!   holds from `_start` to `_stop` (Flux's `integral_test.flux`, `integral_interpolate`
//!   and `integral_interpolate_single`). Without a `GROUP BY time`, InfluxQL's
//!   `integral(x, unit)` answers the same.
//! * `elapsed(unit: 1s, timeColumn: "_time", columnName: "elapsed")`: each row but the first
//!   gains the time since the previous row, an int of whole `unit`s (integer division, as
//!   Flux and InfluxQL's `elapsed(x, unit)` compute it).
//!
//! A unit must be a positive fixed duration (`0s` or `1mo` are refused, never divided by).

use super::args::{duration_arg, string_arg, BResult};
use super::series::as_f64;
use crate::eval::Builtin;
use crate::table::{ColKind, Column, Table};
use crate::value::{Record, Value};

pub(super) fn builtins() -> Vec<Builtin> {
    vec![
        super::streams::per_table(
            "integral",
            &["unit", "column", "timeColumn", "interpolate"],
            integral,
        ),
        super::streams::per_table("elapsed", &["unit", "timeColumn", "columnName"], elapsed),
    ]
}

/// The `unit` argument in ns (default 1s): positive and without months.
pub(super) fn unit_arg(f: &str, a: &Record) -> BResult<i64> {
    match duration_arg(f, a, "unit")? {
        None => Ok(1_000_000_000),
        Some(d) if d.months == 0 && d.nanos > 0 => Ok(d.nanos),
        Some(d) => {
            Err(format!("{f}: unit must be a positive duration without months, got {d}").into())
        }
    }
}

/// The times of `t`'s time column `label` (`None` for a null time).
fn times(f: &str, t: &Table, label: &str) -> BResult<Vec<Option<i64>>> {
    let col = t
        .column(label)
        .ok_or_else(|| format!("{f}: column {label:?} does not exist"))?;
    if col.kind != ColKind::Time {
        return Err(format!(
            "{f}: column {label:?} is not of type time but {}",
            col.kind.kind()
        )
        .into());
    }
    Ok(col
        .values
        .iter()
        .map(|v| match v {
            Value::Time(x) => Some(*x),
            _ => None,
        })
        .collect())
}

fn integral(a: &Record, t: &Table) -> BResult<Option<Table>> {
    const F: &str = "integral";
    let unit = unit_arg(F, a)? as f64;
    let column = string_arg(F, a, "column", "_value")?;
    let time_column = string_arg(F, a, "timeColumn", "_time")?;
    let linear = match string_arg(F, a, "interpolate", "")?.as_str() {
        "" => false,
        "linear" => true,
        other => {
            return Err(
                format!("{F}: interpolate must be \"linear\" or \"\", got {other:?}").into(),
            )
        }
    };
    let col = t
        .column(&column)
        .ok_or_else(|| format!("{F}: column {column:?} does not exist"))?;
    if !matches!(col.kind, ColKind::Int | ColKind::UInt | ColKind::Float) {
        return Err(format!("{F}: unsupported type for integral: {}", col.kind.kind()).into());
    }
    let times = times(F, t, &time_column)?;
    let points: Vec<(i64, f64)> = times
        .iter()
        .zip(&col.values)
        .filter_map(|(t, v)| Some(((*t)?, as_f64(v)?)))
        .collect();
    let area = |(t0, v0): (i64, f64), (t1, v1): (i64, f64)| {
        0.5 * (v0 + v1) * ((i128::from(t1) - i128::from(t0)) as f64 / unit)
    };
    // from +0 (an empty f64 sum is -0)
    let mut sum = points.windows(2).fold(0.0, |acc, w| acc + area(w[0], w[1]));
    if let (true, Some(&first), Some(&last)) = (linear, points.first(), points.last()) {
        // the line through two points (a lone point: the constant), evaluated at `x`
        let at = |(t0, v0): (i64, f64), (t1, v1): (i64, f64), x: i64| {
            if t1 == t0 {
                return v0;
            }
            let slope = (v1 - v0) / (i128::from(t1) - i128::from(t0)) as f64;
            v0 + slope * (i128::from(x) - i128::from(t0)) as f64
        };
        let bound = |label: &str| match t.key_value(label) {
            Some(Value::Time(x)) => Some(*x),
            _ => None,
        };
        let second = points.get(1).copied().unwrap_or(first);
        let before = points.len().checked_sub(2).map_or(last, |i| points[i]);
        if let Some(start) = bound("_start").filter(|s| *s < first.0) {
            sum += area((start, at(first, second, start)), first);
        }
        if let Some(stop) = bound("_stop").filter(|s| *s > last.0) {
            sum += area(last, (stop, at(before, last, stop)));
        }
    }
    Ok(Some(t.reduced(&column, ColKind::Float, Value::Float(sum))))
}

fn elapsed(a: &Record, t: &Table) -> BResult<Option<Table>> {
    const F: &str = "elapsed";
    let unit = unit_arg(F, a)?;
    let time_column = string_arg(F, a, "timeColumn", "_time")?;
    let name = string_arg(F, a, "columnName", "elapsed")?;
    let times = times(F, t, &time_column)?;
    let mut values = Vec::with_capacity(t.len().saturating_sub(1));
    for w in times.windows(2) {
        let (Some(prev), Some(cur)) = (w[0], w[1]) else {
            return Err(format!("{F}: column {time_column:?} has a null time").into());
        };
        let d = (i128::from(cur) - i128::from(prev)) / i128::from(unit);
        let d = i64::try_from(d)
            .map_err(|_| format!("{F}: the time between two rows is out of range"))?;
        values.push(Value::Int(d));
    }
    let keep: Vec<bool> = (0..t.len()).map(|r| r > 0).collect();
    let mut out = t.filter_rows(&keep);
    out.columns.retain(|c| c.label != name);
    out.columns.push(Column {
        label: name,
        kind: ColKind::Int,
        values,
    });
    Ok(Some(out))
}
