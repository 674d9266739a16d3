//! `stateCount`, `stateDuration`, `timedMovingAverage` and `histogramQuantile`.

use crate::common::run::{fails, labels, piped, query, refuses, rows};
use crate::SAMPLE_INT;

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
