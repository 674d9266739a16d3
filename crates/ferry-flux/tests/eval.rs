//! Evaluator tests: one group per Flux rule.

use std::sync::Arc;

use ferry_flux::eval::{Builtin, EvalErrorKind, Evaluator, RegexMatcher, Scope, MAX_EVAL_DEPTH};
use ferry_flux::parse;
use ferry_flux::value::{Duration, Kind, Value};

/// A tiny matcher for tests: `^`/`$` anchors around a literal, or `a|b` alternatives.
struct TestRegex;

impl RegexMatcher for TestRegex {
    fn is_match(&self, pattern: &str, text: &str) -> Result<bool, String> {
        if pattern.contains('(') {
            return Err(format!("unsupported pattern {pattern}"));
        }
        Ok(pattern.split('|').any(|alt| {
            let (start, alt) = alt.strip_prefix('^').map_or((false, alt), |a| (true, a));
            let (end, lit) = alt.strip_suffix('$').map_or((false, alt), |a| (true, a));
            match (start, end) {
                (true, true) => text == lit,
                (true, false) => text.starts_with(lit),
                (false, true) => text.ends_with(lit),
                (false, false) => text.contains(lit),
            }
        }))
    }
}

/// Evaluates a script; returns the value of its last expression statement.
fn run_in(src: &str, scope: Scope) -> Result<Value, ferry_flux::EvalError> {
    let file = parse(src).unwrap_or_else(|e| panic!("{src}: {e}"));
    let mut ev = Evaluator::new(&TestRegex);
    let out = ev.eval_file(&file, scope)?;
    Ok(out.values.last().cloned().expect("an expression statement"))
}

fn run(src: &str) -> Result<Value, ferry_flux::EvalError> {
    run_in(src, Scope::universe())
}

fn ok(src: &str) -> Value {
    run(src).unwrap_or_else(|e| panic!("{src}: {e}"))
}

fn fails(src: &str) -> EvalErrorKind {
    run(src).expect_err(src).kind
}

fn mismatch(expected: Kind, found: Kind) -> EvalErrorKind {
    EvalErrorKind::TypeMismatch { expected, found }
}

#[test]
fn literals() {
    assert_eq!(ok("42"), Value::Int(42));
    assert_eq!(ok("1.5"), Value::Float(1.5));
    assert_eq!(ok("\"a\\tb\""), Value::string("a\tb"));
    assert_eq!(ok("true"), Value::Bool(true));
    assert_eq!(
        ok("2021-01-01T00:00:00Z"),
        Value::Time(1_609_459_200_000_000_000)
    );
    assert_eq!(
        ok("2021-01-01T01:00:00+01:00"),
        Value::Time(1_609_459_200_000_000_000)
    );
    assert_eq!(
        ok("1y2mo1w1d1h1m1s1ms1us1ns"),
        Value::Duration(Duration {
            months: 14,
            nanos: 8 * 86_400_000_000_000 + 3_661_001_001_001
        })
    );
    assert_eq!(ok("-1h").to_string(), "-1h");
    assert_eq!(ok("[1, 2][1]"), Value::Int(2));
    assert!(matches!(ok("/a.b/"), Value::Regexp(p) if &*p == "a.b"));
}

#[test]
fn arithmetic_needs_one_numeric_type() {
    assert_eq!(ok("1 + 2 * 3 - 4"), Value::Int(3));
    assert_eq!(ok("7 / 2"), Value::Int(3));
    assert_eq!(ok("-7 % 3"), Value::Int(-1));
    assert_eq!(ok("2 ^ 10"), Value::Int(1024));
    assert_eq!(ok("7.0 / 2.0"), Value::Float(3.5));
    assert_eq!(ok("7.5 % 2.0"), Value::Float(1.5));
    assert_eq!(ok("2.0 ^ 0.5"), Value::Float(2f64.sqrt()));
    assert_eq!(ok("\"a\" + \"b\""), Value::string("ab"));
    // The seed pitfall: float data times an int literal.
    assert_eq!(
        fails("r = {_value: 1.5}\nr._value * 100"),
        mismatch(Kind::Float, Kind::Int)
    );
    assert_eq!(fails("1 + 1.0"), mismatch(Kind::Int, Kind::Float));
    assert_eq!(fails("\"a\" + 1"), mismatch(Kind::String, Kind::Int));
    assert!(matches!(
        fails("1h + 1h"),
        EvalErrorKind::UnsupportedBinary {
            kind: Kind::Duration,
            ..
        }
    ));
    assert!(matches!(
        fails("\"a\" - \"b\""),
        EvalErrorKind::UnsupportedBinary {
            kind: Kind::String,
            ..
        }
    ));
    assert!(matches!(
        fails("true + false"),
        EvalErrorKind::UnsupportedBinary { .. }
    ));
}

