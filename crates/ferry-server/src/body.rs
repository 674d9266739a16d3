//! Reading request bodies defensively: a size cap while streaming, and gzip decoded with the
//! same cap, so neither a huge body nor a small gzip bomb can exhaust memory.

use std::io::Read;

use axum::body::Body;
use axum::http::HeaderMap;
use futures_util::StreamExt;

use crate::error::ApiError;

fn too_large(limit: usize) -> ApiError {
    ApiError::TooLarge(format!(
        "request body exceeds the limit of {limit} bytes (uncompressed); send smaller batches or raise --max-body-bytes"
    ))
}

/// Reads the whole body, decompressing it when `Content-Encoding: gzip`.
///
/// Guarantees: never holds more than `limit` bytes of compressed input plus `limit + 1` bytes
/// of output; answers 413 past the limit and 400 for a body that is not valid gzip.
pub async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Vec<u8>, ApiError> {
    if let Some(len) = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        if len > limit as u64 {
            return Err(too_large(limit));
        }
    }
    let mut raw = Vec::new();
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::BadRequest(format!("unable to read request body: {e}")))?;
        if raw.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        raw.extend_from_slice(&chunk);
    }
    let gzip = headers
        .get(axum::http::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("gzip"));
    if !gzip {
        return Ok(raw);
    }
    tokio::task::spawn_blocking(move || gunzip_limited(&raw, limit))
        .await
        .map_err(|e| ApiError::Internal(format!("gzip task failed: {e}")))?
}

/// Decompresses gzip (multi-member allowed), refusing output past `limit` bytes.
pub fn gunzip_limited(compressed: &[u8], limit: usize) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::with_capacity(compressed.len().saturating_mul(4).min(limit));
    let decoder = flate2::read::MultiGzDecoder::new(compressed);
    match decoder.take(limit as u64 + 1).read_to_end(&mut out) {
        Ok(_) if out.len() > limit => Err(too_large(limit)),
        Ok(_) => Ok(out),
        Err(e) => Err(ApiError::BadRequest(format!(
            "gzip: {e}; the body was sent with Content-Encoding: gzip but is not valid gzip"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn gzip_within_limit_decodes() {
        assert_eq!(gunzip_limited(&gz(b"m f=1"), 100).unwrap(), b"m f=1");
    }

    #[test]
    fn gzip_bomb_is_refused_at_the_limit() {
        let bomb = gz(&vec![0u8; 50 << 20]);
        assert!(bomb.len() < 200_000);
        assert!(matches!(
            gunzip_limited(&bomb, 1 << 20),
            Err(ApiError::TooLarge(_))
        ));
    }

    #[test]
    fn not_gzip_is_bad_request() {
        assert!(matches!(
            gunzip_limited(b"m f=1", 100),
            Err(ApiError::BadRequest(_))
        ));
    }
}
