//! `wafcert cert ...`: the certificate API from the command line, printing the server's JSON,
//! and `cert check`, which runs the server's certificate checks on local files.

use anyhow::bail;
use clap::{Args, Subcommand};

use super::pair::PairArgs;
use crate::client::Client;
use crate::domain::{CheckContext, Severity, inspect, now_ms};

/// Where the API is and who is calling.
#[derive(Debug, Args)]
pub struct Endpoint {
    /// Base URL of the service.
    #[arg(
        long,
        env = "WAFCERT_ENDPOINT",
        default_value = "http://127.0.0.1:8080"
    )]
    pub endpoint: String,
    /// Project id (32 lowercase hex).
    #[arg(long, env = "WAFCERT_PROJECT")]
    pub project_id: String,
    /// Bearer token.
    #[arg(long, env = "WAFCERT_TOKEN", hide_env_values = true)]
    pub token: String,
}

/// `wafcert cert ...`.
#[derive(Debug, Subcommand)]
pub enum CertCommand {
    /// List certificates (all of them unless --pagesize is given).
    List {
        /// Connection settings.
        #[command(flatten)]
        endpoint: Endpoint,
        /// Case-insensitive name substring.
        #[arg(long)]
        name: Option<String>,
        /// 1-based page.
        #[arg(long)]
        page: Option<i64>,
        /// Page size, 1 to 100 (or -1 for all).
        #[arg(long, allow_negative_numbers = true)]
        pagesize: Option<i64>,
        /// 0 valid, 1 expired, 2 expiring within 30 days.
        #[arg(long)]
        exp_status: Option<u8>,
        /// Include expiry and bound hosts.
        #[arg(long)]
        host: bool,
    },
    /// Upload a certificate chain and its private key.
    Create {
        /// Connection settings.
        #[command(flatten)]
        endpoint: Endpoint,
        /// Certificate name.
        #[arg(long)]
        name: String,
        /// The chain and key.
        #[command(flatten)]
        pair: PairArgs,
    },
    /// Replace a certificate on every host bound to it and delete it, in one step.
    Rotate {
        /// Connection settings.
        #[command(flatten)]
        endpoint: Endpoint,
        /// Id of the certificate to replace.
        id: String,
        /// The new chain and key.
        #[command(flatten)]
        pair: PairArgs,
        /// Name of the new certificate (default: the old one's).
        #[arg(long)]
        name: Option<String>,
    },
    /// Show what a stored certificate says about itself and what is wrong with it.
    Details {
        /// Connection settings.
        #[command(flatten)]
        endpoint: Endpoint,
        /// Certificate id.
        id: String,
    },
    /// Check local files before uploading them: one line per finding, exit code 1 on errors.
    Check {
        /// The chain (and key, to check that it matches).
        #[command(flatten)]
        pair: PairArgs,
        /// A hostname the certificate will serve (repeatable).
        #[arg(long = "hostname")]
        hostnames: Vec<String>,
    },
    /// Show one certificate.
    Show {
        /// Connection settings.
        #[command(flatten)]
        endpoint: Endpoint,
        /// Certificate id.
        id: String,
    },
    /// Rename a certificate.
    Rename {
        /// Connection settings.
        #[command(flatten)]
        endpoint: Endpoint,
        /// Certificate id.
        id: String,
        /// The new name.
        #[arg(long)]
        name: String,
    },
    /// Delete a certificate.
    Delete {
        /// Connection settings.
        #[command(flatten)]
        endpoint: Endpoint,
        /// Certificate id.
        id: String,
    },
}

fn client(e: &Endpoint) -> anyhow::Result<Client> {
    Ok(Client::new(&e.endpoint, &e.project_id, &e.token)?)
}

/// Runs one `cert` command and prints the answer as pretty JSON.
pub async fn run(command: CertCommand) -> anyhow::Result<()> {
    let answer = match command {
        CertCommand::List {
            endpoint,
            name,
            page,
            pagesize,
            exp_status,
            host,
        } => {
            let mut query: Vec<(&str, String)> = Vec::new();
            query.extend(name.map(|v| ("name", v)));
            query.extend(page.map(|v| ("page", v.to_string())));
            query.extend(pagesize.map(|v| ("pagesize", v.to_string())));
            query.extend(exp_status.map(|v| ("exp_status", v.to_string())));
            if host {
                query.push(("host", "true".to_owned()));
            }
            client(&endpoint)?.list(&query).await?
        }
        CertCommand::Create {
            endpoint,
            name,
            pair,
        } => {
            let (content, key) = pair.read_with_key()?;
            client(&endpoint)?.create(&name, &content, &key).await?
        }
        CertCommand::Rotate {
            endpoint,
            id,
            pair,
            name,
        } => {
            let (content, key) = pair.read_with_key()?;
            client(&endpoint)?
                .rotate(&id, &content, &key, name.as_deref())
                .await?
        }
        CertCommand::Details { endpoint, id } => client(&endpoint)?.details(&id).await?,
        CertCommand::Check { pair, hostnames } => return check(&pair, &hostnames),
        CertCommand::Show { endpoint, id } => client(&endpoint)?.show(&id).await?,
        CertCommand::Rename { endpoint, id, name } => client(&endpoint)?.rename(&id, &name).await?,
        CertCommand::Delete { endpoint, id } => client(&endpoint)?.delete(&id).await?,
    };
    println!("{}", serde_json::to_string_pretty(&answer)?);
    Ok(())
}

/// `wafcert cert check`: the server's checks (minus those needing the database) on local
/// files, judged on this machine's clock.
fn check(pair: &PairArgs, hostnames: &[String]) -> anyhow::Result<()> {
    let files = pair.read()?;
    let context = CheckContext {
        key: files.key.as_deref(),
        hostnames,
        others: &[],
        now: now_ms(),
    };
    let inspection = inspect(&files.content, &context)?;
    for f in &inspection.findings {
        println!(
            "{} {} {}",
            f.severity.as_str().to_uppercase(),
            f.code,
            f.message
        );
    }
    let errors = inspection
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    if errors > 0 {
        bail!("{errors} error finding(s)");
    }
    Ok(())
}
