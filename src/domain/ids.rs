//! Identifiers: 32 lowercase hex characters, as the cloud API uses for projects, certificates
//! and hosts.

use std::fmt;

/// Length of every id in hex characters.
const ID_LEN: usize = 32;

/// True when `s` is exactly 32 lowercase hex characters.
fn is_id(s: &str) -> bool {
    s.len() == ID_LEN
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// 16 random bytes rendered as 32 lowercase hex characters.
fn random_id() -> String {
    lower_hex(&random_bytes::<{ ID_LEN / 2 }>())
}

/// `N` bytes from the system's random number generator, for ids and secrets. Its failing is
/// unrecoverable for a service that mints them, so the process aborts.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        std::process::abort();
    }
    bytes
}

/// `bytes` as lowercase hex. `hex::encode` collects `char`s one by one into its `String`; this
/// writes the digits into a buffer of the final size, which matters where it runs on every
/// request (a token's hash, a request id).
pub fn lower_hex(bytes: &[u8]) -> String {
    let mut digits = vec![0u8; bytes.len() * 2];
    match hex::encode_to_slice(bytes, &mut digits) {
        Ok(()) => String::from_utf8(digits).unwrap_or_default(),
        // Unreachable: the buffer has exactly twice the input's length.
        Err(_) => hex::encode(bytes),
    }
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Parses an id; `None` unless it is 32 lowercase hex characters.
            pub fn parse(s: &str) -> Option<Self> {
                is_id(s).then(|| Self(s.to_owned()))
            }

            /// A fresh random id.
            pub fn random() -> Self {
                Self(random_id())
            }

            /// A fresh id from `source` (random, or repeatable once a test seeded it).
            pub fn next(source: &super::seeded::SeededRandom) -> Self {
                Self(source.next_id_hex())
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }
    };
}

id_type!(
    /// A tenant: every resource and credential belongs to exactly one project.
    ProjectId
);
id_type!(
    /// A stored certificate.
    CertificateId
);
id_type!(
    /// A protected domain (dedicated-mode host).
    HostId
);
id_type!(
    /// A protection policy, used by hosts.
    PolicyId
);
id_type!(
    /// A user of the Keystone-style login.
    UserId
);
id_type!(
    /// One row of the event log, also the `webhook-id` of its delivery. Always random (never
    /// from a seeded generator), so a replayed id cannot collide with a delivered event.
    EventId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_only_32_lowercase_hex() {
        assert!(ProjectId::parse("0123456789abcdef0123456789abcdef").is_some());
        assert!(ProjectId::parse("0123456789ABCDEF0123456789abcdef").is_none());
        assert!(ProjectId::parse("0123456789abcdef0123456789abcde").is_none());
        assert!(ProjectId::parse("0123456789abcdef0123456789abcdeg").is_none());
        assert!(ProjectId::parse("").is_none());
    }

    #[test]
    fn lower_hex_is_hex_encode() {
        for bytes in [&[][..], &[0x00], &[0xab, 0x01, 0xff], &[7; 32]] {
            assert_eq!(lower_hex(bytes), hex::encode(bytes));
        }
    }

    #[test]
    fn random_ids_parse_and_differ() {
        let a = CertificateId::random();
        let b = CertificateId::random();
        assert!(CertificateId::parse(a.as_str()).is_some());
        assert_ne!(a, b);
    }
}
