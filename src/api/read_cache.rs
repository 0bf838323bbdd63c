//! A read cache for certificate pages and single certificates, safe to lose and safe across
//! replicas: every entry is tagged with the project's version (a counter that every write to
//! the project's certificates or hosts bumps in the database, in the writing transaction), and
//! an entry is used only when the caller's credential check, which reads the version in the
//! same statement, saw the same version. A write on any replica therefore makes every cached
//! read of that project stale at once.
//!
//! Entries hold stored values only; anything that depends on the clock (`exp_status`) is
//! computed when the answer is rendered, and queries filtered by expiry are never cached.
//!
//! The cache is bounded by bytes (an estimate of each entry's heap use), and a page too large
//! to be worth keeping, such as an unpaged list of thousands of certificates, is not kept.

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

/// Bytes of cached pages, and separately of cached certificates, one server keeps.
const MAX_BYTES: usize = 16 * 1024 * 1024;

/// Rough heap bytes of an entry besides its text (struct, allocation and map overhead).
const OVERHEAD: usize = 96;

impl CachedPage {
    /// Estimated heap bytes.
    fn weight(&self) -> usize {
        let items: usize = self
            .items
            .iter()
            .map(|c| OVERHEAD + c.id.len() + c.name.len())
            .sum();
        let bound: usize = self.bound.iter().map(host_weight).sum();
        OVERHEAD + items + bound
    }
}

impl CachedCertificate {
    /// Estimated heap bytes.
    fn weight(&self) -> usize {
        let r = &self.record;
        let bound: usize = self.bound.iter().map(host_weight).sum();
        OVERHEAD + r.id.len() + r.name.len() + r.content.len() + r.sealed_key.len() + bound
    }
}

fn host_weight(h: &BoundHost) -> usize {
    OVERHEAD + h.certificate_id.len() + h.id.len() + h.hostname.len()
}

/// The cache shared by a server's request handlers.
#[derive(Debug)]
pub struct ReadCache {
    pages: TaggedCache<PageKey, i64, CachedPage>,
    certificates: TaggedCache<(String, String), i64, CachedCertificate>,
}

impl Default for ReadCache {
    fn default() -> Self {
        Self {
            pages: TaggedCache::with_max_bytes(MAX_BYTES),
            certificates: TaggedCache::with_max_bytes(MAX_BYTES),
        }
    }
}

impl ReadCache {
    /// The page read at `version`, if cached.
    pub fn page(&self, key: &PageKey, version: i64) -> Option<Arc<CachedPage>> {
        self.pages.get(key, &version)
    }

    /// Remembers a page read after the credential check saw `version`.
    pub fn put_page(&self, key: PageKey, version: i64, page: Arc<CachedPage>) {
        let bytes = page.weight() + key.name.as_ref().map_or(0, String::len);
        self.pages.put(key, version, page, bytes);
    }

    /// The certificate read at `version`, if cached.
    pub fn certificate(
        &self,
        project: &str,
        id: &str,
        version: i64,
    ) -> Option<Arc<CachedCertificate>> {
        self.certificates
            .get(&(project.to_owned(), id.to_owned()), &version)
    }

    /// Remembers a certificate read after the credential check saw `version`.
    pub fn put_certificate(&self, project: &str, version: i64, value: Arc<CachedCertificate>) {
        let key = (project.to_owned(), value.record.id.clone());
        let bytes = value.weight();
        self.certificates.put(key, version, value, bytes);
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

    fn page(total: i64) -> Arc<CachedPage> {
        Arc::new(CachedPage {
            total,
            items: Vec::new(),
            bound: Vec::new(),
        })
    }

    #[test]
    fn entries_serve_only_their_version() {
        let cache = ReadCache::default();
        cache.put_page(key(0), 7, page(3));
        assert_eq!(cache.page(&key(0), 7).map(|p| p.total), Some(3));
        assert!(
            cache.page(&key(0), 8).is_none(),
            "a newer version makes it stale"
        );
        assert!(cache.page(&key(10), 7).is_none());
    }

    #[test]
    fn large_pages_are_not_kept_and_bytes_are_bounded() {
        let cache = ReadCache::default();
        let summary = |i: usize| CertificateSummary {
            id: format!("{i:032x}"),
            name: format!("certificate-{i}"),
            expire_time: 0,
            created_at: 0,
        };
        let big = Arc::new(CachedPage {
            total: 33_000,
            items: (0..33_000).map(summary).collect(),
            bound: Vec::new(),
        });
        cache.put_page(key(0), 1, big);
        assert!(
            cache.page(&key(0), 1).is_none(),
            "an unpaged list of 33,000"
        );
        let medium = |n: usize| {
            Arc::new(CachedPage {
                total: 1,
                items: (0..n).map(summary).collect(),
                bound: Vec::new(),
            })
        };
        for i in 0..200 {
            cache.put_page(key(i), 1, medium(5_000));
            assert!(cache.pages.bytes() <= MAX_BYTES);
        }
        assert!(cache.page(&key(199), 1).is_some());
    }

    #[test]
    fn capacity_is_bounded() {
        let cache = ReadCache::default();
        for i in 0..5000 {
            cache.put_page(key(i), 1, page(i));
        }
        let len = cache.pages.len();
        assert!(len <= 4096);
    }
}
