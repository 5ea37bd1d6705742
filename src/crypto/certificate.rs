//! Certificate credentials of application profiles: an RSA key pair with its X.509 certificate,
//! generated here (self-signed, for upload to the app registration) or read from what an admin
//! uploads (PEM with certificate and key, or a PFX/PKCS#12 file). The key signs the client
//! assertion Microsoft's "certificate credentials" page describes; it is sealed at rest like a
//! client secret, and only its certificate is ever shown.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use rsa::signature::{Keypair, SignatureEncoding, Signer};
use rsa::traits::PublicKeyParts;
use sha2::{Digest, Sha256};
use x509_cert::der::{Decode, DecodePem, Encode, EncodePem, pem::LineEnding};

/// Entra accepts RSA keys of 2048 bits and more for certificate credentials.
const MIN_BITS: usize = 2048;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CertificateError {
    #[error("the file is neither PEM nor a PFX/PKCS#12 file")]
    Unreadable,
    #[error("no certificate in the file")]
    NoCertificate,
    #[error("no private key in the file")]
    NoPrivateKey,
    #[error("the PFX file could not be opened: wrong password or unsupported encryption")]
    PfxLocked,
    #[error("the private key does not belong to the certificate")]
    KeyMismatch,
    #[error("the key is not an RSA key")]
    NotRsa,
    #[error("the RSA key has {0} bits; at least 2048 are needed")]
    KeyTooShort(usize),
    #[error("the certificate's validity cannot be read")]
    BadValidity,
    #[error("could not create the certificate: {0}")]
    Create(String),
    /// More bags or key-derivation rounds than a certificate export has: opening it would
    /// keep a core busy for seconds.
    #[error("the PFX file asks for more work than a certificate export needs")]
    PfxTooCostly,
}

/// The largest PFX accepted: a certificate with a 4096-bit key and a chain of a few issuers is
/// well under it.
pub const MAX_PFX_BYTES: usize = 32 * 1024;
/// Key-derivation rounds a PFX may ask for in all, as far as they can be read before opening
/// it (Windows and OpenSSL exports use 2,000–10,000 per derivation, a handful of derivations).
const MAX_PFX_ROUNDS: u64 = 1 << 21;
/// Nesting depth the DER walk follows.
const MAX_DER_DEPTH: usize = 24;

/// One DER element: tag, and the contents' range in `der`.
fn der_element(der: &[u8], at: usize) -> Option<(u8, std::ops::Range<usize>)> {
    let tag = *der.get(at)?;
    let first = *der.get(at + 1)? as usize;
    let (len, head) = if first < 0x80 {
        (first, 2)
    } else {
        let n = first & 0x7f;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *der.get(at + 2 + i)? as usize;
        }
        (len, 2 + n)
    };
    let start = at + head;
    let end = start.checked_add(len)?;
    (end <= der.len()).then_some((tag, start..end))
}

/// The children of a constructed DER element's contents, or `None` if they do not parse.
fn der_children(
    der: &[u8],
    range: std::ops::Range<usize>,
) -> Option<Vec<(u8, std::ops::Range<usize>)>> {
    let mut out = Vec::new();
    let mut at = range.start;
    while at < range.end {
        let (tag, r) = der_element(der, at)?;
        if r.end > range.end {
            return None;
        }
        at = r.end;
        out.push((tag, r));
    }
    Some(out)
}

/// Sums the iteration counts a PFX states where they can be read without a password: every
/// SEQUENCE of an OCTET STRING (a salt) followed by an INTEGER (PBKDF2's and PKCS#12's PBE
/// parameters, MacData), walking into OCTET STRINGs that hold DER (unencrypted SafeContents).
fn stated_rounds(der: &[u8], range: std::ops::Range<usize>, depth: usize, total: &mut u64) {
    if depth > MAX_DER_DEPTH || *total > MAX_PFX_ROUNDS {
        return;
    }
    let Some(children) = der_children(der, range) else {
        return;
    };
    for pair in children.windows(2) {
        if let [(0x04, _), (0x02, int)] = pair {
            let value = der[int.clone()]
                .iter()
                .take(8)
                .fold(0u64, |v, b| (v << 8) | u64::from(*b));
            *total = total.saturating_add(value);
        }
    }
    for (tag, r) in children {
        match tag {
            // SEQUENCE, SET, context-specific constructed: walk in.
            0x30 | 0x31 | 0xa0..=0xbf => stated_rounds(der, r, depth + 1, total),
            // An OCTET STRING may hold DER (SafeContents, the authSafe's content).
            0x04 if der_element(der, r.start)
                .is_some_and(|(t, inner)| t == 0x30 && inner.end == r.end) =>
            {
                stated_rounds(der, r, depth + 1, total);
            }
            _ => {}
        }
    }
}

