//! `GET|POST /query`: InfluxQL, answered in InfluxDB 1.6's JSON, chunked JSON or CSV.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ferry_catalog::{Action, Authorization};
use ferry_influxql::{Context, ContextError, Epoch, RetentionPolicy};
use ferry_store::BucketStore;

use super::worker::run_on_this_worker;
use super::AppState;
use crate::engine::BucketEngine;
use crate::error::{ApiError, V1Error};
use crate::metrics::queries::{Kind, QueryFailed};
use crate::node::Node;

/// Largest form body accepted (the query text).
const MAX_FORM_BYTES: usize = 16 << 20;

/// The `k=v&…` pairs of a query string or form body, percent- and `+`-decoded (invalid
/// UTF-8 replaced); a key given twice keeps its last value.
fn parse_form(s: &[u8]) -> HashMap<String, String> {
    form_urlencoded::parse(s).into_owned().collect()
}

/// The `/query` handler.
pub async fn query(
    State(node): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, V1Error> {
    let mut params = parse_form(uri.query().unwrap_or("").as_bytes());
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if is_form {
        let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
            .await
            .map_err(|e| ApiError::BadRequest(format!("cannot read the request body: {e}")))?;
        let form = parse_form(&bytes);
        params.extend(form);
    }
    let p = |k: &str| params.get(k).map(String::as_str).filter(|s| !s.is_empty());

    let token = crate::auth::request_token(&headers, p("p"));
    let auth = node.authenticate(token.as_deref())?;

    let q =
        p("q").ok_or_else(|| ApiError::BadRequest("missing required parameter \"q\"".into()))?;
    let epoch = match p("epoch") {
        None => Epoch::Rfc3339,
        Some(e) => Epoch::parse(e).unwrap_or(Epoch::Rfc3339),
    };
    let pretty = p("pretty") == Some("true");
    let chunked = p("chunked") == Some("true");
    let chunk_size = p("chunk_size")
        .and_then(|s| s.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(10_000);
    let csv = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/csv") || v.contains("text/csv"));

    let bound = match p("params") {
        Some(json) => ferry_influxql::Params::from_json(json)
            .map_err(|e| ApiError::BadRequest(e.to_string()))?,
        None => ferry_influxql::Params::default(),
    };
    let stmts = ferry_influxql::parse_query_with(q, &bound)
        .map_err(|e| ApiError::BadRequest(format!("error parsing query: {e}")))?;

    let db = p("db").map(str::to_string);
    let rp = p("rp").map(str::to_string);
    // registered (for SHOW QUERIES, KILL QUERY and the concurrency limit) until answered
    let registered = node.queries.start(q, db.as_deref().unwrap_or(""));
    let rt = tokio::runtime::Handle::current();
    let multi_thread = rt.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread;
    let streamed = chunked && !csv;
    let ctx = NodeContext {
        node: node.clone(),
        auth,
        rt: rt.clone(),
        on_worker: multi_thread && !streamed,
    };
    // a refused query answers its one error whole, in the format asked for
    let registered = match registered {
        Ok(r) if streamed => {
            return Ok(chunked_response(ctx, r, stmts, db, rp, epoch, chunk_size));
        }
        other => other,
    };
    let run = move || {
        // the statements run under the query's limits; one stopped by a limit answers its
        // reason, and the statements after it do not run (as in InfluxDB 1.x)
        let mut results = Vec::with_capacity(stmts.len());
        match registered {
            Err(refused) => results.push(ferry_influxql::StatementResult::failed(
                0,
                refused.to_string(),
            )),
            Ok(registered) => {
                let stopped = ferry_store::coop::guarded(registered.limits(), || {
                    for (i, s) in stmts.iter().enumerate() {
                        let r = ferry_influxql::execute(s, i, &ctx, db.as_deref(), rp.as_deref());
                        results.push(r);
                    }
                });
                if let Err(why) = stopped {
                    let id = results.len();
                    results.push(ferry_influxql::StatementResult::failed(id, why.to_string()));
                }
            }
        }
        let failed = results.iter().any(|r| r.error.is_some());
        let (ctype, text) = if csv {
            ("text/csv", ferry_influxql::encode::csv(&results, epoch))
        } else {
            (
                "application/json",
                ferry_influxql::encode::json_results(&results, epoch, pretty),
            )
        };
        (ctype, text, failed)
    };
    // A panic in the executor (a bug) answers 500 instead of dropping the connection.
    let run = move || {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(run))
            .map_err(|p| ApiError::Internal(format!("query failed: {}", panic_text(&*p))))
    };
    let (ctype, text, failed) = if multi_thread {
        run_on_this_worker(rt, run)?
    } else {
        tokio::task::spawn_blocking(run)
            .await
            .map_err(|e| ApiError::Internal(format!("query failed: {e}")))??
    };
    let mut res = (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, ctype),
            (
                header::HeaderName::from_static("x-influxdb-version"),
                "1.6-ferry",
            ),
        ],
        text,
    )
        .into_response();
    if failed {
        res.extensions_mut().insert(QueryFailed);
    }
    Ok(res)
}

