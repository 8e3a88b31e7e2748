//! Changelogs: the log every store write is recorded in, so that a store can be rebuilt from
//! it on any machine.
//!
//! [`Changelog`] is a small trait the streams runtime implements with the broker (one
//! partition of a compacted changelog topic); `eddy-state` does not depend on the broker.
//! [`MemoryChangelog`] is an in-memory implementation for tests, with hooks to simulate
//! compaction, lost unflushed records and truncation.
//!
//! Offsets are those of a Kafka partition: increasing, but not necessarily dense (compaction
//! removes records, transaction markers take offsets), so readers continue from the offset
//! after the last record they got, never by counting records.

use std::collections::HashMap;

use parking_lot::Mutex;

use crate::error::{Error, Result};

/// A change to record: a key and its new value, `None` for a delete (a tombstone).
pub type Change = (Vec<u8>, Option<Vec<u8>>);

/// One record read back from a changelog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangelogRecord {
    /// The record's offset in the changelog.
    pub offset: i64,
    /// The store key.
    pub key: Vec<u8>,
    /// The value, or `None` for a delete.
    pub value: Option<Vec<u8>>,
}

/// One partition of a store's changelog topic, written by the one task that owns the store.
///
/// Contract, which a Kafka compacted topic partition meets:
/// - [`append`](Self::append) queues records in order; they need not be durable, or visible to
///   [`read`](Self::read), until [`flush`](Self::flush) returns.
/// - [`flush`](Self::flush) returns once every record appended so far is durable, with the end
///   offset: the offset after the last durable record (Kafka's high watermark).
/// - [`start_offset`](Self::start_offset) and [`end_offset`](Self::end_offset) bound the
///   records that can be read: `start <= offset < end`.
/// - [`read`](Self::read) returns, in offset order, the first at most `max` records with
///   `offset >= from_offset` and `offset < end_offset`. It returns an empty vector only when
///   there is no such record (a Kafka implementation polls until it has records or its
///   position reaches the end offset), so a reader is done at the first empty answer.
/// - Offsets increase but may have gaps (compaction, transaction markers); readers continue
///   from the last offset they got plus one.
/// - Compaction may remove a record only when a later record has the same key, and
///   tombstones only after a grace period (`delete.retention.ms`) that must be longer than a
///   store with a checkpoint can stay offline; otherwise an incremental restore could miss a
///   delete (the same caveat as in Kafka Streams).
pub trait Changelog: Send + Sync {
    /// A name for messages and for checkpoints, which record it so that a checkpoint of
    /// another changelog is never trusted (for Kafka: `topic-partition`).
    fn name(&self) -> &str;

    /// Queues records, in order.
    fn append(&self, records: &[Change]) -> Result<()>;

    /// Makes every appended record durable; returns the end offset.
    fn flush(&self) -> Result<i64>;

    /// The first offset that may still be read.
    fn start_offset(&self) -> Result<i64>;

    /// The offset after the last durable record.
    fn end_offset(&self) -> Result<i64>;

    /// Up to `max` records with `from_offset <= offset < end_offset`, in offset order; empty
    /// only when there are none.
    fn read(&self, from_offset: i64, max: usize) -> Result<Vec<ChangelogRecord>>;
}

#[derive(Debug, Default)]
struct MemoryLog {
    durable: Vec<ChangelogRecord>,
    pending: Vec<Change>,
    start: i64,
    next: i64,
    fail_flushes: usize,
}

/// An in-memory changelog for tests. Appended records become readable at `flush`.
#[derive(Debug, Default)]
pub struct MemoryChangelog {
    name: String,
    log: Mutex<MemoryLog>,
}

