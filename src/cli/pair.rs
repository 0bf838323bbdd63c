//! Where the command line takes a certificate chain and key from: PEM files (`--cert`,
//! `--key`) or a PKCS#12 bundle (`--pfx`, password from the variable `--pfx-password-env`
//! names), legacy (RC2/3DES) or AES-256 as `openssl pkcs12 -export` makes them. The API always
//! receives PEM.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use p12_keystore::{KeyStore, Pkcs12ImportPolicy};

/// The flags naming a certificate chain and its key.
#[derive(Debug, Args)]
pub struct PairArgs {
    /// PEM file with the chain, leaf first.
    #[arg(long, conflicts_with = "pfx", required_unless_present = "pfx")]
    pub cert: Option<PathBuf>,
    /// PEM file with the private key.
    #[arg(long, conflicts_with = "pfx")]
    pub key: Option<PathBuf>,
    /// PKCS#12 (.pfx/.p12) bundle with the key and the chain, instead of --cert/--key.
    #[arg(long)]
    pub pfx: Option<PathBuf>,
    /// Name of the environment variable holding the bundle's password (default: no password).
    #[arg(long, requires = "pfx")]
    pub pfx_password_env: Option<String>,
}

/// A chain and (when given) its key, as PEM text.
pub struct PemPair {
    /// The chain, leaf first.
    pub content: String,
    /// The private key.
    pub key: Option<String>,
}

impl std::fmt::Debug for PemPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PemPair")
            .field("key", &self.key.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

impl PairArgs {
    /// Reads the files; the key may be missing (for `cert check`).
    pub fn read(&self) -> anyhow::Result<PemPair> {
        if let Some(pfx) = &self.pfx {
            let password = match &self.pfx_password_env {
                Some(var) => std::env::var(var)
                    .with_context(|| format!("--pfx-password-env: {var} is not set"))?,
                None => String::new(),
            };
            return read_pfx(pfx, &password);
        }
        let Some(cert) = &self.cert else {
            bail!("give --cert (and --key) or --pfx");
        };
        Ok(PemPair {
            content: read_text(cert)?,
            key: self.key.as_deref().map(read_text).transpose()?,
        })
    }

    /// Reads the files and requires the key (uploads).
    pub fn read_with_key(&self) -> anyhow::Result<(String, String)> {
        let pair = self.read()?;
        match pair.key {
            Some(key) => Ok((pair.content, key)),
            None => bail!("--key is required with --cert"),
        }
    }
}

fn read_text(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

/// The first key and its chain of a PKCS#12 bundle, as PEM.
pub fn read_pfx(path: &Path, password: &str) -> anyhow::Result<PemPair> {
    let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let store = KeyStore::from_pkcs12(&data, password, Pkcs12ImportPolicy::Strict).map_err(|e| {
        anyhow::anyhow!(
            "{}: not a readable PKCS#12 bundle (wrong password or unsupported encryption): {e:?}",
            path.display()
        )
    })?;
    let Some((_, chain)) = store.private_key_chain() else {
        bail!(
            "{}: the bundle holds no private key with its certificate",
            path.display()
        );
    };
    let lf = || pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF);
    let content = chain
        .certs()
        .iter()
        .map(|c| pem::encode_config(&pem::Pem::new("CERTIFICATE", c.as_der()), lf()))
        .collect::<String>();
    let key = pem::encode_config(&pem::Pem::new("PRIVATE KEY", chain.key().as_der()), lf());
    Ok(PemPair {
        content,
        key: Some(key),
    })
}
