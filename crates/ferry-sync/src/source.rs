//! The source: an InfluxDB 1.x (or 2.x through its v1-compatible `/query`) read with InfluxQL.

use std::collections::BTreeMap;
use std::time::Duration;

use ferry_lp::FieldType;
use futures_util::StreamExt;
use reqwest::{Client, Url};
use serde_json::Value;

use crate::convert::{
    json_chunk_to_lp, msgpack_chunk_to_lp, AnswerError, FieldTypes, MsgpackLp, QueryChunk,
};
use crate::spec::SourceArgs;
use crate::SyncError;

/// How to reach and authenticate to the source.
#[derive(Debug, Clone)]
pub struct SourceConfig {
    /// Base URL (a path prefix is kept).
    pub url: String,
    /// 1 or 2.
    pub version: u8,
    /// 1.x username.
    pub user: Option<String>,
    /// 1.x password.
    pub password: Option<String>,
    /// 2.x org ID.
    pub org_id: Option<String>,
    /// 2.x token.
    pub token: Option<String>,
    /// The 1.x database to read.
    pub db: String,
    /// Retention policy (empty: default).
    pub rp: Option<String>,
    /// Skip TLS verification.
    pub insecure: bool,
    /// Rows per chunk.
    pub chunk_size: u64,
}

impl SourceConfig {
    /// From the flags; `--source-url` and `--source-db` are required.
    pub fn from_args(a: &SourceArgs) -> Result<SourceConfig, SyncError> {
        let url = a
            .source_url
            .clone()
            .ok_or_else(|| SyncError::Config("--source-url is required".into()))?;
        let db = a
            .source_db
            .clone()
            .ok_or_else(|| SyncError::Config("--source-db is required".into()))?;
        let version = a.source_version.unwrap_or(1);
        if version != 1 && version != 2 {
            return Err(SyncError::Config("--source-version must be 1 or 2".into()));
        }
        if version == 2 && a.source_token.is_none() {
            return Err(SyncError::Config(
                "--source-version 2 needs --source-token (and --source-org-id)".into(),
            ));
        }
        Ok(SourceConfig {
            url,
            version,
            user: a.source_user.clone(),
            password: a.source_password.clone(),
            org_id: a.source_org_id.clone(),
            token: a.source_token.clone(),
            db,
            rp: a.source_rp.clone().filter(|s| !s.is_empty()),
            insecure: a.source_insecure,
            chunk_size: a.chunk_size.unwrap_or(10_000).max(1),
        })
    }
}

/// A failure reading the source, classified for the window scheduler.
#[derive(Debug, Clone)]
pub enum ReadError {
    /// The source failed or timed out: halve the window and retry.
    Transient(String),
    /// The window returned more points than allowed: halve it.
    TooLarge(u64),
    /// Nothing will help (authentication, database missing, bad query).
    Fatal(String),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Transient(m) | ReadError::Fatal(m) => f.write_str(m),
            ReadError::TooLarge(n) => write!(f, "window too large (more than {n} points)"),
        }
    }
}

/// Bounds of one window read.
#[derive(Debug, Clone, Copy)]
pub struct ReadLimits {
    /// Lines handed to the sink at a time (about).
    pub batch_lines: usize,
    /// Most points before the read stops with [`ReadError::TooLarge`].
    pub max_points: u64,
}

/// A connection to the source.
#[derive(Debug, Clone)]
pub struct Source {
    cfg: SourceConfig,
    client: Client,
    query_url: Url,
}

/// Double-quotes an InfluxQL identifier.
pub fn quote_ident(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            o.push('\\');
        }
        o.push(c);
    }
    o.push('"');
    o
}

