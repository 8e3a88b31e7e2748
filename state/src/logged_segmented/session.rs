//! [`ChangeloggedSessionStore`]: a session store over a changelog, with its write cache,
//! and the key-value view of a session store the changelog layer writes and replays into.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use super::{CachedLog, restoring_logged};
use crate::changelog::{Change, Changelog};
use crate::error::Result;
use crate::keys::{decode_session_key, session_key};
use crate::kv::{EntryIter, KeyValueStore};
use crate::logged::{ChangeloggedConfig, RestoreReport};
use crate::restore::Restoring;
use crate::session::{SessionEntry, SessionStore, SessionWindow};
use crate::time_cache::{CachedWrite, TimeCache};

/// A session store seen as a key-value store of `session_key(key, start, end) -> value`.
struct SessionRecords {
    name: String,
    sessions: Arc<dyn SessionStore>,
}

impl KeyValueStore for SessionRecords {
    fn name(&self) -> &str {
        &self.name
    }
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let (key, start, end) = decode_session_key(key)?;
        self.sessions
            .fetch_session(&key, SessionWindow { start, end })
    }
    fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        let (key, start, end) = decode_session_key(key)?;
        self.sessions
            .put(&key, SessionWindow { start, end }, value)
            .map(|_| ())
    }
    fn write_batch(&self, entries: &[Change]) -> Result<()> {
        for (key, value) in entries {
            match value {
                Some(value) => self.put(key, value)?,
                None => self.delete(key)?,
            }
        }
        Ok(())
    }
    fn delete(&self, key: &[u8]) -> Result<()> {
        let (key, start, end) = decode_session_key(key)?;
        self.sessions.remove(&key, SessionWindow { start, end })
    }
    /// Session stores have no full scan; the view is write-only for the changelog layer.
    fn range<'a>(&'a self, _from: Bound<&[u8]>, _to: Bound<&[u8]>) -> Result<EntryIter<'a>> {
        Err(crate::Error::InvalidConfig(format!(
            "session store {} has no key-ordered scan; use find_sessions",
            self.name
        )))
    }
    fn approximate_len(&self) -> Result<u64> {
        Ok(0)
    }
    fn flush(&self) -> Result<()> {
        self.sessions.flush()
    }
}

/// A session store recorded in a changelog, with checkpoints at commit and restore on open,
/// and a write cache.
pub struct ChangeloggedSessionStore {
    /// Cache slots are `(end, start)`: sessions in the order the store keeps them.
    log: CachedLog<(i64, i64)>,
    sessions: Arc<dyn SessionStore>,
}

impl std::fmt::Debug for ChangeloggedSessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ChangeloggedSessionStore")
            .field(&self.log.logged)
            .finish()
    }
}

impl ChangeloggedSessionStore {
    /// Opens the store in state directory `dir`, restoring it from `changelog` as needed
    /// (see [`ChangeloggedStore::open`]); `open_engine` opens the session store in the
    /// directory it is given (e.g. with [`RocksEnv::open_session_store`]).
    /// `config.cache_max_bytes` bounds the write cache (0 turns it off).
    ///
    /// [`RocksEnv::open_session_store`]: crate::RocksEnv::open_session_store
    pub fn open<F>(
        dir: impl AsRef<Path>,
        name: &str,
        changelog: Arc<dyn Changelog>,
        config: &ChangeloggedConfig,
        open_engine: F,
    ) -> Result<(Self, RestoreReport)>
    where
        F: Fn(&Path) -> Result<Arc<dyn SessionStore>>,
    {
        Self::restoring(dir, name, changelog, config, open_engine)?.finish()
    }

    /// Opens the store as [`ChangeloggedSessionStore::open`] does, leaving the replay to the
    /// caller (see [`ChangeloggedStore::restoring`]).
    pub fn restoring<F>(
        dir: impl AsRef<Path>,
        name: &str,
        changelog: Arc<dyn Changelog>,
        config: &ChangeloggedConfig,
        open_engine: F,
    ) -> Result<Restoring<Self>>
    where
        F: Fn(&Path) -> Result<Arc<dyn SessionStore>>,
    {
        let (restoring, sessions) = restoring_logged(
            dir.as_ref(),
            name,
            changelog,
            config,
            open_engine,
            |sessions| {
                Arc::new(SessionRecords {
                    name: name.to_owned(),
                    sessions,
                })
            },
        )?;
        let budget = config.budget();
        Ok(restoring.map(move |logged| {
            let log = CachedLog::new(logged, budget, |key, (end, start)| {
                session_key(key, start, end)
            });
            Self { log, sessions }
        }))
    }