/// Layer of `/query`: records each request's latency and outcome in the metrics.
pub async fn count_influxql(State(node): State<AppState>, req: Request, next: Next) -> Response {
    count(&node, Kind::InfluxQl, req, next).await
}

/// Layer of `/api/v2/query`: records each request's latency and outcome in the metrics.
pub async fn count_flux(State(node): State<AppState>, req: Request, next: Next) -> Response {
    count(&node, Kind::Flux, req, next).await
}

async fn count(node: &Node, kind: Kind, req: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let res = next.run(req).await;
    let ok = res.status().is_success() && res.extensions().get::<QueryFailed>().is_none();
    node.metrics.queries.answered(kind, ok, started.elapsed());
    res
}

/// Rows a streamed chunked statement reads per scan: `FERRY_QUERY_SLICE_ROWS` (read once; a
/// test knob), else the default of [`ferry_influxql::ChunkedOptions`].
fn slice_rows() -> Option<usize> {
    static ROWS: std::sync::OnceLock<Option<usize>> = std::sync::OnceLock::new();
    *ROWS.get_or_init(|| {
        std::env::var("FERRY_QUERY_SLICE_ROWS")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|n| *n > 0)
    })
}

/// A chunked JSON answer, streamed: the statements run on a blocking thread
/// ([`ferry_influxql::execute_chunked`]) and the answer goes out in pieces as soon as they
/// are final, through a bounded channel (the query waits while the client is slow and stops
/// when it goes away), so memory does not grow with the answer.
fn chunked_response(
    ctx: NodeContext,
    registered: crate::queries::Registered,
    stmts: Vec<ferry_influxql::ast::Statement>,
    db: Option<String>,
    rp: Option<String>,
    epoch: Epoch,
    chunk_size: usize,
) -> Response {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::convert::Infallible>>(4);
    tokio::task::spawn_blocking(move || {
        let opts = ferry_influxql::ChunkedOptions {
            slice_rows: slice_rows(),
            ..ferry_influxql::ChunkedOptions::new(epoch, chunk_size)
        };
        let mut send = |piece: String| {
            tx.blocking_send(Ok(bytes::Bytes::from(piece)))
                .map_err(|_| ferry_influxql::ChunkedError::Disconnected)
        };
        // a disconnected client just ends the query; a panic (a bug) ends the answer with
        // an error line instead of cutting it off without one
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            ferry_store::coop::guarded(registered.limits(), || {
                ferry_influxql::execute_chunked(
                    &stmts,
                    &ctx,
                    db.as_deref(),
                    rp.as_deref(),
                    opts,
                    &mut send,
                )
            })
        }));
        drop(registered);
        let failed = match run {
            Ok(Ok(_)) => None,
            Ok(Err(why)) => Some(why.to_string()),
            Err(p) => Some(format!("query failed: {}", panic_text(&*p))),
        };
        if let Some(e) = failed {
            let line = serde_json::json!({ "error": e });
            let _ = send(format!("{line}\n"));
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/json"),
            (
                header::HeaderName::from_static("x-influxdb-version"),
                "1.6-ferry",
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

/// The message of a caught panic.
fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "internal error".into())
}

struct NodeContext {
    node: AppState,
    auth: Option<Authorization>,
    rt: tokio::runtime::Handle,
    /// The query runs on a runtime worker thread itself (not a blocking thread).
    on_worker: bool,
}

/// The executor's view of an error of the node: a refused token stays a refusal (SHOW across
/// policies leaves those buckets out), anything else a failure with its cause.
fn context_error(e: impl Into<ApiError>) -> ContextError {
    match e.into() {
        ApiError::Forbidden(why) | ApiError::Unauthorized(why) => ContextError::Forbidden(why),
        other => ContextError::failed(other),
    }
}

