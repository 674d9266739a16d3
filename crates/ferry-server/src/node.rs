//! The node: catalog + one [`BucketEngine`] per bucket + the settings every request needs.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ferry_catalog::{Action, Authorization, Bucket, Catalog, Org};
use ferry_lp::Precision;

use crate::engine::{BucketEngine, EngineError};
use crate::error::ApiError;

/// How often a quarantined bucket is tried again on use.
pub const QUARANTINE_RETRY: Duration = Duration::from_secs(30);

/// Settings of a running node.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Where the catalog and the buckets live.
    pub data_dir: PathBuf,
    /// Largest accepted request body, uncompressed.
    pub max_body_bytes: usize,
    /// When false, requests need no token (`--no-auth`).
    pub auth_enabled: bool,
    /// fsync every group commit (always on outside benchmarks).
    pub fsync: bool,
    /// The store persists its buffer to Parquet past this many bytes...
    pub buffer_limit_bytes: usize,
    /// What every bucket's buffers and the writes in progress may hold together before
    /// writes wait and then answer 503 (`write_gate.rs`); 0: no limit.
    pub write_memory_bytes: usize,
    /// ... or when its oldest unpersisted data is this old.
    pub persist_interval: Duration,
    /// What a query may take.
    pub query_limits: crate::queries::QueryLimits,
    /// The key that seals remote credentials and secrets in the catalog; `None`:
    /// `<data-dir>/secret.key`. Created on first start.
    pub secret_key_file: Option<PathBuf>,
    /// How often the status page's history samples the streams and buckets.
    pub status_sample_interval: Duration,
    /// Refuse the InfluxDB guides' three script mistakes as InfluxDB does, instead of running
    /// them with a note (`ferry_flux::leniency`).
    pub flux_strict: bool,
    /// The memory all replication streams' batches share (`replication/memory.rs`); 0: no
    /// limit.
    pub replication_memory_bytes: u64,
}

/// How a write treats bad lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteApi {
    /// v2: one malformed line rejects the whole body (400); type conflicts answer 422.
    V2,
    /// v1: good lines are written, bad ones reported in a 400 `partial write`.
    V1,
}

/// The running node's state, shared by every request.
pub struct Node {
    /// The metadata catalog.
    pub catalog: Catalog,
    /// The settings the node was started with.
    pub config: NodeConfig,
    /// This node's ID (16 hex digits, made on first start, kept in `<data-dir>/node-id`); sent
    /// as `X-Ferry-Node-Id` and used for replication loop prevention.
    pub node_id: String,
    /// The queries running now, and the limits they run under.
    pub queries: crate::queries::Queries,
    /// What the status page charts: sampled stream and bucket figures.
    pub status_history: Arc<crate::status_history::StatusHistory>,
    /// The counters `/metrics` reads.
    pub metrics: crate::metrics::Metrics,
    /// Admits writes against the write memory.
    pub write_gate: crate::write_gate::WriteGate,
    engines: tokio::sync::Mutex<HashMap<String, Arc<BucketEngine>>>,
    /// Buckets that could not be opened (damaged files): why, and when it was last tried.
    /// The rest of the node serves; these answer 503 until an open works.
    quarantined: parking_lot::Mutex<HashMap<String, (String, std::time::Instant)>>,
    /// Held while the node lives: a second node on the same data dir would append to the
    /// same logs and rewrite the same manifests.
    _data_dir_lock: ferry_fs::DataDirLock,
}

