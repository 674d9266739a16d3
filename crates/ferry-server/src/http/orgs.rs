//! `/api/v2/orgs`.

use super::extract::{Auth, TypedJson, Q};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use super::{json as shape, AppState};
use crate::api;
use crate::error::ApiError;
use ferry_catalog::Action;

/// List filters.
#[derive(Debug, Deserialize)]
pub struct ListParams {
    org: Option<String>,
    #[serde(rename = "orgID")]
    org_id: Option<String>,
}

fn readable(
    node: &crate::node::Node,
    auth: &Option<ferry_catalog::Authorization>,
    org_id: &str,
) -> bool {
    node.require(auth, Action::Read, "orgs", org_id, Some(org_id))
        .is_ok()
        || auth.as_ref().is_some_and(|a| a.org_id == org_id)
}

/// `GET /api/v2/orgs[?org=&orgID=]` → `{"orgs":[...]}`.
pub async fn list(
    State(node): State<AppState>,
    Auth(auth): Auth,
    Q(q): Q<ListParams>,
) -> Result<Json<api::OrgList>, ApiError> {
    let orgs: Vec<api::Org> = node
        .catalog
        .list_orgs()?
        .iter()
        .filter(|o| q.org.as_deref().is_none_or(|n| n == o.name))
        .filter(|o| q.org_id.as_deref().is_none_or(|i| i == o.id))
        .filter(|o| readable(&node, &auth, &o.id))
        .map(shape::org)
        .collect();
    if orgs.is_empty() && (q.org.is_some() || q.org_id.is_some()) {
        let what = q.org.or(q.org_id).unwrap_or_default();
        return Err(ApiError::NotFound(format!(
            "organization name \"{what}\" not found"
        )));
    }
    Ok(Json(api::OrgList {
        links: api::Links::to_self("/api/v2/orgs"),
        orgs,
    }))
}

/// The body of `POST /api/v2/orgs`.
#[derive(Debug, Deserialize)]
pub struct OrgBody {
    #[serde(default, deserialize_with = "super::json::field::string")]
    name: Option<String>,
    #[serde(default, deserialize_with = "super::json::field::string")]
    description: Option<String>,
}

/// `POST /api/v2/orgs` `{"name","description"}` → 201.
pub async fn create(
    State(node): State<AppState>,
    Auth(auth): Auth,
    TypedJson(body): TypedJson<OrgBody>,
) -> Result<(StatusCode, Json<api::Org>), ApiError> {
    if let Some(a) = &auth {
        if !a.allows(Action::Write, "orgs", &a.org_id, None)
            || a.permissions.iter().any(|p| p.org_id.is_some())
        {
            return Err(ApiError::Forbidden(
                "creating an org needs an operator (all-access) token".into(),
            ));
        }
    }
    let name = body
        .name
        .ok_or_else(|| ApiError::BadRequest("org name is required".into()))?;
    let desc = body.description.unwrap_or_default();
    let org = node.catalog.create_org(&name, &desc)?;
    Ok((StatusCode::CREATED, Json(shape::org(&org))))
}

/// `GET /api/v2/orgs/{id}`.
pub async fn get_one(
    State(node): State<AppState>,
    Auth(auth): Auth,
    Path(id): Path<String>,
) -> Result<Json<api::Org>, ApiError> {
    let org = node.catalog.org_by_id(&id)?;
    if !readable(&node, &auth, &org.id) {
        return Err(ApiError::Forbidden(format!(
            "the token may not read org {id}"
        )));
    }
    Ok(Json(shape::org(&org)))
}

/// The body of `PATCH /api/v2/orgs/{id}`.
#[derive(Debug, serde::Deserialize)]
pub struct OrgPatch {
    name: Option<String>,
    #[allow(dead_code)] // accepted and type-checked; descriptions are not stored yet
    description: Option<String>,
}

/// `PATCH /api/v2/orgs/{id}`: only the description and name are changeable; name changes are
/// refused for now (buckets are addressed by org name in writes).
pub async fn update(
    State(node): State<AppState>,
    Auth(auth): Auth,
    Path(id): Path<String>,
    TypedJson(body): TypedJson<OrgPatch>,
) -> Result<Json<api::Org>, ApiError> {
    node.require(&auth, Action::Write, "orgs", &id, Some(&id))?;
    let org = node.catalog.org_by_id(&id)?;
    if body.name.as_deref().is_some_and(|n| n != org.name) {
        return Err(ApiError::BadRequest(
            "renaming an org is not supported yet".into(),
        ));
    }
    Ok(Json(shape::org(&org)))
}

/// `DELETE /api/v2/orgs/{id}` → 204; deletes its buckets and their data.
pub async fn delete(
    State(node): State<AppState>,
    Auth(auth): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    node.require(&auth, Action::Write, "orgs", &id, Some(&id))?;
    let replications = node.catalog.list_replications(&id, None, None, None)?;
    let buckets = node.catalog.delete_org(&id)?;
    for rep in replications {
        node.replications.stop(&rep.id).await;
    }
    for bucket in buckets {
        node.drop_bucket_data(&bucket).await;
    }
    Ok(StatusCode::NO_CONTENT)
}
