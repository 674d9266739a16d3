//! InfluxDB 2's JSON shapes for catalog records.

use ferry_catalog::{Action, Authorization, Bucket, Dbrp, Org, Permission};
use serde_json::{json, Value};

use crate::error::ApiError;

/// An org as `/api/v2/orgs` returns it.
pub fn org(o: &Org) -> Value {
    let mut v = json!({
        "id": o.id,
        "name": o.name,
        "createdAt": o.created_at,
        "updatedAt": o.updated_at,
        "links": {
            "self": format!("/api/v2/orgs/{}", o.id),
            "buckets": format!("/api/v2/buckets?org={}", o.name),
        },
    });
    if !o.description.is_empty() {
        v["description"] = json!(o.description);
    }
    v
}

/// A bucket as `/api/v2/buckets` returns it.
pub fn bucket(b: &Bucket) -> Value {
    let rules: Vec<Value> = if b.retention_seconds > 0 {
        vec![json!({
            "type": "expire",
            "everySeconds": b.retention_seconds,
            "shardGroupDurationSeconds": shard_group_seconds(b.retention_seconds),
        })]
    } else {
        vec![]
    };
    let mut v = json!({
        "id": b.id,
        "orgID": b.org_id,
        "type": "user",
        "name": b.name,
        "retentionRules": rules,
        "schemaType": "implicit",
        "createdAt": b.created_at,
        "updatedAt": b.updated_at,
        "labels": [],
        "links": {
            "self": format!("/api/v2/buckets/{}", b.id),
            "org": format!("/api/v2/orgs/{}", b.org_id),
            "write": format!("/api/v2/write?org={}&bucket={}", b.org_id, b.id),
        },
    });
    if !b.description.is_empty() {
        v["description"] = json!(b.description);
    }
    v
}

/// InfluxDB's shard group duration for a retention period (1h below 2 days, 1d below 6
/// months, else 7d; 7d for infinite).
pub fn shard_group_seconds(retention: i64) -> i64 {
    match retention {
        0 => 604_800,
        r if r < 2 * 86_400 => 3_600,
        r if r < 180 * 86_400 => 86_400,
        _ => 604_800,
    }
}

/// Reads the retention from InfluxDB's `retentionRules` array (first `expire` rule).
pub fn retention_from_rules(rules: Option<&Value>) -> Result<Option<i64>, ApiError> {
    let Some(rules) = rules else { return Ok(None) };
    let Some(arr) = rules.as_array() else {
        return Err(ApiError::BadRequest(
            "retentionRules must be an array".into(),
        ));
    };
    let Some(r) = arr.first() else {
        return Ok(Some(0));
    };
    let every = r
        .get("everySeconds")
        .and_then(Value::as_i64)
        .ok_or_else(|| {
            ApiError::BadRequest("each retention rule needs an integer everySeconds".into())
        })?;
    if every < 0 {
        return Err(ApiError::BadRequest(
            "everySeconds must not be negative".into(),
        ));
    }
    Ok(Some(every))
}

/// A DBRP mapping as `/api/v2/dbrps` returns it.
pub fn dbrp(d: &Dbrp) -> Value {
    json!({
        "id": d.id,
        "orgID": d.org_id,
        "bucketID": d.bucket_id,
        "database": d.database,
        "retention_policy": d.retention_policy,
        "default": d.default,
        "virtual": false,
    })
}

/// A permission in InfluxDB's shape.
pub fn permission(p: &Permission) -> Value {
    let mut resource = json!({ "type": p.resource_type });
    if let Some(id) = &p.id {
        resource["id"] = json!(id);
    }
    if let Some(org) = &p.org_id {
        resource["orgID"] = json!(org);
    }
    json!({
        "action": match p.action { Action::Read => "read", Action::Write => "write" },
        "resource": resource,
    })
}

/// Parses a permission from InfluxDB's shape.
pub fn parse_permission(v: &Value) -> Result<Permission, ApiError> {
    let action = match v.get("action").and_then(Value::as_str) {
        Some("read") => Action::Read,
        Some("write") => Action::Write,
        other => {
            return Err(ApiError::BadRequest(format!(
                "permission action must be \"read\" or \"write\", got {other:?}"
            )))
        }
    };
    let res = v
        .get("resource")
        .ok_or_else(|| ApiError::BadRequest("permission needs a resource".into()))?;
    let resource_type = res
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::BadRequest("permission resource needs a type".into()))?
        .to_string();
    let s = |k: &str| res.get(k).and_then(Value::as_str).map(str::to_string);
    Ok(Permission {
        action,
        resource_type,
        org_id: s("orgID"),
        id: s("id"),
    })
}

/// An authorization as `/api/v2/authorizations` returns it. The clear token only right after
/// creation.
pub fn authorization(a: &Authorization, org_name: &str) -> Value {
    let mut v = json!({
        "id": a.id,
        "status": a.status,
        "description": a.description,
        "orgID": a.org_id,
        "org": org_name,
        "permissions": a.permissions.iter().map(permission).collect::<Vec<_>>(),
        "createdAt": a.created_at,
        "updatedAt": a.created_at,
        "links": { "self": format!("/api/v2/authorizations/{}", a.id) },
    });
    if let Some(t) = &a.token {
        v["token"] = json!(t);
    }
    v
}

