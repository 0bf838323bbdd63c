//! Reads an uploaded certificate chain and private key: PEM framing, X.509 facts, supported key
//! types and sizes, and whether the key belongs to the leaf certificate.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::{DomainError, Millis};

/// The smallest and largest RSA modulus the service accepts, in bits.
const RSA_BITS: std::ops::RangeInclusive<usize> = 2048..=8192;

/// The public-key algorithm of a certificate the service accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// RSA with the modulus size in bits.
    Rsa(usize),
    /// ECDSA on NIST P-256.
    EcP256,
    /// ECDSA on NIST P-384.
    EcP384,
    /// Ed25519.
    Ed25519,
}

/// A checked certificate chain and its private key, ready to be stored.
#[derive(Clone)]
pub struct CertificatePair {
    /// The PEM chain as uploaded, surrounding whitespace trimmed.
    pub content: String,
    /// The PEM private key as uploaded, surrounding whitespace trimmed.
    pub key: String,
    /// The leaf certificate's notAfter in epoch milliseconds.
    pub expire_time: Millis,
    /// The leaf's key algorithm.
    pub kind: KeyKind,
    /// SHA-256 of the leaf's DER, lowercase hex (finds the same certificate stored twice).
    pub leaf_sha256: String,
    /// SHA-256 of the leaf's SubjectPublicKeyInfo, lowercase hex (finds the same key reused).
    pub key_sha256: String,
}

impl std::fmt::Debug for CertificatePair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificatePair")
            .field("expire_time", &self.expire_time)
            .field("kind", &self.kind)
            .field("key", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// Parses and checks an uploaded pair: `content` must hold one or more PEM `CERTIFICATE` blocks
/// (leaf first) and `key` a PKCS#8, PKCS#1 or SEC1 PEM private key that matches the leaf.
pub fn parse_pair(content: &str, key: &str) -> Result<CertificatePair, DomainError> {
    let content = content.trim();
    let key = key.trim();
    let chain = read_chain(content)?;
    let details = super::details::certificate_details(content)?;
    let kind = supported_kind(details.key_type, details.key_bits)?;
    let key_der = read_key(key)?;
    check_match(chain, key_der)?;
    Ok(CertificatePair {
        content: content.to_owned(),
        key: key.to_owned(),
        expire_time: details.not_after,
        kind,
        leaf_sha256: details.fingerprint_sha256,
        key_sha256: details.key_sha256,
    })
}

/// The DER certificates of a PEM chain, in order.
fn read_chain(content: &str) -> Result<Vec<CertificateDer<'static>>, DomainError> {
    let invalid = |m: String| DomainError::InvalidCertificate(m);
    if !content.contains("-----BEGIN CERTIFICATE-----") {
        return Err(invalid(
            "no PEM certificate found; expected a block starting with -----BEGIN CERTIFICATE-----"
                .to_owned(),
        ));
    }
    // `content` is stored in clear and shown to read-only callers: a private key pasted into
    // it (a cert+key bundle) must not be stored there.
    if let Some(label) = pem_labels(content).find(|l| *l != "CERTIFICATE") {
        return Err(invalid(format!(
            "content may hold only CERTIFICATE PEM blocks, not {label}: send the private key \
             as key"
        )));
    }
    let chain = CertificateDer::pem_slice_iter(content.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(pem_problem(&e)))?;
    if chain.is_empty() {
        return Err(invalid("no PEM certificate found".to_owned()));
    }
    for (i, der) in chain.iter().enumerate() {
        X509Certificate::from_der(der).map_err(|_| {
            invalid(format!(
                "certificate {} of the chain is not a valid X.509 certificate",
                i + 1
            ))
        })?;
    }
    Ok(chain)
}

/// The labels of the PEM blocks in `text` (`CERTIFICATE`, `PRIVATE KEY`, ...).
fn pem_labels(text: &str) -> impl Iterator<Item = &str> {
    text.split("-----BEGIN ").skip(1).map(|rest| {
        let end = rest.find("-----").unwrap_or(rest.len()).min(40);
        rest.get(..end).unwrap_or("an unknown").trim()
    })
}

/// The key kind of a leaf whose key is `key_type` of `bits` bits; refuses key types and sizes
/// outside the supported set.
fn supported_kind(key_type: &str, bits: u32) -> Result<KeyKind, DomainError> {
    let bits = usize::try_from(bits).unwrap_or(0);
    match (key_type, bits) {
        ("RSA", bits) if RSA_BITS.contains(&bits) => Ok(KeyKind::Rsa(bits)),
        ("RSA", bits) => Err(DomainError::UnsupportedKey(format!(
            "RSA keys must be 2048 to 8192 bits; the certificate has a {bits}-bit key"
        ))),
        ("EC", 256) => Ok(KeyKind::EcP256),
        ("EC", 384) => Ok(KeyKind::EcP384),
        ("EC", _) => Err(DomainError::UnsupportedKey(
            "EC keys must use the P-256 or P-384 curve".to_owned(),
        )),
        ("Ed25519", _) => Ok(KeyKind::Ed25519),
        _ => Err(DomainError::UnsupportedKey(
            "unsupported key algorithm; use RSA (2048-8192 bits), EC P-256/P-384 or Ed25519"
                .to_owned(),
        )),
    }
}

