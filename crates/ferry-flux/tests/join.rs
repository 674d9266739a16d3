//! Joins run end to end: the universe's `join()` and the `join` package. The expected tables
//! are those of Flux's documentation examples (`stdlib/join/join.flux`, the universe `join()`
//! page), worked through Flux's merge-join rules where the page shows no output.

mod common;

use common::run::{fails, key_labels, labels, query, rows};

/// The `join` package documentation's two streams.
const LR: &str = r#"import "array"
import "join"
left = array.from(rows: [
  {_time: 2022-01-01T00:00:00Z, _value: 1, label: "a"},
  {_time: 2022-01-01T00:00:00Z, _value: 2, label: "b"},
  {_time: 2022-01-01T00:00:00Z, _value: 3, label: "d"},
])
right = array.from(rows: [
  {_time: 2022-01-01T00:00:00Z, _value: 0.4, id: "a"},
  {_time: 2022-01-01T00:00:00Z, _value: 0.5, id: "c"},
  {_time: 2022-01-01T00:00:00Z, _value: 0.6, id: "d"},
])
"#;

const ON: &str = "on: (l, r) => l.label == r.id and l._time == r._time";

#[test]
fn join_left_keeps_every_left_row() {
    let script = format!(
        "{LR}join.left(left: left, right: right, {ON}, \
         as: (l, r) => ({{_time: l._time, label: l.label, v_left: l._value, v_right: r._value}}))"
    );
    assert_eq!(
        labels(&script),
        [["_time", "label", "v_left", "v_right"]],
        "columns sorted by label"
    );
    assert_eq!(
        rows(&script, &["label", "v_left", "v_right"]),
        [
            "label=a,v_left=1,v_right=0.4",
            "label=b,v_left=2,v_right=null",
            "label=d,v_left=3,v_right=0.6",
        ]
    );
}

#[test]
fn join_right_keeps_every_right_row() {
    let script = format!(
        "{LR}join.right(left: left, right: right, {ON}, \
         as: (l, r) => ({{_time: r._time, label: r.id, v_left: l._value, v_right: r._value}}))"
    );
    assert_eq!(
        rows(&script, &["label", "v_left", "v_right"]),
        [
            "label=a,v_left=1,v_right=0.4",
            "label=c,v_left=null,v_right=0.5",
            "label=d,v_left=3,v_right=0.6",
        ]
    );
}

#[test]
fn join_full_and_inner() {
    let script = format!(
        "{LR}join.full(left: left, right: right, {ON}, as: (l, r) => {{
            time = if exists l._time then l._time else r._time
            label = if exists l.label then l.label else r.id
            return {{_time: time, label: label, v_left: l._value, v_right: r._value}}
        }})"
    );
    assert_eq!(
        rows(&script, &["_time", "label", "v_left", "v_right"]),
        [
            "_time=2022-01-01T00:00:00Z,label=a,v_left=1,v_right=0.4",
            "_time=2022-01-01T00:00:00Z,label=b,v_left=2,v_right=null",
            "_time=2022-01-01T00:00:00Z,label=c,v_left=null,v_right=0.5",
            "_time=2022-01-01T00:00:00Z,label=d,v_left=3,v_right=0.6",
        ]
    );
    // inner, piped: only the matches; `l with` keeps the left's columns
    let script = format!(
        "{LR}left |> join.inner(right: right, {ON}, as: (l, r) => ({{l with v_right: r._value}}))"
    );
    assert_eq!(labels(&script), [["_time", "_value", "label", "v_right"]]);
    assert_eq!(
        rows(&script, &["label", "_value", "v_right"]),
        [
            "label=a,_value=1,v_right=0.4",
            "label=d,_value=3,v_right=0.6"
        ]
    );
    // join.tables with the method spelled out answers the same
    let script2 = format!(
        "{LR}join.tables(method: \"inner\", left: left, right: right, {ON}, \
         as: (l, r) => ({{l with v_right: r._value}}))"
    );
    assert_eq!(
        rows(&script2, &["label", "_value", "v_right"]),
        rows(&script, &["label", "_value", "v_right"])
    );
}

