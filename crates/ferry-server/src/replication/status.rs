//! What a stream reports: InfluxDB's fields plus what its users asked for, and the counters
//! `/metrics` reads.

use std::collections::BTreeMap;

/// The state of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StreamState {
    /// Sending, or caught up and waiting for writes.
    #[default]
    Running,
    /// Paused by an operator; the log keeps its data (up to the queue bounds).
    Paused,
    /// The remote failed (network, 5xx, 429, 503); waiting before the next try.
    BackingOff,
    /// The remote refused us (401, 403, 404, or a bad line without dropNonRetryableData):
    /// nothing more is sent until an operator fixes it (update, resume).
    NeedsAttention,
}

impl StreamState {
    /// The name used in JSON and the CLI: `running`, `paused`, `backing_off`, `needs_attention`.
    pub fn as_str(self) -> &'static str {
        match self {
            StreamState::Running => "running",
            StreamState::Paused => "paused",
            StreamState::BackingOff => "backing_off",
            StreamState::NeedsAttention => "needs_attention",
        }
    }
}

/// Runtime status of one replication stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReplicationStatus {
    /// Current state.
    pub state: StreamState,
    /// Log bytes held for this stream (behind its cursor), as InfluxDB's field.
    pub current_queue_size_bytes: u64,
    /// Bytes still to send: the queue plus pending gap refills.
    pub remaining_bytes_to_be_synced: u64,
    /// HTTP status of the latest remote answer (`None` before the first attempt).
    pub latest_response_code: Option<u16>,
    /// The latest error, for people (`None` before the first attempt or after success).
    pub latest_error_message: Option<String>,
    /// Seconds since the oldest unsent write was accepted locally (0 when caught up).
    pub lag_seconds: f64,
    /// Points the remote accepted.
    pub points_sent: u64,
    /// Line-protocol bytes the remote accepted (uncompressed).
    pub bytes_sent: u64,
    /// Points dropped as non-retryable (400 with dropNonRetryableData), in the rejected file.
    pub points_dropped: u64,
    /// Bytes of those points.
    pub bytes_dropped: u64,
    /// Skipped ranges (queue bound exceeded) waiting to be refilled from the store.
    pub pending_gaps: u64,
    /// Points that could not be refilled because the bucket's retention had expired them.
    pub points_lost_to_retention: u64,
}

/// Counters for `/metrics` (InfluxDB's replication metric names).
#[derive(Debug, Clone, Default)]
pub(crate) struct Counters {
    pub points_queued: u64,
    pub bytes_queued: u64,
    pub errors_by_code: BTreeMap<u16, u64>,
}
