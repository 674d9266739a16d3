//! Order statistics and spread of a window's numbers, shared by InfluxQL's `median` and
//! `stddev` and Flux's `median`, `quantile` and `stddev` (one arithmetic, one answer).

/// The median: the middle value, or the mean of the two middle values (InfluxQL's MEDIAN,
/// and Flux's `median()` as its t-digest answers on the sizes it keeps exactly). Sorts
/// `values`; `None` when empty.
pub fn median(values: &mut [f64]) -> Option<f64> {
    quantile(values, 0.5)
}

/// The `q` quantile (0 ≤ q ≤ 1) by linear interpolation between the two closest ranks
/// (Flux's `exact_mean`): rank `q·(n−1)`. Sorts `values`; `None` when empty or `q` is outside
/// [0, 1].
pub fn quantile(values: &mut [f64], q: f64) -> Option<f64> {
    if values.is_empty() || !(0.0..=1.0).contains(&q) {
        return None;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let rank = q * (values.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    let (a, b) = (values[lo], values[hi]);
    Some(a + (b - a) * (rank - lo as f64))
}

/// Whether a standard deviation divides by n − 1 (a sample, InfluxQL's and Flux's default)
/// or by n (the whole population, Flux's `mode: "population"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deviation {
    /// Divide by n − 1.
    Sample,
    /// Divide by n.
    Population,
}

/// The standard deviation, in two passes as InfluxDB 1.x computes it (a running mean, then
/// the squared distances from it), so answers match 1.6's to the bit: `None` when there are
/// no values, NaN when there are too few for `mode` (one value of a sample).
pub fn stddev(values: &[f64], mode: Deviation) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let n = values.len() as f64;
    let divisor = match mode {
        Deviation::Sample => n - 1.0,
        Deviation::Population => n,
    };
    if divisor < 1.0 {
        return Some(f64::NAN);
    }
    let mut mean = 0.0;
    for (i, v) in values.iter().enumerate() {
        mean += (v - mean) / (i + 1) as f64;
    }
    let squares = values.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>();
    Some((squares / divisor).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_interpolates_the_two_middle_values() {
        // Flux's median_test.flux: two tables of six values
        let mut a = [
            7.940387008821781,
            49.460104214779086,
            -36.564150808873954,
            34.319039251798635,
            79.27019811403116,
            41.91029522104053,
        ];
        assert_eq!(median(&mut a), Some(38.11466723641958));
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut []), None);
        assert_eq!(quantile(&mut [1.0, 2.0, 3.0, 4.0, 5.0], 0.25), Some(2.0));
        assert_eq!(quantile(&mut [1.0, 2.0], 0.75), Some(1.75));
        assert_eq!(quantile(&mut [1.0], 1.5), None);
    }

    #[test]
    fn stddev_by_sample_and_population() {
        let v = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        assert_eq!(stddev(&v, Deviation::Population), Some(2.0));
        let s = stddev(&v, Deviation::Sample).unwrap();
        assert!((s - 2.138089935299395).abs() < 1e-12);
        assert!(stddev(&[1.0], Deviation::Sample).unwrap().is_nan());
        assert_eq!(stddev(&[1.0], Deviation::Population), Some(0.0));
        assert_eq!(stddev(&[], Deviation::Sample), None);
    }
}
