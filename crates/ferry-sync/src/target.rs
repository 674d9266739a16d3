//! The target: a remote writer from `ferry-pipeline` (THE retry policy) or a file; and how to
//! count what the target holds (for `--verify`).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Mutex;

use ferry_lp::RemoteKind;
use ferry_pipeline::{
    send_with_policy, Backoff, BodyCompression, RateLimiter, RejectedLinesFile, RemoteWriter,
    SendHooks, SendOptions, SendResult, WriteTarget,
};
use futures_util::StreamExt;

use crate::source::{chain, Source, SourceConfig};
use crate::spec::SyncSpec;
use crate::SyncError;

/// Where a sync writes.
pub enum Target {
    /// A server, through the shared remote writer.
    Remote(RemoteWriter),
    /// A line-protocol file (appended).
    File(PathBuf, Mutex<std::fs::File>),
}

/// The connection a client command uses by default (flags or the active config profile).
#[derive(Debug, Clone, Default)]
pub struct DefaultTarget {
    /// Node URL.
    pub host: String,
    /// API token of the node (`None`: a node without auth).
    pub token: Option<String>,
    /// Org name or ID.
    pub org: Option<String>,
}

/// The target described by `spec`: `--target-file`, or `--target-kind` + `--target-url`, or
/// the default connection with `--bucket`.
pub fn target_from_spec(spec: &SyncSpec, default: &DefaultTarget) -> Result<Target, SyncError> {
    if let Some(p) = &spec.target_file {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .map_err(|e| SyncError::io(p, e))?;
        return Ok(Target::File(p.clone(), Mutex::new(f)));
    }
    let wt = match &spec.target_kind {
        Some(kind) => {
            let kind = match kind.as_str() {
                "v1" | "1" => RemoteKind::V1,
                "v2" | "2" => RemoteKind::V2,
                "v3" | "3" => RemoteKind::V3,
                "tdengine" => RemoteKind::Tdengine,
                k => {
                    return Err(SyncError::Config(format!(
                        "--target-kind {k}: expected v1, v2, v3 or tdengine"
                    )))
                }
            };
            let url = spec
                .target_url
                .clone()
                .ok_or_else(|| SyncError::Config("--target-kind needs --target-url".into()))?;
            let db = spec
                .target_db
                .clone()
                .or_else(|| spec.bucket.clone())
                .ok_or_else(|| SyncError::Config("--target-kind needs --target-db".into()))?;
            let bucket = match (&kind, &spec.target_rp) {
                (RemoteKind::V1, Some(rp)) => format!("{db}/{rp}"),
                _ => db,
            };
            let mut t = WriteTarget::new(kind, url, bucket);
            t.username = spec.target_user.clone();
            t.password = spec.target_password.clone();
            t.token = spec.target_token.clone();
            t.org = spec.target_org.clone();
            t
        }
        None => {
            let bucket = spec.bucket.clone().ok_or_else(|| {
                SyncError::Config(
                    "no target: give --bucket (default connection), --target-kind/--target-url, or --target-file"
                        .into(),
                )
            })?;
            let mut t = WriteTarget::new(
                RemoteKind::V2,
                spec.host.clone().unwrap_or_else(|| default.host.clone()),
                bucket,
            );
            t.token = spec.token.clone().or_else(|| default.token.clone());
            t.org = spec
                .target_org
                .clone()
                .or_else(|| spec.org.clone())
                .or_else(|| default.org.clone());
            t
        }
    };
    let compression: BodyCompression = match &spec.target_compression {
        Some(c) => c
            .parse()
            .map_err(|e| SyncError::Config(format!("--target-compression: {e}")))?,
        None => BodyCompression::Auto,
    };
    let w = RemoteWriter::new(wt)
        .map_err(|e| SyncError::Config(e.to_string()))?
        .with_bulk_compression(compression);
    Ok(Target::Remote(w))
}

impl Target {
    /// A short description (no secrets), part of the state file identity.
    pub fn describe(&self) -> String {
        match self {
            Target::Remote(w) => {
                let t = w.target();
                format!("{:?} {} {}", t.kind, t.base_url, t.bucket)
            }
            Target::File(p, _) => format!("file {}", p.display()),
        }
    }
}

struct Collect(Vec<(Vec<u8>, u16, String)>);

impl SendHooks for Collect {
    fn rejected(&mut self, _at: usize, line: &[u8], status: u16, message: &str) {
        self.0.push((line.to_vec(), status, message.to_string()));
    }
}

