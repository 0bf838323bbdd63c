//! Wiring: configuration to a running server. [`App::build`] opens the database, loads the
//! master key, optionally bootstraps a first project, binds the listener (port 0 works, for
//! tests) and [`App::serve`] runs until the shutdown future resolves, letting requests in
//! flight finish.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use tokio::net::TcpListener;

use crate::api::metrics::{Metrics, MetricsSettings};
use crate::api::test_controls::TestControls;
use crate::api::{self, AppState, ServiceSettings, Services};
use crate::auth::{ADMIN_TOKEN_LIFETIME_MS, Authenticator, project_token};
use crate::console;
use crate::crypto::{MasterKey, Sealer};
use crate::domain::{
    Clock, ClockMove, Contract, Millis, ProjectId, Role, SeededRandom, Thresholds, now_ms,
};
use crate::listener::{self, ConnectionSettings, TlsFiles, TlsState};
use crate::notify::{WebhookConfig, run_deliverer, run_scheduler};
use crate::storage::{Backend, PoolSettings, Store, run_name_index_upkeep};

/// Everything `serve` needs, already resolved from flags and environment.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Database URL.
    pub database_url: String,
    /// Where the master key comes from.
    pub master_key: MasterKeySource,
    /// Create a first project and admin token on an empty database.
    pub bootstrap: bool,
    /// Never return private keys.
    pub withhold_private_keys: bool,
    /// Certificates per project; `None` is unlimited.
    pub certificate_quota: Option<i64>,
    /// Region for the Keystone catalog.
    pub region: String,
    /// Public base URL; derived from `listen` when `None`.
    pub public_url: Option<String>,
    /// Contract profile (where OTC and Huawei document different limits or codes).
    pub contract: Contract,
    /// Database pool settings.
    pub pool: PoolSettings,
    /// Client connection limits (header-read timeout, open connections).
    pub connections: ConnectionSettings,
    /// Serve HTTPS with these files (reloaded on SIGHUP); plain HTTP when `None`.
    pub tls: Option<TlsFiles>,
    /// How long a request may run before it is answered 503.
    pub request_timeout: std::time::Duration,
    /// Test controls (`--test-controls`); `None` in production.
    pub test_controls: Option<TestControlsConfig>,
    /// Expiry thresholds and webhooks.
    pub events: EventsConfig,
    /// Who may scrape `/metrics` and how many certificate series it carries.
    pub metrics: MetricsSettings,
}

/// What the event log tells whom: the expiry thresholds and the webhook receivers.
#[derive(Debug, Clone, Default)]
pub struct EventsConfig {
    /// `--notify-days`.
    pub thresholds: Thresholds,
    /// `--webhook-url`s and `--webhook-secret`; `None` delivers nothing.
    pub webhook: Option<WebhookConfig>,
}

/// How a server with test controls starts.
#[derive(Debug, Clone, Default)]
pub struct TestControlsConfig {
    /// Move the shared certificate clock to this instant at start (`--clock-start`).
    pub clock_start: Option<Millis>,
    /// Freeze the certificate clock at start (`--clock-frozen`).
    pub clock_frozen: bool,
    /// Draw ids from this seed from the start (`--id-seed`).
    pub id_seed: Option<u64>,
}

/// How often a server with test controls rereads the shared clock, so a move made on another
/// replica reaches time-driven work here even while no request arrives.
const CLOCK_POLL: std::time::Duration = std::time::Duration::from_secs(1);

/// Where to find the master key that seals private keys.
#[derive(Clone)]
pub enum MasterKeySource {
    /// Given directly (64 hex characters).
    Hex(String),
    /// Read from this file, created (0600) when missing.
    File(PathBuf),
    /// A file beside the SQLite database (`<database>.key`), created when missing.
    BesideDatabase,
}

impl std::fmt::Debug for MasterKeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Hex(_) => f.write_str("Hex(<redacted>)"),
            Self::File(p) => write!(f, "File({})", p.display()),
            Self::BesideDatabase => f.write_str("BesideDatabase"),
        }
    }
}

/// The first project and admin token made on an empty database, to print once.
#[derive(Debug)]
pub struct Bootstrap {
    /// The new project's id.
    pub project_id: ProjectId,
    /// The admin token (shown once, stored hashed; expires after 30 days).
    pub token: String,
}

