//! Certificate rows: insert under the project quota, page through them newest first, rename or
//! replace, delete, and read the hosts bound to them.

use serde_json::json;
use sqlx::{AnyConnection, AssertSqlSafe};

use super::binding::{WriteError, certificate_to_bind, hostnames_using, lock_certificate};
use super::events::{Origin, record_many_certificates};
use super::name_search::{NameLookup, name_condition, plan_per_value};
use super::sql::{Bind, Page, PageWindow, SqlArgs, fetch_window, one_in_project};
use super::{Backend, Resource, Store, StoreError};
use crate::domain::{
    CertificateFacts, CertificateId, CertificateName, EventType, ExpiryStatus, ExpiryWindow,
    HostId, Millis, NameLimit, ProjectId,
};

/// Matches up to which a name search's page is read through the trigram index (rows looked
/// up by rowid and sorted); above it the page walks the newest-first index, where matches are
/// dense enough to fill a page quickly.
const PAGE_VIA_TRIGRAM_MAX: i64 = 1000;

/// Certificate ids bound in one `IN (...)` list (SQLite allows 32,766 variables per statement).
const IDS_PER_STATEMENT: usize = 1000;

/// The actor of certificates loaded in bulk ([`Store::insert_certificates`]).
pub const IMPORT_ACTOR: &str = "import";

/// A certificate to insert; the key is already sealed.
#[derive(Debug)]
pub struct NewCertificate<'a> {
    /// Fresh id (also the sealing context of the key).
    pub id: &'a CertificateId,
    /// Owning project.
    pub project: &'a ProjectId,
    /// Validated name.
    pub name: &'a CertificateName,
    /// PEM chain.
    pub content: &'a str,
    /// Sealed PEM key.
    pub sealed_key: &'a [u8],
    /// Leaf notAfter.
    pub expire_time: Millis,
    /// Upload time.
    pub created_at: Millis,
    /// SHA-256 of the leaf DER (hex); `None` leaves it to be computed when needed.
    pub leaf_sha256: Option<&'a str>,
    /// SHA-256 of the leaf's public key info (hex); `None` as above.
    pub key_sha256: Option<&'a str>,
}

#[cfg(test)]
impl<'a> NewCertificate<'a> {
    /// A row whose chain and key are placeholders, for tests of listing and caching that never
    /// read either.
    pub(crate) fn placeholder(
        id: &'a CertificateId,
        project: &'a ProjectId,
        name: &'a CertificateName,
        expire_time: Millis,
        created_at: Millis,
    ) -> Self {
        Self {
            id,
            project,
            name,
            content: "-",
            sealed_key: b"-",
            expire_time,
            created_at,
            leaf_sha256: None,
            key_sha256: None,
        }
    }
}

/// A new chain and key replacing the stored ones on update.
#[derive(Debug)]
pub struct ReplacedPair<'a> {
    /// PEM chain.
    pub content: &'a str,
    /// Sealed PEM key.
    pub sealed_key: &'a [u8],
    /// Leaf notAfter.
    pub expire_time: Millis,
    /// SHA-256 of the leaf DER (hex).
    pub leaf_sha256: &'a str,
    /// SHA-256 of the leaf's public key info (hex).
    pub key_sha256: &'a str,
}

/// A whole stored certificate.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CertificateRecord {
    /// Id.
    pub id: CertificateId,
    /// Name.
    pub name: String,
    /// PEM chain.
    pub content: String,
    /// Sealed PEM key (AES-256-GCM, context = id).
    pub sealed_key: Vec<u8>,
    /// Leaf notAfter, epoch ms.
    #[sqlx(rename = "expire_time_ms")]
    pub expire_time: Millis,
    /// Upload time, epoch ms.
    #[sqlx(rename = "created_at_ms")]
    pub created_at: Millis,
}

/// The columns a list page needs.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CertificateSummary {
    /// Id.
    pub id: CertificateId,
    /// Name.
    pub name: String,
    /// Leaf notAfter, epoch ms.
    #[sqlx(rename = "expire_time_ms")]
    pub expire_time: Millis,
    /// Upload time, epoch ms.
    #[sqlx(rename = "created_at_ms")]
    pub created_at: Millis,
}

