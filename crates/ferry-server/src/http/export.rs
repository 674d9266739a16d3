//! `GET /api/ferry/v1/export`: a bucket's points as line protocol, one whole point per line.

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::AppState;
use crate::error::ApiError;
use crate::timeparse::parse_time;
use ferry_catalog::Action;

/// Export parameters.
#[derive(Debug, Deserialize)]
pub struct ExportParams {
    org: Option<String>,
    #[serde(rename = "orgID")]
    org_id: Option<String>,
    bucket: Option<String>,
    #[serde(rename = "bucketID")]
    bucket_id: Option<String>,
    measurement: Option<String>,
    start: Option<String>,
    end: Option<String>,
}

/// Streams the points of a bucket (optionally one measurement, `start` inclusive, `end`
/// exclusive; RFC3339 or integer ns) as line protocol with ns timestamps.
pub async fn export(
    State(node): State<AppState>,
    Query(q): Query<ExportParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let auth = super::authenticate(&node, &headers)?;
    let bucket = match (&q.bucket_id, &q.bucket) {
        (Some(id), _) => node.catalog.bucket_by_id(id)?,
        (None, Some(name)) => {
            let org = node.resolve_org(q.org_id.as_deref(), q.org.as_deref(), &auth)?;
            node.resolve_bucket(&org, name)?
        }
        (None, None) => {
            return Err(ApiError::BadRequest(
                "bucket or bucketID is required".into(),
            ))
        }
    };
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
    let store = engine.store().clone();
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
            for (w_start, w_end) in export_windows(lo, hi_incl, range.rows_upper_bound) {
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

/// Rows read per export window: bounds the memory of an export whatever the bucket's size.
const ROWS_PER_WINDOW: u64 = 100_000;

/// Splits `[lo, hi_incl]` into half-open windows expected to hold about [`ROWS_PER_WINDOW`]
/// rows each (assuming rows spread evenly over time; uneven data just makes some windows
/// larger). Empty when `lo > hi_incl`.
fn export_windows(lo: i64, hi_incl: i64, rows: u64) -> Vec<(i64, i64)> {
    if lo > hi_incl {
        return Vec::new();
    }
    let span = hi_incl as i128 - lo as i128 + 1;
    let count = (rows.div_ceil(ROWS_PER_WINDOW).max(1) as i128).min(span);
    let width = (span + count - 1) / count;
    let mut out = Vec::with_capacity(count as usize);
    let mut s = lo as i128;
    while s <= hi_incl as i128 {
        let e = (s + width).min(hi_incl as i128 + 1);
        out.push((s as i64, e.min(i64::MAX as i128) as i64)); // i64::MAX is no valid time
        s = e;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_the_range_exactly_once() {
        for (lo, hi, rows) in [
            (0, 999, 1_000_000),
            (5, 5, 10),
            (-100, 100, 250_000),
            (0, 9, 10_000_000),
        ] {
            let w = export_windows(lo, hi, rows);
            assert_eq!(w.first().unwrap().0, lo);
            assert_eq!(w.last().unwrap().1, hi + 1);
            assert!(w.windows(2).all(|p| p[0].1 == p[1].0), "contiguous: {w:?}");
            assert!(w.iter().all(|(a, b)| a < b));
        }
        assert_eq!(export_windows(0, 999, 1_000_000).len(), 10);
        assert!(export_windows(10, 9, 5).is_empty());
    }
}
