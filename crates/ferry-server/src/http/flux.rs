//! `POST /api/v2/query?org=&orgID=`: Flux, answered in annotated CSV as InfluxDB 2 answers it.
//!
//! The body is JSON (`query`, `type`, `dialect`, `now`, `extern`: what InfluxDB 2's clients
//! send) or, with `Content-Type: application/vnd.flux`, the script itself. The query runs under
//! the node's query limits (registered like an InfluxQL query: counted by the concurrency
//! limit, its memory charged to the query budget) and reads only buckets of the org that the
//! token may read. Errors come before any data, as InfluxDB's JSON error with its status.
//! A client that accepts gzip (`Accept-Encoding`, as the Go client behind Grafana sends it)
//! gets the CSV gzipped, as InfluxDB 2 answers it.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use ferry_flux::csv::{Annotation, Dialect};
use ferry_flux::query::QueryErrorKind;
use serde::Deserialize;

use super::extract::{Auth, Q};
use super::worker::run_on_this_worker;
use super::AppState;
use crate::body::read_body;
use crate::error::ApiError;
use crate::flux_access::{run_query, FluxRun, TokenBuckets};

/// The request header that turns the guides' leniencies off for one query.
pub const STRICT_HEADER: &str = "ferry-flux-strict";
/// The response header that lists the leniencies a query ran with.
pub const LENIENCY_HEADER: &str = "ferry-flux-leniency";

/// The `org`/`orgID` query parameters.
#[derive(Debug, Deserialize)]
pub struct OrgParams {
    org: Option<String>,
    #[serde(rename = "orgID")]
    org_id: Option<String>,
}

/// The JSON body.
#[derive(Debug, Deserialize)]
struct QueryBody {
    query: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    dialect: Option<DialectBody>,
    now: Option<String>,
    #[serde(rename = "extern")]
    extern_file: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct DialectBody {
    header: Option<bool>,
    delimiter: Option<String>,
    #[serde(default)]
    annotations: Vec<String>,
    #[serde(rename = "commentPrefix")]
    comment_prefix: Option<String>,
    #[serde(rename = "dateTimeFormat")]
    date_time_format: Option<String>,
}

fn dialect(d: Option<DialectBody>) -> Result<Dialect, ApiError> {
    let mut out = Dialect::default();
    let Some(d) = d else { return Ok(out) };
    if let Some(h) = d.header {
        out.header = h;
    }
    if let Some(delim) = d.delimiter {
        let mut chars = delim.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => out.delimiter = c,
            _ => {
                return Err(ApiError::BadRequest(
                    "invalid dialect delimiter: must be one character".into(),
                ))
            }
        }
    }
    for a in &d.annotations {
        out.annotations.push(
            Annotation::parse(a)
                .ok_or_else(|| ApiError::BadRequest(format!("unknown annotation {a:?}")))?,
        );
    }
    if d.comment_prefix.is_some_and(|c| c.chars().count() > 1) {
        return Err(ApiError::BadRequest(
            "invalid dialect comment prefix: must be at most one character".into(),
        ));
    }
    if let Some(f) = d.date_time_format {
        if f != "RFC3339" && f != "RFC3339Nano" {
            return Err(ApiError::BadRequest(format!(
                "invalid dateTimeFormat {f:?}"
            )));
        }
    }
    Ok(out)
}

