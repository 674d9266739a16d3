//! The HTTP listener: accepts connections (plain TCP, or TLS with `--tls-cert`/`--tls-key`),
//! serves each with hyper's HTTP/1 under the node's connection limits, and drains them on
//! shutdown within a deadline.
//!
//! What a client that stalls or floods the node can hold, and for how long:
//! - **Headers**: a request head must arrive within `read_header_timeout` (also the longest
//!   a kept-alive connection may sit idle between requests: hyper uses one timer for both).
//!   A connection that sends nothing, or a few bytes a minute, is closed (slowloris).
//! - **Bodies**: each piece of a request body must arrive within `body_idle_timeout` of the
//!   previous one; a body that stops answers 408 and the connection closes.
//! - **Connections**: at most `max_connections` are served at once; past that the node stops
//!   accepting and new clients wait in the kernel's backlog until one ends, so memory and
//!   tasks stay bounded whatever the number of sockets a client opens.
//! - **Shutdown**: on SIGTERM the listener stops accepting, every connection finishes the
//!   request it is serving and closes; after `shutdown_timeout` the ones still open (a
//!   client stalled mid-body) are dropped, so the node always gets to persist and exit.
//!   A write cut off this way was not acknowledged, so nothing acknowledged is lost.
//!
//! HTTP/1 only: InfluxDB's clients, Telegraf and Grafana speak it, and hyper's auto (h1/h2)
//! builder has no timer while it detects the protocol, which would reopen the slowloris hole.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// Limits on what one connection may hold; see the module doc.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// Longest wait for a complete request head, and for the next request on an idle
    /// kept-alive connection.
    pub read_header_timeout: Duration,
    /// Longest pause between two pieces of a request body.
    pub body_idle_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
    /// How long shutdown waits for open requests before dropping their connections.
    pub shutdown_timeout: Duration,
}

impl Default for HttpLimits {
    /// 30 s for a head (hyper's default; Telegraf's 10 s flush interval keeps its connection
    /// alive), 30 s between body pieces, 512 connections (a 1 GB device serves them: an idle
    /// connection costs a task and about 16 KiB of buffers), 30 s to drain on shutdown
    /// (systemd's default stop timeout is 90 s).
    fn default() -> Self {
        HttpLimits {
            read_header_timeout: Duration::from_secs(30),
            body_idle_timeout: Duration::from_secs(30),
            max_connections: 512,
            shutdown_timeout: Duration::from_secs(30),
        }
    }
}

/// A PEM certificate chain and private key to serve HTTPS with.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The certificate chain (leaf first), PEM.
    pub cert: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1), PEM.
    pub key: PathBuf,
}

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or holds no usable PEM item.
    #[error("reading {path}: {source}")]
    Pem {
        /// the file
        path: PathBuf,
        /// The error from the operating system or parser, as it was reported.
        source: rustls::pki_types::pem::Error,
    },
    /// The file holds no certificate.
    #[error("{0}: no certificate found (expected a PEM \"BEGIN CERTIFICATE\" block)")]
    NoCertificate(PathBuf),
    /// rustls refused the pair (for example, the key does not match the certificate).
    #[error("the TLS certificate and key cannot be used: {0}")]
    Config(#[from] rustls::Error),
}

/// Builds the TLS acceptor from the files: read once at start; a bad file stops the start
/// with the file's name instead of failing every handshake later.
pub fn tls_acceptor(files: &TlsFiles) -> Result<tokio_rustls::TlsAcceptor, TlsError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|source| TlsError::Pem {
            path: files.cert.clone(),
            source,
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate(files.cert.clone()));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|source| TlsError::Pem {
        path: files.key.clone(),
        source,
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Serves `app` on `listener` until `shutdown` completes, then drains the connections (see
/// the module doc). Returns once every connection is closed or dropped.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    let limits = Arc::new(limits);
    tokio::pin!(shutdown);
    let mut warned_full = false;
    loop {
        // Reap finished connections so the set does not grow.
        while connections.try_join_next().is_some() {}
        let permit = match slots.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if !warned_full {
                    tracing::warn!(
                        max = limits.max_connections,
                        "connection limit reached; new connections wait until one closes (--http-max-connections)"
                    );
                    warned_full = true;
                }
                tokio::select! {
                    p = slots.clone().acquire_owned() => match p {
                        Ok(p) => p,
                        Err(_) => break,
                    },
                    _ = &mut shutdown => break,
                }
            }
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and friends: wait a little instead of spinning.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        if slots.available_permits() > limits.max_connections / 2 {
            warned_full = false;
        }
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let limits = limits.clone();
        let tls = tls.clone();
        let watcher = graceful.watcher();
        connections.spawn(async move {
            let _permit = permit;
            match tls {
                None => serve_connection(stream, app, &limits, watcher).await,
                Some(acceptor) => {
                    match tokio::time::timeout(limits.read_header_timeout, acceptor.accept(stream))
                        .await
                    {
                        Ok(Ok(tls_stream)) => {
                            serve_connection(tls_stream, app, &limits, watcher).await
                        }
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, error = %e, "TLS handshake failed")
                        }
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
            }
        });
    }
    drop(listener);
    tracing::info!(
        open = connections.len(),
        "no longer accepting connections; finishing open requests"
    );
    if tokio::time::timeout(limits.shutdown_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            open = connections.len(),
            timeout = ?limits.shutdown_timeout,
            "connections still open after the shutdown timeout are dropped (their requests were not acknowledged)"
        );
    }
    connections.abort_all();
    while connections.join_next().await.is_some() {}
}

/// Serves one connection with HTTP/1 until it closes or shutdown asks it to.
async fn serve_connection<I>(
    io: I,
    app: Router,
    limits: &HttpLimits,
    watcher: hyper_util::server::graceful::Watcher,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let body_idle = limits.body_idle_timeout;
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let req = req.map(|body| {
            axum::body::Body::new(tower_http::timeout::TimeoutBody::new(body_idle, body))
        });
        tower::ServiceExt::oneshot(app.clone(), req)
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.read_header_timeout)
        .serve_connection(TokioIo::new(io), service);
    if let Err(e) = watcher.watch(conn).await {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

/// Whether a body read failed because the client paused longer than `body_idle_timeout`.
pub fn is_body_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if err.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        cur = err.source();
    }
    false
}
