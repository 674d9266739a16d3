//! Bandwidth limits: the `influx write --rate-limit` grammar and a token bucket.

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::SinkError;

/// Parses an `influx write --rate-limit` value into bytes per second.
///
/// Grammar (influx CLI), after removing spaces: `^(\d*\.?\d*)(B|kB|MB)/?(\d*)?(s|sec|m|min)$`,
/// kB = 1024 B, MB = 1048576 B; e.g. `"5MB/5min"`, `"17kBs"`, `"1MB/s"`. Results that are not
/// a finite positive rate (`"0B/s"`, `"1MB/0s"`) are refused too.
pub fn parse_rate_limit(s: &str) -> Result<f64, SinkError> {
    let err = || SinkError::InvalidRateLimit(s.to_string());
    let t: String = s.chars().filter(|&c| c != ' ').collect();
    let b = t.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
    };
    digits(&mut i);
    if i < b.len() && b[i] == b'.' {
        i += 1;
        digits(&mut i);
    }
    let number: f64 = t[..i].parse().map_err(|_| err())?;
    let rest = &t[i..];
    let (unit, rest) = if let Some(r) = rest.strip_prefix("kB") {
        (1024.0, r)
    } else if let Some(r) = rest.strip_prefix("MB") {
        (1_048_576.0, r)
    } else if let Some(r) = rest.strip_prefix('B') {
        (1.0, r)
    } else {
        return Err(err());
    };
    let rest = rest.strip_prefix('/').unwrap_or(rest);
    let n = rest.bytes().take_while(u8::is_ascii_digit).count();
    let count: f64 = if n == 0 {
        1.0
    } else {
        rest[..n].parse().map_err(|_| err())?
    };
    let seconds = match &rest[n..] {
        "s" | "sec" => 1.0,
        "m" | "min" => 60.0,
        _ => return Err(err()),
    };
    let rate = number * unit / (count * seconds);
    if rate.is_finite() && rate > 0.0 {
        Ok(rate)
    } else {
        Err(err())
    }
}

/// A token bucket limiting bytes per second. Burst: one second's worth, or one batch when a
/// batch is larger. Waiters are served in arrival order. Starts full.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    tokens: f64,
    last: Instant,
}

impl RateLimiter {
    /// A limiter for `bytes_per_sec`; a non-finite or non-positive rate means no limit.
    pub fn new(bytes_per_sec: f64) -> RateLimiter {
        let rate = if bytes_per_sec.is_finite() && bytes_per_sec > 0.0 {
            bytes_per_sec
        } else {
            f64::INFINITY
        };
        RateLimiter {
            rate,
            state: Mutex::new(State {
                tokens: if rate.is_finite() { rate } else { 0.0 },
                last: Instant::now(),
            }),
        }
    }

    /// The configured rate in bytes per second (infinite when unlimited).
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// Waits until `bytes` may be sent without exceeding the rate (on average over a second),
    /// then takes them from the bucket. Returns at once when unlimited.
    pub async fn acquire(&self, bytes: u64) {
        if !self.rate.is_finite() || bytes == 0 {
            return;
        }
        let mut st = self.state.lock().await;
        let now = Instant::now();
        let cap = self.rate.max(bytes as f64);
        let elapsed = now.duration_since(st.last).as_secs_f64();
        st.tokens = (st.tokens + elapsed * self.rate).min(cap);
        st.last = now;
        st.tokens -= bytes as f64;
        if st.tokens < 0.0 {
            let wait = Duration::from_secs_f64(-st.tokens / self.rate);
            // Holding the lock while sleeping keeps later callers behind this one. The debt
            // stays in the bucket (negative tokens as of `last`), so time the timer oversleeps
            // is credited to the next caller instead of lost.
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar() {
        let ok = |s: &str| parse_rate_limit(s).unwrap();
        assert_eq!(ok("1MB/s"), 1_048_576.0);
        assert_eq!(ok("17kBs"), 17.0 * 1024.0);
        assert_eq!(ok("5MB/5min"), 5.0 * 1_048_576.0 / 300.0);
        assert_eq!(ok("5 MB / 5 min"), 5.0 * 1_048_576.0 / 300.0);
        assert_eq!(ok("100B/sec"), 100.0);
        assert_eq!(ok("60B/m"), 1.0);
        assert_eq!(ok("1.5kB/2s"), 768.0);
        assert_eq!(ok(".5kB/s"), 512.0);
        assert_eq!(ok("2.kB/s"), 2048.0);
        assert_eq!(ok("10B10s"), 1.0);
        for bad in [
            "", "1", "MB/s", "./s", ".MB/s", "1mb/s", "1KB/s", "1GB/s", "1MB/h", "1MB//s",
            "1MB/s/", "1MB/1.5s", "-1MB/s", "1..2MB/s", "1MB/0s", "0B/s", "1MB/ss", "1MB/mins",
            "1MB/S",
        ] {
            assert!(parse_rate_limit(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[tokio::test]
    async fn holds_rate_within_ten_percent() {
        let rate = 200_000.0;
        let rl = RateLimiter::new(rate);
        rl.acquire(rate as u64).await; // drain the initial burst
        let start = std::time::Instant::now();
        for _ in 0..100 {
            rl.acquire(2_000).await;
        }
        let secs = start.elapsed().as_secs_f64();
        let achieved = 200_000.0 / secs;
        assert!(
            (achieved - rate).abs() <= rate * 0.10,
            "achieved {achieved:.0} B/s in {secs:.3}s"
        );
    }

    #[tokio::test]
    async fn unlimited_and_large_batches() {
        let rl = RateLimiter::new(0.0);
        assert!(rl.rate().is_infinite());
        rl.acquire(u64::MAX).await;
        // a batch bigger than one second's worth is allowed as a burst of its own
        let rl = RateLimiter::new(1_000_000.0);
        let start = std::time::Instant::now();
        rl.acquire(1_500_000).await;
        assert!(start.elapsed() < Duration::from_millis(700));
    }
}
