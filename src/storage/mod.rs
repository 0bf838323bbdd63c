//! Durable state in SQLite (embedded default) or PostgreSQL (several replicas), through one
//! `sqlx::Any` pool and one set of portable SQL. Each write is one statement or one
//! transaction, so replicas sharing a database need no coordination of their own.
//!
//! This layer stores what it is given: validation belongs to `domain`, sealing to `crypto`.

mod binding;
mod certificates;
#[cfg(unix)]
mod change_watch;
mod console_sessions;
mod credentials;
mod events;
mod expiry;
mod host_settings;
mod hosts;
mod name_index;
mod name_search;
mod pipeline;
mod policies;
mod readers;
mod sql;
mod stored;
mod test_controls;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::{AnyPool, ConnectOptions, Connection};

pub use binding::WriteError;
pub use certificates::{
    BoundHost, CertificateRecord, CertificateSummary, FingerprintRow, ListFilter, NewCertificate,
    ReplacedPair, Rotated, SealedUpload,
};
pub use console_sessions::{NewSession, SessionRecord};
pub use credentials::{AccessKeyRecord, NewToken, TokenListing, TokenRecord, UserRecord};
pub use events::{DeliveryOutcome, EventFilter, EventRecord, Origin, SYSTEM_ACTOR};
pub use expiry::{CertificateCounts, CertificateSeries};
pub use hosts::{DeletedHost, HostListFilter, HostPolicy, HostRecord, NewHost};
pub use name_index::run_name_index_upkeep;
pub use name_search::TRIGRAM_MIN_CHARS;
pub use pipeline::APPLICATION_NAME as CREDENTIALS_APPLICATION_NAME;
pub use policies::{NewPolicy, PolicyHost, PolicyListFilter, PolicyRecord};
pub use sql::{Page, PageWindow};

/// The embedded migrations, one folder per SQL dialect.
static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// Pages past an SQLite `max_page_count` that deletes (of certificates, hosts, policies) may
/// still use. A delete records an event and updates indexes, which can need a new page before
/// the row it removes frees one (a page is freed only once it is emptied); without headroom a
/// full database could not be emptied through the API at all.
pub const DELETE_RESERVE_PAGES: u32 = 32;

/// This process's turn to write (SQLite) and the write transaction taken in it.
type WriteTurn = (
    Option<tokio::sync::OwnedMutexGuard<()>>,
    sqlx::Transaction<'static, sqlx::Any>,
);

/// Which database engine a URL selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `sqlite:` URLs: one process, embedded file.
    Sqlite,
    /// `postgres:`/`postgresql:` URLs: shared by several replicas.
    Postgres,
}

impl Backend {
    /// Picks the backend from the URL scheme.
    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Self::Postgres)
        } else {
            Err(StoreError::Config(
                "database URL must start with sqlite: or postgres:".to_owned(),
            ))
        }
    }

    fn migrator(self) -> &'static Migrator {
        match self {
            Self::Sqlite => &SQLITE_MIGRATIONS,
            Self::Postgres => &POSTGRES_MIGRATIONS,
        }
    }
}

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No such row in the caller's project: the resource asked for, or one a write needs (the
    /// certificate to bind, a listed host), or one deleted meanwhile.
    #[error("{0} not found")]
    NotFound(Resource),
    /// A unique name (certificate name, hostname) is already used in the project.
    #[error("name already in use")]
    NameTaken,
    /// The certificate is bound to these hostnames.
    #[error("in use by {0:?}")]
    InUse(Vec<String>),
    /// The policy is used by these hostnames.
    #[error("policy in use by {0:?}")]
    PolicyInUse(Vec<String>),
    /// The project's certificate quota is used up.
    #[error("quota exceeded")]
    QuotaExceeded,
    /// The database cannot be reached right now (connection refused, pool exhausted).
    #[error("database unavailable: {0}")]
    Unavailable(#[source] DriverError),
    /// The database has no room left (SQLite `SQLITE_FULL`: disk full or `max_page_count`
    /// reached; PostgreSQL `disk_full`). Reads still work, deletes use a reserve under
    /// `max_page_count` ([`DELETE_RESERVE_PAGES`]); writes work again once space is freed.
    #[error(
        "database full: {0}; new writes are refused until space is freed: delete certificates, \
         free disk space, or restart with a higher SQLite max_page_count"
    )]
    Full(#[source] DriverError),
    /// The database's schema is newer than this binary, or otherwise unusable.
    #[error("{0}")]
    Schema(String),
    /// A bad database URL or pool setting.
    #[error("{0}")]
    Config(String),
    /// Any other database failure.
    #[error("database error: {0}")]
    Backend(#[source] DriverError),
}

/// A database driver's error: sqlx's, or tokio-postgres's for the credential statements on
/// PostgreSQL (see `pipeline`).
pub type DriverError = Box<dyn std::error::Error + Send + Sync>;

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::Database(ref db) if db.is_unique_violation() => Self::NameTaken,
            // A stored value that no longer reads as its domain type (see `stored`).
            sqlx::Error::ColumnDecode { .. } => Self::Schema(e.to_string()),
            other => match unavailability(&other) {
                Some(Unavailability::Full) => Self::Full(other.into()),
                Some(Unavailability::Transient) => Self::Unavailable(other.into()),
                None => Self::Backend(other.into()),
            },
        }
    }
}

