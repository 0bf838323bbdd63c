//! Detects commits to an SQLite database by any process, without a query: in WAL mode every
//! transaction rewrites the wal-index header at the start of the `-shm` file (documented in
//! SQLite's "WAL-mode File Format": its `iChange` counter is incremented by each transaction,
//! and `mxFrame` and the checksums change with every commit). Reading those 48 bytes is one
//! `pread` of shared memory, far cheaper than a statement through the driver.
//!
//! Callers use the header as a stamp: a value cached together with the stamp read *before* the
//! value was read from the database is current as long as the stamp has not changed.
//!
//! The stamp is only meaningful while the file read is the live `-shm` of the database. SQLite
//! deletes that file when the last connection holding the WAL open closes (and a later one
//! creates a new file, which an old handle would never see). So the watch keeps a connection
//! that has run a read: it holds the WAL open and a shared lock on the database file, and no
//! connection of any process can then delete `-shm`. Each stamp also checks that the handle is
//! still linked (its link count, by `fstat`: deleted, or replaced by a file renamed over it,
//! both unlink it); if not, there is no stamp, and callers verify against the database every
//! time.
//!
//! Unix only (it reads the shared-memory file by position and checks link counts); elsewhere the
//! store offers no stamp and every credential is checked against the database.

use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};

use super::{ChangeStamp, STAMP_LEN};

/// Watches one SQLite database's `-shm` file.
#[derive(Debug)]
pub struct ChangeWatch {
    shm: File,
    /// A connection that has read from the database, so it holds the WAL and `-shm` open and
    /// keeps them from being deleted. Never used again; in a mutex only to make the watch
    /// shareable between threads.
    _keeper: std::sync::Mutex<sqlx::AnyConnection>,
}

impl ChangeWatch {
    /// Makes `keeper` (a connection to the WAL-mode database at `db_path`, after migrations)
    /// read from the database so it holds the WAL open, then opens the `-shm` file. `None`
    /// when there is no such file (in-memory databases, or a database not in WAL mode).
    pub async fn open(
        db_path: &str,
        mut keeper: sqlx::AnyConnection,
    ) -> Result<Option<Self>, sqlx::Error> {
        sqlx::query("SELECT COUNT(*) FROM sqlite_master")
            .execute(&mut keeper)
            .await?;
        let Ok(shm) = File::open(format!("{db_path}-shm")) else {
            return Ok(None);
        };
        Ok(Some(Self {
            shm,
            _keeper: std::sync::Mutex::new(keeper),
        }))
    }

    /// The current header; `None` when it cannot be read or the file read is no longer the
    /// database's live `-shm` (callers then skip their caches).
    pub fn stamp(&self) -> Option<ChangeStamp> {
        if !self.is_live() {
            return None;
        }
        let mut header = [0u8; STAMP_LEN];
        self.shm.read_exact_at(&mut header, 0).ok()?;
        Some(header)
    }

    /// Whether the open handle is still linked: not unlinked, and not replaced by a file
    /// renamed over the path (which unlinks it too). One `fstat` of the handle, not a `stat` of
    /// the path: the path walk cost about 5% of the server's CPU per SQLite request (issue 16,
    /// session 12). A `-shm` renamed away while in use (SQLite's "how to corrupt" list) is not
    /// seen; SQLite never does it.
    fn is_live(&self) -> bool {
        self.shm.metadata().is_ok_and(|meta| meta.nlink() > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::sqlite_path;

    async fn keeper(url: &str) -> sqlx::AnyConnection {
        use sqlx::Connection;
        sqlx::AnyConnection::connect(&format!("{url}?mode=rw"))
            .await
            .unwrap()
    }

    async fn open_store(url: &str) -> crate::storage::Store {
        crate::storage::Store::open(url, crate::storage::PoolSettings::default())
            .await
            .unwrap()
    }

    /// A new database file named `file` in a fresh directory (deleted when the returned guard
    /// drops), its URL, and a store on it.
    async fn new_database(file: &str) -> (tempfile::TempDir, String, crate::storage::Store) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/{file}", dir.path().display());
        let store = open_store(&url).await;
        (dir, url, store)
    }

    #[tokio::test]
    async fn every_commit_changes_the_stamp_and_reads_do_not() {
        let (_dir, url, store) = new_database("w.db").await;
        let watch = ChangeWatch::open(&sqlite_path(&url).unwrap(), keeper(&url).await)
            .await
            .unwrap()
            .unwrap();
        let before = watch.stamp().unwrap();
        store.project_count().await.unwrap();
        assert_eq!(watch.stamp().unwrap(), before, "a read changes nothing");
        let project = crate::domain::ProjectId::random();
        store.ensure_project(&project, None, 0).await.unwrap();
        let after = watch.stamp().unwrap();
        assert_ne!(after, before, "a commit changes the stamp");
        // A commit by another process (here: another pool, as the admin commands use).
        let other = open_store(&url).await;
        other.revoke_token("no-such-hash").await.unwrap();
        other
            .ensure_project(&crate::domain::ProjectId::random(), None, 0)
            .await
            .unwrap();
        assert_ne!(watch.stamp().unwrap(), after);
    }

    #[tokio::test]
    async fn a_brand_new_database_is_watched() {
        let (_dir, _url, store) = new_database("new.db").await;
        assert!(store.change_stamp().is_some());
    }

    #[tokio::test]
    async fn closing_every_pool_connection_keeps_the_watched_file_live() {
        let (_dir, url, store) = new_database("c.db").await;
        let before = store.change_stamp().unwrap();
        // The last pool connection closes: SQLite would delete `-shm` if nothing held the WAL.
        store.close().await;
        let other = open_store(&url).await;
        other
            .ensure_project(&crate::domain::ProjectId::random(), None, 0)
            .await
            .unwrap();
        let after = store.change_stamp();
        assert!(
            after.is_some_and(|a| a != before),
            "a commit after every pool connection closed must change the stamp"
        );
    }

    #[tokio::test]
    async fn a_replaced_or_deleted_file_gives_no_stamp() {
        let (_dir, url, store) = new_database("d.db").await;
        assert!(store.change_stamp().is_some());
        let shm = format!("{}-shm", sqlite_path(&url).unwrap());
        std::fs::remove_file(&shm).unwrap();
        assert!(store.change_stamp().is_none(), "unlinked");
        std::fs::write(&shm, [0u8; 4096]).unwrap();
        assert!(store.change_stamp().is_none(), "another file at the path");
    }

    #[tokio::test]
    async fn a_file_renamed_over_the_watched_one_gives_no_stamp() {
        let (dir, url, store) = new_database("r.db").await;
        assert!(store.change_stamp().is_some());
        let other = dir.path().join("other");
        std::fs::write(&other, [0u8; 4096]).unwrap();
        std::fs::rename(&other, format!("{}-shm", sqlite_path(&url).unwrap())).unwrap();
        assert!(store.change_stamp().is_none(), "replaced by a rename");
    }
}
