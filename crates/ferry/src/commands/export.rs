//! `ferry export`: a bucket's (or every bucket's) points in `influx_inspect export` format
//! (default) or plain line protocol (`--lponly`), optionally gzipped; or a remote InfluxDB's
//! database read over HTTP in windows (`--source-url`, through `ferry-sync`). Holds its flags
//! ([`ExportArgs`]) and the export.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use ferry_server::api;
use ferry_sync::export::{parse_bounds, write_context, write_header, RemoteExport};
use reqwest::Method;

use crate::client::{Client, ClientArgs, ClientError};

/// `ferry export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Client connection flags.
    #[command(flatten)]
    pub client: ClientArgs,
    /// Bucket name.
    #[arg(long, short = 'b', required_unless_present_any = ["bucket_id", "all_buckets", "source_url"])]
    pub bucket: Option<String>,
    /// Bucket ID (instead of --bucket).
    #[arg(long = "bucket-id")]
    pub bucket_id: Option<String>,
    /// Every bucket of the org (each in its own CONTEXT-DATABASE/RETENTION-POLICY section).
    #[arg(long = "all-buckets")]
    pub all_buckets: bool,
    /// Only points at or after this time (RFC3339 or ns).
    #[arg(long)]
    pub start: Option<String>,
    /// Only points before this time (RFC3339 or ns).
    #[arg(long)]
    pub end: Option<String>,
    /// Only line protocol (no influx_inspect DDL/DML/CONTEXT lines).
    #[arg(long)]
    pub lponly: bool,
    /// Gzip the output.
    #[arg(long)]
    pub compress: bool,
    /// Write to this file instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Export from a remote InfluxDB over HTTP instead (--source-url ...), and --measurement.
    #[command(flatten)]
    pub source: ferry_sync::SourceArgs,
}

fn out_writer(a: &ExportArgs) -> Result<Box<dyn Write>, ClientError> {
    let base: Box<dyn Write> = match &a.out {
        Some(path) => Box::new(std::io::BufWriter::new(std::fs::File::create(path)?)),
        None => Box::new(std::io::BufWriter::new(std::io::stdout())),
    };
    Ok(if a.compress {
        Box::new(flate2::write::GzEncoder::new(
            base,
            flate2::Compression::default(),
        ))
    } else {
        base
    })
}

/// (bucket id, bucket name) of the buckets to export.
async fn buckets(c: &Client, a: &ExportArgs) -> Result<Vec<(String, String)>, ClientError> {
    if let Some(id) = &a.bucket_id {
        let b: api::Bucket = c
            .typed(c.request(Method::GET, &format!("/api/v2/buckets/{id}")))
            .await?;
        let name = if b.name.is_empty() {
            id.clone()
        } else {
            b.name
        };
        return Ok(vec![(id.clone(), name)]);
    }
    let org_id = c.org_id().await?;
    let mut rb = c
        .request(Method::GET, "/api/v2/buckets")
        .query(&[("orgID", org_id.as_str())]);
    if !a.all_buckets {
        let name = a.bucket.as_deref().ok_or_else(|| {
            ClientError::Usage("give --bucket, --bucket-id or --all-buckets".into())
        })?;
        rb = rb.query(&[("name", name)]);
    }
    let list: Vec<(String, String)> = c
        .typed::<api::BucketList>(rb)
        .await?
        .buckets
        .into_iter()
        .filter(|b| b.kind != "system")
        .map(|b| (b.id, b.name))
        .collect();
    if list.is_empty() {
        return Err(ClientError::Usage(format!(
            "bucket {:?} not found",
            a.bucket.as_deref().unwrap_or("")
        )));
    }
    Ok(list)
}

/// The 1.x (db, rp) of a bucket: its DBRP mapping (the default one first), else
/// `<bucket>`/`autogen`.
async fn dbrp_of(c: &Client, bucket_id: &str, name: &str) -> (String, String) {
    let org = c.org_id().await.unwrap_or_default();
    let mut list = c
        .typed::<api::DbrpList>(
            c.request(Method::GET, "/api/v2/dbrps")
                .query(&[("orgID", org.as_str()), ("bucketID", bucket_id)]),
        )
        .await
        .map(|l| l.content)
        .unwrap_or_default();
    list.sort_by_key(|d| !d.default);
    match list.into_iter().next() {
        Some(d) => (d.database, d.retention_policy),
        None => (name.to_string(), "autogen".to_string()),
    }
}

/// Runs the export; the line count goes to stderr when writing to a file.
pub async fn run(a: ExportArgs) -> Result<(), ClientError> {
    let (start, end) = parse_bounds(a.start.as_deref(), a.end.as_deref())
        .map_err(|e| ClientError::Usage(e.to_string()))?;
    let mut out = out_writer(&a)?;
    let lines = if a.source.source_url.is_some() {
        let spec = RemoteExport {
            start,
            end,
            header: !a.lponly,
        };
        ferry_sync::export::export_remote(&a.source, &spec, &mut out)
            .await
            .map_err(|e| ClientError::Usage(e.to_string()))?
    } else {
        export_node(&a, start, end, &mut out).await?
    };
    out.flush()?;
    drop(out);
    if a.out.is_some() {
        eprintln!("exported {lines} points");
    }
    Ok(())
}

async fn export_node(
    a: &ExportArgs,
    start: Option<i64>,
    end: Option<i64>,
    out: &mut Box<dyn Write>,
) -> Result<u64, ClientError> {
    let c = Client::new(&a.client)?;
    let list = buckets(&c, a).await?;
    let mut ctx = Vec::new();
    for (id, name) in &list {
        ctx.push(dbrp_of(&c, id, name).await);
    }
    if !a.lponly {
        write_header(out, start, end, &ctx)?;
    }
    let measurements: Vec<Option<&String>> = if a.source.measurement.is_empty() {
        vec![None]
    } else {
        a.source.measurement.iter().map(Some).collect()
    };
    let mut lines = 0u64;
    for ((id, _), (db, rp)) in list.iter().zip(&ctx) {
        if !a.lponly {
            write_context(out, db, rp)?;
        }
        for m in &measurements {
            let mut q: Vec<(&str, String)> = vec![("bucketID", id.clone())];
            if let Some(m) = m {
                q.push(("measurement", (*m).clone()));
            }
            if let Some(s) = start {
                q.push(("start", s.to_string()));
            }
            if let Some(e) = end {
                q.push(("end", e.to_string()));
            }
            let mut resp = c
                .send(c.request(Method::GET, "/api/ferry/v1/export").query(&q))
                .await?;
            while let Some(chunk) = resp.chunk().await.map_err(|source| ClientError::Connect {
                host: c.host.clone(),
                source,
            })? {
                lines += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
                out.write_all(&chunk)?;
            }
        }
    }
    Ok(lines)
}
