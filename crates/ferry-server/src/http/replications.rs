//! `/api/v2/replications`: InfluxDB 2's Edge Data Replication API, plus Ferry's fields
//! (measurement filter, rate limit, added tags, backfill, batch size) and pause/resume.
//! The catalog keeps the settings; `node.replications` runs the streams and reports status.

use super::extract::{Auth, JsonBody, Q};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use super::json::{self as shape, id_param, Body};
use super::AppState;
use crate::api;
use crate::app::App;
use crate::error::ApiError;
use ferry_catalog::{
    Action, NewReplication, Replication, ReplicationUpdate, DEFAULT_MAX_AGE_SECONDS,
    DEFAULT_MAX_BATCH_BYTES, DEFAULT_MAX_QUEUE_SIZE_BYTES,
};

/// List filters (InfluxDB's, exact matches).
#[derive(Debug, Deserialize)]
pub struct ListParams {
    #[serde(rename = "orgID")]
    org_id: Option<String>,
    name: Option<String>,
    #[serde(rename = "remoteID")]
    remote_id: Option<String>,
    #[serde(rename = "localBucketID")]
    local_bucket_id: Option<String>,
}

/// `?validate=true` on create and update.
#[derive(Debug, Deserialize)]
pub struct ValidateParam {
    #[serde(default)]
    validate: Option<String>,
}

impl ValidateParam {
    /// `true` in any case (the Python client sends `True`), `1` or `yes`.
    fn on(&self) -> bool {
        self.validate.as_deref().is_some_and(|v| {
            ["true", "1", "yes"]
                .iter()
                .any(|t| v.trim().eq_ignore_ascii_case(t))
        })
    }
}

fn render(node: &App, r: &Replication) -> api::Replication {
    shape::replication(r, &node.replications.status(&r.id))
}

/// The remote bucket name, from InfluxDB's request spelling or its response spelling.
fn remote_bucket_name(b: &Body) -> Result<Option<String>, ApiError> {
    Ok(match b.str("remoteBucketName")? {
        Some(n) => Some(n),
        None => b.str("RemoteBucketName")?,
    })
}

fn opt_id(b: &Body, k: &str) -> Result<Option<String>, ApiError> {
    b.str(k)?.map(|s| id_param(k, &s)).transpose()
}

/// Asks the remote whether it accepts the replication's writes; 400 with its answer if not.
async fn validate_against_remote(node: &App, rep: &Replication) -> Result<(), ApiError> {
    let remote = node.catalog.remote_by_id(&rep.remote_id)?;
    node.replications
        .validate(rep, &remote)
        .await
        .map_err(|m| ApiError::BadRequest(format!("replication validation failed: {m}")))
}

/// Starts or restarts the stream of `rep`.
async fn apply(node: &App, rep: &Replication) -> Result<(), ApiError> {
    let remote = node.catalog.remote_by_id(&rep.remote_id)?;
    node.replications.start_or_update(rep, &remote).await;
    Ok(())
}

/// The replication named by a path ID, checked for `action`.
fn lookup(
    node: &App,
    auth: &Option<ferry_catalog::Authorization>,
    id: &str,
    action: Action,
) -> Result<Replication, ApiError> {
    let id = id_param("replication ID", id)?;
    let r = node.catalog.replication_by_id(&id)?;
    node.require(auth, action, "replications", &r.org_id, Some(&r.id))?;
    Ok(r)
}

/// `GET /api/v2/replications?orgID=` → `{"replications":[...]}`.
pub async fn list(
    State(node): State<AppState>,
    Auth(auth): Auth,
    Q(q): Q<ListParams>,
) -> Result<Json<api::ReplicationList>, ApiError> {
    let org_id = q
        .org_id
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::BadRequest("orgID is required".into()))?;
    let org_id = id_param("orgID", org_id)?;
    let replications: Vec<api::Replication> = node
        .catalog
        .list_replications(
            &org_id,
            q.name.as_deref(),
            q.remote_id.as_deref(),
            q.local_bucket_id.as_deref(),
        )?
        .iter()
        .filter(|r| {
            node.require(&auth, Action::Read, "replications", &r.org_id, Some(&r.id))
                .is_ok()
        })
        .map(|r| render(&node, r))
        .collect();
    Ok(Json(api::ReplicationList { replications }))
}

