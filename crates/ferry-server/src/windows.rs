//! Splitting a time range into windows of bounded size, for reads that must not hold a
//! whole bucket in memory (export, gap refill).

/// Rows read per window: bounds the memory of an export or a gap refill whatever the
/// bucket's size.
const ROWS_PER_WINDOW: u64 = 100_000;

/// Splits `[lo, hi_incl]` into half-open windows expected to hold about [`ROWS_PER_WINDOW`]
/// rows each (assuming rows spread evenly over time; uneven data just makes some windows
/// larger). Empty when `lo > hi_incl`.
pub fn time_windows(lo: i64, hi_incl: i64, rows: u64) -> Vec<(i64, i64)> {
    if lo > hi_incl {
        return Vec::new();
    }
    let span = hi_incl as i128 - lo as i128 + 1;
    let count = (rows.div_ceil(ROWS_PER_WINDOW).max(1) as i128).min(span);
    let width = (span + count - 1) / count;
    let mut out = Vec::with_capacity(count as usize);
    let mut s = lo as i128;
    while s <= hi_incl as i128 {
        let e = (s + width).min(hi_incl as i128 + 1);
        out.push((s as i64, e.min(i64::MAX as i128) as i64)); // i64::MAX is no valid time
        s = e;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_the_range_exactly_once() {
        for (lo, hi, rows) in [
            (0, 999, 1_000_000),
            (5, 5, 10),
            (-100, 100, 250_000),
            (0, 9, 10_000_000),
        ] {
            let w = time_windows(lo, hi, rows);
            assert_eq!(w.first().unwrap().0, lo);
            assert_eq!(w.last().unwrap().1, hi + 1);
            assert!(w.windows(2).all(|p| p[0].1 == p[1].0), "contiguous: {w:?}");
            assert!(w.iter().all(|(a, b)| a < b));
        }
        assert_eq!(time_windows(0, 999, 1_000_000).len(), 10);
        assert!(time_windows(10, 9, 5).is_empty());
    }
}
