//! Window stores: values per (key, window start), kept for a retention period and dropped a
//! whole time segment at a time, never by per-key deletes (Kafka Streams' segmented stores).

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::RwLock;

use crate::changelog::Change;
use crate::error::{Error, Result};
use crate::keys::{decode_windowed_key, windowed_key};
use crate::kv::KeyValueStore;
use crate::segments::{SegmentStorage, Segments};

/// A value found in a window store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowEntry {
    /// The user key.
    pub key: Vec<u8>,
    /// Start of the window (milliseconds).
    pub window_start: i64,
    /// The value.
    pub value: Vec<u8>,
}

/// One write of [`WindowStore::write_batch`]: key, window start, value (`None`: delete).
pub type WindowWrite = (Vec<u8>, i64, Option<Vec<u8>>);

/// A store of values per key and window start.
pub trait WindowStore: Send + Sync {
    /// Sets the value of `key` in the window starting at `window_start`. Writes to windows
    /// already past retention (relative to the newest window start seen) are dropped, and
    /// reported as `false`.
    fn put(&self, key: &[u8], window_start: i64, value: &[u8]) -> Result<bool>;

    /// Removes one window's value.
    fn delete(&self, key: &[u8], window_start: i64) -> Result<()>;

    /// Writes many windows at once (`None` deletes), with [`put`](Self::put)'s retention
    /// rule; expired writes are skipped. Engines write each segment's share as one batch.
    fn write_batch(&self, entries: &[WindowWrite]) -> Result<()> {
        for (key, window_start, value) in entries {
            match value {
                Some(value) => {
                    self.put(key, *window_start, value)?;
                }
                None => self.delete(key, *window_start)?,
            }
        }
        Ok(())
    }

    /// One window's value. Reads never return windows past retention, even while their
    /// segment still exists.
    fn fetch_one(&self, key: &[u8], window_start: i64) -> Result<Option<Vec<u8>>>;

    /// `key`'s windows starting in `[time_from, time_to]`, oldest first.
    fn fetch(&self, key: &[u8], time_from: i64, time_to: i64) -> Result<Vec<(i64, Vec<u8>)>>;

    /// Every key's windows starting in `[time_from, time_to]`, by key, then window start.
    fn fetch_all(&self, time_from: i64, time_to: i64) -> Result<Vec<WindowEntry>>;

    /// The newest window start written so far (the store's notion of stream time).
    fn observed_time(&self) -> i64;

    /// Whether a put of a window starting at `window_start` would be dropped as past
    /// retention.
    fn is_expired(&self, window_start: i64) -> bool;

    /// How far behind the newest window start windows are kept, milliseconds.
    fn retention_ms(&self) -> i64;

    /// Makes every write so far durable on disk (no-op in memory).
    fn flush(&self) -> Result<()>;
}

/// How long a segmented store keeps data and how it cuts time into segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Data older than this (relative to the newest time seen) is dropped.
    pub retention_ms: i64,
    /// Width of one time segment; whole segments are dropped at once.
    pub segment_ms: i64,
}

impl Retention {
    /// Kafka Streams' default cut: segments of half the retention (at least one minute).
    pub fn new(retention_ms: i64) -> Result<Self> {
        if retention_ms <= 0 {
            return Err(Error::InvalidConfig(format!(
                "retention must be positive, got {retention_ms} ms"
            )));
        }
        Ok(Self {
            retention_ms,
            segment_ms: (retention_ms / 2).max(60_000),
        })
    }

    /// With an explicit segment width.
    pub fn with_segment_ms(retention_ms: i64, segment_ms: i64) -> Result<Self> {
        if retention_ms <= 0 || segment_ms <= 0 {
            return Err(Error::InvalidConfig(format!(
                "retention ({retention_ms} ms) and segment width ({segment_ms} ms) must be positive"
            )));
        }
        Ok(Self {
            retention_ms,
            segment_ms,
        })
    }
}

/// A window store on any [`SegmentStorage`]: one key-value segment per `segment_ms` of window
/// start times, keys encoded as `key ++ window_start` (see [`crate::keys`]).
pub struct SegmentedWindowStore {
    segments: Segments,
    observed: RwLock<i64>,
}

impl SegmentedWindowStore {
    /// Opens (or creates) the store's segments in `storage`.
    pub fn open(storage: Arc<dyn SegmentStorage>, retention: Retention) -> Result<Self> {
        let segments = Segments::open(storage, retention)?;
        let observed = segments.newest_time_hint();
        Ok(Self {
            segments,
            observed: RwLock::new(observed),
        })
    }

