//! Time arguments: RFC3339 or integer nanoseconds.

use crate::error::ApiError;

/// Parses `2024-01-01T00:00:00Z` (any RFC3339) or an integer of nanoseconds since the epoch.
pub fn parse_time(s: &str) -> Result<i64, ApiError> {
    if let Ok(ns) = s.parse::<i64>() {
        return Ok(ns);
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .and_then(|t| t.timestamp_nanos_opt())
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "invalid time {s:?}: use RFC3339 (2024-01-01T00:00:00Z) or integer nanoseconds"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms() {
        assert_eq!(
            parse_time("1700000000000000000").unwrap(),
            1_700_000_000_000_000_000
        );
        assert_eq!(
            parse_time("2023-11-14T22:13:20Z").unwrap(),
            1_700_000_000_000_000_000
        );
        assert!(parse_time("yesterday").is_err());
    }
}