/// The kinds of stored rows a caller can name, so that a not-found says which one was missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// A project.
    Project,
    /// A certificate.
    Certificate,
    /// A protected domain.
    Host,
    /// A user of the password login.
    User,
    /// A protection policy.
    Policy,
}

impl Resource {
    /// The name callers know the resource by.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Project => "project",
            Self::Certificate => "certificate",
            Self::Host => "host",
            Self::User => "user",
            Self::Policy => "policy",
        }
    }
}

impl std::fmt::Display for Resource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a database error is someone else's passing trouble rather than a fault of ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Unavailability {
    /// No space left.
    Full,
    /// The server went away, is shutting down or starting, is busy or out of connections.
    Transient,
}

/// Classifies errors that mean "the database cannot serve right now": lost or refused
/// connections, an exhausted pool, PostgreSQL shutting down (a pooled connection whose server
/// went away answers `57P01`), SQLite busy or unreadable, and a full disk.
fn unavailability(e: &sqlx::Error) -> Option<Unavailability> {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => Some(Unavailability::Transient),
        sqlx::Error::Database(db) => {
            if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                postgres_unavailability(pg.code())
            } else if let Some(lite) = db.try_downcast_ref::<sqlx::sqlite::SqliteError>() {
                sqlite_unavailability(
                    sqlx::error::DatabaseError::code(lite)
                        .as_deref()
                        .unwrap_or(""),
                )
            } else {
                None
            }
        }
        _ => None,
    }
}

/// PostgreSQL SQLSTATEs: class 08 (connection exception), 57P01..57P03 (shutdown, crash,
/// cannot connect now), 53100 (disk full), 53300 (too many connections).
pub(super) fn postgres_unavailability(sqlstate: &str) -> Option<Unavailability> {
    match sqlstate {
        "53100" => Some(Unavailability::Full),
        "57P01" | "57P02" | "57P03" | "53300" => Some(Unavailability::Transient),
        s if s.starts_with("08") => Some(Unavailability::Transient),
        _ => None,
    }
}

/// SQLite result codes (the primary code is the low byte of the extended one): `SQLITE_FULL`
/// (13), and `SQLITE_BUSY` (5), `SQLITE_LOCKED` (6), `SQLITE_IOERR` (10), `SQLITE_CANTOPEN` (14).
fn sqlite_unavailability(code: &str) -> Option<Unavailability> {
    match code.parse::<i32>().ok()? & 0xff {
        13 => Some(Unavailability::Full),
        5 | 6 | 10 | 14 => Some(Unavailability::Transient),
        _ => None,
    }
}

/// Pool settings, exposed as `serve` flags.
#[derive(Debug, Clone, Copy)]
pub struct PoolSettings {
    /// Upper bound of open connections per process.
    pub max_connections: u32,
    /// How long a request waits for a connection before failing with 503.
    pub acquire_timeout: Duration,
    /// How long a connection may sit unused in the pool before it is closed.
    pub idle_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(3),
            idle_timeout: Duration::from_secs(600),
        }
    }
}

