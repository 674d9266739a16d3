//! The settings of a sync, as flags and as a TOML file (same keys as the flags).
//!
//! The flags are clap's derive attributes behind the `cli` feature, which only the `ferry`
//! binary turns on: the library itself does not compile clap, and it does not read files in
//! TOML either (the binary parses `--config` and hands the result to [`SyncSpec::merge`]).

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::SyncError;

/// Where to read: a source InfluxDB 1.x or 2.x, through InfluxQL over HTTP.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
#[serde(rename_all = "kebab-case")]
pub struct SourceArgs {
    /// Source InfluxDB URL (http or https), e.g. http://old-influx:8086.
    #[cfg_attr(feature = "cli", arg(long = "source-url"))]
    pub source_url: Option<String>,
    /// Source InfluxDB major version: 1 (user/password) or 2 (org ID + token, via /query and a DBRP mapping).
    #[cfg_attr(feature = "cli", arg(long = "source-version"))]
    pub source_version: Option<u8>,
    /// Source username (1.x).
    #[cfg_attr(feature = "cli", arg(long = "source-user"))]
    pub source_user: Option<String>,
    /// Source password (1.x).
    #[cfg_attr(
        feature = "cli",
        arg(
            long = "source-password",
            env = "FERRY_SOURCE_PASSWORD",
            hide_env_values = true
        )
    )]
    pub source_password: Option<String>,
    /// Source org ID (2.x).
    #[cfg_attr(feature = "cli", arg(long = "source-org-id"))]
    pub source_org_id: Option<String>,
    /// Source API token (2.x).
    #[cfg_attr(
        feature = "cli",
        arg(
            long = "source-token",
            env = "FERRY_SOURCE_TOKEN",
            hide_env_values = true
        )
    )]
    pub source_token: Option<String>,
    /// Source database (1.x) or the database mapped to the bucket (2.x).
    #[cfg_attr(feature = "cli", arg(long = "source-db"))]
    pub source_db: Option<String>,
    /// Source retention policy (default: the database's default).
    #[cfg_attr(feature = "cli", arg(long = "source-rp"))]
    pub source_rp: Option<String>,
    /// Skip TLS certificate verification of the source.
    #[cfg_attr(feature = "cli", arg(long = "source-insecure"))]
    #[serde(default)]
    pub source_insecure: bool,
    /// Measurement to copy (repeatable; default: all, from SHOW MEASUREMENTS).
    #[cfg_attr(feature = "cli", arg(long = "measurement", short = 'm'))]
    #[serde(default)]
    pub measurement: Vec<String>,
    /// Time range per read, e.g. 60m, 1h, 30s (default 60m).
    #[cfg_attr(feature = "cli", arg(long))]
    pub window: Option<String>,
    /// Most points one read may return before the window is halved (default 500000).
    #[cfg_attr(feature = "cli", arg(long = "max-window-points"))]
    pub max_window_points: Option<u64>,
    /// Rows per chunk asked of the source (default 10000).
    #[cfg_attr(feature = "cli", arg(long = "chunk-size"))]
    pub chunk_size: Option<u64>,
}

