//! A stream's queue bounds: past `maxQueueSizeBytes` or `maxAgeSeconds`, the log range behind
//! its cursor becomes a [`Gap`] (refilled from the store later) and the cursor jumps to the
//! live end, so the log can drop those segments. Nothing is lost unless the bucket's retention
//! expires it.
//!
//! Bounds hold for every stream with a cursor, also one that cannot run (its remote writer
//! cannot be built, its token lost its permission): [`hold`] enforces them for such a stream
//! until it is stopped, so a stuck stream can never pin the log and fill the disk.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ferry_catalog::Replication;
use parking_lot::Mutex;
use tokio::sync::watch;

use super::control::Control;
use super::error::StreamError;
use super::gaps::{time_span, Gap, Gaps};
use super::status::{ReplicationStatus, StreamState};
use crate::engine::BucketEngine;

/// The name of a stream's cursor in its bucket log.
pub(crate) fn cursor_name(replication_id: &str) -> String {
    format!("replication-{replication_id}")
}

/// The replication ID a log cursor belongs to, if it is a stream's.
pub(crate) fn replication_of_cursor(cursor: &str) -> Option<&str> {
    cursor.strip_prefix("replication-")
}

/// How often a stream that cannot run checks its bounds.
const HOLD_CHECK: Duration = Duration::from_secs(1);

/// Applies `rep`'s bounds to its cursor in `engine`'s log (see the module docs).
pub(crate) async fn enforce(
    rep: &Replication,
    engine: &BucketEngine,
    gaps: &mut Gaps,
) -> Result<(), StreamError> {
    let name = cursor_name(&rep.id);
    let log = engine.log();
    let end = log.durable_end();
    let cursor = log.cursor(&name).unwrap_or(end);
    let queued = end.saturating_sub(cursor);
    let too_big = rep.max_queue_size_bytes > 0 && queued > rep.max_queue_size_bytes as u64;
    let too_old = rep.max_age_seconds > 0
        && queued > 0
        && engine
            .clock()
            .time_of(cursor)
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .is_some_and(|age| age.as_secs() as i64 > rep.max_age_seconds);
    if !too_big && !too_old {
        return Ok(());
    }
    let reader = log.clone();
    let span = tokio::task::spawn_blocking(move || -> Result<_, StreamError> {
        let mut acc: Option<(i64, i64, u64)> = None;
        for rec in reader.read_from(cursor)? {
            let (lsn, payload) = rec?;
            if lsn >= end {
                break;
            }
            if let Some((lo, hi, n)) = time_span(&payload) {
                acc = Some(match acc {
                    None => (lo, hi, n),
                    Some((a, b, c)) => (a.min(lo), b.max(hi), c + n),
                });
            }
        }
        Ok(acc)
    })
    .await??;
    if let Some((lo, hi, lines)) = span {
        gaps.push(Gap {
            start_ns: lo,
            end_ns: hi.saturating_add(1),
            lines,
            bytes: queued,
            measurement_index: 0,
            resume_ns: None,
        });
        gaps.save().map_err(|source| StreamError::GapFile {
            what: "save the stream's gaps",
            source,
        })?;
    }
    tracing::warn!(replication = %rep.id, queued_bytes = queued, reason = if too_big { "maxQueueSizeBytes" } else { "maxAgeSeconds" }, "replication fell too far behind: the skipped range will be refilled from the store");
    log.set_cursor(&name, end)
        .map_err(|source| StreamError::Cursor {
            what: "move the stream's log cursor",
            source,
        })
}

/// Updates the queue figures of `status` (queue bytes, lag, pending gaps).
pub(crate) fn refresh_queue(
    rep: &Replication,
    engine: &BucketEngine,
    gaps: &Gaps,
    status: &Mutex<ReplicationStatus>,
) {
    let log = engine.log();
    let end = log.durable_end();
    let cursor = log.cursor(&cursor_name(&rep.id)).unwrap_or(end);
    let q = end.saturating_sub(cursor);
    let lag = if q == 0 {
        0.0
    } else {
        engine
            .clock()
            .time_of(cursor)
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .map_or(0.0, |d| d.as_secs_f64())
    };
    let mut st = status.lock();
    st.current_queue_size_bytes = q;
    st.remaining_bytes_to_be_synced = q + gaps.pending_bytes();
    st.pending_gaps = gaps.list.len() as u64;
    st.lag_seconds = lag;
}

/// Keeps a stream that cannot run in "needs attention" with `why`, enforcing its bounds,
/// until its control says stop.
pub(crate) async fn hold(
    rep: Replication,
    engine: Arc<BucketEngine>,
    dir: PathBuf,
    status: Arc<Mutex<ReplicationStatus>>,
    mut control: watch::Receiver<Control>,
    why: String,
) {
    {
        let mut st = status.lock();
        st.state = StreamState::NeedsAttention;
        st.latest_error_message = Some(why);
    }
    loop {
        if control.borrow().stop {
            return;
        }
        match Gaps::load(&dir) {
            Ok(mut gaps) => {
                if let Err(e) = enforce(&rep, &engine, &mut gaps).await {
                    tracing::error!(replication = %rep.id, error = %e, "cannot enforce the queue bounds");
                }
                refresh_queue(&rep, &engine, &gaps, &status);
            }
            Err(e) => {
                tracing::error!(replication = %rep.id, error = %e, "cannot read the stream's gap file")
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(HOLD_CHECK) => {}
            r = control.changed() => if r.is_err() { return },
        }
    }
}
