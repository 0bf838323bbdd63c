//! What a stored or local certificate chain says about itself (names, issuer, key, validity,
//! fingerprints), and the checks that find the mistakes which make uploads fail or browsers
//! refuse: a broken chain, a key that does not match, a hostname no SAN covers, weak or
//! outdated cryptography, and duplicates. Pure: the callers supply the bound hostnames, the
//! other stored certificates and the certificate clock.

use aws_lc_rs::digest::{SHA256, digest};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_NIST_EC_P521,
    OID_PKCS1_RSAENCRYPTION, OID_PKCS1_SHA1WITHRSA, OID_SHA1_WITH_RSA, OID_SIG_DSA_WITH_SHA1,
    OID_SIG_ED25519,
};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

use super::{DomainError, ExpiryStatus, Millis};

/// One day in milliseconds.
const DAY_MS: Millis = 86_400_000;
/// ecdsa-with-SHA1, which the OID registry does not name.
const ECDSA_WITH_SHA1: &str = "1.2.840.10045.4.1";
/// The longest validity browsers accept for a publicly trusted leaf (CA/B Forum, since 2020).
const MAX_VALIDITY_DAYS: i64 = 398;

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

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Worth knowing; nothing is wrong.
    Info,
    /// Works, but something is off (browsers may warn, renewals may surprise).
    Warning,
    /// Clients will fail (broken chain, mismatched key).
    Error,
}

impl Severity {
    /// The wire and command-line spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Error => "error",
        }
    }
}

/// One problem (or remark) about a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// How serious it is.
    pub severity: Severity,
    /// A stable code, e.g. `chain_missing_intermediate`.
    pub code: &'static str,
    /// What it is about, naming the certificate or hostname.
    pub message: String,
}

/// Another stored certificate of the project, for the duplicate checks.
#[derive(Debug, Clone)]
pub struct OtherCertificate {
    /// Its name.
    pub name: String,
    /// SHA-256 of its leaf DER (hex).
    pub fingerprint_sha256: String,
    /// SHA-256 of its leaf's public key info (hex).
    pub key_sha256: String,
}

/// What the checks look at besides the chain itself.
#[derive(Debug, Clone, Default)]
pub struct CheckContext<'a> {
    /// The PEM private key, when it should be checked against the leaf.
    pub key: Option<&'a str>,
    /// Hostnames the certificate serves (or will serve).
    pub hostnames: &'a [String],
    /// Other certificates already stored under other names.
    pub others: &'a [OtherCertificate],
    /// Certificate time now.
    pub now: Millis,
}

/// A parsed chain: its facts and its findings.
#[derive(Debug, Clone)]
pub struct Inspection {
    /// The leaf's facts.
    pub facts: CertificateDetails,
    /// Every finding, errors first.
    pub findings: Vec<Finding>,
}

/// Reads the leaf's facts of a PEM chain (any key type or size: this describes, it does not
/// judge).
pub fn certificate_details(content: &str) -> Result<CertificateDetails, DomainError> {
    let ders = read_ders(content)?;
    let certs = parse_all(&ders)?;
    let (leaf_der, leaf) = ders.first().zip(certs.first()).ok_or_else(no_certificate)?;
    Ok(facts_of(leaf_der, leaf, ders.len()))
}

/// Reads a PEM chain and runs every check on it.
pub fn inspect(content: &str, context: &CheckContext<'_>) -> Result<Inspection, DomainError> {
    let ders = read_ders(content)?;
    let certs = parse_all(&ders)?;
    let (leaf_der, leaf) = ders.first().zip(certs.first()).ok_or_else(no_certificate)?;
    let facts = facts_of(leaf_der, leaf, ders.len());
    let mut findings = Vec::new();
    check_chain(&certs, &mut findings);
    check_key(content, context.key, &mut findings);
    check_hostnames(&facts, context.hostnames, &mut findings);
    check_crypto(&certs, &mut findings);
    check_validity(&facts, context.now, &mut findings);
    check_duplicates(&facts, context.others, &mut findings);
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    Ok(Inspection { facts, findings })
}

fn no_certificate() -> DomainError {
    DomainError::InvalidCertificate("no PEM certificate found".to_owned())
}

