//! Field values and timestamps: strict, Go-compatible number and boolean parsing.

use crate::error::LineErrorKind;
use crate::types::FieldValue;

/// Parses an unquoted field value (`1.5`, `-3i`, `7u`, `true`, ...). `tok` is non-empty.
#[inline]
pub(crate) fn parse_unquoted(tok: &str) -> Result<FieldValue, LineErrorKind> {
    let b = tok.as_bytes();
    match b[0] {
        b't' | b'T' | b'f' | b'F' => return parse_bool(tok),
        _ => {}
    }
    match b[b.len() - 1] {
        b'i' => parse_i64(&b[..b.len() - 1])
            .map(FieldValue::Integer)
            .map_err(|e| e.with(tok)),
        b'u' => parse_u64(&b[..b.len() - 1])
            .map(FieldValue::UInteger)
            .map_err(|e| e.with(tok)),
        _ => parse_float(tok).map(FieldValue::Float),
    }
}

fn parse_bool(tok: &str) -> Result<FieldValue, LineErrorKind> {
    match tok {
        "t" | "T" | "true" | "True" | "TRUE" => Ok(FieldValue::Boolean(true)),
        "f" | "F" | "false" | "False" | "FALSE" => Ok(FieldValue::Boolean(false)),
        _ => Err(LineErrorKind::InvalidBoolean(tok.to_owned())),
    }
}

/// Why a decimal integer did not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IntError {
    /// Not `-?[0-9]+`.
    Invalid,
    /// Out of range for the type.
    Overflow,
}

impl IntError {
    fn with(self, tok: &str) -> LineErrorKind {
        match self {
            IntError::Invalid => LineErrorKind::InvalidNumber(tok.to_owned()),
            IntError::Overflow => LineErrorKind::NumberOutOfRange(tok.to_owned()),
        }
    }
}

/// Parses `-?[0-9]+` into an `i64`.
#[inline]
pub(crate) fn parse_i64(b: &[u8]) -> Result<i64, IntError> {
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() {
        return Err(IntError::Invalid);
    }
    let mut v: i64 = 0;
    let mut overflow = false;
    for &c in digits {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return Err(IntError::Invalid);
        }
        let next = if neg {
            v.checked_mul(10).and_then(|v| v.checked_sub(d as i64))
        } else {
            v.checked_mul(10).and_then(|v| v.checked_add(d as i64))
        };
        match next {
            Some(n) => v = n,
            None => overflow = true, // keep scanning: a bad digit later is "invalid"
        }
    }
    if overflow {
        Err(IntError::Overflow)
    } else {
        Ok(v)
    }
}

/// Parses `[0-9]+` into a `u64`.
#[inline]
pub(crate) fn parse_u64(b: &[u8]) -> Result<u64, IntError> {
    if b.is_empty() {
        return Err(IntError::Invalid);
    }
    let mut v: u64 = 0;
    let mut overflow = false;
    for &c in b {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return Err(IntError::Invalid);
        }
        match v.checked_mul(10).and_then(|v| v.checked_add(d as u64)) {
            Some(n) => v = n,
            None => overflow = true,
        }
    }
    if overflow {
        Err(IntError::Overflow)
    } else {
        Ok(v)
    }
}

/// Parses a float as Go's line protocol accepts it: `-?[0-9]*(\.[0-9]*)?([eE][+-]?[0-9]+)?`
/// with at least one mantissa digit. No `+` sign, no `NaN`/`inf`, and the value must be finite.
#[inline]
pub(crate) fn parse_float(tok: &str) -> Result<f64, LineErrorKind> {
    let b = tok.as_bytes();
    let n = b.len();
    let mut i = 0;
    let neg = i < n && b[i] == b'-';
    if neg {
        i += 1;
    }
    // Mantissa digits are also accumulated for the exact fast path below.
    let mut mantissa: u64 = 0;
    let mut digits = 0usize;
    while i < n && b[i].is_ascii_digit() {
        mantissa = mantissa.wrapping_mul(10).wrapping_add((b[i] - b'0') as u64);
        digits += 1;
        i += 1;
    }
    let mut frac_digits = 0usize;
    if i < n && b[i] == b'.' {
        i += 1;
        while i < n && b[i].is_ascii_digit() {
            mantissa = mantissa.wrapping_mul(10).wrapping_add((b[i] - b'0') as u64);
            frac_digits += 1;
            i += 1;
        }
    }
    digits += frac_digits;
    if digits == 0 {
        return Err(LineErrorKind::InvalidNumber(tok.to_owned()));
    }
    let mut exponent = false;
    if i < n && (b[i] == b'e' || b[i] == b'E') {
        exponent = true;
        i += 1;
        if i < n && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let exp_start = i;
        while i < n && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == exp_start {
            return Err(LineErrorKind::InvalidNumber(tok.to_owned()));
        }
    }
    if i != n {
        return Err(LineErrorKind::InvalidNumber(tok.to_owned()));
    }
    // Clinger's fast path: an integer below 2^53 and a power of ten up to 1e22 are both exact
    // in f64, so one IEEE division gives the correctly rounded result.
    if !exponent && digits <= 15 {
        let v = mantissa as f64 / POW10[frac_digits];
        return Ok(if neg { -v } else { v });
    }
    match tok.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err(LineErrorKind::NumberOutOfRange(tok.to_owned())),
        Err(_) => Err(LineErrorKind::InvalidNumber(tok.to_owned())),
    }
}

