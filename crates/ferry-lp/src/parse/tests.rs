use super::*;
use crate::error::LineErrorKind as K;
use FieldValue::*;

const DEF: i64 = 42;

fn one(line: &str) -> Point {
    let b = parse_lines(line.as_bytes(), Precision::Nanoseconds, DEF);
    assert!(b.errors.is_empty(), "{line}: {:?}", b.errors);
    assert_eq!(b.points.len(), 1, "{line}");
    b.points.into_iter().next().unwrap()
}

fn err(line: &str) -> LineErrorKind {
    let b = parse_lines(line.as_bytes(), Precision::Nanoseconds, DEF);
    assert!(b.points.is_empty(), "{line} parsed: {:?}", b.points);
    assert_eq!(b.errors.len(), 1, "{line}");
    assert_eq!(b.errors[0].line, 1);
    b.errors.into_iter().next().unwrap().kind
}

fn s(v: &str) -> std::string::String {
    v.to_owned()
}

#[test]
fn simple_line() {
    let p = one("cpu,host=a,region=west usage=1.5,n=3i 1700000000000000000");
    assert_eq!(
        p,
        Point {
            measurement: s("cpu"),
            tags: vec![(s("host"), s("a")), (s("region"), s("west"))],
            fields: vec![(s("usage"), Float(1.5)), (s("n"), Integer(3))],
            time: 1_700_000_000_000_000_000,
        }
    );
}

