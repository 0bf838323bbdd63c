//! The ACME side of a renewal, through `instant-acme` (no hand-written JWS): the account kept
//! in a file, and one order from new key to issued chain.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, Identifier, NewAccount, NewOrder,
    OrderStatus, RetryPolicy,
};
use serde::{Deserialize, Serialize};

use super::challenge::Answerer;

/// How long one order may take from creation to certificate.
const ORDER_TIMEOUT: Duration = Duration::from_secs(90);

/// The account file: which directory the account lives at, and its credentials.
#[derive(Serialize, Deserialize)]
struct AccountFile {
    directory: String,
    credentials: AccountCredentials,
}

/// A new certificate and its key, as PEM.
pub struct Issued {
    /// The chain, leaf first.
    pub chain_pem: String,
    /// The new private key (PKCS#8).
    pub key_pem: String,
}

/// The account of `directory`: read from `path`, or created there (mode 0600) on first use.
pub async fn account(
    directory: &str,
    email: &str,
    ca_file: Option<&Path>,
    path: &Path,
) -> anyhow::Result<Account> {
    let builder = || match ca_file {
        Some(ca) => Account::builder_with_root(ca)
            .with_context(|| format!("reading --acme-ca-file {}", ca.display())),
        None => Account::builder().context("starting the HTTP client"),
    };
    if path.exists() {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the ACME account {}", path.display()))?;
        let stored: AccountFile = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a wafcert ACME account file", path.display()))?;
        if stored.directory != directory {
            bail!(
                "{} holds an account of {}, not {directory}; give another --account-file",
                path.display(),
                stored.directory
            );
        }
        return builder()?
            .from_credentials(stored.credentials)
            .await
            .context("restoring the ACME account");
    }
    let contact = format!("mailto:{email}");
    let (account, credentials) = builder()?
        .create(
            &NewAccount {
                contact: &[&contact],
                terms_of_service_agreed: true,
                only_return_existing: false,
            },
            directory.to_owned(),
            None,
        )
        .await
        .context("creating the ACME account")?;
    let file = AccountFile {
        directory: directory.to_owned(),
        credentials,
    };
    write_private(path, &serde_json::to_string_pretty(&file)?)?;
    Ok(account)
}

/// Writes a file only its owner can read, creating its directory.
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    Ok(())
}

/// A key like the old certificate's: EC keeps its curve, RSA its size.
fn new_key(key_type: &str, bits: u64) -> anyhow::Result<rcgen::KeyPair> {
    let key = match (key_type, bits) {
        ("EC", 256) => rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
        ("EC", 384) => rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384),
        ("Ed25519", _) => rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519),
        ("RSA", 2048) => {
            rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
        }
        ("RSA", 3072) => {
            rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_3072)
        }
        ("RSA", 4096) => {
            rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_4096)
        }
        _ => bail!("cannot make a new {key_type} key of {bits} bits"),
    };
    key.context("generating the new key")
}

/// Orders a certificate for `names` with a new key like the old one, answering every
/// challenge through `answerer` (whose cleanup runs whatever happens).
pub async fn order(
    account: &Account,
    answerer: &Answerer,
    names: &[String],
    key_type: &str,
    key_bits: u64,
) -> anyhow::Result<Issued> {
    let key = new_key(key_type, key_bits)?;
    let identifiers: Vec<Identifier> = names.iter().cloned().map(Identifier::Dns).collect();
    let mut order = account
        .new_order(&NewOrder::new(&identifiers))
        .await
        .context("creating the order")?;
    let mut presented = Vec::new();
    let result = async {
        let mut authorizations = order.authorizations();
        while let Some(authz) = authorizations.next().await {
            let mut authz = authz.context("reading an authorization")?;
            match authz.status {
                AuthorizationStatus::Pending => {}
                AuthorizationStatus::Valid => continue,
                other => bail!("authorization is {other:?}"),
            }
            let domain = match authz.identifier().identifier {
                Identifier::Dns(d) => d.clone(),
                other => bail!("unsupported identifier {other:?}"),
            };
            let kind = answerer.kind();
            let mut challenge = authz.challenge(kind.acme()).with_context(|| {
                format!("the CA offers no {} challenge for {domain}", kind.as_str())
            })?;
            let answer = answerer
                .answer(
                    &domain,
                    &challenge.token,
                    challenge.key_authorization().as_str(),
                    &challenge.key_authorization().dns_value(),
                )
                .await?;
            presented.push(answer);
            challenge
                .set_ready()
                .await
                .context("telling the CA the challenge is ready")?;
        }
        let retry = RetryPolicy::new()
            .initial_delay(Duration::from_millis(250))
            .backoff(1.5)
            .timeout(ORDER_TIMEOUT);
        let status = order
            .poll_ready(&retry)
            .await
            .context("waiting for validation")?;
        if status != OrderStatus::Ready {
            bail!("the order is {status:?} after validation");
        }
        let csr = rcgen::CertificateParams::new(names.to_vec())
            .context("CSR names")?
            .serialize_request(&key)
            .context("making the CSR")?;
        order
            .finalize_csr(csr.der())
            .await
            .context("finalizing the order")?;
        order
            .poll_certificate(&retry)
            .await
            .context("downloading the certificate")
    }
    .await;
    for answer in presented {
        answerer.clean(answer).await;
    }
    Ok(Issued {
        chain_pem: result?,
        key_pem: key.serialize_pem(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_keys_keep_the_old_type() {
        let p384 = new_key("EC", 384).unwrap();
        assert!(p384.is_compatible(&rcgen::PKCS_ECDSA_P384_SHA384));
        let p256 = new_key("EC", 256).unwrap();
        assert!(p256.is_compatible(&rcgen::PKCS_ECDSA_P256_SHA256));
        assert!(new_key("RSA", 1024).is_err());
        assert!(new_key("EC", 521).is_err());
        assert!(new_key("unknown", 0).is_err());
    }
}
