//! The queries running on the node, and the limits each runs under (InfluxDB 1.x's
//! `query-timeout`, `max-concurrent-queries`, plus memory budgets of our own): what
//! `SHOW QUERIES` lists and `KILL QUERY` stops.
//!
//! Each `/query` request registers itself for as long as it runs ([`Queries::start`]) and
//! runs its statements under [`ferry_store::coop::guarded`] with the limits the registry
//! hands out; stopping a query sets its cancel flag, which the engine sees at its next
//! cooperation point.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use std::time::{Duration, Instant};

use ferry_influxql::exec::RunningQuery;
use ferry_influxql::ContextError;
use ferry_store::coop::Limits;

/// The limits queries run under; zero means none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryLimits {
    /// How long one request's statements may run together.
    pub timeout: Duration,
    /// Memory one query's state may take (scans, window grids, answers).
    pub memory_bytes: usize,
    /// Memory the state of all running queries may take together.
    pub total_memory_bytes: usize,
    /// Queries running at once; more are refused.
    pub max_concurrent: usize,
    /// Series one query may read (`max-select-series`).
    pub max_series: usize,
    /// Points one query may read (`max-select-point`).
    pub max_points: usize,
    /// GROUP BY time windows one group may have (`max-select-buckets`).
    pub max_buckets: usize,
}

impl Default for QueryLimits {
    /// Limits that keep a 1 GB device alive under hostile queries and still answer every
    /// dashboard, and a non-chunked raw SELECT of a million 3-field points (its scan and
    /// answer are charged about 230 MiB): 256 MiB for one query, 384 MiB for all, 2
    /// minutes, 16 at once. Chunked raw SELECTs stream and are not bounded by the answer.
    /// Series, points and windows are not limited (influxd's defaults): the memory budget
    /// bounds what they cost.
    fn default() -> Self {
        QueryLimits {
            timeout: Duration::from_secs(120),
            memory_bytes: 256 << 20,
            total_memory_bytes: 384 << 20,
            max_concurrent: 16,
            max_series: 0,
            max_points: 0,
            max_buckets: 0,
        }
    }
}

struct Entry {
    query: String,
    database: String,
    started: Instant,
    cancel: Arc<AtomicBool>,
}

/// A query refused because [`QueryLimits::max_concurrent`] run already (1.x's text).
#[derive(Debug, thiserror::Error)]
#[error("max-concurrent-queries limit exceeded({running}, {max})")]
pub struct TooManyQueries {
    /// How many run.
    pub running: usize,
    /// The limit.
    pub max: usize,
}

/// The registry of running queries.
pub struct Queries {
    limits: QueryLimits,
    next: AtomicU64,
    running: Arc<Mutex<BTreeMap<u64, Entry>>>,
}

/// A query registered as running; it leaves the registry when dropped.
pub struct Registered {
    qid: u64,
    limits: Limits,
    running: Arc<Mutex<BTreeMap<u64, Entry>>>,
}

impl Registered {
    /// The limits to run its statements under.
    pub fn limits(&self) -> Limits {
        self.limits.clone()
    }

    /// Its ID.
    pub fn qid(&self) -> u64 {
        self.qid
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.running.lock().remove(&self.qid);
    }
}

impl Queries {
    /// A registry handing out `limits`.
    pub fn new(limits: QueryLimits) -> Queries {
        Queries {
            limits,
            next: AtomicU64::new(1),
            running: Default::default(),
        }
    }

    /// The limits in force.
    pub fn config(&self) -> QueryLimits {
        self.limits
    }

    /// Registers a query; refused with InfluxDB 1.x's text when as many run already as
    /// [`QueryLimits::max_concurrent`] allows.
    pub fn start(&self, query: &str, database: &str) -> Result<Registered, TooManyQueries> {
        let mut running = self.running.lock();
        let max = self.limits.max_concurrent;
        if max > 0 && running.len() >= max {
            return Err(TooManyQueries {
                running: running.len(),
                max,
            });
        }
        let qid = self.next.fetch_add(1, Ordering::Relaxed);
        let cancel = Arc::new(AtomicBool::new(false));
        let started = Instant::now();
        running.insert(
            qid,
            Entry {
                query: query.to_string(),
                database: database.to_string(),
                started,
                cancel: cancel.clone(),
            },
        );
        let l = &self.limits;
        Ok(Registered {
            qid,
            limits: Limits {
                deadline: (!l.timeout.is_zero()).then(|| started + l.timeout),
                memory_bytes: l.memory_bytes,
                total_memory_bytes: l.total_memory_bytes,
                cancel,
                max_series: l.max_series,
                max_points: l.max_points,
                max_buckets: l.max_buckets,
            },
            running: self.running.clone(),
        })
    }

    /// Limits for work that is not a request (a task's query): the memory budgets, no
    /// deadline, not listed.
    pub fn background_limits(&self) -> Limits {
        Limits {
            deadline: None,
            memory_bytes: self.limits.memory_bytes,
            total_memory_bytes: self.limits.total_memory_bytes,
            cancel: Default::default(),
            max_series: self.limits.max_series,
            max_points: self.limits.max_points,
            max_buckets: self.limits.max_buckets,
        }
    }

    /// The running queries, oldest first.
    pub fn list(&self) -> Vec<RunningQuery> {
        self.running
            .lock()
            .iter()
            .map(|(qid, e)| RunningQuery {
                qid: *qid,
                query: e.query.clone(),
                database: e.database.clone(),
                duration: e.started.elapsed(),
            })
            .collect()
    }

    /// Stops query `qid` at its next cooperation point.
    pub fn kill(&self, qid: u64) -> Result<(), ContextError> {
        match self.running.lock().get(&qid) {
            Some(e) => {
                e.cancel.store(true, Ordering::Relaxed);
                Ok(())
            }
            None => Err(ContextError::NoSuchQuery(qid)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_lists_limits_and_kills() {
        let q = Queries::new(QueryLimits {
            max_concurrent: 2,
            ..QueryLimits::default()
        });
        let a = q.start("SELECT 1", "db").unwrap();
        let b = q.start("SELECT 2", "").unwrap();
        let e = q.start("SELECT 3", "").err().unwrap();
        assert_eq!(e.to_string(), "max-concurrent-queries limit exceeded(2, 2)");
        let listed: Vec<_> = q.list().into_iter().map(|r| (r.qid, r.query)).collect();
        assert_eq!(
            listed,
            vec![(a.qid(), "SELECT 1".into()), (b.qid(), "SELECT 2".into())]
        );
        q.kill(b.qid()).unwrap();
        assert!(b.limits().cancel.load(Ordering::Relaxed));
        assert!(!a.limits().cancel.load(Ordering::Relaxed));
        drop(b);
        assert_eq!(q.kill(99).unwrap_err().to_string(), "no such query id: 99");
        assert_eq!(q.list().len(), 1);
        assert!(q.start("SELECT 4", "").is_ok());
    }
}
