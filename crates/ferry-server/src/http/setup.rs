//! `/api/v2/setup`: first-time onboarding, for nodes started with `--no-init`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use super::extract::JsonBody;
use super::{json as shape, AppState};
use crate::api;
use crate::error::ApiError;

/// `GET /api/v2/setup` → `{"allowed": true}` until the node is set up.
pub async fn allowed(State(node): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({ "allowed": !node.catalog.is_set_up()? })))
}

/// `POST /api/v2/setup` `{"username","password","org","bucket","retentionPeriodSeconds","token"}`
/// → 201 `{"user","org","bucket","auth"}`; 422 once set up.
pub async fn setup(
    State(node): State<AppState>,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<api::SetupResult>), ApiError> {
    if node.catalog.is_set_up()? {
        return Err(ApiError::Conflict(
            "onboarding has already been completed".into(),
        ));
    }
    let s = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
    };
    let org = s("org").ok_or_else(|| ApiError::BadRequest("org is required".into()))?;
    let bucket = s("bucket").ok_or_else(|| ApiError::BadRequest("bucket is required".into()))?;
    let retention = body
        .get("retentionPeriodSeconds")
        .and_then(Value::as_i64)
        .or_else(|| {
            body.get("retentionPeriodHrs")
                .and_then(Value::as_i64)
                .map(|h| h.saturating_mul(3600))
        })
        .unwrap_or(0);
    let r = node
        .catalog
        .setup(org, bucket, retention, s("token").map(str::to_string))?;
    node.engine(&r.bucket.id).await?;
    let user = s("username").unwrap_or("admin");
    Ok((
        StatusCode::CREATED,
        Json(api::SetupResult {
            auth: shape::authorization(&r.auth, &r.org.name),
            bucket: shape::bucket(&r.bucket),
            org: shape::org(&r.org),
            user: api::SetupUser {
                id: r.auth.id.clone(),
                name: user.to_string(),
                status: "active".into(),
            },
        }),
    ))
}
