//! Password hashing for the Keystone-style login: argon2id with a random salt, stored in PHC
//! string format.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

/// Hashes a password for storage.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing the password failed: {e}"))
}

/// True when `password` matches the stored hash (false for a malformed hash too).
pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_only_the_right_password() {
        let stored = hash_password("s3cret").unwrap();
        assert!(stored.starts_with("$argon2"));
        assert!(verify_password("s3cret", &stored));
        assert!(!verify_password("other", &stored));
        assert!(!verify_password("s3cret", "garbage"));
    }
}