/// A host bound to a certificate, as reported in `bind_host`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BoundHost {
    /// The certificate the host uses.
    pub certificate_id: CertificateId,
    /// Host id.
    pub id: HostId,
    /// Hostname.
    pub hostname: String,
}

/// What to list: optional filters and the page window.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Case-insensitive substring of the name.
    pub name_contains: Option<String>,
    /// Only certificates whose `expire_time` lies in this window.
    pub expiry: Option<ExpiryWindow>,
    /// The page.
    pub window: PageWindow,
}

const RECORD_COLUMNS: &str = "id, name, content, sealed_key, expire_time_ms, created_at_ms";

/// Columns bound per row by [`Store::insert_certificates`].
const INSERT_COLUMNS: usize = 10;

/// The column list of every certificate insert, in bind order.
const INSERT_COLUMN_LIST: &str = "id, project_id, name, name_lower, content, sealed_key, \
     expire_time_ms, created_at_ms, leaf_sha256, key_sha256";

/// Rows per multi-row `INSERT`: 500 bind parameters. Not more: on SQLite, sqlx looks up the
/// name of every parameter on each execution, and each lookup walks the statement's parameter
/// list, so a statement's binding costs the square of its parameters (at 500 rows, 5,000
/// parameters, binding took more time than SQLite's own work).
const INSERT_CHUNK_ROWS: usize = 50;

impl Store {
    /// Inserts a certificate and counts it against the project's quota (`None` = unlimited),
    /// in one transaction.
    #[tracing::instrument(skip_all, fields(project = %new.project))]
    pub async fn insert_certificate(
        &self,
        new: &NewCertificate<'_>,
        quota: Option<i64>,
        actor: &str,
    ) -> Result<(), StoreError> {
        let (_turn, mut tx) = self.begin_write().await?;
        let counted = sqlx::query(
            "UPDATE projects SET certificate_count = certificate_count + 1 \
             WHERE id = $1 AND ($2 < 0 OR certificate_count < $2)",
        )
        .bind(new.project.as_str())
        .bind(quota.unwrap_or(-1))
        .execute(&mut *tx)
        .await?;
        if counted.rows_affected() != 1 {
            return Err(StoreError::QuotaExceeded);
        }
        insert_row(&mut tx, new).await?;
        let origin = Origin {
            actor,
            time: new.created_at,
        };
        self.event_log(origin, new.project.as_str())
            .certificate(
                &mut tx,
                EventType::CertificateCreated,
                (new.id.as_str(), new.name.as_str()),
                created_extra(new),
            )
            .await?;
        self.commit_events(tx).await
    }

    /// Inserts many certificates (of one or several projects) in one transaction, all or
    /// nothing: each project's `certificate_count` grows by its rows, refused with
    /// [`StoreError::QuotaExceeded`] when that would pass `quota` (`None` = unlimited), and a
    /// taken name fails the whole batch with [`StoreError::NameTaken`]. Rows go in as multi-row
    /// `INSERT`s, so bulk loads (imports, benchmarks) cost one commit per batch.
    #[tracing::instrument(skip_all, fields(rows = batch.len()))]
    pub async fn insert_certificates(
        &self,
        batch: &[NewCertificate<'_>],
        quota: Option<i64>,
    ) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut per_project: Vec<(&str, i64)> = Vec::new();
        for new in batch {
            match per_project
                .iter_mut()
                .find(|(p, _)| *p == new.project.as_str())
            {
                Some((_, n)) => *n += 1,
                None => per_project.push((new.project.as_str(), 1)),
            }
        }
        let (_turn, mut tx) = self.begin_write().await?;
        for (project, rows) in per_project {
            let counted = sqlx::query(
                "UPDATE projects SET certificate_count = certificate_count + $2 \
                 WHERE id = $1 AND ($3 < 0 OR certificate_count + $2 <= $3)",
            )
            .bind(project)
            .bind(rows)
            .bind(quota.unwrap_or(-1))
            .execute(&mut *tx)
            .await?;
            if counted.rows_affected() != 1 {
                return Err(StoreError::QuotaExceeded);
            }
        }
        for chunk in batch.chunks(INSERT_CHUNK_ROWS) {
            let mut args = SqlArgs::new();
            let values = chunk
                .iter()
                .map(|new| format!("({})", args.list(row_binds(new))))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!("INSERT INTO certificates ({INSERT_COLUMN_LIST}) VALUES {values}");
            sqlx::query_with(AssertSqlSafe(sql), args.arguments()?)
                .execute(&mut *tx)
                .await?;
            let events: Vec<_> = chunk
                .iter()
                .map(|new| {
                    (
                        new.project.as_str(),
                        (new.id.as_str(), new.name.as_str()),
                        created_extra(new),
                        Origin {
                            actor: IMPORT_ACTOR,
                            time: new.created_at,
                        },
                    )
                })
                .collect();
            record_many_certificates(&mut tx, self.outbox, EventType::CertificateCreated, &events)
                .await?;
        }
        self.commit_events(tx).await
    }