/// Every setting of `ferry sync` (flags, or keys of `--config FILE`).
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
#[serde(rename_all = "kebab-case")]
pub struct SyncSpec {
    /// A TOML file with these settings (keys as the flags, e.g. `source-url = "…"`); flags win.
    #[cfg_attr(feature = "cli", arg(long = "config"))]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// The source.
    #[cfg_attr(feature = "cli", command(flatten))]
    #[serde(flatten)]
    pub source: SourceArgs,
    /// First time copied (RFC3339), required.
    #[cfg_attr(feature = "cli", arg(long))]
    pub start: Option<String>,
    /// End (RFC3339, exclusive). Absent: copy up to now, then keep following new data.
    #[cfg_attr(feature = "cli", arg(long))]
    pub end: Option<String>,
    /// Wait before reading a window after its end has passed, for out-of-order data (default 10s).
    #[cfg_attr(feature = "cli", arg(long))]
    pub delay: Option<String>,
    /// Windows read at once (default 4).
    #[cfg_attr(feature = "cli", arg(long = "read-concurrency"))]
    pub read_concurrency: Option<usize>,
    /// Batches written at once (default 4).
    #[cfg_attr(feature = "cli", arg(long = "write-concurrency"))]
    pub write_concurrency: Option<usize>,
    /// Lines per write (default 5000).
    #[cfg_attr(feature = "cli", arg(long = "batch-size"))]
    pub batch_size: Option<usize>,
    /// Bandwidth limit in InfluxDB's grammar, e.g. 5MB/s, 500kB/s, 30MB/min.
    #[cfg_attr(feature = "cli", arg(long = "rate-limit"))]
    pub rate_limit: Option<String>,
    /// Progress file (default ferry-sync-<hash of source+target+db>.json in $FERRY_STATE_DIR,
    /// else $XDG_STATE_HOME/ferry, else ~/.local/state/ferry); refused lines go beside it.
    #[cfg_attr(feature = "cli", arg(long))]
    pub state: Option<PathBuf>,
    /// Compare point counts per window and measurement on source and target.
    #[cfg_attr(feature = "cli", arg(long))]
    #[serde(default)]
    pub verify: bool,
    /// Copy even when a field's type differs across shards (the target refuses one side).
    #[cfg_attr(feature = "cli", arg(long = "allow-type-conflicts"))]
    #[serde(default)]
    pub allow_type_conflicts: bool,
    /// Log level in the TOML file (`--log-level` is the global flag).
    #[cfg_attr(feature = "cli", arg(skip))]
    pub log_level: Option<String>,
    /// Target bucket (Ferry / InfluxDB 2), default target.
    #[cfg_attr(feature = "cli", arg(long, short = 'b'))]
    pub bucket: Option<String>,
    /// Target URL in the TOML file (the `--host` flag otherwise).
    #[cfg_attr(feature = "cli", arg(skip))]
    pub host: Option<String>,
    /// Target token in the TOML file (the `--token` flag otherwise).
    #[cfg_attr(feature = "cli", arg(skip))]
    pub token: Option<String>,
    /// Target org in the TOML file (the `--org` flag otherwise).
    #[cfg_attr(feature = "cli", arg(skip))]
    pub org: Option<String>,
    /// Target kind instead of the default (Ferry / InfluxDB 2): v1, v2, v3, tdengine.
    #[cfg_attr(feature = "cli", arg(long = "target-kind"))]
    pub target_kind: Option<String>,
    /// Target URL (with --target-kind).
    #[cfg_attr(feature = "cli", arg(long = "target-url"))]
    pub target_url: Option<String>,
    /// Target database (v1, v3, tdengine) or bucket (v2).
    #[cfg_attr(feature = "cli", arg(long = "target-db"))]
    pub target_db: Option<String>,
    /// Target retention policy (v1).
    #[cfg_attr(feature = "cli", arg(long = "target-rp"))]
    pub target_rp: Option<String>,
    /// Target username (v1, tdengine).
    #[cfg_attr(feature = "cli", arg(long = "target-user"))]
    pub target_user: Option<String>,
    /// Target password (v1, tdengine).
    #[cfg_attr(
        feature = "cli",
        arg(
            long = "target-password",
            env = "FERRY_TARGET_PASSWORD",
            hide_env_values = true
        )
    )]
    pub target_password: Option<String>,
    /// Target token (v2, v3).
    #[cfg_attr(
        feature = "cli",
        arg(
            long = "target-token",
            env = "FERRY_TARGET_TOKEN",
            hide_env_values = true
        )
    )]
    pub target_token: Option<String>,
    /// Target org (v2).
    #[cfg_attr(feature = "cli", arg(long = "target-org"))]
    pub target_org: Option<String>,
    /// Write line protocol to this file instead of a server.
    #[cfg_attr(feature = "cli", arg(long = "target-file"))]
    pub target_file: Option<PathBuf>,
    /// How batches are compressed: auto (gzip, or zstd to a Ferry node; plain to a target
    /// on this machine), gzip, or none (for a target on a fast LAN: compressing only costs
    /// both ends CPU).
    #[cfg_attr(
        feature = "cli",
        arg(long = "target-compression", value_name = "auto|gzip|none")
    )]
    pub target_compression: Option<String>,
}

