//! Reading request bodies defensively: a size cap while streaming, and gzip or zstd decoded
//! with the same cap, so neither a huge body nor a small compression bomb can exhaust memory.

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

/// The 408 for a body read that failed because the client paused past
/// `--http-body-idle-timeout`; `None` for any other failure.
pub fn timed_out(e: &axum::Error) -> Option<ApiError> {
    crate::listen::is_body_timeout(e).then(|| {
        ApiError::Timeout(
            "the request body stopped arriving (longer than --http-body-idle-timeout between pieces)"
                .into(),
        )
    })
}

/// Reads the whole body, decompressing it when `Content-Encoding` is `gzip` or `zstd`.
///
/// Guarantees: never holds more than `limit` bytes of compressed input plus `limit + 1` bytes
/// of output; answers 413 past the limit, 400 for a body that is not valid in its encoding,
/// 415 for an encoding the node does not decode.
pub async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Vec<u8>, ApiError> {
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(too_large(limit));
    }
    // One allocation of the declared size (already checked against the limit).
    let mut raw = Vec::with_capacity(declared.unwrap_or(0) as usize);
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            timed_out(&e).unwrap_or_else(|| {
                ApiError::BadRequest(format!("unable to read request body: {e}"))
            })
        })?;
        if raw.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        raw.extend_from_slice(&chunk);
    }
    match Encoding::of(headers)? {
        Encoding::Identity => Ok(raw),
        Encoding::Gzip => decode_blocking(move || gunzip_limited(&raw, limit)).await,
        Encoding::Zstd => decode_blocking(move || unzstd_limited(&raw, limit)).await,
    }
}

/// The request body encodings the node decodes; it says so in `/ping`'s answer
/// ([`ACCEPTED_ENCODINGS`]) so that other Ferry nodes can pick the cheapest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// No `Content-Encoding` (or `identity`).
    Identity,
    /// `gzip`, as InfluxDB accepts.
    Gzip,
    /// `zstd` (RFC 8878): what Ferry replication streams send to Ferry remotes.
    Zstd,
}

/// The value of the `Accept-Encoding` header on `/ping`: the request encodings accepted.
pub const ACCEPTED_ENCODINGS: &str = "gzip, zstd";

impl Encoding {
    /// The encoding of a request from its `Content-Encoding` header. Anything else is refused
    /// (415) rather than parsed as line protocol: compressed bytes read as text only give
    /// confusing parse errors.
    pub fn of(headers: &HeaderMap) -> Result<Encoding, ApiError> {
        let Some(v) = headers.get(axum::http::header::CONTENT_ENCODING) else {
            return Ok(Encoding::Identity);
        };
        let v = v.to_str().unwrap_or("?").trim();
        if v.is_empty() || v.eq_ignore_ascii_case("identity") {
            Ok(Encoding::Identity)
        } else if v.eq_ignore_ascii_case("gzip") || v.eq_ignore_ascii_case("x-gzip") {
            Ok(Encoding::Gzip)
        } else if v.eq_ignore_ascii_case("zstd") {
            Ok(Encoding::Zstd)
        } else {
            Err(ApiError::UnsupportedEncoding(format!(
                "Content-Encoding {v:?} is not supported; send the body uncompressed or with gzip or zstd"
            )))
        }
    }
}

async fn decode_blocking(
    f: impl FnOnce() -> Result<Vec<u8>, ApiError> + Send + 'static,
) -> Result<Vec<u8>, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(format!("decompression task failed: {e}")))?
}

/// The largest zstd window a streamed body may use: 2^24 = 16 MiB (levels up to 19 use at
/// most 8 MiB).
const ZSTD_WINDOW_LOG_MAX: u32 = 24;

/// Decompresses zstd (several frames allowed), refusing output past `limit` bytes. A single
/// frame that states its size (as zstd's one-shot API writes it) is decoded in one pass into
/// an exact allocation; anything else is streamed with the same cap.
pub fn unzstd_limited(compressed: &[u8], limit: usize) -> Result<Vec<u8>, ApiError> {
    let bad = |e: std::io::Error| {
        ApiError::BadRequest(format!(
            "zstd: {e}; the body was sent with Content-Encoding: zstd but is not valid zstd"
        ))
    };
    use zstd::zstd_safe::{find_frame_compressed_size, get_frame_content_size};
    let single_frame = find_frame_compressed_size(compressed).ok() == Some(compressed.len());
    match get_frame_content_size(compressed) {
        Ok(Some(n)) if single_frame && n > limit as u64 => Err(too_large(limit)),
        Ok(Some(n)) if single_frame => zstd::bulk::decompress(compressed, n as usize).map_err(bad),
        _ => {
            let mut out = Vec::new();
            let mut decoder = zstd::stream::read::Decoder::with_buffer(compressed).map_err(bad)?;
            // a frame may declare a window of up to 2 GiB (the decoder's default allows 128
            // MiB), allocated before any output: no encoder at an ordinary level uses more
            // than 8 MiB
            decoder.window_log_max(ZSTD_WINDOW_LOG_MAX).map_err(bad)?;
            match decoder.take(limit as u64 + 1).read_to_end(&mut out) {
                Ok(_) if out.len() > limit => Err(too_large(limit)),
                Ok(_) => Ok(out),
                Err(e) => Err(bad(e)),
            }
        }
    }
}

