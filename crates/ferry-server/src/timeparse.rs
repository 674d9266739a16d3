//! Time arguments: RFC3339 or integer nanoseconds.

use crate::error::ApiError;

/// Parses `2024-01-01T00:00:00Z` (any RFC3339) or an integer of nanoseconds since the epoch
/// with ferry-lp's one time parser; a refusal is a 400.
pub fn parse_time(s: &str) -> Result<i64, ApiError> {
    ferry_lp::parse_time(s).map_err(|e| ApiError::BadRequest(e.to_string()))
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
