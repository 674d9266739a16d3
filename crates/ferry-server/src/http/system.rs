//! `/ping`, `/health`, `/ready` and the 404 fallback.

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::Json;

use super::AppState;
use crate::error::ApiError;
use axum::extract::State;

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

/// `GET /metrics`: Prometheus text format (replication streams so far).
pub async fn metrics(State(node): State<AppState>) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        node.replications.metrics(),
    )
}

/// One failing bucket as an InfluxDB 2 health check.
fn bucket_checks(node: &crate::node::Node, failing: &[(String, String)]) -> Vec<serde_json::Value> {
    failing
        .iter()
        .map(|(id, why)| {
            let name = node
                .catalog
                .bucket_by_id(id)
                .map(|b| b.name)
                .unwrap_or_default();
            serde_json::json!({
                "name": format!("bucket {name} ({id})"),
                "status": "fail",
                "message": why,
            })
        })
        .collect()
}

/// `GET /health` in InfluxDB 2's shape: 200 `{"name":"ferry","status":"pass","checks":[]}`
/// when every bucket takes writes; 503 with `"status":"fail"` and one check per failing or
/// quarantined bucket otherwise (the other buckets still serve).
pub async fn health(State(node): State<AppState>) -> impl IntoResponse {
    let failing = node.failing_buckets().await;
    let checks = bucket_checks(&node, &failing);
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
pub async fn ready(State(node): State<AppState>) -> impl IntoResponse {
    let failing = node.failing_buckets().await;
    Json(serde_json::json!({ "status": "ready", "checks": bucket_checks(&node, &failing) }))
}

/// Any other route → 404 in InfluxDB's error shape.
pub async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!("path not found: {}", uri.path()))
}
