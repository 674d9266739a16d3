//! Request extractors whose failures are answered in InfluxDB's error shape (axum's own
//! answer plain-text 415/422s), and which accept JSON whatever the `Content-Type` says, as
//! InfluxDB does.

use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ApiError;

/// The request's authorization, from its `Authorization` header (`None` when the node runs
/// with `--no-auth`). A handler that takes one cannot run without a valid token: a missing
/// or unknown token is answered 401 before the handler is called, so no handler can forget
/// the check. Whether the token may do what is asked stays the handler's `node.require`.
/// The v1 routes (`/write`, `/query`) also take the token from `p` (a query or form
/// parameter) and authenticate themselves.
pub struct Auth(pub Option<ferry_catalog::Authorization>);

impl FromRequestParts<super::AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        node: &super::AppState,
    ) -> Result<Self, ApiError> {
        let token = crate::auth::request_token(&parts.headers, None);
        node.authenticate(token.as_deref()).map(Auth)
    }
}

/// Largest JSON body accepted by the management API.
const MAX_JSON_BYTES: usize = 1 << 20;

/// A JSON request body (any `Content-Type`); malformed JSON is a 400 naming the problem.
pub struct JsonBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, ApiError> {
        let bytes = axum::body::to_bytes(req.into_body(), MAX_JSON_BYTES)
            .await
            .map_err(|e| {
                crate::body::timed_out(&e).unwrap_or_else(|| {
                    ApiError::BadRequest(format!(
                    "cannot read the request body (at most {MAX_JSON_BYTES} bytes of JSON): {e}"
                ))
                })
            })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::BadRequest(
                "the request body must be a JSON object".into(),
            ));
        }
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))
    }
}

/// A JSON request body read into `T`: a field of the wrong type (`{"name": 5}`) is a 400
/// naming it instead of being ignored. Unknown fields are allowed (InfluxDB's UI sends whole
/// objects back on PATCH). A field read with one of `json::field`'s functions is refused as
/// `<field> must be <what>`; any other as serde says it, after the field's path.
pub struct TypedJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for TypedJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let JsonBody(v) = JsonBody::from_request(req, state).await?;
        typed(v).map(TypedJson)
    }
}

/// Reads a JSON body as `T`; a refusal names the field.
fn typed<T: DeserializeOwned>(v: Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let inner = e.inner().to_string();
        ApiError::BadRequest(if inner.starts_with("must be ") {
            format!("{} {inner}", e.path())
        } else {
            format!("invalid request body: {e}")
        })
    })
}

/// Query parameters; a malformed one is a 400 naming it.
pub struct Q<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Q<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        Query::<T>::try_from_uri(&parts.uri)
            .map(|Query(t)| Q(t))
            .map_err(|e| {
                ApiError::BadRequest(format!("invalid query parameters: {}", e.body_text()))
            })
    }
}

/// The `org`/`orgID` and `bucket`/`bucketID` query parameters naming one bucket.
#[derive(Debug, serde::Deserialize)]
pub struct BucketParams {
    org: Option<String>,
    #[serde(rename = "orgID")]
    org_id: Option<String>,
    bucket: Option<String>,
    #[serde(rename = "bucketID")]
    bucket_id: Option<String>,
}

impl BucketParams {
    /// The bucket named: by `bucketID`, else by `bucket` (name or ID) in the org named by
    /// `orgID`/`org` (or the token's); 400 when neither is given, 404 when it is unknown.
    pub fn resolve(
        &self,
        node: &crate::node::Node,
        auth: &Option<ferry_catalog::Authorization>,
    ) -> Result<ferry_catalog::Bucket, ApiError> {
        match (&self.bucket_id, &self.bucket) {
            (Some(id), _) => Ok(node.catalog.bucket_by_id(id)?),
            (None, Some(name)) => {
                let org = node.resolve_org(self.org_id.as_deref(), self.org.as_deref(), auth)?;
                node.resolve_bucket(&org, name)
            }
            (None, None) => Err(ApiError::BadRequest(
                "bucket or bucketID is required".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::json::field;
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Body {
        #[serde(default, deserialize_with = "field::string")]
        name: Option<String>,
        #[serde(
            rename = "remoteOrgID",
            default,
            deserialize_with = "field::nullable_string"
        )]
        remote_org_id: Option<Option<String>>,
        #[serde(default, deserialize_with = "field::uint")]
        max_batch_bytes: Option<u64>,
        #[serde(default, deserialize_with = "field::strings")]
        measurements: Option<Vec<String>>,
        #[serde(default, deserialize_with = "field::string_map")]
        add_tags: Option<Vec<(String, String)>>,
        #[serde(default)]
        plain: Option<bool>,
    }

    fn read(json: &str) -> Result<Body, String> {
        typed(serde_json::from_str(json).unwrap()).map_err(|e| e.to_string())
    }

    #[test]
    fn typed_fields_are_read_or_refused_by_name() {
        let b = read(r#"{"name":"n","remoteOrgID":null,"maxBatchBytes":5,"measurements":["a"],"addTags":{"b":"2","a":"1"},"extra":[1]}"#).unwrap();
        assert_eq!(b.name.as_deref(), Some("n"));
        assert_eq!(b.remote_org_id, Some(None));
        assert_eq!(b.max_batch_bytes, Some(5));
        assert_eq!(b.measurements.unwrap(), ["a"]);
        assert_eq!(b.add_tags.unwrap()[0], ("a".into(), "1".into()));
        let b = read(r#"{"name":null}"#).unwrap();
        assert_eq!((b.name, b.remote_org_id), (None, None));
        for (json, want) in [
            (r#"{"name":5}"#, "name must be a string"),
            (r#"{"remoteOrgID":7}"#, "remoteOrgID must be a string"),
            (
                r#"{"maxBatchBytes":-1}"#,
                "maxBatchBytes must be a non-negative integer",
            ),
            (
                r#"{"measurements":[1]}"#,
                "measurements must be an array of strings",
            ),
            (
                r#"{"addTags":{"a":1}}"#,
                "addTags must be an object of string values",
            ),
        ] {
            assert!(read(json).unwrap_err().contains(want), "{json}");
        }
        assert_eq!(read(r#"{"plain":true}"#).unwrap().plain, Some(true));
        let e = read(r#"{"plain":"yes"}"#).unwrap_err();
        assert!(e.contains("invalid type") && e.contains("plain"), "{e}");
    }
}
