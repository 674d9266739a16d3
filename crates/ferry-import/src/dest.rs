//! Where each batch goes: the default bucket/database, or the target of one export
//! `db`/`rp` context (a DBRP mapping, else a bucket named `db/rp`, created on request).

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use ferry_lp::RemoteKind;
use ferry_pipeline::{BodyCompression, RemoteWriter, WriteTarget};
use serde_json::{json, Value};

use crate::ImportError;

/// The destination of a batch, as the input says it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Dest {
    /// Lines outside any export context: `--bucket` / `--target-db`.
    Default,
    /// An `influx_inspect export` context.
    DbRp(String, String),
}

/// Where a write goes (every command that writes takes one).
#[derive(Debug, Clone)]
pub enum TargetConfig {
    /// Ferry or InfluxDB 2.x/Cloud (v2 API).
    V2 {
        /// Base URL.
        host: String,
        /// API token.
        token: Option<String>,
        /// Org ID.
        org_id: String,
        /// Bucket name or ID: every line goes there when set (export contexts included).
        bucket: Option<String>,
    },
    /// InfluxDB 1.x, InfluxDB 3 or TDengine taosAdapter.
    Remote {
        /// Which API.
        kind: RemoteKind,
        /// Base URL.
        url: String,
        /// Database (all lines go there when set).
        db: Option<String>,
        /// Retention policy (1.x).
        rp: Option<String>,
        /// Username (Basic auth).
        user: Option<String>,
        /// Password (Basic auth, with `user`).
        password: Option<String>,
        /// API token (`Authorization: Token`).
        token: Option<String>,
    },
    /// A line-protocol file (gzip when the name ends in `.gz`).
    File(PathBuf),
}

/// A resolved destination.
#[derive(Clone)]
pub enum Sink {
    /// A remote write API.
    Remote(RemoteWriter),
    /// A local file.
    File(Arc<Mutex<Box<dyn Write + Send>>>),
}

/// Resolves destinations (with a cache) and creates buckets/databases when asked.
pub struct Resolver {
    cfg: TargetConfig,
    create: bool,
    compression: BodyCompression,
    http: reqwest::Client,
    cache: HashMap<Dest, Sink>,
    file: Option<Arc<Mutex<Box<dyn Write + Send>>>>,
}

fn remote_err(what: &str, e: impl std::fmt::Display) -> ImportError {
    ImportError::Target(format!("{what}: {e}"))
}

impl Resolver {
    /// A resolver for `cfg`; `create` = `--create-buckets`.
    pub fn new(cfg: TargetConfig, create: bool) -> Result<Resolver, ImportError> {
        let file = match &cfg {
            TargetConfig::File(p) => {
                let f = std::fs::File::create(p)
                    .map_err(|e| remote_err(&format!("cannot create {}", p.display()), e))?;
                let w: Box<dyn Write + Send> = if p.extension().is_some_and(|e| e == "gz") {
                    Box::new(flate2::write::GzEncoder::new(
                        std::io::BufWriter::new(f),
                        flate2::Compression::default(),
                    ))
                } else {
                    Box::new(std::io::BufWriter::new(f))
                };
                Some(Arc::new(Mutex::new(w)))
            }
            _ => None,
        };
        Ok(Resolver {
            cfg,
            create,
            compression: BodyCompression::Auto,
            http: reqwest::Client::new(),
            cache: HashMap::new(),
            file,
        })
    }

    /// The same resolver, its remote writers compressing batches as `compression` says.
    pub fn with_compression(mut self, compression: BodyCompression) -> Resolver {
        self.compression = compression;
        self
    }

    /// Flushes and closes a file target.
    pub fn finish(&mut self) -> Result<(), ImportError> {
        self.cache.clear();
        if let Some(f) = self.file.take() {
            let mut w = f
                .lock()
                .map_err(|_| remote_err("file target", "poisoned"))?;
            w.flush().map_err(|e| remote_err("file target", e))?;
            // Replace the writer to drop (and so finish) a gzip encoder.
            let _ = std::mem::replace(&mut *w, Box::new(std::io::sink()));
        }
        Ok(())
    }

