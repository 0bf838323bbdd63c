//! Bearer tokens recently verified against the database, reusable while the database has seen
//! no commit at all since (see `storage::ChangeStamp`): a revocation, an expiry change or a
//! write to the project's data, by this process or any other, changes the stamp and sends the
//! next request back to the database. Only successful checks are kept, with their expiry.

use std::sync::Arc;

use super::Principal;
use crate::domain::Millis;
use crate::storage::ChangeStamp;
use crate::tagged_cache::TaggedCache;

/// A verified token: who it is and until when.
#[derive(Debug)]
struct Verified {
    principal: Principal,
    expires_at: Option<Millis>,
}

/// Verified tokens by hash, tagged with the database state they were verified in.
#[derive(Debug, Default)]
pub(super) struct VerifiedTokens {
    entries: TaggedCache<String, ChangeStamp, Verified>,
}

impl VerifiedTokens {
    /// The principal of `hash`, if it was verified in the database state `stamp` and has not
    /// expired by `now`.
    pub(super) fn get(&self, hash: &str, stamp: &ChangeStamp, now: Millis) -> Option<Principal> {
        let v = self.entries.get(hash, stamp)?;
        v.expires_at
            .is_none_or(|at| at > now)
            .then(|| v.principal.clone())
    }

    /// Remembers a successful check made after reading `stamp`.
    pub(super) fn put(
        &self,
        hash: String,
        stamp: ChangeStamp,
        principal: Principal,
        expires_at: Option<Millis>,
    ) {
        // The hash, the principal's project id and the map's own overhead.
        let bytes = 2 * hash.len() + 128;
        self.entries.put(
            hash,
            stamp,
            Arc::new(Verified {
                principal,
                expires_at,
            }),
            bytes,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ProjectId;
    use crate::domain::Role;

    fn principal() -> Principal {
        Principal {
            credential: "0123456789abcdef".to_owned(),
            project: ProjectId::random(),
            role: Role::Admin,
            project_version: 3,
            clock: None,
        }
    }

    #[test]
    fn entries_hold_only_for_their_stamp_and_lifetime() {
        let cache = VerifiedTokens::default();
        let stamp = [1u8; 48];
        cache.put("h".to_owned(), stamp, principal(), Some(1_000));
        assert!(cache.get("h", &stamp, 999).is_some());
        assert!(cache.get("h", &stamp, 1_000).is_none(), "expired");
        assert!(
            cache.get("h", &[2u8; 48], 999).is_none(),
            "the database changed"
        );
        assert!(cache.get("other", &stamp, 999).is_none());
    }
}
