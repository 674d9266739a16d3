//! The line protocol parser.
//!
//! One pass over the bytes of each line; the only allocations are the final `String`s of the
//! [`Point`] and its two vectors. Names are unescaped only when the scanner saw a backslash.

use crate::error::{LineError, LineErrorKind};
use crate::escape::{unescape_name, unescape_string};
use crate::number::{parse_i64, parse_unquoted, IntError};
use crate::types::{FieldValue, Point, Precision};

/// Smallest timestamp InfluxDB accepts (ns): `i64::MIN + 2`.
pub const MIN_NANO_TIME: i64 = i64::MIN + 2;
/// Largest timestamp InfluxDB accepts (ns): `i64::MAX - 1`.
pub const MAX_NANO_TIME: i64 = i64::MAX - 1;

/// The result of parsing a whole body: the good points and one error per bad line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedBatch {
    /// Points of the lines that parsed, in body order.
    pub points: Vec<Point>,
    /// One entry per rejected line, in body order.
    pub errors: Vec<LineError>,
    /// Number of non-empty, non-comment lines seen (`points.len() + errors.len()`).
    pub lines: usize,
}

impl ParsedBatch {
    /// True when every line parsed.
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Parses a line protocol body. Every line is parsed: bad lines end up in
/// [`ParsedBatch::errors`] and the others in [`ParsedBatch::points`].
///
/// Lines are split on `\n` (a trailing `\r` is dropped). Leading spaces and tabs are ignored;
/// blank lines and lines starting with `#` are skipped. Timestamps are read in `precision`
/// units; a line without one gets `default_time_ns`.
pub fn parse_lines(body: &[u8], precision: Precision, default_time_ns: i64) -> ParsedBatch {
    let mut batch = ParsedBatch {
        points: Vec::with_capacity(body.len() / 96 + 1),
        errors: Vec::new(),
        lines: 0,
    };
    let mut scratch = Scratch::default();
    let mut start = 0;
    let mut line_no = 0;
    while start <= body.len() {
        let end = find_newline(body, start);
        line_no += 1;
        let line = trim_line(&body[start..end]);
        start = end + 1;
        if line.is_empty() || line[0] == b'#' {
            continue;
        }
        batch.lines += 1;
        match parse_trimmed(line, precision, default_time_ns, &mut scratch) {
            Ok(p) => batch.points.push(p),
            Err(kind) => batch.errors.push(LineError::new(line_no, kind, line)),
        }
    }
    batch
}

/// Index of the first `\n` at or after `start`, or `b.len()`. Scans 8 bytes at a time.
#[inline]
fn find_newline(b: &[u8], start: usize) -> usize {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const NL: u64 = 0x0a0a_0a0a_0a0a_0a0a;
    let mut i = start;
    while i + 8 <= b.len() {
        let mut chunk = [0u8; 8];
        chunk.copy_from_slice(&b[i..i + 8]);
        let x = u64::from_le_bytes(chunk) ^ NL;
        let found = x.wrapping_sub(LO) & !x & HI;
        if found != 0 {
            return i + (found.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < b.len() && b[i] != b'\n' {
        i += 1;
    }
    i
}

/// Parses a single line (no `\n`). A trailing `\r` and leading spaces/tabs are ignored.
/// Blank and comment lines are an error ([`LineErrorKind::MissingMeasurement`]) here.
pub fn parse_line(
    line: &[u8],
    precision: Precision,
    default_time_ns: i64,
) -> Result<Point, LineErrorKind> {
    let line = trim_line(line);
    if line.is_empty() || line[0] == b'#' {
        return Err(LineErrorKind::MissingMeasurement);
    }
    parse_trimmed(line, precision, default_time_ns, &mut Scratch::default())
}

/// Reused buffers, so each point's vectors are allocated once with their exact size.
#[derive(Default)]
struct Scratch {
    tags: Vec<(String, String)>,
    fields: Vec<(String, FieldValue)>,
}

/// Drops a trailing `\r` and leading spaces/tabs; whitespace-only lines become empty.
#[inline]
fn trim_line(raw: &[u8]) -> &[u8] {
    let mut line = raw;
    if let [rest @ .., b'\r'] = line {
        line = rest;
    }
    let start = line
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(line.len());
    let line = &line[start..];
    if !line.is_empty() && line[0].is_ascii_whitespace() && line.iter().all(u8::is_ascii_whitespace)
    {
        return &[];
    }
    line
}

/// Scans from `i` to the first byte for which `stop` holds, skipping backslash pairs.
/// Returns the stop index (or `b.len()`) and whether a backslash was seen.
#[inline(always)]
fn scan(b: &[u8], mut i: usize, stop: impl Fn(u8) -> bool) -> (usize, bool) {
    let mut esc = false;
    while i < b.len() {
        let c = b[i];
        if c == b'\\' {
            esc = true;
            i += 2;
            continue;
        }
        if stop(c) {
            return (i, esc);
        }
        i += 1;
    }
    (b.len(), esc)
}

#[inline]
fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
        i += 1;
    }
    i
}

/// Parses a line that is non-empty, trimmed at the start, and not a comment.
fn parse_trimmed(
    line: &[u8],
    precision: Precision,
    default_time_ns: i64,
    scratch: &mut Scratch,
) -> Result<Point, LineErrorKind> {
    let tags = &mut scratch.tags;
    let fields = &mut scratch.fields;
    tags.clear();
    fields.clear();
    let s = std::str::from_utf8(line).map_err(|_| LineErrorKind::InvalidUtf8)?;
    // All delimiters are ASCII, so every index used to slice `s` below is a char boundary.
    let b = s.as_bytes();
    let n = b.len();

    // Measurement.
    let (end, esc) = scan(b, 0, |c| c == b',' || c == b' ');
    if end == 0 {
        return Err(LineErrorKind::MissingMeasurement);
    }
    if end >= n {
        return Err(LineErrorKind::MissingFields);
    }
    let measurement = unescape_name(&s[..end], esc);
    let mut i = end;

    // Tag set.
    if b[i] == b',' {
        i += 1;
        loop {
            let (kend, kesc) = scan(b, i, |c| c == b'=' || c == b',' || c == b' ');
            if kend == i {
                return Err(LineErrorKind::EmptyTagKey);
            }
            let key = unescape_name(&s[i..kend], kesc);
            if kend >= n || b[kend] != b'=' {
                return Err(LineErrorKind::MissingTagEquals(key));
            }
            if key == "time" {
                return Err(LineErrorKind::ReservedTagName);
            }
            let vstart = kend + 1;
            let (vend, vesc) = scan(b, vstart, |c| c == b',' || c == b' ' || c == b'=');
            if vend == vstart {
                return Err(LineErrorKind::EmptyTagValue(key));
            }
            if vend < n && b[vend] == b'=' {
                return Err(LineErrorKind::InvalidTagFormat(key));
            }
            tags.push((key, unescape_name(&s[vstart..vend], vesc)));
            i = vend;
            if i >= n {
                return Err(LineErrorKind::MissingFields);
            }
            if b[i] == b' ' {
                break;
            }
            i += 1; // ','
        }
        if tags.len() > 1 {
            tags.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            if let Some(w) = tags.windows(2).find(|w| w[0].0 == w[1].0) {
                return Err(LineErrorKind::DuplicateTag(w[0].0.clone()));
            }
        }
    }

    // Field set: b[i] is the space after the series key.
    i = skip_ws(b, i);
    if i >= n {
        return Err(LineErrorKind::MissingFields);
    }
    loop {
        let (kend, kesc) = scan(b, i, |c| c == b'=' || c == b',' || c == b' ');
        if kend == i {
            return Err(LineErrorKind::MissingFieldKey);
        }
        let key = unescape_name(&s[i..kend], kesc);
        if kend >= n || b[kend] != b'=' {
            return Err(LineErrorKind::InvalidFieldFormat(key));
        }
        if key == "time" {
            return Err(LineErrorKind::ReservedFieldName);
        }
        i = kend + 1;
        if i >= n || b[i] == b' ' || b[i] == b',' {
            return Err(LineErrorKind::MissingFieldValue(key));
        }
        let value = if b[i] == b'"' {
            let start = i + 1;
            let mut j = start;
            let mut esc = false;
            loop {
                if j >= n {
                    return Err(LineErrorKind::UnterminatedString);
                }
                match b[j] {
                    b'\\' => {
                        esc = true;
                        j += 2;
                    }
                    b'"' => break,
                    _ => j += 1,
                }
            }
            let v = FieldValue::String(unescape_string(&s[start..j], esc));
            i = j + 1;
            if i < n && b[i] != b',' && b[i] != b' ' {
                return Err(LineErrorKind::DataAfterString(key));
            }
            v
        } else {
            let mut j = i;
            while j < n && b[j] != b',' && b[j] != b' ' {
                j += 1;
            }
            let v = parse_unquoted(&s[i..j])?;
            i = j;
            v
        };
        fields.push((key, value));
        if i >= n || b[i] == b' ' {
            break;
        }
        i += 1; // ','
    }
    dedup_fields(fields);

    // Timestamp.
    i = skip_ws(b, i);
    let time = if i >= n {
        default_time_ns
    } else {
        let start = i;
        while i < n && b[i] != b' ' && b[i] != b'\t' {
            i += 1;
        }
        let tok = &s[start..i];
        let raw = match parse_i64(tok.as_bytes()) {
            Ok(v) => v,
            Err(IntError::Invalid) => return Err(LineErrorKind::BadTimestamp(tok.to_owned())),
            Err(IntError::Overflow) => return Err(LineErrorKind::TimestampOutOfRange),
        };
        if skip_ws(b, i) < n {
            return Err(LineErrorKind::TrailingGarbage);
        }
        scale_timestamp(raw, precision)?
    };

    Ok(Point {
        measurement,
        tags: take_exact(tags),
        fields: take_exact(fields),
        time,
    })
}

/// Converts a timestamp in `precision` units to nanoseconds, checking InfluxDB's range.
pub fn scale_timestamp(raw: i64, precision: Precision) -> Result<i64, LineErrorKind> {
    match raw.checked_mul(precision.nanos_per_unit()) {
        Some(t) if (MIN_NANO_TIME..=MAX_NANO_TIME).contains(&t) => Ok(t),
        _ => Err(LineErrorKind::TimestampOutOfRange),
    }
}

/// Moves the contents of a scratch vector into a new vector of exactly the right capacity,
/// leaving the scratch (and its allocation) ready for the next line.
#[inline]
fn take_exact<T>(scratch: &mut Vec<T>) -> Vec<T> {
    if scratch.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::with_capacity(scratch.len());
    out.append(scratch);
    out
}

/// Keeps the first position and the last value of each field key.
fn dedup_fields(fields: &mut Vec<(String, FieldValue)>) {
    let n = fields.len();
    if n < 2 {
        return;
    }
    if n <= 32 {
        let mut has_dup = false;
        'outer: for i in 1..n {
            for j in 0..i {
                if fields[i].0 == fields[j].0 {
                    has_dup = true;
                    break 'outer;
                }
            }
        }
        if !has_dup {
            return;
        }
    }
    let old = std::mem::replace(fields, Vec::with_capacity(n));
    let mut index: std::collections::HashMap<String, usize> =
        std::collections::HashMap::with_capacity(n);
    for (k, v) in old {
        match index.get(&k) {
            Some(&pos) => fields[pos].1 = v,
            None => {
                index.insert(k.clone(), fields.len());
                fields.push((k, v));
            }
        }
    }
}

#[cfg(test)]
mod tests;
