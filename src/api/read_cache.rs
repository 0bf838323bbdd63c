//! A read cache for certificate pages and single certificates, safe to lose and safe across
//! replicas: every entry is tagged with the project's version (a counter that every write to
//! the project's certificates or hosts bumps in the database, in the writing transaction), and
//! an entry is used only when the caller's credential check, which reads the version in the
//! same statement, saw the same version. A write on any replica therefore makes every cached
//! read of that project stale at once.
//!
//! Entries hold stored values only; anything that depends on the clock (`exp_status`) is
//! computed when the answer is rendered. A page filtered by expiry depends on the certificate
//! clock too: it is kept with the instant it was read at and the project's next expiry change
//! ([`crate::domain::ExpiryStatus::next_change`]), and used only while the clock stands between
//! the two, so moving the test clock past a boundary makes it stale at once.
//!
//! The cache is bounded by bytes (an estimate of each entry's heap use), and a page too large
//! to be worth keeping, such as an unpaged list of thousands of certificates, is not kept.

use std::hash::Hash;
use std::sync::Arc;

use crate::domain::Millis;
use crate::storage::{BoundHost, CertificateRecord, CertificateSummary, PageWindow};
use crate::tagged_cache::TaggedCache;

/// Which page of which project: the cacheable part of a list query.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PageKey {
    /// The project.
    pub project: String,
    /// Name substring filter.
    pub name: Option<String>,
    /// Which rows.
    pub window: PageWindow,
    /// Whether bound hosts were read too.
    pub with_hosts: bool,
    /// The `exp_status` filter's wire code, if any.
    pub exp_status: Option<i32>,
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
    /// For a page that depends on the certificate clock: the first instant it may differ
    /// (`Some(Millis::MAX)`: never again); `None` for a page of stored data only.
    pub changes_at: Option<Millis>,
    /// The page's JSON answer, once rendered.
    pub rendered: Rendered,
    /// An answer that costs no more to find again than to look up: an empty page answered
    /// from the in-memory name index. Not kept, so a stream of distinct searches that match
    /// nothing does not crowd the cache.
    pub cheap_to_redo: bool,
}

/// An answer rendered from a cached value, with the range of the certificate clock it holds
/// for (its `exp_status` codes change at boundaries): a page asked for again is answered with
/// these bytes, not serialized again.
#[derive(Debug, Default)]
pub struct Rendered(std::sync::Mutex<Option<RenderedBody>>);

/// What [`Rendered`] keeps: the bytes, valid while the clock stands in `[from, until)`.
#[derive(Debug, Clone)]
pub struct RenderedBody {
    /// The JSON.
    pub bytes: axum::body::Bytes,
    /// First instant the bytes hold for.
    pub from: Millis,
    /// First instant they may no longer hold for.
    pub until: Millis,
}

impl Rendered {
    /// The answer for certificate time `now`: the kept one if it holds then, else `render`'s
    /// (kept for the next request).
    pub fn get_or_render<E>(
        &self,
        now: Millis,
        render: impl FnOnce() -> Result<RenderedBody, E>,
    ) -> Result<axum::body::Bytes, E> {
        let kept = self.0.lock().ok().and_then(|kept| kept.clone());
        if let Some(body) = kept.filter(|b| b.from <= now && now < b.until) {
            return Ok(body.bytes);
        }
        let body = render()?;
        let bytes = body.bytes.clone();
        if let Ok(mut kept) = self.0.lock() {
            *kept = Some(body);
        }
        Ok(bytes)
    }
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
    fn map(cache: &ReadCache) -> &TaggedCache<Self::Key, Validity, Self>;
    /// Estimated heap bytes of the value.
    fn weight(&self) -> usize;
    /// For a value that depends on the certificate clock, the first instant after the read
    /// at which it may differ; `None` (the default) for a value of stored data only.
    fn changes_at(&self) -> Option<Millis> {
        None
    }
    /// Whether the value should be kept (the default: yes).
    fn worth_keeping(&self) -> bool {
        true
    }
}

/// What an entry is valid for: the project version it was read under and, for values that
/// depend on the certificate clock, the clock's range `[from, until)` it holds in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    version: i64,
    from: Millis,
    until: Millis,
}

impl Validity {
    /// Whether an entry with this validity answers a caller that saw `version` at `now`.
    fn covers(&self, version: i64, now: Millis) -> bool {
        self.version == version && self.from <= now && now < self.until
    }
}

/// Bytes of cached pages, and separately of cached certificates, one server keeps.
const MAX_BYTES: usize = 16 * 1024 * 1024;

/// Rough heap bytes of an entry besides its text (struct, allocation and map overhead).
const OVERHEAD: usize = 96;

fn host_weight(h: &BoundHost) -> usize {
    OVERHEAD + h.certificate_id.as_str().len() + h.id.as_str().len() + h.hostname.len()
}

impl Cached for CachedPage {
    type Key = PageKey;
    fn map(cache: &ReadCache) -> &TaggedCache<PageKey, Validity, Self> {
        &cache.pages
    }
    fn changes_at(&self) -> Option<Millis> {
        self.changes_at
    }
    fn worth_keeping(&self) -> bool {
        !self.cheap_to_redo
    }
    fn weight(&self) -> usize {
        let items: usize = self
            .items
            .iter()
            .map(|c| OVERHEAD + c.id.as_str().len() + c.name.len())
            .sum();
        let bound: usize = self.bound.iter().map(host_weight).sum();
        OVERHEAD + items + bound
    }
}

