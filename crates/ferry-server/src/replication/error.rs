//! Why a stream cannot go on. A leaf: every part of the stream names it. Its text becomes the
//! stream's status message (`latestErrorMessage`) as it was when these were strings; the
//! variants keep what failed underneath as the `source`.

use ferry_log::LogError;
use ferry_pipeline::SinkError;

#[derive(Debug, thiserror::Error)]
pub(crate) enum StreamError {
    /// Reading the bucket log.
    #[error(transparent)]
    Log(#[from] LogError),
    /// Reading the bucket's store (a gap refill).
    #[error(transparent)]
    Store(#[from] ferry_store::StoreError),
    /// A blocking read panicked or was cancelled.
    #[error(transparent)]
    Join(#[from] tokio::task::JoinError),
    /// The stream's gap file; `what` was being done ("save the stream's gaps").
    #[error("cannot {what}: {source}")]
    GapFile {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// The stream's log cursor; `what` was being done ("move the stream's log cursor").
    #[error("cannot {what}: {source}")]
    Cursor {
        what: &'static str,
        #[source]
        source: LogError,
    },
    /// The token the replication acts with may not ship the bucket (see `authority.rs`).
    #[error("{0}")]
    Authority(String),
    /// Neither a remote bucket ID nor a name.
    #[error("the replication names no remote bucket")]
    NoRemoteBucket,
    /// The remote's URL or settings cannot make a writer.
    #[error("cannot set up the remote writer: {0}")]
    Writer(#[source] SinkError),
    /// The remote refused `validate`'s empty write.
    #[error("remote {url} refused a test write: {why}")]
    Refused { url: String, why: String },
}
