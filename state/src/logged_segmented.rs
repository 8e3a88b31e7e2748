//! Changelogged window and session stores: [`ChangeloggedWindowStore`] and
//! [`ChangeloggedSessionStore`], with the same changelog, checkpoint and restore rules as
//! [`ChangeloggedStore`] (see [`crate::logged`] for the invariant).
//!
//! Each is a [`ChangeloggedStore`] whose "engine" is a key-value view of the window or
//! session store: changelog keys are the store's own encoded keys
//! ([`keys::windowed_key`](crate::keys::windowed_key): key then window start;
//! [`keys::session_key`](crate::keys::session_key): key, then session end and start), so
//! compaction keeps the latest value per window or session, and a restore replays each
//! record as a put (or, for a tombstone, a delete) into the window or session store, whose
//! retention drops what has expired meanwhile.
//!
//! - Writes past retention are dropped before they reach the changelog (`put` returns
//!   `false`), as the store itself would drop them.
//! - Expiring whole segments writes nothing to the changelog: the changelog topic of a
//!   windowed store should be `cleanup.policy=compact,delete` with `retention.ms` at least
//!   the store's retention (Kafka Streams' choice), so old windows leave the topic too.
//! - A window store has a write cache (as Kafka Streams' window stores do): writes wait in
//!   it, one entry per window, until the next commit or until it holds more than
//!   `cache_max_bytes`, then go down as one batch to the changelog and the store; reads
//!   merge it in. Between commits only each window's latest value reaches the changelog.
//!   Session stores have the same cache, one entry per session.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::cache_budget::{CacheBudget, CacheShare};
use crate::changelog::{Change, Changelog};
use crate::error::Result;
use crate::keys::{decode_session_key, decode_windowed_key, session_key, windowed_key};
use crate::kv::{Entry, EntryIter, KeyValueStore};
use crate::logged::{ChangeloggedConfig, ChangeloggedStore, RestoreReport};
use crate::restore::Restoring;
use crate::session::{SessionEntry, SessionStore, SessionWindow};
use crate::time_cache::{CachedWrite, TimeCache, merge_entries, merge_windows};
use crate::window::{WindowEntry, WindowStore, WindowWrite};

/// Whether an encoded key lies within range bounds.
fn in_bounds(key: &[u8], from: Bound<&[u8]>, to: Bound<&[u8]>) -> bool {
    let above = match from {
        Bound::Included(f) => key >= f,
        Bound::Excluded(f) => key > f,
        Bound::Unbounded => true,
    };
    let below = match to {
        Bound::Included(t) => key <= t,
        Bound::Excluded(t) => key < t,
        Bound::Unbounded => true,
    };
    above && below
}

/// A window store seen as a key-value store of `windowed_key(key, start) -> value`: what the
/// changelog layer writes and replays into.
struct WindowRecords {
    name: String,
    window: Arc<dyn WindowStore>,
}

impl KeyValueStore for WindowRecords {
    fn name(&self) -> &str {
        &self.name
    }
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let (key, start) = decode_windowed_key(key)?;
        self.window.fetch_one(&key, start)
    }
    fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        let (key, start) = decode_windowed_key(key)?;
        self.window.put(&key, start, value).map(|_| ())
    }
    fn write_batch(&self, entries: &[Change]) -> Result<()> {
        let writes = entries
            .iter()
            .map(|(key, value)| {
                let (key, start) = decode_windowed_key(key)?;
                Ok((key, start, value.clone()))
            })
            .collect::<Result<Vec<WindowWrite>>>()?;
        self.window.write_batch(&writes)
    }
    fn delete(&self, key: &[u8]) -> Result<()> {
        let (key, start) = decode_windowed_key(key)?;
        self.window.delete(&key, start)
    }
    /// Scans the whole store (only tests and tools call this on a window store).
    fn range<'a>(&'a self, from: Bound<&[u8]>, to: Bound<&[u8]>) -> Result<EntryIter<'a>> {
        let entries: Vec<Result<Entry>> = self
            .window
            .fetch_all(i64::MIN, i64::MAX)?
            .into_iter()
            .map(|e| (windowed_key(&e.key, e.window_start), e.value))
            .filter(|(k, _)| in_bounds(k, from, to))
            .map(Ok)
            .collect();
        Ok(Box::new(entries.into_iter()))
    }
    fn approximate_len(&self) -> Result<u64> {
        Ok(self.window.fetch_all(i64::MIN, i64::MAX)?.len() as u64)
    }
    fn flush(&self) -> Result<()> {
        self.window.flush()
    }
}

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

