//! What a task does, as stored in the catalog (JSON) and shown by the API (`spec`).

use serde::{Deserialize, Serialize};

use crate::downsample::Aggregate;
use ferry_lp::parse_duration;

use crate::error::SpecError;

/// The kinds of task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskKind {
    /// Aggregate a bucket into windows.
    Downsample,
    /// Run an InfluxQL SELECT and write its rows.
    Query,
    /// Run a Flux script (InfluxDB 2's tasks); it writes with `to()` itself.
    Flux,
}

impl TaskKind {
    /// `downsample`, `query` or `flux`.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskKind::Downsample => "downsample",
            TaskKind::Query => "query",
            TaskKind::Flux => "flux",
        }
    }

    /// Parses [`TaskKind::as_str`].
    pub fn parse(s: &str) -> Option<TaskKind> {
        match s {
            "downsample" => Some(TaskKind::Downsample),
            "query" => Some(TaskKind::Query),
            "flux" => Some(TaskKind::Flux),
            _ => None,
        }
    }
}

/// Where a task's points go: a local bucket, a remote (catalog remote + bucket), or an
/// InfluxDB 2 URL + org + bucket with the token taken from an org secret.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Destination {
    /// Bucket name or ID: local (no remote) or on the remote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    /// A catalog remote's ID (written through ferry-pipeline with its kind and credentials).
    #[serde(default, rename = "remoteID", skip_serializing_if = "Option::is_none")]
    pub remote_id: Option<String>,
    /// An InfluxDB 2 / Cloud / Ferry base URL (instead of a remote).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The org on `url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    /// Key of the org secret holding the token for `url` (the token itself is never stored
    /// in the task).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_secret: Option<String>,
}

impl Destination {
    /// Checks that exactly one of local bucket / remote / URL is described.
    pub fn validate(&self) -> Result<(), SpecError> {
        let bucket = self.bucket.as_deref().filter(|b| !b.is_empty());
        if bucket.is_none() {
            return Err("destination.bucket is required".into());
        }
        if self.remote_id.is_some() && self.url.is_some() {
            return Err("destination: give remoteID or url, not both".into());
        }
        if let Some(u) = &self.url {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                return Err(SpecError::Invalid(format!(
                    "destination.url {u:?} must start with http:// or https://"
                )));
            }
        }
        if self.token_secret.is_some() && self.url.is_none() {
            return Err("destination.tokenSecret needs destination.url".into());
        }
        Ok(())
    }

    /// Whether the points stay on this node.
    pub fn is_local(&self) -> bool {
        self.remote_id.is_none() && self.url.is_none()
    }
}

/// A downsample task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DownsampleSpec {
    /// Source bucket (name or ID) in the task's org.
    pub source_bucket: String,
    /// Measurements to downsample; empty = all.
    #[serde(default)]
    pub measurements: Vec<String>,
    /// Window size, e.g. `1m`.
    pub window: String,
    /// Aggregate of numeric fields (non-numeric fields always take `last`).
    #[serde(default)]
    pub aggregate: Aggregate,
    /// Integer fields stay integers: `mean` is rounded to the nearest integer (half away from
    /// zero); count/sum/min/max/first/last of integers are integers anyway. Without it, the
    /// mean of an integer field is a float (InfluxQL's `mean`).
    #[serde(default)]
    pub keep_integers: bool,
    /// Appended to each output measurement name (e.g. `_1m`); empty = same name.
    #[serde(default)]
    pub measurement_suffix: String,
    /// Re-aggregate the windows of this much time before `latestCompleted` on every run, to
    /// take late points in (outputs are overwritten: same series, time and fields).
    #[serde(default)]
    pub lateness: Option<String>,
    /// Where the aggregates go.
    pub destination: Destination,
}

impl DownsampleSpec {
    /// The window in ns.
    pub fn window_ns(&self) -> Result<i64, SpecError> {
        let w = parse_duration(&self.window).map_err(SpecError::duration(None))?;
        if w < 1_000_000 {
            return Err(SpecError::Invalid(format!(
                "window {:?} is too short: at least 1ms",
                self.window
            )));
        }
        Ok(w)
    }

