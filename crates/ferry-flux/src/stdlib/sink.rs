//! `to()` and `experimental.to()`: write a stream's rows as points into a bucket and pass the
//! stream on.
//!
//! `to` follows InfluxDB's rules (`to.go`): `_measurement`, `_time`, `_field` and `_value` are
//! required; every other string column is a tag (empty values skipped), sorted by name; a row
//! without a time or with a null, NaN or infinite value writes nothing; a time value is
//! written as its integer nanoseconds. `experimental.to` writes pivoted rows (`wide_to.go`):
//! `_measurement` must be in the group key, every other group-key column but `_start` and
//! `_stop` is a tag, every other column but `_time` a field; `_field` in the group key means
//! the data was not pivoted. With `host` (and `org`, `token`) the points go to that InfluxDB's
//! v2 write API through the node's remote writer and retry policy.

use ferry_lp::{FieldValue, Point};

use super::args::{string_arg, BResult};
use super::streams::{builtin_env, map_tables, source_error, stream_arg, Env};
use crate::eval::{Builtin, Evaluator};
use crate::table::{RemoteTarget, Table};
use crate::value::{Record, Value};

/// Points handed to the storage at a time.
const BATCH: usize = 5000;

pub(super) fn builtins() -> Vec<Builtin> {
    vec![builtin_env(
        "to",
        &[
            "bucket",
            "bucketID",
            "org",
            "orgID",
            "host",
            "token",
            "timeColumn",
            "measurementColumn",
            "tagColumns",
            "fieldFn",
        ],
        true,
        move |ev, env, a| {
            const F: &str = "to";
            for unsupported in ["bucketID", "orgID", "tagColumns", "fieldFn"] {
                if a.get(unsupported).is_some_and(|v| !v.is_null()) {
                    return Err(format!("to: {unsupported} is not supported yet").into());
                }
            }
            let time_col = string_arg(F, a, "timeColumn", "_time")?;
            let m_col = string_arg(F, a, "measurementColumn", "_measurement")?;
            write_stream(ev, env, F, a, &mut |t| points(t, &time_col, &m_col))
        },
    )]
}

/// `experimental.to`, bound by the `experimental` package.
pub(super) fn wide_to() -> Builtin {
    builtin_env(
        "to",
        &["bucket", "bucketID", "org", "orgID", "host", "token"],
        true,
        move |ev, env, a| {
            const F: &str = "experimental.to";
            for unsupported in ["bucketID", "orgID"] {
                if a.get(unsupported).is_some_and(|v| !v.is_null()) {
                    return Err(format!("{F}: {unsupported} is not supported yet").into());
                }
            }
            write_stream(ev, env, F, a, &mut wide_points)
        },
    )
}

/// Writes the points `points_of` makes of each table of the piped stream to the bucket (or
/// the remote) the arguments name, and passes the tables on.
fn write_stream(
    ev: &mut Evaluator<'_>,
    env: &Env,
    f: &str,
    a: &Record,
    points_of: &mut dyn FnMut(&Table) -> BResult<Vec<Point>>,
) -> BResult<Value> {
    let s = stream_arg(f, a)?;
    let bucket = string_arg(f, a, "bucket", "")?;
    if bucket.is_empty() {
        return Err(format!("{f}: missing required argument bucket").into());
    }
    let host = string_arg(f, a, "host", "")?;
    let remote = (!host.is_empty()).then(|| -> BResult<RemoteTarget> {
        Ok(RemoteTarget {
            host: host.clone(),
            org: string_arg(f, a, "org", "")?,
            bucket: bucket.clone(),
            token: Some(string_arg(f, a, "token", "")?).filter(|t| !t.is_empty()),
        })
    });
    let remote = remote.transpose()?;
    if remote.is_none() && a.get("org").is_some_and(|v| !v.is_null()) {
        return Err(format!("{f}: org without host is not supported yet").into());
    }
    if remote.is_none() {
        // an empty write checks the bucket and the permission first, so a script that may
        // not write is refused even when it has nothing to write (as InfluxDB does)
        env.source
            .write(&bucket, Vec::new())
            .map_err(source_error)?;
    }
    // Points of many small tables (a series and field each) go to the storage together, a
    // BATCH at a time: each write is logged and synced, and one per table made a
    // downsampling task wait on thousands of syncs.
    let flush = |pending: &mut Vec<Point>| -> BResult<()> {
        if pending.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(pending);
        match &remote {
            Some(r) => env.source.write_remote(r, batch),
            None => env.source.write(&bucket, batch),
        }
        .map_err(source_error)?;
        Ok(())
    };
    let mut pending: Vec<Point> = Vec::new();
    map_tables(ev, &env.clone(), s, &mut |_, t| {
        for p in points_of(t)? {
            pending.push(p);
            if pending.len() >= BATCH {
                flush(&mut pending)?;
            }
        }
        Ok(None)
    })?;
    // map_tables has run over every table by now, holding none of them
    flush(&mut pending)?;
    // the tables written are the stream's own, passed on as they are: a read (or an
    // aggregate over one) is made again by whatever consumes it, so a task's `|> to()`
    // over millions of rows holds none of them
    Ok(Value::Tables(s.clone()))
}

