//! Domain names: the hostname a protected domain answers for (optionally a `*.` wildcard) and
//! the name of an origin server. Only the DNS letter-digit-hyphen rules, lowercase, no I/O.

use std::net::IpAddr;

use super::DomainError;

/// Longest domain name in characters (RFC 1035, without the trailing dot).
const MAX_NAME: usize = 253;
/// Longest label in characters.
const MAX_LABEL: usize = 63;

/// The hostname of a protected domain: a lowercase domain name of at least two labels, such as
/// `www.example.com`, or a wildcard over one, such as `*.example.com`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hostname(String);

impl Hostname {
    /// Checks `s` and lowercases it (DNS names are case-insensitive, so `WWW.Example.com` and
    /// `www.example.com` are the same protected domain).
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        let invalid = |why: &str| {
            DomainError::InvalidHostname(format!(
                "hostname must be a domain name such as www.example.com or *.example.com: {why}"
            ))
        };
        let lower = s.to_ascii_lowercase();
        let rest = lower.strip_prefix("*.").unwrap_or(&lower);
        if lower.is_empty() {
            return Err(invalid("it is empty"));
        }
        if rest.contains('*') {
            return Err(invalid(
                "a wildcard is allowed only as the whole first label (*.example.com)",
            ));
        }
        check_name(rest, 2).map_err(|why| invalid(&why))?;
        Ok(Self(lower))
    }

    /// The hostname as text (lowercase).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is a `*.` wildcard.
    pub fn is_wildcard(&self) -> bool {
        self.0.starts_with("*.")
    }
}

/// Whether `s` is a usable origin server name: a domain name of one or more labels (internal
/// names such as `backend` are fine for an origin), no wildcard.
pub fn is_server_name(s: &str) -> bool {
    check_name(s, 1).is_ok()
}

/// Checks the letter-digit-hyphen rules on a name with at least `min_labels` labels; the error
/// says what is wrong in words a caller can act on.
fn check_name(name: &str, min_labels: usize) -> Result<(), String> {
    if name.is_empty() {
        return Err("it is empty".to_owned());
    }
    if name.len() > MAX_NAME {
        return Err(format!("it is longer than {MAX_NAME} characters"));
    }
    if name.parse::<IpAddr>().is_ok() {
        return Err("IP addresses are not accepted, only domain names".to_owned());
    }
    if name.ends_with('.') {
        return Err("remove the trailing dot".to_owned());
    }
    if !name.is_ascii() {
        return Err(
            "write internationalised names in their ASCII (punycode, xn--) form".to_owned(),
        );
    }
    let labels: Vec<&str> = name.split('.').collect();
    if labels.len() < min_labels {
        return Err(format!(
            "it needs at least {min_labels} labels separated by dots"
        ));
    }
    for label in &labels {
        if label.is_empty() {
            return Err("it has an empty label (two dots in a row, or a leading dot)".to_owned());
        }
        if label.len() > MAX_LABEL {
            return Err(format!("a label is longer than {MAX_LABEL} characters"));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(
                "it may contain only letters, digits, '-' and '.' (no ports, paths or spaces)"
                    .to_owned(),
            );
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("a label must not start or end with '-'".to_owned());
        }
    }
    if labels
        .last()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err("the last label must not be all digits".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_names_and_wildcards_are_accepted_and_lowercased() {
        for (input, stored) in [
            ("www.example.com", "www.example.com"),
            ("WWW.Example.COM", "www.example.com"),
            ("*.example.com", "*.example.com"),
            ("*.Shop.Example.com", "*.shop.example.com"),
            ("a-b.c1.example", "a-b.c1.example"),
            ("xn--bcher-kva.example", "xn--bcher-kva.example"),
            ("example.com", "example.com"),
        ] {
            let h = Hostname::parse(input).unwrap();
            assert_eq!(h.as_str(), stored);
            assert_eq!(h.is_wildcard(), stored.starts_with("*."));
        }
        let longest_label = format!("{}.example.com", "a".repeat(63));
        assert!(Hostname::parse(&longest_label).is_ok());
    }

    #[test]
    fn everything_else_is_refused_with_a_reason() {
        let long_label = format!("{}.example.com", "a".repeat(64));
        let long_name = format!("{}com", "abcdefghi.".repeat(26));
        for (bad, reason) in [
            ("", "empty"),
            ("localhost", "at least 2 labels"),
            ("*.com", "at least 2 labels"),
            ("*", "wildcard"),
            ("www.*.example.com", "wildcard"),
            ("*example.com", "wildcard"),
            ("**.example.com", "wildcard"),
            ("www.example.com.", "trailing dot"),
            ("www..example.com", "empty label"),
            (".example.com", "empty label"),
            ("-www.example.com", "start or end"),
            ("www-.example.com", "start or end"),
            ("www.example.com:8443", "only letters"),
            ("www.example.com/path", "only letters"),
            ("my_host.example.com", "only letters"),
            ("has space.example.com", "only letters"),
            ("bücher.example", "punycode"),
            ("192.168.0.1", "IP addresses"),
            ("::1", "IP addresses"),
            ("1.2.3.4.5", "all digits"),
            (long_label.as_str(), "label is longer"),
            (long_name.as_str(), "longer than 253"),
        ] {
            match Hostname::parse(bad) {
                Err(DomainError::InvalidHostname(msg)) => {
                    assert!(msg.contains(reason), "{bad:?}: {msg}");
                }
                other => panic!("{bad:?} should be refused, got {other:?}"),
            }
        }
    }

    #[test]
    fn server_names_may_be_single_labels() {
        assert!(is_server_name("backend"));
        assert!(is_server_name("origin.internal"));
        assert!(!is_server_name("*.example.com"));
        assert!(!is_server_name("10.0.0.1"));
        assert!(!is_server_name(""));
    }
}
