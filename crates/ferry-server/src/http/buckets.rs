//! `/api/v2/buckets`.

use super::extract::{Auth, TypedJson, Q};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::Value;

use super::json::{self as shape, field};
use super::AppState;
use crate::api;
use crate::error::ApiError;
use ferry_catalog::{Action, BucketUpdate};

/// List filters (InfluxDB's).
#[derive(Debug, Deserialize)]
pub struct ListParams {
    org: Option<String>,
    #[serde(rename = "orgID")]
    org_id: Option<String>,
    name: Option<String>,
    id: Option<String>,
    limit: Option<usize>,
    offset: Option<usize>,
}

/// `GET /api/v2/buckets` → `{"buckets":[...]}`; only buckets the token may read.
pub async fn list(
    State(node): State<AppState>,
    Auth(auth): Auth,
    Q(q): Q<ListParams>,
) -> Result<Json<api::BucketList>, ApiError> {
    let org_filter = if q.org.is_some() || q.org_id.is_some() {
        Some(
            node.resolve_org(q.org_id.as_deref(), q.org.as_deref(), &auth)?
                .id,
        )
    } else {
        None
    };
    let buckets: Vec<api::Bucket> = node
        .catalog
        .list_buckets(org_filter.as_deref())?
        .iter()
        .filter(|b| q.name.as_deref().is_none_or(|n| n == b.name))
        .filter(|b| q.id.as_deref().is_none_or(|i| i == b.id))
        .filter(|b| {
            node.require(&auth, Action::Read, "buckets", &b.org_id, Some(&b.id))
                .is_ok()
        })
        .skip(q.offset.unwrap_or(0))
        .take(q.limit.unwrap_or(usize::MAX))
        .map(shape::bucket)
        .collect();
    Ok(Json(api::BucketList {
        buckets,
        links: api::Links::to_self("/api/v2/buckets"),
    }))
}

/// The body of `POST /api/v2/buckets`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BucketBody {
    #[serde(rename = "orgID", default, deserialize_with = "field::string")]
    org_id: Option<String>,
    #[serde(default, deserialize_with = "field::string")]
    org: Option<String>,
    #[serde(default, deserialize_with = "field::string")]
    name: Option<String>,
    #[serde(default, deserialize_with = "field::string")]
    description: Option<String>,
    retention_rules: Option<Value>,
}

/// `POST /api/v2/buckets` `{"orgID","name","description","retentionRules"}` → 201.
pub async fn create(
    State(node): State<AppState>,
    Auth(auth): Auth,
    TypedJson(body): TypedJson<BucketBody>,
) -> Result<(StatusCode, Json<api::Bucket>), ApiError> {
    let org = node.resolve_org(body.org_id.as_deref(), body.org.as_deref(), &auth)?;
    node.require(&auth, Action::Write, "buckets", &org.id, None)?;
    let name = body
        .name
        .ok_or_else(|| ApiError::BadRequest("bucket name is required".into()))?;
    let retention = shape::retention_from_rules(body.retention_rules.as_ref())?.unwrap_or(0);
    let b = node.catalog.create_bucket(
        &org.id,
        &name,
        body.description.as_deref().unwrap_or(""),
        retention,
    )?;
    node.engine(&b.id).await?;
    Ok((StatusCode::CREATED, Json(shape::bucket(&b))))
}

/// `GET /api/v2/buckets/{id}`.
pub async fn get_one(
    State(node): State<AppState>,
    Auth(auth): Auth,
    Path(id): Path<String>,
) -> Result<Json<api::Bucket>, ApiError> {
    let b = node.catalog.bucket_by_id(&id)?;
    node.require(&auth, Action::Read, "buckets", &b.org_id, Some(&b.id))?;
    Ok(Json(shape::bucket(&b)))
}

/// The body of `PATCH /api/v2/buckets/{id}`.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BucketPatch {
    name: Option<String>,
    description: Option<String>,
    retention_rules: Option<Value>,
}

/// `PATCH /api/v2/buckets/{id}` `{"name","description","retentionRules"}`.
pub async fn update(
    State(node): State<AppState>,
    Auth(auth): Auth,
    Path(id): Path<String>,
    TypedJson(body): TypedJson<BucketPatch>,
) -> Result<Json<api::Bucket>, ApiError> {
    let b = node.catalog.bucket_by_id(&id)?;
    node.require(&auth, Action::Write, "buckets", &b.org_id, Some(&b.id))?;
    let upd = BucketUpdate {
        name: body.name,
        description: body.description,
        retention_seconds: shape::retention_from_rules(body.retention_rules.as_ref())?,
    };
    Ok(Json(shape::bucket(&node.catalog.update_bucket(&id, upd)?)))
}

/// `DELETE /api/v2/buckets/{id}` → 204; its data and its replications go too.
pub async fn delete(
    State(node): State<AppState>,
    Auth(auth): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let b = node.catalog.bucket_by_id(&id)?;
    node.require(&auth, Action::Write, "buckets", &b.org_id, Some(&b.id))?;
    let (_, replications) = node.catalog.delete_bucket_and_replications(&id)?;
    for rep in replications {
        node.replications.stop(&rep).await;
    }
    node.drop_bucket_data(&id).await;
    Ok(StatusCode::NO_CONTENT)
}
