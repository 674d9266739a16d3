//! The `date` package: parts of a time (`date.hour`, `date.weekDay`, …), `date.truncate`,
//! `date.add` and `date.sub`, read on the wall clock of their `location` (the argument, else
//! the `location` option; UTC by default), and `truncateTimeColumn` as `date.truncate`. A
//! duration given as a time is relative to `now()`, as in Flux.

use super::args::{add_duration, required, time_arg, wrong_type, BResult};
use super::streams::{builtin_env, Env};
use super::timezone::Zone;
use crate::datetime::civil_from_days;
use crate::eval::Builtin;
use crate::value::{Duration, Kind, Record, Value};

const DAY: i64 = 86_400_000_000_000;

/// One part of a time, from its nanoseconds since the epoch.
type Part = fn(i64) -> i64;

fn ymd(t: i64) -> (i64, u32, u32) {
    civil_from_days(t.div_euclid(DAY))
}

fn day_of_year(t: i64) -> i64 {
    let (y, _, _) = ymd(t);
    let jan1 = crate::datetime::days_from_civil(y as i32, 1, 1);
    t.div_euclid(DAY) - jan1 + 1
}

/// The ISO 8601 week number (1–53).
fn iso_week(t: i64) -> i64 {
    let days = t.div_euclid(DAY);
    // Monday = 0; the epoch (1970-01-01) was a Thursday
    let weekday = (days + 3).rem_euclid(7);
    let thursday = days - weekday + 3;
    let (y, _, _) = civil_from_days(thursday);
    let jan1 = crate::datetime::days_from_civil(y as i32, 1, 1);
    (thursday - jan1) / 7 + 1
}

const PARTS: [(&str, Part); 14] = [
    ("second", |t| t.rem_euclid(60_000_000_000) / 1_000_000_000),
    ("minute", |t| {
        t.rem_euclid(3_600_000_000_000) / 60_000_000_000
    }),
    ("hour", |t| t.rem_euclid(DAY) / 3_600_000_000_000),
    ("weekDay", |t| (t.div_euclid(DAY) + 4).rem_euclid(7)), // Sunday = 0
    ("monthDay", |t| i64::from(ymd(t).2)),
    ("month", |t| i64::from(ymd(t).1)),
    ("year", |t| ymd(t).0),
    ("yearDay", day_of_year),
    ("week", iso_week),
    ("quarter", |t| (i64::from(ymd(t).1) - 1) / 3 + 1),
    ("millisecond", |t| t.rem_euclid(1_000_000_000) / 1_000_000),
    ("microsecond", |t| t.rem_euclid(1_000_000_000) / 1_000),
    ("nanosecond", |t| t.rem_euclid(1_000_000_000)),
    ("time", |t| t),
];

/// The zone `f` reads times in: its `location` argument, else the `location` option.
fn zone(f: &str, a: &Record, env: &Env) -> BResult<Option<Zone>> {
    Zone::of(f, a, env.location.lock().as_ref())
}

/// `t` truncated to `unit` on the wall clock of `zone`.
fn truncate_in(t: i64, unit: Duration, zone: Option<&Zone>) -> Option<i64> {
    match zone {
        None => truncate(t, unit),
        Some(z) => truncate(z.to_local(t), unit).map(|l| z.to_utc(l)),
    }
}

/// `t` truncated to `unit`: whole months and years by the calendar, the rest from the epoch
/// (so weeks start on Thursdays, as in Flux).
fn truncate(t: i64, unit: Duration) -> Option<i64> {
    if unit.months > 0 {
        let (y, m, _) = ymd(t);
        let months = y * 12 + i64::from(m) - 1;
        let months = months - months.rem_euclid(unit.months);
        let (ny, nm) = (months.div_euclid(12), months.rem_euclid(12) as u32 + 1);
        return crate::datetime::days_from_civil(i32::try_from(ny).ok()?, nm, 1).checked_mul(DAY);
    }
    (unit.nanos > 0).then(|| t - t.rem_euclid(unit.nanos))
}

/// `truncateTimeColumn(unit:, timeColumn: "_time")` (universe): each time of the column
/// truncated as `date.truncate` does.
pub(super) fn truncate_time_column() -> Builtin {
    builtin_env(
        "truncateTimeColumn",
        &["unit", "timeColumn"],
        true,
        move |ev, env, a| {
            const F: &str = "truncateTimeColumn";
            let s = super::streams::stream_arg(F, a)?;
            let zone = zone(F, a, env)?;
            super::streams::map_tables(ev, env, s, &mut |_, t| {
                let unit = match required(F, a, "unit")? {
                    Value::Duration(d) if !d.is_negative() && (d.months > 0 || d.nanos > 0) => *d,
                    other => return Err(wrong_type(F, "unit", Kind::Duration, other)),
                };
                let label = super::args::string_arg(F, a, "timeColumn", "_time")?;
                let mut out = t.clone();
                let col = out
                    .columns
                    .iter_mut()
                    .find(|c| c.label == label)
                    .ok_or_else(|| format!("{F}: column {label:?} does not exist"))?;
                for v in &mut col.values {
                    if let Value::Time(x) = v {
                        *x = truncate_in(*x, unit, zone.as_ref())
                            .ok_or_else(|| format!("{F}: time out of range"))?;
                    }
                }
                Ok(Some(out))
            })
        },
    )
}

