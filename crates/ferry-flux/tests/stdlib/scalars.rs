//! `keyValues`, `tableFind` and the functions that take scalars out of tables, `contains`,
//! `length`, `display`.

use crate::common::run::{fails, key_labels, labels, piped, refuses, rows};
use crate::SAMPLE_INT;

#[test]
fn key_values_lists_the_distinct_values_of_columns() {
    let data = r#"import "array"
data = array.from(rows: [
  {_time: 2021-01-01T00:00:00Z, host: "a", region: "eu", _value: 1},
  {_time: 2021-01-01T00:00:10Z, host: "b", region: "eu", _value: 2},
  {_time: 2021-01-01T00:00:20Z, host: "a", region: "us", _value: 3},
]) |> group(columns: ["region"])
"#;
    let call = "keyValues(keyColumns: [\"host\", \"region\"])";
    assert_eq!(
        piped(data, call, &["region", "_key", "_value"]),
        [
            "region=eu,_key=host,_value=a",
            "region=eu,_key=region,_value=eu",
            "region=eu,_key=host,_value=b",
            "|",
            "region=us,_key=host,_value=a",
            "region=us,_key=region,_value=us",
        ]
    );
    let script = format!("{data}data |> {call}");
    assert_eq!(labels(&script)[0], ["region", "_key", "_value"]);
    assert_eq!(key_labels(&script)[0], ["region"]);
    refuses(
        data,
        &[
            (
                "keyValues(keyColumns: [\"nope\"])",
                "received table with columns [_time host region _value] not having key columns [nope]",
            ),
            (
                "keyValues(keyColumns: [\"host\", \"_value\"])",
                "keyColumns must all be the same type",
            ),
        ],
    );
}

#[test]
fn scalars_out_of_tables() {
    let script =
        |body: &str| format!("{SAMPLE_INT}{body}\narray.from(rows: [{{v: display(v: x)}}])");
    let one = |body: &str| rows(&script(body), &["v"]);
    assert_eq!(
        one("x = data |> tableFind(fn: (key) => key.tag == \"t2\") |> getColumn(column: \"_value\")"),
        // six items: one a line, as Flux's display writes more than three
        ["v=[\n    19, \n    4, \n    -3, \n    19, \n    13, \n    1\n]"]
    );
    assert_eq!(
        one("x = (data |> tableFind(fn: (key) => key.tag == \"t1\") |> getRecord(idx: 1))._value"),
        ["v=10"]
    );
    assert_eq!(
        one("x = data |> findRecord(fn: (key) => key.tag == \"t1\", idx: 0)"),
        ["v={_time: 2021-01-01T00:00:00Z, _value: -2, tag: t1}"]
    );
    assert_eq!(
        one("x = (data |> findColumn(fn: (key) => key.tag == \"t1\", column: \"tag\"))[5]"),
        ["v=t1"]
    );
    // nothing found: an empty array or record
    assert_eq!(
        one("x = length(arr: data |> findColumn(fn: (key) => key.tag == \"t9\", column: \"_value\"))"),
        ["v=0"]
    );
    assert_eq!(
        one("x = data |> findRecord(fn: (key) => key.tag == \"t9\", idx: 0)"),
        ["v={}"]
    );
    // contains, length and display (the display() page's examples)
    assert_eq!(one("x = contains(value: 3, set: [1, 2, 3])"), ["v=true"]);
    assert_eq!(
        one("x = contains(value: \"3\", set: [\"1\", \"2\"])"),
        ["v=false"]
    );
    assert_eq!(one("x = length(arr: [\"a\", \"b\"])"), ["v=2"]);
    assert_eq!(one("x = {a: 1, b: 2, c: 3}"), ["v={a: 1, b: 2, c: 3}"]);
    assert_eq!(
        one("x = [\"a\": 1, \"b\": 2, \"c\": 3]"),
        ["v=[a: 1, b: 2, c: 3]"]
    );
    // keys sorted; past three items one a line; Go's floats; <null>
    assert_eq!(
        one("x = {d: [1.5, 1000000.0, 0.00001, 123456.0], b: \"s\", a: 1, \
             c: (data |> findRecord(fn: (key) => true, idx: 0)).nothing}"),
        ["v={\n    a: 1,\n    b: s,\n    c: <null>,\n    d: [\n        1.5, \n        1e+06, \n        1e-05, \n        123456\n    ]\n}"]
    );
    assert_eq!(one("x = [:]"), ["v=[:]"]);
    // contains in a filter, as dashboards use it
    assert_eq!(
        piped(
            SAMPLE_INT,
            "filter(fn: (r) => contains(value: r._value, set: [4, 19]))",
            &["tag", "_value"]
        ),
        [
            "tag=t1,_value=4",
            "|",
            "tag=t2,_value=19",
            "tag=t2,_value=4",
            "tag=t2,_value=19"
        ]
    );
    for (body, want) in [
        (
            "x = data |> tableFind(fn: (key) => key.tag == \"t9\")",
            "tableFind: no table found",
        ),
        (
            "x = data |> tableFind(fn: (key) => true) |> getRecord(idx: 6)",
            "getRecord: index out of bounds: 6",
        ),
        (
            "x = data |> tableFind(fn: (key) => true) |> getColumn(column: \"x\")",
            "getColumn: cannot find column x",
        ),
        (
            "x = data |> getColumn(column: \"_value\")",
            "expected one table",
        ),
        (
            "x = length(arr: 1)",
            "length: argument arr: expected array but found int",
        ),
    ] {
        let e = fails(&script(body));
        assert!(e.contains(want), "{body}: {e}");
    }
}