/// Refuses a PFX that asks for more work than a certificate export needs, before any of it
/// is done.
fn check_pfx_cost(bytes: &[u8]) -> Result<()> {
    if bytes.len() > MAX_PFX_BYTES {
        return Err(CertificateError::PfxTooCostly);
    }
    let mut total = 0;
    stated_rounds(bytes, 0..bytes.len(), 0, &mut total);
    if total > MAX_PFX_ROUNDS {
        return Err(CertificateError::PfxTooCostly);
    }
    Ok(())
}

type Result<T> = std::result::Result<T, CertificateError>;

/// What is shown of a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateInfo {
    pub subject: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    /// SHA-1 over the DER, upper-case hex: the "Thumbprint" the Entra admin center lists.
    pub thumbprint: String,
}

/// A key pair with its certificate.
pub struct CertificateCredential {
    key: rsa::PrivateKey,
    der: Vec<u8>,
    info: CertificateInfo,
}

impl std::fmt::Debug for CertificateCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateCredential")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

/// The self-signed profile: issuer = subject, no extensions (Entra only reads the public key
/// and the validity of an uploaded certificate).
struct SelfSigned(x509_cert::name::Name);

impl x509_cert::builder::profile::BuilderProfile for SelfSigned {
    fn get_issuer(&self, _subject: &x509_cert::name::Name) -> x509_cert::name::Name {
        self.0.clone()
    }
    fn get_subject(&self) -> x509_cert::name::Name {
        self.0.clone()
    }
    fn build_extensions(
        &self,
        _spk: x509_cert::spki::SubjectPublicKeyInfoRef<'_>,
        _issuer_spk: x509_cert::spki::SubjectPublicKeyInfoRef<'_>,
        _tbs: &x509_cert::TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<x509_cert::ext::Extension>> {
        Ok(Vec::new())
    }
}

fn create(e: impl std::fmt::Display) -> CertificateError {
    CertificateError::Create(e.to_string())
}

fn time(t: x509_cert::time::Time) -> Result<DateTime<Utc>> {
    let secs =
        i64::try_from(t.to_unix_duration().as_secs()).map_err(|_| CertificateError::BadValidity)?;
    DateTime::from_timestamp(secs, 0).ok_or(CertificateError::BadValidity)
}

impl CertificateCredential {
    /// A new RSA key pair (2048 bits, as Microsoft's own `New-SelfSignedCertificate` examples)
    /// and a self-signed certificate `CN={common_name}` valid from `now` for `days`.
    pub fn generate(common_name: &str, now: DateTime<Utc>, days: u32) -> Result<Self> {
        use rsa::Generate;
        use x509_cert::builder::Builder;
        let key = rsa::PrivateKey::try_generate().map_err(create)?;
        // Only letters, digits, spaces, dots and dashes: nothing RFC 4514 would need escaped.
        let cn: String = common_name
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || matches!(c, ' ' | '-' | '.') {
                    c
                } else {
                    '-'
                }
            })
            .take(64)
            .collect();
        let name: x509_cert::name::Name = format!("CN={}", cn.trim()).parse().map_err(create)?;
        let start = std::time::UNIX_EPOCH
            + std::time::Duration::from_secs(u64::try_from(now.timestamp()).map_err(create)?);
        let end = start + std::time::Duration::from_secs(u64::from(days) * 86_400);
        let validity = x509_cert::time::Validity::new(
            x509_cert::time::Time::try_from(start).map_err(create)?,
            x509_cert::time::Time::try_from(end).map_err(create)?,
        );
        let mut serial = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut serial);
        serial[0] &= 0x7f;
        let serial = x509_cert::serial_number::SerialNumber::new(&serial).map_err(create)?;
        let signer = rsa::pkcs1v15::SigningKey::<Sha256>::new(key.clone());
        let spki = x509_cert::spki::SubjectPublicKeyInfoOwned::from_key(&signer.verifying_key())
            .map_err(create)?;
        let builder =
            x509_cert::builder::CertificateBuilder::new(SelfSigned(name), serial, validity, spki)
                .map_err(create)?;
        let cert = builder
            .build::<_, rsa::pkcs1v15::Signature>(&signer)
            .map_err(create)?;
        let der = cert.to_der().map_err(create)?;
        Self::new(key, der)
    }

    /// A PEM file with a `CERTIFICATE` and its `PRIVATE KEY` (PKCS#8) or `RSA PRIVATE KEY`
    /// (PKCS#1), in any order; other blocks (a chain) are ignored after the first certificate.
    pub fn from_pem(text: &str) -> Result<Self> {
        use rsa::pkcs1::DecodeRsaPrivateKey;
        let mut cert = None;
        let mut key = None;
        let mut rest = text;
        let mut seen = false;
        while let Some(start) = rest.find("-----BEGIN ") {
            let Some(label_end) = rest[start + 11..].find("-----") else {
                break;
            };
            let label = &rest[start + 11..start + 11 + label_end];
            let end_marker = format!("-----END {label}-----");
            let Some(end) = rest[start..].find(&end_marker) else {
                return Err(CertificateError::Unreadable);
            };
            let block = &rest[start..start + end + end_marker.len()];
            seen = true;
            match label {
                "CERTIFICATE" if cert.is_none() => {
                    let c = x509_cert::Certificate::from_pem(block)
                        .map_err(|_| CertificateError::Unreadable)?;
                    cert = Some(c.to_der().map_err(|_| CertificateError::Unreadable)?);
                }
                "PRIVATE KEY" => {
                    key = Some(
                        rsa::PrivateKey::from_pkcs8_pem(block)
                            .map_err(|_| CertificateError::NotRsa)?,
                    );
                }
                "RSA PRIVATE KEY" => {
                    key = Some(
                        rsa::PrivateKey::from_pkcs1_pem(block)
                            .map_err(|_| CertificateError::Unreadable)?,
                    );
                }
                "ENCRYPTED PRIVATE KEY" => return Err(CertificateError::PfxLocked),
                _ => {}
            }
            rest = &rest[start + end + end_marker.len()..];
        }
        if !seen {
            return Err(CertificateError::Unreadable);
        }
        let der = cert.ok_or(CertificateError::NoCertificate)?;
        let key = key.ok_or(CertificateError::NoPrivateKey)?;
        Self::new(key, der)
    }

    /// A PFX (PKCS#12) file as Windows' `Export-PfxCertificate` or OpenSSL writes it.
    pub fn from_pfx(bytes: &[u8], password: &str) -> Result<Self> {
        use p12_keystore::{KeyStore, Pkcs12ImportPolicy};
        check_pfx_cost(bytes)?;
        let store = KeyStore::from_pkcs12(bytes, password, Pkcs12ImportPolicy::Relaxed).map_err(
            |e| match e {
                p12_keystore::error::Error::DerError(_)
                | p12_keystore::error::Error::InvalidVersion => CertificateError::Unreadable,
                _ => CertificateError::PfxLocked,
            },
        )?;
        let (_, chain) = store
            .private_key_chain()
            .ok_or(CertificateError::NoPrivateKey)?;
        let key = rsa::PrivateKey::from_pkcs8_der(chain.key().as_der())
            .map_err(|_| CertificateError::NotRsa)?;
        let pem_public = key.to_public_key();
        // The chain's certificate that carries this key (a PFX may hold its issuers too).
        let der = chain
            .certs()
            .iter()
            .map(|c| c.as_der().to_vec())
            .find(|d| public_key_of(d).is_ok_and(|k| k == pem_public))
            .or_else(|| chain.certs().first().map(|c| c.as_der().to_vec()))
            .ok_or(CertificateError::NoCertificate)?;
        Self::new(key, der)
    }

    /// What was stored: the sealed key's PEM and the certificate's DER.
    pub fn from_stored(key_pem: &str, der: &[u8]) -> Result<Self> {
        let key = rsa::PrivateKey::from_pkcs8_pem(key_pem).map_err(|_| CertificateError::NotRsa)?;
        Self::new(key, der.to_vec())
    }

    fn new(key: rsa::PrivateKey, der: Vec<u8>) -> Result<Self> {
        let bits = key.size() * 8;
        if bits < MIN_BITS {
            return Err(CertificateError::KeyTooShort(bits));
        }
        if public_key_of(&der)? != key.to_public_key() {
            return Err(CertificateError::KeyMismatch);
        }
        let info = info_of(&der)?;
        Ok(Self { key, der, info })
    }

    pub fn info(&self) -> &CertificateInfo {
        &self.info
    }

    pub fn certificate_der(&self) -> &[u8] {
        &self.der
    }

    /// The certificate for upload to Entra ("Certificates & secrets" takes .cer, .pem, .crt).
    pub fn certificate_pem(&self) -> String {
        pem_of(&self.der)
    }

    /// The private key as PKCS#8 PEM, for sealing.
    pub fn private_key_pem(&self) -> Result<zeroize::Zeroizing<String>> {
        self.key
            .to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
            .map_err(create)
    }

    /// The client assertion (RFC 7523, Microsoft's "certificate credentials"): header `alg`
    /// PS256, `typ` JWT and `x5t#S256` (SHA-256 thumbprint, base64url); claims `aud` = the
    /// token endpoint, `iss` = `sub` = the client id, a fresh GUID as `jti`, `nbf` = `iat` =
    /// now and `exp` ten minutes later (the page: "5-10 minutes after nbf at most").
    pub fn client_assertion(
        &self,
        client_id: &str,
        token_endpoint: &str,
        now: DateTime<Utc>,
    ) -> Result<String> {
        let header = serde_json::json!({
            "alg": "PS256",
            "typ": "JWT",
            "x5t#S256": URL_SAFE_NO_PAD.encode(Sha256::digest(&self.der)),
        });
        let claims = serde_json::json!({
            "aud": token_endpoint,
            "iss": client_id,
            "sub": client_id,
            "jti": uuid::Uuid::new_v4().to_string(),
            "nbf": now.timestamp(),
            "iat": now.timestamp(),
            "exp": now.timestamp() + 600,
        });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signer = rsa::pss::SigningKey::<Sha256>::new(self.key.clone());
        let signature = signer.try_sign(input.as_bytes()).map_err(create)?;
        Ok(format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode(signature.to_bytes())
        ))
    }
}

