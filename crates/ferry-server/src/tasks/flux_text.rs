//! The `flux` field of a downsample or InfluxQL task: InfluxDB 2's task API has only Flux
//! tasks, and its clients refuse a task without `flux` (the official Python client raises
//! "Invalid value for flux, must not be None"). Ferry runs these kinds natively; the text
//! says in Flux what the task does (a downsample is the equivalent Flux task; an InfluxQL task
//! carries its query in comments), with the `option task` block a Flux task would have. It is
//! a view: updating a task's `flux` field of these kinds is refused as before.

use ferry_catalog::Task;
use ferry_tasks::spec::{Destination, DownsampleSpec, QuerySpec};

/// A Flux string literal.
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '$' => out.push_str("\\$"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `option task = {name: …, every: …, offset: …}` (or `cron`).
fn options(t: &Task, default_every: &str) -> String {
    let mut o = format!("option task = {{name: {}", quoted(&t.name));
    match (&t.cron, &t.every) {
        (Some(c), _) => o.push_str(&format!(", cron: {}", quoted(c))),
        (None, Some(e)) => o.push_str(&format!(", every: {e}")),
        (None, None) => o.push_str(&format!(", every: {default_every}")),
    }
    if !t.offset.is_empty() && t.offset != "0s" {
        o.push_str(&format!(", offset: {}", t.offset));
    }
    o.push_str("}\n");
    o
}

fn destination(d: &Destination) -> String {
    let bucket = quoted(d.bucket.as_deref().unwrap_or_default());
    match (&d.remote_id, &d.url) {
        (None, None) => format!("    |> to(bucket: {bucket})\n"),
        (Some(remote), _) => format!(
            "    // Ferry writes the result to bucket {bucket} through remote {remote} (with its token)\n    |> yield(name: \"to remote\")\n"
        ),
        (None, Some(url)) => format!(
            "    // Ferry writes the result to bucket {bucket} on {url}{}\n    |> yield(name: \"to remote\")\n",
            d.token_secret
                .as_ref()
                .map(|s| format!(" with the token in secret {}", quoted(s)))
                .unwrap_or_default()
        ),
    }
}

/// The Flux a downsample task is equivalent to.
fn downsample(t: &Task, s: &DownsampleSpec) -> String {
    let mut f = format!(
        "// A Ferry downsample task: Ferry runs it natively; this is the Flux task it equals.\n{}\n",
        options(t, &s.window)
    );
    f.push_str(&format!(
        "from(bucket: {})\n    |> range(start: -task.every)\n",
        quoted(&s.source_bucket)
    ));
    if !s.measurements.is_empty() {
        let any: Vec<String> = s
            .measurements
            .iter()
            .map(|m| format!("r._measurement == {}", quoted(m)))
            .collect();
        f.push_str(&format!("    |> filter(fn: (r) => {})\n", any.join(" or ")));
    }
    f.push_str(&format!(
        "    |> aggregateWindow(every: {}, fn: {}, createEmpty: false)\n",
        s.window,
        s.aggregate.as_str()
    ));
    if !s.measurement_suffix.is_empty() {
        f.push_str(&format!(
            "    |> map(fn: (r) => ({{r with _measurement: r._measurement + {}}}))\n",
            quoted(&s.measurement_suffix)
        ));
    }
    f.push_str(&destination(&s.destination));
    f
}

/// An InfluxQL task: its query, in comments.
fn influxql(t: &Task, s: &QuerySpec) -> String {
    let mut f = String::from(
        "// A Ferry InfluxQL task: Ferry runs this InfluxQL (not Flux) on every run,\n",
    );
    f.push_str(&format!(
        "// on database {} (retention policy {}), :start:/:stop: being the run's range:\n",
        quoted(&s.database),
        quoted(if s.retention_policy.is_empty() {
            "default"
        } else {
            &s.retention_policy
        })
    ));
    for line in s.query.lines() {
        f.push_str(&format!("//   {line}\n"));
    }
    f.push_str(&options(t, s.window.as_deref().unwrap_or("1m")));
    f
}

/// The `flux` field of task `t` whose spec is `spec` (the catalog's JSON); `None` when the
/// spec cannot be read (the task is shown without it, as before).
pub fn describe(t: &Task, spec: &serde_json::Value) -> Option<String> {
    match t.kind.as_str() {
        "downsample" => serde_json::from_value::<DownsampleSpec>(spec.clone())
            .ok()
            .map(|s| downsample(t, &s)),
        "query" => serde_json::from_value::<QuerySpec>(spec.clone())
            .ok()
            .map(|s| influxql(t, &s)),
        _ => spec
            .get("flux")
            .and_then(|f| f.as_str())
            .map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(kind: &str, every: Option<&str>) -> Task {
        Task {
            name: "cpu \"5m\"".into(),
            kind: kind.into(),
            every: every.map(str::to_string),
            offset: "30s".into(),
            ..Task::default()
        }
    }

    #[test]
    fn a_downsample_reads_as_its_flux_task_and_parses() {
        let spec = serde_json::json!({
            "sourceBucket": "telegraf", "measurements": ["cpu", "mem"], "window": "5m",
            "aggregate": "max", "measurementSuffix": "_5m", "destination": {"bucket": "rollups"}
        });
        let f = describe(&task("downsample", None), &spec).unwrap();
        ferry_flux::parse(&f).unwrap();
        assert!(
            f.contains("option task = {name: \"cpu \\\"5m\\\"\", every: 5m, offset: 30s}"),
            "{f}"
        );
        assert!(
            f.contains("filter(fn: (r) => r._measurement == \"cpu\" or r._measurement == \"mem\")")
        );
        assert!(f.contains("aggregateWindow(every: 5m, fn: max, createEmpty: false)"));
        assert!(f.contains("_measurement: r._measurement + \"_5m\""));
        assert!(f.contains("|> to(bucket: \"rollups\")"));
        let remote = serde_json::json!({
            "sourceBucket": "t", "window": "1h",
            "destination": {"bucket": "b", "url": "https://cloud:8086", "tokenSecret": "tok"}
        });
        let f = describe(&task("downsample", Some("2h")), &remote).unwrap();
        ferry_flux::parse(&f).unwrap();
        assert!(
            f.contains("every: 2h") && f.contains("secret \"tok\""),
            "{f}"
        );
    }

    #[test]
    fn an_influxql_task_carries_its_query_in_comments() {
        let spec = serde_json::json!({
            "query": "SELECT mean(x)\nFROM cpu WHERE time >= :start: AND time < :stop: GROUP BY time(1m)",
            "database": "db", "retentionPolicy": "", "destination": {"bucket": "b"}
        });
        let f = describe(&task("query", Some("1m")), &spec).unwrap();
        ferry_flux::parse(&f).unwrap();
        assert!(f.contains("//   SELECT mean(x)\n//   FROM cpu"), "{f}");
        assert!(f.contains("option task = {name:"));
    }
}
