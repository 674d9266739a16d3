//! `ferry serve`.

use std::time::Duration;

use crate::cli::ServeArgs;
use ferry_server::{InitOptions, NodeConfig, ServeError, ServeOptions};

/// Runs the node until SIGINT/SIGTERM.
pub async fn run(a: ServeArgs) -> Result<(), ServeError> {
    if a.unsafe_no_fsync {
        tracing::warn!("--unsafe-no-fsync: writes are acknowledged before they are durable");
    }
    ferry_store::slices::set_budget(a.query_cache_bytes);
    let opts = ServeOptions {
        node: NodeConfig {
            data_dir: a.data_dir,
            max_body_bytes: a.max_body_bytes,
            auth_enabled: !a.no_auth,
            fsync: !a.unsafe_no_fsync,
            buffer_limit_bytes: a.buffer_bytes,
            persist_interval: Duration::from_secs(a.persist_interval_secs.max(1)),
            query_limits: ferry_server::QueryLimits {
                timeout: a.query_timeout,
                memory_bytes: a.query_memory_bytes,
                total_memory_bytes: a.queries_memory_bytes,
                max_concurrent: a.max_concurrent_queries,
                max_series: a.max_select_series,
                max_points: a.max_select_point,
                max_buckets: a.max_select_buckets,
            },
            secret_key_file: a.secret_key_file,
            flux_strict: a.flux_strict,
            replication_memory_bytes: a.replication_memory_bytes,
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
