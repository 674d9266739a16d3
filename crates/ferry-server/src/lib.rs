//! Ferry's HTTP server: the InfluxDB-compatible API over the node (catalog + bucket engines).
//!
//! [`run`] opens the node, replays every bucket log, binds the listener, serves until a
//! shutdown signal, then persists every store and closes the logs.

pub mod api;
pub mod app;
pub mod auth;
pub mod body;
pub mod check;
pub mod clock;
pub mod delete_predicate;
pub mod engine;
pub mod error;
pub mod flux_access;
pub mod flux_source;
pub mod http;
pub mod listen;
mod lpout;
pub mod memory_limit;
pub mod metrics;
pub mod node;
pub mod queries;
pub mod recovery;
pub mod remote_target;
pub mod replication;
pub mod status_history;
mod status_readings;
mod status_report;
pub mod tasks;
pub mod timeparse;
pub mod windows;
pub mod write_gate;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use error::ApiError;
pub use listen::{HttpLimits, TlsFiles};
pub use node::{Node, NodeConfig};
pub use queries::QueryLimits;

/// First-start initialisation: the org, bucket and operator token to create.
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// Org name.
    pub org: String,
    /// Bucket name.
    pub bucket: String,
    /// Operator token; generated when `None`.
    pub token: Option<String>,
}

/// What `run` needs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Node settings.
    pub node: NodeConfig,
    /// Address to listen on; port 0 picks a free port (written to `<data-dir>/http-addr`).
    pub bind: SocketAddr,
    /// Initialise on first start; `None` leaves the node for `/api/v2/setup`.
    pub init: Option<InitOptions>,
    /// Timeouts and the connection limit of the listener.
    pub http: HttpLimits,
    /// Serve HTTPS with this certificate and key instead of plain HTTP.
    pub tls: Option<TlsFiles>,
}

