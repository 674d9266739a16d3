//! `integral`: Flux's own tests' answers, ints, lone points and bad arguments.

use crate::common::run::{piped, query, refuses, rows};

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
