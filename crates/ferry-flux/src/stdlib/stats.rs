//! `median`, `quantile` and `stddev`: over each table, and as `aggregateWindow`'s `fn`. The
//! arithmetic is InfluxQL's (`ferry_window::stats`), so `median()` here and `MEDIAN()` on
//! `/query` answer the same. Flux's `median` is `quantile(q: 0.5)` with a t-digest estimate;
//! Ferry computes the quantile exactly (linear interpolation between the closest ranks, the
//! t-digest's answer on the small sizes it keeps whole), so `estimate_tdigest` and
//! `exact_mean` answer alike. Nulls are skipped; the answer is a float; a table without
//! values answers null. `method: "exact_selector"` keeps the row of the value of rank
//! `ceil(q·n) − 1` instead (no row for a table without values).

use ferry_window::stats::{self, Deviation};

use super::args::{string_arg, BResult};
use super::series::as_f64;
use super::streams::{builtin_env, map_tables, stream_arg};
use crate::eval::Builtin;
use crate::table::{ColKind, Table};
use crate::value::{Record, Value};

/// What one of these functions computes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Stat {
    /// The `q` quantile (`median`: 0.5).
    Quantile(f64),
    /// The standard deviation.
    Stddev(Deviation),
}

/// The names `aggregateWindow(fn:)` takes from this module, with their default arguments.
pub(super) const WINDOWABLE: [&str; 2] = ["median", "stddev"];

impl Stat {
    /// The statistic of `values` (a float; null when there are none).
    pub(super) fn compute(self, values: &mut [f64]) -> Value {
        let answer = match self {
            Stat::Quantile(q) => stats::quantile(values, q),
            Stat::Stddev(mode) => stats::stddev(values, mode),
        };
        answer.map_or(Value::Null, Value::Float)
    }

    /// `median` or `stddev` with their defaults (for `aggregateWindow(fn: median)`).
    pub(super) fn by_name(name: &str) -> Option<Stat> {
        match name {
            "median" => Some(Stat::Quantile(0.5)),
            "stddev" => Some(Stat::Stddev(Deviation::Sample)),
            _ => None,
        }
    }
}

/// How `quantile` and `median` answer.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Method {
    /// `estimate_tdigest` and `exact_mean`: the interpolated quantile (see the module doc).
    Interpolated,
    /// `exact_selector`: the row holding the value of rank `ceil(q·n) − 1` (0 at the least),
    /// as Flux's `getQuantileIndex` picks it; ties keep time order.
    Selector,
}

fn method(f: &str, a: &Record) -> BResult<Method> {
    match string_arg(f, a, "method", "estimate_tdigest")?.as_str() {
        "estimate_tdigest" | "exact_mean" => Ok(Method::Interpolated),
        "exact_selector" => Ok(Method::Selector),
        m => Err(format!("{f}: unknown method {m:?}").into()),
    }
}

/// The row `exact_selector` picks for the `q` quantile of `column` (a table without values
/// answers no row).
fn select_quantile(f: &str, q: f64, t: &Table, column: &str) -> BResult<Table> {
    numbers(f, t, column)?;
    let col = t.column(column).expect("numbers checked the column");
    let mut ranked: Vec<(f64, usize)> = col
        .values
        .iter()
        .enumerate()
        .filter_map(|(row, v)| Some((as_f64(v)?, row)))
        .collect();
    ranked.sort_by(|a, b| a.0.total_cmp(&b.0));
    let pick = match ranked.len() {
        0 => None,
        n => {
            let index = ((q * n as f64).ceil() as usize)
                .saturating_sub(1)
                .min(n - 1);
            Some(ranked[index].1)
        }
    };
    let keep: Vec<bool> = (0..t.len()).map(|r| Some(r) == pick).collect();
    Ok(t.filter_rows(&keep))
}

pub(super) fn builtins() -> Vec<Builtin> {
    let median = {
        builtin_env(
            "median",
            &["column", "method", "compression"],
            true,
            move |ev, env, a| {
                let m = method("median", a)?;
                let column = string_arg("median", a, "column", "_value")?;
                let s = stream_arg("median", a)?;
                map_tables(ev, env, s, &mut |_, t| {
                    quantile_of("median", m, 0.5, t, &column).map(Some)
                })
            },
        )
    };
    let quantile = {
        builtin_env(
            "quantile",
            &["column", "q", "method", "compression"],
            true,
            move |ev, env, a| {
                const F: &str = "quantile";
                let m = method(F, a)?;
                let q = match a.get("q") {
                    Some(Value::Float(q)) => *q,
                    Some(Value::Int(q)) => *q as f64,
                    Some(other) => {
                        return Err(format!(
                            "{F}: argument q: expected float but found {}",
                            other.kind()
                        )
                        .into())
                    }
                    None => return Err(format!("{F}: missing required argument q").into()),
                };
                if !(0.0..=1.0).contains(&q) {
                    return Err("quantile must be between 0 and 1".into());
                }
                let column = string_arg(F, a, "column", "_value")?;
                let s = stream_arg(F, a)?;
                map_tables(ev, env, s, &mut |_, t| {
                    quantile_of(F, m, q, t, &column).map(Some)
                })
            },
        )
    };
    let stddev = {
        builtin_env("stddev", &["column", "mode"], true, move |ev, env, a| {
            const F: &str = "stddev";
            let mode = match string_arg(F, a, "mode", "sample")?.as_str() {
                "sample" => Deviation::Sample,
                "population" => Deviation::Population,
                m => return Err(format!("{F}: unknown mode {m:?}").into()),
            };
            let column = string_arg(F, a, "column", "_value")?;
            let s = stream_arg(F, a)?;
            map_tables(ev, env, s, &mut |_, t| {
                whole_table(F, Stat::Stddev(mode), t, &column).map(Some)
            })
        })
    };
    vec![median, quantile, stddev]
}

/// The numbers of `column` (nulls skipped), or Flux's error for a column that holds none.
pub(super) fn numbers(f: &str, t: &Table, column: &str) -> BResult<Vec<f64>> {
    let col = t
        .column(column)
        .ok_or_else(|| format!("{f}: column {column:?} does not exist"))?;
    if !matches!(col.kind, ColKind::Int | ColKind::UInt | ColKind::Float) {
        return Err(format!(
            "unsupported input type for {f} aggregate: {}",
            col.kind.kind()
        )
        .into());
    }
    Ok(col.values.iter().filter_map(as_f64).collect())
}

fn whole_table(f: &str, stat: Stat, t: &Table, column: &str) -> BResult<Table> {
    let mut values = numbers(f, t, column)?;
    Ok(t.reduced(column, ColKind::Float, stat.compute(&mut values)))
}

fn quantile_of(f: &str, m: Method, q: f64, t: &Table, column: &str) -> BResult<Table> {
    match m {
        Method::Interpolated => whole_table(f, Stat::Quantile(q), t, column),
        Method::Selector => select_quantile(f, q, t, column),
    }
}