impl NodeContext {
    /// Whether the caller may see and stop every query: no auth, or a token holding a
    /// permission for every org (the operator's).
    fn operator(&self) -> bool {
        self.auth.as_ref().is_none_or(|a| {
            a.status == "active" && a.permissions.iter().any(|p| p.org_id.is_none())
        })
    }

    fn org_scope(&self) -> String {
        self.auth
            .as_ref()
            .map(|a| a.org_id.clone())
            .unwrap_or_default()
    }

    /// The caller's DBRP mappings of database `db`.
    fn mappings(&self, db: &str) -> Result<Vec<ferry_catalog::Dbrp>, ContextError> {
        self.node
            .catalog
            .list_dbrps(&self.org_scope(), Some(db))
            .map_err(context_error)
    }

    /// The DBRP mappings of database `db` and the IDs of the buckets it maps to (the bucket
    /// named `db` when it has no mapping; none when neither exists), after checking that
    /// the caller may write each of them.
    fn writable_buckets(
        &self,
        db: &str,
    ) -> Result<(Vec<ferry_catalog::Dbrp>, Vec<String>), ContextError> {
        let org = self.org_scope();
        let maps = self.mappings(db)?;
        let mut buckets: Vec<String> = maps.iter().map(|m| m.bucket_id.clone()).collect();
        if maps.is_empty() {
            if let Ok(Some(b)) = self.node.catalog.resolve_dbrp(&org, db, "") {
                buckets.push(b.id);
            }
        }
        buckets.sort();
        buckets.dedup();
        for id in &buckets {
            let b = self.node.catalog.bucket_by_id(id).map_err(context_error)?;
            self.node
                .require(&self.auth, Action::Write, "buckets", &b.org_id, Some(&b.id))
                .map_err(context_error)?;
        }
        Ok((maps, buckets))
    }

    /// The engine of the bucket `db`/`rp` maps to (`rp` empty = the default), once the
    /// caller may do `action` on it; 1.6's texts for a missing database or policy.
    fn engine(
        &self,
        db: &str,
        rp: &str,
        action: Action,
    ) -> Result<Arc<BucketEngine>, ContextError> {
        let org = self.org_scope();
        let bucket = self
            .node
            .catalog
            .resolve_dbrp(&org, db, rp)
            .map_err(context_error)?
            .ok_or_else(|| {
                let db_exists = !rp.is_empty()
                    && matches!(self.node.catalog.resolve_dbrp(&org, db, ""), Ok(Some(_)));
                if db_exists {
                    ContextError::RetentionPolicyNotFound(rp.into())
                } else {
                    ContextError::DatabaseNotFound(db.into())
                }
            })?;
        self.node
            .require(
                &self.auth,
                action,
                "buckets",
                &bucket.org_id,
                Some(&bucket.id),
            )
            .map_err(context_error)?;
        if let Some(e) = self.node.engine_if_open(&bucket.id) {
            return Ok(e);
        }
        self.block_on(self.node.engine(&bucket.id))
            .map_err(context_error)
    }

    /// Runs `f` to completion from this (blocking) query thread: when the query runs on a
    /// runtime worker ([`NodeContext::on_worker`]), the worker first becomes a blocking
    /// thread (`block_in_place`), as a worker may not block on a future itself.
    fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        if self.on_worker {
            tokio::task::block_in_place(|| self.rt.block_on(f))
        } else {
            self.rt.block_on(f)
        }
    }

    fn can_read(&self, b: &ferry_catalog::Bucket) -> bool {
        self.node
            .require(&self.auth, Action::Read, "buckets", &b.org_id, Some(&b.id))
            .is_ok()
    }
}

impl Context for NodeContext {
    fn running_queries(&self) -> Vec<ferry_influxql::exec::RunningQuery> {
        match self.operator() {
            true => self.node.queries.list(),
            false => Vec::new(),
        }
    }

    fn kill_query(&self, qid: u64) -> Result<(), ContextError> {
        if !self.operator() {
            return Err(ContextError::Forbidden(
                "KILL QUERY needs a token with access to every org".into(),
            ));
        }
        self.node.queries.kill(qid)
    }

    fn store(&self, db: &str, rp: &str) -> Result<Arc<BucketStore>, ContextError> {
        let engine = self.engine(db, rp, Action::Read)?;
        if let Some(store) = engine.readable_store_now() {
            return Ok(store);
        }
        Ok(self.block_on(engine.readable_store()))
    }

