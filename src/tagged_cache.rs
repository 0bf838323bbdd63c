//! A bounded in-process map whose entries are valid only under the tag they were stored with
//! (a project version, a database change stamp). Both read caches of the server use it; losing
//! it costs only a database read. It is bounded by entries and by bytes (as estimated by the
//! caller), since one entry may be a page of thousands of certificates.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

/// Entries kept before the map starts over.
const CAPACITY: usize = 4096;

/// Default byte budget of a map.
const DEFAULT_MAX_BYTES: usize = 16 * 1024 * 1024;

/// The map and the bytes its entries were estimated at.
#[derive(Debug)]
struct Entries<K, T, V> {
    map: HashMap<K, (T, Arc<V>, usize)>,
    bytes: usize,
}

/// Values by key, each with the tag it is valid under.
#[derive(Debug)]
pub struct TaggedCache<K, T, V> {
    entries: Mutex<Entries<K, T, V>>,
    max_bytes: usize,
}

impl<K, T, V> Default for TaggedCache<K, T, V> {
    fn default() -> Self {
        Self::with_max_bytes(DEFAULT_MAX_BYTES)
    }
}

impl<K, T, V> TaggedCache<K, T, V> {
    /// An empty map holding at most `max_bytes` of entries; an entry larger than an eighth of
    /// that is never kept.
    pub fn with_max_bytes(max_bytes: usize) -> Self {
        Self {
            entries: Mutex::new(Entries {
                map: HashMap::new(),
                bytes: 0,
            }),
            max_bytes,
        }
    }

    /// The largest entry kept, in bytes.
    pub fn max_entry_bytes(&self) -> usize {
        self.max_bytes / 8
    }
}

impl<K: Eq + Hash, T: Eq, V> TaggedCache<K, T, V> {
    /// The value of `key` if it was stored under `tag`.
    pub fn get<Q>(&self, key: &Q, tag: &T) -> Option<Arc<V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.get_if(key, |t| t == tag)
    }

    /// The value of `key` if the tag it was stored under passes `valid` (a tag that is a
    /// range rather than one value, such as a version and a time window).
    pub fn get_if<Q>(&self, key: &Q, valid: impl FnOnce(&T) -> bool) -> Option<Arc<V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let entries = self.entries.lock().ok()?;
        entries
            .map
            .get(key)
            .filter(|(t, _, _)| valid(t))
            .map(|(_, value, _)| Arc::clone(value))
    }

    /// Stores `value`, estimated at `bytes`, under `tag`; a map that would grow past its bounds
    /// is emptied first, and a value over [`Self::max_entry_bytes`] is not stored.
    pub fn put(&self, key: K, tag: T, value: Arc<V>, bytes: usize) {
        if bytes > self.max_entry_bytes() {
            return;
        }
        if let Ok(mut entries) = self.entries.lock() {
            if entries.map.len() >= CAPACITY || entries.bytes + bytes > self.max_bytes {
                entries.map.clear();
                entries.bytes = 0;
            }
            if let Some((_, _, old)) = entries.map.insert(key, (tag, value, bytes)) {
                entries.bytes -= old;
            }
            entries.bytes += bytes;
        }
    }

    /// Number of entries (for tests of the bound).
    pub fn len(&self) -> usize {
        self.entries.lock().map_or(0, |e| e.map.len())
    }

    /// Bytes the entries were estimated at (for tests of the bound).
    pub fn bytes(&self) -> usize {
        self.entries.lock().map_or(0, |e| e.bytes)
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_serve_only_their_tag_and_the_size_is_bounded() {
        let cache: TaggedCache<i64, u8, i64> = TaggedCache::default();
        cache.put(1, 7, Arc::new(10), 8);
        assert_eq!(cache.get(&1, &7).as_deref(), Some(&10));
        assert!(cache.get(&1, &8).is_none(), "another tag makes it stale");
        assert!(cache.get(&2, &7).is_none());
        for i in 0..5000 {
            cache.put(i, 1, Arc::new(i), 8);
        }
        assert!(cache.len() <= CAPACITY);
    }

    #[test]
    fn bytes_are_bounded_and_large_entries_not_kept() {
        let cache: TaggedCache<i64, u8, i64> = TaggedCache::with_max_bytes(8000);
        cache.put(1, 1, Arc::new(1), 1001);
        assert!(cache.get(&1, &1).is_none(), "over an eighth of the budget");
        for i in 0..100 {
            cache.put(i, 1, Arc::new(i), 1000);
            assert!(cache.bytes() <= 8000);
        }
        cache.put(99, 1, Arc::new(0), 10);
        assert!(cache.bytes() <= 8000 && cache.get(&99, &1).is_some());
    }
}