/// Errors that stop the server.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Opening the node or a bucket failed.
    #[error("{0}")]
    Node(#[from] ApiError),
    /// The listener could not be bound or served.
    #[error("http listener on {addr}: {source}")]
    Listen {
        /// the address
        addr: SocketAddr,
        /// The error from the operating system or parser, as it was reported.
        source: std::io::Error,
    },
    /// A file of the data dir (the bound address, the operator token) could not be written.
    #[error("writing {path}: {source}")]
    DataFile {
        /// the file
        path: std::path::PathBuf,
        /// The error from the operating system or parser, as it was reported.
        source: std::io::Error,
    },
    /// The TLS certificate or key cannot be used.
    #[error("{0}")]
    Tls(#[from] listen::TlsError),
    /// The compaction thread could not be started.
    #[error("starting the compaction thread: {0}")]
    Compactor(std::io::Error),
}

/// Runs the node until SIGINT/SIGTERM. On first start with `init`, creates the org, bucket
/// and operator token; a generated token is kept in `<data-dir>/operator-token` and shown
/// on stdout when that is a terminal.
pub async fn run(opts: ServeOptions) -> Result<(), ServeError> {
    let tls = opts.tls.as_ref().map(listen::tls_acceptor).transpose()?;
    let node = Arc::new(Node::open(opts.node.clone())?);
    let mut first_start = None;
    if let Some(init) = &opts.init {
        if !node.catalog.is_set_up().map_err(ApiError::from)? {
            let r = node
                .catalog
                .setup(&init.org, &init.bucket, 0, init.token.clone())
                .map_err(ApiError::from)?;
            let token_file = match (&init.token, &r.auth.token) {
                (None, Some(token)) => Some(keep_operator_token(&opts.node.data_dir, token)?),
                _ => None,
            };
            first_start = Some((r, token_file));
        }
    }
    node.open_all().await?;
    let app = Arc::new(app::App::new(node.clone()));
    app.replications.start_all(&node).await;
    app.tasks.start(&node);
    let listener = tokio::net::TcpListener::bind(opts.bind)
        .await
        .map_err(|source| ServeError::Listen {
            addr: opts.bind,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| ServeError::Listen {
        addr: opts.bind,
        source,
    })?;
    let addr_path = opts.node.data_dir.join("http-addr");
    std::fs::write(&addr_path, format!("{addr}\n")).map_err(|source| ServeError::DataFile {
        path: addr_path.clone(),
        source,
    })?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    if let Some((r, token_file)) = first_start {
        print_first_start(&opts.node.data_dir, scheme, addr, &r, token_file.as_deref());
    }
    tracing::info!(%addr, data_dir = %opts.node.data_dir.display(), auth = opts.node.auth_enabled, "ferry listening on {scheme}://{addr}");

    let background = tokio::spawn(background_loop(node.clone()));
    let sampler = {
        let n = app.clone();
        tokio::spawn(status_history::run(
            node.status_history.clone(),
            move || {
                let n = n.clone();
                async move { status_readings::read(&n).await }
            },
        ))
    };
    let compaction = Arc::new(std::sync::atomic::AtomicBool::new(false));
    spawn_compactor(node.clone(), compaction.clone())?;
    let router = http::router(app.clone());
    listen::serve(listener, router, opts.http.clone(), tls, shutdown_signal()).await;
    background.abort();
    sampler.abort();
    compaction.store(true, std::sync::atomic::Ordering::Release);
    app.tasks.shutdown().await;
    app.replications.shutdown().await;
    tracing::info!("shutting down: persisting buffers");
    for engine in node.engines().await {
        let e = engine.clone();
        match tokio::task::spawn_blocking(move || e.close()).await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => {
                tracing::error!(bucket = %engine.bucket_id, error = %err, "could not persist on shutdown; the log keeps the data")
            }
            Err(err) => tracing::error!(error = %err, "shutdown task failed"),
        }
    }
    // The catalog file alone then holds the catalog (a copy of it misses nothing).
    if let Err(e) = node.catalog.checkpoint() {
        tracing::warn!(error = %e, "could not checkpoint the catalog's write-ahead log");
    }
    let _ = std::fs::remove_file(&addr_path);
    Ok(())
}

pub use recovery::OPERATOR_TOKEN_FILE;

/// Keeps a generated operator token in `<data-dir>/operator-token` (0600, fsynced).
fn keep_operator_token(
    data_dir: &std::path::Path,
    token: &str,
) -> Result<std::path::PathBuf, ServeError> {
    recovery::keep_operator_token(data_dir, token).map_err(|e| ServeError::DataFile {
        path: e.path,
        source: e.source,
    })
}

/// Says what the first start created. The operator token itself is shown only on a terminal:
/// a service's output goes to a journal; there the token's file is named instead. A token
/// given with `--init-token` is never echoed.
fn print_first_start(
    data_dir: &std::path::Path,
    scheme: &str,
    addr: SocketAddr,
    r: &ferry_catalog::SetupResult,
    token_file: Option<&std::path::Path>,
) {
    use std::io::IsTerminal;
    println!(
        "Ferry initialised {}: org {:?} ({}), bucket {:?} ({}), also 1.x database {:?} rp \"autogen\".",
        data_dir.display(),
        r.org.name,
        r.org.id,
        r.bucket.name,
        r.bucket.id,
        r.bucket.name
    );
    let shown = match token_file {
        None => {
            println!("Operator token: the one given with --init-token (FERRY_INIT_TOKEN).");
            "<your token>".to_string()
        }
        Some(path) if std::io::stdout().is_terminal() => {
            let token = r.auth.token.as_deref().unwrap_or_default();
            println!(
                "Operator token (all access; also kept in {}, readable by this user only):\n{token}",
                path.display()
            );
            token.to_string()
        }
        Some(path) => {
            println!(
                "Operator token (all access) written to {} (readable by this user only); not printed, since this output is not a terminal.",
                path.display()
            );
            format!("$(cat {})", path.display())
        }
    };
    if token_file.is_some() {
        println!(
            "Lost it? Stop the node and run `ferry recovery create-operator --data-dir {}` for a new one.",
            data_dir.display()
        );
    }
    println!(
        "Try: curl -i -H \"Authorization: Token {shown}\" --data-binary 'cpu,host=a usage=0.5' '{scheme}://{addr}/api/v2/write?org={}&bucket={}'",
        r.org.name, r.bucket.name
    );
}

/// Persists buffers when due (checked every 200 ms, so a full buffer is written out promptly,
/// and at once, every one past a quarter of its limit, when a write waits for memory: see
/// [`write_gate`]) and applies bucket retention once a minute.
async fn background_loop(node: Arc<Node>) {
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    let mut retention_due = tokio::time::Instant::now();
    loop {
        let pressed = tokio::select! {
            _ = tick.tick() => false,
            _ = node.write_gate.pressed() => true,
        };
        let apply_retention = tokio::time::Instant::now() >= retention_due;
        if apply_retention {
            retention_due = tokio::time::Instant::now() + Duration::from_secs(60);
        }
        for engine in node.engines().await {
            let interval = node.config.persist_interval;
            let retention = if apply_retention {
                node.catalog
                    .bucket_by_id(&engine.bucket_id)
                    .ok()
                    .map(|b| b.retention_seconds)
            } else {
                None
            };
            let e = engine.clone();
            let min_pressed = node.config.buffer_limit_bytes / 4;
            let res = tokio::task::spawn_blocking(move || -> Result<(), String> {
                // Pressed, a buffer persists early, unless it holds too little to be worth a
                // file (the writes in flight then fill the write memory; they free it as
                // they finish).
                let force = pressed && e.store().buffered_bytes() >= min_pressed;
                e.maybe_persist(interval, force).map_err(|x| x.to_string())?;
                let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
                if let Some(cutoff) = retention.and_then(|s| ferry_catalog::retention_cutoff_ns(s, now)) {
                    let dropped = e.store().drop_before(cutoff).map_err(|x| x.to_string())?;
                    if dropped > 0 {
                        tracing::info!(bucket = %e.bucket_id, partitions = dropped, "retention dropped old partitions");
                    }
                }
                Ok(())
            })
            .await;
            node.write_gate.memory_freed();
            match res {
                Ok(Ok(())) => {}
                Ok(Err(err)) => {
                    tracing::error!(bucket = %engine.bucket_id, error = %err, "background persist failed; data stays in the log")
                }
                Err(err) => tracing::error!(error = %err, "background task failed"),
            }
        }
    }
}

/// Scheduling priority (nice value) of the compaction thread: merges take the CPU that
/// writes and queries leave (as replication streams do, see
/// [`replication::STREAM_NICE`]). Under a bulk load files pile up a while and merge in the
/// idle time after it, instead of slowing every acknowledged write: at normal priority a
/// 10M-point load took 26–30 s against 19–20 s for the binary without the merges; at 19 it
/// took what that binary did (medians of 3 alternating loads, 27.6 against 28.0 s).
pub const COMPACTION_NICE: i32 = 19;

/// Starts the thread that compacts the stores (checked every second, until `stop`), apart
/// from [`background_loop`]: a long merge never holds back the persists that keep the
/// buffers bounded, since a store's merges run without its maintenance lock. A store with
/// nothing to merge costs a look at its file list. A merge cut short by the process ending
/// leaves an unlisted file, which the next start removes.
fn spawn_compactor(
    node: Arc<Node>,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> Result<(), ServeError> {
    let rt = tokio::runtime::Handle::current();
    std::thread::Builder::new()
        .name("ferry-compaction".into())
        .spawn(move || {
            // On Linux the nice value is per thread: PRIO_PROCESS with no PID sets this one's.
            if let Err(e) = rustix::process::setpriority_process(None, COMPACTION_NICE) {
                tracing::debug!(error = %e, "cannot lower the compaction thread's priority");
            }
            while !stop.load(std::sync::atomic::Ordering::Acquire) {
                // What the last merges freed goes back to the OS while this thread waits.
                ferry_alloc::collect_when_idle();
                std::thread::sleep(Duration::from_secs(1));
                for engine in rt.block_on(node.engines()) {
                    if stop.load(std::sync::atomic::Ordering::Acquire) {
                        return;
                    }
                    if let Err(err) = engine.store().compact() {
                        tracing::error!(bucket = %engine.bucket_id, error = %err, "compaction failed; the files stay as they are");
                    }
                }
            }
        })
        .map(drop)
        .map_err(ServeError::Compactor)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
