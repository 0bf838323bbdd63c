//! Binding hosts to certificates: the lock order every binding write follows, the facts a bind
//! checks, and the foreign key that backs it all.
//!
//! A host points at no or one certificate through a foreign key, so the database itself keeps
//! every binding pointing at an existing certificate: a certificate delete that races with a bind
//! either commits first (the bind then finds no certificate) or fails its foreign-key check.
//!
//! Lock order: every write that binds a certificate first locks the certificate's row with a
//! no-op `UPDATE ... RETURNING` ([`lock_certificate`]: a row lock on PostgreSQL, the write lock
//! on SQLite) and reads its name and expiry under that lock, then writes the hosts, in one
//! transaction. Renaming or replacing a certificate takes the same lock first, so it is ordered
//! wholly before or after a bind and the caller's checks hold at commit. Locks are always taken
//! certificate first, then host. A new write path touching both states its order here.

use serde_json::json;
use sqlx::{AnyConnection, AssertSqlSafe};

use super::events::{Origin, certificate_data, record};
use super::sql::SqlArgs;
use super::{Resource, Store, StoreError};
use crate::domain::{CertificateFacts, CertificateId, EventType, HostId, ProjectId};

/// Why a checked write did not happen.
#[derive(Debug)]
pub enum WriteError<E> {
    /// The caller's check refused it; nothing was written.
    Refused(E),
    /// Storage failed or a row was missing.
    Store(StoreError),
}

impl<E> From<StoreError> for WriteError<E> {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

impl<E> From<sqlx::Error> for WriteError<E> {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(e.into())
    }
}

/// Locks a certificate's row until the transaction ends and reads what binding checks need;
/// `None` when the project has no such certificate. The no-op update takes the row lock on
/// PostgreSQL and the database write lock on SQLite, and works the same on both.
pub(super) async fn lock_certificate(
    conn: &mut AnyConnection,
    project: &ProjectId,
    id: &CertificateId,
) -> Result<Option<CertificateFacts>, StoreError> {
    Ok(sqlx::query_as(
        "UPDATE certificates SET name = name WHERE id = $1 AND project_id = $2 \
         RETURNING id, name, expire_time_ms",
    )
    .bind(id.as_str())
    .bind(project.as_str())
    .fetch_optional(conn)
    .await?)
}

/// Locks the certificate a write binds; a missing one is not found.
pub(super) async fn certificate_to_bind(
    conn: &mut AnyConnection,
    project: &ProjectId,
    id: &CertificateId,
) -> Result<CertificateFacts, StoreError> {
    lock_certificate(conn, project, id)
        .await?
        .ok_or(StoreError::NotFound(Resource::Certificate))
}

/// A foreign-key failure on a host write means the certificate vanished meanwhile.
pub(super) fn fk_to_not_found(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Database(ref db) if db.is_foreign_key_violation() => {
            StoreError::NotFound(Resource::Certificate)
        }
        other => other.into(),
    }
}

/// The hostnames of the project's hosts bound to a certificate, sorted.
pub(super) async fn hostnames_using(
    conn: &mut AnyConnection,
    project: &ProjectId,
    id: &CertificateId,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT hostname FROM hosts WHERE certificate_id = $1 AND project_id = $2 ORDER BY hostname",
    )
    .bind(id.as_str())
    .bind(project.as_str())
    .fetch_all(conn)
    .await
}

/// A host as binding events name it.
#[derive(Debug, Clone, Copy)]
pub(super) struct HostRef<'a> {
    /// The host's id.
    pub(super) id: &'a str,
    /// Its domain name.
    pub(super) hostname: &'a str,
}

/// Records that `host` started (`bound`) or stopped (`unbound`) using a certificate, given as
/// `(id, name)`.
pub(super) async fn binding_event(
    conn: &mut AnyConnection,
    outbox: bool,
    origin: Origin<'_>,
    project: &str,
    kind: EventType,
    certificate: (&str, &str),
    host: HostRef<'_>,
) -> Result<(), sqlx::Error> {
    let data = certificate_data(
        certificate.0,
        certificate.1,
        json!({"host_id": host.id, "hostname": host.hostname}),
    );
    record(conn, outbox, origin, project, kind, certificate.0, &data).await
}

impl Store {
    /// Points every listed host of the project at `certificate`, all or nothing, after `check`
    /// has seen the certificate under lock, recording a `bound` event per host that changes
    /// (and `unbound` for the certificate it used before). An unknown host or certificate
    /// changes nothing and is not found.
    #[tracing::instrument(skip_all, fields(project = %project, certificate = %certificate))]
    pub async fn bind_hosts<E>(
        &self,
        project: &ProjectId,
        certificate: &CertificateId,
        hosts: &[HostId],
        origin: Origin<'_>,
        check: impl FnOnce(&CertificateFacts) -> Result<(), E>,
    ) -> Result<(), WriteError<E>> {
        let mut hosts: Vec<&HostId> = hosts.iter().collect();
        hosts.sort();
        hosts.dedup();
        let (_turn, mut tx) = self.begin_write().await?;
        let facts = certificate_to_bind(&mut tx, project, certificate).await?;
        check(&facts).map_err(WriteError::Refused)?;
        if !hosts.is_empty() {
            // What each host used before, for the bound/unbound events (read under the
            // certificate's lock; the update below locks the hosts).
            let mut args = SqlArgs::new();
            let sql = format!(
                "SELECT h.id, h.hostname, h.certificate_id, c.name FROM hosts h \
                 LEFT JOIN certificates c ON c.id = h.certificate_id \
                 WHERE h.project_id = {} AND h.id IN ({})",
                args.push(project.as_str()),
                args.list(hosts.iter().map(|h| h.as_str()))
            );
            let before: Vec<(String, String, Option<String>, Option<String>)> =
                sqlx::query_as_with(AssertSqlSafe(sql), args.arguments()?)
                    .fetch_all(&mut *tx)
                    .await?;
            let mut args = SqlArgs::new();
            let sql = format!(
                "UPDATE hosts SET certificate_id = {} WHERE project_id = {} AND id IN ({})",
                args.push(certificate.as_str()),
                args.push(project.as_str()),
                args.list(hosts.iter().map(|h| h.as_str()))
            );
            let done = sqlx::query_with(AssertSqlSafe(sql), args.arguments()?)
                .execute(&mut *tx)
                .await
                .map_err(fk_to_not_found)?;
            if usize::try_from(done.rows_affected()).ok() != Some(hosts.len()) {
                return Err(StoreError::NotFound(Resource::Host).into());
            }
            for (host_id, hostname, old, old_name) in &before {
                if old.as_deref() == Some(certificate.as_str()) {
                    continue;
                }
                let host = HostRef {
                    id: host_id,
                    hostname,
                };
                if let Some(old) = old {
                    let name = old_name.as_deref().unwrap_or_default();
                    binding_event(
                        &mut tx,
                        self.outbox,
                        origin,
                        project.as_str(),
                        EventType::CertificateUnbound,
                        (old, name),
                        host,
                    )
                    .await?;
                }
                binding_event(
                    &mut tx,
                    self.outbox,
                    origin,
                    project.as_str(),
                    EventType::CertificateBound,
                    (facts.id.as_str(), facts.name.as_str()),
                    host,
                )
                .await?;
            }
        }
        tx.commit().await?;
        self.announce_commit();
        Ok(())
    }
}
