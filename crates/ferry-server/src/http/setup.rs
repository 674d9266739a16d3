//! `/api/v2/setup`: first-time onboarding, for nodes started with `--no-init`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use super::extract::TypedJson;
use super::json::field;
use super::{json as shape, AppState};
use crate::api;
use crate::error::ApiError;

/// `GET /api/v2/setup` → `{"allowed": true}` until the node is set up.
pub async fn allowed(State(node): State<AppState>) -> Result<Json<api::SetupAllowed>, ApiError> {
    Ok(Json(api::SetupAllowed {
        allowed: !node.catalog.is_set_up()?,
    }))
}

/// The body of `POST /api/v2/setup`.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetupBody {
    #[serde(default, deserialize_with = "field::string")]
    username: Option<String>,
    #[serde(default, deserialize_with = "field::string")]
    org: Option<String>,
    #[serde(default, deserialize_with = "field::string")]
    bucket: Option<String>,
    #[serde(default, deserialize_with = "field::int")]
    retention_period_seconds: Option<i64>,
    #[serde(default, deserialize_with = "field::int")]
    retention_period_hrs: Option<i64>,
    #[serde(default, deserialize_with = "field::string")]
    token: Option<String>,
}

/// `POST /api/v2/setup` `{"username","password","org","bucket","retentionPeriodSeconds","token"}`
/// → 201 `{"user","org","bucket","auth"}`; 422 once set up.
pub async fn setup(
    State(node): State<AppState>,
    TypedJson(body): TypedJson<SetupBody>,
) -> Result<(StatusCode, Json<api::SetupResult>), ApiError> {
    if node.catalog.is_set_up()? {
        return Err(ApiError::Conflict(
            "onboarding has already been completed".into(),
        ));
    }
    let given = |v: Option<String>| v.filter(|v| !v.is_empty());
    let org = given(body.org).ok_or_else(|| ApiError::BadRequest("org is required".into()))?;
    let bucket =
        given(body.bucket).ok_or_else(|| ApiError::BadRequest("bucket is required".into()))?;
    let retention = body
        .retention_period_seconds
        .or_else(|| body.retention_period_hrs.map(|h| h.saturating_mul(3600)))
        .unwrap_or(0);
    let r = node
        .catalog
        .setup(&org, &bucket, retention, given(body.token))?;
    node.engine(&r.bucket.id).await?;
    let user = given(body.username).unwrap_or_else(|| "admin".into());
    Ok((
        StatusCode::CREATED,
        Json(api::SetupResult {
            auth: shape::authorization(&r.auth, &r.org.name),
            bucket: shape::bucket(&r.bucket),
            org: shape::org(&r.org),
            user: api::SetupUser {
                id: r.auth.id.clone(),
                name: user,
                status: "active".into(),
            },
        }),
    ))
}
