//! Pure types and rules of the certificate service: ids, names, expiry, the PEM/X.509 checks.
//!
//! Nothing here performs I/O or knows about HTTP or SQL; the storage and API layers build on it.

mod certificate;
mod error;
mod ids;
mod pem;
mod time;

pub use certificate::{CertificateName, ExpiryStatus, ExpiryWindow, NameLimit};
pub use error::DomainError;
pub use ids::{CertificateId, HostId, ProjectId, UserId};
pub use pem::{CertificatePair, KeyKind, parse_pair};
pub use time::{Millis, UtcDateTime, format_iso8601, now_ms};
