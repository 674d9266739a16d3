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

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferry_catalog::Replication;
use ferry_lp::Precision;
use ferry_pipeline::{
    send_with_policy, Backoff, RateLimiter, RejectedLinesFile, RemoteWriter, SendHooks,
    SendOptions, SendResult,
};
use tokio::sync::watch;

use super::bounds::cursor_name;
use super::control::Control;
use super::gaps::{Gap, Gaps};
use super::status::{Counters, ReplicationStatus, StreamState};
use crate::engine::{BucketEngine, ORIGIN_PREFIX};
use ferry_pipeline::ORIGIN_HEADER;

/// How long a stream that needs attention waits before trying again on its own.
const ATTENTION_RETRY: Duration = Duration::from_secs(300);

/// Batches a stream keeps in flight to its remote (each up to `max_batch_bytes`).
const SEND_DEPTH: usize = 8;
/// How long a failed pipeline waits for the answers of the batches behind the failure, so
/// that every answer the remote gave is counted.
const CANCEL_GRACE: Duration = Duration::from_secs(2);
/// Longest wait between two attempts of a failing stream (unless `Retry-After` asks more).
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A draining stream persists its cursor at most this often.
const CURSOR_SYNC: Duration = Duration::from_millis(500);
/// Batches sent before the stream loop checks its bounds and controls again.
const DRAIN_BATCHES: usize = 256;

/// How long a ping of an unreachable remote may take (see [`Stream::wait`]).
const REACHABLE_PING_TIMEOUT: Duration = Duration::from_secs(2);

/// What ends a stream's wait early (besides a control change).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wake {
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

/// A batch read from the log: the bytes to send and where the cursor goes after it.
struct LogBatch {
    lp: Vec<u8>,
    origins: Vec<String>,
    lines: u64,
    next_lsn: u64,
}