    fn write_series(
        &self,
        db: &str,
        rp: &str,
        measurement: Option<&str>,
        series: &[ferry_influxql::Series],
    ) -> Result<usize, ContextError> {
        let engine = self.engine(db, rp, Action::Write)?;
        let points = ferry_tasks::rows::series_to_points(series, measurement);
        if points.is_empty() {
            return Ok(0);
        }
        let out = self
            .block_on(engine.write_made(points))
            .map_err(ContextError::failed)?;
        match out.conflicts.first() {
            Some((_, msg)) => Err(ContextError::PartialWrite {
                reason: msg.clone(),
                dropped: out.conflicts.len(),
            }),
            None => Ok(out.written),
        }
    }

    fn databases(&self) -> Vec<String> {
        let org = self.org_scope();
        let buckets = self
            .node
            .catalog
            .list_buckets(if org.is_empty() { None } else { Some(&org) })
            .unwrap_or_default();
        let dbrps = self.node.catalog.list_dbrps(&org, None).unwrap_or_default();
        let mut names = Vec::new();
        for b in buckets.iter().filter(|b| self.can_read(b)) {
            let mapped: Vec<&str> = dbrps
                .iter()
                .filter(|d| d.bucket_id == b.id)
                .map(|d| d.database.as_str())
                .collect();
            if mapped.is_empty() {
                names.push(b.name.clone());
            } else {
                names.extend(mapped.into_iter().map(str::to_string));
            }
        }
        names.sort();
        names.dedup();
        names
    }

    fn retention_policies(&self, db: &str) -> Result<Vec<RetentionPolicy>, ContextError> {
        let org = self.org_scope();
        let maps = self.mappings(db)?;
        let mut out = Vec::new();
        for m in maps {
            if let Ok(b) = self.node.catalog.bucket_by_id(&m.bucket_id) {
                out.push(RetentionPolicy {
                    name: m.retention_policy.clone(),
                    duration_ns: b.retention_seconds.saturating_mul(1_000_000_000),
                    default: m.default,
                });
            }
        }
        if out.is_empty() {
            let b = self
                .node
                .catalog
                .resolve_dbrp(&org, db, "")
                .map_err(context_error)?
                .ok_or_else(|| ContextError::DatabaseNotFound(db.into()))?;
            out.push(RetentionPolicy {
                name: "autogen".into(),
                duration_ns: b.retention_seconds.saturating_mul(1_000_000_000),
                default: true,
            });
        }
        Ok(out)
    }

    fn create_database(&self, name: &str) -> Result<(), ContextError> {
        let org = self.org_scope();
        if org.is_empty() {
            return Err(ContextError::Forbidden(
                "CREATE DATABASE needs a token of an organization".into(),
            ));
        }
        self.node
            .require(&self.auth, Action::Write, "buckets", &org, None)
            .map_err(context_error)?;
        if !self
            .node
            .catalog
            .list_dbrps(&org, Some(name))
            .map_err(context_error)?
            .is_empty()
        {
            return Ok(());
        }
        let existing = self
            .node
            .catalog
            .list_buckets(Some(&org))
            .map_err(context_error)?
            .into_iter()
            .find(|b| b.name == name);
        let bucket = match existing {
            Some(b) => b,
            None => self
                .node
                .catalog
                .create_bucket(&org, name, "", 0)
                .map_err(context_error)?,
        };
        self.node
            .catalog
            .create_dbrp(&org, &bucket.id, name, "autogen", true)
            .map_err(context_error)?;
        Ok(())
    }

    fn drop_database(&self, name: &str) -> Result<(), ContextError> {
        let (maps, buckets) = self.writable_buckets(name)?;
        for m in &maps {
            let _ = self.node.catalog.delete_dbrp(&m.id);
        }
        for id in buckets {
            let (_, reps) = self
                .node
                .catalog
                .delete_bucket_and_replications(&id)
                .map_err(context_error)?;
            self.block_on(async {
                for rep in reps {
                    self.node.replications.stop(&rep).await;
                }
                self.node.drop_bucket_data(&id).await;
            });
        }
        Ok(())
    }

    fn delete_stores(&self, db: &str) -> Result<Vec<Arc<BucketStore>>, ContextError> {
        let (_, buckets) = self.writable_buckets(db)?;
        if buckets.is_empty() {
            return Err(ContextError::DatabaseNotFound(db.into()));
        }
        self.block_on(async {
            let mut stores = Vec::with_capacity(buckets.len());
            for id in &buckets {
                let engine = self.node.engine(id).await.map_err(context_error)?;
                stores.push(engine.readable_store().await);
            }
            Ok(stores)
        })
    }

    fn now_ns(&self) -> i64 {
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX)
    }
}
