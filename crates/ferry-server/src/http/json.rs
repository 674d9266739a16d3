//! InfluxDB 2's JSON shapes for catalog records.

use ferry_catalog::{Action, Authorization, Bucket, Dbrp, Org, Permission};
use serde_json::Value;

use crate::api;
use crate::error::ApiError;

/// An org as `/api/v2/orgs` returns it.
pub fn org(o: &Org) -> api::Org {
    api::Org {
        created_at: o.created_at.clone(),
        description: o.description.clone(),
        id: o.id.clone(),
        links: api::Links {
            buckets: Some(format!("/api/v2/buckets?org={}", o.name)),
            ..api::Links::to_self(format!("/api/v2/orgs/{}", o.id))
        },
        name: o.name.clone(),
        updated_at: o.updated_at.clone(),
    }
}

/// A bucket as `/api/v2/buckets` returns it.
pub fn bucket(b: &Bucket) -> api::Bucket {
    let rules = if b.retention_seconds > 0 {
        vec![api::RetentionRule {
            every_seconds: b.retention_seconds,
            shard_group_duration_seconds: shard_group_seconds(b.retention_seconds),
            kind: "expire".into(),
        }]
    } else {
        vec![]
    };
    api::Bucket {
        created_at: b.created_at.clone(),
        description: b.description.clone(),
        id: b.id.clone(),
        labels: vec![],
        links: api::Links {
            org: Some(format!("/api/v2/orgs/{}", b.org_id)),
            write: Some(format!("/api/v2/write?org={}&bucket={}", b.org_id, b.id)),
            ..api::Links::to_self(format!("/api/v2/buckets/{}", b.id))
        },
        name: b.name.clone(),
        org_id: b.org_id.clone(),
        retention_rules: rules,
        schema_type: "implicit".into(),
        kind: "user".into(),
        updated_at: b.updated_at.clone(),
    }
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
pub fn dbrp(d: &Dbrp) -> api::Dbrp {
    api::Dbrp {
        bucket_id: d.bucket_id.clone(),
        database: d.database.clone(),
        default: d.default,
        id: d.id.clone(),
        org_id: d.org_id.clone(),
        retention_policy: d.retention_policy.clone(),
        is_virtual: false,
    }
}

/// A permission in InfluxDB's shape.
pub fn permission(p: &Permission) -> api::Permission {
    api::Permission {
        action: match p.action {
            Action::Read => "read",
            Action::Write => "write",
        }
        .into(),
        resource: api::Resource {
            id: p.id.clone(),
            org_id: p.org_id.clone(),
            kind: p.resource_type.clone(),
        },
    }
}

/// An authorization as `/api/v2/authorizations` returns it. The clear token only right after
/// creation.
pub fn authorization(a: &Authorization, org_name: &str) -> api::Authorization {
    api::Authorization {
        created_at: a.created_at.clone(),
        description: a.description.clone(),
        id: a.id.clone(),
        links: api::Links::to_self(format!("/api/v2/authorizations/{}", a.id)),
        org: org_name.to_string(),
        org_id: a.org_id.clone(),
        permissions: a.permissions.iter().map(permission).collect(),
        status: a.status.clone(),
        token: a.token.clone(),
        updated_at: a.created_at.clone(),
    }
}

/// A remote as `/api/v2/remotes` returns it: InfluxDB's fields plus Ferry's `kind`,
/// `remoteUsername`, `caCertFile`. The token and password are never returned.
pub fn remote(r: &ferry_catalog::Remote) -> api::Remote {
    api::Remote {
        allow_insecure_tls: r.allow_insecure_tls,
        ca_cert_file: r.ca_cert_file.clone(),
        created_at: r.created_at.clone(),
        description: r.description.clone(),
        id: r.id.clone(),
        kind: r.kind.as_str().to_string(),
        name: r.name.clone(),
        org_id: r.org_id.clone(),
        remote_org_id: r.remote_org_id.clone(),
        remote_url: r.remote_url.clone(),
        remote_username: r.remote_username.clone(),
        updated_at: r.updated_at.clone(),
    }
}

/// A replication as `/api/v2/replications` returns it, with its runtime status: InfluxDB's
/// fields (note `RemoteBucketName` with a capital R, as InfluxDB answers) plus Ferry's.
pub fn replication(
    r: &ferry_catalog::Replication,
    st: &crate::replication::ReplicationStatus,
) -> api::Replication {
    let state = if r.paused {
        crate::replication::StreamState::Paused.as_str()
    } else {
        st.state.as_str()
    };
    api::Replication {
        remote_bucket_name: r.remote_bucket_name.clone().unwrap_or_default(),
        add_tags: r.add_tags.iter().cloned().collect(),
        backfill_from: r.backfill_from_ns.map(|ns| {
            chrono::DateTime::from_timestamp_nanos(ns)
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
        }),
        bytes_dropped: st.bytes_dropped,
        bytes_sent: st.bytes_sent,
        created_at: r.created_at.clone(),
        current_queue_size_bytes: st.current_queue_size_bytes,
        description: r.description.clone(),
        drop_non_retryable_data: r.drop_non_retryable_data,
        id: r.id.clone(),
        lag_seconds: st.lag_seconds,
        latest_error_message: st.latest_error_message.clone(),
        latest_response_code: st.latest_response_code,
        local_bucket_id: r.local_bucket_id.clone(),
        max_age_seconds: r.max_age_seconds,
        max_batch_bytes: r.max_batch_bytes,
        max_queue_size_bytes: r.max_queue_size_bytes,
        measurements: r.measurements.clone(),
        name: r.name.clone(),
        org_id: r.org_id.clone(),
        paused: r.paused,
        pending_gaps: st.pending_gaps,
        points_dropped: st.points_dropped,
        points_lost_to_retention: st.points_lost_to_retention,
        points_sent: st.points_sent,
        rate_limit_bytes_per_second: r.rate_limit_bytes_per_sec,
        remaining_bytes_to_be_synced: st.remaining_bytes_to_be_synced,
        remote_bucket_id: r.remote_bucket_id.clone(),
        remote_id: r.remote_id.clone(),
        state: state.to_string(),
        updated_at: r.updated_at.clone(),
    }
}

/// Readers for the fields of typed request bodies (`#[serde(default, deserialize_with =
/// "field::…")]` on an `Option`, read through `TypedJson`): absent or `null` is `None`; a
/// value of the wrong type is refused as `<field> must be <what>`, the message InfluxDB's
/// clients and the tests know.
pub mod field {
    use serde::de::{Deserialize, Deserializer, Error};
    use serde_json::Value;

    /// The field's value, `None` for `null`, else `read` of it or "must be `what`".
    fn read<'de, D: Deserializer<'de>, T>(
        d: D,
        what: &str,
        read: impl Fn(Value) -> Option<T>,
    ) -> Result<Option<T>, D::Error> {
        match Value::deserialize(d)? {
            Value::Null => Ok(None),
            v => read(v)
                .map(Some)
                .ok_or_else(|| D::Error::custom(format!("must be {what}"))),
        }
    }

    /// A string.
    pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        read(d, "a string", |v| match v {
            Value::String(s) => Some(s),
            _ => None,
        })
    }

    /// A nullable string: absent → `None` (by `default`), `null` → `Some(None)`.
    pub fn nullable_string<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<String>>, D::Error> {
        string(d).map(Some)
    }

    /// `true` or `false`.
    pub fn boolean<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        read(d, "true or false", |v| v.as_bool())
    }

    /// An integer.
    pub fn int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        read(d, "an integer", |v| v.as_i64())
    }

    /// A non-negative integer.
    pub fn uint<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        read(d, "a non-negative integer", |v| v.as_u64())
    }

    /// A nullable non-negative integer: absent → `None`, `null` → `Some(None)`.
    pub fn nullable_uint<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<u64>>, D::Error> {
        uint(d).map(Some)
    }

    /// An array of strings.
    pub fn strings<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
        read(d, "an array of strings", |v| match v {
            Value::Array(a) => a
                .into_iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => None,
        })
    }

    /// An object of string values, as ordered pairs.
    pub fn string_map<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Vec<(String, String)>>, D::Error> {
        read(d, "an object of string values", |v| match v {
            Value::Object(m) => m
                .into_iter()
                .map(|(k, v)| v.as_str().map(|s| (k, s.to_string())))
                .collect(),
            _ => None,
        })
    }

    /// An object (kept as JSON text).
    pub fn object_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        read(d, "an object", |v| v.is_object().then(|| v.to_string()))
    }
}

/// An ID from a request: 16 hex digits, else 400 naming the field.
pub fn id_param(what: &str, s: &str) -> Result<String, ApiError> {
    ferry_catalog::parse_id(s).ok_or_else(|| {
        ApiError::BadRequest(format!("{what} {s:?} is invalid: 16 hex digits expected"))
    })
}
