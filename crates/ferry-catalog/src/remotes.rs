//! Remotes and replications (Edge Data Replication) in the catalog.
//!
//! Bounds are InfluxDB's: `maxQueueSizeBytes` ≥ 33554430, `maxAgeSeconds` 0 or 60..=5184000.
//! Names are unique per org. A remote that replications use is not deleted unless its
//! replications go with it ([`CatalogError::InUse`] names them). Remote tokens and passwords
//! are stored in clear because the node must send them; the API never returns them.

use ferry_lp::RemoteKind;
use rusqlite::{params, OptionalExtension, Row};

use crate::ids::{new_id, parse_id};
use crate::replication_model::*;
use crate::sealing::Sealer;
use crate::sql::{now, unique_violation};
use crate::store::Catalog;
use crate::CatalogError;

/// Smallest `maxAgeSeconds` other than 0 (InfluxDB's bound).
pub const MIN_MAX_AGE_SECONDS: i64 = 60;
/// Largest `maxAgeSeconds` (60 days, InfluxDB's bound).
pub const MAX_MAX_AGE_SECONDS: i64 = 5_184_000;

/// A remote to create.
#[derive(Debug, Clone, Default)]
pub struct NewRemote {
    /// Owning org.
    pub org_id: String,
    /// Name, unique in the org.
    pub name: String,
    /// What the owner wrote about it; shown, never interpreted.
    pub description: String,
    /// Base URL (`http://` or `https://`).
    pub remote_url: String,
    /// API token for the remote (secret).
    pub remote_api_token: String,
    /// Remote org ID (v2).
    pub remote_org_id: Option<String>,
    /// Skip TLS certificate verification.
    pub allow_insecure_tls: bool,
    /// Which write API the remote speaks.
    pub kind: RemoteKind,
    /// Basic-auth username (1.x, TDengine).
    pub remote_username: Option<String>,
    /// Basic-auth password (secret).
    pub remote_password: Option<String>,
    /// PEM file of an extra CA.
    pub ca_cert_file: Option<String>,
}

/// Fields of a remote to change; `None` leaves a field as it is, `Some(None)` clears a nullable
/// one.
#[derive(Debug, Clone, Default)]
pub struct RemoteUpdate {
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New base URL.
    pub remote_url: Option<String>,
    /// New token.
    pub remote_api_token: Option<String>,
    /// New remote org ID, or none.
    pub remote_org_id: Option<Option<String>>,
    /// New TLS verification setting.
    pub allow_insecure_tls: Option<bool>,
    /// New kind.
    pub kind: Option<RemoteKind>,
    /// New username, or none.
    pub remote_username: Option<Option<String>>,
    /// New password, or none.
    pub remote_password: Option<Option<String>>,
    /// New CA file, or none.
    pub ca_cert_file: Option<Option<String>>,
}

/// A replication to create. [`Default`] gives InfluxDB's defaults for the bounds.
#[derive(Debug, Clone)]
pub struct NewReplication {
    /// Owning org.
    pub org_id: String,
    /// Name, unique in the org.
    pub name: String,
    /// What the owner wrote about it; shown, never interpreted.
    pub description: String,
    /// The remote written to (same org).
    pub remote_id: String,
    /// The local bucket replicated (same org).
    pub local_bucket_id: String,
    /// Remote bucket by ID.
    pub remote_bucket_id: Option<String>,
    /// Remote bucket by name.
    pub remote_bucket_name: Option<String>,
    /// Queue bound in bytes.
    pub max_queue_size_bytes: i64,
    /// Drop lines the remote refuses with 400.
    pub drop_non_retryable_data: bool,
    /// Age bound in seconds (0 = none).
    pub max_age_seconds: i64,
    /// Created paused.
    pub paused: bool,
    /// Only these measurements (empty = all).
    pub measurements: Vec<String>,
    /// Bytes per second at most.
    pub rate_limit_bytes_per_sec: Option<u64>,
    /// Tags added to every point.
    pub add_tags: Vec<(String, String)>,
    /// Also send data already in the bucket from this time (ns).
    pub backfill_from_ns: Option<i64>,
    /// Largest batch in bytes.
    pub max_batch_bytes: u64,
    /// The creating token ([`Replication::authorization_id`]).
    pub authorization_id: Option<String>,
}

