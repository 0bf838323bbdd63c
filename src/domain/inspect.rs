//! The checks that find the mistakes which make uploads fail or browsers refuse: a broken
//! chain, a key that does not match, a hostname no SAN covers, weak or outdated cryptography,
//! and duplicates. Pure: the callers supply the bound hostnames, the other stored certificates
//! and the certificate clock.

use x509_parser::oid_registry::{OID_PKCS1_SHA1WITHRSA, OID_SHA1_WITH_RSA, OID_SIG_DSA_WITH_SHA1};
use x509_parser::prelude::X509Certificate;

use super::details::{DAY_MS, facts_of, key_of, parse_all, read_ders};
use super::{CertificateDetails, DomainError, Millis};

/// ecdsa-with-SHA1, which the OID registry does not name.
const ECDSA_WITH_SHA1: &str = "1.2.840.10045.4.1";
/// The longest validity browsers accept for a publicly trusted leaf (CA/B Forum, since 2020).
const MAX_VALIDITY_DAYS: i64 = 398;

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

/// Reads a PEM chain and runs every check on it.
pub fn inspect(content: &str, context: &CheckContext<'_>) -> Result<Inspection, DomainError> {
    let ders = read_ders(content)?;
    let certs = parse_all(&ders)?;
    let (leaf_der, leaf) = ders
        .first()
        .zip(certs.first())
        .ok_or_else(|| DomainError::InvalidCertificate("no PEM certificate found".to_owned()))?;
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
