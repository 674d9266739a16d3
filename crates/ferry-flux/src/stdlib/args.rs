//! Reading a builtin's arguments: required and defaulted values of each type, times given
//! as a time, a duration from `now` or Unix seconds, and Flux's time + duration arithmetic.

use crate::datetime::civil_from_days;
use crate::eval::{Builtin, EvalErrorKind, Evaluator};
use crate::value::{Duration, Kind, Record, Value};

/// Result of a builtin.
pub type BResult<T> = Result<T, EvalErrorKind>;

/// A builtin named `name` with parameters `params` (the pipe parameter is `tables`).
pub(crate) fn builtin(
    name: &str,
    params: &[&str],
    pipe: bool,
    f: impl Fn(&mut Evaluator<'_>, &Record) -> BResult<Value> + Send + Sync + 'static,
) -> Builtin {
    Builtin {
        name: name.to_string(),
        params: params.iter().map(|p| p.to_string()).collect(),
        pipe: pipe.then(|| "tables".to_string()),
        func: Box::new(f),
    }
}

/// The argument `name`, required.
pub(crate) fn required<'a>(f: &str, args: &'a Record, name: &str) -> BResult<&'a Value> {
    match args.get(name) {
        Some(v) if !v.is_null() => Ok(v),
        _ => Err(format!("{f}: missing required argument {name}").into()),
    }
}

pub(crate) fn string_arg(f: &str, args: &Record, name: &str, default: &str) -> BResult<String> {
    match args.get(name) {
        None | Some(Value::Null) => Ok(default.to_string()),
        Some(Value::String(s)) => Ok(s.to_string()),
        Some(other) => Err(wrong_type(f, name, Kind::String, other)),
    }
}

pub(crate) fn bool_arg(f: &str, args: &Record, name: &str, default: bool) -> BResult<bool> {
    match args.get(name) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(wrong_type(f, name, Kind::Bool, other)),
    }
}

pub(crate) fn int_arg(f: &str, args: &Record, name: &str, default: Option<i64>) -> BResult<i64> {
    match args.get(name) {
        None | Some(Value::Null) => {
            default.ok_or_else(|| format!("{f}: missing required argument {name}").into())
        }
        Some(Value::Int(i)) => Ok(*i),
        Some(other) => Err(wrong_type(f, name, Kind::Int, other)),
    }
}

pub(crate) fn strings_arg(f: &str, args: &Record, name: &str) -> BResult<Option<Vec<String>>> {
    match args.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.to_string()),
                other => Err(wrong_type(f, name, Kind::String, other)),
            })
            .collect::<BResult<Vec<_>>>()
            .map(Some),
        Some(other) => Err(wrong_type(f, name, Kind::Array, other)),
    }
}

pub(crate) fn duration_arg(f: &str, args: &Record, name: &str) -> BResult<Option<Duration>> {
    match args.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Duration(d)) => Ok(Some(*d)),
        Some(other) => Err(wrong_type(f, name, Kind::Duration, other)),
    }
}

/// A negative `every` (the guides' `every: -task.every`) as its absolute value, with a note,
/// unless strict (then the caller's check refuses it as InfluxDB does).
pub(crate) fn lenient_every(
    f: &str,
    every: Duration,
    leniency: &crate::leniency::Leniency,
) -> Duration {
    let negative = every.nanos < 0 || every.months < 0;
    if negative
        && leniency.allow(format!(
            "{f}: a negative every taken as its absolute value (InfluxDB refuses it: \
             parameter \"every\" must be non-negative)"
        ))
    {
        return Duration {
            months: every.months.saturating_abs(),
            nanos: every.nanos.saturating_abs(),
        };
    }
    every
}

pub(crate) fn wrong_type(f: &str, name: &str, want: Kind, got: &Value) -> EvalErrorKind {
    format!(
        "{f}: argument {name}: expected {want} but found {}",
        got.kind()
    )
    .into()
}

/// A time argument: a time, a duration from `now`, or an int of Unix seconds.
pub(crate) fn time_arg(f: &str, name: &str, v: &Value, now: i64) -> BResult<i64> {
    match v {
        Value::Time(t) => Ok(*t),
        Value::Duration(d) => {
            add_duration(now, *d).ok_or_else(|| format!("{f}: {name} is out of range").into())
        }
        Value::Int(secs) => secs
            .checked_mul(1_000_000_000)
            .ok_or_else(|| format!("{f}: {name} is out of range").into()),
        other => Err(wrong_type(f, name, Kind::Time, other)),
    }
}

/// `t + d` as Flux adds a duration to a time: calendar months first (Go's `AddDate`, which
/// carries an overflowing day into the next month), then the fixed part.
pub fn add_duration(t: i64, d: Duration) -> Option<i64> {
    let t = if d.months == 0 {
        t
    } else {
        let day = t.div_euclid(86_400_000_000_000);
        let within = t.rem_euclid(86_400_000_000_000);
        let (y, m, dd) = civil_from_days(day);
        let months = y
            .checked_mul(12)?
            .checked_add(i64::from(m) - 1)?
            .checked_add(d.months)?;
        let (ny, nm) = (months.div_euclid(12), months.rem_euclid(12) as u32 + 1);
        let first = crate::datetime::days_from_civil(i32::try_from(ny).ok()?, nm, 1);
        (first + i64::from(dd) - 1)
            .checked_mul(86_400_000_000_000)?
            .checked_add(within)?
    };
    t.checked_add(d.nanos)
}
