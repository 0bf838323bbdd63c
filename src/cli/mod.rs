//! The `wafcert` command line: `serve`; admin commands that act on the database directly (no
//! server needed; their flags here, one function each in `credentials`) and print only their
//! result on stdout, so scripts can use them; client commands for people (`cert`, `host`,
//! `login`, `completions`) that call a running server; and the test-controls commands
//! (`controls`).

mod cert;
mod controls;
mod credentials;
mod events;
mod host;
mod output;
mod pair;
mod profile;
mod renew;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};

use crate::app::{App, MasterKeySource, ServeConfig, TestControlsConfig};
use crate::crypto::random_bytes;
use crate::domain::{Contract, Millis, ProjectId, Role, parse_rfc3339};
use crate::listener::{ConnectionSettings, TlsFiles};
use crate::storage::{PoolSettings, Store};

/// Self-hostable WAF certificate service, wire-compatible with the OTC / Huawei Cloud WAF API.
#[derive(Debug, Parser)]
#[command(name = "wafcert", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Threads of the async runtime: `serve --worker-threads`; else, for a server whose
    /// PostgreSQL runs on this machine, half the cores (at least one), so that the database
    /// keeps cores of its own; else every core. On two cores shared with PostgreSQL, one worker
    /// answers a cached list page with 37 us of CPU instead of 47: two workers spend the
    /// difference waking each other (docs/decisions.md).
    pub fn worker_threads(&self) -> usize {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        match &self.command {
            Command::Serve(args) => match args.worker_threads {
                Some(chosen) => chosen.get(),
                None if crate::storage::postgres_on_this_machine(&args.database.database_url) => {
                    (cores / 2).max(1)
                }
                None => cores,
            },
            _ => cores,
        }
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service.
    Serve(Box<ServeArgs>),
    /// Create or revoke API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Create users for the Keystone-style password login.
    #[command(subcommand)]
    User(UserCommand),
    /// Create access keys for AK/SK request signing.
    #[command(subcommand, name = "access-key")]
    AccessKey(AccessKeyCommand),
    /// Call the certificate API of a running server (list, create, show, rename, delete).
    #[command(subcommand)]
    Cert(cert::CertCommand),
    /// Call the host API of a running server (list, show, create, update, delete).
    #[command(subcommand)]
    Host(host::HostCommand),
    /// Check a credential against a server and save it as a profile for the client commands.
    Login(profile::LoginArgs),
    /// Print shell completions for bash, zsh or fish.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: CompletionShell,
    },
    /// Renew expiring certificates through an ACME CA and rotate them in (needs a running
    /// server: WAFCERT_ENDPOINT, WAFCERT_PROJECT, WAFCERT_TOKEN).
    Renew(renew::RenewArgs),
    /// Show or move the certificate clock of a server run with --test-controls.
    #[command(subcommand)]
    Clock(controls::ClockCommand),
    /// Delete every certificate and host (of one project or all) on a server run with
    /// --test-controls; credentials stay.
    Reset(controls::ResetArgs),
    /// Print a new webhook signing secret (`whsec_...`) for `serve --webhook-secret`.
    #[command(name = "webhook-secret")]
    WebhookSecret,
}

/// Shells `wafcert completions` writes for.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum CompletionShell {
    /// GNU bash.
    Bash,
    /// Z shell.
    Zsh,
    /// fish.
    Fish,
}

