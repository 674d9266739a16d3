//! Finding the token in a request: `Authorization: Token T` / `Bearer T`, Basic auth (the
//! password is the token, as InfluxDB 2's v1 compatibility allows), or v1's `u`/`p` parameters.

use axum::http::HeaderMap;
use base64::Engine;

/// The token a request carries, if any. `p` is the v1 `p` query parameter.
pub fn request_token(headers: &HeaderMap, p: Option<&str>) -> Option<String> {
    if let Some(h) = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let h = h.trim();
        let (scheme, rest) = h.split_once(' ').unwrap_or((h, ""));
        let rest = rest.trim();
        match scheme.to_ascii_lowercase().as_str() {
            "token" | "bearer" => return Some(rest.to_string()),
            "basic" => {
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(rest)
                    .ok()?;
                let s = String::from_utf8(decoded).ok()?;
                let (_user, pass) = s.split_once(':')?;
                return Some(pass.to_string());
            }
            _ => return None,
        }
    }
    p.filter(|p| !p.is_empty()).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(v: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert("authorization", v.parse().unwrap());
        m
    }

    #[test]
    fn schemes() {
        assert_eq!(request_token(&h("Token abc"), None).as_deref(), Some("abc"));
        assert_eq!(
            request_token(&h("Bearer abc"), None).as_deref(),
            Some("abc")
        );
        // "user:tok" in base64
        assert_eq!(
            request_token(&h("Basic dXNlcjp0b2s="), None).as_deref(),
            Some("tok")
        );
        assert_eq!(
            request_token(&HeaderMap::new(), Some("p1")).as_deref(),
            Some("p1")
        );
        assert_eq!(request_token(&HeaderMap::new(), None), None);
    }
}
