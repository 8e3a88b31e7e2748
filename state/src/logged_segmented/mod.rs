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

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::cache_budget::{CacheBudget, CacheShare};
use crate::changelog::{Change, Changelog};
use crate::error::Result;
use crate::kv::KeyValueStore;
use crate::logged::{ChangeloggedConfig, ChangeloggedStore};
use crate::restore::Restoring;
use crate::time_cache::TimeCache;

/// Whether an encoded key lies within range bounds.
pub(super) fn in_bounds(key: &[u8], from: Bound<&[u8]>, to: Bound<&[u8]>) -> bool {
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

mod session;
mod window;

pub use session::ChangeloggedSessionStore;
pub use window::ChangeloggedWindowStore;

/// Opens a [`ChangeloggedStore`] without a write cache over the view `wrap` makes of the
/// engine store `open_engine` opens, to be restored; returns its restore and the engine
/// store.
pub(super) fn restoring_logged<S: ?Sized, F, W>(
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
pub(super) struct CachedLog<T> {
    pub(super) logged: ChangeloggedStore,
    /// Held while dirty entries are written down, so a reader never misses an entry that
    /// is in neither the cache nor the store.
    pub(super) cache: Mutex<TimeCache<T>>,
    /// The cache's part of its budget; locked after `cache`.
    pub(super) share: Mutex<CacheShare>,
    /// The changelog (and engine view) key of a user key and slot.
    pub(super) encode: fn(&[u8], T) -> Vec<u8>,
}

impl<T: Ord + Copy> CachedLog<T> {
    pub(super) fn new(
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
    pub(super) fn write_down(&self, cache: &mut TimeCache<T>) -> Result<()> {
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
    pub(super) fn write(&self, key: &[u8], slot: T, time: i64, value: Option<&[u8]>) -> Result<()> {
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
    pub(super) fn is_expired(&self, time: i64, below_expired: bool, retention_ms: i64) -> bool {
        let newest_cached = self.cache.lock().newest_time();
        below_expired || newest_cached.is_some_and(|t| time < t.saturating_sub(retention_ms))
    }

    pub(super) fn commit(&self) -> Result<i64> {
        self.write_down(&mut self.cache.lock())?;
        self.logged.commit()
    }

    pub(super) fn checkpoint(&self) -> Result<i64> {
        self.write_down(&mut self.cache.lock())?;
        self.logged.checkpoint()
    }
}

#[cfg(test)]
mod tests;