/// `POST /api/v2/replications[?validate=true]` → 201.
pub async fn create(
    State(node): State<AppState>,
    Auth(auth): Auth,
    Q(v): Q<ValidateParam>,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<api::Replication>), ApiError> {
    let b = Body(&body);
    let org = node.resolve_org(b.str("orgID")?.as_deref(), b.str("org")?.as_deref(), &auth)?;
    node.require(&auth, Action::Write, "replications", &org.id, None)?;
    let name = b
        .str("name")?
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::BadRequest("name is required".into()))?;
    let remote_id = opt_id(&b, "remoteID")?
        .ok_or_else(|| ApiError::BadRequest("remoteID is required".into()))?;
    let local_bucket_id = opt_id(&b, "localBucketID")?
        .ok_or_else(|| ApiError::BadRequest("localBucketID is required".into()))?;
    // a stream sends the bucket elsewhere: only a token that may read it can set one up
    node.require(&auth, Action::Read, "buckets", &org.id, Some(&local_bucket_id))
        .map_err(|_| {
            ApiError::Forbidden(format!(
                "insufficient permissions: replicating bucket {local_bucket_id} needs read access to it"
            ))
        })?;
    let remote_bucket_id = b.str("remoteBucketID")?.filter(|s| !s.is_empty());
    let remote_bucket_name = remote_bucket_name(&b)?.filter(|s| !s.is_empty());
    if remote_bucket_id.is_none() && remote_bucket_name.is_none() {
        return Err(ApiError::Unprocessable(
            "either remoteBucketID or remoteBucketName is required".into(),
        ));
    }
    let backfill_from_ns = b
        .str("backfillFrom")?
        .map(|t| crate::timeparse::parse_time(&t))
        .transpose()?;
    let new = NewReplication {
        org_id: org.id,
        name,
        description: b.str("description")?.unwrap_or_default(),
        remote_id,
        local_bucket_id,
        remote_bucket_id,
        remote_bucket_name,
        max_queue_size_bytes: b
            .i64("maxQueueSizeBytes")?
            .unwrap_or(DEFAULT_MAX_QUEUE_SIZE_BYTES),
        drop_non_retryable_data: b.bool("dropNonRetryableData")?.unwrap_or(false),
        max_age_seconds: b.i64("maxAgeSeconds")?.unwrap_or(DEFAULT_MAX_AGE_SECONDS),
        paused: b.bool("paused")?.unwrap_or(false),
        measurements: b.strings("measurements")?.unwrap_or_default(),
        rate_limit_bytes_per_sec: b.u64("rateLimitBytesPerSecond")?,
        add_tags: b.string_map("addTags")?.unwrap_or_default(),
        backfill_from_ns,
        max_batch_bytes: b.u64("maxBatchBytes")?.unwrap_or(DEFAULT_MAX_BATCH_BYTES),
        authorization_id: auth.as_ref().map(|a| a.id.clone()),
    };
    if v.on() {
        let rep = node.catalog.prepare_replication(new.clone())?;
        validate_against_remote(&node, &rep).await?;
    }
    let rep = node.catalog.create_replication(new)?;
    apply(&node, &rep).await?;
    Ok((StatusCode::CREATED, Json(render(&node, &rep))))
}

/// `GET /api/v2/replications/{id}`.
pub async fn get_one(
    State(node): State<AppState>,
    Auth(auth): Auth,
    Path(id): Path<String>,
) -> Result<Json<api::Replication>, ApiError> {
    let r = lookup(&node, &auth, &id, Action::Read)?;
    Ok(Json(render(&node, &r)))
}