macro_rules! fill {
    ($dst:expr, $src:expr, $($f:ident),*) => { $( if $dst.$f.is_none() { $dst.$f = $src.$f.take(); } )* };
}

impl SyncSpec {
    /// Fills every setting the flags left unset from `f`, the settings read from `--config`.
    pub fn merge(mut self, mut f: SyncSpec) -> SyncSpec {
        fill!(
            self.source,
            f.source,
            source_url,
            source_version,
            source_user,
            source_password,
            source_org_id,
            source_token,
            source_db,
            source_rp,
            window,
            max_window_points,
            chunk_size
        );
        if self.source.measurement.is_empty() {
            self.source.measurement = std::mem::take(&mut f.source.measurement);
        }
        self.source.source_insecure |= f.source.source_insecure;
        fill!(
            self,
            f,
            start,
            end,
            delay,
            read_concurrency,
            write_concurrency,
            batch_size,
            rate_limit,
            state,
            log_level,
            bucket,
            host,
            token,
            org,
            target_kind,
            target_url,
            target_db,
            target_rp,
            target_user,
            target_password,
            target_token,
            target_org,
            target_file,
            target_compression
        );
        self.verify |= f.verify;
        self.allow_type_conflicts |= f.allow_type_conflicts;
        self
    }
}

/// Parses a duration with ferry-lp's one grammar (`90s`, `60m`, `1h30m`, `2d`, `500ms`).
pub fn parse_duration(s: &str) -> Result<Duration, SyncError> {
    let ns = ferry_lp::parse_duration(s).map_err(|e| SyncError::Config(e.to_string()))?;
    u64::try_from(ns)
        .map(Duration::from_nanos)
        .map_err(|_| SyncError::Config(format!("invalid duration {s:?}: must not be negative")))
}

/// Parses an RFC3339 time (or integer ns) into ns since the epoch, with ferry-lp's one parser.
pub fn parse_time(s: &str) -> Result<i64, SyncError> {
    ferry_lp::parse_time(s).map_err(|e| SyncError::Config(e.to_string()))
}

/// Formats ns as RFC3339 (UTC, seconds or finer).
pub fn fmt_time(ns: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(ns).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_times() {
        assert_eq!(parse_duration("60m").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert!(
            parse_duration("2").is_err(),
            "a unit is required, as everywhere else"
        );
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert!(parse_duration("x").is_err());
        assert_eq!(parse_time("1970-01-01T00:00:01Z").unwrap(), 1_000_000_000);
        assert_eq!(fmt_time(1_000_000_000), "1970-01-01T00:00:01Z");
    }

    #[test]
    fn toml_fills_unset_flags() {
        let file: SyncSpec = toml::from_str(
            "source-url = \"http://a:8086\"\nsource-db = \"db\"\nmeasurement = [\"cpu\"]\nstart = \"2020-01-01T00:00:00Z\"\nbatch-size = 100\nverify = true\nwindow = \"5m\"\n",
        )
        .unwrap();
        let spec = SyncSpec {
            batch_size: Some(7),
            ..Default::default()
        }
        .merge(file);
        assert_eq!(spec.source.source_url.as_deref(), Some("http://a:8086"));
        assert_eq!(spec.source.measurement, vec!["cpu".to_string()]);
        assert_eq!(spec.batch_size, Some(7));
        assert_eq!(spec.source.window.as_deref(), Some("5m"));
        assert!(spec.verify);
    }
}