impl Node {
    /// Opens the catalog in `config.data_dir`.
    pub fn open(config: NodeConfig) -> Result<Node, ApiError> {
        private_data_dir(&config.data_dir).map_err(|e| {
            ApiError::Internal(format!(
                "cannot create data dir {}: {e}",
                config.data_dir.display()
            ))
        })?;
        let data_dir_lock = ferry_fs::DataDirLock::acquire(&config.data_dir)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let catalog_path = config.data_dir.join("catalog.sqlite");
        private_file(&catalog_path).map_err(|e| {
            ApiError::Internal(format!("cannot create {}: {e}", catalog_path.display()))
        })?;
        let key_file = config
            .secret_key_file
            .clone()
            .unwrap_or_else(|| config.data_dir.join("secret.key"));
        let catalog = Catalog::open(&catalog_path, &key_file)?;
        match catalog.unopenable_credentials() {
            Ok(lost) if !lost.is_empty() => tracing::error!(
                key_file = %key_file.display(),
                credentials = %lost.join(", "),
                "stored credentials do not open with this key file (was it lost or replaced?): set them again, or restore the key file and restart"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot check the stored credentials"),
        }
        let node_id = load_node_id(&config.data_dir)?;
        Ok(Node {
            catalog,
            node_id,
            queries: crate::queries::Queries::new(config.query_limits),
            status_history: Arc::new(crate::status_history::StatusHistory::new(
                config.status_sample_interval,
            )),
            write_gate: crate::write_gate::WriteGate::new(config.write_memory_bytes),
            config,
            metrics: Default::default(),
            engines: Default::default(),
            quarantined: Default::default(),
            _data_dir_lock: data_dir_lock,
        })
    }

    fn bucket_dir(&self, bucket_id: &str) -> PathBuf {
        self.config.data_dir.join("buckets").join(bucket_id)
    }

    /// The bucket's engine if it is open and the engine map is not locked at this instant
    /// (never waits): the fast path of [`Node::engine`] for callers on a runtime thread.
    pub fn engine_if_open(&self, bucket_id: &str) -> Option<Arc<BucketEngine>> {
        self.engines.try_lock().ok()?.get(bucket_id).cloned()
    }

    /// The engine of a bucket, opened (and its log replayed) on first use. A bucket that
    /// cannot be opened is quarantined: it answers 503 with the reason, and opening is tried
    /// again at most every [`QUARANTINE_RETRY`].
    pub async fn engine(&self, bucket_id: &str) -> Result<Arc<BucketEngine>, ApiError> {
        let mut engines = self.engines.lock().await;
        if let Some(e) = engines.get(bucket_id) {
            return Ok(e.clone());
        }
        if let Some(reason) = self.quarantined_until_retry(bucket_id) {
            return Err(ApiError::Unavailable(reason));
        }
        let dir = self.bucket_dir(bucket_id);
        let id = bucket_id.to_string();
        let log_opts = ferry_log::LogOptions {
            fsync: self.config.fsync,
            on_fsync: Some(self.metrics.fsync.observer()),
            ..Default::default()
        };
        let store_opts = ferry_store::StoreOptions {
            buffer_limit_bytes: self.config.buffer_limit_bytes,
            ..Default::default()
        };
        let engine = tokio::task::spawn_blocking(move || {
            BucketEngine::open(&id, &dir, log_opts, store_opts)
        })
        .await
        .map_err(|e| ApiError::Internal(format!("opening bucket: {e}")))?;
        let engine = match engine {
            Ok(e) => e,
            Err(e) => {
                let reason = format!(
                    "bucket {bucket_id} is quarantined: it cannot be opened: {e}. The rest of the node serves; stop the node and run `ferry check --data-dir {}` to see and repair the damage",
                    self.config.data_dir.display()
                );
                tracing::error!(bucket = bucket_id, error = %e, "bucket quarantined: it cannot be opened");
                self.quarantined.lock().insert(
                    bucket_id.to_string(),
                    (reason.clone(), std::time::Instant::now()),
                );
                return Err(ApiError::Unavailable(reason));
            }
        };
        self.quarantined.lock().remove(bucket_id);
        let engine = Arc::new(engine);
        engines.insert(bucket_id.to_string(), engine.clone());
        Ok(engine)
    }

    /// Why `bucket_id` is quarantined, while its last open failed less than
    /// [`QUARANTINE_RETRY`] ago (after that the caller tries again).
    fn quarantined_until_retry(&self, bucket_id: &str) -> Option<String> {
        let q = self.quarantined.lock();
        let (reason, at) = q.get(bucket_id)?;
        (at.elapsed() < QUARANTINE_RETRY).then(|| reason.clone())
    }

    /// Opens every bucket's engine (replaying logs) before the node answers requests. A
    /// bucket that cannot be opened is quarantined (logged, and listed by `/health`); the
    /// others open and serve.
    pub async fn open_all(&self) -> Result<(), ApiError> {
        for b in self.catalog.list_buckets(None)? {
            if let Err(e) = self.engine(&b.id).await {
                tracing::error!(bucket = %b.name, id = %b.id, error = %e, "bucket not opened");
            }
        }
        Ok(())
    }

    /// Buckets that cannot take writes now: `(bucket ID, why)`: quarantined ones, and those
    /// whose log's last write failed (a full or failing disk).
    pub async fn failing_buckets(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .quarantined
            .lock()
            .iter()
            .map(|(id, (reason, _))| (id.clone(), reason.clone()))
            .collect();
        for (id, e) in self.engines.lock().await.iter() {
            if let Some(reason) = e.log().failure() {
                out.push((id.clone(), format!("writes failing: {reason}")));
            }
        }
        out.sort();
        out
    }

    /// Every open engine.
    pub async fn engines(&self) -> Vec<Arc<BucketEngine>> {
        self.engines.lock().await.values().cloned().collect()
    }

    /// Closes a deleted bucket's engine and removes its files.
    pub async fn drop_bucket_data(&self, bucket_id: &str) {
        if let Some(e) = self.engines.lock().await.remove(bucket_id) {
            e.log().close();
        }
        let dir = self.bucket_dir(bucket_id);
        if let Err(e) = tokio::fs::remove_dir_all(&dir).await {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(dir = %dir.display(), error = %e, "could not remove a deleted bucket's files");
            }
        }
    }

