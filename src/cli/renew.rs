//! `wafcert renew`: renews, through an ACME CA (RFC 8555), every certificate of a running
//! server that expires within N days by the server's certificate clock and serves at least one
//! host, then rotates it in one step. One line per certificate considered; the exit code is
//! non-zero when any renewal failed, and a failed renewal leaves the old certificate bound.

mod acme;
mod challenge;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use serde_json::Value;

use super::profile::Endpoint;
use crate::client::Client;

/// How the CA's challenges are answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ChallengeKind {
    /// A file under `/.well-known/acme-challenge/` on port 80 of each name.
    #[value(name = "http-01")]
    Http01,
    /// A TXT record `_acme-challenge.NAME` (needs `--challenge-hook`).
    #[value(name = "dns-01")]
    Dns01,
}

impl ChallengeKind {
    /// The RFC 8555 spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Http01 => "http-01",
            Self::Dns01 => "dns-01",
        }
    }
}

/// Flags of `wafcert renew`.
#[derive(Debug, Args)]
pub struct RenewArgs {
    /// The server, project and token.
    #[command(flatten)]
    endpoint: Endpoint,
    /// The ACME directory URL (e.g. Let's Encrypt's).
    #[arg(long)]
    acme_directory: String,
    /// Contact address of the ACME account.
    #[arg(long)]
    email: String,
    /// Renew certificates that expire within this many days (or have expired).
    #[arg(long, default_value_t = 30)]
    within_days: i64,
    /// PEM file with the CA certificate of the ACME server's own TLS (test CAs like Pebble).
    #[arg(long)]
    acme_ca_file: Option<PathBuf>,
    /// The challenge type to answer.
    #[arg(long, value_enum, default_value = "http-01")]
    challenge: ChallengeKind,
    /// Where the built-in http-01 responder listens.
    #[arg(long, default_value = "0.0.0.0:80")]
    http_01_listen: SocketAddr,
    /// A command answering challenges instead of the built-in responder, run by `sh -c` with
    /// WAFCERT_ACME_ACTION=present|cleanup, WAFCERT_ACME_TYPE, WAFCERT_ACME_DOMAIN,
    /// WAFCERT_ACME_TOKEN and WAFCERT_ACME_KEY_AUTH (and WAFCERT_ACME_DNS_VALUE, the TXT value).
    #[arg(long)]
    challenge_hook: Option<String>,
    /// The ACME account (created on first use and kept). Default:
    /// `$XDG_CONFIG_HOME/wafcert/acme-account.json` (or `~/.config/...`).
    #[arg(long)]
    account_file: Option<PathBuf>,
    /// Only list what would be renewed.
    #[arg(long)]
    dry_run: bool,
}

/// A certificate the server reported, with what renewal needs.
#[derive(Debug, Clone)]
struct Candidate {
    id: String,
    name: String,
    hosts: usize,
    days_left: i64,
    names: Vec<String>,
    key_type: String,
    key_bits: u64,
}

/// Runs `wafcert renew`.
pub async fn run(args: RenewArgs) -> anyhow::Result<()> {
    if args.challenge == ChallengeKind::Dns01 && args.challenge_hook.is_none() {
        bail!("--challenge dns-01 needs --challenge-hook to publish the TXT records");
    }
    let client = args.endpoint.client()?;
    let mut failed = 0;
    let mut due = Vec::new();
    for listed in listed(&client).await? {
        if listed.hosts == 0 {
            println!(
                "{} {} skipped: not bound to any host",
                listed.name, listed.id
            );
            continue;
        }
        let c = match candidate(&client, listed).await {
            Ok(c) => c,
            Err((listed, e)) => {
                failed += 1;
                println!("{} {} failed: {}", listed.name, listed.id, one_line(&e));
                continue;
            }
        };
        if c.days_left >= args.within_days {
            println!("{} {} skipped: {} days left", c.name, c.id, c.days_left);
        } else if args.dry_run {
            println!(
                "{} {} due: {} days left, would renew {}",
                c.name,
                c.id,
                c.days_left,
                c.names.join(", ")
            );
        } else {
            due.push(c);
        }
    }
    if !due.is_empty() {
        failed += renew_all(&args, &client, due).await;
    }
    if failed > 0 {
        bail!("{failed} renewal(s) failed");
    }
    Ok(())
}