    /// One certificate of the project.
    pub async fn certificate(
        &self,
        project: &ProjectId,
        id: &CertificateId,
    ) -> Result<CertificateRecord, StoreError> {
        let sql =
            format!("SELECT {RECORD_COLUMNS} FROM certificates WHERE id = $1 AND project_id = $2");
        let mut conn = self.reader().await?;
        let found =
            one_in_project(&mut *conn, sql, id.as_str(), project, Resource::Certificate).await;
        if matches!(found, Ok(_) | Err(StoreError::NotFound(_))) {
            conn.done();
        }
        found
    }

    /// A page of the project's certificates, newest upload first (then id descending), and the
    /// number of all matches.
    #[tracing::instrument(skip_all, fields(project = %project))]
    pub async fn list_certificates(
        &self,
        project: &ProjectId,
        filter: &ListFilter,
    ) -> Result<Page<CertificateSummary>, StoreError> {
        // The count goes through the trigram index (a search that is not frequent is cheap to
        // count there); the page of a search matching few rows too, while a page of one
        // matching many walks the newest-first index and stops after the page.
        let (args, predicate) = count_predicate(self.backend, project, filter);
        let persistent = filter.name_contains.is_none() || !plan_per_value(self.backend);
        let mut conn = self.reader().await?;
        let total: i64 = if filter.name_contains.is_none() && filter.expiry.is_none() {
            // Unfiltered: the counter kept by insert/delete avoids counting every row.
            sqlx::query_scalar("SELECT certificate_count FROM projects WHERE id = $1")
                .bind(project.as_str())
                .fetch_optional(&mut *conn)
                .await?
                .unwrap_or(0)
        } else {
            let sql = format!("SELECT COUNT(*) FROM certificates WHERE {predicate}");
            sqlx::query_scalar_with(AssertSqlSafe(sql), args.arguments()?)
                .persistent(persistent)
                .fetch_one(&mut *conn)
                .await?
        };
        let PageWindow { limit, offset } = filter.window;
        if total <= offset || limit == Some(0) {
            conn.done();
            return Ok(Page::empty(total));
        }
        let lookup = if total <= PAGE_VIA_TRIGRAM_MAX {
            NameLookup::FewMatches
        } else {
            NameLookup::ManyMatches
        };
        let (args, select) = page_select(self.backend, project, filter, lookup);
        let items = fetch_window(&mut *conn, select, args, filter.window, persistent).await?;
        conn.done();
        Ok(Page { total, items })
    }

    /// The first instant after `now` at which the expiry status of one of the project's
    /// certificates changes (`None`: never), in one statement of two index seeks on
    /// `certificates_expiry`; what an `exp_status` page may be cached until.
    pub async fn next_expiry_change(
        &self,
        project: &ProjectId,
        now: Millis,
    ) -> Result<Option<Millis>, StoreError> {
        let mut conn = self.reader().await?;
        let (after_now, after_horizon): (Option<i64>, Option<i64>) = sqlx::query_as(
            "SELECT \
             (SELECT MIN(expire_time_ms) FROM certificates WHERE project_id = $1 AND expire_time_ms > $2), \
             (SELECT MIN(expire_time_ms) FROM certificates WHERE project_id = $1 AND expire_time_ms > $3)",
        )
        .bind(project.as_str())
        .bind(now)
        .bind(ExpiryStatus::soon_horizon(now))
        .fetch_one(&mut *conn)
        .await?;
        conn.done();
        Ok(ExpiryStatus::next_change(now, after_now, after_horizon))
    }

