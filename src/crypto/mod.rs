//! Secrets at rest: the master key file and authenticated encryption of single values.
//!
//! Values are sealed with XChaCha20-Poly1305 (random 192-bit nonces are safe without a counter).
//! The associated data binds a ciphertext to where it is stored (`table:column:row`), so a value
//! copied into another row or column does not decrypt. The stored form is
//! `dp1:<key id>:<base64(nonce || ciphertext)>`; the key id lets `rotate-key` and the start-up
//! check tell which key sealed a value.

pub mod certificate;
pub mod context;

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use sha2::{Digest, Sha256};

const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 24;
const FORMAT: &str = "dp1";

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("cannot read the secret key file {path}: {reason}")]
    KeyFileRead { path: PathBuf, reason: String },
    #[error("cannot create the secret key file {path}: {reason}")]
    KeyFileCreate { path: PathBuf, reason: String },
    #[error(
        "the secret key file {path} is not valid: it must hold 32 bytes, base64-encoded ({reason})"
    )]
    KeyFileInvalid { path: PathBuf, reason: String },
    #[error(
        "the secret key file {path} can be read by other users (mode {mode:o}); restrict it with: chmod 600 {path}"
    )]
    KeyFileExposed { path: PathBuf, mode: u32 },
    #[error("a stored secret could not be decrypted (wrong key, or the value was altered)")]
    Decrypt,
    #[error("a stored secret has an unknown format")]
    Format,
    #[error("a stored secret was sealed with another key (key id {0})")]
    OtherKey(String),
}

/// The master key. Its `Debug` output never shows the key.
#[derive(Clone)]
pub struct SecretKey {
    key: [u8; KEY_LEN],
    id: String,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl SecretKey {
    pub fn from_bytes(key: [u8; KEY_LEN]) -> Self {
        // A short fingerprint, not the key: the first 8 bytes of SHA-256 over a label and the key.
        let digest = Sha256::new()
            .chain_update(b"datapump key id")
            .chain_update(key)
            .finalize();
        let id = hex::encode(&digest[..8]);
        Self { key, id }
    }

    pub fn generate() -> Self {
        let mut key = [0u8; KEY_LEN];
        rand::rng().fill_bytes(&mut key);
        Self::from_bytes(key)
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Reads the key file, or creates it with mode 0600 when it does not exist yet.
    /// Returns the key and whether it was created now.
    pub fn load_or_create(path: &Path) -> Result<(Self, bool), CryptoError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse_file(path, &text).map(|k| (k, false)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate();
                key.write_new_file(path)?;
                Ok((key, true))
            }
            Err(e) => Err(CryptoError::KeyFileRead {
                path: path.to_owned(),
                reason: e.to_string(),
            }),
        }
    }

    /// Reads an existing key file.
    pub fn load(path: &Path) -> Result<Self, CryptoError> {
        let text = std::fs::read_to_string(path).map_err(|e| CryptoError::KeyFileRead {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        Self::parse_file(path, &text)
    }

    /// Refuses a key file that group or others may read or write: whoever reads it decrypts
    /// every stored secret.
    fn check_permissions(path: &Path) -> Result<(), CryptoError> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path)
                .map_err(|e| CryptoError::KeyFileRead {
                    path: path.to_owned(),
                    reason: e.to_string(),
                })?
                .permissions()
                .mode()
                & 0o777;
            if mode & 0o077 != 0 {
                return Err(CryptoError::KeyFileExposed {
                    path: path.to_owned(),
                    mode,
                });
            }
        }
        #[cfg(not(unix))]
        let _ = path;
        Ok(())
    }

    fn parse_file(path: &Path, text: &str) -> Result<Self, CryptoError> {
        Self::check_permissions(path)?;
        let invalid = |reason: String| CryptoError::KeyFileInvalid {
            path: path.to_owned(),
            reason,
        };
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|e| invalid(e.to_string()))?;
        let key: [u8; KEY_LEN] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| invalid(format!("found {} bytes", b.len())))?;
        Ok(Self::from_bytes(key))
    }

    /// Writes the key to a new file readable by the owner only; never overwrites a file.
    pub fn write_new_file(&self, path: &Path) -> Result<(), CryptoError> {
        let fail = |e: std::io::Error| CryptoError::KeyFileCreate {
            path: path.to_owned(),
            reason: e.to_string(),
        };
        if let Some(dir) = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty() && !d.exists())
        {
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt;
                builder.mode(0o700);
            }
            builder.create(dir).map_err(fail)?;
        }
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(fail)?;
        file.write_all(format!("{}\n", STANDARD.encode(self.key)).as_bytes())
            .map_err(fail)?;
        file.sync_all().map_err(fail)
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&self.key.into())
    }

    /// A message authentication code over `data` for the purpose `context` (base64url), with a
    /// key derived for MACs alone, so that it never doubles as the encryption key.
    pub fn mac(&self, context: &str, data: &[u8]) -> String {
        use hmac::Mac;
        let derived = Sha256::new()
            .chain_update(b"datapump mac key")
            .chain_update(self.key)
            .finalize();
        // HMAC takes keys of any length: this cannot fail.
        let Ok(mut mac) = <hmac::Hmac<Sha256> as hmac::KeyInit>::new_from_slice(&derived) else {
            return String::new();
        };
        mac.update(context.as_bytes());
        mac.update(&[0]);
        mac.update(data);
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// Seals `plaintext`; `context` names where the value is stored, e.g. `profiles:client_secret:7`.
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher()
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: context.as_bytes(),
                },
            )
            // Encryption fails only for messages near 256 GiB; values here are a few KiB.
            .unwrap_or_default();
        let mut blob = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&ciphertext);
        format!("{FORMAT}:{}:{}", self.id, URL_SAFE_NO_PAD.encode(blob))
    }

    /// Opens a value sealed by [`SecretKey::seal`] with the same `context`.
    pub fn open(&self, context: &str, sealed: &str) -> Result<Vec<u8>, CryptoError> {
        let mut parts = sealed.splitn(3, ':');
        let (Some(FORMAT), Some(id), Some(body)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(CryptoError::Format);
        };
        if id != self.id {
            return Err(CryptoError::OtherKey(id.to_string()));
        }
        let blob = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| CryptoError::Format)?;
        if blob.len() < NONCE_LEN {
            return Err(CryptoError::Format);
        }
        let (nonce, ciphertext) = blob.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| CryptoError::Format)?;
        self.cipher()
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Decrypt)
    }

    pub fn open_string(&self, context: &str, sealed: &str) -> Result<String, CryptoError> {
        String::from_utf8(self.open(context, sealed)?).map_err(|_| CryptoError::Decrypt)
    }
}

