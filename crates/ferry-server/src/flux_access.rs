//! The buckets, secrets and writes a Flux query or task may use: those of its org that its
//! token allows, answered from the catalog and the bucket engines.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use ferry_catalog::{Action, Authorization, Org};
use ferry_flux::query::{Query, QueryError, QueryErrorKind, Results};
use ferry_flux::table::{BucketInfo, RemoteTarget, SourceError};
use ferry_lp::RemoteKind;
use ferry_pipeline::{RemoteWriter, WriteTarget};
use ferry_store::BucketStore;

use crate::flux_source::{Buckets, StoreSource};
use crate::node::Node;
use crate::tasks::Sink;

/// The buckets of the query's org, as its token may read them.
pub struct TokenBuckets {
    node: Arc<Node>,
    auth: Option<Authorization>,
    org: Org,
    /// To open a bucket's engine from the query's thread.
    rt: tokio::runtime::Handle,
    /// Whether the query runs on a runtime worker (`http/worker.rs`), which must become a
    /// blocking thread before it blocks on a future.
    on_worker: bool,
    /// Points `to()` wrote.
    written: AtomicUsize,
}

impl TokenBuckets {
    /// The buckets of `org` as `auth` (none: auth off) may use them; call on the runtime.
    pub fn new(node: Arc<Node>, auth: Option<Authorization>, org: Org) -> Self {
        TokenBuckets {
            node,
            auth,
            org,
            rt: tokio::runtime::Handle::current(),
            on_worker: false,
            written: AtomicUsize::new(0),
        }
    }

    /// The same, for a query that runs on the runtime worker that received it.
    #[must_use]
    pub fn on_worker(mut self) -> Self {
        self.on_worker = true;
        self
    }

    /// Runs `f` to completion from the query's thread (a worker first becomes a blocking
    /// thread: a worker may not block on a future itself).
    fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        if self.on_worker {
            tokio::task::block_in_place(|| self.rt.block_on(f))
        } else {
            self.rt.block_on(f)
        }
    }

    /// Points written so far.
    pub fn written(&self) -> usize {
        self.written.load(Ordering::Relaxed)
    }

    /// The org's bucket called `name`; failing that, a `db/rp` name (InfluxDB 1.8's Flux
    /// form, which Grafana's sample query writes as `from(bucket: "db/rp")`; `db/` is the
    /// default policy) as the v1 API maps it.
    fn bucket_named(&self, name: &str) -> Result<ferry_catalog::Bucket, SourceError> {
        let not_found = || SourceError::NotFound(name.to_string());
        match self.node.catalog.bucket_by_name(&self.org.id, name) {
            Ok(b) => Ok(b),
            Err(_) => {
                let (db, rp) = name.rsplit_once('/').ok_or_else(not_found)?;
                if db.is_empty() {
                    return Err(not_found());
                }
                self.node
                    .catalog
                    .resolve_dbrp(&self.org.id, db, rp)
                    .ok()
                    .flatten()
                    .ok_or_else(not_found)
            }
        }
    }

    fn may_read(&self, b: &ferry_catalog::Bucket) -> bool {
        self.node
            .require(&self.auth, Action::Read, "buckets", &b.org_id, Some(&b.id))
            .is_ok()
    }
}

impl Buckets for TokenBuckets {
    fn readable(&self, name: &str) -> Result<Arc<BucketStore>, SourceError> {
        let bucket = self.bucket_named(name)?;
        if !self.may_read(&bucket) {
            return Err(SourceError::Forbidden(format!("read bucket {name:?}")));
        }
        let engine = match self.node.engine_if_open(&bucket.id) {
            Some(e) => e,
            None => self
                .block_on(self.node.engine(&bucket.id))
                .map_err(|e| SourceError::Store(e.to_string()))?,
        };
        if let Some(store) = engine.readable_store_now() {
            return Ok(store);
        }
        Ok(self.block_on(engine.readable_store()))
    }