/// Where the database is and how to unlock its secrets.
#[derive(Debug, Args)]
pub struct DatabaseArgs {
    /// Database URL: `sqlite://FILE` (embedded) or `postgres://...` (several replicas).
    #[arg(
        long = "database",
        env = "WAFCERT_DATABASE_URL",
        hide_env_values = true,
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
    /// Where OTC and Huawei document different limits or codes, follow `otc` (names up to 64
    /// characters, unknown resources WAF.00014001) or `huawei` (names up to 256 characters);
    /// `standard` keeps wafcert's defaults.
    #[arg(long, env = "WAFCERT_CONTRACT", default_value = "standard")]
    pub contract: Contract,
    /// Threads that run requests (default: every core; half of them when the PostgreSQL
    /// database is on this machine).
    #[arg(long, env = "WAFCERT_WORKER_THREADS")]
    pub worker_threads: Option<std::num::NonZeroUsize>,
    /// Maximum database connections of this process.
    #[arg(long, env = "WAFCERT_DB_MAX_CONNECTIONS", default_value_t = 10)]
    pub db_max_connections: u32,
    /// Milliseconds a request waits for a database connection before answering 503.
    #[arg(long, env = "WAFCERT_DB_ACQUIRE_TIMEOUT_MS", default_value_t = 1000)]
    pub db_acquire_timeout_ms: u64,
    /// Milliseconds a database connection may stay unused before it is closed.
    #[arg(long, env = "WAFCERT_DB_IDLE_TIMEOUT_MS", default_value_t = 600_000)]
    pub db_idle_timeout_ms: u64,
    /// Milliseconds a client has for the TLS handshake and for sending each request's headers.
    #[arg(long, env = "WAFCERT_HEADER_READ_TIMEOUT_MS", default_value_t = 10_000)]
    pub header_read_timeout_ms: u64,
    /// Client connections open at once; more wait until one closes.
    #[arg(long, env = "WAFCERT_MAX_CONNECTIONS", default_value_t = 1024)]
    pub max_connections: usize,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key; both reloaded on SIGHUP).
    #[arg(long, env = "WAFCERT_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "WAFCERT_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
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
    #[command(flatten)]
    events: events::EventArgs,
}

/// `wafcert token ...`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token for a project (created if missing) and print it.
    Create {
        /// Database location and master key.
        #[command(flatten)]
        database: DatabaseArgs,
        /// The project and role.
        #[command(flatten)]
        grant: GrantArgs,
        /// Lifetime such as `24h`, `30m`, `7d` or `3600s`, or `never`.
        #[arg(long, default_value = "30d")]
        ttl: String,
    },
    /// Revoke a token, given by its id (from `token list`) or the token itself; tokens bought
    /// with it through the Keystone `token` method are revoked too.
    Revoke {
        /// Database location and master key.
        #[command(flatten)]
        database: DatabaseArgs,
        /// The token's id (16 hex characters) or the token.
        token: String,
    },
    /// List a project's valid tokens: id, role and expiry (RFC 3339 UTC or `never`), one per
    /// line. Never the secret.
    List {
        /// Database location and master key.
        #[command(flatten)]
        database: DatabaseArgs,
        /// The project (32 lowercase hex).
        #[arg(long, value_parser = project_arg)]
        project_id: ProjectId,
    },
}

/// What a new token or access key may do, and where.
#[derive(Debug, Args)]
pub struct GrantArgs {
    /// The project (32 lowercase hex; created if missing).
    #[arg(long, value_parser = project_arg)]
    project_id: ProjectId,
    /// `admin` or `readonly`.
    #[arg(long, default_value = "admin", value_parser = role_arg)]
    role: Role,
}

/// `wafcert user ...`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; the password comes from `WAFCERT_PASSWORD` or stdin. Prints the user id.
    Create {
        /// Database location and master key.
        #[command(flatten)]
        database: DatabaseArgs,
        /// Login name.
        #[arg(long)]
        name: String,
        /// The user's project (created in the user's domain if missing).
        #[arg(long, value_parser = project_arg)]
        project_id: ProjectId,
        /// Name of the project when it is created here (default: its id), for logins that
        /// scope by project name.
        #[arg(long)]
        project_name: Option<String>,
        /// `admin` or `readonly`.
        #[arg(long, default_value = "admin", value_parser = role_arg)]
        role: Role,
        /// Keystone domain name (its id is the name, or `default` for `Default`).
        #[arg(long, default_value = "Default")]
        domain: String,
    },
    /// Disable a user: no more logins, and every token issued to it is revoked.
    Disable {
        /// Database location and master key.
        #[command(flatten)]
        database: DatabaseArgs,
        /// The user.
        #[command(flatten)]
        user: UserName,
    },
    /// Set a user's password (from `WAFCERT_PASSWORD` or stdin) and revoke every token issued
    /// to it.
    SetPassword {
        /// Database location and master key.
        #[command(flatten)]
        database: DatabaseArgs,
        /// The user.
        #[command(flatten)]
        user: UserName,
    },
}

