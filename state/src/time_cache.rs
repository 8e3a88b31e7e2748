//! The dirty entries of a window or session store's write cache (Kafka Streams caches both):
//! the latest value or tombstone of each (key, time slot) written since the last
//! write-down, at most one per slot, bounded in bytes. A window's slot is its start; a
//! session's is `(end, start)`.
//!
//! An aggregation updates the same few windows or sessions over and over (a count in a
//! hopping window is updated once per record of the key); with the cache, only each slot's
//! latest value per commit reaches the store below and its changelog.
//! [`crate::ChangeloggedWindowStore`] and [`crate::ChangeloggedSessionStore`] own one each
//! and merge it into every read; this module only keeps the entries.

use std::collections::{BTreeMap, HashMap};
use std::ops::RangeBounds;

use crate::cache::ENTRY_OVERHEAD;
use crate::window::WindowEntry;

/// A cached write: key, slot, value (`None`: deleted).
pub(crate) type CachedWrite<T> = (Vec<u8>, T, Option<Vec<u8>>);

/// Dirty entries, by key then slot. A hash map of keys (looked up by `&[u8]`, no allocation
/// for a key already cached) with a small ordered map of slots per key: point reads and
/// writes, the hot path, cost one hash and a few integer comparisons; scans across keys
/// ([`matching`](Self::matching)), once per window close, leave the sorting to the caller.
#[derive(Debug)]
pub(crate) struct TimeCache<T> {
    keys: HashMap<Vec<u8>, BTreeMap<T, Option<Vec<u8>>>>,
    entries: usize,
    bytes: usize,
    /// Updates that replaced a dirty value of the same slot (never written down).
    absorbed: u64,
    /// The newest time ever written with a value (kept across write-downs).
    newest: Option<i64>,
}

impl<T> Default for TimeCache<T> {
    fn default() -> Self {
        Self {
            keys: HashMap::new(),
            entries: 0,
            bytes: 0,
            absorbed: 0,
            newest: None,
        }
    }
}

fn entry_size(key: &[u8], value: Option<&[u8]>) -> usize {
    key.len() + value.map_or(0, <[u8]>::len) + ENTRY_OVERHEAD
}

impl<T: Ord + Copy> TimeCache<T> {
    /// Records a write (`None`: a delete) of `key`'s `slot`, whose time (the store's notion
    /// of time: window start, session end) is `time`; returns the bytes now held.
    pub fn write(&mut self, key: &[u8], slot: T, time: i64, value: Option<&[u8]>) -> usize {
        let slots = match self.keys.get_mut(key) {
            Some(slots) => slots,
            None => self.keys.entry(key.to_vec()).or_default(),
        };
        match slots.get_mut(&slot) {
            Some(cached) => {
                self.bytes -= entry_size(key, cached.as_deref());
                self.absorbed += 1;
                match (cached.as_mut(), value) {
                    // The hot path, an aggregate updated again: reuse its buffer.
                    (Some(buffer), Some(value)) => {
                        buffer.clear();
                        buffer.extend_from_slice(value);
                    }
                    _ => *cached = value.map(<[u8]>::to_vec),
                }
            }
            None => {
                slots.insert(slot, value.map(<[u8]>::to_vec));
                self.entries += 1;
            }
        }
        if value.is_some() {
            self.newest = Some(self.newest.map_or(time, |n| n.max(time)));
        }
        self.bytes += entry_size(key, value);
        self.bytes
    }

    /// The cached state of one slot: `None` if not cached, `Some(None)` if deleted.
    pub fn get(&self, key: &[u8], slot: T) -> Option<Option<&[u8]>> {
        self.keys.get(key)?.get(&slot).map(Option::as_deref)
    }

    /// `key`'s cached slots in `range`, in slot order.
    pub fn range(&self, key: &[u8], range: impl RangeBounds<T>) -> Vec<(T, Option<Vec<u8>>)> {
        match self.keys.get(key) {
            Some(slots) => slots
                .range(range)
                .map(|(slot, value)| (*slot, value.clone()))
                .collect(),
            None => Vec::new(),
        }
    }

    /// Every cached slot of every key that `keep` accepts, in no particular order.
    pub fn matching(&self, keep: impl Fn(&T) -> bool) -> Vec<CachedWrite<T>> {
        self.keys
            .iter()
            .flat_map(|(key, slots)| {
                slots
                    .iter()
                    .filter(|(slot, _)| keep(slot))
                    .map(move |(slot, value)| (key.clone(), *slot, value.clone()))
            })
            .collect()
    }

    /// The newest time ever written with a value, if any.
    pub fn newest_time(&self) -> Option<i64> {
        self.newest
    }

