//! `ferry write`: the influx CLI's `write` (files, URLs, stdin, gzip, rate limit, errors file)
//! plus retries, concurrency, resume, progress and `influx_inspect export` input. The logic
//! lives in `ferry-import`; this maps flags to an [`ferry_import::ImportConfig`].

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use ferry_import::{ImportConfig, InputSpec, TargetConfig};
use ferry_lp::RemoteKind;
use ferry_pipeline::BodyCompression;

use crate::client::{Client, ClientArgs, ClientError};
use crate::profiles::Profiles;

/// Where a command writes (every command that writes takes these): by default the node or
/// InfluxDB 2/Cloud of `--host`/`--token`/the active config.
#[derive(Debug, Args, Clone, Default)]
pub struct TargetArgs {
    /// Write to another kind of server: v1 (InfluxDB 1.x), v3 (InfluxDB 3), tdengine (taosAdapter).
    #[arg(long, value_parser = ["v1", "v3", "tdengine", "v2"])]
    pub target_kind: Option<String>,
    /// Base URL of that server (e.g. http://localhost:8086, http://taos:6041).
    #[arg(long)]
    pub target_url: Option<String>,
    /// Database to write everything to (default: each export context's database).
    #[arg(long)]
    pub target_db: Option<String>,
    /// Retention policy (InfluxDB 1.x).
    #[arg(long)]
    pub target_rp: Option<String>,
    /// Username (1.x / TDengine Basic auth).
    #[arg(long)]
    pub target_user: Option<String>,
    /// Password for Basic auth at the target, with --target-user.
    #[arg(long, env = "FERRY_TARGET_PASSWORD", hide_env_values = true)]
    pub target_password: Option<String>,
    /// Token (InfluxDB 3, or 1.x/TDengine token auth).
    #[arg(long, env = "FERRY_TARGET_TOKEN", hide_env_values = true)]
    pub target_token: Option<String>,
    /// Write line protocol to this file instead (gzip when it ends in .gz): dry run / conversion.
    #[arg(long)]
    pub target_file: Option<PathBuf>,
    /// How batches are compressed on the wire: auto (gzip, or zstd to a Ferry node; plain to
    /// a target on this machine), gzip, or none (a target on a fast LAN: compressing only
    /// costs both ends CPU).
    #[arg(long, value_name = "auto|gzip|none", default_value = "auto")]
    pub target_compression: BodyCompression,
}

/// `ferry write`.
#[derive(Debug, Args)]
#[command(
    after_help = "Exit status: 0 when every line was written; 3 when the import finished but the \
target refused some lines (with --errors-file they are in that file, each after a comment naming its input \
line and the reason; with --skipRowOnError they are counted and dropped); 1 when the import stopped \
(rerun the same command to resume from the checkpoint). The influx CLI exits 0 in the second case."
)]
pub struct WriteArgs {
    /// Client connection flags.
    #[command(flatten)]
    pub client: ClientArgs,
    /// Target flags.
    #[command(flatten)]
    pub target: TargetArgs,
    /// Bucket name: everything goes there (without it, each influx_inspect CONTEXT goes to its db/rp bucket).
    #[arg(long, short = 'b')]
    pub bucket: Option<String>,
    /// Bucket ID (instead of --bucket).
    #[arg(long)]
    pub bucket_id: Option<String>,
    /// Timestamp precision of the input: ns, us, ms, s.
    #[arg(long, short = 'p', default_value = "ns", value_parser = ["ns", "us", "ms", "s"])]
    pub precision: String,
    /// Input file (repeatable); stdin when no file, URL or line is given.
    #[arg(long, short = 'f')]
    pub file: Vec<PathBuf>,
    /// HTTP(S) URL of a line-protocol file (repeatable).
    #[arg(long, short = 'u')]
    pub url: Vec<String>,
    /// Input compression: gzip or none (default: by .gz name or content).
    #[arg(long, value_parser = ["gzip", "none"])]
    pub compression: Option<String>,
    /// Throttle, influx grammar: e.g. "5MB/5min", "1MB/s", "17kBs".
    #[arg(long)]
    pub rate_limit: Option<String>,
    /// Write refused lines (with the server's message) to this file and go on.
    #[arg(long)]
    pub errors_file: Option<PathBuf>,
    /// Skip lines the server refuses instead of stopping.
    #[arg(long = "skipRowOnError", alias = "skip-row-on-error")]
    pub skip_row_on_error: bool,
    /// Longest input line accepted, in bytes (longer ones are skipped and reported).
    #[arg(long, default_value_t = 16_000_000)]
    pub max_line_length: usize,
    /// Batches in flight at once.
    #[arg(long, default_value_t = 2)]
    pub concurrency: usize,
    /// Batch size in bytes of line protocol.
    #[arg(long, default_value_t = 500_000)]
    pub batch_size: usize,
    /// Checkpoint file for resuming (default: <first input file>.ferry-checkpoint).
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Do not keep a checkpoint.
    #[arg(long)]
    pub no_checkpoint: bool,
    /// Create a missing bucket (db/rp) or database for each influx_inspect export context.
    #[arg(long)]
    pub create_buckets: bool,
    /// Retries of one batch on transient errors before giving up (0 = forever).
    #[arg(long, default_value_t = 10)]
    pub max_retries: u32,
    /// Seconds between progress lines when stderr is not a terminal.
    #[arg(long, default_value_t = 5.0)]
    pub progress_interval: f64,
    /// Line protocol to write (as `influx write 'cpu v=1'`).
    pub lines: Vec<String>,
}