/// The DER private key of a PEM key; refuses encrypted keys with a message saying so.
fn read_key(key: &str) -> Result<PrivateKeyDer<'static>, DomainError> {
    if key.contains("ENCRYPTED PRIVATE KEY") || key.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(DomainError::EncryptedKey);
    }
    if !key.contains("-----BEGIN ") {
        return Err(DomainError::InvalidKey(
            "no PEM private key found; expected -----BEGIN PRIVATE KEY-----, -----BEGIN RSA PRIVATE KEY----- or -----BEGIN EC PRIVATE KEY-----"
                .to_owned(),
        ));
    }
    PrivateKeyDer::from_pem_slice(key.as_bytes()).map_err(|e| match e {
        pem::Error::NoItemsFound => DomainError::InvalidKey(
            "no private key block found; expected PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY"
                .to_owned(),
        ),
        other => DomainError::InvalidKey(pem_problem(&other)),
    })
}

/// Loads the key with the TLS stack and compares its public half with the leaf's.
fn check_match(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<(), DomainError> {
    let provider: &CryptoProvider = provider();
    let signing = provider.key_provider.load_private_key(key).map_err(|_| {
        DomainError::InvalidKey(
            "the private key could not be read: malformed, or not an RSA, EC P-256/P-384 or Ed25519 key"
                .to_owned(),
        )
    })?;
    match CertifiedKey::new(chain, signing).keys_match() {
        Ok(()) => Ok(()),
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            Err(DomainError::KeyMismatch)
        }
        Err(_) => Err(DomainError::InvalidKey(
            "could not check that the private key matches the certificate".to_owned(),
        )),
    }
}

/// The one crypto provider of the process (aws-lc-rs), built once.
fn provider() -> &'static CryptoProvider {
    static PROVIDER: std::sync::OnceLock<Arc<CryptoProvider>> = std::sync::OnceLock::new();
    PROVIDER.get_or_init(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
}

/// A person-readable description of a PEM framing error (never echoing the input).
fn pem_problem(e: &pem::Error) -> String {
    match e {
        pem::Error::MissingSectionEnd { .. } => {
            "PEM is truncated: a -----BEGIN block has no matching -----END line".to_owned()
        }
        pem::Error::IllegalSectionStart { .. } => "PEM has a malformed -----BEGIN line".to_owned(),
        pem::Error::Base64Decode(_) => "PEM body is not valid base64".to_owned(),
        pem::Error::SectionTooLarge => "PEM block is too large".to_owned(),
        _ => "PEM could not be read".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A real pair to mutate: P-256, made once.
    fn sample() -> &'static (String, String) {
        static SAMPLE: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
        SAMPLE.get_or_init(|| {
            let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
            let cert = rcgen::CertificateParams::new(vec!["a.example".to_owned()])
                .unwrap()
                .self_signed(&key)
                .unwrap();
            (cert.pem(), key.serialize_pem())
        })
    }

    /// Standard base64 with padding, so random bytes reach the DER parsers.
    fn base64(bytes: &[u8]) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |acc, (i, b)| acc | u32::from(*b) << (16 - 8 * i));
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    #[test]
    fn the_sample_pair_is_accepted() {
        let (cert, key) = sample();
        let pair = parse_pair(cert, key).unwrap();
        assert_eq!(pair.kind, KeyKind::EcP256);
        assert!(format!("{pair:?}").contains("redacted"));
    }

    #[test]
    fn a_private_key_in_content_is_refused() {
        let (cert, key) = sample();
        for content in [format!("{cert}\n{key}"), format!("{key}\n{cert}")] {
            let err = parse_pair(&content, key).unwrap_err().to_string();
            assert!(
                err.contains("PRIVATE KEY") && err.contains("as key"),
                "{err}"
            );
        }
        let ec = "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n";
        assert!(parse_pair(&format!("{cert}{ec}"), key).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Arbitrary text never panics the parser and is never accepted.
        #[test]
        fn arbitrary_text_is_refused(content in ".{0,400}", key in ".{0,400}") {
            prop_assert!(parse_pair(&content, &key).is_err());
        }

        /// Arbitrary bytes inside PEM armour never panic and are refused.
        #[test]
        fn arbitrary_pem_bodies_are_refused(body in proptest::collection::vec(any::<u8>(), 0..600)) {
            let b64 = base64(&body);
            let content = format!("-----BEGIN CERTIFICATE-----\n{b64}\n-----END CERTIFICATE-----\n");
            let key = format!("-----BEGIN PRIVATE KEY-----\n{b64}\n-----END PRIVATE KEY-----\n");
            prop_assert!(parse_pair(&content, &key).is_err());
            prop_assert!(parse_pair(&content, &sample().1).is_err());
            prop_assert!(parse_pair(&sample().0, &key).is_err());
        }

        /// Flipping or cutting bytes of a valid pair never panics; whatever is accepted still
        /// has a key matching its leaf.
        #[test]
        fn mutated_pairs_never_panic(
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
            cut in any::<usize>(),
            which in 0..3u8,
        ) {
            let (cert, key) = sample();
            let mutate = |s: &str| {
                let mut bytes = s.as_bytes().to_vec();
                for (pos, val) in &flips {
                    let i = pos % bytes.len();
                    bytes[i] = *val;
                }
                bytes.truncate(cut % (bytes.len() + 1));
                String::from_utf8_lossy(&bytes).into_owned()
            };
            let (c, k) = match which {
                0 => (mutate(cert), key.clone()),
                1 => (cert.clone(), mutate(key)),
                _ => (mutate(cert), mutate(key)),
            };
            if let Ok(pair) = parse_pair(&c, &k) {
                // Only mutations outside the DER (e.g. trailing text) may pass.
                prop_assert!(pair.content.contains("BEGIN CERTIFICATE"));
            }
        }
    }
}