    /// The lateness in ns (0 when unset).
    pub fn lateness_ns(&self) -> Result<i64, SpecError> {
        self.lateness
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(parse_duration)
            .transpose()
            .map_err(SpecError::duration(None))
            .map(|v| v.unwrap_or(0))
    }

    /// Checks the spec.
    pub fn validate(&self) -> Result<(), SpecError> {
        if self.source_bucket.trim().is_empty() {
            return Err("spec.sourceBucket is required".into());
        }
        self.window_ns()?;
        self.lateness_ns()?;
        if self.measurements.iter().any(|m| m.is_empty()) {
            return Err("spec.measurements must not contain an empty name".into());
        }
        self.destination.validate()
    }
}

/// A query task: an InfluxQL SELECT whose result rows are written as points, as InfluxDB 1.x
/// writes them for `SELECT … INTO` (so `fill(null)`, the default, writes nothing for an empty
/// window, not even a `count()` of 0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QuerySpec {
    /// The SELECT. `:start:` and `:stop:` are replaced by the run's range as RFC3339 string
    /// literals (`WHERE time >= :start: AND time < :stop:`), so runs are incremental.
    pub query: String,
    /// Default database (1.x name mapped by DBRP, or a bucket name).
    #[serde(default)]
    pub database: String,
    /// Default retention policy (empty = the default).
    #[serde(default)]
    pub retention_policy: String,
    /// Output measurement (default: the series name of each result).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measurement: Option<String>,
    /// Windowed runs (e.g. `1m`, the query's `GROUP BY time` interval or a multiple of it):
    /// each run's range is aligned to whole windows and ends at the last window that has
    /// closed, so every window is computed from all of its data, once (plus `lateness`).
    /// Unset: a run covers `[latestCompleted, schedule point)` as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    /// Offset of the windows, as in `GROUP BY time(1h, 15m)` (needs `window`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_offset: Option<String>,
    /// Recompute this much time before `latestCompleted` on every run (late points; a CQ's
    /// `RESAMPLE FOR` minus its interval). Outputs overwrite: same series, time and fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lateness: Option<String>,
    /// Where the rows go.
    pub destination: Destination,
}

fn opt_duration(field: &'static str, v: &Option<String>) -> Result<i64, SpecError> {
    v.as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| parse_duration(s).map_err(SpecError::duration(Some(field))))
        .transpose()
        .map(|v| v.unwrap_or(0))
}

impl QuerySpec {
    /// The window in ns (`None` when the runs are not windowed).
    pub fn window_ns(&self) -> Result<Option<i64>, SpecError> {
        match self.window.as_deref().filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(w) => {
                let ns = parse_duration(w).map_err(SpecError::duration(Some("spec.window")))?;
                if ns < 1_000_000 {
                    return Err(SpecError::Invalid(format!(
                        "spec.window {w:?} is too short: at least 1ms"
                    )));
                }
                Ok(Some(ns))
            }
        }
    }

    /// The window offset in ns (0 when unset).
    pub fn window_offset_ns(&self) -> Result<i64, SpecError> {
        opt_duration("spec.windowOffset", &self.window_offset)
    }

    /// The lateness in ns (0 when unset).
    pub fn lateness_ns(&self) -> Result<i64, SpecError> {
        opt_duration("spec.lateness", &self.lateness)
    }

    /// Checks the spec: one SELECT that parses, durations, and with `window`, a window that
    /// holds whole `GROUP BY time` intervals (a run never splits one).
    pub fn validate(&self) -> Result<(), SpecError> {
        if self.query.trim().is_empty() {
            return Err("spec.query is required".into());
        }
        let stmts = ferry_influxql::parse_query(&self.substitute(0, 0))?;
        let select = match stmts.as_slice() {
            [ferry_influxql::ast::Statement::Select(s)] => s,
            _ => return Err("spec.query must be exactly one SELECT statement".into()),
        };
        if select.into.is_some() {
            return Err(
                "spec.query must not have INTO: the task's destination is where its points go"
                    .into(),
            );
        }
        let offset = self.window_offset_ns()?;
        if self.lateness_ns()? < 0 {
            return Err("spec.lateness must not be negative".into());
        }
        match (self.window_ns()?, select.dims.time) {
            (None, _) if offset != 0 => {
                return Err("spec.windowOffset needs spec.window".into());
            }
            (Some(w), Some((interval, group_offset)))
                if w % interval != 0 || (offset - group_offset).rem_euclid(interval) != 0 =>
            {
                return Err(SpecError::Invalid(format!(
                    "spec.window {:?} (offset {:?}) must be a whole number of the query's \
                     GROUP BY time intervals, aligned the same way, so that no run splits one",
                    self.window.as_deref().unwrap_or_default(),
                    self.window_offset.as_deref().unwrap_or("0s"),
                )));
            }
            _ => {}
        }
        self.destination.validate()
    }

    /// The query with `:start:` / `:stop:` replaced by the range.
    pub fn substitute(&self, start: i64, stop: i64) -> String {
        let lit = |ns: i64| {
            let t = chrono::DateTime::from_timestamp(
                ns.div_euclid(1_000_000_000),
                ns.rem_euclid(1_000_000_000) as u32,
            )
            .unwrap_or_default();
            format!(
                "'{}'",
                t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
            )
        };
        self.query
            .replace(":start:", &lit(start))
            .replace(":stop:", &lit(stop))
    }
}

