//! Round-trip property: `parse(write_point(p)) == p` over a generated set of tricky points.

use ferry_lp::{
    parse_lines, unrepresentable, write_point, write_series_key, FieldValue, Point, Precision,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const NAMES: &[&str] = &[
    "cpu",
    "a b",
    "a,b",
    "a=b",
    " lead",
    "trail ",
    "  ",
    ",",
    "=",
    "x\\y",
    "dbl\\\\,",
    "dbl\\\\ =",
    "\\\\",
    "odd\\",
    "odd\\,x",
    "\"quoted\"",
    "#hash",
    "ünï cødé",
    "rocket 🚀,=",
    "tab\there",
    "Time",
    "time",
    "i",
    "1",
    "",
];

const STRINGS: &[&str] = &[
    "",
    "plain",
    "with \"quotes\"",
    "back\\slash",
    "trailing\\",
    "\\\"",
    "a, b=c d",
    "\\n not a newline",
    "ünï 🚀",
    "#",
];

fn point(measurement: &str, tags: &[(&str, &str)], fields: Vec<(&str, FieldValue)>) -> Point {
    Point {
        measurement: measurement.into(),
        tags: tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        fields: fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        time: 7,
    }
}

fn ok_measurement(s: &str) -> bool {
    unrepresentable(&point(s, &[], vec![("f", FieldValue::Integer(1))])).is_none()
}

fn ok_key(s: &str) -> bool {
    unrepresentable(&point(
        "m",
        &[(s, "v")],
        vec![("f", FieldValue::Integer(1))],
    ))
    .is_none()
}

/// Does `p` come back unchanged from `write_point` and a parse?
fn round_trips(p: &Point) -> bool {
    let mut line = Vec::new();
    write_point(&mut line, p);
    let b = parse_lines(&line, Precision::Nanoseconds, 0);
    b.errors.is_empty() && b.points == vec![p.clone()]
}

fn floats() -> Vec<f64> {
    vec![
        0.0,
        -0.0,
        1.0,
        -1.5,
        1e21,
        1e-7,
        123.456,
        0.1 + 0.2,
        f64::MAX,
        f64::MIN,
        f64::MIN_POSITIVE,
        5e-324,
        -1e300,
        1e15,
        1e16,
        12345678901234567890.0,
    ]
}

fn values() -> Vec<FieldValue> {
    let mut v: Vec<FieldValue> = floats().into_iter().map(FieldValue::Float).collect();
    for i in [0, 1, -1, i64::MIN, i64::MAX, 1_700_000_000] {
        v.push(FieldValue::Integer(i));
    }
    for u in [0, 1, u64::MAX] {
        v.push(FieldValue::UInteger(u));
    }
    v.push(FieldValue::Boolean(true));
    v.push(FieldValue::Boolean(false));
    for s in STRINGS {
        v.push(FieldValue::String(s.to_string()));
    }
    v
}

/// A seeded generator, so failures reproduce.
fn rng() -> StdRng {
    StdRng::seed_from_u64(0x9E37_79B9_7F4A_7C15)
}

fn pick<'a, T>(rng: &mut StdRng, xs: &'a [T]) -> &'a T {
    &xs[rng.gen_range(0..xs.len())]
}

fn generate() -> Vec<Point> {
    let meas: Vec<&str> = NAMES
        .iter()
        .copied()
        .filter(|s| ok_measurement(s))
        .collect();
    let keys: Vec<&str> = NAMES.iter().copied().filter(|s| ok_key(s)).collect();
    let tag_values = keys.clone(); // same rules: non-empty, representable
    let values = values();
    let times = [
        0,
        1,
        -1,
        1_700_000_000_000_000_000,
        i64::MAX - 1,
        i64::MIN + 2,
    ];
    let mut rng = rng();
    let mut points = Vec::new();

    // Every name in every position at least once.
    for (i, m) in meas.iter().enumerate() {
        points.push(Point {
            measurement: m.to_string(),
            tags: vec![],
            fields: vec![(
                keys[i % keys.len()].to_string(),
                values[i % values.len()].clone(),
            )],
            time: times[i % times.len()],
        });
    }
    for k in &keys {
        for v in &tag_values {
            points.push(Point {
                measurement: "m".into(),
                tags: vec![(k.to_string(), v.to_string())],
                fields: vec![(k.to_string(), FieldValue::Integer(1))],
                time: 0,
            });
        }
    }
    for v in &values {
        points.push(Point {
            measurement: "v".into(),
            tags: vec![],
            fields: vec![("f".into(), v.clone())],
            time: 1,
        });
    }
    // Random combinations.
    for _ in 0..5000 {
        let ntags = rng.gen_range(0..4);
        let mut tags: Vec<(String, String)> = Vec::new();
        for _ in 0..ntags {
            let k = pick(&mut rng, &keys).to_string();
            if tags.iter().all(|(t, _)| *t != k) {
                tags.push((k, pick(&mut rng, &tag_values).to_string()));
            }
        }
        tags.sort();
        let nfields = rng.gen_range(1..6);
        let mut fields: Vec<(String, FieldValue)> = Vec::new();
        for _ in 0..nfields {
            let k = pick(&mut rng, &keys).to_string();
            if fields.iter().all(|(f, _)| *f != k) {
                fields.push((k, pick(&mut rng, &values).clone()));
            }
        }
        points.push(Point {
            measurement: pick(&mut rng, &meas).to_string(),
            tags,
            fields,
            time: *pick(&mut rng, &times),
        });
    }
    points
}

