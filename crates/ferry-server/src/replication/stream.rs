//! One replication stream: a cursor over its bucket's log, sending batches to a remote.
//!
//! The loop, in order of priority: stop or pause when told; enforce the queue bounds (past
//! `maxQueueSizeBytes` or `maxAgeSeconds` the skipped log range becomes a [`Gap`]); send the
//! next batch from the cursor; when caught up, refill pending gaps from the store; otherwise
//! wait for new writes. The cursor moves only after the remote accepted a batch, so a crash
//! resends at most the batch in flight (points are idempotent on the remote).
//!
//! Responses go through the shared policy in `ferry-pipeline` (one place decides): retryable
//! failures back off exponentially with jitter, honouring `Retry-After`, and the wait is not
//! cut short by new writes; 413 splits, 400 bisects; 401/403/404 and refused lines without
//! `dropNonRetryableData` put the stream in "needs attention" until an operator acts.
//!
//! This file holds the stream's state and its loop; the work the loop hands out is in
//! `drain.rs` (sending the log from the cursor), `refill.rs` (sending a gap from the store),
//! `send.rs` (one batch to the remote and what its answer means) and `transform.rs` (the bytes
//! a stream sends).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ferry_catalog::Replication;
use ferry_pipeline::{Backoff, RateLimiter, RejectedLinesFile, RemoteWriter};
use parking_lot::Mutex;
use tokio::sync::watch;

use super::bounds::cursor_name;
use super::control::Control;
use super::error::StreamError;
use super::gaps::{Gap, Gaps};
use super::status::{Counters, ReplicationStatus, StreamState};
use crate::engine::BucketEngine;

/// How long a stream that needs attention waits before trying again on its own.
const ATTENTION_RETRY: Duration = Duration::from_secs(300);

/// Longest wait between two attempts of a failing stream (unless `Retry-After` asks more).
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// How long a ping of an unreachable remote may take (see [`Stream::wait`]).
const REACHABLE_PING_TIMEOUT: Duration = Duration::from_secs(2);

/// What ends a stream's wait early (besides a control change).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Wake {
    /// Only a control change (pause, resume, update, stop).
    Control,
    /// Also the remote answering a ping again (it could not be connected to).
    Reachable,
}

/// How often a paused stream re-checks its queue bounds.
const PAUSED_CHECK: Duration = Duration::from_secs(2);

/// Everything a stream needs; built by the manager.
pub(crate) struct Stream {
    pub rep: Replication,
    pub engine: Arc<BucketEngine>,
    pub writer: RemoteWriter,
    pub status: Arc<Mutex<ReplicationStatus>>,
    pub counters: Arc<Mutex<Counters>>,
    pub control: watch::Receiver<Control>,
    pub dir: PathBuf,
    pub node_id: String,
    pub retention_seconds: i64,
    /// The memory all streams' batches share (`memory.rs`).
    pub budget: Arc<super::memory::SendBudget>,
}

/// What sending came to, and so what the loop does next.
pub(super) enum Sent {
    Ok,
    /// Try again after `delay`; the wait also ends on what `wake` says.
    Retry {
        delay: Duration,
        wake: Wake,
    },
    Attention,
    Stop,
}

impl Stream {
    pub(super) fn log(&self) -> &crate::engine::BucketLog {
        self.engine.log()
    }

    pub(super) fn cursor(&self) -> u64 {
        let log = self.log();
        log.cursor(&cursor_name(&self.rep.id))
            .unwrap_or_else(|| log.durable_end())
    }

    /// Creates a new stream's log cursor at the live end (and, with `backfillFrom`, the gap
    /// that backfills the stored data), durably; nothing for a stream that has its cursor.
    /// Called before the stream is reported created, so every write acknowledged after that
    /// is behind the cursor's start, whenever the stream's task gets to run (its runtime runs
    /// at a low priority: under load it may start well after the answer).
    pub(crate) fn ensure_cursor(&self) -> Result<(), StreamError> {
        let name = cursor_name(&self.rep.id);
        if self.log().cursor(&name).is_some() {
            return Ok(());
        }
        if let Some(from) = self.rep.backfill_from_ns {
            // Everything stored from `from` on, future timestamps included; writes made from
            // now on also come through the log (resending is harmless: idempotent). Saved
            // before the cursor exists, so a crash in between cannot lose the backfill.
            let mut gaps = Gaps::load(&self.dir).map_err(|source| StreamError::GapFile {
                what: "read the stream's gap file",
                source,
            })?;
            gaps.push(Gap {
                start_ns: from,
                end_ns: i64::MAX,
                lines: 0,
                bytes: 0,
                measurement_index: 0,
                resume_ns: None,
            });
            gaps.save().map_err(|source| StreamError::GapFile {
                what: "write the stream's gap file",
                source,
            })?;
        }
        // A new stream starts at the live end; older data only by explicit backfill.
        let end = self.log().durable_end();
        self.log()
            .set_cursor(&name, end)
            .map_err(|source| StreamError::Cursor {
                what: "create the stream's log cursor",
                source,
            })
    }