enum Sent {
    Ok,
    /// Try again after `delay`; the wait also ends on what `wake` says.
    Retry {
        delay: Duration,
        wake: Wake,
    },
    Attention,
    Stop,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Stream {
    fn log(&self) -> &ferry_log::Log {
        self.engine.log()
    }

    fn cursor(&self) -> u64 {
        let log = self.log();
        log.cursor(&cursor_name(&self.rep.id))
            .unwrap_or_else(|| log.durable_end())
    }

    /// Creates a new stream's log cursor at the live end (and, with `backfillFrom`, the gap
    /// that backfills the stored data), durably; nothing for a stream that has its cursor.
    /// Called before the stream is reported created, so every write acknowledged after that
    /// is behind the cursor's start, whenever the stream's task gets to run (its runtime runs
    /// at a low priority: under load it may start well after the answer).
    pub fn ensure_cursor(&self) -> Result<(), String> {
        let name = cursor_name(&self.rep.id);
        if self.log().cursor(&name).is_some() {
            return Ok(());
        }
        if let Some(from) = self.rep.backfill_from_ns {
            // Everything stored from `from` on, future timestamps included; writes made from
            // now on also come through the log (resending is harmless: idempotent). Saved
            // before the cursor exists, so a crash in between cannot lose the backfill.
            let mut gaps = Gaps::load(&self.dir)
                .map_err(|e| format!("cannot read the stream's gap file: {e}"))?;
            gaps.push(Gap {
                start_ns: from,
                end_ns: i64::MAX,
                lines: 0,
                bytes: 0,
                measurement_index: 0,
                resume_ns: None,
            });
            gaps.save()
                .map_err(|e| format!("cannot write the stream's gap file: {e}"))?;
        }
        // A new stream starts at the live end; older data only by explicit backfill.
        let end = self.log().durable_end();
        self.log()
            .set_cursor(&name, end)
            .map_err(|e| format!("cannot create the stream's log cursor: {e}"))
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
            self.attention(None, e);
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
                self.attention(None, e);
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
                        let error = lock(&self.status).latest_error_message.clone();
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
        lock(&self.status).state = s;
    }

    /// Marks the stream as needing attention with `message` (and the remote's `code`), and
    /// logs it.
    pub(super) fn attention(&self, code: Option<u16>, message: String) {
        tracing::warn!(replication = %self.rep.id, name = %self.rep.name, %message, "replication needs attention");
        let mut st = lock(&self.status);
        st.state = StreamState::NeedsAttention;
        if code.is_some() {
            st.latest_response_code = code;
        }
        st.latest_error_message = Some(message);
    }

    fn refresh_queue(&self, gaps: &Gaps) {
        super::bounds::refresh_queue(&self.rep, &self.engine, gaps, &self.status);
    }

    fn advance(&self, next_lsn: u64) -> Sent {
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
    fn cover_log_holes(&self, gaps: &mut Gaps) -> Result<(), String> {
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
        gaps.save()
            .map_err(|e| format!("cannot save the stream's gaps: {e}"))?;
        self.log()
            .set_cursor(&cursor_name(&self.rep.id), last.to)
            .map_err(|e| format!("cannot move the stream's log cursor: {e}"))
    }

    /// Past `maxQueueSizeBytes` or `maxAgeSeconds`, the log range behind the cursor becomes a
    /// gap (see [`super::bounds::enforce`]).
    async fn enforce_bounds(&self, gaps: &mut Gaps) -> Result<(), String> {
        super::bounds::enforce(&self.rep, &self.engine, gaps).await
    }

    /// Reads the next batch from the log (at most `max_batch_bytes` unless one record is
    /// larger): records of one origin set only, skipping records that came from the remote.
    async fn read_batch(&self, from: u64, remote_node_id: &str) -> Result<LogBatch, String> {
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
            for rec in log.read_from(from).map_err(|e| e.to_string())? {
                let (lsn, payload) = rec.map_err(|e| e.to_string())?;
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
        .await
        .map_err(|e| e.to_string())?
    }

    /// The send options of a batch from `origins`: the remote records that the data passed
    /// through them and this node (loop prevention).
    fn send_options(&self, origins: &[String]) -> SendOptions {
        let mut via = origins.to_vec();
        via.push(self.node_id.clone());
        SendOptions {
            drop_bad_lines: self.rep.drop_non_retryable_data,
            extra_headers: vec![(ORIGIN_HEADER.to_string(), via.join(","))],
        }
    }

    fn count_queued(&self, lines: u64, bytes: usize) {
        let mut c = lock(&self.counters);
        c.points_queued += lines;
        c.bytes_queued += bytes as u64;
    }

    /// Sends one batch (split into `max_batch_bytes` pieces, up to [`SEND_DEPTH`] in flight)
    /// with the shared policy and records the outcome in the status. Used for gap refills.
    #[allow(clippy::too_many_arguments)]
    async fn send(
        &self,
        lp: Vec<u8>,
        origins: &[String],
        lines: u64,
        rejected: &mut RejectedLinesFile,
        limiter: Option<&RateLimiter>,
        backoff: &Backoff,
        attempt: u32,
    ) -> Sent {
        self.count_queued(lines, lp.len());
        if let Some(l) = limiter {
            l.acquire(lp.len() as u64).await;
        }
        let max = self.rep.max_batch_bytes.max(1) as usize;
        // After a failure one piece probes the remote alone, as in `drain`.
        let depth = if attempt > 0 { 1 } else { SEND_DEPTH };
        let result = send_pieces(
            self.writer.clone(),
            lp,
            self.send_options(origins),
            max,
            depth,
        )
        .await;
        self.settle(result, rejected, backoff, attempt)
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
    async fn drain(
        &self,
        remote_node_id: &str,
        rejected: &mut RejectedLinesFile,
        limiter: Option<&RateLimiter>,
        backoff: &Backoff,
        attempt: u32,
    ) -> Sent {
        let max = self.rep.max_batch_bytes.max(1) as usize;
        let mut read_pos = self.cursor();
        type InFlight = (
            u64,
            tokio::task::JoinHandle<PiecesResult>,
            super::memory::Share,
        );
        let mut inflight: std::collections::VecDeque<InFlight> = std::collections::VecDeque::new();
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
                        self.attention(None, e);
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

    /// Cancels the batches still in flight behind a failed one. Their requests may already
    /// have reached the remote, so answers that arrive within [`CANCEL_GRACE`] are counted
    /// in the error metrics (the data is resent from the cursor either way).
    async fn cancel_inflight(
        &self,
        inflight: std::collections::VecDeque<(
            u64,
            tokio::task::JoinHandle<PiecesResult>,
            super::memory::Share,
        )>,
    ) {
        let deadline = tokio::time::Instant::now() + CANCEL_GRACE;
        // each share is given back as its batch is settled or aborted
        for (_, mut h, _share) in inflight {
            match tokio::time::timeout_at(deadline, &mut h).await {
                Ok(Ok(r)) => self.count_failure(&r),
                _ => h.abort(),
            }
        }
    }

    /// Counts a failed send in `errors_by_code` (the remote_write_errors metric).
    fn count_failure(&self, r: &PiecesResult) {
        if let Some(code) = r.end.as_ref().and_then(failure_status) {
            *lock(&self.counters).errors_by_code.entry(code).or_default() += 1;
        }
    }

    /// Records a batch's outcome in the status, counters and rejected-lines file, and says
    /// what the stream does next.
    fn settle(
        &self,
        r: PiecesResult,
        rejected: &mut RejectedLinesFile,
        backoff: &Backoff,
        attempt: u32,
    ) -> Sent {
        for (line, status, message) in &r.rejected {
            if let Err(e) = rejected.append(line, *status, message) {
                tracing::error!(error = %e, "cannot write the rejected-lines file");
            }
        }
        self.count_failure(&r);
        let mut st = lock(&self.status);
        st.points_sent += r.sent_lines;
        st.bytes_sent += r.sent_bytes;
        st.points_dropped += r.rejected.len() as u64;
        st.bytes_dropped += r
            .rejected
            .iter()
            .map(|(l, _, _)| l.len() as u64 + 1)
            .sum::<u64>();
        match r.end {
            None => {
                st.latest_response_code = Some(204);
                st.latest_error_message = None;
                st.state = StreamState::Running;
                Sent::Ok
            }
            Some(SendResult::Retry {
                after,
                status,
                message,
                unreachable,
                ..
            }) => {
                st.latest_response_code = status;
                st.latest_error_message = Some(message);
                Sent::Retry {
                    delay: backoff.delay_after(attempt, after),
                    // no connection could be made: resume as soon as the remote answers
                    wake: if unreachable {
                        Wake::Reachable
                    } else {
                        Wake::Control
                    },
                }
            }
            Some(SendResult::NeedsAttention {
                status, message, ..
            }) => {
                drop(st);
                self.attention(Some(status), format!("the remote refused the write ({status}): {message}; fix the remote or its token, then update or resume the replication"));
                Sent::Attention
            }
            Some(SendResult::Stopped {
                status,
                line,
                message,
                ..
            }) => {
                drop(st);
                let at = line
                    .map(|l| {
                        format!(
                            " at line {:?}",
                            String::from_utf8_lossy(&l[..l.len().min(200)])
                        )
                    })
                    .unwrap_or_default();
                self.attention(Some(status), format!("the remote rejected data ({status}: {message}){at}; the stream stops here (set dropNonRetryableData to drop such lines into the rejected-lines file)"));
                Sent::Stop
            }
            Some(SendResult::Done { .. }) => Sent::Ok,
        }
    }

    /// Refills one window of the oldest gap from the store.
    async fn refill_step(
        &self,
        gaps: &mut Gaps,
        rejected: &mut RejectedLinesFile,
        limiter: Option<&RateLimiter>,
        backoff: &Backoff,
        attempt: u32,
    ) -> Sent {
        let store = self.engine.readable_store().await;
        let mut measurements = store.measurements();
        if !self.rep.measurements.is_empty() {
            measurements.retain(|m| self.rep.measurements.contains(m));
        }
        let gap = gaps.list[0].clone();
        let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
        if let Some(cutoff) = ferry_catalog::retention_cutoff_ns(self.retention_seconds, now) {
            if gap.start_ns < cutoff && gap.measurement_index == 0 && gap.resume_ns.is_none() {
                let expired = (cutoff.min(gap.end_ns) as i128 - gap.start_ns as i128) as f64
                    / (gap.end_ns as i128 - gap.start_ns as i128).max(1) as f64;
                let lost = (gap.lines as f64 * expired).round() as u64;
                if lost > 0 {
                    lock(&self.status).points_lost_to_retention += lost;
                    tracing::warn!(replication = %self.rep.id, points = lost, "part of a replication gap had already expired by the bucket's retention");
                }
            }
        }
        let Some(m) = measurements.get(gap.measurement_index).cloned() else {
            gaps.list.remove(0);
            let _ = gaps.save();
            return Sent::Ok;
        };
        let from = gap.resume_ns.unwrap_or(gap.start_ns);
        let window = store.time_range(&m).and_then(|r| {
            let lo = from.max(r.min_time);
            let hi = (gap.end_ns - 1).min(r.max_time);
            crate::windows::part_windows(lo, hi, r.min_time, r.max_time, r.rows_upper_bound)
                .into_iter()
                .next()
        });
        let Some((w_start, w_end)) = window else {
            let g = &mut gaps.list[0];
            g.measurement_index += 1;
            g.resume_ns = None;
            let _ = gaps.save();
            return Sent::Ok;
        };
        // a refill window is read whole: hold one batch's share meanwhile (memory.rs)
        let _share = self
            .budget
            .wait_for(self.rep.max_batch_bytes.max(1) as usize)
            .await;
        let add_tags = self.rep.add_tags.clone();
        let mm = m.clone();
        let lp = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, String> {
            let req = ferry_store::ScanRequest {
                measurement: mm.clone(),
                start_ns: w_start,
                end_ns: w_end,
                tag_filter: None,
                fields: None,
            };
            let mut raw = Vec::new();
            for s in store.scan(&req).map_err(|e| e.to_string())? {
                crate::lpout::write_series(&mut raw, &mm, &s);
            }
            let mut out = Vec::with_capacity(raw.len());
            transform(&raw, &[], &add_tags, &mut out);
            Ok(out)
        })
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r);
        let lp = match lp {
            Ok(lp) => lp,
            Err(e) => {
                self.attention(
                    None,
                    format!("cannot read the local store to refill a gap: {e}"),
                );
                return Sent::Attention;
            }
        };
        let lines = ferry_pipeline::batch::count_lines(&lp) as u64;
        let bytes = lp.len() as u64;
        let sent = if lp.is_empty() {
            Sent::Ok
        } else {
            self.send(lp, &[], lines, rejected, limiter, backoff, attempt)
                .await
        };
        if let Sent::Ok = sent {
            let g = &mut gaps.list[0];
            g.resume_ns = Some(w_end);
            g.bytes = g.bytes.saturating_sub(bytes);
            if w_end >= gap.end_ns {
                g.measurement_index += 1;
                g.resume_ns = None;
            }
            if let Err(e) = gaps.save() {
                self.attention(None, format!("cannot save the stream's gaps: {e}"));
                return Sent::Attention;
            }
        }
        sent
    }
}

/// The HTTP status of a send that failed, for the error metrics (`None` for network errors
/// and successes).
fn failure_status(r: &SendResult) -> Option<u16> {
    match r {
        SendResult::Retry { status, .. } => *status,
        SendResult::NeedsAttention { status, .. } | SendResult::Stopped { status, .. } => {
            Some(*status)
        }
        SendResult::Done { .. } => None,
    }
}

/// What sending one batch (in pieces) came to.
struct PiecesResult {
    sent_bytes: u64,
    sent_lines: u64,
    /// Lines the remote refused and the policy dropped: (line, status, message).
    rejected: Vec<(Vec<u8>, u16, String)>,
    /// `None` when every piece was sent; else the result that stopped the batch.
    end: Option<SendResult>,
}

/// Collects refused lines of one batch, so batches can be sent concurrently and their
/// rejections written in log order afterwards.
#[derive(Default)]
struct Collect(Vec<(Vec<u8>, u16, String)>);

impl SendHooks for Collect {
    fn rejected(&mut self, _at: usize, line: &[u8], status: u16, message: &str) {
        self.0.push((line.to_vec(), status, message.to_string()));
    }
}

/// Sends `lp` in pieces of at most `max` bytes with the shared policy, up to `depth` pieces
/// at a time, stopping at the first piece (in order) that does not go through. Pieces after
/// it may have been sent too; the caller resends the whole batch (points are idempotent).
async fn send_pieces(
    writer: RemoteWriter,
    lp: Vec<u8>,
    opts: SendOptions,
    max: usize,
    depth: usize,
) -> PiecesResult {
    use futures_util::stream::StreamExt as _;
    let mut out = PiecesResult {
        sent_bytes: 0,
        sent_lines: 0,
        rejected: Vec::new(),
        end: None,
    };
    let mut pieces = ferry_pipeline::batch::split_lines(&lp, max).into_iter();
    let mut answers = futures_util::stream::FuturesOrdered::new();
    loop {
        while answers.len() < depth.max(1) {
            match pieces.next() {
                Some(piece) => answers.push_back(send_piece(&writer, piece, &opts)),
                None => break,
            }
        }
        let Some((r, mut rejected)) = answers.next().await else {
            break;
        };
        out.rejected.append(&mut rejected);
        match r {
            SendResult::Done {
                sent_bytes,
                sent_lines,
                ..
            } => {
                out.sent_bytes += sent_bytes;
                out.sent_lines += sent_lines;
            }
            other => {
                out.end = Some(other);
                break;
            }
        }
    }
    out
}

/// Sends one piece with the shared policy; its answer and the lines the policy dropped.
async fn send_piece(
    writer: &RemoteWriter,
    piece: &[u8],
    opts: &SendOptions,
) -> (SendResult, Vec<(Vec<u8>, u16, String)>) {
    let mut hooks = Collect::default();
    let r = send_with_policy(writer, piece, opts, &mut hooks).await;
    (r, hooks.0)
}

/// Splits a log record into its origin node IDs (from a leading `# ferry-origin:` line) and
/// the line protocol after it.
fn split_origin(payload: &[u8]) -> (Vec<String>, &[u8]) {
    if let Some(rest) = payload.strip_prefix(ORIGIN_PREFIX) {
        let nl = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        let ids = String::from_utf8_lossy(&rest[..nl])
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        return (ids, &rest[(nl + 1).min(rest.len())..]);
    }
    (Vec::new(), payload)
}

/// Appends `body` to `out`, keeping only `measurements` (all when empty) and adding
/// `add_tags`; without either, the bytes are copied as they are (never re-parsed).
fn transform(
    body: &[u8],
    measurements: &[String],
    add_tags: &[(String, String)],
    out: &mut Vec<u8>,
) {
    if measurements.is_empty() && add_tags.is_empty() {
        out.extend_from_slice(body);
        if !body.is_empty() && !body.ends_with(b"\n") {
            out.push(b'\n');
        }
        return;
    }
    let batch = ferry_lp::parse_lines(body, Precision::Nanoseconds, 0);
    for mut p in batch.points {
        if !measurements.is_empty() && !measurements.contains(&p.measurement) {
            continue;
        }
        for (k, v) in add_tags {
            match p.tags.binary_search_by(|(tk, _)| tk.as_str().cmp(k)) {
                Ok(i) => p.tags[i].1 = v.clone(),
                Err(i) => p.tags.insert(i, (k.clone(), v.clone())),
            }
        }
        ferry_lp::write_point(out, &p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_line_is_split_off() {
        let (o, body) = split_origin(b"# ferry-origin:aa,bb\ncpu v=1 1\n");
        assert_eq!(o, vec!["aa".to_string(), "bb".to_string()]);
        assert_eq!(body, b"cpu v=1 1\n");
        let (o, body) = split_origin(b"cpu v=1 1\n");
        assert!(o.is_empty());
        assert_eq!(body, b"cpu v=1 1\n");
    }

    #[test]
    fn transform_filters_and_tags() {
        let mut out = Vec::new();
        transform(
            b"cpu,host=a v=1 1\nmem v=2 2\n",
            &["cpu".into()],
            &[("_edge".into(), "e1".into())],
            &mut out,
        );
        assert_eq!(out, b"cpu,_edge=e1,host=a v=1.0 1\n");
        let mut out = Vec::new();
        transform(b"cpu v=1 1", &[], &[], &mut out);
        assert_eq!(
            out, b"cpu v=1 1\n",
            "passed through as it is, newline-terminated"
        );
    }
}
