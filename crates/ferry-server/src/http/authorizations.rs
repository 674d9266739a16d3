//! `/api/v2/authorizations`: tokens. Clear tokens are shown once, when created.

use super::extract::{Auth, TypedJson, Q};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use super::{json as shape, AppState};
use crate::api;
use crate::error::ApiError;
use ferry_catalog::{Action, Authorization, NewAuthorization, Permission};

/// List filters.
#[derive(Debug, Deserialize)]
pub struct ListParams {
    org: Option<String>,
    #[serde(rename = "orgID")]
    org_id: Option<String>,
}

fn org_name(node: &crate::node::Node, id: &str) -> String {
    node.catalog
        .org_by_id(id)
        .map(|o| o.name)
        .unwrap_or_default()
}

/// `GET /api/v2/authorizations` → `{"authorizations":[...]}` (never the tokens).
pub async fn list(
    State(node): State<AppState>,
    Auth(auth): Auth,
    Q(q): Q<ListParams>,
) -> Result<Json<api::AuthorizationList>, ApiError> {
    let org = if q.org.is_some() || q.org_id.is_some() {
        Some(
            node.resolve_org(q.org_id.as_deref(), q.org.as_deref(), &auth)?
                .id,
        )
    } else {
        None
    };
    let authorizations: Vec<api::Authorization> = node
        .catalog
        .list_authorizations(org.as_deref())?
        .iter()
        .filter(|a| {
            node.require(&auth, Action::Read, "authorizations", &a.org_id, None)
                .is_ok()
        })
        .map(|a| shape::authorization(a, &org_name(&node, &a.org_id)))
        .collect();
    Ok(Json(api::AuthorizationList {
        authorizations,
        links: api::Links::to_self("/api/v2/authorizations"),
    }))
}

/// The body of `POST /api/v2/authorizations`, as the influx CLI and the clients send it.
#[derive(Debug, Deserialize)]
pub struct NewAuthorizationBody {
    #[serde(rename = "orgID")]
    org_id: Option<String>,
    org: Option<String>,
    #[serde(default)]
    description: String,
    /// `inactive` creates the token switched off.
    status: Option<String>,
    permissions: Vec<PermissionBody>,
}

/// One permission asked for: InfluxDB's shape, whose `resource` may also carry `name` and
/// `org` (display only, ignored).
#[derive(Debug, Deserialize)]
struct PermissionBody {
    action: ActionBody,
    resource: ResourceBody,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
enum ActionBody {
    Read,
    Write,
}

#[derive(Debug, Deserialize)]
struct ResourceBody {
    #[serde(rename = "type")]
    kind: String,
    #[serde(rename = "orgID")]
    org_id: Option<String>,
    id: Option<String>,
}

impl From<PermissionBody> for Permission {
    fn from(p: PermissionBody) -> Permission {
        Permission {
            action: match p.action {
                ActionBody::Read => Action::Read,
                ActionBody::Write => Action::Write,
            },
            resource_type: p.resource.kind,
            org_id: p.resource.org_id,
            id: p.resource.id,
        }
    }
}

/// `POST /api/v2/authorizations` `{"orgID","description","permissions":[...]}` → 201 with the
/// token. A token can only grant what its creator's token has.
pub async fn create(
    State(node): State<AppState>,
    Auth(auth): Auth,
    TypedJson(body): TypedJson<NewAuthorizationBody>,
) -> Result<(StatusCode, Json<api::Authorization>), ApiError> {
    let org = node.resolve_org(body.org_id.as_deref(), body.org.as_deref(), &auth)?;
    node.require(&auth, Action::Write, "authorizations", &org.id, None)?;
    let mut permissions: Vec<Permission> =
        body.permissions.into_iter().map(Permission::from).collect();
    for p in &mut permissions {
        // A permission without an org covers every org. Only a creator who holds it for
        // every org may grant it so; anyone else grants it for the new token's org.
        if p.org_id.is_none() && !holds_for_every_org(&auth, p) {
            p.org_id = Some(org.id.clone());
        }
        let target_org = p.org_id.as_deref().unwrap_or(&org.id);
        node.require(
            &auth,
            p.action,
            &p.resource_type,
            target_org,
            p.id.as_deref(),
        )
        .map_err(|_| {
            ApiError::Forbidden(format!(
                "cannot grant {} on {}: the creating token does not have it",
                if p.action == Action::Read {
                    "read"
                } else {
                    "write"
                },
                p.resource_type
            ))
        })?;
    }
    let a = node.catalog.create_authorization(NewAuthorization {
        org_id: org.id.clone(),
        description: body.description,
        permissions,
        token: None,
    })?;
    if body.status.as_deref() == Some("inactive") {
        node.catalog.set_authorization_status(&a.id, "inactive")?;
    }
    Ok((
        StatusCode::CREATED,
        Json(shape::authorization(&a, &org.name)),
    ))
}

/// Whether the creating token (none: `--no-auth`) holds `p` for every org, i.e. through a
/// permission of its own that names no org.
fn holds_for_every_org(auth: &Option<Authorization>, p: &Permission) -> bool {
    let Some(a) = auth else {
        return true;
    };
    a.status == "active"
        && a.permissions.iter().any(|mine| {
            mine.org_id.is_none() && mine.allows(p.action, &p.resource_type, "", p.id.as_deref())
        })
}

/// `GET /api/v2/authorizations/{id}`.
pub async fn get_one(
    State(node): State<AppState>,
    Auth(auth): Auth,
    Path(id): Path<String>,
) -> Result<Json<api::Authorization>, ApiError> {
    let a = node.catalog.authorization_by_id(&id)?;
    node.require(&auth, Action::Read, "authorizations", &a.org_id, None)?;
    Ok(Json(shape::authorization(&a, &org_name(&node, &a.org_id))))
}

/// The body of `PATCH /api/v2/authorizations/{id}`.
#[derive(Debug, serde::Deserialize)]
pub struct AuthorizationPatch {
    status: Option<String>,
}

/// `PATCH /api/v2/authorizations/{id}` `{"status":"active"|"inactive"}`.
pub async fn update(
    State(node): State<AppState>,
    Auth(auth): Auth,
    Path(id): Path<String>,
    TypedJson(body): TypedJson<AuthorizationPatch>,
) -> Result<Json<api::Authorization>, ApiError> {
    let a = node.catalog.authorization_by_id(&id)?;
    node.require(&auth, Action::Write, "authorizations", &a.org_id, None)?;
    let a = match body.status.as_deref() {
        Some(st) => node.catalog.set_authorization_status(&id, st)?,
        None => a,
    };
    node.replications.recheck_authority(&node, &id).await;
    Ok(Json(shape::authorization(&a, &org_name(&node, &a.org_id))))
}

/// `DELETE /api/v2/authorizations/{id}` → 204.
pub async fn delete(
    State(node): State<AppState>,
    Auth(auth): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let a = node.catalog.authorization_by_id(&id)?;
    node.require(&auth, Action::Write, "authorizations", &a.org_id, None)?;
    node.catalog.delete_authorization(&id)?;
    node.replications.recheck_authority(&node, &id).await;
    Ok(StatusCode::NO_CONTENT)
}
