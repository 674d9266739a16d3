//! `ferry task create|list|update|delete|run|logs`: scheduled downsample and query tasks.

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{json, Value};

use crate::cli::ClientArgs;
use crate::client::{Client, ClientError};
use crate::output::{json as print_json, s, table};

/// Where a task writes (one of a local bucket, a remote, or a URL with a secret token).
#[derive(Debug, Args)]
pub struct DestinationArgs {
    /// Destination bucket: local, or on --to-remote-id / --to-url.
    #[arg(long = "to-bucket")]
    pub to_bucket: Option<String>,
    /// Write through this remote (see `ferry remote`) instead of a local bucket.
    #[arg(long = "to-remote-id")]
    pub to_remote_id: Option<String>,
    /// Write to this InfluxDB 2 / Cloud / Ferry URL instead of a local bucket.
    #[arg(long = "to-url")]
    pub to_url: Option<String>,
    /// Org on --to-url.
    #[arg(long = "to-org")]
    pub to_org: Option<String>,
    /// Name of the org secret holding the token for --to-url (`ferry secret set`).
    #[arg(long = "token-secret")]
    pub token_secret: Option<String>,
}

impl DestinationArgs {
    fn to_json(&self) -> Option<Value> {
        let mut d = json!({});
        let mut any = false;
        for (k, v) in [
            ("bucket", &self.to_bucket),
            ("remoteID", &self.to_remote_id),
            ("url", &self.to_url),
            ("org", &self.to_org),
            ("tokenSecret", &self.token_secret),
        ] {
            if let Some(v) = v {
                d[k] = json!(v);
                any = true;
            }
        }
        any.then_some(d)
    }
}

/// What a task does: give --source-bucket (downsample) or --query.
#[derive(Debug, Args)]
pub struct SpecArgs {
    /// Downsample this bucket.
    #[arg(long = "source-bucket")]
    pub source_bucket: Option<String>,
    /// Measurements to downsample (repeat; default all).
    #[arg(long = "measurement", short = 'm')]
    pub measurements: Vec<String>,
    /// Downsample window, e.g. 1m.
    #[arg(long)]
    pub window: Option<String>,
    /// Aggregate of numeric fields: mean, count, sum, min, max, first, last (non-numeric fields take last).
    #[arg(long)]
    pub aggregate: Option<String>,
    /// Integer fields stay integers (mean rounded to the nearest integer).
    #[arg(long = "keep-integers")]
    pub keep_integers: bool,
    /// Suffix appended to output measurement names.
    #[arg(long = "suffix")]
    pub suffix: Option<String>,
    /// Re-aggregate windows this far back on every run, for late points.
    #[arg(long)]
    pub lateness: Option<String>,
    /// InfluxQL SELECT to run (`:start:`/`:stop:` are the run's range).
    #[arg(long)]
    pub query: Option<String>,
    /// Default database for --query.
    #[arg(long = "db")]
    pub database: Option<String>,
    /// Default retention policy for --query.
    #[arg(long = "rp")]
    pub retention_policy: Option<String>,
    /// Output measurement for --query rows (default: the result's).
    #[arg(long = "out-measurement")]
    pub out_measurement: Option<String>,
    /// Destination.
    #[command(flatten)]
    pub destination: DestinationArgs,
}

impl SpecArgs {
    fn any(&self) -> bool {
        self.source_bucket.is_some() || self.query.is_some()
    }

