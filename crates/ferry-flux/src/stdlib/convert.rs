//! Type conversions: the scalar functions `float`, `int`, `uint`, `string`, `bool`, `time`
//! and the table functions `toFloat`, `toInt`, `toUInt`, `toString`, `toBool`, `toTime`,
//! which convert `_value`.

use super::args::{builtin, required, BResult};
use super::streams::{builtin_env, map_tables, stream_arg};
use crate::eval::Builtin;
use crate::table::{ColKind, Table};
use crate::value::{Kind, Value};

/// The conversions: name, target type, and the table function converting `_value`.
const CONVERSIONS: [(&str, Kind, &str); 6] = [
    ("float", Kind::Float, "toFloat"),
    ("int", Kind::Int, "toInt"),
    ("uint", Kind::UInt, "toUInt"),
    ("string", Kind::String, "toString"),
    ("bool", Kind::Bool, "toBool"),
    ("time", Kind::Time, "toTime"),
];

pub(super) fn builtins() -> Vec<Builtin> {
    let mut out = Vec::new();
    for (name, kind, table_fn) in CONVERSIONS {
        out.push(builtin(name, &["v"], false, move |_, a| {
            convert(required(name, a, "v")?, kind)
        }));
        out.push(builtin_env(table_fn, &[], true, move |ev, env, a| {
            let s = stream_arg(table_fn, a)?;
            map_tables(ev, env, s, &mut |_, t| {
                convert_value_column(t, kind).map(Some)
            })
        }));
    }
    out
}

fn convert_value_column(t: &Table, kind: Kind) -> BResult<Table> {
    let mut t = t.clone();
    if let Some(i) = t.index_of("_value") {
        let c = &mut t.columns[i];
        for v in &mut c.values {
            if !v.is_null() {
                *v = convert(v, kind)?;
            }
        }
        c.kind = ColKind::of_kind(kind).unwrap_or(ColKind::String);
    }
    Ok(t)
}

/// Converts `v` to `kind` as Flux's conversion functions do.
pub fn convert(v: &Value, kind: Kind) -> BResult<Value> {
    let fail =
        || -> BResult<Value> { Err(format!("cannot convert {} {v} to {kind}", v.kind()).into()) };
    Ok(match (kind, v) {
        (_, Value::Null) => Value::Null,
        (Kind::Float, Value::Float(f)) => Value::Float(*f),
        (Kind::Float, Value::Int(i)) => Value::Float(*i as f64),
        (Kind::Float, Value::UInt(u)) => Value::Float(*u as f64),
        (Kind::Float, Value::Bool(b)) => Value::Float(if *b { 1.0 } else { 0.0 }),
        (Kind::Float, Value::String(s)) => match s.parse::<f64>() {
            Ok(f) => Value::Float(f),
            Err(_) => return fail(),
        },
        (Kind::Int, Value::Int(i)) => Value::Int(*i),
        (Kind::Int, Value::Float(f)) if f.is_finite() => Value::Int(f.trunc() as i64),
        (Kind::Int, Value::UInt(u)) => Value::Int(*u as i64),
        (Kind::Int, Value::Bool(b)) => Value::Int(i64::from(*b)),
        (Kind::Int, Value::Time(t)) => Value::Int(*t),
        (Kind::Int, Value::Duration(d)) if d.months == 0 => Value::Int(d.nanos),
        (Kind::Int, Value::String(s)) => match s.parse::<i64>() {
            Ok(i) => Value::Int(i),
            Err(_) => return fail(),
        },
        (Kind::UInt, Value::UInt(u)) => Value::UInt(*u),
        (Kind::UInt, Value::Int(i)) => Value::UInt(*i as u64),
        (Kind::UInt, Value::Float(f)) if f.is_finite() => Value::UInt(f.trunc() as u64),
        (Kind::UInt, Value::Bool(b)) => Value::UInt(u64::from(*b)),
        (Kind::UInt, Value::Time(t)) => Value::UInt(*t as u64),
        (Kind::UInt, Value::String(s)) => match s.parse::<u64>() {
            Ok(u) => Value::UInt(u),
            Err(_) => return fail(),
        },
        (Kind::String, Value::String(s)) => Value::String(s.clone()),
        (
            Kind::String,
            Value::Int(_)
            | Value::UInt(_)
            | Value::Float(_)
            | Value::Bool(_)
            | Value::Time(_)
            | Value::Duration(_),
        ) => Value::string(v.to_string()),
        (Kind::Bool, Value::Bool(b)) => Value::Bool(*b),
        (Kind::Bool, Value::String(s)) if s.as_ref() == "true" => Value::Bool(true),
        (Kind::Bool, Value::String(s)) if s.as_ref() == "false" => Value::Bool(false),
        (Kind::Bool, Value::Int(0)) | (Kind::Bool, Value::UInt(0)) => Value::Bool(false),
        (Kind::Bool, Value::Int(1)) | (Kind::Bool, Value::UInt(1)) => Value::Bool(true),
        (Kind::Bool, Value::Float(f)) if *f == 0.0 || *f == 1.0 => Value::Bool(*f == 1.0),
        (Kind::Time, Value::Time(t)) => Value::Time(*t),
        (Kind::Time, Value::Int(i)) => Value::Time(*i),
        (Kind::Time, Value::UInt(u)) => Value::Time(*u as i64),
        (Kind::Time, Value::String(s)) => {
            match crate::datetime::parse(s).and_then(|dt| crate::datetime::epoch_nanos(&dt)) {
                Some(t) => Value::Time(t),
                None => return fail(),
            }
        }
        _ => return fail(),
    })
}

/// A cell as a line-protocol field value (a time as its integer nanoseconds); `None` for a
/// null or a type a field cannot hold.
pub(crate) fn field_value(v: &Value) -> Option<ferry_lp::FieldValue> {
    use ferry_lp::FieldValue;
    Some(match v {
        Value::Float(f) => FieldValue::Float(*f),
        Value::Int(i) => FieldValue::Integer(*i),
        Value::UInt(u) => FieldValue::UInteger(*u),
        Value::Bool(b) => FieldValue::Boolean(*b),
        Value::String(s) => FieldValue::String(s.to_string()),
        Value::Time(t) => FieldValue::Integer(*t),
        _ => return None,
    })
}
