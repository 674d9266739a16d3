//! Time in statements: time literals (zone-less ones in the `tz()` zone), the top-level
//! `time` conditions of a WHERE turned into an inclusive range ([`split_time_in`]), and
//! answer times shown in a `tz()` zone.

use super::context::Res;
use crate::ast::*;
use crate::result::{Series, Value};
use crate::tz::Location;

/// A time literal; one without a zone is wall-clock time in `loc` (UTC without `tz()`).
fn parse_time_str(s: &str, loc: Option<&Location>) -> Option<i64> {
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(s) {
        return dt.timestamp_nanos_opt();
    }
    let in_zone = |local: i64| loc.map_or(local, |l| l.from_local(local));
    for f in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(dt) = chrono::NaiveDateTime::parse_from_str(s, f) {
            return dt.and_utc().timestamp_nanos_opt().map(in_zone);
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return d
            .and_hms_opt(0, 0, 0)?
            .and_utc()
            .timestamp_nanos_opt()
            .map(in_zone);
    }
    None
}

fn time_value(e: &Expr, now: i64, loc: Option<&Location>) -> Res<i64> {
    let time_value = |e: &Expr, now: i64| time_value(e, now, loc);
    match e {
        Expr::Paren(x) => time_value(x, now),
        Expr::Str(s) => parse_time_str(s, loc).ok_or_else(|| format!("invalid time: {s:?}")),
        Expr::Integer(i) => Ok(*i),
        Expr::Number(f) => Ok(*f as i64),
        Expr::Duration(d) => Ok(*d),
        Expr::Call(n, a) if n == "now" && a.is_empty() => Ok(now),
        Expr::Binary(l, op @ (BinOp::Add | BinOp::Sub), r) => {
            let a = time_value(l, now)?;
            let b = time_value(r, now)?;
            Ok(if *op == BinOp::Add {
                a.saturating_add(b)
            } else {
                a.saturating_sub(b)
            })
        }
        _ => Err("invalid time expression".into()),
    }
}

pub(crate) fn is_time_ref(e: &Expr) -> bool {
    matches!(e, Expr::Ref(n, _) if n.eq_ignore_ascii_case("time"))
}

/// The alias `s` gives its time column: that of the first `time` field of its select list
/// (`SELECT time AS t, …`), if any. 1.6 names the answer's time column by it, whatever the
/// statement computes.
pub(crate) fn time_column_alias(s: &Select) -> Option<&str> {
    s.fields
        .iter()
        .find(|f| is_time_ref(&f.expr))
        .and_then(|f| f.alias.as_deref())
}

fn flip(op: BinOp) -> BinOp {
    match op {
        BinOp::Lt => BinOp::Gt,
        BinOp::Lte => BinOp::Gte,
        BinOp::Gt => BinOp::Lt,
        BinOp::Gte => BinOp::Lte,
        o => o,
    }
}

/// Removes the top-level `time` conditions of `e` into `[lo, hi]` (inclusive); zone-less
/// time literals are wall-clock times in `loc` (a `tz()` clause).
pub(crate) fn split_time_in(
    e: &Expr,
    now: i64,
    loc: Option<&Location>,
    lo: &mut i64,
    hi: &mut i64,
) -> Res<Option<Expr>> {
    let split_time =
        |e: &Expr, now: i64, lo: &mut i64, hi: &mut i64| split_time_in(e, now, loc, lo, hi);
    match e {
        Expr::Paren(x) => split_time(x, now, lo, hi),
        Expr::Binary(l, BinOp::And, r) => {
            let a = split_time(l, now, lo, hi)?;
            let b = split_time(r, now, lo, hi)?;
            Ok(match (a, b) {
                (Some(a), Some(b)) => Some(Expr::Binary(Box::new(a), BinOp::And, Box::new(b))),
                (a, b) => a.or(b),
            })
        }
        Expr::Binary(l, op, r) if is_time_ref(l) || is_time_ref(r) => {
            let (op, other) = if is_time_ref(l) {
                (*op, r)
            } else {
                (flip(*op), l)
            };
            let t = time_value(other, now, loc)?;
            match op {
                BinOp::Gt => *lo = (*lo).max(t.saturating_add(1)),
                BinOp::Gte => *lo = (*lo).max(t),
                BinOp::Lt => *hi = (*hi).min(t.saturating_sub(1)),
                BinOp::Lte => *hi = (*hi).min(t),
                BinOp::Eq => {
                    *lo = (*lo).max(t);
                    *hi = (*hi).min(t);
                }
                _ => return Err("invalid time comparison operator".into()),
            }
            Ok(None)
        }
        other => Ok(Some(other.clone())),
    }
}

/// The time cells of `series` shown in `loc` (`tz()`).
pub(super) fn zoned(mut series: Vec<Series>, loc: &Location) -> Vec<Series> {
    for s in &mut series {
        for row in &mut s.values {
            zone_row(row, loc);
        }
    }
    series
}

/// The time cells of one row shown in `loc` (`tz()`).
pub(super) fn zone_row(row: &mut [Value], loc: &Location) {
    for v in row.iter_mut() {
        if let Value::Time(t) = *v {
            *v = Value::ZonedTime(t, loc.offset_secs(t));
        }
    }
}