/// Handle to the database; cheap to clone (it is a pool).
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    /// Connections held for the hot reads, outside `pool` (see `readers`).
    readers: Arc<readers::Readers>,
    /// The credential statements' pipelined connection, on PostgreSQL (see `pipeline`).
    pipeline: Option<Arc<pipeline::Pipeline>>,
    backend: Backend,
    /// SQLite admits one writer at a time, and a second one sleeps in its busy handler (tens to
    /// hundreds of milliseconds); writers of this process queue here instead. `None` on
    /// PostgreSQL, which has row locks.
    writer: Option<Arc<tokio::sync::Mutex<()>>>,
    /// SQLite file capped by `max_page_count`: a one-connection pool whose cap is
    /// [`DELETE_RESERVE_PAGES`] higher, for deletes (see [`Store::begin_delete`]). Connected on
    /// first use; `None` otherwise.
    reserve: Option<AnyPool>,
    /// Commit detector of an SQLite file database (see `change_watch`, unix only); `None`
    /// otherwise.
    #[cfg(unix)]
    changes: Option<Arc<change_watch::ChangeWatch>>,
    /// Whether new events enter the webhook outbox (`pending`) or are only logged (`none`).
    outbox: bool,
    /// Bumped after each commit that recorded events or added certificates, so the deliverer
    /// and the expiry scheduler of this process act at once instead of at their next tick.
    commits: Arc<tokio::sync::watch::Sender<u64>>,
    /// Credential lookups also read the test-controls clock (see [`Store::with_shared_clock`]).
    shared_clock: bool,
}

impl Store {
    /// Connects and brings the schema up to date. Concurrent replicas are safe: migrations run
    /// under the database's lock (an advisory lock on PostgreSQL). A schema newer than this
    /// binary knows is refused.
    pub async fn open(url: &str, settings: PoolSettings) -> Result<Self, StoreError> {
        let backend = Backend::from_url(url)?;
        sqlx::any::install_default_drivers();
        let url = normalise_url(url, backend);
        let (url, max_page_count) = match backend {
            Backend::Sqlite => take_max_page_count(&url)?,
            Backend::Postgres => (url, None),
        };
        #[cfg(unix)]
        if backend == Backend::Sqlite
            && url.contains("mode=rwc")
            && let Some(path) = sqlite_path(&url)
        {
            create_private_file(&path);
        }
        let options = AnyConnectOptions::from_str(&url)
            .map_err(|e| StoreError::Config(format!("bad database URL: {e}")))?
            .disable_statement_logging();
        #[cfg(unix)]
        let keeper_options = options.clone();
        let mut pool_options = AnyPoolOptions::new();
        if backend == Backend::Sqlite {
            pool_options = pool_options
                .after_connect(move |conn, _| Box::pin(prepare_sqlite(conn, max_page_count)));
        }
        let reserve = max_page_count
            .filter(|_| sqlite_path(&url).is_some())
            .map(|pages| {
                let pages = Some(pages.saturating_add(DELETE_RESERVE_PAGES));
                AnyPoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(settings.acquire_timeout)
                    .idle_timeout(settings.idle_timeout)
                    .test_before_acquire(false)
                    .after_connect(move |conn, _| Box::pin(prepare_sqlite(conn, pages)))
                    .connect_lazy_with(options.clone())
            });
        // Up to 4 of the connections are held for the hot reads; an in-memory SQLite database
        // has none (each connection to it would be a database of its own).
        let held = if sqlite_path(&url).is_some() || backend == Backend::Postgres {
            (settings.max_connections / 2).min(4)
        } else {
            0
        };
        let pool = pool_options
            .max_connections(settings.max_connections - held)
            .acquire_timeout(settings.acquire_timeout)
            .idle_timeout(settings.idle_timeout)
            // No ping before every use: a broken connection fails its query (a 503 for that
            // request) and is replaced, which costs less than a round trip on every request.
            .test_before_acquire(false)
            .connect_with(options)
            .await?;
        if backend == Backend::Sqlite {
            // WAL lets readers proceed while a write commits; the mode persists in the file.
            sqlx::query("PRAGMA journal_mode=WAL")
                .execute(&pool)
                .await?;
        }
        let writer = (backend == Backend::Sqlite).then(|| Arc::new(tokio::sync::Mutex::new(())));
        let mut store = Self {
            pool,
            readers: Arc::new(readers::Readers::new(held as usize)),
            pipeline: (backend == Backend::Postgres)
                .then(|| pipeline_for(&url, settings.acquire_timeout))
                .flatten(),
            backend,
            writer,
            reserve,
            #[cfg(unix)]
            changes: None,
            outbox: false,
            commits: Arc::new(tokio::sync::watch::Sender::new(0)),
            shared_clock: false,
        };
        store.migrate().await?;
        // After the migrations, so the database is in WAL mode and its `-shm` exists even on
        // the first start.
        #[cfg(unix)]
        if let Some(path) = sqlite_path(&url).filter(|_| backend == Backend::Sqlite) {
            let keeper = sqlx::AnyConnection::connect_with(&keeper_options).await?;
            store.changes = change_watch::ChangeWatch::open(&path, keeper)
                .await?
                .map(Arc::new);
        }
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        match self.backend.migrator().run(&self.pool).await {
            Ok(()) => Ok(()),
            Err(MigrateError::VersionMissing(v)) => Err(StoreError::Schema(format!(
                "the database has schema version {v}, which this wafcert does not know: it was \
                 migrated by a newer release. Upgrade wafcert, or point it at another database."
            ))),
            Err(MigrateError::Execute(e)) => Err(e.into()),
            Err(e) => Err(StoreError::Schema(format!(
                "database migration failed: {e}"
            ))),
        }
    }

