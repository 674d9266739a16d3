//! The InfluxQL executor's view of the node for a query task: the task's org only, and in
//! it the buckets the task's token may read.

use std::sync::Arc;

use ferry_influxql::{Context, ContextError, RetentionPolicy};
use ferry_store::BucketStore;

use crate::node::Node;

pub(crate) struct TaskContext {
    pub node: Arc<Node>,
    pub org_id: String,
    /// The token the task runs with (`None`: a node without auth, or an older task).
    pub auth: Option<ferry_catalog::Authorization>,
    pub rt: tokio::runtime::Handle,
}

impl Context for TaskContext {
    fn store(&self, db: &str, rp: &str) -> Result<Arc<BucketStore>, ContextError> {
        let bucket = self
            .node
            .catalog
            .resolve_dbrp(&self.org_id, db, rp)
            .map_err(ContextError::failed)?
            .ok_or_else(|| ContextError::DatabaseNotFound(db.into()))?;
        if let Some(a) = &self.auth {
            if !a.allows(
                ferry_catalog::Action::Read,
                "buckets",
                &self.org_id,
                Some(&bucket.id),
            ) {
                return Err(ContextError::Forbidden(format!(
                    "the task's token may not read bucket {:?}",
                    bucket.name
                )));
            }
        }
        let engine = self
            .rt
            .block_on(self.node.engine(&bucket.id))
            .map_err(ContextError::failed)?;
        Ok(self.rt.block_on(engine.readable_store()))
    }

    fn databases(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .node
            .catalog
            .list_buckets(Some(&self.org_id))
            .unwrap_or_default()
            .into_iter()
            .map(|b| b.name)
            .collect();
        v.sort();
        v
    }

    fn retention_policies(&self, db: &str) -> Result<Vec<RetentionPolicy>, ContextError> {
        let b = self
            .node
            .catalog
            .resolve_dbrp(&self.org_id, db, "")
            .map_err(ContextError::failed)?
            .ok_or_else(|| ContextError::DatabaseNotFound(db.into()))?;
        Ok(vec![RetentionPolicy {
            name: "autogen".into(),
            duration_ns: b.retention_seconds.saturating_mul(1_000_000_000),
            default: true,
        }])
    }

    fn now_ns(&self) -> i64 {
        super::parsed::now_ns()
    }
}