/// A cell as a field value to write (`None`: nothing to write: null, NaN or infinite).
fn field_value(v: &Value) -> Option<FieldValue> {
    super::convert::field_value(v).filter(|f| !matches!(f, FieldValue::Float(x) if !x.is_finite()))
}

/// The points of a pivoted table (`experimental.to`).
fn wide_points(t: &Table) -> BResult<Vec<Point>> {
    const F: &str = "experimental.to";
    if t.in_key("_field") {
        return Err(format!("{F}: wideTo() expects pivoted data").into());
    }
    let Some(Value::String(m)) = t.key_value("_measurement") else {
        return Err(format!("{F}: _measurement must be a string column in the group key").into());
    };
    let ti = t
        .index_of("_time")
        .ok_or_else(|| format!("{F}: table has no column \"_time\""))?;
    let mut tags: Vec<(String, String)> = t
        .key
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "_measurement" | "_start" | "_stop"))
        .filter_map(|(k, v)| match v {
            Value::String(s) if !s.is_empty() => Some((k.clone(), s.to_string())),
            _ => None,
        })
        .collect();
    tags.sort();
    let fields: Vec<usize> = (0..t.columns.len())
        .filter(|&i| {
            let l = t.columns[i].label.as_str();
            !t.in_key(l) && !matches!(l, "_time" | "_start" | "_stop" | "_measurement")
        })
        .collect();
    let mut out = Vec::with_capacity(t.len());
    for row in 0..t.len() {
        let Value::Time(time) = t.columns[ti].values[row] else {
            continue;
        };
        let fields: Vec<(String, FieldValue)> = fields
            .iter()
            .filter_map(|&i| {
                field_value(&t.columns[i].values[row]).map(|v| (t.columns[i].label.clone(), v))
            })
            .collect();
        if fields.is_empty() {
            continue;
        }
        out.push(Point {
            measurement: m.to_string(),
            tags: tags.clone(),
            fields,
            time,
        });
    }
    Ok(out)
}

/// The points of a table's rows.
fn points(t: &Table, time_col: &str, m_col: &str) -> BResult<Vec<Point>> {
    let need = |label: &str| {
        t.index_of(label)
            .ok_or_else(|| format!("to: table has no column {label:?}"))
    };
    let (ti, mi, fi, vi) = (
        need(time_col)?,
        need(m_col)?,
        need("_field")?,
        need("_value")?,
    );
    let mut tags: Vec<usize> = (0..t.columns.len())
        .filter(|&i| {
            i != mi && i != fi && i != vi && t.columns[i].kind == crate::table::ColKind::String
        })
        .collect();
    tags.sort_by(|&x, &y| t.columns[x].label.cmp(&t.columns[y].label));
    let mut out = Vec::with_capacity(t.len());
    for row in 0..t.len() {
        let cell = |i: usize| &t.columns[i].values[row];
        let Value::Time(time) = cell(ti) else {
            continue;
        };
        let Value::String(m) = cell(mi) else { continue };
        let Value::String(field) = cell(fi) else {
            continue;
        };
        let Some(value) = field_value(cell(vi)) else {
            continue;
        };
        let tags = tags
            .iter()
            .filter_map(|&i| match cell(i) {
                Value::String(v) if !v.is_empty() => {
                    Some((t.columns[i].label.clone(), v.to_string()))
                }
                _ => None,
            })
            .collect();
        out.push(Point {
            measurement: m.to_string(),
            tags,
            fields: vec![(field.to_string(), value)],
            time: *time,
        });
    }
    Ok(out)
}
