//! What the log's clones, its writer and its readers share: the segment list, holes,
//! cursors, the durable end, the failure state; and what the clones and the writer share,
//! the queue of appends ([`Inbox`], generic over the log's attachment type).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};
use std::thread;

use tokio::sync::{oneshot, watch};

use crate::types::{Hole, LogError, LogOptions, Lsn};

pub(crate) struct Pending<A> {
    pub(crate) payload: Vec<u8>,
    pub(crate) attachment: A,
    pub(crate) tx: oneshot::Sender<Result<Lsn, LogError>>,
}

pub(crate) struct Queue<A> {
    pub(crate) pending: Vec<Pending<A>>,
    pub(crate) closed: bool,
}

/// The appends waiting for the writer thread, and its wake-up.
pub(crate) struct Inbox<A> {
    pub(crate) queue: Mutex<Queue<A>>,
    pub(crate) cv: Condvar,
}

impl<A> Inbox<A> {
    pub(crate) fn new() -> Self {
        Inbox {
            queue: Mutex::new(Queue {
                pending: Vec::new(),
                closed: false,
            }),
            cv: Condvar::new(),
        }
    }

    /// Refuses later appends and wakes the writer, which writes what is queued and stops.
    pub(crate) fn close(&self) {
        self.queue.lock().closed = true;
        self.cv.notify_all();
    }
}

pub(crate) struct Shared {
    pub(crate) dir: PathBuf,
    pub(crate) opts: LogOptions,
    /// Base LSNs of the segments on disk, ascending; the last is active.
    pub(crate) segments: Mutex<Vec<Lsn>>,
    /// Holes of the retained log, ascending (readers skip them).
    /// Holes are found at open and only ever pruned (by retention), so a reader keeps the
    /// set it started with and never locks this again.
    pub(crate) holes: Mutex<Arc<Vec<Hole>>>,
    pub(crate) cursors: Mutex<BTreeMap<String, Lsn>>,
    pub(crate) durable: AtomicU64,
    pub(crate) durable_tx: watch::Sender<Lsn>,
    pub(crate) failed: Mutex<Option<Failure>>,
    pub(crate) appends: AtomicU64,
    pub(crate) fsyncs: AtomicU64,
    pub(crate) bytes: AtomicU64,
    pub(crate) writer: Mutex<Option<thread::JoinHandle<()>>>,
}

impl Shared {
    pub(crate) fn failure(&self) -> Option<Failure> {
        self.failed.lock().clone()
    }

    /// The reason appends are refused for good (the consumer or a thread broke), if so.
    pub(crate) fn fatal_reason(&self) -> Option<String> {
        match self.failure() {
            Some(Failure::Fatal(r)) => Some(r),
            _ => None,
        }
    }

    pub(crate) fn fail(&self, failure: Failure) {
        let mut f = self.failed.lock();
        match (&*f, &failure) {
            (Some(Failure::Fatal(_)), _) => return,
            (Some(Failure::Io(_)), Failure::Io(_)) => return,
            _ => {}
        }
        match &failure {
            Failure::Io(reason) => tracing::error!(dir = %self.dir.display(), %reason,
                "log write failed; appends fail until the writer can repair the segment"),
            Failure::Fatal(reason) => tracing::error!(dir = %self.dir.display(), %reason,
                "log failed; rejecting further appends until it is reopened"),
        }
        *f = Some(failure);
    }

    /// Waits for the writer thread to stop (after its inbox was closed).
    pub(crate) fn join_writer(&self) {
        let handle = self.writer.lock().take();
        if let Some(h) = handle {
            // Closing from inside `on_commit` must not join the writer itself.
            if h.thread().id() != thread::current().id() {
                let _ = h.join();
            }
        }
    }
}

/// Why the log refuses appends.
#[derive(Debug, Clone)]
pub(crate) enum Failure {
    /// A write, fsync or roll failed (a full disk, an I/O error): the next group first cuts
    /// the active segment back to the last durable record and, if that works, goes on.
    Io(String),
    /// `on_commit` panicked or a thread is gone: only reopening helps.
    Fatal(String),
}