/// Opens a [`ChangeloggedStore`] without a write cache over the view `wrap` makes of the
/// engine store `open_engine` opens, to be restored; returns its restore and the engine
/// store.
fn restoring_logged<S: ?Sized, F, W>(
    dir: &Path,
    name: &str,
    changelog: Arc<dyn Changelog>,
    config: &ChangeloggedConfig,
    open_engine: F,
    wrap: W,
) -> Result<(Restoring<ChangeloggedStore>, Arc<S>)>
where
    F: Fn(&Path) -> Result<Arc<S>>,
    W: Fn(Arc<S>) -> Arc<dyn KeyValueStore>,
{
    // The store below the time cache does not cache again.
    let config = ChangeloggedConfig {
        cache_max_bytes: 0,
        cache_budget: None,
        ..config.clone()
    };
    // The engine may be opened twice (an incompatible format rebuilt): keep the last one.
    let opened: Mutex<Option<Arc<S>>> = Mutex::new(None);
    let restoring = ChangeloggedStore::restoring(dir, name, changelog, &config, |d| {
        let store = open_engine(d)?;
        *opened.lock() = Some(Arc::clone(&store));
        Ok(wrap(store))
    })?;
    let store = opened
        .into_inner()
        .expect("ChangeloggedStore::restoring succeeded, so it opened the engine");
    Ok((restoring, store))
}

/// The changelog layer of a window or session store with its write cache: writes wait in
/// the cache (one entry per `(key, slot)`) and go down to the changelog and the engine as
/// one batch at commit or when the cache outgrows its bound.
struct CachedLog<T> {
    logged: ChangeloggedStore,
    /// Held while dirty entries are written down, so a reader never misses an entry that
    /// is in neither the cache nor the store.
    cache: Mutex<TimeCache<T>>,
    /// The cache's part of its budget; locked after `cache`.
    share: Mutex<CacheShare>,
    /// The changelog (and engine view) key of a user key and slot.
    encode: fn(&[u8], T) -> Vec<u8>,
}

impl<T: Ord + Copy> CachedLog<T> {
    fn new(
        logged: ChangeloggedStore,
        budget: Arc<CacheBudget>,
        encode: fn(&[u8], T) -> Vec<u8>,
    ) -> Self {
        Self {
            logged,
            cache: Mutex::new(TimeCache::default()),
            share: Mutex::new(CacheShare::new(budget)),
            encode,
        }
    }

    /// Writes every dirty entry down to the changelog and the engine, as one batch.
    fn write_down(&self, cache: &mut TimeCache<T>) -> Result<()> {
        if cache.is_empty() {
            return Ok(());
        }
        let batch: Vec<Change> = cache
            .drain()
            .into_iter()
            .map(|(key, slot, value)| ((self.encode)(&key, slot), value))
            .collect();
        self.share.lock().set(0);
        self.logged.write_batch(&batch)
    }

    /// Records a write (`None`: a delete) of `key`'s `slot`, at store time `time`, in the
    /// cache, or passes it down when caching is off.
    fn write(&self, key: &[u8], slot: T, time: i64, value: Option<&[u8]>) -> Result<()> {
        if !self.share.lock().budget().is_enabled() {
            let key = (self.encode)(key, slot);
            return match value {
                Some(value) => self.logged.put(&key, value),
                None => self.logged.delete(&key),
            };
        }
        let mut cache = self.cache.lock();
        let bytes = cache.write(key, slot, time, value);
        let over = self.share.lock().set(bytes);
        if over {
            self.write_down(&mut cache)?;
        }
        Ok(())
    }

    /// Whether `time` is past retention, counting the newest cached time too.
    fn is_expired(&self, time: i64, below_expired: bool, retention_ms: i64) -> bool {
        let newest_cached = self.cache.lock().newest_time();
        below_expired || newest_cached.is_some_and(|t| time < t.saturating_sub(retention_ms))
    }

    fn commit(&self) -> Result<i64> {
        self.write_down(&mut self.cache.lock())?;
        self.logged.commit()
    }

    fn checkpoint(&self) -> Result<i64> {
        self.write_down(&mut self.cache.lock())?;
        self.logged.checkpoint()
    }
}

