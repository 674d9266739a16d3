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
