//! Annotated CSV, the wire format of InfluxDB 2's `/api/v2/query` (Flux's `csv.ResultEncoder`).
//!
//! * Lines end in CRLF. Each result's tables are written in order, numbered 0, 1, … in the
//!   `table` column, and the result ends with an empty line; no table at all is `\r\n`.
//! * A new block (annotation rows if asked for, then the header row) starts when the columns
//!   (labels, types) or the group-key columns change, and for and after an empty table; blocks
//!   inside a result are separated by an empty line.
//! * Annotations come in the order the dialect lists them. With `default`, `#default` carries
//!   the result name and the rows leave `result` empty (an empty table's `#default` row carries
//!   its table number and key values); without it every row carries the result name.
//! * Floats as Go's `FormatFloat(v, 'f', -1, 64)` (never an exponent; `NaN`, `+Inf`, `-Inf`),
//!   times as RFC 3339 with the fraction's trailing zeros trimmed, null as an empty cell;
//!   cells quoted as Go's `encoding/csv` quotes them.

use crate::format::{write_float, write_time};
use crate::table::Table;
use crate::value::Value;

/// An annotation row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Annotation {
    /// `#datatype`
    Datatype,
    /// `#group`
    Group,
    /// `#default`
    Default,
}

impl Annotation {
    /// The annotation of a dialect's name for it.
    pub fn parse(name: &str) -> Option<Annotation> {
        match name {
            "datatype" => Some(Annotation::Datatype),
            "group" => Some(Annotation::Group),
            "default" => Some(Annotation::Default),
            _ => None,
        }
    }
}

/// How the CSV is written (the request's `dialect`).
#[derive(Debug, Clone, PartialEq)]
pub struct Dialect {
    /// Write the header row.
    pub header: bool,
    /// The cell separator.
    pub delimiter: char,
    /// Annotation rows, in this order.
    pub annotations: Vec<Annotation>,
}

impl Default for Dialect {
    /// InfluxDB's defaults: a header, commas, no annotations.
    fn default() -> Self {
        Dialect {
            header: true,
            delimiter: ',',
            annotations: Vec::new(),
        }
    }
}

/// Writes named results of tables.
pub fn encode(results: &[(String, Vec<Table>)], d: &Dialect) -> String {
    // about a dozen bytes a cell: grown once, not doubled along the way
    let cells: usize = results
        .iter()
        .flat_map(|(_, ts)| ts)
        .map(|t| t.len() * (t.columns.len() + 2))
        .sum();
    let mut out = String::with_capacity(cells.saturating_mul(12).min(1 << 30));
    for (name, tables) in results {
        if tables.is_empty() {
            continue;
        }
        let mut prev: Option<&Table> = None;
        for (id, t) in tables.iter().enumerate() {
            let new_block = match prev {
                None => true,
                Some(p) => p.is_empty() || t.is_empty() || !same_shape(p, t),
            };
            if new_block {
                if prev.is_some() {
                    out.push_str("\r\n");
                }
                block_head(&mut out, name, id, t, d);
            }
            rows(&mut out, name, id, t, d);
            prev = Some(t);
        }
        out.push_str("\r\n");
    }
    if out.is_empty() {
        out.push_str("\r\n");
    }
    out
}

/// The in-stream error table written when a query fails after data was sent.
pub fn encode_error(message: &str, d: &Dialect) -> String {
    let mut out = String::new();
    let sep = d.delimiter;
    for a in &d.annotations {
        out.push_str(match a {
            Annotation::Datatype => "#datatype",
            Annotation::Group => "#group",
            Annotation::Default => "#default",
        });
        let cells = match a {
            Annotation::Datatype => ["string", "string"],
            Annotation::Group => ["true", "true"],
            Annotation::Default => ["", ""],
        };
        for c in cells {
            out.push(sep);
            out.push_str(c);
        }
        out.push_str("\r\n");
    }
    out.push(sep);
    out.push_str("error");
    out.push(sep);
    out.push_str("reference\r\n");
    out.push(sep);
    push_cell(&mut out, message, sep);
    out.push(sep);
    out.push_str("\r\n\r\n");
    out
}

fn same_shape(a: &Table, b: &Table) -> bool {
    a.columns.len() == b.columns.len()
        && a.columns.iter().zip(&b.columns).all(|(x, y)| {
            x.label == y.label && x.kind == y.kind && a.in_key(&x.label) == b.in_key(&y.label)
        })
}

fn block_head(out: &mut String, result: &str, id: usize, t: &Table, d: &Dialect) {
    let sep = d.delimiter;
    for a in &d.annotations {
        match a {
            Annotation::Datatype => {
                out.push_str("#datatype");
                out.push(sep);
                out.push_str("string");
                out.push(sep);
                out.push_str("long");
                for c in &t.columns {
                    out.push(sep);
                    out.push_str(c.kind.csv_name());
                }
            }
            Annotation::Group => {
                out.push_str("#group");
                out.push(sep);
                out.push_str("false");
                out.push(sep);
                out.push_str("false");
                for c in &t.columns {
                    out.push(sep);
                    out.push_str(if t.in_key(&c.label) { "true" } else { "false" });
                }
            }
            Annotation::Default => {
                out.push_str("#default");
                out.push(sep);
                push_cell(out, result, sep);
                out.push(sep);
                if t.is_empty() {
                    out.push_str(&id.to_string());
                }
                for c in &t.columns {
                    out.push(sep);
                    if t.is_empty() {
                        if let Some(v) = t.key_value(&c.label) {
                            push_value(out, v, sep);
                        }
                    }
                }
            }
        }
        out.push_str("\r\n");
    }
    if d.header {
        out.push(sep);
        out.push_str("result");
        out.push(sep);
        out.push_str("table");
        for c in &t.columns {
            out.push(sep);
            push_cell(out, &c.label, sep);
        }
        out.push_str("\r\n");
    }
}