/// What `display(v: f)` answers after `prelude` and `f = <f>`: a function value is written
/// as its type in canonical form, as Flux's `values.Display` writes it.
fn shown(prelude: &str, f: &str) -> String {
    let script =
        format!("import \"array\"\n{prelude}\nf = {f}\narray.from(rows: [{{v: display(v: f)}}])");
    let got = rows(&script, &["v"]);
    got[0].strip_prefix("v=").expect("a v column").to_string()
}

#[test]
fn closures_display_as_their_canonical_type() {
    let d = |f: &str| shown("", f);
    // the Flux SPEC's examples (its "where" constraints are not part of a monotype)
    assert_eq!(d("(x) => x"), "(x: A) => A");
    assert_eq!(d("(x) => x + 1"), "(x: int) => int");
    assert_eq!(d("(a, b) => a + b"), "(a: A, b: A) => A");
    assert_eq!(
        d("(n, m) => ({x: n, y: m})"),
        "(m: A, n: B) => {x: B, y: A}"
    );
    assert_eq!(d("(r) => ({r with z: 0})"), "(r: A) => {A with z: int}");
    assert_eq!(d("(r) => r.name"), "(r: {A with name: B}) => B");
    assert_eq!(
        d("(r) => r.status == 400"),
        "(r: {A with status: int}) => bool"
    );
    // values.Display's own test: a function of nothing
    assert_eq!(d("() => 1"), "() => int");
    // a filter predicate: every property it reads, in the order read
    assert_eq!(
        d("(r) => r._measurement == \"cpu\" and r._value > 1.5"),
        "(r: {A with _measurement: string, _value: float}) => bool"
    );
    assert_eq!(
        d("(r) => r.host =~ /a/"),
        "(r: {A with host: string}) => bool"
    );
    // defaults make a parameter optional and give its type; the pipe comes first
    assert_eq!(
        d("(tables=<-, n=5, fn) => fn(v: n)"),
        "(<-tables: A, fn: B, ?n: int) => C"
    );
    assert_eq!(d("(x) => float(v: x)"), "(x: A) => float");
    assert_eq!(
        d("(x) => if x > 0 then \"pos\" else \"neg\""),
        "(x: int) => string"
    );
    assert_eq!(d("(a) => a[0]"), "(a: [A]) => A");
    assert_eq!(
        d("(x) => {\n  y = x * 2.0\n  return [y]\n}"),
        "(x: float) => [float]"
    );
    assert_eq!(d("(x) => (y) => x + y"), "(x: A) => (y: A) => A");
}

#[test]
fn captured_names_are_typed_from_their_values() {
    assert_eq!(shown("k = 2.5", "(x) => x * k"), "(x: float) => float");
    assert_eq!(shown("g = (r) => r.a", "(r) => g(r: r)"), "(r: A) => B");
    // a builtin: its parameters (the piped one first), with fresh variables
    assert_eq!(shown("", "length"), "(arr: A) => B");
}
