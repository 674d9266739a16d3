//! Running a Flux task: its script over the buckets its token may use, with `now()` at the
//! run's scheduled time, under the node's background query limits.

use std::sync::Arc;

use ferry_catalog::{Authorization, Org};
use ferry_flux::query::Query;

use crate::flux_access::TokenBuckets;
use crate::flux_source::StoreSource;
use crate::node::Node;

/// Runs `script` as of `now` with `tasks.lastSuccess` at `last_success`; returns the points
/// its `to()` calls wrote. Results are drained and discarded, as InfluxDB's task executor does.
pub(crate) async fn run(
    node: &Arc<Node>,
    org: Org,
    auth: Option<Authorization>,
    script: &str,
    now: i64,
    last_success: i64,
) -> Result<usize, String> {
    let limits = node.queries.background_limits();
    let buckets = Arc::new(StoreSource(TokenBuckets::new(node.clone(), auth, org)));
    let script = script.to_string();
    tokio::task::spawn_blocking(move || {
        let memory_limit = match limits.memory_bytes {
            0 => usize::MAX,
            n => n,
        };
        let q = Query {
            script: &script,
            extern_file: None,
            now,
            memory_limit,
            last_success: Some(last_success),
        };
        let source: Arc<StoreSource<TokenBuckets>> = buckets.clone();
        ferry_store::coop::guarded(limits, || ferry_flux::query::run(&q, source))
            .map_err(|e| e.to_string())?
            .map_err(|e| e.message)?;
        Ok(buckets.0.written())
    })
    .await
    .map_err(|e| format!("the Flux task failed: {e}"))?
}
