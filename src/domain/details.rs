//! What a certificate chain says about its leaf: names, issuer, serial, fingerprints, key,
//! signature algorithm and validity, whatever the key type or size (this describes, it does
//! not judge: the upload rules and the checks build on it).

use aws_lc_rs::digest::{SHA256, digest};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_NIST_EC_P521,
    OID_PKCS1_RSAENCRYPTION, OID_SIG_ED25519,
};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate, X509Name};

use super::{DomainError, ExpiryStatus, Millis};

/// One day in milliseconds.
pub(super) const DAY_MS: Millis = 86_400_000;

/// The facts of a chain's leaf certificate, as `GET .../details` reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateDetails {
    /// The subject's common name, if any.
    pub subject_cn: Option<String>,
    /// The DNS names of the subjectAltName extension, as written.
    pub sans: Vec<String>,
    /// The issuer's distinguished name.
    pub issuer: String,
    /// The serial number in lowercase hex.
    pub serial: String,
    /// SHA-256 of the leaf's DER, lowercase hex.
    pub fingerprint_sha256: String,
    /// SHA-256 of the leaf's SubjectPublicKeyInfo DER, lowercase hex (same key, same value).
    pub key_sha256: String,
    /// `RSA`, `EC`, `Ed25519` or `unknown`.
    pub key_type: &'static str,
    /// Key size in bits (RSA modulus, EC curve size; 256 for Ed25519; 0 when unknown).
    pub key_bits: u32,
    /// The leaf's signature algorithm (short name, or the OID when it has none).
    pub signature_algorithm: String,
    /// notBefore, epoch ms.
    pub not_before: Millis,
    /// notAfter, epoch ms.
    pub not_after: Millis,
    /// Certificates in the chain, leaf included.
    pub chain_length: usize,
}

impl CertificateDetails {
    /// Whole days from `now` until notAfter (negative once expired).
    pub fn days_left(&self, now: Millis) -> i64 {
        (self.not_after - now).div_euclid(DAY_MS)
    }

    /// The expiry state at `now`.
    pub fn exp_status(&self, now: Millis) -> ExpiryStatus {
        ExpiryStatus::at(self.not_after, now)
    }
}

/// Reads the leaf's facts of a PEM chain (any key type or size: this describes, it does not
/// judge).
pub fn certificate_details(content: &str) -> Result<CertificateDetails, DomainError> {
    let ders = read_ders(content)?;
    let certs = parse_all(&ders)?;
    let (leaf_der, leaf) = ders.first().zip(certs.first()).ok_or_else(no_certificate)?;
    Ok(facts_of(leaf_der, leaf, ders.len()))
}

fn no_certificate() -> DomainError {
    DomainError::InvalidCertificate("no PEM certificate found".to_owned())
}

pub(super) fn read_ders(content: &str) -> Result<Vec<CertificateDer<'static>>, DomainError> {
    let ders = CertificateDer::pem_slice_iter(content.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| DomainError::InvalidCertificate("PEM could not be read".to_owned()))?;
    if ders.is_empty() {
        return Err(no_certificate());
    }
    Ok(ders)
}

pub(super) fn parse_all<'a>(
    ders: &'a [CertificateDer<'static>],
) -> Result<Vec<X509Certificate<'a>>, DomainError> {
    ders.iter()
        .enumerate()
        .map(|(i, der)| {
            X509Certificate::from_der(der).map(|(_, c)| c).map_err(|_| {
                DomainError::InvalidCertificate(format!(
                    "certificate {} of the chain is not a valid X.509 certificate",
                    i + 1
                ))
            })
        })
        .collect()
}

/// The first common name (CN) of a distinguished name, if it has a readable one.
pub fn common_name<'a>(name: &'a X509Name<'_>) -> Option<&'a str> {
    name.iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
}

fn hex_sha256(bytes: &[u8]) -> String {
    hex::encode(digest(&SHA256, bytes).as_ref())
}

pub(super) fn facts_of(
    der: &[u8],
    cert: &X509Certificate<'_>,
    chain_length: usize,
) -> CertificateDetails {
    let subject_cn = common_name(cert.subject()).map(str::to_owned);
    let sans = dns_names(cert);
    let (key_type, key_bits) = key_of(cert);
    let sig_oid = &cert.signature_algorithm.algorithm;
    let signature_algorithm =
        x509_parser::objects::oid2sn(sig_oid, x509_parser::objects::oid_registry())
            .map_or_else(|_| sig_oid.to_id_string(), str::to_owned);
    CertificateDetails {
        subject_cn,
        sans,
        issuer: cert.issuer().to_string(),
        serial: hex::encode(cert.raw_serial()),
        fingerprint_sha256: hex_sha256(der),
        key_sha256: hex_sha256(cert.public_key().raw),
        key_type,
        key_bits,
        signature_algorithm,
        not_before: cert.validity().not_before.timestamp().saturating_mul(1000),
        not_after: cert.validity().not_after.timestamp().saturating_mul(1000),
        chain_length,
    }
}

fn dns_names(cert: &X509Certificate<'_>) -> Vec<String> {
    let Ok(Some(san)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    san.value
        .general_names
        .iter()
        .filter_map(|n| match n {
            GeneralName::DNSName(d) => Some((*d).to_owned()),
            _ => None,
        })
        .collect()
}

/// The key type and size of a certificate's public key, whatever it is.
pub(super) fn key_of(cert: &X509Certificate<'_>) -> (&'static str, u32) {
    let spki = cert.public_key();
    let alg = &spki.algorithm.algorithm;
    if *alg == OID_PKCS1_RSAENCRYPTION {
        let bits = spki.parsed().map(|k| k.key_size()).unwrap_or(0);
        ("RSA", u32::try_from(bits).unwrap_or(0))
    } else if *alg == OID_KEY_TYPE_EC_PUBLIC_KEY {
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.as_oid().ok());
        let bits = match curve {
            Some(c) if c == OID_EC_P256 => 256,
            Some(c) if c == OID_NIST_EC_P384 => 384,
            Some(c) if c == OID_NIST_EC_P521 => 521,
            _ => 0,
        };
        ("EC", bits)
    } else if *alg == OID_SIG_ED25519 {
        ("Ed25519", 256)
    } else {
        ("unknown", 0)
    }
}