impl Source {
    /// A client for the source (rustls, keep-alive, 5 min timeout per request).
    pub fn new(cfg: SourceConfig) -> Result<Source, SyncError> {
        let mut url = Url::parse(cfg.url.trim())
            .map_err(|e| SyncError::Config(format!("--source-url {}: {e}", cfg.url)))?;
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(SyncError::Config(
                "--source-url must be http:// or https://".into(),
            ));
        }
        let prefix = url.path().trim_end_matches('/').to_string();
        url.set_path(&format!("{prefix}/query"));
        url.set_query(None);
        let client = Client::builder()
            .use_rustls_tls()
            .user_agent(concat!("ferry-sync/", env!("CARGO_PKG_VERSION")))
            .timeout(Duration::from_secs(300))
            .connect_timeout(Duration::from_secs(10))
            .danger_accept_invalid_certs(cfg.insecure)
            .build()
            .map_err(|e| SyncError::Config(format!("cannot build HTTP client: {e}")))?;
        Ok(Source {
            cfg,
            client,
            query_url: url,
        })
    }

    /// The settings.
    pub fn config(&self) -> &SourceConfig {
        &self.cfg
    }

    /// The ping URL.
    pub fn ping_url(&self) -> Url {
        let mut u = self.query_url.clone();
        let p = u.path().trim_end_matches("/query").to_string();
        u.set_path(&format!("{p}/ping"));
        u
    }

    /// `GET {base}/ping`: the server's version header, or why it cannot be reached.
    pub async fn ping(&self) -> Result<String, String> {
        let r = self
            .client
            .get(self.ping_url())
            .send()
            .await
            .map_err(|e| format!("cannot reach {}: {}", self.cfg.url, chain(&e)))?;
        if !r.status().is_success() {
            return Err(format!(
                "{} answered /ping with {}",
                self.cfg.url,
                r.status()
            ));
        }
        Ok(r.headers()
            .get("X-Influxdb-Version")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("unknown")
            .to_string())
    }

    fn request(&self, q: &str, with_db: bool, chunked: bool) -> reqwest::RequestBuilder {
        let mut params: Vec<(&str, String)> = vec![("q", q.to_string()), ("epoch", "ns".into())];
        if with_db {
            params.push(("db", self.cfg.db.clone()));
            if let Some(rp) = &self.cfg.rp {
                params.push(("rp", rp.clone()));
            }
        }
        if chunked {
            params.push(("chunked", "true".into()));
            params.push(("chunk_size", self.cfg.chunk_size.to_string()));
        }
        if let Some(org) = &self.cfg.org_id {
            if self.cfg.version == 2 {
                params.push(("orgID", org.clone()));
            }
        }
        let rb = self.client.get(self.query_url.clone()).query(&params);
        match self.cfg.version {
            2 => rb.header(
                "Authorization",
                format!("Token {}", self.cfg.token.as_deref().unwrap_or("")),
            ),
            _ => match &self.cfg.user {
                Some(u) => rb.basic_auth(u, self.cfg.password.as_deref()),
                None => rb,
            },
        }
    }

    /// The time of `measurement`'s first point at or after `from`, `None` when it has none.
    /// Lets a copy skip a sparse stretch (one stray point from 1970 would otherwise mean
    /// half a million empty hourly windows) in one query.
    pub async fn first_time_from(
        &self,
        measurement: &str,
        from: i64,
    ) -> Result<Option<i64>, ReadError> {
        self.edge_time(measurement, Some(from), false).await
    }

    /// The time of `measurement`'s first (`last = false`) or last point, at or after `from`
    /// when given; `None` when there is none.
    pub async fn edge_time(
        &self,
        measurement: &str,
        from: Option<i64>,
        last: bool,
    ) -> Result<Option<i64>, ReadError> {
        let q = format!(
            "SELECT * FROM {}{} ORDER BY time {} LIMIT 1",
            quote_ident(measurement),
            from.map(|t| format!(" WHERE time >= {t}"))
                .unwrap_or_default(),
            if last { "DESC" } else { "ASC" }
        );
        let c = self.query(&q, true).await?;
        Ok(c.results
            .iter()
            .flat_map(|r| r.series.iter())
            .flat_map(|s| s.values.iter())
            .filter_map(|row| row.first().and_then(Value::as_i64))
            .next())
    }

    /// Runs one non-chunked statement; statement errors become `Err`.
    pub async fn query(&self, q: &str, with_db: bool) -> Result<QueryChunk, ReadError> {
        let resp = self
            .request(q, with_db, false)
            .send()
            .await
            .map_err(|e| ReadError::Transient(format!("query failed: {}", chain(&e))))?;
        let status = resp.status();
        let body = resp
            .bytes()
            .await
            .map_err(|e| ReadError::Transient(format!("query answer lost: {}", chain(&e))))?;
        if let Some(e) = http_error(status.as_u16(), &body) {
            return Err(e);
        }
        let c: QueryChunk = serde_json::from_slice(&body)
            .map_err(|e| ReadError::Transient(format!("unreadable query answer: {e}")))?;
        if let Some(e) = &c.error {
            return Err(ReadError::Fatal(e.clone()));
        }
        if let Some(e) = c.results.iter().find_map(|r| r.error.clone()) {
            return Err(ReadError::Fatal(e));
        }
        Ok(c)
    }

    /// `SHOW MEASUREMENTS`.
    pub async fn measurements(&self) -> Result<Vec<String>, ReadError> {
        let c = self.query("SHOW MEASUREMENTS", true).await?;
        Ok(first_column(&c))
    }

    /// `SHOW DATABASES`.
    pub async fn databases(&self) -> Result<Vec<String>, ReadError> {
        let c = self.query("SHOW DATABASES", false).await?;
        Ok(first_column(&c))
    }

    /// `SHOW RETENTION POLICIES ON db`.
    pub async fn retention_policies(&self) -> Result<Vec<String>, ReadError> {
        let q = format!("SHOW RETENTION POLICIES ON {}", quote_ident(&self.cfg.db));
        let c = self.query(&q, false).await?;
        Ok(first_column(&c))
    }

    /// `SHOW FIELD KEYS`: each measurement's field types, and the fields whose type differs
    /// across shards (`measurement`, `field`, types).
    pub async fn field_types(
        &self,
    ) -> Result<
        (
            BTreeMap<String, FieldTypes>,
            Vec<(String, String, Vec<String>)>,
        ),
        ReadError,
    > {
        let c = self.query("SHOW FIELD KEYS", true).await?;
        let mut types: BTreeMap<String, FieldTypes> = BTreeMap::new();
        let mut seen: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        for r in &c.results {
            for s in &r.series {
                for row in &s.values {
                    let (Some(k), Some(t)) = (
                        row.first().and_then(Value::as_str),
                        row.get(1).and_then(Value::as_str),
                    ) else {
                        continue;
                    };
                    let e = seen.entry((s.name.clone(), k.to_string())).or_default();
                    if !e.iter().any(|x| x == t) {
                        e.push(t.to_string());
                    }
                    if let Some(ft) = ferry_lp::FieldType::from_name(t) {
                        types
                            .entry(s.name.clone())
                            .or_default()
                            .entry(k.to_string())
                            .or_insert(ft);
                    }
                }
            }
        }
        let conflicts = seen
            .into_iter()
            .filter(|(_, v)| v.len() > 1)
            .map(|((m, f), v)| (m, f, v))
            .collect();
        Ok((types, conflicts))
    }

    /// Per-field `count(*)` of `measurement` in `[start, end)`.
    pub async fn count(
        &self,
        measurement: &str,
        start: i64,
        end: i64,
    ) -> Result<BTreeMap<String, u64>, ReadError> {
        let q = format!(
            "SELECT count(*) FROM {} WHERE time >= {start} AND time < {end}",
            quote_ident(measurement)
        );
        let c = self.query(&q, true).await?;
        Ok(counts_of(&c))
    }

    /// Reads `measurement` over `[start, end)` (`SELECT * … GROUP BY *`, chunked) and hands
    /// line protocol to `sink` in pieces of about `batch_lines` lines. Stops with
    /// [`ReadError::TooLarge`] past `max_points`.
    pub async fn read_window<F, Fut>(
        &self,
        measurement: &str,
        start: i64,
        end: i64,
        types: &FieldTypes,
        limits: ReadLimits,
        mut sink: F,
    ) -> Result<u64, ReadError>
    where
        F: FnMut(Vec<u8>, usize) -> Fut,
        Fut: std::future::Future<Output = Result<(), ReadError>>,
    {
        let ReadLimits {
            batch_lines,
            max_points,
        } = limits;
        let q = format!(
            "SELECT * FROM {} WHERE time >= {start} AND time < {end} GROUP BY *",
            quote_ident(measurement)
        );
        // InfluxDB 1.x answers MessagePack when asked exactly this; others answer JSON, which
        // the Content-Type says.
        let resp = self
            .request(&q, true, true)
            .header("Accept", MSGPACK)
            .send()
            .await
            .map_err(|e| ReadError::Transient(format!("read failed: {}", chain(&e))))?;
        let status = resp.status().as_u16();
        if status != 200 {
            let body = resp.bytes().await.unwrap_or_default();
            return Err(http_error(status, &body)
                .unwrap_or_else(|| ReadError::Transient(format!("source answered {status}"))));
        }
        let msgpack = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(MSGPACK.as_bytes()));
        let mut stream = resp.bytes_stream();
        let mut docs = DocSplitter::new(msgpack);
        let mut out: Vec<u8> = Vec::with_capacity(batch_lines.min(10_000) * 128);
        let mut out_lines = 0usize;
        let mut total = 0u64;
        loop {
            let next = stream.next().await;
            let eof = next.is_none();
            if let Some(chunk) = next {
                let chunk =
                    chunk.map_err(|e| ReadError::Transient(format!("read cut: {}", chain(&e))))?;
                docs.pending.extend_from_slice(&chunk);
            }
            while let Some(n) = docs.next(eof, types, &mut out)? {
                out_lines += n;
                total += n as u64;
                if total > max_points {
                    return Err(ReadError::TooLarge(max_points));
                }
                if out_lines >= batch_lines {
                    // the next batch starts at this one's size: no doubling from empty
                    let next = Vec::with_capacity(out.len() + out.len() / 8);
                    sink(std::mem::replace(&mut out, next), out_lines).await?;
                    out_lines = 0;
                }
            }
            if eof {
                break;
            }
        }
        if out_lines > 0 {
            sink(out, out_lines).await?;
        }
        Ok(total)
    }
}