    /// Runs until told to stop. The caller has created the cursor ([`Stream::ensure_cursor`])
    /// before reporting the stream created.
    pub async fn run(mut self) {
        let mut gaps = match Gaps::load(&self.dir) {
            Ok(g) => g,
            Err(e) => {
                self.attention(None, format!("cannot read the stream's gap file: {e}"));
                Gaps::default()
            }
        };
        if let Err(e) = self.cover_log_holes(&mut gaps) {
            self.attention(None, e.to_string());
        }
        let mut rejected = RejectedLinesFile::new(self.dir.join("rejected.lp"));
        // Capped at 30 s (InfluxDB: 256 s, then 15 min): a returning remote is found quickly,
        // and one small request every 30 s is no hammering.
        let backoff = Backoff {
            max: MAX_BACKOFF,
            ..Backoff::default()
        };
        let limiter = self
            .rep
            .rate_limit_bytes_per_sec
            .map(|b| RateLimiter::new(b as f64));
        let mut remote_node_id: Option<String> = None;
        let mut attempt: u32 = 0;
        let mut durable = self.log().subscribe();
        loop {
            let ctl = self.control.borrow_and_update().clone();
            if ctl.stop {
                return;
            }
            self.refresh_queue(&gaps);
            // Bounds apply in every state, paused included: a stopped stream must not make
            // the log grow without limit.
            if let Err(e) = self.enforce_bounds(&mut gaps).await {
                self.attention(None, e.to_string());
                if !self.wait(ATTENTION_RETRY, &mut gaps, Wake::Control).await {
                    return;
                }
                continue;
            }
            if ctl.paused {
                self.set_state(StreamState::Paused);
                tokio::select! {
                    r = self.control.changed() => if r.is_err() { return },
                    _ = tokio::time::sleep(PAUSED_CHECK) => {}
                }
                continue;
            }
            if remote_node_id.is_none() {
                remote_node_id = self.writer.probe().await.or(Some(String::new()));
            }
            let cursor = self.cursor();
            let outcome = if cursor < self.log().durable_end() {
                let remote_id = remote_node_id.clone().unwrap_or_default();
                self.drain(
                    &remote_id,
                    &mut rejected,
                    limiter.as_ref(),
                    &backoff,
                    attempt,
                )
                .await
            } else if !gaps.list.is_empty() {
                self.refill_step(
                    &mut gaps,
                    &mut rejected,
                    limiter.as_ref(),
                    &backoff,
                    attempt,
                )
                .await
            } else {
                self.set_state(StreamState::Running);
                attempt = 0;
                tokio::select! {
                    r = durable.changed() => if r.is_err() { return },
                    r = self.control.changed() => if r.is_err() { return },
                }
                continue;
            };
            match outcome {
                Sent::Ok => {
                    if attempt > 0 {
                        tracing::info!(replication = %self.rep.id, name = %self.rep.name, failed_attempts = attempt, "the remote accepts writes again");
                    }
                    attempt = 0;
                }
                Sent::Retry { delay, wake } => {
                    attempt = attempt.saturating_add(1);
                    self.set_state(StreamState::BackingOff);
                    // The first failure and then the 2nd, 4th, 8th…: an outage is seen in the
                    // log without a line per retry.
                    if attempt.is_power_of_two() {
                        let error = self.status.lock().latest_error_message.clone();
                        tracing::warn!(
                            replication = %self.rep.id,
                            name = %self.rep.name,
                            attempt,
                            retry_in = ?delay,
                            error = error.as_deref().unwrap_or("unknown"),
                            "cannot write to the remote; the data stays queued and is retried"
                        );
                    }
                    if !self.wait(delay, &mut gaps, wake).await {
                        return;
                    }
                }
                Sent::Attention | Sent::Stop => {
                    remote_node_id = None;
                    if !self.wait(ATTENTION_RETRY, &mut gaps, Wake::Control).await {
                        return;
                    }
                }
            }
        }
    }

