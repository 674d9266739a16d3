//! A parsed body that keeps where each name is instead of copying it.
//!
//! [`parse_lines`](crate::parse_lines) makes a [`Point`](crate::Point) per line: a `String`
//! per name and two vectors, a dozen allocations and ~700 bytes for a 170-byte `cpu` line.
//! The write path keeps the body anyway (it is what the log stores), so [`ParsedLines`]
//! records only where each name is in it: a few vectors for the whole body and ~200 bytes
//! a `cpu` line. A name with escapes is unescaped once into a side buffer. The lines are
//! read back as [`LineRef`]s, which are [`PointView`]s, given the same body.

use crate::error::LineError;
use crate::parse::{body_lines, scan_line, LineScan, Scanned, Span};
use crate::types::Precision;
use crate::view::{FieldRef, PointView};

/// Where one name or string is: `len`'s top bit set means in [`ParsedLines::unescaped`],
/// else in the body.
#[derive(Debug, Clone, Copy)]
struct Text {
    start: u32,
    len: u32,
}

const UNESCAPED: u32 = 1 << 31;

/// A field's value in the index.
#[derive(Debug, Clone, Copy)]
enum Slot {
    Float(f64),
    Integer(i64),
    UInteger(u64),
    Boolean(bool),
    String(Text),
}

/// One line that parsed: its tags are `tags[previous row's tags_end..tags_end]`, its fields
/// likewise.
#[derive(Debug, Clone, Copy)]
struct Row {
    measurement: Text,
    tags_end: u32,
    fields_end: u32,
    time: i64,
}

/// The body is larger than [`ParsedLines::MAX_BODY`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a write body of {len} bytes is larger than one write can be ({max} bytes): send it in smaller batches")]
pub struct BodyTooLarge {
    /// The body's length.
    pub len: usize,
    /// [`ParsedLines::MAX_BODY`].
    pub max: usize,
}

/// A parsed line protocol body: where each good line's names are, its values and time, and
/// one error per bad line. Read it with [`ParsedLines::points`] and the same body.
#[derive(Debug, Clone, Default)]
pub struct ParsedLines {
    rows: Vec<Row>,
    tags: Vec<(Text, Text)>,
    fields: Vec<(Text, Slot)>,
    /// Names and strings that had escapes, unescaped.
    unescaped: String,
    /// One entry per rejected line, in body order.
    pub errors: Vec<LineError>,
    /// Number of non-empty, non-comment lines seen (points plus errors).
    pub lines: usize,
    /// Lines that parsed without a timestamp of their own.
    untimed: usize,
}

impl ParsedLines {
    /// The largest body this index can address (2 GiB - 1).
    pub const MAX_BODY: usize = (UNESCAPED - 1) as usize;

    /// Parses `body` as [`parse_lines`](crate::parse_lines) does (same lines accepted, same
    /// errors, same points), keeping positions instead of copies.
    pub fn parse(
        body: &[u8],
        precision: Precision,
        default_time_ns: i64,
    ) -> Result<ParsedLines, BodyTooLarge> {
        if body.len() > Self::MAX_BODY {
            return Err(BodyTooLarge {
                len: body.len(),
                max: Self::MAX_BODY,
            });
        }
        let mut out = ParsedLines::default();
        let mut scan = LineScan::default();
        for (line_no, offset, line) in body_lines(body) {
            out.lines += 1;
            match scan_line(line, precision, default_time_ns, &mut scan) {
                Ok(text) => {
                    if out.rows.is_empty() {
                        out.reserve_like(&scan, body);
                    }
                    out.push(offset, text, &scan);
                }
                Err(kind) => out.errors.push(LineError::new(line_no, kind, line)),
            }
        }
        out.shrink_if_loose();
        Ok(out)
    }

    /// Reserves room for a body of lines like the first one.
    fn reserve_like(&mut self, first: &LineScan, body: &[u8]) {
        let lines = memchr::memchr_iter(b'\n', body).count() + 1;
        self.rows.reserve(lines);
        self.tags.reserve(lines * first.tags.len());
        self.fields.reserve(lines * first.fields.len());
    }

    /// Gives back what a body whose lines were unlike its first one left unused, so that
    /// the index holds about what its lines need.
    fn shrink_if_loose(&mut self) {
        fn shrink<T>(v: &mut Vec<T>) {
            if v.capacity() > v.len() + v.len() / 4 + 16 {
                v.shrink_to_fit();
            }
        }
        shrink(&mut self.rows);
        shrink(&mut self.tags);
        shrink(&mut self.fields);
    }