/// The handler.
pub async fn query(
    State(node): State<AppState>,
    Auth(auth): Auth,
    Q(params): Q<OrgParams>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let org = node.resolve_org(params.org_id.as_deref(), params.org.as_deref(), &auth)?;
    // A token that may read no bucket of the org has nothing to query: refused before its
    // body is read (each bucket is checked again as the script names it).
    if let Some(a) = &auth {
        let reads_some_bucket = a.permissions.iter().any(|p| {
            p.action == ferry_catalog::Action::Read
                && p.resource_type == "buckets"
                && p.org_id.as_deref().is_none_or(|o| o == org.id)
        });
        if !reads_some_bucket {
            return Err(ApiError::Forbidden(
                "insufficient permissions: the token may not read buckets".into(),
            ));
        }
    }
    let raw = read_body(&headers, body, node.config.max_body_bytes).await?;
    let is_flux = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/vnd.flux"));
    let (script, dialect, now, extern_file) = if is_flux {
        let script = String::from_utf8(raw)
            .map_err(|_| ApiError::BadRequest("the query is not UTF-8".into()))?;
        (script, Dialect::default(), None, None)
    } else {
        let body: QueryBody = serde_json::from_slice(&raw).map_err(|e| {
            ApiError::BadRequest(format!(
                "failed parsing request body as JSON; if sending a raw Flux script, set \
                 'Content-Type: application/vnd.flux' in your request headers: {e}"
            ))
        })?;
        if let Some(k) = body.kind.as_deref().filter(|k| *k != "flux") {
            return Err(ApiError::BadRequest(format!("unknown query type: {k}")));
        }
        let script = body.query.filter(|q| !q.is_empty()).ok_or_else(|| {
            ApiError::BadRequest("request body requires either query or AST".into())
        })?;
        let now = match body.now.as_deref() {
            None | Some("") => None,
            Some(t) => Some(
                ferry_lp::parse_rfc3339(t)
                    .ok_or_else(|| ApiError::BadRequest(format!("invalid now time {t:?}")))?,
            ),
        };
        let extern_file = match body.extern_file {
            None | Some(serde_json::Value::Null) => None,
            Some(mut v) => {
                if let Some(o) = v.as_object_mut() {
                    o.entry("type").or_insert_with(|| "File".into());
                }
                Some(
                    serde_json::from_value::<ferry_flux::ast::File>(v)
                        .map_err(|e| ApiError::BadRequest(format!("invalid extern: {e}")))?,
                )
            }
        };
        (script, dialect(body.dialect)?, now, extern_file)
    };
    let gzip = accepts_gzip(&headers);
    let no_content = headers
        .get("prefer")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("return-no-content"));
    let now = now.unwrap_or_else(|| chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX));
    let strict = node.config.flux_strict
        || headers
            .get(STRICT_HEADER)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let registered = node
        .queries
        .start(&script, &org.name)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    // on the worker that read the request, as `/query` runs (handed over to a blocking
    // thread at the first point after its inline budget: `worker.rs`)
    let rt = tokio::runtime::Handle::current();
    let on_worker = rt.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread;
    let mut buckets = TokenBuckets::new(node.node.clone(), auth, org);
    if on_worker {
        buckets = buckets.on_worker();
    }
    let run = move || {
        let limits = registered.limits();
        let run = FluxRun {
            script: &script,
            extern_file: extern_file.as_ref(),
            now,
            last_success: None,
            strict,
            discard_results: false,
        };
        let answered = run_query(buckets, run, limits);
        drop(registered);
        match answered {
            Err(e) => Err(match e.kind {
                QueryErrorKind::NotFound => ApiError::NotFound(e.message),
                QueryErrorKind::Forbidden => ApiError::Forbidden(e.message),
                QueryErrorKind::Invalid => ApiError::BadRequest(e.message),
            }),
            Ok(ran) => {
                let csv = ferry_flux::csv::encode(&ran.results, &dialect);
                let body = if gzip {
                    gzipped(csv.as_bytes())?
                } else {
                    csv.into_bytes()
                };
                Ok((body, ran.notes))
            }
        }
    };
    let run = move || {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(run))
            .unwrap_or_else(|_| Err(ApiError::Internal("the Flux query failed (a bug)".into())))
    };
    let (body, notes) = if on_worker {
        run_on_this_worker(rt, run)?
    } else {
        tokio::task::spawn_blocking(run)
            .await
            .map_err(|e| ApiError::Internal(format!("query failed: {e}")))??
    };
    let mut response = if no_content {
        StatusCode::NO_CONTENT.into_response()
    } else if gzip {
        (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (header::CONTENT_ENCODING, "gzip"),
            ],
            body,
        )
            .into_response()
    } else {
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            body,
        )
            .into_response()
    };
    if !notes.is_empty() {
        tracing::info!(notes = %notes.join("; "), "a Flux query ran with leniencies");
        // header values are visible ASCII: the notes are ours and ASCII but for backticks
        if let Ok(v) = axum::http::HeaderValue::from_str(&notes.join("; ")) {
            response.headers_mut().insert(LENIENCY_HEADER, v);
        }
    }
    Ok(response)
}

/// Whether `Accept-Encoding` takes gzip (`gzip` or `x-gzip` not at `q=0`).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or("");
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f64>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip")) && !refused
        })
}

/// `data` gzipped (the fast level: a dashboard waits on it).
fn gzipped(data: &[u8]) -> Result<Vec<u8>, ApiError> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(
        Vec::with_capacity(data.len() / 4 + 64),
        flate2::Compression::fast(),
    );
    e.write_all(data)
        .and_then(|()| e.finish())
        .map_err(|err| ApiError::Internal(format!("gzip: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_taken_as_http_says() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT_ENCODING, v.parse().unwrap());
            accepts_gzip(&h)
        };
        assert!(with("gzip"));
        assert!(with("deflate, GZIP;q=0.5"));
        assert!(with("x-gzip"));
        assert!(!with("identity"));
        assert!(!with("gzip;q=0"));
        assert!(!with("br, zstd"));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }
}