/// The media type of InfluxDB 1.x's MessagePack answers.
const MSGPACK: &str = "application/x-msgpack";

/// Cuts a chunked `/query` answer into its documents as the bytes arrive and converts each
/// to line protocol: JSON documents end at a newline; MessagePack documents follow each other
/// with no separator, so one is converted once the buffer holds all of it. After a
/// MessagePack try finds the buffer short, the next waits until the buffer has doubled, so
/// the bytes decoded stay proportional to the bytes received.
struct DocSplitter {
    msgpack: bool,
    /// Received, not yet decoded.
    pending: Vec<u8>,
    /// Start of the undecoded part of `pending`.
    at: usize,
    /// MessagePack: undecoded bytes needed before the next try.
    need: usize,
}

impl DocSplitter {
    fn new(msgpack: bool) -> DocSplitter {
        DocSplitter {
            msgpack,
            pending: Vec::new(),
            at: 0,
            need: 1,
        }
    }

    /// Converts the next whole document, appending its lines to `out`; returns how many, or
    /// `None` when more bytes are needed (or, at `eof`, when no document is left).
    fn next(
        &mut self,
        eof: bool,
        types: &FieldTypes,
        out: &mut Vec<u8>,
    ) -> Result<Option<usize>, ReadError> {
        let doc = if self.msgpack {
            self.next_msgpack(eof, types, out)?
        } else {
            self.next_json(eof, types, out)?
        };
        if doc.is_none() || self.at == self.pending.len() {
            self.pending.drain(..self.at);
            self.at = 0;
        }
        Ok(doc)
    }

