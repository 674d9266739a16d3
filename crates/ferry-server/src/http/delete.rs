//! `POST /api/v2/delete?org=&orgID=&bucket=&bucketID=` (InfluxDB 2's delete API): deletes the
//! points of a time range whose series match a predicate, from the local store only (never
//! replicated), durably before the 204.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use ferry_catalog::Action;
use ferry_store::Deletion;
use serde::Deserialize;

use super::extract::{Auth, BucketParams, Q};
use super::AppState;
use crate::body::read_body;
use crate::delete_predicate::DeletePredicate;
use crate::error::ApiError;

/// The JSON body.
#[derive(Debug, Deserialize)]
struct DeleteBody {
    #[serde(default)]
    start: String,
    #[serde(default)]
    stop: String,
    #[serde(default)]
    predicate: String,
}

/// InfluxDB 2's 400 for a body it cannot read.
fn invalid(msg: impl std::fmt::Display) -> ApiError {
    ApiError::BadRequest(format!(
        "invalid request; error parsing request json: {msg}"
    ))
}

fn time_of(field: &str, v: &str, example: &str) -> Result<i64, ApiError> {
    ferry_lp::parse_rfc3339(v).ok_or_else(|| {
            invalid(format!(
                "invalid RFC3339Nano for field {field}, please format your time with RFC3339Nano format, example: {example}"
            ))
        })
}

/// `POST /api/v2/delete` → 204; both `start` and `stop` are inclusive, as in InfluxDB 2.
pub async fn delete(
    State(node): State<AppState>,
    Auth(auth): Auth,
    Q(q): Q<BucketParams>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let body = read_body(&headers, body, node.config.max_body_bytes).await?;
    let req: DeleteBody = serde_json::from_slice(&body).map_err(invalid)?;
    let start = time_of("start", &req.start, "2009-01-02T23:00:00Z")?;
    let stop = time_of("stop", &req.stop, "2009-01-01T23:00:00Z")?;
    let pred = DeletePredicate::parse(&req.predicate)?;
    let bucket = q.resolve(&node, &auth)?;
    node.require(
        &auth,
        Action::Write,
        "buckets",
        &bucket.org_id,
        Some(&bucket.id),
    )?;
    let store = node.engine(&bucket.id).await?.readable_store().await;
    tokio::task::spawn_blocking(move || {
        let mut dels: Vec<Deletion> = Vec::new();
        for m in store.measurements() {
            if pred.matches_measurement(&m) {
                dels.extend(store.deletion_where(&m, start, stop, |t| pred.matches_series(t))?);
            }
        }
        store.delete(dels)
    })
    .await
    .map_err(|e| ApiError::Internal(format!("delete failed: {e}")))??;
    Ok(StatusCode::NO_CONTENT)
}
