//! Small SQL helpers every table's file uses.

/// Now, as the catalog stores times (RFC3339, whole seconds, UTC).
pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// True when `e` is a constraint violation (a duplicate name, for the callers).
pub(crate) fn unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation)
}