/// Writes one batch with the shared policy: retries with [`Backoff`] (honouring
/// `Retry-After`) up to `max_attempts`, refused lines into `rejected`. Returns refused count.
pub async fn write_batch(
    target: &Target,
    lp: &[u8],
    limiter: Option<&RateLimiter>,
    rejected: &Mutex<RejectedLinesFile>,
    max_attempts: u32,
) -> Result<u64, SyncError> {
    if let Some(l) = limiter {
        l.acquire(lp.len() as u64).await;
    }
    let w = match target {
        Target::File(p, f) => {
            let mut f = f.lock().expect("file lock");
            f.write_all(lp).map_err(|e| SyncError::io(p, e))?;
            return Ok(0);
        }
        Target::Remote(w) => w,
    };
    let opts = SendOptions {
        drop_bad_lines: true,
        extra_headers: Vec::new(),
    };
    let backoff = Backoff::default();
    let mut offset = 0usize;
    let mut attempt = 0u32;
    let mut refused = 0u64;
    loop {
        let mut hooks = Collect(Vec::new());
        let r = send_with_policy(w, &lp[offset..], &opts, &mut hooks).await;
        if !hooks.0.is_empty() {
            let mut f = rejected.lock().expect("rejected lock");
            for (line, status, msg) in &hooks.0 {
                tracing::warn!(status, "target refused a line: {msg}");
                let _ = f.append(line, *status, msg);
            }
            refused += hooks.0.len() as u64;
        }
        match r {
            SendResult::Done { .. } => return Ok(refused),
            SendResult::Retry {
                after,
                message,
                handled,
                ..
            } => {
                offset += handled;
                if attempt + 1 >= max_attempts {
                    return Err(SyncError::Target(format!(
                        "gave up after {max_attempts} attempts: {message}"
                    )));
                }
                let d = backoff.delay_after(attempt, after);
                tracing::warn!("target write failed ({message}); retrying in {d:?}");
                tokio::time::sleep(d).await;
                attempt += 1;
            }
            SendResult::NeedsAttention {
                status, message, ..
            } => {
                return Err(SyncError::Target(format!(
                    "{}: {message}",
                    explain_status(status)
                )))
            }
            SendResult::Stopped {
                status, message, ..
            } => return Err(SyncError::Target(format!("refused ({status}): {message}"))),
        }
    }
}

/// What a status from a write means for the operator.
pub fn explain_status(status: u16) -> &'static str {
    match status {
        401 => "authentication failed (401: wrong token or password)",
        403 => "not allowed (403: the token cannot write there)",
        404 => "not found (404: the bucket/database does not exist)",
        0 => "request could not be built",
        _ => "the target refused the write",
    }
}

/// Per-field point counts held by the target in `[start, end)`, for `--verify`.
/// InfluxDB 1.x: `SELECT count(*)` through its `/query`. Ferry (no `/query` yet): the lines of
/// `GET /api/ferry/v1/export`, each field counted. Other kinds cannot be counted (`None`).
pub async fn target_counts(
    target: &Target,
    http: &reqwest::Client,
    measurement: &str,
    start: i64,
    end: i64,
) -> Result<Option<BTreeMap<String, u64>>, SyncError> {
    let Target::Remote(w) = target else {
        return Ok(None);
    };
    let t = w.target();
    match t.kind {
        RemoteKind::V1 => {
            let (db, rp) = match t.bucket.split_once('/') {
                Some((d, r)) => (d.to_string(), Some(r.to_string())),
                None => (t.bucket.clone(), None),
            };
            let src = Source::new(SourceConfig {
                url: t.base_url.clone(),
                version: 1,
                user: t.username.clone(),
                password: t.password.clone(),
                org_id: None,
                token: None,
                db,
                rp,
                insecure: t.allow_insecure_tls,
                chunk_size: 10_000,
            })?;
            let c = src
                .count(measurement, start, end)
                .await
                .map_err(|e| SyncError::Target(format!("count on target: {e}")))?;
            Ok(Some(c))
        }
        RemoteKind::V2 => {
            let base = t.base_url.trim_end_matches('/');
            let mut q: Vec<(&str, String)> = vec![
                ("bucket", t.bucket.clone()),
                ("measurement", measurement.to_string()),
                ("start", start.to_string()),
                ("end", end.to_string()),
            ];
            if let Some(o) = &t.org {
                q.push(("org", o.clone()));
            }
            let mut rb = http.get(format!("{base}/api/ferry/v1/export")).query(&q);
            if let Some(tok) = &t.token {
                rb = rb.header("Authorization", format!("Token {tok}"));
            }
            let resp = rb
                .send()
                .await
                .map_err(|e| SyncError::Target(format!("count on target: {}", chain(&e))))?;
            if !resp.status().is_success() {
                return Err(SyncError::Target(format!(
                    "count on target: export answered {}",
                    resp.status()
                )));
            }
            let mut counts = BTreeMap::new();
            let mut pending = Vec::new();
            let mut stream = resp.bytes_stream();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk
                    .map_err(|e| SyncError::Target(format!("count on target: {}", chain(&e))))?;
                pending.extend_from_slice(&chunk);
                let cut = pending
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(0, |i| i + 1);
                count_fields(&pending[..cut], &mut counts);
                pending.drain(..cut);
            }
            count_fields(&pending, &mut counts);
            Ok(Some(counts))
        }
        _ => Ok(None),
    }
}

/// Adds each line's fields to `counts`.
pub fn count_fields(lp: &[u8], counts: &mut BTreeMap<String, u64>) {
    for line in lp.split(|&b| b == b'\n') {
        if line.is_empty() || line[0] == b'#' {
            continue;
        }
        if let Ok(p) = ferry_lp::parse_line(line, ferry_lp::Precision::Nanoseconds, 0) {
            for (k, _) in &p.fields {
                *counts.entry(k.to_string()).or_insert(0) += 1;
            }
        }
    }
}
