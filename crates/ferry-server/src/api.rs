//! The `/api/v2` answers as types, shared by the server (which serializes them) and the `ferry`
//! CLI (which reads them): orgs, buckets, authorizations, DBRP mappings, remotes,
//! replications, tasks, task runs and log events, and the list wrappers around them.
//!
//! The JSON is InfluxDB 2's, plus Ferry's extra fields. Its bytes are what clients and tests
//! have always seen, so two rules hold here:
//! - **Fields are declared in the byte order of their JSON names** (`RemoteBucketName` before
//!   `addTags`, `org` before `orgID`): the answers used to be built as `serde_json` maps, which
//!   sort their keys, and a struct serializes in declaration order. The tests check each type
//!   against its sorted form.
//! - A field that InfluxDB leaves out when empty is `skip_serializing_if`; one that it sends as
//!   `null` is an `Option` without it.
//!
//! Every type is `#[serde(default)]`: the CLI reads what an older Ferry or an InfluxDB sends
//! without failing on a missing field.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The `links` of an object or a list; only `self` is always there.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Links {
    /// An org's buckets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buckets: Option<String>,
    /// A task's logs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logs: Option<String>,
    /// The owning org.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    /// A task's runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runs: Option<String>,
    /// The object (or list) itself.
    #[serde(rename = "self")]
    pub self_: String,
    /// A run's task.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// A bucket's write URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub write: Option<String>,
}

impl Links {
    /// Links with only `self`.
    pub fn to_self(path: impl Into<String>) -> Links {
        Links {
            self_: path.into(),
            ..Links::default()
        }
    }
}

/// An organization.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Org {
    /// RFC3339.
    pub created_at: String,
    /// Left out when empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// 16 hex digits.
    pub id: String,
    /// `self` and `buckets`.
    pub links: Links,
    /// Unique name.
    pub name: String,
    /// RFC3339.
    pub updated_at: String,
}

/// `GET /api/v2/orgs`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OrgList {
    /// `self`.
    pub links: Links,
    /// The orgs.
    pub orgs: Vec<Org>,
}

/// A bucket's retention rule (InfluxDB has one, of type `expire`, or none for "forever").
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RetentionRule {
    /// The retention period.
    pub every_seconds: i64,
    /// InfluxDB's shard group duration for that period.
    pub shard_group_duration_seconds: i64,
    /// `expire`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// A bucket.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Bucket {
    /// RFC3339.
    pub created_at: String,
    /// Left out when empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// 16 hex digits.
    pub id: String,
    /// Always empty (Ferry has no labels).
    pub labels: Vec<Value>,
    /// `self`, `org`, `write`.
    pub links: Links,
    /// Unique in its org.
    pub name: String,
    /// The owning org's ID.
    #[serde(rename = "orgID")]
    pub org_id: String,
    /// Empty: kept forever.
    pub retention_rules: Vec<RetentionRule>,
    /// `implicit`.
    pub schema_type: String,
    /// `user` (InfluxDB also has `system`).
    #[serde(rename = "type")]
    pub kind: String,
    /// RFC3339.
    pub updated_at: String,
}

impl Bucket {
    /// The retention in seconds (0: forever).
    pub fn retention_seconds(&self) -> i64 {
        self.retention_rules.first().map_or(0, |r| r.every_seconds)
    }
}

/// `GET /api/v2/buckets`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BucketList {
    /// The buckets.
    pub buckets: Vec<Bucket>,
    /// `self`.
    pub links: Links,
}

/// What a permission is on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Resource {
    /// One object of the type; every one when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The org; every org when absent.
    #[serde(rename = "orgID", skip_serializing_if = "Option::is_none")]
    pub org_id: Option<String>,
    /// `buckets`, `orgs`, `tasks`, ...
    #[serde(rename = "type")]
    pub kind: String,
}

/// A permission of a token.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Permission {
    /// `read` or `write`.
    pub action: String,
    /// What it is on.
    pub resource: Resource,
}

/// An authorization (API token).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Authorization {
    /// RFC3339.
    pub created_at: String,
    /// Free text.
    pub description: String,
    /// 16 hex digits.
    pub id: String,
    /// `self`.
    pub links: Links,
    /// The org's name.
    pub org: String,
    /// The org's ID.
    #[serde(rename = "orgID")]
    pub org_id: String,
    /// What the token may do.
    pub permissions: Vec<Permission>,
    /// `active` or `inactive`.
    pub status: String,
    /// The clear token: only in the answer that created it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// RFC3339 (the creation time: Ferry does not track changes).
    pub updated_at: String,
}

