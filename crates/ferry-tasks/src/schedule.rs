//! Schedules and window math (durations are read with ferry-lp's one grammar).
//!
//! A task's **schedule point** at wall-clock `now` is the latest scheduled time at or before
//! `now - offset`: for `every: 1m` that is `now - offset` truncated to the minute (aligned to
//! the Unix epoch, as InfluxDB aligns `every`); for a cron expression the latest fire time.
//! A run covers `[latestCompleted, schedule point)` (a downsample task also truncates the end
//! to its window), so consecutive runs tile time with no gap and no overlap, and one run after
//! a downtime covers every missed period at once.

use chrono::{Duration as ChronoDuration, TimeZone, Utc};
use ferry_lp::parse_duration;

use crate::error::SpecError;

const NS: i64 = 1_000_000_000;

/// Formats nanoseconds as a compact duration (`1h30m`, `5s`, `250ms`, `0s`).
pub fn format_duration(ns: i64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    let mut rest = ns;
    if rest < 0 {
        out.push('-');
        rest = -rest;
    }
    for (unit, size) in [
        ("w", 7 * 86_400 * NS),
        ("d", 86_400 * NS),
        ("h", 3600 * NS),
        ("m", 60 * NS),
        ("s", NS),
        ("ms", 1_000_000),
        ("us", 1_000),
        ("ns", 1),
    ] {
        if rest >= size {
            out.push_str(&format!("{}{unit}", rest / size));
            rest %= size;
        }
    }
    out
}

/// `t` truncated down to a multiple of `every` (epoch-aligned; also for negative `t`).
pub fn align_down(t: i64, every: i64) -> i64 {
    if every <= 0 {
        return t;
    }
    t - t.rem_euclid(every)
}

/// When a task runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    /// Every this many ns, aligned to the epoch.
    Every(i64),
    /// A cron expression (UTC).
    Cron(Cron),
}

impl Schedule {
    /// From a task's `every` / `cron` fields (exactly one must be set).
    pub fn from_fields(every: Option<&str>, cron: Option<&str>) -> Result<Schedule, SpecError> {
        match (
            every.filter(|s| !s.is_empty()),
            cron.filter(|s| !s.is_empty()),
        ) {
            (Some(_), Some(_)) => Err("give either every or cron, not both".into()),
            (None, None) => Err("every or cron is required".into()),
            (Some(e), None) => {
                let ns = parse_duration(e).map_err(SpecError::duration(None))?;
                if ns < 1_000_000 {
                    return Err(SpecError::Invalid(format!(
                        "every {e:?} is too short: at least 1ms"
                    )));
                }
                Ok(Schedule::Every(ns))
            }
            (None, Some(c)) => Ok(Schedule::Cron(Cron::parse(c)?)),
        }
    }

    /// The latest scheduled time at or before `limit`, searching no earlier than `from` for
    /// cron schedules (a year back at most); `None` when there is none after `from`.
    pub fn latest_at_or_before(&self, limit: i64, from: i64) -> Option<i64> {
        match self {
            Schedule::Every(e) => Some(align_down(limit, *e)),
            Schedule::Cron(c) => {
                let floor = from.max(limit - 366 * 86_400 * NS);
                let mut t = c.next_after(floor - 1)?;
                if t > limit {
                    return None;
                }
                loop {
                    match c.next_after(t) {
                        Some(n) if n <= limit => t = n,
                        _ => return Some(t),
                    }
                }
            }
        }
    }

    /// The next scheduled time strictly after `t`.
    pub fn next_after(&self, t: i64) -> Option<i64> {
        match self {
            Schedule::Every(e) => Some(align_down(t, *e) + e),
            Schedule::Cron(c) => c.next_after(t),
        }
    }
}

/// A cron expression, evaluated in UTC by the `croner` crate: 5 fields (minute hour
/// day-of-month month day-of-week) or 6 (with seconds first), each `*`, `*/n`, `a`, `a-b`,
/// `a-b/n` or a comma list; day-of-week 0-7 (0 and 7 are Sunday, so `5-7` is Friday to
/// Sunday) or `SUN`-`SAT`, months 1-12 or `JAN`-`DEC`; also `@hourly`, `@daily`/`@midnight`,
/// `@weekly`, `@monthly`, `@yearly`/`@annually`. When both day-of-month and day-of-week are
/// restricted, a day matching either fires (as in Vixie cron).
#[derive(Debug, Clone)]
pub struct Cron {
    text: String,
    /// Boxed: the parsed pattern is ~250 bytes, and `Schedule` is mostly `Every`.
    pattern: Box<croner::Cron>,
}

impl PartialEq for Cron {
    fn eq(&self, other: &Cron) -> bool {
        self.text == other.text
    }
}

/// How far ahead [`Cron::next_after`] looks (a pattern like `0 0 30 2 *` never fires).
const CRON_HORIZON_DAYS: i64 = 5 * 366;

