//! Secrets at rest: remote tokens, remote passwords and org secret values are stored sealed
//! (ChaCha20-Poly1305, ring's implementation, already in the build for TLS) with a key kept
//! outside the catalog, in its own file (`<data-dir>/secret.key` unless configured).
//!
//! What this protects against: a copy of `catalog.sqlite` (a backup, a support bundle, a
//! disk image, SQLite's WAL left behind) reveals no credential without the key file, and
//! the key can live elsewhere (`--secret-key-file`, e.g. a systemd credential). What it does
//! not: someone who can read the node's files as its user, or its memory, can read both.
//!
//! A sealed value is `sealed:v1:` + base64(nonce ‖ ciphertext ‖ tag). Each value is bound to
//! its place (`remote:<id>:token`, `secret:<org>:<key>`) as associated data, so a sealed
//! value copied into another row does not open. Values stored in clear by older releases
//! are read as they are and sealed the next time the catalog opens.

use std::path::Path;

use base64::Engine;
use rand::RngCore;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};

use crate::error::CatalogError;

const PREFIX: &str = "sealed:v1:";
const KEY_LEN: usize = 32;

/// Seals and opens the catalog's secrets with one key.
pub struct Sealer {
    key: LessSafeKey,
    /// Where the key came from, for error messages.
    source: String,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("source", &self.source)
            .finish()
    }
}

fn key_error(path: &Path, why: impl std::fmt::Display) -> CatalogError {
    CatalogError::Invalid(format!("secret key file {}: {why}", path.display()))
}

impl Sealer {
    /// Reads the key from `path` (64 hex digits), creating the file with a new random key
    /// (mode 0600, fsynced with its directory) when it does not exist.
    pub fn load_or_create(path: &Path) -> Result<Sealer, CatalogError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                create_key_file(path).map_err(|e| key_error(path, e))?
            }
            Err(e) => return Err(key_error(path, e)),
        };
        let bytes = decode_hex(text.trim())
            .filter(|b| b.len() == KEY_LEN)
            .ok_or_else(|| key_error(path, "expected 64 hex digits (a 256-bit key)"))?;
        Ok(Sealer::from_key(&bytes, path.display().to_string()))
    }

    /// A key that lives only in memory (in-memory catalogs of tests).
    pub fn ephemeral() -> Sealer {
        let mut bytes = [0u8; KEY_LEN];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Sealer::from_key(&bytes, "an in-memory key".into())
    }

    fn from_key(bytes: &[u8], source: String) -> Sealer {
        let key = UnboundKey::new(&CHACHA20_POLY1305, bytes).expect("a 32-byte key");
        Sealer {
            key: LessSafeKey::new(key),
            source,
        }
    }

    /// Seals `clear` for the place `context`.
    pub fn seal(&self, context: &str, clear: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let mut buf = clear.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut buf,
            )
            .expect("sealing fails only past 256 GiB");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        format!(
            "{PREFIX}{}",
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(out)
        )
    }

    /// Whether `stored` is sealed (else a clear value from an older release).
    pub fn is_sealed(stored: &str) -> bool {
        stored.starts_with(PREFIX)
    }

    /// The clear value of `stored` (sealed for `context`, or clear from an older release).
    pub fn open(&self, context: &str, stored: &str) -> Result<String, CatalogError> {
        let Some(b64) = stored.strip_prefix(PREFIX) else {
            return Ok(stored.to_string());
        };
        let fail = || {
            CatalogError::Invalid(format!(
                "cannot open the sealed value of {context} with {}: the catalog was sealed with another key file (restore that file, or set the credential again)",
                self.source
            ))
        };
        let raw = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(b64)
            .map_err(|_| fail())?;
        if raw.len() < NONCE_LEN {
            return Err(fail());
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| fail())?;
        let mut buf = sealed.to_vec();
        let clear = self
            .key
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut buf)
            .map_err(|_| fail())?;
        String::from_utf8(clear.to_vec()).map_err(|_| fail())
    }
}

/// Writes a new random key to `path` (see [`crate::private_file::write`]) and returns its
/// text.
fn create_key_file(path: &Path) -> std::io::Result<String> {
    let mut bytes = [0u8; KEY_LEN];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let text: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    crate::private_file::write(path, format!("{text}\n").as_bytes())?;
    Ok(text)
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_place() {
        let s = Sealer::ephemeral();
        let sealed = s.seal("remote:1:token", "t0ken");
        assert!(Sealer::is_sealed(&sealed) && !sealed.contains("t0ken"));
        assert_ne!(
            sealed,
            s.seal("remote:1:token", "t0ken"),
            "a fresh nonce each time"
        );
        assert_eq!(s.open("remote:1:token", &sealed).unwrap(), "t0ken");
        assert!(
            s.open("remote:2:token", &sealed).is_err(),
            "moved to another row"
        );
        assert!(Sealer::ephemeral().open("remote:1:token", &sealed).is_err());
        let mut tampered = sealed.clone();
        tampered.pop();
        assert!(s.open("remote:1:token", &tampered).is_err());
        assert_eq!(
            s.open("x", "clear from an old release").unwrap(),
            "clear from an old release"
        );
    }

    #[test]
    fn the_key_file_is_made_once_private_and_reread() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("secret.key");
        let a = Sealer::load_or_create(&p).unwrap();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let sealed = a.seal("c", "v");
        let b = Sealer::load_or_create(&p).unwrap();
        assert_eq!(b.open("c", &sealed).unwrap(), "v");
        std::fs::write(&p, "not hex\n").unwrap();
        let e = Sealer::load_or_create(&p).unwrap_err().to_string();
        assert!(e.contains("64 hex digits"), "{e}");
    }
}
