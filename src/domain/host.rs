//! The settings of a protected domain (dedicated-mode host) beyond its servers: TLS version,
//! cipher suite, protection status, description, and the `protocol` its servers imply.

use super::DomainError;
use super::server::{Protocol, Server};

/// Longest description in characters.
pub const MAX_DESCRIPTION: usize = 256;

fn invalid(msg: String) -> DomainError {
    DomainError::InvalidHostSetting(msg)
}

/// The lowest TLS version a host accepts from clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsVersion {
    /// `TLS v1.0`.
    V1_0,
    /// `TLS v1.1`.
    V1_1,
    /// `TLS v1.2`, the default.
    #[default]
    V1_2,
    /// `TLS v1.3`.
    V1_3,
}

impl TlsVersion {
    const ALL: [Self; 4] = [Self::V1_0, Self::V1_1, Self::V1_2, Self::V1_3];

    /// Parses the wire value (`TLS v1.2`).
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| {
                invalid("tls must be one of TLS v1.0, TLS v1.1, TLS v1.2, TLS v1.3".to_owned())
            })
    }

    /// The wire value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::V1_0 => "TLS v1.0",
            Self::V1_1 => "TLS v1.1",
            Self::V1_2 => "TLS v1.2",
            Self::V1_3 => "TLS v1.3",
        }
    }
}

/// The cipher suite set of a host: `cipher_1` to `cipher_6`, or `cipher_default`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cipher(&'static str);

impl Cipher {
    const ALL: [&'static str; 7] = [
        "cipher_default",
        "cipher_1",
        "cipher_2",
        "cipher_3",
        "cipher_4",
        "cipher_5",
        "cipher_6",
    ];

    /// Parses the wire value.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|c| *c == s)
            .map(Self)
            .ok_or_else(|| {
                invalid("cipher must be cipher_default or one of cipher_1 to cipher_6".to_owned())
            })
    }

    /// The wire value.
    pub const fn as_str(self) -> &'static str {
        self.0
    }
}

impl Default for Cipher {
    fn default() -> Self {
        Self("cipher_default")
    }
}

/// Whether the WAF inspects a host's traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProtectStatus {
    /// -1: requests go straight to the origin.
    Bypass,
    /// 0: forwarded without inspection.
    Paused,
    /// 1: inspected (the default).
    #[default]
    Protected,
}

impl ProtectStatus {
    /// Parses the wire code.
    pub fn from_code(code: i64) -> Result<Self, DomainError> {
        match code {
            -1 => Ok(Self::Bypass),
            0 => Ok(Self::Paused),
            1 => Ok(Self::Protected),
            _ => Err(invalid(
                "protect_status must be -1 (bypass), 0 (paused) or 1 (protected)".to_owned(),
            )),
        }
    }

    /// The wire code.
    pub const fn code(self) -> i32 {
        match self {
            Self::Bypass => -1,
            Self::Paused => 0,
            Self::Protected => 1,
        }
    }
}

/// Checks a description: up to [`MAX_DESCRIPTION`] characters, no control characters.
pub fn parse_description(s: &str) -> Result<String, DomainError> {
    if s.chars().count() > MAX_DESCRIPTION || s.chars().any(char::is_control) {
        return Err(invalid(format!(
            "description must be at most {MAX_DESCRIPTION} characters without control characters"
        )));
    }
    Ok(s.to_owned())
}

/// Everything about a host except its identity and certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSettings {
    /// Origin servers, 1 to [`MAX_SERVERS`].
    pub servers: Vec<Server>,
    /// Whether a proxy (CDN, load balancer) sits in front of the WAF.
    pub proxy: bool,
    /// Free text.
    pub description: String,
    /// Protection status.
    pub protect_status: ProtectStatus,
    /// Lowest TLS version.
    pub tls: TlsVersion,
    /// Cipher suite set.
    pub cipher: Cipher,
    /// Compliance checks switched on (`flag`); recorded and returned, not enforced.
    pub compliance: Compliance,
}

/// The host's `flag`: PCI 3DS and PCI DSS compliance checks, which the cloud offers with
/// `TLS v1.2` and `cipher_2`. wafcert records them so clients read back what they set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Compliance {
    /// PCI 3DS.
    pub pci_3ds: bool,
    /// PCI DSS.
    pub pci_dss: bool,
}

impl HostSettings {
    /// Settings with the given servers and every other field at its default.
    pub fn new(servers: Vec<Server>) -> Self {
        Self {
            servers,
            proxy: false,
            description: String::new(),
            protect_status: ProtectStatus::default(),
            tls: TlsVersion::default(),
            cipher: Cipher::default(),
            compliance: Compliance::default(),
        }
    }

    /// The host's `protocol`: the distinct front protocols of its servers, `HTTP`, `HTTPS` or
    /// `HTTP,HTTPS`.
    pub fn protocol(&self) -> &'static str {
        let http = self.has_front(Protocol::Http);
        let https = self.has_front(Protocol::Https);
        match (http, https) {
            (true, true) => "HTTP,HTTPS",
            (false, true) => "HTTPS",
            _ => "HTTP",
        }
    }

    /// Whether clients reach the host over HTTPS, so that it needs a certificate.
    pub fn needs_certificate(&self) -> bool {
        self.has_front(Protocol::Https)
    }

    fn has_front(&self, p: Protocol) -> bool {
        self.servers.iter().any(|s| s.front_protocol == p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Server, ServerFields};

    fn fields<'a>(front: &'a str, address: &'a str) -> ServerFields<'a> {
        ServerFields::sample(front, address)
    }

    #[test]
    fn protocol_is_derived_from_the_front_protocols() {
        let settings = |fronts: &[&str]| {
            let servers = fronts
                .iter()
                .map(|f| Server::parse(0, fields(f, "10.0.0.1")).unwrap());
            HostSettings::new(servers.collect())
        };
        assert_eq!(settings(&["HTTP"]).protocol(), "HTTP");
        assert_eq!(settings(&["HTTPS", "HTTPS"]).protocol(), "HTTPS");
        assert_eq!(settings(&["HTTPS", "HTTP"]).protocol(), "HTTP,HTTPS");
        assert!(!settings(&["HTTP"]).needs_certificate());
        assert!(settings(&["HTTP", "HTTPS"]).needs_certificate());
    }

    #[test]
    fn tls_cipher_protect_status_and_description() {
        assert_eq!(TlsVersion::default().as_str(), "TLS v1.2");
        assert_eq!(TlsVersion::parse("TLS v1.3").unwrap(), TlsVersion::V1_3);
        assert!(TlsVersion::parse("TLSv1.3").is_err());
        assert_eq!(Cipher::default().as_str(), "cipher_default");
        assert_eq!(Cipher::parse("cipher_6").unwrap().as_str(), "cipher_6");
        assert!(Cipher::parse("cipher_7").is_err());
        assert_eq!(ProtectStatus::default().code(), 1);
        for code in [-1, 0, 1] {
            assert_eq!(
                i64::from(ProtectStatus::from_code(code).unwrap().code()),
                code
            );
        }
        assert!(ProtectStatus::from_code(2).is_err());
        assert!(parse_description(&"é".repeat(MAX_DESCRIPTION)).is_ok());
        assert!(parse_description(&"a".repeat(MAX_DESCRIPTION + 1)).is_err());
        assert!(parse_description("line\nbreak").is_err());
    }
}