/// `GET /api/v2/authorizations`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthorizationList {
    /// The authorizations (never with their tokens).
    pub authorizations: Vec<Authorization>,
    /// `self`.
    pub links: Links,
}

/// A 1.x database/retention-policy → bucket mapping. Its names are snake_case, as InfluxDB's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Dbrp {
    /// The bucket the mapping points at.
    #[serde(rename = "bucketID")]
    pub bucket_id: String,
    /// 1.x database.
    pub database: String,
    /// The database's default retention policy.
    pub default: bool,
    /// 16 hex digits.
    pub id: String,
    /// The org's ID.
    #[serde(rename = "orgID")]
    pub org_id: String,
    /// 1.x retention policy.
    pub retention_policy: String,
    /// Always `false` (InfluxDB's mappings made from bucket names).
    #[serde(rename = "virtual")]
    pub is_virtual: bool,
}

/// `GET /api/v2/dbrps`: `{"content": [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DbrpList {
    /// The mappings.
    pub content: Vec<Dbrp>,
}

/// `GET`/`PATCH /api/v2/dbrps/{id}`: `{"content": {...}}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DbrpOne {
    /// The mapping.
    pub content: Dbrp,
}

/// A remote (a server replications and tasks write to). Its token and password never leave
/// the node.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Remote {
    /// Accept any TLS certificate.
    #[serde(rename = "allowInsecureTLS")]
    pub allow_insecure_tls: bool,
    /// A CA bundle to trust, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_cert_file: Option<String>,
    /// RFC3339.
    pub created_at: String,
    /// Left out when empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// 16 hex digits.
    pub id: String,
    /// `v2`, `v1`, `v3` or `tdengine` (Ferry's).
    pub kind: String,
    /// Unique in its org.
    pub name: String,
    /// The org's ID.
    #[serde(rename = "orgID")]
    pub org_id: String,
    /// The org on the remote (`null`: the remote token's).
    #[serde(rename = "remoteOrgID")]
    pub remote_org_id: Option<String>,
    /// The remote's base URL.
    #[serde(rename = "remoteURL")]
    pub remote_url: String,
    /// The 1.x user name, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_username: Option<String>,
    /// RFC3339.
    pub updated_at: String,
}

/// `GET /api/v2/remotes`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RemoteList {
    /// The remotes.
    pub remotes: Vec<Remote>,
}

/// A replication with its stream's status.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Replication {
    /// The remote bucket's name (capital R, as InfluxDB answers); empty when set by ID.
    #[serde(rename = "RemoteBucketName")]
    pub remote_bucket_name: String,
    /// Tags added to every point sent.
    pub add_tags: BTreeMap<String, String>,
    /// Where the backfill started (RFC3339), when it had one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backfill_from: Option<String>,
    /// Bytes dropped (refused by the remote, or aged out).
    pub bytes_dropped: u64,
    /// Bytes sent.
    pub bytes_sent: u64,
    /// RFC3339.
    pub created_at: String,
    /// Bytes waiting.
    pub current_queue_size_bytes: u64,
    /// Free text.
    pub description: String,
    /// Drop what the remote refuses for good instead of stopping.
    pub drop_non_retryable_data: bool,
    /// 16 hex digits.
    pub id: String,
    /// Age of the oldest unsent point, in seconds.
    pub lag_seconds: f64,
    /// The last error, when there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latest_error_message: Option<String>,
    /// The remote's last HTTP status, when there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latest_response_code: Option<u16>,
    /// The bucket streamed.
    #[serde(rename = "localBucketID")]
    pub local_bucket_id: String,
    /// Older unsent data is dropped.
    pub max_age_seconds: i64,
    /// Largest write sent.
    pub max_batch_bytes: u64,
    /// Queue bound.
    pub max_queue_size_bytes: i64,
    /// Only these measurements (all when empty).
    pub measurements: Vec<String>,
    /// Unique in its org.
    pub name: String,
    /// The org's ID.
    #[serde(rename = "orgID")]
    pub org_id: String,
    /// Paused by `pause`.
    pub paused: bool,
    /// Ranges still to resend.
    pub pending_gaps: u64,
    /// Points dropped.
    pub points_dropped: u64,
    /// Points retention removed before they were sent.
    pub points_lost_to_retention: u64,
    /// Points sent.
    pub points_sent: u64,
    /// Send limit (`null`: none).
    pub rate_limit_bytes_per_second: Option<u64>,
    /// Bytes still to send.
    pub remaining_bytes_to_be_synced: u64,
    /// The remote bucket's ID (`null` when set by name).
    #[serde(rename = "remoteBucketID")]
    pub remote_bucket_id: Option<String>,
    /// The remote's ID.
    #[serde(rename = "remoteID")]
    pub remote_id: String,
    /// `running`, `paused`, `error`, ...
    pub state: String,
    /// RFC3339.
    pub updated_at: String,
}

