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

/// The windows of `[lo, hi_incl]`, a part of a measurement that holds about `rows` rows
/// between `min_time` and `max_time`: the rows expected in the part (in proportion to its
/// share of that span) decide the count, so a narrow part, such as what is left of a gap
/// being refilled, is not cut as finely as the whole measurement would be.
pub fn part_windows(
    lo: i64,
    hi_incl: i64,
    min_time: i64,
    max_time: i64,
    rows: u64,
) -> Vec<(i64, i64)> {
    let full = (max_time as i128 - min_time as i128 + 1).max(1);
    let part = (hi_incl.min(max_time) as i128 - lo.max(min_time) as i128 + 1).clamp(0, full);
    let rows_in_part = ((rows as i128 * part + full - 1) / full) as u64;
    time_windows(lo, hi_incl, rows_in_part)
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
        // a tenth of a 1M-row measurement is one window of ~100k rows, not ten
        assert_eq!(part_windows(900, 999, 0, 999, 1_000_000).len(), 1);
        assert_eq!(part_windows(0, 999, 0, 999, 1_000_000).len(), 10);
        let w = part_windows(500, 999, 0, 999, 1_000_000);
        assert_eq!((w.len(), w[0].0, w.last().unwrap().1), (5, 500, 1000));
        assert!(time_windows(10, 9, 5).is_empty());
    }
}