#[test]
fn integer_edge_cases() {
    assert_eq!(fails("1 / 0"), EvalErrorKind::DivisionByZero);
    assert_eq!(fails("1 % 0"), EvalErrorKind::DivisionByZero);
    assert_eq!(ok("9223372036854775807 + 1"), Value::Int(i64::MIN));
    assert_eq!(ok("1.0 / 0.0"), Value::Float(f64::INFINITY));
    assert_eq!(ok("2 ^ -1"), Value::Int(0));
}

#[test]
fn comparisons_may_mix_numeric_types() {
    assert_eq!(ok("1 < 1.5"), Value::Bool(true));
    assert_eq!(ok("2 >= 2.0"), Value::Bool(true));
    assert_eq!(ok("1 == 1.0"), Value::Bool(true));
    assert_eq!(ok("1 != 1.0"), Value::Bool(false));
    assert_eq!(ok("\"a\" < \"b\""), Value::Bool(true));
    assert_eq!(ok("1h < 2h"), Value::Bool(true));
    assert_eq!(ok("1mo > 30d"), Value::Bool(true));
    assert_eq!(ok("2021-01-01 < 2021-01-02"), Value::Bool(true));
    assert_eq!(ok("1 == \"1\""), Value::Bool(false));
    assert_eq!(ok("[1, 2] == [1, 2]"), Value::Bool(true));
    assert_eq!(
        ok("{a: 1, b: \"x\"} == {b: \"x\", a: 1}"),
        Value::Bool(true)
    );
    assert_eq!(fails("1 < \"a\""), mismatch(Kind::Int, Kind::String));
    assert!(matches!(
        fails("true < false"),
        EvalErrorKind::UnsupportedBinary { .. }
    ));
}

#[test]
fn null_propagates() {
    let scope = || Scope::universe().bind("n", Value::Null);
    let v = |src: &str| run_in(src, scope()).unwrap_or_else(|e| panic!("{src}: {e}"));
    assert_eq!(v("n + 1"), Value::Null);
    assert_eq!(v("n < 1"), Value::Null);
    assert_eq!(v("n == n"), Value::Null);
    assert_eq!(v("-n"), Value::Null);
    assert_eq!(v("exists n"), Value::Bool(false));
    assert_eq!(v("exists 1"), Value::Bool(true));
    assert_eq!(v("if n then 1 else 2"), Value::Int(2));
    assert_eq!(v("{a: 1}.missing"), Value::Null);
    assert_eq!(v("exists {a: 1}.missing"), Value::Bool(false));
}

#[test]
fn logic_is_three_valued_and_short_circuits() {
    let scope = || Scope::universe().bind("n", Value::Null);
    let v = |src: &str| run_in(src, scope()).unwrap_or_else(|e| panic!("{src}: {e}"));
    assert_eq!(v("true and false"), Value::Bool(false));
    assert_eq!(v("false or true"), Value::Bool(true));
    assert_eq!(v("n and false"), Value::Bool(false));
    assert_eq!(v("n and true"), Value::Null);
    assert_eq!(v("n or true"), Value::Bool(true));
    assert_eq!(v("n or false"), Value::Null);
    assert_eq!(v("not true"), Value::Bool(false));
    // The right side is not evaluated when the left decides.
    assert_eq!(v("false and undefined_name"), Value::Bool(false));
    assert_eq!(v("true or 1 / 0 == 1"), Value::Bool(true));
    assert_eq!(fails("1 and true"), mismatch(Kind::Bool, Kind::Int));
    assert_eq!(fails("not 1"), mismatch(Kind::Bool, Kind::Int));
}

