//! Table functions run end to end through `query::run`: `integral`, `elapsed`, `mode`,
//! `quantile(method: "exact_selector")`, `reduce`, `rename(fn:)`, `aggregateWindow` with a
//! user-defined `fn`, calendar windows, `stateCount`, `stateDuration`, `timedMovingAverage`,
//! `histogramQuantile`, `keyValues`, `tableFind` and the functions that take scalars out of
//! tables, `contains`, `length`, `display`. The expected answers are those of Flux's own tests
//! (`stdlib/universe/*_test.flux`) where they have one, else worked out by hand in the test.

mod common;

use common::run::{fails, key_labels, labels, piped, query, refuses, rows};

/// Flux's `integral_interpolate_test.flux` input: three series of one field each.
const INTEGRAL_DATA: &str = r#"import "array"
data = array.from(rows: [
  {_time: 2018-05-22T19:53:00Z, _measurement: "_m", _field: "FF", _value: 1.0},
  {_time: 2018-05-22T19:53:10Z, _measurement: "_m", _field: "FF", _value: 2.0},
  {_time: 2018-05-22T19:53:20Z, _measurement: "_m", _field: "FF", _value: 4.0},
  {_time: 2018-05-22T19:53:30Z, _measurement: "_m", _field: "FF", _value: 6.0},
  {_time: 2018-05-22T19:53:40Z, _measurement: "_m", _field: "FF", _value: 8.0},
  {_time: 2018-05-22T19:53:50Z, _measurement: "_m", _field: "FF", _value: 10.0},
  {_time: 2018-05-22T19:53:10Z, _measurement: "_m", _field: "QQ", _value: 1.0},
  {_time: 2018-05-22T19:53:20Z, _measurement: "_m", _field: "QQ", _value: 1.0},
  {_time: 2018-05-22T19:53:30Z, _measurement: "_m", _field: "QQ", _value: 1.0},
  {_time: 2018-05-22T19:53:40Z, _measurement: "_m", _field: "QQ", _value: 1.0},
  {_time: 2018-05-22T19:53:00Z, _measurement: "_m", _field: "RR", _value: 1.0},
  {_time: 2018-05-22T19:53:10Z, _measurement: "_m", _field: "RR", _value: 1.0},
  {_time: 2018-05-22T19:53:20Z, _measurement: "_m", _field: "RR", _value: 1.0},
  {_time: 2018-05-22T19:53:30Z, _measurement: "_m", _field: "RR", _value: 0.0},
])
  |> group(columns: ["_measurement", "_field"])
  |> range(start: 2018-05-22T19:53:00Z, stop: 2018-05-22T19:54:00Z)
"#;

#[test]
fn integral_is_trapezoidal_and_interpolates_to_the_bounds() {
    // Flux's integral_interpolate_test.flux: 36.5, 6 and -2
    assert_eq!(
        piped(
            INTEGRAL_DATA,
            "integral(unit: 10s, interpolate: \"linear\")",
            &["_field", "_value", "_time"]
        ),
        [
            "_field=FF,_value=36.5,_time=-",
            "|",
            "_field=QQ,_value=6,_time=-",
            "|",
            "_field=RR,_value=-2,_time=-"
        ]
    );
    // without interpolation only the trapezoids between the points count
    assert_eq!(
        piped(INTEGRAL_DATA, "integral(unit: 10s)", &["_field", "_value"]),
        [
            "_field=FF,_value=25.5",
            "|",
            "_field=QQ,_value=3",
            "|",
            "_field=RR,_value=2.5"
        ]
    );
    // the unit scales the answer: 10 times as many seconds
    assert_eq!(
        piped(
            INTEGRAL_DATA,
            "filter(fn: (r) => r._field == \"FF\") |> integral()",
            &["_value"]
        ),
        ["_value=255"]
    );
    // the group key stays
    let script = format!("{INTEGRAL_DATA}data |> integral()");
    let tables = query(&script).unwrap();
    let mut key: Vec<&str> = tables[0].key.iter().map(|(k, _)| k.as_str()).collect();
    key.sort_unstable();
    assert_eq!(key, ["_field", "_measurement", "_start", "_stop"]);
}

