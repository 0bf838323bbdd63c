//! Protected domains (dedicated-mode hosts) and their binding to certificates. A host points at
//! at most one certificate through a foreign key, so the database itself keeps every binding
//! pointing at an existing certificate.

use sqlx::AssertSqlSafe;

use super::certificates::Page;
use super::{Store, StoreError, like_contains, placeholder};
use crate::domain::{CertificateId, HostId, Millis, ProjectId};

/// A host to insert.
#[derive(Debug)]
pub struct NewHost<'a> {
    /// Fresh id.
    pub id: &'a HostId,
    /// Owning project.
    pub project: &'a ProjectId,
    /// Validated hostname (lowercase).
    pub hostname: &'a str,
    /// Bound certificate, already checked to belong to the project.
    pub certificate_id: Option<&'a CertificateId>,
    /// The remaining host settings as JSON.
    pub settings: &'a str,
    /// Creation time.
    pub created_at: Millis,
}

/// A stored host with the name of its certificate (joined, so a rename shows at once).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HostRecord {
    /// Host id.
    pub id: String,
    /// Hostname.
    pub hostname: String,
    /// Bound certificate id.
    pub certificate_id: Option<String>,
    /// Bound certificate name.
    pub certificate_name: Option<String>,
    /// Bound certificate's notAfter.
    pub certificate_expire_ms: Option<i64>,
    /// Settings JSON.
    pub settings: String,
    /// Creation time, epoch ms.
    pub created_at_ms: i64,
}

/// Which hosts to list.
#[derive(Debug, Clone, Default)]
pub struct HostListFilter {
    /// Case-insensitive hostname substring.
    pub hostname_contains: Option<String>,
    /// Page size.
    pub limit: i64,
    /// Rows to skip.
    pub offset: i64,
}

const HOST_SELECT: &str = "SELECT h.id, h.hostname, h.certificate_id, c.name AS certificate_name, \
     c.expire_time_ms AS certificate_expire_ms, h.settings, h.created_at_ms \
     FROM hosts h LEFT JOIN certificates c ON c.id = h.certificate_id";

impl Store {
    /// Inserts a host; a taken hostname is [`StoreError::NameTaken`], a certificate deleted in
    /// the meantime is [`StoreError::NotFound`].
    #[tracing::instrument(skip_all, fields(project = %new.project))]
    pub async fn insert_host(&self, new: &NewHost<'_>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO hosts (id, project_id, hostname, certificate_id, settings, created_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(new.id.as_str())
        .bind(new.project.as_str())
        .bind(new.hostname)
        .bind(new.certificate_id.map(CertificateId::as_str))
        .bind(new.settings)
        .bind(new.created_at)
        .execute(&self.pool)
        .await
        .map_err(fk_to_not_found)?;
        Ok(())
    }

    /// One host of the project.
    pub async fn host(&self, project: &ProjectId, id: &HostId) -> Result<HostRecord, StoreError> {
        let sql = format!("{HOST_SELECT} WHERE h.id = $1 AND h.project_id = $2");
        Ok(sqlx::query_as(AssertSqlSafe(sql))
            .bind(id.as_str())
            .bind(project.as_str())
            .fetch_one(&self.pool)
            .await?)
    }

    /// A page of the project's hosts, newest first.
    pub async fn list_hosts(
        &self,
        project: &ProjectId,
        filter: &HostListFilter,
    ) -> Result<Page<HostRecord>, StoreError> {
        let mut predicate = "h.project_id = $1".to_owned();
        let pattern = filter
            .hostname_contains
            .as_deref()
            .map(|t| like_contains(&t.to_ascii_lowercase()));
        if pattern.is_some() {
            predicate.push_str(&format!(
                " AND h.hostname LIKE {} ESCAPE '\\'",
                placeholder(2)
            ));
        }
        let count_sql = format!("SELECT COUNT(*) FROM hosts h WHERE {predicate}");
        let mut count = sqlx::query_scalar(AssertSqlSafe(count_sql)).bind(project.as_str());
        if let Some(p) = &pattern {
            count = count.bind(p.clone());
        }
        let total: i64 = count.fetch_one(&self.pool).await?;
        let n = if pattern.is_some() { 3 } else { 2 };
        let sql = format!(
            "{HOST_SELECT} WHERE {predicate} ORDER BY h.created_at_ms DESC, h.id DESC LIMIT {} OFFSET {}",
            placeholder(n),
            placeholder(n + 1)
        );
        let mut q = sqlx::query_as(AssertSqlSafe(sql)).bind(project.as_str());
        if let Some(p) = pattern {
            q = q.bind(p);
        }
        let items = q
            .bind(filter.limit)
            .bind(filter.offset)
            .fetch_all(&self.pool)
            .await?;
        Ok(Page { total, items })
    }

    /// Replaces a host's hostname, certificate and settings.
    pub async fn update_host(
        &self,
        project: &ProjectId,
        id: &HostId,
        hostname: &str,
        certificate_id: Option<&CertificateId>,
        settings: &str,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE hosts SET hostname = $3, certificate_id = $4, settings = $5 \
             WHERE id = $1 AND project_id = $2",
        )
        .bind(id.as_str())
        .bind(project.as_str())
        .bind(hostname)
        .bind(certificate_id.map(CertificateId::as_str))
        .bind(settings)
        .execute(&self.pool)
        .await
        .map_err(fk_to_not_found)?;
        if done.rows_affected() == 1 {
            Ok(())
        } else {
            Err(StoreError::NotFound)
        }
    }

    /// Deletes a host, freeing its certificate.
    pub async fn delete_host(
        &self,
        project: &ProjectId,
        id: &HostId,
    ) -> Result<HostRecord, StoreError> {
        let record = self.host(project, id).await?;
        let done = sqlx::query("DELETE FROM hosts WHERE id = $1 AND project_id = $2")
            .bind(id.as_str())
            .bind(project.as_str())
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 1 {
            Ok(record)
        } else {
            Err(StoreError::NotFound)
        }
    }

    /// Points every listed host of the project at `certificate`, all or nothing: an unknown
    /// host (or a certificate deleted meanwhile) changes nothing and is [`StoreError::NotFound`].
    #[tracing::instrument(skip_all, fields(project = %project, certificate = %certificate))]
    pub async fn bind_hosts(
        &self,
        project: &ProjectId,
        certificate: &CertificateId,
        hosts: &[HostId],
    ) -> Result<(), StoreError> {
        if hosts.is_empty() {
            return Ok(());
        }
        let list = (0..hosts.len())
            .map(|i| placeholder(i + 3))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "UPDATE hosts SET certificate_id = $1 WHERE project_id = $2 AND id IN ({list})"
        );
        let mut tx = self.pool.begin().await?;
        let mut q = sqlx::query(AssertSqlSafe(sql))
            .bind(certificate.as_str())
            .bind(project.as_str());
        for h in hosts {
            q = q.bind(h.as_str());
        }
        let done = q.execute(&mut *tx).await.map_err(fk_to_not_found)?;
        if usize::try_from(done.rows_affected()).ok() != Some(hosts.len()) {
            return Err(StoreError::NotFound);
        }
        tx.commit().await.map_err(fk_to_not_found)?;
        Ok(())
    }
}

/// A foreign-key failure on a host write means the certificate vanished meanwhile.
fn fk_to_not_found(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Database(ref db) if db.is_foreign_key_violation() => StoreError::NotFound,
        other => other.into(),
    }
}