/// A user by login name within a domain.
#[derive(Debug, Args)]
pub struct UserName {
    /// Login name.
    #[arg(long)]
    name: String,
    /// Keystone domain name.
    #[arg(long, default_value = "Default")]
    domain: String,
}

/// `wafcert access-key ...`.
#[derive(Debug, Subcommand)]
pub enum AccessKeyCommand {
    /// Create an access key pair; prints `ACCESS_KEY SECRET_KEY`.
    Create {
        /// Database location and master key.
        #[command(flatten)]
        database: DatabaseArgs,
        /// The project and role.
        #[command(flatten)]
        grant: GrantArgs,
    },
    /// Revoke an access key: requests signed with it are refused from the next one on.
    Revoke {
        /// Database location and master key.
        #[command(flatten)]
        database: DatabaseArgs,
        /// The access key (the first word `access-key create` printed).
        access_key: String,
    },
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(*args).await,
        Command::Cert(command) => cert::run(command).await,
        Command::Host(command) => host::run(command).await,
        Command::Login(args) => profile::login(args).await,
        Command::Completions { shell } => {
            let shell = match shell {
                CompletionShell::Bash => clap_complete::Shell::Bash,
                CompletionShell::Zsh => clap_complete::Shell::Zsh,
                CompletionShell::Fish => clap_complete::Shell::Fish,
            };
            let mut command = <Cli as clap::CommandFactory>::command();
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut command, "wafcert", &mut script);
            // A closed pipe (`| head`) is not an error of ours.
            match std::io::Write::write_all(&mut std::io::stdout(), &script) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
                _ => Ok(()),
            }
        }
        Command::Renew(args) => renew::run(args).await,
        Command::Clock(command) => controls::clock(command).await,
        Command::Reset(args) => controls::reset(args).await,
        Command::WebhookSecret => events::print_webhook_secret(),
        Command::Token(command) => credentials::token(command).await,
        Command::User(UserCommand::Disable { database, user }) => {
            credentials::disable_user(&database, &user).await
        }
        Command::User(UserCommand::SetPassword { database, user }) => {
            credentials::set_password(&database, &user).await
        }
        Command::AccessKey(AccessKeyCommand::Revoke {
            database,
            access_key,
        }) => credentials::revoke_access_key(&database, &access_key).await,
        Command::User(UserCommand::Create {
            database,
            name,
            project_id,
            project_name,
            role,
            domain,
        }) => {
            let user = credentials::NewUser {
                name,
                project: project_id,
                project_name,
                role,
                domain,
            };
            credentials::create_user(&database, user).await
        }
        Command::AccessKey(AccessKeyCommand::Create { database, grant }) => {
            credentials::create_access_key(&database, &grant).await
        }
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let (events, metrics) = args.events.into_config()?;
    let config = ServeConfig {
        listen: args.listen,
        master_key: args.database.master_key_source(),
        database_url: args.database.database_url,
        bootstrap: !args.no_bootstrap,
        withhold_private_keys: args.withhold_private_keys,
        certificate_quota: args.certificate_quota.map(i64::from),
        region: args.region,
        public_url: args.public_url,
        contract: args.contract,
        pool: PoolSettings {
            max_connections: args.db_max_connections.max(1),
            acquire_timeout: Duration::from_millis(args.db_acquire_timeout_ms),
            idle_timeout: Duration::from_millis(args.db_idle_timeout_ms.max(1)),
        },
        connections: ConnectionSettings {
            header_read_timeout: Duration::from_millis(args.header_read_timeout_ms.max(1)),
            max_connections: args.max_connections.max(1),
        },
        tls: match (args.tls_cert, args.tls_key) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            (None, None) => None,
            _ => bail!("--tls-cert and --tls-key go together"),
        },
        request_timeout: Duration::from_millis(args.request_timeout_ms.max(1)),
        events,
        metrics,
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
            "Created project {} with an admin token (shown only now, valid 30 days):",
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