    fn next_json(
        &mut self,
        eof: bool,
        types: &FieldTypes,
        out: &mut Vec<u8>,
    ) -> Result<Option<usize>, ReadError> {
        loop {
            let rest = &self.pending[self.at..];
            let (doc, used) = match rest.iter().position(|&b| b == b'\n') {
                Some(nl) => (&rest[..nl], nl + 1),
                None if eof => (rest, rest.len()),
                None => return Ok(None),
            };
            if doc.iter().all(u8::is_ascii_whitespace) {
                if used == 0 {
                    return Ok(None);
                }
                self.at += used;
                continue;
            }
            let lines = json_chunk_to_lp(doc, types, out).map_err(classify_answer_error)?;
            self.at += used;
            return Ok(Some(lines));
        }
    }

    fn next_msgpack(
        &mut self,
        eof: bool,
        types: &FieldTypes,
        out: &mut Vec<u8>,
    ) -> Result<Option<usize>, ReadError> {
        let rest = &self.pending[self.at..];
        if rest.is_empty() || (!eof && rest.len() < self.need) {
            return Ok(None);
        }
        match msgpack_chunk_to_lp(rest, types, out).map_err(classify_answer_error)? {
            MsgpackLp::Complete { lines, used } => {
                self.at += used;
                self.need = 1;
                Ok(Some(lines))
            }
            MsgpackLp::Incomplete if eof => Err(ReadError::Transient(
                "read cut: the answer ends inside a MessagePack document".into(),
            )),
            MsgpackLp::Incomplete => {
                self.need = rest.len() * 2;
                Ok(None)
            }
        }
    }
}

