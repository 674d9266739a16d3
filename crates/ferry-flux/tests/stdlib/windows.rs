//! `aggregateWindow` with a user-defined `fn` or a `period`, calendar windows, windows charged
//! before they are made, and extreme arguments.

use crate::common::run::{fails, piped, query, refuses, rows};

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