fn usage(s: impl Into<String>) -> ClientError {
    ClientError::Usage(s.into())
}

/// Resolves the target from flags, environment and the active config.
async fn target(a: &WriteArgs) -> Result<TargetConfig, ClientError> {
    let t = &a.target;
    if let Some(p) = &t.target_file {
        return Ok(TargetConfig::File(p.clone()));
    }
    let kind = match t.target_kind.as_deref() {
        None | Some("v2") => None,
        Some("v1") => Some(RemoteKind::V1),
        Some("v3") => Some(RemoteKind::V3),
        Some(_) => Some(RemoteKind::Tdengine),
    };
    if let Some(kind) = kind {
        let url = t
            .target_url
            .clone()
            .ok_or_else(|| usage("--target-kind needs --target-url"))?;
        return Ok(TargetConfig::Remote {
            kind,
            url,
            db: t.target_db.clone().or_else(|| a.bucket.clone()),
            rp: t.target_rp.clone(),
            user: t.target_user.clone(),
            password: t.target_password.clone(),
            token: t.target_token.clone(),
        });
    }
    let c = Client::new(&a.client)?;
    let profiles = Profiles::load(a.client.configs_path.as_deref())?;
    let token = a.client.token.clone().or_else(|| {
        profiles
            .pick(a.client.config_name.as_deref())
            .ok()
            .flatten()
            .map(|p| p.token.clone())
    });
    let org_id = c.org_id().await?;
    Ok(TargetConfig::V2 {
        host: c.host.clone(),
        token,
        org_id,
        bucket: a.bucket_id.clone().or_else(|| a.bucket.clone()),
    })
}

/// Runs `ferry write`.
pub async fn run(a: WriteArgs) -> Result<(), ClientError> {
    let mut inputs: Vec<InputSpec> = a.file.iter().cloned().map(InputSpec::File).collect();
    inputs.extend(a.url.iter().cloned().map(InputSpec::Url));
    if !a.lines.is_empty() {
        let mut b = a.lines.join("\n").into_bytes();
        b.push(b'\n');
        inputs.push(InputSpec::Inline(b));
    }
    if inputs.is_empty() {
        inputs.push(InputSpec::Stdin);
    }
    let rate_limit = match &a.rate_limit {
        Some(r) => Some(ferry_pipeline::parse_rate_limit(r).map_err(|e| usage(e.to_string()))?),
        None => None,
    };
    let checkpoint = if a.no_checkpoint {
        None
    } else {
        a.checkpoint.clone().or_else(|| match inputs.first() {
            Some(InputSpec::File(p)) if p.is_file() => {
                let mut s = p.as_os_str().to_owned();
                s.push(".ferry-checkpoint");
                Some(PathBuf::from(s))
            }
            _ => None,
        })
    };
    if a.batch_size == 0 || a.concurrency == 0 {
        return Err(usage("--batch-size and --concurrency must be positive"));
    }
    let cfg = ImportConfig {
        inputs,
        gzip: a.compression.as_deref().map(|c| c == "gzip"),
        precision_zeros: match a.precision.as_str() {
            "s" => 9,
            "ms" => 6,
            "us" => 3,
            _ => 0,
        },
        target: target(&a).await?,
        wire_compression: a.target.target_compression,
        batch_bytes: a.batch_size,
        concurrency: a.concurrency,
        rate_limit,
        errors_file: a.errors_file.clone(),
        skip_bad: a.skip_row_on_error,
        max_line_length: a.max_line_length,
        checkpoint,
        create_buckets: a.create_buckets,
        max_retries: a.max_retries,
        coalesce_bytes: 64 * 1024 * 1024,
        progress: crate::progress_bar::on_terminal(crate::progress_bar::BYTES),
        progress_every: Duration::from_secs_f64(a.progress_interval.max(0.1)),
    };
    let errors_file = cfg.errors_file.clone();
    let summary = ferry_import::run(cfg)
        .await
        .map_err(|e| usage(e.to_string()))?;
    if summary.refused > 0 {
        // The influx CLI exits 0 here; a script should not have to read the errors file to
        // learn that some lines were not written.
        return Err(ClientError::Refused(format!(
            "{} lines were refused and not written ({}); every other line was written",
            summary.refused,
            errors_file.map_or("they were skipped".to_string(), |p| format!(
                "they are in {}, each after a comment with its input line and the reason",
                p.display()
            )),
        )));
    }
    Ok(())
}
