//! `/metrics` for replication streams, with InfluxDB 2's metric names (label `replicationID`)
//! plus Ferry's lag and state.

use std::fmt::Write;

use super::{Counters, ReplicationStatus, StreamState};

/// Renders the streams' metrics in Prometheus text format.
pub(crate) fn render(streams: &[(String, ReplicationStatus, Counters)]) -> String {
    let mut out = String::new();
    let mut family =
        |name: &str, kind: &str, help: &str, values: &mut dyn Iterator<Item = (String, f64)>| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for (labels, v) in values {
                let _ = writeln!(out, "{name}{{{labels}}} {v}");
            }
        };
    let id = |i: &str| format!("replicationID=\"{i}\"");
    family(
        "replications_queue_total_points_queued",
        "counter",
        "Points read from the bucket log for sending.",
        &mut streams
            .iter()
            .map(|(i, _, c)| (id(i), c.points_queued as f64)),
    );
    family(
        "replications_queue_total_bytes_queued",
        "counter",
        "Bytes read from the bucket log for sending.",
        &mut streams
            .iter()
            .map(|(i, _, c)| (id(i), c.bytes_queued as f64)),
    );
    family(
        "replications_queue_current_bytes_queued",
        "gauge",
        "Log bytes held for the stream (behind its cursor).",
        &mut streams
            .iter()
            .map(|(i, s, _)| (id(i), s.current_queue_size_bytes as f64)),
    );
    family(
        "replications_queue_remote_write_errors",
        "counter",
        "Failed remote writes by HTTP status.",
        &mut streams.iter().flat_map(|(i, _, c)| {
            c.errors_by_code
                .iter()
                .map(move |(code, n)| (format!("{},code=\"{code}\"", id(i)), *n as f64))
        }),
    );
    family(
        "replications_queue_remote_write_bytes_sent",
        "counter",
        "Bytes the remote accepted.",
        &mut streams.iter().map(|(i, s, _)| (id(i), s.bytes_sent as f64)),
    );
    family(
        "replications_queue_remote_write_bytes_dropped",
        "counter",
        "Bytes dropped as non-retryable (in the rejected-lines file).",
        &mut streams
            .iter()
            .map(|(i, s, _)| (id(i), s.bytes_dropped as f64)),
    );
    family(
        "replications_queue_points_failed_to_queue",
        "counter",
        "Always 0: Ferry never refuses to queue (the log is the queue).",
        &mut streams.iter().map(|(i, _, _)| (id(i), 0.0)),
    );
    family(
        "replications_queue_bytes_failed_to_queue",
        "counter",
        "Always 0: Ferry never refuses to queue (the log is the queue).",
        &mut streams.iter().map(|(i, _, _)| (id(i), 0.0)),
    );
    family(
        "ferry_replication_lag_seconds",
        "gauge",
        "Age of the oldest unsent write.",
        &mut streams.iter().map(|(i, s, _)| (id(i), s.lag_seconds)),
    );
    family(
        "ferry_replication_pending_gaps",
        "gauge",
        "Skipped ranges waiting to be refilled from the store.",
        &mut streams
            .iter()
            .map(|(i, s, _)| (id(i), s.pending_gaps as f64)),
    );
    family(
        "ferry_replication_points_lost_to_retention",
        "counter",
        "Points the bucket's retention expired before a gap refill reached them.",
        &mut streams
            .iter()
            .map(|(i, s, _)| (id(i), s.points_lost_to_retention as f64)),
    );
    family(
        "ferry_replication_state",
        "gauge",
        "1 for the stream's current state.",
        &mut streams.iter().flat_map(|(i, s, _)| {
            [
                StreamState::Running,
                StreamState::Paused,
                StreamState::BackingOff,
                StreamState::NeedsAttention,
            ]
            .into_iter()
            .map(move |st| {
                (
                    format!("{},state=\"{}\"", id(i), st.as_str()),
                    if s.state == st { 1.0 } else { 0.0 },
                )
            })
        }),
    );
    out
}
