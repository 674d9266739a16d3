//! `to()`: writes a stream's rows as points into a bucket and passes the stream on.
//!
//! InfluxDB's rules (`to.go`): `_measurement`, `_time`, `_field` and `_value` are required;
//! every other string column is a tag (empty values skipped), sorted by name; a row without a
//! time or with a null, NaN or infinite value writes nothing; a time value is written as its
//! integer nanoseconds. With `host` (and `org`, `token`) the points go to that InfluxDB's
//! v2 write API through the node's remote writer and retry policy.

use ferry_lp::{FieldValue, Point};

use super::args::{builtin, string_arg, BResult};
use super::streams::{map_tables, source_error, stream_arg, Env};
use crate::eval::Builtin;
use crate::table::{RemoteTarget, Table};
use crate::value::Value;

/// Points handed to the storage at a time.
const BATCH: usize = 5000;

pub(super) fn builtins(env: &Env) -> Vec<Builtin> {
    let env = env.clone();
    vec![builtin(
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
        move |ev, a| {
            const F: &str = "to";
            let s = stream_arg(F, a)?;
            for unsupported in ["bucketID", "orgID", "tagColumns", "fieldFn"] {
                if a.get(unsupported).is_some_and(|v| !v.is_null()) {
                    return Err(format!("to: {unsupported} is not supported yet").into());
                }
            }
            let bucket = string_arg(F, a, "bucket", "")?;
            if bucket.is_empty() {
                return Err("to: missing required argument bucket".into());
            }
            let time_col = string_arg(F, a, "timeColumn", "_time")?;
            let m_col = string_arg(F, a, "measurementColumn", "_measurement")?;
            let host = string_arg(F, a, "host", "")?;
            let remote = (!host.is_empty()).then(|| -> BResult<RemoteTarget> {
                Ok(RemoteTarget {
                    host: host.clone(),
                    org: string_arg(F, a, "org", "")?,
                    bucket: bucket.clone(),
                    token: Some(string_arg(F, a, "token", "")?).filter(|t| !t.is_empty()),
                })
            });
            let remote = remote.transpose()?;
            if remote.is_none() && a.get("org").is_some_and(|v| !v.is_null()) {
                return Err("to: org without host is not supported yet".into());
            }
            if remote.is_none() {
                // an empty write checks the bucket and the permission first, so a script that
                // may not write is refused even when it has nothing to write (as InfluxDB does)
                env.source
                    .write(&bucket, Vec::new())
                    .map_err(source_error)?;
            }
            let env = env.clone();
            map_tables(ev, &env.clone(), s, &mut |_, t| {
                let points = points(t, &time_col, &m_col)?;
                for chunk in points.chunks(BATCH) {
                    match &remote {
                        Some(r) => env.source.write_remote(r, chunk.to_vec()),
                        None => env.source.write(&bucket, chunk.to_vec()),
                    }
                    .map_err(source_error)?;
                }
                Ok(Some(t.clone()))
            })
        },
    )]
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
        let value = match cell(vi) {
            Value::Float(f) if f.is_finite() => FieldValue::Float(*f),
            Value::Int(i) => FieldValue::Integer(*i),
            Value::UInt(u) => FieldValue::UInteger(*u),
            Value::Bool(b) => FieldValue::Boolean(*b),
            Value::String(s) => FieldValue::String(s.to_string()),
            Value::Time(t) => FieldValue::Integer(*t),
            _ => continue,
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