    /// The list columns of the project's certificates among `ids`, in the order of `ids` (one
    /// deleted since, or of another project, is left out): the page of a name search answered
    /// from the in-memory index. One statement per [`IDS_PER_STATEMENT`] ids; none for no ids.
    pub async fn certificate_summaries(
        &self,
        project: &ProjectId,
        ids: &[&CertificateId],
    ) -> Result<Vec<CertificateSummary>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut found: Vec<CertificateSummary> = Vec::with_capacity(ids.len());
        let mut conn = self.reader().await?;
        for chunk in ids.chunks(IDS_PER_STATEMENT) {
            let (args, sql) = summaries_select(chunk);
            let rows: Vec<InProject<CertificateSummary>> =
                sqlx::query_as_with(AssertSqlSafe(sql), args.arguments()?)
                    .fetch_all(&mut *conn)
                    .await?;
            found.extend(InProject::keep(rows, project));
        }
        conn.done();
        let position: std::collections::HashMap<&str, usize> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), i))
            .collect();
        found.sort_by_key(|c| position.get(c.id.as_str()).copied());
        Ok(found)
    }

    /// The hosts of the project bound to any of `ids`, by hostname: one statement per
    /// [`IDS_PER_STATEMENT`] ids (none for no ids), so an unpaged list of any length stays
    /// within SQLite's limit of bound variables. Looked up by certificate only, the project
    /// checked here, for the reason of [`summaries_select`].
    pub async fn bound_hosts(
        &self,
        project: &ProjectId,
        ids: &[&CertificateId],
    ) -> Result<Vec<BoundHost>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut found = Vec::new();
        let mut conn = self.reader().await?;
        for chunk in ids.chunks(IDS_PER_STATEMENT) {
            let mut args = SqlArgs::new();
            let list = args.list(chunk.iter().map(|id| id.as_str()));
            let sql = format!(
                "SELECT project_id, certificate_id, id, hostname FROM hosts \
                 WHERE certificate_id IN ({list}) ORDER BY hostname, id"
            );
            let rows: Vec<InProject<BoundHost>> =
                sqlx::query_as_with(AssertSqlSafe(sql), args.arguments()?)
                    .fetch_all(&mut *conn)
                    .await?;
            found.extend(InProject::keep(rows, project));
        }
        conn.done();
        Ok(found)
    }

    /// Renames a certificate and optionally replaces its chain and key, unless a host uses it.
    /// The row is locked first, so a bind running at the same time is ordered wholly before
    /// (and this refuses) or after (and the bind sees the new name and expiry).
    #[tracing::instrument(skip_all, fields(project = %project, certificate = %id))]
    pub async fn update_certificate(
        &self,
        project: &ProjectId,
        id: &CertificateId,
        name: &CertificateName,
        replaced: Option<&ReplacedPair<'_>>,
        origin: Origin<'_>,
    ) -> Result<CertificateRecord, StoreError> {
        let (_turn, mut tx) = self.begin_write().await?;
        let Some(before) = lock_certificate(&mut tx, project, id).await? else {
            return Err(StoreError::NotFound(Resource::Certificate));
        };
        let hosts = hostnames_using(&mut tx, project, id).await?;
        if !hosts.is_empty() {
            return Err(StoreError::InUse(hosts));
        }
        let set = if replaced.is_some() {
            // A new chain has its own expiry: its threshold events start afresh.
            "name = $3, name_lower = $4, content = $5, sealed_key = $6, expire_time_ms = $7, \
             leaf_sha256 = $8, key_sha256 = $9, expiry_stage = NULL"
        } else {
            "name = $3, name_lower = $4"
        };
        let sql = format!(
            "UPDATE certificates SET {set} WHERE id = $1 AND project_id = $2 \
             RETURNING {RECORD_COLUMNS}"
        );
        let mut q = sqlx::query_as(AssertSqlSafe(sql))
            .bind(id.as_str())
            .bind(project.as_str())
            .bind(name.as_str())
            .bind(name.to_search_key());
        if let Some(pair) = replaced {
            q = q
                .bind(pair.content)
                .bind(pair.sealed_key.to_vec())
                .bind(pair.expire_time)
                .bind(pair.leaf_sha256)
                .bind(pair.key_sha256);
        }
        let row: CertificateRecord = q.fetch_one(&mut *tx).await?;
        let events = self.event_log(origin, project.as_str());
        let certificate = (row.id.as_str(), row.name.as_str());
        if before.name != row.name {
            let extra = json!({"old_name": before.name});
            events
                .certificate(&mut tx, EventType::CertificateRenamed, certificate, extra)
                .await?;
        }
        if replaced.is_some() {
            let extra = json!({
                "previous_expire_time": before.expire_time,
                "expire_time": row.expire_time,
            });
            events
                .certificate(&mut tx, EventType::CertificateRotated, certificate, extra)
                .await?;
        }
        self.commit_events(tx).await?;
        Ok(row)
    }

    /// Deletes a certificate unless a host uses it. The hosts' foreign key makes the database
    /// itself refuse a delete that races with a bind, so no host can point at a deleted row.
    #[tracing::instrument(skip_all, fields(project = %project, certificate = %id))]
    pub async fn delete_certificate(
        &self,
        project: &ProjectId,
        id: &CertificateId,
        origin: Origin<'_>,
    ) -> Result<CertificateRecord, StoreError> {
        let result = async {
            let (_turn, mut tx) = self.begin_delete().await?;
            let sql = format!(
                "DELETE FROM certificates WHERE id = $1 AND project_id = $2 RETURNING {RECORD_COLUMNS}"
            );
            let row: Option<CertificateRecord> = sqlx::query_as(AssertSqlSafe(sql))
                .bind(id.as_str())
                .bind(project.as_str())
                .fetch_optional(&mut *tx)
                .await?;
            let Some(row) = row else {
                return Err(StoreError::NotFound(Resource::Certificate));
            };
            sqlx::query(
                "UPDATE projects SET certificate_count = certificate_count - 1 WHERE id = $1",
            )
            .bind(project.as_str())
            .execute(&mut *tx)
            .await?;
            self.event_log(origin, project.as_str())
                .certificate(
                    &mut tx,
                    EventType::CertificateDeleted,
                    (row.id.as_str(), &row.name),
                    json!({"expire_time": row.expire_time}),
                )
                .await?;
            self.commit_events(tx).await?;
            Ok(row)
        }
        .await;
        match result {
            Err(StoreError::Backend(e))
                if matches!(
                    e.downcast_ref::<sqlx::Error>(),
                    Some(sqlx::Error::Database(db)) if db.is_foreign_key_violation()
                ) =>
            {
                Err(self.why_unchanged(project, id).await)
            }
            other => other,
        }
    }

    /// After a delete was refused: the certificate is in use, or it does not exist.
    async fn why_unchanged(&self, project: &ProjectId, id: &CertificateId) -> StoreError {
        let hosts = match self.pool.acquire().await {
            Ok(mut conn) => hostnames_using(&mut conn, project, id).await,
            Err(e) => Err(e),
        };
        match hosts {
            Ok(h) if !h.is_empty() => StoreError::InUse(h),
            Ok(_) => StoreError::NotFound(Resource::Certificate),
            Err(e) => e.into(),
        }
    }
}

