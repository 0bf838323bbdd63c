//! The `wafcert` command line: `serve`, the admin commands (in `admin`: tokens, users, access
//! keys, straight on the database) and the API client commands (in `cert`).

mod admin;
mod cert;
mod controls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::app::{App, MasterKeySource, ServeConfig, TestControlsConfig};
use crate::domain::{Millis, parse_rfc3339};
use crate::storage::{PoolSettings, Store};

/// Self-hostable WAF certificate service, wire-compatible with the OTC / Huawei Cloud WAF API.
#[derive(Debug, Parser)]
#[command(name = "wafcert", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service.
    Serve(ServeArgs),
    /// Create or revoke API tokens.
    #[command(subcommand)]
    Token(admin::TokenCommand),
    /// Create users for the Keystone-style password login.
    #[command(subcommand)]
    User(admin::UserCommand),
    /// Create access keys for AK/SK request signing.
    #[command(subcommand, name = "access-key")]
    AccessKey(admin::AccessKeyCommand),
    /// Show or move the certificate clock of a server run with --test-controls.
    #[command(subcommand)]
    Clock(controls::ClockCommand),
    /// Delete every certificate and host (of one project or all) on a server run with
    /// --test-controls; credentials stay.
    Reset(controls::ResetArgs),
    /// Call the certificate API of a running server (list, create, show, rename, delete).
    #[command(subcommand)]
    Cert(cert::CertCommand),
}

/// Where the database is and how to unlock its secrets.
#[derive(Debug, Args)]
pub struct DatabaseArgs {
    /// Database URL: `sqlite://FILE` (embedded) or `postgres://...` (several replicas).
    #[arg(
        long = "database",
        env = "WAFCERT_DATABASE_URL",
        default_value = "sqlite://wafcert.db"
    )]
    pub database_url: String,
    /// Master key sealing private keys, 64 hex characters.
    #[arg(long, env = "WAFCERT_MASTER_KEY", hide_env_values = true)]
    pub master_key: Option<String>,
    /// File holding the master key (created with mode 0600 when missing). Default: beside the
    /// SQLite database as `<file>.key`.
    #[arg(long, env = "WAFCERT_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
}

impl DatabaseArgs {
    fn master_key_source(&self) -> MasterKeySource {
        match (&self.master_key, &self.master_key_file) {
            (Some(hex), _) => MasterKeySource::Hex(hex.clone()),
            (None, Some(path)) => MasterKeySource::File(path.clone()),
            (None, None) => MasterKeySource::BesideDatabase,
        }
    }

    async fn open(&self) -> anyhow::Result<Store> {
        Store::open(&self.database_url, PoolSettings::default())
            .await
            .with_context(|| format!("opening {}", crate::app::redact_url(&self.database_url)))
    }
}

