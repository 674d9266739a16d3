//! Where a sink writes: remote kind, URL, credentials, TLS and timeout.

use std::fmt;
use std::time::Duration;

use ferry_lp::RemoteKind;
use reqwest::Url;

use crate::SinkError;

/// Default per-request timeout of a [`WriteTarget`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything needed to write line protocol to one remote bucket/database.
///
/// `Debug` redacts the token and password, so a target can be logged safely.
#[derive(Clone, PartialEq)]
pub struct WriteTarget {
    /// Which write API the remote speaks.
    pub kind: RemoteKind,
    /// Base URL; any path prefix is kept (`https://h/p` → `https://h/p/api/v2/write`).
    pub base_url: String,
    /// API token (secret).
    pub token: Option<String>,
    /// Username for Basic auth (v1, TDengine).
    pub username: Option<String>,
    /// Password for Basic auth (secret).
    pub password: Option<String>,
    /// v2 org name or org ID (sent as `org=`; empty when absent).
    pub org: Option<String>,
    /// v2 bucket name or ID; v1 `db/rp` or `db`; v3 / TDengine database.
    pub bucket: String,
    /// Skip TLS certificate verification.
    pub allow_insecure_tls: bool,
    /// An extra CA certificate (PEM) to trust.
    pub ca_cert_pem: Option<Vec<u8>>,
    /// Per-request timeout (default 30 s).
    pub timeout: Duration,
}

impl fmt::Debug for WriteTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redact = |o: &Option<String>| o.as_ref().map(|_| "<redacted>");
        f.debug_struct("WriteTarget")
            .field("kind", &self.kind)
            .field("base_url", &self.base_url)
            .field("token", &redact(&self.token))
            .field("username", &self.username)
            .field("password", &redact(&self.password))
            .field("org", &self.org)
            .field("bucket", &self.bucket)
            .field("allow_insecure_tls", &self.allow_insecure_tls)
            .field("ca_cert_pem", &self.ca_cert_pem.as_ref().map(|p| p.len()))
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl WriteTarget {
    /// A target with the given kind, URL and bucket, no credentials, verified TLS and the
    /// default timeout.
    pub fn new(kind: RemoteKind, base_url: impl Into<String>, bucket: impl Into<String>) -> Self {
        WriteTarget {
            kind,
            base_url: base_url.into(),
            token: None,
            username: None,
            password: None,
            org: None,
            bucket: bucket.into(),
            allow_insecure_tls: false,
            ca_cert_pem: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Checks the base URL (http or https, with a host): a target that fails it can never
    /// be written to.
    pub fn validate(&self) -> Result<(), SinkError> {
        self.base().map(|_| ())
    }

    /// The parsed base URL (http or https only).
    fn base(&self) -> Result<Url, SinkError> {
        let bad = |reason: String| SinkError::InvalidUrl {
            url: self.base_url.clone(),
            reason,
        };
        let url = Url::parse(self.base_url.trim()).map_err(|e| bad(e.to_string()))?;
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(bad("scheme must be http or https".into()));
        }
        if url.cannot_be_a_base() || url.host_str().is_none() {
            return Err(bad("no host".into()));
        }
        Ok(url)
    }

    /// `base_url` with `path` appended to its path prefix; query and fragment dropped.
    fn endpoint(&self, path: &str) -> Result<Url, SinkError> {
        let mut url = self.base()?;
        let prefix = url.path().trim_end_matches('/').to_string();
        url.set_path(&format!("{prefix}{path}"));
        url.set_query(None);
        url.set_fragment(None);
        Ok(url)
    }

    /// The write URL for this kind, query values percent-encoded:
    /// v2 `…/api/v2/write?org=&bucket=&precision=ns`; v1 `…/write?db=&rp=&precision=ns`;
    /// v3 `…/api/v3/write_lp?db=&precision=nanosecond`; TDengine
    /// `…/influxdb/v1/write?db=&precision=ns`.
    pub fn write_url(&self) -> Result<Url, SinkError> {
        if self.bucket.is_empty() {
            return Err(SinkError::MissingBucket);
        }
        let (path, pairs): (&str, Vec<(&str, &str)>) = match self.kind {
            RemoteKind::V2 => (
                "/api/v2/write",
                vec![
                    ("org", self.org.as_deref().unwrap_or("")),
                    ("bucket", &self.bucket),
                    ("precision", "ns"),
                ],
            ),
            RemoteKind::V1 => {
                let mut pairs = Vec::new();
                match self.bucket.split_once('/') {
                    Some((db, rp)) => {
                        pairs.push(("db", db));
                        if !rp.is_empty() {
                            pairs.push(("rp", rp));
                        }
                    }
                    None => pairs.push(("db", &self.bucket)),
                }
                pairs.push(("precision", "ns"));
                ("/write", pairs)
            }
            RemoteKind::V3 => (
                "/api/v3/write_lp",
                vec![("db", &self.bucket), ("precision", "nanosecond")],
            ),
            RemoteKind::Tdengine => (
                "/influxdb/v1/write",
                vec![("db", &self.bucket), ("precision", "ns")],
            ),
        };
        let mut url = self.endpoint(path)?;
        url.query_pairs_mut().extend_pairs(pairs);
        Ok(url)
    }

    /// `GET` URL of the remote's ping endpoint (`{base}/ping`).
    pub fn ping_url(&self) -> Result<Url, SinkError> {
        self.endpoint("/ping")
    }

    /// The authentication this kind sends, if any credentials are set: v2 `Token`, v3
    /// `Bearer`, v1 Basic (username) else `Token`, TDengine Basic (username) else `Token`.
    pub(crate) fn auth(&self) -> Auth<'_> {
        let basic = || {
            self.username
                .as_deref()
                .map(|u| Auth::Basic(u, self.password.as_deref()))
        };
        let token = |scheme: &'static str| {
            self.token
                .as_deref()
                .map(|t| Auth::Header(format!("{scheme} {t}")))
        };
        match self.kind {
            RemoteKind::V2 => token("Token"),
            RemoteKind::V3 => token("Bearer"),
            RemoteKind::V1 | RemoteKind::Tdengine => basic().or_else(|| token("Token")),
        }
        .unwrap_or(Auth::None)
    }
}

