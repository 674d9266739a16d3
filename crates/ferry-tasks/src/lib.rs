//! ferry-tasks: scheduled tasks, the pure part (no I/O).
//!
//! * [`spec`]: what a task does — a **downsample** (source bucket, measurements, window,
//!   aggregate, destination) or an **InfluxQL query** whose rows are written as points.
//! * [`schedule`]: `every`/`cron` schedules, and the window math that makes runs
//!   incremental and exactly covering.
//! * [`downsample`]: aggregation of scanned series into one point per series and window.
//! * [`rows`]: InfluxQL result rows → points.
//! * [`cq`]: InfluxDB 1.x continuous queries → query tasks (`ferry task import-cq`).
//!
//! The server's runner (`ferry-server/src/tasks`) reads the store, calls these, writes the
//! points and advances `latestCompleted` in the catalog only after the writes succeeded.

pub mod cq;
pub mod downsample;
mod error;
pub mod rows;
pub mod schedule;
pub mod spec;

pub use downsample::{aggregate_series, Aggregate};
pub use error::SpecError;
pub use schedule::{Cron, Schedule};
pub use spec::{Destination, DownsampleSpec, QuerySpec, TaskKind, TaskSpec};
