//! Certificates seen across projects by expiry: the scheduler's `expiring`/`expired` events,
//! each emitted once by a conditional update of `certificates.expiry_stage` in the same
//! transaction as the event row, and the certificate series `/metrics` reports.

use serde_json::json;
use sqlx::AssertSqlSafe;

use super::events::{Origin, SYSTEM_ACTOR};
use super::{Store, StoreError};
use crate::domain::{EXPIRED_STAGE, EventType, ExpiryStatus, Millis, Thresholds, days_left};

/// Certificates read per scheduler batch.
const BATCH: i64 = 500;
/// Certificates whose events share one transaction (a backlog after an upgrade or a long
/// stop commits in hundreds of transactions, not tens of thousands).
const PER_TRANSACTION: usize = 100;

/// The per-project counts of `wafcert_certificates{project_id,exp_status}`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CertificateCounts {
    /// Project id.
    pub project_id: String,
    /// More than 30 days left (`exp_status` 0).
    pub valid: i64,
    /// Expired (`exp_status` 1).
    pub expired: i64,
    /// At most 30 days left (`exp_status` 2).
    pub expiring: i64,
}

/// One certificate of the per-certificate series.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CertificateSeries {
    /// Project id.
    pub project_id: String,
    /// Certificate id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Leaf notAfter, epoch ms.
    #[sqlx(rename = "expire_time_ms")]
    pub expire_time: i64,
    /// Hosts using it.
    pub bound_hosts: i64,
}

#[derive(sqlx::FromRow)]
struct DueRow {
    id: String,
    project_id: String,
    expire_time_ms: i64,
    expiry_stage: Option<i64>,
}

impl Store {
    /// Emits every `expiring`/`expired` event due at certificate time `now` and returns how
    /// many. Each certificate's events go in one transaction that first moves its
    /// `expiry_stage` from the value read to the new one: of two replicas (or two runs) only
    /// the one whose update matches emits, so each event happens once.
    pub async fn emit_expiry_events(
        &self,
        thresholds: &Thresholds,
        now: Millis,
    ) -> Result<usize, StoreError> {
        // Walks the partial index `certificates_expiry_due` (migration 0009) in expiry order:
        // only rows still owed an event, within the horizon, never the table.
        let sql = format!(
            "SELECT id, project_id, expire_time_ms, expiry_stage FROM certificates \
             WHERE expire_time_ms <= $1 AND (expiry_stage IS NULL OR expiry_stage > 0) \
             AND expire_time_ms <= $2 + {} AND (expire_time_ms, id) > ($3, $4) \
             ORDER BY expire_time_ms, id LIMIT $5",
            thresholds.next_lead_sql()
        );
        let mut emitted = 0;
        let mut after = (Millis::MIN, String::new());
        loop {
            let rows: Vec<DueRow> = sqlx::query_as(AssertSqlSafe(sql.clone()))
                .bind(now.saturating_add(thresholds.horizon_ms()))
                .bind(now)
                .bind(after.0)
                .bind(after.1.clone())
                .bind(BATCH)
                .fetch_all(&self.pool)
                .await?;
            let full = i64::try_from(rows.len()).unwrap_or(i64::MAX) == BATCH;
            let mut due: Vec<(&DueRow, Vec<i64>)> = rows
                .iter()
                .map(|row| {
                    (
                        row,
                        thresholds.due(row.expire_time_ms, now, row.expiry_stage),
                    )
                })
                .filter(|(_, stages)| !stages.is_empty())
                .collect();
            // Rows go in id order, so concurrent replicas lock them in the same order.
            due.sort_by(|a, b| a.0.id.cmp(&b.0.id));
            for chunk in due.chunks(PER_TRANSACTION) {
                emitted += self.emit_stages(chunk, now).await?;
            }
            match rows.last() {
                Some(last) if full => after = (last.expire_time_ms, last.id.clone()),
                _ => break,
            }
        }
        if emitted > 0 {
            self.announce_commit();
        }
        Ok(emitted)
    }

    /// Due stages of several certificates, in one transaction: each certificate's events are
    /// written only if its stage still holds the value read (else another writer got there
    /// first, or the certificate changed). Returns the events written.
    async fn emit_stages(
        &self,
        due: &[(&DueRow, Vec<i64>)],
        now: Millis,
    ) -> Result<usize, StoreError> {
        let (_turn, mut tx) = self.begin_write().await?;
        let origin = Origin {
            actor: SYSTEM_ACTOR,
            time: now,
        };
        let mut written = 0;
        for (row, stages) in due {
            let Some(&last) = stages.last() else {
                continue;
            };
            let name: Option<String> = sqlx::query_scalar(
                "UPDATE certificates SET expiry_stage = $2 WHERE id = $1 \
                 AND COALESCE(expiry_stage, -1) = $3 AND expire_time_ms = $4 RETURNING name",
            )
            .bind(row.id.as_str())
            .bind(last)
            .bind(row.expiry_stage.unwrap_or(-1))
            .bind(row.expire_time_ms)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(name) = name else {
                continue;
            };
            let hostnames: Vec<String> = sqlx::query_scalar(
                "SELECT hostname FROM hosts WHERE certificate_id = $1 ORDER BY hostname",
            )
            .bind(row.id.as_str())
            .fetch_all(&mut *tx)
            .await?;
            for stage in stages {
                let kind = if *stage == EXPIRED_STAGE {
                    EventType::CertificateExpired
                } else {
                    EventType::CertificateExpiring
                };
                let extra = json!({
                    "expire_time": row.expire_time_ms,
                    "days_left": days_left(row.expire_time_ms, now),
                    "threshold_days": stage,
                    "hostnames": hostnames,
                });
                self.event_log(origin, &row.project_id)
                    .certificate(&mut tx, kind, (&row.id, &name), extra)
                    .await?;
                written += 1;
            }
        }
        tx.commit().await?;
        Ok(written)
    }