/// Characters of access keys (like the cloud's: upper case and digits).
const ACCESS_KEY_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
/// Characters of secret keys.
const SECRET_KEY_ALPHABET: &[u8] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Parses `--project-id` while clap reads the command line.
fn project_arg(text: &str) -> Result<ProjectId, String> {
    ProjectId::parse(text).ok_or_else(|| "must be 32 lowercase hex characters".to_owned())
}

/// Parses `--clock-start` while clap reads the command line.
fn time_arg(text: &str) -> Result<Millis, String> {
    parse_rfc3339(text).map_err(|e| e.to_string())
}

/// Parses `--role` while clap reads the command line.
fn role_arg(text: &str) -> Result<Role, String> {
    Role::parse(text).ok_or_else(|| "must be admin or readonly".to_owned())
}

/// The password from `WAFCERT_PASSWORD`, or the first line of stdin (without its line end).
fn read_password() -> anyhow::Result<String> {
    if let Ok(p) = std::env::var("WAFCERT_PASSWORD")
        && !p.is_empty()
    {
        return Ok(p);
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the password from stdin")?;
    let password = line.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        bail!("give the password in WAFCERT_PASSWORD or on the first line of stdin");
    }
    Ok(password.to_owned())
}

/// Random text of `len` characters drawn uniformly from `alphabet` (at most 256 characters):
/// bytes that would favour the first characters are drawn again.
fn random_text(len: usize, alphabet: &[u8]) -> anyhow::Result<String> {
    if alphabet.is_empty() || alphabet.len() > 256 {
        bail!("the alphabet must have 1 to 256 characters");
    }
    let limit = 256 - 256 % alphabet.len();
    let mut out = String::with_capacity(len);
    let mut bytes = [0u8; 64];
    while out.len() < len {
        random_bytes(&mut bytes)?;
        for b in bytes.iter().map(|b| usize::from(*b)).filter(|b| *b < limit) {
            if out.len() == len {
                break;
            }
            if let Some(c) = alphabet.get(b % alphabet.len()) {
                out.push(char::from(*c));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_threads_leave_a_local_database_half_the_cores() {
        let threads = |args: &[&str]| Cli::parse_from(args).worker_threads();
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        let half = (cores / 2).max(1);
        let serve_on = |url: &str| threads(&["wafcert", "serve", "--database", url]);
        assert_eq!(serve_on("sqlite://w.db"), cores);
        assert_eq!(serve_on("postgres://u@db.example:5432/w"), cores);
        assert_eq!(serve_on("postgres://u@127.0.0.1:5432/w"), half);
        assert_eq!(serve_on("postgresql://localhost/w"), half);
        assert_eq!(serve_on("postgres://u@[::1]/w"), half);
        assert_eq!(serve_on("postgres:///w?host=/var/run/postgresql"), half);
        let chosen = ["wafcert", "serve", "--worker-threads", "3", "--database"];
        assert_eq!(
            threads(&[&chosen[..], &["postgres://localhost/w"]].concat()),
            3
        );
        assert_eq!(threads(&["wafcert", "webhook-secret"]), cores);
        assert!(Cli::try_parse_from(["wafcert", "serve", "--worker-threads", "0"]).is_err());
    }

    #[test]
    fn random_text_uses_only_the_alphabet() {
        let text = random_text(40, b"AB").unwrap();
        assert_eq!(text.len(), 40);
        assert!(text.bytes().all(|b| b == b'A' || b == b'B'));
        let keys = random_text(20, ACCESS_KEY_ALPHABET).unwrap();
        assert!(keys.bytes().all(|b| ACCESS_KEY_ALPHABET.contains(&b)));
        assert!(random_text(1, b"").is_err());
    }
}
