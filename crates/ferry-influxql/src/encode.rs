//! JSON (plain, pretty, chunked) and CSV encodings of results, in InfluxDB 1.6's shapes.

use crate::result::{Series, StatementResult, Value};

/// How times are written: RFC3339 or an epoch unit (ns per unit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Epoch {
    /// RFC3339 with ns precision, trailing zeros trimmed (JSON default).
    Rfc3339,
    /// Integer time divided by this many ns.
    Unit(i64),
}

impl Epoch {
    /// Parses the `epoch` parameter (`ns`, `n`, `u`, `µ`, `ms`, `s`, `m`, `h`).
    pub fn parse(s: &str) -> Option<Epoch> {
        Some(Epoch::Unit(match s {
            "ns" | "n" => 1,
            "u" | "µ" | "us" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        }))
    }
}

/// Formats a time as Go's RFC3339Nano does.
pub fn rfc3339(ns: i64) -> String {
    let mut s = String::with_capacity(30);
    push_rfc3339(&mut s, ns);
    s
}

/// Appends [`rfc3339`] of `ns` to `out` (the civil date by arithmetic, no allocation).
pub fn push_rfc3339(out: &mut String, ns: i64) {
    let secs = ns.div_euclid(1_000_000_000);
    let nanos = ns.rem_euclid(1_000_000_000) as u32;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    if !(0..=9999).contains(&y) {
        // i64 nanoseconds span 1677..2262: never reached; kept total anyway.
        out.push_str(&ns.to_string());
        return;
    }
    let mut b = [0u8; 30];
    let digits = |b: &mut [u8], v: i64| {
        let mut v = v;
        for c in b.iter_mut().rev() {
            *c = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    digits(&mut b[0..4], y);
    b[4] = b'-';
    digits(&mut b[5..7], m);
    b[7] = b'-';
    digits(&mut b[8..10], d);
    b[10] = b'T';
    digits(&mut b[11..13], sod / 3600);
    b[13] = b':';
    digits(&mut b[14..16], sod / 60 % 60);
    b[16] = b':';
    digits(&mut b[17..19], sod % 60);
    let mut n = 19;
    if nanos > 0 {
        b[19] = b'.';
        digits(&mut b[20..29], i64::from(nanos));
        n = 29;
        while b[n - 1] == b'0' {
            n -= 1;
        }
    }
    b[n] = b'Z';
    out.push_str(std::str::from_utf8(&b[..=n]).expect("ASCII"));
}

/// Appends the local time of instant `ns` at UTC offset `offset_secs` in Go's RFC3339Nano
/// (`+01:00`, or `Z` for a zero offset), as 1.6 shows the times of a `tz()` statement.
pub fn push_rfc3339_offset(out: &mut String, ns: i64, offset_secs: i32) {
    push_rfc3339(
        out,
        ns.saturating_add(i64::from(offset_secs) * 1_000_000_000),
    );
    if offset_secs == 0 || !out.ends_with('Z') {
        return;
    }
    out.pop();
    let a = offset_secs.unsigned_abs();
    out.push(if offset_secs < 0 { '-' } else { '+' });
    out.push_str(&format!("{:02}:{:02}", a / 3600, a / 60 % 60));
}

/// Go's `encoding/json` float format.
pub fn json_float(f: f64) -> String {
    if !f.is_finite() {
        return "null".into();
    }
    let a = f.abs();
    if a != 0.0 && !(1e-6..1e21).contains(&a) {
        let s = format!("{f:e}");
        // Go: 1e+21, 1e-07 → json trims to e-7
        match s.split_once('e') {
            Some((m, e)) if !e.starts_with('-') => format!("{m}e+{e}"),
            _ => s,
        }
    } else {
        format!("{f}")
    }
}

fn json_str(out: &mut String, s: &str) {
    out.push('"');
    if !s
        .bytes()
        .any(|c| c < 0x20 || matches!(c, b'"' | b'\\' | b'<' | b'>' | b'&'))
    {
        out.push_str(s);
        out.push('"');
        return;
    }
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn json_value(out: &mut String, v: &Value, epoch: Epoch) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Float(f) => {
            let a = f.abs();
            if (1e-5..1e9).contains(&a) {
                // ryu writes the same shortest digits as `{f}`, in plain notation in this
                // range, and "1.0" where Go (and `{f}`) write "1"
                let mut buf = ryu::Buffer::new();
                let s = buf.format_finite(*f);
                out.push_str(s.strip_suffix(".0").unwrap_or(s));
            } else if f.is_finite() && (a == 0.0 || (1e-6..1e21).contains(&a)) {
                use std::fmt::Write as _;
                let _ = write!(out, "{f}");
            } else {
                out.push_str(&json_float(*f));
            }
        }
        Value::Int(i) => out.push_str(itoa::Buffer::new().format(*i)),
        Value::UInt(u) => out.push_str(itoa::Buffer::new().format(*u)),
        Value::Str(s) => json_str(out, s),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Time(t) => match epoch {
            Epoch::Rfc3339 => {
                out.push('"');
                push_rfc3339(out, *t);
                out.push('"');
            }
            Epoch::Unit(u) => out.push_str(&(t / u).to_string()),
        },
        Value::ZonedTime(t, off) => match epoch {
            Epoch::Rfc3339 => {
                out.push('"');
                push_rfc3339_offset(out, *t, *off);
                out.push('"');
            }
            Epoch::Unit(u) => out.push_str(&(t / u).to_string()),
        },
    }
}

fn json_series_head(out: &mut String, s: &Series) {
    out.push('{');
    let mut first = true;
    if let Some(n) = &s.name {
        out.push_str("\"name\":");
        json_str(out, n);
        first = false;
    }
    if let Some(tags) = &s.tags {
        if !first {
            out.push(',');
        }
        out.push_str("\"tags\":{");
        for (i, (k, v)) in tags.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            json_str(out, k);
            out.push(':');
            json_str(out, v);
        }
        out.push('}');
        first = false;
    }
    if !first {
        out.push(',');
    }
    out.push_str("\"columns\":[");
    for (i, c) in s.columns.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json_str(out, c);
    }
    out.push(']');
}