    /// Starts a write transaction, first taking this process's turn to write on SQLite. Keep
    /// the returned guard alive until the transaction is committed or dropped.
    async fn begin_write(
        &self,
    ) -> Result<
        (
            Option<tokio::sync::OwnedMutexGuard<()>>,
            sqlx::Transaction<'static, sqlx::Any>,
        ),
        StoreError,
    > {
        self.begin_write_on(&self.pool).await
    }

    /// A connection for a hot read (see `readers`); call [`readers::Reader::done`] after the
    /// statements succeeded.
    async fn reader(&self) -> Result<readers::Reader<'_>, StoreError> {
        Ok(self.readers.get(&self.pool).await?)
    }

    /// Starts the write transaction of a delete: [`Store::begin_write`], but on the reserve
    /// connection where there is one, so a database full up to its `max_page_count` can still
    /// be emptied: deletes are how an operator frees space.
    async fn begin_delete(&self) -> Result<WriteTurn, StoreError> {
        self.begin_write_on(self.reserve.as_ref().unwrap_or(&self.pool))
            .await
    }

    /// [`Store::begin_write`] on `pool`.
    async fn begin_write_on(&self, pool: &AnyPool) -> Result<WriteTurn, StoreError> {
        let turn = self.write_turn().await;
        let tx = pool.begin().await?;
        Ok((turn, tx))
    }

    /// [`Store::begin_write`] with SQLite's write lock taken at `BEGIN IMMEDIATE`, for a
    /// transaction that reads before it writes and is not alone in writing to the file (another
    /// process may commit in between, which a deferred transaction would only learn as a
    /// `database is locked` error when it first writes). SQLite only.
    async fn begin_immediate_write(&self) -> Result<WriteTurn, StoreError> {
        let turn = self.write_turn().await;
        let tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        Ok((turn, tx))
    }

    /// This process's turn to write: held until the transaction ends (SQLite); `None` on
    /// PostgreSQL.
    async fn write_turn(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        match &self.writer {
            Some(writer) => Some(Arc::clone(writer).lock_owned().await),
            None => None,
        }
    }

    /// A stamp that changes with every commit to the database by any process, when the backend
    /// offers one cheaply (SQLite in WAL mode); `None` otherwise.
    pub fn change_stamp(&self) -> Option<ChangeStamp> {
        #[cfg(unix)]
        return self.changes.as_ref().and_then(|c| c.stamp());
        #[cfg(not(unix))]
        None
    }

    /// The same store, recording new events as `pending` for webhook delivery when `on`.
    pub fn with_outbox(mut self, on: bool) -> Self {
        self.outbox = on;
        self
    }

    /// A receiver that changes after each commit that recorded events.
    pub fn subscribe_commits(&self) -> tokio::sync::watch::Receiver<u64> {
        self.commits.subscribe()
    }

    /// Tells this process's workers that events were committed.
    fn announce_commit(&self) {
        self.commits.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Runs one write statement in a transaction of its own, in this process's turn to write
    /// ([`Store::begin_write`]); returns the rows it changed.
    async fn write_statement(
        &self,
        statement: sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments>,
    ) -> Result<u64, StoreError> {
        let (_turn, mut tx) = self.begin_write().await?;
        let done = statement.execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    /// Commits a write that recorded events, then tells this process's workers.
    async fn commit_events(
        &self,
        tx: sqlx::Transaction<'static, sqlx::Any>,
    ) -> Result<(), StoreError> {
        tx.commit().await?;
        self.announce_commit();
        Ok(())
    }

    /// Open and idle connections of this process's pool (the pool gauges).
    pub fn pool_usage(&self) -> (u32, usize) {
        (self.pool.size(), self.pool.num_idle())
    }

    /// The engine behind this store.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Checks that the database answers (readiness probe).
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes the pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        self.readers.close();
        if let Some(pipeline) = &self.pipeline {
            pipeline.close();
        }
        self.pool.close().await;
        if let Some(reserve) = &self.reserve {
            reserve.close().await;
        }
    }

    /// Reads a value from the `meta` table.
    pub async fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Stores a value in the `meta` table unless the key exists; returns whether it was stored.
    pub async fn meta_insert(&self, key: &str, value: &[u8]) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(value.to_vec())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

/// The file path of an `sqlite:` URL, or `None` for in-memory databases.
pub fn sqlite_path(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && !path.contains(":memory:")).then(|| path.to_owned())
}

