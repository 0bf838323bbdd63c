//! `wafcert cert ...`: the certificate API from the command line. `list` and `show` print a
//! table at a terminal and JSON otherwise; the other commands print the server's JSON, and
//! `cert check` runs the server's certificate checks on local files.

use anyhow::bail;
use clap::Subcommand;
use serde_json::Value;

use super::output::{
    self, Format, OutputArgs, PageArgs, human_expiry, print_json, print_one, print_page,
    status_word, text,
};
use super::pair::PairArgs;
use super::profile::Endpoint;
use crate::domain::{CheckContext, Severity, days_until, inspect, now_ms};

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
        /// The page.
        #[command(flatten)]
        page: PageArgs,
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
            exp_status,
            host,
            output,
        } => {
            let format = output.format();
            let mut query = page.query();
            query.extend(name.map(|v| ("name", v)));
            query.extend(exp_status.map(|v| ("exp_status", v.to_string())));
            if host || format == Format::Table {
                query.push(("host", "true".to_owned()));
            }
            let answer = endpoint.client()?.list(&query).await?;
            if format == Format::Table {
                print_page(&answer, certificate_table);
                return Ok(());
            }
            answer
        }
        CertCommand::Create {
            endpoint,
            name,
            pair,
        } => {
            let (content, key) = pair.read_with_key()?;
            endpoint.client()?.create(&name, &content, &key).await?
        }
        CertCommand::Rotate {
            endpoint,
            id,
            pair,
            name,
        } => {
            let (content, key) = pair.read_with_key()?;
            endpoint
                .client()?
                .rotate(&id, &content, &key, name.as_deref())
                .await?
        }
        CertCommand::Details { endpoint, id } => endpoint.client()?.details(&id).await?,
        CertCommand::Check { pair, hostnames } => return check(&pair, &hostnames),
        CertCommand::Show {
            endpoint,
            id,
            output,
        } => {
            let answer = endpoint.client()?.show(&id).await?;
            return print_one(&answer, output.format(), certificate_table);
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