impl Default for NewReplication {
    fn default() -> Self {
        NewReplication {
            org_id: String::new(),
            name: String::new(),
            description: String::new(),
            remote_id: String::new(),
            local_bucket_id: String::new(),
            remote_bucket_id: None,
            remote_bucket_name: None,
            max_queue_size_bytes: DEFAULT_MAX_QUEUE_SIZE_BYTES,
            drop_non_retryable_data: false,
            max_age_seconds: DEFAULT_MAX_AGE_SECONDS,
            paused: false,
            measurements: vec![],
            rate_limit_bytes_per_sec: None,
            add_tags: vec![],
            backfill_from_ns: None,
            max_batch_bytes: DEFAULT_MAX_BATCH_BYTES,
            authorization_id: None,
        }
    }
}

/// Fields of a replication to change; `None` leaves a field as it is. Setting a remote bucket
/// ID clears the remote bucket name and vice versa (unless both are given).
#[derive(Debug, Clone, Default)]
pub struct ReplicationUpdate {
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New remote (same org).
    pub remote_id: Option<String>,
    /// New remote bucket ID.
    pub remote_bucket_id: Option<String>,
    /// New remote bucket name.
    pub remote_bucket_name: Option<String>,
    /// New queue bound.
    pub max_queue_size_bytes: Option<i64>,
    /// New drop setting.
    pub drop_non_retryable_data: Option<bool>,
    /// New age bound.
    pub max_age_seconds: Option<i64>,
    /// Pause or resume.
    pub paused: Option<bool>,
    /// New measurement filter (empty = all).
    pub measurements: Option<Vec<String>>,
    /// New rate limit, or none.
    pub rate_limit_bytes_per_sec: Option<Option<u64>>,
    /// New added tags.
    pub add_tags: Option<Vec<(String, String)>>,
    /// New batch size.
    pub max_batch_bytes: Option<u64>,
    /// A new authority ([`Replication::authorization_id`]).
    pub authorization_id: Option<Option<String>>,
}

/// Where a remote's token is sealed (its associated data, see [`crate::sealing`]).
fn token_place(id: &str) -> String {
    format!("remote:{id}:token")
}

fn password_place(id: &str) -> String {
    format!("remote:{id}:password")
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.trim().is_empty())
}

fn validate_remote(r: &Remote) -> Result<(), CatalogError> {
    if r.name.trim().is_empty() {
        return Err(CatalogError::Invalid("remote name is required".into()));
    }
    let url = r.remote_url.trim();
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| {
            CatalogError::Invalid(format!(
                "remoteURL {url:?} is invalid: it must start with http:// or https://"
            ))
        })?;
    if rest.is_empty() || rest.starts_with('/') || url.chars().any(char::is_whitespace) {
        return Err(CatalogError::Invalid(format!(
            "remoteURL {url:?} is invalid: no host"
        )));
    }
    Ok(())
}

fn validate_bounds(max_queue: i64, max_age: i64) -> Result<(), CatalogError> {
    if max_queue < MIN_MAX_QUEUE_SIZE_BYTES {
        return Err(CatalogError::Invalid(format!(
            "maxQueueSizeBytes {max_queue} is too small: the minimum is {MIN_MAX_QUEUE_SIZE_BYTES}"
        )));
    }
    if max_age != 0 && !(MIN_MAX_AGE_SECONDS..=MAX_MAX_AGE_SECONDS).contains(&max_age) {
        return Err(CatalogError::Invalid(format!(
            "maxAgeSeconds {max_age} is invalid: 0 (no limit) or {MIN_MAX_AGE_SECONDS} to {MAX_MAX_AGE_SECONDS}"
        )));
    }
    Ok(())
}

