//! What InfluxQL and Flux share, so that both answer with the same arithmetic:
//!
//! - [`tz`]: time zones as InfluxDB 1.6 loads them, and the window boundaries they cut;
//! - [`windowed`]: the windows a range is cut into and the running state of the streaming
//!   aggregates (`count`, `sum`, `mean`, `min`, `max`, `first`, `last`, `spread`);
//! - [`stats`]: median, standard deviation and the other whole-window statistics;
//! - [`Value`]: one cell of an answer.
//!
//! It is its own crate (a leaf over `ferry-lp`) so that a change to either language's planner
//! or executor rebuilds neither the other language nor this code.

pub mod stats;
pub mod tz;
mod value;
pub mod windowed;

pub use value::Value;