    /// (kind, spec).
    fn to_json(&self) -> Result<(String, Value), ClientError> {
        let dest = self.destination.to_json().ok_or_else(|| {
            ClientError::Usage("a destination is required: --to-bucket (with --to-remote-id or --to-url for remote ones)".into())
        })?;
        match (&self.source_bucket, &self.query) {
            (Some(src), None) => {
                let window = self.window.clone().ok_or_else(|| {
                    ClientError::Usage("--window is required with --source-bucket".into())
                })?;
                let mut spec = json!({
                    "sourceBucket": src,
                    "measurements": self.measurements,
                    "window": window,
                    "keepIntegers": self.keep_integers,
                    "destination": dest,
                });
                if let Some(a) = &self.aggregate {
                    spec["aggregate"] = json!(a.to_ascii_lowercase());
                }
                if let Some(x) = &self.suffix {
                    spec["measurementSuffix"] = json!(x);
                }
                if let Some(l) = &self.lateness {
                    spec["lateness"] = json!(l);
                }
                Ok(("downsample".into(), spec))
            }
            (None, Some(q)) => {
                let mut spec = json!({"query": q, "destination": dest});
                if let Some(d) = &self.database {
                    spec["database"] = json!(d);
                }
                if let Some(r) = &self.retention_policy {
                    spec["retentionPolicy"] = json!(r);
                }
                if let Some(m) = &self.out_measurement {
                    spec["measurement"] = json!(m);
                }
                Ok(("query".into(), spec))
            }
            _ => Err(ClientError::Usage(
                "give either --source-bucket (downsample) or --query".into(),
            )),
        }
    }
}

