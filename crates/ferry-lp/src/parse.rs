//! The line protocol parser.
//!
//! One pass over the bytes of each line ([`scan_line`]) finds where each name and value is;
//! [`parse_lines`] then copies them into owned [`Point`]s, while
//! [`ParsedLines`](crate::ParsedLines) keeps only where they are in the body. Names are
//! unescaped only when the scanner saw a backslash.

use std::borrow::Cow;
use std::collections::hash_map::Entry;

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
    let mut scratch = LineScan::default();
    for (line_no, _, line) in body_lines(body) {
        batch.lines += 1;
        match parse_trimmed(line, precision, default_time_ns, &mut scratch) {
            Ok(p) => batch.points.push(p),
            Err(kind) => batch.errors.push(LineError::new(line_no, kind, line)),
        }
    }
    batch
}

/// The lines of a body to parse: (1-based line number, offset of the trimmed line in the
/// body, the trimmed line). Blank and comment lines are skipped (their numbers counted).
pub(crate) fn body_lines(body: &[u8]) -> impl Iterator<Item = (usize, usize, &[u8])> {
    let mut start = 0;
    let mut line_no = 0;
    std::iter::from_fn(move || {
        while start <= body.len() {
            let end = find_newline(body, start);
            line_no += 1;
            let (skip, line) = trim_line(&body[start..end]);
            let offset = start + skip;
            start = end + 1;
            if line.is_empty() || line[0] == b'#' {
                continue;
            }
            return Some((line_no, offset, line));
        }
        None
    })
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
    let (_, line) = trim_line(line);
    if line.is_empty() || line[0] == b'#' {
        return Err(LineErrorKind::MissingMeasurement);
    }
    parse_trimmed(line, precision, default_time_ns, &mut LineScan::default())
}

/// Drops a trailing `\r` and leading spaces/tabs; whitespace-only lines become empty.
/// Returns how many leading bytes were dropped and the line.
#[inline]
fn trim_line(raw: &[u8]) -> (usize, &[u8]) {
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
        return (start, &[]);
    }
    (start, line)
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

/// Where one name or string value of a line is: its byte range in the line, and whether
/// the scanner saw a backslash in it (only then does it need unescaping).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Span {
    pub start: usize,
    pub end: usize,
    pub escaped: bool,
}

impl Span {
    /// The unescaped name this span holds in `line` (borrowed unless it has escapes).
    #[inline]
    pub fn name<'a>(&self, line: &'a str) -> Cow<'a, str> {
        self.unescaped(line, unescape_name)
    }

    /// The unescaped string field value this span holds in `line`.
    #[inline]
    pub fn string<'a>(&self, line: &'a str) -> Cow<'a, str> {
        self.unescaped(line, unescape_string)
    }

    #[inline]
    fn unescaped<'a>(&self, line: &'a str, unescape: fn(&str, bool) -> String) -> Cow<'a, str> {
        let raw = &line[self.start..self.end];
        if self.escaped {
            Cow::Owned(unescape(raw, true))
        } else {
            Cow::Borrowed(raw)
        }
    }
}

/// A field value as scanned: numbers and booleans parsed, a string still where it is.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Scanned {
    Float(f64),
    Integer(i64),
    UInteger(u64),
    Boolean(bool),
    String(Span),
}

/// One line as scanned: every name a [`Span`] of the line, nothing copied yet. Reused from
/// line to line, so scanning allocates nothing once its vectors have grown.
#[derive(Debug, Default)]
pub(crate) struct LineScan {
    pub measurement: Span,
    /// Sorted by (unescaped) key, keys unique.
    pub tags: Vec<(Span, Span)>,
    /// In the order first seen, keys unique (a repeated key's last value kept).
    pub fields: Vec<(Span, Scanned)>,
    pub time: i64,
    /// Whether the line carried its own timestamp (else `time` is the default).
    pub timed: bool,
}

impl LineScan {
    /// The scanned line as an owned [`Point`].
    fn to_point(&self, line: &str) -> Point {
        Point {
            measurement: self.measurement.name(line).into_owned(),
            tags: self
                .tags
                .iter()
                .map(|(k, v)| (k.name(line).into_owned(), v.name(line).into_owned()))
                .collect(),
            fields: self
                .fields
                .iter()
                .map(|(k, v)| {
                    let value = match *v {
                        Scanned::Float(x) => FieldValue::Float(x),
                        Scanned::Integer(x) => FieldValue::Integer(x),
                        Scanned::UInteger(x) => FieldValue::UInteger(x),
                        Scanned::Boolean(x) => FieldValue::Boolean(x),
                        Scanned::String(sp) => FieldValue::String(sp.string(line).into_owned()),
                    };
                    (k.name(line).into_owned(), value)
                })
                .collect(),
            time: self.time,
        }
    }
}

/// Parses a line that is non-empty, trimmed at the start, and not a comment.
fn parse_trimmed(
    line: &[u8],
    precision: Precision,
    default_time_ns: i64,
    scan: &mut LineScan,
) -> Result<Point, LineErrorKind> {
    let s = scan_line(line, precision, default_time_ns, scan)?;
    Ok(scan.to_point(s))
}

