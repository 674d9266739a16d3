//! The command line: every command, flag and environment variable, with its help text.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Ferry: an InfluxDB-compatible edge node that moves InfluxDB data without losing any.
#[derive(Debug, Parser)]
#[command(name = "ferry", version = crate::version::LONG, about, long_about = None, propagate_version = true)]
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
    Export(Box<ExportArgs>),
    /// Remote servers that replications write to (InfluxDB 2/1/3, Cloud, Ferry, TDengine).
    #[command(subcommand)]
    Remote(RemoteCmd),
    /// Edge Data Replication: stream a local bucket's writes to a remote bucket.
    #[command(subcommand)]
    Replication(ReplicationCmd),
    /// Write line protocol or influx_inspect exports (files, URLs, stdin) to a bucket or target.
    Write(Box<crate::commands::write::WriteArgs>),
    /// Pull connector: copy (or keep following) a source InfluxDB 1.x/2.x into a target, in time windows; `ferry sync check` tests both ends.
    Sync(Box<SyncArgs>),
    /// Scheduled tasks: downsample a bucket or run an InfluxQL query, into a local bucket or a remote.
    #[command(subcommand)]
    Task(Box<crate::commands::task::TaskCmd>),
    /// Org secrets (e.g. task destination tokens); values are never printed.
    #[command(subcommand)]
    Secret(crate::commands::secret::SecretCmd),
    /// Run Flux (`/api/v2/query`, as `influx query`) or InfluxQL (`/query`) and print tables.
    Query(Box<QueryArgs>),
    /// Verify a stopped node's files (catalog, bucket logs and stores) and, with --repair,
    /// repair what can be repaired without losing anything still readable.
    Check(CheckArgs),
    /// Repair access to a stopped node: `ferry recovery create-operator` makes a new
    /// all-access token when the operator token was lost.
    #[command(subcommand)]
    Recovery(RecoveryCmd),
    /// Print Ferry's version and the commit it was built from.
    Version,
    /// Print a shell completion script, e.g. `ferry completion bash > /etc/bash_completion.d/ferry`
    /// (zsh: into a directory of your `fpath` as `_ferry`; fish: `~/.config/fish/completions/ferry.fish`).
    Completion(CompletionArgs),
}

/// `ferry recovery …`.
#[derive(Debug, Subcommand)]
pub enum RecoveryCmd {
    /// Make a new all-access operator token in a stopped node's catalog, print it and write
    /// it to <data-dir>/operator-token (0600), as `influxd recovery auth create-operator`.
    /// Needs no token, only access to the data dir's files; stop the node first.
    CreateOperator {
        /// The data dir of the stopped node.
        #[arg(long, env = "FERRY_DATA_DIR", default_value = "./ferry-data")]
        data_dir: PathBuf,
        /// The org the token belongs to (its name; default: the first org).
        #[arg(long)]
        org: Option<String>,
        /// The key that seals stored credentials, when not <data-dir>/secret.key.
        #[arg(long, env = "FERRY_SECRET_KEY_FILE")]
        secret_key_file: Option<PathBuf>,
    },
}

/// `ferry completion`.
#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `ferry check`.
#[derive(Debug, Args)]
#[command(
    after_help = "Exit status: 0 when nothing is wrong (or everything was repaired), 1 when a problem remains.\n\n\
What --repair does: cuts a torn log tail (kept in a .corrupt file), continues the log above the store's persisted LSN, \
replaces an unreadable cursors file (replications resend rather than skip), drops missing or unreadable data files from \
the manifest (their rows are lost; they were unreadable anyway). It never deletes data that still reads."
)]
pub struct CheckArgs {
    /// The data dir of a stopped node (a running node holds its lock; stop it first).
    #[arg(long, env = "FERRY_DATA_DIR", default_value = "./ferry-data")]
    pub data_dir: PathBuf,
    /// Repair what can be repaired (see below); without it nothing is changed.
    #[arg(long)]
    pub repair: bool,
}

