//! Draining the log: batches read from the cursor on, up to [`SEND_DEPTH`] in flight, the
//! cursor advancing over the acknowledged prefix in log order.

use std::collections::VecDeque;
use std::time::Duration;

use ferry_pipeline::{Backoff, RateLimiter, RejectedLinesFile};

use super::error::StreamError;
use super::send::{send_pieces, InFlight, SEND_DEPTH};
use super::stream::{Sent, Stream};
use super::transform::{split_origin, transform};

/// A draining stream persists its cursor at most this often.
const CURSOR_SYNC: Duration = Duration::from_millis(500);
/// Batches sent before the stream loop checks its bounds and controls again.
const DRAIN_BATCHES: usize = 256;

/// A batch read from the log: the bytes to send and where the cursor goes after it.
struct LogBatch {
    lp: Vec<u8>,
    origins: Vec<String>,
    lines: u64,
    next_lsn: u64,
}

impl Stream {
    /// Reads the next batch from the log (at most `max_batch_bytes` unless one record is
    /// larger): records of one origin set only, skipping records that came from the remote.
    async fn read_batch(&self, from: u64, remote_node_id: &str) -> Result<LogBatch, StreamError> {
        let log = self.log().clone();
        let end = log.durable_end();
        let max = self.rep.max_batch_bytes.max(1) as usize;
        let measurements = self.rep.measurements.clone();
        let add_tags = self.rep.add_tags.clone();
        let remote_id = remote_node_id.to_string();
        tokio::task::spawn_blocking(move || {
            let mut batch = LogBatch {
                lp: Vec::new(),
                origins: Vec::new(),
                lines: 0,
                next_lsn: from,
            };
            let mut first = true;
            for rec in log.read_from(from)? {
                let (lsn, payload) = rec?;
                if lsn >= end {
                    break;
                }
                let (origins, body) = split_origin(&payload);
                if !first && origins != batch.origins {
                    break; // one origin set per batch: the remote marks the whole batch
                }
                if !remote_id.is_empty() && origins.contains(&remote_id) {
                    batch.next_lsn = lsn + 8 + payload.len() as u64;
                    continue; // it came from the remote: do not send it back
                }
                if !first && batch.lp.len() + body.len() > max {
                    break;
                }
                first = false;
                batch.origins = origins;
                let before = batch.lp.len();
                transform(body, &measurements, &add_tags, &mut batch.lp);
                batch.lines += ferry_pipeline::batch::count_lines(&batch.lp[before..]) as u64;
                batch.next_lsn = lsn + 8 + payload.len() as u64;
                if batch.lp.len() >= max {
                    break;
                }
            }
            Ok(batch)
        })
        .await?
    }

    /// Drains the log from the cursor with up to [`SEND_DEPTH`] batches in flight. The cursor
    /// advances only over batches the remote accepted, in log order; on a failure the batches
    /// behind it are cancelled and resent later (harmless: points are idempotent), and the
    /// answers they already got are still counted in the metrics. After a failure
    /// (`attempt > 0`) one batch probes the remote alone; the pipeline opens again only once
    /// the remote accepts it, so a failing remote sees one request per backoff step. Returns
    /// when caught up, after a failure, on a control change, or after [`DRAIN_BATCHES`]
    /// batches so the main loop can check its bounds.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn drain(
        &self,
        remote_node_id: &str,
        rejected: &mut RejectedLinesFile,
        limiter: Option<&RateLimiter>,
        backoff: &Backoff,
        attempt: u32,
    ) -> Sent {
        let max = self.rep.max_batch_bytes.max(1) as usize;
        let mut read_pos = self.cursor();
        let mut inflight: VecDeque<InFlight> = VecDeque::new();
        let mut done = 0usize;
        // The cursor is persisted (two fsyncs) at most every CURSOR_SYNC, not per batch: after
        // a crash at most that much is sent again, which the remote absorbs (idempotent).
        let mut acked: Option<u64> = None;
        let mut synced_at = std::time::Instant::now();
        let mut depth = if attempt > 0 { 1 } else { SEND_DEPTH };
        let mut read_failed = false;
        let outcome = loop {
            while !read_failed
                && inflight.len() < depth
                && read_pos < self.log().durable_end()
                && done + inflight.len() < DRAIN_BATCHES
            {
                // holding nothing, wait for a share; holding batches, take one only if it is
                // free now, else settle what is held first (memory.rs: never wait holding)
                let share = if inflight.is_empty() {
                    self.budget.wait_for(max).await
                } else {
                    match self.budget.try_take(max) {
                        Some(share) => share,
                        None => break,
                    }
                };
                let batch = match self.read_batch(read_pos, remote_node_id).await {
                    Ok(b) => b,
                    Err(e) => {
                        self.attention(None, e.to_string());
                        read_failed = true;
                        break;
                    }
                };
                read_pos = batch.next_lsn;
                self.count_queued(batch.lines, batch.lp.len());
                if let Some(l) = limiter {
                    l.acquire(batch.lp.len() as u64).await;
                }
                let task = tokio::spawn(send_pieces(
                    self.writer.clone(),
                    batch.lp,
                    self.send_options(&batch.origins),
                    max,
                    1, // a log batch is one piece; batches are what the drain pipelines
                ));
                inflight.push_back((batch.next_lsn, task, share));
            }
            let Some((next_lsn, task, _share)) = inflight.pop_front() else {
                // Caught up (or at the batch budget), unless reading the log failed (reported
                // above). Not re-derived from the log's end: a write landing meanwhile is no
                // failure.
                break if read_failed {
                    Sent::Attention
                } else {
                    Sent::Ok
                };
            };
            let result = match task.await {
                Ok(r) => r,
                Err(e) => {
                    self.attention(None, format!("a send task failed: {e}"));
                    break Sent::Attention;
                }
            };
            match self.settle(result, rejected, backoff, attempt) {
                Sent::Ok => {
                    acked = Some(next_lsn);
                    done += 1;
                    depth = SEND_DEPTH;
                    if synced_at.elapsed() >= CURSOR_SYNC {
                        if let Sent::Attention = self.advance(next_lsn) {
                            break Sent::Attention;
                        }
                        acked = None;
                        synced_at = std::time::Instant::now();
                    }
                }
                other => break other,
            }
            if self.control.has_changed().unwrap_or(true) {
                break Sent::Ok;
            }
        };
        self.cancel_inflight(inflight).await;
        match acked {
            Some(lsn) => match self.advance(lsn) {
                Sent::Ok => outcome,
                failed => failed,
            },
            None => outcome,
        }
    }
}