/// What a `created` event adds to the certificate's id and name.
fn created_extra(new: &NewCertificate<'_>) -> serde_json::Value {
    json!({"expire_time": new.expire_time})
}

/// A checked certificate ready to store, its key already sealed: what a rotation stores in
/// place of the old one, and, named in a project ([`SealedUpload::named`]), a new row.
#[derive(Debug, Clone, Copy)]
pub struct SealedUpload<'a> {
    /// Fresh id (also the sealing context of the key).
    pub id: &'a CertificateId,
    /// PEM chain.
    pub content: &'a str,
    /// Sealed PEM key.
    pub sealed_key: &'a [u8],
    /// Leaf notAfter.
    pub expire_time: Millis,
    /// Upload time.
    pub created_at: Millis,
    /// SHA-256 of the leaf DER (hex).
    pub leaf_sha256: &'a str,
    /// SHA-256 of the leaf's public key info (hex).
    pub key_sha256: &'a str,
}

impl<'a> SealedUpload<'a> {
    /// The row that stores this upload in `project` under `name`.
    pub fn named(self, project: &'a ProjectId, name: &'a CertificateName) -> NewCertificate<'a> {
        NewCertificate {
            id: self.id,
            project,
            name,
            content: self.content,
            sealed_key: self.sealed_key,
            expire_time: self.expire_time,
            created_at: self.created_at,
            leaf_sha256: Some(self.leaf_sha256),
            key_sha256: Some(self.key_sha256),
        }
    }
}