fn json_row(out: &mut String, r: &[Value], epoch: Epoch) {
    out.push('[');
    for (j, v) in r.iter().enumerate() {
        if j > 0 {
            out.push(',');
        }
        json_value(out, v, epoch);
    }
    out.push(']');
}

fn json_series(out: &mut String, s: &Series, rows: &[Vec<Value>], epoch: Epoch, partial: bool) {
    json_series_head(out, s);
    if !rows.is_empty() {
        out.push_str(",\"values\":[");
        for (i, r) in rows.iter().enumerate() {
            if i > 0 {
                out.push(',');
                if i.is_multiple_of(4096) {
                    ferry_store::coop::point();
                }
            }
            json_row(out, r, epoch);
        }
        out.push(']');
    }
    if partial {
        out.push_str(",\"partial\":true");
    }
    out.push('}');
}

fn json_result_head(out: &mut String, r: &StatementResult) {
    out.push_str("{\"statement_id\":");
    out.push_str(&r.statement_id.to_string());
}

/// The rows of the chunks 1.6 answers an unchunked query in (its `DefaultChunkSize`). It
/// merges them into one series again, which keeps the first chunk's `"partial":true`: so
/// a series of more rows than this is marked partial, though it is whole.
const UNCHUNKED_ROWS: usize = 10_000;

/// One statement result as a JSON object (no chunking).
pub fn json_result(out: &mut String, r: &StatementResult, epoch: Epoch) {
    json_result_head(out, r);
    if !r.series.is_empty() {
        out.push_str(",\"series\":[");
        for (i, s) in r.series.iter().enumerate() {
            ferry_store::coop::point();
            if i > 0 {
                out.push(',');
            }
            json_series(out, s, &s.values, epoch, s.values.len() > UNCHUNKED_ROWS);
        }
        out.push(']');
    }
    if let Some(e) = &r.error {
        out.push_str(",\"error\":");
        json_str(out, e);
    }
    out.push('}');
}

