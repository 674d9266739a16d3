//! The packages a script can `import`, each a record of builtins bound under its alias (or the
//! last segment of its path): `types`, `strings`, `influxdata/influxdb/tasks`,
//! `influxdata/influxdb/secrets` (also under the path `secrets`, which the edge replication
//! guide imports and no real package has), `experimental` (`to`, `addDuration`,
//! `subDuration`), `join` (`tables`, with `inner`, `left`, `right`, `full` and `time` in
//! `join.flux`), `timezone` (`location`, `fixed`, and `utc` in `timezone.flux`) and `profiler` (accepted, does nothing).

use std::sync::Arc;

use super::args::{builtin, required, string_arg, time_arg, wrong_type, BResult};
use super::streams::{builtin_env, source_error};
use crate::eval::Builtin;
use crate::value::{Kind, Record, Value};

/// The packages written in Flux: their source, evaluated in the universe (plus the package's
/// builtins, for `join` and `timezone`) on import (see `query::run`); every top-level binding is a member.
pub fn flux_source(path: &str) -> Option<&'static str> {
    match path {
        "influxdata/influxdb/schema" | "influxdata/influxdb/v1" => {
            Some(include_str!("schema.flux"))
        }
        "join" => Some(include_str!("join.flux")),
        "timezone" => Some(include_str!("timezone.flux")),
        _ => None,
    }
}

/// The package at `path`, or `None` for a path no package has.
pub fn package(path: &str) -> Option<Value> {
    let members: Vec<Builtin> = match path {
        "types" => vec![builtin("isType", &["v", "type"], false, |_, a| {
            let v = required("types.isType", a, "v")?;
            let t = string_arg("types.isType", a, "type", "")?;
            Ok(Value::Bool(is_type(v, &t)))
        })],
        "influxdata/influxdb/tasks" => {
            vec![builtin_env(
                "lastSuccess",
                &["orTime"],
                false,
                |_, env, a| {
                    Ok(match env.last_success {
                        Some(t) => Value::Time(t),
                        None => Value::Time(time_arg(
                            "tasks.lastSuccess",
                            "orTime",
                            required("tasks.lastSuccess", a, "orTime")?,
                            env.now,
                        )?),
                    })
                },
            )]
        }
        "influxdata/influxdb/secrets" => {
            vec![builtin_env("get", &["key"], false, |_, env, a| {
                let key = string_arg("secrets.get", a, "key", "")?;
                env.source
                    .secret(&key)
                    .map(Value::string)
                    .map_err(source_error)
            })]
        }
        "strings" => strings(),
        "experimental" => {
            // `add` false: subDuration, which adds the negated duration
            let shift = move |name: &'static str, f: &'static str, add: bool| {
                builtin_env(name, &["d", "to"], false, move |_, env, a| {
                    let d = match required(f, a, "d")? {
                        Value::Duration(d) if add => *d,
                        Value::Duration(d) => d
                            .checked_neg()
                            .ok_or_else(|| format!("{f}: duration out of range"))?,
                        other => return Err(wrong_type(f, "d", Kind::Duration, other)),
                    };
                    let to = time_arg(f, "to", required(f, a, "to")?, env.now)?;
                    super::args::add_duration(to, d)
                        .map(Value::Time)
                        .ok_or_else(|| format!("{f}: time out of range").into())
                })
            };
            vec![
                super::sink::wide_to(),
                shift("addDuration", "experimental.addDuration", true),
                shift("subDuration", "experimental.subDuration", false),
            ]
        }
        "influxdata/influxdb/schema" | "influxdata/influxdb/v1" => super::schema::builtins(),
        "date" => super::date::members(),
        "array" => vec![super::array::from()],
        "join" => vec![super::join_tables::tables_fn()],
        "timezone" => super::timezone::members(),
        "profiler" => Vec::new(),
        _ => return None,
    };
    let mut r = Record::new();
    for b in members {
        let name = b.name.clone();
        r.set(name, Value::Builtin(Arc::new(b)));
    }
    Some(Value::Record(Arc::new(r)))
}

/// `types.isType`: the names Flux uses for the basic types.
fn is_type(v: &Value, t: &str) -> bool {
    matches!(
        (v, t),
        (Value::String(_), "string")
            | (Value::Int(_), "int")
            | (Value::UInt(_), "uint")
            | (Value::Float(_), "float")
            | (Value::Bool(_), "bool")
            | (Value::Time(_), "time")
            | (Value::Duration(_), "duration")
            | (Value::Regexp(_), "regexp")
    )
}

fn str_arg(f: &str, a: &Record, name: &str) -> BResult<String> {
    match required(f, a, name)? {
        Value::String(s) => Ok(s.to_string()),
        other => Err(wrong_type(f, name, Kind::String, other)),
    }
}

/// A few of `strings`: those dashboards and the guides use.
fn strings() -> Vec<Builtin> {
    fn unary(name: &'static str, f: fn(&str) -> String) -> Builtin {
        builtin(name, &["v"], false, move |_, a| {
            Ok(Value::string(f(&str_arg(name, a, "v")?)))
        })
    }
    fn test(name: &'static str, arg: &'static str, f: fn(&str, &str) -> bool) -> Builtin {
        builtin(name, &["v", arg], false, move |_, a| {
            Ok(Value::Bool(f(
                &str_arg(name, a, "v")?,
                &str_arg(name, a, arg)?,
            )))
        })
    }
    vec![
        unary("toUpper", |s| s.to_uppercase()),
        unary("toLower", |s| s.to_lowercase()),
        unary("trimSpace", |s| s.trim().to_string()),
        test("containsStr", "substr", |v, x| v.contains(x)),
        test("hasPrefix", "prefix", |v, x| v.starts_with(x)),
        test("hasSuffix", "suffix", |v, x| v.ends_with(x)),
        builtin("replaceAll", &["v", "t", "u"], false, |_, a| {
            let f = "strings.replaceAll";
            Ok(Value::string(
                str_arg(f, a, "v")?.replace(&str_arg(f, a, "t")?, &str_arg(f, a, "u")?),
            ))
        }),
        builtin("strlen", &["v"], false, |_, a| {
            Ok(Value::Int(
                str_arg("strings.strlen", a, "v")?.chars().count() as i64,
            ))
        }),
    ]
}
