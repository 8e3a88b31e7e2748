//! The dirty windows of a window store's write cache (Kafka Streams caches window stores
//! too): the latest value or tombstone of each (key, window start) written since the last
//! write-down, at most one per window, bounded in bytes.
//!
//! An aggregation updates the same few windows over and over (a count in a hopping window is
//! updated once per record of the key); with the cache, only each window's latest value per
//! commit reaches the store below and its changelog. [`crate::ChangeloggedWindowStore`] owns
//! one and merges it into every read; this module only keeps the entries.

use std::collections::{BTreeMap, HashMap};

use crate::cache::ENTRY_OVERHEAD;
use crate::window::{WindowEntry, WindowWrite};

/// One key's dirty windows: window start -> value (`None`: deleted).
type KeyWindows = BTreeMap<i64, Option<Vec<u8>>>;

/// Dirty windows, by key then window start. A hash map of keys (looked up by `&[u8]`, no
/// allocation for a key already cached) with a small ordered map of windows per key: point
/// reads and writes, the hot path, cost one hash and a few integer comparisons;
/// [`fetch_all`](Self::fetch_all), once per window close, sorts what it returns.
#[derive(Debug, Default)]
pub(crate) struct WindowCache {
    keys: HashMap<Vec<u8>, KeyWindows>,
    entries: usize,
    bytes: usize,
    /// Updates that replaced a dirty value of the same window (never written down).
    absorbed: u64,
    /// The newest window start ever written with a value (kept across write-downs).
    newest: Option<i64>,
}

fn entry_size(key: &[u8], value: Option<&[u8]>) -> usize {
    key.len() + value.map_or(0, <[u8]>::len) + ENTRY_OVERHEAD
}

impl WindowCache {
    /// Records a write (`None`: a delete); returns the bytes now held.
    pub fn write(&mut self, key: &[u8], window_start: i64, value: Option<&[u8]>) -> usize {
        let windows = match self.keys.get_mut(key) {
            Some(windows) => windows,
            None => self.keys.entry(key.to_vec()).or_default(),
        };
        match windows.get_mut(&window_start) {
            Some(slot) => {
                self.bytes -= entry_size(key, slot.as_deref());
                self.absorbed += 1;
                match (slot.as_mut(), value) {
                    // The hot path, an aggregate updated again: reuse its buffer.
                    (Some(buffer), Some(value)) => {
                        buffer.clear();
                        buffer.extend_from_slice(value);
                    }
                    _ => *slot = value.map(<[u8]>::to_vec),
                }
            }
            None => {
                windows.insert(window_start, value.map(<[u8]>::to_vec));
                self.entries += 1;
            }
        }
        if value.is_some() {
            self.newest = Some(self.newest.map_or(window_start, |n| n.max(window_start)));
        }
        self.bytes += entry_size(key, value);
        self.bytes
    }

    /// The cached state of one window: `None` if not cached, `Some(None)` if deleted.
    pub fn get(&self, key: &[u8], window_start: i64) -> Option<Option<&[u8]>> {
        self.keys.get(key)?.get(&window_start).map(Option::as_deref)
    }

    /// `key`'s cached windows starting in `[from, to]`, oldest first.
    pub fn fetch(&self, key: &[u8], from: i64, to: i64) -> Vec<(i64, Option<Vec<u8>>)> {
        match self.keys.get(key) {
            Some(windows) if from <= to => windows
                .range(from..=to)
                .map(|(start, value)| (*start, value.clone()))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Every cached window starting in `[from, to]`, by key then window start.
    pub fn fetch_all(&self, from: i64, to: i64) -> Vec<(Vec<u8>, i64, Option<Vec<u8>>)> {
        if from > to {
            return Vec::new();
        }
        let mut found: Vec<_> = self
            .keys
            .iter()
            .flat_map(|(key, windows)| {
                windows
                    .range(from..=to)
                    .map(move |(start, value)| (key.clone(), *start, value.clone()))
            })
            .collect();
        found.sort_unstable_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        found
    }

    /// The newest window start ever written with a value, if any.
    pub fn newest_start(&self) -> Option<i64> {
        self.newest
    }

    /// Takes every dirty entry, in (key, window start) order, leaving the cache empty.
    pub fn drain(&mut self) -> Vec<WindowWrite> {
        self.bytes = 0;
        self.entries = 0;
        let mut drained: Vec<_> = std::mem::take(&mut self.keys)
            .into_iter()
            .flat_map(|(key, windows)| {
                windows
                    .into_iter()
                    .map(move |(start, value)| (key.clone(), start, value))
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
    cached: Vec<(Vec<u8>, i64, Option<Vec<u8>>)>,
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
        let mut cache = WindowCache::default();
        let one = cache.write(b"k", 10, Some(b"1"));
        assert_eq!(cache.write(b"k", 10, Some(b"2")), one);
        cache.write(b"k", 20, None);
        cache.write(b"j", 10, Some(b"x"));
        assert_eq!(cache.absorbed(), 1);
        assert_eq!(cache.get(b"k", 10), Some(Some(&b"2"[..])));
        assert_eq!(cache.get(b"k", 20), Some(None));
        assert_eq!(cache.get(b"k", 30), None);
        assert_eq!(
            cache.fetch(b"k", 0, 15),
            vec![(10, Some(b"2".to_vec()))],
            "only k's windows in range"
        );
        assert_eq!(cache.fetch_all(10, 10).len(), 2);
        assert_eq!(
            cache.newest_start(),
            Some(10),
            "deletes do not advance time"
        );
        let drained = cache.drain();
        assert_eq!(drained.len(), 3);
        assert_eq!((drained[0].0.as_slice(), drained[0].1), (&b"j"[..], 10));
        assert!(cache.is_empty());
        assert_eq!(cache.newest_start(), Some(10), "kept across write-downs");
        assert_eq!(cache.write(b"k", 10, Some(b"1")), one);
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