    /// Takes every dirty entry, in (key, slot) order, leaving the cache empty.
    pub fn drain(&mut self) -> Vec<CachedWrite<T>> {
        self.bytes = 0;
        self.entries = 0;
        let mut drained: Vec<_> = std::mem::take(&mut self.keys)
            .into_iter()
            .flat_map(|(key, slots)| {
                slots
                    .into_iter()
                    .map(move |(slot, value)| (key.clone(), slot, value))
            })
            .collect();
        drained.sort_unstable_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        drained
    }

    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    pub fn absorbed(&self) -> u64 {
        self.absorbed
    }
}

/// Overlays cached windows on entries read from the store below: cached values replace
/// stored ones, cached tombstones hide them. Both inputs and the output are ordered by key,
/// then window start.
pub(crate) fn merge_entries(
    stored: Vec<WindowEntry>,
    cached: Vec<CachedWrite<i64>>,
) -> Vec<WindowEntry> {
    if cached.is_empty() {
        return stored;
    }
    let mut merged: BTreeMap<(Vec<u8>, i64), Vec<u8>> = stored
        .into_iter()
        .map(|e| ((e.key, e.window_start), e.value))
        .collect();
    for (key, start, value) in cached {
        match value {
            Some(value) => merged.insert((key, start), value),
            None => merged.remove(&(key, start)),
        };
    }
    merged
        .into_iter()
        .map(|((key, window_start), value)| WindowEntry {
            key,
            window_start,
            value,
        })
        .collect()
}

/// [`merge_entries`] for one key's windows `(start, value)`, ordered by start.
pub(crate) fn merge_windows(
    stored: Vec<(i64, Vec<u8>)>,
    cached: Vec<(i64, Option<Vec<u8>>)>,
) -> Vec<(i64, Vec<u8>)> {
    if cached.is_empty() {
        return stored;
    }
    let mut merged: BTreeMap<i64, Vec<u8>> = stored.into_iter().collect();
    for (start, value) in cached {
        match value {
            Some(value) => merged.insert(start, value),
            None => merged.remove(&start),
        };
    }
    merged.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_latest_write_per_window_and_counts_bytes() {
        let mut cache = TimeCache::<i64>::default();
        let one = cache.write(b"k", 10, 10, Some(b"1"));
        assert_eq!(cache.write(b"k", 10, 10, Some(b"2")), one);
        cache.write(b"k", 20, 20, None);
        cache.write(b"j", 10, 10, Some(b"x"));
        assert_eq!(cache.absorbed(), 1);
        assert_eq!(cache.get(b"k", 10), Some(Some(&b"2"[..])));
        assert_eq!(cache.get(b"k", 20), Some(None));
        assert_eq!(cache.get(b"k", 30), None);
        assert_eq!(
            cache.range(b"k", 0..=15),
            vec![(10, Some(b"2".to_vec()))],
            "only k's windows in range"
        );
        assert_eq!(cache.matching(|t| *t == 10).len(), 2);
        assert_eq!(cache.newest_time(), Some(10), "deletes do not advance time");
        let drained = cache.drain();
        assert_eq!(drained.len(), 3);
        assert_eq!((drained[0].0.as_slice(), drained[0].1), (&b"j"[..], 10));
        assert!(cache.is_empty());
        assert_eq!(cache.newest_time(), Some(10), "kept across write-downs");
        assert_eq!(cache.write(b"k", 10, 10, Some(b"1")), one);
    }

    #[test]
    fn merging_overlays_values_and_hides_tombstones() {
        let stored = vec![
            WindowEntry {
                key: b"a".to_vec(),
                window_start: 0,
                value: b"old".to_vec(),
            },
            WindowEntry {
                key: b"b".to_vec(),
                window_start: 0,
                value: b"gone".to_vec(),
            },
        ];
        let cached = vec![
            (b"a".to_vec(), 0, Some(b"new".to_vec())),
            (b"a".to_vec(), 5, Some(b"added".to_vec())),
            (b"b".to_vec(), 0, None),
        ];
        let merged = merge_entries(stored, cached);
        let flat: Vec<_> = merged
            .iter()
            .map(|e| (e.key.as_slice(), e.window_start, e.value.as_slice()))
            .collect();
        assert_eq!(
            flat,
            vec![(&b"a"[..], 0, &b"new"[..]), (&b"a"[..], 5, &b"added"[..])]
        );
        assert_eq!(
            merge_windows(
                vec![(0, b"x".to_vec()), (5, b"y".to_vec())],
                vec![(5, None), (9, Some(b"z".to_vec()))]
            ),
            vec![(0, b"x".to_vec()), (9, b"z".to_vec())]
        );
    }
}
