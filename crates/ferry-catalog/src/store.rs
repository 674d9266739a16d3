//! The SQLite-backed catalog.

use parking_lot::{Mutex, MutexGuard};
use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension, Row};
use sha2::{Digest, Sha256};

use crate::cache::OrgColumn;
use crate::ids::{generate_token, new_id};
use crate::model::*;
use crate::sealing::Sealer;
use crate::sql::{now, unique_violation};
use crate::CatalogError;

fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The catalog. Cheap to share behind an `Arc`; calls are serialised on one connection.
pub struct Catalog {
    conn: Mutex<Connection>,
    /// Token and `db`/`rp` lookups while the catalog is unchanged.
    cache: crate::cache::ReadCache,
    /// Seals remote credentials and secret values.
    pub(crate) sealer: Sealer,
}

impl Catalog {
    /// Opens (creating if needed) the catalog at `path`, its secrets sealed with the key in
    /// `key_file` (created when missing; see [`crate::sealing`]).
    pub fn open(path: &Path, key_file: &Path) -> Result<Catalog, CatalogError> {
        let sealer = Sealer::load_or_create(key_file)?;
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Every statement is prepared once (requests repeat a handful of lookups).
        conn.set_prepared_statement_cache_capacity(128);
        Self::with_schema(conn, sealer)
    }

    /// An in-memory catalog, for tests.
    pub fn open_in_memory() -> Result<Catalog, CatalogError> {
        Self::with_schema(Connection::open_in_memory()?, Sealer::ephemeral())
    }

    /// Creates the tables a new catalog lacks and brings an older one up to date.
    fn with_schema(mut conn: Connection, sealer: Sealer) -> Result<Catalog, CatalogError> {
        // Deleted or overwritten rows (a revoked token, a replaced secret, a clear value of
        // an older release once sealed) are zeroed in their pages, not left readable.
        conn.pragma_update(None, "secure_delete", "ON")?;
        crate::schema::create_and_migrate(&mut conn)?;
        let catalog = Catalog {
            conn: Mutex::new(conn),
            cache: Default::default(),
            sealer,
        };
        catalog.seal_clear_values()?;
        // The pages that held clear values may still be in the WAL (older releases never
        // checkpointed it): fold it into the database, whose copies were just zeroed or
        // overwritten, and empty it.
        catalog.checkpoint()?;
        Ok(catalog)
    }

    /// Moves the write-ahead log into the database file and truncates it, so the database
    /// file alone holds the catalog (a backup that copies it misses nothing) and old page
    /// images are gone from the WAL.
    pub fn checkpoint(&self) -> Result<(), CatalogError> {
        self.conn()
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock()
    }

    /// Rows changed through the connection since it was opened (the cache's validity).
    fn changes(&self) -> u64 {
        self.conn().total_changes()
    }

    /// Whether initial setup has happened (an org and operator token exist).
    pub fn is_set_up(&self) -> Result<bool, CatalogError> {
        let v: Option<String> = self
            .conn()
            .prepare_cached("SELECT value FROM meta WHERE key = 'setup'")?
            .query_row([], |r| r.get(0))
            .optional()?;
        Ok(v.is_some())
    }

    /// Creates the first org, bucket and an all-access operator token, once.
    /// Fails with `Conflict` when setup already happened.
    pub fn setup(
        &self,
        org: &str,
        bucket: &str,
        retention_seconds: i64,
        token: Option<String>,
    ) -> Result<SetupResult, CatalogError> {
        if self.is_set_up()? {
            return Err(CatalogError::Conflict {
                kind: "setup",
                name: "onboarding".into(),
            });
        }
        let org = self.create_org(org, "")?;
        let bucket = self.create_bucket(&org.id, bucket, "", retention_seconds)?;
        let auth = self.create_authorization(NewAuthorization {
            org_id: org.id.clone(),
            description: format!("{}'s Token", org.name),
            permissions: all_access(None),
            token,
        })?;
        self.create_dbrp(&org.id, &bucket.id, &bucket.name, "autogen", true)?;
        self.conn().execute(
            "INSERT INTO meta (key, value) VALUES ('setup', ?1)",
            [now()],
        )?;
        Ok(SetupResult { org, bucket, auth })
    }