/// The whole answer `{"results":[...]}`.
pub fn json_results(results: &[StatementResult], epoch: Epoch, pretty: bool) -> String {
    let mut out = String::from("{\"results\":[");
    for (i, r) in results.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json_result(&mut out, r, epoch);
    }
    out.push_str("]}");
    if pretty {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&out) {
            let mut buf = Vec::new();
            let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
            let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
            if serde::Serialize::serialize(&v, &mut ser).is_ok() {
                if let Ok(s) = String::from_utf8(buf) {
                    return s;
                }
            }
        }
    }
    out.push('\n');
    out
}

/// Chunked JSON for one statement: one document per chunk (each line ends with `\n`). Every
/// series is split into chunks of `chunk_size` rows; all chunks but a series' last carry
/// `"partial":true` on the series, all but the statement's last on the result.
pub fn json_chunks(r: &StatementResult, epoch: Epoch, chunk_size: usize, out: &mut Vec<String>) {
    let chunk_size = chunk_size.max(1);
    if r.series.is_empty() {
        let mut s = String::from("{\"results\":[");
        json_result(&mut s, r, epoch);
        s.push_str("]}\n");
        out.push(s);
        return;
    }
    let ns = r.series.len();
    for (si, series) in r.series.iter().enumerate() {
        let mut chunks: Vec<&[Vec<Value>]> = series.values.chunks(chunk_size).collect();
        if chunks.is_empty() {
            chunks.push(&[]);
        }
        let nc = chunks.len();
        for (ci, rows) in chunks.into_iter().enumerate() {
            let series_partial = ci + 1 < nc;
            let result_partial = series_partial || si + 1 < ns;
            let mut s = String::from("{\"results\":[");
            json_result_head(&mut s, r);
            s.push_str(",\"series\":[");
            json_series(&mut s, series, rows, epoch, series_partial);
            s.push(']');
            if result_partial {
                s.push_str(",\"partial\":true");
            }
            s.push_str("}]}\n");
            out.push(s);
        }
    }
}

/// Bytes [`ChunkEncoder::take_ready`] waits for before handing out a part of a line.
const READY_BYTES: usize = 64 << 10;

/// [`json_chunks`] fed incrementally, one row at a time, so a statement's answer can be
/// written while it is computed. The output is byte for byte what [`json_chunks`] writes for
/// the same statement; it is handed out in pieces as soon as they are final: a chunk's text
/// goes out as its rows come (only the closing flags, `"partial"` on the series and on the
/// result, wait to learn whether more follows), so memory holds about [`READY_BYTES`] of
/// output whatever the chunk size.
///
/// Call [`begin_statement`](Self::begin_statement), then per series
/// [`begin_series`](Self::begin_series), [`row`](Self::row)s and
/// [`end_series`](Self::end_series), then [`end_statement`](Self::end_statement) (or
/// [`fail`](Self::fail)); [`take_ready`](Self::take_ready) and
/// [`take_all`](Self::take_all) drain the output.
pub struct ChunkEncoder {
    epoch: Epoch,
    chunk_size: usize,
    statement_id: usize,
    /// The current series' opening: `{"name":...,"tags":{...},"columns":[...]`; `None`
    /// outside a series.
    head: Option<String>,
    /// Rows in the current chunk.
    nrows: usize,
    /// A series ended and its line waits for the result's `"partial"` flag.
    held: bool,
    /// Output not handed out yet.
    out: String,
    /// Where the current statement starts in `out`, while none of it has been handed out.
    unsent_from: Option<usize>,
    /// Whether `out` holds a complete line.
    line_done: bool,
}

impl ChunkEncoder {
    /// An encoder of `chunk_size` rows per chunk (at least 1), times per `epoch`.
    pub fn new(epoch: Epoch, chunk_size: usize) -> ChunkEncoder {
        ChunkEncoder {
            epoch,
            chunk_size: chunk_size.max(1),
            statement_id: 0,
            head: None,
            nrows: 0,
            held: false,
            out: String::new(),
            unsent_from: Some(0),
            line_done: false,
        }
    }