/// A DER certificate as PEM (empty for what is no certificate).
pub fn pem_of(der: &[u8]) -> String {
    x509_cert::Certificate::from_der(der)
        .ok()
        .and_then(|c| c.to_pem(LineEnding::LF).ok())
        .unwrap_or_default()
}

/// What is shown of a DER certificate.
pub fn info_of(der: &[u8]) -> Result<CertificateInfo> {
    let cert = x509_cert::Certificate::from_der(der).map_err(|_| CertificateError::Unreadable)?;
    let validity = &cert.tbs_certificate().validity();
    Ok(CertificateInfo {
        subject: cert.tbs_certificate().subject().to_string(),
        not_before: time(validity.not_before)?,
        not_after: time(validity.not_after)?,
        thumbprint: hex::encode_upper(sha1::Sha1::digest(der)),
    })
}

/// The RSA public key in a DER certificate.
fn public_key_of(der: &[u8]) -> Result<rsa::PublicKey> {
    use rsa::pkcs8::DecodePublicKey;
    let cert = x509_cert::Certificate::from_der(der).map_err(|_| CertificateError::Unreadable)?;
    let spki = cert
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .map_err(|_| CertificateError::Unreadable)?;
    rsa::PublicKey::from_public_key_der(&spki).map_err(|_| CertificateError::NotRsa)
}

