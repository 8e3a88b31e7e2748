//! A write cache in front of a key-value store, like Kafka Streams' record cache.
//!
//! [`CachingKeyValueStore`] holds the writes made since the last flush (the *dirty* entries),
//! at most one per key: a later put or delete of the same key replaces the cached one, so
//! between two commits only the latest value (or tombstone) of each key reaches the store
//! below, and through it the changelog. Updates replaced this way are counted as *absorbed*
//! ([`CacheStats::absorbed`]).
//!
//! - Reads see cached writes first; `range`, `prefix_scan` and `all` merge the cache with the
//!   store below in key order (a cached tombstone hides the stored entry).
//! - The cache is bounded in bytes (key and value lengths plus a fixed per-entry overhead).
//!   When a write takes it over the bound, the oldest dirty entries are written down early as
//!   one batch, until it is back at three quarters of the bound.
//! - [`CachingKeyValueStore::flush_cache`] writes every dirty entry down as ONE `write_batch`
//!   (in key order); the trait's `flush` does that and then flushes the store below.
//! - A bound of 0 turns the cache off: every write goes straight through.
//!
//! It is a write cache only: flushed entries leave it, and reads of keys it does not hold go
//! to the store below (RocksDB has its own block cache for reads).
//!
//! Locking: one mutex guards the cache, and it is held while dirty entries are written down,
//! so a reader never sees a key missing from both the cache and the store below. Iterators
//! copy the cached entries in their range when created and never hold the lock afterwards.

use std::collections::btree_map::Entry as MapEntry;
use std::collections::{BTreeMap, VecDeque};
use std::iter::Peekable;
use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::cache_budget::{CacheBudget, CacheShare};
use crate::changelog::Change;
use crate::error::Result;
use crate::kv::{Entry, EntryIter, KeyValueStore};

/// Bytes counted per cached entry on top of its key and value (map nodes, the eviction
/// queue's items, bookkeeping).
pub const ENTRY_OVERHEAD: usize = 64;

/// Counters of a cache, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Writes (puts and deletes, batch entries counted one by one) made through the cache.
    pub writes: u64,
    /// Writes that replaced a dirty entry of the same key, so never reached the store below.
    pub absorbed: u64,
    /// Entries written down early because the cache was over its bound.
    pub evicted: u64,
    /// Entries written down by flushes.
    pub flushed: u64,
    /// Dirty entries held now.
    pub entries: usize,
    /// Bytes held now, as counted against the bound.
    pub bytes: usize,
}

/// One dirty entry: the latest value (`None`: deleted) and its write sequence number.
struct Dirty {
    value: Option<Vec<u8>>,
    seq: u64,
}

struct CacheState {
    entries: BTreeMap<Vec<u8>, Dirty>,
    /// (write sequence number, key) of every write, oldest first: the eviction order. An
    /// item is stale once its key was written again (its entry has a newer number); stale
    /// items are skipped, and purged when they outnumber the live ones. A queue instead of
    /// an ordered index keeps each write to one tree lookup.
    order: VecDeque<(u64, Vec<u8>)>,
    bytes: usize,
    next_seq: u64,
    /// This cache's part of its budget, kept equal to `bytes`.
    share: CacheShare,
}

impl CacheState {
    fn new(budget: Arc<CacheBudget>) -> Self {
        Self {
            entries: BTreeMap::new(),
            order: VecDeque::new(),
            bytes: 0,
            next_seq: 0,
            share: CacheShare::new(budget),
        }
    }

    fn set_bytes(&mut self, bytes: usize) {
        self.bytes = bytes;
        self.share.set(bytes);
    }
}

/// The key is counted three times: the map's copy and up to two in the eviction queue (stale
/// items are purged once they outnumber live ones).
fn entry_size(key: &[u8], value: Option<&[u8]>) -> usize {
    3 * key.len() + value.map_or(0, <[u8]>::len) + ENTRY_OVERHEAD
}

