//! Secrets at rest: the master key, sealing of private keys (AES-256-GCM) and hashing of bearer
//! tokens (SHA-256). Callers never see nonces or key bytes.

use std::fmt;
use std::path::Path;

use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use aws_lc_rs::digest;

/// Length of the master key in bytes (AES-256).
const MASTER_KEY_LEN: usize = 32;

/// Why a master key could not be loaded or a sealed value could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// The master key text is not 64 hex characters.
    #[error("the master key must be 64 hexadecimal characters (32 bytes)")]
    MalformedMasterKey,
    /// The key file could not be read or created.
    #[error("master key file {path}: {source}")]
    KeyFile {
        /// The file in question.
        path: String,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A sealed value failed authentication: wrong master key, or tampered data.
    #[error("a sealed value could not be opened (wrong master key or corrupted data)")]
    Unseal,
    /// The system's cryptographic library refused an operation.
    #[error("cryptographic operation failed")]
    Internal,
}

/// Fills `buf` from the system's secure random source.
pub fn random_bytes(buf: &mut [u8]) -> Result<(), CryptoError> {
    aws_lc_rs::rand::fill(buf).map_err(|_| CryptoError::Internal)
}

/// The key that seals every private key in the database. Its bytes never leave this module.
pub struct MasterKey([u8; MASTER_KEY_LEN]);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

impl MasterKey {
    /// Parses 64 hex characters (surrounding whitespace ignored).
    pub fn from_hex(text: &str) -> Result<Self, CryptoError> {
        let bytes = hex::decode(text.trim()).map_err(|_| CryptoError::MalformedMasterKey)?;
        let bytes: [u8; MASTER_KEY_LEN] = bytes
            .try_into()
            .map_err(|_| CryptoError::MalformedMasterKey)?;
        Ok(Self(bytes))
    }

    /// A fresh random key.
    pub fn generate() -> Result<Self, CryptoError> {
        let mut bytes = [0u8; MASTER_KEY_LEN];
        random_bytes(&mut bytes)?;
        Ok(Self(bytes))
    }

    /// Reads the key from `path`, or, when the file does not exist, generates one and writes it
    /// there with mode 0600. Returns the key and whether it was created.
    pub fn load_or_create(path: &Path) -> Result<(Self, bool), CryptoError> {
        let err = |source| CryptoError::KeyFile {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => Ok((Self::from_hex(&text)?, false)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate()?;
                write_private_file(path, &format!("{}\n", hex::encode(key.0))).map_err(err)?;
                Ok((key, true))
            }
            Err(e) => Err(err(e)),
        }
    }
}

/// Creates `path` with mode 0600 and writes `text`; fails if it exists.
fn write_private_file(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

/// Seals and opens secrets with AES-256-GCM under the master key. The layout is
/// `nonce (12 bytes) ‖ ciphertext ‖ tag`; the associated data binds a sealed value to the row it
/// belongs to, so it cannot be swapped into another row.
pub struct Sealer {
    key: RandomizedNonceKey,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealer(AES-256-GCM)")
    }
}

impl Sealer {
    /// A sealer for the given master key.
    pub fn new(master: &MasterKey) -> Result<Self, CryptoError> {
        let key =
            RandomizedNonceKey::new(&AES_256_GCM, &master.0).map_err(|_| CryptoError::Internal)?;
        Ok(Self { key })
    }

    /// Encrypts `plain`, authenticating `context` alongside.
    pub fn seal(&self, plain: &[u8], context: &str) -> Result<Vec<u8>, CryptoError> {
        let mut buf = plain.to_vec();
        let nonce = self
            .key
            .seal_in_place_append_tag(Aad::from(context.as_bytes()), &mut buf)
            .map_err(|_| CryptoError::Internal)?;
        let mut out = Vec::with_capacity(NONCE_LEN + buf.len());
        out.extend_from_slice(nonce.as_ref());
        out.extend_from_slice(&buf);
        Ok(out)
    }

