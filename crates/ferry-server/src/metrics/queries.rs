//! Query metrics: latency by kind (InfluxQL, Flux) and queries by outcome.
//!
//! A layer around the query routes records each request once its answer is ready (for a
//! streamed answer, once its head is: the rows stream after). A request counts as an error
//! when it is answered 4xx/5xx or when its handler marks it with [`QueryFailed`] (InfluxQL
//! answers a failed statement with 200 and the error in the results, as InfluxDB 1.x does).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::TypedMetric;

use super::encode;

/// The query language of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `/query` (InfluxDB 1.x).
    InfluxQl,
    /// `/api/v2/query`.
    Flux,
}

impl Kind {
    const ALL: [Kind; 2] = [Kind::InfluxQl, Kind::Flux];

    fn as_str(self) -> &'static str {
        match self {
            Kind::InfluxQl => "influxql",
            Kind::Flux => "flux",
        }
    }
}

/// A response extension: the query answered 200 but a statement of it failed.
#[derive(Debug, Clone, Copy)]
pub struct QueryFailed;

/// Upper bounds of the query latency buckets, in seconds (1 ms to 2 min, the default
/// query timeout).
const LATENCY_BUCKETS: [f64; 16] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

#[derive(Debug)]
struct PerKind {
    latency: Histogram,
    ok: AtomicU64,
    error: AtomicU64,
}

impl Default for PerKind {
    fn default() -> Self {
        PerKind {
            latency: Histogram::new(LATENCY_BUCKETS),
            ok: AtomicU64::new(0),
            error: AtomicU64::new(0),
        }
    }
}

/// The query counters since start.
#[derive(Debug, Default)]
pub struct QueryStats {
    kinds: [PerKind; 2],
}

impl QueryStats {
    /// A query of `kind` was answered after `took`, successfully or not.
    pub fn answered(&self, kind: Kind, ok: bool, took: Duration) {
        let k = &self.kinds[kind as usize];
        k.latency.observe(took.as_secs_f64());
        if ok { &k.ok } else { &k.error }.fetch_add(1, Ordering::Relaxed);
    }
}

/// Reads [`QueryStats`] at scrape time.
#[derive(Debug)]
pub(crate) struct QueriesCollector(pub Arc<QueryStats>);

impl Collector for QueriesCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> std::fmt::Result {
        let s = &self.0;
        {
            let mut family = enc.encode_descriptor(
                "ferry_query_duration_seconds",
                "Time to answer a query request (to the head of a streamed answer), by kind.",
                None,
                Histogram::TYPE,
            )?;
            for kind in Kind::ALL {
                let labels = [("kind", kind.as_str())];
                s.kinds[kind as usize]
                    .latency
                    .encode(family.encode_family(&labels)?)?;
            }
        }
        encode::counter(
            &mut enc,
            "ferry_queries",
            "Query requests by kind and outcome (error: refused, failed, or a statement failed).",
            Kind::ALL.into_iter().flat_map(|kind| {
                let k = &s.kinds[kind as usize];
                [
                    ([("kind", kind.as_str()), ("outcome", "ok")], &k.ok),
                    ([("kind", kind.as_str()), ("outcome", "error")], &k.error),
                ]
                .map(|(l, n)| (l, n.load(Ordering::Relaxed)))
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_and_outcomes_by_kind() {
        let stats = Arc::new(QueryStats::default());
        stats.answered(Kind::InfluxQl, true, Duration::from_millis(2));
        stats.answered(Kind::InfluxQl, false, Duration::from_millis(20));
        stats.answered(Kind::Flux, true, Duration::from_secs(3));
        let mut reg = prometheus_client::registry::Registry::default();
        reg.register_collector(Box::new(QueriesCollector(stats)));
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &reg).unwrap();
        for line in [
            "# TYPE ferry_query_duration_seconds histogram",
            "ferry_query_duration_seconds_count{kind=\"influxql\"} 2",
            "ferry_query_duration_seconds_bucket{kind=\"influxql\",le=\"0.0025\"} 1",
            "ferry_query_duration_seconds_bucket{kind=\"flux\",le=\"2.5\"} 0",
            "ferry_query_duration_seconds_bucket{kind=\"flux\",le=\"5\"} 1",
            "ferry_queries_total{kind=\"influxql\",outcome=\"ok\"} 1",
            "ferry_queries_total{kind=\"influxql\",outcome=\"error\"} 1",
            "ferry_queries_total{kind=\"flux\",outcome=\"ok\"} 1",
            "ferry_queries_total{kind=\"flux\",outcome=\"error\"} 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line:?} not in\n{text}");
        }
    }
}