    /// Starts the answer of statement `statement_id`.
    pub fn begin_statement(&mut self, statement_id: usize) {
        self.statement_id = statement_id;
        self.head = None;
        self.nrows = 0;
        self.held = false;
        self.unsent_from = Some(self.out.len());
    }

    /// Starts a series (its name, tags and columns; `values` is not read).
    pub fn begin_series(&mut self, s: &Series) {
        if self.held {
            // another series follows
            self.out.push_str(",\"partial\":true}]}\n");
            self.line_done = true;
            self.held = false;
        }
        let mut head = String::new();
        json_series_head(&mut head, s);
        self.head = Some(head);
        self.open_chunk();
    }

    /// Adds a row to the current series.
    pub fn row(&mut self, row: &[Value]) {
        if self.nrows == self.chunk_size {
            // the chunk is full and the series goes on
            self.out
                .push_str("],\"partial\":true}],\"partial\":true}]}\n");
            self.line_done = true;
            self.open_chunk();
        }
        self.out.push_str(if self.nrows == 0 {
            ",\"values\":["
        } else {
            ","
        });
        json_row(&mut self.out, row, self.epoch);
        self.nrows += 1;
    }

    /// Ends the current series.
    pub fn end_series(&mut self) {
        if self.nrows > 0 {
            self.out.push(']');
        }
        self.out.push_str("}]");
        self.head = None;
        self.held = true;
    }

    /// Ends the statement, every series begun having been ended (a statement that answered
    /// no series answers `error`, if any).
    pub fn end_statement(&mut self, error: Option<&str>) {
        if self.held {
            // the last series' line waits for this closing
            self.out.push_str("}]}\n");
            self.held = false;
        } else {
            self.out.push_str("{\"results\":[");
            let r = StatementResult {
                statement_id: self.statement_id,
                series: Vec::new(),
                error: error.map(str::to_string),
            };
            json_result(&mut self.out, &r, self.epoch);
            self.out.push_str("]}\n");
        }
        self.line_done = true;
    }

    /// Ends the statement with `error`, found while its rows were being produced. While
    /// none of its output has been handed out, the statement answers only the error, as a
    /// statement failing before its answer does; after, the open chunk is closed as partial
    /// (the answer is not complete) and an error line follows, as 1.6 does when a chunked
    /// statement fails midway.
    pub fn fail(&mut self, error: &str) {
        match self.unsent_from {
            Some(at) => self.out.truncate(at),
            None => {
                if self.head.is_some() {
                    if self.nrows > 0 {
                        self.out.push(']');
                    }
                    self.out.push_str(",\"partial\":true}]");
                    self.held = true;
                }
                if self.held {
                    self.out.push_str(",\"partial\":true}]}\n");
                }
            }
        }
        self.head = None;
        self.held = false;
        self.end_statement(Some(error));
    }

    /// Appends one whole statement result, as [`json_chunks`] would write it.
    pub fn write_result(&mut self, r: &StatementResult) {
        self.begin_statement(r.statement_id);
        for s in &r.series {
            self.begin_series(s);
            for row in &s.values {
                self.row(row);
            }
            self.end_series();
        }
        self.end_statement(r.error.as_deref());
    }

    /// The output so far once it holds a complete line or [`READY_BYTES`]; `None` before.
    pub fn take_ready(&mut self) -> Option<String> {
        if self.line_done || self.out.len() >= READY_BYTES {
            self.take_all()
        } else {
            None
        }
    }

    /// All the output so far (`None` when there is none).
    pub fn take_all(&mut self) -> Option<String> {
        self.line_done = false;
        if self.out.is_empty() {
            return None;
        }
        // the statement's start stays known while none of its output leaves
        self.unsent_from = match self.unsent_from {
            Some(at) if at >= self.out.len() => Some(0),
            _ => None,
        };
        Some(std::mem::take(&mut self.out))
    }

    /// Opens a chunk of the current series: the line up to the series' columns.
    fn open_chunk(&mut self) {
        self.out.push_str("{\"results\":[{\"statement_id\":");
        self.out
            .push_str(itoa::Buffer::new().format(self.statement_id));
        self.out.push_str(",\"series\":[");
        self.out.push_str(self.head.as_deref().unwrap_or("{"));
        self.nrows = 0;
    }
}

