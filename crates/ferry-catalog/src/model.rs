//! Catalog records.

use serde::{Deserialize, Serialize};

/// An organization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Org {
    /// 16-hex-digit ID.
    pub id: String,
    /// Unique name.
    pub name: String,
    /// What the owner wrote about it; shown, never interpreted.
    pub description: String,
    /// RFC3339 creation time.
    pub created_at: String,
    /// RFC3339 time of the last change.
    pub updated_at: String,
}

/// A bucket: where points are written; has its own log and store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    /// 16-hex-digit ID.
    pub id: String,
    /// Owning org.
    pub org_id: String,
    /// Name, unique within the org.
    pub name: String,
    /// What the owner wrote about it; shown, never interpreted.
    pub description: String,
    /// Points older than this many seconds are dropped; 0 keeps them forever.
    pub retention_seconds: i64,
    /// RFC3339 creation time.
    pub created_at: String,
    /// RFC3339 time of the last change.
    pub updated_at: String,
}

/// Fields of a bucket to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct BucketUpdate {
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New retention in seconds (0 = forever).
    pub retention_seconds: Option<i64>,
}

/// What a permission allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Read (query, list, export).
    Read,
    /// Write (write points, create, update, delete).
    Write,
}

/// The kind of resource a permission applies to, with InfluxDB's names
/// (`buckets`, `orgs`, `authorizations`, `dbrp`, `remotes`, `replications`, `tasks`, `secrets`, ...).
pub type ResourceType = String;

/// One permission of a token, InfluxDB's shape: an action on a resource type, optionally
/// narrowed to one org and/or one resource ID.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Permission {
    /// read or write.
    pub action: Action,
    /// Resource type, e.g. `buckets`.
    pub resource_type: ResourceType,
    /// Only resources of this org, when set.
    pub org_id: Option<String>,
    /// Only this resource, when set.
    pub id: Option<String>,
}

impl Permission {
    /// Whether this permission allows `action` on a resource of `resource_type` with the given
    /// org and id. A write permission does not imply read (InfluxDB's rule).
    pub fn allows(
        &self,
        action: Action,
        resource_type: &str,
        org_id: &str,
        id: Option<&str>,
    ) -> bool {
        self.action == action
            && self.resource_type == resource_type
            && self.org_id.as_deref().is_none_or(|o| o == org_id)
            && match (&self.id, id) {
                (None, _) => true,
                (Some(mine), Some(theirs)) => mine == theirs,
                (Some(_), None) => false,
            }
    }
}

/// The oldest time (ns) a bucket whose retention is `retention_seconds` keeps at `now_ns`,
/// or `None` for infinite retention (0). Saturating: a retention longer than the time
/// range (about 292 years; clients send ~585 years for "forever") keeps everything.
pub fn retention_cutoff_ns(retention_seconds: i64, now_ns: i64) -> Option<i64> {
    (retention_seconds > 0)
        .then(|| now_ns.saturating_sub(retention_seconds.saturating_mul(1_000_000_000)))
}

/// Every resource type an all-access (operator) token covers.
pub const ALL_RESOURCE_TYPES: &[&str] = &[
    "authorizations",
    "buckets",
    "dbrp",
    "orgs",
    "remotes",
    "replications",
    "secrets",
    "tasks",
    "users",
];

/// A token and what it may do. The clear token is only present right after creation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Authorization {
    /// 16-hex-digit ID.
    pub id: String,
    /// The clear token; `Some` only in the answer to the call that created it.
    pub token: Option<String>,
    /// What the owner wrote about it; shown, never interpreted.
    pub description: String,
    /// Org the token belongs to.
    pub org_id: String,
    /// `active` or `inactive`; inactive tokens authenticate nothing.
    pub status: String,
    /// What the token may do.
    pub permissions: Vec<Permission>,
    /// RFC3339 creation time.
    pub created_at: String,
}

impl Authorization {
    /// Whether the token is active and one of its permissions allows the access.
    pub fn allows(
        &self,
        action: Action,
        resource_type: &str,
        org_id: &str,
        id: Option<&str>,
    ) -> bool {
        self.status == "active"
            && self
                .permissions
                .iter()
                .any(|p| p.allows(action, resource_type, org_id, id))
    }
}

/// A token to create.
#[derive(Debug, Clone)]
pub struct NewAuthorization {
    /// Org the token belongs to.
    pub org_id: String,
    /// What the owner wrote about it; shown, never interpreted.
    pub description: String,
    /// What the token may do.
    pub permissions: Vec<Permission>,
    /// Use this clear token instead of generating one (for `--init-token`).
    pub token: Option<String>,
}

/// A DBRP mapping: a 1.x database + retention policy routed to a bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dbrp {
    /// 16-hex-digit ID.
    pub id: String,
    /// Org of the bucket.
    pub org_id: String,
    /// Target bucket.
    pub bucket_id: String,
    /// 1.x database name.
    pub database: String,
    /// 1.x retention policy name.
    pub retention_policy: String,
    /// Whether this is the database's default retention policy.
    pub default: bool,
}

/// What `setup` created.
#[derive(Debug, Clone)]
pub struct SetupResult {
    /// The new org.
    pub org: Org,
    /// The new bucket.
    pub bucket: Bucket,
    /// The operator token (clear token included).
    pub auth: Authorization,
}