/// `ferry query`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
ferry query 'from(bucket: \"default\") |> range(start: -1h) |> filter(fn: (r) => r._measurement == \"cpu\")'\n  \
ferry query --file downsample.flux --raw        # Flux from a file, annotated CSV as the node sends it\n  \
echo 'buckets()' | ferry query -                 # Flux from stdin\n  \
ferry query 'SELECT mean(usage) FROM cpu WHERE time > now() - 1h GROUP BY time(5m)' --db default\n  \
ferry query 'SHOW DATABASES'\n\n\
Flux runs in the org of --org/--org-id or the active config (POST /api/v2/query). Text that starts with an InfluxQL \
statement (SELECT, SHOW, CREATE, DROP, DELETE, ALTER, GRANT, REVOKE, KILL, EXPLAIN), or that comes with --db, is \
InfluxQL (/query); --flux or --influxql decide when the guess is wrong.")]
pub struct QueryArgs {
    /// The query: Flux, or InfluxQL (see below); `-` reads it from stdin.
    #[arg(required_unless_present = "file")]
    pub query: Option<String>,
    /// Read the query from this file (`-` for stdin), as the influx CLI's --file.
    #[arg(long, short = 'f', conflicts_with = "query")]
    pub file: Option<PathBuf>,
    /// The query is Flux, whatever it starts with.
    #[arg(long, conflicts_with = "influxql")]
    pub flux: bool,
    /// The query is InfluxQL, whatever it starts with.
    #[arg(long)]
    pub influxql: bool,
    /// Flux: print the annotated CSV as the node sends it instead of tables.
    #[arg(long, short = 'r')]
    pub raw: bool,
    /// InfluxQL: the database (a bucket's name, or the database of a 1.x mapping).
    #[arg(long)]
    pub db: Option<String>,
    /// InfluxQL: the retention policy.
    #[arg(long)]
    pub rp: Option<String>,
    /// InfluxQL: output format.
    #[arg(long, default_value = "table", value_parser = ["table", "csv", "json"])]
    pub format: String,
    /// InfluxQL: epoch precision of times (ns, u, ms, s, m, h); RFC3339 when not given.
    #[arg(long)]
    pub epoch: Option<String>,
    /// Connection.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// `ferry sync [check]`.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// `check`: test both ends (reachable, authenticated, database exists, target writable) and copy nothing.
    #[arg(value_parser = ["check"])]
    pub action: Option<String>,
    /// Default target connection (Ferry / InfluxDB 2), with --bucket.
    #[command(flatten)]
    pub client: ClientArgs,
    /// Source, range, windows, concurrency, target.
    #[command(flatten)]
    pub spec: ferry_sync::SyncSpec,
}

