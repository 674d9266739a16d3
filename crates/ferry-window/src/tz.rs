//! Time zones of the `tz('…')` clause, loaded and applied as InfluxDB 1.6 does: IANA names
//! read from the system's tzdata like Go's `time.LoadLocation`, `GROUP BY time()` windows
//! aligned on the zone's midnight (`IteratorOptions.Window`), the fill iterator's window
//! sequence across offset changes, and zone-less time literals read in the zone.

use std::sync::Arc;

/// Where Go's `time.LoadLocation` looks for zone files on Unix, in order.
const ZONEINFO_DIRS: &[&str] = &[
    "/usr/share/zoneinfo/",
    "/usr/share/lib/zoneinfo/",
    "/usr/lib/locale/TZ/",
];

const NS: i64 = 1_000_000_000;

/// Why a `tz()` name cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TzError {
    /// No such zone (or a name Go refuses, such as one containing `..`).
    NotFound(String),
}

impl std::fmt::Display for TzError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TzError::NotFound(n) => write!(f, "unable to find time zone {n}"),
        }
    }
}

impl std::error::Error for TzError {}

/// A loaded time zone (cheap to clone; compared by name).
#[derive(Clone)]
pub struct Location {
    name: String,
    zone: Arc<tz::TimeZone>,
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Location({:?})", self.name)
    }
}

impl PartialEq for Location {
    fn eq(&self, other: &Location) -> bool {
        self.name == other.name
    }
}

impl Location {
    /// Loads `name` as Go's `time.LoadLocation` does: `""` and `"UTC"` are UTC, `"Local"`
    /// the machine's zone, anything else a TZif file of the system's tzdata.
    pub fn load(name: &str) -> Result<Location, TzError> {
        let not_found = || TzError::NotFound(name.to_string());
        let zone = match name {
            "" | "UTC" => tz::TimeZone::utc(),
            "Local" => tz::TimeZone::local().unwrap_or_else(|_| tz::TimeZone::utc()),
            _ => {
                if name.contains("..") || name.starts_with('/') || name.starts_with('\\') {
                    return Err(not_found());
                }
                let bytes = ZONEINFO_DIRS
                    .iter()
                    .find_map(|d| std::fs::read(format!("{d}{name}")).ok())
                    .ok_or_else(not_found)?;
                tz::TimeZone::from_tz_data(&bytes).map_err(|_| not_found())?
            }
        };
        Ok(Location {
            name: name.to_string(),
            zone: Arc::new(zone),
        })
    }

    /// The zone's name as written in `tz()`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The zone's UTC offset at instant `ns`, in seconds.
    pub fn offset_secs(&self, ns: i64) -> i32 {
        self.zone
            .find_local_time_type(ns.div_euclid(NS))
            .map(|t| t.ut_offset())
            .unwrap_or(0)
    }

    /// The zone's UTC offset at instant `ns`, in nanoseconds.
    pub fn offset_ns(&self, ns: i64) -> i64 {
        i64::from(self.offset_secs(ns)) * NS
    }

    /// The instant of wall-clock time `local` (ns, read as if UTC) in this zone, choosing the
    /// offset as Go's `time.Date` does (for a repeated hour, the later instant).
    pub fn from_local(&self, local: i64) -> i64 {
        let guess = self.offset_ns(local);
        local.saturating_sub(self.offset_ns(local.saturating_sub(guess)))
    }
}

/// The start of the `GROUP BY time(interval, offset)` window holding `t`, aligned in `loc`
/// (1.6's `IteratorOptions.Window`).
pub fn window_start(t: i64, interval: i64, offset: i64, loc: Option<&Location>) -> i64 {
    let Some(loc) = loc else {
        // in i128: near the ends of the time range `t - offset` and the start overflow i64
        // (a start before the earliest time is clamped to it)
        let t = i128::from(t);
        let start = t - (t - i128::from(offset)).rem_euclid(i128::from(interval));
        return start.max(i128::from(i64::MIN)) as i64;
    };
    let t = t.saturating_sub(offset);
    let zone = loc.offset_ns(t);
    let dt = t.saturating_add(zone).rem_euclid(interval);
    let mut start = t.saturating_sub(dt);
    // the first time may lie after an offset change: look the offset up again at the start
    let o = zone - loc.offset_ns(start);
    if o != 0 && o.abs() < interval {
        start += o;
    }
    start.saturating_add(offset)
}

