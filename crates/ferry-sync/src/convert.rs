//! InfluxQL answers (`chunked=true`, `epoch=ns`, `GROUP BY *`) → line protocol.
//!
//! Answers come as JSON or, from InfluxDB 1.x (which encodes it for about two thirds of the
//! CPU time JSON takes), as MessagePack: the same structure either way. Each chunk is one
//! document; each series of a chunk carries its measurement name, its
//! tags (because of `GROUP BY *`) and rows of `[time, field1, field2, …]`. A row becomes one
//! line; `null` cells (fields the point does not have) are left out; a row without any field
//! is skipped. Field types come from `SHOW FIELD KEYS`, because JSON cannot tell the float
//! `1` from the integer `1`.

mod error;
mod series;
mod streaming;

pub use error::AnswerError;
pub use series::{series_to_lp, FieldTypes, Series};

use serde::Deserialize;

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

/// Converts one JSON document of a `/query` answer into line protocol appended to `out`
/// as it is decoded (no tree of values in between). Returns the points (lines) written; an
/// unreadable document, or an `error` in the answer, is `Err`, and then nothing is appended.
pub fn json_chunk_to_lp(
    doc: &[u8],
    types: &FieldTypes,
    out: &mut Vec<u8>,
) -> Result<usize, AnswerError> {
    let mark = out.len();
    let mut de = serde_json::Deserializer::from_slice(doc);
    let r = match streaming::document_to_lp(&mut de, types, out).and_then(|c| de.end().map(|()| c))
    {
        Ok(c) => c.lines(),
        Err(e) => Err(AnswerError::Json(e)),
    };
    if r.is_err() {
        out.truncate(mark);
    }
    r
}

/// What [`msgpack_chunk_to_lp`] found at the start of a buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum MsgpackLp {
    /// A whole document: the points (lines) it gave and the bytes it took.
    Complete {
        /// Lines appended.
        lines: usize,
        /// Bytes of the buffer the document took.
        used: usize,
    },
    /// The buffer ends inside the document: read more (nothing was appended).
    Incomplete,
}

