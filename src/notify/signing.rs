//! Standard Webhooks signing: a `whsec_<base64 key>` secret and the `v1,<base64 HMAC-SHA256>`
//! signature of `"{id}.{timestamp}.{body}"`, as svix and the specification define them.

use std::fmt;

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::crypto::{CryptoError, random_bytes};

/// Prefix of a webhook secret.
const PREFIX: &str = "whsec_";
/// Bytes of a generated key.
const KEY_LEN: usize = 32;

/// The key webhook signatures are made with. `Debug` never shows it.
#[derive(Clone)]
pub struct WebhookSecret(Vec<u8>);

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

impl WebhookSecret {
    /// Parses `whsec_<base64>` whose key is 24 to 64 bytes (the specification's range).
    pub fn parse(text: &str) -> Result<Self, String> {
        let encoded = text.trim().strip_prefix(PREFIX).ok_or_else(|| {
            "--webhook-secret must start with whsec_ (make one with `wafcert webhook-secret`)"
                .to_owned()
        })?;
        let key = STANDARD.decode(encoded).map_err(|_| {
            "--webhook-secret: the part after whsec_ is not valid base64".to_owned()
        })?;
        if !(24..=64).contains(&key.len()) {
            return Err(format!(
                "--webhook-secret: the key is {} bytes; it must be 24 to 64",
                key.len()
            ));
        }
        Ok(Self(key))
    }

    /// A new random secret.
    pub fn generate() -> Result<(Self, String), CryptoError> {
        let mut key = vec![0u8; KEY_LEN];
        random_bytes(&mut key)?;
        let text = format!("{PREFIX}{}", STANDARD.encode(&key));
        Ok((Self(key), text))
    }
}

/// The `webhook-signature` header value for a message.
pub fn sign(secret: &WebhookSecret, id: &str, timestamp: i64, body: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, &secret.0);
    let tag = hmac::sign(&key, format!("{id}.{timestamp}.{body}").as_bytes());
    format!("v1,{}", STANDARD.encode(tag.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification's reference implementations.
    #[test]
    fn matches_the_reference_vector() {
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let sig = sign(
            &secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            r#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn bad_secrets_are_refused_and_never_shown() {
        assert!(WebhookSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
        assert!(WebhookSecret::parse("whsec_!!!").is_err());
        assert!(WebhookSecret::parse("whsec_AAAA").is_err());
        let (secret, text) = WebhookSecret::generate().unwrap();
        assert!(WebhookSecret::parse(&text).is_ok());
        assert!(!format!("{secret:?}").contains(&text[6..]));
    }
}
