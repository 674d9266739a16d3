//! The catalog's tables: the first release's schema, the migrations since, and which rows an
//! org owns. One place knows every table, so the files that read and write them (store.rs,
//! remotes.rs, tasks.rs) need not know each other.

use rusqlite::{Connection, Transaction};

use crate::CatalogError;

/// The first release's tables of orgs, buckets, tokens, DBRPs, remotes and replications.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orgs (
    id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, description TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS buckets (
    id TEXT PRIMARY KEY, org_id TEXT NOT NULL REFERENCES orgs(id), name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '', retention_seconds INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, UNIQUE (org_id, name));
CREATE TABLE IF NOT EXISTS authorizations (
    id TEXT PRIMARY KEY, token_sha256 TEXT NOT NULL UNIQUE, description TEXT NOT NULL DEFAULT '',
    org_id TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'active', permissions TEXT NOT NULL,
    created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS dbrps (
    id TEXT PRIMARY KEY, org_id TEXT NOT NULL, bucket_id TEXT NOT NULL REFERENCES buckets(id),
    database TEXT NOT NULL, retention_policy TEXT NOT NULL, is_default INTEGER NOT NULL,
    UNIQUE (org_id, database, retention_policy));
CREATE TABLE IF NOT EXISTS remotes (
    id TEXT PRIMARY KEY, org_id TEXT NOT NULL REFERENCES orgs(id), name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '', remote_url TEXT NOT NULL,
    remote_api_token TEXT NOT NULL DEFAULT '', remote_org_id TEXT,
    allow_insecure_tls INTEGER NOT NULL DEFAULT 0, kind TEXT NOT NULL DEFAULT 'v2',
    remote_username TEXT, remote_password TEXT, ca_cert_file TEXT,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, UNIQUE (org_id, name));
CREATE TABLE IF NOT EXISTS replications (
    id TEXT PRIMARY KEY, org_id TEXT NOT NULL REFERENCES orgs(id), name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '', remote_id TEXT NOT NULL REFERENCES remotes(id),
    local_bucket_id TEXT NOT NULL REFERENCES buckets(id), remote_bucket_id TEXT,
    remote_bucket_name TEXT, max_queue_size_bytes INTEGER NOT NULL,
    drop_non_retryable_data INTEGER NOT NULL DEFAULT 0, max_age_seconds INTEGER NOT NULL,
    paused INTEGER NOT NULL DEFAULT 0, measurements TEXT NOT NULL DEFAULT '[]',
    rate_limit_bytes_per_sec INTEGER, add_tags TEXT NOT NULL DEFAULT '[]',
    backfill_from_ns INTEGER, max_batch_bytes INTEGER NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, UNIQUE (org_id, name));
";

/// The first release's tables of tasks, their runs and the orgs' secrets.
const TASKS_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS tasks (
    id TEXT PRIMARY KEY, org_id TEXT NOT NULL REFERENCES orgs(id), name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '', status TEXT NOT NULL DEFAULT 'active',
    every TEXT, cron TEXT, offset_text TEXT NOT NULL DEFAULT '0s', kind TEXT NOT NULL,
    spec TEXT NOT NULL, latest_completed_ns INTEGER, last_run_status TEXT, last_run_error TEXT,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, UNIQUE (org_id, name));
CREATE TABLE IF NOT EXISTS task_runs (
    id TEXT PRIMARY KEY, task_id TEXT NOT NULL, status TEXT NOT NULL,
    scheduled_for_ns INTEGER NOT NULL, range_start_ns INTEGER, range_end_ns INTEGER,
    points INTEGER NOT NULL DEFAULT 0, error TEXT, log TEXT NOT NULL DEFAULT '[]',
    manual INTEGER NOT NULL DEFAULT 0, started_at TEXT NOT NULL, finished_at TEXT);
CREATE INDEX IF NOT EXISTS task_runs_by_task ON task_runs (task_id, started_at);
CREATE TABLE IF NOT EXISTS secrets (
    org_id TEXT NOT NULL REFERENCES orgs(id), key TEXT NOT NULL, value TEXT NOT NULL,
    updated_at TEXT NOT NULL, PRIMARY KEY (org_id, key));
";

/// Changes to the tables made after the first release, in order; `PRAGMA user_version` is
/// how many of them a catalog has had. A new catalog gets the first release's tables
/// ([`SCHEMA`] and [`TASKS_SCHEMA`]) and then every step, so both go the same way.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: tasks run with the authority of the token that made them
    "ALTER TABLE tasks ADD COLUMN authorization_id TEXT;",
    // 2: so do replications
    "ALTER TABLE replications ADD COLUMN authorization_id TEXT;",
];

/// Applies the [`MIGRATIONS`] the catalog has not had, each in one transaction with its
/// version; refuses a catalog written by a newer release.
fn migrate(conn: &mut Connection) -> Result<(), CatalogError> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(CatalogError::Invalid(format!(
            "the catalog is of schema version {version}, newer than this release knows ({known}): run a newer ferry"
        )));
    }
    for (i, step) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

/// Creates the tables a new catalog lacks and applies the migrations an older one has not had.
pub(crate) fn create_and_migrate(conn: &mut Connection) -> Result<(), CatalogError> {
    conn.execute_batch(SCHEMA)?;
    conn.execute_batch(TASKS_SCHEMA)?;
    migrate(conn)
}

/// Deletes every row an org owns, children before parents, inside the caller's transaction.
pub(crate) fn delete_org_rows(tx: &Transaction, org_id: &str) -> rusqlite::Result<()> {
    for statement in [
        "DELETE FROM dbrps WHERE org_id = ?1",
        "DELETE FROM task_runs WHERE task_id IN (SELECT id FROM tasks WHERE org_id = ?1)",
        "DELETE FROM tasks WHERE org_id = ?1",
        "DELETE FROM secrets WHERE org_id = ?1",
        "DELETE FROM replications WHERE org_id = ?1",
        "DELETE FROM remotes WHERE org_id = ?1",
        "DELETE FROM buckets WHERE org_id = ?1",
        "DELETE FROM authorizations WHERE org_id = ?1",
        "DELETE FROM orgs WHERE id = ?1",
    ] {
        tx.execute(statement, [org_id])?;
    }
    Ok(())
}
