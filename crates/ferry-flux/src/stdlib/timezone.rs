//! The `timezone` package and the `location` option: `timezone.location(name:)` is the record
//! `{zone: name, offset: 0s}` of an IANA zone (read from the system's tzdata as Go's
//! `time.LoadLocation` does), `timezone.fixed(offset:)` the record `{zone: "UTC", offset:}`,
//! `timezone.utc` UTC (written in `timezone.flux`). [`Zone`] is such a record applied:
//! wall-clock ("local") time is the instant plus the zone's UTC offset at that instant plus
//! the fixed offset, as Flux's `ToLocalClock` reads it, and `window()` aligns its windows on it.

use std::sync::Arc;

use ferry_window::tz::Location;

use super::args::{builtin, duration_arg, required, string_arg, wrong_type, BResult};
use crate::eval::Builtin;
use crate::value::{Duration, Kind, Record, Value};

/// The package's builtins.
pub(super) fn members() -> Vec<Builtin> {
    vec![
        builtin("location", &["name"], false, |_, a| {
            const F: &str = "timezone.location";
            let name = match required(F, a, "name")? {
                Value::String(s) => s.to_string(),
                other => return Err(wrong_type(F, "name", Kind::String, other)),
            };
            Location::load(&name).map_err(|e| format!("{F}: {e}"))?;
            Ok(location(&name, Duration::default()))
        }),
        builtin("fixed", &["offset"], false, |_, a| {
            const F: &str = "timezone.fixed";
            let offset = duration_arg(F, a, "offset")?
                .ok_or_else(|| format!("{F}: missing required argument offset"))?;
            if offset.months != 0 {
                return Err(format!("{F}: offset must be a fixed duration").into());
            }
            Ok(location("UTC", offset))
        }),
    ]
}

/// The record Flux's `timezone` functions answer.
pub(crate) fn location(zone: &str, offset: Duration) -> Value {
    let mut r = Record::new();
    r.set("zone", Value::string(zone));
    r.set("offset", Value::Duration(offset));
    Value::Record(Arc::new(r))
}

/// A location that is not plain UTC, applied.
#[derive(Clone, Debug)]
pub(crate) struct Zone {
    loc: Location,
    fixed: i64,
}

impl Zone {
    /// The `location` argument of `f` (else the `location` option), `None` for UTC.
    pub(crate) fn of(f: &str, a: &Record, option: Option<&Value>) -> BResult<Option<Zone>> {
        let v = match a.get("location") {
            None | Some(Value::Null) => option,
            Some(v) => Some(v),
        };
        let r = match v {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Record(r)) => r,
            Some(other) => return Err(wrong_type(f, "location", Kind::Record, other)),
        };
        let name = string_arg(f, r, "zone", "UTC")?;
        let fixed = match duration_arg(f, r, "offset")? {
            None => 0,
            Some(d) if d.months == 0 => d.nanos,
            Some(_) => return Err(format!("{f}: a location's offset must be fixed").into()),
        };
        if (name.is_empty() || name == "UTC") && fixed == 0 {
            return Ok(None);
        }
        let loc = Location::load(&name).map_err(|e| format!("{f}: {e}"))?;
        Ok(Some(Zone { loc, fixed }))
    }

    /// The wall-clock time of instant `t` (ns, read as if UTC).
    pub(crate) fn to_local(&self, t: i64) -> i64 {
        t.saturating_add(self.loc.offset_ns(t))
            .saturating_add(self.fixed)
    }

    /// The instant of wall-clock time `local`.
    pub(crate) fn to_utc(&self, local: i64) -> i64 {
        self.loc.from_local(local.saturating_sub(self.fixed))
    }
}
