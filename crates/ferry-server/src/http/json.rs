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
