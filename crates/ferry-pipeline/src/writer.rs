//! One HTTP writer per remote: sends compressed line protocol (gzip, or zstd to a Ferry remote
//! that says it accepts it, or plain when asked) and classifies the answer with THE retry
//! policy ([`crate::retry::classify`]).

use std::cell::RefCell;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use flate2::write::GzEncoder;
use flate2::Compression;
use reqwest::{Client, RequestBuilder, Response, Url};

use crate::retry::classify;
use crate::target::Auth;
use crate::{SinkError, WriteOutcome, WriteTarget};

/// Header a Ferry node puts on its `/ping` answer with its node ID (loop prevention).
pub const NODE_ID_HEADER: &str = "X-Ferry-Node-Id";

/// Header carrying the node IDs a replicated write passed through (loop prevention): the
/// streams send it, the write handlers read it.
pub const ORIGIN_HEADER: &str = "X-Ferry-Origin";

/// Most bytes of an answer body read (for its error message).
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// zstd level for batches: level 1 compresses line protocol better than gzip's best speed
/// (≈ ×7 vs ×4 on `cpu` metrics) at about twice its speed, and decodes several times faster.
const ZSTD_LEVEL: i32 = 1;

/// How a writer compresses its batches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BodyCompression {
    /// gzip, which every InfluxDB accepts, or zstd once the remote's `/ping` says it accepts
    /// it (a Ferry node). The default: an uplink carries a quarter to a seventh of the bytes.
    #[default]
    Auto,
    /// Always gzip.
    Gzip,
    /// No compression. For a target on the same machine or a fast LAN, where there are no
    /// bytes worth saving and compressing only costs CPU on both ends (the target's share is
    /// taken from its ingest: influxd 1.6 spends ~0.7 CPU-s per 1M `cpu` points on gunzip).
    None,
}

impl std::str::FromStr for BodyCompression {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(BodyCompression::Auto),
            "gzip" => Ok(BodyCompression::Gzip),
            "none" | "identity" => Ok(BodyCompression::None),
            other => Err(format!(
                "unknown compression {other:?}: expected auto, gzip or none"
            )),
        }
    }
}

/// Writes batches to one remote. Cheap to clone: clones share one keep-alive connection pool
/// and the body encoding chosen by [`RemoteWriter::probe`].
#[derive(Clone, Debug)]
pub struct RemoteWriter {
    target: Arc<WriteTarget>,
    client: Client,
    write_url: Url,
    ping_url: Url,
    /// Send zstd instead of gzip: set only when the remote's `/ping` lists zstd in its
    /// `Accept-Encoding` (a Ferry node) and the compression is `Auto`; cleared again if the
    /// remote answers 415.
    zstd: Arc<AtomicBool>,
    compression: BodyCompression,
}