#[test]
fn join_time_pairs_rows_of_one_time_in_each_group() {
    let script = r#"import "array"
import "join"
ints = array.from(rows: [
  {_time: 2021-01-01T00:00:00Z, _value: 1, tag: "x"},
  {_time: 2021-01-01T00:00:10Z, _value: 2, tag: "x"},
  {_time: 2021-01-01T00:00:00Z, _value: 3, tag: "y"},
  {_time: 2021-01-01T00:00:20Z, _value: 4, tag: "y"},
]) |> group(columns: ["tag"])
strings = array.from(rows: [
  {_time: 2021-01-01T00:00:00Z, _value: "a", tag: "x"},
  {_time: 2021-01-01T00:00:10Z, _value: "b", tag: "x"},
  {_time: 2021-01-01T00:00:20Z, _value: "c", tag: "y"},
  {_time: 2021-01-01T00:00:30Z, _value: "d", tag: "z"},
]) |> group(columns: ["tag"])
join.time(left: ints, right: strings, as: (l, r) => ({l with label: r._value}))"#;
    assert_eq!(
        rows(script, &["tag", "_time", "_value", "label"]),
        [
            "tag=x,_time=2021-01-01T00:00:00Z,_value=1,label=a",
            "tag=x,_time=2021-01-01T00:00:10Z,_value=2,label=b",
            "|",
            "tag=y,_time=2021-01-01T00:00:20Z,_value=4,label=c",
        ]
    );
    assert_eq!(key_labels(script), [["tag"], ["tag"]]);
    // a full join by time also answers the group only the right has, with a default left
    let full = script.replace(
        "join.time(left: ints, right: strings, as: (l, r) => ({l with label: r._value}))",
        "join.time(method: \"full\", left: ints, right: strings, \
         as: (l, r) => ({tag: r.tag, _time: r._time, v: l._value, label: r._value}))",
    );
    let e = fails(&full.replace("tag: r.tag, ", ""));
    assert!(
        e.contains("join cannot modify group key: output record has a missing or invalid value for column 'tag:string'"),
        "{e}"
    );
    // a default record holds the group key: `r.tag` is set where `r` is one
    assert_eq!(
        rows(&full, &["tag", "_time", "v", "label"]),
        [
            "tag=x,_time=2021-01-01T00:00:00Z,v=1,label=a",
            "tag=x,_time=2021-01-01T00:00:10Z,v=2,label=b",
            "|",
            "tag=y,_time=null,v=3,label=null",
            "tag=y,_time=2021-01-01T00:00:20Z,v=4,label=c",
            "|",
            "tag=z,_time=2021-01-01T00:00:30Z,v=null,label=d",
        ]
    );
}

#[test]
fn join_package_refusals() {
    let cases = [
        (
            format!("{LR}join.inner(left: left, right: right, on: (l, r) => l.label == r.id or l._time == r._time, as: (l, r) => l)"),
            "unsupported operator in join predicate: or",
        ),
        (
            format!("{LR}join.inner(left: left, right: right, on: (l, r) => l._value > r._value, as: (l, r) => l)"),
            "unsupported operator in join predicate: >",
        ),
        (
            format!("{LR}join.inner(left: left, right: right, on: (l, r) => l.label == \"a\", as: (l, r) => l)"),
            "right side of comparison is not a member expression",
        ),
        (
            format!("{LR}join.inner(left: left, right: right, on: (l, r) => l.label == l.id, as: (l, r) => l)"),
            "may not reference the same object",
        ),
        (
            format!("{LR}join.tables(method: \"cross\", left: left, right: right, {ON}, as: (l, r) => l)"),
            "invalid argument for 'method'",
        ),
        (
            format!("{LR}join.inner(left: left, right: 1, {ON}, as: (l, r) => l)"),
            "argument 'right' must be a table stream",
        ),
        (
            format!("{LR}join.inner(left: left, right: right, on: (l, r) => l.nope == r.id, as: (l, r) => l)"),
            "cannot set join columns in left table stream: table is missing column 'nope'",
        ),
    ];
    for (script, want) in cases {
        let e = fails(&script);
        assert!(e.contains(want), "{script}: {e}");
    }
    // different group keys are never compared: an inner join of them is empty
    let script = format!(
        "{LR}join.inner(left: left |> group(columns: [\"label\"]), right: right, {ON}, as: (l, r) => l)"
    );
    assert_eq!(query(&script).unwrap().len(), 0);
}

/// The universe `join()` documentation's shape: two streams sharing `_time` and `tag`.
const T1T2: &str = r#"import "array"
t1 = array.from(rows: [
  {_time: 2021-01-01T00:00:00Z, tag: "a", _value: -2},
  {_time: 2021-01-01T00:00:00Z, tag: "b", _value: 10},
  {_time: 2021-01-01T00:00:10Z, tag: "a", _value: 7},
  {_time: 2021-01-01T00:00:10Z, tag: "b", _value: 16},
]) |> group(columns: ["tag"])
t2 = array.from(rows: [
  {_time: 2021-01-01T00:00:00Z, tag: "a", _value: 19},
  {_time: 2021-01-01T00:00:00Z, tag: "b", _value: 1},
  {_time: 2021-01-01T00:00:10Z, tag: "a", _value: 4},
  {_time: 2021-01-01T00:00:20Z, tag: "b", _value: 2},
]) |> group(columns: ["tag"])
"#;

