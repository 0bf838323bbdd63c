//! Pure types and rules of the certificate service: ids, names, expiry, the PEM/X.509 checks,
//! and the hostnames and settings of protected domains.
//!
//! Nothing here performs I/O or knows about HTTP or SQL; the storage and API layers build on it.

mod binding;
mod certificate;
mod error;
mod host;
mod hostname;
mod ids;
mod pem;
mod time;

pub use binding::{CertificateChange, check_bind, check_certificate_present, refuse_expired};
pub use certificate::{CertificateName, ExpiryStatus, ExpiryWindow, NameLimit};
pub use error::DomainError;
pub use host::{
    AddressKind, Cipher, HostSettings, MAX_DESCRIPTION, MAX_SERVERS, ProtectStatus, Protocol,
    Server, ServerFields, TlsVersion, parse_description, parse_servers,
};
pub use hostname::Hostname;
pub use ids::{CertificateId, HostId, ProjectId, UserId};
pub use pem::{CertificatePair, KeyKind, parse_pair};
pub use time::{Millis, now_ms};
