//! Protected domains (dedicated-mode hosts): insert, page through, update and delete them.
//! Writes that bind a certificate follow the lock order of [`super::binding`].

use serde_json::json;
use sqlx::{AnyConnection, AssertSqlSafe};

use super::binding::{HostRef, WriteError, binding_event, certificate_to_bind, fk_to_not_found};
use super::events::{Origin, host_data, record};
use super::policies::{NewPolicy, delete_if_unused, insert_policy, lock_policy};
use super::sql::{Page, PageWindow, SqlArgs, like_contains, one_in_project};
use super::{Resource, Store, StoreError, host_settings};
use crate::domain::{
    CertificateFacts, CertificateId, EventType, HostChange, HostId, HostSettings, HostState,
    Hostname, Millis, PolicyId, ProjectId,
};

/// The policy a new host uses.
#[derive(Debug, Clone, Copy)]
pub enum HostPolicy<'a> {
    /// An existing policy of the project (locked before the insert; missing is a not-found
    /// policy).
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

/// A stored host with the name of its certificate (joined, so a rename shows at once).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HostRecord {
    /// Host id.
    pub id: HostId,
    /// Hostname.
    pub hostname: String,
    /// Bound certificate.
    pub certificate_id: Option<CertificateId>,
    /// Bound certificate name.
    pub certificate_name: Option<String>,
    /// The policy the host uses (`None` for hosts created before policies existed).
    pub policy_id: Option<PolicyId>,
    /// Settings.
    pub settings: HostSettings,
    /// Creation time, epoch ms.
    #[sqlx(rename = "created_at_ms")]
    pub created_at: Millis,
}

/// A deleted host.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeletedHost {
    /// Host id.
    pub id: HostId,
    /// Hostname.
    pub hostname: String,
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
    /// The page.
    pub window: PageWindow,
}

const HOST_SELECT: &str = "SELECT h.id, h.hostname, h.certificate_id, c.name AS certificate_name, \
     h.policy_id, h.settings, h.created_at_ms \
     FROM hosts h LEFT JOIN certificates c ON c.id = h.certificate_id";