#[test]
fn integral_of_ints_and_of_lone_points() {
    let script = r#"import "array"
array.from(rows: [{_time: 2021-01-01T00:00:00Z, _value: 3}, {_time: 2021-01-01T00:00:02Z, _value: 5}])
  |> integral(unit: 1s)"#;
    assert_eq!(rows(script, &["_value"]), ["_value=8"]);
    // Flux's integral_interpolate_single: a lone value holds over the whole range
    let script = r#"import "array"
array.from(rows: [
  {_time: 2018-05-22T19:53:00Z, _field: "FF", _value: 1.0},
  {_time: 2018-05-22T19:53:10Z, _field: "QQ", _value: -2.0},
  {_time: 2018-05-22T19:53:00Z, _field: "RR", _value: 3.0},
])
  |> group(columns: ["_field"])
  |> range(start: 2018-05-22T19:53:00Z, stop: 2018-05-22T19:54:00Z)
  |> integral(unit: 10s, interpolate: "linear")"#;
    assert_eq!(
        rows(script, &["_field", "_value"]),
        [
            "_field=FF,_value=6",
            "|",
            "_field=QQ,_value=-12",
            "|",
            "_field=RR,_value=18"
        ]
    );
    // without interpolation a lone value has no area
    let script = script.replace(", interpolate: \"linear\"", "");
    assert_eq!(
        rows(&script, &["_value"]),
        ["_value=0", "|", "_value=0", "|", "_value=0"]
    );
}

#[test]
fn integral_refuses_bad_arguments() {
    refuses(
        INTEGRAL_DATA,
        &[
            ("integral(unit: 0s)", "unit must be a positive duration"),
            ("integral(unit: -1s)", "unit must be a positive duration"),
            ("integral(unit: 1mo)", "unit must be a positive duration"),
            ("integral(interpolate: \"cubic\")", "interpolate must be"),
            (
                "integral(column: \"_field\")",
                "unsupported type for integral: string",
            ),
            (
                "integral(column: \"nope\")",
                "column \"nope\" does not exist",
            ),
            ("integral(timeColumn: \"_value\")", "is not of type time"),
            ("integral(units: 1s)", "units"),
        ],
    );
}

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

const WINDOW_DATA: &str = r#"import "array"
data = array.from(rows: [
  {_time: 2021-01-01T00:00:00Z, _value: 5, host: "a"},
  {_time: 2021-01-01T00:00:10Z, _value: 5, host: "a"},
  {_time: 2021-01-01T00:00:20Z, _value: 7, host: "a"},
  {_time: 2021-01-01T00:00:30Z, _value: 1, host: "a"},
  {_time: 2021-01-01T00:00:40Z, _value: 2, host: "a"},
  {_time: 2021-01-01T00:00:50Z, _value: 2, host: "a"},
])
  |> group(columns: ["host"])
  |> range(start: 2021-01-01T00:00:00Z, stop: 2021-01-01T00:01:00Z)
"#;

