//! The writer thread (group commit, segment rolls, repair after a failed group) and the
//! commit thread (acknowledgements and `on_commit`).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc};
use std::{io, thread};

use ferry_fs::AppendFile;
use tokio::sync::oneshot;

use crate::segment::{create_segment, parse_segment_name, segment_name, sync_dir};
use crate::shared::{Failure, Inbox, Pending, Shared};
use crate::types::{
    io_err, CommittedRecord, LogError, Lsn, OnCommit, RECORD_HEADER_LEN, SEGMENT_HEADER_LEN,
};
pub(crate) struct Writer<A> {
    pub(crate) shared: Arc<Shared>,
    pub(crate) inbox: Arc<Inbox<A>>,
    pub(crate) file: Box<dyn AppendFile>,
    pub(crate) path: PathBuf,
    pub(crate) base: Lsn,
    pub(crate) end: Lsn,
    /// End of the last group whose write and fsync succeeded: everything below is durable.
    pub(crate) synced_end: Lsn,
    pub(crate) buf: Vec<u8>,
}

/// A durable group on its way to `on_commit` and its waiters.
pub(crate) struct CommitJob<A> {
    pub(crate) records: Vec<CommittedRecord<A>>,
    pub(crate) txs: Vec<(oneshot::Sender<Result<Lsn, LogError>>, Lsn)>,
    pub(crate) end: Lsn,
}

/// Pipelining: the writer thread writes and fsyncs group N+1 while the committer thread
/// answers group N's waiters and runs `on_commit` for it. Groups reach the committer in LSN
/// order through one bounded channel, so `on_commit` still sees every record in LSN order, a
/// waiter is answered only after its record is durable, and a slow `on_commit` holds back
/// acknowledgements only through the channel's bound (backpressure), not by its latency.
pub(crate) const COMMIT_PIPELINE_DEPTH: usize = 2;

pub(crate) struct Committer<A> {
    pub(crate) shared: Arc<Shared>,
    pub(crate) on_commit: OnCommit<A>,
}

impl<A> Committer<A> {
    pub(crate) fn run(mut self, jobs: mpsc::Receiver<CommitJob<A>>) {
        loop {
            let job = match jobs.try_recv() {
                Ok(job) => job,
                Err(mpsc::TryRecvError::Disconnected) => return,
                Err(mpsc::TryRecvError::Empty) => {
                    // Nothing queued: the points this thread put in the store's buffer are
                    // freed by persists on other threads, and only this thread can give
                    // their pages back.
                    ferry_alloc::collect_when_idle();
                    match jobs.recv() {
                        Ok(job) => job,
                        Err(_) => return,
                    }
                }
            };
            // A job here is durable; only a broken consumer keeps it from being acknowledged
            // (an I/O failure of a later group does not).
            if let Some(reason) = self.shared.fatal_reason() {
                for (tx, _) in job.txs {
                    let _ = tx.send(Err(LogError::Failed {
                        reason: reason.clone(),
                    }));
                }
                continue;
            }
            // The group is durable: publish it for readers first, so that a cursor set from
            // inside or right after `on_commit` never lies beyond the published end.
            self.shared.durable.store(job.end, Ordering::SeqCst);
            self.shared.durable_tx.send_replace(job.end);
            // Durable: acknowledge now, so the writers' latency is the fsync's, not the
            // consumer's.
            for (tx, lsn) in job.txs {
                let _ = tx.send(Ok(lsn));
            }
            let on_commit = &mut self.on_commit;
            let records = job.records;
            let callback = catch_unwind(AssertUnwindSafe(|| on_commit(records)));
            if callback.is_err() {
                self.shared
                    .fail(Failure::Fatal("on_commit panicked".to_string()));
            }
        }
    }
}

