//! `/api/v2/dbrps`: 1.x database/retention-policy → bucket mappings.

use super::extract::{Auth, TypedJson, Q};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use super::json::{self as shape, field};
use super::AppState;
use crate::api;
use crate::error::ApiError;
use ferry_catalog::Action;

/// List filters (InfluxDB's).
#[derive(Debug, Deserialize)]
pub struct ListParams {
    org: Option<String>,
    #[serde(rename = "orgID")]
    org_id: Option<String>,
    id: Option<String>,
    #[serde(rename = "bucketID")]
    bucket_id: Option<String>,
    default: Option<bool>,
    db: Option<String>,
    rp: Option<String>,
}

/// `GET /api/v2/dbrps?orgID=` → `{"content":[...]}`.
pub async fn list(
    State(node): State<AppState>,
    Auth(auth): Auth,
    Q(q): Q<ListParams>,
) -> Result<Json<api::DbrpList>, ApiError> {
    let org = node.resolve_org(q.org_id.as_deref(), q.org.as_deref(), &auth)?;
    node.require(&auth, Action::Read, "dbrp", &org.id, None)?;
    let content: Vec<api::Dbrp> = node
        .catalog
        .list_dbrps(&org.id, q.db.as_deref())?
        .iter()
        .filter(|d| q.id.as_deref().is_none_or(|i| i == d.id))
        .filter(|d| q.bucket_id.as_deref().is_none_or(|i| i == d.bucket_id))
        .filter(|d| q.default.is_none_or(|x| x == d.default))
        .filter(|d| q.rp.as_deref().is_none_or(|r| r == d.retention_policy))
        .map(shape::dbrp)
        .collect();
    Ok(Json(api::DbrpList { content }))
}

/// The body of `POST /api/v2/dbrps` (its names are snake_case, as InfluxDB's).
#[derive(Debug, Deserialize)]
pub struct DbrpBody {
    #[serde(rename = "orgID", default, deserialize_with = "field::string")]
    org_id: Option<String>,
    #[serde(default, deserialize_with = "field::string")]
    org: Option<String>,
    #[serde(rename = "bucketID", default, deserialize_with = "field::string")]
    bucket_id: Option<String>,
    #[serde(default, deserialize_with = "field::string")]
    database: Option<String>,
    #[serde(default, deserialize_with = "field::string")]
    retention_policy: Option<String>,
    #[serde(default, deserialize_with = "field::boolean")]
    default: Option<bool>,
}

/// `POST /api/v2/dbrps` `{"orgID"|"org","bucketID","database","retention_policy","default"}` → 201.
pub async fn create(
    State(node): State<AppState>,
    Auth(auth): Auth,
    TypedJson(body): TypedJson<DbrpBody>,
) -> Result<(StatusCode, Json<api::Dbrp>), ApiError> {
    let org = node.resolve_org(body.org_id.as_deref(), body.org.as_deref(), &auth)?;
    node.require(&auth, Action::Write, "dbrp", &org.id, None)?;
    fn need<'a>(k: &str, v: &'a Option<String>) -> Result<&'a str, ApiError> {
        v.as_deref()
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ApiError::BadRequest(format!("{k} is required")))
    }
    let bucket_id = need("bucketID", &body.bucket_id)?;
    let bucket = node.catalog.bucket_by_id(bucket_id)?;
    node.require(&auth, Action::Read, "buckets", &org.id, Some(&bucket.id))?;
    let d = node.catalog.create_dbrp(
        &org.id,
        bucket_id,
        need("database", &body.database)?,
        need("retention_policy", &body.retention_policy)?,
        body.default.unwrap_or(false),
    )?;
    Ok((StatusCode::CREATED, Json(shape::dbrp(&d))))
}

/// `GET /api/v2/dbrps/{id}` → `{"content": {...}}`.
pub async fn get_one(
    State(node): State<AppState>,
    Auth(auth): Auth,
    Path(id): Path<String>,
) -> Result<Json<api::DbrpOne>, ApiError> {
    let d = node.catalog.dbrp_by_id(&id)?;
    node.require(&auth, Action::Read, "dbrp", &d.org_id, None)?;
    Ok(Json(api::DbrpOne {
        content: shape::dbrp(&d),
    }))
}

/// The body of `PATCH /api/v2/dbrps/{id}`.
#[derive(Debug, serde::Deserialize)]
pub struct DbrpPatch {
    retention_policy: Option<String>,
    default: Option<bool>,
}

/// `PATCH /api/v2/dbrps/{id}` `{"retention_policy","default"}` → `{"content": {...}}`.
pub async fn update(
    State(node): State<AppState>,
    Auth(auth): Auth,
    Path(id): Path<String>,
    TypedJson(body): TypedJson<DbrpPatch>,
) -> Result<Json<api::DbrpOne>, ApiError> {
    let d = node.catalog.dbrp_by_id(&id)?;
    node.require(&auth, Action::Write, "dbrp", &d.org_id, None)?;
    let d = node
        .catalog
        .update_dbrp(&id, body.retention_policy.as_deref(), body.default)?;
    Ok(Json(api::DbrpOne {
        content: shape::dbrp(&d),
    }))
}

/// `DELETE /api/v2/dbrps/{id}` → 204.
pub async fn delete(
    State(node): State<AppState>,
    Auth(auth): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let d = node.catalog.dbrp_by_id(&id)?;
    node.require(&auth, Action::Write, "dbrp", &d.org_id, None)?;
    node.catalog.delete_dbrp(&id)?;
    Ok(StatusCode::NO_CONTENT)
}
