//! InfluxQL answers (`chunked=true`, `epoch=ns`, `GROUP BY *`) → line protocol.
//!
//! Answers come as JSON or, from InfluxDB 1.x (which encodes it for about two thirds of the
//! CPU time JSON takes), as MessagePack: the same structure either way. Each chunk is one
//! document; each series of a chunk carries its measurement name, its
//! tags (because of `GROUP BY *`) and rows of `[time, field1, field2, …]`. A row becomes one
//! line; `null` cells (fields the point does not have) are left out; a row without any field
//! is skipped. Field types come from `SHOW FIELD KEYS`, because JSON cannot tell the float
//! `1` from the integer `1`.

use std::collections::{BTreeMap, HashMap};

use ferry_lp::{escape_measurement, escape_string_field, escape_tag, FieldType};
use serde::Deserialize;
use serde_json::Value;

/// One chunk of a `/query` answer.
#[derive(Debug, Deserialize)]
pub struct QueryChunk {
    /// One result per statement.
    #[serde(default)]
    pub results: Vec<StatementResult>,
    /// A request-level error (`{"error": …}`).
    #[serde(default)]
    pub error: Option<String>,
}

/// One statement's (part of a) result.
#[derive(Debug, Deserialize)]
pub struct StatementResult {
    /// Series of the result.
    #[serde(default)]
    pub series: Vec<Series>,
    /// A statement error (HTTP 200 with `"error"`).
    #[serde(default)]
    pub error: Option<String>,
}

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
    /// Rows.
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
    key.extend_from_slice(escape_measurement(&series.name).as_bytes());
    if let Some(tags) = &series.tags {
        for (k, v) in tags {
            if v.is_empty() {
                continue; // GROUP BY * reports absent tags as ""
            }
            key.push(b',');
            key.extend_from_slice(escape_tag(k).as_bytes());
            key.push(b'=');
            key.extend_from_slice(escape_tag(v).as_bytes());
        }
    }
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

/// Writes one field value; `false` when it cannot be written (an array or object).
fn write_value(out: &mut Vec<u8>, v: &Value, ty: Option<FieldType>) -> bool {
    match v {
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::String(s) => {
            out.push(b'"');
            out.extend_from_slice(escape_string_field(s).as_bytes());
            out.push(b'"');
        }
        Value::Number(num) => match ty {
            Some(FieldType::Integer) | Some(FieldType::UInteger) => {
                if let Some(i) = num.as_i64() {
                    out.extend_from_slice(itoa::Buffer::new().format(i).as_bytes());
                } else if let Some(u) = num.as_u64() {
                    out.extend_from_slice(itoa::Buffer::new().format(u).as_bytes());
                } else {
                    // an integer field with a non-integral value: keep it as a float
                    write_float(out, num.as_f64().unwrap_or(0.0));
                    return true;
                }
                out.push(if ty == Some(FieldType::UInteger) {
                    b'u'
                } else {
                    b'i'
                });
            }
            _ => {
                if let Some(i) = num.as_i64() {
                    out.extend_from_slice(itoa::Buffer::new().format(i).as_bytes());
                } else if let Some(u) = num.as_u64() {
                    out.extend_from_slice(itoa::Buffer::new().format(u).as_bytes());
                } else {
                    write_float(out, num.as_f64().unwrap_or(0.0));
                }
            }
        },
        Value::Null | Value::Array(_) | Value::Object(_) => return false,
    }
    true
}

fn write_float(out: &mut Vec<u8>, f: f64) {
    if f.is_finite() {
        out.extend_from_slice(ryu::Buffer::new().format_finite(f).as_bytes());
    } else {
        out.extend_from_slice(b"0");
    }
}

/// Converts one chunk (a JSON document) into line protocol appended to `out`.
/// Returns the points written; an `error` in the answer is returned as `Err`.
pub fn chunk_to_lp(chunk: &[u8], types: &FieldTypes, out: &mut Vec<u8>) -> Result<usize, String> {
    decoded_chunk_to_lp(json_chunk(chunk)?, types, out)
}

/// Decodes one JSON document of a `/query` answer.
pub fn json_chunk(doc: &[u8]) -> Result<QueryChunk, String> {
    serde_json::from_slice(doc).map_err(|e| format!("unreadable query answer: {e}"))
}

/// What [`msgpack_chunk`] found at the start of a buffer.
#[derive(Debug)]
pub enum MsgpackChunk {
    /// A whole document and the bytes it took.
    Complete(QueryChunk, usize),
    /// The buffer ends inside the document: read more.
    Incomplete,
}

/// Decodes the MessagePack document at the start of `buf` (chunked answers are documents
/// one after the other, with nothing between them).
pub fn msgpack_chunk(buf: &[u8]) -> Result<MsgpackChunk, String> {
    let mut cursor = std::io::Cursor::new(buf);
    let mut de = rmp_serde::Deserializer::new(&mut cursor);
    match <QueryChunk as Deserialize>::deserialize(&mut de) {
        Ok(c) => Ok(MsgpackChunk::Complete(c, cursor.position() as usize)),
        Err(e) if is_eof(&e) => Ok(MsgpackChunk::Incomplete),
        Err(e) => Err(format!("unreadable MessagePack query answer: {e}")),
    }
}

fn is_eof(e: &rmp_serde::decode::Error) -> bool {
    use rmp_serde::decode::Error as E;
    match e {
        E::InvalidMarkerRead(io) | E::InvalidDataRead(io) => {
            io.kind() == std::io::ErrorKind::UnexpectedEof
        }
        _ => false,
    }
}

