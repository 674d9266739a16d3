//! One series of an InfluxQL answer as line protocol, and the value writers the streaming
//! decoder ([`super::streaming`]) shares with it, so both write the same bytes.

use std::collections::{BTreeMap, HashMap};

use ferry_lp::{escape_measurement, escape_string_field, escape_tag, FieldType};
use serde::Deserialize;
use serde_json::Value;

/// One series: name, tags, columns and rows.
#[derive(Debug, Deserialize)]
pub struct Series {
    /// Measurement name.
    #[serde(default)]
    pub name: String,
    /// Tags (present with `GROUP BY`).
    #[serde(default)]
    pub tags: Option<BTreeMap<String, String>>,
    /// Column names; the first is `time`.
    #[serde(default)]
    pub columns: Vec<String>,
    /// The rows, `[time, field1, field2, …]` in the order of `columns`.
    #[serde(default)]
    pub values: Vec<Vec<Value>>,
}

/// Field types of one measurement, by field key.
pub type FieldTypes = HashMap<String, FieldType>;

/// Appends the lines of `series` to `out`; returns the number of points (lines) written.
/// `types` gives each field's type (absent: guessed from the JSON value).
pub fn series_to_lp(series: &Series, types: &FieldTypes, out: &mut Vec<u8>) -> usize {
    let Some(time_col) = series.columns.iter().position(|c| c == "time") else {
        return 0;
    };
    // The series key prefix, escaped once.
    let mut key = Vec::with_capacity(64);
    series_key(&mut key, &series.name, series.tags.as_ref());
    let cols: Vec<(usize, Vec<u8>, Option<FieldType>)> = series
        .columns
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != time_col)
        .map(|(i, c)| {
            (
                i,
                escape_tag(c).into_owned().into_bytes(),
                types.get(c).copied(),
            )
        })
        .collect();
    let mut n = 0;
    for row in &series.values {
        let Some(ts) = row.get(time_col).and_then(Value::as_i64) else {
            continue;
        };
        let start = out.len();
        out.extend_from_slice(&key);
        let mut sep = b' ';
        for (i, name, ty) in &cols {
            let Some(v) = row.get(*i) else { continue };
            if v.is_null() {
                continue;
            }
            out.push(sep);
            sep = b',';
            out.extend_from_slice(name);
            out.push(b'=');
            if !write_value(out, v, *ty) {
                out.truncate(start);
                sep = 0;
                break;
            }
        }
        if sep != b',' {
            out.truncate(start); // no field (or an unwritable value): no line
            continue;
        }
        out.push(b' ');
        out.extend_from_slice(itoa::Buffer::new().format(ts).as_bytes());
        out.push(b'\n');
        n += 1;
    }
    n
}

/// Appends the escaped series key: the measurement, then `,tag=value` for each tag with a
/// value (`GROUP BY *` reports a tag the series lacks as "").
pub(super) fn series_key(out: &mut Vec<u8>, name: &str, tags: Option<&BTreeMap<String, String>>) {
    out.extend_from_slice(escape_measurement(name).as_bytes());
    for (k, v) in tags.into_iter().flatten() {
        if v.is_empty() {
            continue;
        }
        out.push(b',');
        out.extend_from_slice(escape_tag(k).as_bytes());
        out.push(b'=');
        out.extend_from_slice(escape_tag(v).as_bytes());
    }
}

/// Writes one field value; `false` when it cannot be written (an array or object).
pub(super) fn write_value(out: &mut Vec<u8>, v: &Value, ty: Option<FieldType>) -> bool {
    match v {
        Value::Bool(b) => write_bool(out, *b),
        Value::String(s) => write_str(out, s),
        Value::Number(num) => {
            if let Some(i) = num.as_i64() {
                write_i64(out, i, ty);
            } else if let Some(u) = num.as_u64() {
                write_u64(out, u, ty);
            } else {
                // a non-integral value stays a float, whatever the field's type
                write_f64(out, num.as_f64().unwrap_or(0.0));
            }
        }
        Value::Null | Value::Array(_) | Value::Object(_) => return false,
    }
    true
}

pub(super) fn write_bool(out: &mut Vec<u8>, b: bool) {
    out.extend_from_slice(if b { b"true" } else { b"false" });
}

pub(super) fn write_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    out.extend_from_slice(escape_string_field(s).as_bytes());
    out.push(b'"');
}

/// An integer: with the `i`/`u` suffix of an integer field, bare (a float) otherwise.
pub(super) fn write_i64(out: &mut Vec<u8>, i: i64, ty: Option<FieldType>) {
    out.extend_from_slice(itoa::Buffer::new().format(i).as_bytes());
    int_suffix(out, ty);
}

/// Like [`write_i64`].
pub(super) fn write_u64(out: &mut Vec<u8>, u: u64, ty: Option<FieldType>) {
    out.extend_from_slice(itoa::Buffer::new().format(u).as_bytes());
    int_suffix(out, ty);
}

pub(super) fn int_suffix(out: &mut Vec<u8>, ty: Option<FieldType>) {
    match ty {
        Some(FieldType::Integer) => out.push(b'i'),
        Some(FieldType::UInteger) => out.push(b'u'),
        _ => {}
    }
}

pub(super) fn write_f64(out: &mut Vec<u8>, f: f64) {
    if f.is_finite() {
        ferry_lp::write_f64(out, f);
    } else {
        out.extend_from_slice(b"0");
    }
}