    fn push(&mut self, offset: usize, line: &str, scan: &LineScan) {
        let measurement = self.text(offset, line, scan.measurement, false);
        for &(k, v) in &scan.tags {
            let k = self.text(offset, line, k, false);
            let v = self.text(offset, line, v, false);
            self.tags.push((k, v));
        }
        for &(k, v) in &scan.fields {
            let k = self.text(offset, line, k, false);
            let v = match v {
                Scanned::Float(x) => Slot::Float(x),
                Scanned::Integer(x) => Slot::Integer(x),
                Scanned::UInteger(x) => Slot::UInteger(x),
                Scanned::Boolean(x) => Slot::Boolean(x),
                Scanned::String(sp) => Slot::String(self.text(offset, line, sp, true)),
            };
            self.fields.push((k, v));
        }
        if !scan.timed {
            self.untimed += 1;
        }
        self.rows.push(Row {
            measurement,
            // Both fit: there are fewer tags and fields than bytes, and the body is under 2 GiB.
            tags_end: self.tags.len() as u32,
            fields_end: self.fields.len() as u32,
            time: scan.time,
        });
    }

    /// Where `span` of the line at `offset` is, unescaping it first if it has escapes.
    fn text(&mut self, offset: usize, line: &str, span: Span, string: bool) -> Text {
        if !span.escaped {
            // Under MAX_BODY, so every offset and length fits in 31 bits.
            return Text {
                start: (offset + span.start) as u32,
                len: (span.end - span.start) as u32,
            };
        }
        let unescaped = if string {
            span.string(line)
        } else {
            span.name(line)
        };
        let start = self.unescaped.len() as u32;
        self.unescaped.push_str(&unescaped);
        Text {
            start,
            len: unescaped.len() as u32 | UNESCAPED,
        }
    }

    /// Number of lines that parsed.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when no line parsed.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// True when every line that parsed carried its own timestamp.
    pub fn all_timed(&self) -> bool {
        self.untimed == 0
    }

    /// Bytes the index holds on the heap (not counting the body).
    pub fn heap_bytes(&self) -> usize {
        self.rows.capacity() * std::mem::size_of::<Row>()
            + self.tags.capacity() * std::mem::size_of::<(Text, Text)>()
            + self.fields.capacity() * std::mem::size_of::<(Text, Slot)>()
            + self.unescaped.capacity()
            + self.errors.capacity() * std::mem::size_of::<LineError>()
    }

    /// The lines that parsed, in body order, read from `body`: the body given to
    /// [`parse`](Self::parse) (another body reads as empty names).
    pub fn points<'a>(&'a self, body: &'a [u8]) -> LineRefs<'a> {
        LineRefs {
            lines: self,
            body: Body::new(body),
            next: 0,
            end: self.rows.len(),
        }
    }
}

/// The body's bytes, checked as UTF-8 once when the whole body is (every good line is).
#[derive(Debug, Clone, Copy)]
enum Body<'a> {
    Text(&'a str),
    Bytes(&'a [u8]),
}

impl<'a> Body<'a> {
    fn new(body: &'a [u8]) -> Body<'a> {
        match std::str::from_utf8(body) {
            Ok(s) => Body::Text(s),
            Err(_) => Body::Bytes(body),
        }
    }

    fn get(self, start: usize, end: usize) -> &'a str {
        match self {
            Body::Text(s) => s.get(start..end).unwrap_or(""),
            Body::Bytes(b) => b
                .get(start..end)
                .and_then(|b| std::str::from_utf8(b).ok())
                .unwrap_or(""),
        }
    }
}

/// The lines of a [`ParsedLines`] as [`LineRef`]s.
#[derive(Debug, Clone)]
pub struct LineRefs<'a> {
    lines: &'a ParsedLines,
    body: Body<'a>,
    next: usize,
    end: usize,
}

impl<'a> Iterator for LineRefs<'a> {
    type Item = LineRef<'a>;

    fn next(&mut self) -> Option<LineRef<'a>> {
        (self.next < self.end).then(|| {
            self.next += 1;
            LineRef {
                lines: self.lines,
                body: self.body,
                row: self.next - 1,
            }
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.end - self.next;
        (n, Some(n))
    }
}

impl ExactSizeIterator for LineRefs<'_> {}

/// One line of a [`ParsedLines`], read from its body.
#[derive(Debug, Clone, Copy)]
pub struct LineRef<'a> {
    lines: &'a ParsedLines,
    body: Body<'a>,
    row: usize,
}