/// A certificate's DER as stored (standard base64).
pub fn encode_der(der: &[u8]) -> String {
    STANDARD.encode(der)
}

pub fn decode_der(stored: &str) -> Option<Vec<u8>> {
    STANDARD.decode(stored).ok()
}

/// The public key's SPKI DER, for tests that check what a verifier would see.
#[cfg(test)]
fn spki_der(c: &CertificateCredential) -> Vec<u8> {
    use rsa::pkcs8::EncodePublicKey;
    c.key
        .to_public_key()
        .to_public_key_der()
        .map(|d| d.as_bytes().to_vec())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(part: &str) -> serde_json::Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("b64")).expect("json")
    }

    #[test]
    fn generated_certificate_round_trips_and_signs() {
        let now = Utc::now();
        let c = CertificateCredential::generate("Datapump, Zentrale/1", now, 730).expect("gen");
        assert_eq!(c.info().subject, "CN=Datapump- Zentrale-1");
        assert_eq!(c.info().not_before.timestamp(), now.timestamp());
        assert_eq!(
            (c.info().not_after - c.info().not_before).num_days(),
            730,
            "{:?}",
            c.info()
        );
        assert_eq!(c.info().thumbprint.len(), 40);
        // Stored and read back: the same certificate and key.
        let pem = c.private_key_pem().expect("pem");
        let back = CertificateCredential::from_stored(&pem, c.certificate_der()).expect("back");
        assert_eq!(back.info(), c.info());
        // The PEM an admin would upload elsewhere reads back too, key and certificate.
        let both = format!("{}{}", c.certificate_pem(), pem.as_str());
        assert_eq!(
            CertificateCredential::from_pem(&both).expect("pem").info(),
            c.info()
        );
        // The assertion: PS256 with x5t#S256, verifiable with the certificate's public key.
        let jwt = c
            .client_assertion("client-1", "https://login.example/t/oauth2/v2.0/token", now)
            .expect("jwt");
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header = decode(parts[0]);
        assert_eq!(header["alg"], "PS256");
        assert_eq!(
            header["x5t#S256"],
            URL_SAFE_NO_PAD.encode(Sha256::digest(c.certificate_der()))
        );
        let claims = decode(parts[1]);
        assert_eq!(claims["aud"], "https://login.example/t/oauth2/v2.0/token");
        assert_eq!(
            (claims["iss"].clone(), claims["sub"].clone()),
            ("client-1".into(), "client-1".into())
        );
        assert_eq!(claims["exp"].as_i64(), Some(now.timestamp() + 600));
        use rsa::pkcs8::DecodePublicKey;
        use rsa::signature::Verifier;
        let public = rsa::PublicKey::from_public_key_der(&spki_der(&c)).expect("spki");
        let verifier = rsa::pss::VerifyingKey::<Sha256>::new(public);
        let sig = rsa::pss::Signature::try_from(
            URL_SAFE_NO_PAD.decode(parts[2]).expect("sig").as_slice(),
        )
        .expect("sig");
        verifier
            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
            .expect("valid signature");
        // A fresh jti per assertion.
        let again = c
            .client_assertion("client-1", "https://login.example/t/oauth2/v2.0/token", now)
            .expect("jwt");
        assert_ne!(
            decode(again.split('.').nth(1).expect("claims"))["jti"],
            claims["jti"]
        );
    }

    #[test]
    fn uploads_are_checked() {
        let now = Utc::now();
        let a = CertificateCredential::generate("a", now, 30).expect("a");
        let b = CertificateCredential::generate("b", now, 30).expect("b");
        let key_b = b.private_key_pem().expect("pem");
        assert_eq!(
            CertificateCredential::from_pem(&format!("{}{}", a.certificate_pem(), key_b.as_str()))
                .map(|_| ()),
            Err(CertificateError::KeyMismatch)
        );
        assert_eq!(
            CertificateCredential::from_pem(&a.certificate_pem()).map(|_| ()),
            Err(CertificateError::NoPrivateKey)
        );
        assert_eq!(
            CertificateCredential::from_pem(key_b.as_str()).map(|_| ()),
            Err(CertificateError::NoCertificate)
        );
        assert_eq!(
            CertificateCredential::from_pem("not a certificate").map(|_| ()),
            Err(CertificateError::Unreadable)
        );
        assert_eq!(
            CertificateCredential::from_pfx(b"not a pfx", "x").map(|_| ()),
            Err(CertificateError::Unreadable)
        );
        // A PFX written with a password opens with it, and only with it.
        use p12_keystore::{Certificate, KeyStore, KeyStoreEntry, PrivateKey, PrivateKeyChain};
        let mut store = KeyStore::new();
        let key_der = a.key.to_pkcs8_der().expect("der");
        store.add_entry(
            "datapump",
            KeyStoreEntry::PrivateKeyChain(PrivateKeyChain::new(
                b"1".as_slice(),
                PrivateKey::from_der(key_der.as_bytes()).expect("key"),
                [Certificate::from_der(a.certificate_der()).expect("cert")],
            )),
        );
        let pfx = store.writer("geheim").write().expect("pfx");
        assert_eq!(
            CertificateCredential::from_pfx(&pfx, "geheim")
                .expect("pfx")
                .info(),
            a.info()
        );
        assert_eq!(
            CertificateCredential::from_pfx(&pfx, "falsch").map(|_| ()),
            Err(CertificateError::PfxLocked)
        );
        // The same with a million key-derivation rounds (issue 30, item 5: 56 KB of such bags
        // took 18 s): refused before any round is done, at once.
        let costly = store
            .writer("geheim")
            .encryption_iterations(1_000_000)
            .mac_iterations(1_000_000)
            .write()
            .expect("pfx");
        let started = std::time::Instant::now();
        assert_eq!(
            CertificateCredential::from_pfx(&costly, "geheim").map(|_| ()),
            Err(CertificateError::PfxTooCostly)
        );
        assert!(started.elapsed() < std::time::Duration::from_millis(200));
        // Larger than any certificate export.
        let mut big = pfx.clone();
        big.resize(MAX_PFX_BYTES + 1, 0);
        assert_eq!(
            CertificateCredential::from_pfx(&big, "geheim").map(|_| ()),
            Err(CertificateError::PfxTooCostly)
        );
        // Exports as Windows and OpenSSL write them (2,000–10,000 rounds) still open.
        let usual = store
            .writer("geheim")
            .encryption_iterations(10_000)
            .mac_iterations(10_000)
            .write()
            .expect("pfx");
        assert!(CertificateCredential::from_pfx(&usual, "geheim").is_ok());
    }
}