/// Scans a line that is non-empty, trimmed at the start, and not a comment into `out`;
/// returns the line as text (the spans index it).
pub(crate) fn scan_line<'a>(
    line: &'a [u8],
    precision: Precision,
    default_time_ns: i64,
    out: &mut LineScan,
) -> Result<&'a str, LineErrorKind> {
    out.tags.clear();
    out.fields.clear();
    let s = std::str::from_utf8(line).map_err(|_| LineErrorKind::InvalidUtf8)?;
    // All delimiters are ASCII, so every index used to slice `s` below is a char boundary.
    let b = s.as_bytes();
    let n = b.len();
    let span = |start: usize, end: usize, escaped: bool| Span {
        start,
        end,
        escaped,
    };

    // Measurement.
    let (end, esc) = scan(b, 0, |c| c == b',' || c == b' ');
    if end == 0 {
        return Err(LineErrorKind::MissingMeasurement);
    }
    if end >= n {
        return Err(LineErrorKind::MissingFields);
    }
    out.measurement = span(0, end, esc);
    let mut i = end;

    // Tag set.
    if b[i] == b',' {
        i += 1;
        loop {
            let (kend, kesc) = scan(b, i, |c| c == b'=' || c == b',' || c == b' ');
            if kend == i {
                return Err(LineErrorKind::EmptyTagKey);
            }
            let key = span(i, kend, kesc);
            if kend >= n || b[kend] != b'=' {
                return Err(LineErrorKind::MissingTagEquals(key.name(s).into_owned()));
            }
            if key.name(s) == "time" {
                return Err(LineErrorKind::ReservedTagName);
            }
            let vstart = kend + 1;
            let (vend, vesc) = scan(b, vstart, |c| c == b',' || c == b' ' || c == b'=');
            if vend == vstart {
                return Err(LineErrorKind::EmptyTagValue(key.name(s).into_owned()));
            }
            if vend < n && b[vend] == b'=' {
                return Err(LineErrorKind::InvalidTagFormat(key.name(s).into_owned()));
            }
            out.tags.push((key, span(vstart, vend, vesc)));
            i = vend;
            if i >= n {
                return Err(LineErrorKind::MissingFields);
            }
            if b[i] == b' ' {
                break;
            }
            i += 1; // ','
        }
        if out.tags.len() > 1 {
            // Comparing an escaped key unescapes it, so keys with escapes are unescaped once
            // each (a hostile line of many escaped keys must not cost an allocation per
            // comparison); plain keys compare where they are.
            if out.tags.iter().any(|(k, _)| k.escaped) {
                out.tags.sort_by_cached_key(|(k, _)| k.name(s).into_owned());
            } else {
                out.tags
                    .sort_unstable_by(|x, y| x.0.name(s).cmp(&y.0.name(s)));
            }
            if let Some(w) = out
                .tags
                .windows(2)
                .find(|w| w[0].0.name(s) == w[1].0.name(s))
            {
                return Err(LineErrorKind::DuplicateTag(w[0].0.name(s).into_owned()));
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
        let key = span(i, kend, kesc);
        if kend >= n || b[kend] != b'=' {
            return Err(LineErrorKind::InvalidFieldFormat(key.name(s).into_owned()));
        }
        if key.name(s) == "time" {
            return Err(LineErrorKind::ReservedFieldName);
        }
        i = kend + 1;
        if i >= n || b[i] == b' ' || b[i] == b',' {
            return Err(LineErrorKind::MissingFieldValue(key.name(s).into_owned()));
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
            i = j + 1;
            if i < n && b[i] != b',' && b[i] != b' ' {
                return Err(LineErrorKind::DataAfterString(key.name(s).into_owned()));
            }
            Scanned::String(span(start, j, esc))
        } else {
            let mut j = i;
            while j < n && b[j] != b',' && b[j] != b' ' {
                j += 1;
            }
            let v = match parse_unquoted(&s[i..j])? {
                FieldValue::Float(x) => Scanned::Float(x),
                FieldValue::Integer(x) => Scanned::Integer(x),
                FieldValue::UInteger(x) => Scanned::UInteger(x),
                FieldValue::Boolean(x) => Scanned::Boolean(x),
                FieldValue::String(_) => unreachable!("an unquoted value is never a string"),
            };
            i = j;
            v
        };
        out.fields.push((key, value));
        if i >= n || b[i] == b' ' {
            break;
        }
        i += 1; // ','
    }
    dedup_fields(s, &mut out.fields);

    // Timestamp.
    i = skip_ws(b, i);
    if i >= n {
        out.time = default_time_ns;
        out.timed = false;
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
        out.time = scale_timestamp(raw, precision)?;
        out.timed = true;
    }
    Ok(s)
}

/// Converts a timestamp in `precision` units to nanoseconds, checking InfluxDB's range.
pub fn scale_timestamp(raw: i64, precision: Precision) -> Result<i64, LineErrorKind> {
    match raw.checked_mul(precision.nanos_per_unit()) {
        Some(t) if (MIN_NANO_TIME..=MAX_NANO_TIME).contains(&t) => Ok(t),
        _ => Err(LineErrorKind::TimestampOutOfRange),
    }
}

/// Keeps the first position and the last value of each field key.
fn dedup_fields(line: &str, fields: &mut Vec<(Span, Scanned)>) {
    let n = fields.len();
    if n < 2 {
        return;
    }
    // The pairwise check compares plain keys where they are; keys with escapes go to the
    // map, which unescapes each once instead of once per comparison.
    if n <= 32 && !fields.iter().any(|(k, _)| k.escaped) {
        let mut has_dup = false;
        'outer: for i in 1..n {
            for j in 0..i {
                if fields[i].0.name(line) == fields[j].0.name(line) {
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
    let mut index: std::collections::HashMap<Cow<'_, str>, usize> =
        std::collections::HashMap::with_capacity(n);
    for (k, v) in old {
        match index.entry(k.name(line)) {
            Entry::Occupied(pos) => fields[*pos.get()].1 = v,
            Entry::Vacant(slot) => {
                slot.insert(fields.len());
                fields.push((k, v));
            }
        }
    }
}

#[cfg(test)]
mod tests;