fn csv_field(out: &mut String, s: &str) {
    if s.contains([',', '"', '\n', '\r']) || s.starts_with(' ') {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(s);
    }
}

/// CSV: `name,tags,time,...` header per statement (and when the columns change), times as
/// integers (ns unless `epoch` says otherwise), a blank line between statements.
pub fn csv(results: &[StatementResult], epoch: Epoch) -> String {
    let unit = match epoch {
        Epoch::Rfc3339 => 1,
        Epoch::Unit(u) => u,
    };
    let mut out = String::new();
    for (i, r) in results.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if let Some(e) = &r.error {
            out.push_str("error\n");
            csv_field(&mut out, e);
            out.push('\n');
            continue;
        }
        let mut last_cols: Option<&Vec<String>> = None;
        for s in &r.series {
            if last_cols != Some(&s.columns) {
                out.push_str("name,tags");
                for c in &s.columns {
                    out.push(',');
                    csv_field(&mut out, c);
                }
                out.push('\n');
                last_cols = Some(&s.columns);
            }
            let mut tags = String::new();
            if let Some(t) = &s.tags {
                for (k, v) in t.iter().filter(|(_, v)| !v.is_empty()) {
                    if !tags.is_empty() {
                        tags.push(',');
                    }
                    tags.push_str(&ferry_lp::escape_tag(k));
                    tags.push('=');
                    tags.push_str(&ferry_lp::escape_tag(v));
                }
            }
            for (n, row) in s.values.iter().enumerate() {
                if n.is_multiple_of(4096) {
                    ferry_store::coop::point();
                }
                csv_field(&mut out, s.name.as_deref().unwrap_or(""));
                out.push(',');
                csv_field(&mut out, &tags);
                for v in row {
                    out.push(',');
                    match v {
                        Value::Null => {}
                        Value::Float(f) => out.push_str(&format!("{f}")),
                        Value::Int(i) => {
                            use std::fmt::Write as _;
                            let _ = write!(out, "{i}");
                        }
                        Value::UInt(u) => {
                            use std::fmt::Write as _;
                            let _ = write!(out, "{u}");
                        }
                        Value::Str(st) => csv_field(&mut out, st),
                        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
                        Value::Time(t) | Value::ZonedTime(t, _) => {
                            out.push_str(&(t / unit).to_string())
                        }
                    }
                }
                out.push('\n');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_matches_chrono() {
        let cases = [
            0i64,
            1,
            1_700_000_000_000_000_000,
            1_700_000_000_123_000_000,
            -1,
            -86_400_000_000_001,
            951_782_400_000_000_000, // 2000-02-29
            4_107_542_400_000_000_000,
            i64::MIN,
            i64::MAX,
        ];
        for ns in cases {
            let secs = ns.div_euclid(1_000_000_000);
            let nanos = ns.rem_euclid(1_000_000_000) as u32;
            let dt = chrono::DateTime::from_timestamp(secs, nanos).unwrap();
            let mut want = dt.format("%Y-%m-%dT%H:%M:%S").to_string();
            if nanos > 0 {
                want.push('.');
                want.push_str(format!("{nanos:09}").trim_end_matches('0'));
            }
            want.push('Z');
            assert_eq!(rfc3339(ns), want, "{ns}");
        }
    }

    #[test]
    fn rfc3339_with_offsets() {
        let t = 1_698_541_200_500_000_000; // 2023-10-29T01:00:00.5Z
        let f = |off| {
            let mut s = String::new();
            push_rfc3339_offset(&mut s, t, off);
            s
        };
        assert_eq!(f(3600), "2023-10-29T02:00:00.5+01:00");
        assert_eq!(f(-4 * 3600 - 1800), "2023-10-28T20:30:00.5-04:30");
        assert_eq!(f(0), "2023-10-29T01:00:00.5Z");
    }
}

#[cfg(test)]
mod float_tests {
    use super::*;

    /// The ryu fast path writes exactly what the general path (`{f}`, Go's format) writes.
    #[test]
    fn fast_float_path_matches_display() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut samples = vec![1.0, 0.1, 99.998, 1e-5, 1e9 - 1.0, 123456.789, 2.5, 100.0];
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let f = f64::from_bits(x);
            if f.is_finite() {
                samples.push(f);
            }
            samples.push((x % 100_000_000) as f64 / 1000.0);
            let unit = (x >> 11) as f64 / (1u64 << 53) as f64;
            samples.push(unit * 10f64.powi((x % 15) as i32 - 5));
        }
        for f in samples {
            for f in [f, -f] {
                let a = f.abs();
                if !(1e-5..1e9).contains(&a) {
                    continue;
                }
                let mut out = String::new();
                json_value(&mut out, &Value::Float(f), Epoch::Rfc3339);
                assert_eq!(out, format!("{f}"), "{f:e}");
            }
        }
    }
}