    // ---- orgs ----

    /// Creates an org. Names are unique.
    pub fn create_org(&self, name: &str, description: &str) -> Result<Org, CatalogError> {
        if name.trim().is_empty() {
            return Err(CatalogError::Invalid("org name is empty".into()));
        }
        let t = now();
        let org = Org {
            id: new_id(),
            name: name.into(),
            description: description.into(),
            created_at: t.clone(),
            updated_at: t,
        };
        self.conn()
            .execute(
                "INSERT INTO orgs (id, name, description, created_at, updated_at) VALUES (?1,?2,?3,?4,?5)",
                params![org.id, org.name, org.description, org.created_at, org.updated_at],
            )
            .map_err(|e| {
                if unique_violation(&e) {
                    CatalogError::Conflict { kind: "organization", name: name.into() }
                } else {
                    e.into()
                }
            })?;
        Ok(org)
    }

    fn org_from_row(r: &Row) -> rusqlite::Result<Org> {
        Ok(Org {
            id: r.get(0)?,
            name: r.get(1)?,
            description: r.get(2)?,
            created_at: r.get(3)?,
            updated_at: r.get(4)?,
        })
    }

    /// All orgs, by name.
    pub fn list_orgs(&self) -> Result<Vec<Org>, CatalogError> {
        let conn = self.conn();
        let mut st = conn.prepare_cached(
            "SELECT id, name, description, created_at, updated_at FROM orgs ORDER BY name",
        )?;
        let rows = st.query_map([], Self::org_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The org with this ID.
    pub fn org_by_id(&self, id: &str) -> Result<Org, CatalogError> {
        self.org_where(OrgColumn::Id, id)
    }

    /// The org with this name.
    pub fn org_by_name(&self, name: &str) -> Result<Org, CatalogError> {
        self.org_where(OrgColumn::Name, name)
    }

    /// The org whose `column` is `value` (from the cache while the catalog is unchanged).
    fn org_where(&self, column: OrgColumn, value: &str) -> Result<Org, CatalogError> {
        let changes = self.changes();
        self.cache
            .org(changes, (column, value), || {
                let column = match column {
                    OrgColumn::Id => "id",
                    OrgColumn::Name => "name",
                };
                let sql = format!(
                    "SELECT id, name, description, created_at, updated_at FROM orgs \
                     WHERE {column} = ?1"
                );
                Ok(self
                    .conn()
                    .prepare_cached(&sql)?
                    .query_row([value], Self::org_from_row)
                    .optional()?)
            })?
            .ok_or_else(|| CatalogError::NotFound {
                kind: "organization",
                what: value.into(),
            })
    }

    /// Deletes an org and everything in it (buckets, tokens, mappings, remotes, replications).
    /// Returns the deleted buckets' IDs so the caller can remove their data (list the org's
    /// replications first to stop their streams).
    pub fn delete_org(&self, id: &str) -> Result<Vec<String>, CatalogError> {
        self.org_by_id(id)?;
        let buckets: Vec<String> = self
            .list_buckets(Some(id))?
            .into_iter()
            .map(|b| b.id)
            .collect();
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        crate::schema::delete_org_rows(&tx, id)?;
        tx.commit()?;
        Ok(buckets)
    }

    // ---- buckets ----

    /// Creates a bucket in an org. Names are unique within an org and may not start with `_`.
    pub fn create_bucket(
        &self,
        org_id: &str,
        name: &str,
        description: &str,
        retention_seconds: i64,
    ) -> Result<Bucket, CatalogError> {
        validate_bucket_name(name)?;
        if retention_seconds < 0 {
            return Err(CatalogError::Invalid(
                "retention must not be negative".into(),
            ));
        }
        self.org_by_id(org_id)?;
        let t = now();
        let b = Bucket {
            id: new_id(),
            org_id: org_id.into(),
            name: name.into(),
            description: description.into(),
            retention_seconds,
            created_at: t.clone(),
            updated_at: t,
        };
        self.conn()
            .execute(
                "INSERT INTO buckets (id, org_id, name, description, retention_seconds, created_at, updated_at)
                 VALUES (?1,?2,?3,?4,?5,?6,?7)",
                params![b.id, b.org_id, b.name, b.description, b.retention_seconds, b.created_at, b.updated_at],
            )
            .map_err(|e| {
                if unique_violation(&e) {
                    CatalogError::Conflict { kind: "bucket", name: name.into() }
                } else {
                    e.into()
                }
            })?;
        Ok(b)
    }

    fn bucket_from_row(r: &Row) -> rusqlite::Result<Bucket> {
        Ok(Bucket {
            id: r.get(0)?,
            org_id: r.get(1)?,
            name: r.get(2)?,
            description: r.get(3)?,
            retention_seconds: r.get(4)?,
            created_at: r.get(5)?,
            updated_at: r.get(6)?,
        })
    }

    const BUCKET_COLS: &'static str =
        "SELECT id, org_id, name, description, retention_seconds, created_at, updated_at FROM buckets";

    /// Buckets, of one org or all, by name.
    pub fn list_buckets(&self, org_id: Option<&str>) -> Result<Vec<Bucket>, CatalogError> {
        let conn = self.conn();
        let sql = format!(
            "{} WHERE (?1 IS NULL OR org_id = ?1) ORDER BY name",
            Self::BUCKET_COLS
        );
        let mut st = conn.prepare_cached(&sql)?;
        let rows = st.query_map([org_id], Self::bucket_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The bucket with this ID.
    pub fn bucket_by_id(&self, id: &str) -> Result<Bucket, CatalogError> {
        let changes = self.changes();
        self.cache
            .bucket_by_id(changes, id, || {
                let sql = format!("{} WHERE id = ?1", Self::BUCKET_COLS);
                Ok(self
                    .conn()
                    .prepare_cached(&sql)?
                    .query_row([id], Self::bucket_from_row)
                    .optional()?)
            })?
            .ok_or_else(|| CatalogError::NotFound {
                kind: "bucket",
                what: id.into(),
            })
    }

    /// The bucket with this name in this org.
    pub fn bucket_by_name(&self, org_id: &str, name: &str) -> Result<Bucket, CatalogError> {
        let changes = self.changes();
        self.cache
            .bucket_by_name(changes, (org_id, name), || {
                let sql = format!("{} WHERE org_id = ?1 AND name = ?2", Self::BUCKET_COLS);
                Ok(self
                    .conn()
                    .prepare_cached(&sql)?
                    .query_row([org_id, name], Self::bucket_from_row)
                    .optional()?)
            })?
            .ok_or_else(|| CatalogError::NotFound {
                kind: "bucket",
                what: format!("\"{name}\""),
            })
    }

    /// Changes a bucket's name, description or retention.
    pub fn update_bucket(&self, id: &str, upd: BucketUpdate) -> Result<Bucket, CatalogError> {
        let mut b = self.bucket_by_id(id)?;
        if let Some(name) = upd.name {
            validate_bucket_name(&name)?;
            b.name = name;
        }
        if let Some(d) = upd.description {
            b.description = d;
        }
        if let Some(r) = upd.retention_seconds {
            if r < 0 {
                return Err(CatalogError::Invalid(
                    "retention must not be negative".into(),
                ));
            }
            b.retention_seconds = r;
        }
        b.updated_at = now();
        self.conn()
            .execute(
                "UPDATE buckets SET name = ?2, description = ?3, retention_seconds = ?4, updated_at = ?5 WHERE id = ?1",
                params![b.id, b.name, b.description, b.retention_seconds, b.updated_at],
            )
            .map_err(|e| {
                if unique_violation(&e) {
                    CatalogError::Conflict { kind: "bucket", name: b.name.clone() }
                } else {
                    e.into()
                }
            })?;
        Ok(b)
    }

    /// Deletes a bucket, its DBRP mappings and its replications (as InfluxDB does).
    pub fn delete_bucket(&self, id: &str) -> Result<Bucket, CatalogError> {
        Ok(self.delete_bucket_and_replications(id)?.0)
    }

    /// Deletes a bucket, its DBRP mappings and its replications in one transaction; returns
    /// the bucket and the deleted replications' IDs, whose streams the caller must stop.
    pub fn delete_bucket_and_replications(
        &self,
        id: &str,
    ) -> Result<(Bucket, Vec<String>), CatalogError> {
        let b = self.bucket_by_id(id)?;
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let reps: Vec<String> = {
            let mut st =
                tx.prepare_cached("SELECT id FROM replications WHERE local_bucket_id = ?1")?;
            let rows = st.query_map([id], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        tx.execute("DELETE FROM replications WHERE local_bucket_id = ?1", [id])?;
        tx.execute("DELETE FROM dbrps WHERE bucket_id = ?1", [id])?;
        tx.execute("DELETE FROM buckets WHERE id = ?1", [id])?;
        tx.commit()?;
        Ok((b, reps))
    }

    // ---- authorizations ----

    /// Creates a token. The answer carries the clear token; only its hash is stored.
    pub fn create_authorization(
        &self,
        new: NewAuthorization,
    ) -> Result<Authorization, CatalogError> {
        if new.permissions.is_empty() {
            return Err(CatalogError::Invalid(
                "a token needs at least one permission".into(),
            ));
        }
        let token = new.token.unwrap_or_else(generate_token);
        if token.is_empty() {
            return Err(CatalogError::Invalid("token must not be empty".into()));
        }
        let auth = Authorization {
            id: new_id(),
            token: Some(token.clone()),
            description: new.description,
            org_id: new.org_id,
            status: "active".into(),
            permissions: new.permissions,
            created_at: now(),
        };
        let perms = serde_json::to_string(&auth.permissions).expect("permissions serialize");
        self.conn()
            .execute(
                "INSERT INTO authorizations (id, token_sha256, description, org_id, status, permissions, created_at)
                 VALUES (?1,?2,?3,?4,?5,?6,?7)",
                params![auth.id, hash_token(&token), auth.description, auth.org_id, auth.status, perms, auth.created_at],
            )
            .map_err(|e| {
                if unique_violation(&e) {
                    CatalogError::Conflict { kind: "authorization", name: "(that token)".into() }
                } else {
                    e.into()
                }
            })?;
        Ok(auth)
    }

    fn auth_from_row(r: &Row) -> rusqlite::Result<Authorization> {
        let perms: String = r.get(5)?;
        Ok(Authorization {
            id: r.get(0)?,
            token: None,
            description: r.get(2)?,
            org_id: r.get(3)?,
            status: r.get(4)?,
            permissions: serde_json::from_str(&perms).unwrap_or_default(),
            created_at: r.get(6)?,
        })
    }

    const AUTH_COLS: &'static str =
        "SELECT id, token_sha256, description, org_id, status, permissions, created_at FROM authorizations";

    /// The authorization a clear token belongs to, if any.
    pub fn authorize(&self, token: &str) -> Result<Option<Authorization>, CatalogError> {
        self.cache.authorization(self.changes(), token, || {
            let sql = format!("{} WHERE token_sha256 = ?1", Self::AUTH_COLS);
            Ok(self
                .conn()
                .prepare_cached(&sql)?
                .query_row([hash_token(token)], Self::auth_from_row)
                .optional()?)
        })
    }

    /// All tokens (never their clear text), optionally of one org.
    pub fn list_authorizations(
        &self,
        org_id: Option<&str>,
    ) -> Result<Vec<Authorization>, CatalogError> {
        let conn = self.conn();
        let sql = format!(
            "{} WHERE (?1 IS NULL OR org_id = ?1) ORDER BY created_at, id",
            Self::AUTH_COLS
        );
        let mut st = conn.prepare_cached(&sql)?;
        let rows = st.query_map([org_id], Self::auth_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The authorization with this ID.
    pub fn authorization_by_id(&self, id: &str) -> Result<Authorization, CatalogError> {
        let sql = format!("{} WHERE id = ?1", Self::AUTH_COLS);
        self.conn()
            .prepare_cached(&sql)?
            .query_row([id], Self::auth_from_row)
            .optional()?
            .ok_or_else(|| CatalogError::NotFound {
                kind: "authorization",
                what: id.into(),
            })
    }

    /// Sets a token `active` or `inactive`.
    pub fn set_authorization_status(
        &self,
        id: &str,
        status: &str,
    ) -> Result<Authorization, CatalogError> {
        if status != "active" && status != "inactive" {
            return Err(CatalogError::Invalid(format!(
                "status must be active or inactive, not {status:?}"
            )));
        }
        let n = self.conn().execute(
            "UPDATE authorizations SET status = ?2 WHERE id = ?1",
            [id, status],
        )?;
        if n == 0 {
            return Err(CatalogError::NotFound {
                kind: "authorization",
                what: id.into(),
            });
        }
        self.authorization_by_id(id)
    }

    /// Deletes a token.
    pub fn delete_authorization(&self, id: &str) -> Result<(), CatalogError> {
        let n = self
            .conn()
            .execute("DELETE FROM authorizations WHERE id = ?1", [id])?;
        if n == 0 {
            return Err(CatalogError::NotFound {
                kind: "authorization",
                what: id.into(),
            });
        }
        Ok(())
    }

    // ---- DBRP mappings ----

    /// Maps `database`/`retention_policy` to a bucket. When `default` is set, the database's
    /// other mappings stop being the default. The first mapping of a database is always default.
    pub fn create_dbrp(
        &self,
        org_id: &str,
        bucket_id: &str,
        database: &str,
        retention_policy: &str,
        default: bool,
    ) -> Result<Dbrp, CatalogError> {
        if database.is_empty() || retention_policy.is_empty() {
            return Err(CatalogError::Invalid(
                "database and retention policy are required".into(),
            ));
        }
        let bucket = self.bucket_by_id(bucket_id)?;
        if bucket.org_id != org_id {
            return Err(CatalogError::Invalid(format!(
                "bucket {bucket_id} is not in org {org_id}"
            )));
        }
        let first = self.list_dbrps(org_id, Some(database))?.is_empty();
        let d = Dbrp {
            id: new_id(),
            org_id: org_id.into(),
            bucket_id: bucket_id.into(),
            database: database.into(),
            retention_policy: retention_policy.into(),
            default: default || first,
        };
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        if d.default {
            tx.execute(
                "UPDATE dbrps SET is_default = 0 WHERE org_id = ?1 AND database = ?2",
                [org_id, database],
            )?;
        }
        tx.execute(
            "INSERT INTO dbrps (id, org_id, bucket_id, database, retention_policy, is_default) VALUES (?1,?2,?3,?4,?5,?6)",
            params![d.id, d.org_id, d.bucket_id, d.database, d.retention_policy, d.default],
        )
        .map_err(|e| {
            if unique_violation(&e) {
                CatalogError::Conflict { kind: "dbrp", name: format!("{database}/{retention_policy}") }
            } else {
                e.into()
            }
        })?;
        tx.commit()?;
        Ok(d)
    }

    fn dbrp_from_row(r: &Row) -> rusqlite::Result<Dbrp> {
        Ok(Dbrp {
            id: r.get(0)?,
            org_id: r.get(1)?,
            bucket_id: r.get(2)?,
            database: r.get(3)?,
            retention_policy: r.get(4)?,
            default: r.get(5)?,
        })
    }

    /// DBRP mappings of an org (all orgs when `org_id` is empty), optionally of one database.
    pub fn list_dbrps(
        &self,
        org_id: &str,
        database: Option<&str>,
    ) -> Result<Vec<Dbrp>, CatalogError> {
        let changes = self.changes();
        self.cache.dbrps(changes, (org_id, database), || {
            let conn = self.conn();
            let mut st = conn.prepare_cached(
                "SELECT id, org_id, bucket_id, database, retention_policy, is_default FROM dbrps
                 WHERE (?1 = '' OR org_id = ?1) AND (?2 IS NULL OR database = ?2) ORDER BY database, retention_policy",
            )?;
            let rows = st.query_map(params![org_id, database], Self::dbrp_from_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    /// The mapping with this ID.
    pub fn dbrp_by_id(&self, id: &str) -> Result<Dbrp, CatalogError> {
        self.conn()
            .prepare_cached("SELECT id, org_id, bucket_id, database, retention_policy, is_default FROM dbrps WHERE id = ?1")?
.query_row([id], Self::dbrp_from_row)
            .optional()?
            .ok_or_else(|| CatalogError::NotFound { kind: "dbrp", what: id.into() })
    }

    /// Changes a mapping's retention policy name or default flag.
    pub fn update_dbrp(
        &self,
        id: &str,
        retention_policy: Option<&str>,
        default: Option<bool>,
    ) -> Result<Dbrp, CatalogError> {
        let mut d = self.dbrp_by_id(id)?;
        if let Some(rp) = retention_policy {
            d.retention_policy = rp.into();
        }
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        if default == Some(true) {
            tx.execute(
                "UPDATE dbrps SET is_default = 0 WHERE org_id = ?1 AND database = ?2",
                [&d.org_id, &d.database],
            )?;
            d.default = true;
        } else if default == Some(false) {
            d.default = false;
        }
        tx.execute(
            "UPDATE dbrps SET retention_policy = ?2, is_default = ?3 WHERE id = ?1",
            params![d.id, d.retention_policy, d.default],
        )?;
        tx.commit()?;
        Ok(d)
    }

    /// Deletes a mapping.
    pub fn delete_dbrp(&self, id: &str) -> Result<(), CatalogError> {
        let n = self
            .conn()
            .execute("DELETE FROM dbrps WHERE id = ?1", [id])?;
        if n == 0 {
            return Err(CatalogError::NotFound {
                kind: "dbrp",
                what: id.into(),
            });
        }
        Ok(())
    }

    /// Resolves a 1.x `db`/`rp` pair to a bucket, as InfluxDB 2 does: an explicit DBRP mapping
    /// (the database's default one when `rp` is empty) wins; failing that, a bucket named
    /// `db/rp` or (with no or the `autogen` rp) named `db`. `org_id` empty searches every org.
    pub fn resolve_dbrp(
        &self,
        org_id: &str,
        db: &str,
        rp: &str,
    ) -> Result<Option<Bucket>, CatalogError> {
        let changes = self.changes();
        self.cache.dbrp(changes, (org_id, db, rp), || {
            self.resolve_dbrp_uncached(org_id, db, rp)
        })
    }

    fn resolve_dbrp_uncached(
        &self,
        org_id: &str,
        db: &str,
        rp: &str,
    ) -> Result<Option<Bucket>, CatalogError> {
        let maps = self.list_dbrps(org_id, Some(db))?;
        let hit = if rp.is_empty() {
            maps.iter().find(|m| m.default)
        } else {
            maps.iter().find(|m| m.retention_policy == rp)
        };
        if let Some(m) = hit {
            return Ok(Some(self.bucket_by_id(&m.bucket_id)?));
        }
        let buckets = self.list_buckets(if org_id.is_empty() {
            None
        } else {
            Some(org_id)
        })?;
        Ok(ferry_lp::dbrp_fallback_names(db, rp)
            .iter()
            .find_map(|name| buckets.iter().find(|b| &b.name == name).cloned()))
    }
}

/// Permissions of an all-access token, optionally restricted to one org.
pub fn all_access(org_id: Option<&str>) -> Vec<Permission> {
    ALL_RESOURCE_TYPES
        .iter()
        .flat_map(|t| {
            [Action::Read, Action::Write]
                .into_iter()
                .map(move |action| Permission {
                    action,
                    resource_type: (*t).to_string(),
                    org_id: org_id.map(str::to_string),
                    id: None,
                })
        })
        .collect()
}

fn validate_bucket_name(name: &str) -> Result<(), CatalogError> {
    if name.trim().is_empty() {
        return Err(CatalogError::Invalid("bucket name is empty".into()));
    }
    if name.starts_with('_') {
        return Err(CatalogError::Invalid(format!(
            "bucket name {name:?} is invalid: names starting with '_' are reserved"
        )));
    }
    if name.contains('"') || name.len() > 255 {
        return Err(CatalogError::Invalid(format!(
            "bucket name {name:?} is invalid: no '\"', at most 255 bytes"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