#[test]
fn unary_operators() {
    assert_eq!(ok("-(1 + 2)"), Value::Int(-3));
    assert_eq!(ok("- -1.5"), Value::Float(1.5));
    assert_eq!(ok("+1"), Value::Int(1));
    assert!(matches!(
        fails("-\"a\""),
        EvalErrorKind::UnsupportedUnary {
            kind: Kind::String,
            ..
        }
    ));
}

#[test]
fn string_interpolation() {
    assert_eq!(ok("x = 1\n\"x=${x}!\""), Value::string("x=1!"));
    assert_eq!(
        ok("\"${1.5} ${true} ${1h30m} ${2021-01-01T00:00:00.5Z} ${\"s\"}\""),
        Value::string("1.5 true 1h30m 2021-01-01T00:00:00.5Z s")
    );
    assert_eq!(ok("\"${1.0}\""), Value::string("1"));
    assert_eq!(ok("a = \"b\"\n\"${a + \"${a}\"}\""), Value::string("bb"));
    assert_eq!(fails("\"${[1]}\""), mismatch(Kind::String, Kind::Array));
}

#[test]
fn records_members_and_with() {
    assert_eq!(ok("r = {a: 1, b: 2}\nr.b"), Value::Int(2));
    assert_eq!(ok("r = {a: 1}\nr[\"a\"]"), Value::Int(1));
    assert_eq!(ok("a = 5\nr = {a}\nr.a"), Value::Int(5));
    let v = ok("r = {a: 1, b: 2}\n{r with b: \"x\", c: 3}");
    assert_eq!(v.to_string(), "{a: 1, b: x, c: 3}");
    // `with` leaves the original alone.
    assert_eq!(ok("r = {a: 1}\ns = {r with a: 2}\nr.a"), Value::Int(1));
    assert_eq!(
        fails("x = 1\n{x with a: 1}"),
        mismatch(Kind::Record, Kind::Int)
    );
    assert_eq!(fails("x = 1\nx.a"), mismatch(Kind::Record, Kind::Int));
    assert_eq!(fails("{a: 1}.a.b"), mismatch(Kind::Record, Kind::Int));
}

#[test]
fn arrays_and_dicts() {
    assert_eq!(ok("[1, 2, 3][2]"), Value::Int(3));
    assert_eq!(
        fails("[1, 2][2]"),
        EvalErrorKind::IndexOutOfBounds { index: 2, len: 2 }
    );
    assert_eq!(
        fails("[1, 2][-1]"),
        EvalErrorKind::IndexOutOfBounds { index: -1, len: 2 }
    );
    assert_eq!(fails("[1, 2.0]"), mismatch(Kind::Int, Kind::Float));
    assert_eq!(
        fails("[1][\"a\" + \"\"]"),
        mismatch(Kind::Int, Kind::String)
    );
    let d = ok("[\"a\": 1, \"b\": 2]");
    let Value::Dict(d) = d else { panic!() };
    assert_eq!(d.get(&Value::string("b")), Some(&Value::Int(2)));
    assert_eq!(fails("[\"a\": 1, 2: 2]"), mismatch(Kind::String, Kind::Int));
    assert!(matches!(ok("[:]"), Value::Dict(d) if d.entries().is_empty()));
}

#[test]
fn functions_defaults_and_closures() {
    assert_eq!(ok("f = (a, b=10) => a + b\nf(a: 1)"), Value::Int(11));
    assert_eq!(ok("f = (a, b=10) => a + b\nf(a: 1, b: 2)"), Value::Int(3));
    assert_eq!(ok("f = (a, b=a * 2) => b\nf(a: 4)"), Value::Int(8));
    // Closures see the scope of their definition, not of the call.
    assert_eq!(ok("x = 1\nf = () => x\nx = 2\nf()"), Value::Int(1));
    assert_eq!(
        ok("adder = (n) => (x) => x + n\nadd2 = adder(n: 2)\nadd2(x: 40)"),
        Value::Int(42)
    );
    assert_eq!(
        ok("f = (x) => {\n  y = x * 2\n  z = y + 1\n  return z\n}\nf(x: 5)"),
        Value::Int(11)
    );
    assert_eq!(
        ok("f = (r) => ({r with v: r.v * 2})\nf(r: {v: 3}).v"),
        Value::Int(6)
    );
    assert_eq!(
        fails("f = (a) => a\nf()"),
        EvalErrorKind::MissingArgument("a".into())
    );
    assert_eq!(
        fails("f = (a) => a\nf(a: 1, b: 2)"),
        EvalErrorKind::UnexpectedArgument("b".into())
    );
    assert_eq!(fails("f = () => { x = 1 }\nf()"), EvalErrorKind::NoReturn);
    assert_eq!(fails("x = 1\nx()"), EvalErrorKind::NotCallable(Kind::Int));
    assert_eq!(fails("nope"), EvalErrorKind::Undefined("nope".into()));
}

