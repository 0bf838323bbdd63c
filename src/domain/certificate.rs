//! Certificate names and expiry states.

use super::{DomainError, Millis};

/// Thirty days in milliseconds: the "expires soon" window of `exp_status` 2.
const SOON_MS: Millis = 30 * 24 * 60 * 60 * 1000;

/// The maximum name length, which differs between create (256) and update (64) in the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameLimit {
    /// Names given on create: up to 256 characters.
    Create,
    /// Names given on update: up to 64 characters.
    Update,
}

impl NameLimit {
    /// The limit in characters.
    pub const fn max(self) -> usize {
        match self {
            Self::Create => 256,
            Self::Update => 64,
        }
    }
}

/// A valid certificate name: 1 to N of `[A-Za-z0-9._-]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateName(String);

impl CertificateName {
    /// Checks `s` against the naming rule for the given operation.
    pub fn parse(s: &str, limit: NameLimit) -> Result<Self, DomainError> {
        Self::parse_max(s, limit.max())
    }

    /// Checks `s` against the naming rule with an explicit length limit (a contract profile
    /// may set one, see [`super::Contract`]).
    pub fn parse_max(s: &str, max: usize) -> Result<Self, DomainError> {
        if is_name(s, max) {
            Ok(Self(s.to_owned()))
        } else {
            Err(DomainError::InvalidName { max })
        }
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name as stored for fuzzy search (ASCII lowercase; names are ASCII by rule).
    pub fn to_search_key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

/// True when `s` is 1 to `max` of `[A-Za-z0-9._-]` (the rule of certificate and policy names).
pub(super) fn is_name(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The `exp_status` of the API, computed at read time from `expire_time`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiryStatus {
    /// 0: valid for more than 30 days.
    Valid,
    /// 1: `expire_time <= now`.
    Expired,
    /// 2: `now < expire_time <= now + 30 days`.
    ExpiringSoon,
}

/// A half-open range of `expire_time` values, `(after, up_to]`, where `None` is unbounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpiryWindow {
    /// Exclusive lower bound.
    pub after: Option<Millis>,
    /// Inclusive upper bound.
    pub up_to: Option<Millis>,
}

impl ExpiryStatus {
    /// How long before expiry a certificate counts as expiring soon (30 days), in ms.
    pub const SOON_MS: Millis = SOON_MS;

    /// The state of a certificate expiring at `expire` when the time is `now`.
    pub fn at(expire: Millis, now: Millis) -> Self {
        if expire <= now {
            Self::Expired
        } else if expire <= now.saturating_add(SOON_MS) {
            Self::ExpiringSoon
        } else {
            Self::Valid
        }
    }

    /// The word people read: `Valid`, `Expiring` or `Expired` (the console and the CLI).
    pub const fn word(self) -> &'static str {
        match self {
            Self::Valid => "Valid",
            Self::ExpiringSoon => "Expiring",
            Self::Expired => "Expired",
        }
    }

    /// The wire code: 0, 1 or 2.
    pub const fn code(self) -> i32 {
        match self {
            Self::Valid => 0,
            Self::Expired => 1,
            Self::ExpiringSoon => 2,
        }
    }

    /// Parses the wire code.
    pub fn from_code(code: i64) -> Option<Self> {
        match code {
            0 => Some(Self::Valid),
            1 => Some(Self::Expired),
            2 => Some(Self::ExpiringSoon),
            _ => None,
        }
    }

    /// The `expire_time` values that are in this state at `now`, so a filter can run as a range
    /// query and agree exactly with [`ExpiryStatus::at`].
    pub fn window(self, now: Millis) -> ExpiryWindow {
        let soon = now.saturating_add(SOON_MS);
        match self {
            Self::Expired => ExpiryWindow {
                after: None,
                up_to: Some(now),
            },
            Self::ExpiringSoon => ExpiryWindow {
                after: Some(now),
                up_to: Some(soon),
            },
            Self::Valid => ExpiryWindow {
                after: Some(soon),
                up_to: None,
            },
        }
    }

    /// The first instant after `now` at which the status of some certificate changes, given
    /// the earliest expiry after `now` and the earliest after [`ExpiryStatus::soon_horizon`]
    /// (`None`: no such certificate); `None` when no status changes again. A certificate
    /// becomes expiring-soon at `expire - 30 days` and expired at `expire`, so every status,
    /// and every `exp_status` page, stays as it is from `now` until that instant: what lets
    /// such pages be cached.
    pub fn next_change(
        now: Millis,
        earliest_after_now: Option<Millis>,
        earliest_after_horizon: Option<Millis>,
    ) -> Option<Millis> {
        let soon = earliest_after_horizon.map(|e| e - SOON_MS);
        match (earliest_after_now, soon) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
        .filter(|t| *t > now)
    }

    /// `now` plus 30 days: certificates expiring after it are valid at `now`.
    pub fn soon_horizon(now: Millis) -> Millis {
        now.saturating_add(SOON_MS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_rule_and_limits() {
        assert!(CertificateName::parse("a.b_c-D9", NameLimit::Update).is_ok());
        assert!(CertificateName::parse("", NameLimit::Create).is_err());
        assert!(CertificateName::parse("a b", NameLimit::Create).is_err());
        assert!(CertificateName::parse("é", NameLimit::Create).is_err());
        let n64 = "a".repeat(64);
        let n65 = "a".repeat(65);
        let n256 = "a".repeat(256);
        let n257 = "a".repeat(257);
        assert!(CertificateName::parse(&n64, NameLimit::Update).is_ok());
        assert!(CertificateName::parse(&n65, NameLimit::Update).is_err());
        assert!(CertificateName::parse(&n256, NameLimit::Create).is_ok());
        assert!(CertificateName::parse(&n257, NameLimit::Create).is_err());
    }

    #[test]
    fn expiry_boundaries() {
        let now = 1_000_000_000_000;
        assert_eq!(ExpiryStatus::at(now, now), ExpiryStatus::Expired);
        assert_eq!(ExpiryStatus::at(now + 1, now), ExpiryStatus::ExpiringSoon);
        assert_eq!(
            ExpiryStatus::at(now + SOON_MS, now),
            ExpiryStatus::ExpiringSoon
        );
        assert_eq!(
            ExpiryStatus::at(now + SOON_MS + 1, now),
            ExpiryStatus::Valid
        );
    }

    #[test]
    fn windows_agree_with_at() {
        let now = 1_000_000_000_000;
        for expire in [
            now - 1,
            now,
            now + 1,
            now + SOON_MS,
            now + SOON_MS + 1,
            i64::MAX,
        ] {
            for status in [
                ExpiryStatus::Valid,
                ExpiryStatus::Expired,
                ExpiryStatus::ExpiringSoon,
            ] {
                let w = status.window(now);
                let inside =
                    w.after.is_none_or(|a| expire > a) && w.up_to.is_none_or(|u| expire <= u);
                assert_eq!(
                    inside,
                    ExpiryStatus::at(expire, now) == status,
                    "{expire} {status:?}"
                );
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn next_change_is_the_first_status_change(
            now in 0i64..400 * 86_400_000,
            expiries in proptest::collection::vec(0i64..400 * 86_400_000, 0..8),
            step in 1i64..100 * 86_400_000,
        ) {
            let after = |bound: Millis| expiries.iter().copied().filter(|e| *e > bound).min();
            let change = ExpiryStatus::next_change(now, after(now), after(ExpiryStatus::soon_horizon(now)));
            let states = |t: Millis| expiries.iter().map(|e| ExpiryStatus::at(*e, t)).collect::<Vec<_>>();
            let t = now.saturating_add(step);
            match change {
                Some(c) => {
                    proptest::prop_assert!(c > now);
                    proptest::prop_assert_ne!(states(c), states(now), "something changes at {}", c);
                    if t < c {
                        proptest::prop_assert_eq!(states(t), states(now));
                    }
                    proptest::prop_assert_eq!(states(c - 1), states(now));
                }
                None => proptest::prop_assert_eq!(states(t), states(now)),
            }
        }
    }
}