/// `ferry serve`.
#[derive(Debug, Args)]
#[command(
    after_help = "Every flag can also be set in a TOML file given with --config (keys are the flag names: \
`data-dir = \"/var/lib/ferry\"`, `http-bind = \"0.0.0.0:8086\"`). Precedence: flag > environment variable > file > default. \
`--print-config` shows the effective values and where each came from."
)]
pub struct ServeArgs {
    /// A TOML file of settings; its keys are these flags' names (e.g. `data-dir`). Flags and
    /// environment variables override it; unknown keys are refused.
    #[arg(long, env = "FERRY_CONFIG")]
    pub config: Option<PathBuf>,
    /// Print the effective configuration (with where each value came from) and exit.
    #[arg(long)]
    pub print_config: bool,
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
    /// Memory for decoded series kept for repeated small queries (a dashboard refreshing a
    /// host's last hours), in bytes; 0 turns the cache off. Large scans bypass it.
    #[arg(long, env = "FERRY_QUERY_CACHE_BYTES", default_value_t = ferry_store::slices::DEFAULT_BUDGET_BYTES)]
    pub query_cache_bytes: usize,
    /// Longest a query may run (InfluxDB 1.x's query-timeout), e.g. `2m`, `30s`; 0 for no
    /// limit. A query past it answers "query-timeout limit exceeded".
    #[arg(long, env = "FERRY_QUERY_TIMEOUT", default_value = "2m", value_parser = parse_secs)]
    pub query_timeout: std::time::Duration,
    /// Memory one query may use for what it reads and builds (scanned series, GROUP BY time
    /// windows, its answer), in bytes; 0 for no limit. A query past it stops with an error
    /// instead of taking the node's memory. Chunked raw queries stream in bounded memory.
    #[arg(long, env = "FERRY_QUERY_MEMORY_BYTES", default_value_t = ferry_server::QueryLimits::default().memory_bytes)]
    pub query_memory_bytes: usize,
    /// Memory all running queries may use together, in bytes; 0 for no limit.
    #[arg(long, env = "FERRY_QUERIES_MEMORY_BYTES", default_value_t = ferry_server::QueryLimits::default().total_memory_bytes)]
    pub queries_memory_bytes: usize,
    /// Queries that may run at once (InfluxDB 1.x's max-concurrent-queries); more are
    /// refused. 0 for no limit.
    #[arg(long, env = "FERRY_MAX_CONCURRENT_QUERIES", default_value_t = ferry_server::QueryLimits::default().max_concurrent)]
    pub max_concurrent_queries: usize,
    /// Series one query may read (InfluxDB 1.x's max-select-series); 0 for no limit.
    #[arg(long, env = "FERRY_MAX_SELECT_SERIES", default_value_t = 0)]
    pub max_select_series: usize,
    /// Points one query may read (InfluxDB 1.x's max-select-point); 0 for no limit.
    #[arg(long, env = "FERRY_MAX_SELECT_POINT", default_value_t = 0)]
    pub max_select_point: usize,
    /// GROUP BY time windows one series group may have (InfluxDB 1.x's
    /// max-select-buckets); 0 for no limit (the memory budget still bounds them).
    #[arg(long, env = "FERRY_MAX_SELECT_BUCKETS", default_value_t = 0)]
    pub max_select_buckets: usize,
    /// Persist buffers at least this often, in seconds.
    #[arg(long, env = "FERRY_PERSIST_INTERVAL", default_value_t = 60)]
    pub persist_interval_secs: u64,
    /// Skip fsync before acknowledging writes. Unsafe: for benchmarks only.
    #[arg(long, env = "FERRY_UNSAFE_NO_FSYNC", hide = true)]
    pub unsafe_no_fsync: bool,
    /// The key that seals remote tokens, passwords and secrets in the catalog (created on
    /// first start, 0600). Default: <data-dir>/secret.key. Keep a copy with your backups:
    /// without it the stored credentials cannot be read and must be set again.
    #[arg(long, env = "FERRY_SECRET_KEY_FILE")]
    pub secret_key_file: Option<PathBuf>,
    /// Serve HTTPS with this PEM certificate chain (leaf first); needs --tls-key. Without
    /// it the node speaks plain HTTP: keep it on the loopback or behind a TLS proxy, since
    /// tokens cross the network in every request.
    #[arg(long, env = "FERRY_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key (PKCS#8, PKCS#1 or SEC1) of --tls-cert.
    #[arg(long, env = "FERRY_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Longest wait for a request's headers, and for the next request on an idle kept-alive
    /// connection (slow or stalled clients are disconnected), e.g. `30s`.
    #[arg(long, env = "FERRY_HTTP_READ_HEADER_TIMEOUT", default_value = "30s", value_parser = parse_positive_secs)]
    pub http_read_header_timeout: std::time::Duration,
    /// Longest pause while a request body is arriving; past it the request answers 408.
    #[arg(long, env = "FERRY_HTTP_BODY_IDLE_TIMEOUT", default_value = "30s", value_parser = parse_positive_secs)]
    pub http_body_idle_timeout: std::time::Duration,
    /// Connections served at once; more wait in the kernel's queue until one closes.
    #[arg(long, env = "FERRY_HTTP_MAX_CONNECTIONS", default_value_t = ferry_server::HttpLimits::default().max_connections as u32, value_parser = clap::value_parser!(u32).range(1..))]
    pub http_max_connections: u32,
    /// On SIGTERM, how long open requests may take to finish before their connections are
    /// dropped (unacknowledged) and the node persists and exits.
    #[arg(long, env = "FERRY_SHUTDOWN_TIMEOUT", default_value = "30s", value_parser = parse_secs)]
    pub shutdown_timeout: std::time::Duration,
    /// Memory all replication streams' batches may hold at once, in bytes (each batch holds
    /// its `max_batch_bytes` from read to answer); streams past it wait their turn instead of
    /// growing the node. 0 for no limit.
    #[arg(long, env = "FERRY_REPLICATION_MEMORY_BYTES", default_value_t = 32 * 1024 * 1024)]
    pub replication_memory_bytes: u64,
    /// Refuse the InfluxDB guides' three Flux mistakes (`import "secrets"`, a negative
    /// `every`, a stray `]` before `)`) with InfluxDB's errors, instead of running them with a
    /// note (a query's `Ferry-Flux-Leniency` header, a task run's log). A query can ask for it
    /// alone with the header `Ferry-Flux-Strict: true`.
    #[arg(long, env = "FERRY_FLUX_STRICT")]
    pub flux_strict: bool,
    /// Threads that serve HTTP connections (default: half the cores, at least 1). Parsing,
    /// long queries and persists run on threads of their own; fewer connection threads
    /// answer short queries sooner (no thread wakes another to look for work).
    #[arg(long, env = "FERRY_HTTP_THREADS", value_parser = clap::value_parser!(u16).range(1..))]
    pub http_threads: Option<u16>,
    /// How often the status page (http://<bind>/) samples each replication stream's lag,
    /// queue and bytes sent for its charts, e.g. `10s`; it keeps 360 samples per stream
    /// (an hour at 10 s). The page refreshes at this interval too, at most every 5 s.
    #[arg(long, env = "FERRY_STATUS_SAMPLE_INTERVAL", default_value = "10s", value_parser = parse_positive_secs)]
    pub status_sample_interval: std::time::Duration,
}