#[test]
fn aggregate_window_with_a_user_defined_function() {
    let script = format!(
        "{WINDOW_DATA}data |> aggregateWindow(every: 30s, \
         fn: (column, tables=<-) => tables |> quantile(q: 0.9, method: \"exact_selector\", column: column))"
    );
    assert_eq!(
        rows(&script, &["_start", "_stop", "_time", "_value", "host"]),
        [
            "_start=2021-01-01T00:00:00Z,_stop=2021-01-01T00:01:00Z,_time=2021-01-01T00:00:30Z,_value=7,host=a",
            "_start=2021-01-01T00:00:00Z,_stop=2021-01-01T00:01:00Z,_time=2021-01-01T00:01:00Z,_value=2,host=a",
        ]
    );
    // a builtin the windowed aggregates do not compute, with timeSrc
    assert_eq!(
        piped(
            WINDOW_DATA,
            "aggregateWindow(every: 30s, fn: mode, timeSrc: \"_start\")",
            &["_time", "_value"]
        ),
        [
            "_time=2021-01-01T00:00:00Z,_value=5",
            "_time=2021-01-01T00:00:30Z,_value=2"
        ]
    );
    // the same answer as the windowed aggregate for a function written around one
    let own = format!(
        "{WINDOW_DATA}data |> aggregateWindow(every: 20s, fn: (column, tables=<-) => tables |> sum(column: column))"
    );
    let builtin = format!("{WINDOW_DATA}data |> aggregateWindow(every: 20s, fn: sum)");
    assert_eq!(
        rows(&own, &["_time", "_value"]),
        rows(&builtin, &["_time", "_value"])
    );
    assert_eq!(
        rows(&own, &["_time", "_value"]),
        [
            "_time=2021-01-01T00:00:20Z,_value=10",
            "_time=2021-01-01T00:00:40Z,_value=8",
            "_time=2021-01-01T00:01:00Z,_value=4"
        ]
    );
    refuses(
        WINDOW_DATA,
        &[
            (
                "aggregateWindow(every: 20s, fn: 1)",
                "expected function but found int",
            ),
            (
                "aggregateWindow(every: 20s, fn: (column, tables=<-) => 1)",
                "fn must return a stream",
            ),
        ],
    );
}

/// `period` other than `every`: windows that overlap (a point counted in two) or leave gaps
/// (points in none), as `window(every:, period:)` cuts them, each clipped to the range and
/// stamped with its clipped stop. The window starting 20 s before the range holds the first
/// two points, so it answers too.
#[test]
fn aggregate_window_with_a_period_other_than_every() {
    assert_eq!(
        piped(
            WINDOW_DATA,
            "aggregateWindow(every: 20s, period: 40s, fn: sum)",
            &["_time", "_value"]
        ),
        [
            "_time=2021-01-01T00:00:20Z,_value=10",
            "_time=2021-01-01T00:00:40Z,_value=18",
            "_time=2021-01-01T00:01:00Z,_value=12",
            "_time=2021-01-01T00:01:00Z,_value=4",
        ]
    );
    assert_eq!(
        piped(
            WINDOW_DATA,
            "aggregateWindow(every: 30s, period: 10s, fn: sum)",
            &["_time", "_value"]
        ),
        [
            "_time=2021-01-01T00:00:10Z,_value=5",
            "_time=2021-01-01T00:00:40Z,_value=1",
        ]
    );
    // the same answer as period left out, when it equals every
    assert_eq!(
        piped(
            WINDOW_DATA,
            "aggregateWindow(every: 20s, period: 20s, fn: count)",
            &["_time", "_value"]
        ),
        piped(
            WINDOW_DATA,
            "aggregateWindow(every: 20s, fn: count)",
            &["_time", "_value"]
        )
    );
}

const MONTHS_DATA: &str = r#"import "array"
data = array.from(rows: [
  {_time: 2024-01-15T00:00:00Z, _value: 1.0},
  {_time: 2024-02-10T00:00:00Z, _value: 2.0},
  {_time: 2024-02-29T23:59:59Z, _value: 3.0},
  {_time: 2024-03-31T23:59:59Z, _value: 4.0},
  {_time: 2024-04-01T00:00:00Z, _value: 5.0},
  {_time: 2024-12-31T00:00:00Z, _value: 6.0},
])
"#;

/// `MONTHS_DATA` in `[start, stop)` (dates of 2023 to 2025), then `call`: each row's
/// `labels`.
fn over_months((start, stop): (&str, &str), call: &str, labels: &[&str]) -> Vec<String> {
    rows(
        &format!(
            "{MONTHS_DATA}data |> range(start: {start}T00:00:00Z, stop: {stop}T00:00:00Z) |> {call}"
        ),
        labels,
    )
}

/// A range, a call, the labels shown and the rows wanted.
type MonthCase<'a> = ((&'a str, &'a str), &'a str, &'a [&'a str], &'a [&'a str]);

