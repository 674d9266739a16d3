//! Where a task's points go: a local bucket's write path, or a remote through the shared
//! ferry-pipeline sender and retry policy.

use std::sync::Arc;
use std::time::Duration;

use ferry_catalog::Org;
use ferry_lp::Point;
use ferry_lp::RemoteKind;
use ferry_pipeline::{
    send_with_policy, Backoff, NoHooks, RemoteWriter, SendOptions, SendResult, WriteTarget,
};
use ferry_tasks::Destination;

use crate::engine::BucketEngine;
use crate::node::Node;

/// Transient remote failures retried within one run before the run fails (the scheduler then
/// retries the run with its own backoff).
const REMOTE_ATTEMPTS: u32 = 5;
/// Largest request sent to a remote.
const REMOTE_BATCH_BYTES: usize = 4 << 20;

pub(crate) enum Sink {
    Local(Arc<BucketEngine>),
    Remote(RemoteWriter),
}

impl Sink {
    pub(crate) async fn open(node: &Arc<Node>, org: &Org, d: &Destination) -> Result<Sink, String> {
        let bucket = d.bucket.clone().unwrap_or_default();
        if let Some(id) = &d.remote_id {
            let remote = node
                .catalog
                .remote_by_id(id)
                .ok()
                .filter(|r| r.org_id == org.id)
                .ok_or_else(|| format!("remote {id:?} not found in this organization"))?;
            let target =
                crate::remote_target::write_target(&remote, &bucket).map_err(|e| e.to_string())?;
            return RemoteWriter::new(target)
                .map(Sink::Remote)
                .map_err(|e| e.to_string());
        }
        if let Some(url) = &d.url {
            let mut target = WriteTarget::new(RemoteKind::V2, url.clone(), bucket);
            target.org = d.org.clone().filter(|o| !o.is_empty());
            if let Some(key) = &d.token_secret {
                target.token =
                    Some(node.catalog.secret_value(&org.id, key).map_err(|_| {
                        format!("secret {key:?} not found (ferry secret set {key})")
                    })?);
            }
            return RemoteWriter::new(target)
                .map(Sink::Remote)
                .map_err(|e| e.to_string());
        }
        let b = node
            .resolve_bucket(org, &bucket)
            .map_err(|e| format!("destination bucket: {e}"))?;
        Ok(Sink::Local(
            node.engine(&b.id).await.map_err(|e| e.to_string())?,
        ))
    }

    pub(crate) fn local_bucket_id(&self) -> Option<&str> {
        match self {
            Sink::Local(e) => Some(&e.bucket_id),
            Sink::Remote(_) => None,
        }
    }

    /// Writes the points; `Ok` once they are acknowledged.
    pub(crate) async fn write(&self, points: Vec<Point>) -> Result<(), String> {
        if points.is_empty() {
            return Ok(());
        }
        match self {
            Sink::Local(engine) => {
                let out = engine
                    .write_made(points)
                    .await
                    .map_err(|e| format!("local write failed: {e}"))?;
                if let Some((_, msg)) = out.conflicts.first() {
                    return Err(format!(
                        "{} points refused by the destination: {msg}",
                        out.conflicts.len()
                    ));
                }
                Ok(())
            }
            Sink::Remote(writer) => {
                let mut lp = Vec::with_capacity(points.len() * 96);
                for p in &points {
                    if let Some(why) = ferry_lp::unrepresentable(p) {
                        return Err(format!("cannot send to the remote: {why}"));
                    }
                    ferry_lp::write_point(&mut lp, p);
                }
                let opts = SendOptions::default();
                let backoff = Backoff {
                    max: Duration::from_secs(10),
                    ..Default::default()
                };
                for part in ferry_pipeline::batch::split_lines(&lp, REMOTE_BATCH_BYTES) {
                    let mut rest: &[u8] = part;
                    let mut attempt = 0;
                    loop {
                        match send_with_policy(writer, rest, &opts, &mut NoHooks).await {
                            SendResult::Done { .. } => break,
                            SendResult::Retry {
                                after,
                                status,
                                message,
                                handled,
                                ..
                            } => {
                                rest = &rest[handled..];
                                attempt += 1;
                                if attempt >= REMOTE_ATTEMPTS {
                                    return Err(format!(
                                        "remote {} unavailable ({}): {message}",
                                        writer.write_url(),
                                        status
                                            .map(|s| s.to_string())
                                            .unwrap_or_else(|| "no answer".into())
                                    ));
                                }
                                tokio::time::sleep(backoff.delay_after(attempt - 1, after)).await;
                            }
                            SendResult::NeedsAttention {
                                status, message, ..
                            } => {
                                return Err(format!(
                                    "remote {} refused ({status}): {message}",
                                    writer.write_url()
                                ))
                            }
                            SendResult::Stopped {
                                status, message, ..
                            } => {
                                return Err(format!(
                                    "remote {} refused data ({status}): {message}",
                                    writer.write_url()
                                ))
                            }
                        }
                    }
                }
                Ok(())
            }
        }
    }
}