/// A remote as `/api/v2/remotes` returns it: InfluxDB's fields plus Ferry's `kind`,
/// `remoteUsername`, `caCertFile`. The token and password are never returned.
pub fn remote(r: &ferry_catalog::Remote) -> Value {
    let mut v = json!({
        "id": r.id,
        "orgID": r.org_id,
        "name": r.name,
        "remoteURL": r.remote_url,
        "remoteOrgID": r.remote_org_id,
        "allowInsecureTLS": r.allow_insecure_tls,
        "kind": r.kind.as_str(),
        "createdAt": r.created_at,
        "updatedAt": r.updated_at,
    });
    if !r.description.is_empty() {
        v["description"] = json!(r.description);
    }
    if let Some(u) = &r.remote_username {
        v["remoteUsername"] = json!(u);
    }
    if let Some(c) = &r.ca_cert_file {
        v["caCertFile"] = json!(c);
    }
    v
}

/// A replication as `/api/v2/replications` returns it, with its runtime status: InfluxDB's
/// fields (note `RemoteBucketName` with a capital R, as InfluxDB answers) plus Ferry's.
pub fn replication(
    r: &ferry_catalog::Replication,
    st: &crate::replication::ReplicationStatus,
) -> Value {
    let state = if r.paused {
        crate::replication::StreamState::Paused.as_str()
    } else {
        st.state.as_str()
    };
    let tags: serde_json::Map<String, Value> = r
        .add_tags
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    let mut v = json!({
        "id": r.id,
        "orgID": r.org_id,
        "name": r.name,
        "description": r.description,
        "remoteID": r.remote_id,
        "localBucketID": r.local_bucket_id,
        "remoteBucketID": r.remote_bucket_id,
        "RemoteBucketName": r.remote_bucket_name.clone().unwrap_or_default(),
        "maxQueueSizeBytes": r.max_queue_size_bytes,
        "currentQueueSizeBytes": st.current_queue_size_bytes,
        "remainingBytesToBeSynced": st.remaining_bytes_to_be_synced,
        "dropNonRetryableData": r.drop_non_retryable_data,
        "maxAgeSeconds": r.max_age_seconds,
        "state": state,
        "paused": r.paused,
        "lagSeconds": st.lag_seconds,
        "pointsSent": st.points_sent,
        "bytesSent": st.bytes_sent,
        "pointsDropped": st.points_dropped,
        "bytesDropped": st.bytes_dropped,
        "pendingGaps": st.pending_gaps,
        "pointsLostToRetention": st.points_lost_to_retention,
        "measurements": r.measurements,
        "rateLimitBytesPerSecond": r.rate_limit_bytes_per_sec,
        "addTags": tags,
        "maxBatchBytes": r.max_batch_bytes,
        "createdAt": r.created_at,
        "updatedAt": r.updated_at,
    });
    if let Some(code) = st.latest_response_code {
        v["latestResponseCode"] = json!(code);
    }
    if let Some(m) = &st.latest_error_message {
        v["latestErrorMessage"] = json!(m);
    }
    if let Some(ns) = r.backfill_from_ns {
        v["backfillFrom"] = json!(chrono::DateTime::from_timestamp_nanos(ns)
            .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true));
    }
    v
}

/// Typed access to a JSON request body; a field of the wrong type is a 400 naming it.
pub struct Body<'a>(pub &'a Value);

impl Body<'_> {
    fn field(&self, k: &str) -> Option<&Value> {
        self.0.get(k).filter(|v| !v.is_null())
    }

    fn wrong(k: &str, what: &str) -> ApiError {
        ApiError::BadRequest(format!("{k} must be {what}"))
    }

    /// Whether the key is present (even as null).
    pub fn has(&self, k: &str) -> bool {
        self.0.get(k).is_some()
    }

    /// A string field; absent or null → `None`.
    pub fn str(&self, k: &str) -> Result<Option<String>, ApiError> {
        match self.field(k) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(Self::wrong(k, "a string")),
        }
    }

    /// A nullable string field: absent → `None`, null → `Some(None)`.
    pub fn nullable_str(&self, k: &str) -> Result<Option<Option<String>>, ApiError> {
        if !self.has(k) {
            return Ok(None);
        }
        Ok(Some(self.str(k)?))
    }

    /// A boolean field.
    pub fn bool(&self, k: &str) -> Result<Option<bool>, ApiError> {
        match self.field(k) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(Self::wrong(k, "true or false")),
        }
    }

    /// An integer field.
    pub fn i64(&self, k: &str) -> Result<Option<i64>, ApiError> {
        match self.field(k) {
            None => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| Self::wrong(k, "an integer")),
        }
    }

    /// A non-negative integer field.
    pub fn u64(&self, k: &str) -> Result<Option<u64>, ApiError> {
        match self.field(k) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| Self::wrong(k, "a non-negative integer")),
        }
    }

    /// An array of strings.
    pub fn strings(&self, k: &str) -> Result<Option<Vec<String>>, ApiError> {
        match self.field(k) {
            None => Ok(None),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| Self::wrong(k, "an array of strings"))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(Self::wrong(k, "an array of strings")),
        }
    }

    /// An object of string values, as ordered pairs.
    pub fn string_map(&self, k: &str) -> Result<Option<Vec<(String, String)>>, ApiError> {
        match self.field(k) {
            None => Ok(None),
            Some(Value::Object(m)) => m
                .iter()
                .map(|(key, v)| {
                    v.as_str()
                        .map(|s| (key.clone(), s.to_string()))
                        .ok_or_else(|| Self::wrong(k, "an object of string values"))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(Self::wrong(k, "an object of string values")),
        }
    }
}

/// An ID from a request: 16 hex digits, else 400 naming the field.
pub fn id_param(what: &str, s: &str) -> Result<String, ApiError> {
    ferry_catalog::parse_id(s).ok_or_else(|| {
        ApiError::BadRequest(format!("{what} {s:?} is invalid: 16 hex digits expected"))
    })
}