#[test]
fn calendar_windows_follow_the_months() {
    let bounds = ["_start", "_stop", "_value"];
    let stamps = ["_time", "_value"];
    let cases: [MonthCase; 5] = [
        (
            ("2024-01-01", "2024-05-01"),
            "window(every: 1mo) |> count()",
            &bounds,
            &[
                "_start=2024-01-01T00:00:00Z,_stop=2024-02-01T00:00:00Z,_value=1",
                "|",
                "_start=2024-02-01T00:00:00Z,_stop=2024-03-01T00:00:00Z,_value=2",
                "|",
                "_start=2024-03-01T00:00:00Z,_stop=2024-04-01T00:00:00Z,_value=1",
                "|",
                "_start=2024-04-01T00:00:00Z,_stop=2024-05-01T00:00:00Z,_value=1",
            ],
        ),
        // aggregateWindow stamps each month with its end, clipped to the range
        (
            ("2024-01-10", "2024-04-15"),
            "aggregateWindow(every: 1mo, fn: sum)",
            &stamps,
            &[
                "_time=2024-02-01T00:00:00Z,_value=1",
                "_time=2024-03-01T00:00:00Z,_value=5",
                "_time=2024-04-01T00:00:00Z,_value=4",
                "_time=2024-04-15T00:00:00Z,_value=5",
            ],
        ),
        // years, empty ones counting 0 (createEmpty)
        (
            ("2023-06-01", "2025-03-01"),
            "aggregateWindow(every: 1y, fn: count)",
            &stamps,
            &[
                "_time=2024-01-01T00:00:00Z,_value=0",
                "_time=2025-01-01T00:00:00Z,_value=6",
                "_time=2025-03-01T00:00:00Z,_value=0",
            ],
        ),
        // quarters, and quarters shifted by a month
        (
            ("2024-01-01", "2025-01-01"),
            "aggregateWindow(every: 3mo, fn: count)",
            &stamps,
            &[
                "_time=2024-04-01T00:00:00Z,_value=4",
                "_time=2024-07-01T00:00:00Z,_value=1",
                "_time=2024-10-01T00:00:00Z,_value=0",
                "_time=2025-01-01T00:00:00Z,_value=1",
            ],
        ),
        (
            ("2024-01-01", "2024-07-01"),
            "window(every: 3mo, offset: 1mo) |> count()",
            &bounds,
            &[
                "_start=2024-01-01T00:00:00Z,_stop=2024-02-01T00:00:00Z,_value=1",
                "|",
                "_start=2024-02-01T00:00:00Z,_stop=2024-05-01T00:00:00Z,_value=4",
            ],
        ),
    ];
    for (range, call, labels, want) in cases {
        assert_eq!(over_months(range, call, labels), want, "{call}");
    }
    // a window ending past the last representable time still holds the range
    assert_eq!(
        over_months(
            ("2024-01-01", "2024-05-01"),
            "window(every: 1000y) |> count()",
            &bounds
        ),
        ["_start=2024-01-01T00:00:00Z,_stop=2024-05-01T00:00:00Z,_value=5"]
    );
    for call in [
        "window(every: 1mo1d)",
        "aggregateWindow(every: 1mo1d, fn: sum)",
        "window(every: 1h, offset: 1mo)",
    ] {
        let e = fails(&format!(
            "{MONTHS_DATA}data |> range(start: 2024-01-01T00:00:00Z, stop: 2024-07-01T00:00:00Z) |> {call}"
        ));
        assert!(e.contains("mix month and nanosecond units"), "{call}: {e}");
    }
}

#[test]
fn windows_by_definition_are_charged_before_they_are_made() {
    // a year of 1 ns windows for a script's function: refused at the memory limit, not built
    let script = r#"import "array"
array.from(rows: [{_time: 2021-01-01T00:00:00Z, _value: 1.0}])
  |> range(start: 2021-01-01T00:00:00Z, stop: 2022-01-01T00:00:00Z)
  |> aggregateWindow(every: 1ns, fn: (column, tables=<-) => tables |> mode(column: column))"#;
    let e = fails(script);
    assert!(e.contains("memory limit"), "{e}");
    // six centuries of months are few windows
    let script = r#"import "array"
array.from(rows: [{_time: 2021-01-01T00:00:00Z, _value: 1.0}])
  |> range(start: 1700-01-01T00:00:00Z, stop: 2260-01-01T00:00:00Z)
  |> aggregateWindow(every: 1mo, fn: count)
  |> filter(fn: (r) => r._value > 0)"#;
    assert_eq!(
        rows(script, &["_time", "_value"]),
        ["_time=2021-02-01T00:00:00Z,_value=1"]
    );
}