    fn v2_req(&self, m: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let TargetConfig::V2 { host, token, .. } = &self.cfg else {
            unreachable!("v2 request on a non-v2 target")
        };
        let mut rb = self
            .http
            .request(m, format!("{}{path}", host.trim_end_matches('/')));
        if let Some(t) = token {
            rb = rb.header("Authorization", format!("Token {t}"));
        }
        rb
    }

    async fn v2_json(&self, rb: reqwest::RequestBuilder, what: &str) -> Result<Value, ImportError> {
        let resp = rb.send().await.map_err(|e| remote_err(what, e))?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        if !status.is_success() {
            let msg = ferry_pipeline::retry::body_message(text.as_bytes());
            return Err(ImportError::Target(format!("{what}: {status}: {msg}")));
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// The v2 bucket ID for `db`/`rp`: DBRP mapping, else bucket `db/rp`, else created.
    async fn v2_bucket(&self, db: &str, rp: &str) -> Result<String, ImportError> {
        let TargetConfig::V2 { org_id, .. } = &self.cfg else {
            unreachable!()
        };
        let v = self
            .v2_json(
                self.v2_req(reqwest::Method::GET, "/api/v2/dbrps").query(&[
                    ("orgID", org_id.as_str()),
                    ("db", db),
                    ("rp", rp),
                ]),
                "listing DBRP mappings",
            )
            .await?;
        if let Some(id) = v["content"]
            .as_array()
            .and_then(|a| a.iter().find(|d| d["retention_policy"] == rp))
            .and_then(|d| d["bucketID"].as_str())
        {
            return Ok(id.to_string());
        }
        let name = format!("{db}/{rp}");
        let v = self
            .v2_json(
                self.v2_req(reqwest::Method::GET, "/api/v2/buckets")
                    .query(&[("orgID", org_id.as_str()), ("name", name.as_str())]),
                "listing buckets",
            )
            .await?;
        if let Some(id) = v["buckets"]
            .as_array()
            .and_then(|a| a.iter().find(|b| b["name"] == name.as_str()))
            .and_then(|b| b["id"].as_str())
        {
            return Ok(id.to_string());
        }
        if !self.create {
            return Err(ImportError::Target(format!(
                "no bucket for database {db:?} retention policy {rp:?}: no DBRP mapping and no bucket named {name:?}; \
                 rerun with --create-buckets, or create it (`ferry bucket create -n {name:?}`) or map it \
                 (`ferry v1 dbrp create --db {db:?} --rp {rp:?} --bucket-id <id>`)"
            )));
        }
        let b = self
            .v2_json(
                self.v2_req(reqwest::Method::POST, "/api/v2/buckets")
                    .json(&json!({
                        "orgID": org_id, "name": name, "retentionRules": [],
                        "description": format!("imported from InfluxDB 1.x {db}.{rp}"),
                    })),
                &format!("creating bucket {name:?}"),
            )
            .await?;
        let id = b["id"].as_str().unwrap_or_default().to_string();
        eprintln!("created bucket {name:?} ({id}) for database {db:?} retention policy {rp:?}");
        let mapping = self
            .v2_json(
                self.v2_req(reqwest::Method::POST, "/api/v2/dbrps")
                    .json(&json!({
                        "orgID": org_id, "bucketID": id, "database": db,
                        "retention_policy": rp, "default": rp == "autogen",
                    })),
                "creating DBRP mapping",
            )
            .await;
        if let Err(e) = mapping {
            tracing::warn!("bucket {name:?} created but not mapped: {e}");
        }
        Ok(id)
    }

    async fn v1_create(&self, url: &str, db: &str, rp: &str) -> Result<(), ImportError> {
        let TargetConfig::Remote { user, password, .. } = &self.cfg else {
            unreachable!()
        };
        let q = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
        let mut stmts = vec![format!("CREATE DATABASE \"{}\"", q(db))];
        if rp != "autogen" {
            stmts.push(format!(
                "CREATE RETENTION POLICY \"{}\" ON \"{}\" DURATION INF REPLICATION 1",
                q(rp),
                q(db)
            ));
        }
        for s in stmts {
            let mut rb = self
                .http
                .post(format!("{}/query", url.trim_end_matches('/')))
                .form(&[("q", s.as_str())]);
            if let Some(u) = user {
                rb = rb.basic_auth(u, password.as_deref());
            }
            let r = rb.send().await.map_err(|e| remote_err(&s, e))?;
            let status = r.status();
            let body = r.text().await.unwrap_or_default();
            if !status.is_success() || body.contains("\"error\"") {
                return Err(ImportError::Target(format!("{s}: {status}: {body}")));
            }
        }
        Ok(())
    }

    /// A DDL line: with `--create-buckets`, make sure the target exists now.
    pub async fn ddl(&mut self, db: &str, rp: &str) -> Result<(), ImportError> {
        let overridden = matches!(
            &self.cfg,
            TargetConfig::V2 {
                bucket: Some(_),
                ..
            } | TargetConfig::Remote { db: Some(_), .. }
        );
        if self.create && !overridden && !matches!(self.cfg, TargetConfig::File(_)) {
            self.sink(&Dest::DbRp(db.into(), rp.into())).await?;
        }
        Ok(())
    }

    /// The sink for `dest` (resolved once, then cached).
    pub async fn sink(&mut self, dest: &Dest) -> Result<Sink, ImportError> {
        if let Some(s) = self.cache.get(dest) {
            return Ok(s.clone());
        }
        let sink = match (&self.cfg, dest) {
            (TargetConfig::File(_), _) => Sink::File(self.file.clone().expect("file target open")),
            (
                TargetConfig::V2 {
                    host,
                    token,
                    org_id,
                    bucket,
                },
                d,
            ) => {
                let bucket = match (d, bucket) {
                    (_, Some(b)) => b.clone(),
                    (Dest::Default, None) => bucket.clone().ok_or_else(|| {
                        ImportError::Usage(
                            "no bucket: give --bucket or --bucket-id (the input has lines outside any \
                             influx_inspect CONTEXT)"
                                .into(),
                        )
                    })?,
                    (Dest::DbRp(db, rp), None) => self.v2_bucket(db, rp).await?,
                };
                let mut t = WriteTarget::new(RemoteKind::V2, host.clone(), bucket);
                t.token = token.clone();
                t.org = Some(org_id.clone());
                Sink::Remote(probed(t, self.compression).await?)
            }
            (
                TargetConfig::Remote {
                    kind,
                    url,
                    db,
                    rp,
                    user,
                    password,
                    token,
                },
                d,
            ) => {
                let (kind, url) = (*kind, url.clone());
                let (db_name, rp_name) = match (db, d) {
                    (Some(db), _) => (db.clone(), rp.clone()),
                    (None, Dest::DbRp(db, rp)) => (db.clone(), Some(rp.clone())),
                    (None, Dest::Default) => {
                        return Err(ImportError::Usage(
                            "no database: give --target-db (the input has lines outside any \
                             influx_inspect CONTEXT)"
                                .into(),
                        ))
                    }
                };
                let bucket = match (kind, &rp_name) {
                    (RemoteKind::V1, Some(rp)) => format!("{db_name}/{rp}"),
                    _ => db_name.clone(),
                };
                if self.create && kind == RemoteKind::V1 {
                    let rp = rp_name.as_deref().unwrap_or("autogen");
                    self.v1_create(&url, &db_name, rp).await?;
                }
                let mut t = WriteTarget::new(kind, url, bucket);
                t.username = user.clone();
                t.password = password.clone();
                t.token = token.clone();
                Sink::Remote(probed(t, self.compression).await?)
            }
        };
        self.cache.insert(dest.clone(), sink.clone());
        Ok(sink)
    }
}

/// A writer for `t` that has asked the target which body encodings it accepts (zstd to a
/// Ferry node, gzip otherwise; with `Auto` compression only; `Auto` sends plain bodies to a
/// target on this machine, [`RemoteWriter::with_bulk_compression`]).
async fn probed(t: WriteTarget, compression: BodyCompression) -> Result<RemoteWriter, ImportError> {
    let w = RemoteWriter::new(t)
        .map_err(|e| remote_err("target", e))?
        .with_bulk_compression(compression);
    w.probe().await;
    Ok(w)
}
