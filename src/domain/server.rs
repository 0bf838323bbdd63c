//! Origin servers of a protected domain: front and back protocol, address, port, address
//! family, and the list's size limits.
//!
//! Messages name the wire fields (`server[1].port`) because they are shown to the caller as is.

use std::net::IpAddr;

use super::DomainError;
use super::hostname::is_server_name;

/// Most origin servers a host may have (the cloud's limit).
pub const MAX_SERVERS: usize = 80;
/// Longest `vpc_id` in characters.
const MAX_VPC_ID: usize = 64;

fn invalid(msg: String) -> DomainError {
    DomainError::InvalidHostSetting(msg)
}

/// A client-facing (front) or origin-facing (back) protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Protocol {
    /// `HTTP`.
    Http,
    /// `HTTPS`.
    Https,
}

impl Protocol {
    /// Parses the wire value, which is upper case as documented.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "HTTP" => Some(Self::Http),
            "HTTPS" => Some(Self::Https),
            _ => None,
        }
    }

    /// The wire value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Http => "HTTP",
            Self::Https => "HTTPS",
        }
    }
}

/// The address family of an origin server (`type` on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressKind {
    /// `ipv4`.
    Ipv4,
    /// `ipv6`.
    Ipv6,
}

impl AddressKind {
    /// Parses the wire value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ipv4" => Some(Self::Ipv4),
            "ipv6" => Some(Self::Ipv6),
            _ => None,
        }
    }

    /// The wire value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ipv4 => "ipv4",
            Self::Ipv6 => "ipv6",
        }
    }
}

/// One origin server of a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// Protocol clients use towards the WAF.
    pub front_protocol: Protocol,
    /// Protocol the WAF uses towards the origin.
    pub back_protocol: Protocol,
    /// IP address or domain name of the origin.
    pub address: String,
    /// Port of the origin.
    pub port: u16,
    /// Address family.
    pub kind: AddressKind,
    /// The cloud network the origin lives in, kept as given.
    pub vpc_id: Option<String>,
}

/// The fields of one origin server as the caller gave them, before any check.
#[derive(Debug, Clone, Copy, Default)]
pub struct ServerFields<'a> {
    /// `front_protocol`.
    pub front_protocol: Option<&'a str>,
    /// `back_protocol`.
    pub back_protocol: Option<&'a str>,
    /// `address`.
    pub address: Option<&'a str>,
    /// `port`.
    pub port: Option<i64>,
    /// `type`.
    pub kind: Option<&'a str>,
    /// `vpc_id`.
    pub vpc_id: Option<&'a str>,
}

#[cfg(test)]
impl<'a> ServerFields<'a> {
    /// A valid entry (back protocol HTTP, port 80, `vpc-1`) for the tests of the domain.
    pub(crate) fn sample(front: &'a str, address: &'a str) -> Self {
        Self {
            front_protocol: Some(front),
            back_protocol: Some("HTTP"),
            address: Some(address),
            port: Some(80),
            kind: None,
            vpc_id: Some("vpc-1"),
        }
    }
}

impl Server {
    /// Checks the `index`-th entry of `server`. `type` may be left out: it then follows the
    /// address (`ipv4` for names); given, it must agree with an IP address.
    pub fn parse(index: usize, fields: ServerFields<'_>) -> Result<Self, DomainError> {
        let field = |name: &str| format!("server[{index}].{name}");
        let protocol = |name: &str, value: Option<&str>| {
            let value = value.ok_or_else(|| invalid(format!("{} is required", field(name))))?;
            Protocol::parse(value)
                .ok_or_else(|| invalid(format!("{} must be HTTP or HTTPS", field(name))))
        };
        let front_protocol = protocol("front_protocol", fields.front_protocol)?;
        let back_protocol = protocol("back_protocol", fields.back_protocol)?;
        let address = fields
            .address
            .ok_or_else(|| invalid(format!("{} is required", field("address"))))?;
        let family = match address.parse::<IpAddr>() {
            Ok(IpAddr::V4(_)) => Some(AddressKind::Ipv4),
            Ok(IpAddr::V6(_)) => Some(AddressKind::Ipv6),
            Err(_) if is_server_name(address) => None,
            Err(_) => {
                return Err(invalid(format!(
                    "{} must be an IPv4 or IPv6 address or a domain name",
                    field("address")
                )));
            }
        };
        let port = fields
            .port
            .ok_or_else(|| invalid(format!("{} is required", field("port"))))?;
        let port = u16::try_from(port)
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| invalid(format!("{} must be from 1 to 65535", field("port"))))?;
        let kind = match fields.kind {
            None => family.unwrap_or(AddressKind::Ipv4),
            Some(k) => {
                let kind = AddressKind::parse(k)
                    .ok_or_else(|| invalid(format!("{} must be ipv4 or ipv6", field("type"))))?;
                if family.is_some_and(|f| f != kind) {
                    return Err(invalid(format!(
                        "{} is {} but address is not an {} address",
                        field("type"),
                        kind.as_str(),
                        kind.as_str().replace("ip", "IP")
                    )));
                }
                kind
            }
        };
        let vpc_id = match fields.vpc_id {
            None | Some("") => None,
            Some(v)
                if v.len() <= MAX_VPC_ID
                    && v.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
            {
                Some(v.to_owned())
            }
            Some(_) => {
                return Err(invalid(format!(
                    "{} must be up to {MAX_VPC_ID} letters, digits, '-' or '_'",
                    field("vpc_id")
                )));
            }
        };
        Ok(Self {
            front_protocol,
            back_protocol,
            address: address.to_owned(),
            port,
            kind,
            vpc_id,
        })
    }
}