#[test]
fn extreme_arguments_answer_or_fail_without_panicking() {
    let edges = r#"import "array"
data = array.from(rows: [
  {_time: 1677-09-22T00:00:00Z, _value: 1.0},
  {_time: 2000-01-01T00:00:00Z, _value: -1.0},
  {_time: 2262-04-10T23:59:59.999999999Z, _value: 1000000000000000000000.0},
])
"#;
    let wide = "|> range(start: 1677-09-22T00:00:00Z, stop: 2262-04-11T00:00:00Z)";
    for call in [
        "elapsed(unit: 1ns)",
        "elapsed(unit: 1h)",
        "integral(unit: 1ns)",
        "integral(unit: 1ns, interpolate: \"linear\")",
        "mode()",
        "quantile(q: 1.0, method: \"exact_selector\")",
        "reduce(fn: (r, accumulator) => accumulator, identity: {})",
    ] {
        // the script compiles: what it answers is an answer or a Flux error
        for script in [
            format!("{edges}data |> {call}"),
            format!("{edges}data {wide} |> {call}"),
        ] {
            if let Err(e) = query(&script) {
                assert!(
                    !e.contains("compilation failed") && !e.contains("value out of range"),
                    "{script}: {e}"
                );
            }
        }
    }
    for call in [
        "window(every: 1ns, period: 9223372036854775807ns)",
        "window(every: 100000000y)",
        "window(every: 1mo, offset: 9000000000000000000ns)",
        "window(every: 1mo, period: 100000000y)",
        "window(every: 1mo, createEmpty: true) |> count()",
        "window(every: 1y, offset: 11mo) |> count()",
        "aggregateWindow(every: 9223372036854775807ns, fn: mode)",
        "aggregateWindow(every: 1mo, fn: mode)",
        "aggregateWindow(every: 100000000y, fn: mean)",
    ] {
        let script = format!("{edges}data {wide} |> {call}");
        if let Err(e) = query(&script) {
            assert!(
                !e.contains("compilation failed") && !e.contains("value out of range"),
                "{script}: {e}"
            );
        }
    }
    // windows up to the last representable time hold their rows (not tested: a window that
    // would start before the first representable time, 1677-09-21, is not made, so rows of
    // 1677 fall outside calendar windows)
    assert_eq!(
        rows(
            &format!(
                "{edges}data |> range(start: 1900-01-01T00:00:00Z, stop: 2262-04-11T00:00:00Z) \
                 |> window(every: 100y) |> count()"
            ),
            &["_start", "_value"]
        ),
        [
            "_start=1970-01-01T00:00:00Z,_value=1",
            "|",
            "_start=2170-01-01T00:00:00Z,_value=1"
        ]
    );
    // the elapsed of two centuries in ns does not fit an int
    let e = fails(&format!("{edges}data |> elapsed(unit: 1ns)"));
    assert!(e.contains("out of range"), "{e}");
}

