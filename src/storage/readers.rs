//! A few connections held outside the pool for the hot reads: the credential check, the
//! statements of a list page and of a certificate. sqlx 0.9 tests every pooled connection as
//! it comes back (`PoolConnection`'s drop spawns a task that pings it: one more round trip to
//! PostgreSQL, or to SQLite's worker thread, per statement; unconditional, whatever the pool's
//! options). A connection held here is only unlocked after use.
//!
//! A held connection is dropped, and replaced on its next use, when a statement on it fails or
//! is cancelled halfway (the request timed out, the client went away): it may then be in a
//! state only a fresh connection is sure not to have. When every held connection is busy, the
//! read takes one from the pool, as before.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicUsize, Ordering};

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool};
use tokio::sync::{Mutex, MutexGuard};

/// Connections held for reads, taken from `pool` when first needed.
#[derive(Debug)]
pub(super) struct Readers {
    slots: Vec<Mutex<Option<AnyConnection>>>,
    /// Where the next search for a free slot starts, so the slots share the load.
    next: AtomicUsize,
}

impl Readers {
    /// `count` held connections (0: every read uses the pool).
    pub(super) fn new(count: usize) -> Self {
        Self {
            slots: (0..count).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
        }
    }

    /// Drops the held connections that are not lent (the store is closing).
    pub(super) fn close(&self) {
        for slot in &self.slots {
            if let Ok(mut conn) = slot.try_lock() {
                conn.take();
            }
        }
    }

    /// A connection to read on: a free held one (connected through `pool`, with its setup, on
    /// first use), or else one from `pool`.
    pub(super) async fn get(&self, pool: &AnyPool) -> Result<Reader<'_>, sqlx::Error> {
        let count = self.slots.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        for i in 0..count {
            let Ok(mut slot) = self.slots[(start + i) % count].try_lock() else {
                continue;
            };
            if slot.is_none() {
                *slot = Some(pool.acquire().await?.detach());
            }
            return Ok(Reader {
                conn: Held::Slot(slot),
                settled: false,
            });
        }
        Ok(Reader {
            conn: Held::Pooled(pool.acquire().await?),
            settled: true,
        })
    }
}

/// A connection lent for reading; deref it to use it as an executor, and call
/// [`Reader::done`] after the statements succeeded. Dropped without that (a statement failed
/// and `?` returned, or the request was cancelled), a held connection is discarded.
pub(super) struct Reader<'a> {
    conn: Held<'a>,
    settled: bool,
}

enum Held<'a> {
    Slot(MutexGuard<'a, Option<AnyConnection>>),
    Pooled(PoolConnection<Any>),
}

impl Reader<'_> {
    /// The statements run on this connection succeeded: it may be lent again.
    pub(super) fn done(mut self) {
        self.settled = true;
    }
}

impl Deref for Reader<'_> {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        match &self.conn {
            // `get` fills the slot before lending it, and only `drop` empties it.
            Held::Slot(slot) => slot.as_ref().unwrap_or_else(|| unreachable!()),
            Held::Pooled(conn) => conn,
        }
    }
}

impl DerefMut for Reader<'_> {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match &mut self.conn {
            Held::Slot(slot) => slot.as_mut().unwrap_or_else(|| unreachable!()),
            Held::Pooled(conn) => conn,
        }
    }
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        if let (false, Held::Slot(slot)) = (self.settled, &mut self.conn) {
            slot.take();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn pool(dir: &tempfile::TempDir) -> AnyPool {
        sqlx::any::install_default_drivers();
        let url = format!("sqlite://{}/r.db?mode=rwc", dir.path().display());
        sqlx::any::AnyPoolOptions::new()
            .max_connections(4)
            .connect(&url)
            .await
            .unwrap()
    }

    /// Whether `sql` fails on `conn`.
    async fn fails(conn: &mut AnyConnection, sql: &'static str) -> bool {
        sqlx::query(sql).execute(conn).await.is_err()
    }

    #[tokio::test]
    async fn a_held_connection_is_reused_after_success_and_replaced_after_a_failure() {
        let dir = tempfile::tempdir().unwrap();
        let pool = pool(&dir).await;
        let readers = Readers::new(1);
        let mut r = readers.get(&pool).await.unwrap();
        sqlx::query("CREATE TEMP TABLE mark (x)")
            .execute(&mut *r)
            .await
            .unwrap();
        r.done();
        // The same connection comes back: its temporary table is there.
        let mut r = readers.get(&pool).await.unwrap();
        let seen: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM temp.mark")
            .fetch_one(&mut *r)
            .await
            .unwrap();
        assert_eq!(seen, 0);
        // While it is lent, a second reader gets a pooled connection: another one, which has
        // no such table.
        let mut other = readers.get(&pool).await.unwrap();
        assert!(matches!(other.conn, Held::Pooled(_)));
        assert!(fails(&mut other, "SELECT COUNT(*) FROM temp.mark").await);
        drop(other);
        // Not marked done (a failed statement): discarded, the next reader connects anew.
        assert!(fails(&mut r, "SELECT * FROM no_such_table").await);
        drop(r);
        let mut r = readers.get(&pool).await.unwrap();
        assert!(
            fails(&mut r, "SELECT COUNT(*) FROM temp.mark").await,
            "a new connection has no temporary table"
        );
    }
}
