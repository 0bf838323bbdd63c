//! A read cache for certificate pages and single certificates, safe to lose and safe across
//! replicas: every entry is tagged with the project's version (a counter that every write to
//! the project's certificates or hosts bumps in the database, in the writing transaction), and
//! an entry is used only when the caller's credential check, which reads the version in the
//! same statement, saw the same version. A write on any replica therefore makes every cached
//! read of that project stale at once.
//!
//! Entries hold stored values only; anything that depends on the clock (`exp_status`) is
//! computed when the answer is rendered, and queries filtered by expiry are never cached.

use std::hash::Hash;
use std::sync::Arc;

use crate::storage::{BoundHost, CertificateRecord, CertificateSummary};
use crate::tagged_cache::TaggedCache;

/// Which page of which project: the cacheable part of a list query.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PageKey {
    /// The project.
    pub project: String,
    /// Name substring filter.
    pub name: Option<String>,
    /// Page size (`None` = all).
    pub limit: Option<i64>,
    /// Rows skipped.
    pub offset: i64,
    /// Whether bound hosts were read too.
    pub with_hosts: bool,
}

/// A page as read from the store.
#[derive(Debug)]
pub struct CachedPage {
    /// Number of all matches.
    pub total: i64,
    /// The page's certificates.
    pub items: Vec<CertificateSummary>,
    /// Hosts bound to the page's certificates (empty unless read with hosts).
    pub bound: Vec<BoundHost>,
}

/// A certificate as read from the store, with the hosts bound to it.
#[derive(Debug)]
pub struct CachedCertificate {
    /// The stored row (key still sealed).
    pub record: CertificateRecord,
    /// Hosts using it.
    pub bound: Vec<BoundHost>,
}

/// The key of a cached certificate: its project and id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CertificateKey {
    /// The project.
    pub project: String,
    /// The certificate id.
    pub id: String,
}

/// A kind of value the cache holds, and the map that holds it; lets [`ReadCache::read_through`]
/// serve every kind with one piece of logic.
pub trait Cached: Sized {
    /// What an entry is looked up by.
    type Key: Eq + Hash;
    /// The map of this kind.
    fn map(cache: &ReadCache) -> &TaggedCache<Self::Key, i64, Self>;
}

impl Cached for CachedPage {
    type Key = PageKey;
    fn map(cache: &ReadCache) -> &TaggedCache<PageKey, i64, Self> {
        &cache.pages
    }
}

impl Cached for CachedCertificate {
    type Key = CertificateKey;
    fn map(cache: &ReadCache) -> &TaggedCache<CertificateKey, i64, Self> {
        &cache.certificates
    }
}

/// The cache shared by a server's request handlers.
#[derive(Debug, Default)]
pub struct ReadCache {
    pages: TaggedCache<PageKey, i64, CachedPage>,
    certificates: TaggedCache<CertificateKey, i64, CachedCertificate>,
}

impl ReadCache {
    /// The value cached under `key` for the project `version` the caller's credential check
    /// saw; otherwise `read` runs and its value is remembered under that version. A `None` key
    /// (an answer that depends on more than the stored data) always reads and is never kept.
    pub async fn read_through<V: Cached, E>(
        &self,
        key: Option<V::Key>,
        version: i64,
        read: impl Future<Output = Result<V, E>>,
    ) -> Result<Arc<V>, E> {
        if let Some(hit) = key.as_ref().and_then(|k| V::map(self).get(k, &version)) {
            return Ok(hit);
        }
        let value = Arc::new(read.await?);
        if let Some(k) = key {
            V::map(self).put(k, version, Arc::clone(&value));
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(offset: i64) -> PageKey {
        PageKey {
            project: "p".to_owned(),
            name: None,
            limit: Some(10),
            offset,
            with_hosts: true,
        }
    }

    fn page(total: i64) -> CachedPage {
        CachedPage {
            total,
            items: Vec::new(),
            bound: Vec::new(),
        }
    }

    /// Reads through the cache; `Err(())` marks a read of the store.
    fn read(cache: &ReadCache, key: Option<PageKey>, version: i64, total: i64) -> Result<i64, ()> {
        let mut read = false;
        let got = block_on(cache.read_through(key, version, async {
            read = true;
            Ok::<_, ()>(page(total))
        }))?;
        if read { Err(()) } else { Ok(got.total) }
    }

    /// Polls a future that never waits (the reads above are ready at once).
    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn entries_serve_only_their_version() {
        let cache = ReadCache::default();
        assert_eq!(
            read(&cache, Some(key(0)), 7, 3),
            Err(()),
            "first read goes to the store"
        );
        assert_eq!(read(&cache, Some(key(0)), 7, 99), Ok(3));
        assert_eq!(
            read(&cache, Some(key(0)), 8, 4),
            Err(()),
            "a newer version makes it stale"
        );
        assert_eq!(read(&cache, Some(key(10)), 8, 5), Err(()));
        assert_eq!(read(&cache, None, 8, 5), Err(()), "no key: never cached");
        assert_eq!(read(&cache, None, 8, 5), Err(()));
    }

    #[test]
    fn capacity_is_bounded() {
        let cache = ReadCache::default();
        for i in 0..5000 {
            let _ = read(&cache, Some(key(i)), 1, i);
        }
        let len = cache.pages.len();
        assert!(len <= 4096);
    }
}