pub(super) fn members() -> Vec<Builtin> {
    let mut out: Vec<Builtin> = PARTS
        .iter()
        .filter(|(name, _)| *name != "time")
        .map(|&(name, part)| {
            builtin_env(name, &["t", "location"], false, move |_, env, a| {
                let f = format!("date.{name}");
                let zone = zone(&f, a, env)?;
                let t = time_arg(&f, "t", required(&f, a, "t")?, env.now)?;
                Ok(Value::Int(part(zone.map_or(t, |z| z.to_local(t)))))
            })
        })
        .collect();
    out.push(builtin_env(
        "truncate",
        &["t", "unit", "location"],
        false,
        |_, env, a| {
            const F: &str = "date.truncate";
            let zone = zone(F, a, env)?;
            let t = time_arg(F, "t", required(F, a, "t")?, env.now)?;
            let unit = match required(F, a, "unit")? {
                Value::Duration(d) if !d.is_negative() && (d.months > 0 || d.nanos > 0) => *d,
                Value::Duration(_) => return Err(format!("{F}: unit must be positive").into()),
                other => return Err(wrong_type(F, "unit", Kind::Duration, other)),
            };
            if unit.months > 0 && unit.nanos != 0 {
                return Err(format!("{F}: unit mixes months with smaller units").into());
            }
            truncate_in(t, unit, zone.as_ref())
                .map(Value::Time)
                .ok_or_else(|| format!("{F}: time out of range").into())
        },
    ));
    for (name, param, add) in [("add", "to", true), ("sub", "from", false)] {
        out.push(builtin_env(
            name,
            &["d", param, "location"],
            false,
            move |_, env, a| {
                let f = format!("date.{name}");
                let zone = zone(&f, a, env)?;
                let d = match required(&f, a, "d")? {
                    Value::Duration(d) if add => *d,
                    Value::Duration(d) => d
                        .checked_neg()
                        .ok_or_else(|| format!("{f}: duration out of range"))?,
                    other => return Err(wrong_type(&f, "d", Kind::Duration, other)),
                };
                let t = time_arg(&f, param, required(&f, a, param)?, env.now)?;
                let sum = match &zone {
                    None => add_duration(t, d),
                    Some(z) => add_duration(z.to_local(t), d).map(|l| z.to_utc(l)),
                };
                sum.map(Value::Time)
                    .ok_or_else(|| format!("{f}: time out of range").into())
            },
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> i64 {
        crate::datetime::epoch_nanos(&crate::datetime::parse(s).unwrap()).unwrap()
    }

    fn part(name: &str, t: &str) -> i64 {
        (PARTS.iter().find(|(n, _)| *n == name).unwrap().1)(at(t))
    }

    #[test]
    fn parts_as_flux_documents_them() {
        // the examples of Flux's date package documentation
        let t = "2020-02-11T12:21:03.29353494Z";
        assert_eq!(part("second", t), 3);
        assert_eq!(part("minute", t), 21);
        assert_eq!(part("hour", t), 12);
        assert_eq!(part("weekDay", t), 2); // a Tuesday
        assert_eq!(part("monthDay", t), 11);
        assert_eq!(part("yearDay", t), 42);
        assert_eq!(part("month", t), 2);
        assert_eq!(part("year", t), 2020);
        assert_eq!(part("week", t), 7);
        assert_eq!(part("quarter", t), 1);
        assert_eq!(part("millisecond", t), 293);
        assert_eq!(part("microsecond", t), 293534);
        assert_eq!(part("nanosecond", t), 293534940);
        assert_eq!(part("week", "2021-01-01T00:00:00Z"), 53); // ISO: 2020's last week
        assert_eq!(part("weekDay", "1969-12-28T00:00:00Z"), 0); // before the epoch
    }

    #[test]
    fn truncate_by_the_calendar_and_from_the_epoch() {
        let t = at("2019-06-03T13:59:01Z");
        let d = |months, nanos| Duration { months, nanos };
        assert_eq!(
            truncate(t, d(0, 1_000_000_000)),
            Some(at("2019-06-03T13:59:01Z"))
        );
        assert_eq!(
            truncate(t, d(0, 60_000_000_000)),
            Some(at("2019-06-03T13:59:00Z"))
        );
        assert_eq!(
            truncate(t, d(0, 3_600_000_000_000)),
            Some(at("2019-06-03T13:00:00Z"))
        );
        assert_eq!(truncate(t, d(0, DAY)), Some(at("2019-06-03T00:00:00Z")));
        assert_eq!(truncate(t, d(0, 7 * DAY)), Some(at("2019-05-30T00:00:00Z")));
        assert_eq!(truncate(t, d(1, 0)), Some(at("2019-06-01T00:00:00Z")));
        assert_eq!(truncate(t, d(12, 0)), Some(at("2019-01-01T00:00:00Z")));
        assert_eq!(
            truncate(at("1969-12-31T23:30:00Z"), d(0, 3_600_000_000_000)),
            Some(at("1969-12-31T23:00:00Z"))
        );
    }
}
