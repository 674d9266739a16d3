//! The command line: every command, flag and environment variable, with its help text.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Ferry: an InfluxDB-compatible edge node that moves InfluxDB data without losing any.
#[derive(Debug, Parser)]
#[command(name = "ferry", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Log level (error, warn, info, debug, trace); `FERRY_LOG` takes a full filter.
    #[arg(long, global = true, env = "FERRY_LOG_LEVEL")]
    pub log_level: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Ferry's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the node: InfluxDB v1/v2 write APIs over a durable log and an embedded store.
    Serve(ServeArgs),
    /// Set up a node started with --no-init: first org, bucket and operator token.
    Setup(SetupArgs),
    /// Create, list, update and delete buckets.
    #[command(subcommand)]
    Bucket(BucketCmd),
    /// List and create organizations.
    #[command(subcommand)]
    Org(OrgCmd),
    /// Create and list API tokens.
    #[command(subcommand)]
    Auth(AuthCmd),
    /// InfluxDB 1.x compatibility: database/retention-policy mappings.
    #[command(subcommand)]
    V1(V1Cmd),
    /// Named connection profiles, so client commands need no repeated flags.
    #[command(subcommand)]
    Config(ConfigCmd),
    /// Print a bucket's points as line protocol.
    Export(ExportArgs),
}

/// `ferry serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Where the catalog, logs and Parquet files live.
    #[arg(long, env = "FERRY_DATA_DIR", default_value = "./ferry-data")]
    pub data_dir: PathBuf,
    /// Address to listen on (port 0 picks a free port, written to <data-dir>/http-addr).
    #[arg(long, env = "FERRY_HTTP_BIND", default_value = "127.0.0.1:8086")]
    pub http_bind: SocketAddr,
    /// Org created on first start.
    #[arg(long, env = "FERRY_INIT_ORG", default_value = "ferry")]
    pub init_org: String,
    /// Bucket created on first start (also mapped as 1.x database <name>, rp autogen).
    #[arg(long, env = "FERRY_INIT_BUCKET", default_value = "default")]
    pub init_bucket: String,
    /// Operator token created on first start (generated and printed once when absent).
    #[arg(long, env = "FERRY_INIT_TOKEN", hide_env_values = true)]
    pub init_token: Option<String>,
    /// Do not initialise on first start; wait for `ferry setup` / POST /api/v2/setup.
    #[arg(long, env = "FERRY_NO_INIT")]
    pub no_init: bool,
    /// Accept requests without a token. Only for trusted networks.
    #[arg(long, env = "FERRY_NO_AUTH")]
    pub no_auth: bool,
    /// Largest request body accepted, uncompressed, in bytes (413 above).
    #[arg(long, env = "FERRY_MAX_BODY_BYTES", default_value_t = 25 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Persist a bucket's in-memory buffer to Parquet past this many bytes.
    #[arg(long, env = "FERRY_BUFFER_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub buffer_bytes: usize,
    /// Persist buffers at least this often, in seconds.
    #[arg(long, env = "FERRY_PERSIST_INTERVAL", default_value_t = 60)]
    pub persist_interval_secs: u64,
    /// Skip fsync before acknowledging writes. Unsafe: for benchmarks only.
    #[arg(long, env = "FERRY_UNSAFE_NO_FSYNC", hide = true)]
    pub unsafe_no_fsync: bool,
}

/// Flags every client command takes (as the influx CLI does).
#[derive(Debug, Args, Clone, Default)]
pub struct ClientArgs {
    /// URL of the node (default: the active config, else http://127.0.0.1:8086).
    #[arg(long, env = "FERRY_HOST")]
    pub host: Option<String>,
    /// API token (default: the active config's).
    #[arg(long, short = 't', env = "FERRY_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Organization name (default: the active config's, else the token's org).
    #[arg(long, short = 'o', env = "FERRY_ORG")]
    pub org: Option<String>,
    /// Organization ID (instead of --org).
    #[arg(long, env = "FERRY_ORG_ID")]
    pub org_id: Option<String>,
    /// Use this config profile instead of the active one.
    #[arg(long = "active-config", short = 'c', env = "FERRY_ACTIVE_CONFIG")]
    pub config_name: Option<String>,
    /// Where config profiles are stored.
    #[arg(long, env = "FERRY_CONFIGS_PATH")]
    pub configs_path: Option<PathBuf>,
}

/// `ferry setup`.
#[derive(Debug, Args)]
pub struct SetupArgs {
    /// Client connection flags.
    #[command(flatten)]
    pub client: ClientArgs,
    /// Primary username (kept for influx compatibility).
    #[arg(long, short = 'u', default_value = "admin")]
    pub username: String,
    /// Org to create.
    #[arg(long = "org-name", default_value = "ferry")]
    pub org_name: String,
    /// Bucket to create.
    #[arg(long, short = 'b', default_value = "default")]
    pub bucket: String,
    /// Bucket retention, e.g. 30d, 12h, 0 = forever.
    #[arg(long, short = 'r', default_value = "0")]
    pub retention: String,
    /// Operator token to use (generated when absent).
    #[arg(long = "operator-token")]
    pub operator_token: Option<String>,
    /// Also save a config profile with this name pointing at the node.
    #[arg(long = "name")]
    pub config_name: Option<String>,
}