/// How a request authenticates.
pub(crate) enum Auth<'a> {
    /// No credentials.
    None,
    /// HTTP Basic.
    Basic(&'a str, Option<&'a str>),
    /// A full `Authorization` header value.
    Header(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(kind: RemoteKind, base: &str, bucket: &str) -> WriteTarget {
        WriteTarget::new(kind, base, bucket)
    }

    #[test]
    fn urls_per_kind_keep_prefix_and_encode() {
        let mut v2 = t(RemoteKind::V2, "https://h:8086/pre/fix/", "my bucket&x");
        v2.org = Some("o/rg".into());
        assert_eq!(
            v2.write_url().unwrap().as_str(),
            "https://h:8086/pre/fix/api/v2/write?org=o%2Frg&bucket=my+bucket%26x&precision=ns"
        );
        let v2 = t(RemoteKind::V2, "http://h", "b");
        assert_eq!(
            v2.write_url().unwrap().as_str(),
            "http://h/api/v2/write?org=&bucket=b&precision=ns"
        );
        assert_eq!(
            t(RemoteKind::V1, "http://h/p", "db/rp")
                .write_url()
                .unwrap()
                .as_str(),
            "http://h/p/write?db=db&rp=rp&precision=ns"
        );
        assert_eq!(
            t(RemoteKind::V1, "http://h", "db")
                .write_url()
                .unwrap()
                .as_str(),
            "http://h/write?db=db&precision=ns"
        );
        assert_eq!(
            t(RemoteKind::V3, "http://h", "d")
                .write_url()
                .unwrap()
                .as_str(),
            "http://h/api/v3/write_lp?db=d&precision=nanosecond"
        );
        assert_eq!(
            t(RemoteKind::Tdengine, "http://h:6041", "d")
                .write_url()
                .unwrap()
                .as_str(),
            "http://h:6041/influxdb/v1/write?db=d&precision=ns"
        );
        assert_eq!(
            t(RemoteKind::V2, "http://h/x/", "b")
                .ping_url()
                .unwrap()
                .as_str(),
            "http://h/x/ping"
        );
    }

    #[test]
    fn bad_urls() {
        assert!(t(RemoteKind::V2, "ftp://h", "b").write_url().is_err());
        assert!(t(RemoteKind::V2, "not a url", "b").write_url().is_err());
        assert!(matches!(
            t(RemoteKind::V2, "http://h", "").write_url(),
            Err(SinkError::MissingBucket)
        ));
    }

    #[test]
    fn debug_redacts_secrets() {
        let mut w = t(RemoteKind::V1, "http://h", "b");
        w.token = Some("sekrit-token".into());
        w.password = Some("hunter2".into());
        let s = format!("{w:?}");
        assert!(!s.contains("sekrit") && !s.contains("hunter2"), "{s}");
        assert!(s.contains("<redacted>"));
    }
}