/// Flags of `wafcert serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "WAFCERT_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    #[command(flatten)]
    database: DatabaseArgs,
    /// Do not create a first project and admin token on an empty database.
    #[arg(long, env = "WAFCERT_NO_BOOTSTRAP")]
    pub no_bootstrap: bool,
    /// Never return private keys, not even to admin tokens.
    #[arg(long, env = "WAFCERT_WITHHOLD_PRIVATE_KEYS")]
    pub withhold_private_keys: bool,
    /// Maximum certificates per project (unlimited when absent).
    #[arg(long, env = "WAFCERT_CERTIFICATE_QUOTA")]
    pub certificate_quota: Option<u32>,
    /// Region named in the Keystone service catalog.
    #[arg(long, env = "WAFCERT_REGION", default_value = "eu-de")]
    pub region: String,
    /// Base URL clients use to reach this server (default: http://<listen address>).
    #[arg(long, env = "WAFCERT_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Maximum database connections of this process.
    #[arg(long, env = "WAFCERT_DB_MAX_CONNECTIONS", default_value_t = 10)]
    pub db_max_connections: u32,
    /// Milliseconds a request waits for a database connection before answering 503.
    #[arg(long, env = "WAFCERT_DB_ACQUIRE_TIMEOUT_MS", default_value_t = 1000)]
    pub db_acquire_timeout_ms: u64,
    /// Milliseconds a database connection may stay unused before it is closed.
    #[arg(long, env = "WAFCERT_DB_IDLE_TIMEOUT_MS", default_value_t = 600_000)]
    pub db_idle_timeout_ms: u64,
    /// Milliseconds a request may take before it is abandoned and answered 503.
    #[arg(long, env = "WAFCERT_REQUEST_TIMEOUT_MS", default_value_t = crate::api::DEFAULT_REQUEST_TIMEOUT_MS)]
    pub request_timeout_ms: u64,
    /// FOR TEST AND CI SERVERS ONLY: turn on /_wafcert/... (movable certificate clock, reset,
    /// repeatable ids, request journal, injected faults). These routes take NO credential.
    #[arg(long, env = "WAFCERT_TEST_CONTROLS", value_parser = clap::builder::BoolishValueParser::new())]
    pub test_controls: bool,
    /// Start the certificate clock at this instant (RFC 3339); needs --test-controls.
    #[arg(long, requires = "test_controls", value_parser = time_arg)]
    pub clock_start: Option<Millis>,
    /// Start with the certificate clock frozen; needs --test-controls.
    #[arg(long, requires = "test_controls")]
    pub clock_frozen: bool,
    /// Draw ids of new resources from this seed (repeatable ids); needs --test-controls.
    #[arg(long, requires = "test_controls")]
    pub id_seed: Option<u64>,
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Cert(command) => cert::run(command).await,
        Command::Token(command) => admin::token(command).await,
        Command::User(command) => admin::user(command).await,
        Command::AccessKey(command) => admin::access_key(command).await,
        Command::Clock(command) => controls::clock(command).await,
        Command::Reset(args) => controls::reset(args).await,
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = ServeConfig {
        listen: args.listen,
        master_key: args.database.master_key_source(),
        database_url: args.database.database_url,
        bootstrap: !args.no_bootstrap,
        withhold_private_keys: args.withhold_private_keys,
        certificate_quota: args.certificate_quota.map(i64::from),
        region: args.region,
        public_url: args.public_url,
        pool: PoolSettings {
            max_connections: args.db_max_connections.max(1),
            acquire_timeout: Duration::from_millis(args.db_acquire_timeout_ms),
            idle_timeout: Duration::from_millis(args.db_idle_timeout_ms.max(1)),
        },
        request_timeout: Duration::from_millis(args.request_timeout_ms.max(1)),
        test_controls: args.test_controls.then_some(TestControlsConfig {
            clock_start: args.clock_start,
            clock_frozen: args.clock_frozen,
            id_seed: args.id_seed,
        }),
    };
    let mut app = App::build(&config).await?;
    let addr = app.local_addr()?;
    if let Some(first) = app.take_bootstrap() {
        println!(
            "Created project {} with an admin token (shown only now):",
            first.project_id
        );
        println!("  export WAFCERT_PROJECT={}", first.project_id);
        println!("  export WAFCERT_TOKEN={}", first.token);
    }
    let shutdown = shutdown_signal();
    tracing::info!(%addr, "wafcert listening");
    app.serve(shutdown).await?;
    tracing::info!("wafcert stopped");
    Ok(())
}

/// Resolves on SIGINT or SIGTERM. The handlers are installed when this is called, not when the
/// future is first polled, so a signal sent right after "listening" is logged still stops the
/// server gracefully instead of killing it.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let interrupt = signal(SignalKind::interrupt());
        let term = signal(SignalKind::terminate());
        async move {
            match (interrupt, term) {
                (Ok(mut interrupt), Ok(mut term)) => {
                    tokio::select! {
                        _ = interrupt.recv() => {}
                        _ = term.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Parses `--clock-start` while clap reads the command line.
fn time_arg(text: &str) -> Result<Millis, String> {
    parse_rfc3339(text).map_err(|e| e.to_string())
}
