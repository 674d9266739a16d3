//! THE retry policy: how every answer of a remote is classified ([`classify`]) and how long a
//! sender waits before trying again ([`Backoff`]). Every sender shares it; nothing else decides.

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use ferry_lp::RemoteKind;
use rand::Rng;

/// Longest `Retry-After` honoured (a guard against absurd values): one day.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(86_400);

/// What a sender must do with a batch after one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOutcome {
    /// The remote stored the batch (204; also 200 for v3 and TDengine).
    Success {
        /// HTTP status.
        status: u16,
    },
    /// Transient: try the same batch again later (429, 5xx, timeouts, connection errors, a
    /// non-success 2xx from something that is not the remote).
    Retry {
        /// HTTP status, `None` when no answer came.
        status: Option<u16>,
        /// How long the remote asked to wait (`Retry-After` on 429/503).
        after: Option<Duration>,
        /// What went wrong.
        message: String,
        /// No connection could be made (refused, unresolvable, unroutable), as opposed to a
        /// remote that answered or hung: it is worth noticing when it comes back.
        unreachable: bool,
    },
    /// 413: the batch is too large; split it.
    TooLarge {
        /// The remote's message.
        message: String,
    },
    /// The remote refused the data itself (400, 422 partial write, TDengine's 500 data error):
    /// sending it again will not help.
    BadData {
        /// HTTP status.
        status: u16,
        /// The remote's message.
        message: String,
    },
    /// An operator must act (401, 403, 404, redirects, other 4xx): retrying would only hammer.
    NeedsAttention {
        /// HTTP status.
        status: u16,
        /// The remote's message.
        message: String,
    },
}

impl WriteOutcome {
    /// True for [`WriteOutcome::Success`].
    pub fn is_success(&self) -> bool {
        matches!(self, WriteOutcome::Success { .. })
    }

    /// The HTTP status, if an answer came.
    pub fn status(&self) -> Option<u16> {
        match self {
            WriteOutcome::Success { status }
            | WriteOutcome::BadData { status, .. }
            | WriteOutcome::NeedsAttention { status, .. } => Some(*status),
            WriteOutcome::Retry { status, .. } => *status,
            WriteOutcome::TooLarge { .. } => Some(413),
        }
    }
}

/// Whether `status` means "stored" for `kind`: 204 for v1/v2 (InfluxDB answers nothing else),
/// 204 or 200 for v3 and TDengine.
pub fn is_success_status(kind: RemoteKind, status: u16) -> bool {
    match kind {
        RemoteKind::V2 | RemoteKind::V1 => status == 204,
        RemoteKind::V3 | RemoteKind::Tdengine => status == 204 || status == 200,
    }
}

/// Classifies one HTTP answer of a `kind` remote to a write. `retry_after` is the raw
/// `Retry-After` header, `location` the `Location` header (for redirects), `body` the answer.
pub fn classify(
    kind: RemoteKind,
    status: u16,
    retry_after: Option<&str>,
    location: Option<&str>,
    body: &[u8],
) -> WriteOutcome {
    if is_success_status(kind, status) {
        return WriteOutcome::Success { status };
    }
    let message = || body_message(body);
    match status {
        200..=299 => WriteOutcome::Retry {
            status: Some(status),
            after: None,
            message: format!(
                "unexpected {status} answer (is this really a {} remote?): {}",
                kind.as_str(),
                message()
            ),
            unreachable: false,
        },
        300..=399 => WriteOutcome::NeedsAttention {
            status,
            message: format!(
                "remote redirects to {}; fix the remote URL",
                location.unwrap_or("(no location)")
            ),
        },
        413 => WriteOutcome::TooLarge { message: message() },
        400 | 422 => WriteOutcome::BadData {
            status,
            message: message(),
        },
        408 => WriteOutcome::Retry {
            status: Some(status),
            after: None,
            message: message(),
            unreachable: false,
        },
        429 | 503 => WriteOutcome::Retry {
            status: Some(status),
            after: retry_after.and_then(|v| parse_retry_after(v, Utc::now())),
            message: message(),
            unreachable: false,
        },
        500 if kind == RemoteKind::Tdengine && tdengine_data_error(body) => WriteOutcome::BadData {
            status,
            message: message(),
        },
        400..=499 => WriteOutcome::NeedsAttention {
            status,
            message: message(),
        },
        _ => WriteOutcome::Retry {
            status: Some(status),
            after: None,
            message: message(),
            unreachable: false,
        },
    }
}

