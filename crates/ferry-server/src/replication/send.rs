//! Sending a batch to the remote: in pieces of `maxBatchBytes` with the shared policy of
//! `ferry-pipeline` ([`send_pieces`]), and settling the answer ([`Stream::settle`]): the status,
//! the error metrics and the rejected-lines file record it, and it becomes what the stream
//! does next ([`Sent`]: go on, retry after a backoff, or wait for an operator).

use std::time::Duration;

use ferry_pipeline::{
    send_with_policy, Backoff, RateLimiter, RejectedLinesFile, RemoteWriter, SendHooks,
    SendOptions, SendResult, ORIGIN_HEADER,
};

use super::status::StreamState;
use super::stream::{Sent, Stream, Wake};

/// Batches a stream keeps in flight to its remote (each up to `max_batch_bytes`).
pub(super) const SEND_DEPTH: usize = 8;
/// How long a failed pipeline waits for the answers of the batches behind the failure, so
/// that every answer the remote gave is counted.
const CANCEL_GRACE: Duration = Duration::from_secs(2);

/// A batch in flight: the cursor position after it, its send task and its memory share.
pub(super) type InFlight = (
    u64,
    tokio::task::JoinHandle<PiecesResult>,
    super::memory::Share,
);

impl Stream {
    /// The send options of a batch from `origins`: the remote records that the data passed
    /// through them and this node (loop prevention).
    pub(super) fn send_options(&self, origins: &[String]) -> SendOptions {
        let mut via = origins.to_vec();
        via.push(self.node_id.clone());
        SendOptions {
            drop_bad_lines: self.rep.drop_non_retryable_data,
            extra_headers: vec![(ORIGIN_HEADER.to_string(), via.join(","))],
        }
    }

    pub(super) fn count_queued(&self, lines: u64, bytes: usize) {
        let mut c = self.counters.lock();
        c.points_queued += lines;
        c.bytes_queued += bytes as u64;
    }

    /// Sends one batch (split into `max_batch_bytes` pieces, up to [`SEND_DEPTH`] in flight)
    /// with the shared policy and records the outcome in the status. Used for gap refills.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn send(
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

    /// Cancels the batches still in flight behind a failed one. Their requests may already
    /// have reached the remote, so answers that arrive within [`CANCEL_GRACE`] are counted
    /// in the error metrics (the data is resent from the cursor either way).
    pub(super) async fn cancel_inflight(&self, inflight: std::collections::VecDeque<InFlight>) {
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
            *self.counters.lock().errors_by_code.entry(code).or_default() += 1;
        }
    }

    /// Records a batch's outcome in the status, counters and rejected-lines file, and says
    /// what the stream does next.
    pub(super) fn settle(
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
        let mut st = self.status.lock();
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
pub(super) struct PiecesResult {
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
pub(super) async fn send_pieces(
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