    /// Sleeps `d`, refreshing the queue figures and enforcing the queue bounds every second;
    /// returns early on a control change (false when the stream must stop) and, with
    /// [`Wake::Reachable`] (the remote could not be connected to), as soon as it answers: it
    /// is pinged once a second (one small GET), so a remote back from an outage is written to
    /// at once instead of at the end of a backoff step of up to 30 s. A remote that answered
    /// or hung waits the whole backoff. New writes do not shorten the wait.
    async fn wait(&mut self, d: Duration, gaps: &mut Gaps, wake: Wake) -> bool {
        let deadline = tokio::time::Instant::now() + d;
        loop {
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return true;
            }
            let step = (deadline - now).min(Duration::from_secs(1));
            tokio::select! {
                _ = tokio::time::sleep(step) => {
                    if let Err(e) = self.enforce_bounds(gaps).await {
                        tracing::error!(replication = %self.rep.id, error = %e, "cannot enforce the queue bounds");
                    }
                    self.refresh_queue(gaps);
                    if wake == Wake::Reachable && self.writer.reachable(REACHABLE_PING_TIMEOUT).await {
                        tracing::info!(replication = %self.rep.id, "the remote answers again: retrying now");
                        return true;
                    }
                }
                r = self.control.changed() => return r.is_ok() && !self.control.borrow().stop,
            }
        }
    }

    fn set_state(&self, s: StreamState) {
        self.status.lock().state = s;
    }

    /// Marks the stream as needing attention with `message` (and the remote's `code`), and
    /// logs it.
    pub(super) fn attention(&self, code: Option<u16>, message: String) {
        tracing::warn!(replication = %self.rep.id, name = %self.rep.name, %message, "replication needs attention");
        let mut st = self.status.lock();
        st.state = StreamState::NeedsAttention;
        if code.is_some() {
            st.latest_response_code = code;
        }
        st.latest_error_message = Some(message);
    }

    fn refresh_queue(&self, gaps: &Gaps) {
        super::bounds::refresh_queue(&self.rep, &self.engine, gaps, &self.status);
    }

    /// Moves the cursor to `next_lsn` (durably), after the remote accepted what is before it.
    pub(super) fn advance(&self, next_lsn: u64) -> Sent {
        match self.log().set_cursor(&cursor_name(&self.rep.id), next_lsn) {
            Ok(()) => Sent::Ok,
            Err(e) => {
                self.attention(None, format!("cannot move the stream's log cursor: {e}"));
                Sent::Attention
            }
        }
    }

    /// Holes in the log ahead of the cursor (damage found at open) held records that can
    /// only be sent again from the store, and their times are unknown: the whole store
    /// becomes one gap (resending is harmless: the remote keeps the last value of a point),
    /// saved before the cursor jumps past the last hole, so a crash in between resends twice
    /// rather than never.
    fn cover_log_holes(&self, gaps: &mut Gaps) -> Result<(), StreamError> {
        let cursor = self.cursor();
        let holes = self.log().holes();
        let Some(last) = holes.iter().rev().find(|h| h.to > cursor) else {
            return Ok(());
        };
        let lost: u64 = holes
            .iter()
            .filter(|h| h.to > cursor)
            .map(|h| h.len())
            .sum();
        tracing::warn!(replication = %self.rep.id, lost_log_bytes = lost, "the bucket log lost records this stream had not sent: everything stored will be sent again from the store");
        gaps.push(Gap {
            start_ns: i64::MIN,
            end_ns: i64::MAX,
            lines: 0,
            bytes: lost,
            measurement_index: 0,
            resume_ns: None,
        });
        gaps.save().map_err(|source| StreamError::GapFile {
            what: "save the stream's gaps",
            source,
        })?;
        self.log()
            .set_cursor(&cursor_name(&self.rep.id), last.to)
            .map_err(|source| StreamError::Cursor {
                what: "move the stream's log cursor",
                source,
            })
    }

    /// Past `maxQueueSizeBytes` or `maxAgeSeconds`, the log range behind the cursor becomes a
    /// gap (see [`super::bounds::enforce`]).
    async fn enforce_bounds(&self, gaps: &mut Gaps) -> Result<(), StreamError> {
        super::bounds::enforce(&self.rep, &self.engine, gaps).await
    }
}