/// TDengine answers bad data with 500 and a JSON error carrying a `code`; a 500 without one,
/// or one about connections, timeouts or memory, is treated as transient.
fn tdengine_data_error(body: &[u8]) -> bool {
    let Ok(serde_json::Value::Object(o)) = serde_json::from_slice::<serde_json::Value>(body) else {
        return false;
    };
    if !o.contains_key("code") {
        return false;
    }
    let msg = body_message(body).to_ascii_lowercase();
    const TRANSIENT: [&str; 7] = [
        "connect",
        "timeout",
        "timed out",
        "unavailable",
        "out of memory",
        "too many",
        "busy",
    ];
    !TRANSIENT.iter().any(|t| msg.contains(t))
}

/// The message of an error body: JSON `message`, `error` or `desc` when present, else the
/// first 300 characters of the text (trimmed).
pub fn body_message(body: &[u8]) -> String {
    if let Ok(serde_json::Value::Object(o)) = serde_json::from_slice::<serde_json::Value>(body) {
        for key in ["message", "error", "desc"] {
            match o.get(key) {
                Some(serde_json::Value::String(s)) if !s.is_empty() => return s.clone(),
                _ => {}
            }
        }
    }
    let text = String::from_utf8_lossy(body);
    text.trim().chars().take(300).collect()
}

/// Parses a `Retry-After` value: delay seconds, or an HTTP-date (RFC 7231 IMF-fixdate, also
/// RFC 2822) turned into the time left after `now` (zero when past). Capped at
/// [`MAX_RETRY_AFTER`]; `None` when it parses as neither.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let v = value.trim();
    let d = if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        Duration::from_secs(v.parse::<u64>().unwrap_or(u64::MAX))
    } else {
        let at = NaiveDateTime::parse_from_str(v, "%a, %d %b %Y %H:%M:%S GMT")
            .map(|n| n.and_utc())
            .or_else(|_| DateTime::parse_from_rfc2822(v).map(|d| d.with_timezone(&Utc)))
            .ok()?;
        (at - now).to_std().unwrap_or(Duration::ZERO)
    };
    Some(d.min(MAX_RETRY_AFTER))
}

/// Exponential backoff with jitter, shared by every sender.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// Delay before the first retry (default 250 ms).
    pub initial: Duration,
    /// Longest delay (default 5 min); a server's `Retry-After` may ask for longer.
    pub max: Duration,
    /// Growth per attempt (default 2).
    pub multiplier: f64,
    /// Relative jitter: 0.2 spreads each delay uniformly over ±20 % (default 0.2).
    pub jitter: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(250),
            max: Duration::from_secs(300),
            multiplier: 2.0,
            jitter: 0.2,
        }
    }
}

impl Backoff {
    /// The delay before retry number `attempt` (0 = first retry):
    /// `initial · multiplier^attempt`, capped at `max`, then jittered by ±`jitter`, and never
    /// more than `max`.
    pub fn delay(&self, attempt: u32) -> Duration {
        let max = self.max.as_secs_f64();
        let exp = self.multiplier.max(1.0).powi(attempt.min(1_000) as i32);
        let base = (self.initial.as_secs_f64() * exp).min(max);
        let j = self.jitter.clamp(0.0, 1.0);
        let factor = if j > 0.0 {
            1.0 + rand::thread_rng().gen_range(-j..=j)
        } else {
            1.0
        };
        let d = (base * factor).clamp(0.0, max);
        Duration::from_secs_f64(if d.is_finite() { d } else { max })
    }