#[cfg(test)]
mod chunk_encoder_tests {
    use super::*;

    fn series(name: Option<&str>, tags: bool, rows: usize, seed: i64) -> Series {
        Series {
            name: name.map(str::to_string),
            tags: tags.then(|| vec![("host".to_string(), format!("h{seed}"))]),
            columns: vec!["time".into(), "v".into(), "s".into()],
            values: (0..rows as i64)
                .map(|i| {
                    vec![
                        Value::Time(1_700_000_000_000_000_000 + i * 1_000_000_007),
                        if i % 3 == 0 {
                            Value::Null
                        } else {
                            Value::Float(i as f64 * 0.25 + seed as f64)
                        },
                        Value::Str(format!("r{i}\"<{seed}>")),
                    ]
                })
                .collect(),
        }
    }

    fn whole(r: &StatementResult, epoch: Epoch, n: usize) -> String {
        let mut lines = Vec::new();
        json_chunks(r, epoch, n, &mut lines);
        lines.concat()
    }

    fn incremental(rs: &[StatementResult], epoch: Epoch, n: usize) -> String {
        let mut enc = ChunkEncoder::new(epoch, n);
        let mut out = String::new();
        for r in rs {
            enc.begin_statement(r.statement_id);
            for s in &r.series {
                enc.begin_series(s);
                out.extend(enc.take_ready());
                for row in &s.values {
                    enc.row(row);
                    out.extend(enc.take_ready());
                }
                enc.end_series();
                out.extend(enc.take_ready());
            }
            enc.end_statement(r.error.as_deref());
            out.extend(enc.take_ready());
        }
        out.extend(enc.take_all());
        out
    }

    /// For every split of rows into chunks the incremental encoder writes the same bytes as
    /// `json_chunks` over the whole result: series of 0..=9 rows, 0..=3 series per statement,
    /// with and without tags and names, chunk sizes 1..=11, several statements in a row.
    #[test]
    fn incremental_chunks_equal_whole_result_chunks() {
        for epoch in [Epoch::Rfc3339, Epoch::Unit(1_000_000)] {
            for nseries in 0..=3usize {
                for rows in 0..=9usize {
                    for chunk in 1..=11usize {
                        let r = StatementResult {
                            statement_id: nseries,
                            series: (0..nseries)
                                .map(|i| {
                                    // series of differing lengths: rows, rows + 1, rows / 2
                                    let n = [rows, rows + 1, rows / 2][i % 3];
                                    let name = (i != 2).then_some("cpu");
                                    series(name, i % 2 == 0, n, i as i64)
                                })
                                .collect(),
                            error: None,
                        };
                        let e = StatementResult {
                            statement_id: 7,
                            series: vec![],
                            error: Some("database not found: x".into()),
                        };
                        let want = whole(&r, epoch, chunk) + &whole(&e, epoch, chunk);
                        let got = incremental(&[r.clone(), e.clone()], epoch, chunk);
                        assert_eq!(got, want, "{nseries} series, {rows} rows, chunk {chunk}");
                        let mut enc = ChunkEncoder::new(epoch, chunk);
                        enc.write_result(&r);
                        assert_eq!(enc.take_all().unwrap(), whole(&r, epoch, chunk));
                    }
                }
            }
        }
    }

