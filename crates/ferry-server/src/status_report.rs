//! The node's side of `GET /api/ferry/v1/status` (the status page's data besides the
//! InfluxDB API): sampled history and bucket figures, only of what the token may read.

use std::collections::BTreeSet;

use ferry_catalog::Action;
use serde_json::{json, Value};

use crate::app::App;
use crate::error::ApiError;
use crate::http::StatusReport;
use crate::status_history::{StreamSample, MAX_STREAMS, SAMPLES};

/// Longest refresh period of the page, whatever the sample interval.
const MAX_REFRESH_SECONDS: u64 = 5;

/// One stream's samples as columns (compact JSON).
fn columns(samples: &[StreamSample]) -> Value {
    json!({
        "t": samples.iter().map(|s| s.t_ms).collect::<Vec<_>>(),
        "lagSeconds": samples.iter().map(|s| (f64::from(s.lag_seconds) * 1000.0).round() / 1000.0).collect::<Vec<_>>(),
        "lagBytes": samples.iter().map(|s| s.lag_bytes).collect::<Vec<_>>(),
        "queueBytes": samples.iter().map(|s| s.queue_bytes).collect::<Vec<_>>(),
        "bytesSent": samples.iter().map(|s| s.bytes_sent).collect::<Vec<_>>(),
    })
}

impl StatusReport for App {
    fn status_report(&self, token: Option<&str>, since_ms: i64) -> Result<Value, ApiError> {
        let auth = self.authenticate(token)?;
        let history = &self.status_history;
        let mut orgs = BTreeSet::new();
        let buckets: Vec<Value> = self
            .catalog
            .list_buckets(None)?
            .into_iter()
            .filter(|b| {
                self.require(&auth, Action::Read, "buckets", &b.org_id, Some(&b.id))
                    .is_ok()
            })
            .map(|b| {
                orgs.insert(b.org_id.clone());
                let f = history.bucket(&b.id);
                json!({
                    "id": b.id,
                    "orgID": b.org_id,
                    "rows": f.as_ref().map(|f| f.reading.rows),
                    "diskBytes": f.as_ref().map(|f| f.reading.disk_bytes),
                    "ingestBytesPerSecond": f.as_ref().map(|f| (f.ingest_bytes_per_second * 10.0).round() / 10.0),
                    "sampledAt": f.as_ref().map(|f| f.t_ms),
                })
            })
            .collect();
        let streams: Vec<Value> = self
            .catalog
            .all_replications()?
            .into_iter()
            .filter(|r| {
                self.require(&auth, Action::Read, "replications", &r.org_id, Some(&r.id))
                    .is_ok()
            })
            .map(|r| {
                orgs.insert(r.org_id.clone());
                let may_write = self
                    .require(&auth, Action::Write, "replications", &r.org_id, Some(&r.id))
                    .is_ok();
                json!({
                    "id": r.id,
                    "orgID": r.org_id,
                    "mayWrite": may_write,
                    "history": history.stream(&r.id, since_ms).map(|s| columns(&s)),
                })
            })
            .collect();
        for t in self.catalog.list_tasks(None)? {
            if self
                .require(&auth, Action::Read, "tasks", &t.org_id, Some(&t.id))
                .is_ok()
            {
                orgs.insert(t.org_id);
            }
        }
        let interval = history.interval().as_secs().max(1);
        Ok(json!({
            // what `/health` and `X-Influxdb-Version` say (http/system.rs: not named from
            // here, that module is in the HTTP module cycle)
            "version": concat!("ferry-", env!("CARGO_PKG_VERSION")),
            "nodeID": self.node_id,
            "authEnabled": self.config.auth_enabled,
            "now": chrono::Utc::now().timestamp_millis(),
            "sampleIntervalSeconds": interval,
            "refreshSeconds": interval.min(MAX_REFRESH_SECONDS),
            "historySamples": SAMPLES,
            "maxStreams": MAX_STREAMS,
            "orgs": orgs,
            "buckets": buckets,
            "streams": streams,
        }))
    }
}
