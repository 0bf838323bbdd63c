//! Name searches answered from memory: a trigram index of one project's certificate names,
//! built from [`Store::project_listing`] and tagged with the project version it was read at,
//! like the read cache's entries. A list request whose credential check saw that same version
//! gets its name search (3 or more characters, no `exp_status`) answered here without a
//! statement for the count, and with one (the page's rows by id) only when the page has rows;
//! any other version means a write happened since, and the database answers while a new index
//! is built in the background.
//!
//! Why: a search text that was not asked before misses the page cache, and on SQLite each
//! statement is a hop to sqlx's worker thread and back, which cost more than the search itself
//! (issue 16). The index gives the same answer as the database: the same certificates (a
//! substring test, case-insensitive, `%` and `_` literal), in the same order (the database's,
//! kept from the listing), the same count.
//!
//! Bounds: the indexes of all projects share [`MAX_BYTES`] (an estimate of their heap use;
//! the map starts over when it would grow past it, and one project's index over an eighth of
//! it is not kept), and builds run one at a time, each followed by a pause
//! [`PAUSE_FACTOR`] times as long as it took, so rebuilding after writes costs at most a tenth
//! of one core.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

use crate::domain::{CertificateId, ProjectId};
use crate::storage::{PageWindow, Store, StoreError, TRIGRAM_MIN_CHARS};
use crate::tagged_cache::TaggedCache;

/// Bytes the indexes of all projects may take together.
pub const MAX_BYTES: usize = 256 * 1024 * 1024;

/// A build is followed by a pause this many times its duration.
const PAUSE_FACTOR: u32 = 9;

/// Shortest search text the index answers, as the database's trigram indexes (counted in
/// bytes here: a text with a non-ASCII character matches no name either way).
const MIN_CHARS: usize = TRIGRAM_MIN_CHARS;

/// Length of every certificate id: the listing keeps them back to back without ends.
const ID_LEN: usize = 32;

/// Rough heap bytes per distinct trigram: its map slot.
const TRIGRAM_OVERHEAD: usize = 24;

/// One project's certificates in list order, packed: all ids in one text (each [`ID_LEN`]
/// bytes), all lowercased names in another with where each ends. A handful of large
/// allocations instead of two small ones per certificate, which the allocator's per-thread
/// arenas kept long after a build.
#[derive(Debug, Default)]
struct Listing {
    ids: String,
    names: String,
    name_ends: Vec<u32>,
    /// Set when the names outgrew 32-bit offsets (or an id was not [`ID_LEN`] bytes, which
    /// no stored id is): such a listing gets no index.
    too_big: bool,
}

impl Listing {
    fn push(&mut self, id: &CertificateId, name_lower: &str) {
        let id = id.as_str();
        match u32::try_from(self.names.len() + name_lower.len()) {
            Ok(end) if !self.too_big && id.len() == ID_LEN => {
                self.ids.push_str(id);
                self.names.push_str(name_lower);
                self.name_ends.push(end);
            }
            _ => self.too_big = true,
        }
    }

    fn len(&self) -> usize {
        self.name_ends.len()
    }

    /// The lowercased name at `position`.
    fn name(&self, position: usize) -> Option<&str> {
        let start = match position.checked_sub(1) {
            Some(before) => *self.name_ends.get(before)?,
            None => 0,
        };
        let end = *self.name_ends.get(position)?;
        self.names
            .get(usize::try_from(start).ok()?..usize::try_from(end).ok()?)
    }

    /// The id at `position`.
    fn id(&self, position: usize) -> Option<CertificateId> {
        let start = position.checked_mul(ID_LEN)?;
        CertificateId::parse(self.ids.get(start..start.checked_add(ID_LEN)?)?)
    }

    /// Each name with its position, in list order.
    fn names(&self) -> impl Iterator<Item = (u32, &str)> + '_ {
        (0..self.len()).filter_map(|p| Some((u32::try_from(p).ok()?, self.name(p)?)))
    }

    fn heap_bytes(&self) -> usize {
        self.ids.capacity()
            + self.names.capacity()
            + self.name_ends.capacity() * std::mem::size_of::<u32>()
    }
}

/// One project's certificates in list order and, for every trigram of their lowercased names,
/// the positions of the names holding it.
#[derive(Debug)]
pub struct SearchIndex {
    listing: Listing,
    /// Per trigram, the slice of `positions` that lists its names: start and length.
    postings: HashMap<u32, (u32, u32)>,
    /// Every trigram's positions, one run after another, each run in list order: one
    /// allocation of the exact size instead of a growing list per trigram.
    positions: Vec<u32>,
    bytes: usize,
}

