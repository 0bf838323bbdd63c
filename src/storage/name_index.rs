//! Upkeep of SQLite's FTS5 name index (`certificates_name_fts`, migration 0008). FTS5 adds a
//! segment to the index for every writing transaction and merges them only in steps
//! (`automerge`), and a search seeks every segment: a database bulk-loaded 5,000 rows per
//! transaction kept 8 segments, and one search statement took 17.5 us instead of 9-13 us once
//! they were merged (BENCHMARKS.md, session 6). After writes pause, this merges the segments
//! into one, a short write transaction at a time, so API writes never wait long behind it.
//! PostgreSQL's trigram index is a GIN index updated in place (`fastupdate = off`, migration
//! 0010): it has nothing to merge.

use std::time::Duration;

use tokio::sync::watch;

use super::{Backend, Store, StoreError};

/// Pages of the index one merge step writes: a step is one write transaction of a few
/// milliseconds.
const MERGE_STEP_PAGES: i64 = 32;

/// Steps one merge takes at most: a bound, not an expectation (the benchmark's index of
/// 100,000 names in 8 segments merged in 15 steps).
const MERGE_MAX_STEPS: u32 = 16_384;

/// How long writes must pause before the upkeep merges what they added.
const UPKEEP_QUIET: Duration = Duration::from_secs(5);

/// How long after a write the upkeep merges even if writes have not paused.
const UPKEEP_LATEST: Duration = Duration::from_secs(60);

impl Store {
    /// Merges the FTS5 name index's segments into one, in steps of [`MERGE_STEP_PAGES`], each
    /// its own write transaction; returns the steps that merged something (0: it was one
    /// segment already, or the database is PostgreSQL).
    pub async fn merge_name_index(&self) -> Result<u32, StoreError> {
        if self.backend != Backend::Sqlite {
            return Ok(0);
        }
        // FTS5's recipe: the first step with a negative count puts every segment on one level
        // and starts merging them; positive steps continue until one does no work.
        let mut pages = -MERGE_STEP_PAGES;
        let mut steps = 0;
        while steps < MERGE_MAX_STEPS && self.merge_name_index_step(pages).await? {
            steps += 1;
            pages = MERGE_STEP_PAGES;
            tokio::task::yield_now().await;
        }
        Ok(steps)
    }

    /// One merge step of at most `pages` pages (see [`Store::merge_name_index`]); whether it
    /// wrote anything besides the command itself.
    async fn merge_name_index_step(&self, pages: i64) -> Result<bool, StoreError> {
        let (_turn, mut tx) = self.begin_immediate_write().await?;
        let before: i64 = sqlx::query_scalar("SELECT total_changes()")
            .fetch_one(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO certificates_name_fts (certificates_name_fts, rank) VALUES ('merge', $1)",
        )
        .bind(pages)
        .execute(&mut *tx)
        .await?;
        let after: i64 = sqlx::query_scalar("SELECT total_changes()")
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        // The command counts as one change; the segments it wrote as more.
        Ok(after - before >= 2)
    }
}

/// Keeps SQLite's name index merged for the life of the server: at start (a bulk load by
/// another process leaves segments behind), then once this process's writes pause for
/// [`UPKEEP_QUIET`] (or [`UPKEEP_LATEST`] after the first of them). Returns at once on
/// PostgreSQL.
pub async fn run_name_index_upkeep(store: Store) {
    if store.backend != Backend::Sqlite {
        return;
    }
    let mut commits = store.subscribe_commits();
    loop {
        match store.merge_name_index().await {
            Ok(0) => {}
            Ok(steps) => tracing::info!(steps, "name search index merged"),
            Err(e) => {
                // Tried again later whatever writes do (a busy or full database passes).
                tracing::warn!(error = %e, "merging the name search index failed");
                tokio::time::sleep(UPKEEP_LATEST).await;
                continue;
            }
        }
        if !writes_paused(&mut commits).await {
            return;
        }
    }
}

/// Waits for a write, then for writes to pause; false once the store is gone.
async fn writes_paused(commits: &mut watch::Receiver<u64>) -> bool {
    if commits.changed().await.is_err() {
        return false;
    }
    let latest = tokio::time::Instant::now() + UPKEEP_LATEST;
    loop {
        let quiet = (tokio::time::Instant::now() + UPKEEP_QUIET).min(latest);
        match tokio::time::timeout_at(quiet, commits.changed()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return false,
            Err(_) => return true,
        }
    }
}