/// `PATCH /api/v2/replications/{id}[?validate=true]` with the fields to change.
pub async fn update(
    State(node): State<AppState>,
    Auth(auth): Auth,
    Path(id): Path<String>,
    Q(v): Q<ValidateParam>,
    JsonBody(body): JsonBody,
) -> Result<Json<api::Replication>, ApiError> {
    let r = lookup(&node, &auth, &id, Action::Write)?;
    let b = Body(&body);
    if b.has("backfillFrom") {
        return Err(ApiError::BadRequest(
            "backfillFrom can only be set when the replication is created".into(),
        ));
    }
    let remote_id = opt_id(&b, "remoteID")?;
    // Sending the bucket somewhere else is a new decision to ship it: the token that makes
    // it must read the bucket, and the stream acts with its authority from then on.
    let authorization_id = match &remote_id {
        Some(new_remote) if *new_remote != r.remote_id => {
            node.require(&auth, Action::Read, "buckets", &r.org_id, Some(&r.local_bucket_id))
                .map_err(|_| {
                    ApiError::Forbidden(
                        "insufficient permissions: sending the bucket to another remote needs read access to it".into(),
                    )
                })?;
            Some(auth.as_ref().map(|a| a.id.clone()))
        }
        _ => None,
    };
    let upd = ReplicationUpdate {
        name: b.str("name")?,
        description: b.str("description")?,
        remote_id,
        remote_bucket_id: b.str("remoteBucketID")?,
        remote_bucket_name: remote_bucket_name(&b)?,
        max_queue_size_bytes: b.i64("maxQueueSizeBytes")?,
        drop_non_retryable_data: b.bool("dropNonRetryableData")?,
        max_age_seconds: b.i64("maxAgeSeconds")?,
        paused: b.bool("paused")?,
        measurements: b.strings("measurements")?,
        rate_limit_bytes_per_sec: if b.has("rateLimitBytesPerSecond") {
            Some(b.u64("rateLimitBytesPerSecond")?)
        } else {
            None
        },
        add_tags: b.string_map("addTags")?,
        max_batch_bytes: b.u64("maxBatchBytes")?,
        authorization_id,
    };
    if v.on() {
        let preview = node
            .catalog
            .preview_replication_update(&r.id, upd.clone())?;
        validate_against_remote(&node, &preview).await?;
    }
    let rep = node.catalog.update_replication(&r.id, upd)?;
    apply(&node, &rep).await?;
    Ok(Json(render(&node, &rep)))
}

/// `DELETE /api/v2/replications/{id}` → 204; the stream stops and its log cursor goes.
pub async fn delete(
    State(node): State<AppState>,
    Auth(auth): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let r = lookup(&node, &auth, &id, Action::Write)?;
    node.catalog.delete_replication(&r.id)?;
    node.replications.stop(&r.id).await;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v2/replications/{id}/validate` → 204, or 400 with the remote's answer.
pub async fn validate(
    State(node): State<AppState>,
    Auth(auth): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let r = lookup(&node, &auth, &id, Action::Write)?;
    validate_against_remote(&node, &r).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn set_paused(
    node: &App,
    auth: &Option<ferry_catalog::Authorization>,
    id: &str,
    paused: bool,
) -> Result<StatusCode, ApiError> {
    let r = lookup(node, auth, id, Action::Write)?;
    node.catalog.set_replication_paused(&r.id, paused)?;
    node.replications.set_paused(&r.id, paused).await;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v2/replications/{id}/pause` → 204 (Ferry's): stop sending, keep the data.
pub async fn pause(
    State(node): State<AppState>,
    Auth(auth): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    set_paused(&node, &auth, &id, true).await
}

/// `POST /api/v2/replications/{id}/resume` → 204 (Ferry's).
pub async fn resume(
    State(node): State<AppState>,
    Auth(auth): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    set_paused(&node, &auth, &id, false).await
}