/// The key id a sealed value names, if it has the expected format.
pub fn sealed_key_id(sealed: &str) -> Option<&str> {
    let mut parts = sealed.splitn(3, ':');
    match (parts.next(), parts.next()) {
        (Some(FORMAT), Some(id)) => Some(id),
        _ => None,
    }
}

/// A random token with 256 bits of entropy, URL-safe.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// SHA-256 of a token, hex-encoded: what is stored instead of one-time tokens themselves.
pub fn token_hash(token: &str) -> String {
    token_hash_bytes(token.as_bytes())
}

/// SHA-256 of `bytes`, hex.
pub fn token_hash_bytes(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_and_open_round_trip() {
        let key = SecretKey::generate();
        let sealed = key.seal("profiles:client_secret:1", b"s3cr3t value");
        assert!(sealed.starts_with(&format!("dp1:{}:", key.id())));
        assert!(!sealed.contains("s3cr3t"));
        let opened = key
            .open("profiles:client_secret:1", &sealed)
            .expect("opens");
        assert_eq!(opened, b"s3cr3t value");
    }

    #[test]
    fn context_is_bound() {
        let key = SecretKey::generate();
        let sealed = key.seal("profiles:client_secret:1", b"value");
        assert!(matches!(
            key.open("profiles:client_secret:2", &sealed),
            Err(CryptoError::Decrypt)
        ));
    }

    #[test]
    fn tampering_and_wrong_key_fail() {
        let key = SecretKey::generate();
        let mut sealed = key.seal("ctx", b"value");
        let last = sealed.pop().expect("non-empty");
        sealed.push(if last == 'A' { 'B' } else { 'A' });
        assert!(key.open("ctx", &sealed).is_err());

        let other = SecretKey::generate();
        let sealed = key.seal("ctx", b"value");
        assert!(matches!(
            other.open("ctx", &sealed),
            Err(CryptoError::OtherKey(_))
        ));
    }

    #[test]
    fn debug_hides_the_key() {
        let key = SecretKey::from_bytes([7u8; 32]);
        let shown = format!("{key:?}");
        assert!(!shown.contains("7, 7"), "{shown}");
        assert!(!shown.contains(&STANDARD.encode([7u8; 32])));
    }

    #[cfg(unix)]
    #[test]
    fn key_file_is_created_owner_only_and_reloaded() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub").join("secret.key");
        let (key, created) = SecretKey::load_or_create(&path).expect("created");
        assert!(created);
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let (again, created) = SecretKey::load_or_create(&path).expect("loaded");
        assert!(!created);
        assert_eq!(again.id(), key.id());
    }

    #[cfg(unix)]
    #[test]
    fn a_key_file_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("secret.key");
        SecretKey::load_or_create(&path).expect("created");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let err = SecretKey::load(&path).expect_err("refused");
        assert!(matches!(
            err,
            CryptoError::KeyFileExposed { mode: 0o644, .. }
        ));
        assert!(err.to_string().contains("chmod 600"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        assert!(SecretKey::load(&path).is_ok());
    }

    #[test]
    fn invalid_key_file_is_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("secret.key");
        std::fs::write(&path, "too short").expect("write");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        }
        let err = SecretKey::load_or_create(&path).expect_err("invalid");
        assert!(err.to_string().contains("32 bytes"), "{err}");
    }
}
