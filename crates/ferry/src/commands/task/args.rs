//! `ferry task`'s clap definitions: the [`TaskCmd`] subcommands with their flags, and the
//! flag groups of a task's spec ([`SpecArgs`]) and destination ([`DestinationArgs`]) with
//! their translation to the node's JSON.

use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::import_cq::{ImportCqArgs, IMPORT_CQ_HELP};
use crate::client::{ClientArgs, ClientError};

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
    /// Downsample window, e.g. 1m. With --query: run over whole windows of this size (the
    /// query's GROUP BY time interval or a multiple), each computed once it has closed.
    #[arg(long)]
    pub window: Option<String>,
    /// With --query --window: the windows' offset, as in GROUP BY time(1h, 15m).
    #[arg(long = "window-offset")]
    pub window_offset: Option<String>,
    /// Aggregate of numeric fields: mean, count, sum, min, max, first, last (non-numeric fields take last).
    #[arg(long)]
    pub aggregate: Option<String>,
    /// Integer fields stay integers (mean rounded to the nearest integer).
    #[arg(long = "keep-integers")]
    pub keep_integers: bool,
    /// Suffix appended to output measurement names.
    #[arg(long = "suffix")]
    pub suffix: Option<String>,
    /// Re-aggregate (or re-query) this far back on every run, for late points.
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
    /// Where the task writes: a bucket of this node, or a remote.
    #[command(flatten)]
    pub destination: DestinationArgs,
}

impl SpecArgs {
    pub(super) fn any(&self) -> bool {
        self.source_bucket.is_some() || self.query.is_some()
    }

    /// (kind, spec).
    pub(super) fn to_json(&self) -> Result<(String, Value), ClientError> {
        let dest = self.destination.to_json().ok_or_else(|| {
            ClientError::Usage("a destination is required: --to-bucket (with --to-remote-id or --to-url for remote ones)".into())
        })?;
        match (&self.source_bucket, &self.query) {
            (Some(src), None) => {
                let window = self.window.clone().ok_or_else(|| {
                    ClientError::Usage("--window is required with --source-bucket".into())
                })?;
                if self.window_offset.is_some() {
                    return Err(ClientError::Usage(
                        "--window-offset applies to --query tasks only".into(),
                    ));
                }
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
                for (k, v) in [
                    ("window", &self.window),
                    ("windowOffset", &self.window_offset),
                    ("lateness", &self.lateness),
                ] {
                    if let Some(v) = v {
                        spec[k] = json!(v);
                    }
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
    /// Create a task: a Flux task (the script as an argument, or --file; its `option task`
    /// names and schedules it, as `influx task create`), a downsample (--source-bucket,
    /// --window) or an InfluxQL query (--query).
    Create {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// A Flux task's script (`-` reads stdin).
        #[arg(value_name = "FLUX", conflicts_with = "file")]
        flux: Option<String>,
        /// Read the Flux task's script from this file (`-` for stdin).
        #[arg(long, short = 'f')]
        file: Option<std::path::PathBuf>,
        /// Task name (a Flux task takes its name from `option task`).
        #[arg(long, short = 'n', required_unless_present_any = ["flux", "file"])]
        name: Option<String>,
        /// Free text listed with the task (empty by default).
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
    /// Change a task (schedule, status, spec; a Flux task's script with --file).
    Update {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// Task ID.
        #[arg(long, short = 'i')]
        id: String,
        /// A Flux task's new script, from this file (`-` for stdin); its `option task` gives
        /// the name and schedule unless --name/--every/--cron are given.
        #[arg(long, short = 'f')]
        file: Option<std::path::PathBuf>,
        /// New name.
        #[arg(long, short = 'n')]
        name: Option<String>,
        /// New description.
        #[arg(long, short = 'd')]
        description: Option<String>,
        /// active or inactive.
        #[arg(long)]
        status: Option<String>,
        /// New run period, e.g. 1h (replaces --cron).
        #[arg(long)]
        every: Option<String>,
        /// New cron schedule (UTC), e.g. "0 * * * *" (replaces --every).
        #[arg(long)]
        cron: Option<String>,
        /// New wait after each period before the run, e.g. 30s.
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
    /// Import InfluxDB 1.x continuous queries as query tasks, reporting what cannot be translated.
    #[command(long_about = IMPORT_CQ_HELP)]
    ImportCq(Box<ImportCqArgs>),
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
