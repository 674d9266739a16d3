//! `/ping`, `/health`, `/ready` and the 404 fallback.

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::Json;

use super::AppState;
use crate::error::ApiError;
use axum::extract::State;
use ferry_catalog::Action;

/// The version Ferry reports in `X-Influxdb-Version`.
pub const VERSION: &str = concat!("ferry-", env!("CARGO_PKG_VERSION"));

fn version_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("X-Influxdb-Version", HeaderValue::from_static(VERSION));
    h.insert("X-Influxdb-Build", HeaderValue::from_static("Ferry"));
    h
}

/// `GET|HEAD /ping` → 204 with the version headers, as InfluxDB answers, plus
/// `X-Ferry-Node-Id` (replication loop prevention) and `Accept-Encoding` listing the request
/// body encodings the write APIs decode (RFC 7694), so a Ferry edge can send zstd.
pub async fn ping(State(node): State<AppState>) -> impl IntoResponse {
    let mut h = version_headers();
    h.insert(
        axum::http::header::ACCEPT_ENCODING,
        HeaderValue::from_static(crate::body::ACCEPTED_ENCODINGS),
    );
    if let Ok(v) = HeaderValue::from_str(&node.node_id) {
        h.insert(ferry_pipeline::NODE_ID_HEADER, v);
    }
    (StatusCode::NO_CONTENT, h)
}

/// `GET /metrics`: every subsystem's metrics in the Prometheus text format (0.0.4). Like
/// influxd's, it takes no token; it names no bucket (sums over the buckets only).
pub async fn metrics(State(node): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let engines = node.engines().await;
    let streams = node.replications.metrics();
    let memory = node.replications.memory();
    // reading the logs' sizes stats their segment files: off the async workers
    let text = tokio::task::spawn_blocking(move || node.metrics.render(engines, streams, memory))
        .await
        .map_err(|e| ApiError::Internal(format!("collecting the metrics failed: {e}")))?;
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            crate::metrics::CONTENT_TYPE,
        )],
        text,
    ))
}

/// The failing buckets as InfluxDB 2 health checks. `/health` needs no token, so a bucket is
/// named (with its reason) only to a request whose token may read it (or to any request when
/// the node runs without auth); the others are counted in one check without names.
fn bucket_checks(
    node: &crate::node::Node,
    headers: &HeaderMap,
    failing: &[(String, String)],
) -> Vec<serde_json::Value> {
    let token = crate::auth::request_token(headers, None);
    let auth = node.authenticate(token.as_deref());
    let mut checks = Vec::new();
    let mut unnamed = 0;
    for (id, why) in failing {
        let bucket = node.catalog.bucket_by_id(id).ok();
        let may_read = match (&auth, &bucket) {
            (Ok(None), _) => true, // auth is off
            (Ok(Some(a)), Some(b)) => a.allows(Action::Read, "buckets", &b.org_id, Some(&b.id)),
            _ => false,
        };
        if !may_read {
            unnamed += 1;
            continue;
        }
        let name = bucket.map(|b| b.name).unwrap_or_default();
        checks.push(serde_json::json!({
            "name": format!("bucket {name} ({id})"),
            "status": "fail",
            "message": why,
        }));
    }
    if unnamed > 0 {
        checks.push(serde_json::json!({
            "name": "buckets",
            "status": "fail",
            "message": format!("{unnamed} bucket(s) cannot take writes (a token that may read them sees which)"),
        }));
    }
    checks
}

/// `GET /health` in InfluxDB 2's shape: 200 `{"name":"ferry","status":"pass","checks":[]}`
/// when every bucket takes writes; 503 with `"status":"fail"` and one check per failing or
/// quarantined bucket otherwise (the other buckets still serve).
pub async fn health(State(node): State<AppState>, headers: HeaderMap) -> impl IntoResponse {
    let failing = node.failing_buckets().await;
    let checks = bucket_checks(&node, &headers, &failing);
    let (status, code, message) = if failing.is_empty() {
        (
            "pass",
            StatusCode::OK,
            "ready for queries and writes".to_string(),
        )
    } else {
        (
            "fail",
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{} bucket(s) cannot take writes", failing.len()),
        )
    };
    (
        code,
        version_headers(),
        Json(serde_json::json!({
            "name": "ferry",
            "message": message,
            "status": status,
            "checks": checks,
            "version": VERSION,
        })),
    )
}

/// `GET /ready` → 200 `{"status":"ready"}` once the node serves (it does while some buckets
/// fail: they are listed in `checks`, as in `/health`).
pub async fn ready(State(node): State<AppState>, headers: HeaderMap) -> impl IntoResponse {
    let failing = node.failing_buckets().await;
    Json(
        serde_json::json!({ "status": "ready", "checks": bucket_checks(&node, &headers, &failing) }),
    )
}

/// Any other route → 404 in InfluxDB's error shape.
pub async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!("path not found: {}", uri.path()))
}