#[test]
fn pipe_parameters() {
    assert_eq!(ok("f = (t=<-, n) => t * n\n3 |> f(n: 2)"), Value::Int(6));
    assert_eq!(
        ok("inc = (v=<-) => v + 1\n1 |> inc() |> inc() |> inc()"),
        Value::Int(4)
    );
    assert_eq!(
        fails("f = (n) => n\n3 |> f(n: 2)"),
        EvalErrorKind::NoPipeParameter
    );
    assert_eq!(
        fails("f = (t=<-) => t\nf()"),
        EvalErrorKind::MissingArgument("t".into())
    );
}

#[test]
fn builtins_plug_in() {
    let double = Builtin {
        name: "double".into(),
        params: vec!["v".into()],
        pipe: Some("tables".into()),
        func: Box::new(|_, args| match (args.get("v"), args.get("tables")) {
            (Some(Value::Int(i)), None) | (None, Some(Value::Int(i))) => Ok(Value::Int(i * 2)),
            _ => Err("double: expected an int".into()),
        }),
    };
    let scope = Scope::universe().bind("double", Value::Builtin(Arc::new(double)));
    assert_eq!(
        run_in("double(v: 21)", scope.clone()).unwrap(),
        Value::Int(42)
    );
    assert_eq!(
        run_in("4 |> double()", scope.clone()).unwrap(),
        Value::Int(8)
    );
    let e = run_in("double(w: 1)", scope.clone()).unwrap_err();
    assert_eq!(e.kind, EvalErrorKind::UnexpectedArgument("w".into()));
    let e = run_in("double(v: \"x\")", scope).unwrap_err();
    assert_eq!(
        e.kind,
        EvalErrorKind::Builtin("double: expected an int".into())
    );
}

#[test]
fn conditionals() {
    assert_eq!(
        ok("x = 5\nif x > 3 then \"big\" else \"small\""),
        Value::string("big")
    );
    assert_eq!(
        ok("x = 1\nif x > 3 then \"big\" else if x > 0 then \"pos\" else \"neg\""),
        Value::string("pos")
    );
    assert_eq!(fails("if 1 then 2 else 3"), mismatch(Kind::Bool, Kind::Int));
}

#[test]
fn regex_matching() {
    assert_eq!(ok("\"server01\" =~ /^server/"), Value::Bool(true));
    assert_eq!(ok("\"db\" !~ /^server/"), Value::Bool(true));
    assert_eq!(ok("\"b\" =~ /^a$|^b$/"), Value::Bool(true));
    assert_eq!(fails("1 =~ /a/"), mismatch(Kind::String, Kind::Int));
    assert_eq!(
        fails("\"a\" =~ \"a\""),
        mismatch(Kind::Regexp, Kind::String)
    );
    assert!(matches!(fails("\"a\" =~ /(a)/"), EvalErrorKind::Regex(_)));
    // Without a matcher, regexes are an error rather than a silent false.
    let file = parse("\"a\" =~ /a/").unwrap();
    let mut ev = Evaluator::new(&ferry_flux::eval::NoRegex);
    assert!(ev.eval_file(&file, Scope::universe()).is_err());
}

#[test]
fn options_and_file_results() {
    let file = parse("option task = {name: \"t\", every: 1h}\noption a.b = 2\ntask.every").unwrap();
    let mut ev = Evaluator::new(&TestRegex);
    let out = ev.eval_file(&file, Scope::universe()).unwrap();
    assert_eq!(out.options.len(), 2);
    assert_eq!(out.options[0].0, "task");
    assert_eq!(out.options[1], ("a.b".to_string(), Value::Int(2)));
    assert_eq!(
        out.values,
        vec![Value::Duration(Duration::from_nanos(3_600_000_000_000))]
    );
}

