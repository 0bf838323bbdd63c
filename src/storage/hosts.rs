//! Protected domains (dedicated-mode hosts) and their binding to certificates.
//!
//! A host points at no or one certificate through a foreign key, so the database itself keeps
//! every binding pointing at an existing certificate: a certificate delete that races with a bind
//! either commits first (the bind then finds no certificate) or fails its foreign-key check.
//!
//! Every write that binds a certificate first locks the certificate's row with a no-op
//! `UPDATE ... RETURNING` (a row lock on PostgreSQL, the write lock on SQLite) and reads its name
//! and expiry under that lock, then writes the hosts, in one transaction. Renaming or replacing
//! a certificate takes the same lock first, so it is ordered wholly before or after a bind and
//! the caller's checks hold at commit. Locks are always taken certificate first, then host.

use serde_json::json;
use sqlx::{AnyConnection, AssertSqlSafe};

use super::certificates::{Page, lock_certificate};
use super::events::{Origin, certificate_data, host_data, record};
use super::policies::{NewPolicy, delete_if_unused, insert_policy, lock_policy};
use super::{Store, StoreError, host_settings, like_contains, placeholder};
use crate::domain::{
    CertificateId, EventType, HostId, HostSettings, Hostname, Millis, PolicyId, ProjectId,
};

/// The policy a new host uses.
#[derive(Debug, Clone, Copy)]
pub enum HostPolicy<'a> {
    /// An existing policy of the project (locked before the insert; missing is
    /// [`StoreError::PolicyNotFound`]).
    Existing(&'a PolicyId),
    /// A policy created with the host, in the same transaction (what the cloud does for a host
    /// created without `policyid`).
    Create(&'a NewPolicy),
}

/// A host to insert.
#[derive(Debug)]
pub struct NewHost<'a> {
    /// Fresh id.
    pub id: &'a HostId,
    /// Owning project.
    pub project: &'a ProjectId,
    /// Validated hostname.
    pub hostname: &'a Hostname,
    /// Certificate to bind; locked and handed to the caller's check before the insert.
    pub certificate_id: Option<&'a CertificateId>,
    /// Servers, TLS and the other settings.
    pub settings: &'a HostSettings,
    /// The protection policy.
    pub policy: HostPolicy<'a>,
    /// Creation time.
    pub created_at: Millis,
}

/// A certificate as read under its lock, for the caller's binding checks.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CertificateFacts {
    /// Id.
    pub id: String,
    /// Current name.
    pub name: String,
    /// Leaf notAfter, epoch ms.
    #[sqlx(rename = "expire_time_ms")]
    pub expire_time: i64,
}

/// A host as read under its lock, for the caller to compute an update from.
#[derive(Debug, Clone)]
pub struct HostState {
    /// Hostname.
    pub hostname: String,
    /// Bound certificate id.
    pub certificate_id: Option<String>,
    /// Current settings.
    pub settings: HostSettings,
}

/// What an update writes.
#[derive(Debug, Clone)]
pub struct HostChange {
    /// The id of the certificate bound afterwards: the current one, or one locked for this
    /// update (binding any other would bypass the checks).
    pub certificate_id: Option<String>,
    /// The settings afterwards.
    pub settings: HostSettings,
}

/// A stored host with the name of its certificate (joined, so a rename shows at once).
#[derive(Debug, Clone)]
pub struct HostRecord {
    /// Host id.
    pub id: String,
    /// Hostname.
    pub hostname: String,
    /// Bound certificate id.
    pub certificate_id: Option<String>,
    /// Bound certificate name.
    pub certificate_name: Option<String>,
    /// The policy the host uses (`None` for hosts created before policies existed).
    pub policy_id: Option<String>,
    /// Settings.
    pub settings: HostSettings,
    /// Creation time, epoch ms.
    pub created_at: i64,
}

/// A deleted host.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeletedHost {
    /// Host id.
    pub id: String,
    /// Hostname.
    pub hostname: String,
}

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

