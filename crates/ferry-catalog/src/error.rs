//! Catalog errors.

/// What can go wrong in the catalog. Each variant maps to one HTTP status in the server.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The named thing does not exist (HTTP 404).
    #[error("{kind} not found: {what}")]
    NotFound {
        /// "organization", "bucket", "authorization", "dbrp"
        kind: &'static str,
        /// the name or id that was looked up
        what: String,
    },
    /// A thing with that name already exists (HTTP 409 / 422 as InfluxDB answers).
    #[error("{kind} with name {name} already exists")]
    Conflict {
        /// what kind of thing
        kind: &'static str,
        /// the name in use
        name: String,
    },
    /// The thing is still used by others and was not deleted (HTTP 409), e.g. a remote that
    /// replications write to. The message names the users.
    #[error("{0}")]
    InUse(String),
    /// The request is malformed (HTTP 400).
    #[error("{0}")]
    Invalid(String),
    /// The SQLite file could not be read or written (HTTP 500).
    #[error("catalog storage error: {0}")]
    Sqlite(#[from] rusqlite::Error),
}
