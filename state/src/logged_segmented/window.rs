//! [`ChangeloggedWindowStore`]: a window store over a changelog, with its write cache, and
//! the key-value view of a window store the changelog layer writes and replays into.

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use super::{CachedLog, in_bounds, restoring_logged};
use crate::changelog::{Change, Changelog};
use crate::error::Result;
use crate::keys::{decode_windowed_key, windowed_key};
use crate::kv::{Entry, EntryIter, KeyValueStore};
use crate::logged::{ChangeloggedConfig, RestoreReport};
use crate::restore::Restoring;
use crate::time_cache::{TimeCache, merge_entries, merge_windows};
use crate::window::{WindowEntry, WindowStore, WindowWrite};

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
