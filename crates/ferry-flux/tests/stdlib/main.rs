//! Table functions run end to end through `query::run`: `integral`, `elapsed`, `mode`,
//! `quantile(method: "exact_selector")`, `reduce`, `rename(fn:)`, `aggregateWindow` with a
//! user-defined `fn`, calendar windows, `stateCount`, `stateDuration`, `timedMovingAverage`,
//! `histogramQuantile`, `keyValues`, `tableFind` and the functions that take scalars out of
//! tables, `contains`, `length`, `display`. The expected answers are those of Flux's own tests
//! (`stdlib/universe/*_test.flux`) where they have one, else worked out by hand in the test.
//!
//! One test binary; a module a topic.

#[path = "../common/mod.rs"]
mod common;

mod aggregates;
mod integral;
mod scalars;
mod sink;
mod state;
mod windows;

/// Flux's `sampledata.int()`: two series of six points, 10 s apart.
pub(crate) const SAMPLE_INT: &str = r#"import "array"
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
