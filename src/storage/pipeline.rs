//! The credential check on PostgreSQL, over one pipelined connection.
//!
//! Every request to a replica on PostgreSQL makes one round trip before it is answered: the
//! statement that reads its credential with the project's version (the read cache's tag, see
//! `api::read_cache`), so that a write or a revocation on one replica is seen by the very next
//! request on any other. sqlx sends one statement per connection at a time, so concurrent
//! requests keep several backends busy, each woken once per request. tokio-postgres writes a
//! statement as soon as it is asked for, whether or not earlier ones have been answered: the
//! concurrent checks of a replica share one connection and one backend, which reads and answers
//! them in turn, often several per wake-up. Each check is still its own statement, sent after
//! its request arrived, so it sees every write committed before that.
//!
//! Measured on two cores (BENCHMARKS.md, issue 16, session 9): 26 us of machine CPU per check
//! against 32-35 us over four sqlx connections; one backend answers about 50,000 checks a
//! second, which bounds a replica's request rate on PostgreSQL.
//!
//! When the database runs on this machine, a check polls for its answer for a while instead of
//! letting the worker thread park (`spin`).
//!
//! The connection is made on first use (with the pool's acquire timeout as its connect timeout)
//! and replaced on the first use after it closed: a check that fails because the database went
//! away is a 503 for its request, like any statement of the pool.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio_postgres::{Client, NoTls, Row, Statement};

use super::credentials::{access_key_statement, token_statement};
use super::{AccessKeyRecord, StoreError, TokenRecord, Unavailability, postgres_unavailability};
use crate::domain::{ProjectId, Role, UserId};

mod spin;

use spin::Spin;

/// The connection's `application_name`, unless the database URL names one.
pub const APPLICATION_NAME: &str = "wafcert-credentials";

/// One pipelined connection for the credential statements, connected on first use.
pub(super) struct Pipeline {
    config: tokio_postgres::Config,
    /// The connection in use, if one was made.
    current: RwLock<Option<Arc<Connected>>>,
    /// Held while a connection is made, so that concurrent first uses make one.
    connecting: tokio::sync::Mutex<()>,
    /// The clock's columns and join (see `test_controls`): empty unless the clock is shared.
    clock_sql: (&'static str, &'static str),
    /// How a check waits for its answer ([`Spin::for_database`]).
    spin: Spin,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the config: it may hold the database password.
        f.debug_struct("Pipeline")
            .field("clock_sql", &self.clock_sql)
            .field("spin", &self.spin)
            .finish_non_exhaustive()
    }
}

/// A live connection and its prepared statements.
struct Connected {
    client: Client,
    token: Statement,
    access_key: Statement,
}

