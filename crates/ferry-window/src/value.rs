//! One cell of a query's answer, shared by both query languages' aggregates.

/// One cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`
    Null,
    /// A float.
    Float(f64),
    /// An integer.
    Int(i64),
    /// An unsigned integer above `i64::MAX` (smaller ones are [`Value::Int`], so the engine's
    /// integer arithmetic sees them; these compute as floats).
    UInt(u64),
    /// A string.
    Str(String),
    /// A boolean.
    Bool(bool),
    /// A timestamp (ns), formatted per the request's `epoch`.
    Time(i64),
    /// A timestamp (ns) of a statement with `tz()`, and the zone's UTC offset at that
    /// instant in seconds: RFC3339 output shows the local time with that offset.
    ZonedTime(i64, i32),
}

impl Value {
    /// Whether this is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The numeric value, if any.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Float(f) => Some(*f),
            Value::Int(i) => Some(*i as f64),
            Value::UInt(u) => Some(*u as f64),
            _ => None,
        }
    }

    /// The instant of a time cell (zoned or not).
    pub fn as_time(&self) -> Option<i64> {
        match self {
            Value::Time(t) | Value::ZonedTime(t, _) => Some(*t),
            _ => None,
        }
    }
}