/// `GET /api/v2/replications`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReplicationList {
    /// The replications.
    pub replications: Vec<Replication>,
}

/// A task: InfluxDB 2's fields plus Ferry's `kind` and `spec`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Task {
    /// RFC3339.
    pub created_at: String,
    /// Cron schedule, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    /// Free text.
    pub description: String,
    /// Interval schedule, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub every: Option<String>,
    /// The task as Flux (its script, or the Flux task its spec equals).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flux: Option<String>,
    /// 16 hex digits.
    pub id: String,
    /// `flux`, `downsample` or `query`.
    pub kind: String,
    /// The last failed run's error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_run_error: Option<String>,
    /// `success` or `failed`, once it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_run_status: Option<String>,
    /// RFC3339: the end of the last period done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latest_completed: Option<String>,
    /// `self`, `runs`, `logs`.
    pub links: Links,
    /// Unique in its org.
    pub name: String,
    /// RFC3339, for an active task.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_run: Option<String>,
    /// Schedule offset, e.g. `0s`.
    pub offset: String,
    /// The org's name (left out if the org is gone).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    /// The org's ID.
    #[serde(rename = "orgID")]
    pub org_id: String,
    /// What the task does (its kind's shape; `null` if unreadable).
    pub spec: Value,
    /// `active` or `inactive`.
    pub status: String,
    /// RFC3339.
    pub updated_at: String,
}

/// `GET /api/v2/tasks`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskList {
    /// `self`.
    pub links: Links,
    /// The tasks.
    pub tasks: Vec<Task>,
}

/// A line of a run's log.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogEvent {
    /// The line.
    pub message: String,
    /// The run it belongs to.
    #[serde(rename = "runID")]
    pub run_id: String,
    /// RFC3339.
    pub time: String,
}

/// `GET /api/v2/tasks/{id}/logs`: oldest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogList {
    /// The lines.
    pub events: Vec<LogEvent>,
}

/// A task run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Run {
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// RFC3339, once finished.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// 16 hex digits.
    pub id: String,
    /// `self`, `task`.
    pub links: Links,
    /// Its log lines.
    pub log: Vec<LogEvent>,
    /// Points written.
    pub points_written: i64,
    /// RFC3339: the start of the time range it covered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub range_start: Option<String>,
    /// RFC3339: the end of that range.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub range_stop: Option<String>,
    /// RFC3339, for a run asked for (not scheduled).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requested_at: Option<String>,
    /// RFC3339.
    pub scheduled_for: String,
    /// RFC3339.
    pub started_at: String,
    /// `success`, `failed`, ...
    pub status: String,
    /// The task's ID.
    #[serde(rename = "taskID")]
    pub task_id: String,
}

/// `GET /api/v2/tasks/{id}/runs`: newest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunList {
    /// `self`, `task`.
    pub links: Links,
    /// The runs.
    pub runs: Vec<Run>,
}

/// `GET /api/v2/orgs/{id}/secrets`: the keys, never the values.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SecretKeys {
    /// `self`, `org`.
    pub links: Links,
    /// The keys.
    pub secrets: Vec<String>,
}

/// The user of a setup answer (Ferry has no users: the operator token's ID).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SetupUser {
    /// The operator token's ID.
    pub id: String,
    /// The user name asked for.
    pub name: String,
    /// `active`.
    pub status: String,
}

/// `GET /api/v2/setup`'s answer: whether the node still takes its first user.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SetupAllowed {
    /// `true` until the node is set up.
    pub allowed: bool,
}

/// `POST /api/v2/setup`'s answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SetupResult {
    /// The operator token, with its clear token.
    pub auth: Authorization,
    /// The first bucket.
    pub bucket: Bucket,
    /// The first org.
    pub org: Org,
    /// The user.
    pub user: SetupUser,
}

#[cfg(test)]
mod tests;
