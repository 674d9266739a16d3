//! RFC 3339 date-time literals: validation, libflux's canonical text, and epoch nanoseconds.
//!
//! libflux stores a date-time literal as a `chrono::DateTime<FixedOffset>` and prints it with
//! `to_rfc3339()`: `Z` becomes `+00:00`, a date alone becomes midnight UTC, and the fraction is
//! printed with 0, 3, 6 or 9 digits (the fewest that are exact). [`canonical`] reproduces that.

/// A parsed date-time with its UTC offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime {
    /// Year (0–9999).
    pub year: i32,
    /// Month 1–12.
    pub month: u32,
    /// Day of month, 1-based.
    pub day: u32,
    /// Hour 0–23.
    pub hour: u32,
    /// Minute 0–59.
    pub minute: u32,
    /// Second 0–60 (60 is a leap second).
    pub second: u32,
    /// Nanoseconds 0–999 999 999.
    pub nanos: u32,
    /// Offset east of UTC in seconds.
    pub offset_seconds: i32,
}

fn digits(s: &[u8], n: usize) -> Option<(u32, &[u8])> {
    if s.len() < n || !s[..n].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v = s[..n]
        .iter()
        .fold(0u32, |a, b| a * 10 + u32::from(b - b'0'));
    Some((v, &s[n..]))
}

fn byte(s: &[u8], b: u8) -> Option<&[u8]> {
    s.first().filter(|&&c| c == b).map(|_| &s[1..])
}

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// Days in `month` of `year`.
pub fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Parses a Flux date-time literal: `YYYY-MM-DD` or `YYYY-MM-DDThh:mm:ss[.frac](Z|±hh:mm)`.
/// Fraction digits past the ninth are ignored. Returns `None` when malformed or out of range.
pub fn parse(text: &str) -> Option<DateTime> {
    let s = text.as_bytes();
    let (year, s) = digits(s, 4)?;
    let s = byte(s, b'-')?;
    let (month, s) = digits(s, 2)?;
    let s = byte(s, b'-')?;
    let (day, s) = digits(s, 2)?;
    let year = i32::try_from(year).ok()?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let mut dt = DateTime {
        year,
        month,
        day,
        hour: 0,
        minute: 0,
        second: 0,
        nanos: 0,
        offset_seconds: 0,
    };
    if s.is_empty() {
        return Some(dt);
    }
    let s = byte(s, b'T').or_else(|| byte(s, b't'))?;
    let (hour, s) = digits(s, 2)?;
    let s = byte(s, b':')?;
    let (minute, s) = digits(s, 2)?;
    let s = byte(s, b':')?;
    let (second, mut s) = digits(s, 2)?;
    // Like chrono, a leap second (:60) is accepted in any minute.
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut nanos = 0u32;
    if let Some(rest) = byte(s, b'.') {
        let n = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        for (i, b) in rest[..n].iter().enumerate().take(9) {
            nanos += u32::from(b - b'0') * 10u32.pow(8 - i as u32);
        }
        s = &rest[n..];
    }
    let offset = match s.first()? {
        b'Z' | b'z' => {
            s = &s[1..];
            0
        }
        sign @ (b'+' | b'-') => {
            let (oh, r) = digits(&s[1..], 2)?;
            let r = byte(r, b':')?;
            let (om, r) = digits(r, 2)?;
            if oh > 23 || om > 59 {
                return None;
            }
            s = r;
            let v = i32::try_from(oh * 3600 + om * 60).ok()?;
            if *sign == b'-' {
                -v
            } else {
                v
            }
        }
        _ => return None,
    };
    if !s.is_empty() {
        return None;
    }
    dt.hour = hour;
    dt.minute = minute;
    dt.second = second;
    dt.nanos = nanos;
    dt.offset_seconds = offset;
    Some(dt)
}

/// The text libflux prints for a date-time (chrono's `to_rfc3339`).
pub fn canonical(dt: &DateTime) -> String {
    let mut out = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second
    );
    if dt.nanos != 0 {
        if dt.nanos.is_multiple_of(1_000_000) {
            out.push_str(&format!(".{:03}", dt.nanos / 1_000_000));
        } else if dt.nanos.is_multiple_of(1_000) {
            out.push_str(&format!(".{:06}", dt.nanos / 1_000));
        } else {
            out.push_str(&format!(".{:09}", dt.nanos));
        }
    }
    let sign = if dt.offset_seconds < 0 { '-' } else { '+' };
    let off = dt.offset_seconds.unsigned_abs();
    out.push_str(&format!("{sign}{:02}:{:02}", off / 3600, off % 3600 / 60));
    out
}

/// The proleptic Gregorian date of a day count since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(year: i32, month: u32, day: u32) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Nanoseconds since the Unix epoch, or `None` outside the `i64` range (years ~1677–2262).
pub fn epoch_nanos(dt: &DateTime) -> Option<i64> {
    let days = days_from_civil(dt.year, dt.month, dt.day);
    let secs = days * 86_400
        + i64::from(dt.hour) * 3600
        + i64::from(dt.minute) * 60
        + i64::from(dt.second)
        - i64::from(dt.offset_seconds);
    secs.checked_mul(1_000_000_000)?
        .checked_add(i64::from(dt.nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms_match_libflux() {
        let c = |s: &str| canonical(&parse(s).unwrap());
        assert_eq!(c("2021-01-01"), "2021-01-01T00:00:00+00:00");
        assert_eq!(c("2021-01-01T00:00:00Z"), "2021-01-01T00:00:00+00:00");
        assert_eq!(
            c("2021-01-01T00:00:00.1234Z"),
            "2021-01-01T00:00:00.123400+00:00"
        );
        assert_eq!(
            c("2021-01-01T00:00:00.123-07:00"),
            "2021-01-01T00:00:00.123-07:00"
        );
        assert_eq!(
            c("2021-01-01T00:00:00.1234567891Z"),
            "2021-01-01T00:00:00.123456789+00:00"
        );
    }

    #[test]
    fn rejects_invalid() {
        for s in [
            "2021-13-01",
            "2021-02-29",
            "2021-01-01T25:00:00Z",
            "2021-01-01T00:00:00",
            "2021-01-01T00:00:00+24:00",
            "2021-01-01T00:00:61Z",
        ] {
            assert!(parse(s).is_none(), "{s}");
        }
        assert!(parse("2024-02-29").is_some());
    }

    #[test]
    fn epoch() {
        let e = |s: &str| epoch_nanos(&parse(s).unwrap()).unwrap();
        assert_eq!(e("1970-01-01T00:00:00Z"), 0);
        assert_eq!(e("2021-01-01T00:00:00Z"), 1_609_459_200_000_000_000);
        assert_eq!(e("2021-01-01T07:00:00+07:00"), 1_609_459_200_000_000_000);
        assert_eq!(e("1969-12-31T23:59:59.5Z"), -500_000_000);
    }
}
