//! Errors of building sinks (not of writing: a write's answer is a [`crate::WriteOutcome`]).

/// Why a sink could not be built or configured.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The remote's base URL does not parse or is not http(s).
    #[error("invalid remote URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The remote needs a bucket/database name and none was given.
    #[error("no remote bucket or database given")]
    MissingBucket,
    /// The CA certificate file could not be read.
    #[error("cannot read CA certificate file {path}: {source}")]
    CaCertFile {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The CA certificate is not valid PEM.
    #[error("invalid CA certificate: {0}")]
    CaCert(String),
    /// The HTTP client could not be built.
    #[error("cannot build HTTP client: {0}")]
    Client(String),
    /// A rate limit that does not follow the `influx write --rate-limit` grammar.
    #[error("invalid rate limit {0:?}: expected e.g. \"5MB/5min\", \"17kBs\" or \"1MB/s\"")]
    InvalidRateLimit(String),
    /// Writing the rejected-lines file failed.
    #[error("rejected-lines file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}