/// Flux's `sampledata.int()`: two series of six points, 10 s apart.
const SAMPLE_INT: &str = r#"import "array"
data = array.from(rows: [
  {_time: 2021-01-01T00:00:00Z, tag: "t1", _value: -2},
  {_time: 2021-01-01T00:00:10Z, tag: "t1", _value: 10},
  {_time: 2021-01-01T00:00:20Z, tag: "t1", _value: 7},
  {_time: 2021-01-01T00:00:30Z, tag: "t1", _value: 17},
  {_time: 2021-01-01T00:00:40Z, tag: "t1", _value: 15},
  {_time: 2021-01-01T00:00:50Z, tag: "t1", _value: 4},
  {_time: 2021-01-01T00:00:00Z, tag: "t2", _value: 19},
  {_time: 2021-01-01T00:00:10Z, tag: "t2", _value: 4},
  {_time: 2021-01-01T00:00:20Z, tag: "t2", _value: -3},
  {_time: 2021-01-01T00:00:30Z, tag: "t2", _value: 19},
  {_time: 2021-01-01T00:00:40Z, tag: "t2", _value: 13},
  {_time: 2021-01-01T00:00:50Z, tag: "t2", _value: 1},
]) |> group(columns: ["tag"])
"#;

/// One table's column as a list of its cells.
fn column_of(data: &str, call: &str, label: &str) -> Vec<String> {
    piped(data, call, &[label])
        .into_iter()
        .map(|c| c.trim_start_matches(&format!("{label}=")).to_string())
        .collect()
}

#[test]
fn state_count_and_duration_as_the_documentation_shows() {
    // the stateCount() page: sampledata.int() |> stateCount(fn: (r) => r._value < 10)
    assert_eq!(
        column_of(
            SAMPLE_INT,
            "stateCount(fn: (r) => r._value < 10)",
            "stateCount"
        ),
        ["1", "-1", "1", "-1", "-1", "1", "|", "-1", "1", "2", "-1", "-1", "1"]
    );
    // the stateDuration() page: the seconds since the state began, -1 outside it
    assert_eq!(
        column_of(
            SAMPLE_INT,
            "stateDuration(fn: (r) => r._value < 15)",
            "stateDuration"
        ),
        ["0", "10", "20", "-1", "-1", "0", "|", "-1", "0", "10", "-1", "0", "10"]
    );
    // another unit and column; the new column is an int after the others
    let call = "stateDuration(fn: (r) => r._value < 15, column: \"d\", unit: 1ms)";
    assert_eq!(
        column_of(SAMPLE_INT, call, "d")[..3],
        ["0", "10000", "20000"]
    );
    assert_eq!(
        labels(&format!("{SAMPLE_INT}data |> {call}"))[0],
        ["_time", "tag", "_value", "d"]
    );
    // a null answer does not hold; a row on which fn fails is left out
    assert_eq!(
        column_of(
            SAMPLE_INT,
            "stateCount(fn: (r) => r.nothing > 1 or r._value < 10, column: \"n\")",
            "n"
        )[..3],
        ["1", "-1", "1"]
    );
    assert_eq!(
        column_of(
            SAMPLE_INT,
            "filter(fn: (r) => r.tag == \"t1\") |> stateCount(fn: (r) => 10 / (r._value - 10) < 0)",
            "stateCount"
        ),
        // -2 → 0 (false), 10 divides by zero (left out), 7 → -3, 17 → 1, 15 → 2, 4 → -1
        ["-1", "1", "-1", "-1", "1"]
    );
    refuses(
        SAMPLE_INT,
        &[
            (
                "stateDuration(fn: (r) => true, timeColumn: \"t\")",
                "no column \"t\" exists",
            ),
            ("stateCount(column: \"x\")", "missing required argument fn"),
            (
                "sort(columns: [\"_value\"]) |> stateDuration(fn: (r) => true)",
                "got an out-of-order timestamp",
            ),
        ],
    );
}