/// Three bytes of a lowercased text as one key.
fn trigram(bytes: &[u8]) -> u32 {
    bytes
        .iter()
        .take(3)
        .fold(0, |key, b| (key << 8) | u32::from(*b))
}

/// The trigrams of a lowercased name, in order, repeats included.
fn trigrams(name: &str) -> impl Iterator<Item = u32> + '_ {
    name.as_bytes().windows(3).map(trigram)
}

/// The certificates of a search: how many match, and the ids of the page's, in list order.
#[derive(Debug, PartialEq, Eq)]
pub struct NameMatches {
    /// Number of all matches.
    pub total: i64,
    /// The page's certificates.
    pub ids: Vec<CertificateId>,
}

impl SearchIndex {
    /// Reads `project`'s listing from `store` and indexes it: the project's version with the
    /// index, `None` when the project does not exist or has too many names for the index's
    /// 32-bit positions.
    ///
    /// The indexing runs on tokio's blocking threads: at 100,000 names it is 26-44 ms of CPU
    /// without an `.await`, and on an async worker it held back the tasks queued behind it
    /// there (the credential connection's among them): the name searches in the second after
    /// a write to such a project had a p99 of 14-16 ms instead of 3-5 (BENCHMARKS.md, session
    /// 15).
    pub async fn read(
        store: &Store,
        project: &ProjectId,
    ) -> Result<Option<(i64, Self)>, StoreError> {
        let mut listing = Listing::default();
        let Some(version) = store
            .project_listing(project, |id, name_lower| listing.push(id, name_lower))
            .await?
        else {
            return Ok(None);
        };
        match tokio::task::spawn_blocking(move || Self::build(listing)).await {
            Ok(index) => Ok(index.map(|index| (version, index))),
            Err(e) => {
                tracing::warn!(%project, error = %e, "indexing the names failed");
                Ok(None)
            }
        }
    }

    /// The index of `listing`; `None` for more names than positions fit in 32 bits.
    fn build(mut listing: Listing) -> Option<Self> {
        if listing.too_big {
            return None;
        }
        listing.ids.shrink_to_fit();
        listing.names.shrink_to_fit();
        listing.name_ends.shrink_to_fit();
        // First pass: how many names hold each trigram (a name counted once however often it
        // holds it), kept with the last position counted.
        let mut postings: HashMap<u32, (u32, u32)> = HashMap::new();
        for (position, name) in listing.names() {
            for key in trigrams(name) {
                let (held, last) = postings.entry(key).or_insert((0, u32::MAX));
                if *last != position {
                    *held += 1;
                    *last = position;
                }
            }
        }
        // Each trigram's run, one after another; then the second pass fills the runs in list
        // order, counting each run's length up again.
        let mut total = 0u32;
        for (held, start) in postings.values_mut() {
            let length = *held;
            (*held, *start) = (total, 0);
            total = total.checked_add(length)?;
        }
        let mut positions = vec![0u32; usize::try_from(total).ok()?];
        for (position, name) in listing.names() {
            for key in trigrams(name) {
                let Some((start, filled)) = postings.get_mut(&key) else {
                    continue;
                };
                let at = usize::try_from(*start + *filled).ok()?;
                if *filled == 0 || positions.get(at - 1) != Some(&position) {
                    *positions.get_mut(at)? = position;
                    *filled += 1;
                }
            }
        }
        let bytes = listing.heap_bytes()
            + postings.len() * TRIGRAM_OVERHEAD
            + positions.len() * std::mem::size_of::<u32>();
        Some(Self {
            listing,
            postings,
            positions,
            bytes,
        })
    }

    /// Estimated heap bytes.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The page of certificates whose name contains `text` (case-insensitive, every character
    /// literal) and the number of all of them, as the database would answer; `None` for a text
    /// too short to have a trigram, which the database answers.
    pub fn search(&self, text: &str, window: PageWindow) -> Option<NameMatches> {
        let lower = text.to_ascii_lowercase();
        let needle = lower.as_bytes();
        if needle.len() < MIN_CHARS {
            return None;
        }
        let mut candidates: &[u32] = &[];
        for (n, window) in needle.windows(3).enumerate() {
            let Some(list) = self.positions_of(trigram(window)) else {
                return Some(NameMatches {
                    total: 0,
                    ids: Vec::new(),
                });
            };
            if n == 0 || list.len() < candidates.len() {
                candidates = list;
            }
        }
        let first = window.offset;
        let end = window
            .limit
            .map_or(i64::MAX, |limit| first.saturating_add(limit));
        let mut total = 0i64;
        let mut ids = Vec::new();
        let matches = candidates.iter().filter_map(|&p| {
            let p = usize::try_from(p).ok()?;
            self.listing
                .name(p)
                .is_some_and(|name| name.contains(lower.as_str()))
                .then_some(p)
        });
        for p in matches {
            if first <= total && total < end {
                ids.extend(self.listing.id(p));
            }
            total += 1;
        }
        Some(NameMatches { total, ids })
    }