    /// Updates that replaced a cached value of the same session, so never reached the
    /// changelog.
    pub fn cache_absorbed(&self) -> u64 {
        self.log.cache.lock().absorbed()
    }

    /// Commits: writes the cache down, makes the changelog durable, flushes the store and
    /// writes the checkpoint.
    pub fn commit(&self) -> Result<i64> {
        self.log.commit()
    }

    /// Commits and writes the checkpoint whatever the configuration says (see
    /// [`ChangeloggedStore::checkpoint`]).
    pub fn checkpoint(&self) -> Result<i64> {
        self.log.checkpoint()
    }

    /// Commits and closes the store.
    pub fn close(self) -> Result<i64> {
        self.commit()
    }
}

/// The oldest session end reads return by the cache's notion of time (the store below
/// clips its own reads by its own).
fn oldest_cached_live(cache: &TimeCache<(i64, i64)>, retention_ms: i64) -> i64 {
    cache
        .newest_time()
        .map_or(i64::MIN, |t| t.saturating_sub(retention_ms))
}

/// Overlays cached sessions (`(end, start)` slots of one key, or of several keys) on
/// sessions read from the store below, ordered by `order`.
fn merge_sessions<O: Ord>(
    stored: Vec<SessionEntry>,
    cached: Vec<CachedWrite<(i64, i64)>>,
    order: impl Fn(&[u8], SessionWindow) -> O,
) -> Vec<SessionEntry> {
    if cached.is_empty() {
        return stored;
    }
    let mut merged: BTreeMap<O, SessionEntry> = stored
        .into_iter()
        .map(|e| (order(&e.key, e.window), e))
        .collect();
    for (key, (end, start), value) in cached {
        let window = SessionWindow { start, end };
        let at = order(&key, window);
        match value {
            Some(value) => merged.insert(at, SessionEntry { key, window, value }),
            None => merged.remove(&at),
        };
    }
    merged.into_values().collect()
}

/// Reads merge the cache over the store below; time (and so expiry) counts cached writes.
impl SessionStore for ChangeloggedSessionStore {
    fn find_sessions(
        &self,
        key: &[u8],
        earliest_end: i64,
        latest_start: i64,
    ) -> Result<Vec<SessionEntry>> {
        let cache = self.log.cache.lock();
        let earliest_end = earliest_end.max(oldest_cached_live(&cache, self.retention_ms()));
        let stored = self
            .sessions
            .find_sessions(key, earliest_end, latest_start)?;
        let cached = cache
            .range(key, (earliest_end, i64::MIN)..)
            .into_iter()
            .filter(|((_, start), _)| *start <= latest_start)
            .map(|(slot, value)| (key.to_vec(), slot, value))
            .collect();
        Ok(merge_sessions(stored, cached, |_, w| (w.end, w.start)))
    }
    fn fetch_ended(&self, earliest_end: i64, latest_end: i64) -> Result<Vec<SessionEntry>> {
        let cache = self.log.cache.lock();
        let earliest_end = earliest_end.max(oldest_cached_live(&cache, self.retention_ms()));
        let stored = self.sessions.fetch_ended(earliest_end, latest_end)?;
        let cached = cache.matching(|(end, _)| (earliest_end..=latest_end).contains(end));
        Ok(merge_sessions(stored, cached, |key, w| {
            (w.end, key.to_vec(), w.start)
        }))
    }
    fn put(&self, key: &[u8], window: SessionWindow, value: &[u8]) -> Result<bool> {
        if self.is_expired(window.end) {
            return Ok(false);
        }
        self.log
            .write(key, (window.end, window.start), window.end, Some(value))?;
        Ok(true)
    }
    fn remove(&self, key: &[u8], window: SessionWindow) -> Result<()> {
        self.log
            .write(key, (window.end, window.start), window.end, None)
    }
    fn fetch_session(&self, key: &[u8], window: SessionWindow) -> Result<Option<Vec<u8>>> {
        if self.is_expired(window.end) {
            return Ok(None);
        }
        let cache = self.log.cache.lock();
        match cache.get(key, (window.end, window.start)) {
            Some(cached) => Ok(cached.map(<[u8]>::to_vec)),
            None => self.sessions.fetch_session(key, window),
        }
    }
    fn is_expired(&self, end: i64) -> bool {
        let below = self.sessions.is_expired(end);
        self.log
            .is_expired(end, below, self.sessions.retention_ms())
    }
    fn retention_ms(&self) -> i64 {
        self.sessions.retention_ms()
    }
    /// Commits (see [`ChangeloggedSessionStore::commit`]).
    fn flush(&self) -> Result<()> {
        self.commit().map(|_| ())
    }
}
