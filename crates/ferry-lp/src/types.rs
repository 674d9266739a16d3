//! The data model shared by every Ferry crate: points, field values, precision.

use std::fmt;

/// A field's value, as line protocol can carry it.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    /// `1.5`, `-2e10` (never NaN or infinite: line protocol cannot carry them).
    Float(f64),
    /// `42i`
    Integer(i64),
    /// `42u`
    UInteger(u64),
    /// `"text"` (unescaped here).
    String(String),
    /// `true` / `false`
    Boolean(bool),
}

impl FieldValue {
    /// The type of this value.
    pub fn field_type(&self) -> FieldType {
        self.as_field_ref().field_type()
    }
}

/// The type of a field. A field keeps one type per measurement (InfluxDB's rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FieldType {
    /// 64-bit float.
    Float,
    /// Signed 64-bit integer.
    Integer,
    /// Unsigned 64-bit integer.
    UInteger,
    /// UTF-8 string.
    String,
    /// `true` or `false` (`t`, `T`, `True`, … in line protocol).
    Boolean,
}

impl FieldType {
    /// The name InfluxDB uses for this type (`SHOW FIELD KEYS`, error messages).
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::Float => "float",
            FieldType::Integer => "integer",
            FieldType::UInteger => "unsigned",
            FieldType::String => "string",
            FieldType::Boolean => "boolean",
        }
    }

    /// Parses the name produced by [`FieldType::as_str`].
    pub fn from_name(s: &str) -> Option<FieldType> {
        Some(match s {
            "float" => FieldType::Float,
            "integer" => FieldType::Integer,
            "unsigned" => FieldType::UInteger,
            "string" => FieldType::String,
            "boolean" => FieldType::Boolean,
            _ => return None,
        })
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One point: a measurement, its tag set, its fields and a timestamp in nanoseconds.
///
/// Invariants kept by the parser: `tags` sorted by key with unique keys and non-empty values;
/// `fields` non-empty with unique keys (a repeated key keeps its last value); names unescaped.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Measurement name (unescaped).
    pub measurement: String,
    /// Tags, sorted by key.
    pub tags: Vec<(String, String)>,
    /// Fields, in the order first seen on the line.
    pub fields: Vec<(String, FieldValue)>,
    /// Unix time in nanoseconds.
    pub time: i64,
}

/// Timestamp precision of a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// Nanoseconds (`ns`, v1 also `n`). The default.
    #[default]
    Nanoseconds,
    /// Microseconds (`us`, v1 also `u`).
    Microseconds,
    /// Milliseconds (`ms`).
    Milliseconds,
    /// Seconds (`s`).
    Seconds,
    /// Minutes (v1 `m` only).
    Minutes,
    /// Hours (v1 `h` only).
    Hours,
}

impl Precision {
    /// Parses the v2 API's `precision` parameter: `ns`, `us`, `ms`, `s`.
    pub fn parse_v2(s: &str) -> Option<Precision> {
        Some(match s {
            "ns" => Precision::Nanoseconds,
            "us" => Precision::Microseconds,
            "ms" => Precision::Milliseconds,
            "s" => Precision::Seconds,
            _ => return None,
        })
    }

    /// Parses the v1 API's `precision` parameter: `n`, `ns`, `u`, `us`, `ms`, `s`, `m`, `h`
    /// (and `rfc3339`, which 1.x treats as nanoseconds for writes).
    pub fn parse_v1(s: &str) -> Option<Precision> {
        Some(match s {
            "n" | "ns" | "rfc3339" => Precision::Nanoseconds,
            "u" | "us" | "µ" => Precision::Microseconds,
            "ms" => Precision::Milliseconds,
            "s" => Precision::Seconds,
            "m" => Precision::Minutes,
            "h" => Precision::Hours,
            _ => return None,
        })
    }

    /// Nanoseconds in one unit of this precision.
    pub fn nanos_per_unit(self) -> i64 {
        match self {
            Precision::Nanoseconds => 1,
            Precision::Microseconds => 1_000,
            Precision::Milliseconds => 1_000_000,
            Precision::Seconds => 1_000_000_000,
            Precision::Minutes => 60_000_000_000,
            Precision::Hours => 3_600_000_000_000,
        }
    }
}
