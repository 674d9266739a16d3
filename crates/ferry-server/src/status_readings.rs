//! What the status page's sampler reads from the node each interval: every replication
//! stream's status and every open bucket's size (rows, bytes on disk, log bytes written).

use std::path::Path;

use crate::app::App;
use crate::status_history::{BucketReading, StreamReading, StreamSample};

/// One round of readings (streams, then buckets). Bucket sizes are read on a blocking
/// thread: they walk the bucket's directory.
pub async fn read(node: &App) -> (Vec<StreamReading>, Vec<BucketReading>) {
    let streams = node
        .catalog
        .all_replications()
        .unwrap_or_default()
        .into_iter()
        .map(|r| {
            let st = node.replications.status(&r.id);
            StreamReading {
                id: r.id,
                sample: StreamSample {
                    t_ms: 0,
                    lag_seconds: st.lag_seconds as f32,
                    lag_bytes: st.remaining_bytes_to_be_synced,
                    queue_bytes: st.current_queue_size_bytes,
                    bytes_sent: st.bytes_sent,
                },
            }
        })
        .collect();
    let engines = node.engines().await;
    let buckets = tokio::task::spawn_blocking(move || {
        engines
            .iter()
            .map(|e| {
                let store = e.store();
                // From the files' metadata and the buffers' counts: no index is read or built
                // (counting series built every measurement's series-key cache every sample,
                // megabytes at each persist on a big bucket).
                let rows = store
                    .measurements()
                    .iter()
                    .filter_map(|m| store.time_range(m))
                    .map(|r| r.rows_upper_bound)
                    .sum();
                BucketReading {
                    id: e.bucket_id.clone(),
                    rows,
                    disk_bytes: dir_bytes(e.dir()),
                    log_bytes: e.log().stats().bytes,
                }
            })
            .collect()
    })
    .await
    .unwrap_or_default();
    (streams, buckets)
}

/// Bytes of the regular files under `dir` (symlinks not followed).
fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map_or(0, |m| m.len()),
            _ => 0,
        })
        .sum()
}
