//! Parser tests that need no oracle: corpus verdicts, JSON round trips, error positions and
//! bounded nesting.

mod common;

use ferry_flux::ast::{Expression, File, Statement};
use ferry_flux::{parse, ParseErrorKind, Position, MAX_DEPTH, MAX_NESTING};

/// Corpus cases whose recorded (libflux) verdict Ferry deliberately does not share.
const KNOWN_DISAGREEMENTS: &[&str] = &[
    "statements.flux: at sign alone (libflux quirk, known disagreement)",
    "statements.flux: builtin statement (not supported, known disagreement)",
];

#[test]
fn corpus_verdicts_match_recorded_libflux_verdicts() {
    let cases = common::corpus();
    assert!(cases.len() >= 300, "corpus has {} cases", cases.len());
    let mut wrong = Vec::new();
    for c in &cases {
        if KNOWN_DISAGREEMENTS.contains(&c.id.as_str()) {
            continue;
        }
        let r = parse(&c.source);
        if r.is_ok() != c.valid {
            wrong.push(format!(
                "{}: expected valid={}, got {:?}",
                c.id,
                c.valid,
                r.err()
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn ast_json_round_trips() {
    for c in common::corpus() {
        let Ok(file) = parse(&c.source) else { continue };
        let json = serde_json::to_string(&file).unwrap();
        let back: File = serde_json::from_str(&json)
            .unwrap_or_else(|e| panic!("{}: cannot read back: {e}\n{json}", c.id));
        assert_eq!(back, file, "{}", c.id);
        assert_eq!(serde_json::to_string(&back).unwrap(), json, "{}", c.id);
    }
}

#[test]
fn json_shape_matches_libflux_conventions() {
    let file = parse("import \"x\"\noption v = {a: 1h30m, b: -5, c: f()}\n").unwrap();
    let v = serde_json::to_value(&file).unwrap();
    assert_eq!(v["type"], "File");
    assert_eq!(v["metadata"], "parser-type=rust");
    assert!(v["package"].is_null());
    assert_eq!(v["imports"][0]["type"], "ImportDeclaration");
    assert!(v["imports"][0]["as"].is_null());
    assert!(v["imports"][0]["path"].get("type").is_none());
    let st = &v["body"][0];
    assert_eq!(st["type"], "OptionStatement");
    assert_eq!(st["assignment"]["type"], "VariableAssignment");
    assert!(st["assignment"]["id"].get("type").is_none());
    let props = &st["assignment"]["init"]["properties"];
    assert_eq!(props[0]["type"], "Property");
    assert_eq!(
        props[0]["value"]["values"],
        serde_json::json!([{"magnitude": 1, "unit": "h"}, {"magnitude": 30, "unit": "m"}])
    );
    assert_eq!(props[1]["value"]["argument"]["value"], "5");
    assert!(props[2]["value"].get("arguments").is_none());
    assert_eq!(
        st["location"]["start"],
        serde_json::json!({"line": 2, "column": 1})
    );
    assert_eq!(
        st["location"]["source"],
        "option v = {a: 1h30m, b: -5, c: f()}"
    );
}

/// The body the Python client sends for `query(..., params={...})`.
#[test]
fn reads_client_extern_option_statements() {
    let body = r#"{"type":"File","imports":[],"body":[
      {"type":"OptionStatement","assignment":{"type":"VariableAssignment","id":{"type":"Identifier","name":"s"},
        "init":{"type":"UnaryExpression","operator":"-","argument":{"type":"DurationLiteral","values":[{"magnitude":3600000000,"unit":"us"}]}}}},
      {"type":"OptionStatement","assignment":{"type":"VariableAssignment","id":{"type":"Identifier","name":"n"},
        "init":{"type":"IntegerLiteral","value":"3"}}},
      {"type":"OptionStatement","assignment":{"type":"VariableAssignment","id":{"type":"Identifier","name":"f"},
        "init":{"type":"FloatLiteral","value":1.5}}},
      {"type":"OptionStatement","assignment":{"type":"VariableAssignment","id":{"type":"Identifier","name":"b"},
        "init":{"type":"BooleanLiteral","value":true}}},
      {"type":"OptionStatement","assignment":{"type":"VariableAssignment","id":{"type":"Identifier","name":"t"},
        "init":{"type":"DateTimeLiteral","value":"2024-01-01T00:00:00.000000000Z"}}},
      {"type":"OptionStatement","assignment":{"type":"VariableAssignment","id":{"type":"Identifier","name":"a"},
        "init":{"type":"ArrayExpression","elements":[{"type":"StringLiteral","value":"x"}]}}},
      {"type":"OptionStatement","assignment":{"type":"MemberAssignment",
        "member":{"type":"MemberExpression","object":{"type":"Identifier","name":"profiler"},"property":{"type":"Identifier","name":"enabledProfilers"}},
        "init":{"type":"ArrayExpression","elements":[{"type":"StringLiteral","value":"query"}]}}}
    ]}"#;
    let file: File = serde_json::from_str(body).unwrap();
    assert_eq!(file.body.len(), 7);
    let Statement::OptionStatement(o) = &file.body[1] else {
        panic!()
    };
    let ferry_flux::ast::Assignment::VariableAssignment(va) = &o.assignment else {
        panic!()
    };
    assert_eq!(va.id.name, "n");
    assert!(matches!(&va.init, Expression::IntegerLiteral(i) if i.value == 3));
    // The empty extern that every client sends.
    let empty: File = serde_json::from_str(r#"{"imports":[],"body":[]}"#).unwrap();
    assert!(empty.body.is_empty());
}

fn err(src: &str) -> ferry_flux::ParseError {
    parse(src).expect_err(src)
}

#[test]
fn errors_carry_positions() {
    let e = err("x = 1 +");
    assert_eq!((e.start, e.end), (Position::new(1, 8), Position::new(1, 8)));
    assert!(matches!(e.kind, ParseErrorKind::InvalidPrimary(_)));
    assert_eq!(
        e.to_string(),
        "error @1:8-1:8: invalid token for primary expression: EOF"
    );

    let e = err("a = 1\nb = 9223372036854775808");
    assert_eq!(e.to_string().split(':').next(), Some("error @2"));
    assert_eq!(
        (e.start, e.end),
        (Position::new(2, 5), Position::new(2, 24))
    );
    assert!(matches!(e.kind, ParseErrorKind::InvalidInteger { .. }));

    let e = err("f(1)");
    assert_eq!((e.start, e.end), (Position::new(1, 3), Position::new(1, 4)));
    assert!(matches!(e.kind, ParseErrorKind::PropertyKey(_)));

    let e = err("x |> y");
    assert_eq!(e.kind, ParseErrorKind::PipeDestination);
    assert_eq!(e.start, Position::new(1, 6));

    let e = err("s = \"é\" + \"\\q\"");
    // Columns count bytes: `é` is two bytes, so the backslash is at byte column 13.
    assert_eq!(e.start, Position::new(1, 13));
    assert!(matches!(e.kind, ParseErrorKind::InvalidEscape(_)));

    let e = err("t = 2021-02-30T00:00:00Z");
    assert!(matches!(e.kind, ParseErrorKind::InvalidDateTime(_)));
    assert_eq!(e.end, Position::new(1, 25));

    let e = err("f(a: 1");
    assert_eq!(
        e.kind,
        ParseErrorKind::Expected {
            expected: "RPAREN".into(),
            found: "EOF".into()
        }
    );

    let e = err("s = \"abc");
    assert_eq!(e.kind, ParseErrorKind::UnterminatedString);
    assert_eq!(e.start, Position::new(1, 5));
}

// ----- bounded nesting ---------------------------------------------------------------------

/// Stack for the nesting tests: 256 KiB in release builds. Unoptimized builds use about four
/// times more stack per nesting level, so they get 1 MiB. Unbounded recursion over the 100 000
/// levels below would need hundreds of MiB either way.
const SMALL_STACK: usize = if cfg!(debug_assertions) {
    1024 * 1024
} else {
    256 * 1024
};

/// Runs `f` on a thread with a small stack: a recursion bug overflows it and aborts the test.
fn on_small_stack<F: FnOnce() + Send + 'static>(f: F) {
    std::thread::Builder::new()
        .stack_size(SMALL_STACK)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap();
}

const HOSTILE: usize = 100_000;

fn nested(open: &str, middle: &str, close: &str, n: usize) -> String {
    let mut s = String::with_capacity((open.len() + close.len()) * n + middle.len());
    for _ in 0..n {
        s.push_str(open);
    }
    s.push_str(middle);
    for _ in 0..n {
        s.push_str(close);
    }
    s
}

fn chain(head: &str, link: &str, n: usize) -> String {
    let mut s = String::from(head);
    for _ in 0..n {
        s.push_str(link);
    }
    s
}

/// Every recursive construct, nested `n` deep.
fn constructs(n: usize) -> Vec<(&'static str, String)> {
    vec![
        ("parens", nested("(", "1", ")", n)),
        ("unary minus", chain("x = ", "-", n) + "1"),
        ("unary plus", chain("x = ", "+", n) + "1"),
        ("not", chain("x = ", "not ", n) + "a"),
        ("exists", chain("x = ", "exists ", n) + "a"),
        ("arrays", nested("[", "1", "]", n)),
        ("dicts", nested("[1: ", "1", "]", n)),
        ("records", nested("{a: ", "1", "}", n)),
        ("record with", nested("{r with a: ", "1", "}", n)),
        ("call args", nested("f(a: ", "1", ")", n)),
        ("functions", chain("f = ", "() => ", n) + "1"),
        ("function defaults", nested("(a=", "1", ") => a", n)),
        ("block bodies", nested("() => {return ", "1", "}", n)),
        ("interpolation", nested("\"${", "1", "}\"", n)),
        ("conditionals", chain("x = ", "if a then b else ", n) + "c"),
        (
            "conditional tests",
            "x = ".to_string() + &nested("if ", "a", " then b else c", n),
        ),
        ("index", nested("a[", "0", "]", n)),
        ("bracket member", nested("a[(", "\"k\"", ")]", n)),
        (
            "attribute params",
            nested("@a(", "1", ")", 1) + &nested("(", "1", ")", n) + " x = 1",
        ),
        ("additions", chain("x = 1", " + 1", n)),
        ("left-deep logic", chain("x = a", " or a", n)),
        ("powers", chain("x = 2", " ^ 2", n)),
        ("comparisons", chain("x = 1", " < 1", n)),
        ("members", chain("x = a", ".b", n)),
        ("calls", chain("x = f", "()", n)),
        ("indexes", chain("x = a", "[0]", n)),
        ("pipes", chain("x = a", " |> f()", n)),
        ("option value", chain("option x = ", "-", n) + "1"),
    ]
}

#[test]
fn hostile_nesting_is_an_error_not_a_stack_overflow() {
    on_small_stack(|| {
        for (name, src) in constructs(HOSTILE) {
            match parse(&src) {
                Err(e) => assert!(
                    matches!(e.kind, ParseErrorKind::TooDeep(MAX_DEPTH | MAX_NESTING)),
                    "{name}: {e}"
                ),
                Ok(_) => panic!("{name}: accepted {HOSTILE}-deep nesting"),
            }
        }
    });
}

#[test]
fn moderate_nesting_parses_serializes_and_drops_on_a_small_stack() {
    on_small_stack(|| {
        for (name, src) in constructs(20) {
            let file = parse(&src).unwrap_or_else(|e| panic!("{name}: {e}"));
            let json = serde_json::to_string(&file).unwrap();
            assert!(json.len() > 50, "{name}");
            drop(file);
        }
    });
}

#[test]
fn limits_are_exact() {
    on_small_stack(|| {
        // Each `(` is one level of parser recursion; the assignment's value is the first.
        let ok = MAX_NESTING as usize - 1;
        assert!(parse(&format!("x = {}", nested("(", "1", ")", ok))).is_ok());
        let e = parse(&format!("x = {}", nested("(", "1", ")", ok + 1))).unwrap_err();
        assert_eq!(e.kind, ParseErrorKind::TooDeep(MAX_NESTING));

        // A left-deep chain is built in a loop; only the tree height limits it:
        // VariableAssignment > n BinaryExpressions > IntegerLiteral.
        let n = MAX_DEPTH as usize - 2;
        let file = parse(&chain("x = 1", " + 1", n)).unwrap();
        // Walking and dropping a tree of the maximal height fits the small stack too.
        assert!(serde_json::to_string(&file).unwrap().len() > n);
        drop(file);
        let e = parse(&chain("x = 1", " + 1", n + 1)).unwrap_err();
        assert_eq!(e.kind, ParseErrorKind::TooDeep(MAX_DEPTH));
    });
}

#[test]
fn source_text_can_be_left_out() {
    let src = "x = 1 |> f() |> g()";
    let full = parse(src).unwrap();
    let lean =
        ferry_flux::parse_with(src, ferry_flux::ParseOptions { source_text: false }).unwrap();
    let json = serde_json::to_string(&lean).unwrap();
    assert!(!json.contains("\"source\""));
    assert_eq!(
        common::normalize(&serde_json::to_value(&full).unwrap(), false),
        common::normalize(&serde_json::to_value(&lean).unwrap(), false)
    );
    let Statement::VariableAssignment(va) = &lean.body[0] else {
        panic!()
    };
    let loc = va.init.location().unwrap();
    assert_eq!(
        (loc.start, loc.end),
        (Position::new(1, 5), Position::new(1, 20))
    );
}