impl RemoteWriter {
    /// A writer for `target`: one HTTP client (rustls, keep-alive, no redirects followed,
    /// the target's timeout; invalid certificates accepted only with `allow_insecure_tls`;
    /// the target's extra CA trusted).
    pub fn new(target: WriteTarget) -> Result<RemoteWriter, SinkError> {
        let write_url = target.write_url()?;
        let ping_url = target.ping_url()?;
        let mut builder = Client::builder()
            .use_rustls_tls()
            .user_agent(concat!("ferry/", env!("CARGO_PKG_VERSION")))
            .timeout(target.timeout)
            .connect_timeout(target.timeout.min(Duration::from_secs(10)))
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_keepalive(Duration::from_secs(60))
            .redirect(reqwest::redirect::Policy::none())
            .danger_accept_invalid_certs(target.allow_insecure_tls);
        if let Some(pem) = &target.ca_cert_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| SinkError::CaCert(e.to_string()))?;
            if certs.is_empty() {
                return Err(SinkError::CaCert("no certificate in PEM".into()));
            }
            for c in certs {
                builder = builder.add_root_certificate(c);
            }
        }
        let client = builder
            .build()
            .map_err(|e| SinkError::Client(error_chain(&e)))?;
        Ok(RemoteWriter {
            target: Arc::new(target),
            client,
            write_url,
            ping_url,
            zstd: Arc::new(AtomicBool::new(false)),
            compression: BodyCompression::Auto,
        })
    }

    /// The same writer with batches compressed as `compression` says (default `Auto`).
    pub fn with_compression(mut self, compression: BodyCompression) -> RemoteWriter {
        self.compression = compression;
        if compression != BodyCompression::Auto {
            self.zstd.store(false, Ordering::Relaxed);
        }
        self
    }

    /// The same writer for a bulk copy (`ferry write`, `ferry sync`): as
    /// [`RemoteWriter::with_compression`], except that `Auto` sends plain bodies to a remote
    /// on this machine ([`RemoteWriter::is_loopback`]), where compressing saves no bytes worth
    /// having and costs both ends CPU (a local influxd 1.6 spends ~15% of its ingest on
    /// gunzip). Replication streams keep `Auto`'s meaning everywhere.
    pub fn with_bulk_compression(self, compression: BodyCompression) -> RemoteWriter {
        let resolved = match compression {
            BodyCompression::Auto if self.is_loopback() => BodyCompression::None,
            other => other,
        };
        self.with_compression(resolved)
    }

    /// Whether the remote's host is this machine: `localhost`, or an IPv4/IPv6 loopback
    /// address.
    pub fn is_loopback(&self) -> bool {
        let Some(host) = self.write_url.host_str() else {
            return false;
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }

    /// The `Content-Encoding` batches are sent with now: `gzip` (what every InfluxDB accepts)
    /// unless the remote said it accepts `zstd`; `identity` (no header, plain body) with
    /// [`BodyCompression::None`].
    pub fn encoding(&self) -> &'static str {
        if self.compression == BodyCompression::None {
            "identity"
        } else if self.zstd.load(Ordering::Relaxed) {
            "zstd"
        } else {
            "gzip"
        }
    }

    /// The target this writer writes to.
    pub fn target(&self) -> &WriteTarget {
        &self.target
    }

    /// The URL batches are posted to.
    pub fn write_url(&self) -> &Url {
        &self.write_url
    }

    fn authed(&self, rb: RequestBuilder) -> RequestBuilder {
        match self.target.auth() {
            Auth::None => rb,
            Auth::Basic(u, p) => rb.basic_auth(u, p),
            Auth::Header(h) => match reqwest::header::HeaderValue::from_str(&h) {
                Ok(mut v) => {
                    v.set_sensitive(true);
                    rb.header(reqwest::header::AUTHORIZATION, v)
                }
                // Let reqwest report the invalid value as a builder error.
                Err(_) => rb.header(reqwest::header::AUTHORIZATION, h),
            },
        }
    }

    /// Posts `lp` compressed ([`RemoteWriter::encoding`]) with `extra_headers`, and
    /// classifies the answer. Never panics and never returns an error: transport failures
    /// and timeouts are [`WriteOutcome::Retry`]; a request that cannot even be built (e.g. an
    /// invalid extra header) is [`WriteOutcome::NeedsAttention`] with status 0. A zstd batch
    /// refused with 415 is sent again at once with gzip, and gzip is used from then on.
    pub async fn write(&self, lp: &[u8], extra_headers: &[(&str, String)]) -> WriteOutcome {
        let encoding = self.encoding();
        let resp = match self.post(lp, encoding, extra_headers).await {
            Ok(r) if encoding == "zstd" && r.status().as_u16() == 415 => {
                tracing::warn!(url = %self.write_url, "the remote refused zstd (415): sending gzip from now on");
                self.zstd.store(false, Ordering::Relaxed);
                self.post(lp, "gzip", extra_headers).await
            }
            other => other,
        };
        let resp = match resp {
            Ok(r) => r,
            Err(outcome) => return outcome,
        };
        let status = resp.status().as_u16();
        let header = |name: reqwest::header::HeaderName| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let retry_after = header(reqwest::header::RETRY_AFTER);
        let location = header(reqwest::header::LOCATION);
        let body = match read_capped(resp).await {
            Ok(b) => b,
            Err(e) if crate::retry::is_success_status(self.target.kind, status) => {
                tracing::debug!(status, "ignoring unreadable success body: {e}");
                Vec::new()
            }
            Err(e) => return self.transport_outcome(&e),
        };
        let outcome = classify(
            self.target.kind,
            status,
            retry_after.as_deref(),
            location.as_deref(),
            &body,
        );
        if !outcome.is_success() {
            tracing::debug!(url = %self.write_url, ?outcome, "remote write not accepted");
        }
        outcome
    }

    /// Sends one compressed batch; a failure to compress or send is the outcome to report.
    async fn post(
        &self,
        lp: &[u8],
        encoding: &'static str,
        extra_headers: &[(&str, String)],
    ) -> Result<Response, WriteOutcome> {
        let body = match encoding {
            "identity" => Ok(lp.to_vec()),
            "zstd" => zstd_compress(lp),
            _ => gzip(lp),
        };
        let body = body.map_err(|e| WriteOutcome::NeedsAttention {
            status: 0,
            message: format!("{encoding}: {e}"),
        })?;
        let mut rb = self
            .client
            .post(self.write_url.clone())
            .header(reqwest::header::CONTENT_TYPE, "text/plain; charset=utf-8");
        if encoding != "identity" {
            rb = rb.header(reqwest::header::CONTENT_ENCODING, encoding);
        }
        let mut rb = rb.body(body);
        for (k, v) in extra_headers {
            rb = rb.header(*k, v.as_str());
        }
        self.authed(rb)
            .send()
            .await
            .map_err(|e| self.transport_outcome(&e))
    }

    /// Checks the remote accepts writes: an empty write, as InfluxDB validates a replication.
    pub async fn validate(&self) -> WriteOutcome {
        self.write(b"", &[]).await
    }

    /// `GET {base}/ping` to learn about the remote: returns its [`NODE_ID_HEADER`] if it is a
    /// Ferry node that sends one, else `None` (also when the remote cannot be reached); and
    /// picks the body encoding (with [`BodyCompression::Auto`] only): zstd when the answer's
    /// `Accept-Encoding` lists it, gzip otherwise (also when the remote cannot be reached).
    pub async fn probe(&self) -> Option<String> {
        let resp = self
            .authed(self.client.get(self.ping_url.clone()))
            .send()
            .await
            .ok()?;
        let zstd = resp
            .headers()
            .get_all(reqwest::header::ACCEPT_ENCODING)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|e| {
                e.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .eq_ignore_ascii_case("zstd")
            })
            && self.compression == BodyCompression::Auto;
        if self.zstd.swap(zstd, Ordering::Relaxed) != zstd {
            tracing::info!(url = %self.write_url, encoding = self.encoding(), "remote body encoding chosen");
        }
        resp.headers()
            .get(NODE_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    }

    /// Whether the remote gives any HTTP answer to `GET {base}/ping` within `timeout` (its
    /// status does not matter: after a connection failure, any answer means it is back).
    pub async fn reachable(&self, timeout: Duration) -> bool {
        self.authed(self.client.get(self.ping_url.clone()).timeout(timeout))
            .send()
            .await
            .is_ok()
    }

    fn transport_outcome(&self, e: &reqwest::Error) -> WriteOutcome {
        if e.is_builder() {
            return WriteOutcome::NeedsAttention {
                status: 0,
                message: format!("cannot build request: {}", error_chain(e)),
            };
        }
        let message = if e.is_timeout() {
            format!(
                "no answer within {:?} from {}",
                self.target.timeout, self.write_url
            )
        } else if e.is_connect() {
            format!("cannot connect: {}", error_chain(e))
        } else {
            error_chain(e)
        };
        WriteOutcome::Retry {
            status: None,
            after: None,
            message,
            unreachable: e.is_connect() && !e.is_timeout(),
        }
    }
}