/// Which hosts to list.
#[derive(Debug, Clone, Default)]
pub struct HostListFilter {
    /// Case-insensitive hostname substring.
    pub hostname_contains: Option<String>,
    /// Only hosts in this protection status (-1, 0 or 1).
    pub protect_status: Option<i64>,
    /// Case-insensitive substring of the name of the host's policy.
    pub policy_name_contains: Option<String>,
    /// Page size; `None` means all.
    pub limit: Option<i64>,
    /// Rows to skip.
    pub offset: i64,
}

#[derive(sqlx::FromRow)]
struct HostRow {
    id: String,
    hostname: String,
    certificate_id: Option<String>,
    certificate_name: Option<String>,
    policy_id: Option<String>,
    settings: String,
    created_at_ms: i64,
}

impl TryFrom<HostRow> for HostRecord {
    type Error = StoreError;

    fn try_from(row: HostRow) -> Result<Self, StoreError> {
        Ok(Self {
            settings: host_settings::decode(&row.settings)?,
            id: row.id,
            hostname: row.hostname,
            certificate_id: row.certificate_id,
            certificate_name: row.certificate_name,
            policy_id: row.policy_id,
            created_at: row.created_at_ms,
        })
    }
}

#[derive(sqlx::FromRow)]
struct StateRow {
    hostname: String,
    certificate_id: Option<String>,
    settings: String,
}

const HOST_SELECT: &str = "SELECT h.id, h.hostname, h.certificate_id, c.name AS certificate_name, \
     h.policy_id, h.settings, h.created_at_ms \
     FROM hosts h LEFT JOIN certificates c ON c.id = h.certificate_id";

/// A bind parameter of a dynamically built list query.
enum Arg {
    Text(String),
    Int(i64),
}

