//! `POST /api/v2/write` and `POST /write` (v1).

use super::extract::{Auth, Q};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use serde::Deserialize;

use super::AppState;
use crate::body::read_body;
use crate::error::{ApiError, V1Error};
use crate::metrics::writes::Api;
use crate::node::WriteApi;
use crate::write_gate::held_by;
use ferry_catalog::Action;
use ferry_lp::Precision;
use ferry_pipeline::ORIGIN_HEADER;

/// v2 write parameters.
#[derive(Debug, Deserialize)]
pub struct V2Params {
    org: Option<String>,
    #[serde(rename = "orgID")]
    org_id: Option<String>,
    bucket: Option<String>,
    precision: Option<String>,
}

/// `POST /api/v2/write?org=&orgID=&bucket=&precision=` → 204.
pub async fn write_v2(
    State(node): State<AppState>,
    Auth(auth): Auth,
    Q(q): Q<V2Params>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let bucket_name = q.bucket.filter(|b| !b.is_empty()).ok_or_else(|| {
        ApiError::BadRequest("bucket is required: add ?bucket=<name or id> to the URL".into())
    })?;
    let precision = match q.precision.as_deref() {
        None | Some("") => Precision::Nanoseconds,
        Some(p) => Precision::parse_v2(p).ok_or_else(|| {
            ApiError::BadRequest(format!("invalid precision {p:?}: use ns, us, ms or s"))
        })?,
    };
    let org = node.resolve_org(q.org_id.as_deref(), q.org.as_deref(), &auth)?;
    let bucket = node.resolve_bucket(&org, &bucket_name)?;
    node.require(&auth, Action::Write, "buckets", &org.id, Some(&bucket.id))?;
    let origin = origin(&node, &auth, &org.id, &headers)?;
    let mut permit = node
        .admit_write(announced_length(&headers, node.config.max_body_bytes))
        .await?;
    let body = read_body(&headers, body, node.config.max_body_bytes).await?;
    permit.resize(held_by(&body));
    node.write_lp(&bucket, body, precision, WriteApi::V2, origin)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// v1 write parameters.
#[derive(Debug, Deserialize)]
pub struct V1Params {
    db: Option<String>,
    rp: Option<String>,
    precision: Option<String>,
    #[allow(dead_code)]
    u: Option<String>,
    p: Option<String>,
    consistency: Option<String>,
}

/// `POST /write?db=&rp=&precision=&u=&p=` → 204, with InfluxDB 1.x's error answers.
pub async fn write_v1(
    State(node): State<AppState>,
    Q(q): Q<V1Params>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, V1Error> {
    let token = crate::auth::request_token(&headers, q.p.as_deref());
    let auth = node.authenticate(token.as_deref())?;
    let db =
        q.db.filter(|d| !d.is_empty())
            .ok_or_else(|| ApiError::BadRequest("database is required".into()))?;
    if let Some(c) = q.consistency.as_deref() {
        if !matches!(c, "" | "any" | "one" | "quorum" | "all") {
            return Err(ApiError::BadRequest(format!("invalid consistency {c:?}")).into());
        }
    }
    let precision = match q.precision.as_deref() {
        None | Some("") => Precision::Nanoseconds,
        Some(p) => Precision::parse_v1(p).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "invalid precision {p:?}: use n, ns, u, ms, s, m or h"
            ))
        })?,
    };
    let org_scope = auth.as_ref().map(|a| a.org_id.clone()).unwrap_or_default();
    let rp = q.rp.unwrap_or_default();
    let bucket = node
        .catalog
        .resolve_dbrp(&org_scope, &db, &rp)?
        .ok_or_else(|| ApiError::NotFound(format!("database not found: \"{db}\"")))?;
    node.require(
        &auth,
        Action::Write,
        "buckets",
        &bucket.org_id,
        Some(&bucket.id),
    )?;
    let origin = origin(&node, &auth, &bucket.org_id, &headers)?;
    let mut permit = node
        .admit_write(announced_length(&headers, node.config.max_body_bytes))
        .await?;
    let body = read_body(&headers, body, node.config.max_body_bytes).await?;
    permit.resize(held_by(&body));
    node.write_lp(&bucket, body, precision, WriteApi::V1, origin)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What a write's body is expected to take before it is read: its `Content-Length`
/// (compressed, if it is; corrected once read), else a typical batch; at most `max` (a
/// larger body is refused while it is read).
fn announced_length(headers: &HeaderMap, max: usize) -> usize {
    const UNANNOUNCED: usize = 64 * 1024;
    headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(UNANNOUNCED)
        .min(max)
}

/// The `X-Ferry-Origin` header a replicating Ferry sends: the node IDs the data passed
/// through, which this node's streams will not send it back to. It decides where data
/// replicates, so only a token that may write the org's replications may send it: otherwise
/// any writer could keep its points from reaching a node (a 403 says so; silently ignoring
/// it would let a misconfigured pair of streams bounce data between them forever).
fn origin<'h>(
    node: &crate::node::Node,
    auth: &Option<ferry_catalog::Authorization>,
    org_id: &str,
    headers: &'h HeaderMap,
) -> Result<Option<&'h str>, ApiError> {
    let Some(ids) = headers
        .get(ORIGIN_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
    else {
        return Ok(None);
    };
    node.require(auth, Action::Write, "replications", org_id, None)
        .map_err(|_| {
            ApiError::Forbidden(format!(
                "{ORIGIN_HEADER} is sent by replication streams only: the token needs write permission on the org's replications to send it"
            ))
        })?;
    Ok(Some(ids))
}

/// Layer of `POST /write`: counts its answers (refusals before the handler included).
pub async fn count_v1(State(node): State<AppState>, req: Request, next: Next) -> Response {
    count(&node, Api::V1, req, next).await
}

/// Layer of `POST /api/v2/write`: counts its answers (refusals before the handler included).
pub async fn count_v2(State(node): State<AppState>, req: Request, next: Next) -> Response {
    count(&node, Api::V2, req, next).await
}

async fn count(node: &crate::node::Node, api: Api, req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    node.metrics.writes.answered(api, res.status().as_u16());
    res
}