impl Store {
    /// Inserts a host. With a certificate, `check` sees it under lock first and may refuse. A
    /// taken hostname is [`StoreError::NameTaken`]; a missing certificate is not found.
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
                (facts.id.as_str(), &facts.name),
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
        one_in_project(&self.pool, sql, id.as_str(), project, Resource::Host).await
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
        let mut args = SqlArgs::new();
        let mut predicate = format!("h.project_id = {}", args.push(project.as_str()));
        let mut join = "";
        if let Some(text) = &filter.hostname_contains {
            let pattern = args.push(like_contains(&text.to_ascii_lowercase()));
            predicate.push_str(&format!(" AND h.hostname LIKE {pattern} ESCAPE '\\'"));
        }
        if let Some(status) = filter.protect_status {
            let status = args.push(status);
            predicate.push_str(&format!(" AND h.protect_status = {status}"));
        }
        if let Some(text) = &filter.policy_name_contains {
            join = " JOIN policies p ON p.id = h.policy_id";
            let pattern = args.push(like_contains(&text.to_lowercase()));
            predicate.push_str(&format!(" AND LOWER(p.name) LIKE {pattern} ESCAPE '\\'"));
        }
        let count_sql = format!("SELECT COUNT(*) FROM hosts h{join} WHERE {predicate}");
        let total: i64 = sqlx::query_scalar_with(AssertSqlSafe(count_sql), args.arguments()?)
            .fetch_one(&self.pool)
            .await?;
        let PageWindow { limit, offset } = filter.window;
        if total <= offset {
            return Ok(Page::empty(total));
        }
        let limit = args.push(limit.unwrap_or(i64::MAX));
        let offset = args.push(offset);
        let sql = format!(
            "{HOST_SELECT}{join} WHERE {predicate} ORDER BY h.created_at_ms DESC, h.id DESC \
             LIMIT {limit} OFFSET {offset}"
        );
        let items = sqlx::query_as_with(AssertSqlSafe(sql), args.arguments()?)
            .fetch_all(&self.pool)
            .await?;
        Ok(Page { total, items })
    }

    /// Updates a host in one transaction: locks `certificate` (when the update names one), then
    /// the host, hands both to `decide`, and writes what it returns. A missing host or
    /// certificate is not found.
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
        let state: Option<HostState> = sqlx::query_as(
            "UPDATE hosts SET hostname = hostname WHERE id = $1 AND project_id = $2 \
             RETURNING hostname, certificate_id, settings",
        )
        .bind(id.as_str())
        .bind(project.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let state = state.ok_or(StoreError::NotFound(Resource::Host))?;
        let change = decide(&state, facts.as_ref()).map_err(WriteError::Refused)?;
        let checked = change.certificate_id.is_none()
            || change.certificate_id == state.certificate_id
            || change.certificate_id.as_ref() == facts.as_ref().map(|f| &f.id);
        if !checked {
            // Only a certificate read under lock may be newly bound.
            return Err(StoreError::NotFound(Resource::Certificate).into());
        }
        let settings = host_settings::encode(&change.settings)?;
        sqlx::query(
            "UPDATE hosts SET certificate_id = $3, settings = $4, protect_status = $5 \
             WHERE id = $1 AND project_id = $2",
        )
        .bind(id.as_str())
        .bind(project.as_str())
        .bind(change.certificate_id.as_ref().map(CertificateId::as_str))
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
            json!({"certificate_id": change.certificate_id.as_ref().map(CertificateId::as_str)}),
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
                let name = certificate_name(&mut tx, old.as_str()).await?;
                binding_event(
                    &mut tx,
                    self.outbox,
                    origin,
                    project_id,
                    EventType::CertificateUnbound,
                    (old.as_str(), &name),
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
                    (facts.id.as_str(), &facts.name),
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
            let current: Option<Option<PolicyId>> =
                sqlx::query_scalar("SELECT policy_id FROM hosts WHERE id = $1 AND project_id = $2")
                    .bind(id.as_str())
                    .bind(project.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
            match current.flatten() {
                Some(policy) => match lock_policy(&mut tx, project, &policy).await {
                    Ok(()) => Some(policy),
                    Err(StoreError::NotFound(Resource::Policy)) => None,
                    Err(e) => return Err(e),
                },
                None => None,
            }
        };
        let row: Option<(HostId, String, Option<PolicyId>, Option<String>)> = sqlx::query_as(
            "DELETE FROM hosts WHERE id = $1 AND project_id = $2 \
             RETURNING id, hostname, policy_id, certificate_id",
        )
        .bind(id.as_str())
        .bind(project.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let (id, hostname, policy, certificate_id) =
            row.ok_or(StoreError::NotFound(Resource::Host))?;
        if let Some(locked) = locked
            && policy.as_ref() == Some(&locked)
        {
            delete_if_unused(&mut tx, project, &locked).await?;
        }
        let host = HostRef {
            id: id.as_str(),
            hostname: &hostname,
        };
        let project_id = project.as_str();
        let data = host_data(
            host.id,
            &hostname,
            json!({"certificate_id": certificate_id}),
        );
        record(
            &mut tx,
            self.outbox,
            origin,
            project_id,
            EventType::HostDeleted,
            host.id,
            &data,
        )
        .await?;
        if let Some(old) = &certificate_id {
            let name = certificate_name(&mut tx, old.as_str()).await?;
            binding_event(
                &mut tx,
                self.outbox,
                origin,
                project_id,
                EventType::CertificateUnbound,
                (old.as_str(), &name),
                host,
            )
            .await?;
        }
        tx.commit().await?;
        self.announce_commit();
        Ok(DeletedHost { id, hostname })
    }
}

/// The name of a certificate (empty if it vanished meanwhile, which its foreign key forbids).
async fn certificate_name(conn: &mut AnyConnection, id: &str) -> Result<String, sqlx::Error> {
    let name: Option<String> = sqlx::query_scalar("SELECT name FROM certificates WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    Ok(name.unwrap_or_default())
}
