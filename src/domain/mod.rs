//! Pure types and rules of the certificate service: ids, names, expiry, the PEM/X.509 checks,
//! and the hostnames and settings of protected domains.
//!
//! Nothing here performs I/O or knows about HTTP or SQL; the storage and API layers build on it.

mod binding;
mod certificate;
mod clock;
mod contract;
mod details;
mod error;
mod event;
mod host;
mod host_update;
mod hostname;
mod ids;
mod inspect;
mod iso8601;
mod pem;
mod policy;
mod project;
mod role;
mod seeded;
mod server;
mod time;

pub use binding::{CertificateChange, check_bind, check_certificate_present, refuse_expired};
pub use certificate::{CertificateName, ExpiryStatus, ExpiryWindow, NameLimit};
pub use clock::{Clock, ClockMove, ClockSetting};
pub use contract::Contract;
pub use details::{CertificateDetails, certificate_details, common_name};
pub use error::DomainError;
pub use event::{EXPIRED_STAGE, EventType, Thresholds, days_left};
pub use host::{
    Cipher, Compliance, HostSettings, MAX_DESCRIPTION, ProtectStatus, TlsVersion, parse_description,
};
pub use host_update::{CertificateFacts, HostChange, HostState, HostUpdate, SettingsPatch};
pub use hostname::Hostname;
pub use ids::{
    CertificateId, EventId, HostId, PolicyId, ProjectId, UserId, lower_hex, random_bytes,
};
pub use inspect::{
    CheckContext, Finding, Inspection, OtherCertificate, Severity, inspect, san_covers,
};
pub use iso8601::{format_rfc3339, parse_duration, parse_rfc3339};
pub use pem::{CertificatePair, KeyKind, parse_pair};
pub use policy::{MAX_POLICY_NAME, PolicyName, PolicyPatch, PolicySettings, Rules};
pub use project::Project;
pub use role::Role;
pub use seeded::SeededRandom;
pub use server::{AddressKind, MAX_SERVERS, Protocol, Server, ServerFields, parse_servers};
pub use time::{DAY_MS, Millis, UtcDateTime, days_until, format_date, format_iso8601, now_ms};