#[test]
fn errors_are_located() {
    let e = run("x = 1\ny = x + 1.5").unwrap_err();
    assert_eq!(
        e.to_string(),
        "error @2:5-2:12: expected int but found float"
    );
    let e = run("f = (a) => a\nz = f(b: 1)").unwrap_err();
    assert!(
        e.to_string()
            .starts_with("error @2:5-2:12: found unexpected argument b"),
        "{e}"
    );
}

#[test]
fn client_extern_options_evaluate() {
    let extern_json = r#"{"type":"File","imports":[],"body":[
      {"type":"OptionStatement","assignment":{"type":"VariableAssignment","id":{"type":"Identifier","name":"s"},
        "init":{"type":"UnaryExpression","operator":"-","argument":{"type":"DurationLiteral","values":[{"magnitude":3600000000,"unit":"us"}]}}}},
      {"type":"OptionStatement","assignment":{"type":"VariableAssignment","id":{"type":"Identifier","name":"t"},
        "init":{"type":"DateTimeLiteral","value":"2024-01-01T00:00:00.000000000Z"}}}
    ]}"#;
    let file: ferry_flux::ast::File = serde_json::from_str(extern_json).unwrap();
    let mut ev = Evaluator::new(&TestRegex);
    let out = ev.eval_file(&file, Scope::universe()).unwrap();
    assert_eq!(out.options[0].1.to_string(), "-1h");
    assert_eq!(out.options[1].1, Value::Time(1_704_067_200_000_000_000));
}

/// 512 KiB in release builds; unoptimized frames are about four times larger.
const EVAL_STACK: usize = if cfg!(debug_assertions) {
    2 << 20
} else {
    512 << 10
};

#[test]
fn the_deepest_parsable_expression_evaluates() {
    let n = ferry_flux::MAX_DEPTH as usize - 2;
    let src = format!("x = 1{}\nx", " + 1".repeat(n));
    std::thread::Builder::new()
        .stack_size(EVAL_STACK)
        .spawn(move || assert_eq!(run(&src).unwrap(), Value::Int(n as i64 + 1)))
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn self_application_is_bounded() {
    // Flux's type checker would reject this; the evaluator must not overflow on it.
    let run_small = || {
        let e = run("f = (g) => g(g: g)\nf(g: f)").unwrap_err();
        assert_eq!(e.kind, EvalErrorKind::TooDeep(MAX_EVAL_DEPTH));
    };
    std::thread::Builder::new()
        .stack_size(EVAL_STACK)
        .spawn(run_small)
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn long_scopes_drop_without_recursion() {
    let mut src = String::new();
    for i in 0..50_000 {
        src.push_str(&format!("x{i} = {i}\n"));
    }
    src.push_str("x49999");
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || assert_eq!(run(&src).unwrap(), Value::Int(49_999)))
        .unwrap()
        .join()
        .unwrap();
}

/// The error of a script that must fail, without printing the (deep) value if it does not.
fn refused(src: &str) -> EvalErrorKind {
    match run(src) {
        Ok(v) => panic!("evaluated to a value nested {} deep", v.nesting()),
        Err(e) => e.kind,
    }
}

/// Runs `f` on a thread with a quarter of the server's worker stack (2 MiB) in release builds:
/// the margin the nesting limit keeps (the value at the limit overflows 256 KiB).
/// Unoptimized frames are several times larger.
fn on_server_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(if cfg!(debug_assertions) {
            16 << 20
        } else {
            512 << 10
        })
        .spawn(f)
        .unwrap()
        .join()
        .unwrap();
}

/// `f` wraps in ten arrays, `g` applies `f` ten times (100 levels), `h` applies `g` ten times
/// (1000 levels).
const WRAPPERS: &str = "f = (x) => [[[[[[[[[[x]]]]]]]]]]
g = (x) => f(x: f(x: f(x: f(x: f(x: f(x: f(x: f(x: f(x: f(x: x))))))))))
h = (x) => g(x: g(x: g(x: g(x: g(x: g(x: g(x: g(x: g(x: g(x: x))))))))))
";