/// A byte-bounded, de-duplicating write cache over any key-value store. See the module docs.
pub struct CachingKeyValueStore {
    inner: Arc<dyn KeyValueStore>,
    budget: Arc<CacheBudget>,
    state: Mutex<CacheState>,
    writes: AtomicU64,
    absorbed: AtomicU64,
    evicted: AtomicU64,
    flushed: AtomicU64,
}

impl std::fmt::Debug for CachingKeyValueStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachingKeyValueStore")
            .field("store", &self.inner.name())
            .field("max_bytes", &self.budget.max_bytes())
            .field("stats", &self.stats())
            .finish()
    }
}

impl CachingKeyValueStore {
    /// A cache of at most `max_bytes` over `inner`; 0 turns caching off (write-through).
    pub fn new(inner: Arc<dyn KeyValueStore>, max_bytes: usize) -> Self {
        Self::with_budget(inner, CacheBudget::new(max_bytes))
    }

    /// A cache over `inner` sharing `budget` with other caches (see [`crate::cache_budget`]).
    pub fn with_budget(inner: Arc<dyn KeyValueStore>, budget: Arc<CacheBudget>) -> Self {
        Self {
            inner,
            state: Mutex::new(CacheState::new(Arc::clone(&budget))),
            budget,
            writes: AtomicU64::new(0),
            absorbed: AtomicU64::new(0),
            evicted: AtomicU64::new(0),
            flushed: AtomicU64::new(0),
        }
    }

    /// The store below the cache.
    pub fn inner(&self) -> &Arc<dyn KeyValueStore> {
        &self.inner
    }

    /// The bound in bytes of its budget (0: caching is off).
    pub fn max_bytes(&self) -> usize {
        self.budget.max_bytes()
    }

    /// Whether writes are cached (the bound is not 0).
    pub fn is_enabled(&self) -> bool {
        self.budget.is_enabled()
    }

    /// The cache's counters.
    pub fn stats(&self) -> CacheStats {
        let (entries, bytes) = {
            let state = self.state.lock();
            (state.entries.len(), state.bytes)
        };
        CacheStats {
            writes: self.writes.load(Ordering::Relaxed),
            absorbed: self.absorbed.load(Ordering::Relaxed),
            evicted: self.evicted.load(Ordering::Relaxed),
            flushed: self.flushed.load(Ordering::Relaxed),
            entries,
            bytes,
        }
    }

    /// Writes every dirty entry to the store below as one `write_batch`, in key order, without
    /// flushing that store. On error the entries stay cached (nothing is lost; a retry writes
    /// them again, which is harmless because writes are idempotent).
    pub fn flush_cache(&self) -> Result<()> {
        let mut state = self.state.lock();
        if state.entries.is_empty() {
            return Ok(());
        }
        // Moved out rather than cloned (a commit writes down the whole cache); put back if
        // the write fails. The lock is held throughout, so no write slips in between.
        let entries = std::mem::take(&mut state.entries);
        let mut seqs = Vec::with_capacity(entries.len());
        let batch: Vec<Change> = entries
            .into_iter()
            .map(|(key, dirty)| {
                seqs.push(dirty.seq);
                (key, dirty.value)
            })
            .collect();
        if let Err(e) = self.inner.write_batch(&batch) {
            for ((key, value), seq) in batch.into_iter().zip(seqs) {
                state.entries.insert(key, Dirty { value, seq });
            }
            return Err(e);
        }
        self.flushed
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        state.order.clear();
        state.set_bytes(0);
        drop(state);
        // The batch's allocations are freed after the lock is released.
        drop(batch);
        Ok(())
    }

