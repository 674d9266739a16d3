//! Which points line protocol can carry: [`unrepresentable`] says why a point would not
//! survive [`crate::write_point`] and a parse back.
//!
//! Points parsed from line protocol always survive. Points made by the node itself (`SELECT …
//! INTO`, task outputs) may not: their names come from query text and data. The log, the
//! replication streams and the export all carry line protocol, so such a point must be
//! refused where it enters; written anyway, it would be acknowledged, then lost, skipped or
//! renamed when the log is replayed after a crash, and shipped garbled to remotes.

use crate::types::{FieldValue, Point};

/// Why a point cannot be written as line protocol.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Unrepresentable {
    /// A measurement, tag key, tag value or field key that line protocol cannot carry.
    #[error("{what} {name:?} cannot be written as line protocol: {why}")]
    Name {
        /// Which element: "measurement", "tag key", "tag value" or "field key".
        what: &'static str,
        /// The name.
        name: String,
        /// The rule it breaks.
        why: &'static str,
    },
    /// A float field that is NaN or infinite.
    #[error("field {field:?} is {value}, which line protocol cannot carry")]
    NonFinite {
        /// The field key.
        field: String,
        /// The value as Rust prints it.
        value: f64,
    },
    /// A string field value with a newline or carriage return.
    #[error("field {field:?} holds a line break, which line protocol cannot carry")]
    LineBreakInString {
        /// The field key.
        field: String,
    },
    /// A point without fields.
    #[error("a point needs at least one field")]
    NoFields,
}

/// `None` when `p` survives [`crate::write_point`] and a parse back unchanged, else why not.
pub fn unrepresentable(p: &Point) -> Option<Unrepresentable> {
    let name = |what, name: &str, why| {
        Some(Unrepresentable::Name {
            what,
            name: name.to_string(),
            why,
        })
    };
    if let Some(why) = name_problem(&p.measurement) {
        return name("measurement", &p.measurement, why);
    }
    match p.measurement.as_bytes()[0] {
        b'#' => {
            return name(
                "measurement",
                &p.measurement,
                "it starts with '#' (a comment line)",
            )
        }
        b'\t' => {
            return name(
                "measurement",
                &p.measurement,
                "it starts with a tab (skipped as space)",
            )
        }
        _ => {}
    }
    for (k, v) in &p.tags {
        if let Some(why) = key_problem(k) {
            return name("tag key", k, why);
        }
        if let Some(why) = name_problem(v) {
            return name("tag value", v, why);
        }
    }
    if p.fields.is_empty() {
        return Some(Unrepresentable::NoFields);
    }
    for (k, v) in &p.fields {
        if let Some(why) = key_problem(k) {
            return name("field key", k, why);
        }
        if k.starts_with('\t') {
            return name("field key", k, "it starts with a tab (skipped as space)");
        }
        match v {
            FieldValue::Float(f) if !f.is_finite() => {
                return Some(Unrepresentable::NonFinite {
                    field: k.clone(),
                    value: *f,
                })
            }
            FieldValue::String(s) if s.contains('\n') => {
                return Some(Unrepresentable::LineBreakInString { field: k.clone() })
            }
            _ => {}
        }
    }
    None
}

/// The rule a tag or field key breaks, if any: a name's, or being `time` (reserved: the
/// parser refuses the line).
fn key_problem(s: &str) -> Option<&'static str> {
    if s == "time" {
        return Some("\"time\" is reserved for the timestamp");
    }
    name_problem(s)
}

/// The rule a name breaks, if any: empty, a newline (a carriage return is kept: only one
/// right before the newline is taken off, and a line ends with its timestamp), or an odd run of backslashes at its
/// end or before a character that escaping adds a backslash to (`,`, `=`, space): the
/// parser pairs every backslash with the byte after it, so such a run cannot be told apart
/// from an escape.
fn name_problem(s: &str) -> Option<&'static str> {
    let b = s.as_bytes();
    if b.is_empty() {
        return Some("it is empty");
    }
    if b.contains(&b'\n') {
        return Some("it holds a line break");
    }
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            let start = i;
            while i < b.len() && b[i] == b'\\' {
                i += 1;
            }
            let odd = (i - start) % 2 == 1;
            if odd && i == b.len() {
                return Some("it ends with a backslash");
            }
            if odd && matches!(b[i], b',' | b'=' | b' ') {
                return Some("a backslash comes before ',', '=' or a space");
            }
        } else {
            i += 1;
        }
    }
    None
}