impl ServeArgs {
    /// The number of HTTP connection threads: `--http-threads`, else half the cores (at
    /// least 1).
    pub fn connection_threads(&self) -> usize {
        match self.http_threads {
            Some(n) => usize::from(n),
            None => std::thread::available_parallelism()
                .map_or(1, |n| n.get() / 2)
                .max(1),
        }
    }
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
    #[arg(long, short = 'b', required_unless_present_any = ["bucket_id", "all_buckets", "source_url"])]
    pub bucket: Option<String>,
    /// Bucket ID (instead of --bucket).
    #[arg(long = "bucket-id")]
    pub bucket_id: Option<String>,
    /// Every bucket of the org (each in its own CONTEXT-DATABASE/RETENTION-POLICY section).
    #[arg(long = "all-buckets")]
    pub all_buckets: bool,
    /// Only points at or after this time (RFC3339 or ns).
    #[arg(long)]
    pub start: Option<String>,
    /// Only points before this time (RFC3339 or ns).
    #[arg(long)]
    pub end: Option<String>,
    /// Only line protocol (no influx_inspect DDL/DML/CONTEXT lines).
    #[arg(long)]
    pub lponly: bool,
    /// Gzip the output.
    #[arg(long)]
    pub compress: bool,
    /// Write to this file instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Export from a remote InfluxDB over HTTP instead (--source-url ...), and --measurement.
    #[command(flatten)]
    pub source: ferry_sync::SourceArgs,
}

/// `ferry remote ...` (the influx CLI's flags, plus `--kind` and Basic-auth credentials).
#[derive(Debug, Subcommand)]
pub enum RemoteCmd {
    /// Create a remote connection.
    Create {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// Remote name.
        #[arg(long, short = 'n')]
        name: String,
        /// Description.
        #[arg(long, short = 'd', default_value = "")]
        description: String,
        /// Base URL of the remote, e.g. https://cloud2.influxdata.com (a path prefix is kept).
        #[arg(long = "remote-url")]
        remote_url: String,
        /// API token for the remote (stored on the node, never shown again).
        #[arg(
            long = "remote-api-token",
            default_value = "",
            hide_default_value = true
        )]
        remote_api_token: String,
        /// Org ID on the remote (v2 remotes; 1.x remotes have none).
        #[arg(long = "remote-org-id")]
        remote_org_id: Option<String>,
        /// Skip TLS certificate verification for this remote.
        #[arg(long = "allow-insecure-tls")]
        allow_insecure_tls: bool,
        /// Write API the remote speaks: v2 (InfluxDB 2, Cloud, Ferry), v1, v3, tdengine.
        #[arg(long, default_value = "v2")]
        kind: String,
        /// Username for Basic auth (v1, tdengine).
        #[arg(long = "remote-username")]
        remote_username: Option<String>,
        /// Password for Basic auth (stored on the node, never shown again).
        #[arg(long = "remote-password")]
        remote_password: Option<String>,
        /// PEM file of an extra CA certificate to trust for this remote (path on the node).
        #[arg(long = "ca-cert-file")]
        ca_cert_file: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Change a remote connection.
    Update {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// Remote ID.
        #[arg(long, short = 'i')]
        id: String,
        /// New name.
        #[arg(long, short = 'n')]
        name: Option<String>,
        /// New description.
        #[arg(long, short = 'd')]
        description: Option<String>,
        /// New base URL.
        #[arg(long = "remote-url")]
        remote_url: Option<String>,
        /// New API token.
        #[arg(long = "remote-api-token")]
        remote_api_token: Option<String>,
        /// New remote org ID ("" clears it).
        #[arg(long = "remote-org-id")]
        remote_org_id: Option<String>,
        /// Skip TLS certificate verification (`--allow-insecure-tls=false` turns it off).
        #[arg(long = "allow-insecure-tls", num_args = 0..=1, default_missing_value = "true")]
        allow_insecure_tls: Option<bool>,
        /// New kind: v2, v1, v3, tdengine.
        #[arg(long)]
        kind: Option<String>,
        /// New Basic-auth username ("" clears it).
        #[arg(long = "remote-username")]
        remote_username: Option<String>,
        /// New Basic-auth password ("" clears it).
        #[arg(long = "remote-password")]
        remote_password: Option<String>,
        /// New CA certificate file ("" clears it).
        #[arg(long = "ca-cert-file")]
        ca_cert_file: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete a remote connection.
    Delete {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// Remote ID.
        #[arg(long, short = 'i')]
        id: String,
        /// Delete the replications that use it first.
        #[arg(long = "delete-replications")]
        delete_replications: bool,
    },
    /// List remote connections.
    #[command(alias = "ls", alias = "find")]
    List {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// Only the remote with this name.
        #[arg(long, short = 'n')]
        name: Option<String>,
        /// Only remotes with this URL.
        #[arg(long = "remote-url")]
        remote_url: Option<String>,
        /// Print JSON (every field; tokens are never returned).
        #[arg(long)]
        json: bool,
    },
}