    /// Records one write in the cache (the caller holds the lock).
    fn insert(&self, state: &mut CacheState, key: &[u8], value: Option<&[u8]>) {
        self.writes.fetch_add(1, Ordering::Relaxed);
        let seq = state.next_seq;
        state.next_seq += 1;
        let size = entry_size(key, value);
        let value = value.map(<[u8]>::to_vec);
        match state.entries.entry(key.to_vec()) {
            MapEntry::Occupied(mut occupied) => {
                self.absorbed.fetch_add(1, Ordering::Relaxed);
                let dirty = occupied.get_mut();
                let old_size = entry_size(key, dirty.value.as_deref());
                dirty.seq = seq;
                dirty.value = value;
                let bytes = state.bytes - old_size + size;
                state.set_bytes(bytes);
            }
            MapEntry::Vacant(vacant) => {
                vacant.insert(Dirty { value, seq });
                let bytes = state.bytes + size;
                state.set_bytes(bytes);
            }
        }
        state.order.push_back((seq, key.to_vec()));
        if state.order.len() > 2 * state.entries.len() + 64 {
            let CacheState { entries, order, .. } = state;
            order.retain(|(seq, key)| entries.get(key).is_some_and(|d| d.seq == *seq));
        }
    }

    /// Writes this cache's oldest dirty entries down, as one batch, while its budget (which
    /// other caches may share) is over its bound.
    fn maybe_evict(&self, state: &mut CacheState) -> Result<()> {
        if !self.budget.is_over() {
            return Ok(());
        }
        // Down to the target for the whole budget, counting what the others hold.
        let target = self
            .budget
            .eviction_target()
            .saturating_sub(state.share.others());
        let mut bytes = state.bytes;
        // The oldest live entries leave the map (moved, not copied) into one batch; if the
        // write fails they go back, so nothing is lost.
        let mut batch: Vec<Change> = Vec::new();
        let mut seqs = Vec::new();
        let mut consumed = 0;
        while bytes > target && consumed < state.order.len() {
            let (seq, key) = &state.order[consumed];
            consumed += 1;
            if state.entries.get(key).is_some_and(|d| d.seq == *seq) {
                let (key, dirty) = state
                    .entries
                    .remove_entry(key)
                    .expect("the entry was just found");
                bytes -= entry_size(&key, dirty.value.as_deref());
                seqs.push(dirty.seq);
                batch.push((key, dirty.value));
            }
            // Otherwise stale: the key was written again later.
        }
        if let Err(e) = self.inner.write_batch(&batch) {
            for ((key, value), seq) in batch.into_iter().zip(seqs) {
                state.entries.insert(key, Dirty { value, seq });
            }
            return Err(e);
        }
        state.order.drain(..consumed);
        state.set_bytes(bytes);
        self.evicted
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

/// Whether a range with these bounds may hold keys (`BTreeMap::range` panics otherwise).
fn non_empty(from: &Bound<&[u8]>, to: &Bound<&[u8]>) -> bool {
    match (from, to) {
        (Bound::Included(a), Bound::Included(b)) => a <= b,
        (Bound::Included(a), Bound::Excluded(b))
        | (Bound::Excluded(a), Bound::Included(b))
        | (Bound::Excluded(a), Bound::Excluded(b)) => a < b,
        _ => true,
    }
}

impl KeyValueStore for CachingKeyValueStore {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if self.is_enabled()
            && let Some(dirty) = self.state.lock().entries.get(key)
        {
            return Ok(dirty.value.clone());
        }
        // Not cached: the store below has the latest value (an entry is written down before
        // it leaves the cache).
        self.inner.get(key)
    }

    fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        if !self.is_enabled() {
            self.writes.fetch_add(1, Ordering::Relaxed);
            return self.inner.put(key, value);
        }
        let mut state = self.state.lock();
        self.insert(&mut state, key, Some(value));
        self.maybe_evict(&mut state)
    }

    fn write_batch(&self, entries: &[(Vec<u8>, Option<Vec<u8>>)]) -> Result<()> {
        if !self.is_enabled() {
            self.writes
                .fetch_add(entries.len() as u64, Ordering::Relaxed);
            return self.inner.write_batch(entries);
        }
        let mut state = self.state.lock();
        for (key, value) in entries {
            self.insert(&mut state, key, value.as_deref());
        }
        self.maybe_evict(&mut state)
    }

    fn delete(&self, key: &[u8]) -> Result<()> {
        if !self.is_enabled() {
            self.writes.fetch_add(1, Ordering::Relaxed);
            return self.inner.delete(key);
        }
        let mut state = self.state.lock();
        self.insert(&mut state, key, None);
        self.maybe_evict(&mut state)
    }

