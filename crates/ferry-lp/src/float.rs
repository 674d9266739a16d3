//! Shortest round-trip formatting of floats, byte for byte what `ryu` writes, with a fast
//! path for the values metrics are made of: decimals with at most six fractional digits.
//!
//! Why: formatting floats was the largest single cost of `ferry sync` and `ferry export`
//! (ryu's digit search was ~30% of the sync's samples under `perf`). Most field values were
//! parsed from short decimals (`12.345`), and for those the digits can be had with one
//! multiplication, one division and an integer print.
//!
//! The fast path: for `1e-5 <= |v| < 2^32`, let `m = round(v * 10^6)`. If `m / 10^6 == v`
//! (IEEE division: `m` and `10^6` are exact, so the quotient is the double nearest the
//! rational `m / 10^6`, which is what a correct parser returns for that decimal), the decimal
//! `m × 10^-6` reads back as `v`. Below `2^32` a double's rounding interval is narrower than
//! `10^-6`, so it holds at most one multiple of `10^-6`: this `m`, trailing zeros dropped, is
//! the shortest decimal of `v`, the one ryu finds (no shorter one can have more fractional
//! digits). From `1e-5` up, ryu writes it in plain notation too (`0.00001`, `12.5`, `3.0`).
//! Any other value goes to ryu.

/// Largest magnitude the fast path takes: below it, a double's spacing is under `10^-6`.
const FAST_MAX: f64 = 4_294_967_296.0; // 2^32
/// Smallest magnitude ryu still writes in plain notation (`0.00001`; `1e-6` below it).
const FAST_MIN: f64 = 1e-5;
const SCALE: f64 = 1e6;
const SCALE_INT: u64 = 1_000_000;

/// Appends the shortest decimal text that parses back to exactly `f`, identical to
/// `ryu::Buffer::format_finite(f)` (`1.5`, `3.0`, `-0.25`, `1e-7`, `1e21`). A NaN or an
/// infinity comes out as ryu writes it (`NaN`, `inf`, `-inf`), which line protocol refuses:
/// callers deal with those first.
pub fn write_f64(out: &mut Vec<u8>, f: f64) {
    if !write_f64_fast(out, f) {
        out.extend_from_slice(ryu::Buffer::new().format(f).as_bytes());
    }
}

/// The fast path of [`write_f64`]: appends and returns `true` when `f` is a decimal of at
/// most six fractional digits in `[1e-5, 2^32)` (or its negative); else appends nothing.
#[inline]
fn write_f64_fast(out: &mut Vec<u8>, f: f64) -> bool {
    let a = f.abs();
    if !(FAST_MIN..FAST_MAX).contains(&a) {
        return false;
    }
    // a * 1e6 + 0.5 < 2^52, where the cast's truncation is exact: m is the product rounded
    // half up (an off-by-one from the product's own rounding only fails the check below)
    let m = (a * SCALE + 0.5) as u64;
    if m as f64 / SCALE != a {
        return false;
    }
    if f.is_sign_negative() {
        out.push(b'-');
    }
    let int = m / SCALE_INT;
    let mut frac = m % SCALE_INT;
    out.extend_from_slice(itoa::Buffer::new().format(int).as_bytes());
    out.push(b'.');
    if frac == 0 {
        out.push(b'0');
        return true;
    }
    let mut digits = 6;
    while frac.is_multiple_of(10) {
        frac /= 10;
        digits -= 1;
    }
    let mut buf = [b'0'; 6];
    let mut i = digits;
    while frac > 0 {
        i -= 1;
        buf[i] = b'0' + (frac % 10) as u8;
        frac /= 10;
    }
    out.extend_from_slice(&buf[..digits]);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ours(f: f64) -> String {
        let mut v = Vec::new();
        write_f64(&mut v, f);
        String::from_utf8(v).unwrap()
    }

    fn check(f: f64) {
        let want = ryu::Buffer::new().format(f).to_string();
        assert_eq!(ours(f), want, "bits {:#x}", f.to_bits());
    }

    /// A seeded generator, so failures reproduce.
    fn rng(seed: u64) -> rand::rngs::StdRng {
        rand::SeedableRng::seed_from_u64(seed)
    }

    #[test]
    fn edges_are_what_ryu_writes() {
        for f in [
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.1,
            0.2,
            0.1 + 0.2,
            1e-5,
            -1e-5,
            9.99999e-6,
            1e-6,
            1.5e-5,
            0.00001234,
            123456.789012,
            4294967295.0,
            4294967295.999999,
            4294967296.0,
            4294967296.5,
            2147483647.123456,
            1e16,
            1e21,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            3.086,
            12.548,
            99.9999995,
            0.9999995,
            0.0000015,
        ] {
            check(f);
        }
    }

    #[test]
    fn short_decimals_are_what_ryu_writes() {
        // what metrics are made of: decimals parsed from text with 0..=9 fractional digits
        let mut r = rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..400_000 {
            let digits = (rand::RngCore::next_u64(&mut r) % 10) as i32;
            let mantissa = (rand::RngCore::next_u64(&mut r) % 10_000_000_000_000) as f64;
            let mut f: f64 = format!("{}e-{digits}", mantissa as u64).parse().unwrap();
            if rand::RngCore::next_u64(&mut r) & 1 == 0 {
                f = -f;
            }
            check(f);
            check(f / 1000.0);
            check(f * 1000.0);
        }
    }

    #[test]
    fn arbitrary_doubles_are_what_ryu_writes() {
        let mut r = rng(0x1234_5678_9abc_def1);
        for _ in 0..400_000 {
            check(f64::from_bits(rand::RngCore::next_u64(&mut r)));
            // and ones in the fast path's range with all 52 bits of mantissa in use
            let f = (rand::RngCore::next_u64(&mut r) >> 11) as f64 / (1u64 << 53) as f64 * 1e4;
            check(f);
        }
    }

    #[test]
    fn every_six_digit_fraction_of_a_few_integers_is_what_ryu_writes() {
        for int in [0u64, 1, 7, 99, 65_535, 4_294_967_295] {
            for frac in (0..1_000_000u64).step_by(7) {
                let f: f64 = format!("{int}.{frac:06}").parse().unwrap();
                check(f);
            }
        }
    }
}
