//! Where a stored remote is written: a catalog [`Remote`] and a bucket become the pipeline's
//! [`WriteTarget`]. It lives in the server, which knows both, so that the pipeline does not
//! depend on the catalog (and its SQLite).

use ferry_catalog::Remote;
use ferry_pipeline::target::DEFAULT_TIMEOUT;
use ferry_pipeline::{SinkError, WriteTarget};

fn non_empty(s: Option<&str>) -> Option<String> {
    s.filter(|s| !s.is_empty()).map(str::to_string)
}

/// The target for writing `bucket` (name or ID; `db/rp` for 1.x) on `remote`. Reads the
/// remote's CA certificate file, if any; empty token/username/password count as absent.
pub fn write_target(remote: &Remote, bucket: &str) -> Result<WriteTarget, SinkError> {
    if bucket.is_empty() {
        return Err(SinkError::MissingBucket);
    }
    let ca_cert_pem = match remote.ca_cert_file.as_deref().filter(|p| !p.is_empty()) {
        Some(path) => Some(std::fs::read(path).map_err(|source| SinkError::CaCertFile {
            path: path.to_string(),
            source,
        })?),
        None => None,
    };
    let t = WriteTarget {
        kind: remote.kind,
        base_url: remote.remote_url.clone(),
        token: non_empty(Some(&remote.remote_api_token)),
        username: non_empty(remote.remote_username.as_deref()),
        password: remote.remote_password.clone(),
        org: non_empty(remote.remote_org_id.as_deref()),
        bucket: bucket.to_string(),
        allow_insecure_tls: remote.allow_insecure_tls,
        ca_cert_pem,
        timeout: DEFAULT_TIMEOUT,
    };
    t.validate()?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_lp::RemoteKind;

    #[test]
    fn reads_the_remotes_fields() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, b"PEM").unwrap();
        let r = Remote {
            id: "0000000000000001".into(),
            org_id: "0000000000000002".into(),
            name: "r".into(),
            description: String::new(),
            remote_url: "https://remote/prefix".into(),
            remote_api_token: "tok".into(),
            remote_org_id: Some("abc".into()),
            allow_insecure_tls: true,
            kind: RemoteKind::V2,
            remote_username: Some(String::new()),
            remote_password: None,
            ca_cert_file: Some(ca.to_string_lossy().into()),
            created_at: String::new(),
            updated_at: String::new(),
        };
        let w = write_target(&r, "bk").unwrap();
        assert_eq!(w.token.as_deref(), Some("tok"));
        assert_eq!(w.username, None);
        assert_eq!(w.org.as_deref(), Some("abc"));
        assert_eq!(w.ca_cert_pem.as_deref(), Some(&b"PEM"[..]));
        assert!(w.allow_insecure_tls);
        assert_eq!(w.timeout, DEFAULT_TIMEOUT);
        let mut r2 = r.clone();
        r2.ca_cert_file = Some(dir.path().join("missing").to_string_lossy().into());
        assert!(matches!(
            write_target(&r2, "bk"),
            Err(SinkError::CaCertFile { .. })
        ));
        assert!(write_target(&r, "").is_err());
        let mut r3 = r.clone();
        r3.remote_url = "ftp://remote".into();
        assert!(matches!(
            write_target(&r3, "bk"),
            Err(SinkError::InvalidUrl { .. })
        ));
    }
}
