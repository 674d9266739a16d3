//! The one place where errors become HTTP answers.
//!
//! Every failure of a request is an [`ApiError`]; its variant decides the status code and the
//! InfluxDB 2 error `code`. v2 routes answer `{"code": ..., "message": ...}` with an
//! `X-Platform-Error-Code` header; v1 routes (`/write`, `/query`) answer `{"error": ...}` with an
//! `X-Influxdb-Error` header, as InfluxDB 1.x does ([`V1Error`]).

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use ferry_catalog::CatalogError;

/// A failed request, by what the client should do about it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed (400).
    #[error("{0}")]
    BadRequest(String),
    /// No or an unknown token (401).
    #[error("{0}")]
    Unauthorized(String),
    /// The token may not do this (403).
    #[error("{0}")]
    Forbidden(String),
    /// The named org, bucket, mapping, ... does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// The name is taken (422 with code `conflict`, as InfluxDB 2 answers for buckets and orgs).
    #[error("{0}")]
    Conflict(String),
    /// The thing is still in use and was not changed, e.g. a remote that replications write to
    /// (409 with code `conflict`; InfluxDB answers 500 there).
    #[error("{0}")]
    InUse(String),
    /// The body is larger than the configured limit (413).
    #[error("{0}")]
    TooLarge(String),
    /// The body's `Content-Encoding` is not one the node decodes (415).
    #[error("{0}")]
    UnsupportedEncoding(String),
    /// Part of a write was refused, e.g. field type conflicts (422; v1 answers 400).
    #[error("{0}")]
    Unprocessable(String),
    /// The client stopped sending its request body (408); the connection is closed.
    #[error("{0}")]
    Timeout(String),
    /// The node could not do it: storage failure (500).
    #[error("{0}")]
    Internal(String),
    /// Not now, but probably later: a bucket whose disk is full or failing, or one that is
    /// quarantined (503 with `Retry-After`).
    #[error("{0}")]
    Unavailable(String),
    /// The node's write memory is full for longer than a write waits (503 with a
    /// `Retry-After` of [`BUSY_RETRY_AFTER_SECS`]: a persist frees it in about a second).
    #[error("{0}")]
    Busy(String),
}

/// The `Retry-After` of a [`ApiError::Busy`] write.
pub const BUSY_RETRY_AFTER_SECS: u64 = 1;

/// The `Retry-After` of a 503: the log repairs itself on the next write, so a few seconds.
pub const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 5;

impl ApiError {
    /// Tells the client when to try again, on both APIs' answers: for a 503, in
    /// [`UNAVAILABLE_RETRY_AFTER_SECS`] or [`BUSY_RETRY_AFTER_SECS`].
    fn add_retry_after(&self, resp: &mut Response) {
        let secs = match self {
            ApiError::Unavailable(_) => UNAVAILABLE_RETRY_AFTER_SECS,
            ApiError::Busy(_) => BUSY_RETRY_AFTER_SECS,
            _ => return,
        };
        resp.headers_mut()
            .insert(axum::http::header::RETRY_AFTER, HeaderValue::from(secs));
    }

    /// HTTP status of this error on v2 routes.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) | ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::InUse(_) => StatusCode::CONFLICT,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedEncoding(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Unavailable(_) | ApiError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// InfluxDB 2's error `code` string.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "invalid",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not found",
            ApiError::Conflict(_) | ApiError::InUse(_) => "conflict",
            ApiError::Unprocessable(_) => "unprocessable entity",
            ApiError::TooLarge(_) => "request too large",
            ApiError::UnsupportedEncoding(_) => "unsupported media type",
            ApiError::Timeout(_) => "request timeout",
            ApiError::Internal(_) => "internal error",
            ApiError::Unavailable(_) | ApiError::Busy(_) => "unavailable",
        }
    }

    /// HTTP status on v1 routes: 1.x answers a partial write with 400, not 422.
    pub fn v1_status(&self) -> StatusCode {
        match self {
            ApiError::Unprocessable(_) | ApiError::Conflict(_) => StatusCode::BAD_REQUEST,
            other => other.status(),
        }
    }
}

impl From<CatalogError> for ApiError {
    fn from(e: CatalogError) -> Self {
        match e {
            CatalogError::NotFound { .. } => ApiError::NotFound(e.to_string()),
            CatalogError::Conflict { .. } => ApiError::Conflict(e.to_string()),
            CatalogError::Invalid(m) => ApiError::BadRequest(m),
            CatalogError::InUse(m) => ApiError::InUse(m),
            CatalogError::Sqlite(_) => ApiError::Internal(e.to_string()),
        }
    }
}

/// A Flux task's `option task` that cannot schedule it (InfluxDB answers 400).
impl From<ferry_flux::task::TaskOptionsError> for ApiError {
    fn from(e: ferry_flux::task::TaskOptionsError) -> Self {
        ApiError::BadRequest(e.to_string())
    }
}

impl From<crate::delete_predicate::PredicateError> for ApiError {
    fn from(e: crate::delete_predicate::PredicateError) -> Self {
        ApiError::BadRequest(format!("invalid request; error parsing request json: {e}"))
    }
}

impl From<ferry_store::StoreError> for ApiError {
    fn from(e: ferry_store::StoreError) -> Self {
        ApiError::Internal(format!("bucket store: {e}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if matches!(self, ApiError::Internal(_) | ApiError::Unavailable(_)) {
            tracing::error!(error = %self, "request failed");
        }
        let status = self.status();
        let code = self.code();
        let body = serde_json::json!({ "code": code, "message": self.to_string() });
        let mut resp = (status, axum::Json(body)).into_response();
        resp.headers_mut()
            .insert("X-Platform-Error-Code", HeaderValue::from_static(code));
        self.add_retry_after(&mut resp);
        resp
    }
}

/// An [`ApiError`] answered in InfluxDB 1.x's shape: `{"error": "..."}` + `X-Influxdb-Error`.
#[derive(Debug)]
pub struct V1Error(pub ApiError);

impl<E: Into<ApiError>> From<E> for V1Error {
    fn from(e: E) -> Self {
        V1Error(e.into())
    }
}

impl IntoResponse for V1Error {
    fn into_response(self) -> Response {
        let msg = self.0.to_string();
        let status = self.0.v1_status();
        let mut resp = (status, axum::Json(serde_json::json!({ "error": msg }))).into_response();
        // header values cannot hold newlines or non-visible ASCII
        let header: String = msg
            .chars()
            .map(|c| {
                if c.is_ascii_graphic() || c == ' ' {
                    c
                } else {
                    ' '
                }
            })
            .collect();
        if let Ok(v) = HeaderValue::from_str(&header) {
            resp.headers_mut().insert("X-Influxdb-Error", v);
        }
        self.0.add_retry_after(&mut resp);
        resp
    }
}