/// Settings of `ferry replication create` and `update` beyond InfluxDB's.
#[derive(Debug, Args, Clone, Default)]
pub struct ReplicationExtras {
    /// Replicate only this measurement (repeatable; default all).
    #[arg(long = "measurement")]
    pub measurement: Vec<String>,
    /// Bandwidth limit, e.g. 5MB/s, 500kB/s, 30MB/min (uncompressed line protocol; kB =
    /// 1024 bytes, MB = 1024², as in `influx write --rate-limit`).
    #[arg(long = "rate-limit")]
    pub rate_limit: Option<String>,
    /// Tag added to every replicated point, key=value (repeatable), e.g. _instance_id=edge-7.
    #[arg(long = "add-tag")]
    pub add_tag: Vec<String>,
    /// Largest batch sent, in bytes of line protocol (default 500000).
    #[arg(long = "max-batch-bytes")]
    pub max_batch_bytes: Option<u64>,
}

/// `ferry replication ...` (the influx CLI's flags, plus Ferry's).
#[derive(Debug, Subcommand)]
pub enum ReplicationCmd {
    /// Create a replication.
    Create {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// Replication name.
        #[arg(long, short = 'n')]
        name: String,
        /// Description.
        #[arg(long, short = 'd', default_value = "")]
        description: String,
        /// Remote to write to.
        #[arg(long = "remote-id")]
        remote_id: String,
        /// Local bucket to replicate: its ID (16 hex digits) or its name. An ID of an existing
        /// bucket is taken as that bucket; any other value as a name.
        #[arg(long = "local-bucket", visible_alias = "local-bucket-id")]
        local_bucket: String,
        /// Remote bucket: 16 hex digits are sent as its ID, anything else as its name (`db/rp`
        /// or `db` for 1.x remotes).
        #[arg(
            long = "remote-bucket",
            required_unless_present_any = ["remote_bucket_id", "remote_bucket_name"],
            conflicts_with_all = ["remote_bucket_id", "remote_bucket_name"]
        )]
        remote_bucket: Option<String>,
        /// Remote bucket, by ID.
        #[arg(long = "remote-bucket-id")]
        remote_bucket_id: Option<String>,
        /// Remote bucket, by name (even one that looks like an ID).
        #[arg(long = "remote-bucket-name")]
        remote_bucket_name: Option<String>,
        /// Bytes the stream may hold back before it records a gap (at least 33554430).
        #[arg(long = "max-queue-bytes", default_value_t = 67_108_860)]
        max_queue_bytes: i64,
        /// Drop lines the remote refuses as bad (400) instead of stopping on them.
        #[arg(
            long = "drop-non-retryable-data",
            conflicts_with = "no_drop_non_retryable_data"
        )]
        drop_non_retryable_data: bool,
        /// Do not drop lines the remote refuses (the default).
        #[arg(long = "no-drop-non-retryable-data")]
        no_drop_non_retryable_data: bool,
        /// Oldest unsent data held back: seconds or a duration like 7d (0 = no limit; else 60s to 60d).
        #[arg(long = "max-age", default_value = "604800")]
        max_age: String,
        /// Also send the data already in the bucket from this time (RFC3339).
        #[arg(long = "backfill-from")]
        backfill_from: Option<String>,
        /// Ferry's extra settings.
        #[command(flatten)]
        extras: ReplicationExtras,
        /// Check first that the remote accepts writes (an empty write).
        #[arg(long)]
        validate: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Change a replication.
    Update {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// Replication ID.
        #[arg(long, short = 'i')]
        id: String,
        /// New name.
        #[arg(long, short = 'n')]
        name: Option<String>,
        /// New description.
        #[arg(long, short = 'd')]
        description: Option<String>,
        /// New remote.
        #[arg(long = "remote-id")]
        remote_id: Option<String>,
        /// New remote bucket: 16 hex digits are sent as its ID, anything else as its name.
        #[arg(
            long = "remote-bucket",
            conflicts_with_all = ["remote_bucket_id", "remote_bucket_name"]
        )]
        remote_bucket: Option<String>,
        /// New remote bucket, by ID.
        #[arg(long = "remote-bucket-id")]
        remote_bucket_id: Option<String>,
        /// New remote bucket, by name (even one that looks like an ID).
        #[arg(long = "remote-bucket-name")]
        remote_bucket_name: Option<String>,
        /// New queue bound in bytes.
        #[arg(long = "max-queue-bytes")]
        max_queue_bytes: Option<i64>,
        /// Drop lines the remote refuses as bad.
        #[arg(
            long = "drop-non-retryable-data",
            conflicts_with = "no_drop_non_retryable_data"
        )]
        drop_non_retryable_data: bool,
        /// Stop dropping lines the remote refuses.
        #[arg(long = "no-drop-non-retryable-data")]
        no_drop_non_retryable_data: bool,
        /// New age bound: seconds or a duration (0 = no limit).
        #[arg(long = "max-age")]
        max_age: Option<String>,
        /// Ferry's extra settings (`--measurement` replaces the list, `--rate-limit none` removes the limit, `--add-tag` replaces the tags).
        #[command(flatten)]
        extras: ReplicationExtras,
        /// Replicate every measurement again.
        #[arg(long = "all-measurements", conflicts_with = "measurement")]
        all_measurements: bool,
        /// Remove the added tags.
        #[arg(long = "no-add-tags", conflicts_with = "add_tag")]
        no_add_tags: bool,
        /// Check first that the remote accepts writes.
        #[arg(long)]
        validate: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete a replication (its unsent data is no longer kept for it).
    Delete {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// Replication ID.
        #[arg(long, short = 'i')]
        id: String,
    },
    /// List replications with their status.
    #[command(alias = "ls", alias = "find")]
    List {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// Only the replication with this name.
        #[arg(long, short = 'n')]
        name: Option<String>,
        /// Only replications to this remote.
        #[arg(long = "remote-id")]
        remote_id: Option<String>,
        /// Only replications of this local bucket.
        #[arg(long = "local-bucket-id")]
        local_bucket_id: Option<String>,
        /// Print JSON (every field).
        #[arg(long)]
        json: bool,
    },
    /// Pause a replication: nothing is sent; the node keeps its data (up to the queue bounds).
    Pause {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// Replication ID.
        #[arg(long, short = 'i')]
        id: String,
    },
    /// Resume a paused (or stopped on an error) replication.
    Resume {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// Replication ID.
        #[arg(long, short = 'i')]
        id: String,
    },
    /// Check that the remote accepts the replication's writes (an empty write).
    Validate {
        /// Client connection flags.
        #[command(flatten)]
        client: ClientArgs,
        /// Replication ID.
        #[arg(long, short = 'i')]
        id: String,
    },
}

/// A duration flag (`2m`, `30s`, `1h`, `0`), with the retention grammar of
/// [`crate::output::parse_seconds`].
fn parse_positive_secs(s: &str) -> Result<std::time::Duration, String> {
    match parse_secs(s)? {
        d if d.is_zero() => Err(format!("invalid duration {s:?}: must be at least 1s")),
        d => Ok(d),
    }
}

fn parse_secs(s: &str) -> Result<std::time::Duration, String> {
    let secs = crate::output::parse_seconds(s)?;
    u64::try_from(secs)
        .map(std::time::Duration::from_secs)
        .map_err(|_| format!("invalid duration {s:?}: must not be negative"))
}