    fn range<'a>(&'a self, from: Bound<&[u8]>, to: Bound<&[u8]>) -> Result<EntryIter<'a>> {
        if !self.is_enabled() {
            return self.inner.range(from, to);
        }
        // The cached part and the store's iterator are taken under the lock, so no entry can
        // move from one to the other in between.
        let state = self.state.lock();
        let cached: Vec<Change> = if non_empty(&from, &to) {
            state
                .entries
                .range::<[u8], _>((from, to))
                .map(|(k, d)| (k.clone(), d.value.clone()))
                .collect()
        } else {
            Vec::new()
        };
        let stored = self.inner.range(from, to)?;
        drop(state);
        Ok(Box::new(MergeIter {
            cached: cached.into_iter().peekable(),
            stored: stored.peekable(),
        }))
    }

    /// The store's estimate plus the cached puts (an over-estimate when cached puts overwrite
    /// stored keys, an under-estimate when cached deletes remove them).
    fn approximate_len(&self) -> Result<u64> {
        let cached = self
            .state
            .lock()
            .entries
            .values()
            .filter(|d| d.value.is_some())
            .count() as u64;
        Ok(self.inner.approximate_len()?.saturating_add(cached))
    }

    fn flush(&self) -> Result<()> {
        self.flush_cache()?;
        self.inner.flush()
    }
}

/// Merges the cached entries of a range (tombstones included) with the store's, in key
/// order; on equal keys the cached entry wins.
struct MergeIter<'a> {
    cached: Peekable<std::vec::IntoIter<Change>>,
    stored: Peekable<EntryIter<'a>>,
}

