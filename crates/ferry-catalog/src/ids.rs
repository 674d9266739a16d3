//! IDs and tokens.

use rand::{distributions::Alphanumeric, Rng};

/// A new random ID: 16 lowercase hex digits, never all zero, like InfluxDB's.
pub fn new_id() -> String {
    let mut rng = rand::thread_rng();
    loop {
        let v: u64 = rng.gen();
        if v != 0 {
            return format!("{v:016x}");
        }
    }
}

/// Checks that `s` is a well-formed ID (16 hex digits) and returns it lowercased.
pub fn parse_id(s: &str) -> Option<String> {
    (s.len() == 16 && s.bytes().all(|b| b.is_ascii_hexdigit())).then(|| s.to_ascii_lowercase())
}

/// A new API token: 64 random alphanumerics (≈380 bits), never stored in clear.
pub fn generate_token() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(64)
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_16_hex_digits() {
        for _ in 0..100 {
            let id = new_id();
            assert_eq!(parse_id(&id), Some(id.clone()));
        }
        assert_eq!(parse_id("xyz"), None);
        assert_eq!(parse_id("000000000000000g"), None);
    }

    #[test]
    fn tokens_differ() {
        assert_ne!(generate_token(), generate_token());
        assert_eq!(generate_token().len(), 64);
    }
}
