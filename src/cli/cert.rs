//! `wafcert cert ...`: the certificate API from the command line. `list` and `show` print a
//! table at a terminal and JSON otherwise; the other commands print the server's JSON.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use serde_json::Value;

use super::output::{self, Format, OutputArgs, human_expiry, print_json, status_word, text};
use super::profile::Endpoint;
use crate::domain::{days_until, now_ms};

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
        /// Include expiry and bound hosts (always, for the table).
        #[arg(long)]
        host: bool,
        /// Output format.
        #[command(flatten)]
        output: OutputArgs,
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
        /// Output format.
        #[command(flatten)]
        output: OutputArgs,
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

/// Runs one `cert` command and prints the answer.
pub async fn run(command: CertCommand) -> anyhow::Result<()> {
    let answer = match command {
        CertCommand::List {
            endpoint,
            name,
            page,
            pagesize,
            exp_status,
            host,
            output,
        } => {
            let format = output.format();
            let mut query: Vec<(&str, String)> = Vec::new();
            query.extend(name.map(|v| ("name", v)));
            query.extend(page.map(|v| ("page", v.to_string())));
            query.extend(pagesize.map(|v| ("pagesize", v.to_string())));
            query.extend(exp_status.map(|v| ("exp_status", v.to_string())));
            if host || format == Format::Table {
                query.push(("host", "true".to_owned()));
            }
            let answer = endpoint.client()?.list(&query).await?;
            if format == Format::Table {
                let items = answer["items"].as_array().cloned().unwrap_or_default();
                println!("{}", certificate_table(&items));
                let total = answer["total"].as_i64().unwrap_or(0);
                if total > i64::try_from(items.len()).unwrap_or(i64::MAX) {
                    println!("({} of {total}; see --page and --pagesize)", items.len());
                }
                return Ok(());
            }
            answer
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
            endpoint.client()?.create(&name, &content, &key_pem).await?
        }
        CertCommand::Show {
            endpoint,
            id,
            output,
        } => {
            let answer = endpoint.client()?.show(&id).await?;
            if output.format() == Format::Table {
                println!("{}", certificate_table(std::slice::from_ref(&answer)));
                return Ok(());
            }
            answer
        }
        CertCommand::Rename { endpoint, id, name } => endpoint.client()?.rename(&id, &name).await?,
        CertCommand::Delete { endpoint, id } => endpoint.client()?.delete(&id).await?,
    };
    print_json(&answer)
}

/// NAME, ID, EXPIRES, DAYS LEFT, STATUS, HOSTS.
fn certificate_table(items: &[Value]) -> String {
    let now = now_ms();
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|item| {
            let expire = item["expire_time"].as_i64().unwrap_or(0);
            let hosts: Vec<String> = item["bind_host"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|h| text(h, "hostname"))
                .collect();
            vec![
                text(item, "name"),
                text(item, "id"),
                human_expiry(expire, now),
                days_until(expire, now).to_string(),
                status_word(item, expire, now).to_owned(),
                if hosts.is_empty() {
                    "-".to_owned()
                } else {
                    hosts.join(",")
                },
            ]
        })
        .collect();
    output::table(
        &["NAME", "ID", "EXPIRES", "DAYS LEFT", "STATUS", "HOSTS"],
        &rows,
    )
}