/// Renews every due certificate, one line each; returns how many failed.
async fn renew_all(args: &RenewArgs, client: &Client, due: Vec<Candidate>) -> usize {
    let (account, answerer) = match prepare(args).await {
        Ok(ready) => ready,
        Err(e) => {
            for c in &due {
                println!("{} {} failed: {}", c.name, c.id, one_line(&e));
            }
            return due.len();
        }
    };
    let mut failed = 0;
    for c in due {
        match renew_one(client, &account, &answerer, &c).await {
            Ok(new_id) => println!(
                "{} {} renewed: now {new_id}, {} host(s) moved",
                c.name, c.id, c.hosts
            ),
            Err(e) => {
                failed += 1;
                println!("{} {} failed: {}", c.name, c.id, one_line(&e));
            }
        }
    }
    answerer.stop().await;
    failed
}

/// The ACME account and the challenge answerer of the run.
async fn prepare(args: &RenewArgs) -> anyhow::Result<(instant_acme::Account, challenge::Answerer)> {
    let account = acme::account(
        &args.acme_directory,
        &args.email,
        args.acme_ca_file.as_deref(),
        &account_path(args.account_file.as_deref())?,
    )
    .await?;
    let answerer = challenge::Answerer::start(
        args.challenge,
        args.challenge_hook.clone(),
        args.http_01_listen,
    )
    .await?;
    Ok((account, answerer))
}

/// Orders, then rotates one certificate.
async fn renew_one(
    client: &Client,
    account: &instant_acme::Account,
    answerer: &challenge::Answerer,
    c: &Candidate,
) -> anyhow::Result<String> {
    if c.names.is_empty() {
        bail!("the certificate names no DNS name to order");
    }
    let issued = acme::order(account, answerer, &c.names, &c.key_type, c.key_bits).await?;
    let rotated = client
        .rotate(&c.id, &issued.chain_pem, &issued.key_pem, None)
        .await
        .context("rotating")?;
    Ok(rotated["id"].as_str().unwrap_or_default().to_owned())
}

/// A certificate as the list reports it.
#[derive(Debug, Clone)]
struct Listed {
    id: String,
    name: String,
    hosts: usize,
}

/// Every certificate of the project with the number of hosts it serves.
async fn listed(client: &Client) -> anyhow::Result<Vec<Listed>> {
    let list = client
        .list(&[("pagesize", "-1".to_owned()), ("host", "true".to_owned())])
        .await
        .context("listing certificates")?;
    Ok(list["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|item| Listed {
                    id: text(item, "id"),
                    name: text(item, "name"),
                    hosts: item["bind_host"].as_array().map_or(0, Vec::len),
                })
                .collect()
        })
        .unwrap_or_default())
}

/// What renewal needs of a bound certificate, from the details endpoint: days left on the
/// server's clock, DNS names and key.
async fn candidate(client: &Client, listed: Listed) -> Result<Candidate, (Listed, anyhow::Error)> {
    let details = match client.details(&listed.id).await {
        Ok(d) => d,
        Err(e) => return Err((listed, anyhow::Error::new(e).context("reading its details"))),
    };
    let mut names: Vec<String> = details["sans"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if names.is_empty()
        && let Some(cn) = details["subject_cn"].as_str()
    {
        names.push(cn.to_owned());
    }
    Ok(Candidate {
        id: listed.id,
        name: listed.name,
        hosts: listed.hosts,
        days_left: details["days_left"].as_i64().unwrap_or(0),
        key_type: text(&details, "key_type"),
        key_bits: details["key_bits"].as_u64().unwrap_or(0),
        names,
    })
}

fn text(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_default().to_owned()
}

/// An error and its causes on one line.
fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}").replace('\n', " ")
}

/// The account file: the flag, or beside the user's configuration.
fn account_path(flag: Option<&std::path::Path>) -> anyhow::Result<PathBuf> {
    if let Some(p) = flag {
        return Ok(p.to_path_buf());
    }
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .context("set --account-file (neither XDG_CONFIG_HOME nor HOME is set)")?;
    Ok(config.join("wafcert").join("acme-account.json"))
}
