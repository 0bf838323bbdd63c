//! A bounded in-process map whose entries are valid only under the tag they were stored with
//! (a project version, a database change stamp). Both read caches of the server use it; losing
//! it costs only a database read.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

/// Entries kept before the map starts over (bounds memory).
const CAPACITY: usize = 4096;

/// Values by key, each with the tag it is valid under.
#[derive(Debug)]
pub struct TaggedCache<K, T, V> {
    entries: Mutex<HashMap<K, (T, Arc<V>)>>,
}

impl<K, T, V> Default for TaggedCache<K, T, V> {
    fn default() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash, T: Eq, V> TaggedCache<K, T, V> {
    /// The value of `key` if it was stored under `tag`.
    pub fn get<Q>(&self, key: &Q, tag: &T) -> Option<Arc<V>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let entries = self.entries.lock().ok()?;
        entries
            .get(key)
            .filter(|(t, _)| t == tag)
            .map(|(_, value)| Arc::clone(value))
    }

    /// Stores `value` under `tag`; a full map is emptied first.
    pub fn put(&self, key: K, tag: T, value: Arc<V>) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= CAPACITY {
                entries.clear();
            }
            entries.insert(key, (tag, value));
        }
    }

    /// Number of entries (for tests of the bound).
    pub fn len(&self) -> usize {
        self.entries.lock().map_or(0, |e| e.len())
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
        cache.put(1, 7, Arc::new(10));
        assert_eq!(cache.get(&1, &7).as_deref(), Some(&10));
        assert!(cache.get(&1, &8).is_none(), "another tag makes it stale");
        assert!(cache.get(&2, &7).is_none());
        for i in 0..5000 {
            cache.put(i, 1, Arc::new(i));
        }
        assert!(cache.len() <= CAPACITY);
    }
}