#[test]
fn universe_join_renames_shared_columns() {
    let script = format!("{T1T2}join(tables: {{t1: t1, t2: t2}}, on: [\"_time\", \"tag\"])");
    assert_eq!(
        labels(&script),
        [
            ["_time", "_value_t1", "_value_t2", "tag"],
            ["_time", "_value_t1", "_value_t2", "tag"]
        ]
    );
    assert_eq!(key_labels(&script), [["tag"], ["tag"]]);
    assert_eq!(
        rows(&script, &["_time", "tag", "_value_t1", "_value_t2"]),
        [
            "_time=2021-01-01T00:00:00Z,tag=a,_value_t1=-2,_value_t2=19",
            "_time=2021-01-01T00:00:10Z,tag=a,_value_t1=7,_value_t2=4",
            "|",
            "_time=2021-01-01T00:00:00Z,tag=b,_value_t1=10,_value_t2=1",
        ]
    );
    // the left side is the first name in order, whatever the record's order
    let swapped = format!("{T1T2}join(tables: {{z: t1, a: t2}}, on: [\"_time\", \"tag\"])");
    assert_eq!(
        rows(&swapped, &["tag", "_value_a", "_value_z"])[0],
        "tag=a,_value_a=19,_value_z=-2"
    );
    // joined on `_time` alone: `tag` is renamed and both tags are in the group key
    let script = format!("{T1T2}join(tables: {{t1: t1, t2: t2}}, on: [\"_time\"])");
    assert_eq!(
        key_labels(&script),
        [
            ["tag_t1", "tag_t2"],
            ["tag_t1", "tag_t2"],
            ["tag_t1", "tag_t2"],
            ["tag_t1", "tag_t2"]
        ]
    );
    assert_eq!(
        rows(&script, &["tag_t1", "tag_t2", "_value_t1", "_value_t2"]),
        [
            "tag_t1=a,tag_t2=a,_value_t1=-2,_value_t2=19",
            "tag_t1=a,tag_t2=a,_value_t1=7,_value_t2=4",
            "|",
            "tag_t1=a,tag_t2=b,_value_t1=-2,_value_t2=1",
            "|",
            "tag_t1=b,tag_t2=a,_value_t1=10,_value_t2=19",
            "tag_t1=b,tag_t2=a,_value_t1=16,_value_t2=4",
            "|",
            "tag_t1=b,tag_t2=b,_value_t1=10,_value_t2=1",
        ]
    );
}

#[test]
fn universe_join_refusals_and_nulls() {
    for (call, want) in [
        (
            "join(tables: {t1: t1, t2: t2})",
            "join: missing required argument on",
        ),
        (
            "join(tables: {t1: t1, t2: t2}, on: [])",
            "at least one column in 'on' column list is required",
        ),
        (
            "join(tables: {t1: t1, t2: t2}, on: [\"tag\"], method: \"left\")",
            "left is not a valid join type",
        ),
        (
            "join(tables: {t1: t1}, on: [\"tag\"])",
            "joins currently must only have two parents",
        ),
        (
            "join(tables: {t1: t1, t2: 2}, on: [\"tag\"])",
            "expected \"t2\" to be a stream of tables, found int",
        ),
    ] {
        let e = fails(&format!("{T1T2}{call}"));
        assert!(e.contains(want), "{call}: {e}");
    }
    // null equals nothing; a table lacking an `on` column takes no part
    let script = r#"import "array"
a = array.from(rows: [{k: "x", v: 1}, {k: "", v: 2}]) |> map(fn: (r) => ({r with k: if r.k == "" then r.nothing else r.k}))
b = array.from(rows: [{k: "x", w: 3}, {k: "", w: 4}]) |> map(fn: (r) => ({r with k: if r.k == "" then r.nothing else r.k}))
join(tables: {a: a, b: b}, on: ["k"])"#;
    assert_eq!(rows(script, &["k", "v", "w"]), ["k=x,v=1,w=3"]);
    let script = r#"import "array"
a = array.from(rows: [{k: "x", v: 1}])
b = array.from(rows: [{j: "x", w: 3}])
join(tables: {a: a, b: b}, on: ["k"])"#;
    assert_eq!(query(script).unwrap().len(), 0);
}

#[test]
fn a_cross_product_is_refused_at_the_memory_limit() {
    // 3000 × 3000 rows on one key: nine million rows, refused before they are built
    let rows_of = |n: usize| {
        let items: Vec<String> = (0..n).map(|i| format!("{{k: 1, v: {i}}}")).collect();
        format!("array.from(rows: [{}])", items.join(", "))
    };
    let data = format!(
        "import \"array\"\na = {}\nb = {}\n",
        rows_of(3000),
        rows_of(3000)
    );
    let e = fails(&format!("{data}join(tables: {{a: a, b: b}}, on: [\"k\"])"));
    assert!(e.contains("memory limit"), "{e}");
    // (importing the package hides the universe's `join`)
    let e = fails(&format!(
        "import \"join\"\n{data}join.inner(left: a, right: b, on: (l, r) => l.k == r.k, as: (l, r) => l)"
    ));
    assert!(e.contains("memory limit"), "{e}");
    // a smaller product fits
    let small = format!(
        "import \"array\"\na = {}\nb = {}\njoin(tables: {{a: a, b: b}}, on: [\"k\"])",
        rows_of(30),
        rows_of(30)
    );
    assert_eq!(query(&small).unwrap()[0].len(), 900);
}