    /// Output leaves as soon as it is final: a chunk's rows as they come (in pieces of
    /// `READY_BYTES`, or when a line is complete), only the closing flags wait for what
    /// follows.
    #[test]
    fn output_leaves_as_soon_as_it_is_final() {
        let s = series(Some("cpu"), false, 4, 0);
        let mut enc = ChunkEncoder::new(Epoch::Rfc3339, 2);
        enc.begin_statement(0);
        enc.begin_series(&s);
        enc.row(&s.values[0]);
        enc.row(&s.values[1]);
        assert_eq!(enc.take_ready(), None, "nothing complete, little buffered");
        enc.row(&s.values[2]);
        let out = enc.take_ready().unwrap();
        let (first, rest) = out.split_once('\n').unwrap();
        assert!(
            first.ends_with(",\"partial\":true}],\"partial\":true}]}"),
            "{first}"
        );
        assert!(
            rest.starts_with("{\"results\":[{\"statement_id\":0,\"series\":[{"),
            "{rest}"
        );
        enc.row(&s.values[3]);
        enc.end_series();
        let tail = enc.take_all().unwrap();
        assert!(tail.ends_with("]]}]"), "the result's flag waits: {tail}");
        enc.end_statement(None);
        assert_eq!(enc.take_ready().as_deref(), Some("}]}\n"));

        // a chunk larger than READY_BYTES goes out in pieces before it is complete
        let big = series(Some("cpu"), false, 5000, 1);
        let mut enc = ChunkEncoder::new(Epoch::Rfc3339, 1_000_000);
        enc.begin_statement(0);
        enc.begin_series(&big);
        let mut pieces = 0;
        let mut out = String::new();
        for row in &big.values {
            enc.row(row);
            if let Some(p) = enc.take_ready() {
                assert!(p.len() < READY_BYTES + 200, "{}", p.len());
                out.push_str(&p);
                pieces += 1;
            }
        }
        assert!(pieces >= 3, "{pieces}");
        enc.end_series();
        enc.end_statement(None);
        out.extend(enc.take_all());
        let r = StatementResult {
            statement_id: 0,
            series: vec![big],
            error: None,
        };
        assert_eq!(out, whole(&r, Epoch::Rfc3339, 1_000_000));
    }

    /// A failure while none of the statement's output has left answers the error alone (as
    /// a statement failing before its rows); after, the open chunk is closed partial and
    /// the error follows; earlier statements are kept either way.
    #[test]
    fn failures_before_and_after_output_left() {
        let s = series(Some("cpu"), true, 5, 1);
        let err = "{\"results\":[{\"statement_id\":3,\"error\":\"boom\"}]}\n";
        let mut enc = ChunkEncoder::new(Epoch::Rfc3339, 10);
        enc.write_result(&StatementResult {
            statement_id: 2,
            series: vec![],
            error: None,
        });
        enc.begin_statement(3);
        enc.begin_series(&s);
        enc.row(&s.values[0]);
        enc.row(&s.values[1]);
        enc.end_series();
        enc.begin_series(&s);
        enc.row(&s.values[2]);
        enc.fail("boom");
        assert_eq!(
            enc.take_all().unwrap(),
            format!("{{\"results\":[{{\"statement_id\":2}}]}}\n{err}")
        );

        let mut enc = ChunkEncoder::new(Epoch::Rfc3339, 2);
        enc.begin_statement(3);
        enc.begin_series(&s);
        let mut sent = String::new();
        for row in &s.values {
            enc.row(row);
            sent.extend(enc.take_ready());
        }
        // two whole lines and the third one's start have left
        assert_eq!(sent.matches('\n').count(), 2, "{sent}");
        enc.fail("boom");
        let all = sent + &enc.take_all().unwrap();
        let lines: Vec<&str> = all.lines().collect();
        assert_eq!(lines.len(), 4, "{all}");
        assert!(
            lines[2].ends_with("]],\"partial\":true}],\"partial\":true}]}"),
            "{all}"
        );
        assert_eq!(format!("{}\n", lines[3]), err);
        for l in lines {
            serde_json::from_str::<serde_json::Value>(l).unwrap();
        }
    }
}