/// A bound, ready server.
#[derive(Debug)]
pub struct App {
    listener: TcpListener,
    state: AppState,
    bootstrap: Option<Bootstrap>,
    connections: ConnectionSettings,
    tls: Option<Arc<TlsState>>,
    /// SIGHUP, registered at build so a signal sent once the server is up reloads TLS rather
    /// than killing the process.
    hangup: Option<tokio::signal::unix::Signal>,
    events: EventsConfig,
}

impl App {
    /// Opens the database, checks the master key and binds the listener.
    pub async fn build(config: &ServeConfig) -> anyhow::Result<Self> {
        let store = Store::open(&config.database_url, config.pool)
            .await
            .with_context(|| format!("opening the database {}", redact_url(&config.database_url)))?
            .with_outbox(config.events.webhook.is_some());
        let sealer = open_sealer(&store, &config.master_key, &config.database_url).await?;
        let bootstrap = if config.bootstrap {
            bootstrap(&store).await?
        } else {
            None
        };
        let tls = config
            .tls
            .clone()
            .map(TlsState::new)
            .transpose()?
            .map(Arc::new);
        let hangup = match &tls {
            Some(_) => Some(
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
                    .context("installing the SIGHUP handler")?,
            ),
            None => None,
        };
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("listening on {}", config.listen))?;
        let local = listener.local_addr()?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let public_url = config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("{scheme}://{local}"))
            .trim_end_matches('/')
            .to_owned();
        let clock = Arc::new(Clock::real());
        let ids = Arc::new(SeededRandom::default());
        let (store, controls) = match &config.test_controls {
            Some(tc) => {
                tracing::warn!(
                    "test controls are on: /_wafcert/... moves the clock, resets data and injects \
                     faults without credentials; use this server for tests only"
                );
                let store = store.with_shared_clock();
                start_clock(&store, &clock, tc).await?;
                let controls = TestControls::new(&ids, tc.id_seed);
                (store, Some(Arc::new(controls)))
            }
            None => (store, None),
        };
        let state = AppState::new(Services {
            cache: Arc::default(),
            search: Arc::default(),
            clock,
            ids,
            controls,
            metrics: Arc::new(Metrics::new(config.metrics.clone())),
            auth: Authenticator::new(store.clone()),
            store,
            sealer: Arc::new(sealer),
            settings: Arc::new(ServiceSettings {
                withhold_private_keys: config.withhold_private_keys,
                certificate_quota: config.certificate_quota,
                region: config.region.clone(),
                public_url,
                contract: config.contract,
                request_timeout: config.request_timeout,
            }),
        });
        Ok(Self {
            listener,
            state,
            bootstrap,
            connections: config.connections,
            tls,
            hangup,
            events: config.events.clone(),
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The project and token created on an empty database, if any.
    pub fn take_bootstrap(&mut self) -> Option<Bootstrap> {
        self.bootstrap.take()
    }

    /// The shared state (tests use the store directly).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then finishes requests in flight and closes the pool.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let store = self.state.store.clone();
        let mut workers = vec![tokio::spawn(run_scheduler(
            store.clone(),
            Arc::clone(&self.state.clock),
            self.events.thresholds.clone(),
        ))];
        workers.push(tokio::spawn(run_name_index_upkeep(store.clone())));
        if let Some(webhook) = self.events.webhook.clone() {
            workers.push(tokio::spawn(run_deliverer(
                store.clone(),
                webhook,
                self.state.metrics.deliveries.clone(),
            )));
        }
        if self.state.controls.is_some() {
            let (store, clock) = (store.clone(), Arc::clone(&self.state.clock));
            workers.push(tokio::spawn(async move {
                let mut tick = tokio::time::interval(CLOCK_POLL);
                loop {
                    tick.tick().await;
                    if let Ok(setting) = store.clock_setting().await {
                        clock.apply(setting);
                    }
                }
            }));
        }
        let api = api::router(self.state.clone());
        let router = console::router(self.state, api.clone()).merge(api);
        if let (Some(hangup), Some(tls)) = (self.hangup, &self.tls) {
            workers.push(tokio::spawn(reload_on_hangup(hangup, Arc::clone(tls))));
        }
        listener::serve(self.listener, router, self.connections, self.tls, shutdown).await;
        // A delivery cut short keeps its lease and is attempted again later: at least once.
        for worker in &workers {
            worker.abort();
        }
        for worker in workers {
            let _ = worker.await;
        }
        store.close().await;
        Ok(())
    }
}

