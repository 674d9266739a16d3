//! Ferry's HTTP server: the InfluxDB-compatible API over the node (catalog + bucket engines).
//!
//! [`run`] opens the node, replays every bucket log, binds the listener, serves until a
//! shutdown signal, then persists every store and closes the logs.

pub mod auth;
pub mod body;
pub mod clock;
pub mod delete_predicate;
pub mod engine;
pub mod error;
pub mod http;
mod lpout;
pub mod node;
pub mod queries;
pub mod replication;
pub mod tasks;
pub mod timeparse;
pub mod windows;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use error::ApiError;
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
        /// why
        source: std::io::Error,
    },
    /// The bound address could not be written to the data dir.
    #[error("writing {path}: {source}")]
    AddrFile {
        /// the file
        path: std::path::PathBuf,
        /// why
        source: std::io::Error,
    },
    /// The compaction thread could not be started.
    #[error("starting the compaction thread: {0}")]
    Compactor(std::io::Error),
}

/// Runs the node until SIGINT/SIGTERM. On first start with `init`, creates the org, bucket
/// and operator token and prints the token once on stdout.
pub async fn run(opts: ServeOptions) -> Result<(), ServeError> {
    let node = Arc::new(Node::open(opts.node.clone())?);
    let mut first_start = None;
    if let Some(init) = &opts.init {
        if !node.catalog.is_set_up().map_err(ApiError::from)? {
            first_start = Some(
                node.catalog
                    .setup(&init.org, &init.bucket, 0, init.token.clone())
                    .map_err(ApiError::from)?,
            );
        }
    }
    node.open_all().await?;
    node.replications.start_all(&node).await;
    node.tasks.start(&node);
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
    std::fs::write(&addr_path, format!("{addr}\n")).map_err(|source| ServeError::AddrFile {
        path: addr_path.clone(),
        source,
    })?;
    if let Some(r) = first_start {
        print_first_start(&opts.node.data_dir, addr, &r);
    }
    tracing::info!(%addr, data_dir = %opts.node.data_dir.display(), auth = opts.node.auth_enabled, "ferry listening on http://{addr}");

    let background = tokio::spawn(background_loop(node.clone()));
    let compaction = Arc::new(std::sync::atomic::AtomicBool::new(false));
    spawn_compactor(node.clone(), compaction.clone())?;
    let app = http::router(node.clone());
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|source| ServeError::Listen { addr, source })?;
    background.abort();
    compaction.store(true, std::sync::atomic::Ordering::Release);
    node.tasks.shutdown().await;
    node.replications.shutdown().await;
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
    let _ = std::fs::remove_file(&addr_path);
    Ok(())
}

/// Prints what the first start created, with the operator token, once.
fn print_first_start(data_dir: &std::path::Path, addr: SocketAddr, r: &ferry_catalog::SetupResult) {
    let token = r.auth.token.as_deref().unwrap_or_default();
    println!(
        "Ferry initialised {}: org {:?} ({}), bucket {:?} ({}), also 1.x database {:?} rp \"autogen\".",
        data_dir.display(),
        r.org.name,
        r.org.id,
        r.bucket.name,
        r.bucket.id,
        r.bucket.name
    );
    println!("Operator token (all access; shown only this once, keep it safe):\n{token}");
    println!(
        "Try: curl -i -H 'Authorization: Token {token}' --data-binary 'cpu,host=a usage=0.5' 'http://{addr}/api/v2/write?org={}&bucket={}'",
        r.org.name, r.bucket.name
    );
}

/// Persists buffers when due (checked every 200 ms, so a full buffer is written out promptly)
/// and applies bucket retention once a minute.
async fn background_loop(node: Arc<Node>) {
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    let mut retention_due = tokio::time::Instant::now();
    loop {
        tick.tick().await;
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
            let res = tokio::task::spawn_blocking(move || -> Result<(), String> {
                e.maybe_persist(interval, false).map_err(|x| x.to_string())?;
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
