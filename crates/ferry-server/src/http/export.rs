//! `GET /api/ferry/v1/export`: a bucket's points as line protocol, one whole point per line.

use super::extract::{Auth, BucketParams, Q};
use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::AppState;
use crate::error::ApiError;
use crate::timeparse::parse_time;
use ferry_catalog::Action;

/// Export parameters.
#[derive(Debug, Deserialize)]
pub struct ExportParams {
    #[serde(flatten)]
    target: BucketParams,
    measurement: Option<String>,
    start: Option<String>,
    end: Option<String>,
}

/// Streams the points of a bucket (optionally one measurement, `start` inclusive, `end`
/// exclusive; RFC3339 or integer ns) as line protocol with ns timestamps.
pub async fn export(
    State(node): State<AppState>,
    Auth(auth): Auth,
    Q(q): Q<ExportParams>,
) -> Result<Response, ApiError> {
    let bucket = q.target.resolve(&node, &auth)?;
    node.require(
        &auth,
        Action::Read,
        "buckets",
        &bucket.org_id,
        Some(&bucket.id),
    )?;
    let start = q
        .start
        .as_deref()
        .map(parse_time)
        .transpose()?
        .unwrap_or(i64::MIN);
    let end = q
        .end
        .as_deref()
        .map(parse_time)
        .transpose()?
        .unwrap_or(i64::MAX);
    let engine = node.engine(&bucket.id).await?;
    let store = engine.readable_store().await;
    let measurements = match q.measurement {
        Some(m) => vec![m],
        None => store.measurements(),
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    tokio::task::spawn_blocking(move || {
        for m in measurements {
            let Some(range) = store.time_range(&m) else {
                continue;
            };
            let lo = start.max(range.min_time);
            let hi_incl = (end.saturating_sub(1)).min(range.max_time);
            for (w_start, w_end) in crate::windows::part_windows(
                lo,
                hi_incl,
                range.min_time,
                range.max_time,
                range.rows_upper_bound,
            ) {
                let req = ferry_store::ScanRequest {
                    measurement: m.clone(),
                    start_ns: w_start,
                    end_ns: w_end,
                    tag_filter: None,
                    fields: None,
                };
                let series = match store.scan(&req) {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
                        return;
                    }
                };
                let mut out = Vec::with_capacity(1 << 20);
                for s in &series {
                    crate::lpout::write_series(&mut out, &m, s);
                    if out.len() >= 1 << 20
                        && tx.blocking_send(Ok(std::mem::take(&mut out))).is_err()
                    {
                        return;
                    }
                }
                if !out.is_empty() && tx.blocking_send(Ok(out)).is_err() {
                    return;
                }
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        Body::from_stream(stream),
    )
        .into_response())
}