/// The outcome of [`Store::rotate_certificate`].
#[derive(Debug, Clone)]
pub struct Rotated {
    /// The new certificate as stored.
    pub record: CertificateRecord,
    /// The name the old certificate had.
    pub old_name: String,
    /// The hostnames moved from the old certificate to the new one, sorted.
    pub moved: Vec<String>,
}

/// A stored certificate that may share the leaf or the key of another, for the duplicate
/// checks; the hashes are `None` on rows stored before they were recorded.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FingerprintRow {
    /// Name.
    pub name: String,
    /// PEM chain (to compute missing hashes).
    pub content: String,
    /// SHA-256 of the leaf DER (hex).
    pub leaf_sha256: Option<String>,
    /// SHA-256 of the leaf's public key info (hex).
    pub key_sha256: Option<String>,
}

impl Store {
    /// Rotates a certificate in one transaction: locks `old` (certificate first, then hosts, the
    /// order every binding write follows), hands it and the hostnames bound to it to `check`,
    /// stores `new` (named `name`, or the old certificate's name when `None`), moves every host
    /// from the old certificate to the new one and deletes the old one. Any failure changes
    /// nothing: a missing `old` is a not-found certificate, a taken name
    /// [`StoreError::NameTaken`].
    #[tracing::instrument(skip_all, fields(project = %project, certificate = %old))]
    pub async fn rotate_certificate<E>(
        &self,
        project: &ProjectId,
        old: &CertificateId,
        new: &SealedUpload<'_>,
        name: Option<&CertificateName>,
        origin: Origin<'_>,
        check: impl FnOnce(&CertificateFacts, &[String]) -> Result<(), E>,
    ) -> Result<Rotated, WriteError<E>> {
        let (_turn, mut tx) = self.begin_write().await?;
        let facts = certificate_to_bind(&mut tx, project, old).await?;
        let moved = hostnames_using(&mut tx, project, old).await?;
        check(&facts, &moved).map_err(WriteError::Refused)?;
        let kept;
        let name = match name {
            Some(n) => n,
            None => {
                kept = CertificateName::parse(&facts.name, NameLimit::Create).map_err(|_| {
                    StoreError::Schema(format!(
                        "stored certificate name {:?} is invalid",
                        facts.name
                    ))
                })?;
                &kept
            }
        };
        // Free the name for the new row: the old row is deleted below, in this transaction. The
        // placeholder has a space, which no valid name has, so it never clashes.
        let placeholder_name = format!("rotating {old}");
        sqlx::query(
            "UPDATE certificates SET name = $3, name_lower = $3 WHERE id = $1 AND project_id = $2",
        )
        .bind(old.as_str())
        .bind(project.as_str())
        .bind(&placeholder_name)
        .execute(&mut *tx)
        .await?;
        insert_row(&mut tx, &new.named(project, name)).await?;
        let stored = CertificateRecord {
            id: new.id.clone(),
            name: name.as_str().to_owned(),
            content: new.content.to_owned(),
            sealed_key: new.sealed_key.to_vec(),
            expire_time: new.expire_time,
            created_at: new.created_at,
        };
        sqlx::query(
            "UPDATE hosts SET certificate_id = $1 WHERE project_id = $2 AND certificate_id = $3",
        )
        .bind(new.id.as_str())
        .bind(project.as_str())
        .bind(old.as_str())
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM certificates WHERE id = $1 AND project_id = $2")
            .bind(old.as_str())
            .bind(project.as_str())
            .execute(&mut *tx)
            .await?;
        // One `rotated` event (old and new ids, the hosts moved), in this transaction, so it
        // exists exactly when the rotation does.
        let extra = json!({
            "previous_certificate_id": old.as_str(),
            "previous_name": facts.name,
            "expire_time": new.expire_time,
            "hostnames": moved,
        });
        self.event_log(origin, project.as_str())
            .certificate(
                &mut tx,
                EventType::CertificateRotated,
                (new.id.as_str(), name.as_str()),
                extra,
            )
            .await?;
        self.commit_events(tx).await?;
        Ok(Rotated {
            record: stored,
            old_name: facts.name,
            moved,
        })
    }