    /// [`Backoff::delay`], or the server's `retry_after` when that is longer.
    pub fn delay_after(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let d = self.delay(attempt);
        match retry_after {
            Some(r) => d.max(r.min(MAX_RETRY_AFTER)),
            None => d,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(kind: RemoteKind, status: u16, body: &str) -> WriteOutcome {
        classify(kind, status, None, None, body.as_bytes())
    }

    #[test]
    fn success_per_kind() {
        assert!(c(RemoteKind::V2, 204, "").is_success());
        assert!(!c(RemoteKind::V2, 200, "").is_success());
        assert!(!c(RemoteKind::V1, 200, "").is_success());
        assert!(c(RemoteKind::V3, 200, "").is_success());
        assert!(c(RemoteKind::Tdengine, 200, "").is_success());
        assert!(matches!(
            c(RemoteKind::V2, 200, "<html>captive portal</html>"),
            WriteOutcome::Retry {
                status: Some(200),
                ..
            }
        ));
    }

    #[test]
    fn statuses() {
        assert!(matches!(
            c(RemoteKind::V2, 413, ""),
            WriteOutcome::TooLarge { .. }
        ));
        assert!(matches!(
            c(RemoteKind::V2, 400, ""),
            WriteOutcome::BadData { status: 400, .. }
        ));
        assert!(matches!(
            c(RemoteKind::V2, 422, ""),
            WriteOutcome::BadData { status: 422, .. }
        ));
        for s in [401, 403, 404, 405, 409] {
            assert!(matches!(
                c(RemoteKind::V2, s, ""),
                WriteOutcome::NeedsAttention { .. }
            ));
        }
        for s in [500, 502, 504, 408] {
            assert!(
                matches!(c(RemoteKind::V2, s, ""), WriteOutcome::Retry { .. }),
                "{s}"
            );
        }
        assert!(matches!(
            classify(RemoteKind::V2, 301, None, Some("https://x"), b""),
            WriteOutcome::NeedsAttention { status: 301, .. }
        ));
    }

    #[test]
    fn tdengine_500() {
        assert!(matches!(
            c(
                RemoteKind::Tdengine,
                500,
                r#"{"code":9750,"desc":"invalid data"}"#
            ),
            WriteOutcome::BadData { status: 500, .. }
        ));
        assert!(matches!(
            c(
                RemoteKind::Tdengine,
                500,
                r#"{"code":11,"desc":"Unable to establish connection"}"#
            ),
            WriteOutcome::Retry { .. }
        ));
        assert!(matches!(
            c(RemoteKind::Tdengine, 500, "oops"),
            WriteOutcome::Retry { .. }
        ));
        assert!(matches!(
            c(RemoteKind::V2, 500, r#"{"code":1,"message":"x"}"#),
            WriteOutcome::Retry { .. }
        ));
    }

    #[test]
    fn retry_after() {
        let o = classify(RemoteKind::V2, 429, Some("7"), None, b"");
        assert!(
            matches!(o, WriteOutcome::Retry { after: Some(d), .. } if d == Duration::from_secs(7))
        );
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:28:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("", now), None);
        assert_eq!(
            parse_retry_after("99999999999999999999", now),
            Some(MAX_RETRY_AFTER)
        );
        // Retry-After is read on 503 too, and ignored elsewhere.
        let o = classify(RemoteKind::V2, 503, Some("120"), None, b"");
        assert!(matches!(o, WriteOutcome::Retry { after: Some(d), .. } if d.as_secs() == 120));
        let o = classify(RemoteKind::V2, 500, Some("120"), None, b"");
        assert!(matches!(o, WriteOutcome::Retry { after: None, .. }));
    }

    #[test]
    fn messages() {
        assert_eq!(
            body_message(br#"{"code":"invalid","message":"bad line"}"#),
            "bad line"
        );
        assert_eq!(
            body_message(br#"{"error":"partial write"}"#),
            "partial write"
        );
        let long = "x".repeat(1000);
        assert_eq!(body_message(long.as_bytes()).len(), 300);
        assert_eq!(body_message(b"  plain \n"), "plain");
    }

    #[test]
    fn backoff_bounds_statistically() {
        let b = Backoff::default();
        for attempt in 0..20u32 {
            let nominal = (0.25 * 2f64.powi(attempt as i32)).min(300.0);
            let (mut lo, mut hi, mut sum) = (f64::MAX, 0f64, 0f64);
            let n = 2000;
            for _ in 0..n {
                let d = b.delay(attempt).as_secs_f64();
                lo = lo.min(d);
                hi = hi.max(d);
                sum += d;
            }
            assert!(
                lo >= nominal * 0.8 - 1e-9,
                "attempt {attempt}: {lo} < {nominal}·0.8"
            );
            assert!(
                hi <= (nominal * 1.2).min(300.0) + 1e-9,
                "attempt {attempt}: {hi}"
            );
            assert!(hi <= 300.0);
            if nominal < 300.0 {
                let mean = sum / n as f64;
                assert!(
                    (mean - nominal).abs() < nominal * 0.03,
                    "mean {mean} vs {nominal}"
                );
                // jitter actually spreads the values
                assert!(hi - lo > nominal * 0.3, "spread {lo}..{hi}");
            }
        }
        let none = Backoff { jitter: 0.0, ..b };
        assert_eq!(none.delay(3), Duration::from_secs(2));
        assert_eq!(none.delay(u32::MAX), Duration::from_secs(300));
        assert_eq!(
            b.delay_after(0, Some(Duration::from_secs(600))),
            Duration::from_secs(600)
        );
        assert!(b.delay_after(0, Some(Duration::ZERO)) <= Duration::from_millis(300));
    }
}