    /// Resolves the token of a request. With auth disabled every request is allowed (`None`).
    pub fn authenticate(&self, token: Option<&str>) -> Result<Option<Authorization>, ApiError> {
        if !self.config.auth_enabled {
            return Ok(None);
        }
        let token = token.ok_or_else(|| {
            ApiError::Unauthorized(
                "unauthorized access: no token; send the header 'Authorization: Token <token>'"
                    .into(),
            )
        })?;
        match self.catalog.authorize(token)? {
            Some(a) if a.status == "active" => Ok(Some(a)),
            Some(_) => Err(ApiError::Unauthorized(
                "unauthorized access: the token is inactive".into(),
            )),
            None => Err(ApiError::Unauthorized(
                "unauthorized access: unknown token".into(),
            )),
        }
    }

    /// Checks that `auth` may do `action` on a resource; `None` (auth off) may do anything.
    pub fn require(
        &self,
        auth: &Option<Authorization>,
        action: Action,
        resource_type: &str,
        org_id: &str,
        id: Option<&str>,
    ) -> Result<(), ApiError> {
        match auth {
            None => Ok(()),
            Some(a) if a.allows(action, resource_type, org_id, id) => Ok(()),
            // The resource's ID is not repeated: a client that named it (a v1 database, a
            // bucket name) must not learn it from a refusal.
            Some(_) => Err(ApiError::Forbidden(format!(
                "insufficient permissions: the token may not {} {resource_type}",
                match action {
                    Action::Read => "read",
                    Action::Write => "write",
                },
            ))),
        }
    }