/// `ferry bucket ...`.
#[derive(Debug, Subcommand)]
pub enum BucketCmd {
    /// Create a bucket.
    Create {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// Bucket name.
        #[arg(long, short = 'n')]
        name: String,
        /// Description.
        #[arg(long, short = 'd', default_value = "")]
        description: String,
        /// Retention: 0 (forever) or a duration like 30d, 72h, 90m.
        #[arg(long, short = 'r', default_value = "0")]
        retention: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List buckets.
    #[command(alias = "ls", alias = "find")]
    List {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// Only the bucket with this name.
        #[arg(long, short = 'n')]
        name: Option<String>,
        /// Only the bucket with this ID.
        #[arg(long, short = 'i')]
        id: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Change a bucket's name, description or retention.
    Update {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// Bucket ID.
        #[arg(long, short = 'i')]
        id: String,
        /// New name.
        #[arg(long, short = 'n')]
        name: Option<String>,
        /// New description.
        #[arg(long, short = 'd')]
        description: Option<String>,
        /// New retention (0 = forever).
        #[arg(long, short = 'r')]
        retention: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete a bucket and all its data.
    Delete {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// Bucket ID.
        #[arg(long, short = 'i', required_unless_present = "name")]
        id: Option<String>,
        /// Bucket name.
        #[arg(long, short = 'n')]
        name: Option<String>,
    },
}

/// `ferry org ...`.
#[derive(Debug, Subcommand)]
pub enum OrgCmd {
    /// List organizations.
    #[command(alias = "ls")]
    List {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Create an organization (needs an operator token).
    Create {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// Org name.
        #[arg(long, short = 'n')]
        name: String,
        /// Description.
        #[arg(long, short = 'd', default_value = "")]
        description: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `ferry auth ...`.
#[derive(Debug, Subcommand)]
pub enum AuthCmd {
    /// Create a token: all-access, or read/write on given buckets.
    Create {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// Every permission in the org.
        #[arg(long)]
        all_access: bool,
        /// Read permission on this bucket ID (repeatable).
        #[arg(long = "read-bucket")]
        read_bucket: Vec<String>,
        /// Write permission on this bucket ID (repeatable).
        #[arg(long = "write-bucket")]
        write_bucket: Vec<String>,
        /// Read permission on every bucket of the org.
        #[arg(long = "read-buckets")]
        read_buckets: bool,
        /// Write permission on every bucket of the org.
        #[arg(long = "write-buckets")]
        write_buckets: bool,
        /// Description.
        #[arg(long, short = 'd', default_value = "")]
        description: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List tokens (their secrets are never shown again).
    #[command(alias = "ls")]
    List {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete a token.
    Delete {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// Token ID.
        #[arg(long, short = 'i')]
        id: String,
    },
}

/// `ferry v1 ...`.
#[derive(Debug, Subcommand)]
pub enum V1Cmd {
    /// Database/retention-policy → bucket mappings.
    #[command(subcommand)]
    Dbrp(DbrpCmd),
}

/// `ferry v1 dbrp ...`.
#[derive(Debug, Subcommand)]
pub enum DbrpCmd {
    /// Map a 1.x database and retention policy to a bucket.
    Create {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// 1.x database name.
        #[arg(long)]
        db: String,
        /// 1.x retention policy name.
        #[arg(long)]
        rp: String,
        /// Target bucket ID.
        #[arg(long = "bucket-id")]
        bucket_id: String,
        /// Make this the database's default retention policy.
        #[arg(long)]
        default: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List mappings.
    #[command(alias = "ls")]
    List {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// Only this database.
        #[arg(long)]
        db: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete a mapping.
    Delete {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// Mapping ID.
        #[arg(long, short = 'i')]
        id: String,
    },
}

/// `ferry config ...`.
#[derive(Debug, Subcommand)]
pub enum ConfigCmd {
    /// Save a connection profile.
    Create {
        /// Where config profiles are stored.
        #[arg(long, env = "FERRY_CONFIGS_PATH")]
        configs_path: Option<PathBuf>,
        /// Profile name.
        #[arg(long = "config-name", short = 'n')]
        config_name: String,
        /// Node URL, e.g. http://127.0.0.1:8086.
        #[arg(long = "host-url", short = 'u')]
        host_url: String,
        /// Organization name.
        #[arg(long, short = 'o', default_value = "")]
        org: String,
        /// API token.
        #[arg(long, short = 't')]
        token: String,
        /// Make it the active profile.
        #[arg(long, short = 'a')]
        active: bool,
    },
    /// List profiles (tokens are not shown).
    #[command(alias = "ls")]
    List {
        /// Where config profiles are stored.
        #[arg(long, env = "FERRY_CONFIGS_PATH")]
        configs_path: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Make a profile the active one.
    Use {
        /// Where config profiles are stored.
        #[arg(long, env = "FERRY_CONFIGS_PATH")]
        configs_path: Option<PathBuf>,
        /// Profile name.
        name: String,
    },
    /// Delete a profile.
    #[command(alias = "rm")]
    Delete {
        /// Where config profiles are stored.
        #[arg(long, env = "FERRY_CONFIGS_PATH")]
        configs_path: Option<PathBuf>,
        /// Profile name.
        name: String,
    },
}

/// `ferry export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Client connection flags.
    #[command(flatten)]
    pub client: ClientArgs,
    /// Bucket name.
    #[arg(long, short = 'b', required_unless_present = "bucket_id")]
    pub bucket: Option<String>,
    /// Bucket ID (instead of --bucket).
    #[arg(long = "bucket-id")]
    pub bucket_id: Option<String>,
    /// Only this measurement.
    #[arg(long, short = 'm')]
    pub measurement: Option<String>,
    /// Only points at or after this time (RFC3339 or ns).
    #[arg(long)]
    pub start: Option<String>,
    /// Only points before this time (RFC3339 or ns).
    #[arg(long)]
    pub end: Option<String>,
    /// Write to this file instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
}