impl Store {
    /// Inserts a host. With a certificate, `check` sees it under lock first and may refuse. A
    /// taken hostname is [`StoreError::NameTaken`]; a missing certificate
    /// [`StoreError::CertificateNotFound`].
    #[tracing::instrument(skip_all, fields(project = %new.project))]
    pub async fn insert_host<E>(
        &self,
        new: &NewHost<'_>,
        actor: &str,
        check: impl FnOnce(&CertificateFacts) -> Result<(), E>,
    ) -> Result<(), WriteError<E>> {
        let settings = host_settings::encode(new.settings)?;
        let (_turn, mut tx) = self.begin_write().await?;
        let mut bound = None;
        if let Some(certificate) = new.certificate_id {
            let facts = certificate_to_bind(&mut tx, new.project, certificate).await?;
            check(&facts).map_err(WriteError::Refused)?;
            bound = Some(facts);
        }
        let policy_id = match new.policy {
            HostPolicy::Existing(id) => {
                lock_policy(&mut tx, new.project, id).await?;
                id.as_str()
            }
            HostPolicy::Create(policy) => {
                insert_policy(&mut tx, new.project, policy, new.created_at).await?;
                policy.id.as_str()
            }
        };
        sqlx::query(
            "INSERT INTO hosts (id, project_id, hostname, certificate_id, settings, created_at_ms, \
             policy_id, protect_status) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(new.id.as_str())
        .bind(new.project.as_str())
        .bind(new.hostname.as_str())
        .bind(new.certificate_id.map(CertificateId::as_str))
        .bind(settings)
        .bind(new.created_at)
        .bind(policy_id)
        .bind(i64::from(new.settings.protect_status.code()))
        .execute(&mut *tx)
        .await
        .map_err(fk_to_not_found)?;
        let origin = Origin {
            actor,
            time: new.created_at,
        };
        let host = HostRef {
            id: new.id.as_str(),
            hostname: new.hostname.as_str(),
        };
        let certificate_id = new.certificate_id.map(CertificateId::as_str);
        let data = host_data(
            host.id,
            host.hostname,
            json!({"certificate_id": certificate_id}),
        );
        let project = new.project.as_str();
        record(
            &mut tx,
            self.outbox,
            origin,
            project,
            EventType::HostCreated,
            host.id,
            &data,
        )
        .await?;
        if let Some(facts) = bound {
            binding_event(
                &mut tx,
                self.outbox,
                origin,
                project,
                EventType::CertificateBound,
                (&facts.id, &facts.name),
                host,
            )
            .await?;
        }
        tx.commit().await?;
        self.announce_commit();
        Ok(())
    }

    /// One host of the project.
    pub async fn host(&self, project: &ProjectId, id: &HostId) -> Result<HostRecord, StoreError> {
        let sql = format!("{HOST_SELECT} WHERE h.id = $1 AND h.project_id = $2");
        let row: HostRow = sqlx::query_as(AssertSqlSafe(sql))
            .bind(id.as_str())
            .bind(project.as_str())
            .fetch_one(&self.pool)
            .await?;
        row.try_into()
    }

    /// A page of the project's hosts, newest first (then id descending), and the number of all
    /// matches: two statements whatever the page size.
    #[tracing::instrument(skip_all, fields(project = %project))]
    pub async fn list_hosts(
        &self,
        project: &ProjectId,
        filter: &HostListFilter,
    ) -> Result<Page<HostRecord>, StoreError> {
        // Hostnames are stored lowercase, so a lowercase pattern matches case-insensitively on
        // both engines.
        let mut args = vec![Arg::Text(project.as_str().to_owned())];
        let mut predicate = "h.project_id = $1".to_owned();
        let mut join = "";
        if let Some(t) = &filter.hostname_contains {
            args.push(Arg::Text(like_contains(&t.to_ascii_lowercase())));
            predicate.push_str(&format!(
                " AND h.hostname LIKE {} ESCAPE '\\'",
                placeholder(args.len())
            ));
        }
        if let Some(status) = filter.protect_status {
            args.push(Arg::Int(status));
            predicate.push_str(&format!(
                " AND h.protect_status = {}",
                placeholder(args.len())
            ));
        }
        if let Some(t) = &filter.policy_name_contains {
            join = " JOIN policies p ON p.id = h.policy_id";
            args.push(Arg::Text(like_contains(&t.to_lowercase())));
            predicate.push_str(&format!(
                " AND LOWER(p.name) LIKE {} ESCAPE '\\'",
                placeholder(args.len())
            ));
        }
        let count_sql = format!("SELECT COUNT(*) FROM hosts h{join} WHERE {predicate}");
        let mut count = sqlx::query_scalar(AssertSqlSafe(count_sql));
        for a in &args {
            count = match a {
                Arg::Text(t) => count.bind(t.clone()),
                Arg::Int(i) => count.bind(*i),
            };
        }
        let total: i64 = count.fetch_one(&self.pool).await?;
        if total <= filter.offset {
            return Ok(Page {
                total,
                items: Vec::new(),
            });
        }
        let n = args.len() + 1;
        let sql = format!(
            "{HOST_SELECT}{join} WHERE {predicate} ORDER BY h.created_at_ms DESC, h.id DESC \
             LIMIT {} OFFSET {}",
            placeholder(n),
            placeholder(n + 1)
        );
        let mut q = sqlx::query_as(AssertSqlSafe(sql));
        for a in args {
            q = match a {
                Arg::Text(t) => q.bind(t),
                Arg::Int(i) => q.bind(i),
            };
        }
        let rows: Vec<HostRow> = q
            .bind(filter.limit.unwrap_or(i64::MAX))
            .bind(filter.offset)
            .fetch_all(&self.pool)
            .await?;
        let items = rows
            .into_iter()
            .map(HostRecord::try_from)
            .collect::<Result<_, _>>()?;
        Ok(Page { total, items })
    }

    /// Updates a host in one transaction: locks `certificate` (when the update names one), then
    /// the host, hands both to `decide`, and writes what it returns. A missing host is
    /// [`StoreError::NotFound`], a missing certificate [`StoreError::CertificateNotFound`].
    #[tracing::instrument(skip_all, fields(project = %project, host = %id))]
    pub async fn update_host<E>(
        &self,
        project: &ProjectId,
        id: &HostId,
        certificate: Option<&CertificateId>,
        origin: Origin<'_>,
        decide: impl FnOnce(&HostState, Option<&CertificateFacts>) -> Result<HostChange, E>,
    ) -> Result<(), WriteError<E>> {
        let (_turn, mut tx) = self.begin_write().await?;
        let facts = match certificate {
            Some(c) => Some(certificate_to_bind(&mut tx, project, c).await?),
            None => None,
        };
        let row: Option<StateRow> = sqlx::query_as(
            "UPDATE hosts SET hostname = hostname WHERE id = $1 AND project_id = $2 \
             RETURNING hostname, certificate_id, settings",
        )
        .bind(id.as_str())
        .bind(project.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let row = row.ok_or(StoreError::NotFound)?;
        let state = HostState {
            settings: host_settings::decode(&row.settings)?,
            hostname: row.hostname,
            certificate_id: row.certificate_id,
        };
        let change = decide(&state, facts.as_ref()).map_err(WriteError::Refused)?;
        let checked = change.certificate_id.is_none()
            || change.certificate_id == state.certificate_id
            || change.certificate_id.as_deref() == facts.as_ref().map(|f| f.id.as_str());
        if !checked {
            // Only a certificate read under lock may be newly bound.
            return Err(StoreError::CertificateNotFound.into());
        }
        let settings = host_settings::encode(&change.settings)?;
        sqlx::query(
            "UPDATE hosts SET certificate_id = $3, settings = $4, protect_status = $5 \
             WHERE id = $1 AND project_id = $2",
        )
        .bind(id.as_str())
        .bind(project.as_str())
        .bind(change.certificate_id.as_deref())
        .bind(settings)
        .bind(i64::from(change.settings.protect_status.code()))
        .execute(&mut *tx)
        .await
        .map_err(fk_to_not_found)?;
        let host = HostRef {
            id: id.as_str(),
            hostname: &state.hostname,
        };
        let project_id = project.as_str();
        let data = host_data(
            host.id,
            host.hostname,
            json!({"certificate_id": change.certificate_id}),
        );
        record(
            &mut tx,
            self.outbox,
            origin,
            project_id,
            EventType::HostUpdated,
            host.id,
            &data,
        )
        .await?;
        if change.certificate_id != state.certificate_id {
            if let Some(old) = &state.certificate_id {
                let name = certificate_name(&mut tx, old).await?;
                binding_event(
                    &mut tx,
                    self.outbox,
                    origin,
                    project_id,
                    EventType::CertificateUnbound,
                    (old, &name),
                    host,
                )
                .await?;
            }
            if let Some(facts) = &facts {
                binding_event(
                    &mut tx,
                    self.outbox,
                    origin,
                    project_id,
                    EventType::CertificateBound,
                    (&facts.id, &facts.name),
                    host,
                )
                .await?;
            }
        }
        tx.commit().await?;
        self.announce_commit();
        Ok(())
    }

    /// Deletes a host, freeing its certificate; without `keep_policy` its policy goes too,
    /// unless another host uses it.
    #[tracing::instrument(skip_all, fields(project = %project, host = %id))]
    pub async fn delete_host(
        &self,
        project: &ProjectId,
        id: &HostId,
        keep_policy: bool,
        origin: Origin<'_>,
    ) -> Result<DeletedHost, StoreError> {
        let (_turn, mut tx) = self.begin_delete().await?;
        // Policy before host (the lock order): lock the policy the host uses now; should a
        // concurrent move have changed it by the time the host row is deleted, that other
        // policy is kept.
        let locked = if keep_policy {
            None
        } else {
            let current: Option<Option<String>> =
                sqlx::query_scalar("SELECT policy_id FROM hosts WHERE id = $1 AND project_id = $2")
                    .bind(id.as_str())
                    .bind(project.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
            match current.flatten().as_deref().and_then(PolicyId::parse) {
                Some(policy) => match lock_policy(&mut tx, project, &policy).await {
                    Ok(()) => Some(policy),
                    Err(StoreError::PolicyNotFound) => None,
                    Err(e) => return Err(e),
                },
                None => None,
            }
        };
        let row: Option<(String, String, Option<String>, Option<String>)> = sqlx::query_as(
            "DELETE FROM hosts WHERE id = $1 AND project_id = $2 \
             RETURNING id, hostname, policy_id, certificate_id",
        )
        .bind(id.as_str())
        .bind(project.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let (id, hostname, policy, certificate_id) = row.ok_or(StoreError::NotFound)?;
        if let Some(locked) = locked
            && policy.as_deref() == Some(locked.as_str())
        {
            delete_if_unused(&mut tx, project, locked.as_str()).await?;
        }
        let host = HostRef {
            id: &id,
            hostname: &hostname,
        };
        let project_id = project.as_str();
        let data = host_data(&id, &hostname, json!({"certificate_id": certificate_id}));
        record(
            &mut tx,
            self.outbox,
            origin,
            project_id,
            EventType::HostDeleted,
            &id,
            &data,
        )
        .await?;
        if let Some(old) = &certificate_id {
            let name = certificate_name(&mut tx, old).await?;
            binding_event(
                &mut tx,
                self.outbox,
                origin,
                project_id,
                EventType::CertificateUnbound,
                (old, &name),
                host,
            )
            .await?;
        }
        tx.commit().await?;
        self.announce_commit();
        Ok(DeletedHost { id, hostname })
    }

    /// Points every listed host of the project at `certificate`, all or nothing, after `check`
    /// has seen the certificate under lock. An unknown host changes nothing and is
    /// [`StoreError::NotFound`]; a missing certificate [`StoreError::CertificateNotFound`].
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
            let list = (0..hosts.len())
                .map(|i| placeholder(i + 3))
                .collect::<Vec<_>>()
                .join(", ");
            // What each host used before, for the bound/unbound events (read under the
            // certificate's lock; the update below locks the hosts).
            let read_list = (0..hosts.len())
                .map(|i| placeholder(i + 2))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "SELECT h.id, h.hostname, h.certificate_id, c.name FROM hosts h \
                 LEFT JOIN certificates c ON c.id = h.certificate_id \
                 WHERE h.project_id = $1 AND h.id IN ({read_list})"
            );
            let mut q = sqlx::query_as(AssertSqlSafe(sql)).bind(project.as_str());
            for h in &hosts {
                q = q.bind(h.as_str());
            }
            let before: Vec<(String, String, Option<String>, Option<String>)> =
                q.fetch_all(&mut *tx).await?;
            let sql = format!(
                "UPDATE hosts SET certificate_id = $1 WHERE project_id = $2 AND id IN ({list})"
            );
            let mut q = sqlx::query(AssertSqlSafe(sql))
                .bind(certificate.as_str())
                .bind(project.as_str());
            for h in &hosts {
                q = q.bind(h.as_str());
            }
            let done = q.execute(&mut *tx).await.map_err(fk_to_not_found)?;
            if usize::try_from(done.rows_affected()).ok() != Some(hosts.len()) {
                return Err(StoreError::NotFound.into());
            }
            let project_id = project.as_str();
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
                        project_id,
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
                    project_id,
                    EventType::CertificateBound,
                    (&facts.id, &facts.name),
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

/// A host as binding events name it.
#[derive(Debug, Clone, Copy)]
struct HostRef<'a> {
    id: &'a str,
    hostname: &'a str,
}

/// Records that `host` started (`bound`) or stopped (`unbound`) using a certificate, given as
/// `(id, name)`.
async fn binding_event(
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

/// The name of a certificate (empty if it vanished meanwhile, which its foreign key forbids).
async fn certificate_name(conn: &mut AnyConnection, id: &str) -> Result<String, sqlx::Error> {
    let name: Option<String> = sqlx::query_scalar("SELECT name FROM certificates WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    Ok(name.unwrap_or_default())
}

/// Locks the certificate a write binds; missing is [`StoreError::CertificateNotFound`].
async fn certificate_to_bind(
    conn: &mut sqlx::AnyConnection,
    project: &ProjectId,
    id: &CertificateId,
) -> Result<CertificateFacts, StoreError> {
    lock_certificate(conn, project, id)
        .await?
        .ok_or(StoreError::CertificateNotFound)
}

/// A foreign-key failure on a host write means the certificate vanished meanwhile.
fn fk_to_not_found(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Database(ref db) if db.is_foreign_key_violation() => {
            StoreError::CertificateNotFound
        }
        other => other.into(),
    }
}
