//! Where Flux's `from()` reads on this node: the buckets of the query's org, through the
//! store's scans, as the token allows.

use std::sync::Arc;

use ferry_catalog::{Action, Authorization, Org};
use ferry_flux::table::{series_table, BucketInfo, Pred, ReadSpec, Source, SourceError, Table};
use ferry_flux::Value;
use ferry_lp::FieldValue;
use ferry_store::ScanRequest;

use crate::node::Node;

/// The node's buckets as one query's token sees them.
pub struct NodeSource {
    /// The node.
    pub node: Arc<Node>,
    /// The query's token (`None` with auth off).
    pub auth: Option<Authorization>,
    /// The query's org: `from(bucket:)` names a bucket of it.
    pub org: Org,
    /// The runtime, to open a bucket's engine from the query's blocking thread.
    pub rt: tokio::runtime::Handle,
}

impl Source for NodeSource {
    fn read(&self, spec: &ReadSpec, max_bytes: usize) -> Result<Vec<Table>, SourceError> {
        let (start, stop) = spec
            .range
            .ok_or_else(|| SourceError::Store("a storage read needs a range".into()))?;
        let bucket = self
            .node
            .catalog
            .bucket_by_name(&self.org.id, &spec.bucket)
            .map_err(|_| SourceError::NotFound(spec.bucket.clone()))?;
        self.node
            .require(
                &self.auth,
                Action::Read,
                "buckets",
                &bucket.org_id,
                Some(&bucket.id),
            )
            .map_err(|_| SourceError::Forbidden(spec.bucket.clone()))?;
        let engine = self
            .rt
            .block_on(self.node.engine(&bucket.id))
            .map_err(|e| SourceError::Store(e.to_string()))?;
        let store = self.rt.block_on(engine.readable_store());
        let pred = Pred::And(spec.preds.clone());
        let mut out = Vec::new();
        let mut bytes = 0usize;
        let mut measurements = store.measurements();
        measurements.sort();
        for m in measurements {
            if !pred.may_match_measurement(&m) {
                continue;
            }
            let series = store
                .scan(&ScanRequest {
                    measurement: m.clone(),
                    start_ns: start,
                    end_ns: stop,
                    tag_filter: None,
                    fields: None,
                })
                .map_err(|e| SourceError::Store(e.to_string()))?;
            for s in series {
                for (field, column) in &s.fields {
                    let get = |c: &str| -> Option<String> {
                        match c {
                            "_measurement" => Some(m.clone()),
                            "_field" => Some(field.clone()),
                            tag => s
                                .tags
                                .iter()
                                .find(|(k, _)| k == tag)
                                .map(|(_, v)| v.clone()),
                        }
                    };
                    if !pred.eval(&get) {
                        continue;
                    }
                    let rows: Vec<(i64, Value)> = s
                        .times
                        .iter()
                        .zip(column)
                        .filter_map(|(t, v)| v.as_ref().map(|v| (*t, flux_value(v))))
                        .collect();
                    if let Some(t) = series_table((start, stop), &m, &s.tags, field, rows) {
                        bytes += t.weight();
                        if bytes > max_bytes {
                            return Err(SourceError::MemoryLimit(max_bytes >> 20));
                        }
                        out.push(t);
                    }
                }
            }
        }
        Ok(out)
    }

    fn buckets(&self) -> Result<Vec<BucketInfo>, SourceError> {
        let list = self
            .node
            .catalog
            .list_buckets(Some(&self.org.id))
            .map_err(|e| SourceError::Store(e.to_string()))?;
        Ok(list
            .into_iter()
            .filter(|b| {
                self.node
                    .require(&self.auth, Action::Read, "buckets", &b.org_id, Some(&b.id))
                    .is_ok()
            })
            .map(|b| BucketInfo {
                name: b.name,
                id: b.id,
                org_id: b.org_id,
                retention_ns: b.retention_seconds.saturating_mul(1_000_000_000),
            })
            .collect())
    }
}

fn flux_value(v: &FieldValue) -> Value {
    match v {
        FieldValue::Float(f) => Value::Float(*f),
        FieldValue::Integer(i) => Value::Int(*i),
        FieldValue::UInteger(u) => Value::UInt(*u),
        FieldValue::String(s) => Value::string(s),
        FieldValue::Boolean(b) => Value::Bool(*b),
    }
}