#[test]
fn write_then_parse_round_trips() {
    let points = generate();
    assert!(points.len() > 5000);
    let mut body = Vec::new();
    for p in &points {
        let mut line = Vec::new();
        write_point(&mut line, p);
        let b = parse_lines(&line, Precision::Nanoseconds, 12345);
        assert!(
            b.errors.is_empty(),
            "{:?} -> {}: {:?}",
            p,
            String::from_utf8_lossy(&line),
            b.errors
        );
        assert_eq!(
            b.points,
            vec![p.clone()],
            "{}",
            String::from_utf8_lossy(&line)
        );
        // Writing the parsed point again gives the same bytes (canonical form).
        let mut again = Vec::new();
        write_point(&mut again, &b.points[0]);
        assert_eq!(again, line);
        body.extend_from_slice(&line);
    }
    // The whole body at once.
    let b = parse_lines(&body, Precision::Nanoseconds, 0);
    assert!(b.errors.is_empty());
    assert_eq!(b.lines, points.len());
    assert_eq!(b.points, points);
}

#[test]
fn series_key_matches_written_prefix() {
    for p in generate().iter().take(2000) {
        let mut key = String::new();
        write_series_key(&mut key, &p.measurement, &p.tags);
        let mut line = Vec::new();
        write_point(&mut line, p);
        assert!(line.starts_with(key.as_bytes()));
        assert_eq!(line[key.len()], b' ');
    }
}

#[test]
fn unrepresentable_predicts_the_round_trip_exactly() {
    // `unrepresentable` is what SELECT INTO and tasks check before writing: it must refuse
    // exactly the points that would not survive the log, no more.
    let mut names: Vec<&str> = NAMES.to_vec();
    names.extend([
        "a\nb", "a\nb", "a\rb", "\tlead", "#x", "x\\=y", "x\\\\=y", "x\\ y", "end\\", "time",
        "tab\t",
    ]);
    let mut checked = 0;
    let mut refused = 0;
    let mut check = |p: Point| {
        let predicted = unrepresentable(&p).is_none();
        assert_eq!(
            predicted,
            round_trips(&p),
            "{p:?}: unrepresentable says {:?}",
            unrepresentable(&p)
        );
        checked += 1;
        refused += usize::from(!predicted);
    };
    let one = || vec![("f", FieldValue::Integer(1))];
    for n in &names {
        check(point(n, &[], one()));
        check(point("m", &[(n, "v")], one()));
        check(point("m", &[("k", n)], one()));
        check(point("m", &[], vec![(n, FieldValue::Integer(1))]));
        check(point(
            "m",
            &[],
            vec![("f", FieldValue::String(n.to_string()))],
        ));
    }
    for s in STRINGS.iter().chain(&["line\nbreak", "cr\rhere", "\n"]) {
        check(point(
            "m",
            &[],
            vec![("f", FieldValue::String(s.to_string()))],
        ));
    }
    for f in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.5] {
        check(point("m", &[], vec![("f", FieldValue::Float(f))]));
        check(point(
            "m",
            &[],
            vec![("g", FieldValue::Integer(1)), ("f", FieldValue::Float(f))],
        ));
    }
    check(point("m", &[], vec![]));
    assert!(
        checked > 150 && refused > 40,
        "{checked} checked, {refused} refused"
    );
}