impl Iterator for MergeIter<'_> {
    type Item = Result<Entry>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match (self.cached.peek(), self.stored.peek()) {
                (None, None) => return None,
                (None, Some(_)) | (Some(_), Some(Err(_))) => return self.stored.next(),
                (Some(_), None) => {}
                (Some((ck, _)), Some(Ok((sk, _)))) => match ck.as_slice().cmp(sk.as_slice()) {
                    std::cmp::Ordering::Less => {}
                    std::cmp::Ordering::Greater => return self.stored.next(),
                    std::cmp::Ordering::Equal => {
                        // Shadowed by the cached write.
                        self.stored.next();
                    }
                },
            }
            if let Some((key, Some(value))) = self.cached.next() {
                return Some(Ok((key, value)));
            }
            // A cached tombstone: skip it (and the stored entry it shadowed).
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryKeyValueStore;

    /// A store that counts the batches written to it.
    struct Counting {
        inner: MemoryKeyValueStore,
        batches: AtomicU64,
        entries: AtomicU64,
    }

    impl KeyValueStore for Counting {
        fn name(&self) -> &str {
            self.inner.name()
        }
        fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
            self.inner.get(key)
        }
        fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
            self.write_batch(&[(key.to_vec(), Some(value.to_vec()))])
        }
        fn write_batch(&self, entries: &[(Vec<u8>, Option<Vec<u8>>)]) -> Result<()> {
            self.batches.fetch_add(1, Ordering::Relaxed);
            self.entries
                .fetch_add(entries.len() as u64, Ordering::Relaxed);
            self.inner.write_batch(entries)
        }
        fn delete(&self, key: &[u8]) -> Result<()> {
            self.write_batch(&[(key.to_vec(), None)])
        }
        fn range<'a>(&'a self, from: Bound<&[u8]>, to: Bound<&[u8]>) -> Result<EntryIter<'a>> {
            self.inner.range(from, to)
        }
        fn approximate_len(&self) -> Result<u64> {
            self.inner.approximate_len()
        }
        fn flush(&self) -> Result<()> {
            Ok(())
        }
    }

    fn counting() -> Arc<Counting> {
        Arc::new(Counting {
            inner: MemoryKeyValueStore::new("s"),
            batches: AtomicU64::new(0),
            entries: AtomicU64::new(0),
        })
    }

    fn all(store: &dyn KeyValueStore) -> Vec<Entry> {
        store.all().unwrap().map(|e| e.unwrap()).collect()
    }

    #[test]
    fn deduplicates_and_flushes_one_batch() {
        let below = counting();
        let cache = CachingKeyValueStore::new(below.clone(), 1 << 20);
        for i in 0..10u8 {
            cache.put(b"a", &[i]).unwrap();
        }
        cache.put(b"b", b"1").unwrap();
        cache.delete(b"b").unwrap();
        cache.put(b"c", b"3").unwrap();
        assert_eq!(below.batches.load(Ordering::Relaxed), 0);
        assert_eq!(cache.get(b"a").unwrap(), Some(vec![9]));
        assert_eq!(cache.get(b"b").unwrap(), None);
        let stats = cache.stats();
        assert_eq!((stats.writes, stats.absorbed, stats.entries), (13, 10, 3));
        cache.flush().unwrap();
        assert_eq!(below.batches.load(Ordering::Relaxed), 1);
        assert_eq!(below.entries.load(Ordering::Relaxed), 3);
        assert_eq!(
            all(below.as_ref()),
            vec![(b"a".to_vec(), vec![9]), (b"c".to_vec(), b"3".to_vec())]
        );
        assert_eq!(cache.stats().entries, 0);
        assert_eq!(cache.stats().bytes, 0);
        // An empty flush writes nothing.
        cache.flush().unwrap();
        assert_eq!(below.batches.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn scans_merge_cache_and_store() {
        let below = counting();
        below
            .put_all(&[
                (b"a".to_vec(), b"1".to_vec()),
                (b"b".to_vec(), b"2".to_vec()),
                (b"d".to_vec(), b"4".to_vec()),
                (b"pa".to_vec(), b"x".to_vec()),
                (b"q".to_vec(), b"y".to_vec()),
            ])
            .unwrap();
        let cache = CachingKeyValueStore::new(below.clone(), 1 << 20);
        cache.delete(b"b").unwrap();
        cache.put(b"c", b"3").unwrap();
        cache.put(b"d", b"40").unwrap();
        cache.put(b"pb", b"z").unwrap();
        cache.delete(b"zz").unwrap();
        assert_eq!(
            all(&cache),
            vec![
                (b"a".to_vec(), b"1".to_vec()),
                (b"c".to_vec(), b"3".to_vec()),
                (b"d".to_vec(), b"40".to_vec()),
                (b"pa".to_vec(), b"x".to_vec()),
                (b"pb".to_vec(), b"z".to_vec()),
                (b"q".to_vec(), b"y".to_vec()),
            ]
        );
        let p: Vec<_> = cache
            .prefix_scan(b"p")
            .unwrap()
            .map(|e| e.unwrap().0)
            .collect();
        assert_eq!(p, vec![b"pa".to_vec(), b"pb".to_vec()]);
        let r: Vec<_> = cache
            .range(Bound::Excluded(b"a"), Bound::Included(b"d"))
            .unwrap()
            .map(|e| e.unwrap().0)
            .collect();
        assert_eq!(r, vec![b"c".to_vec(), b"d".to_vec()]);
        // Inverted ranges are empty, not a panic.
        assert_eq!(
            cache
                .range(Bound::Included(b"d"), Bound::Excluded(b"a"))
                .unwrap()
                .count(),
            0
        );
    }

    #[test]
    fn evicts_oldest_entries_when_over_the_bound() {
        let below = counting();
        let bound = 10 * (ENTRY_OVERHEAD + 2 + 10);
        let cache = CachingKeyValueStore::new(below.clone(), bound);
        for i in 0..30u8 {
            cache.put(&[b'k', i], &[i; 10]).unwrap();
            assert!(cache.stats().bytes <= bound);
        }
        let stats = cache.stats();
        assert!(stats.evicted > 0);
        // The oldest keys went down first; every key reads back either way.
        assert_eq!(below.get(&[b'k', 0]).unwrap(), Some(vec![0; 10]));
        for i in 0..30u8 {
            assert_eq!(cache.get(&[b'k', i]).unwrap(), Some(vec![i; 10]));
        }
        assert!(below.batches.load(Ordering::Relaxed) < 30 / 2);
        assert_eq!(all(&cache).len(), 30);
    }

    #[test]
    fn size_zero_writes_through() {
        let below = counting();
        let cache = CachingKeyValueStore::new(below.clone(), 0);
        cache.put(b"a", b"1").unwrap();
        cache.put(b"a", b"2").unwrap();
        cache.delete(b"b").unwrap();
        assert_eq!(below.batches.load(Ordering::Relaxed), 3);
        assert_eq!(below.get(b"a").unwrap(), Some(b"2".to_vec()));
        assert_eq!(cache.stats().absorbed, 0);
        assert_eq!(cache.stats().entries, 0);
    }

    #[test]
    fn random_operations_match_a_model() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let below = counting();
        let cache = CachingKeyValueStore::new(below.clone(), 2048);
        let mut model = BTreeMap::new();
        for step in 0..5000 {
            let key = vec![b'k', rng.random_range(0..64u8)];
            match rng.random_range(0..10) {
                0..=5 => {
                    let value = vec![rng.random::<u8>(); rng.random_range(0..40)];
                    cache.put(&key, &value).unwrap();
                    model.insert(key, value);
                }
                6..=7 => {
                    cache.delete(&key).unwrap();
                    model.remove(&key);
                }
                8 => assert_eq!(cache.get(&key).unwrap(), model.get(&key).cloned()),
                _ => {
                    if step % 7 == 0 {
                        cache.flush().unwrap();
                        let stored: BTreeMap<_, _> = all(below.as_ref()).into_iter().collect();
                        assert_eq!(stored, model);
                    }
                }
            }
            if step % 500 == 0 {
                let merged: BTreeMap<_, _> = all(&cache).into_iter().collect();
                assert_eq!(merged, model);
            }
        }
    }

    /// A store whose next write fails.
    struct FailOnce {
        inner: MemoryKeyValueStore,
        fail: std::sync::atomic::AtomicBool,
    }

    impl KeyValueStore for FailOnce {
        fn name(&self) -> &str {
            self.inner.name()
        }
        fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
            self.inner.get(key)
        }
        fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
            self.write_batch(&[(key.to_vec(), Some(value.to_vec()))])
        }
        fn write_batch(&self, entries: &[(Vec<u8>, Option<Vec<u8>>)]) -> Result<()> {
            if self.fail.swap(false, Ordering::Relaxed) {
                return Err(crate::Error::InvalidConfig("injected write failure".into()));
            }
            self.inner.write_batch(entries)
        }
        fn delete(&self, key: &[u8]) -> Result<()> {
            self.write_batch(&[(key.to_vec(), None)])
        }
        fn range<'a>(&'a self, from: Bound<&[u8]>, to: Bound<&[u8]>) -> Result<EntryIter<'a>> {
            self.inner.range(from, to)
        }
        fn approximate_len(&self) -> Result<u64> {
            self.inner.approximate_len()
        }
        fn flush(&self) -> Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failed_flush_keeps_every_dirty_entry() {
        let below = Arc::new(FailOnce {
            inner: MemoryKeyValueStore::new("s"),
            fail: std::sync::atomic::AtomicBool::new(false),
        });
        let cache = CachingKeyValueStore::new(below.clone(), 1 << 20);
        cache.put(b"a", b"1").unwrap();
        cache.put(b"b", b"2").unwrap();
        cache.delete(b"c").unwrap();
        let before = cache.stats();
        below.fail.store(true, Ordering::Relaxed);
        assert!(cache.flush_cache().is_err());
        assert_eq!(cache.stats(), before);
        assert_eq!(cache.get(b"a").unwrap(), Some(b"1".to_vec()));
        assert!(all(&below.inner).is_empty());
        // A retry writes them all.
        cache.flush_cache().unwrap();
        assert_eq!(
            all(&below.inner),
            vec![
                (b"a".to_vec(), b"1".to_vec()),
                (b"b".to_vec(), b"2".to_vec())
            ]
        );
        assert_eq!(cache.stats().entries, 0);
    }
}
