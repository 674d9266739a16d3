//! `ferry_lp::parse_lines` over a whole write body, plus a round-trip property: every point
//! that parses, and whose names the crate documents as representable, is written back with
//! `ferry_lp::write_point` and parses (`parse_line` and `parse_lines`) to the same point.
#![no_main]

use ferry_lp::{
    parse_line, parse_lines, write_f64, write_point, write_series_key, FieldValue, ParsedLines,
    Point, PointView, Precision,
};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

const DEFAULT_TIME: i64 = 1_700_000_000_123_456_789;

const OTHER_PRECISIONS: [Precision; 5] = [
    Precision::Microseconds,
    Precision::Milliseconds,
    Precision::Seconds,
    Precision::Minutes,
    Precision::Hours,
];

/// Whether a name survives escape + parse, per crates/ferry-lp/src/escape.rs: it must not end
/// with a backslash, nor have an odd run of backslashes right before `,`, `=` or a space
/// (and must have no newline, which a parsed name never has).
fn representable_name(s: &str) -> bool {
    let b = s.as_bytes();
    if b.last() == Some(&b'\\') || b.contains(&b'\n') {
        return false;
    }
    let mut run = 0usize;
    for &c in b {
        if c == b'\\' {
            run += 1;
            continue;
        }
        if run % 2 == 1 && matches!(c, b',' | b'=' | b' ') {
            return false;
        }
        run = 0;
    }
    true
}

/// `FERRY_FUZZ_LP_STRICT=1`: also round-trip the points the rule above skips (the claim of
/// crates/ferry-lp/src/represent.rs that points parsed from line protocol always survive).
fn strict() -> bool {
    static STRICT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *STRICT.get_or_init(|| std::env::var_os("FERRY_FUZZ_LP_STRICT").is_some_and(|v| v == "1"))
}

fn representable(p: &Point) -> bool {
    if strict() {
        return true;
    }
    representable_name(&p.measurement)
        && p.tags
            .iter()
            .all(|(k, v)| !v.is_empty() && representable_name(k) && representable_name(v))
        && p.fields.iter().all(|(k, _)| representable_name(k))
}

fn check_invariants(p: &Point) {
    // Documented invariants of a parsed point (crates/ferry-lp/src/types.rs).
    assert!(!p.measurement.is_empty());
    assert!(!p.fields.is_empty(), "no fields: {p:?}");
    assert!(
        p.tags.windows(2).all(|w| w[0].0 < w[1].0),
        "tags not sorted/unique: {p:?}"
    );
    assert!(
        p.tags.iter().all(|(_, v)| !v.is_empty()),
        "empty tag value: {p:?}"
    );
    for (i, (k, v)) in p.fields.iter().enumerate() {
        assert!(
            p.fields[..i].iter().all(|(k2, _)| k2 != k),
            "duplicate field key: {p:?}"
        );
        if let FieldValue::Float(f) = v {
            assert!(f.is_finite(), "non-finite float parsed: {p:?}");
            // crates/ferry-lp/src/float.rs: byte for byte what ryu writes.
            let mut mine = Vec::new();
            write_f64(&mut mine, *f);
            assert_eq!(
                std::str::from_utf8(&mine).unwrap(),
                ryu::Buffer::new().format_finite(*f),
                "write_f64 differs from ryu for {f:?}"
            );
        }
    }
    assert!((ferry_lp::MIN_NANO_TIME..=ferry_lp::MAX_NANO_TIME).contains(&p.time));
}

/// Differential check of the number parser: the input's first token as a field value; what
/// ferry-lp accepts must be what Rust's std reads from the same text.
fn check_number_token(data: &[u8]) {
    let end = data
        .iter()
        .position(|&c| c.is_ascii_whitespace() || c == b',' || c == b'"')
        .unwrap_or(data.len());
    let tok = &data[..end.min(64)];
    let Ok(t) = std::str::from_utf8(tok) else {
        return;
    };
    if t.is_empty() {
        return;
    }
    let mut line = b"m f=".to_vec();
    line.extend_from_slice(tok);
    let Ok(p) = parse_line(&line, Precision::Nanoseconds, 0) else {
        return;
    };
    match &p.fields[0].1 {
        FieldValue::Float(v) => {
            assert_eq!(t.parse::<f64>().ok(), Some(*v), "float {t:?} read as {v:?}")
        }
        FieldValue::Integer(v) => {
            assert_eq!(
                t[..t.len() - 1].parse::<i64>().ok(),
                Some(*v),
                "integer {t:?}"
            )
        }
        FieldValue::UInteger(v) => {
            assert_eq!(
                t[..t.len() - 1].parse::<u64>().ok(),
                Some(*v),
                "unsigned {t:?}"
            )
        }
        FieldValue::Boolean(_) | FieldValue::String(_) => {}
    }
}

fuzz_target!(init: common::report_stack_overflows(), |data: &[u8]| {
    check_number_token(data);
    let batch = parse_lines(data, Precision::Nanoseconds, DEFAULT_TIME);
    assert_eq!(batch.points.len() + batch.errors.len(), batch.lines);

    // The write path's parse (positions in the body) reads back the same points and errors.
    let indexed = ParsedLines::parse(data, Precision::Nanoseconds, DEFAULT_TIME)
        .expect("a fuzz input is far under 2 GiB");
    let viewed: Vec<Point> = indexed.points(data).map(|p| p.to_point()).collect();
    assert_eq!(viewed, batch.points, "ParsedLines differs from parse_lines");
    assert_eq!(indexed.errors, batch.errors);
    assert_eq!(indexed.lines, batch.lines);
    for e in &batch.errors {
        let _ = e.to_string();
    }

    // Another precision, chosen from the input: same lines, same split good/bad except for
    // timestamps that go out of range when scaled.
    let prec = OTHER_PRECISIONS[data.len() % OTHER_PRECISIONS.len()];
    let other = parse_lines(data, prec, DEFAULT_TIME);
    assert_eq!(other.lines, batch.lines);
    assert!(other.points.len() <= batch.points.len());
    for p in &other.points {
        check_invariants(p);
    }

    let mut body = Vec::new();
    let mut expected = Vec::new();
    for p in &batch.points {
        check_invariants(p);
        if !representable(p) {
            continue;
        }
        let mut line = Vec::new();
        write_point(&mut line, p);
        assert_eq!(line.last(), Some(&b'\n'));
        let text = std::str::from_utf8(&line).expect("write_point wrote invalid UTF-8");

        let mut key = String::new();
        write_series_key(&mut key, &p.measurement, &p.tags);
        key.push(' ');
        assert!(text.starts_with(&key), "series key {key:?} is not a prefix of {text:?}");

        match parse_line(&line[..line.len() - 1], Precision::Nanoseconds, 0) {
            Ok(q) => assert_eq!(&q, p, "round trip changed the point; line {text:?}"),
            Err(e) => panic!("re-serialized point does not parse: {e}; line {text:?}; point {p:?}"),
        }
        body.extend_from_slice(&line);
        expected.push(p.clone());
    }
    let again = parse_lines(&body, Precision::Nanoseconds, 0);
    assert!(again.errors.is_empty(), "{:?}", again.errors);
    assert_eq!(again.points, expected);
});