/// Exact powers of ten representable in f64 (1e0 ..= 1e15 is all the fast path needs).
const POW10: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

#[cfg(test)]
mod tests {
    use super::*;
    use FieldValue::*;

    fn ok(s: &str) -> FieldValue {
        parse_unquoted(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn floats() {
        assert_eq!(ok("1"), Float(1.0));
        assert_eq!(ok("-1.5"), Float(-1.5));
        assert_eq!(ok("1e10"), Float(1e10));
        assert_eq!(ok("1.5E-3"), Float(1.5e-3));
        assert_eq!(ok("2e+3"), Float(2000.0));
        assert_eq!(ok(".5"), Float(0.5));
        assert_eq!(ok("5."), Float(5.0));
        assert_eq!(ok("007"), Float(7.0));
        assert_eq!(ok("1e21"), Float(1e21));
        assert_eq!(ok("-0.0"), Float(-0.0));
        for bad in [
            "+1", "nan", "NaN", "inf", "-inf", "Infinity", "1.2.3", "1e", "1e+", "-", ".", "e5",
            "1x", "0x10", "1_000", "--1", "1e5.5",
        ] {
            assert!(
                matches!(
                    parse_unquoted(bad),
                    Err(LineErrorKind::InvalidNumber(_)) | Err(LineErrorKind::InvalidBoolean(_))
                ),
                "{bad} should be invalid: {:?}",
                parse_unquoted(bad)
            );
        }
        assert_eq!(
            parse_unquoted("1e400"),
            Err(LineErrorKind::NumberOutOfRange("1e400".into()))
        );
    }

    #[test]
    fn fast_path_matches_std() {
        let mut x: u64 = 0x1234_5678_9abc_def1;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let digits = (x % 15) as usize + 1;
            let m = x % 10u64.pow(digits as u32);
            let frac = ((x >> 40) as usize) % (digits + 1);
            let mut t = format!("{m:0width$}", width = digits);
            t.insert(t.len() - frac, '.');
            if x & (1 << 63) != 0 {
                t.insert(0, '-');
            }
            let want: f64 = t.parse().unwrap();
            let got = parse_float(&t).unwrap();
            assert_eq!(got.to_bits(), want.to_bits(), "{t}");
        }
        assert_eq!(parse_float("-0.0").unwrap().to_bits(), (-0.0f64).to_bits());
        assert_eq!(parse_float("0.1").unwrap(), 0.1);
        assert_eq!(parse_float("123456789012345.6").unwrap(), 123456789012345.6);
        assert_eq!(parse_float("9007199254740993").unwrap(), 9007199254740993.0);
    }

    #[test]
    fn integers() {
        assert_eq!(ok("123i"), Integer(123));
        assert_eq!(ok("-123i"), Integer(-123));
        assert_eq!(ok("0i"), Integer(0));
        assert_eq!(ok("9223372036854775807i"), Integer(i64::MAX));
        assert_eq!(ok("-9223372036854775808i"), Integer(i64::MIN));
        assert_eq!(
            parse_unquoted("9223372036854775808i"),
            Err(LineErrorKind::NumberOutOfRange(
                "9223372036854775808i".into()
            ))
        );
        assert_eq!(
            parse_unquoted("-9223372036854775809i"),
            Err(LineErrorKind::NumberOutOfRange(
                "-9223372036854775809i".into()
            ))
        );
        for bad in [
            "i",
            "-i",
            "1.5i",
            "1e3i",
            "+1i",
            "1 i",
            "12ai",
            "99999999999999999999xi",
        ] {
            assert_eq!(
                parse_unquoted(bad),
                Err(LineErrorKind::InvalidNumber(bad.into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn unsigned() {
        assert_eq!(ok("123u"), UInteger(123));
        assert_eq!(ok("18446744073709551615u"), UInteger(u64::MAX));
        assert_eq!(
            parse_unquoted("18446744073709551616u"),
            Err(LineErrorKind::NumberOutOfRange(
                "18446744073709551616u".into()
            ))
        );
        for bad in ["u", "-1u", "1.0u", "+1u"] {
            assert_eq!(
                parse_unquoted(bad),
                Err(LineErrorKind::InvalidNumber(bad.into()))
            );
        }
    }

    #[test]
    fn booleans() {
        for t in ["t", "T", "true", "True", "TRUE"] {
            assert_eq!(ok(t), Boolean(true));
        }
        for f in ["f", "F", "false", "False", "FALSE"] {
            assert_eq!(ok(f), Boolean(false));
        }
        for bad in ["tru", "tRUE", "yes", "falsey", "Fals"] {
            let r = parse_unquoted(bad);
            assert!(
                matches!(
                    r,
                    Err(LineErrorKind::InvalidBoolean(_)) | Err(LineErrorKind::InvalidNumber(_))
                ),
                "{bad}: {r:?}"
            );
        }
        assert_eq!(
            parse_unquoted("tru"),
            Err(LineErrorKind::InvalidBoolean("tru".into()))
        );
    }
}