/// A Flux task: its script. Its schedule comes from the script's `option task` (kept in the
/// task's `every`/`cron`/`offset`); each run executes it with `now()` at the scheduled time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FluxSpec {
    /// The script.
    pub flux: String,
}

/// A task's spec by kind.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskSpec {
    /// Aggregates a bucket's measurements per window into a destination.
    Downsample(DownsampleSpec),
    /// Runs an InfluxQL SELECT per period and writes its rows to a destination.
    Query(QuerySpec),
    /// Runs a Flux script (its `option task` schedules it).
    Flux(FluxSpec),
}

impl TaskSpec {
    /// Parses a spec of `kind` from JSON and validates it.
    pub fn from_json(kind: TaskKind, v: &serde_json::Value) -> Result<TaskSpec, SpecError> {
        let spec = match kind {
            TaskKind::Downsample => TaskSpec::Downsample(serde_json::from_value(v.clone())?),
            TaskKind::Query => TaskSpec::Query(serde_json::from_value(v.clone())?),
            TaskKind::Flux => TaskSpec::Flux(serde_json::from_value(v.clone())?),
        };
        match &spec {
            TaskSpec::Downsample(d) => d.validate()?,
            TaskSpec::Query(q) => q.validate()?,
            TaskSpec::Flux(f) if f.flux.trim().is_empty() => {
                return Err("spec.flux: the script is empty".into())
            }
            TaskSpec::Flux(_) => {}
        }
        Ok(spec)
    }

    /// The spec as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            TaskSpec::Downsample(d) => serde_json::to_value(d),
            TaskSpec::Query(q) => serde_json::to_value(q),
            TaskSpec::Flux(f) => serde_json::to_value(f),
        }
        .unwrap_or_default()
    }

    /// The kind.
    pub fn kind(&self) -> TaskKind {
        match self {
            TaskSpec::Downsample(_) => TaskKind::Downsample,
            TaskSpec::Query(_) => TaskKind::Query,
            TaskSpec::Flux(_) => TaskKind::Flux,
        }
    }

    /// The destination; a Flux task has none (its script writes with `to()`).
    pub fn destination(&self) -> Option<&Destination> {
        match self {
            TaskSpec::Downsample(d) => Some(&d.destination),
            TaskSpec::Query(q) => Some(&q.destination),
            TaskSpec::Flux(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_tasks_refuse_into() {
        let spec = |q: &str| QuerySpec {
            query: q.into(),
            database: "db".into(),
            retention_policy: String::new(),
            measurement: None,
            window: None,
            window_offset: None,
            lateness: None,
            destination: Destination {
                bucket: Some("out".into()),
                remote_id: None,
                url: None,
                org: None,
                token_secret: None,
            },
        };
        spec("SELECT mean(v) FROM m GROUP BY time(1m)")
            .validate()
            .unwrap();
        let e = spec("SELECT mean(v) INTO x FROM m GROUP BY time(1m)")
            .validate()
            .unwrap_err();
        assert!(e.to_string().contains("must not have INTO"), "{e}");
        assert!(matches!(
            spec("SELECT mean(v) FROM").validate(),
            Err(SpecError::Query(_))
        ));
    }
}