/// Converts the MessagePack document at the start of `buf` (chunked answers are documents
/// one after the other, with nothing between them) like [`json_chunk_to_lp`].
pub fn msgpack_chunk_to_lp(
    buf: &[u8],
    types: &FieldTypes,
    out: &mut Vec<u8>,
) -> Result<MsgpackLp, AnswerError> {
    let mark = out.len();
    let mut cursor = std::io::Cursor::new(buf);
    let mut de = rmp_serde::Deserializer::new(&mut cursor);
    let r = match streaming::document_to_lp(&mut de, types, out) {
        Ok(c) => c.lines().map(|lines| MsgpackLp::Complete {
            lines,
            used: cursor.position() as usize,
        }),
        Err(e) if is_eof(&e) => Ok(MsgpackLp::Incomplete),
        Err(e) => Err(AnswerError::Msgpack(e)),
    };
    if !matches!(r, Ok(MsgpackLp::Complete { .. })) {
        out.truncate(mark);
    }
    r
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

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_lp::FieldType;
    use serde_json::Value;

    /// The value-tree conversion the streaming one is held to: the document decoded into a
    /// [`QueryChunk`], then each series through [`series_to_lp`].
    fn chunk_to_lp(chunk: &[u8], types: &FieldTypes, out: &mut Vec<u8>) -> Result<usize, String> {
        let c: QueryChunk =
            serde_json::from_slice(chunk).map_err(|e| format!("unreadable query answer: {e}"))?;
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
        let n = json_chunk_to_lp(doc.as_bytes(), &types(), &mut out).unwrap();
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
            json_chunk_to_lp(
                br#"{"results":[{"statement_id":0,"error":"database not found: x"}]}"#,
                &types(),
                &mut out
            )
            .map_err(|e| e.to_string()),
            Err("database not found: x".to_string())
        );
        assert!(
            json_chunk_to_lp(br#"{"error":"authorization failed"}"#, &types(), &mut out).is_err()
        );
        assert!(json_chunk_to_lp(b"not json", &types(), &mut out).is_err());
        assert_eq!(
            json_chunk_to_lp(br#"{"results":[{"statement_id":0}]}"#, &types(), &mut out).ok(),
            Some(0)
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
            let mut out = Vec::new();
            assert_eq!(
                msgpack_chunk_to_lp(&packed[..cut], &types(), &mut out).map_err(|e| e.to_string()),
                Ok(MsgpackLp::Incomplete),
                "cut {cut}"
            );
        }
        let (mut from_mp, mut from_json) = (Vec::new(), Vec::new());
        assert_eq!(
            msgpack_chunk_to_lp(&packed, &types(), &mut from_mp).map_err(|e| e.to_string()),
            Ok(MsgpackLp::Complete {
                lines: 2,
                used: one
            })
        );
        assert_eq!(
            json_chunk_to_lp(json.as_bytes(), &types(), &mut from_json).map_err(|e| e.to_string()),
            Ok(2)
        );
        let text = String::from_utf8(from_mp).unwrap();
        assert!(text.starts_with(r#"weird\ meas\,1,host=a\ b b=true,f=1.5,i=-9223372036854775808i,s="hi \"there\"" 1700000000000000000"#), "{text}");
        // 2.0 as a float64 stays a float (2.0); JSON's "2.0" parses as a float too.
        assert_eq!(text, String::from_utf8(from_json).unwrap());
        // A statement error travels in MessagePack too.
        let err =
            rmp_serde::to_vec_named(&serde_json::json!({"error": "authorization failed"})).unwrap();
        assert!(msgpack_chunk_to_lp(&err, &types(), &mut Vec::new()).is_err());
        assert!(
            msgpack_chunk_to_lp(&[0xc1], &types(), &mut Vec::new()).is_err(),
            "0xc1 is never used in MessagePack"
        );
    }

    /// The streaming conversion writes what the value-tree one writes, for JSON and for
    /// MessagePack, whatever order a series' keys come in; an error appends nothing.
    #[test]
    fn streaming_conversion_equals_the_value_tree() {
        let docs = [
            // every type, escaping, a null row, a tag absent from the series ("")
            r#"{"results":[{"statement_id":0,"series":[{"name":"weird meas,1","tags":{"host":"a b","rack id":"r=0,x","empty":""},"columns":["time","a=b c,d","b","f","i","s"],"values":[[1700000000000000000,null,true,1,-9223372036854775808,"hi \"there\" \\ x"],[1700000000000000001,2.5,false,1e21,7,null],[1700000000000000002,null,null,null,null,null]],"partial":true}],"partial":true}]}"#,
            // two statements, two series, no tags, time not first, extra cells, a huge time
            r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["f","time"],"values":[[1.5,10],[2,20,99],[3,18446744073709551615],[4,"x"],[[1],30],[5,{"a":1}]]},{"name":"n","tags":{"t":"v"},"columns":["time","s"],"values":[[1,"a"]]}]},{"statement_id":1,"series":[{"name":"o","columns":["time","u"],"values":[[5,18446744073709551615],[6,-1]]}]}]}"#,
            // tags after the rows, values before the columns, no time column, nulls
            r#"{"results":[{"series":[{"name":"late","columns":["time","f"],"values":[[1,1.25],[2,null]],"tags":{"h":"x y","z":""}},{"values":[[3,4]],"name":"early","columns":["time","i"]},{"name":"notime","columns":["f"],"values":[[1]]},{"name":"empty","columns":["time","f"],"values":[]}]}],"error":null}"#,
            r#"{"results":[{"statement_id":0}]}"#,
        ];
        let mut types = types();
        types.insert("u".into(), FieldType::UInteger);
        for doc in docs {
            let mut tree = b"kept\n".to_vec();
            let n = chunk_to_lp(doc.as_bytes(), &types, &mut tree).unwrap();
            let mut streamed = b"kept\n".to_vec();
            assert_eq!(
                json_chunk_to_lp(doc.as_bytes(), &types, &mut streamed).map_err(|e| e.to_string()),
                Ok(n)
            );
            assert_eq!(
                String::from_utf8_lossy(&streamed),
                String::from_utf8_lossy(&tree)
            );
            let packed =
                rmp_serde::to_vec_named(&serde_json::from_str::<Value>(doc).unwrap()).unwrap();
            let mut from_mp = b"kept\n".to_vec();
            assert_eq!(
                msgpack_chunk_to_lp(&packed, &types, &mut from_mp).map_err(|e| e.to_string()),
                Ok(MsgpackLp::Complete {
                    lines: n,
                    used: packed.len()
                })
            );
            assert_eq!(
                String::from_utf8_lossy(&from_mp),
                String::from_utf8_lossy(&tree)
            );
            // cut anywhere, a MessagePack document appends nothing and asks for more
            for cut in 0..packed.len() {
                let mut out = b"kept\n".to_vec();
                assert_eq!(
                    msgpack_chunk_to_lp(&packed[..cut], &types, &mut out)
                        .map_err(|e| e.to_string()),
                    Ok(MsgpackLp::Incomplete),
                    "cut {cut}"
                );
                assert_eq!(out, b"kept\n");
            }
        }
        let text = {
            let mut out = Vec::new();
            json_chunk_to_lp(docs[2].as_bytes(), &types, &mut out).unwrap();
            String::from_utf8(out).unwrap()
        };
        assert_eq!(text, "late,h=x\\ y f=1.25 1\nearly i=4i 3\n");
        // errors: the answer's, in a statement after good rows, and unreadable documents
        for bad in [
            r#"{"results":[{"series":[{"name":"m","columns":["time","f"],"values":[[1,1.5]]}]},{"error":"boom"}]}"#,
            r#"{"error":"authorization failed"}"#,
            r#"{"results":[{"series":[{"name":"m","columns":["time","f"],"values":[[1,1.5]"#,
            r#"{"results":7}"#,
            "not json",
        ] {
            let mut out = b"kept\n".to_vec();
            assert!(
                json_chunk_to_lp(bad.as_bytes(), &types, &mut out).is_err(),
                "{bad}"
            );
            assert_eq!(out, b"kept\n", "{bad}");
        }
        // a key twice is an error in both (a tag twice would make a line no server takes)
        for dup in [
            r#"{"results":[{"series":[{"name":"m","columns":["time","f"],"values":[[1,1]],"tags":{"a":"1"},"tags":{"a":"1"}}]}]}"#,
            r#"{"results":[{"series":[{"name":"m","columns":["time","f"],"values":[[1,1]],"values":[[2,1]]}]}]}"#,
            r#"{"results":[],"results":[]}"#,
        ] {
            let mut out = b"kept\n".to_vec();
            assert!(
                chunk_to_lp(dup.as_bytes(), &types, &mut Vec::new()).is_err(),
                "{dup}"
            );
            assert!(
                json_chunk_to_lp(dup.as_bytes(), &types, &mut out).is_err(),
                "{dup}"
            );
            assert_eq!(out, b"kept\n", "{dup}");
        }
        // the answer's own error wins over a statement's, as in the value tree
        let both = r#"{"results":[{"error":"timeout"}],"error":"authorization failed"}"#;
        assert_eq!(
            chunk_to_lp(both.as_bytes(), &types, &mut Vec::new()),
            Err("authorization failed".to_string())
        );
        assert_eq!(
            json_chunk_to_lp(both.as_bytes(), &types, &mut Vec::new()).map_err(|e| e.to_string()),
            Err("authorization failed".to_string())
        );
        let mut out = Vec::new();
        assert_eq!(
            json_chunk_to_lp(
                br#"{"results":[{"error":"database not found: x"}]}"#,
                &types,
                &mut out
            )
            .map_err(|e| e.to_string()),
            Err("database not found: x".to_string())
        );
        let nan = rmp_serde::to_vec_named(&serde_json::json!({"results":[{"series":[{"name":"m","columns":["time","f","g"],"values":[[1, 1.5, 0]]}]}]})).unwrap();
        // a NaN in place of the 0 (float64 NaN): no field g, as the value tree has it
        let mut nan = nan;
        let zero = nan.len() - 1;
        nan.truncate(zero);
        nan.push(0xcb);
        nan.extend_from_slice(&f64::NAN.to_be_bytes());
        let mut out = Vec::new();
        assert!(matches!(
            msgpack_chunk_to_lp(&nan, &types, &mut out),
            Ok(MsgpackLp::Complete { lines: 1, .. })
        ));
        assert_eq!(out, b"m f=1.5 1\n");
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
