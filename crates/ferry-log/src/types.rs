//! The log's public types and errors, and the helpers every part of the log uses.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferry_fs::Fs;
/// Log sequence number: the logical byte offset of a record in the
/// concatenation of all records (segment headers excluded).
pub type Lsn = u64;

/// Callback invoked on the commit thread with each durable group, in LSN order. `A` is the
/// log's attachment type (see [`Log`](crate::Log)).
pub type OnCommit<A = ()> = Box<dyn FnMut(Vec<CommittedRecord<A>>) + Send>;

/// Magic bytes at the start of every segment file.
pub const SEGMENT_MAGIC: &[u8; 8] = b"FERRYLOG";
/// On-disk format version written after the magic.
pub const FORMAT_VERSION: u32 = 1;
/// Length of the segment header (magic + version).
pub const SEGMENT_HEADER_LEN: u64 = 12;
/// Length of a record header (payload length + crc32c).
pub const RECORD_HEADER_LEN: u64 = 8;

/// Tuning options for a [`Log`]. None of them affect the on-disk format, so
/// they may change between runs.
#[derive(Debug, Clone)]
pub struct LogOptions {
    /// Roll to a new segment before a record would make the active segment
    /// larger than this (default 64 MiB).
    pub segment_bytes: u64,
    /// `fdatasync` every group before acknowledging it (default `true`).
    /// With `false`, acknowledged records may be lost on power failure;
    /// only for benchmarks and tests.
    pub fsync: bool,
    /// Largest accepted payload; bigger appends fail immediately with
    /// [`LogError::RecordTooLarge`] (default 16 MiB).
    pub max_record_bytes: u32,
    /// The lowest LSN the next append may get: the highest LSN a consumer outside the log has
    /// recorded as consumed (the store's persisted LSN). If the recovered log ends below it
    /// (or below any cursor) because records were lost, appends continue at the floor in a
    /// new segment and the missing range becomes a [`Hole`]: an LSN a consumer has seen is
    /// never given to a new record, which that consumer would skip. Default 0.
    pub min_next_lsn: Lsn,
    /// The file system the log lives on: [`ferry_fs::RealFs`], or a simulated one in tests.
    pub fs: Arc<dyn Fs>,
    /// Told how long each `fdatasync` of segment data took (default none): the server's
    /// fsync latency histogram. Called on the writer thread once per group (and per roll).
    pub on_fsync: Option<FsyncObserver>,
}

/// A callback told the duration of every `fdatasync` of segment data (see
/// [`LogOptions::on_fsync`]); it must be cheap, it runs on the writer thread.
#[derive(Clone)]
pub struct FsyncObserver(pub Arc<dyn Fn(std::time::Duration) + Send + Sync>);

impl std::fmt::Debug for FsyncObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FsyncObserver")
    }
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            segment_bytes: 64 * 1024 * 1024,
            fsync: true,
            max_record_bytes: 16 * 1024 * 1024,
            min_next_lsn: 0,
            fs: Arc::new(ferry_fs::RealFs),
            on_fsync: None,
        }
    }
}

/// A record that has just been made durable, handed to `on_commit`.
#[derive(Debug)]
pub struct CommittedRecord<A = ()> {
    /// LSN of the record.
    pub lsn: Lsn,
    /// LSN of the record that follows it (`lsn + 8 + payload length`).
    pub next_lsn: Lsn,
    /// The record's payload, as written.
    pub payload: Vec<u8>,
    /// The attachment given to [`Log::append`](crate::Log::append): a value carried
    /// alongside the record to `on_commit`, never written to disk (so lost on crash).
    pub attachment: A,
}

/// One piece of data cut off (and preserved in a `.corrupt` file) by recovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TruncatedTail {
    /// Segment file that was cut or moved aside.
    pub segment: PathBuf,
    /// LSN of the first byte that was cut.
    pub at_lsn: Lsn,
    /// Number of bytes removed from the segment (or the size of a segment
    /// moved aside).
    pub bytes_cut: u64,
    /// Why the data was rejected.
    pub reason: String,
}

/// A range of LSNs `[from, to)` inside the retained log that holds no readable record:
/// damaged bytes with valid records after them, a segment that ends short of its successor,
/// or records that consumers had already seen but that the log no longer has (see
/// [`LogOptions::min_next_lsn`]). Readers skip holes; nothing is ever appended into one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hole {
    /// First LSN of the hole (the end of the last valid record before it).
    pub from: Lsn,
    /// First LSN after it (the next valid record, or the next segment's base).
    pub to: Lsn,
    /// What is there instead of records.
    pub reason: String,
}

impl Hole {
    /// Bytes of log the hole spans.
    pub fn len(&self) -> u64 {
        self.to - self.from
    }

    /// Whether the hole spans no byte (never true for a hole the log reports).
    pub fn is_empty(&self) -> bool {
        self.to == self.from
    }
}

/// What [`Log::open`] found and repaired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryReport {
    /// LSN the next append will get; everything below it is valid or a hole.
    pub end_lsn: Lsn,
    /// Every torn or damaged tail cut from the newest segment (at most one per open);
    /// empty after a clean shutdown.
    pub truncated: Vec<TruncatedTail>,
    /// Every hole of the retained log, in LSN order: found again at each open until
    /// retention deletes the segments around it.
    pub holes: Vec<Hole>,
}

/// Counters since [`Log::open`] (not persisted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogStats {
    /// Records made durable.
    pub appends: u64,
    /// `fdatasync` calls on segment data (one per group, plus one per roll).
    pub fsyncs: u64,
    /// Record bytes written, framing included.
    pub bytes: u64,
}

/// Errors of the log. Cloneable so that every waiter of a failed group gets it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LogError {
    /// An I/O operation on `path` failed.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        /// File or directory involved.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: Arc<io::Error>,
    },
    /// Data on disk failed validation (outside of recovery, which repairs it).
    #[error("corrupt log data in {} at LSN {lsn}: {reason}", path.display())]
    Corrupt {
        /// File containing the bad data.
        path: PathBuf,
        /// LSN (or position) of the bad data.
        lsn: Lsn,
        /// What was wrong.
        reason: String,
    },
    /// The requested LSN lies in a segment that was deleted by retention.
    #[error("LSN {requested} is no longer retained; oldest retained LSN is {oldest}")]
    Truncated {
        /// LSN asked for.
        requested: Lsn,
        /// Oldest LSN still readable.
        oldest: Lsn,
    },
    /// Payload exceeds [`LogOptions::max_record_bytes`]; nothing was written.
    #[error("record of {len} bytes exceeds max_record_bytes {max}")]
    RecordTooLarge {
        /// Payload length.
        len: usize,
        /// Configured maximum.
        max: u32,
    },
    /// A bad argument (empty payload, LSN beyond the end or not on a record
    /// boundary, invalid cursor name, invalid options).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// An earlier write, fsync or `on_commit` failure poisoned the log; no
    /// further appends are accepted until it is reopened.
    #[error("log failed after an earlier error: {reason}")]
    Failed {
        /// The original failure.
        reason: String,
    },
    /// The log was closed.
    #[error("log is closed")]
    Closed,
}

pub(crate) fn io_err(path: &Path, e: io::Error) -> LogError {
    LogError::Io {
        path: path.to_path_buf(),
        source: Arc::new(e),
    }
}