    /// The org named by `orgID` or `org`; failing both, the token's org (or the only org).
    pub fn resolve_org(
        &self,
        org_id: Option<&str>,
        org: Option<&str>,
        auth: &Option<Authorization>,
    ) -> Result<Org, ApiError> {
        if let Some(id) = org_id.filter(|s| !s.is_empty()) {
            return Ok(self.catalog.org_by_id(id)?);
        }
        if let Some(name) = org.filter(|s| !s.is_empty()) {
            return match self.catalog.org_by_name(name) {
                Ok(o) => Ok(o),
                // InfluxDB accepts an org ID in `org` too
                Err(e) => self.catalog.org_by_id(name).map_err(|_| e.into()),
            };
        }
        if let Some(a) = auth {
            return Ok(self.catalog.org_by_id(&a.org_id)?);
        }
        let mut orgs = self.catalog.list_orgs()?;
        if orgs.len() == 1 {
            return Ok(orgs.remove(0));
        }
        Err(ApiError::BadRequest(
            "Please provide either orgID or org".into(),
        ))
    }

    /// A bucket of `org` named by ID or name.
    pub fn resolve_bucket(&self, org: &Org, bucket: &str) -> Result<Bucket, ApiError> {
        if let Ok(b) = self.catalog.bucket_by_name(&org.id, bucket) {
            return Ok(b);
        }
        if let Some(id) = ferry_catalog::parse_id(bucket) {
            if let Ok(b) = self.catalog.bucket_by_id(&id) {
                if b.org_id == org.id {
                    return Ok(b);
                }
            }
        }
        Err(ApiError::NotFound(format!("bucket \"{bucket}\" not found")))
    }

    /// What every bucket's buffers hold now (active and persisting).
    pub async fn buffered_bytes(&self) -> usize {
        let engines = self.engines().await;
        engines.iter().map(|e| e.store().buffered_bytes()).sum()
    }

    /// Admits a write whose body is `body_bytes` long against the write memory (see
    /// [`crate::write_gate`]); hold the permit until the write is answered, and correct it
    /// with [`held_by`](crate::write_gate::held_by) once the body is read.
    pub async fn admit_write(
        &self,
        body_bytes: usize,
    ) -> Result<crate::write_gate::WritePermit<'_>, ApiError> {
        // Unread, a body is charged at most a quarter of the write memory: a client that
        // announces a large body and sends it slowly holds no more than that.
        let unread = body_bytes
            .saturating_mul(crate::write_gate::BODY_FACTOR)
            .min(self.write_gate.limit() / 4);
        self.write_gate
            .admit(unread, || self.buffered_bytes())
            .await
            .map_err(|e| ApiError::Busy(e.to_string()))
    }

    /// Parses `body` and writes it to `bucket`, with the given API's rules for bad lines.
    pub async fn write_lp(
        &self,
        bucket: &Bucket,
        body: Vec<u8>,
        precision: Precision,
        api: WriteApi,
        origin: Option<&str>,
    ) -> Result<(), ApiError> {
        let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
        let body_bytes = body.len();
        let (parsed, body) = tokio::task::spawn_blocking(move || {
            let parsed = ferry_lp::ParsedLines::parse(&body, precision, now);
            (parsed, body)
        })
        .await
        .map_err(|e| ApiError::Internal(format!("parser task failed: {e}")))?;
        let lines = parsed.map_err(|e| ApiError::TooLarge(e.to_string()))?;
        let parse_errors = describe_parse_errors(&lines.errors);
        if api == WriteApi::V2 && !lines.errors.is_empty() {
            return Err(ApiError::BadRequest(format!(
                "{parse_errors}; nothing was written (fix the line{} and send the batch again)",
                if lines.errors.len() == 1 { "" } else { "s" }
            )));
        }
        // The client's bytes can be logged as they are when every line parsed and carries its
        // own ns timestamp.
        let verbatim =
            precision == Precision::Nanoseconds && lines.errors.is_empty() && lines.all_timed();
        let engine = self.engine(&bucket.id).await?;
        let outcome = engine
            .write_lines(body, lines, verbatim, origin)
            .await
            .map_err(engine_error)?;
        if outcome.written > 0 {
            let api = match api {
                WriteApi::V1 => crate::metrics::writes::Api::V1,
                WriteApi::V2 => crate::metrics::writes::Api::V2,
            };
            self.metrics
                .writes
                .written(api, outcome.written, body_bytes);
        }
        let mut problems = Vec::new();
        if !parse_errors.is_empty() {
            problems.push(parse_errors);
        }
        if let Some((_, first)) = outcome.conflicts.first() {
            problems.push(first.clone());
        }
        if problems.is_empty() {
            return Ok(());
        }
        Err(ApiError::Unprocessable(format!(
            "partial write: {} dropped={}",
            problems.join("; "),
            outcome.conflicts.len()
        )))
    }
}

