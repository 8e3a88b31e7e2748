//! Time-segmented storage for window and session stores: one key-value store per segment of
//! `segment_ms`, so that expiring old data is dropping whole segments (a map in memory, a
//! column family in RocksDB), never deleting keys one by one.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::RwLock;

use crate::error::Result;
use crate::kv::KeyValueStore;
use crate::window::Retention;

/// A family of key-value segments, identified by number, that can be opened, listed and
/// dropped whole. Engines implement it; the segmented stores use it.
pub trait SegmentStorage: Send + Sync {
    /// Opens segment `id`, creating it if needed.
    fn open_segment(&self, id: i64) -> Result<Arc<dyn KeyValueStore>>;
    /// Drops segment `id` and all its data.
    fn drop_segment(&self, id: i64) -> Result<()>;
    /// The segments that exist (after a restart: those left on disk).
    fn existing_segments(&self) -> Result<Vec<i64>>;
}

/// The open segments of one store.
pub(crate) struct Segments {
    storage: Arc<dyn SegmentStorage>,
    retention: Retention,
    open: RwLock<BTreeMap<i64, Arc<dyn KeyValueStore>>>,
}

impl Segments {
    pub fn open(storage: Arc<dyn SegmentStorage>, retention: Retention) -> Result<Self> {
        let mut open = BTreeMap::new();
        for id in storage.existing_segments()? {
            open.insert(id, storage.open_segment(id)?);
        }
        Ok(Self {
            storage,
            retention,
            open: RwLock::new(open),
        })
    }

    /// The number of the segment holding `time`.
    pub fn id(&self, time: i64) -> i64 {
        time.div_euclid(self.retention.segment_ms)
    }

    /// A lower bound of the newest time written before a restart: the start of the newest
    /// segment (or `i64::MIN` when there is none).
    pub fn newest_time_hint(&self) -> i64 {
        self.open
            .read()
            .keys()
            .next_back()
            .map_or(i64::MIN, |id| id.saturating_mul(self.retention.segment_ms))
    }

    /// Oldest time still retained when the newest time seen is `observed`. Reads skip older
    /// data even while its segment still exists (segments go whole, so they outlive their
    /// oldest entries), as Kafka Streams' segmented stores do.
    pub fn min_live_time(&self, observed: i64) -> i64 {
        observed.saturating_sub(self.retention.retention_ms)
    }

    /// How far behind the newest time data is kept.
    pub fn retention_ms(&self) -> i64 {
        self.retention.retention_ms
    }

    /// Whether a write at `time` would be dropped as past retention, `observed` being the
    /// newest time seen.
    pub fn is_expired(&self, time: i64, observed: i64) -> bool {
        time < self.min_live_time(observed)
    }

    /// The segment to write time `time` to, created if needed; `None` if `time` has expired.
    pub fn segment_for_write(
        &self,
        time: i64,
        observed: i64,
    ) -> Result<Option<Arc<dyn KeyValueStore>>> {
        if self.is_expired(time, observed) {
            return Ok(None);
        }
        let id = self.id(time);
        if let Some(segment) = self.open.read().get(&id) {
            return Ok(Some(Arc::clone(segment)));
        }
        let mut open = self.open.write();
        if let Some(segment) = open.get(&id) {
            return Ok(Some(Arc::clone(segment)));
        }
        let segment = self.storage.open_segment(id)?;
        open.insert(id, Arc::clone(&segment));
        Ok(Some(segment))
    }

    /// The segment holding time `time`, if it exists.
    pub fn existing_segment(&self, time: i64) -> Option<Arc<dyn KeyValueStore>> {
        self.open.read().get(&self.id(time)).cloned()
    }

    /// Segments that may hold times in `[from, to]`, oldest first.
    pub fn overlapping(&self, from: i64, to: i64) -> Vec<Arc<dyn KeyValueStore>> {
        self.open
            .read()
            .range(self.id(from)..=self.id(to))
            .map(|(_, s)| Arc::clone(s))
            .collect()
    }

    /// Segments from the one holding `from` to the newest, oldest first.
    pub fn starting_at(&self, from: i64) -> Vec<Arc<dyn KeyValueStore>> {
        self.open
            .read()
            .range(self.id(from)..)
            .map(|(_, s)| Arc::clone(s))
            .collect()
    }

    /// Drops every segment wholly older than the retention allows. Returns how many.
    pub fn expire(&self, observed: i64) -> Result<usize> {
        let min_live_id = self.id(self.min_live_time(observed));
        let doomed: Vec<i64> = self
            .open
            .read()
            .range(..min_live_id)
            .map(|(id, _)| *id)
            .collect();
        for id in &doomed {
            self.open.write().remove(id);
            self.storage.drop_segment(*id)?;
        }
        Ok(doomed.len())
    }

    /// Flushes every open segment.
    pub fn flush(&self) -> Result<()> {
        for segment in self.open.read().values() {
            segment.flush()?;
        }
        Ok(())
    }
}