#[test]
fn escaping_corner_cases() {
    let p = one(
        r#"weird\ meas\,1,rack\ id=r\=0\,\ row\ 0,region=us\ east a\=b=63.761,msg="hi \"there\" \\ x" 1700000000000000000"#,
    );
    assert_eq!(p.measurement, "weird meas,1");
    assert_eq!(
        p.tags,
        vec![(s("rack id"), s("r=0, row 0")), (s("region"), s("us east"))]
    );
    assert_eq!(
        p.fields,
        vec![
            (s("a=b"), Float(63.761)),
            (s("msg"), String(s(r#"hi "there" \ x"#)))
        ]
    );
    assert_eq!(p.time, 1_700_000_000_000_000_000);

    // Backslash before other characters is kept literally; `\=` in a measurement is tolerated.
    let p = one(r#"m\=x\y,t\a=v\\w f\n=1"#);
    assert_eq!(p.measurement, "m=x\\y");
    assert_eq!(p.tags, vec![(s("t\\a"), s("v\\\\w"))]);
    assert_eq!(p.fields[0].0, "f\\n");
    // Unescaped `=` in a measurement is just a character.
    assert_eq!(one("a=b v=1").measurement, "a=b");
    // String fields may hold commas, spaces, equals signs and other escapes literally.
    let p = one(r#"m s="a, b=c d\n\t",t="" 5"#);
    assert_eq!(p.fields[0].1, String(s("a, b=c d\\n\\t")));
    assert_eq!(p.fields[1].1, String(s("")));
    assert_eq!(p.time, 5);
    // A string ending in an escaped backslash.
    assert_eq!(one(r#"m s="end\\""#).fields[0].1, String(s("end\\")));
    // Unicode everywhere.
    let p = one("mésure,clé=vålue chämp=\"✓ ok\"");
    assert_eq!(p.measurement, "mésure");
    assert_eq!(p.tags, vec![(s("clé"), s("vålue"))]);
    assert_eq!(p.fields, vec![(s("chämp"), String(s("✓ ok")))]);
}

#[test]
fn every_value_type() {
    let p = one("m f=-1.5e3,i=-7i,u=7u,s=\"x\",t=t,T=TRUE,fa=False,g=1 1");
    assert_eq!(
        p.fields,
        vec![
            (s("f"), Float(-1500.0)),
            (s("i"), Integer(-7)),
            (s("u"), UInteger(7)),
            (s("s"), String(s("x"))),
            (s("t"), Boolean(true)),
            (s("T"), Boolean(true)),
            (s("fa"), Boolean(false)),
            (s("g"), Float(1.0)),
        ]
    );
}

#[test]
fn tags_sorted_and_fields_deduped() {
    let p = one("m,z=1,a=2,m=3 b=1,a=2,b=3");
    assert_eq!(
        p.tags,
        vec![(s("a"), s("2")), (s("m"), s("3")), (s("z"), s("1"))]
    );
    assert_eq!(p.fields, vec![(s("b"), Float(3.0)), (s("a"), Float(2.0))]);
    // Many fields with a duplicate (hash path).
    let mut line = s("m ");
    for k in 0..100 {
        line.push_str(&format!("f{k}={k}i,"));
    }
    line.push_str("f7=\"last\"");
    let p = one(&line);
    assert_eq!(p.fields.len(), 100);
    assert_eq!(p.fields[7], (s("f7"), String(s("last"))));
    assert_eq!(p.fields[99], (s("f99"), Integer(99)));
}

/// Keys with escapes sort and deduplicate by their unescaped text (they take the paths that
/// unescape each key once): `a\ b` is `a b`, which sorts before `a,c` and `ab`.
#[test]
fn escaped_keys_sort_and_dedup_by_their_unescaped_text() {
    let p = one(r"m,ab=1,a\,c=2,a\ b=3 x\=1=1,y=2,x\=1=3");
    assert_eq!(
        p.tags,
        vec![(s("a b"), s("3")), (s("a,c"), s("2")), (s("ab"), s("1"))]
    );
    assert_eq!(p.fields, vec![(s("x=1"), Float(3.0)), (s("y"), Float(2.0))]);
    // A backslash before a byte that needs none is kept: `a\b` twice is a duplicate, and
    // `k\ey` is not `key`.
    assert_eq!(err(r"m,a\b=1,a\b=2 v=1"), K::DuplicateTag(s(r"a\b")));
    assert_eq!(one(r"m k\ey=1,key=2").fields.len(), 2);
    assert_eq!(err(r"m,a\ b=1,a\ b=2 v=1"), K::DuplicateTag(s("a b")));
    // Many escaped tag keys given in reverse order.
    let mut line = s("m");
    for k in (0..300).rev() {
        line.push_str(&format!(",k\\ {k:03}=v"));
    }
    line.push_str(" v=1");
    let p = one(&line);
    assert_eq!(p.tags.len(), 300);
    assert!(p.tags.windows(2).all(|w| w[0].0 < w[1].0));
    assert_eq!(p.tags[0].0, s("k 000"));
}

#[test]
fn default_time_and_whitespace() {
    assert_eq!(one("m v=1").time, DEF);
    assert_eq!(one("m v=1   ").time, DEF);
    assert_eq!(one("  \tm v=1  7  ").time, 7);
    assert_eq!(one("m   v=1 \t8").time, 8);
    assert_eq!(err("m v=1\t8"), K::InvalidNumber(s("1\t8")));
    assert_eq!(one("m,t=a   v=1").tags, vec![(s("t"), s("a"))]);
    assert_eq!(one("m v=1 -5").time, -5);
}

#[test]
fn precision_multipliers() {
    let cases = [
        (Precision::Nanoseconds, 1i64),
        (Precision::Microseconds, 1_000),
        (Precision::Milliseconds, 1_000_000),
        (Precision::Seconds, 1_000_000_000),
        (Precision::Minutes, 60_000_000_000),
        (Precision::Hours, 3_600_000_000_000),
    ];
    for (p, mul) in cases {
        let b = parse_lines(b"m v=1 3\nm v=2", p, 99);
        assert_eq!(b.points[0].time, 3 * mul, "{p:?}");
        // Default time is already in nanoseconds: not scaled.
        assert_eq!(b.points[1].time, 99, "{p:?}");
    }
    let b = parse_lines(b"m v=1 1700000000", Precision::Seconds, 0);
    assert_eq!(b.points[0].time, 1_700_000_000_000_000_000);
    assert_eq!(
        Precision::parse_v1("ms").map(|p| scale_timestamp(2, p)),
        Some(Ok(2_000_000))
    );
}

#[test]
fn timestamp_overflow() {
    let b = parse_lines(b"m v=1 9223372036854775", Precision::Milliseconds, 0);
    assert_eq!(b.errors[0].kind, K::TimestampOutOfRange);
    let b = parse_lines(b"m v=1 9223372036854", Precision::Milliseconds, 0);
    assert_eq!(b.points[0].time, 9_223_372_036_854_000_000);
    let b = parse_lines(b"m v=1 -2562047788015216", Precision::Hours, 0);
    assert_eq!(b.errors[0].kind, K::TimestampOutOfRange);
    assert_eq!(err("m v=1 99999999999999999999"), K::TimestampOutOfRange);
    assert_eq!(err("m v=1 9223372036854775807"), K::TimestampOutOfRange);
    assert_eq!(err("m v=1 -9223372036854775808"), K::TimestampOutOfRange);
    assert_eq!(one("m v=1 9223372036854775806").time, MAX_NANO_TIME);
    assert_eq!(one("m v=1 -9223372036854775806").time, MIN_NANO_TIME);
}

#[test]
fn comments_blank_lines_crlf() {
    let body = b"# a comment\r\n\r\n   \n\t\n  # indented comment\ncpu v=1 1\r\ncpu v=2 2\r\n\r\nbad\r\ncpu v=3 3";
    let b = parse_lines(body, Precision::Nanoseconds, 0);
    assert_eq!(b.lines, 4);
    assert_eq!(b.points.len(), 3);
    assert_eq!(b.points[0].time, 1);
    assert_eq!(b.points[1].fields[0].1, Float(2.0));
    assert_eq!(b.points[2].time, 3);
    assert_eq!(b.errors.len(), 1);
    assert_eq!(b.errors[0].line, 9);
    assert_eq!(b.errors[0].text, "bad");
    assert_eq!(b.errors[0].kind, K::MissingFields);
    // CRLF does not leak into strings or timestamps.
    let b = parse_lines(b"m s=\"x\"\r\nm v=1i 5\r\n", Precision::Nanoseconds, 0);
    assert!(b.is_ok());
    assert_eq!(b.points[0].fields[0].1, String(s("x")));
    assert_eq!(b.points[1].time, 5);
    // Empty body.
    let b = parse_lines(b"", Precision::Nanoseconds, 0);
    assert_eq!((b.lines, b.points.len(), b.errors.len()), (0, 0, 0));
}

#[test]
fn every_error_kind_with_line_number() {
    let cases: Vec<(&str, LineErrorKind)> = vec![
        (",t=a v=1", K::MissingMeasurement),
        ("cpu", K::MissingFields),
        ("cpu ", K::MissingFields),
        ("cpu,t=a", K::MissingFields),
        ("cpu,t=a ", K::MissingFields),
        ("cpu,host v=1", K::MissingTagEquals(s("host"))),
        ("cpu,host", K::MissingTagEquals(s("host"))),
        ("cpu,=a v=1", K::EmptyTagKey),
        ("cpu, v=1", K::EmptyTagKey),
        ("cpu,t=a, v=1", K::EmptyTagKey),
        ("cpu,host= v=1", K::EmptyTagValue(s("host"))),
        ("cpu,host=,b=c v=1", K::EmptyTagValue(s("host"))),
        ("cpu,host=a=b v=1", K::InvalidTagFormat(s("host"))),
        ("cpu,b=1,a=2,b=3 v=1", K::DuplicateTag(s("b"))),
        ("cpu =1", K::MissingFieldKey),
        ("cpu a=1,", K::MissingFieldKey),
        ("cpu a=1,,b=2", K::MissingFieldKey),
        ("cpu value", K::InvalidFieldFormat(s("value"))),
        ("cpu a=1,value 5", K::InvalidFieldFormat(s("value"))),
        ("cpu v=", K::MissingFieldValue(s("v"))),
        ("cpu v= 5", K::MissingFieldValue(s("v"))),
        ("cpu v=,w=1", K::MissingFieldValue(s("v"))),
        ("cpu s=\"x\"y", K::DataAfterString(s("s"))),
        ("cpu v=1.2.3", K::InvalidNumber(s("1.2.3"))),
        ("cpu v=NaN", K::InvalidNumber(s("NaN"))),
        ("cpu v=nan", K::InvalidNumber(s("nan"))),
        ("cpu v=inf", K::InvalidNumber(s("inf"))),
        ("cpu v=-inf", K::InvalidNumber(s("-inf"))),
        ("cpu v=+1", K::InvalidNumber(s("+1"))),
        ("cpu v=abc", K::InvalidNumber(s("abc"))),
        ("cpu v=1.5i", K::InvalidNumber(s("1.5i"))),
        ("cpu v=-1u", K::InvalidNumber(s("-1u"))),
        (
            "cpu v=9223372036854775808i",
            K::NumberOutOfRange(s("9223372036854775808i")),
        ),
        (
            "cpu v=18446744073709551616u",
            K::NumberOutOfRange(s("18446744073709551616u")),
        ),
        ("cpu v=1e309", K::NumberOutOfRange(s("1e309"))),
        ("cpu v=tru", K::InvalidBoolean(s("tru"))),
        ("cpu v=fALSE", K::InvalidBoolean(s("fALSE"))),
        ("cpu s=\"abc", K::UnterminatedString),
        ("cpu s=\"abc\\\"", K::UnterminatedString),
        ("cpu s=\"", K::UnterminatedString),
        ("cpu v=1 abc", K::BadTimestamp(s("abc"))),
        ("cpu v=1 1.5", K::BadTimestamp(s("1.5"))),
        ("cpu v=1 +5", K::BadTimestamp(s("+5"))),
        ("cpu v=1 -", K::BadTimestamp(s("-"))),
        ("cpu v=1 99999999999999999999", K::TimestampOutOfRange),
        ("cpu v=1 1 2", K::TrailingGarbage),
        ("cpu v=1 1 x", K::TrailingGarbage),
        ("cpu time=1", K::ReservedFieldName),
        ("cpu a=1,time=2i", K::ReservedFieldName),
        ("cpu,time=a v=1", K::ReservedTagName),
    ];
    // All in one body, between good lines, so line numbers are checked too.
    let mut body = Vec::new();
    for (line, _) in &cases {
        body.extend_from_slice(b"ok v=1\n");
        body.extend_from_slice(line.as_bytes());
        body.push(b'\n');
    }
    body.extend_from_slice(b"ok v=1");
    let b = parse_lines(&body, Precision::Nanoseconds, 0);
    assert_eq!(b.points.len(), cases.len() + 1);
    assert_eq!(b.lines, 2 * cases.len() + 1);
    assert_eq!(b.errors.len(), cases.len());
    for (i, ((line, kind), e)) in cases.iter().zip(&b.errors).enumerate() {
        assert_eq!(&e.kind, kind, "line {line:?}");
        assert_eq!(e.line, 2 * i + 2, "line {line:?}");
        assert_eq!(e.text, *line, "line {line:?}");
    }
}

#[test]
fn invalid_utf8() {
    let b = parse_lines(
        b"ok v=1\nm\xff v=1\nm s=\"\xc3\x28\"",
        Precision::Nanoseconds,
        0,
    );
    assert_eq!(b.points.len(), 1);
    assert_eq!(b.errors.len(), 2);
    assert_eq!((b.errors[0].line, &b.errors[0].kind), (2, &K::InvalidUtf8));
    assert_eq!((b.errors[1].line, &b.errors[1].kind), (3, &K::InvalidUtf8));
    assert_eq!(b.errors[0].text, "m\u{fffd} v=1");
}

#[test]
fn error_display_and_truncation() {
    let b = parse_lines(b"cpu value=", Precision::Nanoseconds, 0);
    assert_eq!(
        b.errors[0].to_string(),
        "unable to parse 'cpu value=': missing field value for field key 'value' (line 1)"
    );
    let long = format!("cpu v=\"{}", "é".repeat(300));
    let b = parse_lines(long.as_bytes(), Precision::Nanoseconds, 0);
    let e = &b.errors[0];
    assert_eq!(e.kind, K::UnterminatedString);
    assert!(e.text.len() <= crate::MAX_ERROR_TEXT && e.text.len() >= 190);
    assert!(long.starts_with(&e.text));
}

#[test]
fn parse_line_single() {
    let p = parse_line(b"  m v=1 2\r", Precision::Seconds, 0).unwrap();
    assert_eq!(p.time, 2_000_000_000);
    assert_eq!(
        parse_line(b"", Precision::Nanoseconds, 0),
        Err(K::MissingMeasurement)
    );
    assert_eq!(
        parse_line(b"m v=x", Precision::Nanoseconds, 0),
        Err(K::InvalidNumber(s("x")))
    );
}

#[test]
fn escaped_delimiters_do_not_split() {
    // Escaped space in a field key, escaped comma at the end of a tag value.
    let p = one(r#"m,t=a\,b\  f\ k=1,g=2"#);
    assert_eq!(p.tags, vec![(s("t"), s("a,b "))]);
    assert_eq!(p.fields, vec![(s("f k"), Float(1.0)), (s("g"), Float(2.0))]);
    // Trailing backslash in a measurement is kept.
    let p = one(r#"m\\ v=1"#);
    assert_eq!(p.measurement, "m\\\\");
    // Backslash pairs in scanning: `\\` then an unescaped space ends the tag value.
    let p = one(r#"m,t=x\\ v=1"#);
    assert_eq!(p.tags, vec![(s("t"), s("x\\\\"))]);
}

#[test]
fn newline_finder_matches_naive() {
    let mut body = Vec::new();
    for i in 0..200u32 {
        body.push(if i % 7 == 0 || i % 13 == 0 {
            b'\n'
        } else {
            (i % 251) as u8 | 0x80
        });
    }
    body.extend_from_slice(b"\n\n\x0b\n");
    for start in 0..=body.len() {
        let naive = body[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(body.len(), |p| start + p);
        assert_eq!(find_newline(&body, start), naive, "start {start}");
    }
}