/// A window store recorded in a changelog, with checkpoints at commit and restore on open,
/// and a write cache.
pub struct ChangeloggedWindowStore {
    log: CachedLog<i64>,
    window: Arc<dyn WindowStore>,
}

impl std::fmt::Debug for ChangeloggedWindowStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ChangeloggedWindowStore")
            .field(&self.log.logged)
            .finish()
    }
}

impl ChangeloggedWindowStore {
    /// Opens the store in state directory `dir`, restoring it from `changelog` as needed
    /// (see [`ChangeloggedStore::open`]); `open_engine` opens the window store in the
    /// directory it is given (e.g. with [`RocksEnv::open_window_store`]).
    /// `config.cache_max_bytes` bounds the write cache (0 turns it off).
    ///
    /// [`RocksEnv::open_window_store`]: crate::RocksEnv::open_window_store
    pub fn open<F>(
        dir: impl AsRef<Path>,
        name: &str,
        changelog: Arc<dyn Changelog>,
        config: &ChangeloggedConfig,
        open_engine: F,
    ) -> Result<(Self, RestoreReport)>
    where
        F: Fn(&Path) -> Result<Arc<dyn WindowStore>>,
    {
        Self::restoring(dir, name, changelog, config, open_engine)?.finish()
    }

    /// Opens the store as [`ChangeloggedWindowStore::open`] does, leaving the replay to the
    /// caller (see [`ChangeloggedStore::restoring`]).
    pub fn restoring<F>(
        dir: impl AsRef<Path>,
        name: &str,
        changelog: Arc<dyn Changelog>,
        config: &ChangeloggedConfig,
        open_engine: F,
    ) -> Result<Restoring<Self>>
    where
        F: Fn(&Path) -> Result<Arc<dyn WindowStore>>,
    {
        let (restoring, window) = restoring_logged(
            dir.as_ref(),
            name,
            changelog,
            config,
            open_engine,
            |window| {
                Arc::new(WindowRecords {
                    name: name.to_owned(),
                    window,
                })
            },
        )?;
        let budget = config.budget();
        Ok(restoring.map(move |logged| {
            let log = CachedLog::new(logged, budget, windowed_key);
            Self { log, window }
        }))
    }

    /// Updates that replaced a cached value of the same window, so never reached the
    /// changelog.
    pub fn cache_absorbed(&self) -> u64 {
        self.log.cache.lock().absorbed()
    }

    /// The oldest window start reads return: retention behind the newest start written,
    /// cached or not (reads never return windows past retention, as the trait says).
    fn oldest_live(&self, cache: &TimeCache<i64>) -> i64 {
        let newest = cache.newest_time().unwrap_or(i64::MIN);
        newest
            .max(self.window.observed_time())
            .saturating_sub(self.window.retention_ms())
    }

