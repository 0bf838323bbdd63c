//! `wafcert clock ...` and `wafcert reset`: the test controls of a running server started with
//! `--test-controls`, printing the server's JSON.

use clap::{Args, Subcommand};
use serde_json::json;

use crate::client::ControlClient;

/// Where the server is (test controls take no credential).
#[derive(Debug, Args)]
pub struct ControlEndpoint {
    /// Base URL of the service.
    #[arg(
        long,
        env = "WAFCERT_ENDPOINT",
        default_value = "http://127.0.0.1:8080"
    )]
    endpoint: String,
}

/// `wafcert clock ...`.
#[derive(Debug, Subcommand)]
pub enum ClockCommand {
    /// Print the certificate clock.
    Show(ControlEndpoint),
    /// Move the clock to an instant (RFC 3339, e.g. 2027-01-01T00:00:00Z).
    Set {
        /// Connection settings.
        #[command(flatten)]
        endpoint: ControlEndpoint,
        /// The instant.
        time: String,
    },
    /// Move the clock by an ISO 8601 duration (P31D, PT6H, P2W; -P1D moves back).
    Advance {
        /// Connection settings.
        #[command(flatten)]
        endpoint: ControlEndpoint,
        /// The duration.
        #[arg(allow_hyphen_values = true)]
        duration: String,
    },
    /// Stop the clock where it stands.
    Freeze(ControlEndpoint),
    /// Let the clock run on from where it stands.
    Unfreeze(ControlEndpoint),
    /// Back to real time.
    Reset(ControlEndpoint),
}

/// `wafcert reset`.
#[derive(Debug, Args)]
pub struct ResetArgs {
    /// Connection settings.
    #[command(flatten)]
    endpoint: ControlEndpoint,
    /// Only this project's certificates and hosts (default: every project's).
    #[arg(long)]
    project_id: Option<String>,
}

/// Runs a `clock` command.
pub async fn clock(command: ClockCommand) -> anyhow::Result<()> {
    let (endpoint, body) = match command {
        ClockCommand::Show(endpoint) => {
            return print(ControlClient::new(&endpoint.endpoint)?.get("clock").await?);
        }
        ClockCommand::Set { endpoint, time } => (endpoint, json!({"set": time})),
        ClockCommand::Advance { endpoint, duration } => (endpoint, json!({"advance": duration})),
        ClockCommand::Freeze(endpoint) => (endpoint, json!({"freeze": true})),
        ClockCommand::Unfreeze(endpoint) => (endpoint, json!({"freeze": false})),
        ClockCommand::Reset(endpoint) => (endpoint, json!({"reset": true})),
    };
    print(
        ControlClient::new(&endpoint.endpoint)?
            .post("clock", &body)
            .await?,
    )
}

/// Runs `reset`.
pub async fn reset(args: ResetArgs) -> anyhow::Result<()> {
    let body = match args.project_id {
        Some(p) => json!({"project_id": p}),
        None => json!({}),
    };
    print(
        ControlClient::new(&args.endpoint.endpoint)?
            .post("reset", &body)
            .await?,
    )
}

fn print(answer: serde_json::Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(&answer)?);
    Ok(())
}