/// The windows a group answers, as 1.6's fill iterator walks them: from the window of `lo`
/// to the window of `hi`, a step crossing an offset change absorbing it when shorter than
/// the interval; `data` (sorted, unique) are the [`window_start`]s of the group's points,
/// and a data window at or before the expected time stands for it (so a window whose start
/// the stepping misses, e.g. with an offset across a DST change, is still the data's).
pub fn window_starts(
    lo: i64,
    hi: i64,
    interval: i64,
    offset: i64,
    loc: &Location,
    data: &[i64],
) -> Vec<i64> {
    let end = window_start(hi, interval, offset, Some(loc));
    let mut t = window_start(lo, interval, offset, Some(loc));
    let mut zone = loc.offset_ns(t);
    let mut out = Vec::new();
    let mut data = data.iter().copied().peekable();
    loop {
        match data.peek() {
            Some(&d) if d <= t => {
                out.push(d);
                data.next();
            }
            Some(_) => out.push(t),
            None if t <= end => out.push(t),
            None => break,
        }
        t = t.saturating_add(interval);
        let z = loc.offset_ns(t - 1);
        if z != zone {
            let diff = zone - z;
            if diff.abs() < interval {
                t += diff;
            }
            zone = z;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600 * NS;
    /// 2023-10-29T00:00:00Z; Paris leaves summer time at 01:00Z that day.
    const DST_END: i64 = 1_698_537_600 * NS;

    fn paris() -> Location {
        Location::load("Europe/Paris").expect("tzdata installed")
    }

    #[test]
    fn unknown_zones_are_refused_like_go() {
        for n in [
            "Europe/Nowhere",
            "../etc/passwd",
            "/etc/localtime",
            "europe/paris",
        ] {
            assert_eq!(
                Location::load(n).unwrap_err().to_string(),
                format!("unable to find time zone {n}")
            );
        }
        assert_eq!(Location::load("").unwrap().offset_secs(DST_END), 0);
        assert_eq!(Location::load("UTC").unwrap().offset_secs(DST_END), 0);
    }

    #[test]
    fn offsets_across_dst() {
        let p = paris();
        assert_eq!(p.offset_secs(DST_END), 7200);
        assert_eq!(p.offset_secs(DST_END + H), 3600);
        // 02:30 local happens twice that night: Go's time.Date picks the second (CET) one
        assert_eq!(p.from_local(DST_END + 2 * H + H / 2), DST_END + H + H / 2);
        assert_eq!(p.from_local(DST_END + 12 * H), DST_END + 11 * H);
    }

    #[test]
    fn day_windows_follow_local_midnight() {
        let p = paris();
        let day = 24 * H;
        // noon UTC on the 25-hour day starts at 22:00Z the day before
        assert_eq!(
            window_start(DST_END + 12 * H, day, 0, Some(&p)),
            DST_END - 2 * H
        );
        assert_eq!(
            window_start(DST_END + 23 * H, day, 0, Some(&p)),
            DST_END + 23 * H
        );
        let w = window_starts(DST_END - 24 * H, DST_END + 48 * H, day, 0, &p, &[]);
        assert_eq!(
            w,
            vec![
                DST_END - 26 * H,
                DST_END - 2 * H,
                DST_END + 23 * H,
                DST_END + 47 * H
            ]
        );
    }

    #[test]
    fn data_windows_stand_for_missed_steps() {
        let p = paris();
        let day = 24 * H;
        // GROUP BY time(1d, 6h): the stepping lands on 05:00Z after the change, the data's
        // window (06:00 local, summer offset kept from the day's start) is 04:00Z
        let data = window_start(DST_END + 12 * H, day, 6 * H, Some(&p));
        assert_eq!(data, DST_END + 4 * H);
        let empty = window_starts(DST_END - 24 * H, DST_END + 30 * H, day, 6 * H, &p, &[]);
        assert_eq!(empty[2], DST_END + 5 * H);
        let w = window_starts(DST_END - 24 * H, DST_END + 30 * H, day, 6 * H, &p, &[data]);
        assert_eq!(w[1..3], [DST_END - 20 * H, DST_END + 4 * H]);
    }

    #[test]
    fn hour_windows_keep_utc_steps() {
        let p = paris();
        let w = window_starts(DST_END, DST_END + 3 * H, H, 0, &p, &[]);
        assert_eq!(
            w,
            vec![DST_END, DST_END + H, DST_END + 2 * H, DST_END + 3 * H]
        );
        assert_eq!(window_start(DST_END + H + 1, H, 0, Some(&p)), DST_END + H);
    }
}