impl MemoryChangelog {
    /// An empty changelog.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            log: Mutex::new(MemoryLog::default()),
        }
    }

    /// The durable records.
    pub fn records(&self) -> Vec<ChangelogRecord> {
        self.log.lock().durable.clone()
    }

    /// Records appended but not flushed.
    pub fn pending(&self) -> usize {
        self.log.lock().pending.len()
    }

    /// Drops the records appended but not flushed, as a crash of the writer would.
    pub fn lose_unflushed(&self) {
        self.log.lock().pending.clear();
    }

    /// Compacts like Kafka: keeps only the last record of each key, so offsets get gaps. With
    /// `drop_tombstones`, deletes whose grace period is over go as well.
    pub fn compact(&self, drop_tombstones: bool) {
        let mut log = self.log.lock();
        let mut last: HashMap<&[u8], i64> = HashMap::new();
        for record in &log.durable {
            last.insert(&record.key, record.offset);
        }
        let keep: Vec<bool> = log
            .durable
            .iter()
            .map(|r| {
                last.get(r.key.as_slice()) == Some(&r.offset)
                    && !(drop_tombstones && r.value.is_none())
            })
            .collect();
        let mut keep = keep.into_iter();
        log.durable.retain(|_| keep.next().unwrap_or(true));
    }

    /// Removes every record below `offset` (Kafka's `DeleteRecords`).
    pub fn delete_before(&self, offset: i64) {
        let mut log = self.log.lock();
        log.durable.retain(|r| r.offset >= offset);
        log.start = log.start.max(offset.min(log.next));
    }

    /// Removes every record at or after `offset` (a topic that lost its tail).
    pub fn truncate(&self, offset: i64) {
        let mut log = self.log.lock();
        log.durable.retain(|r| r.offset < offset);
        log.next = log.next.min(offset.max(log.start));
    }

    /// Makes the next `n` flushes fail.
    pub fn fail_flushes(&self, n: usize) {
        self.log.lock().fail_flushes = n;
    }
}

impl Changelog for MemoryChangelog {
    fn name(&self) -> &str {
        &self.name
    }

    fn append(&self, records: &[Change]) -> Result<()> {
        self.log.lock().pending.extend_from_slice(records);
        Ok(())
    }

    fn flush(&self) -> Result<i64> {
        let mut log = self.log.lock();
        if log.fail_flushes > 0 {
            log.fail_flushes -= 1;
            return Err(Error::Changelog {
                store: self.name.clone(),
                message: "injected flush failure".into(),
            });
        }
        let pending = std::mem::take(&mut log.pending);
        for (key, value) in pending {
            let offset = log.next;
            log.next += 1;
            log.durable.push(ChangelogRecord { offset, key, value });
        }
        Ok(log.next)
    }

    fn start_offset(&self) -> Result<i64> {
        Ok(self.log.lock().start)
    }

    fn end_offset(&self) -> Result<i64> {
        Ok(self.log.lock().next)
    }

    fn read(&self, from_offset: i64, max: usize) -> Result<Vec<ChangelogRecord>> {
        let log = self.log.lock();
        let at = log.durable.partition_point(|r| r.offset < from_offset);
        Ok(log.durable[at..].iter().take(max).cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(key: &str, value: Option<&str>) -> Change {
        (
            key.as_bytes().to_vec(),
            value.map(|v| v.as_bytes().to_vec()),
        )
    }

    #[test]
    fn records_are_readable_after_flush_and_compaction_leaves_gaps() {
        let log = MemoryChangelog::new("t-0");
        log.append(&[change("a", Some("1")), change("b", Some("2"))])
            .unwrap();
        assert_eq!(log.end_offset().unwrap(), 0);
        assert!(log.read(0, 10).unwrap().is_empty());
        assert_eq!(log.flush().unwrap(), 2);
        log.append(&[change("a", None), change("c", Some("3"))])
            .unwrap();
        assert_eq!(log.flush().unwrap(), 4);
        log.compact(false);
        let offsets: Vec<i64> = log.read(0, 10).unwrap().iter().map(|r| r.offset).collect();
        assert_eq!(offsets, vec![1, 2, 3]);
        assert_eq!(log.read(2, 1).unwrap()[0].offset, 2);
        log.compact(true);
        let offsets: Vec<i64> = log.read(0, 10).unwrap().iter().map(|r| r.offset).collect();
        assert_eq!(offsets, vec![1, 3]);
        log.append(&[change("d", Some("4"))]).unwrap();
        log.lose_unflushed();
        assert_eq!(log.flush().unwrap(), 4);
    }
}
