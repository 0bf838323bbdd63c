//! What a person wants to read off a certificate chain (common name, SANs, issuer, validity,
//! serial, fingerprint), parsed from the PEM the API returns. The API checked the chain when it
//! was uploaded; a chain that no longer parses shows as unknown, not as an error.

use std::net::IpAddr;

use aws_lc_rs::digest;
use x509_parser::extensions::GeneralName;
use x509_parser::pem::Pem;

use crate::domain::{Millis, common_name};

/// The readable facts of a chain's leaf certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct ChainFacts {
    /// Subject common name.
    pub(super) common_name: Option<String>,
    /// Subject alternative names (DNS names and IP addresses).
    pub(super) sans: Vec<String>,
    /// Issuer distinguished name.
    pub(super) issuer: String,
    /// Issuer common name (or the whole name when it has none).
    pub(super) issuer_name: String,
    /// Subject distinguished name.
    pub(super) subject: String,
    /// Start of validity, epoch ms.
    pub(super) not_before: Millis,
    /// End of validity, epoch ms.
    pub(super) not_after: Millis,
    /// Serial number, colon-separated hex.
    pub(super) serial: String,
    /// SHA-256 of the leaf's DER, colon-separated hex.
    pub(super) fingerprint: String,
    /// Certificates in the chain.
    pub(super) chain_length: usize,
}

/// The facts of the first certificate of `pem`; `None` when it does not parse.
pub(super) fn read(pem: &str) -> Option<ChainFacts> {
    let blocks: Vec<Pem> = Pem::iter_from_buffer(pem.as_bytes())
        .filter_map(Result::ok)
        .filter(|p| p.label == "CERTIFICATE")
        .collect();
    let leaf = blocks.first()?;
    let cert = leaf.parse_x509().ok()?;
    let subject_cn = common_name(cert.subject()).map(str::to_owned);
    let sans = match cert.subject_alternative_name() {
        Ok(Some(ext)) => ext
            .value
            .general_names
            .iter()
            .filter_map(|name| match name {
                GeneralName::DNSName(dns) => Some((*dns).to_owned()),
                GeneralName::IPAddress(bytes) => ip_text(bytes),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let issuer_name =
        common_name(cert.issuer()).map_or_else(|| cert.issuer().to_string(), str::to_owned);
    let fingerprint = digest::digest(&digest::SHA256, &leaf.contents);
    Some(ChainFacts {
        common_name: subject_cn,
        sans,
        issuer: cert.issuer().to_string(),
        issuer_name,
        subject: cert.subject().to_string(),
        not_before: cert.validity().not_before.timestamp().saturating_mul(1000),
        not_after: cert.validity().not_after.timestamp().saturating_mul(1000),
        serial: cert.raw_serial_as_string(),
        fingerprint: colon_hex(fingerprint.as_ref()),
        chain_length: blocks.len(),
    })
}

fn ip_text(bytes: &[u8]) -> Option<String> {
    let ip = match bytes.len() {
        4 => IpAddr::from(<[u8; 4]>::try_from(bytes).ok()?),
        16 => IpAddr::from(<[u8; 16]>::try_from(bytes).ok()?),
        _ => return None,
    };
    Some(ip.to_string())
}

fn colon_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_has_no_facts() {
        assert_eq!(read("not a certificate"), None);
        assert_eq!(ip_text(&[127, 0, 0, 1]).as_deref(), Some("127.0.0.1"));
        assert_eq!(colon_hex(&[1, 0xab]), "01:AB");
    }
}