fn rows(out: &mut String, result: &str, id: usize, t: &Table, d: &Dialect) {
    let sep = d.delimiter;
    let named = !d.annotations.contains(&Annotation::Default);
    let id = id.to_string();
    // a group-key column holds the key's value on every row: written once, copied after
    let keyed: Vec<Option<(&Value, String)>> = t
        .columns
        .iter()
        .map(|c| {
            let v = t.key_value(&c.label)?;
            let mut cell = String::new();
            push_value(&mut cell, v, sep);
            Some((v, cell))
        })
        .collect();
    for r in 0..t.len() {
        out.push(sep);
        if named {
            push_cell(out, result, sep);
        }
        out.push(sep);
        out.push_str(&id);
        for (c, k) in t.columns.iter().zip(&keyed) {
            out.push(sep);
            let v = &c.values[r];
            match k {
                Some((kv, cell)) if same(kv, v) => out.push_str(cell),
                _ => push_value(out, v, sep),
            }
        }
        out.push_str("\r\n");
    }
}

/// Whether two cells are the same value (strings shared by the key and the column compare
/// by pointer first).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => std::sync::Arc::ptr_eq(x, y) || x == y,
        (Value::Time(x), Value::Time(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::UInt(x), Value::UInt(y)) => x == y,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
        (Value::Null, Value::Null) => true,
        _ => false,
    }
}

fn push_value(out: &mut String, v: &Value, sep: char) {
    match v {
        Value::Null => {}
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(itoa::Buffer::new().format(*i)),
        Value::UInt(u) => out.push_str(itoa::Buffer::new().format(*u)),
        Value::Float(f) => write_float(out, *f),
        Value::Time(t) => write_time(out, *t),
        Value::String(s) => push_cell(out, s, sep),
        other => push_cell(out, &other.to_string(), sep),
    }
}

/// Writes a cell, quoted as Go's `encoding/csv` quotes: when it holds the separator, a quote,
/// CR or LF, begins with a space, or is `\.`.
fn push_cell(out: &mut String, s: &str, sep: char) {
    let quote =
        s == "\\." || s.starts_with(char::is_whitespace) || s.contains([sep, '"', '\r', '\n']);
    if !quote {
        out.push_str(s);
        return;
    }
    out.push('"');
    for ch in s.chars() {
        if ch == '"' {
            out.push('"');
        }
        out.push(ch);
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::series_table;

    fn dialect() -> Dialect {
        Dialect {
            annotations: vec![Annotation::Datatype, Annotation::Group, Annotation::Default],
            ..Dialect::default()
        }
    }

    #[test]
    fn two_series_as_influxdb_writes_them() {
        let (start, stop) = (1_704_067_200_000_000_000, 1_704_070_800_000_000_000);
        let t10 = start + 600_000_000_000;
        let table = |host: &str, v: f64| {
            series_table(
                (start, stop),
                "cpu",
                &[("host".to_string(), host.to_string())],
                "usage",
                vec![(t10, Value::Float(v))],
            )
            .unwrap()
        };
        let out = encode(
            &[("_result".into(), vec![table("a", 1.5), table("b", 2.0)])],
            &dialect(),
        );
        assert_eq!(
            out,
            "#datatype,string,long,dateTime:RFC3339,dateTime:RFC3339,dateTime:RFC3339,double,string,string,string\r\n\
             #group,false,false,true,true,false,false,true,true,true\r\n\
             #default,_result,,,,,,,,\r\n\
             ,result,table,_start,_stop,_time,_value,_field,_measurement,host\r\n\
             ,,0,2024-01-01T00:00:00Z,2024-01-01T01:00:00Z,2024-01-01T00:10:00Z,1.5,usage,cpu,a\r\n\
             ,,1,2024-01-01T00:00:00Z,2024-01-01T01:00:00Z,2024-01-01T00:10:00Z,2,usage,cpu,b\r\n\
             \r\n"
        );
        let bare = encode(
            &[("_result".into(), vec![table("a", 1e21)])],
            &Dialect::default(),
        );
        assert_eq!(
            bare,
            ",result,table,_start,_stop,_time,_value,_field,_measurement,host\r\n\
             ,_result,0,2024-01-01T00:00:00Z,2024-01-01T01:00:00Z,2024-01-01T00:10:00Z,1000000000000000000000,usage,cpu,a\r\n\
             \r\n"
        );
    }

    #[test]
    fn no_tables_is_one_empty_line_and_cells_are_quoted_like_go() {
        assert_eq!(encode(&[("_result".into(), vec![])], &dialect()), "\r\n");
        let mut s = String::new();
        for cell in ["a,b", "say \"hi\"", " lead", "\\.", "plain", "x\ny"] {
            push_cell(&mut s, cell, ',');
            s.push('|');
        }
        assert_eq!(
            s,
            "\"a,b\"|\"say \"\"hi\"\"\"|\" lead\"|\"\\.\"|plain|\"x\ny\"|"
        );
        assert_eq!(
            encode_error("boom, it failed", &dialect()),
            "#datatype,string,string\r\n#group,true,true\r\n#default,,\r\n,error,reference\r\n,\"boom, it failed\",\r\n\r\n"
        );
    }
}
