//! The one duration grammar of Ferry's flags and settings (`--retention 30d`, a task's
//! `every: 1h30m`, a sync's `--window 60m`): InfluxDB's duration literal, one or more
//! integer-and-unit pairs, or a bare `0`. Units: `ns`, `us`/`µs`, `ms`, `s`, `m`, `h`, `d`, `w`.
//! The query languages parse their own duration literals as part of their grammar.

/// Why a duration was refused. The message names the text and what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Nothing was given.
    #[error("empty duration: use e.g. 30s, 1m, 1h30m, 1d")]
    Empty,
    /// A unit with no number before it, or a character that is neither.
    #[error("invalid duration {text:?}: a number must come before {unit:?}")]
    MissingNumber {
        /// The whole text.
        text: String,
        /// What came where a number was expected.
        unit: String,
    },
    /// A number with no unit after it.
    #[error("invalid duration {text:?}: add a unit (ns, us, ms, s, m, h, d, w) after {number}")]
    MissingUnit {
        /// The whole text.
        text: String,
        /// The number left without a unit.
        number: String,
    },
    /// A unit Ferry does not know.
    #[error("invalid duration {text:?}: unknown unit {unit:?} (use ns, us, ms, s, m, h, d, w)")]
    UnknownUnit {
        /// The whole text.
        text: String,
        /// The unit.
        unit: String,
    },
    /// Longer than about 292 years (the nanoseconds do not fit in an i64).
    #[error("invalid duration {text:?}: too long")]
    TooLong {
        /// The whole text.
        text: String,
    },
}

const NS: i64 = 1_000_000_000;

/// Parses a duration (`500ms`, `5s`, `1h30m`, `2d`, `1w`, `0`) into nanoseconds.
pub fn parse_duration(s: &str) -> Result<i64, DurationError> {
    let t = s.trim();
    if t == "0" {
        return Ok(0);
    }
    if t.is_empty() {
        return Err(DurationError::Empty);
    }
    let text = || t.to_string();
    let mut total = 0i64;
    let mut rest = t;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let number = &rest[..digits];
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        if number.is_empty() {
            return Err(DurationError::MissingNumber {
                text: text(),
                unit: unit.to_string(),
            });
        }
        if unit.is_empty() {
            return Err(DurationError::MissingUnit {
                text: text(),
                number: number.to_string(),
            });
        }
        let size = match unit {
            "ns" => 1,
            "us" | "µs" => 1_000,
            "ms" => 1_000_000,
            "s" => NS,
            "m" => 60 * NS,
            "h" => 3600 * NS,
            "d" => 86_400 * NS,
            "w" => 7 * 86_400 * NS,
            _ => {
                return Err(DurationError::UnknownUnit {
                    text: text(),
                    unit: unit.to_string(),
                })
            }
        };
        total = number
            .parse::<i64>()
            .ok()
            .and_then(|n| n.checked_mul(size))
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| DurationError::TooLong { text: text() })?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_unit_and_sequences() {
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(parse_duration("500ms"), Ok(500_000_000));
        assert_eq!(parse_duration("1h30m"), Ok(5_400 * NS));
        assert_eq!(parse_duration(" 2d "), Ok(2 * 86_400 * NS));
        assert_eq!(parse_duration("1w"), Ok(604_800 * NS));
        assert_eq!(parse_duration("3us"), parse_duration("3µs"));
        assert_eq!(parse_duration("7ns"), Ok(7));
    }

    #[test]
    fn refuses_with_a_reason() {
        assert_eq!(parse_duration(""), Err(DurationError::Empty));
        assert!(matches!(
            parse_duration("10"),
            Err(DurationError::MissingUnit { .. })
        ));
        assert!(matches!(
            parse_duration("h"),
            Err(DurationError::MissingNumber { .. })
        ));
        assert!(matches!(
            parse_duration("1.5h"),
            Err(DurationError::UnknownUnit { .. })
        ));
        assert!(matches!(
            parse_duration("-1h"),
            Err(DurationError::MissingNumber { .. })
        ));
        assert!(matches!(
            parse_duration("5y"),
            Err(DurationError::UnknownUnit { .. })
        ));
        assert!(matches!(
            parse_duration("999999999w"),
            Err(DurationError::TooLong { .. })
        ));
        assert!(parse_duration("10")
            .unwrap_err()
            .to_string()
            .contains("add a unit"));
    }
}
