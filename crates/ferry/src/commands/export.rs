//! `ferry export`: a bucket's points as line protocol, streamed from the node.

use reqwest::Method;
use tokio::io::AsyncWriteExt;

use crate::cli::ExportArgs;
use crate::client::{Client, ClientError};

/// Streams the export to stdout or `--out`, then reports the line count on stderr.
pub async fn run(a: ExportArgs) -> Result<(), ClientError> {
    let c = Client::new(&a.client)?;
    let mut q: Vec<(&str, String)> = Vec::new();
    match (&a.bucket_id, &a.bucket) {
        (Some(id), _) => q.push(("bucketID", id.clone())),
        (None, Some(name)) => {
            q.push(("bucket", name.clone()));
            if let Some(id) = &c.org_id {
                q.push(("orgID", id.clone()));
            } else if let Some(org) = &c.org {
                q.push(("org", org.clone()));
            }
        }
        (None, None) => return Err(ClientError::Usage("give --bucket or --bucket-id".into())),
    }
    for (k, v) in [
        ("measurement", &a.measurement),
        ("start", &a.start),
        ("end", &a.end),
    ] {
        if let Some(v) = v {
            q.push((k, v.clone()));
        }
    }
    let mut resp = c
        .send(c.request(Method::GET, "/api/ferry/v1/export").query(&q))
        .await?;
    let mut out: Box<dyn tokio::io::AsyncWrite + Unpin> = match &a.out {
        Some(path) => Box::new(tokio::fs::File::create(path).await?),
        None => Box::new(tokio::io::stdout()),
    };
    let mut lines = 0u64;
    while let Some(chunk) = resp.chunk().await.map_err(|source| ClientError::Connect {
        host: c.host.clone(),
        source,
    })? {
        lines += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
        out.write_all(&chunk).await?;
    }
    out.flush().await?;
    if a.out.is_some() {
        eprintln!("exported {lines} points");
    }
    Ok(())
}
