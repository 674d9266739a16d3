//! `ferry write`: import line protocol and real `influx_inspect export` files into any write
//! target, with retries, concurrency, a rate limit, resume and progress.
//!
//! * [`input`] opens files, URLs, stdin (gzip by name or magic) and reads lines with offsets.
//! * [`lines`] scans line protocol and the export format's DDL/CONTEXT lines textually.
//! * [`coalesce`] turns one-field-per-line exports back into whole points (bounded memory).
//! * [`checkpoint`] records the acknowledged input offset for resume.
//! * [`dest`] maps export contexts to buckets/databases on the target.
//! * [`run`] drives it all; sending uses `ferry_pipeline`'s writers and retry policy.

pub mod checkpoint;
pub mod coalesce;
pub mod dest;
pub mod input;
pub mod lines;
mod run;

pub use dest::{Dest, TargetConfig};
pub use input::InputSpec;
pub use run::{run, ImportConfig, Summary};

/// Why an import failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Bad command-line input.
    #[error("{0}")]
    Usage(String),
    /// Reading the input failed.
    #[error("reading input: {0}")]
    Input(#[from] std::io::Error),
    /// The target failed or refused.
    #[error("{0}")]
    Target(String),
}