/// Converts one decoded chunk into line protocol appended to `out`, like [`chunk_to_lp`].
pub fn decoded_chunk_to_lp(
    c: QueryChunk,
    types: &FieldTypes,
    out: &mut Vec<u8>,
) -> Result<usize, String> {
    if let Some(e) = c.error {
        return Err(e);
    }
    let mut n = 0;
    for r in &c.results {
        if let Some(e) = &r.error {
            return Err(e.clone());
        }
        for s in &r.series {
            n += series_to_lp(s, types, out);
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn types() -> FieldTypes {
        [
            ("f", FieldType::Float),
            ("i", FieldType::Integer),
            ("s", FieldType::String),
            ("b", FieldType::Boolean),
            ("a=b c,d", FieldType::Float),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    #[test]
    fn every_type_and_escaping() {
        let doc = r#"{"results":[{"statement_id":0,"series":[{"name":"weird meas,1","tags":{"host":"a b","rack id":"r=0,x","empty":""},"columns":["time","a=b c,d","b","f","i","s"],"values":[[1700000000000000000,null,true,1,-9223372036854775808,"hi \"there\" \\ x"],[1700000000000000001,2.5,false,1e21,7,null],[1700000000000000002,null,null,null,null,null]],"partial":true}],"partial":true}]}"#;
        let mut out = Vec::new();
        let n = chunk_to_lp(doc.as_bytes(), &types(), &mut out).unwrap();
        assert_eq!(n, 2);
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            r#"weird\ meas\,1,host=a\ b,rack\ id=r\=0\,x b=true,f=1,i=-9223372036854775808i,s="hi \"there\" \\ x" 1700000000000000000"#
        );
        assert_eq!(
            lines[1],
            r#"weird\ meas\,1,host=a\ b,rack\ id=r\=0\,x a\=b\ c\,d=2.5,b=false,f=1e21,i=7i 1700000000000000001"#
        );
        // Every line parses back with Ferry's parser, with the right types.
        for l in &lines {
            let p = ferry_lp::parse_line(l.as_bytes(), ferry_lp::Precision::Nanoseconds, 0)
                .expect("parses");
            assert_eq!(p.measurement, "weird meas,1");
        }
    }

    #[test]
    fn errors_are_reported() {
        let mut out = Vec::new();
        assert_eq!(
            chunk_to_lp(
                br#"{"results":[{"statement_id":0,"error":"database not found: x"}]}"#,
                &types(),
                &mut out
            ),
            Err("database not found: x".to_string())
        );
        assert!(chunk_to_lp(br#"{"error":"authorization failed"}"#, &types(), &mut out).is_err());
        assert!(chunk_to_lp(b"not json", &types(), &mut out).is_err());
        assert_eq!(
            chunk_to_lp(br#"{"results":[{"statement_id":0}]}"#, &types(), &mut out),
            Ok(0)
        );
    }

    /// The JSON test document, re-encoded as MessagePack (as influxd 1.x sends it: floats as
    /// float64, integers as ints), decodes to the same lines, also when it arrives in pieces.
    #[test]
    fn msgpack_chunks_match_json() {
        let json = r#"{"results":[{"statement_id":0,"series":[{"name":"weird meas,1","tags":{"host":"a b","empty":""},"columns":["time","b","f","i","s"],"values":[[1700000000000000000,true,1.5,-9223372036854775808,"hi \"there\""],[1700000000000000001,false,2.0,7,null]]}]}]}"#;
        let value: Value = serde_json::from_str(json).unwrap();
        let mut packed = rmp_serde::to_vec_named(&value).unwrap();
        let one = packed.len();
        packed.extend_from_slice(&rmp_serde::to_vec_named(&value).unwrap());
        for cut in 0..one {
            assert!(
                matches!(msgpack_chunk(&packed[..cut]), Ok(MsgpackChunk::Incomplete)),
                "cut {cut}"
            );
        }
        let MsgpackChunk::Complete(c, used) = msgpack_chunk(&packed).unwrap() else {
            panic!("complete document expected")
        };
        assert_eq!(used, one);
        let (mut from_mp, mut from_json) = (Vec::new(), Vec::new());
        assert_eq!(decoded_chunk_to_lp(c, &types(), &mut from_mp), Ok(2));
        assert_eq!(
            chunk_to_lp(json.as_bytes(), &types(), &mut from_json),
            Ok(2)
        );
        let text = String::from_utf8(from_mp).unwrap();
        assert!(text.starts_with(r#"weird\ meas\,1,host=a\ b b=true,f=1.5,i=-9223372036854775808i,s="hi \"there\"" 1700000000000000000"#), "{text}");
        // 2.0 as a float64 stays a float (2.0); JSON's "2.0" parses as a float too.
        assert_eq!(text, String::from_utf8(from_json).unwrap());
        // A statement error travels in MessagePack too.
        let err =
            rmp_serde::to_vec_named(&serde_json::json!({"error": "authorization failed"})).unwrap();
        let MsgpackChunk::Complete(c, _) = msgpack_chunk(&err).unwrap() else {
            panic!()
        };
        assert!(decoded_chunk_to_lp(c, &types(), &mut Vec::new()).is_err());
        assert!(
            msgpack_chunk(&[0xc1]).is_err(),
            "0xc1 is never used in MessagePack"
        );
    }

    #[test]
    fn untyped_fields_are_guessed() {
        let s = Series {
            name: "m".into(),
            tags: None,
            columns: vec!["time".into(), "x".into(), "y".into()],
            values: vec![vec![Value::from(5), Value::from(1.5), Value::from(3)]],
        };
        let mut out = Vec::new();
        assert_eq!(series_to_lp(&s, &FieldTypes::new(), &mut out), 1);
        assert_eq!(out, b"m x=1.5,y=3 5\n");
    }
}
