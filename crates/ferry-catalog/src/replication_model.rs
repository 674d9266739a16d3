//! Remotes and replications (Edge Data Replication), InfluxDB 2's fields plus Ferry's.

use ferry_lp::RemoteKind;

/// A remote server that replications write to. Its token and password are secrets: stored so
/// the node can send them, never returned by the API or printed by the CLI.
#[derive(Debug, Clone, PartialEq)]
pub struct Remote {
    /// 16-hex-digit ID.
    pub id: String,
    /// Owning org.
    pub org_id: String,
    /// Its name, unique within the org.
    pub name: String,
    /// What the owner wrote about it; shown, never interpreted.
    pub description: String,
    /// Base URL; a path prefix is kept (`https://host/prefix` → `https://host/prefix/api/v2/write`).
    pub remote_url: String,
    /// API token for the remote (secret).
    pub remote_api_token: String,
    /// Remote org ID (v2); `None` for 1.x remotes.
    pub remote_org_id: Option<String>,
    /// Skip TLS certificate verification.
    pub allow_insecure_tls: bool,
    /// Which write API the remote speaks.
    pub kind: RemoteKind,
    /// 1.x / TDengine username (Basic auth), when not using the token.
    pub remote_username: Option<String>,
    /// 1.x / TDengine password (secret).
    pub remote_password: Option<String>,
    /// PEM file of an extra CA to trust for this remote.
    pub ca_cert_file: Option<String>,
    /// RFC3339 creation time.
    pub created_at: String,
    /// RFC3339 time of the last change.
    pub updated_at: String,
}

/// A replication: the writes of a local bucket streamed to a remote bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct Replication {
    /// 16-hex-digit ID.
    pub id: String,
    /// Owning org.
    pub org_id: String,
    /// Its name, unique within the org.
    pub name: String,
    /// What the owner wrote about it; shown, never interpreted.
    pub description: String,
    /// The remote written to.
    pub remote_id: String,
    /// The local bucket whose writes are replicated.
    pub local_bucket_id: String,
    /// Remote bucket by ID (one of this and `remote_bucket_name` is set).
    pub remote_bucket_id: Option<String>,
    /// Remote bucket by name (`db/rp` or `db` for 1.x remotes).
    pub remote_bucket_name: Option<String>,
    /// Log bytes the stream may hold back before it records a gap (default 67108860).
    pub max_queue_size_bytes: i64,
    /// Drop lines the remote refuses with 400 (into the rejected-lines file) instead of stopping.
    pub drop_non_retryable_data: bool,
    /// Oldest unsent data the stream may hold back, in seconds, before it records a gap (0 = no limit).
    pub max_age_seconds: i64,
    /// Paused by an operator.
    pub paused: bool,
    /// Only these measurements (empty = all).
    pub measurements: Vec<String>,
    /// Bytes per second at most (uncompressed line protocol); `None` = unlimited.
    pub rate_limit_bytes_per_sec: Option<u64>,
    /// Tags added to every replicated point, e.g. an edge id (`_instance_id=edge-7`).
    pub add_tags: Vec<(String, String)>,
    /// When set at creation, data already in the bucket from this time (ns) is sent too.
    pub backfill_from_ns: Option<i64>,
    /// Largest batch sent, in bytes of line protocol (default 500,000).
    pub max_batch_bytes: u64,
    /// RFC3339 creation time.
    pub created_at: String,
    /// RFC3339 time of the last change.
    pub updated_at: String,
    /// The token whose authority the stream acts with (read on the local bucket): the one
    /// that created it or last changed its remote; `None` for replications made before
    /// replications carried one, and on a node without auth.
    pub authorization_id: Option<String>,
}

/// InfluxDB's default `maxQueueSizeBytes`.
pub const DEFAULT_MAX_QUEUE_SIZE_BYTES: i64 = 67_108_860;
/// InfluxDB's minimum `maxQueueSizeBytes` (smaller answers 400).
pub const MIN_MAX_QUEUE_SIZE_BYTES: i64 = 33_554_430;
/// InfluxDB's default `maxAgeSeconds` (one week).
pub const DEFAULT_MAX_AGE_SECONDS: i64 = 604_800;
/// Default largest batch (InfluxDB's docs: 500 kB).
pub const DEFAULT_MAX_BATCH_BYTES: u64 = 500_000;
