//! Edge Data Replication: one stream per replication, each a cursor over its local bucket's log
//! (DESIGN.md "One log, many cursors"). There is no second copy of the data: a stream's queue
//! is the log bytes behind its cursor, and nothing is acknowledged to a client that is not in
//! the log, so a point is either in every stream's future or was never accepted.

mod authority;
mod bounds;
mod control;
mod drain;
mod error;
mod gaps;
pub mod memory;
mod metrics;
mod refill;
mod send;
mod status;
mod stream;
mod transform;

pub(crate) use control::Control;
use status::Counters;
pub use status::{ReplicationStatus, StreamState};

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, Weak};

use ferry_catalog::{Remote, Replication};
use ferry_pipeline::{RemoteWriter, WriteOutcome};
use parking_lot::Mutex;
use tokio::sync::watch;

use crate::node::Node;
use error::StreamError;

/// Scheduling priority (nice value) of the threads that run replication streams. Streams
/// yield the CPU to writes and queries: under an ingest burst they fall behind by what the
/// log holds (nothing is lost) and catch up in the idle time after it, instead of slowing
/// every acknowledged write. On an idle node the nice value changes nothing. 19 rather than
/// 10: at 10 a stream still took about a tenth of a contended core, enough to cost a 1M-line
/// burst 10–20% of its rate; a node saturated for longer than its queue bound holds records a
/// gap that is refilled from the store afterwards (no loss, and the lag is visible).
pub const STREAM_NICE: i32 = 19;

/// Threads the streams' blocking reads (log batches, store scans for refills) share.
const MAX_BLOCKING_THREADS: usize = 4;

/// The runtime replication streams run on: two worker threads (and their blocking pool) at
/// [`STREAM_NICE`]. Created on first use and kept for the life of the process.
fn background() -> &'static tokio::runtime::Handle {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            // Log reads and store scans run on the blocking pool. Tokio's default of 512
            // threads let a hundred streams catching up start a hundred threads, each with
            // its allocator heap: 350–390 MiB of RSS in the status page bench. Four keep two
            // cores busy.
            .max_blocking_threads(MAX_BLOCKING_THREADS)
            .thread_name("ferry-replication")
            .on_thread_park(ferry_alloc::collect_when_idle)
            .on_thread_start(|| {
                // On Linux the nice value is per thread: PRIO_PROCESS with no PID sets the
                // calling thread's only.
                if let Err(e) = rustix::process::setpriority_process(None, STREAM_NICE) {
                    tracing::debug!(error = %e, "cannot lower the replication threads' priority");
                }
            })
            .enable_all()
            .build()
            .expect("the replication runtime starts")
    })
    .handle()
}

/// A stream's status and counters, shared with its task.
type SharedStatus = (Arc<Mutex<ReplicationStatus>>, Arc<Mutex<Counters>>);

struct Running {
    control: watch::Sender<Control>,
    task: tokio::task::JoinHandle<()>,
}

struct Entry {
    status: Arc<Mutex<ReplicationStatus>>,
    counters: Arc<Mutex<Counters>>,
    running: Option<Running>,
}

/// Owns the running replication streams of a node.
///
/// The HTTP layer tells it about catalog changes (`start_or_update` after create/update,
/// `stop` after delete, `set_paused`); it answers status for list/get and `/metrics`.
pub struct ReplicationManager {
    node: OnceLock<Weak<Node>>,
    /// The memory the streams' batches share.
    budget: Arc<memory::SendBudget>,
    streams: tokio::sync::Mutex<HashMap<String, Entry>>,
    statuses: Mutex<HashMap<String, SharedStatus>>,
}

fn writer_for(rep: &Replication, remote: &Remote) -> Result<RemoteWriter, StreamError> {
    let bucket = rep
        .remote_bucket_id
        .clone()
        .or_else(|| rep.remote_bucket_name.clone())
        .ok_or(StreamError::NoRemoteBucket)?;
    let target =
        crate::remote_target::write_target(remote, &bucket).map_err(StreamError::Writer)?;
    RemoteWriter::new(target).map_err(StreamError::Writer)
}

impl ReplicationManager {
    /// A manager with no streams.
    pub fn new(memory_bytes: u64) -> Arc<ReplicationManager> {
        Arc::new(ReplicationManager {
            node: OnceLock::new(),
            budget: memory::SendBudget::new(memory_bytes),
            streams: Default::default(),
            statuses: Default::default(),
        })
    }