/// Checks the whole `server` list: 1 to [`MAX_SERVERS`] entries.
pub fn parse_servers(entries: &[ServerFields<'_>]) -> Result<Vec<Server>, DomainError> {
    if entries.is_empty() || entries.len() > MAX_SERVERS {
        return Err(invalid(format!(
            "server must list 1 to {MAX_SERVERS} origin servers"
        )));
    }
    entries
        .iter()
        .enumerate()
        .map(|(i, f)| Server::parse(i, *f))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields<'a>(front: &'a str, address: &'a str) -> ServerFields<'a> {
        ServerFields::sample(front, address)
    }

    /// The sample entry with one field changed.
    fn with(edit: impl FnOnce(&mut ServerFields<'static>)) -> ServerFields<'static> {
        let mut f = fields("HTTP", "10.0.0.1");
        edit(&mut f);
        f
    }

    fn message(r: Result<Server, DomainError>) -> String {
        match r {
            Err(DomainError::InvalidHostSetting(m)) => m,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn servers_are_checked_field_by_field() {
        let s = Server::parse(0, fields("HTTPS", "10.0.0.1")).unwrap();
        assert_eq!(s.kind, AddressKind::Ipv4);
        assert_eq!(s.vpc_id.as_deref(), Some("vpc-1"));
        let s = Server::parse(0, fields("HTTP", "fd00::1")).unwrap();
        assert_eq!(s.kind, AddressKind::Ipv6);
        let s = Server::parse(0, fields("HTTP", "origin.internal")).unwrap();
        assert_eq!(s.kind, AddressKind::Ipv4);
        let cases: [(ServerFields<'_>, &str); 12] = [
            (
                with(|f| f.front_protocol = None),
                "server[3].front_protocol is required",
            ),
            (
                fields("https", "10.0.0.1"),
                "front_protocol must be HTTP or HTTPS",
            ),
            (
                with(|f| f.back_protocol = Some("FTP")),
                "back_protocol must be",
            ),
            (with(|f| f.address = None), "address is required"),
            (fields("HTTP", "10.0.0.1:80"), "address must be"),
            (fields("HTTP", "*.example.com"), "address must be"),
            (with(|f| f.port = None), "port is required"),
            (with(|f| f.port = Some(0)), "port must be from 1 to 65535"),
            (with(|f| f.port = Some(65536)), "port must be"),
            (with(|f| f.kind = Some("ipv5")), "type must be ipv4 or ipv6"),
            (with(|f| f.kind = Some("ipv6")), "not an IPv6 address"),
            (with(|f| f.vpc_id = Some("has space")), "vpc_id must be"),
        ];
        for (f, needle) in cases {
            let msg = message(Server::parse(3, f));
            assert!(msg.contains(needle), "{msg:?} should contain {needle:?}");
        }
        let s = Server::parse(
            0,
            ServerFields {
                port: Some(65535),
                kind: Some("ipv4"),
                vpc_id: Some(""),
                ..fields("HTTP", "example.org")
            },
        )
        .unwrap();
        assert_eq!((s.port, s.vpc_id), (65535, None));
    }

    #[test]
    fn the_server_list_has_1_to_80_entries() {
        assert!(parse_servers(&[]).is_err());
        let one = fields("HTTP", "10.0.0.1");
        assert_eq!(
            parse_servers(&[one; MAX_SERVERS]).unwrap().len(),
            MAX_SERVERS
        );
        assert!(parse_servers(&[one; MAX_SERVERS + 1]).is_err());
    }
}
