//! `ferry serve`: its flags, environment variables and help ([`ServeArgs`], also the keys of
//! `--config` files, read by `serve_config.rs` through clap), their duration parsers, and the
//! start of the node.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use ferry_server::memory_limit::{Budgets, WRITE_MEMORY_BUFFERS};
use ferry_server::{InitOptions, NodeConfig, ServeError, ServeOptions};

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
    /// The node's memory in all, e.g. `256MiB`, `1GiB`; 0 for none. Each budget below that
    /// holds memory (buffers and writes in progress, one bucket's buffer, the queries, the
    /// query cache, replication, the largest body) is lowered to its share of it (1/4, 1/8,
    /// 1/4 and 1/8 per query, 1/8, 1/16, 1/16); one set lower still wins. Past the write share
    /// writes wait for persists and then answer 503 with Retry-After instead of growing the
    /// buffers. Not yet bounded by it: open files' indexes, merges and the allocator's slack,
    /// so leave the OS limit (cgroup) about 2x this. Without it, writes wait past 4×
    /// --buffer-bytes.
    #[arg(long, env = "FERRY_MEMORY_LIMIT", default_value = "0", value_parser = crate::output::parse_bytes)]
    pub memory_limit: usize,
    /// Persist a bucket's in-memory buffer to Parquet past this many bytes (8 MiB holds
    /// 75,000-150,000 lines of six numeric fields: 56 bytes each, in vectors that grow by
    /// doubling).
    #[arg(long, env = "FERRY_BUFFER_BYTES", default_value_t = 8 * 1024 * 1024)]
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

/// Runs the node until SIGINT/SIGTERM.
pub async fn run(a: ServeArgs) -> Result<(), ServeError> {
    if a.unsafe_no_fsync {
        tracing::warn!("--unsafe-no-fsync: writes are acknowledged before they are durable");
    }
    let budgets = Budgets {
        write_memory: a.buffer_bytes.saturating_mul(WRITE_MEMORY_BUFFERS),
        buffer: a.buffer_bytes,
        queries_memory: a.queries_memory_bytes,
        query_memory: a.query_memory_bytes,
        query_cache: a.query_cache_bytes,
        replication: a.replication_memory_bytes,
        max_body: a.max_body_bytes,
    }
    .within(a.memory_limit);
    if a.memory_limit > 0 {
        tracing::info!(
            memory_limit = a.memory_limit,
            write_memory = budgets.write_memory,
            buffer = budgets.buffer,
            queries_memory = budgets.queries_memory,
            query_memory = budgets.query_memory,
            query_cache = budgets.query_cache,
            replication = budgets.replication,
            max_body = budgets.max_body,
            "memory limit shared out (bytes)"
        );
    }
    ferry_store::slices::set_budget(budgets.query_cache);
    let opts = ServeOptions {
        node: NodeConfig {
            data_dir: a.data_dir,
            max_body_bytes: budgets.max_body,
            auth_enabled: !a.no_auth,
            fsync: !a.unsafe_no_fsync,
            buffer_limit_bytes: budgets.buffer,
            write_memory_bytes: budgets.write_memory,
            persist_interval: Duration::from_secs(a.persist_interval_secs.max(1)),
            query_limits: ferry_server::QueryLimits {
                timeout: a.query_timeout,
                memory_bytes: budgets.query_memory,
                total_memory_bytes: budgets.queries_memory,
                max_concurrent: a.max_concurrent_queries,
                max_series: a.max_select_series,
                max_points: a.max_select_point,
                max_buckets: a.max_select_buckets,
            },
            secret_key_file: a.secret_key_file,
            flux_strict: a.flux_strict,
            replication_memory_bytes: budgets.replication,
            status_sample_interval: a.status_sample_interval,
        },
        bind: a.http_bind,
        init: (!a.no_init).then_some(InitOptions {
            org: a.init_org,
            bucket: a.init_bucket,
            token: a.init_token,
        }),
        http: ferry_server::HttpLimits {
            read_header_timeout: a.http_read_header_timeout,
            body_idle_timeout: a.http_body_idle_timeout,
            max_connections: a.http_max_connections as usize,
            shutdown_timeout: a.shutdown_timeout,
        },
        tls: a
            .tls_cert
            .zip(a.tls_key)
            .map(|(cert, key)| ferry_server::TlsFiles { cert, key }),
    };
    ferry_server::run(opts).await
}
