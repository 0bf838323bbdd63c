//! The rules of binding a certificate to a protected domain: the id and the name must name the
//! same certificate, an expired certificate cannot be newly bound, and a host with an HTTPS
//! front protocol must end up with a certificate.

use super::certificate::ExpiryStatus;
use super::host::HostSettings;
use super::{CertificateId, DomainError, Millis};

/// What a write asks for a host's certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateChange {
    /// Leave the binding as it is.
    Keep,
    /// Remove the binding.
    Unbind,
    /// Bind the certificate with this id, which the caller says is named `name`.
    Bind {
        /// The certificate's id.
        id: CertificateId,
        /// The name the caller gave with it (`certificatename`).
        name: String,
    },
}

/// Checks binding a certificate named `actual_name`, expiring at `expire_time`, when the caller
/// named it `given_name`. `newly_bound` is false when the host already uses this certificate:
/// restating the current binding is not a new bind, so it is not refused for expiry.
pub fn check_bind(
    given_name: &str,
    actual_name: &str,
    expire_time: Millis,
    newly_bound: bool,
    now: Millis,
) -> Result<(), DomainError> {
    if given_name != actual_name {
        return Err(DomainError::CertificateNameMismatch);
    }
    if newly_bound {
        refuse_expired(expire_time, now)?;
    }
    Ok(())
}

/// Refuses a certificate that has expired at `now`.
pub fn refuse_expired(expire_time: Millis, now: Millis) -> Result<(), DomainError> {
    if ExpiryStatus::at(expire_time, now) == ExpiryStatus::Expired {
        return Err(DomainError::CertificateExpired);
    }
    Ok(())
}

/// Refuses a host that serves HTTPS without a certificate.
pub fn check_certificate_present(settings: &HostSettings, bound: bool) -> Result<(), DomainError> {
    if settings.needs_certificate() && !bound {
        return Err(DomainError::CertificateRequired);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ServerFields, parse_servers};

    #[test]
    fn names_must_agree_and_expired_certificates_are_not_newly_bound() {
        let now = 1_000_000;
        assert!(check_bind("a", "a", now + 1, true, now).is_ok());
        assert_eq!(
            check_bind("a", "b", now + 1, true, now),
            Err(DomainError::CertificateNameMismatch)
        );
        assert_eq!(
            check_bind("a", "a", now, true, now),
            Err(DomainError::CertificateExpired)
        );
        assert!(
            check_bind("a", "a", now, false, now).is_ok(),
            "restating a binding is not a new bind"
        );
    }

    #[test]
    fn https_needs_a_certificate() {
        let server = |front| ServerFields::sample(front, "10.0.0.1");
        let http = HostSettings::new(parse_servers(&[server("HTTP")]).unwrap());
        let https = HostSettings::new(parse_servers(&[server("HTTP"), server("HTTPS")]).unwrap());
        assert!(check_certificate_present(&http, false).is_ok());
        assert!(check_certificate_present(&http, true).is_ok());
        assert!(check_certificate_present(&https, true).is_ok());
        assert_eq!(
            check_certificate_present(&https, false),
            Err(DomainError::CertificateRequired)
        );
    }
}