    /// Commits: writes the cache down, makes the changelog durable, flushes the store and
    /// writes the checkpoint. Returns the changelog offset the store now reflects.
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

/// Reads merge the cache over the store below; time (and so expiry) counts cached writes.
impl WindowStore for ChangeloggedWindowStore {
    fn put(&self, key: &[u8], window_start: i64, value: &[u8]) -> Result<bool> {
        if self.is_expired(window_start) {
            return Ok(false);
        }
        self.log
            .write(key, window_start, window_start, Some(value))?;
        Ok(true)
    }
    fn delete(&self, key: &[u8], window_start: i64) -> Result<()> {
        self.log.write(key, window_start, window_start, None)
    }
    fn fetch_one(&self, key: &[u8], window_start: i64) -> Result<Option<Vec<u8>>> {
        if self.is_expired(window_start) {
            return Ok(None);
        }
        let cache = self.log.cache.lock();
        match cache.get(key, window_start) {
            Some(cached) => Ok(cached.map(<[u8]>::to_vec)),
            None => self.window.fetch_one(key, window_start),
        }
    }
    fn fetch(&self, key: &[u8], time_from: i64, time_to: i64) -> Result<Vec<(i64, Vec<u8>)>> {
        let cache = self.log.cache.lock();
        let time_from = time_from.max(self.oldest_live(&cache));
        let stored = self.window.fetch(key, time_from, time_to)?;
        if time_from > time_to {
            return Ok(stored);
        }
        Ok(merge_windows(stored, cache.range(key, time_from..=time_to)))
    }
    fn fetch_all(&self, time_from: i64, time_to: i64) -> Result<Vec<WindowEntry>> {
        let cache = self.log.cache.lock();
        let time_from = time_from.max(self.oldest_live(&cache));
        let stored = self.window.fetch_all(time_from, time_to)?;
        let mut cached = cache.matching(|start| (time_from..=time_to).contains(start));
        cached.sort_unstable_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        Ok(merge_entries(stored, cached))
    }
    fn observed_time(&self) -> i64 {
        let cached = self.log.cache.lock().newest_time();
        self.window.observed_time().max(cached.unwrap_or(i64::MIN))
    }
    fn is_expired(&self, window_start: i64) -> bool {
        let below = self.window.is_expired(window_start);
        self.log
            .is_expired(window_start, below, self.window.retention_ms())
    }
    fn retention_ms(&self) -> i64 {
        self.window.retention_ms()
    }
    /// Commits (see [`ChangeloggedWindowStore::commit`]).
    fn flush(&self) -> Result<()> {
        self.commit().map(|_| ())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::changelog::MemoryChangelog;
    use crate::rocks::{RocksConfig, RocksEnv};
    use crate::window::Retention;

    fn env() -> RocksEnv {
        RocksEnv::new(RocksConfig {
            memory_budget_bytes: 16 << 20,
            ..RocksConfig::default()
        })
        .unwrap()
    }

    fn open_window(
        env: &RocksEnv,
        dir: &Path,
        log: &Arc<MemoryChangelog>,
    ) -> (ChangeloggedWindowStore, RestoreReport) {
        let retention = Retention::with_segment_ms(1_000, 100).unwrap();
        let log: Arc<dyn Changelog> = log.clone();
        ChangeloggedWindowStore::open(dir, "w", log, &ChangeloggedConfig::default(), |d| {
            Ok(Arc::new(env.open_window_store(d, "w", retention)?) as Arc<dyn WindowStore>)
        })
        .unwrap()
    }

    #[test]
    fn window_store_restores_from_its_changelog_alone() {
        let env = env();
        let first = tempfile::tempdir().unwrap();
        let log = Arc::new(MemoryChangelog::new("w-changelog-0"));
        let (store, _) = open_window(&env, first.path(), &log);
        for t in (0..2_000).step_by(50) {
            assert!(store.put(b"k", t, &t.to_be_bytes()).unwrap());
            store.put(b"j", t, b"x").unwrap();
        }
        store.delete(b"j", 1_950).unwrap();
        // Past retention: dropped, not logged.
        let logged = log.pending();
        assert!(!store.put(b"k", 100, b"late").unwrap());
        assert_eq!(log.pending(), logged);
        store.commit().unwrap();
        let expected = store.fetch_all(i64::MIN, i64::MAX).unwrap();
        assert!(expected.iter().all(|e| e.window_start >= 950));
        assert!(!expected.is_empty());
        drop(store);

        // Another machine: an empty directory, the changelog alone.
        let second = tempfile::tempdir().unwrap();
        let (store, report) = open_window(&env, second.path(), &log);
        assert!(matches!(report.kind, crate::RestoreKind::Full(_)));
        assert_eq!(report.records, log.records().len() as u64);
        assert_eq!(store.fetch_all(i64::MIN, i64::MAX).unwrap(), expected);
        assert_eq!(store.fetch_one(b"j", 1_950).unwrap(), None);
        store.close().unwrap();

        // Reopened where it was: nothing to replay. (Time resumes at the newest segment's
        // start, so compare from the oldest live window start before the restart.)
        let (store, report) = open_window(&env, second.path(), &log);
        assert_eq!(report.kind, crate::RestoreKind::Incremental);
        assert_eq!(report.records, 0);
        assert_eq!(store.fetch_all(950, i64::MAX).unwrap(), expected);
    }

    #[test]
    fn window_cache_sends_one_update_per_window_and_commit_down() {
        let env = env();
        let dir = tempfile::tempdir().unwrap();
        let log = Arc::new(MemoryChangelog::new("w-changelog-0"));
        let (store, _) = open_window(&env, dir.path(), &log);
        for n in 1..=100u32 {
            assert!(store.put(b"k", 500, &n.to_be_bytes()).unwrap());
        }
        store.put(b"j", 500, b"x").unwrap();
        store.delete(b"j", 500).unwrap();
        // Reads see the cache; nothing went down yet.
        assert_eq!(
            store.fetch_one(b"k", 500).unwrap(),
            Some(100u32.to_be_bytes().to_vec())
        );
        assert_eq!(store.fetch_one(b"j", 500).unwrap(), None);
        assert_eq!(store.fetch(b"k", 0, 1_000).unwrap().len(), 1);
        assert_eq!(store.fetch_all(0, 1_000).unwrap().len(), 1);
        assert_eq!(log.pending(), 0);
        // Time counts cached writes: 500 - retention (1 000) is the oldest live start.
        assert!(store.put(b"k", 1_600, b"y").unwrap());
        assert!(!store.put(b"k", 500, b"late").unwrap());
        store.commit().unwrap();
        let records = log.records();
        assert_eq!(
            records.len(),
            3,
            "k@500, j@500 (a tombstone) and k@1600, one each: {records:?}"
        );
        let k500 = records
            .iter()
            .find(|r| r.key == windowed_key(b"k", 500))
            .expect("k@500 logged");
        assert_eq!(
            k500.value,
            Some(100u32.to_be_bytes().to_vec()),
            "the latest value"
        );
        assert_eq!(
            store.cache_absorbed(),
            100,
            "99 updates of k@500, the delete of j@500"
        );
        // A second process restores what was committed.
        let other = tempfile::tempdir().unwrap();
        drop(store);
        let (store, _) = open_window(&env, other.path(), &log);
        assert_eq!(store.fetch_one(b"k", 1_600).unwrap(), Some(b"y".to_vec()));
    }

    #[test]
    fn cached_windows_past_retention_are_not_read() {
        let env = env();
        let dir = tempfile::tempdir().unwrap();
        let log = Arc::new(MemoryChangelog::new("w-changelog-0"));
        let (store, _) = open_window(&env, dir.path(), &log);
        store.put(b"k", 0, b"old").unwrap();
        store.put(b"k", 2_000, b"new").unwrap();
        // Both only in the cache: 0 is past the retention (1 000) of 2 000 all the same.
        assert_eq!(store.fetch_one(b"k", 0).unwrap(), None);
        assert_eq!(store.fetch(b"k", 0, 0).unwrap(), vec![]);
        assert_eq!(store.fetch_all(0, 0).unwrap(), vec![]);
        assert_eq!(store.fetch(b"k", 0, 2_000).unwrap().len(), 1);
    }

    #[test]
    fn window_cache_over_its_bound_writes_down_before_the_commit() {
        let env = env();
        let dir = tempfile::tempdir().unwrap();
        let log = Arc::new(MemoryChangelog::new("w-changelog-0"));
        let config = ChangeloggedConfig {
            cache_max_bytes: 1_000,
            ..ChangeloggedConfig::default()
        };
        let retention = Retention::with_segment_ms(1_000, 100).unwrap();
        let changelog: Arc<dyn Changelog> = log.clone();
        let (store, _) = ChangeloggedWindowStore::open(dir.path(), "w", changelog, &config, |d| {
            Ok(Arc::new(env.open_window_store(d, "w", retention)?) as Arc<dyn WindowStore>)
        })
        .unwrap();
        for key in 0..100u32 {
            store.put(&key.to_be_bytes(), 0, b"v").unwrap();
        }
        let pending = log.pending();
        assert!(
            pending > 0 && pending < 100,
            "written down early: {pending}"
        );
        assert_eq!(store.fetch_all(0, 0).unwrap().len(), 100);
    }

    /// A small deterministic generator for the randomized tests.
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self, bound: u64) -> i64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((self.0 >> 33) % bound) as i64
        }
    }

    /// Cached and uncached stores, given the same random writes (with commits and
    /// over-the-bound write-downs between them), answer every read alike.
    #[test]
    fn cached_window_and_session_stores_read_like_uncached_ones() {
        let env = env();
        let dir = tempfile::tempdir().unwrap();
        let open_pair = |name: &str| {
            let mut stores = Vec::new();
            for bound in [0, 300] {
                let config = ChangeloggedConfig {
                    cache_max_bytes: bound,
                    ..ChangeloggedConfig::default()
                };
                let log: Arc<dyn Changelog> = Arc::new(MemoryChangelog::new("log"));
                let name = format!("{name}-{bound}");
                let retention = Retention::with_segment_ms(400, 100).unwrap();
                let window = ChangeloggedWindowStore::open(
                    dir.path().join(&name),
                    &name,
                    log.clone(),
                    &config,
                    |d| {
                        Ok(Arc::new(env.open_window_store(d, "w", retention)?)
                            as Arc<dyn WindowStore>)
                    },
                )
                .unwrap()
                .0;
                let sessions = ChangeloggedSessionStore::open(
                    dir.path().join(format!("{name}-s")),
                    &name,
                    Arc::new(MemoryChangelog::new("slog")),
                    &config,
                    |d| {
                        let store = env.open_session_store(d, "s", retention)?;
                        Ok(Arc::new(store) as Arc<dyn SessionStore>)
                    },
                )
                .unwrap()
                .0;
                stores.push((window, sessions));
            }
            stores
        };
        let pair = open_pair("r");
        let mut rng = Lcg(7);
        for step in 0..1_500 {
            let key = [b'a' + rng.next(4) as u8];
            let t = step / 4 + rng.next(40);
            let value = step.to_be_bytes();
            let window = SessionWindow {
                start: t,
                end: t + rng.next(30),
            };
            let op = rng.next(10);
            for (w, s) in &pair {
                match op {
                    0 => w.delete(&key, t).unwrap(),
                    1 => s.remove(&key, window).unwrap(),
                    2 if step % 7 == 0 => {
                        w.commit().unwrap();
                        s.commit().unwrap();
                    }
                    _ => {
                        w.put(&key, t, &value).unwrap();
                        s.put(&key, window, &value).unwrap();
                    }
                }
            }
            let (w0, s0) = &pair[0];
            let (w1, s1) = &pair[1];
            let (from, to) = (t - 50, t + 10);
            assert_eq!(
                w0.fetch_one(&key, t).unwrap(),
                w1.fetch_one(&key, t).unwrap()
            );
            assert_eq!(
                w0.fetch(&key, from, to).unwrap(),
                w1.fetch(&key, from, to).unwrap()
            );
            assert_eq!(
                w0.fetch_all(from, to).unwrap(),
                w1.fetch_all(from, to).unwrap()
            );
            assert_eq!(w0.is_expired(from), w1.is_expired(from));
            assert_eq!(
                s0.find_sessions(&key, from, to).unwrap(),
                s1.find_sessions(&key, from, to).unwrap()
            );
            assert_eq!(
                s0.fetch_ended(from, to).unwrap(),
                s1.fetch_ended(from, to).unwrap()
            );
            assert_eq!(
                s0.fetch_session(&key, window).unwrap(),
                s1.fetch_session(&key, window).unwrap()
            );
        }
        assert!(pair[1].0.cache_absorbed() > 0 && pair[1].1.cache_absorbed() > 0);
    }

    #[test]
    fn session_store_restores_merges_from_its_changelog() {
        let env = env();
        let log = Arc::new(MemoryChangelog::new("s-changelog-0"));
        let open = |dir: &Path| {
            let log: Arc<dyn Changelog> = log.clone();
            ChangeloggedSessionStore::open(dir, "s", log, &ChangeloggedConfig::default(), |d| {
                let store = env.open_session_store(d, "s", Retention::new(60_000)?)?;
                Ok(Arc::new(store) as Arc<dyn SessionStore>)
            })
            .unwrap()
        };
        let first = tempfile::tempdir().unwrap();
        let (store, _) = open(first.path());
        let a = SessionWindow { start: 0, end: 10 };
        let b = SessionWindow { start: 20, end: 30 };
        store.put(b"k", a, b"1").unwrap();
        store.put(b"k", b, b"1").unwrap();
        // A record at 15 merges both sessions into one (found in the cache).
        let merged: Vec<_> = store.find_sessions(b"k", 15 - 10, 15 + 10).unwrap();
        assert_eq!(merged.len(), 2);
        assert_eq!(store.fetch_ended(0, 10).unwrap().len(), 1);
        assert_eq!(store.fetch_session(b"k", b).unwrap(), Some(b"1".to_vec()));
        store.remove(b"k", a).unwrap();
        store.remove(b"k", b).unwrap();
        store
            .put(b"k", SessionWindow { start: 0, end: 30 }, b"3")
            .unwrap();
        store.commit().unwrap();
        drop(store);

        let second = tempfile::tempdir().unwrap();
        let (store, report) = open(second.path());
        // Through the write cache: the two merged-away sessions' tombstones and the merged
        // session (their puts were absorbed before the commit).
        assert_eq!(report.records, 3);
        let found = store.find_sessions(b"k", i64::MIN, i64::MAX).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].window, SessionWindow { start: 0, end: 30 });
        assert_eq!(found[0].value, b"3");
    }
}