impl Cron {
    /// Parses a cron expression.
    pub fn parse(s: &str) -> Result<Cron, SpecError> {
        let text = s.trim();
        let expanded = match text {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            other => other,
        };
        let fields = expanded.split_whitespace().count();
        if !(5..=6).contains(&fields) || expanded.contains('@') {
            return Err(SpecError::Invalid(format!(
                "invalid cron {s:?}: 5 fields (minute hour day month weekday) or 6 (with seconds)"
            )));
        }
        let pattern = croner::Cron::new(expanded)
            .with_seconds_optional()
            .parse()
            .map_err(|e| format!("invalid cron {s:?}: {e}"))?;
        Ok(Cron {
            text: text.to_string(),
            pattern: Box::new(pattern),
        })
    }

    /// The expression as given.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The first fire time strictly after `t_ns` (whole seconds), within 5 years.
    pub fn next_after(&self, t_ns: i64) -> Option<i64> {
        let from = Utc.timestamp_opt(t_ns.div_euclid(NS), 0).single()?;
        let next = self.pattern.find_next_occurrence(&from, false).ok()?;
        if next > from + ChronoDuration::days(CRON_HORIZON_DAYS) {
            return None;
        }
        next.timestamp().checked_mul(NS)
    }
}

/// The time range a run covers: `[start, end)` in ns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunRange {
    /// Inclusive start (re-aggregation of late data included).
    pub start: i64,
    /// Exclusive end; `latestCompleted` becomes this once the run's writes succeeded.
    pub end: i64,
}

/// The range of a downsample run: windows from `latest_completed` (minus `lateness`, aligned
/// down to the window) up to the schedule point truncated to the window. `None` when no new
/// window has closed.
pub fn downsample_range(
    latest_completed: i64,
    schedule_point: i64,
    window: i64,
    lateness: i64,
) -> Option<RunRange> {
    window_range(latest_completed, schedule_point, window, 0, lateness)
}

/// `t` truncated down to a window boundary of windows `window` long that start at `offset`
/// past the epoch's multiples of `window` (InfluxQL's `GROUP BY time(window, offset)`).
pub fn align_down_offset(t: i64, window: i64, offset: i64) -> i64 {
    if window <= 0 {
        return t;
    }
    let off = offset.rem_euclid(window);
    align_down(t.saturating_sub(off), window).saturating_add(off)
}