fn describe_parse_errors(errors: &[ferry_lp::LineError]) -> String {
    const SHOWN: usize = 5;
    let mut s: Vec<String> = errors.iter().take(SHOWN).map(|e| e.to_string()).collect();
    if errors.len() > SHOWN {
        s.push(format!("and {} more bad lines", errors.len() - SHOWN));
    }
    s.join("; ")
}

/// Why the stored token a task or replication acts with can no longer be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnusableToken {
    /// Deactivated: activating it again brings its work back.
    Inactive,
    /// Deleted: the work stays stopped until given another token.
    Deleted,
}

impl UnusableToken {
    /// What the token's state is ("is inactive", "was deleted") followed by the first
    /// remedy that applies ("activate it, or "), for a message that ends with the rest.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            UnusableToken::Inactive => "is inactive: activate it, or ",
            UnusableToken::Deleted => "was deleted: ",
        }
    }
}

impl Node {
    /// The stored token `id` that a task or replication acts with, while it is usable.
    pub(crate) fn acting_token(&self, id: &str) -> Result<Authorization, UnusableToken> {
        match self.catalog.authorization_by_id(id) {
            Ok(a) if a.status == "active" => Ok(a),
            Ok(_) => Err(UnusableToken::Inactive),
            Err(_) => Err(UnusableToken::Deleted),
        }
    }
}

/// Maps a bucket engine failure to an API error: nothing was acknowledged.
pub fn engine_error(e: EngineError) -> ApiError {
    match e {
        // not a fault of the node: a retry would fail the same way
        EngineError::PointTooLarge { .. } => ApiError::TooLarge(format!("write refused: {e}")),
        EngineError::Unrepresentable(_) => ApiError::BadRequest(e.to_string()),
        // A full or failing disk: the log repairs itself on a later write once it can.
        EngineError::Log(_) => ApiError::Unavailable(format!(
            "write not acknowledged: {e}; retry later (the bucket's writes resume once its disk accepts them again)"
        )),
        e => ApiError::Internal(format!("write not acknowledged: {e}")),
    }
}

/// Creates the data dir readable by its owner only (0700), or makes an existing one so:
/// the catalog in it holds remote tokens, passwords and secrets.
fn private_data_dir(dir: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let mode = std::fs::metadata(dir)?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        tracing::warn!(dir = %dir.display(), mode = format!("{mode:o}"), "the data dir was readable by others; it is now 0700");
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Creates `path` empty with mode 0600 if it is missing, or takes group and other access
/// away from it (SQLite gives its `-wal` and `-shm` files the database file's mode).
fn private_file(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    let mode = f.metadata()?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        f.set_permissions(std::fs::Permissions::from_mode(mode & 0o700))?;
    }
    Ok(())
}

/// Reads `<data-dir>/node-id`, creating it with a new ID on first start.
fn load_node_id(data_dir: &std::path::Path) -> Result<String, ApiError> {
    let path = data_dir.join("node-id");
    match std::fs::read_to_string(&path) {
        Ok(s) if ferry_catalog::parse_id(s.trim()).is_some() => Ok(s.trim().to_string()),
        Ok(_) => Err(ApiError::Internal(format!(
            "{} is not a node ID; delete it to make a new one",
            path.display()
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let id = ferry_catalog::new_id();
            std::fs::write(&path, format!("{id}\n"))
                .map_err(|e| ApiError::Internal(format!("cannot write {}: {e}", path.display())))?;
            Ok(id)
        }
        Err(e) => Err(ApiError::Internal(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}