    fn write(&self, name: &str, points: Vec<ferry_lp::Point>) -> Result<usize, SourceError> {
        let bucket = self.bucket_named(name)?;
        self.node
            .require(
                &self.auth,
                Action::Write,
                "buckets",
                &bucket.org_id,
                Some(&bucket.id),
            )
            .map_err(|_| SourceError::Forbidden(format!("write bucket {name:?}")))?;
        let n = points.len();
        if n == 0 {
            return Ok(0);
        }
        self.block_on(async {
            let engine = self
                .node
                .engine(&bucket.id)
                .await
                .map_err(|e| e.to_string())?;
            engine.write_made(points).await.map_err(|e| e.to_string())
        })
        .map_err(|e| SourceError::Store(format!("to(): writing to {name:?}: {e}")))?;
        self.written.fetch_add(n, Ordering::Relaxed);
        Ok(n)
    }

    fn write_remote(
        &self,
        target: &RemoteTarget,
        points: Vec<ferry_lp::Point>,
    ) -> Result<usize, SourceError> {
        let mut t = WriteTarget::new(RemoteKind::V2, target.host.clone(), target.bucket.clone());
        t.org = Some(target.org.clone()).filter(|o| !o.is_empty());
        t.token = target.token.clone();
        let writer = RemoteWriter::new(t).map_err(|e| SourceError::Store(e.to_string()))?;
        let n = points.len();
        self.block_on(Sink::Remote(writer).write(points))
            .map_err(|e| SourceError::Store(format!("to(): {e}")))?;
        self.written.fetch_add(n, Ordering::Relaxed);
        Ok(n)
    }

    fn secret(&self, key: &str) -> Result<String, SourceError> {
        self.node
            .require(&self.auth, Action::Read, "secrets", &self.org.id, None)
            .map_err(|_| SourceError::Forbidden(format!("read secret {key:?}")))?;
        self.node
            .catalog
            .secret_value(&self.org.id, key)
            .map_err(|_| SourceError::SecretNotFound(key.to_string()))
    }

    fn list(&self) -> Result<Vec<BucketInfo>, SourceError> {
        let list = self
            .node
            .catalog
            .list_buckets(Some(&self.org.id))
            .map_err(|e| SourceError::Store(e.to_string()))?;
        Ok(list
            .into_iter()
            .filter(|b| self.may_read(b))
            .map(|b| BucketInfo {
                name: b.name,
                id: b.id,
                org_id: b.org_id,
                retention_ns: b.retention_seconds.saturating_mul(1_000_000_000),
            })
            .collect())
    }
}

/// What a Flux query or task run did.
pub struct Ran {
    /// Its results.
    pub results: Results,
    /// The leniencies that applied (`ferry_flux::leniency`).
    pub notes: Vec<String>,
    /// The points its `to()` calls wrote.
    pub written: usize,
}

/// A Flux script and what it runs as of.
pub struct FluxRun<'a> {
    /// The script.
    pub script: &'a str,
    /// The request's `extern` statements.
    pub extern_file: Option<&'a ferry_flux::ast::File>,
    /// `now()`, in ns.
    pub now: i64,
    /// For a task run: `tasks.lastSuccess`.
    pub last_success: Option<i64>,
    /// Refuse the guides' mistakes as InfluxDB does.
    pub strict: bool,
    /// A task run: each result is made (its errors fail the run), none is kept.
    pub discard_results: bool,
}

/// Runs a Flux query (or task run) on the calling blocking thread over the buckets of
/// `buckets`, under `limits` (its memory budget is the evaluation's memory limit too).
pub fn run_query(
    buckets: TokenBuckets,
    run: FluxRun<'_>,
    limits: ferry_store::coop::Limits,
) -> Result<Ran, QueryError> {
    let q = Query {
        script: run.script,
        extern_file: run.extern_file,
        now: run.now,
        memory_limit: match limits.memory_bytes {
            0 => usize::MAX,
            n => n,
        },
        last_success: run.last_success,
        strict: run.strict,
        discard_results: run.discard_results,
        point: ferry_store::coop::point,
    };
    let source = Arc::new(StoreSource(buckets));
    let answer = ferry_store::coop::guarded(limits, || ferry_flux::query::run(&q, source.clone()))
        .map_err(|stopped| QueryError {
            kind: QueryErrorKind::Invalid,
            message: stopped.to_string(),
        })??;
    Ok(Ran {
        results: answer.results,
        notes: answer.notes,
        written: source.0.written(),
    })
}
