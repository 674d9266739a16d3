//! `elapsed`, `mode`, `quantile(method: "exact_selector")`, `reduce` and `rename(fn:)`.

use crate::common::run::{fails, piped, query, refuses, rows};

/// Flux's `elapsed_test.flux` input (one of its two series).
const ELAPSED_DATA: &str = r#"import "array"
data = array.from(rows: [
  {_time: 2018-05-22T19:53:26Z, _value: 34.98234271799806, host: "host.local"},
  {_time: 2018-05-22T19:53:36Z, _value: 34.98234941084654, host: "host.local"},
  {_time: 2018-05-22T19:53:46Z, _value: 34.982447293755506, host: "host.local"},
  {_time: 2018-05-22T19:53:56Z, _value: 34.982447293755506, host: "host.local"},
  {_time: 2018-05-22T19:54:06Z, _value: 34.98204153981662, host: "host.local"},
  {_time: 2018-05-22T19:54:17Z, _value: 34.982252364543626, host: "host.local"},
])
  |> group(columns: ["host"])
"#;

#[test]
fn elapsed_counts_whole_units_since_the_previous_row() {
    assert_eq!(
        piped(ELAPSED_DATA, "elapsed()", &["_time", "_value", "elapsed"]),
        [
            "_time=2018-05-22T19:53:36Z,_value=34.98234941084654,elapsed=10",
            "_time=2018-05-22T19:53:46Z,_value=34.982447293755506,elapsed=10",
            "_time=2018-05-22T19:53:56Z,_value=34.982447293755506,elapsed=10",
            "_time=2018-05-22T19:54:06Z,_value=34.98204153981662,elapsed=10",
            "_time=2018-05-22T19:54:17Z,_value=34.982252364543626,elapsed=11",
        ]
    );
    assert_eq!(
        piped(
            ELAPSED_DATA,
            "elapsed(unit: 1m, columnName: \"gap\")",
            &["gap"]
        ),
        ["gap=0", "gap=0", "gap=0", "gap=0", "gap=0"]
    );
    assert_eq!(
        piped(ELAPSED_DATA, "elapsed(unit: 1ms)", &["elapsed"])[4],
        "elapsed=11000"
    );
    let tables = query(&format!("{ELAPSED_DATA}data |> elapsed()")).unwrap();
    let col = tables[0].column("elapsed").unwrap();
    assert_eq!(col.kind, ferry_flux::table::ColKind::Int);
    refuses(
        ELAPSED_DATA,
        &[
            ("elapsed(unit: 0s)", "unit must be a positive duration"),
            ("elapsed(unit: 1y)", "unit must be a positive duration"),
            ("elapsed(timeColumn: \"host\")", "is not of type time"),
        ],
    );
}

