//! `/api/v2/remotes`: the servers replications write to (InfluxDB 2's API, Ferry's extra
//! `kind`, `remoteUsername`, `remotePassword`, `caCertFile`). Tokens and passwords go in,
//! never out.

use super::extract::{Auth, TypedJson, Q};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use super::json::{self as shape, field, id_param};
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

/// The body of `POST` and `PATCH /api/v2/remotes`: on PATCH only the fields to change; a
/// nullable field set to `null` is cleared.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoteBody {
    #[serde(rename = "orgID", default, deserialize_with = "field::string")]
    org_id: Option<String>,
    #[serde(default, deserialize_with = "field::string")]
    org: Option<String>,
    #[serde(default, deserialize_with = "field::string")]
    name: Option<String>,
    #[serde(default, deserialize_with = "field::string")]
    description: Option<String>,
    #[serde(rename = "remoteURL", default, deserialize_with = "field::string")]
    remote_url: Option<String>,
    #[serde(rename = "remoteAPIToken", default, deserialize_with = "field::string")]
    remote_api_token: Option<String>,
    #[serde(
        rename = "remoteOrgID",
        default,
        deserialize_with = "field::nullable_string"
    )]
    remote_org_id: Option<Option<String>>,
    #[serde(
        rename = "allowInsecureTLS",
        default,
        deserialize_with = "field::boolean"
    )]
    allow_insecure_tls: Option<bool>,
    #[serde(default, deserialize_with = "field::string")]
    kind: Option<String>,
    #[serde(default, deserialize_with = "field::nullable_string")]
    remote_username: Option<Option<String>>,
    #[serde(default, deserialize_with = "field::nullable_string")]
    remote_password: Option<Option<String>>,
    #[serde(default, deserialize_with = "field::nullable_string")]
    ca_cert_file: Option<Option<String>>,
}

fn kind(b: &RemoteBody) -> Result<Option<RemoteKind>, ApiError> {
    b.kind
        .as_ref()
        .map(|k| {
            RemoteKind::parse(k).ok_or_else(|| {
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
    TypedJson(b): TypedJson<RemoteBody>,
) -> Result<(StatusCode, Json<api::Remote>), ApiError> {
    let org = node.resolve_org(b.org_id.as_deref(), b.org.as_deref(), &auth)?;
    node.require(&auth, Action::Write, "remotes", &org.id, None)?;
    let name = b
        .name
        .clone()
        .ok_or_else(|| ApiError::BadRequest("name is required".into()))?;
    let remote_url = b
        .remote_url
        .clone()
        .ok_or_else(|| ApiError::BadRequest("remoteURL is required".into()))?;
    let kind = kind(&b)?.unwrap_or_default();
    let r = node.catalog.create_remote(NewRemote {
        org_id: org.id,
        name,
        description: b.description.unwrap_or_default(),
        remote_url,
        remote_api_token: b.remote_api_token.unwrap_or_default(),
        remote_org_id: b.remote_org_id.flatten(),
        allow_insecure_tls: b.allow_insecure_tls.unwrap_or(false),
        kind,
        remote_username: b.remote_username.flatten(),
        remote_password: b.remote_password.flatten(),
        ca_cert_file: b.ca_cert_file.flatten(),
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
    TypedJson(b): TypedJson<RemoteBody>,
) -> Result<Json<api::Remote>, ApiError> {
    let id = id_param("remote ID", &id)?;
    let r = node.catalog.remote_by_id(&id)?;
    node.require(&auth, Action::Write, "remotes", &r.org_id, Some(&r.id))?;
    let upd = RemoteUpdate {
        kind: kind(&b)?,
        name: b.name,
        description: b.description,
        remote_url: b.remote_url,
        remote_api_token: b.remote_api_token,
        remote_org_id: b.remote_org_id,
        allow_insecure_tls: b.allow_insecure_tls,
        remote_username: b.remote_username,
        remote_password: b.remote_password,
        ca_cert_file: b.ca_cert_file,
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
