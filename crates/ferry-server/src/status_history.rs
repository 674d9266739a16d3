//! The status page's memory: a fixed-size ring of samples per replication stream (lag,
//! queue, bytes sent) and the latest figures of each bucket, filled by [`run`] every
//! sample interval. Its budget is fixed: [`SAMPLES`] samples for at most [`MAX_STREAMS`]
//! streams (about 5.8 MB at most); streams past the cap are counted, not sampled.
//!
//! It knows nothing of the node: [`run`] is given a function that reads the figures, so this
//! file depends on no other module of the crate.

use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::time::Duration;

/// Samples kept per stream: one hour at the default interval of 10 s.
pub const SAMPLES: usize = 360;

/// Streams whose history is kept; the others show their current status only.
pub const MAX_STREAMS: usize = 400;

/// The default sample interval.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);

/// One stream's figures at one instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StreamSample {
    /// Unix time of the sample, in milliseconds.
    pub t_ms: i64,
    /// Seconds since the oldest unsent write was accepted (0 when caught up).
    pub lag_seconds: f32,
    /// Bytes still to send.
    pub lag_bytes: u64,
    /// Log bytes held for the stream.
    pub queue_bytes: u64,
    /// Bytes the remote accepted since the node started (a counter).
    pub bytes_sent: u64,
}

/// What the reader reports for one stream.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamReading {
    /// Replication ID.
    pub id: String,
    /// Its figures now (`t_ms` is set by the history).
    pub sample: StreamSample,
}

/// What the reader reports for one bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketReading {
    /// Bucket ID.
    pub id: String,
    /// Rows stored, as an upper bound from metadata: the files' rows (a timestamp of a series
    /// with its fields) plus the buffers' values (one per field until a persist makes rows),
    /// before compaction merges duplicates.
    pub rows: u64,
    /// Bytes of the bucket's directory (log segments and Parquet files).
    pub disk_bytes: u64,
    /// Bytes appended to the bucket's log since the node started (a counter).
    pub log_bytes: u64,
}

/// A bucket's figures as the page shows them.
#[derive(Debug, Clone, PartialEq)]
pub struct BucketFigures {
    /// The latest reading.
    pub reading: BucketReading,
    /// Log bytes per second over the last sample interval.
    pub ingest_bytes_per_second: f64,
    /// Unix time of the reading, in milliseconds.
    pub t_ms: i64,
}

#[derive(Default)]
struct Inner {
    streams: HashMap<String, VecDeque<StreamSample>>,
    untracked: usize,
    buckets: HashMap<String, BucketFigures>,
}

/// The sampled history (see the module doc).
pub struct StatusHistory {
    interval: Duration,
    inner: Mutex<Inner>,
}

impl StatusHistory {
    /// An empty history sampled every `interval` (at least 1 s).
    pub fn new(interval: Duration) -> StatusHistory {
        StatusHistory {
            interval: interval.max(Duration::from_secs(1)),
            inner: Mutex::default(),
        }
    }

    /// The sample interval.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Records one round of readings taken at `t_ms`. Streams and buckets not in it are
    /// forgotten (deleted); a new stream gets a ring only while fewer than [`MAX_STREAMS`]
    /// have one.
    pub fn record(&self, t_ms: i64, streams: Vec<StreamReading>, buckets: Vec<BucketReading>) {
        let mut inner = self.inner.lock();
        let live: std::collections::HashSet<&str> = streams.iter().map(|s| s.id.as_str()).collect();
        inner.streams.retain(|id, _| live.contains(id.as_str()));
        let mut untracked = 0;
        for s in streams {
            let tracked = inner.streams.len();
            let ring = match inner.streams.get_mut(&s.id) {
                Some(r) => r,
                None if tracked < MAX_STREAMS => inner
                    .streams
                    .entry(s.id)
                    .or_insert_with(|| VecDeque::with_capacity(SAMPLES)),
                None => {
                    untracked += 1;
                    continue;
                }
            };
            if ring.len() == SAMPLES {
                ring.pop_front();
            }
            ring.push_back(StreamSample { t_ms, ..s.sample });
        }
        inner.untracked = untracked;
        let mut figures = HashMap::with_capacity(buckets.len());
        for b in buckets {
            let rate = match inner.buckets.get(&b.id) {
                Some(prev) if t_ms > prev.t_ms && b.log_bytes >= prev.reading.log_bytes => {
                    (b.log_bytes - prev.reading.log_bytes) as f64 * 1000.0
                        / (t_ms - prev.t_ms) as f64
                }
                _ => 0.0,
            };
            figures.insert(
                b.id.clone(),
                BucketFigures {
                    reading: b,
                    ingest_bytes_per_second: rate,
                    t_ms,
                },
            );
        }
        inner.buckets = figures;
    }