    /// The sum of every project's version. Each write to a project's certificates or hosts
    /// bumps one version, in the writing transaction, and none ever goes back, so the same sum
    /// read twice means nothing `/metrics` reports was written in between, by any replica.
    pub async fn projects_version_sum(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT CAST(COALESCE(SUM(version), 0) AS BIGINT) FROM projects")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// The first instant after `now` at which a certificate crosses a line the `/metrics`
    /// figures depend on: its expiry and 30 days before it (its `exp_status`), or
    /// `horizon_ms` before it (it enters the per-certificate series). `None`: none ever will.
    /// Three index lookups on the expiry index.
    pub async fn next_metrics_change(
        &self,
        now: Millis,
        horizon_ms: Millis,
    ) -> Result<Option<Millis>, StoreError> {
        let (after_now, after_soon, after_horizon): (Option<i64>, Option<i64>, Option<i64>) =
            sqlx::query_as(
                "SELECT \
                 (SELECT MIN(expire_time_ms) FROM certificates WHERE expire_time_ms > $1), \
                 (SELECT MIN(expire_time_ms) FROM certificates WHERE expire_time_ms > $2), \
                 (SELECT MIN(expire_time_ms) FROM certificates WHERE expire_time_ms > $3)",
            )
            .bind(now)
            .bind(ExpiryStatus::soon_horizon(now))
            .bind(now.saturating_add(horizon_ms))
            .fetch_one(&self.pool)
            .await?;
        let status = ExpiryStatus::next_change(now, after_now, after_soon);
        let series = after_horizon
            .map(|e| e.saturating_sub(horizon_ms))
            .filter(|t| *t > now);
        Ok(status.into_iter().chain(series).min())
    }

    /// Certificates per project and expiry status at certificate time `now` (one scan).
    pub async fn certificate_counts(
        &self,
        now: Millis,
        soon: Millis,
    ) -> Result<Vec<CertificateCounts>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT project_id, \
             COUNT(CASE WHEN expire_time_ms > $2 THEN 1 END) AS valid, \
             COUNT(CASE WHEN expire_time_ms <= $1 THEN 1 END) AS expired, \
             COUNT(CASE WHEN expire_time_ms > $1 AND expire_time_ms <= $2 THEN 1 END) AS expiring \
             FROM certificates GROUP BY project_id ORDER BY project_id",
        )
        .bind(now)
        .bind(soon)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The certificates worth a series of their own: expiring by `horizon` (or expired), or
    /// bound to a host; soonest expiry first, at most `cap`. Also returns how many qualify in
    /// all. Two ordered, index-driven reads (the expiry index, then the bound hosts) instead of
    /// one scan testing every certificate for hosts.
    pub async fn certificate_series(
        &self,
        horizon: Millis,
        cap: i64,
    ) -> Result<(Vec<CertificateSeries>, i64), StoreError> {
        const COLUMNS: &str = "SELECT c.project_id, c.id, c.name, c.expire_time_ms, \
             (SELECT COUNT(*) FROM hosts h WHERE h.certificate_id = c.id) AS bound_hosts \
             FROM certificates c";
        // Every expiring row sorts before every bound-only row, so the two parts concatenate.
        const EXPIRING: &str = "c.expire_time_ms <= $1";
        const BOUND_ONLY: &str = "c.expire_time_ms > $1 \
             AND c.id IN (SELECT certificate_id FROM hosts WHERE certificate_id IS NOT NULL)";
        let mut rows = Vec::new();
        let mut total = 0;
        for predicate in [EXPIRING, BOUND_ONLY] {
            let room = cap - i64::try_from(rows.len()).unwrap_or(i64::MAX);
            let part: Vec<CertificateSeries> = if room > 0 {
                let sql =
                    format!("{COLUMNS} WHERE {predicate} ORDER BY c.expire_time_ms, c.id LIMIT $2");
                sqlx::query_as(AssertSqlSafe(sql))
                    .bind(horizon)
                    .bind(room)
                    .fetch_all(&self.pool)
                    .await?
            } else {
                Vec::new()
            };
            let got = i64::try_from(part.len()).unwrap_or(i64::MAX);
            total += if got < room {
                got
            } else {
                let sql = format!("SELECT COUNT(*) FROM certificates c WHERE {predicate}");
                sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql))
                    .bind(horizon)
                    .fetch_one(&self.pool)
                    .await?
            };
            rows.extend(part);
        }
        Ok((rows, total))
    }
}
