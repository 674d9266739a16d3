//! Ferry's pull connector (`ferry sync`) and remote export.
//!
//! A sync reads a source InfluxDB (1.x, or 2.x through its v1-compatible `/query`) with
//! InfluxQL in time windows — `SELECT * FROM "m" WHERE time >= A AND time < B GROUP BY *`,
//! chunked JSON with ns epochs — converts the chunks to line protocol as they stream in
//! ([`convert`]), and writes batches to the target through `ferry-pipeline`'s shared writers
//! and retry policy ([`target`]). Progress is a set of copied intervals per measurement saved
//! after every window ([`state`]), so a killed sync resumes where it stopped; a window that
//! fails or returns too many points is halved ([`window`]), which keeps memory bounded.

pub mod convert;
mod engine;
pub mod export;
pub mod source;
pub mod spec;
pub mod state;
pub mod target;
pub mod window;

use std::path::Path;

pub use engine::{check, run_sync, CheckReport, SyncSummary, Verified};
pub use spec::{SourceArgs, SyncSpec};
pub use target::{DefaultTarget, Target};

/// A sync's failure.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// Bad settings.
    #[error("{0}")]
    Config(String),
    /// Local file I/O.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error from the operating system or parser, as it was reported.
        source: std::io::Error,
    },
    /// The source failed for good.
    #[error("source: {0}")]
    Source(String),
    /// The target failed for good.
    #[error("target: {0}")]
    Target(String),
    /// Field types conflict on the source.
    #[error("{0}")]
    TypeConflicts(String),
    /// Verification found differences.
    #[error("{0}")]
    Verify(String),
}

impl SyncError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> SyncError {
        SyncError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}