    /// The project's other certificates that have the leaf `leaf_sha256` or the key
    /// `key_sha256`, plus those whose hashes were never recorded (the caller compares those
    /// itself), by name.
    pub async fn certificates_sharing(
        &self,
        project: &ProjectId,
        except: &CertificateId,
        leaf_sha256: &str,
        key_sha256: &str,
    ) -> Result<Vec<FingerprintRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT name, content, leaf_sha256, key_sha256 FROM certificates \
             WHERE project_id = $1 AND id <> $2 AND (leaf_sha256 = $3 OR key_sha256 = $4 \
             OR leaf_sha256 IS NULL OR key_sha256 IS NULL) ORDER BY name",
        )
        .bind(project.as_str())
        .bind(except.as_str())
        .bind(leaf_sha256)
        .bind(key_sha256)
        .fetch_all(&self.pool)
        .await?)
    }
}

/// Inserts one certificate row.
async fn insert_row(conn: &mut AnyConnection, new: &NewCertificate<'_>) -> Result<(), StoreError> {
    let mut args = SqlArgs::new();
    let values = args.list(row_binds(new));
    let sql = format!("INSERT INTO certificates ({INSERT_COLUMN_LIST}) VALUES ({values})");
    sqlx::query_with(AssertSqlSafe(sql), args.arguments()?)
        .execute(conn)
        .await?;
    Ok(())
}

/// The `WHERE` clause of a list's count (which uses the expiry index) and its values.
fn count_predicate(
    backend: Backend,
    project: &ProjectId,
    filter: &ListFilter,
) -> (SqlArgs, String) {
    let (args, conditions, _) = list_conditions(backend, project, filter, NameLookup::Count);
    (args, conditions)
}

/// The statement of [`Store::certificate_summaries`] for one chunk of ids, and its values.
/// The rows are looked up by id alone and their project checked by the caller
/// ([`InProject`]): with `project_id = $1` in the statement, PostgreSQL's generic plan of a
/// prepared statement (which guesses a project at the average size) intersected the id
/// lookups with a scan of every row of the project in one of its indexes: 5-40 ms for a
/// project of 100,000 certificates among a million, seen in the load benchmark; SQLite,
/// without statistics, walked the project's listing index for 10 or more ids.
fn summaries_select(ids: &[&CertificateId]) -> (SqlArgs, String) {
    let mut args = SqlArgs::new();
    let list = args.list(ids.iter().map(|id| id.as_str()));
    let sql = format!(
        "SELECT project_id, id, name, expire_time_ms, created_at_ms FROM certificates \
         WHERE id IN ({list})"
    );
    (args, sql)
}

/// A row read by a key that is unique across projects, with its project, so the caller keeps
/// only its own project's rows.
#[derive(sqlx::FromRow)]
struct InProject<T> {
    project_id: String,
    #[sqlx(flatten)]
    row: T,
}

impl<T> InProject<T> {
    /// The rows of `project`.
    fn keep<'a>(rows: Vec<Self>, project: &'a ProjectId) -> impl Iterator<Item = T> + 'a
    where
        T: 'a,
    {
        rows.into_iter()
            .filter(move |r| r.project_id == project.as_str())
            .map(|r| r.row)
    }
}

/// The page statement of a list (without its `LIMIT`), newest upload first, and its values;
/// `lookup` says which index drives a name search ([`NameLookup`]).
fn page_select(
    backend: Backend,
    project: &ProjectId,
    filter: &ListFilter,
    lookup: NameLookup,
) -> (SqlArgs, String) {
    let (args, conditions, order_column) = list_conditions(backend, project, filter, lookup);
    let select = format!(
        "SELECT id, name, expire_time_ms, created_at_ms FROM certificates WHERE {conditions} \
         ORDER BY {order_column} DESC, id DESC"
    );
    (args, select)
}

