//! Scheduled tasks (issue 6): the runner attached to the node.
//!
//! One scheduler loop checks every active task each tick (250 ms) and starts a run when its
//! schedule point has moved past `latestCompleted` (a downsample task: when a new window has
//! closed). A task never runs twice at once (a per-task lock, shared with `POST /runs`). A run
//! covers everything from `latestCompleted` to the schedule point, so after a downtime one run
//! catches up every missed period, and `latestCompleted` moves in the catalog only after the
//! run's writes were acknowledged (local bucket: fsynced; remote: 2xx), range chunk by range
//! chunk. Failed runs are retried with the shared [`ferry_pipeline::Backoff`].

mod authority;
mod context;
mod flux;
pub mod flux_text;
mod parsed;
mod run;
mod sink;
pub(crate) use sink::Sink;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, Weak};

use parking_lot::Mutex;
use std::time::{Duration, Instant};

use ferry_catalog::{Task, TaskRun};
use ferry_pipeline::Backoff;

use crate::node::Node;

pub(crate) use authority::authorize;
use parsed::now_ns;
pub use parsed::{initial_latest_completed, parse_task, ParsedTask};
pub(crate) use run::fmt_ns;

/// How often the scheduler looks at the tasks.
const TICK: Duration = Duration::from_millis(250);

/// Owns the scheduler loop and the per-task run locks.
#[derive(Default)]
pub struct TaskManager {
    node: OnceLock<Weak<Node>>,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// After a failed run: (attempts so far, not before).
    retry: Mutex<HashMap<String, (u32, Instant)>>,
    scheduler: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl TaskManager {
    /// A manager with no scheduler running yet.
    pub fn new() -> Arc<TaskManager> {
        Arc::new(TaskManager::default())
    }

    fn task_lock(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.locks.lock().entry(id.to_string()).or_default().clone()
    }

    /// Connects the manager to its node, marks runs a crash left unfinished as failed, and
    /// starts the scheduler.
    pub fn start(self: &Arc<Self>, node: &Arc<Node>) {
        let _ = self.node.set(Arc::downgrade(node));
        match node.catalog.fail_unfinished_runs() {
            Ok(n) if n > 0 => tracing::warn!(
                runs = n,
                "task runs interrupted by the last stop were marked failed"
            ),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "cannot read task runs"),
        }
        let me = self.clone();
        *self.scheduler.lock() = Some(tokio::spawn(async move { me.scheduler_loop().await }));
    }

    async fn scheduler_loop(self: Arc<Self>) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tick.tick().await;
            let Some(node) = self.node.get().and_then(Weak::upgrade) else {
                return;
            };
            let tasks = match node.catalog.list_tasks(None) {
                Ok(t) => t,
                Err(e) => {
                    tracing::error!(error = %e, "cannot list tasks");
                    continue;
                }
            };
            let now = now_ns();
            for task in tasks.into_iter().filter(|t| t.status == "active") {
                if let Some((_, at)) = self.retry.lock().get(&task.id) {
                    if Instant::now() < *at {
                        continue;
                    }
                }
                let Ok(parsed) = parse_task(&task) else {
                    continue;
                };
                if !parsed.due(&task, now) {
                    continue;
                }
                let l = self.task_lock(&task.id);
                let Ok(guard) = l.try_lock_owned() else {
                    continue; // running
                };
                let (me, node) = (self.clone(), node.clone());
                tokio::spawn(async move {
                    let run = run::execute(&node, &task, false).await;
                    me.note_result(&task.id, &run);
                    drop(guard);
                });
            }
        }
    }

    fn note_result(&self, id: &str, run: &TaskRun) {
        let mut retry = self.retry.lock();
        if run.status == "failed" {
            let attempts = retry.get(id).map(|(a, _)| *a).unwrap_or(0);
            let backoff = Backoff {
                initial: Duration::from_secs(1),
                max: Duration::from_secs(60),
                ..Default::default()
            };
            retry.insert(
                id.to_string(),
                (attempts + 1, Instant::now() + backoff.delay(attempts)),
            );
        } else {
            retry.remove(id);
        }
    }

    /// Runs a task now (`POST /api/v2/tasks/{id}/runs`), after any run in progress, and
    /// returns the finished run.
    pub async fn run_now(&self, task_id: &str) -> Result<TaskRun, crate::ApiError> {
        let node =
            self.node.get().and_then(Weak::upgrade).ok_or_else(|| {
                crate::ApiError::Internal("the task runner is not started".into())
            })?;
        let l = self.task_lock(task_id);
        let _g = l.lock().await;
        let task = node.catalog.task_by_id(task_id)?;
        let run = run::execute(&node, &task, true).await;
        self.note_result(task_id, &run);
        Ok(run)
    }

    /// Called after a task changed (update clears a pending retry delay) or was deleted.
    pub fn changed(&self, task_id: &str, deleted: bool) {
        self.retry.lock().remove(task_id);
        if deleted {
            self.locks.lock().remove(task_id);
        }
    }

    /// Stops the scheduler and waits (at most 10 s) for runs in progress.
    pub async fn shutdown(&self) {
        if let Some(h) = self.scheduler.lock().take() {
            h.abort();
        }
        let locks: Vec<_> = self.locks.lock().values().cloned().collect();
        let wait = async {
            for l in locks {
                let _ = l.lock().await;
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(10), wait).await;
    }
}

/// Wall-clock now in ns.
pub fn now() -> i64 {
    now_ns()
}

/// A task's runtime view for the API: the parsed spec and the next scheduled time.
pub fn next_run_ns(task: &Task) -> Option<i64> {
    let p = parse_task(task).ok()?;
    let from = task.latest_completed_ns.unwrap_or_else(now_ns);
    p.schedule
        .next_after(from.max(now_ns() - p.offset_ns))
        .map(|t| t + p.offset_ns)
}