impl Pipeline {
    /// A pipeline to the database of `url`, not connected yet; `Err` with the reason when
    /// tokio-postgres cannot read the URL (a parameter only sqlx knows), and the caller keeps
    /// the pool. The reason names the option at fault, never a value of the URL.
    pub(super) fn new(url: &str, connect_timeout: Duration) -> Result<Self, String> {
        // tokio-postgres says only "invalid connection string"; its source names the option.
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e: tokio_postgres::Error| format!("{:#}", anyhow::Error::new(e)))?;
        config.connect_timeout(connect_timeout);
        if config.get_application_name().is_none() {
            // So that `pg_stat_activity` tells this connection from the pool's.
            config.application_name(APPLICATION_NAME);
        }
        Ok(Self::unconnected(config, ("", "")))
    }

    /// The same pipeline (not connected), its statements reading the clock with `clock_sql`.
    pub(super) fn with_clock_sql(&self, clock_sql: (&'static str, &'static str)) -> Self {
        Self::unconnected(self.config.clone(), clock_sql)
    }

    fn unconnected(
        config: tokio_postgres::Config,
        clock_sql: (&'static str, &'static str),
    ) -> Self {
        Self {
            spin: Spin::for_database(&config),
            config,
            current: RwLock::new(None),
            connecting: tokio::sync::Mutex::new(()),
            clock_sql,
        }
    }

    /// The token with this hash (see [`super::Store::token`]).
    pub(super) async fn token(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        let c = self.connected().await?;
        let row = self.spin.wait(c.client.query_opt(&c.token, &[&hash])).await;
        row.map_err(store_error)?
            .map(|row| self.token_record(&row))
            .transpose()
    }

    /// The access key with this id (see [`super::Store::access_key`]).
    pub(super) async fn access_key(
        &self,
        key: &str,
    ) -> Result<Option<AccessKeyRecord>, StoreError> {
        let c = self.connected().await?;
        let row = self
            .spin
            .wait(c.client.query_opt(&c.access_key, &[&key]))
            .await;
        row.map_err(store_error)?
            .map(|row| self.access_key_record(&row))
            .transpose()
    }

    /// Drops the connection (the store is closing); a later use connects again.
    pub(super) fn close(&self) {
        if let Ok(mut current) = self.current.write() {
            current.take();
        }
    }

    /// The live connection, made now if there is none or it closed.
    async fn connected(&self) -> Result<Arc<Connected>, StoreError> {
        if let Some(c) = self.live() {
            return Ok(c);
        }
        let _turn = self.connecting.lock().await;
        if let Some(c) = self.live() {
            return Ok(c);
        }
        let (client, connection) = self.config.connect(NoTls).await.map_err(store_error)?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "credential connection closed");
            }
        });
        let token = client.prepare(&token_statement(self.clock_sql)).await;
        let access_key = client.prepare(&access_key_statement(self.clock_sql)).await;
        let c = Arc::new(Connected {
            token: token.map_err(store_error)?,
            access_key: access_key.map_err(store_error)?,
            client,
        });
        if let Ok(mut current) = self.current.write() {
            *current = Some(c.clone());
        }
        Ok(c)
    }

    fn live(&self) -> Option<Arc<Connected>> {
        let current = self.current.read().ok()?;
        current.as_ref().filter(|c| !c.client.is_closed()).cloned()
    }

    fn token_record(&self, row: &Row) -> Result<TokenRecord, StoreError> {
        let (clock_offset_ms, clock_frozen_at_ms) = self.clock_columns(row)?;
        Ok(TokenRecord {
            project: parsed(row, "project_id", ProjectId::parse)?,
            role: parsed(row, "role", Role::parse)?,
            user_id: column::<Option<&str>>(row, "user_id")?
                .map(|text| UserId::parse(text).ok_or_else(|| malformed("user_id")))
                .transpose()?,
            created_at: column(row, "created_at_ms")?,
            expires_at: column(row, "expires_at_ms")?,
            revoked: column(row, "revoked")?,
            project_version: column(row, "project_version")?,
            clock_offset_ms,
            clock_frozen_at_ms,
        })
    }

    fn access_key_record(&self, row: &Row) -> Result<AccessKeyRecord, StoreError> {
        let (clock_offset_ms, clock_frozen_at_ms) = self.clock_columns(row)?;
        Ok(AccessKeyRecord {
            project: parsed(row, "project_id", ProjectId::parse)?,
            role: parsed(row, "role", Role::parse)?,
            sealed_secret: column(row, "sealed_secret")?,
            project_version: column(row, "project_version")?,
            clock_offset_ms,
            clock_frozen_at_ms,
        })
    }

    /// The shared clock's columns, when the statements read them.
    fn clock_columns(&self, row: &Row) -> Result<(Option<i64>, Option<i64>), StoreError> {
        if self.clock_sql.0.is_empty() {
            return Ok((None, None));
        }
        Ok((
            column(row, "clock_offset_ms")?,
            column(row, "clock_frozen_at_ms")?,
        ))
    }
}

/// A column as `T`; a column missing or of another type is a schema error, as in `stored`.
fn column<'a, T: tokio_postgres::types::FromSql<'a>>(
    row: &'a Row,
    name: &str,
) -> Result<T, StoreError> {
    row.try_get(name)
        .map_err(|e| StoreError::Schema(format!("stored {name}: {e}")))
}

/// A text column holding a domain value.
fn parsed<T>(row: &Row, name: &str, parse: fn(&str) -> Option<T>) -> Result<T, StoreError> {
    parse(column(row, name)?).ok_or_else(|| malformed(name))
}

fn malformed(name: &str) -> StoreError {
    StoreError::Schema(format!("stored {name} is malformed"))
}

/// A tokio-postgres failure as the store's: SQLSTATEs as for the pool's statements; any other
/// failure (closed, refused, timed out, broken connection) is the database being unavailable.
fn store_error(e: tokio_postgres::Error) -> StoreError {
    let class = match e.code() {
        Some(state) => postgres_unavailability(state.code()),
        None if e.as_db_error().is_some() => None,
        None => Some(Unavailability::Transient),
    };
    match class {
        Some(Unavailability::Full) => StoreError::Full(e.into()),
        Some(Unavailability::Transient) => StoreError::Unavailable(e.into()),
        None => StoreError::Backend(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_it_cannot_read_is_refused_without_its_values() {
        let url = "postgres://wafcert:pa55word@db.example/w?statement-cache-capacity=pa55word";
        let said = Pipeline::new(url, Duration::from_secs(1)).unwrap_err();
        assert!(said.contains("statement-cache-capacity"), "{said}");
        assert!(!said.contains("pa55word"), "{said}");
        let read = Pipeline::new(
            "postgres://wafcert:pa55word@db.example/w",
            Duration::from_secs(1),
        );
        assert!(!format!("{:?}", read.unwrap()).contains("pa55word"));
    }
}
