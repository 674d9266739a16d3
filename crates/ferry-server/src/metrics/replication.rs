//! Replication stream metrics: InfluxDB 2's names and labels (`replicationID`, `code`), kept
//! exactly so that dashboards made for influxd work, plus Ferry's lag, gaps and state.
//!
//! The streams hand a snapshot of their counters ([`Stream`]) at scrape time. InfluxDB 2's
//! counters whose names do not end in `_total` are exposed untyped: a counter's name gets
//! `_total` appended by the Prometheus library, which would rename them.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;

use super::encode;

/// One stream's numbers at scrape time.
#[derive(Debug, Clone, Default)]
pub struct Stream {
    /// The replication's ID (label `replicationID`).
    pub id: String,
    /// Points read from the bucket log for sending.
    pub points_queued: u64,
    /// Bytes read from the bucket log for sending.
    pub bytes_queued: u64,
    /// Log bytes held for the stream (behind its cursor).
    pub current_bytes_queued: u64,
    /// Failed remote writes by HTTP status.
    pub errors_by_code: Vec<(u16, u64)>,
    /// Bytes the remote accepted.
    pub bytes_sent: u64,
    /// Bytes dropped as non-retryable.
    pub bytes_dropped: u64,
    /// Age of the oldest unsent write, in seconds.
    pub lag_seconds: f64,
    /// Skipped ranges waiting to be refilled from the store.
    pub pending_gaps: u64,
    /// Points the bucket's retention expired before a gap refill reached them.
    pub points_lost_to_retention: u64,
    /// Every state a stream can be in, and whether it is in it now.
    pub states: Vec<(&'static str, bool)>,
}

/// Encodes the streams' snapshots and their shared memory budget.
#[derive(Debug)]
pub(crate) struct ReplicationCollector(
    pub Vec<Stream>,
    pub crate::replication::memory::BudgetFigures,
);

fn id(s: &Stream) -> [(&'static str, &str); 1] {
    [("replicationID", s.id.as_str())]
}

impl Collector for ReplicationCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> std::fmt::Result {
        let streams = &self.0;
        let memory = &self.1;
        encode::gauge(
            &mut enc,
            "ferry_replication_memory_bytes",
            "Bytes the streams' in-flight batches hold now (of the shared budget).",
            encode::single(memory.held as i64),
        )?;
        encode::gauge(
            &mut enc,
            "ferry_replication_memory_peak_bytes",
            "The most the streams' batches held at once since the start.",
            encode::single(memory.peak as i64),
        )?;
        encode::gauge(
            &mut enc,
            "ferry_replication_memory_limit_bytes",
            "The streams' shared memory budget (--replication-memory-bytes).",
            encode::single(memory.limit as i64),
        )?;
        encode::untyped(
            &mut enc,
            "replications_queue_total_points_queued",
            "Points read from the bucket log for sending.",
            streams.iter().map(|s| (id(s), s.points_queued)),
        )?;
        encode::untyped(
            &mut enc,
            "replications_queue_total_bytes_queued",
            "Bytes read from the bucket log for sending.",
            streams.iter().map(|s| (id(s), s.bytes_queued)),
        )?;
        encode::gauge(
            &mut enc,
            "replications_queue_current_bytes_queued",
            "Log bytes held for the stream (behind its cursor).",
            streams
                .iter()
                .map(|s| (id(s), s.current_bytes_queued as i64)),
        )?;
        encode::untyped(
            &mut enc,
            "replications_queue_remote_write_errors",
            "Failed remote writes by HTTP status.",
            streams.iter().flat_map(|s| {
                s.errors_by_code.iter().map(move |(code, n)| {
                    (
                        vec![("replicationID", s.id.clone()), ("code", code.to_string())],
                        *n,
                    )
                })
            }),
        )?;
        encode::untyped(
            &mut enc,
            "replications_queue_remote_write_bytes_sent",
            "Bytes the remote accepted.",
            streams.iter().map(|s| (id(s), s.bytes_sent)),
        )?;
        encode::untyped(
            &mut enc,
            "replications_queue_remote_write_bytes_dropped",
            "Bytes dropped as non-retryable (in the rejected-lines file).",
            streams.iter().map(|s| (id(s), s.bytes_dropped)),
        )?;
        encode::untyped(
            &mut enc,
            "replications_queue_points_failed_to_queue",
            "Always 0: Ferry never refuses to queue (the log is the queue).",
            streams.iter().map(|s| (id(s), 0)),
        )?;
        encode::untyped(
            &mut enc,
            "replications_queue_bytes_failed_to_queue",
            "Always 0: Ferry never refuses to queue (the log is the queue).",
            streams.iter().map(|s| (id(s), 0)),
        )?;
        encode::gauge(
            &mut enc,
            "ferry_replication_lag_seconds",
            "Age of the oldest unsent write.",
            streams.iter().map(|s| (id(s), s.lag_seconds)),
        )?;
        encode::gauge(
            &mut enc,
            "ferry_replication_pending_gaps",
            "Skipped ranges waiting to be refilled from the store.",
            streams.iter().map(|s| (id(s), s.pending_gaps as i64)),
        )?;
        encode::counter(
            &mut enc,
            "ferry_replication_points_lost_to_retention",
            "Points the bucket's retention expired before a gap refill reached them.",
            streams.iter().map(|s| (id(s), s.points_lost_to_retention)),
        )?;
        encode::gauge(
            &mut enc,
            "ferry_replication_state",
            "1 for the stream's current state, 0 for the others.",
            streams.iter().flat_map(|s| {
                s.states.iter().map(move |(state, now)| {
                    (
                        [("replicationID", s.id.as_str()), ("state", *state)],
                        i64::from(*now),
                    )
                })
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn influxdb_names_and_labels_are_kept() {
        let s = Stream {
            id: "0a1b".into(),
            points_queued: 7,
            bytes_queued: 70,
            current_bytes_queued: 5,
            errors_by_code: vec![(429, 2), (500, 1)],
            bytes_sent: 65,
            lag_seconds: 1.5,
            points_lost_to_retention: 3,
            states: vec![("running", false), ("backing_off", true)],
            ..Stream::default()
        };
        let mut reg = prometheus_client::registry::Registry::default();
        let memory = crate::replication::memory::BudgetFigures {
            held: 1024,
            peak: 4096,
            limit: 8192,
        };
        reg.register_collector(Box::new(ReplicationCollector(vec![s], memory)));
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &reg).unwrap();
        for line in [
            "ferry_replication_memory_bytes 1024",
            "ferry_replication_memory_peak_bytes 4096",
            "ferry_replication_memory_limit_bytes 8192",
            "# TYPE replications_queue_total_points_queued untyped",
            "replications_queue_total_points_queued{replicationID=\"0a1b\"} 7",
            "replications_queue_total_bytes_queued{replicationID=\"0a1b\"} 70",
            "# TYPE replications_queue_current_bytes_queued gauge",
            "replications_queue_current_bytes_queued{replicationID=\"0a1b\"} 5",
            "replications_queue_remote_write_errors{replicationID=\"0a1b\",code=\"429\"} 2",
            "replications_queue_remote_write_errors{replicationID=\"0a1b\",code=\"500\"} 1",
            "replications_queue_remote_write_bytes_sent{replicationID=\"0a1b\"} 65",
            "replications_queue_remote_write_bytes_dropped{replicationID=\"0a1b\"} 0",
            "replications_queue_points_failed_to_queue{replicationID=\"0a1b\"} 0",
            "replications_queue_bytes_failed_to_queue{replicationID=\"0a1b\"} 0",
            "ferry_replication_lag_seconds{replicationID=\"0a1b\"} 1.5",
            "ferry_replication_points_lost_to_retention_total{replicationID=\"0a1b\"} 3",
            "ferry_replication_state{replicationID=\"0a1b\",state=\"running\"} 0",
            "ferry_replication_state{replicationID=\"0a1b\",state=\"backing_off\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line:?} not in\n{text}");
        }
    }
}