impl<'a> LineRef<'a> {
    fn text(&self, t: Text) -> &'a str {
        let (start, len) = (t.start as usize, (t.len & !UNESCAPED) as usize);
        if t.len & UNESCAPED != 0 {
            self.lines.unescaped.get(start..start + len).unwrap_or("")
        } else {
            self.body.get(start, start + len)
        }
    }

    /// This row's share of the index's tags or fields, whose ends `end` reads off a row.
    fn range(&self, end: fn(&Row) -> u32) -> std::ops::Range<usize> {
        let rows = &self.lines.rows;
        let start = match self.row {
            0 => 0,
            r => end(&rows[r - 1]) as usize,
        };
        start..end(&rows[self.row]) as usize
    }

    fn tag_range(&self) -> std::ops::Range<usize> {
        self.range(|r| r.tags_end)
    }

    fn field_range(&self) -> std::ops::Range<usize> {
        self.range(|r| r.fields_end)
    }
}

impl PointView for LineRef<'_> {
    fn measurement(&self) -> &str {
        self.text(self.lines.rows[self.row].measurement)
    }

    fn time(&self) -> i64 {
        self.lines.rows[self.row].time
    }

    fn tag_count(&self) -> usize {
        self.tag_range().len()
    }

    fn tags(&self) -> impl Iterator<Item = (&str, &str)> {
        self.lines.tags[self.tag_range()]
            .iter()
            .map(|&(k, v)| (self.text(k), self.text(v)))
    }

    fn field_count(&self) -> usize {
        self.field_range().len()
    }

    fn fields(&self) -> impl Iterator<Item = (&str, FieldRef<'_>)> {
        self.lines.fields[self.field_range()].iter().map(|&(k, v)| {
            let value = match v {
                Slot::Float(x) => FieldRef::Float(x),
                Slot::Integer(x) => FieldRef::Integer(x),
                Slot::UInteger(x) => FieldRef::UInteger(x),
                Slot::Boolean(x) => FieldRef::Boolean(x),
                Slot::String(t) => FieldRef::String(self.text(t)),
            };
            (self.text(k), value)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_lines;

    fn same(body: &[u8], precision: Precision) {
        let owned = parse_lines(body, precision, 42);
        let indexed = ParsedLines::parse(body, precision, 42).unwrap();
        let viewed: Vec<_> = indexed.points(body).map(|p| p.to_point()).collect();
        assert_eq!(
            viewed,
            owned.points,
            "body {:?}",
            String::from_utf8_lossy(body)
        );
        assert_eq!(indexed.errors, owned.errors);
        assert_eq!(indexed.lines, owned.lines);
        assert_eq!(
            indexed.all_timed(),
            owned.points.iter().all(|p| p.time != 42)
        );
    }

    #[test]
    fn reads_back_what_parse_lines_makes() {
        same(
            b"cpu,host=a,region=b usage=1.5,n=3i 10\ncpu,host=b v=2 20\n",
            Precision::Nanoseconds,
        );
        same(
            b"  cpu v=1\r\n\n# comment\nmem,z=1,a=2 free=7u,ok=true,s=\"x\" 5",
            Precision::Seconds,
        );
        same(
            br#"we\ ird\,m,t\=k=v\ 1 f\,k="a \"q\" \\ b",g=-1e3 1"#,
            Precision::Nanoseconds,
        );
        same(
            b"m a=1,a=2,b=3,a=4 1\nbad line\nm,h=x,h=y v=1\nm v=1 notatime\n",
            Precision::Nanoseconds,
        );
        same("m,ü=ö f=\"é\" 1\n".as_bytes(), Precision::Nanoseconds);
        let mut bad_utf8 = b"m v=1 1\nm,t=\xff v=1 2\nn,t=x v=\"y\" 3\n".to_vec();
        same(&bad_utf8, Precision::Nanoseconds);
        bad_utf8.clear();
        same(&bad_utf8, Precision::Nanoseconds);
    }

    #[test]
    fn another_body_reads_as_empty_names_not_a_panic() {
        let body = b"cpu,host=a v=1 1\n";
        let lines = ParsedLines::parse(body, Precision::Nanoseconds, 0).unwrap();
        let p = lines.points(b"x").next().unwrap();
        assert_eq!(p.measurement(), "");
        assert_eq!(p.time(), 1);
    }

    #[test]
    fn refuses_a_body_it_cannot_address() {
        // Zeroed and never touched: the length is checked before any byte is read.
        let body = vec![0u8; ParsedLines::MAX_BODY + 1];
        let e = ParsedLines::parse(&body, Precision::Nanoseconds, 0).unwrap_err();
        assert_eq!(e.len, ParsedLines::MAX_BODY + 1);
        assert!(e.to_string().contains("smaller batches"), "{e}");
    }
}
