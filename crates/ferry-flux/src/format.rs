//! Values as Flux writes them in text: floats as Go's `strconv.FormatFloat(x, 'f', -1, 64)`
//! and times as Go's `time.RFC3339Nano`, for `string()`, `Display` and the annotated CSV.

use crate::datetime::civil_from_days;

/// Formats a float like Go's `strconv.FormatFloat(x, 'f', -1, 64)`, which Flux's `string()`
/// uses: the shortest decimal that round-trips, never in exponent form.
pub fn format_float(x: f64) -> String {
    let mut out = String::new();
    write_float(&mut out, x);
    out
}

/// [`format_float`] appended to `out`: the shortest digits that read back as `x`, the
/// closest to it, a tie to the even digit (Ryū, as Go's `strconv` computes them; Rust's
/// `Display` rounds such a tie up: `1690060720831323.25` is `…323.2` in Go and
/// `…323.3` in Rust), written without an exponent as Go's `'f'` format does.
pub fn write_float(out: &mut String, x: f64) {
    if x.is_nan() {
        return out.push_str("NaN");
    }
    if x.is_infinite() {
        return out.push_str(if x > 0.0 { "+Inf" } else { "-Inf" });
    }
    let mut buf = ryu::Buffer::new();
    let s = buf.format_finite(x);
    let Some((mantissa, exp)) = s.split_once('e') else {
        return out.push_str(s.strip_suffix(".0").unwrap_or(s));
    };
    let exp: i64 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = [int, frac].concat();
    // where the decimal point goes among the digits
    let point = int.len() as i64 + exp;
    let zeros = |out: &mut String, n: i64| out.extend(std::iter::repeat_n('0', n.max(0) as usize));
    out.push_str(sign);
    if point <= 0 {
        out.push_str("0.");
        zeros(out, -point);
        out.push_str(&digits);
    } else if point as usize >= digits.len() {
        out.push_str(&digits);
        zeros(out, point - digits.len() as i64);
    } else {
        out.push_str(&digits[..point as usize]);
        out.push('.');
        out.push_str(&digits[point as usize..]);
    }
}

/// Formats epoch nanoseconds as RFC 3339 in UTC with the fewest fraction digits needed
/// (Go's `time.RFC3339Nano`), e.g. `2021-01-01T00:00:00.5Z`.
pub fn format_time(ns: i64) -> String {
    let mut out = String::with_capacity(30);
    write_time(&mut out, ns);
    out
}

/// [`format_time`] appended to `out`, digit by digit: the annotated CSV writes three times per
/// row, and `format!` was a quarter of a small query's CPU.
pub fn write_time(out: &mut String, ns: i64) {
    let secs = ns.div_euclid(1_000_000_000);
    let frac = ns.rem_euclid(1_000_000_000) as u32;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400) as u32;
    let (y, m, d) = civil_from_days(days);
    let mut buf = Digits::default();
    if (0..=9999).contains(&y) {
        buf.number(y as u32, 4);
    } else {
        out.push_str(&format!("{y:04}"));
    }
    for (sep, v) in [
        (b'-', m),
        (b'-', d),
        (b'T', sod / 3600),
        (b':', sod % 3600 / 60),
        (b':', sod % 60),
    ] {
        buf.byte(sep);
        buf.number(v, 2);
    }
    if frac != 0 {
        buf.byte(b'.');
        let mut digits = 9;
        let mut f = frac;
        while f.is_multiple_of(10) {
            f /= 10;
            digits -= 1;
        }
        buf.number(f, digits);
    }
    buf.byte(b'Z');
    out.push_str(buf.as_str());
}

/// A few ASCII bytes written one at a time, pushed to a string at once.
#[derive(Default)]
struct Digits {
    buf: [u8; 32],
    len: usize,
}

impl Digits {
    fn byte(&mut self, b: u8) {
        self.buf[self.len] = b;
        self.len += 1;
    }

    /// `v`'s last `width` decimal digits, zero-padded.
    fn number(&mut self, v: u32, width: u32) {
        for p in (0..width).rev() {
            self.byte(b'0' + (v / 10u32.pow(p) % 10) as u8);
        }
    }

    fn as_str(&self) -> &str {
        // only ASCII digits and separators are written
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_format_rfc3339nano() {
        assert_eq!(format_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            format_time(1_609_459_200_500_000_000),
            "2021-01-01T00:00:00.5Z"
        );
        assert_eq!(format_time(-1), "1969-12-31T23:59:59.999999999Z");
        assert_eq!(format_time(1_000_000), "1970-01-01T00:00:00.001Z");
        assert_eq!(
            format_time(1_700_000_123_000_000_001),
            "2023-11-14T22:15:23.000000001Z"
        );
        assert_eq!(
            format_time(1_704_067_200_120_000_000),
            "2024-01-01T00:00:00.12Z"
        );
        assert_eq!(format_time(i64::MIN), "1677-09-21T00:12:43.145224192Z");
        assert_eq!(format_time(i64::MAX), "2262-04-11T23:47:16.854775807Z");
    }

    #[test]
    fn floats_format_like_go() {
        assert_eq!(format_float(1.0), "1");
        assert_eq!(format_float(0.1), "0.1");
        assert_eq!(format_float(1e21), "1000000000000000000000");
        assert_eq!(format_float(-1.5e-7), "-0.00000015");
        assert_eq!(format_float(f64::NAN), "NaN");
        assert_eq!(format_float(f64::NEG_INFINITY), "-Inf");
        // exactly 1690060720831323.25: a tie between …3.2 and …3.3
        assert_eq!(format_float(1_690_060_720_831_323.2), "1690060720831323.2");
        assert_eq!(format_float(-0.0), "-0");
        assert_eq!(format_float(5e-324), format!("0.{}5", "0".repeat(323)));
        assert_eq!(
            format_float(1.7976931348623157e308),
            format!("17976931348623157{}", "0".repeat(292))
        );
    }

    /// Away from ties, the digits are `Display`'s: every magnitude and sign, read back.
    #[test]
    fn floats_read_back_and_match_display_but_for_ties() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut differ = 0;
        for i in 0..20_000 {
            // xorshift over bit patterns: every exponent, subnormals included
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let f = if i % 2 == 0 {
                f64::from_bits(x)
            } else {
                (x % 1_000_000) as f64 / 1000.0
            };
            if !f.is_finite() {
                continue;
            }
            let ours = format_float(f);
            assert_eq!(
                ours.parse::<f64>().map(f64::to_bits),
                Ok(f.to_bits()),
                "{f:e}"
            );
            let std = format!("{f}");
            if ours != std {
                // the same length, one last digit apart: a tie
                assert_eq!(ours.len(), std.len(), "{f:e}");
                differ += 1;
            }
        }
        assert!(differ < 100, "{differ}");
    }
}