/// Size of one copy of SQLite's wal-index header, the change stamp.
pub const STAMP_LEN: usize = 48;

/// A snapshot of the wal-index header: see `change_watch`.
pub type ChangeStamp = [u8; STAMP_LEN];

/// Sets up a new SQLite connection: a small page cache and the file's size cap, if any.
///
/// The cache is 512 KiB per connection. The server holds up to eleven connections, each
/// filling its own cache in its own sqlx worker thread, and the OS page cache still holds the
/// file. At 100,000 certificates the benchmark's peak RSS was 116 MB with 2 MiB per
/// connection, 96 MB with 1 MiB and 81 MB with 512 KiB, with no case slower beyond the
/// noise (BENCHMARKS.md, issue 16, session 8).
async fn prepare_sqlite(
    conn: &mut sqlx::AnyConnection,
    max_page_count: Option<u32>,
) -> Result<(), sqlx::Error> {
    sqlx::query("PRAGMA cache_size = -512")
        .execute(&mut *conn)
        .await?;
    if let Some(pages) = max_page_count {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "PRAGMA max_page_count = {pages}"
        )))
        .execute(conn)
        .await?;
    }
    Ok(())
}

/// Adds `mode=rwc` to SQLite URLs so a missing database file is created.
fn normalise_url(url: &str, backend: Backend) -> String {
    if backend == Backend::Sqlite && !url.contains("mode=") && !url.contains(":memory:") {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}mode=rwc")
    } else {
        url.to_owned()
    }
}

/// Whether `url` names a PostgreSQL database on this machine (a loopback address,
/// `localhost` or a Unix socket), which then shares the cores with this process.
pub fn postgres_on_this_machine(url: &str) -> bool {
    if !matches!(Backend::from_url(url), Ok(Backend::Postgres)) {
        return false;
    }
    url.parse::<tokio_postgres::Config>()
        .is_ok_and(|config| hosts_on_this_machine(&config))
}

/// Whether a host of `config` is on this machine (see [`postgres_on_this_machine`]).
fn hosts_on_this_machine(config: &tokio_postgres::Config) -> bool {
    use tokio_postgres::config::Host;
    config.get_hosts().iter().any(|host| match host {
        Host::Tcp(name) => {
            name == "localhost"
                || name
                    .trim_matches(['[', ']'])
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        #[cfg(unix)]
        Host::Unix(_) => true,
    })
}

/// The credential statements' pipeline to the PostgreSQL database of `url`, unless
/// tokio-postgres cannot read the URL: then they use the pool, as every other statement. The
/// logged reason names the option at fault, never a value of the URL.
fn pipeline_for(url: &str, connect_timeout: Duration) -> Option<Arc<pipeline::Pipeline>> {
    match pipeline::Pipeline::new(url, connect_timeout) {
        Ok(pipeline) => Some(Arc::new(pipeline)),
        Err(e) => {
            tracing::info!(
                reason = %e,
                "credential checks use the connection pool: tokio-postgres cannot read the \
                 database URL (a parameter only sqlx knows?)"
            );
            None
        }
    }
}

/// Takes the `max_page_count=N` parameter off an SQLite URL: a cap on the database file's size
/// in pages, applied to every connection (sqlx does not know the parameter). Operators use it to
/// bound the file; tests use it to fill a database without filling a disk.
fn take_max_page_count(url: &str) -> Result<(String, Option<u32>), StoreError> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), None));
    };
    let mut pages = None;
    let mut rest = Vec::new();
    for pair in query.split('&') {
        match pair.strip_prefix("max_page_count=") {
            Some(n) => {
                let n = n.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| {
                    StoreError::Config(format!("bad max_page_count in the database URL: {n}"))
                })?;
                pages = Some(n);
            }
            None => rest.push(pair),
        }
    }
    let url = if rest.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    Ok((url, pages))
}

