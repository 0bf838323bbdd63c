//! `wafcert cert ...`: the certificate API from the command line, printing the server's JSON.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::client::Client;

/// Where the API is and who is calling.
#[derive(Debug, Args)]
pub struct Endpoint {
    /// Base URL of the service.
    #[arg(
        long,
        env = "WAFCERT_ENDPOINT",
        default_value = "http://127.0.0.1:8080"
    )]
    endpoint: String,
    /// Project id (32 lowercase hex).
    #[arg(long, env = "WAFCERT_PROJECT")]
    project_id: String,
    /// Bearer token.
    #[arg(long, env = "WAFCERT_TOKEN", hide_env_values = true)]
    token: String,
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
        /// PEM file with the chain, leaf first.
        #[arg(long)]
        cert: PathBuf,
        /// PEM file with the private key.
        #[arg(long)]
        key: PathBuf,
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
            cert,
            key,
        } => {
            let content = std::fs::read_to_string(&cert)
                .with_context(|| format!("reading {}", cert.display()))?;
            let key_pem = std::fs::read_to_string(&key)
                .with_context(|| format!("reading {}", key.display()))?;
            client(&endpoint)?.create(&name, &content, &key_pem).await?
        }
        CertCommand::Show { endpoint, id } => client(&endpoint)?.show(&id).await?,
        CertCommand::Rename { endpoint, id, name } => client(&endpoint)?.rename(&id, &name).await?,
        CertCommand::Delete { endpoint, id } => client(&endpoint)?.delete(&id).await?,
    };
    println!("{}", serde_json::to_string_pretty(&answer)?);
    Ok(())
}
