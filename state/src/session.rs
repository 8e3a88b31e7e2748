//! Session stores: values per (key, session start, session end), found by overlap for
//! session-window merging, and expired a time segment (by session end) at a time.

use std::sync::Arc;

use parking_lot::RwLock;

use crate::error::Result;
use crate::keys::{decode_session_key, encode_time, key_prefix, prefix_successor, session_key};
use crate::segments::{SegmentStorage, Segments};
use crate::window::Retention;

/// A session: a key's activity from `start` to `end` (inclusive, milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionWindow {
    /// First record's time.
    pub start: i64,
    /// Last record's time.
    pub end: i64,
}

/// A session found in a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionEntry {
    /// The user key.
    pub key: Vec<u8>,
    /// The session's time range.
    pub window: SessionWindow,
    /// The value (an aggregate).
    pub value: Vec<u8>,
}

/// A store of sessions per key.
pub trait SessionStore: Send + Sync {
    /// `key`'s sessions that end at or after `earliest_end` and start at or before
    /// `latest_start` (the sessions a record at time t merges with, for
    /// `earliest_end = t - gap` and `latest_start = t + gap`), ordered by end, then start.
    fn find_sessions(
        &self,
        key: &[u8],
        earliest_end: i64,
        latest_start: i64,
    ) -> Result<Vec<SessionEntry>>;

    /// Every key's sessions that end in `[earliest_end, latest_end]`, ordered by end, then
    /// key, then start: how on-close emission finds the sessions that closed (Kafka
    /// Streams' `findSessions(earliestSessionEndTime, latestSessionEndTime)`).
    fn fetch_ended(&self, earliest_end: i64, latest_end: i64) -> Result<Vec<SessionEntry>>;

    /// Stores a session's value. Sessions already past retention are dropped (`false`).
    fn put(&self, key: &[u8], window: SessionWindow, value: &[u8]) -> Result<bool>;

    /// Removes a session (after it was merged into another).
    fn remove(&self, key: &[u8], window: SessionWindow) -> Result<()>;

    /// One session's value.
    fn fetch_session(&self, key: &[u8], window: SessionWindow) -> Result<Option<Vec<u8>>>;

    /// Whether a put of a session ending at `end` would be dropped as past retention.
    fn is_expired(&self, end: i64) -> bool;

    /// How far behind the newest session end sessions are kept, milliseconds.
    fn retention_ms(&self) -> i64;

    /// Makes every write so far durable on disk (no-op in memory).
    fn flush(&self) -> Result<()>;
}

/// A session store on any [`SegmentStorage`], segmented by session end.
pub struct SegmentedSessionStore {
    segments: Segments,
    observed: RwLock<i64>,
}

impl SegmentedSessionStore {
    /// Opens (or creates) the store's segments in `storage`.
    pub fn open(storage: Arc<dyn SegmentStorage>, retention: Retention) -> Result<Self> {
        let segments = Segments::open(storage, retention)?;
        let observed = segments.newest_time_hint();
        Ok(Self {
            segments,
            observed: RwLock::new(observed),
        })
    }
}

impl SessionStore for SegmentedSessionStore {
    fn find_sessions(
        &self,
        key: &[u8],
        earliest_end: i64,
        latest_start: i64,
    ) -> Result<Vec<SessionEntry>> {
        // Sessions past retention are never returned, even while their segment exists.
        let earliest_end = earliest_end.max(self.segments.min_live_time(*self.observed.read()));
        let prefix = key_prefix(key);
        let mut from = prefix.clone();
        from.extend_from_slice(&encode_time(earliest_end));
        let to = prefix_successor(&prefix);
        let mut out = Vec::new();
        for segment in self.segments.starting_at(earliest_end) {
            let upper = match &to {
                Some(to) => std::ops::Bound::Excluded(to.as_slice()),
                None => std::ops::Bound::Unbounded,
            };
            for entry in segment.range(std::ops::Bound::Included(&from), upper)? {
                let (k, value) = entry?;
                let (key, start, end) = decode_session_key(&k)?;
                if end >= earliest_end && start <= latest_start {
                    out.push(SessionEntry {
                        key,
                        window: SessionWindow { start, end },
                        value,
                    });
                }
            }
        }
        Ok(out)
    }

    fn fetch_ended(&self, earliest_end: i64, latest_end: i64) -> Result<Vec<SessionEntry>> {
        let earliest_end = earliest_end.max(self.segments.min_live_time(*self.observed.read()));
        let mut out = Vec::new();
        if earliest_end > latest_end {
            return Ok(out);
        }
        // Segments are cut by session end, so only those overlapping the range are read.
        for segment in self.segments.overlapping(earliest_end, latest_end) {
            for entry in segment.all()? {
                let (k, value) = entry?;
                let (key, start, end) = decode_session_key(&k)?;
                if (earliest_end..=latest_end).contains(&end) {
                    out.push(SessionEntry {
                        key,
                        window: SessionWindow { start, end },
                        value,
                    });
                }
            }
        }
        out.sort_by(|a, b| {
            (a.window.end, &a.key, a.window.start).cmp(&(b.window.end, &b.key, b.window.start))
        });
        Ok(out)
    }

    fn put(&self, key: &[u8], window: SessionWindow, value: &[u8]) -> Result<bool> {
        {
            let mut observed = self.observed.write();
            if window.end > *observed {
                *observed = window.end;
            }
        }
        let observed = *self.observed.read();
        self.segments.expire(observed)?;
        match self.segments.segment_for_write(window.end, observed)? {
            Some(segment) => {
                segment.put(&session_key(key, window.start, window.end), value)?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn remove(&self, key: &[u8], window: SessionWindow) -> Result<()> {
        if let Some(segment) = self.segments.existing_segment(window.end) {
            segment.delete(&session_key(key, window.start, window.end))?;
        }
        Ok(())
    }

    fn fetch_session(&self, key: &[u8], window: SessionWindow) -> Result<Option<Vec<u8>>> {
        if self.is_expired(window.end) {
            return Ok(None);
        }
        match self.segments.existing_segment(window.end) {
            Some(segment) => segment.get(&session_key(key, window.start, window.end)),
            None => Ok(None),
        }
    }

    fn is_expired(&self, end: i64) -> bool {
        self.segments.is_expired(end, *self.observed.read())
    }

    fn retention_ms(&self) -> i64 {
        self.segments.retention_ms()
    }

    fn flush(&self) -> Result<()> {
        self.segments.flush()
    }
}