/// Creates an empty database file readable by its owner only (0600), unless it exists. SQLite
/// gives the `-wal` and `-shm` files the database file's mode, so they are private too; an
/// empty file is a valid empty database. Failures are left for SQLite to report.
#[cfg(unix)]
fn create_private_file(path: &str) {
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path);
}

/// A store on a private in-memory SQLite database, for unit tests: one connection, since
/// each connection to `sqlite::memory:` opens a database of its own.
#[cfg(test)]
impl Store {
    pub(crate) async fn in_memory() -> Result<Self, StoreError> {
        let settings = PoolSettings {
            max_connections: 1,
            ..PoolSettings::default()
        };
        Self::open("sqlite::memory:", settings).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_of_sqlite_urls() {
        assert_eq!(
            sqlite_path("sqlite:///tmp/a.db?mode=rwc").as_deref(),
            Some("/tmp/a.db")
        );
        assert_eq!(
            sqlite_path("sqlite:wafcert.db").as_deref(),
            Some("wafcert.db")
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://x/y"), None);
    }

    #[test]
    fn sqlite_urls_get_create_mode() {
        assert_eq!(
            normalise_url("sqlite://x.db", Backend::Sqlite),
            "sqlite://x.db?mode=rwc"
        );
        assert_eq!(
            normalise_url("sqlite://x.db?mode=ro", Backend::Sqlite),
            "sqlite://x.db?mode=ro"
        );
        assert_eq!(
            normalise_url("postgres://h/db", Backend::Postgres),
            "postgres://h/db"
        );
    }

    #[test]
    fn backend_from_scheme() {
        assert_eq!(Backend::from_url("sqlite:a.db").unwrap(), Backend::Sqlite);
        assert_eq!(
            Backend::from_url("postgresql://x").unwrap(),
            Backend::Postgres
        );
        assert!(Backend::from_url("mysql://x").is_err());
    }

    #[test]
    fn max_page_count_is_taken_off_sqlite_urls() {
        assert_eq!(
            take_max_page_count("sqlite://x.db?max_page_count=40&mode=rwc").unwrap(),
            ("sqlite://x.db?mode=rwc".to_owned(), Some(40))
        );
        assert_eq!(
            take_max_page_count("sqlite://x.db?mode=rwc").unwrap(),
            ("sqlite://x.db?mode=rwc".to_owned(), None)
        );
        assert!(take_max_page_count("sqlite://x.db?max_page_count=0").is_err());
        assert!(take_max_page_count("sqlite://x.db?max_page_count=x").is_err());
    }

    #[test]
    fn outages_and_full_disks_are_told_apart_from_faults() {
        assert_eq!(
            postgres_unavailability("57P01"),
            Some(Unavailability::Transient)
        );
        assert_eq!(
            postgres_unavailability("08006"),
            Some(Unavailability::Transient)
        );
        assert_eq!(postgres_unavailability("53100"), Some(Unavailability::Full));
        assert_eq!(postgres_unavailability("23505"), None);
        assert_eq!(postgres_unavailability("42P01"), None);
        assert_eq!(sqlite_unavailability("13"), Some(Unavailability::Full));
        assert_eq!(sqlite_unavailability("5"), Some(Unavailability::Transient));
        assert_eq!(
            sqlite_unavailability("2570"),
            Some(Unavailability::Transient)
        ); // IOERR_FSYNC
        assert_eq!(sqlite_unavailability("2067"), None); // CONSTRAINT_UNIQUE
        assert!(matches!(
            StoreError::from(sqlx::Error::PoolTimedOut),
            StoreError::Unavailable(_)
        ));
    }
}
