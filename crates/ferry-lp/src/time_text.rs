//! The one parser of written times in Ferry's flags and API fields: RFC3339 (any offset, any
//! fraction of a second) or an integer of nanoseconds since the Unix epoch. The query languages
//! parse their own time literals as part of their grammar.

/// A time that is neither RFC3339 nor integer nanoseconds, or that falls outside the
/// nanosecond range (years 1677 to 2262).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid time {0:?}: use RFC3339 (2024-01-01T00:00:00Z) or integer nanoseconds")]
pub struct TimeError(pub String);

/// RFC3339 only (`2024-01-01T00:00:00Z`, `2024-01-01T01:00:00.5+01:00`), as nanoseconds.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .and_then(|t| t.timestamp_nanos_opt())
}

/// RFC3339 or an integer of nanoseconds since the epoch, as nanoseconds.
pub fn parse_time(s: &str) -> Result<i64, TimeError> {
    let t = s.trim();
    t.parse::<i64>()
        .ok()
        .or_else(|| parse_rfc3339(t))
        .ok_or_else(|| TimeError(s.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_and_refusals() {
        assert_eq!(
            parse_time("1700000000000000000"),
            Ok(1_700_000_000_000_000_000)
        );
        assert_eq!(
            parse_time("2023-11-14T22:13:20Z"),
            Ok(1_700_000_000_000_000_000)
        );
        assert_eq!(
            parse_time("2023-11-14T23:13:20.5+01:00"),
            Ok(1_700_000_000_500_000_000)
        );
        assert!(parse_time("yesterday").is_err());
        assert!(
            parse_time("3000-01-01T00:00:00Z").is_err(),
            "past 2262 does not fit"
        );
        assert_eq!(parse_rfc3339("1"), None, "integers are not RFC3339");
    }
}