/// Decompresses gzip (multi-member allowed), refusing output past `limit` bytes.
///
/// The output is allocated once at the size the gzip trailer announces (ISIZE, exact for a
/// single member under 4 GiB; capped by `limit`), so a typical body is inflated without
/// reallocating.
pub fn gunzip_limited(compressed: &[u8], limit: usize) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::with_capacity(expected_size(compressed).min(limit) + 1);
    let decoder = flate2::bufread::MultiGzDecoder::new(compressed);
    match decoder.take(limit as u64 + 1).read_to_end(&mut out) {
        Ok(_) if out.len() > limit => Err(too_large(limit)),
        Ok(_) => Ok(out),
        Err(e) => Err(ApiError::BadRequest(format!(
            "gzip: {e}; the body was sent with Content-Encoding: gzip but is not valid gzip"
        ))),
    }
}

/// The uncompressed size a gzip stream announces in its last four bytes (ISIZE: the size of
/// the last member modulo 2^32), or a guess of 4× the input when the stream is too short.
/// Never more than deflate's maximum ratio (1032:1) allows, so a forged trailer cannot make a
/// tiny body reserve much memory.
fn expected_size(compressed: &[u8]) -> usize {
    let announced = match compressed.len().checked_sub(4).map(|at| &compressed[at..]) {
        Some(&[a, b, c, d]) if compressed.len() >= 18 => u32::from_le_bytes([a, b, c, d]) as usize,
        _ => compressed.len().saturating_mul(4),
    };
    announced.min(compressed.len().saturating_mul(1032))
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
    fn zstd_frames_with_a_huge_window_are_refused() {
        let frame = |log: u32| {
            let mut e = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
            e.include_contentsize(false).unwrap();
            e.set_parameter(zstd::zstd_safe::CParameter::WindowLog(log))
                .unwrap();
            e.write_all(&vec![b'y'; 100_000]).unwrap();
            e.finish().unwrap()
        };
        let e = unzstd_limited(&frame(27), 1 << 20).unwrap_err();
        assert!(matches!(e, ApiError::BadRequest(_)), "{e:?}");
        assert_eq!(unzstd_limited(&frame(23), 1 << 20).unwrap().len(), 100_000);
    }

    #[test]
    fn gzip_trailer_announces_the_size() {
        let data = vec![b'x'; 123_456];
        assert_eq!(expected_size(&gz(&data)), 123_456);
        assert_eq!(expected_size(b"abc"), 12);
        let mut forged = gz(b"m f=1");
        let n = forged.len();
        forged[n - 4..].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(expected_size(&forged), n * 1032);
    }

    #[test]
    fn gzip_multi_member_decodes_whole() {
        let mut two = gz(b"m f=1\n");
        two.extend(gz(b"m f=2\n"));
        assert_eq!(gunzip_limited(&two, 100).unwrap(), b"m f=1\nm f=2\n");
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
    fn zstd_decodes_with_and_without_a_stated_size() {
        let data = b"m f=1 1\nm f=2 2\n".repeat(1000);
        let framed = zstd::bulk::compress(&data, 1).unwrap();
        assert_eq!(unzstd_limited(&framed, 1 << 20).unwrap(), data);
        let mut streamed = Vec::new();
        {
            let mut e = zstd::stream::write::Encoder::new(&mut streamed, 1).unwrap();
            e.write_all(&data).unwrap();
            e.finish().unwrap();
        }
        assert_eq!(unzstd_limited(&streamed, 1 << 20).unwrap(), data);
        let mut two = framed.clone();
        two.extend(&framed);
        assert_eq!(unzstd_limited(&two, 1 << 20).unwrap().len(), 2 * data.len());
    }

    #[test]
    fn zstd_past_the_limit_or_invalid_is_refused() {
        let big = zstd::bulk::compress(&vec![0u8; 1 << 20], 1).unwrap();
        assert!(matches!(
            unzstd_limited(&big, 1000),
            Err(ApiError::TooLarge(_))
        ));
        let mut streamed = Vec::new();
        {
            let mut e = zstd::stream::write::Encoder::new(&mut streamed, 1).unwrap();
            e.write_all(&vec![0u8; 1 << 20]).unwrap();
            e.finish().unwrap();
        }
        assert!(matches!(
            unzstd_limited(&streamed, 1000),
            Err(ApiError::TooLarge(_))
        ));
        assert!(matches!(
            unzstd_limited(b"m f=1", 100),
            Err(ApiError::BadRequest(_))
        ));
        let mut truncated = zstd::bulk::compress(b"m f=1 1\n", 1).unwrap();
        truncated.pop();
        assert!(matches!(
            unzstd_limited(&truncated, 100),
            Err(ApiError::BadRequest(_))
        ));
    }

    #[test]
    fn unknown_encodings_are_refused() {
        let mut h = HeaderMap::new();
        assert_eq!(Encoding::of(&h).unwrap(), Encoding::Identity);
        h.insert("content-encoding", "GZIP".parse().unwrap());
        assert_eq!(Encoding::of(&h).unwrap(), Encoding::Gzip);
        h.insert("content-encoding", "zstd".parse().unwrap());
        assert_eq!(Encoding::of(&h).unwrap(), Encoding::Zstd);
        h.insert("content-encoding", "br".parse().unwrap());
        assert!(matches!(
            Encoding::of(&h),
            Err(ApiError::UnsupportedEncoding(_))
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