#[test]
fn mode_answers_every_most_frequent_value_sorted() {
    let table = |values: &str| {
        format!(
            "import \"array\"\narray.from(rows: [{}]) |> mode()",
            values
                .split(' ')
                .map(|v| format!("{{_value: {v}}}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    assert_eq!(
        rows(&table("3 2 3 1 2 5"), &["_value"]),
        ["_value=2", "_value=3"]
    );
    assert_eq!(rows(&table("7 7 1"), &["_value"]), ["_value=7"]);
    assert_eq!(rows(&table("-1.5 2.5 -1.5"), &["_value"]), ["_value=-1.5"]);
    assert_eq!(
        rows(&table("\"b\" \"a\" \"b\" \"a\" \"c\""), &["_value"]),
        ["_value=a", "_value=b"]
    );
    // every value as frequent as the others: no mode
    assert_eq!(rows(&table("1 2 3"), &["_value"]), ["_value=null"]);
    assert_eq!(rows(&table("1 1 2 2"), &["_value"]), ["_value=null"]);
    // per table, beside the group key; another column; a missing column answers ""
    let script = r#"import "array"
array.from(rows: [{k: "a", x: 1}, {k: "a", x: 1}, {k: "a", x: 2}, {k: "b", x: 4}, {k: "b", x: 5}, {k: "b", x: 5}])
  |> group(columns: ["k"])
  |> mode(column: "x")"#;
    assert_eq!(
        rows(script, &["k", "_value"]),
        ["k=a,_value=1", "|", "k=b,_value=5"]
    );
    let script = r#"import "array"
array.from(rows: [{k: "a", x: 1}]) |> mode(column: "y")"#;
    assert_eq!(rows(script, &["_value"]), ["_value="]);
}

const QUANTILE_DATA: &str = r#"import "array"
data = array.from(rows: [
  {_time: 2021-01-01T00:00:01Z, _value: 10.0},
  {_time: 2021-01-01T00:00:02Z, _value: 40.0},
  {_time: 2021-01-01T00:00:03Z, _value: 20.0},
  {_time: 2021-01-01T00:00:04Z, _value: 30.0},
])
"#;

#[test]
fn quantile_exact_selector_keeps_the_row_of_rank_ceil_qn_minus_one() {
    for (q, want) in [
        ("0.0", "_time=2021-01-01T00:00:01Z,_value=10"),
        ("0.25", "_time=2021-01-01T00:00:01Z,_value=10"),
        ("0.5", "_time=2021-01-01T00:00:03Z,_value=20"),
        ("0.6", "_time=2021-01-01T00:00:04Z,_value=30"),
        ("0.75", "_time=2021-01-01T00:00:04Z,_value=30"),
        ("1.0", "_time=2021-01-01T00:00:02Z,_value=40"),
    ] {
        let script = format!("{QUANTILE_DATA}data |> quantile(q: {q}, method: \"exact_selector\")");
        assert_eq!(rows(&script, &["_time", "_value"]), [want], "q {q}");
    }
    assert_eq!(
        piped(
            QUANTILE_DATA,
            "median(method: \"exact_selector\")",
            &["_value"]
        ),
        ["_value=20"]
    );
    // the interpolating methods answer between the values
    assert_eq!(
        piped(
            QUANTILE_DATA,
            "quantile(q: 0.5, method: \"exact_mean\")",
            &["_value", "_time"]
        ),
        ["_value=25,_time=-"]
    );
    // no values: no row
    let script = format!(
        "{QUANTILE_DATA}data |> filter(fn: (r) => r._value > 99.0) \
         |> quantile(q: 0.5, method: \"exact_selector\")"
    );
    assert!(rows(&script, &["_value"]).is_empty());
    refuses(
        QUANTILE_DATA,
        &[
            (
                "quantile(q: 0.5, method: \"nearest\")",
                "unknown method \"nearest\"",
            ),
            (
                "quantile(q: 1.5, method: \"exact_selector\")",
                "quantile must be between 0 and 1",
            ),
        ],
    );
}

/// Flux's `reduce_test.flux` input.
const REDUCE_DATA: &str = r#"import "array"
data = array.from(rows: [
  {_time: 2018-05-22T19:53:26Z, _value: 1.0, _field: "used_percent", _measurement: "swap", host: "host.local"},
  {_time: 2018-05-22T19:53:36Z, _value: 1.0, _field: "used_percent", _measurement: "swap", host: "host.local"},
  {_time: 2018-05-22T19:53:46Z, _value: 1.0, _field: "used_percent", _measurement: "swap", host: "host.local"},
  {_time: 2018-05-22T19:53:56Z, _value: 1.0, _field: "used_percent", _measurement: "swap", host: "host.local"},
  {_time: 2018-05-22T19:54:06Z, _value: 1.0, _field: "used_percent", _measurement: "swap", host: "host.local"},
  {_time: 2018-05-22T19:54:16Z, _value: 1.0, _field: "used_percent", _measurement: "swap", host: "host.local"},
  {_time: 2018-05-22T19:53:26Z, _value: 1.0, _field: "used_percent", _measurement: "swap", host: "host.local2"},
  {_time: 2018-05-22T19:53:36Z, _value: 1.0, _field: "used_percent", _measurement: "swap", host: "host.local2"},
  {_time: 2018-05-22T19:53:46Z, _value: 1.0, _field: "used_percent", _measurement: "swap", host: "host.local2"},
])
  |> group(columns: ["_field", "_measurement", "host"])
  |> range(start: 2018-05-21T13:09:22.885021542Z)
"#;

#[test]
fn reduce_folds_each_table_into_one_row() {
    // Flux's reduce_test.flux
    let script = format!(
        "{REDUCE_DATA}data |> reduce(fn: (r, accumulator) => ({{sum: r._value + accumulator.sum}}), \
         identity: {{sum: 0.0}})"
    );
    let tables = query(&script).unwrap();
    assert_eq!(
        tables[0]
            .columns
            .iter()
            .map(|c| c.label.as_str())
            .collect::<Vec<_>>(),
        ["_start", "_stop", "_field", "_measurement", "host", "sum"]
    );
    assert_eq!(
        rows(&script, &["_start", "_stop", "host", "sum"]),
        [
            "_start=2018-05-21T13:09:22.885021542Z,_stop=2030-01-01T00:00:00Z,host=host.local,sum=6",
            "|",
            "_start=2018-05-21T13:09:22.885021542Z,_stop=2030-01-01T00:00:00Z,host=host.local2,sum=3",
        ]
    );
    // several fields, one of them counting
    let script = format!(
        "{REDUCE_DATA}data |> reduce(identity: {{count: 0, total: 0.0, last: \"\"}}, \
         fn: (r, accumulator) => ({{count: accumulator.count + 1, total: accumulator.total + r._value, \
         last: string(v: r._time)}}))"
    );
    assert_eq!(
        rows(&script, &["host", "count", "total", "last"]),
        [
            "host=host.local,count=6,total=6,last=2018-05-22T19:54:16Z",
            "|",
            "host=host.local2,count=3,total=3,last=2018-05-22T19:53:46Z",
        ]
    );
    // a field named like a key column replaces its value in the key too
    let script = format!(
        "{REDUCE_DATA}data |> reduce(identity: {{host: \"\"}}, \
         fn: (r, accumulator) => ({{host: accumulator.host + \"x\"}}))"
    );
    let tables = query(&script).unwrap();
    assert_eq!(rows(&script, &["host"]), ["host=xxxxxx", "|", "host=xxx"]);
    assert_eq!(
        tables[1]
            .key
            .iter()
            .find(|(k, _)| k == "host")
            .unwrap()
            .1
            .to_string(),
        "xxx"
    );
    refuses(
        REDUCE_DATA,
        &[
            (
                "reduce(fn: (r, accumulator) => 1, identity: {a: 1})",
                "fn must return a record",
            ),
            (
                "reduce(fn: (r, accumulator) => accumulator, identity: 1)",
                "identity",
            ),
            ("reduce(identity: {a: 1})", "missing required argument fn"),
            (
                "reduce(fn: (r, accumulator) => ({a: [1]}), identity: {a: 1})",
                "cannot hold a value of type array",
            ),
        ],
    );
}

#[test]
fn rename_by_function() {
    let script = r#"import "array"
array.from(rows: [{_time: 2021-01-01T00:00:00Z, _value: 1.0, host: "a"}])
  |> group(columns: ["host"])
  |> rename(fn: (column) => if column == "host" then "server" else column + "_x")"#;
    let tables = query(script).unwrap();
    assert_eq!(
        tables[0]
            .columns
            .iter()
            .map(|c| c.label.as_str())
            .collect::<Vec<_>>(),
        ["_time_x", "_value_x", "server"]
    );
    assert_eq!(tables[0].key[0].0, "server");
    let e = fails(
        r#"import "array"
array.from(rows: [{a: 1, b: 2}]) |> rename(fn: (column) => "same")"#,
    );
    assert!(e.contains("two columns would be named \"same\""), "{e}");
    let e = fails(
        r#"import "array"
array.from(rows: [{a: 1}]) |> rename(fn: (column) => 1)"#,
    );
    assert!(e.contains("fn must return a string"), "{e}");
}