    /// Decrypts a value made by [`Sealer::seal`] with the same `context`.
    pub fn open(&self, sealed: &[u8], context: &str) -> Result<Vec<u8>, CryptoError> {
        let (nonce, body) = sealed
            .split_at_checked(NONCE_LEN)
            .ok_or(CryptoError::Unseal)?;
        let nonce: &[u8; NONCE_LEN] = nonce.try_into().map_err(|_| CryptoError::Unseal)?;
        let mut buf = body.to_vec();
        let plain = self
            .key
            .open_in_place(Nonce::from(nonce), Aad::from(context.as_bytes()), &mut buf)
            .map_err(|_| CryptoError::Unseal)?;
        Ok(plain.to_vec())
    }

    /// Decrypts to UTF-8 text.
    pub fn open_text(&self, sealed: &[u8], context: &str) -> Result<String, CryptoError> {
        String::from_utf8(self.open(sealed, context)?).map_err(|_| CryptoError::Unseal)
    }
}

/// Prefix of bearer tokens minted by wafcert, so secret scanners can recognise them.
const TOKEN_PREFIX: &str = "wafcert_";

/// Mints a new bearer token: the prefix and 32 random bytes in hex.
pub fn new_token() -> Result<String, CryptoError> {
    let mut bytes = [0u8; 32];
    random_bytes(&mut bytes)?;
    Ok(format!("{TOKEN_PREFIX}{}", hex::encode(bytes)))
}

/// The stored form of a bearer token: hex SHA-256. Tokens are never stored in clear.
pub fn token_hash(token: &str) -> String {
    crate::domain::lower_hex(digest::digest(&digest::SHA256, token.as_bytes()).as_ref())
}

/// Hex characters of a token id.
pub const TOKEN_ID_LEN: usize = 16;

/// The public id of a bearer token: the first 16 hex characters of its SHA-256 (a prefix of
/// [`token_hash`]). Journals, listings, metrics and the event log name a token by it, and it can be revoked
/// by it; it reveals nothing usable.
pub fn token_id(token: &str) -> String {
    token_id_of_hash(&token_hash(token)).to_owned()
}

/// The id of a token from its stored hash (see [`token_id`]).
pub fn token_id_of_hash(hash_hex: &str) -> &str {
    hash_hex.get(..TOKEN_ID_LEN).unwrap_or(hash_hex)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_ids_are_the_hash_prefix() {
        let id = token_id("wafcert_x");
        assert_eq!(id.len(), TOKEN_ID_LEN);
        assert!(token_hash("wafcert_x").starts_with(&id));
    }

    #[test]
    fn seal_round_trips_and_binds_context() {
        let sealer = Sealer::new(&MasterKey::generate().unwrap()).unwrap();
        let sealed = sealer.seal(b"secret", "row-1").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        assert_eq!(sealer.open(&sealed, "row-1").unwrap(), b"secret");
        assert!(sealer.open(&sealed, "row-2").is_err());
        let other = Sealer::new(&MasterKey::generate().unwrap()).unwrap();
        assert!(other.open(&sealed, "row-1").is_err());
        assert!(sealer.open(&sealed[..5], "row-1").is_err());
    }

    #[test]
    fn master_key_hex_rules() {
        assert!(MasterKey::from_hex(&"ab".repeat(32)).is_ok());
        assert!(MasterKey::from_hex(&"ab".repeat(31)).is_err());
        assert!(MasterKey::from_hex("zz").is_err());
    }

    #[test]
    fn key_file_is_created_private_and_reread() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let (_, created) = MasterKey::load_or_create(&path).unwrap();
        assert!(created);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let (_, created) = MasterKey::load_or_create(&path).unwrap();
        assert!(!created);
    }

    #[test]
    fn tokens_are_prefixed_and_hash_stably() {
        let t = new_token().unwrap();
        assert!(t.starts_with(TOKEN_PREFIX));
        assert_eq!(token_hash(&t), token_hash(&t));
        assert_ne!(token_hash(&t), t);
        assert_eq!(token_id(&t).len(), 16);
        assert!(token_hash(&t).starts_with(&token_id(&t)));
    }
}