impl Cached for CachedCertificate {
    type Key = CertificateKey;
    fn map(cache: &ReadCache) -> &TaggedCache<CertificateKey, Validity, Self> {
        &cache.certificates
    }
    fn weight(&self) -> usize {
        let r = &self.record;
        let bound: usize = self.bound.iter().map(host_weight).sum();
        OVERHEAD + r.id.as_str().len() + r.name.len() + r.content.len() + r.sealed_key.len() + bound
    }
}

/// The cache shared by a server's request handlers.
#[derive(Debug)]
pub struct ReadCache {
    pages: TaggedCache<PageKey, Validity, CachedPage>,
    certificates: TaggedCache<CertificateKey, Validity, CachedCertificate>,
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
    /// The value cached under `key` for the project `version` the caller's credential check
    /// saw, at certificate time `now`; otherwise `read` (which must read as of `now`) runs and
    /// its value is remembered under that version. A `None` key (an answer that depends on
    /// more than the stored data and the clock) always reads and is never kept.
    pub async fn read_through<V: Cached, E>(
        &self,
        key: Option<V::Key>,
        version: i64,
        now: Millis,
        read: impl Future<Output = Result<V, E>>,
    ) -> Result<Arc<V>, E> {
        if let Some(hit) = key
            .as_ref()
            .and_then(|k| V::map(self).get_if(k, |v| v.covers(version, now)))
        {
            return Ok(hit);
        }
        let value = Arc::new(read.await?);
        if let Some(k) = key.filter(|_| value.worth_keeping()) {
            let bytes = value.weight();
            let (from, until) = match value.changes_at() {
                None => (Millis::MIN, Millis::MAX),
                Some(until) => (now, until),
            };
            let validity = Validity {
                version,
                from,
                until,
            };
            V::map(self).put(k, validity, Arc::clone(&value), bytes);
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
            window: PageWindow {
                limit: Some(10),
                offset,
            },
            with_hosts: true,
            exp_status: None,
        }
    }

    fn page(total: i64) -> CachedPage {
        CachedPage {
            total,
            items: Vec::new(),
            bound: Vec::new(),
            changes_at: None,
            rendered: Rendered::default(),
            cheap_to_redo: false,
        }
    }

    /// Reads through the cache; `Err(())` marks a read of the store.
    fn read(cache: &ReadCache, key: Option<PageKey>, version: i64, total: i64) -> Result<i64, ()> {
        let mut read = false;
        let got = block_on(cache.read_through(key, version, 0, async {
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
    fn pages_cheap_to_redo_are_not_kept() {
        let cache = ReadCache::default();
        let cheap = async {
            Ok::<_, ()>(CachedPage {
                cheap_to_redo: true,
                ..page(0)
            })
        };
        block_on(cache.read_through(Some(key(0)), 1, 0, cheap)).unwrap();
        assert_eq!(read(&cache, Some(key(0)), 1, 5), Err(()), "read again");
        assert_eq!(
            read(&cache, Some(key(0)), 1, 6),
            Ok(5),
            "a usual page is kept"
        );
    }

    #[test]
    fn clock_dependent_pages_serve_only_their_time_window() {
        let cache = ReadCache::default();
        let at = |now: Millis| {
            let mut read = false;
            let got = block_on(cache.read_through(Some(key(0)), 1, now, async {
                read = true;
                Ok::<_, ()>(CachedPage {
                    changes_at: Some(200),
                    ..page(now)
                })
            }))
            .unwrap();
            if read { Err(()) } else { Ok(got.total) }
        };
        assert_eq!(at(100), Err(()));
        assert_eq!(at(150), Ok(100));
        assert_eq!(at(199), Ok(100));
        assert_eq!(at(200), Err(()), "the boundary itself is past the window");
        assert_eq!(at(99), Err(()), "before the read: the clock moved back");
    }

    #[test]
    fn large_pages_are_not_kept_and_bytes_are_bounded() {
        let cache = ReadCache::default();
        let summary = |i: usize| CertificateSummary {
            id: crate::domain::CertificateId::parse(&format!("{i:032x}")).unwrap(),
            name: format!("certificate-{i}"),
            expire_time: 0,
            created_at: 0,
        };
        let put = |k: PageKey, n: usize| {
            let items = (0..n).map(summary).collect();
            let read = async {
                Ok::<_, ()>(CachedPage {
                    total: 1,
                    items,
                    bound: Vec::new(),
                    changes_at: None,
                    rendered: Rendered::default(),
                    cheap_to_redo: false,
                })
            };
            block_on(cache.read_through(Some(k), 1, 0, read)).unwrap();
        };
        put(key(0), 33_000);
        assert_eq!(
            read(&cache, Some(key(0)), 1, 0),
            Err(()),
            "an unpaged list of 33,000"
        );
        for i in 1..200 {
            put(key(i), 5_000);
            assert!(cache.pages.bytes() <= MAX_BYTES);
        }
        assert_eq!(read(&cache, Some(key(199)), 1, 0), Ok(1));
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