/// The range of a windowed run (downsample, or a query task with a `window`): whole windows
/// (`GROUP BY time(window, offset)`) from `latest_completed` minus `lateness` up to the last
/// window that closed at the schedule point. `None` when no new window has closed.
pub fn window_range(
    latest_completed: i64,
    schedule_point: i64,
    window: i64,
    offset: i64,
    lateness: i64,
) -> Option<RunRange> {
    let end = align_down_offset(schedule_point, window, offset);
    if end <= latest_completed {
        return None;
    }
    let start = align_down_offset(
        latest_completed.saturating_sub(lateness.max(0)),
        window,
        offset,
    );
    Some(RunRange { start, end })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1m").unwrap(), 60 * NS);
        assert_eq!(parse_duration("1h30m").unwrap(), 5400 * NS);
        assert_eq!(parse_duration("250ms").unwrap(), 250_000_000);
        assert_eq!(parse_duration("0").unwrap(), 0);
        assert!(parse_duration("1x").is_err());
        assert!(parse_duration("m").is_err());
        assert_eq!(format_duration(5400 * NS), "1h30m");
    }

    #[test]
    fn windows_tile_time() {
        let w = 60 * NS;
        let r1 = downsample_range(0, 125 * NS, w, 0).unwrap();
        assert_eq!((r1.start, r1.end), (0, 120 * NS));
        assert!(downsample_range(r1.end, 170 * NS, w, 0).is_none());
        let r2 = downsample_range(r1.end, 601 * NS, w, 0).unwrap();
        assert_eq!((r2.start, r2.end), (120 * NS, 600 * NS));
        let r3 = downsample_range(r2.end, 661 * NS, w, 90 * NS).unwrap();
        assert_eq!((r3.start, r3.end), (480 * NS, 660 * NS));
        assert_eq!(align_down(-1, 10), -10);
        // GROUP BY time(10, 3): windows [..., -7, 3, 13, ...)
        assert_eq!(align_down_offset(12, 10, 3), 3);
        assert_eq!(align_down_offset(2, 10, 3), -7);
        assert_eq!(align_down_offset(13, 10, -7), 13);
        let r = window_range(3, 35, 10, 3, 0).unwrap();
        assert_eq!((r.start, r.end), (3, 33));
        assert!(window_range(33, 42, 10, 3, 0).is_none());
        let r = window_range(33, 44, 10, 3, 15).unwrap();
        assert_eq!((r.start, r.end), (13, 43));
    }

    #[test]
    fn cron_next() {
        let c = Cron::parse("*/15 * * * *").unwrap();
        let t0 = Utc
            .with_ymd_and_hms(2024, 1, 1, 10, 7, 3)
            .unwrap()
            .timestamp()
            * NS;
        let n = c.next_after(t0).unwrap();
        assert_eq!(n, t0 + (8 * 60 - 3) * NS);
        let s = Schedule::Cron(c);
        assert_eq!(
            s.latest_at_or_before(t0, t0 - 3600 * NS),
            Some(n - 15 * 60 * NS)
        );
        let d = Cron::parse("0 3 * * 1").unwrap(); // Mondays 03:00
        let m = d.next_after(t0).unwrap(); // 2024-01-01 is a Monday, 10:07 → next Monday
        assert_eq!(m, t0 - (7 * 3600 + 7 * 60 + 3) * NS + 7 * 86_400 * NS);
        assert!(Cron::parse("61 * * * *").is_err());
    }

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> i64 {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
            .unwrap()
            .timestamp()
            * NS
    }

    /// The next `n` fire times after `t`.
    fn fires(c: &str, t: i64, n: usize) -> Vec<i64> {
        let c = Cron::parse(c).unwrap();
        let mut out = vec![];
        let mut t = t;
        for _ in 0..n {
            t = c.next_after(t).unwrap();
            out.push(t);
        }
        out
    }

    /// Day-of-week 7 is Sunday, in ranges and steps too (it used to be rewritten to 0,
    /// which made `5-7` the invalid range `5-0`).
    #[test]
    fn cron_sunday_is_7() {
        let mon = at(2024, 1, 1, 10, 7, 3); // a Monday
        let day = |d| at(2024, 1, d, 0, 0, 0);
        assert_eq!(
            fires("0 0 * * 5-7", mon, 4),
            [day(5), day(6), day(7), day(12)]
        );
        assert_eq!(
            fires("0 0 * * 1-7", mon, 7),
            [day(2), day(3), day(4), day(5), day(6), day(7), day(8)]
        );
        assert_eq!(fires("0 0 * * */7", mon, 2), [day(7), day(14)]);
        assert_eq!(fires("0 0 * * 7", mon, 2), [day(7), day(14)]);
        assert_eq!(fires("0 0 * * 0", mon, 2), [day(7), day(14)]);
        assert_eq!(fires("0 0 * * 6,7", mon, 2), [day(6), day(7)]);
        assert_eq!(fires("0 0 * * FRI-SUN", mon, 3), [day(5), day(6), day(7)]);
        assert_eq!(fires("0 0 * * mon", mon, 1), [day(8)]);
        assert!(Cron::parse("0 0 * * 8").is_err());
    }

    #[test]
    fn cron_forms() {
        let t = at(2024, 1, 1, 10, 7, 3);
        // 6 fields: seconds first.
        assert_eq!(
            fires("30 */15 * * * *", t, 2),
            [at(2024, 1, 1, 10, 15, 30), at(2024, 1, 1, 10, 30, 30)]
        );
        assert_eq!(fires("@midnight", t, 1), [at(2024, 1, 2, 0, 0, 0)]);
        assert_eq!(fires("@weekly", t, 1), [at(2024, 1, 7, 0, 0, 0)]);
        assert_eq!(fires("@hourly", t, 1), [at(2024, 1, 1, 11, 0, 0)]);
        assert_eq!(fires("@yearly", t, 1), [at(2025, 1, 1, 0, 0, 0)]);
        assert_eq!(
            fires("0 12 1 JAN-MAR *", t, 3),
            [
                at(2024, 1, 1, 12, 0, 0),
                at(2024, 2, 1, 12, 0, 0),
                at(2024, 3, 1, 12, 0, 0)
            ]
        );
        // Day-of-month and day-of-week both restricted: either (the 13th, or a Friday).
        assert_eq!(
            fires("0 0 13 * 5", t, 3),
            [
                at(2024, 1, 5, 0, 0, 0),
                at(2024, 1, 12, 0, 0, 0),
                at(2024, 1, 13, 0, 0, 0)
            ]
        );
        assert_eq!(fires("0 0 29 2 *", t, 1), [at(2024, 2, 29, 0, 0, 0)]);
        // Never: no fire time, not a hang.
        assert_eq!(Cron::parse("0 0 30 2 *").unwrap().next_after(t), None);
        // A fire time exactly at `t` is not "after" it.
        assert_eq!(
            fires("0 0 * * *", at(2024, 1, 2, 0, 0, 0), 1),
            [at(2024, 1, 3, 0, 0, 0)]
        );
        for bad in [
            "",
            "* * * *",
            "* * * * * * *",
            "*/0 * * * *",
            "0 24 * * *",
            "@often",
            "x * * * *",
        ] {
            assert!(Cron::parse(bad).is_err(), "{bad:?}");
        }
    }
}
