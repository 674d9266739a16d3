//! `histogramQuantile(quantile:, countColumn: "_value", upperBoundColumn: "le",
//! valueColumn: "_value", minValue: 0.0, onNonmonotonic: "error")` (Flux's
//! `stdlib/universe/histogram_quantile.go`):
//! each table is a cumulative histogram, one row per bucket (a float upper bound and a float
//! count of the values at or below it); the answer is one row, the group key and the
//! quantile, linearly interpolated within the bucket the rank falls in (from `minValue` below
//! the first bound; never towards an infinite bound). Counts that decrease are an error, or
//! with `onNonmonotonic: "force"` raised to the count before them, or with `"drop"` the
//! table answers nothing.

use super::args::{string_arg, BResult};
use crate::table::{ColKind, Table};
use crate::value::{Record, Value};

const F: &str = "histogramQuantile";

pub(super) fn builtin() -> crate::eval::Builtin {
    super::streams::per_table(
        F,
        &[
            "quantile",
            "countColumn",
            "upperBoundColumn",
            "valueColumn",
            "minValue",
            "onNonmonotonic",
        ],
        histogram_quantile,
    )
}

fn float(a: &Record, name: &str, default: Option<f64>) -> BResult<f64> {
    match a.get(name) {
        Some(Value::Float(x)) => Ok(*x),
        None | Some(Value::Null) => {
            default.ok_or_else(|| format!("{F}: missing required argument {name}").into())
        }
        Some(other) => Err(super::args::wrong_type(
            F,
            name,
            crate::value::Kind::Float,
            other,
        )),
    }
}

fn histogram_quantile(a: &Record, t: &Table) -> BResult<Option<Table>> {
    let q = float(a, "quantile", None)?;
    let min = float(a, "minValue", Some(0.0))?;
    let count_col = string_arg(F, a, "countColumn", "_value")?;
    let bound_col = string_arg(F, a, "upperBoundColumn", "le")?;
    let value_col = string_arg(F, a, "valueColumn", "_value")?;
    let mode = string_arg(F, a, "onNonmonotonic", "error")?;
    if mode != "error" && mode != "force" && mode != "drop" {
        return Err(format!(
            "{F}: onNonmonotonic must be \"error\", \"force\" or \"drop\", not {mode:?}"
        )
        .into());
    }
    let column = |label: &str, what: &str| -> BResult<&Vec<Value>> {
        let c = t
            .column(label)
            .ok_or_else(|| format!("{F}: table is missing {what} column {label:?}"))?;
        if c.kind != ColKind::Float {
            return Err(format!("{F}: {what} column {label:?} must be of type float").into());
        }
        Ok(&c.values)
    };
    let counts = column(&count_col, "count")?;
    let bounds = column(&bound_col, "upper bound")?;
    let mut cdf: Vec<(f64, f64)> = Vec::with_capacity(t.len());
    for (c, b) in counts.iter().zip(bounds) {
        let count = match c {
            Value::Float(x) => *x,
            _ => return Err(format!("{F}: unexpected null in the countColumn").into()),
        };
        let bound = match b {
            Value::Float(x) => *x,
            _ => return Err(format!("{F}: unexpected null in the upperBoundColumn").into()),
        };
        cdf.push((bound, count));
    }
    cdf.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Flux starts from a count of 0: a negative first count decreases too
    let monotonic =
        cdf.first().is_none_or(|b| b.1 >= 0.0) && cdf.windows(2).all(|w| w[0].1 <= w[1].1);
    match mode.as_str() {
        _ if monotonic => {}
        "drop" => return Ok(None),
        "force" => {
            let mut max = 0.0_f64;
            for b in &mut cdf {
                max = max.max(b.1);
                b.1 = max;
            }
        }
        _ => return Err(format!("{F}: histogram records counts are not monotonic").into()),
    }
    let v = quantile(&cdf, q, min)?;
    Ok(Some(t.reduced(&value_col, ColKind::Float, Value::Float(v))))
}

/// The quantile `q` of the cumulative histogram `cdf` (upper bound, count), sorted by bound.
fn quantile(cdf: &[(f64, f64)], q: f64, min: f64) -> BResult<f64> {
    let Some(&(last_bound, total)) = cdf.last() else {
        return Err(format!("{F}: histogram is empty").into());
    };
    let rank = q * total;
    let mut rank_idx: Option<usize> = None;
    for (i, &(_, count)) in cdf.iter().enumerate() {
        if rank >= count {
            rank_idx = Some(i);
        }
    }
    let ((lower_bound, lower_count), (upper_bound, upper_count)) = match rank_idx {
        None => ((min, 0.0), cdf[0]),
        Some(i) if i == cdf.len() - 1 => return Ok(last_bound),
        Some(i) => (cdf[i], cdf[i + 1]),
    };
    if rank == lower_count {
        return Ok(lower_bound);
    }
    if lower_bound == f64::NEG_INFINITY {
        return Ok(upper_bound);
    }
    if upper_bound == f64::INFINITY {
        return Ok(lower_bound);
    }
    let scale = (rank - lower_count) / (upper_count - lower_count);
    Ok(lower_bound + (upper_bound - lower_bound) * scale)
}