/// A document that gave no lines: a cut or garbled one is worth reading again, the
/// source's own error by its text.
fn classify_answer_error(e: AnswerError) -> ReadError {
    match e {
        AnswerError::Statement(msg) => classify_statement_error(msg),
        unreadable => ReadError::Transient(unreadable.to_string()),
    }
}

fn classify_statement_error(msg: String) -> ReadError {
    let m = msg.to_ascii_lowercase();
    if m.contains("max-select-point")
        || m.contains("max-select-series")
        || m.contains("timeout")
        || m.contains("killed")
    {
        ReadError::Transient(msg)
    } else {
        ReadError::Fatal(msg)
    }
}

/// A non-200 answer of `/query` as an error (`None` for 200).
fn http_error(status: u16, body: &[u8]) -> Option<ReadError> {
    if status == 200 {
        return None;
    }
    let msg = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| {
            v.get("error")
                .or_else(|| v.get("message"))
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned());
    Some(match status {
        401 | 403 => ReadError::Fatal(format!("authentication failed ({status}): {msg}")),
        404 => ReadError::Fatal(format!("not found ({status}): {msg}")),
        400 => ReadError::Fatal(format!("query refused ({status}): {msg}")),
        _ => ReadError::Transient(format!("source answered {status}: {msg}")),
    })
}

fn first_column(c: &QueryChunk) -> Vec<String> {
    c.results
        .iter()
        .flat_map(|r| r.series.iter())
        .flat_map(|s| s.values.iter())
        .filter_map(|row| row.first().and_then(Value::as_str).map(str::to_string))
        .collect()
}

/// `count(*)` columns (`count_<field>`) → field → count.
pub fn counts_of(c: &QueryChunk) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for s in c.results.iter().flat_map(|r| r.series.iter()) {
        for row in &s.values {
            for (i, col) in s.columns.iter().enumerate() {
                if let Some(f) = col.strip_prefix("count_") {
                    let n = row.get(i).and_then(Value::as_u64).unwrap_or(0);
                    *out.entry(f.to_string()).or_insert(0) += n;
                }
            }
        }
    }
    out.retain(|_, v| *v > 0);
    out
}

/// A field type's InfluxQL name (for reports).
pub fn type_name(t: FieldType) -> &'static str {
    t.as_str()
}

pub(crate) use ferry_pipeline::error_chain as chain;
