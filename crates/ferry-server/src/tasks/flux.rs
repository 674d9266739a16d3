//! Running a Flux task: its script over the buckets its token may use, with `now()` at the
//! run's scheduled time, under the node's background query limits.

use std::sync::Arc;

use crate::flux_access::{run_query, FluxRun, TokenBuckets};
use crate::node::Node;
use ferry_catalog::{Authorization, Org};

/// Runs `script` as of `now` with `tasks.lastSuccess` at `last_success`; returns the points
/// its `to()` calls wrote and the leniencies that applied (for the run log). Results are
/// drained and discarded, as InfluxDB's task executor does.
pub(crate) async fn run(
    node: &Arc<Node>,
    org: Org,
    auth: Option<Authorization>,
    script: &str,
    now: i64,
    last_success: i64,
) -> Result<(usize, Vec<String>), String> {
    let limits = node.queries.background_limits();
    let buckets = TokenBuckets::new(node.clone(), auth, org);
    let script = script.to_string();
    let strict = node.config.flux_strict;
    tokio::task::spawn_blocking(move || {
        let run = FluxRun {
            script: &script,
            extern_file: None,
            now,
            last_success: Some(last_success),
            strict,
            discard_results: true,
        };
        run_query(buckets, run, limits)
            .map(|ran| (ran.written, ran.notes))
            .map_err(|e| e.message)
    })
    .await
    .map_err(|e| format!("the Flux task failed: {e}"))?
}
