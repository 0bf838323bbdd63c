//! Login throttling: after [`MAX_FAILURES`] failed logins for one user name from one address
//! within [`WINDOW_MS`], that pair is refused (right password included) until the window that
//! began with its first failure has passed. Other users and other addresses are unaffected, so
//! an attacker cannot lock a user out from everywhere.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use crate::domain::Millis;

/// Failed logins allowed per user and address within the window.
pub const MAX_FAILURES: u32 = 10;
/// The window, 5 minutes.
pub const WINDOW_MS: Millis = 5 * 60 * 1000;
/// Pairs tracked before expired ones are dropped (bounds memory under a spray of names).
const MAX_TRACKED: usize = 100_000;

/// Failures of one pair in the current window.
#[derive(Debug, Clone, Copy)]
struct Failures {
    since: Millis,
    count: u32,
}

/// Failed logins by user and address.
#[derive(Debug, Default)]
pub(super) struct LoginThrottle {
    pairs: Mutex<HashMap<(String, IpAddr), Failures>>,
}

impl LoginThrottle {
    /// `Err(seconds to wait)` when the pair is blocked at `now`.
    pub(super) fn check(&self, user: &str, addr: IpAddr, now: Millis) -> Result<(), u64> {
        let Ok(pairs) = self.pairs.lock() else {
            return Ok(());
        };
        match pairs.get(&(user.to_owned(), addr)) {
            Some(f) if f.count >= MAX_FAILURES && now < f.since + WINDOW_MS => {
                let ms = f.since + WINDOW_MS - now;
                Err(u64::try_from((ms + 999) / 1000).unwrap_or(1).max(1))
            }
            _ => Ok(()),
        }
    }

    /// Counts a failed login of `user` from `addr`.
    pub(super) fn failed(&self, user: &str, addr: IpAddr, now: Millis) {
        let Ok(mut pairs) = self.pairs.lock() else {
            return;
        };
        if pairs.len() >= MAX_TRACKED {
            pairs.retain(|_, f| now < f.since + WINDOW_MS);
            if pairs.len() >= MAX_TRACKED {
                pairs.clear();
            }
        }
        let f = pairs.entry((user.to_owned(), addr)).or_insert(Failures {
            since: now,
            count: 0,
        });
        if now >= f.since + WINDOW_MS {
            *f = Failures {
                since: now,
                count: 0,
            };
        }
        f.count = f.count.saturating_add(1);
    }

    /// Forgets the failures of a pair after a successful login.
    pub(super) fn succeeded(&self, user: &str, addr: IpAddr) {
        if let Ok(mut pairs) = self.pairs.lock() {
            pairs.remove(&(user.to_owned(), addr));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_failures_block_the_pair_for_the_window() {
        let t = LoginThrottle::default();
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        for i in 0..MAX_FAILURES {
            assert!(t.check("u", a, 1000).is_ok(), "attempt {i}");
            t.failed("u", a, 1000 + Millis::from(i));
        }
        assert_eq!(t.check("u", a, 1000), Err(300));
        assert_eq!(t.check("u", a, 1000 + WINDOW_MS - 1500), Err(2));
        assert!(t.check("v", a, 1000).is_ok(), "another user");
        assert!(t.check("u", b, 1000).is_ok(), "another address");
        assert!(
            t.check("u", a, 1000 + WINDOW_MS).is_ok(),
            "the window passed"
        );
        t.failed("u", a, 1000 + WINDOW_MS);
        assert!(t.check("u", a, 1000 + WINDOW_MS).is_ok(), "a new window");
    }

    #[test]
    fn success_forgets_failures() {
        let t = LoginThrottle::default();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        for _ in 0..MAX_FAILURES - 1 {
            t.failed("u", a, 0);
        }
        t.succeeded("u", a);
        t.failed("u", a, 0);
        assert!(t.check("u", a, 0).is_ok());
    }
}
