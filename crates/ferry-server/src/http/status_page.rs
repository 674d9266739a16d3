//! The status page: `GET /` and its script and style, embedded in the binary (no build step,
//! no framework), and `GET /api/ferry/v1/status`, the one endpoint it needs besides the
//! InfluxDB API: sampled stream history and bucket figures, limited to what the token reads
//! (built by the node, see [`StatusReport`]).

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Value;

use crate::error::ApiError;

const INDEX_HTML: &str = include_str!("../../assets/status/index.html");
const SCRIPT: &str = include_str!("../../assets/status/status.js");
const STYLE: &str = include_str!("../../assets/status/status.css");

/// The page may load its own script and style and talk to this node, nothing else.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                   img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// FNV-1a, for the assets' ETags (computed at compile time).
const fn fnv1a(s: &str) -> u64 {
    let b = s.as_bytes();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < b.len() {
        h ^= b[i] as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    h
}

const INDEX_TAG: u64 = fnv1a(INDEX_HTML);
const SCRIPT_TAG: u64 = fnv1a(SCRIPT);
const STYLE_TAG: u64 = fnv1a(STYLE);

/// An embedded asset, revalidated by its ETag (`no-cache`: a new binary's page is seen at once).
fn asset(
    headers: &HeaderMap,
    body: &'static str,
    tag: u64,
    content_type: &'static str,
) -> Response {
    let etag = format!("\"{tag:016x}\"");
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut h = HeaderMap::new();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if fresh {
        return (StatusCode::NOT_MODIFIED, h).into_response();
    }
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    (StatusCode::OK, h, body).into_response()
}

/// `GET /`: the page. It asks for a token itself; the HTML holds no data.
pub async fn page(headers: HeaderMap) -> Response {
    asset(&headers, INDEX_HTML, INDEX_TAG, "text/html; charset=utf-8")
}

/// `GET /ui/status.js`.
pub async fn script(headers: HeaderMap) -> Response {
    asset(
        &headers,
        SCRIPT,
        SCRIPT_TAG,
        "text/javascript; charset=utf-8",
    )
}

/// `GET /ui/status.css`.
pub async fn style(headers: HeaderMap) -> Response {
    asset(&headers, STYLE, STYLE_TAG, "text/css; charset=utf-8")
}

/// What `GET /api/ferry/v1/status` needs from the node (the node's side is in
/// `crate::status_report`: passed in as the router's state, so this file needs no node).
pub trait StatusReport: Send + Sync + 'static {
    /// The status JSON for the request's `token`, with history samples taken after
    /// `since_ms`: version and sampling settings, the figures of the buckets the token may
    /// read, the history of the replications it may read (with whether it may pause them),
    /// and the orgs those belong to.
    fn status_report(&self, token: Option<&str>, since_ms: i64) -> Result<Value, ApiError>;
}

/// `?since=<unix ms>` of a query string (`None`: all the history).
fn since_param(query: Option<&str>) -> Result<Option<i64>, ApiError> {
    let Some(v) = query
        .unwrap_or_default()
        .split('&')
        .find_map(|kv| kv.strip_prefix("since="))
    else {
        return Ok(None);
    };
    v.parse().map(Some).map_err(|_| {
        ApiError::BadRequest(format!(
            "since must be a Unix time in milliseconds, not {v:?}"
        ))
    })
}

/// `GET /api/ferry/v1/status[?since=ms]` (see [`StatusReport`]); the page asks only for the
/// samples it does not have yet.
pub async fn status<S: StatusReport>(
    State(source): State<Arc<S>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let since = since_param(query.as_deref())?.unwrap_or(i64::MIN);
    let token = crate::auth::request_token(&headers, None);
    source.status_report(token.as_deref(), since).map(Json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_is_optional_and_must_be_a_number() {
        assert_eq!(since_param(None).unwrap(), None);
        assert_eq!(since_param(Some("a=1&since=42")).unwrap(), Some(42));
        assert!(since_param(Some("since=soon")).is_err());
    }

    #[test]
    fn etags_differ_between_assets() {
        assert_ne!(INDEX_TAG, SCRIPT_TAG);
        assert_ne!(SCRIPT_TAG, STYLE_TAG);
    }
}