    /// The streams' shared memory budget, as `/metrics` shows it.
    pub fn memory(&self) -> memory::BudgetFigures {
        self.budget.figures()
    }

    /// Connects the manager to its node and starts every replication in the catalog.
    pub async fn start_all(&self, node: &Arc<Node>) {
        let _ = self.node.set(Arc::downgrade(node));
        self.remove_orphan_cursors(node).await;
        let orgs = node.catalog.list_orgs().unwrap_or_default();
        for org in orgs {
            let reps = match node.catalog.list_replications(&org.id, None, None, None) {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(error = %e, "cannot list replications");
                    continue;
                }
            };
            for rep in reps {
                match node.catalog.remote_by_id(&rep.remote_id) {
                    Ok(remote) => self.start_or_update(&rep, &remote).await,
                    Err(e) => {
                        tracing::error!(replication = %rep.id, error = %e, "replication's remote is missing")
                    }
                }
            }
        }
    }

    /// Removes the log cursors (and stream directories) of replications the catalog no longer
    /// has for that bucket: a crash between deleting a replication and removing its cursor
    /// would otherwise pin the bucket's log forever.
    async fn remove_orphan_cursors(&self, node: &Node) {
        let reps = match node.catalog.all_replications() {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "cannot list replications; stale log cursors are kept");
                return;
            }
        };
        let live: std::collections::HashSet<(&str, &str)> = reps
            .iter()
            .map(|r| (r.id.as_str(), r.local_bucket_id.as_str()))
            .collect();
        for engine in node.engines().await {
            for (cursor, _) in engine.log().cursors() {
                let Some(id) = bounds::replication_of_cursor(&cursor) else {
                    continue;
                };
                if live.contains(&(id, engine.bucket_id.as_str())) {
                    continue;
                }
                match engine.log().remove_cursor(&cursor) {
                    Ok(_) => tracing::warn!(bucket = %engine.bucket_id, replication = id,
                        "removed the log cursor of a replication that no longer exists"),
                    Err(e) => {
                        tracing::error!(bucket = %engine.bucket_id, replication = id, error = %e,
                        "cannot remove a deleted replication's log cursor")
                    }
                }
                if !reps.iter().any(|r| r.id == id) {
                    let _ = tokio::fs::remove_dir_all(
                        node.config.data_dir.join("replications").join(id),
                    )
                    .await;
                }
            }
        }
    }

    /// Starts the stream of `rep` (to `remote`), or restarts it with the new settings; its
    /// counters and log cursor carry over. Returns once the stream is registered.
    pub async fn start_or_update(&self, rep: &Replication, remote: &Remote) {
        let mut streams = self.streams.lock().await;
        let entry = streams.entry(rep.id.clone()).or_insert_with(|| Entry {
            status: Default::default(),
            counters: Default::default(),
            running: None,
        });
        self.statuses.lock().insert(
            rep.id.clone(),
            (entry.status.clone(), entry.counters.clone()),
        );
        if let Some(r) = entry.running.take() {
            r.control.send_replace(Control {
                paused: true,
                stop: true,
            });
            let _ = r.task.await;
        }
        let Some(node) = self.node.get().and_then(Weak::upgrade) else {
            return; // not started yet: start_all picks it up
        };
        let engine = match node.engine(&rep.local_bucket_id).await {
            Ok(e) => e,
            Err(e) => {
                let mut st = entry.status.lock();
                st.state = StreamState::NeedsAttention;
                st.latest_error_message = Some(format!("cannot open the local bucket: {e}"));
                return;
            }
        };
        let dir = node.config.data_dir.join("replications").join(&rep.id);
        let (control_tx, control_rx) = watch::channel(Control {
            paused: rep.paused,
            stop: false,
        });
        let writer = authority::check(&node, rep).and_then(|()| writer_for(rep, remote));
        let writer = match writer {
            Ok(w) => w,
            Err(why) => {
                // It keeps its cursor (it resumes there once fixed) and its queue bounds.
                let task = background().spawn(bounds::hold(
                    rep.clone(),
                    engine,
                    dir,
                    entry.status.clone(),
                    control_rx,
                    why.to_string(),
                ));
                entry.running = Some(Running {
                    control: control_tx,
                    task,
                });
                return;
            }
        };
        let retention_seconds = node
            .catalog
            .bucket_by_id(&rep.local_bucket_id)
            .map(|b| b.retention_seconds)
            .unwrap_or(0);
        let stream = stream::Stream {
            rep: rep.clone(),
            engine,
            writer,
            status: entry.status.clone(),
            counters: entry.counters.clone(),
            control: control_rx,
            dir,
            node_id: node.node_id.clone(),
            retention_seconds,
            budget: self.budget.clone(),
        };
        if let Err(e) = stream.ensure_cursor() {
            stream.attention(None, e.to_string());
            return;
        }
        let task = background().spawn(stream.run());
        entry.running = Some(Running {
            control: control_tx,
            task,
        });
    }

    /// Restarts the streams that act with token `authorization_id` after it was changed or
    /// deleted: each start checks the token again (see [`authority`]).
    pub async fn recheck_authority(&self, node: &Node, authorization_id: &str) {
        for rep in node.catalog.all_replications().unwrap_or_default() {
            if rep.authorization_id.as_deref() != Some(authorization_id) {
                continue;
            }
            if let Ok(remote) = node.catalog.remote_by_id(&rep.remote_id) {
                self.start_or_update(&rep, &remote).await;
            }
        }
    }

    /// Stops and forgets the stream of replication `id` (after it was deleted), removes its
    /// log cursor so the log can drop what only it held, and deletes its files.
    pub async fn stop(&self, id: &str) {
        let entry = self.streams.lock().await.remove(id);
        self.statuses.lock().remove(id);
        let Some(entry) = entry else { return };
        if let Some(r) = entry.running {
            r.control.send_replace(Control {
                paused: true,
                stop: true,
            });
            let _ = r.task.await;
        }
        if let Some(node) = self.node.get().and_then(Weak::upgrade) {
            for engine in node.engines().await {
                let _ = engine.log().remove_cursor(&bounds::cursor_name(id));
            }
            let _ =
                tokio::fs::remove_dir_all(node.config.data_dir.join("replications").join(id)).await;
        }
    }

    /// Stops every stream (on shutdown), keeping their cursors and files.
    pub async fn shutdown(&self) {
        let mut streams = self.streams.lock().await;
        for entry in streams.values_mut() {
            if let Some(r) = entry.running.take() {
                r.control.send_replace(Control {
                    paused: true,
                    stop: true,
                });
                let _ = r.task.await;
            }
        }
    }

    /// Pauses or resumes a stream (the catalog keeps the flag; this applies it now). Resuming
    /// also retries at once a stream that needed attention.
    pub async fn set_paused(&self, id: &str, paused: bool) {
        if let Some(Entry {
            running: Some(r), ..
        }) = self.streams.lock().await.get(id)
        {
            r.control.send_replace(Control {
                paused,
                stop: false,
            });
        }
    }

    /// The runtime status of replication `id` (defaults when the stream is not running).
    pub fn status(&self, id: &str) -> ReplicationStatus {
        self.statuses
            .lock()
            .get(id)
            .map(|(s, _)| s.lock().clone())
            .unwrap_or_default()
    }

    /// Checks that `remote` accepts writes to the replication's remote bucket: an empty write,
    /// as InfluxDB validates. `Err` carries the remote's answer, meant for the user.
    pub(crate) async fn validate(
        &self,
        rep: &Replication,
        remote: &Remote,
    ) -> Result<(), StreamError> {
        let writer = writer_for(rep, remote)?;
        match writer.validate().await {
            WriteOutcome::Success { .. } => Ok(()),
            other => Err(StreamError::Refused {
                url: remote.remote_url.clone(),
                why: describe(&other),
            }),
        }
    }

    /// Every stream's numbers for `/metrics`.
    pub fn metrics(&self) -> Vec<crate::metrics::replication::Stream> {
        self.statuses
            .lock()
            .iter()
            .map(|(id, (s, c))| metrics::snapshot(id, &s.lock(), &c.lock()))
            .collect()
    }
}

fn describe(o: &WriteOutcome) -> String {
    match o {
        WriteOutcome::Success { status } => format!("{status}"),
        WriteOutcome::Retry {
            status, message, ..
        } => match status {
            Some(s) => format!("{s}: {message}"),
            None => message.clone(),
        },
        WriteOutcome::TooLarge { message } => format!("413: {message}"),
        WriteOutcome::BadData { status, message }
        | WriteOutcome::NeedsAttention { status, message } => {
            format!("{status}: {message}")
        }
    }
}
