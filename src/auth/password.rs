//! Password hashing for the Keystone-style login: argon2id with a random salt, stored in PHC
//! string format.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, PasswordHash, PasswordHasher, Salt, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

/// Hashes a password for storage.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing the password failed: {e}"))
}

/// True when `password` matches the stored hash (false for a malformed hash too), computed in
/// `memory`, which is grown to the hash's size once and reused by later calls: argon2
/// otherwise allocates (and the allocator keeps) ~19 MiB per check.
pub(super) fn verify_password_in(password: &str, stored: &str, memory: &mut Vec<Block>) -> bool {
    let Ok(hash) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(hash.algorithm) else {
        return false;
    };
    let Ok(version) = hash
        .version
        .map_or(Ok(Version::default()), Version::try_from)
    else {
        return false;
    };
    let Ok(params) = Params::try_from(&hash) else {
        return false;
    };
    let mut salt_bytes = [0u8; Salt::MAX_LENGTH];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let blocks = params.block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let Some(memory) = memory.get_mut(..blocks) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, memory)
        .is_ok()
        // `Output` compares in constant time.
        && Output::new(&out).is_ok_and(|computed| computed == expected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::PasswordVerifier;

    #[test]
    fn hashes_verify_only_the_right_password() {
        let stored = hash_password("s3cret").unwrap();
        assert!(stored.starts_with("$argon2"));
        // The crate's own verifier agrees with ours.
        let parsed = PasswordHash::new(&stored).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"s3cret", &parsed)
                .is_ok()
        );
    }

    #[test]
    fn verifying_in_reused_memory_agrees() {
        let stored = hash_password("s3cret").unwrap();
        let mut memory = Vec::new();
        assert!(verify_password_in("s3cret", &stored, &mut memory));
        let size = memory.len();
        assert!(!verify_password_in("other", &stored, &mut memory));
        assert!(verify_password_in("s3cret", &stored, &mut memory));
        assert_eq!(memory.len(), size, "reused, not grown");
        assert!(!verify_password_in("s3cret", "garbage", &mut memory));
    }
}
