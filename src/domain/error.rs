//! Rule violations of the domain: every message is safe to show to the caller.

/// Why a certificate name, certificate, private key, hostname or host setting was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DomainError {
    /// The name breaks `^[A-Za-z0-9._-]{1,N}$`.
    #[error(
        "name must be 1 to {max} characters long and contain only letters, digits, '-', '_' and '.'"
    )]
    InvalidName {
        /// The length limit that applies to this request.
        max: usize,
    },
    /// The `content` field is not a usable PEM certificate chain.
    #[error("content: {0}")]
    InvalidCertificate(String),
    /// The `key` field is not a usable PEM private key.
    #[error("key: {0}")]
    InvalidKey(String),
    /// The key is password-protected; the service needs it in clear to serve TLS.
    #[error(
        "key: the private key is encrypted; upload it unencrypted (for example `openssl pkey -in key.pem -out plain.pem`)"
    )]
    EncryptedKey,
    /// The key type or size is outside what the service supports.
    #[error("{0}")]
    UnsupportedKey(String),
    /// A hostname is not a domain name (or `*.` wildcard over one).
    #[error("{0}")]
    InvalidHostname(String),
    /// A setting of a protected domain (servers, TLS, cipher, status, description) is invalid.
    #[error("{0}")]
    InvalidHostSetting(String),
    /// A field of a protection policy is invalid.
    #[error("{0}")]
    InvalidPolicySetting(String),
    /// `certificatename` is not the name of the certificate `certificateid` names.
    #[error(
        "certificateid and certificatename name different certificates; give the id and the current name of one certificate"
    )]
    CertificateNameMismatch,
    /// The certificate has expired, so it cannot be bound to a host.
    #[error(
        "the certificate has expired and cannot be bound to a host; upload a renewed certificate and bind that"
    )]
    CertificateExpired,
    /// A host with an HTTPS front protocol has no certificate.
    #[error(
        "a host with an HTTPS front protocol needs a certificate: give certificateid and certificatename"
    )]
    CertificateRequired,
    /// An update tried to change a host's hostname, which identifies it.
    #[error("hostname cannot be changed; create a host for the new name and delete this one")]
    HostnameChanged,
    /// An update would bind a certificate that was not read under its lock: a fault of the
    /// caller, not of the request.
    #[error("the certificate to bind was not locked")]
    BindNotLocked,
    /// The private key does not belong to the leaf certificate.
    #[error("private key does not match the certificate (the first certificate in content)")]
    KeyMismatch,
    /// A time is not RFC 3339.
    #[error("{0}")]
    InvalidTime(String),
    /// A duration is not an ISO 8601 duration of fixed length.
    #[error("duration: {0}")]
    InvalidDuration(String),
}