/// Reads the TLS files again on every SIGHUP; a failed reload keeps the certificate in use.
async fn reload_on_hangup(mut hangup: tokio::signal::unix::Signal, tls: Arc<TlsState>) {
    while hangup.recv().await.is_some() {
        match tls.reload() {
            Ok(()) => tracing::info!("reloaded the TLS certificate and key"),
            Err(e) => {
                let error = format!("{e:#}");
                tracing::error!(%error, "TLS reload failed; the previous certificate stays in use");
            }
        }
    }
}

/// Takes the shared clock from the database, first moving it as `--clock-start` and
/// `--clock-frozen` ask.
async fn start_clock(
    store: &Store,
    clock: &Clock,
    config: &TestControlsConfig,
) -> anyhow::Result<()> {
    let mut setting = store.clock_setting().await?;
    let moves = [
        config.clock_start.map(ClockMove::Set),
        config.clock_frozen.then_some(ClockMove::Freeze(true)),
    ];
    if moves.iter().any(Option::is_some) {
        let real = now_ms();
        setting = moves
            .into_iter()
            .flatten()
            .fold(setting, |s, step| s.moved(step, real));
        store.store_clock_setting(setting).await?;
    }
    clock.apply(setting);
    Ok(())
}

/// Loads the master key and proves it is the one the database was sealed with.
pub async fn open_sealer(
    store: &Store,
    source: &MasterKeySource,
    url: &str,
) -> anyhow::Result<Sealer> {
    let key = match source {
        MasterKeySource::Hex(hex) => MasterKey::from_hex(hex).context("WAFCERT_MASTER_KEY")?,
        MasterKeySource::File(path) => MasterKey::load_or_create(path)?.0,
        MasterKeySource::BesideDatabase => {
            if store.backend() == Backend::Postgres {
                bail!(
                    "with PostgreSQL, give every replica the same master key: set WAFCERT_MASTER_KEY \
                     (64 hex characters) or --master-key-file"
                );
            }
            match sqlite_key_path(url) {
                Some(path) => {
                    let (key, created) = MasterKey::load_or_create(&path)?;
                    if created {
                        tracing::info!(path = %path.display(), "generated a new master key; back it up with the database");
                    }
                    key
                }
                None => MasterKey::generate()?,
            }
        }
    };
    let sealer = Sealer::new(&key)?;
    const CHECK: &str = "master-key-check";
    match store.meta(CHECK).await? {
        Some(sealed) => {
            sealer.open(&sealed, CHECK).map_err(|_| {
                anyhow::anyhow!(
                    "the master key does not match the one this database was created with; \
                     private keys could not be read. Use the original key."
                )
            })?;
        }
        None => {
            let sealed = sealer.seal(b"wafcert", CHECK)?;
            if !store.meta_insert(CHECK, &sealed).await? {
                // Another replica stored its check first: ours must agree.
                let stored = store.meta(CHECK).await?.unwrap_or_default();
                sealer
                    .open(&stored, CHECK)
                    .context("the master key differs from the other replicas'")?;
            }
        }
    }
    Ok(sealer)
}

/// `<database file>.key` for file-backed SQLite URLs; `None` for in-memory databases.
fn sqlite_key_path(url: &str) -> Option<PathBuf> {
    crate::storage::sqlite_path(url).map(|path| PathBuf::from(format!("{path}.key")))
}

/// On a database with no project yet, creates one with an admin token.
async fn bootstrap(store: &Store) -> anyhow::Result<Option<Bootstrap>> {
    if store.project_count().await? > 0 {
        return Ok(None);
    }
    let project_id = ProjectId::random();
    let now = now_ms();
    let expires_at = Some(now.saturating_add(ADMIN_TOKEN_LIFETIME_MS));
    let token = project_token(store, &project_id, Role::Admin, expires_at, now).await?;
    Ok(Some(Bootstrap { project_id, token }))
}

/// Hides the password of a database URL for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_path_sits_beside_the_database() {
        assert_eq!(
            sqlite_key_path("sqlite://wafcert.db"),
            Some(PathBuf::from("wafcert.db.key"))
        );
        assert_eq!(
            sqlite_key_path("sqlite:/tmp/a.db?mode=rwc"),
            Some(PathBuf::from("/tmp/a.db.key"))
        );
        assert_eq!(sqlite_key_path("sqlite::memory:"), None);
    }

    #[test]
    fn urls_are_redacted() {
        assert_eq!(
            redact_url("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_url("sqlite://x.db"), "sqlite://x.db");
    }
}
