//! The byte-level key-value store trait that every store kind builds on.

use std::ops::Bound;

use crate::error::Result;

/// One entry: key and value bytes.
pub type Entry = (Vec<u8>, Vec<u8>);

/// An ordered iterator over entries; engine errors surface per item.
pub type EntryIter<'a> = Box<dyn Iterator<Item = Result<Entry>> + Send + 'a>;

/// A key-value store ordered by key bytes.
///
/// Methods take `&self`: a store is written by the one stream task that owns it and read
/// concurrently by interactive queries, so implementations synchronise internally.
/// Iterators see a consistent state of their own (a snapshot or chunked reads that tolerate
/// concurrent writes), and never block writers for long.
pub trait KeyValueStore: Send + Sync {
    /// The store's name (for errors and metrics).
    fn name(&self) -> &str;

    /// The value of `key`, if present.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// Sets `key` to `value`.
    fn put(&self, key: &[u8], value: &[u8]) -> Result<()>;

    /// Writes all entries at once (atomically where the engine can). A `None` value deletes.
    fn write_batch(&self, entries: &[(Vec<u8>, Option<Vec<u8>>)]) -> Result<()>;

    /// Writes records replayed from a changelog during a restore. Unlike `write_batch` they
    /// need not survive a crash until the next [`flush`](Self::flush) returns (a restore
    /// that crashes starts again), which lets an engine skip its write-ahead log.
    fn restore_batch(&self, entries: &[(Vec<u8>, Option<Vec<u8>>)]) -> Result<()> {
        self.write_batch(entries)
    }

    /// Sets every key to its value.
    fn put_all(&self, entries: &[Entry]) -> Result<()> {
        let batch: Vec<_> = entries
            .iter()
            .map(|(k, v)| (k.clone(), Some(v.clone())))
            .collect();
        self.write_batch(&batch)
    }

    /// Removes `key`.
    fn delete(&self, key: &[u8]) -> Result<()>;

    /// Entries with keys in the range, in key order.
    fn range<'a>(&'a self, from: Bound<&[u8]>, to: Bound<&[u8]>) -> Result<EntryIter<'a>>;

    /// Entries whose key starts with `prefix`, in key order.
    fn prefix_scan<'a>(&'a self, prefix: &[u8]) -> Result<EntryIter<'a>> {
        match crate::keys::prefix_successor(prefix) {
            Some(end) => self.range(Bound::Included(prefix), Bound::Excluded(&end)),
            None => self.range(Bound::Included(prefix), Bound::Unbounded),
        }
    }

    /// Every entry, in key order.
    fn all<'a>(&'a self) -> Result<EntryIter<'a>> {
        self.range(Bound::Unbounded, Bound::Unbounded)
    }

    /// An estimate of the number of entries (exact for the in-memory store).
    fn approximate_len(&self) -> Result<u64>;

    /// Makes every write so far durable on disk (no-op in memory).
    fn flush(&self) -> Result<()>;
}