    /// The oldest window start reads return.
    fn min_live_time(&self) -> i64 {
        self.segments.min_live_time(*self.observed.read())
    }

    fn segment_for(&self, window_start: i64) -> Result<Option<Arc<dyn KeyValueStore>>> {
        self.segments
            .segment_for_write(window_start, *self.observed.read())
    }
}

impl WindowStore for SegmentedWindowStore {
    fn put(&self, key: &[u8], window_start: i64, value: &[u8]) -> Result<bool> {
        {
            let mut observed = self.observed.write();
            if window_start > *observed {
                *observed = window_start;
            }
        }
        self.segments.expire(*self.observed.read())?;
        match self.segment_for(window_start)? {
            Some(segment) => {
                segment.put(&windowed_key(key, window_start), value)?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Groups the writes by segment and writes each group as one batch (one engine write,
    /// e.g. one RocksDB write batch, instead of one per window).
    fn write_batch(&self, entries: &[WindowWrite]) -> Result<()> {
        let newest = entries
            .iter()
            .filter(|(_, _, value)| value.is_some())
            .map(|(_, start, _)| *start)
            .max();
        if let Some(newest) = newest {
            let mut observed = self.observed.write();
            *observed = (*observed).max(newest);
        }
        let observed = *self.observed.read();
        self.segments.expire(observed)?;
        // Segment number -> (a live window start in it, its writes).
        let mut by_segment: BTreeMap<i64, (i64, Vec<Change>)> = BTreeMap::new();
        for (key, start, value) in entries {
            if self.segments.is_expired(*start, observed) {
                continue;
            }
            by_segment
                .entry(self.segments.id(*start))
                .or_insert_with(|| (*start, Vec::new()))
                .1
                .push((windowed_key(key, *start), value.clone()));
        }
        for (live_start, batch) in by_segment.into_values() {
            let segment = if batch.iter().any(|(_, v)| v.is_some()) {
                self.segments.segment_for_write(live_start, observed)?
            } else {
                self.segments.existing_segment(live_start)
            };
            if let Some(segment) = segment {
                segment.write_batch(&batch)?;
            }
        }
        Ok(())
    }

    fn delete(&self, key: &[u8], window_start: i64) -> Result<()> {
        if let Some(segment) = self.segments.existing_segment(window_start) {
            segment.delete(&windowed_key(key, window_start))?;
        }
        Ok(())
    }

    fn fetch_one(&self, key: &[u8], window_start: i64) -> Result<Option<Vec<u8>>> {
        if self.is_expired(window_start) {
            return Ok(None);
        }
        match self.segments.existing_segment(window_start) {
            Some(segment) => segment.get(&windowed_key(key, window_start)),
            None => Ok(None),
        }
    }

    fn fetch(&self, key: &[u8], time_from: i64, time_to: i64) -> Result<Vec<(i64, Vec<u8>)>> {
        let time_from = time_from.max(self.min_live_time());
        let mut out = Vec::new();
        if time_from > time_to {
            return Ok(out);
        }
        let from = windowed_key(key, time_from);
        let to = windowed_key(key, time_to);
        for segment in self.segments.overlapping(time_from, time_to) {
            for entry in segment.range(
                std::ops::Bound::Included(&from),
                std::ops::Bound::Included(&to),
            )? {
                let (k, v) = entry?;
                let (_, start) = decode_windowed_key(&k)?;
                out.push((start, v));
            }
        }
        Ok(out)
    }

    fn fetch_all(&self, time_from: i64, time_to: i64) -> Result<Vec<WindowEntry>> {
        let time_from = time_from.max(self.min_live_time());
        let mut by_key: BTreeMap<(Vec<u8>, i64), Vec<u8>> = BTreeMap::new();
        if time_from > time_to {
            return Ok(Vec::new());
        }
        for segment in self.segments.overlapping(time_from, time_to) {
            for entry in segment.all()? {
                let (k, v) = entry?;
                let (key, start) = decode_windowed_key(&k)?;
                if (time_from..=time_to).contains(&start) {
                    by_key.insert((key, start), v);
                }
            }
        }
        Ok(by_key
            .into_iter()
            .map(|((key, window_start), value)| WindowEntry {
                key,
                window_start,
                value,
            })
            .collect())
    }

    fn observed_time(&self) -> i64 {
        *self.observed.read()
    }

    fn is_expired(&self, window_start: i64) -> bool {
        self.segments
            .is_expired(window_start, *self.observed.read())
    }

    fn retention_ms(&self) -> i64 {
        self.segments.retention_ms()
    }

    fn flush(&self) -> Result<()> {
        self.segments.flush()
    }
}