impl<A: Send + 'static> Writer<A> {
    pub(crate) fn run(mut self, on_commit: OnCommit<A>) {
        let (jobs_tx, jobs_rx) = mpsc::sync_channel::<CommitJob<A>>(COMMIT_PIPELINE_DEPTH);
        let committer = Committer {
            shared: self.shared.clone(),
            on_commit,
        };
        let committer = match thread::Builder::new()
            .name("ferry-log-commit".into())
            .spawn(move || committer.run(jobs_rx))
        {
            Ok(h) => h,
            Err(e) => {
                self.shared.fail(Failure::Fatal(format!(
                    "cannot start the commit thread: {e}"
                )));
                return;
            }
        };
        loop {
            let batch = {
                let mut q = self.inbox.queue.lock();
                loop {
                    if !q.pending.is_empty() {
                        break std::mem::take(&mut q.pending);
                    }
                    if q.closed {
                        drop(q);
                        drop(jobs_tx);
                        let _ = committer.join();
                        return;
                    }
                    self.inbox.cv.wait(&mut q);
                }
            };
            if let Some(job) = self.commit(batch) {
                if jobs_tx.send(job).is_err() {
                    self.shared
                        .fail(Failure::Fatal("the commit thread stopped".into()));
                }
            }
        }
    }

    pub(crate) fn commit(&mut self, batch: Vec<Pending<A>>) -> Option<CommitJob<A>> {
        let mut payloads = Vec::with_capacity(batch.len());
        let mut attachments = Vec::with_capacity(batch.len());
        let mut txs = Vec::with_capacity(batch.len());
        for p in batch {
            payloads.push(p.payload);
            attachments.push(p.attachment);
            txs.push(p.tx);
        }
        let refuse = |txs: Vec<oneshot::Sender<Result<Lsn, LogError>>>, e: LogError| {
            for tx in txs {
                let _ = tx.send(Err(e.clone()));
            }
        };
        match self.shared.failure() {
            None => {}
            Some(Failure::Fatal(reason)) => {
                refuse(txs, LogError::Failed { reason });
                return None;
            }
            Some(Failure::Io(reason)) => match self.repair() {
                Ok(()) => {
                    tracing::info!(dir = %self.shared.dir.display(), end = self.end, %reason,
                        "log writer repaired its segment after a failed write; appends resume");
                    *self.shared.failed.lock() = None;
                }
                Err(e) => {
                    refuse(
                        txs,
                        LogError::Failed {
                            reason: format!("{reason}; repair failed: {e}"),
                        },
                    );
                    return None;
                }
            },
        }
        let lsns = match self.write_group(&payloads) {
            Ok(l) => l,
            Err(e) => {
                self.shared.fail(Failure::Io(e.to_string()));
                refuse(txs, e);
                return None;
            }
        };
        self.synced_end = self.end;
        let bytes: u64 = payloads
            .iter()
            .map(|p| RECORD_HEADER_LEN + p.len() as u64)
            .sum();
        self.shared
            .appends
            .fetch_add(lsns.len() as u64, Ordering::Relaxed);
        self.shared.bytes.fetch_add(bytes, Ordering::Relaxed);
        let records: Vec<CommittedRecord<A>> = lsns
            .iter()
            .zip(payloads.into_iter().zip(attachments))
            .map(
                |(&(lsn, next_lsn), (payload, attachment))| CommittedRecord {
                    lsn,
                    next_lsn,
                    payload,
                    attachment,
                },
            )
            .collect();
        let txs = txs.into_iter().zip(lsns.iter().map(|(l, _)| *l)).collect();
        Some(CommitJob {
            records,
            txs,
            end: self.end,
        })
    }

    /// Writes and syncs a group; returns `(lsn, next_lsn)` per record.
    pub(crate) fn write_group(
        &mut self,
        payloads: &[Vec<u8>],
    ) -> Result<Vec<(Lsn, Lsn)>, LogError> {
        let mut lsns = Vec::with_capacity(payloads.len());
        self.buf.clear();
        for p in payloads {
            let rec_len = RECORD_HEADER_LEN + p.len() as u64;
            if self.end > self.base
                && SEGMENT_HEADER_LEN + (self.end - self.base) + rec_len
                    > self.shared.opts.segment_bytes
            {
                self.flush()?;
                self.sync()?;
                self.roll()?;
            }
            self.buf.extend_from_slice(&(p.len() as u32).to_le_bytes());
            self.buf.extend_from_slice(&crc32c::crc32c(p).to_le_bytes());
            self.buf.extend_from_slice(p);
            lsns.push((self.end, self.end + rec_len));
            self.end += rec_len;
        }
        self.flush()?;
        self.sync()?;
        Ok(lsns)
    }

    /// After a failed group: removes what it left (segments it created, bytes past the
    /// last durable record), fsyncs that, and continues from the last durable record. A
    /// segment file whose base lies past the active segment would, at the next open, cut
    /// the records written meanwhile into a hole: none may stay.
    pub(crate) fn repair(&mut self) -> Result<(), LogError> {
        let fs = self.shared.opts.fs.clone();
        let fs = fs.as_ref();
        let dir = self.shared.dir.clone();
        let durable = self.synced_end;
        let base = {
            let mut segs = self.shared.segments.lock();
            while segs.len() > 1 && segs.last().is_some_and(|&b| b > durable) {
                segs.pop();
            }
            *segs.last().expect("at least one segment")
        };
        for name in fs.list_dir(&dir).map_err(|e| io_err(&dir, e))? {
            let stray =
                parse_segment_name(&name).is_some_and(|b| b > base) || name.ends_with(".seg.tmp");
            if stray {
                let p = dir.join(&name);
                match fs.remove_file(&p) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io_err(&p, e)),
                }
            }
        }
        sync_dir(fs, &dir)?;
        let path = dir.join(segment_name(base));
        let mut file = fs.open_append(&path).map_err(|e| io_err(&path, e))?;
        file.truncate(SEGMENT_HEADER_LEN + (durable - base))
            .and_then(|_| file.sync_data())
            .map_err(|e| io_err(&path, e))?;
        self.file = file;
        self.path = path;
        self.base = base;
        self.end = durable;
        self.buf.clear();
        Ok(())
    }

    pub(crate) fn flush(&mut self) -> Result<(), LogError> {
        if !self.buf.is_empty() {
            let r = self.file.append(&self.buf);
            self.buf.clear();
            r.map_err(|e| io_err(&self.path, e))?;
        }
        Ok(())
    }

    pub(crate) fn sync(&mut self) -> Result<(), LogError> {
        if self.shared.opts.fsync {
            let started = std::time::Instant::now();
            self.file.sync_data().map_err(|e| io_err(&self.path, e))?;
            self.shared.fsyncs.fetch_add(1, Ordering::Relaxed);
            if let Some(observe) = &self.shared.opts.on_fsync {
                (observe.0)(started.elapsed());
            }
        }
        Ok(())
    }

    pub(crate) fn roll(&mut self) -> Result<(), LogError> {
        let file = create_segment(self.shared.opts.fs.as_ref(), &self.shared.dir, self.end)?;
        self.file = file;
        self.base = self.end;
        self.path = self.shared.dir.join(segment_name(self.base));
        self.shared.segments.lock().push(self.base);
        tracing::debug!(path = %self.path.display(), "rolled to new log segment");
        Ok(())
    }
}