    /// The samples of stream `id` taken after `since_ms`, oldest first (`None`: not tracked).
    pub fn stream(&self, id: &str, since_ms: i64) -> Option<Vec<StreamSample>> {
        self.inner
            .lock()
            .streams
            .get(id)
            .map(|r| r.iter().filter(|s| s.t_ms > since_ms).copied().collect())
    }

    /// Streams the last round could not track (past [`MAX_STREAMS`]).
    pub fn untracked_streams(&self) -> usize {
        self.inner.lock().untracked
    }

    /// The latest figures of bucket `id`.
    pub fn bucket(&self, id: &str) -> Option<BucketFigures> {
        self.inner.lock().buckets.get(id).cloned()
    }
}

/// Fills `history` every interval with what `read` returns, until the task is aborted.
pub async fn run<F, Fut>(history: std::sync::Arc<StatusHistory>, read: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = (Vec<StreamReading>, Vec<BucketReading>)>,
{
    let mut tick = tokio::time::interval(history.interval());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let (streams, buckets) = read().await;
        let now = chrono::Utc::now().timestamp_millis();
        history.record(now, streams, buckets);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(id: &str, lag: u64) -> StreamReading {
        StreamReading {
            id: id.into(),
            sample: StreamSample {
                t_ms: 0,
                lag_seconds: lag as f32,
                lag_bytes: lag,
                queue_bytes: lag * 2,
                bytes_sent: 100,
            },
        }
    }

    #[test]
    fn a_ring_keeps_the_latest_samples_only() {
        let h = StatusHistory::new(Duration::from_secs(10));
        for i in 0..(SAMPLES as i64 + 25) {
            h.record(i * 10_000, vec![reading("a", i as u64)], vec![]);
        }
        let s = h.stream("a", i64::MIN).unwrap();
        assert_eq!(s.len(), SAMPLES);
        assert_eq!(s[0].lag_bytes, 25);
        assert_eq!(s.last().unwrap().t_ms, (SAMPLES as i64 + 24) * 10_000);
        let since = h.stream("a", (SAMPLES as i64 + 22) * 10_000).unwrap();
        assert_eq!(since.len(), 2);
    }

    #[test]
    fn streams_past_the_cap_are_counted_and_deleted_ones_forgotten() {
        let h = StatusHistory::new(Duration::from_secs(1));
        let many: Vec<StreamReading> = (0..MAX_STREAMS + 3)
            .map(|i| reading(&format!("s{i}"), 1))
            .collect();
        h.record(1, many, vec![]);
        assert_eq!(h.untracked_streams(), 3);
        assert!(h.stream("s0", 0).is_some());
        assert!(h.stream(&format!("s{}", MAX_STREAMS + 2), 0).is_none());
        h.record(2, vec![reading("s1", 1)], vec![]);
        assert!(h.stream("s0", 0).is_none());
        assert_eq!(h.stream("s1", 0).unwrap().len(), 2);
        assert_eq!(h.untracked_streams(), 0);
    }

    #[test]
    fn bucket_ingest_rate_is_the_counter_delta_over_time() {
        let h = StatusHistory::new(Duration::from_secs(10));
        let b = |bytes| BucketReading {
            id: "b".into(),
            rows: 3,
            disk_bytes: 10,
            log_bytes: bytes,
        };
        h.record(1_000, vec![], vec![b(500)]);
        assert_eq!(h.bucket("b").unwrap().ingest_bytes_per_second, 0.0);
        h.record(3_000, vec![], vec![b(4_500)]);
        assert_eq!(h.bucket("b").unwrap().ingest_bytes_per_second, 2_000.0);
        h.record(4_000, vec![], vec![]);
        assert!(h.bucket("b").is_none());
    }
}
