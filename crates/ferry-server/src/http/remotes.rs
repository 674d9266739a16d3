//! `/api/v2/remotes`: the servers replications write to (InfluxDB 2's API, Ferry's extra
//! `kind`, `remoteUsername`, `remotePassword`, `caCertFile`). Tokens and passwords go in,
//! never out.

use super::extract::{Auth, JsonBody, Q};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use super::json::{self as shape, id_param, Body};
use super::AppState;
use crate::api;
use crate::error::ApiError;
use ferry_catalog::{Action, NewRemote, RemoteUpdate};
use ferry_lp::RemoteKind;

/// List filters (InfluxDB's, exact matches).
#[derive(Debug, Deserialize)]
pub struct ListParams {
    #[serde(rename = "orgID")]
    org_id: Option<String>,
    name: Option<String>,
    #[serde(rename = "remoteURL")]
    remote_url: Option<String>,
}

fn kind(b: &Body) -> Result<Option<RemoteKind>, ApiError> {
    b.str("kind")?
        .map(|k| {
            RemoteKind::parse(&k).ok_or_else(|| {
                ApiError::BadRequest(format!("kind {k:?} is unknown: use v2, v1, v3 or tdengine"))
            })
        })
        .transpose()
}

/// `GET /api/v2/remotes?orgID=` → `{"remotes":[...]}`.
pub async fn list(
    State(node): State<AppState>,
    Auth(auth): Auth,
    Q(q): Q<ListParams>,
) -> Result<Json<api::RemoteList>, ApiError> {
    let org_id = q
        .org_id
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::BadRequest("orgID is required".into()))?;
    let org_id = id_param("orgID", org_id)?;
    let remotes: Vec<api::Remote> = node
        .catalog
        .list_remotes(&org_id, q.name.as_deref(), q.remote_url.as_deref())?
        .iter()
        .filter(|r| {
            node.require(&auth, Action::Read, "remotes", &r.org_id, Some(&r.id))
                .is_ok()
        })
        .map(shape::remote)
        .collect();
    Ok(Json(api::RemoteList { remotes }))
}

/// `POST /api/v2/remotes` → 201.
pub async fn create(
    State(node): State<AppState>,
    Auth(auth): Auth,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<api::Remote>), ApiError> {
    let b = Body(&body);
    let org = node.resolve_org(b.str("orgID")?.as_deref(), b.str("org")?.as_deref(), &auth)?;
    node.require(&auth, Action::Write, "remotes", &org.id, None)?;
    let name = b
        .str("name")?
        .ok_or_else(|| ApiError::BadRequest("name is required".into()))?;
    let remote_url = b
        .str("remoteURL")?
        .ok_or_else(|| ApiError::BadRequest("remoteURL is required".into()))?;
    let r = node.catalog.create_remote(NewRemote {
        org_id: org.id,
        name,
        description: b.str("description")?.unwrap_or_default(),
        remote_url,
        remote_api_token: b.str("remoteAPIToken")?.unwrap_or_default(),
        remote_org_id: b.str("remoteOrgID")?,
        allow_insecure_tls: b.bool("allowInsecureTLS")?.unwrap_or(false),
        kind: kind(&b)?.unwrap_or_default(),
        remote_username: b.str("remoteUsername")?,
        remote_password: b.str("remotePassword")?,
        ca_cert_file: b.str("caCertFile")?,
    })?;
    Ok((StatusCode::CREATED, Json(shape::remote(&r))))
}

/// `GET /api/v2/remotes/{id}`.
pub async fn get_one(
    State(node): State<AppState>,
    Auth(auth): Auth,
    Path(id): Path<String>,
) -> Result<Json<api::Remote>, ApiError> {
    let id = id_param("remote ID", &id)?;
    let r = node.catalog.remote_by_id(&id)?;
    node.require(&auth, Action::Read, "remotes", &r.org_id, Some(&r.id))?;
    Ok(Json(shape::remote(&r)))
}

/// `PATCH /api/v2/remotes/{id}` with the fields to change; the replications using the remote
/// restart with the new settings.
pub async fn update(
    State(node): State<AppState>,
    Auth(auth): Auth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<api::Remote>, ApiError> {
    let id = id_param("remote ID", &id)?;
    let r = node.catalog.remote_by_id(&id)?;
    node.require(&auth, Action::Write, "remotes", &r.org_id, Some(&r.id))?;
    let b = Body(&body);
    let upd = RemoteUpdate {
        name: b.str("name")?,
        description: b.str("description")?,
        remote_url: b.str("remoteURL")?,
        remote_api_token: b.str("remoteAPIToken")?,
        remote_org_id: b.nullable_str("remoteOrgID")?,
        allow_insecure_tls: b.bool("allowInsecureTLS")?,
        kind: kind(&b)?,
        remote_username: b.nullable_str("remoteUsername")?,
        remote_password: b.nullable_str("remotePassword")?,
        ca_cert_file: b.nullable_str("caCertFile")?,
    };
    let r = node.catalog.update_remote(&id, upd)?;
    for rep in node.catalog.replications_of_remote(&id)? {
        node.replications.start_or_update(&rep, &r).await;
    }
    Ok(Json(shape::remote(&r)))
}

/// `DELETE /api/v2/remotes/{id}` → 204; 409 naming the replications that still use it.
pub async fn delete(
    State(node): State<AppState>,
    Auth(auth): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = id_param("remote ID", &id)?;
    let r = node.catalog.remote_by_id(&id)?;
    node.require(&auth, Action::Write, "remotes", &r.org_id, Some(&r.id))?;
    for rep in node.catalog.delete_remote(&id, false)? {
        node.replications.stop(&rep).await;
    }
    Ok(StatusCode::NO_CONTENT)
}
