//! `/api/v2/replications`: InfluxDB 2's Edge Data Replication API, plus Ferry's fields
//! (measurement filter, rate limit, added tags, backfill, batch size) and pause/resume.
//! The catalog keeps the settings; `node.replications` runs the streams and reports status.

use super::extract::{Auth, TypedJson, Q};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use super::json::{self as shape, field, id_param};
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

/// The body of `POST` and `PATCH /api/v2/replications`: on PATCH only the fields to change
/// (`rateLimitBytesPerSecond: null` removes the limit).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicationBody {
    #[serde(rename = "orgID", default, deserialize_with = "field::string")]
    org_id: Option<String>,
    #[serde(default, deserialize_with = "field::string")]
    org: Option<String>,
    #[serde(default, deserialize_with = "field::string")]
    name: Option<String>,
    #[serde(default, deserialize_with = "field::string")]
    description: Option<String>,
    #[serde(rename = "remoteID", default, deserialize_with = "field::string")]
    remote_id: Option<String>,
    #[serde(rename = "localBucketID", default, deserialize_with = "field::string")]
    local_bucket_id: Option<String>,
    #[serde(rename = "remoteBucketID", default, deserialize_with = "field::string")]
    remote_bucket_id: Option<String>,
    #[serde(default, deserialize_with = "field::string")]
    remote_bucket_name: Option<String>,
    /// InfluxDB's response spelling, accepted too.
    #[serde(
        rename = "RemoteBucketName",
        default,
        deserialize_with = "field::string"
    )]
    remote_bucket_name_as_answered: Option<String>,
    #[serde(default, deserialize_with = "field::int")]
    max_queue_size_bytes: Option<i64>,
    #[serde(default, deserialize_with = "field::boolean")]
    drop_non_retryable_data: Option<bool>,
    #[serde(default, deserialize_with = "field::int")]
    max_age_seconds: Option<i64>,
    #[serde(default, deserialize_with = "field::boolean")]
    paused: Option<bool>,
    #[serde(default, deserialize_with = "field::strings")]
    measurements: Option<Vec<String>>,
    #[serde(default, deserialize_with = "field::nullable_uint")]
    rate_limit_bytes_per_second: Option<Option<u64>>,
    #[serde(default, deserialize_with = "field::string_map")]
    add_tags: Option<Vec<(String, String)>>,
    #[serde(default, deserialize_with = "field::uint")]
    max_batch_bytes: Option<u64>,
    /// `Some` when sent at all: PATCH refuses it, even `null`.
    #[serde(default, deserialize_with = "field::nullable_string")]
    backfill_from: Option<Option<String>>,
}

impl ReplicationBody {
    /// The remote bucket name, from InfluxDB's request spelling or its response spelling.
    fn remote_bucket_name(&mut self) -> Option<String> {
        self.remote_bucket_name
            .take()
            .or_else(|| self.remote_bucket_name_as_answered.take())
    }
}

fn opt_id(k: &str, v: Option<String>) -> Result<Option<String>, ApiError> {
    v.map(|s| id_param(k, &s)).transpose()
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
    TypedJson(mut b): TypedJson<ReplicationBody>,
) -> Result<(StatusCode, Json<api::Replication>), ApiError> {
    let org = node.resolve_org(b.org_id.as_deref(), b.org.as_deref(), &auth)?;
    node.require(&auth, Action::Write, "replications", &org.id, None)?;
    let name = b
        .name
        .take()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::BadRequest("name is required".into()))?;
    let remote_id = opt_id("remoteID", b.remote_id.take())?
        .ok_or_else(|| ApiError::BadRequest("remoteID is required".into()))?;
    let local_bucket_id = opt_id("localBucketID", b.local_bucket_id.take())?
        .ok_or_else(|| ApiError::BadRequest("localBucketID is required".into()))?;
    // a stream sends the bucket elsewhere: only a token that may read it can set one up
    node.require(&auth, Action::Read, "buckets", &org.id, Some(&local_bucket_id))
        .map_err(|_| {
            ApiError::Forbidden(format!(
                "insufficient permissions: replicating bucket {local_bucket_id} needs read access to it"
            ))
        })?;
    let remote_bucket_id = b.remote_bucket_id.take().filter(|s| !s.is_empty());
    let remote_bucket_name = b.remote_bucket_name().filter(|s| !s.is_empty());
    if remote_bucket_id.is_none() && remote_bucket_name.is_none() {
        return Err(ApiError::Unprocessable(
            "either remoteBucketID or remoteBucketName is required".into(),
        ));
    }
    let backfill_from_ns = b
        .backfill_from
        .flatten()
        .as_deref()
        .map(crate::timeparse::parse_time)
        .transpose()?;
    let new = NewReplication {
        org_id: org.id,
        name,
        description: b.description.unwrap_or_default(),
        remote_id,
        local_bucket_id,
        remote_bucket_id,
        remote_bucket_name,
        max_queue_size_bytes: b
            .max_queue_size_bytes
            .unwrap_or(DEFAULT_MAX_QUEUE_SIZE_BYTES),
        drop_non_retryable_data: b.drop_non_retryable_data.unwrap_or(false),
        max_age_seconds: b.max_age_seconds.unwrap_or(DEFAULT_MAX_AGE_SECONDS),
        paused: b.paused.unwrap_or(false),
        measurements: b.measurements.unwrap_or_default(),
        rate_limit_bytes_per_sec: b.rate_limit_bytes_per_second.flatten(),
        add_tags: b.add_tags.unwrap_or_default(),
        backfill_from_ns,
        max_batch_bytes: b.max_batch_bytes.unwrap_or(DEFAULT_MAX_BATCH_BYTES),
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
    TypedJson(mut b): TypedJson<ReplicationBody>,
) -> Result<Json<api::Replication>, ApiError> {
    let r = lookup(&node, &auth, &id, Action::Write)?;
    if b.backfill_from.is_some() {
        return Err(ApiError::BadRequest(
            "backfillFrom can only be set when the replication is created".into(),
        ));
    }
    let remote_id = opt_id("remoteID", b.remote_id.take())?;
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
        remote_bucket_name: b.remote_bucket_name(),
        name: b.name,
        description: b.description,
        remote_id,
        remote_bucket_id: b.remote_bucket_id,
        max_queue_size_bytes: b.max_queue_size_bytes,
        drop_non_retryable_data: b.drop_non_retryable_data,
        max_age_seconds: b.max_age_seconds,
        paused: b.paused,
        measurements: b.measurements,
        rate_limit_bytes_per_sec: b.rate_limit_bytes_per_second,
        add_tags: b.add_tags,
        max_batch_bytes: b.max_batch_bytes,
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