#[test]
fn values_at_the_nesting_limit_drop_print_and_compare() {
    assert_eq!(ferry_flux::value::MAX_VALUE_NESTING, 2000);
    on_server_stack(|| {
        let deepest = ok(&format!("{WRAPPERS}h(x: h(x: 1))"));
        assert_eq!(deepest.nesting(), 2000);
        let again = ok(&format!("{WRAPPERS}h(x: h(x: 1))"));
        assert!(deepest.equals(&again));
        assert_eq!(deepest, again);
        let text = deepest.to_string();
        assert_eq!(text.len(), 2 * 2000 + 1);
        drop((deepest, again));
        assert_eq!(
            refused(&format!("{WRAPPERS}a = [h(x: h(x: 1))]\na")),
            EvalErrorKind::ValueTooDeep(2000)
        );
        assert_eq!(
            refused(&format!("{WRAPPERS}r = {{a: h(x: h(x: 1))}}\nr")),
            EvalErrorKind::ValueTooDeep(2000)
        );
        assert_eq!(
            refused(&format!("{WRAPPERS}d = [h(x: h(x: 1)): 1]\nd")),
            EvalErrorKind::ValueTooDeep(2000)
        );
    });
}

#[test]
fn composed_wrappers_cannot_nest_past_the_limit() {
    // Fuzz finding F2: five composed wrappers build a 100 000-deep array, whose drop used to
    // overflow a 2 MiB stack after evaluation succeeded.
    let src = include_str!("../../../fuzz/crashes/flux/eval-value-depth-drop-overflow.flux");
    on_server_stack(move || {
        assert_eq!(
            refused(&format!("{src}\nv")),
            EvalErrorKind::ValueTooDeep(2000)
        );
        // The same through closures that capture closures instead of arrays.
        let closures = "w = (x) => () => x
g = (x) => w(x: w(x: w(x: w(x: w(x: w(x: w(x: w(x: w(x: w(x: x))))))))))
h = (x) => g(x: g(x: g(x: g(x: g(x: g(x: g(x: g(x: g(x: g(x: x))))))))))
i = (x) => h(x: h(x: h(x: h(x: h(x: h(x: h(x: h(x: h(x: h(x: x))))))))))
j = (x) => i(x: i(x: i(x: i(x: i(x: i(x: i(x: i(x: i(x: i(x: x))))))))))
j(x: 1)";
        assert_eq!(refused(closures), EvalErrorKind::ValueTooDeep(2000));
    });
}

#[test]
fn building_values_is_charged_against_a_memory_limit() {
    // Fuzz finding F4: thirty doublings ask for an 8 GiB string.
    let src = include_str!("../../../fuzz/crashes/flux/eval-string-doubling-oom.flux");
    let e = run(src).unwrap_err();
    assert_eq!(
        e.kind,
        EvalErrorKind::MemoryLimit(ferry_flux::eval::DEFAULT_MEMORY_LIMIT)
    );
    assert_eq!(ferry_flux::eval::DEFAULT_MEMORY_LIMIT, 256 << 20);
    let limited = |src: &str| {
        let file = parse(src).unwrap();
        let mut ev = Evaluator::new(&TestRegex).with_memory_limit(1 << 20);
        ev.eval_file(&file, Scope::universe())
            .map(|_| ev.allocated())
    };
    // Below the limit the charge is what was built: two 300 KiB strings and their sum.
    let k300 = "a = \"".to_string() + &"x".repeat(300 << 10) + "\"\n";
    assert_eq!(limited(&format!("{k300}b = a + a")), Ok(600 << 10));
    // Every way of building a string or a container is charged.
    for build in [
        "b = a + a + a + a",
        "b = \"${a}${a}${a}${a}\"",
        "f = (x) => x + x\nb = f(x: f(x: a))",
    ] {
        let e = limited(&format!("{k300}{build}")).unwrap_err();
        assert_eq!(e.kind, EvalErrorKind::MemoryLimit(1 << 20), "{build}");
    }
    let many = format!(
        "a = [{}]\nb = [a, a, a, a, a]",
        vec!["1"; 20_000].join(", ")
    );
    let charged = limited(&many).unwrap();
    assert!(
        charged >= 20_005 * std::mem::size_of::<Value>(),
        "{charged}"
    );
    let records = format!(
        "f = (x) => ({{a: x, b: x, c: x}})\nb = [{}]",
        vec!["f(x: 1)"; 20_000].join(", ")
    );
    assert_eq!(
        limited(&records).unwrap_err().kind,
        EvalErrorKind::MemoryLimit(1 << 20)
    );
}
