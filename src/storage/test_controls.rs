//! What test controls keep in the database: the shared certificate clock (one row of
//! `test_clock`, so every replica on PostgreSQL sees a move) and the reset that empties
//! projects between tests while keeping their credentials.

use std::sync::Arc;

use sqlx::{AnyConnection, AssertSqlSafe};

use super::{Store, StoreError};
use crate::domain::{ClockSetting, ProjectId};

/// Tables a reset empties, children before parents (a row may only reference rows of tables
/// later in the list). Each has a `project_id` column. A feature adding per-project state that
/// tests must be able to wipe (events, webhook deliveries, policies) adds its table here.
const RESET_TABLES: &[&str] = &["hosts", "policies", "certificates"];

/// Columns the credential statements add to read the shared clock in the same round trip.
pub(super) const CLOCK_COLUMNS: &str =
    ", c.offset_ms AS clock_offset_ms, c.frozen_at_ms AS clock_frozen_at_ms";
/// The join that goes with [`CLOCK_COLUMNS`].
pub(super) const CLOCK_JOIN: &str = " LEFT JOIN test_clock c ON c.id = 1";

impl Store {
    /// This store, with every credential lookup also reading the shared certificate clock
    /// (servers with test controls only: others run the statements without the join).
    #[must_use]
    pub fn with_shared_clock(mut self) -> Self {
        self.shared_clock = true;
        let clock_sql = self.clock_sql();
        self.pipeline = self.pipeline.map(|p| Arc::new(p.with_clock_sql(clock_sql)));
        self
    }

    /// The clock columns and join for credential statements: empty unless the clock is shared.
    pub(super) fn clock_sql(&self) -> (&'static str, &'static str) {
        if self.shared_clock {
            (CLOCK_COLUMNS, CLOCK_JOIN)
        } else {
            ("", "")
        }
    }

    /// The shared clock setting.
    pub async fn clock_setting(&self) -> Result<ClockSetting, StoreError> {
        let row: Option<(i64, Option<i64>)> =
            sqlx::query_as("SELECT offset_ms, frozen_at_ms FROM test_clock WHERE id = 1")
                .fetch_optional(&self.pool)
                .await?;
        Ok(
            row.map_or_else(ClockSetting::default, |(offset_ms, frozen_at)| {
                ClockSetting {
                    offset_ms,
                    frozen_at,
                }
            }),
        )
    }

    /// Stores the shared clock setting.
    pub async fn store_clock_setting(&self, setting: ClockSetting) -> Result<(), StoreError> {
        let store =
            sqlx::query("UPDATE test_clock SET offset_ms = $1, frozen_at_ms = $2 WHERE id = 1");
        self.write_statement(store.bind(setting.offset_ms).bind(setting.frozen_at))
            .await?;
        Ok(())
    }

    /// Deletes every certificate and host (and whatever else `RESET_TABLES` names) of
    /// `project`, or of every project, and their events (with any pending webhook deliveries);
    /// projects and their credentials stay, and the reset records no event. Returns the number
    /// of certificates and hosts deleted. One transaction: a concurrent reader sees all or
    /// nothing.
    pub async fn reset(&self, project: Option<&ProjectId>) -> Result<u64, StoreError> {
        let (_turn, mut tx) = self.begin_write().await?;
        let mut deleted = 0;
        for table in RESET_TABLES {
            let sql = format!("DELETE FROM {table}");
            deleted += in_project(&mut tx, &sql, "project_id", project).await?;
        }
        in_project(&mut tx, "DELETE FROM events", "project_id", project).await?;
        let recount = "UPDATE projects SET certificate_count = 0";
        in_project(&mut tx, recount, "id", project).await?;
        tx.commit().await?;
        Ok(deleted)
    }
}

/// Runs `sql` (a `DELETE` or `UPDATE` without `WHERE`) on the rows whose `column` is
/// `project`, or on every row; returns the rows it changed.
async fn in_project(
    conn: &mut AnyConnection,
    sql: &str,
    column: &str,
    project: Option<&ProjectId>,
) -> Result<u64, sqlx::Error> {
    let done = match project {
        Some(p) => {
            let sql = format!("{sql} WHERE {column} = $1");
            sqlx::query(AssertSqlSafe(sql))
                .bind(p.as_str())
                .execute(conn)
                .await?
        }
        None => sqlx::query(AssertSqlSafe(sql)).execute(conn).await?,
    };
    Ok(done.rows_affected())
}