    /// The positions of the names holding `key`, in list order.
    fn positions_of(&self, key: u32) -> Option<&[u32]> {
        let &(start, length) = self.postings.get(&key)?;
        let start = usize::try_from(start).ok()?;
        self.positions
            .get(start..start.checked_add(usize::try_from(length).ok()?)?)
    }
}

/// Who answered a name search that missed the page cache: the label of
/// `wafcert_name_searches`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AnsweredBy {
    /// `memory` (this index) or `database`.
    pub answered_by: &'static str,
}

/// When the next build may start, and whether one is running.
#[derive(Debug)]
struct BuildGate {
    running: bool,
    not_before: Instant,
}

/// The indexes of a server's projects, the gate of their builds and the count of searches by
/// who answered them.
#[derive(Debug)]
pub struct SearchIndexes {
    indexes: TaggedCache<String, i64, SearchIndex>,
    gate: Mutex<BuildGate>,
    /// Name searches that missed the page cache, by who answered them.
    pub answered: Family<AnsweredBy, Counter>,
}

impl Default for SearchIndexes {
    fn default() -> Self {
        Self {
            indexes: TaggedCache::with_max_bytes(MAX_BYTES),
            gate: Mutex::new(BuildGate {
                running: false,
                not_before: Instant::now(),
            }),
            answered: Family::default(),
        }
    }
}

impl SearchIndexes {
    /// The page of a name search of `project` at `version` from memory, when the project's
    /// index is at that version and the text long enough; otherwise `None`, and an index at
    /// the current version is built in the background if the gate allows (the caller asks the
    /// database meanwhile).
    pub fn search(
        self: &Arc<Self>,
        store: &Store,
        project: &ProjectId,
        version: i64,
        text: &str,
        window: PageWindow,
    ) -> Option<NameMatches> {
        let found = match self.indexes.get(project.as_str(), &version) {
            Some(index) => index.search(text, window),
            None if text.len() >= MIN_CHARS => {
                self.build_in_background(store, project);
                None
            }
            None => None,
        };
        let answered_by = if found.is_some() {
            "memory"
        } else {
            "database"
        };
        self.answered
            .get_or_create(&AnsweredBy { answered_by })
            .inc();
        found
    }

    /// Bytes the kept indexes are estimated at (reported by `/metrics`).
    pub fn bytes(&self) -> usize {
        self.indexes.bytes()
    }

    /// Starts building `project`'s index unless a build runs or the pause after the last one
    /// lasts.
    fn build_in_background(self: &Arc<Self>, store: &Store, project: &ProjectId) {
        {
            let Ok(mut gate) = self.gate.lock() else {
                return;
            };
            if gate.running || Instant::now() < gate.not_before {
                return;
            }
            gate.running = true;
        }
        let (indexes, store, project) = (Arc::clone(self), store.clone(), project.clone());
        tokio::spawn(async move {
            let started = Instant::now();
            indexes.build(&store, &project).await;
            let took = started.elapsed();
            if let Ok(mut gate) = indexes.gate.lock() {
                gate.running = false;
                gate.not_before = Instant::now() + took.saturating_mul(PAUSE_FACTOR);
            }
        });
    }

    /// Reads the project's listing and keeps its index under the version it was read at.
    async fn build(&self, store: &Store, project: &ProjectId) {
        let started = Instant::now();
        let (version, index) = match SearchIndex::read(store, project).await {
            Ok(Some(read)) => read,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(%project, error = %e, "building the name search index failed");
                return;
            }
        };
        let (rows, bytes) = (index.listing.len(), index.bytes());
        self.indexes
            .put(project.to_string(), version, Arc::new(index), bytes);
        tracing::debug!(
            %project,
            version,
            rows,
            bytes,
            took_ms = started.elapsed().as_millis(),
            "name search index built"
        );
    }
}

#[cfg(test)]
mod tests;
