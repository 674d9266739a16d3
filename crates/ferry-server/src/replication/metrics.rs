//! A stream's status and counters as the numbers `/metrics` exposes for it (see
//! [`crate::metrics::replication`], which encodes them with InfluxDB 2's names).

use super::status::{Counters, ReplicationStatus, StreamState};
use crate::metrics::replication::Stream;

/// Every state, in the order `/metrics` lists them.
const STATES: [StreamState; 4] = [
    StreamState::Running,
    StreamState::Paused,
    StreamState::BackingOff,
    StreamState::NeedsAttention,
];

/// The numbers of stream `id`.
pub(crate) fn snapshot(id: &str, s: &ReplicationStatus, c: &Counters) -> Stream {
    Stream {
        id: id.to_string(),
        points_queued: c.points_queued,
        bytes_queued: c.bytes_queued,
        current_bytes_queued: s.current_queue_size_bytes,
        errors_by_code: c.errors_by_code.iter().map(|(k, v)| (*k, *v)).collect(),
        bytes_sent: s.bytes_sent,
        bytes_dropped: s.bytes_dropped,
        lag_seconds: s.lag_seconds,
        pending_gaps: s.pending_gaps,
        points_lost_to_retention: s.points_lost_to_retention,
        states: STATES
            .iter()
            .map(|st| (st.as_str(), s.state == *st))
            .collect(),
    }
}
