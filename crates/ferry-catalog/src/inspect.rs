//! `ferry check` for the catalog: read-only, so checking a data dir never migrates it.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use crate::CatalogError;

/// What [`inspect`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogInspection {
    /// `PRAGMA user_version`: migrations applied.
    pub schema_version: i64,
    /// Migrations this release knows.
    pub known_version: i64,
    /// What `PRAGMA integrity_check` reported; `["ok"]` when sound.
    pub integrity: Vec<String>,
    /// Buckets: `(id, name)`.
    pub buckets: Vec<(String, String)>,
    /// Replications: `(id, local bucket id)`.
    pub replications: Vec<(String, String)>,
}

/// Opens the catalog at `path` read-only and reports on it.
pub fn inspect(path: &Path) -> Result<CatalogInspection, CatalogError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let schema_version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let mut integrity = Vec::new();
    conn.pragma_query(None, "integrity_check", |r| {
        integrity.push(r.get::<_, String>(0)?);
        Ok(())
    })?;
    let pairs = |sql: &str| -> Result<Vec<(String, String)>, CatalogError> {
        let mut st = conn.prepare(sql)?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    };
    Ok(CatalogInspection {
        schema_version,
        known_version: crate::schema::MIGRATIONS.len() as i64,
        integrity,
        buckets: pairs("SELECT id, name FROM buckets ORDER BY name")?,
        replications: pairs("SELECT id, local_bucket_id FROM replications ORDER BY id")?,
    })
}