/// The `WHERE` clause of a list statement, its values and the upload-time expression a page
/// orders by, for the count or a page as `lookup` says (which index drives a name search:
/// [`NameLookup`]). A page walks the newest-first listing index (it also holds the expiry)
/// and stops after the page; there `+expire_time_ms` keeps the planners (SQLite's above all)
/// from preferring the expiry index, which would mean sorting every match. The count uses
/// the expiry index.
fn list_conditions(
    backend: Backend,
    project: &ProjectId,
    filter: &ListFilter,
    lookup: NameLookup,
) -> (SqlArgs, String, &'static str) {
    let mut args = SqlArgs::new();
    let project_value = args.push(project.as_str());
    let mut project_column = "project_id";
    let mut order_column = "created_at_ms";
    let mut conditions = Vec::new();
    if let Some(text) = &filter.name_contains {
        let name = name_condition(backend, text, &mut args, lookup);
        project_column = name.project_column;
        order_column = name.order_column;
        conditions.push(name.sql);
    }
    let column = if lookup == NameLookup::Count {
        "expire_time_ms"
    } else {
        "+expire_time_ms"
    };
    if let Some(window) = filter.expiry {
        if let Some(after) = window.after {
            conditions.push(format!("{column} > {}", args.push(after)));
        }
        if let Some(up_to) = window.up_to {
            conditions.push(format!("{column} <= {}", args.push(up_to)));
        }
    }
    conditions.insert(0, format!("{project_column} = {project_value}"));
    (args, conditions.join(" AND "), order_column)
}

/// A new row's values in [`INSERT_COLUMN_LIST`] order: the one binder of certificate inserts.
fn row_binds(new: &NewCertificate<'_>) -> [Bind; INSERT_COLUMNS] {
    [
        new.id.as_str().into(),
        new.project.as_str().into(),
        new.name.as_str().into(),
        new.name.to_search_key().into(),
        new.content.into(),
        new.sealed_key.into(),
        new.expire_time.into(),
        new.created_at.into(),
        new.leaf_sha256.into(),
        new.key_sha256.into(),
    ]
}

#[cfg(test)]
mod list_statement_tests {
    use super::*;

    fn search(text: &str) -> ListFilter {
        ListFilter {
            name_contains: Some(text.to_owned()),
            ..ListFilter::default()
        }
    }

    /// The page statement is the one `name_condition` shapes: a PostgreSQL page of few matches
    /// orders by an expression no index gives (the plan test in `tests/api/postgres.rs`
    /// shows what that does), a SQLite one names the project as `+project_id`.
    #[test]
    fn a_page_of_few_matches_is_shaped_for_the_trigram_index() {
        let project = ProjectId::random();
        let page = |backend, lookup| page_select(backend, &project, &search("1396"), lookup).1;
        let few = page(Backend::Postgres, NameLookup::FewMatches);
        assert!(
            few.contains("ORDER BY created_at_ms + 0 DESC, id DESC"),
            "{few}"
        );
        let many = page(Backend::Postgres, NameLookup::ManyMatches);
        assert!(
            many.contains("ORDER BY created_at_ms DESC, id DESC"),
            "{many}"
        );
        let few = page(Backend::Sqlite, NameLookup::FewMatches);
        assert!(
            few.contains("+project_id = $1") && few.contains("certificates_name_fts"),
            "{few}"
        );
        let (_, count) = count_predicate(Backend::Postgres, &project, &search("1396"));
        assert!(
            count.starts_with("project_id = $1 AND name_lower LIKE"),
            "{count}"
        );
    }

    /// The ids of a page answered from the name index are looked up one by one, not by
    /// walking the project's rows (SQLite's plan; PostgreSQL's statement has no project
    /// condition an index could serve).
    #[tokio::test]
    async fn page_rows_are_read_by_id() {
        let store = Store::in_memory().await.unwrap();
        let ids: Vec<CertificateId> = (0..20).map(|_| CertificateId::random()).collect();
        let ids: Vec<&CertificateId> = ids.iter().collect();
        let (args, sql) = summaries_select(&ids);
        let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as_with(
            AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")),
            args.arguments().unwrap(),
        )
        .fetch_all(&store.pool)
        .await
        .unwrap();
        let plan: Vec<String> = plan.into_iter().map(|r| r.3).collect();
        assert_eq!(
            plan,
            ["SEARCH certificates USING INDEX sqlite_autoindex_certificates_1 (id=?)"]
        );
    }
}
