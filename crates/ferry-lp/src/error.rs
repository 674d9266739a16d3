//! Errors reported for individual lines of a line protocol body.

use thiserror::Error;

/// At most this many bytes of an offending line are kept in [`LineError::text`].
pub const MAX_ERROR_TEXT: usize = 200;

/// What is wrong with one line of line protocol.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LineErrorKind {
    /// The line starts with a comma: no measurement name.
    #[error("missing measurement")]
    MissingMeasurement,
    /// The line has no field set (e.g. `cpu` or `cpu,host=a`).
    #[error("missing fields")]
    MissingFields,
    /// A tag key is not followed by `=` (e.g. `cpu,host v=1`).
    #[error("missing tag value: no '=' after tag key '{0}'")]
    MissingTagEquals(String),
    /// A tag key is empty (e.g. `cpu,=a v=1` or `cpu, v=1`).
    #[error("missing tag key")]
    EmptyTagKey,
    /// A tag value is empty (e.g. `cpu,host= v=1`).
    #[error("missing tag value for tag key '{0}'")]
    EmptyTagValue(String),
    /// A tag value contains an unescaped `=`.
    #[error("invalid tag format: unescaped '=' in value of tag '{0}'")]
    InvalidTagFormat(String),
    /// The same tag key appears twice.
    #[error("duplicate tag key '{0}'")]
    DuplicateTag(String),
    /// A field key is empty (e.g. `cpu =1` or a trailing comma `cpu a=1,`).
    #[error("missing field key")]
    MissingFieldKey,
    /// A field key is not followed by `=` (e.g. `cpu value`).
    #[error("invalid field format: no '=' after field key '{0}'")]
    InvalidFieldFormat(String),
    /// A field has `=` but no value (e.g. `cpu v=`).
    #[error("missing field value for field key '{0}'")]
    MissingFieldValue(String),
    /// Unexpected bytes right after a closing quote of a string field.
    #[error("invalid field format: unexpected data after string value of field '{0}'")]
    DataAfterString(String),
    /// A numeric field value that is not a valid number (includes `NaN`, `inf`, `+1`).
    #[error("invalid number '{0}'")]
    InvalidNumber(String),
    /// A number outside the range of its type (`i64`, `u64`, finite `f64`).
    #[error("value out of range '{0}'")]
    NumberOutOfRange(String),
    /// A value starting like a boolean that is not one of the accepted spellings.
    #[error("invalid boolean '{0}'")]
    InvalidBoolean(String),
    /// A string field value without its closing double quote.
    #[error("unterminated string")]
    UnterminatedString,
    /// The timestamp is not a signed decimal integer.
    #[error("bad timestamp '{0}'")]
    BadTimestamp(String),
    /// The timestamp does not fit in `i64` nanoseconds once scaled by the precision.
    #[error("timestamp out of range")]
    TimestampOutOfRange,
    /// Something follows the timestamp.
    #[error("unexpected data after timestamp")]
    TrailingGarbage,
    /// A field key named `time` (InfluxDB refuses it).
    #[error("invalid field name 'time'")]
    ReservedFieldName,
    /// A tag key named `time` (InfluxDB refuses it).
    #[error("invalid tag name 'time'")]
    ReservedTagName,
    /// The line is not valid UTF-8.
    #[error("invalid UTF-8")]
    InvalidUtf8,
}

/// One rejected line: where it is, what is wrong, and (a prefix of) its text.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unable to parse '{text}': {kind} (line {line})")]
pub struct LineError {
    /// 1-based line number within the body.
    pub line: usize,
    /// What is wrong.
    pub kind: LineErrorKind,
    /// The offending line (lossily decoded), truncated to at most [`MAX_ERROR_TEXT`] bytes.
    pub text: String,
}

impl LineError {
    /// Builds an error for `line_no`, keeping a truncated copy of the raw line.
    pub fn new(line: usize, kind: LineErrorKind, raw: &[u8]) -> LineError {
        let mut text = String::from_utf8_lossy(raw).into_owned();
        if text.len() > MAX_ERROR_TEXT {
            let mut cut = MAX_ERROR_TEXT;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
        }
        LineError { line, kind, text }
    }
}