/// `ferry task ...`.
#[derive(Debug, Subcommand)]
pub enum TaskCmd {
    /// Create a task: a downsample (--source-bucket, --window) or an InfluxQL query (--query).
    Create {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// Task name.
        #[arg(long, short = 'n')]
        name: String,
        /// Description.
        #[arg(long, short = 'd', default_value = "")]
        description: String,
        /// Run period, e.g. 1m (downsample default: the window).
        #[arg(long)]
        every: Option<String>,
        /// Cron schedule instead of --every, e.g. "*/5 * * * *" (UTC).
        #[arg(long)]
        cron: Option<String>,
        /// Wait this long after each period before running, e.g. 30s.
        #[arg(long)]
        offset: Option<String>,
        /// Start processing from this time (RFC3339) instead of now.
        #[arg(long = "start-from")]
        start_from: Option<String>,
        /// Create the task inactive.
        #[arg(long)]
        inactive: bool,
        /// What the task does and where it writes.
        #[command(flatten)]
        spec: SpecArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List tasks.
    List {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Change a task (schedule, status, spec).
    Update {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// Task ID.
        #[arg(long, short = 'i')]
        id: String,
        /// New name.
        #[arg(long, short = 'n')]
        name: Option<String>,
        /// New description.
        #[arg(long, short = 'd')]
        description: Option<String>,
        /// active or inactive.
        #[arg(long)]
        status: Option<String>,
        /// New period.
        #[arg(long)]
        every: Option<String>,
        /// New cron schedule.
        #[arg(long)]
        cron: Option<String>,
        /// New offset.
        #[arg(long)]
        offset: Option<String>,
        /// Re-process from this time (RFC3339).
        #[arg(long = "start-from")]
        start_from: Option<String>,
        /// A new spec (all its flags, as for create).
        #[command(flatten)]
        spec: SpecArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete a task and its run history.
    Delete {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// Task ID.
        #[arg(long, short = 'i')]
        id: String,
    },
    /// Run a task now (catching up every period since its last success) and wait for the run.
    Run {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// Task ID.
        #[arg(long, short = 'i')]
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a task's run log (or its runs with --runs).
    Logs {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// Task ID.
        #[arg(long, short = 'i')]
        id: String,
        /// List runs (status, range, points, error) instead of log lines.
        #[arg(long)]
        runs: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn print_tasks(list: &[Value], as_json: bool) {
    if as_json {
        print_json(&json!(list));
        return;
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|t| {
            let sched = if t.get("cron").is_some() {
                format!("cron {}", s(t, "cron"))
            } else {
                s(t, "every")
            };
            vec![
                s(t, "id"),
                s(t, "name"),
                s(t, "kind"),
                s(t, "status"),
                sched,
                s(t, "latestCompleted"),
                s(t, "lastRunStatus"),
                s(t, "lastRunError"),
            ]
        })
        .collect();
    table(
        &[
            "ID",
            "Name",
            "Kind",
            "Status",
            "Every",
            "Latest Completed",
            "Last Run",
            "Last Error",
        ],
        &rows,
    );
}

fn print_runs(list: &[Value], as_json: bool) {
    if as_json {
        print_json(&json!(list));
        return;
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|r| {
            vec![
                s(r, "id"),
                s(r, "status"),
                s(r, "startedAt"),
                s(r, "rangeStart"),
                s(r, "rangeStop"),
                s(r, "pointsWritten"),
                s(r, "error"),
            ]
        })
        .collect();
    table(
        &[
            "Run ID",
            "Status",
            "Started",
            "Range Start",
            "Range Stop",
            "Points",
            "Error",
        ],
        &rows,
    );
}

/// Runs a task command.
pub async fn run(cmd: TaskCmd) -> Result<(), ClientError> {
    match cmd {
        TaskCmd::Create {
            client,
            name,
            description,
            every,
            cron,
            offset,
            start_from,
            inactive,
            spec,
            json,
        } => {
            let c = Client::new(&client)?;
            let (kind, spec) = spec.to_json()?;
            let mut body = json!({
                "orgID": c.org_id().await?,
                "name": name,
                "description": description,
                "status": if inactive { "inactive" } else { "active" },
                "kind": kind,
                "spec": spec,
            });
            for (k, v) in [
                ("every", every),
                ("cron", cron),
                ("offset", offset),
                ("latestCompleted", start_from),
            ] {
                if let Some(v) = v {
                    body[k] = json!(v);
                }
            }
            let t = c
                .json(c.request(Method::POST, "/api/v2/tasks").json(&body))
                .await?;
            print_tasks(&[t], json);
        }
        TaskCmd::List { client, json } => {
            let c = Client::new(&client)?;
            let v = c
                .json(
                    c.request(Method::GET, "/api/v2/tasks")
                        .query(&[("orgID", c.org_id().await?)]),
                )
                .await?;
            print_tasks(
                v["tasks"].as_array().map(Vec::as_slice).unwrap_or(&[]),
                json,
            );
        }
        TaskCmd::Update {
            client,
            id,
            name,
            description,
            status,
            every,
            cron,
            offset,
            start_from,
            spec,
            json,
        } => {
            let c = Client::new(&client)?;
            let mut body = json!({});
            for (k, v) in [
                ("name", name),
                ("description", description),
                ("status", status),
                ("every", every),
                ("cron", cron),
                ("offset", offset),
                ("latestCompleted", start_from),
            ] {
                if let Some(v) = v {
                    body[k] = json!(v);
                }
            }
            if spec.any() {
                let (_, sp) = spec.to_json()?;
                body["spec"] = sp;
            }
            let t = c
                .json(
                    c.request(Method::PATCH, &format!("/api/v2/tasks/{id}"))
                        .json(&body),
                )
                .await?;
            print_tasks(&[t], json);
        }
        TaskCmd::Delete { client, id } => {
            let c = Client::new(&client)?;
            c.send(c.request(Method::DELETE, &format!("/api/v2/tasks/{id}")))
                .await?;
            println!("Task {id} deleted.");
        }
        TaskCmd::Run { client, id, json } => {
            let c = Client::new(&client)?;
            let r = c
                .json(c.request(Method::POST, &format!("/api/v2/tasks/{id}/runs")))
                .await?;
            print_runs(std::slice::from_ref(&r), json);
            if s(&r, "status") == "failed" {
                return Err(ClientError::Usage(format!(
                    "the run failed: {}",
                    s(&r, "error")
                )));
            }
        }
        TaskCmd::Logs {
            client,
            id,
            runs,
            json,
        } => {
            let c = Client::new(&client)?;
            if runs {
                let v = c
                    .json(c.request(Method::GET, &format!("/api/v2/tasks/{id}/runs")))
                    .await?;
                print_runs(v["runs"].as_array().map(Vec::as_slice).unwrap_or(&[]), json);
            } else {
                let v = c
                    .json(c.request(Method::GET, &format!("/api/v2/tasks/{id}/logs")))
                    .await?;
                let events = v["events"].as_array().cloned().unwrap_or_default();
                if json {
                    print_json(&json!(events));
                } else {
                    let rows: Vec<Vec<String>> = events
                        .iter()
                        .map(|e| vec![s(e, "time"), s(e, "runID"), s(e, "message")])
                        .collect();
                    table(&["Time", "Run ID", "Message"], &rows);
                }
            }
        }
    }
    Ok(())
}
