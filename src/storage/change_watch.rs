//! Detects commits to an SQLite database by any process, without a query: in WAL mode every
//! transaction rewrites the wal-index header at the start of the `-shm` file (documented in
//! SQLite's "WAL-mode File Format": its `iChange` counter is incremented by each transaction,
//! and `mxFrame` and the checksums change with every commit). Reading those 48 bytes is one
//! `pread` of shared memory, far cheaper than a statement through the driver.
//!
//! Callers use the header as a stamp: a value cached together with the stamp read *before* the
//! value was read from the database is current as long as the stamp has not changed.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

/// Size of one copy of the wal-index header.
pub const STAMP_LEN: usize = 48;

/// A snapshot of the wal-index header.
pub type ChangeStamp = [u8; STAMP_LEN];

/// Watches one SQLite database's `-shm` file.
#[derive(Debug)]
pub struct ChangeWatch {
    shm: File,
    /// SQLite deletes the `-shm` file when the last connection to the database closes, and a
    /// later connection creates a new one, which this handle would not see. This connection is
    /// never used; it only stays open so the file lives as long as the watch.
    /// (In a mutex only to make the watch shareable between threads.)
    _keeper: std::sync::Mutex<sqlx::AnyConnection>,
}

impl ChangeWatch {
    /// Opens the `-shm` file of a WAL-mode database at `db_path`, holding `keeper` open; `None`
    /// when there is no such file (in-memory databases, or a database not in WAL mode).
    pub fn open(db_path: &str, keeper: sqlx::AnyConnection) -> Option<Self> {
        let path = PathBuf::from(format!("{db_path}-shm"));
        File::open(path).ok().map(|shm| Self {
            shm,
            _keeper: std::sync::Mutex::new(keeper),
        })
    }

    /// The current header; `None` when it cannot be read (callers then skip their caches).
    pub fn stamp(&self) -> Option<ChangeStamp> {
        let mut header = [0u8; STAMP_LEN];
        self.shm.read_exact_at(&mut header, 0).ok()?;
        Some(header)
    }
}

/// The file path of an `sqlite:` URL, or `None` for in-memory databases.
pub fn sqlite_path(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && !path.contains(":memory:")).then(|| path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_of_sqlite_urls() {
        assert_eq!(
            sqlite_path("sqlite:///tmp/a.db?mode=rwc").as_deref(),
            Some("/tmp/a.db")
        );
        assert_eq!(
            sqlite_path("sqlite:wafcert.db").as_deref(),
            Some("wafcert.db")
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://x/y"), None);
    }

    #[tokio::test]
    async fn every_commit_changes_the_stamp_and_reads_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/w.db", dir.path().display());
        let store = crate::storage::Store::open(&url, crate::storage::PoolSettings::default())
            .await
            .unwrap();
        let keeper = {
            use sqlx::Connection;
            sqlx::AnyConnection::connect(&format!("{url}?mode=rw"))
                .await
                .unwrap()
        };
        let watch = ChangeWatch::open(&sqlite_path(&url).unwrap(), keeper).unwrap();
        let before = watch.stamp().unwrap();
        store.project_count().await.unwrap();
        assert_eq!(watch.stamp().unwrap(), before, "a read changes nothing");
        let project = crate::domain::ProjectId::random();
        store.ensure_project(&project, None, 0).await.unwrap();
        let after = watch.stamp().unwrap();
        assert_ne!(after, before, "a commit changes the stamp");
        // A commit by another process (here: another pool, as the admin commands use).
        let other = crate::storage::Store::open(&url, crate::storage::PoolSettings::default())
            .await
            .unwrap();
        other.revoke_token("no-such-hash").await.unwrap();
        other
            .ensure_project(&crate::domain::ProjectId::random(), None, 0)
            .await
            .unwrap();
        assert_ne!(watch.stamp().unwrap(), after);
    }
}
