//! The record cache of an aggregation (Kafka Streams' caching of KTable stores,
//! `cache.max.bytes.buffering`): the updates of a key between two commits merge into one
//! change, forwarded downstream when the task flushes before its commit, or earlier when the
//! cache outgrows its bound. A key updated a thousand times per commit interval sends one
//! record, not a thousand, down the topology, to its output topics and repartition topics.
//!
//! The forwarded change carries the key's latest value, the value it had before the first
//! cached update (as Kafka Streams forwards with old values), and the latest update's
//! timestamp. Keys are forwarded in the order they were first updated.

use std::collections::HashMap;
use std::sync::Arc;

use eddy_state::{CacheBudget, CacheShare};

use crate::record::{Change, Record};

/// Bytes counted per cached key on top of its encoded key and value.
const ENTRY_OVERHEAD: usize = 64;

/// Pending changes by encoded key.
pub(crate) struct RecordCache<K, V> {
    index: HashMap<Vec<u8>, usize>,
    pending: Vec<Record<K, Change<V>>>,
    /// Encoded size of each pending entry, to keep `bytes` exact as values change.
    sizes: Vec<usize>,
    bytes: usize,
    /// This cache's part of the app's cache budget (from the first update on).
    share: Option<CacheShare>,
}

impl<K, V> Default for RecordCache<K, V> {
    fn default() -> Self {
        Self {
            index: HashMap::new(),
            pending: Vec::new(),
            sizes: Vec::new(),
            bytes: 0,
            share: None,
        }
    }
}

impl<K, V> RecordCache<K, V> {
    /// Merges an update of `key` (encoded: `key_bytes`; its new value encoded in
    /// `value_len` bytes) into the pending change of that key, counted in `budget`. Returns
    /// whether the budget is now over its bound.
    pub fn update(
        &mut self,
        budget: &Arc<CacheBudget>,
        key_bytes: &[u8],
        record: Record<K, Change<V>>,
        value_len: usize,
    ) -> bool {
        let size = key_bytes.len() + value_len + ENTRY_OVERHEAD;
        match self.index.get(key_bytes) {
            Some(&i) => {
                let pending = &mut self.pending[i];
                pending.value.new = record.value.new;
                pending.timestamp = record.timestamp;
                pending.headers = record.headers;
                self.bytes = self.bytes - self.sizes[i] + size;
                self.sizes[i] = size;
            }
            None => {
                self.index.insert(key_bytes.to_vec(), self.pending.len());
                self.pending.push(record);
                self.sizes.push(size);
                self.bytes += size;
            }
        }
        self.share
            .get_or_insert_with(|| CacheShare::new(Arc::clone(budget)))
            .set(self.bytes)
    }

    /// Takes every pending change, in first-update order, leaving the cache empty.
    pub fn take(&mut self) -> Vec<Record<K, Change<V>>> {
        self.index.clear();
        self.sizes.clear();
        self.bytes = 0;
        if let Some(share) = &mut self.share {
            share.set(0);
        }
        std::mem::take(&mut self.pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(key: &str, new: i64, old: Option<i64>, ts: i64) -> Record<String, Change<i64>> {
        Record::new(key.to_string(), Change::new(Some(new), old), ts)
    }

    #[test]
    fn merges_updates_per_key_keeping_the_first_old_value() {
        let entry = 1 + 8 + ENTRY_OVERHEAD;
        let budget = CacheBudget::new(3 * entry);
        let mut cache = RecordCache::default();
        assert!(!cache.update(&budget, b"a", change("a", 1, None, 10), 8));
        assert!(!cache.update(&budget, b"b", change("b", 5, Some(4), 11), 8));
        assert!(!cache.update(&budget, b"a", change("a", 2, Some(1), 12), 8));
        assert_eq!(budget.used(), 2 * entry);
        let out = cache.take();
        assert_eq!(
            out.iter()
                .map(|r| (r.key.as_str(), r.value.new, r.value.old, r.timestamp))
                .collect::<Vec<_>>(),
            vec![("a", Some(2), None, 12), ("b", Some(5), Some(4), 11)]
        );
        assert_eq!(budget.used(), 0, "taking gives the bytes back");
        assert!(cache.take().is_empty());
        cache.update(&budget, b"a", change("a", 3, Some(2), 13), 8);
        assert_eq!(budget.used(), entry);
    }

    #[test]
    fn caches_sharing_a_budget_are_over_it_together() {
        let entry = 1 + 8 + ENTRY_OVERHEAD;
        let budget = CacheBudget::new(3 * entry);
        let (mut one, mut two) = (RecordCache::default(), RecordCache::default());
        assert!(!one.update(&budget, b"a", change("a", 1, None, 10), 8));
        assert!(!one.update(&budget, b"b", change("b", 1, None, 10), 8));
        assert!(!two.update(&budget, b"c", change("c", 1, None, 10), 8));
        assert!(
            two.update(&budget, b"d", change("d", 1, None, 10), 8),
            "4 of 3 entries"
        );
        drop(one);
        assert_eq!(
            budget.used(),
            2 * entry,
            "a dropped cache gives its bytes back"
        );
    }
}
