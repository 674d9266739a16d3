//! Storage metrics, summed over the open buckets: the log (fsync latency, appends, bytes and
//! segments on disk), the in-memory buffer, and the store's persists and compactions.
//!
//! The logs and stores count for themselves (relaxed atomics in ferry-log and ferry-store,
//! which know nothing of Prometheus); this collector reads them at scrape time. Only the
//! fsync latency is recorded here, through the log's fsync observer, once per group commit.
//! The sums carry no bucket label: `/metrics` takes no token, and bucket IDs are not shown
//! to requests that may not read the bucket (as `/health` does).

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::TypedMetric;

use super::encode::{self, single as one};
use crate::engine::BucketEngine;

/// Upper bounds of the fsync latency buckets, in seconds (100 µs to 10 s).
const FSYNC_BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// The latency of every log fsync (group commit) of every bucket.
#[derive(Debug, Clone)]
pub struct FsyncLatency(Histogram);

impl Default for FsyncLatency {
    fn default() -> Self {
        FsyncLatency(Histogram::new(FSYNC_BUCKETS))
    }
}

impl FsyncLatency {
    /// The observer to give each bucket log ([`ferry_log::LogOptions::on_fsync`]).
    pub fn observer(&self) -> ferry_log::FsyncObserver {
        let h = self.0.clone();
        ferry_log::FsyncObserver(Arc::new(move |d: Duration| h.observe(d.as_secs_f64())))
    }
}

/// Sums of what the open buckets' logs and stores report.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Totals {
    buckets: u64,
    log_appends: u64,
    log_bytes_appended: u64,
    log_fsyncs: u64,
    log_disk_bytes: u64,
    log_segments: u64,
    buffer_bytes: u64,
    store_files: u64,
    persists: u64,
    persist_failures: u64,
    persist_seconds: f64,
    compactions: u64,
    compacted_files: u64,
}

impl Totals {
    fn of(engines: &[Arc<BucketEngine>]) -> Totals {
        let mut t = Totals::default();
        for e in engines {
            let log = e.log().stats();
            let store = e.store().stats();
            t.buckets += 1;
            t.log_appends += log.appends;
            t.log_bytes_appended += log.bytes;
            t.log_fsyncs += log.fsyncs;
            t.log_disk_bytes += e.log().disk_bytes();
            t.log_segments += e.log().segment_count() as u64;
            t.buffer_bytes += e.store().buffered_bytes() as u64;
            t.store_files += e.store().file_count() as u64;
            t.persists += store.persists;
            t.persist_failures += store.persist_failures;
            t.persist_seconds += store.persist_nanos as f64 / 1e9;
            t.compactions += store.compactions;
            t.compacted_files += store.compacted_files;
        }
        t
    }
}

/// Reads the open buckets' logs and stores at scrape time.
pub(crate) struct BucketsCollector {
    pub engines: Vec<Arc<BucketEngine>>,
    pub fsync: FsyncLatency,
}

impl std::fmt::Debug for BucketsCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BucketsCollector")
            .field("buckets", &self.engines.len())
            .finish()
    }
}

impl Collector for BucketsCollector {
    fn encode(&self, enc: DescriptorEncoder) -> std::fmt::Result {
        encode_totals(enc, &Totals::of(&self.engines), &self.fsync)
    }
}

fn encode_totals(mut enc: DescriptorEncoder, t: &Totals, fsync: &FsyncLatency) -> std::fmt::Result {
    encode::gauge(
        &mut enc,
        "ferry_buckets_open",
        "Buckets open on the node.",
        one(t.buckets),
    )?;
    fsync.0.encode(enc.encode_descriptor(
        "ferry_log_fsync_duration_seconds",
        "Latency of the bucket logs' fdatasync calls (one per group commit, plus one per segment roll).",
        None,
        Histogram::TYPE,
    )?)?;
    encode::counter(
        &mut enc,
        "ferry_log_fsyncs",
        "fdatasync calls of the bucket logs since their open.",
        one(t.log_fsyncs),
    )?;
    encode::counter(
        &mut enc,
        "ferry_log_appended_records",
        "Records made durable in the bucket logs since their open (one per written request).",
        one(t.log_appends),
    )?;
    encode::counter(
        &mut enc,
        "ferry_log_appended_bytes",
        "Bytes (framing included) made durable in the bucket logs since their open.",
        one(t.log_bytes_appended),
    )?;
    encode::gauge(
        &mut enc,
        "ferry_log_disk_bytes",
        "Size of the bucket logs' segment files on disk.",
        one(t.log_disk_bytes),
    )?;
    encode::gauge(
        &mut enc,
        "ferry_log_segments",
        "Segment files of the bucket logs on disk.",
        one(t.log_segments),
    )?;
    encode::gauge(
        &mut enc,
        "ferry_buffer_bytes",
        "Memory held by the in-memory buffers (points applied, not yet persisted to Parquet).",
        one(t.buffer_bytes),
    )?;
    encode::gauge(
        &mut enc,
        "ferry_store_files",
        "Parquet files of the stores.",
        one(t.store_files),
    )?;
    encode::counter(
        &mut enc,
        "ferry_store_persists",
        "Persists of a buffer to Parquet since open.",
        one(t.persists),
    )?;
    encode::counter(
        &mut enc,
        "ferry_store_persist_failures",
        "Persists that failed (the points stay buffered and in the log).",
        one(t.persist_failures),
    )?;
    encode::counter(
        &mut enc,
        "ferry_store_persist_seconds",
        "Time spent persisting buffers to Parquet.",
        one(t.persist_seconds),
    )?;
    encode::counter(
        &mut enc,
        "ferry_store_compactions",
        "Compactions that merged Parquet files since open.",
        one(t.compactions),
    )?;
    encode::counter(
        &mut enc,
        "ferry_store_compacted_files",
        "Parquet files merged away by compactions since open.",
        one(t.compacted_files),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Fixed(Totals, FsyncLatency);

    impl Collector for Fixed {
        fn encode(&self, enc: DescriptorEncoder) -> std::fmt::Result {
            encode_totals(enc, &self.0, &self.1)
        }
    }

    #[test]
    fn encodes_the_totals_and_the_fsync_histogram() {
        let fsync = FsyncLatency::default();
        let observe = fsync.observer();
        (observe.0)(Duration::from_micros(300));
        (observe.0)(Duration::from_millis(3));
        let t = Totals {
            buckets: 2,
            log_disk_bytes: 4096,
            persists: 3,
            persist_seconds: 0.5,
            ..Totals::default()
        };
        let mut reg = prometheus_client::registry::Registry::default();
        reg.register_collector(Box::new(Fixed(t, fsync)));
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &reg).unwrap();
        for line in [
            "# TYPE ferry_log_fsync_duration_seconds histogram",
            "ferry_log_fsync_duration_seconds_bucket{le=\"0.00025\"} 0",
            "ferry_log_fsync_duration_seconds_bucket{le=\"0.0005\"} 1",
            "ferry_log_fsync_duration_seconds_bucket{le=\"+Inf\"} 2",
            "ferry_log_fsync_duration_seconds_count 2",
            "ferry_buckets_open 2",
            "ferry_log_disk_bytes 4096",
            "ferry_store_persists_total 3",
            "ferry_store_persist_seconds_total 0.5",
            "# TYPE ferry_buffer_bytes gauge",
        ] {
            assert!(text.lines().any(|l| l == line), "{line:?} not in\n{text}");
        }
    }
}
