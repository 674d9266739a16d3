//! `GET /metrics`: every subsystem's metrics in the Prometheus text format (0.0.4), encoded
//! by the Prometheus library (`prometheus-client`).
//!
//! Each subsystem keeps cheap counters where it works (relaxed atomics: the write path adds
//! one per request, never one per line, and takes no lock), and one collector per file here
//! reads them when `/metrics` is scraped: writes, storage (the bucket logs, buffers and
//! stores), queries, tasks and replication streams. docs/ARCHITECTURE.md ("Metrics") lists
//! the metrics.

pub mod buckets;
mod encode;
pub mod queries;
pub mod replication;
pub mod tasks;
pub mod writes;

use std::sync::Arc;

use prometheus_client::registry::Registry;

use crate::engine::BucketEngine;

/// The `Content-Type` of the answer: the Prometheus text format, version 0.0.4.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// The counters the node's subsystems bump, shared with them.
#[derive(Debug, Default)]
pub struct Metrics {
    /// The write APIs'.
    pub writes: Arc<writes::WriteStats>,
    /// The bucket logs' fsync latency.
    pub fsync: buckets::FsyncLatency,
    /// The query APIs'.
    pub queries: Arc<queries::QueryStats>,
    /// The task runner's.
    pub tasks: Arc<tasks::TaskStats>,
}

impl Metrics {
    /// The exposition: the counters of this, the open buckets' logs and stores, and the
    /// replication streams' snapshots.
    pub fn render(
        &self,
        engines: Vec<Arc<BucketEngine>>,
        streams: Vec<replication::Stream>,
        replication_memory: crate::replication::memory::BudgetFigures,
    ) -> String {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(writes::WritesCollector(self.writes.clone())));
        registry.register_collector(Box::new(buckets::BucketsCollector {
            engines,
            fsync: self.fsync.clone(),
        }));
        registry.register_collector(Box::new(queries::QueriesCollector(self.queries.clone())));
        registry.register_collector(Box::new(tasks::TasksCollector(self.tasks.clone())));
        registry.register_collector(Box::new(replication::ReplicationCollector(
            streams,
            replication_memory,
        )));
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::prometheus_text::encode(&mut out, &registry) {
            // only a collector's own error could get here: they write to a String
            tracing::error!(error = %e, "cannot encode the metrics");
        }
        out
    }
}