/// Reads at most [`MAX_ANSWER_BYTES`] of an answer body.
async fn read_capped(mut resp: Response) -> Result<Vec<u8>, reqwest::Error> {
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        let room = MAX_ANSWER_BYTES - out.len();
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() >= MAX_ANSWER_BYTES {
            break;
        }
    }
    Ok(out)
}

thread_local! {
    /// One zstd context per thread, reused across batches.
    static ZSTD: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
}

/// One zstd frame stating its content size (so the remote decodes it in one exact pass).
fn zstd_compress(lp: &[u8]) -> std::io::Result<Vec<u8>> {
    ZSTD.with(|cell| {
        let mut slot = cell.borrow_mut();
        let c = match slot.as_mut() {
            Some(c) => c,
            None => slot.insert(zstd::bulk::Compressor::new(ZSTD_LEVEL)?),
        };
        c.compress(lp)
    })
}

fn gzip(lp: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut enc = GzEncoder::new(Vec::with_capacity(lp.len() / 4 + 64), Compression::fast());
    enc.write_all(lp)?;
    enc.finish()
}

/// An error with its sources, `a: b: c` (a source already in the text is not repeated).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        let t = inner.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        src = inner.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_lp::RemoteKind;
    use std::io::Read as _;

    #[test]
    fn gzip_round_trips() {
        let z = gzip(b"m v=1 1\n").unwrap();
        let mut out = String::new();
        flate2::read::GzDecoder::new(&z[..])
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "m v=1 1\n");
    }

    #[test]
    fn zstd_round_trips_with_its_size_stated() {
        let lp = b"m v=1 1\n".repeat(100);
        let z = zstd_compress(&lp).unwrap();
        let again = zstd_compress(&lp).unwrap();
        assert_eq!(z, again, "a reused context compresses the same way");
        assert_eq!(
            zstd::zstd_safe::get_frame_content_size(&z).ok(),
            Some(Some(lp.len() as u64))
        );
        assert_eq!(zstd::bulk::decompress(&z, lp.len()).unwrap(), lp);
    }

    #[test]
    fn bad_ca_is_refused() {
        let mut t = WriteTarget::new(RemoteKind::V2, "https://h", "b");
        t.ca_cert_pem = Some(b"not pem".to_vec());
        assert!(matches!(RemoteWriter::new(t), Err(SinkError::CaCert(_))));
    }
}