#[test]
fn timed_moving_average_is_windows_means_stamped_at_their_stop() {
    // the moving-average guide's example: every 30m, period 1h (the range ends at 03:00, so
    // the last window is clipped there and stamped 03:00 too)
    let guide = r#"import "array"
data = array.from(rows: [
  {_time: 2020-01-01T00:00:00Z, _value: 1.0},
  {_time: 2020-01-01T00:30:00Z, _value: 1.2},
  {_time: 2020-01-01T01:00:00Z, _value: 1.8},
  {_time: 2020-01-01T01:30:00Z, _value: 0.9},
  {_time: 2020-01-01T02:00:00Z, _value: 1.4},
  {_time: 2020-01-01T02:30:00Z, _value: 2.0},
  {_time: 2020-01-01T03:00:00Z, _value: 1.9},
]) |> range(start: 2020-01-01T00:00:00Z, stop: 2020-01-01T03:00:00Z)
"#;
    assert_eq!(
        piped(
            guide,
            "timedMovingAverage(every: 30m, period: 1h)",
            &["_time", "_value"]
        ),
        [
            "_time=2020-01-01T00:30:00Z,_value=1",
            "_time=2020-01-01T01:00:00Z,_value=1.1",
            "_time=2020-01-01T01:30:00Z,_value=1.5",
            "_time=2020-01-01T02:00:00Z,_value=1.35",
            "_time=2020-01-01T02:30:00Z,_value=1.15",
            "_time=2020-01-01T03:00:00Z,_value=1.7",
            "_time=2020-01-01T03:00:00Z,_value=2",
        ]
    );
    let e = fails(&format!("{guide}data |> timedMovingAverage(every: 2m)"));
    assert!(e.contains("period"), "{e}");
}

const HISTOGRAM: &str = r#"import "array"
data = array.from(rows: [
  {le: 0.1, _value: 10.0, h: "a"},
  {le: 0.5, _value: 25.0, h: "a"},
  {le: 0.2, _value: 15.0, h: "a"},
  {le: 1.0, _value: 35.0, h: "a"},
  {le: float(v: "+Inf"), _value: 40.0, h: "a"},
]) |> group(columns: ["h"])
"#;

#[test]
fn histogram_quantile_interpolates_within_the_bucket() {
    for (q, want) in [
        ("0.5", "_value=0.35"),
        ("0.1", "_value=0.04000000000000001"),
        ("0.99", "_value=1"),
        // a rank on a bucket's count is its bound, uninterpolated
        ("0.25", "_value=0.1"),
    ] {
        assert_eq!(
            piped(
                HISTOGRAM,
                &format!("histogramQuantile(quantile: {q})"),
                &["_value"]
            ),
            [want],
            "{q}"
        );
    }
    // the group key and the value column only; minValue is the lowest bucket's lower bound
    let script = format!(
        "{HISTOGRAM}data |> histogramQuantile(quantile: 0.1, minValue: 0.05, valueColumn: \"q\")"
    );
    assert_eq!(labels(&script), [["h", "q"]]);
    assert_eq!(rows(&script, &["q"]), ["q=0.07"]);
    // a count that decreases (0.5's 25 made 12): raised to the one before, or the table dropped
    let dip = "map(fn: (r) => ({r with _value: if r.le == 0.5 then 12.0 else r._value})) |> ";
    assert_eq!(
        piped(
            HISTOGRAM,
            &format!("{dip}histogramQuantile(quantile: 0.5, onNonmonotonic: \"force\")"),
            &["_value"]
        ),
        // counts 10, 15, 15, 35, 40: rank 20 lies between 0.5 (15) and 1.0 (35)
        ["_value=0.625"]
    );
    assert_eq!(
        query(&format!(
            "{HISTOGRAM}data |> {dip}histogramQuantile(quantile: 0.5, onNonmonotonic: \"drop\")"
        ))
        .unwrap()
        .len(),
        0
    );
    refuses(
        HISTOGRAM,
        &[
            ("histogramQuantile()", "missing required argument quantile"),
            (
                "histogramQuantile(quantile: 0.5, upperBoundColumn: \"x\")",
                "table is missing upper bound column \"x\"",
            ),
            (
                "map(fn: (r) => ({r with _value: if r.le == 0.5 then 1.0 else r._value})) |> histogramQuantile(quantile: 0.5)",
                "histogram records counts are not monotonic",
            ),
            (
                "histogramQuantile(quantile: 0.5, onNonmonotonic: \"ignore\")",
                "onNonmonotonic must be",
            ),
            (
                "map(fn: (r) => ({r with _value: 1})) |> histogramQuantile(quantile: 0.5)",
                "count column \"_value\" must be of type float",
            ),
        ],
    );
}

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