fn to_i64(v: u64, what: &str) -> Result<i64, CatalogError> {
    i64::try_from(v).map_err(|_| CatalogError::Invalid(format!("{what} {v} is too large")))
}

impl Catalog {
    // ---- remotes ----

    const REMOTE_COLS: &'static str = "SELECT id, org_id, name, description, remote_url, \
        remote_api_token, remote_org_id, allow_insecure_tls, kind, remote_username, \
        remote_password, ca_cert_file, created_at, updated_at FROM remotes";

    fn remote_from_row(r: &Row) -> rusqlite::Result<Remote> {
        let kind: String = r.get(8)?;
        Ok(Remote {
            id: r.get(0)?,
            org_id: r.get(1)?,
            name: r.get(2)?,
            description: r.get(3)?,
            remote_url: r.get(4)?,
            remote_api_token: r.get(5)?,
            remote_org_id: r.get(6)?,
            allow_insecure_tls: r.get(7)?,
            kind: RemoteKind::parse(&kind).unwrap_or_default(),
            remote_username: r.get(9)?,
            remote_password: r.get(10)?,
            ca_cert_file: r.get(11)?,
            created_at: r.get(12)?,
            updated_at: r.get(13)?,
        })
    }

    fn write_remote(&self, r: &Remote, insert: bool) -> Result<(), CatalogError> {
        let sql = if insert {
            "INSERT INTO remotes (id, org_id, name, description, remote_url, remote_api_token,
                remote_org_id, allow_insecure_tls, kind, remote_username, remote_password,
                ca_cert_file, created_at, updated_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14)"
        } else {
            "UPDATE remotes SET org_id = ?2, name = ?3, description = ?4, remote_url = ?5,
                remote_api_token = ?6, remote_org_id = ?7, allow_insecure_tls = ?8, kind = ?9,
                remote_username = ?10, remote_password = ?11, ca_cert_file = ?12,
                created_at = ?13, updated_at = ?14 WHERE id = ?1"
        };
        let token = self.sealer.seal(&token_place(&r.id), &r.remote_api_token);
        let password = r
            .remote_password
            .as_ref()
            .map(|p| self.sealer.seal(&password_place(&r.id), p));
        self.conn()
            .execute(
                sql,
                params![
                    r.id,
                    r.org_id,
                    r.name,
                    r.description,
                    r.remote_url,
                    token,
                    r.remote_org_id,
                    r.allow_insecure_tls,
                    r.kind.as_str(),
                    r.remote_username,
                    password,
                    r.ca_cert_file,
                    r.created_at,
                    r.updated_at
                ],
            )
            .map_err(|e| {
                if unique_violation(&e) {
                    CatalogError::Conflict {
                        kind: "remote",
                        name: r.name.clone(),
                    }
                } else {
                    e.into()
                }
            })?;
        Ok(())
    }

    /// Creates a remote. Names are unique per org; the URL must be http(s).
    pub fn create_remote(&self, new: NewRemote) -> Result<Remote, CatalogError> {
        self.org_by_id(&new.org_id)?;
        let t = now();
        let r = Remote {
            id: new_id(),
            org_id: new.org_id,
            name: new.name,
            description: new.description,
            remote_url: new.remote_url.trim().to_string(),
            remote_api_token: new.remote_api_token,
            remote_org_id: non_empty(new.remote_org_id),
            allow_insecure_tls: new.allow_insecure_tls,
            kind: new.kind,
            remote_username: non_empty(new.remote_username),
            remote_password: new.remote_password.filter(|p| !p.is_empty()),
            ca_cert_file: non_empty(new.ca_cert_file),
            created_at: t.clone(),
            updated_at: t,
        };
        validate_remote(&r)?;
        self.write_remote(&r, true)?;
        Ok(r)
    }

    /// Remotes of an org, by name; optionally only the one with this name and/or URL (exact).
    pub fn list_remotes(
        &self,
        org_id: &str,
        name: Option<&str>,
        remote_url: Option<&str>,
    ) -> Result<Vec<Remote>, CatalogError> {
        let conn = self.conn();
        let sql = format!(
            "{} WHERE org_id = ?1 AND (?2 IS NULL OR name = ?2) AND (?3 IS NULL OR remote_url = ?3)
             ORDER BY name",
            Self::REMOTE_COLS
        );
        let mut st = conn.prepare_cached(&sql)?;
        let rows = st.query_map(params![org_id, name, remote_url], Self::remote_from_row)?;
        let sealed: Vec<Remote> = rows.collect::<Result<_, _>>()?;
        drop(st);
        drop(conn);
        // A list never shows credentials: one that does not open (another key file) is
        // left empty here, and reported by `remote_by_id`, which the streams use.
        Ok(sealed
            .into_iter()
            .map(|r| {
                let mut blank = r.clone();
                self.unseal_remote(r).unwrap_or_else(|_| {
                    blank.remote_api_token.clear();
                    blank.remote_password = None;
                    blank
                })
            })
            .collect())
    }

    /// The remote with this ID, its credentials opened.
    pub fn remote_by_id(&self, id: &str) -> Result<Remote, CatalogError> {
        let sql = format!("{} WHERE id = ?1", Self::REMOTE_COLS);
        let sealed = self
            .conn()
            .prepare_cached(&sql)?
            .query_row([id], Self::remote_from_row)
            .optional()?
            .ok_or_else(|| CatalogError::NotFound {
                kind: "remote",
                what: id.into(),
            })?;
        self.unseal_remote(sealed)
    }

    fn unseal_remote(&self, mut r: Remote) -> Result<Remote, CatalogError> {
        r.remote_api_token = self.sealer.open(&token_place(&r.id), &r.remote_api_token)?;
        r.remote_password = r
            .remote_password
            .map(|p| self.sealer.open(&password_place(&r.id), &p))
            .transpose()?;
        Ok(r)
    }

    /// The remotes and secrets whose sealed values do not open with this catalog's key (the
    /// key file was lost or replaced): each needs its credential set again.
    pub fn unopenable_credentials(&self) -> Result<Vec<String>, CatalogError> {
        let rows: Vec<(String, String, String)> = {
            let conn = self.conn();
            let mut st = conn.prepare(
                "SELECT 'remote', id, remote_api_token FROM remotes
                 UNION ALL SELECT 'remote password', id, remote_password FROM remotes
                   WHERE remote_password IS NOT NULL
                 UNION ALL SELECT 'secret', org_id || ':' || key, value FROM secrets",
            )?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        Ok(rows
            .into_iter()
            .filter(|(kind, id, value)| {
                let place = match kind.as_str() {
                    "remote" => token_place(id),
                    "remote password" => password_place(id),
                    _ => {
                        let (org, key) = id.split_once(':').unwrap_or((id, ""));
                        crate::tasks::secret_place(org, key)
                    }
                };
                self.sealer.open(&place, value).is_err()
            })
            .map(|(kind, id, _)| format!("{kind} {id}"))
            .collect())
    }

    /// Seals the remote credentials and secret values an older release stored in clear.
    pub(crate) fn seal_clear_values(&self) -> Result<(), CatalogError> {
        let clear: Vec<(String, String, Option<String>)> = {
            let conn = self.conn();
            let mut st =
                conn.prepare("SELECT id, remote_api_token, remote_password FROM remotes")?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        for (id, token, password) in clear {
            if !Sealer::is_sealed(&token) {
                self.conn().execute(
                    "UPDATE remotes SET remote_api_token = ?2 WHERE id = ?1",
                    params![id, self.sealer.seal(&token_place(&id), &token)],
                )?;
            }
            if let Some(p) = password.filter(|p| !Sealer::is_sealed(p)) {
                self.conn().execute(
                    "UPDATE remotes SET remote_password = ?2 WHERE id = ?1",
                    params![id, self.sealer.seal(&password_place(&id), &p)],
                )?;
            }
        }
        self.seal_clear_secrets()
    }

    /// Changes a remote. The caller restarts the streams of its replications
    /// ([`Catalog::replications_of_remote`]).
    pub fn update_remote(&self, id: &str, upd: RemoteUpdate) -> Result<Remote, CatalogError> {
        let mut r = self.remote_by_id(id)?;
        if let Some(v) = upd.name {
            r.name = v;
        }
        if let Some(v) = upd.description {
            r.description = v;
        }
        if let Some(v) = upd.remote_url {
            r.remote_url = v.trim().to_string();
        }
        if let Some(v) = upd.remote_api_token {
            r.remote_api_token = v;
        }
        if let Some(v) = upd.remote_org_id {
            r.remote_org_id = non_empty(v);
        }
        if let Some(v) = upd.allow_insecure_tls {
            r.allow_insecure_tls = v;
        }
        if let Some(v) = upd.kind {
            r.kind = v;
        }
        if let Some(v) = upd.remote_username {
            r.remote_username = non_empty(v);
        }
        if let Some(v) = upd.remote_password {
            r.remote_password = v.filter(|p| !p.is_empty());
        }
        if let Some(v) = upd.ca_cert_file {
            r.ca_cert_file = non_empty(v);
        }
        validate_remote(&r)?;
        r.updated_at = now();
        self.write_remote(&r, false)?;
        Ok(r)
    }

    /// Deletes a remote. When replications use it, fails with [`CatalogError::InUse`] naming
    /// them, unless `delete_replications`: then they are deleted too, in the same transaction,
    /// and their IDs returned (the caller stops their streams).
    pub fn delete_remote(
        &self,
        id: &str,
        delete_replications: bool,
    ) -> Result<Vec<String>, CatalogError> {
        let r = self.remote_by_id(id)?;
        let users = self.replications_of_remote(id)?;
        if !users.is_empty() && !delete_replications {
            let names: Vec<String> = users
                .iter()
                .map(|u| format!("{:?} ({})", u.name, u.id))
                .collect();
            return Err(CatalogError::InUse(format!(
                "remote {:?} ({}) is used by {} replication{}: {}; delete {} first",
                r.name,
                r.id,
                users.len(),
                if users.len() == 1 { "" } else { "s" },
                names.join(", "),
                if users.len() == 1 { "it" } else { "them" },
            )));
        }
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute("DELETE FROM replications WHERE remote_id = ?1", [id])?;
        tx.execute("DELETE FROM remotes WHERE id = ?1", [id])?;
        tx.commit()?;
        Ok(users.into_iter().map(|u| u.id).collect())
    }

    // ---- replications ----

    const REP_COLS: &'static str = "SELECT id, org_id, name, description, remote_id, \
        local_bucket_id, remote_bucket_id, remote_bucket_name, max_queue_size_bytes, \
        drop_non_retryable_data, max_age_seconds, paused, measurements, rate_limit_bytes_per_sec, \
        add_tags, backfill_from_ns, max_batch_bytes, created_at, updated_at, authorization_id \
        FROM replications";

    fn replication_from_row(r: &Row) -> rusqlite::Result<Replication> {
        let measurements: String = r.get(12)?;
        let tags: String = r.get(14)?;
        let rate: Option<i64> = r.get(13)?;
        let batch: i64 = r.get(16)?;
        Ok(Replication {
            id: r.get(0)?,
            org_id: r.get(1)?,
            name: r.get(2)?,
            description: r.get(3)?,
            remote_id: r.get(4)?,
            local_bucket_id: r.get(5)?,
            remote_bucket_id: r.get(6)?,
            remote_bucket_name: r.get(7)?,
            max_queue_size_bytes: r.get(8)?,
            drop_non_retryable_data: r.get(9)?,
            max_age_seconds: r.get(10)?,
            paused: r.get(11)?,
            measurements: serde_json::from_str(&measurements).unwrap_or_default(),
            rate_limit_bytes_per_sec: rate.map(|v| v.max(0) as u64),
            add_tags: serde_json::from_str(&tags).unwrap_or_default(),
            backfill_from_ns: r.get(15)?,
            max_batch_bytes: batch.max(0) as u64,
            created_at: r.get(17)?,
            updated_at: r.get(18)?,
            authorization_id: r.get(19)?,
        })
    }

    /// Checks a replication's fields and that its remote and local bucket exist in its org.
    fn check_replication(&self, rep: &Replication) -> Result<(), CatalogError> {
        if rep.name.trim().is_empty() {
            return Err(CatalogError::Invalid("replication name is required".into()));
        }
        if rep.remote_bucket_id.is_none() && rep.remote_bucket_name.is_none() {
            return Err(CatalogError::Invalid(
                "either remoteBucketID or remoteBucketName is required".into(),
            ));
        }
        if let Some(id) = &rep.remote_bucket_id {
            if parse_id(id).is_none() {
                return Err(CatalogError::Invalid(format!(
                    "remoteBucketID {id:?} is invalid: 16 hex digits expected (use remoteBucketName for names)"
                )));
            }
        }
        validate_bounds(rep.max_queue_size_bytes, rep.max_age_seconds)?;
        if rep.measurements.iter().any(|m| m.is_empty()) {
            return Err(CatalogError::Invalid(
                "measurements must not contain an empty name".into(),
            ));
        }
        if rep
            .add_tags
            .iter()
            .any(|(k, v)| k.is_empty() || v.is_empty())
        {
            return Err(CatalogError::Invalid(
                "addTags keys and values must not be empty".into(),
            ));
        }
        if rep.rate_limit_bytes_per_sec == Some(0) {
            return Err(CatalogError::Invalid(
                "rateLimitBytesPerSecond must be positive (omit it for no limit)".into(),
            ));
        }
        if rep.max_batch_bytes < 1024 {
            return Err(CatalogError::Invalid(format!(
                "maxBatchBytes {} is too small: at least 1024",
                rep.max_batch_bytes
            )));
        }
        to_i64(rep.max_batch_bytes, "maxBatchBytes")?;
        if let Some(r) = rep.rate_limit_bytes_per_sec {
            to_i64(r, "rateLimitBytesPerSecond")?;
        }
        match self.remote_by_id(&rep.remote_id) {
            Ok(r) if r.org_id == rep.org_id => {}
            Ok(_) | Err(CatalogError::NotFound { .. }) => {
                return Err(CatalogError::Invalid(format!(
                    "remote {:?} not found in this organization",
                    rep.remote_id
                )))
            }
            Err(e) => return Err(e),
        }
        match self.bucket_by_id(&rep.local_bucket_id) {
            Ok(b) if b.org_id == rep.org_id => {}
            Ok(_) | Err(CatalogError::NotFound { .. }) => {
                return Err(CatalogError::Invalid(format!(
                    "local bucket {:?} not found in this organization",
                    rep.local_bucket_id
                )))
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    fn write_replication(&self, r: &Replication, insert: bool) -> Result<(), CatalogError> {
        let sql = if insert {
            "INSERT INTO replications (id, org_id, name, description, remote_id, local_bucket_id,
                remote_bucket_id, remote_bucket_name, max_queue_size_bytes, drop_non_retryable_data,
                max_age_seconds, paused, measurements, rate_limit_bytes_per_sec, add_tags,
                backfill_from_ns, max_batch_bytes, created_at, updated_at, authorization_id)
             VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20)"
        } else {
            "UPDATE replications SET org_id = ?2, name = ?3, description = ?4, remote_id = ?5,
                local_bucket_id = ?6, remote_bucket_id = ?7, remote_bucket_name = ?8,
                max_queue_size_bytes = ?9, drop_non_retryable_data = ?10, max_age_seconds = ?11,
                paused = ?12, measurements = ?13, rate_limit_bytes_per_sec = ?14, add_tags = ?15,
                backfill_from_ns = ?16, max_batch_bytes = ?17, created_at = ?18, updated_at = ?19,
                authorization_id = ?20
             WHERE id = ?1"
        };
        let measurements = serde_json::to_string(&r.measurements).expect("strings serialize");
        let tags = serde_json::to_string(&r.add_tags).expect("strings serialize");
        let rate = r
            .rate_limit_bytes_per_sec
            .map(|v| to_i64(v, "rateLimitBytesPerSecond"))
            .transpose()?;
        let batch = to_i64(r.max_batch_bytes, "maxBatchBytes")?;
        self.conn()
            .execute(
                sql,
                params![
                    r.id,
                    r.org_id,
                    r.name,
                    r.description,
                    r.remote_id,
                    r.local_bucket_id,
                    r.remote_bucket_id,
                    r.remote_bucket_name,
                    r.max_queue_size_bytes,
                    r.drop_non_retryable_data,
                    r.max_age_seconds,
                    r.paused,
                    measurements,
                    rate,
                    tags,
                    r.backfill_from_ns,
                    batch,
                    r.created_at,
                    r.updated_at,
                    r.authorization_id
                ],
            )
            .map_err(|e| {
                if unique_violation(&e) {
                    CatalogError::Conflict {
                        kind: "replication",
                        name: r.name.clone(),
                    }
                } else {
                    e.into()
                }
            })?;
        Ok(())
    }

    /// The replication `create_replication` would create, checked (bounds, remote and local
    /// bucket in the org) but not stored, e.g. to validate it against the remote first.
    pub fn prepare_replication(&self, new: NewReplication) -> Result<Replication, CatalogError> {
        let t = now();
        let rep = Replication {
            id: new_id(),
            org_id: new.org_id,
            name: new.name,
            description: new.description,
            remote_id: new.remote_id,
            local_bucket_id: new.local_bucket_id,
            remote_bucket_id: non_empty(new.remote_bucket_id),
            remote_bucket_name: non_empty(new.remote_bucket_name),
            max_queue_size_bytes: new.max_queue_size_bytes,
            drop_non_retryable_data: new.drop_non_retryable_data,
            max_age_seconds: new.max_age_seconds,
            paused: new.paused,
            measurements: new.measurements,
            rate_limit_bytes_per_sec: new.rate_limit_bytes_per_sec,
            add_tags: new.add_tags,
            backfill_from_ns: new.backfill_from_ns,
            max_batch_bytes: new.max_batch_bytes,
            created_at: t.clone(),
            updated_at: t,
            authorization_id: new.authorization_id,
        };
        self.check_replication(&rep)?;
        Ok(rep)
    }

    /// Creates a replication (see [`Catalog::prepare_replication`] for the checks).
    pub fn create_replication(&self, new: NewReplication) -> Result<Replication, CatalogError> {
        let rep = self.prepare_replication(new)?;
        self.write_replication(&rep, true)?;
        Ok(rep)
    }

    /// Replications of an org, by name, with InfluxDB's exact-match filters.
    pub fn list_replications(
        &self,
        org_id: &str,
        name: Option<&str>,
        remote_id: Option<&str>,
        local_bucket_id: Option<&str>,
    ) -> Result<Vec<Replication>, CatalogError> {
        let conn = self.conn();
        let sql = format!(
            "{} WHERE org_id = ?1 AND (?2 IS NULL OR name = ?2) AND (?3 IS NULL OR remote_id = ?3)
             AND (?4 IS NULL OR local_bucket_id = ?4) ORDER BY name",
            Self::REP_COLS
        );
        let mut st = conn.prepare_cached(&sql)?;
        let rows = st.query_map(
            params![org_id, name, remote_id, local_bucket_id],
            Self::replication_from_row,
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every replication of every org (to start the streams when the node starts).
    pub fn all_replications(&self) -> Result<Vec<Replication>, CatalogError> {
        let conn = self.conn();
        let sql = format!("{} ORDER BY org_id, name", Self::REP_COLS);
        let mut st = conn.prepare_cached(&sql)?;
        let rows = st.query_map([], Self::replication_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The replications that write to a remote.
    pub fn replications_of_remote(
        &self,
        remote_id: &str,
    ) -> Result<Vec<Replication>, CatalogError> {
        let conn = self.conn();
        let sql = format!("{} WHERE remote_id = ?1 ORDER BY name", Self::REP_COLS);
        let mut st = conn.prepare_cached(&sql)?;
        let rows = st.query_map([remote_id], Self::replication_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The replication with this ID.
    pub fn replication_by_id(&self, id: &str) -> Result<Replication, CatalogError> {
        let sql = format!("{} WHERE id = ?1", Self::REP_COLS);
        self.conn()
            .prepare_cached(&sql)?
            .query_row([id], Self::replication_from_row)
            .optional()?
            .ok_or_else(|| CatalogError::NotFound {
                kind: "replication",
                what: id.into(),
            })
    }

    /// The replication `update_replication` would store, checked but not stored (to validate
    /// it against the remote first).
    pub fn preview_replication_update(
        &self,
        id: &str,
        upd: ReplicationUpdate,
    ) -> Result<Replication, CatalogError> {
        let mut r = self.replication_by_id(id)?;
        if let Some(v) = upd.name {
            r.name = v;
        }
        if let Some(v) = upd.description {
            r.description = v;
        }
        if let Some(v) = upd.remote_id {
            r.remote_id = v;
        }
        let (bid, bname) = (
            non_empty(upd.remote_bucket_id),
            non_empty(upd.remote_bucket_name),
        );
        match (bid, bname) {
            (Some(i), Some(n)) => {
                r.remote_bucket_id = Some(i);
                r.remote_bucket_name = Some(n);
            }
            (Some(i), None) => {
                r.remote_bucket_id = Some(i);
                r.remote_bucket_name = None;
            }
            (None, Some(n)) => {
                r.remote_bucket_id = None;
                r.remote_bucket_name = Some(n);
            }
            (None, None) => {}
        }
        if let Some(v) = upd.max_queue_size_bytes {
            r.max_queue_size_bytes = v;
        }
        if let Some(v) = upd.drop_non_retryable_data {
            r.drop_non_retryable_data = v;
        }
        if let Some(v) = upd.max_age_seconds {
            r.max_age_seconds = v;
        }
        if let Some(v) = upd.paused {
            r.paused = v;
        }
        if let Some(v) = upd.measurements {
            r.measurements = v;
        }
        if let Some(v) = upd.rate_limit_bytes_per_sec {
            r.rate_limit_bytes_per_sec = v;
        }
        if let Some(v) = upd.add_tags {
            r.add_tags = v;
        }
        if let Some(v) = upd.max_batch_bytes {
            r.max_batch_bytes = v;
        }
        if let Some(v) = upd.authorization_id {
            r.authorization_id = v;
        }
        self.check_replication(&r)?;
        r.updated_at = now();
        Ok(r)
    }

    /// Changes a replication (checked as at creation).
    pub fn update_replication(
        &self,
        id: &str,
        upd: ReplicationUpdate,
    ) -> Result<Replication, CatalogError> {
        let r = self.preview_replication_update(id, upd)?;
        self.write_replication(&r, false)?;
        Ok(r)
    }

    /// Pauses or resumes a replication.
    pub fn set_replication_paused(
        &self,
        id: &str,
        paused: bool,
    ) -> Result<Replication, CatalogError> {
        let mut r = self.replication_by_id(id)?;
        r.paused = paused;
        r.updated_at = now();
        self.conn().execute(
            "UPDATE replications SET paused = ?2, updated_at = ?3 WHERE id = ?1",
            params![r.id, r.paused, r.updated_at],
        )?;
        Ok(r)
    }

    /// Deletes a replication (the caller stops its stream).
    pub fn delete_replication(&self, id: &str) -> Result<(), CatalogError> {
        let n = self
            .conn()
            .execute("DELETE FROM replications WHERE id = ?1", [id])?;
        if n == 0 {
            return Err(CatalogError::NotFound {
                kind: "replication",
                what: id.into(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
