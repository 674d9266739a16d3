//! The running node as the HTTP layer sees it: the [`Node`] (catalog, bucket engines,
//! settings) and the two managers that run on it, the replication streams and the tasks.
//!
//! The managers hold the node (weakly) to reach its buckets; the node does not know them.
//! Keeping them here, one level up, is what lets `node.rs` stay below `replication/` and
//! `tasks/` instead of in a cycle with them.

use std::ops::Deref;
use std::sync::Arc;

use crate::node::Node;
use crate::replication::ReplicationManager;
use crate::tasks::TaskManager;

/// What every HTTP handler is given.
pub type AppState = Arc<App>;

/// The node and its managers, shared by every request.
pub struct App {
    /// Catalog, buckets and settings.
    pub node: Arc<Node>,
    /// The replication streams.
    pub replications: Arc<ReplicationManager>,
    /// The scheduled tasks' runner.
    pub tasks: Arc<TaskManager>,
}

impl App {
    /// The node with no stream or task started yet.
    pub fn new(node: Arc<Node>) -> App {
        App {
            replications: ReplicationManager::new(node.config.replication_memory_bytes),
            tasks: TaskManager::new(),
            node,
        }
    }
}

/// A handler reads the node's catalog and buckets through the app (`app.catalog`), as if the
/// app were the node: the managers are the only thing the app adds.
impl Deref for App {
    type Target = Node;

    fn deref(&self) -> &Node {
        &self.node
    }
}