fn read_ders(content: &str) -> Result<Vec<CertificateDer<'static>>, DomainError> {
    let ders = CertificateDer::pem_slice_iter(content.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| DomainError::InvalidCertificate("PEM could not be read".to_owned()))?;
    if ders.is_empty() {
        return Err(no_certificate());
    }
    Ok(ders)
}

fn parse_all<'a>(
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

fn hex_sha256(bytes: &[u8]) -> String {
    hex::encode(digest(&SHA256, bytes).as_ref())
}

fn facts_of(der: &[u8], cert: &X509Certificate<'_>, chain_length: usize) -> CertificateDetails {
    let subject_cn = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_owned);
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
fn key_of(cert: &X509Certificate<'_>) -> (&'static str, u32) {
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

/// A short name for certificate `i` of a chain in messages.
fn label(i: usize, cert: &X509Certificate<'_>) -> String {
    let position = if i == 0 {
        "the leaf".to_owned()
    } else {
        format!("certificate {}", i + 1)
    };
    format!("{position} ({})", cert.subject())
}

/// Whether `issuer` signed `subject`: names chain and the signature verifies (when the
/// algorithm is one the crypto library knows; otherwise the names decide).
fn signs(issuer: &X509Certificate<'_>, subject: &X509Certificate<'_>) -> bool {
    if issuer.subject().as_raw() != subject.issuer().as_raw() {
        return false;
    }
    match subject.verify_signature(Some(issuer.public_key())) {
        Ok(()) => true,
        Err(x509_parser::error::X509Error::SignatureUnsupportedAlgorithm) => true,
        Err(_) => false,
    }
}

fn is_self_signed(cert: &X509Certificate<'_>) -> bool {
    signs(cert, cert)
}

/// Each certificate must be signed by the next; a chain may end at an intermediate whose
/// issuer is not included (clients have the roots).
fn check_chain(certs: &[X509Certificate<'_>], out: &mut Vec<Finding>) {
    for (i, pair) in certs.windows(2).enumerate() {
        let (subject, next) = (&pair[0], &pair[1]);
        if is_self_signed(subject) || signs(next, subject) {
            continue;
        }
        let signer = certs
            .iter()
            .enumerate()
            .find(|(j, c)| *j != i && signs(c, subject));
        match signer {
            Some((j, _)) => out.push(Finding {
                severity: Severity::Error,
                code: "chain_out_of_order",
                message: format!(
                    "{} is signed by certificate {}, not by the certificate after it; order the \
                     chain leaf first, each certificate followed by its issuer",
                    label(i, subject),
                    j + 1
                ),
            }),
            None => out.push(Finding {
                severity: Severity::Error,
                code: "chain_missing_intermediate",
                message: format!(
                    "{} is not signed by the next certificate ({}); an intermediate issued by \
                     {} is missing",
                    label(i, subject),
                    next.subject(),
                    subject.issuer()
                ),
            }),
        }
    }
    for (i, cert) in certs.iter().enumerate().skip(1) {
        if is_self_signed(cert) {
            out.push(Finding {
                severity: Severity::Warning,
                code: "root_included",
                message: format!(
                    "{} is a self-signed root; clients have their own roots, so leave it out",
                    label(i, cert)
                ),
            });
        }
    }
}

fn check_key(content: &str, key: Option<&str>, out: &mut Vec<Finding>) {
    let Some(key) = key else { return };
    match super::parse_pair(content, key) {
        Ok(_) => {}
        Err(DomainError::KeyMismatch) => out.push(Finding {
            severity: Severity::Error,
            code: "key_mismatch",
            message: "the private key does not belong to the leaf certificate".to_owned(),
        }),
        Err(e @ (DomainError::InvalidKey(_) | DomainError::EncryptedKey)) => out.push(Finding {
            severity: Severity::Error,
            code: "key_unreadable",
            message: e.to_string(),
        }),
        Err(e) => out.push(Finding {
            severity: Severity::Error,
            code: "unsupported",
            message: format!("the upload would be refused: {e}"),
        }),
    }
}

/// Whether a SAN (possibly `*.` wildcard) covers a hostname: a wildcard covers exactly one
/// label.
pub fn san_covers(san: &str, hostname: &str) -> bool {
    let san = san.to_ascii_lowercase();
    let host = hostname.to_ascii_lowercase();
    if san == host {
        return true;
    }
    match (san.strip_prefix("*."), host.split_once('.')) {
        (Some(base), Some((first, rest))) => first != "*" && !first.is_empty() && rest == base,
        _ => false,
    }
}

fn check_hostnames(facts: &CertificateDetails, hostnames: &[String], out: &mut Vec<Finding>) {
    for host in hostnames {
        if !facts.sans.iter().any(|s| san_covers(s, host)) {
            out.push(Finding {
                severity: Severity::Warning,
                code: "hostname_not_covered",
                message: format!(
                    "hostname {host} is not covered by any SAN of the certificate ({})",
                    if facts.sans.is_empty() {
                        "it has none".to_owned()
                    } else {
                        facts.sans.join(", ")
                    }
                ),
            });
        }
    }
}

fn check_crypto(certs: &[X509Certificate<'_>], out: &mut Vec<Finding>) {
    for (i, cert) in certs.iter().enumerate() {
        let sig = &cert.signature_algorithm.algorithm;
        let sha1 = *sig == OID_PKCS1_SHA1WITHRSA
            || *sig == OID_SHA1_WITH_RSA
            || *sig == OID_SIG_DSA_WITH_SHA1
            || sig.to_id_string() == ECDSA_WITH_SHA1;
        // A root's self-signature is never checked by clients.
        if sha1 && !(i > 0 && is_self_signed(cert)) {
            out.push(Finding {
                severity: Severity::Warning,
                code: "sha1_signature",
                message: format!(
                    "{} is signed with SHA-1, which browsers reject",
                    label(i, cert)
                ),
            });
        }
        let (kind, bits) = key_of(cert);
        if kind == "RSA" && bits < 2048 {
            out.push(Finding {
                severity: Severity::Warning,
                code: "rsa_key_too_small",
                message: format!(
                    "{} has a {bits}-bit RSA key; use at least 2048 bits",
                    label(i, cert)
                ),
            });
        }
    }
}

fn check_validity(facts: &CertificateDetails, now: Millis, out: &mut Vec<Finding>) {
    let days = (facts.not_after - facts.not_before).div_euclid(DAY_MS);
    if days > MAX_VALIDITY_DAYS {
        out.push(Finding {
            severity: Severity::Warning,
            code: "validity_too_long",
            message: format!(
                "the leaf is valid for {days} days; browsers refuse publicly trusted \
                 certificates valid for more than {MAX_VALIDITY_DAYS} days"
            ),
        });
    }
    if now < facts.not_before {
        out.push(Finding {
            severity: Severity::Warning,
            code: "not_yet_valid",
            message: format!(
                "the leaf is not valid yet: its validity starts {} days from now",
                (facts.not_before - now).div_euclid(DAY_MS)
            ),
        });
    }
    if facts.not_after <= now {
        out.push(Finding {
            severity: Severity::Warning,
            code: "expired",
            message: "the leaf has expired".to_owned(),
        });
    }
}

fn check_duplicates(
    facts: &CertificateDetails,
    others: &[OtherCertificate],
    out: &mut Vec<Finding>,
) {
    for other in others {
        if other.fingerprint_sha256 == facts.fingerprint_sha256 {
            out.push(Finding {
                severity: Severity::Info,
                code: "duplicate_certificate",
                message: format!(
                    "the same certificate is already stored under the name {}",
                    other.name
                ),
            });
        } else if other.key_sha256 == facts.key_sha256 {
            out.push(Finding {
                severity: Severity::Info,
                code: "duplicate_key",
                message: format!(
                    "the same key is already used by the certificate named {}",
                    other.name
                ),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_cover_exactly_one_label() {
        assert!(san_covers("*.example.com", "www.example.com"));
        assert!(san_covers("WWW.example.com", "www.example.com"));
        assert!(san_covers("*.example.com", "*.example.com"));
        assert!(!san_covers("*.example.com", "example.com"));
        assert!(!san_covers("*.example.com", "a.b.example.com"));
        assert!(!san_covers("www.example.com", "*.example.com"));
        assert!(!san_covers("example.com", "www.example.com"));
    }
}
