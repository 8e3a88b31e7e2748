//! Changelogged stores: a key-value store whose every write is recorded in a [`Changelog`],
//! with checkpoints at commit and restore on open.
//!
//! # Layers
//!
//! [`ChangeloggedStore`] stacks, like Kafka Streams: the optional write cache
//! ([`CachingKeyValueStore`]) over a logging layer over the engine's store. A write that
//! reaches the logging layer (written through, evicted from the cache, or flushed from it at
//! commit) is appended to the changelog and then written to the engine, so with the cache on
//! only the de-duplicated latest values go to the changelog.
//!
//! # Directory
//!
//! A store owns a state directory: `checkpoint` (see [`crate::checkpoint`]) and `data/`, the
//! engine's directory, which the `open_engine` callback must keep all the store's files in
//! (the store is wiped by deleting `data/`). An engine that keeps nothing on disk (the
//! in-memory one) never creates `data/`, so it is restored in full at every open.
//!
//! # Commit
//!
//! [`ChangeloggedStore::commit`]: write the cache down (one batch) → the changelog's `flush`
//! (durable; returns the end offset `E`) → the engine's `flush` → write the checkpoint `E`.
//!
//! # The invariant, and why a crash never mixes states
//!
//! Let `prefix(E)` be the changelog's records below offset `E`, applied in order to an empty
//! store. The one rule: **a checkpoint file with offset `C` exists only while the local
//! store equals `prefix(C)`** (and `C` is durable in the changelog). It is kept by:
//! - at open, the checkpoint is read, the engine opened, and the checkpoint deleted before
//!   the engine is written at all (restore included); it is written again once the restore
//!   is complete and flushed. A full restore deletes the checkpoint before wiping `data/`,
//!   so a checkpoint never sits next to an empty or half-restored store;
//! - every write to the engine goes through the logging layer, which deletes the checkpoint
//!   (durably) first if there is one. So between commits, as soon as the engine may differ
//!   from `prefix(C)` (an eviction, a write-through), there is no checkpoint;
//! - a commit, with engine writes held off, flushes the changelog (every record that reached
//!   the engine was appended before it, so the engine now equals `prefix(E)`), flushes the
//!   engine, then writes checkpoint `E`. A failed write below the cache poisons the store:
//!   it never writes a checkpoint again and must be reopened.
//!
//! On open: with a valid checkpoint `C` (right store and changelog, `data/` present,
//! `start <= C <= end`), the local store is `prefix(C)` and replaying the records in
//! `[C, end)` gives `prefix(end)`. Without one (absent, corrupt, another store's or
//! changelog's, an offset outside the changelog, `data/` missing), `data/` is wiped and
//! the whole changelog replayed, giving `prefix(end)`. Either way the store after a restore
//! is exactly `prefix(end)`: its state at the last commit (`prefix(E)`, `E <= end` because
//! `E` was durable) plus whatever the changelog holds durably after it, never local writes
//! that the changelog lost. The price is a full restore after a crash that happens while the
//! engine differs from the last checkpoint (mid-commit, or after an eviction).
//!
//! # Incompatible format
//!
//! If the engine refuses `data/` with [`Error::IncompatibleFormat`], the open fails with that
//! error (which says to delete the directory), unless
//! [`ChangeloggedConfig::rebuild_incompatible`] is set: then `data/` is deleted and the store
//! restored in full from its changelog, with a warning.

use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::cache::{CacheStats, CachingKeyValueStore};
use crate::cache_budget::CacheBudget;
use crate::changelog::{Change, Changelog};
use crate::checkpoint::{Checkpoint, CheckpointFile, ReadCheckpoint};
use crate::error::{Error, Result};
use crate::kv::{EntryIter, KeyValueStore};
use crate::restore::{Restored, Restoring};

/// The engine's directory inside a store's state directory.
pub const DATA_DIR: &str = "data";

/// Options of a [`ChangeloggedStore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeloggedConfig {
    /// Bound of the write cache in bytes; 0 turns it off (default 10 MiB, as Kafka Streams).
    /// Ignored when `cache_budget` is set.
    pub cache_max_bytes: usize,
    /// A budget the write cache shares with other caches (one bound for many stores, see
    /// [`crate::cache_budget`]); `None`: a budget of `cache_max_bytes` of its own.
    pub cache_budget: Option<Arc<CacheBudget>>,
    /// Records read from the changelog at a time while restoring (default 10 000).
    pub restore_batch: usize,
    /// Delete and rebuild a store whose on-disk format is incompatible instead of failing
    /// (default false).
    pub rebuild_incompatible: bool,
    /// How often restore progress is logged (default 10 s).
    pub progress_interval: Duration,
    /// Write a checkpoint at each commit (default true). Exactly-once processing turns this
    /// off: a commit's changelog records belong to a transaction that may still abort, so a
    /// checkpoint at them could claim records a `read_committed` restore never sees. Without
    /// it the store's checkpoint is gone after its first write, and the next open restores
    /// it from the changelog (Kafka Streams' behaviour before KIP-892).
    pub checkpoint_on_commit: bool,
}

impl ChangeloggedConfig {
    /// The budget the store's write cache draws on.
    pub fn budget(&self) -> Arc<CacheBudget> {
        self.cache_budget
            .clone()
            .unwrap_or_else(|| CacheBudget::new(self.cache_max_bytes))
    }
}

impl Default for ChangeloggedConfig {
    fn default() -> Self {
        Self {
            cache_max_bytes: 10 << 20,
            cache_budget: None,
            restore_batch: 10_000,
            rebuild_incompatible: false,
            progress_interval: Duration::from_secs(10),
            checkpoint_on_commit: true,
        }
    }
}

/// How a store was brought up to date at open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestoreKind {
    /// From a valid checkpoint: only the records after it were replayed (maybe none).
    Incremental,
    /// The local store was wiped (or absent) and the whole changelog replayed; why.
    Full(String),
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreReport {
    /// The store's name.
    pub store: String,
    /// Incremental or full, and why.
    pub kind: RestoreKind,
    /// The offset the replay started at.
    pub from_offset: i64,
    /// The changelog's end offset: the store now reflects every record below it.
    pub to_offset: i64,
    /// Records replayed.
    pub records: u64,
    /// Time taken, opening the engine included.
    pub elapsed: Duration,
}

impl RestoreReport {
    /// Records replayed per second.
    pub fn records_per_sec(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.records as f64 / secs
        } else {
            0.0
        }
    }
}

/// Whether a checkpoint is on disk, and whether the store may still write one.
struct CheckpointState {
    file: CheckpointFile,
    /// The offset of the checkpoint on disk, if there is one.
    on_disk: Option<i64>,
    /// A write below the cache failed: engine and changelog may disagree.
    poisoned: bool,
}

impl CheckpointState {
    /// Deletes the checkpoint before the engine is written.
    fn invalidate(&mut self) -> Result<()> {
        if self.on_disk.is_some() {
            self.file.delete()?;
            self.on_disk = None;
        }
        Ok(())
    }
}

/// The logging layer: every write is appended to the changelog, then applied to the engine.
struct LoggingStore {
    engine: Arc<dyn KeyValueStore>,
    changelog: Arc<dyn Changelog>,
    checkpoint: Arc<Mutex<CheckpointState>>,
}

impl LoggingStore {
    fn log_and_write(&self, entries: &[Change]) -> Result<()> {
        // Held across the write, so a commit never checkpoints between the two halves.
        let mut checkpoint = self.checkpoint.lock();
        if checkpoint.poisoned {
            return Err(poisoned(self.engine.name()));
        }
        checkpoint.invalidate()?;
        let result = self
            .changelog
            .append(entries)
            .and_then(|()| self.engine.write_batch(entries));
        if result.is_err() {
            checkpoint.poisoned = true;
        }
        result
    }
}

fn poisoned(store: &str) -> Error {
    Error::Changelog {
        store: store.to_owned(),
        message: "an earlier write failed, so the store and its changelog may disagree; \
                  reopen the store to restore it from the changelog"
            .into(),
    }
}

impl KeyValueStore for LoggingStore {
    fn name(&self) -> &str {
        self.engine.name()
    }
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.engine.get(key)
    }
    fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.log_and_write(&[(key.to_vec(), Some(value.to_vec()))])
    }
    fn write_batch(&self, entries: &[Change]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        self.log_and_write(entries)
    }
    fn delete(&self, key: &[u8]) -> Result<()> {
        self.log_and_write(&[(key.to_vec(), None)])
    }
    fn range<'a>(&'a self, from: Bound<&[u8]>, to: Bound<&[u8]>) -> Result<EntryIter<'a>> {
        self.engine.range(from, to)
    }
    fn approximate_len(&self) -> Result<u64> {
        self.engine.approximate_len()
    }
    fn flush(&self) -> Result<()> {
        self.changelog.flush()?;
        self.engine.flush()
    }
}

/// A key-value store recorded in a changelog, with a write cache, checkpoints at commit and
/// restore on open. See the module docs for the crash-safety invariant.
pub struct ChangeloggedStore {
    name: String,
    dir: PathBuf,
    changelog: Arc<dyn Changelog>,
    engine: Arc<dyn KeyValueStore>,
    cache: Arc<CachingKeyValueStore>,
    checkpoint: Arc<Mutex<CheckpointState>>,
    commit_lock: Mutex<()>,
    checkpoint_on_commit: bool,
}

impl std::fmt::Debug for ChangeloggedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeloggedStore")
            .field("name", &self.name)
            .field("dir", &self.dir)
            .field("changelog", &self.changelog.name())
            .finish()
    }
}

impl ChangeloggedStore {
    /// Opens the store in state directory `dir` (created if missing), restoring it from
    /// `changelog` as needed (see the module docs). `open_engine` opens or creates the
    /// engine's store in the directory it is given and must keep all its files there.
    pub fn open<F>(
        dir: impl Into<PathBuf>,
        name: &str,
        changelog: Arc<dyn Changelog>,
        config: &ChangeloggedConfig,
        open_engine: F,
    ) -> Result<(Self, RestoreReport)>
    where
        F: Fn(&Path) -> Result<Arc<dyn KeyValueStore>>,
    {
        Self::restoring(dir, name, changelog, config, open_engine)?.finish()
    }

    /// Opens the store as [`ChangeloggedStore::open`] does, but leaves the replay to the
    /// caller: the [`Restoring`] it returns replays a batch per [`Restoring::step`], and
    /// [`Restoring::finish`] gives the store.
    pub fn restoring<F>(
        dir: impl Into<PathBuf>,
        name: &str,
        changelog: Arc<dyn Changelog>,
        config: &ChangeloggedConfig,
        open_engine: F,
    ) -> Result<Restoring<Self>>
    where
        F: Fn(&Path) -> Result<Arc<dyn KeyValueStore>>,
    {
        let started = Instant::now();
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
            path: dir.clone(),
            source,
        })?;
        let data = dir.join(DATA_DIR);
        let file = CheckpointFile::new(&dir);
        let start = changelog.start_offset()?;
        let end = changelog.end_offset()?;

        // Decide between an incremental and a full restore.
        let incremental_from = match file.read()? {
            ReadCheckpoint::Absent => Err("there is no checkpoint".to_string()),
            ReadCheckpoint::Corrupt(reason) => Err(format!("the checkpoint file {reason}")),
            ReadCheckpoint::Valid(cp) => {
                if cp.store != name || cp.changelog != changelog.name() {
                    Err(format!(
                        "the checkpoint is for store {:?} with changelog {:?}",
                        cp.store, cp.changelog
                    ))
                } else if !data.exists() {
                    Err("the local store is missing".to_string())
                } else if cp.offset < start || cp.offset > end {
                    Err(format!(
                        "the checkpoint offset {} is outside the changelog's offsets [{start}, \
                         {end}]",
                        cp.offset
                    ))
                } else {
                    Ok(cp.offset)
                }
            }
        };
        let wipe = |data: &Path| -> Result<()> {
            match std::fs::remove_dir_all(data) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(source) => Err(Error::Io {
                    path: data.to_path_buf(),
                    source,
                }),
            }
        };
        let (mut kind, mut from) = match incremental_from {
            Ok(offset) => (RestoreKind::Incremental, offset),
            Err(reason) => {
                // The checkpoint goes first: a crash after the wipe must not leave a
                // checkpoint next to an empty (or half-restored) store.
                file.delete()?;
                wipe(&data)?;
                (RestoreKind::Full(reason), start)
            }
        };
        let engine = match open_engine(&data) {
            Err(error @ Error::IncompatibleFormat { .. }) if config.rebuild_incompatible => {
                tracing::warn!(store = name, %error, "rebuilding the store from its changelog");
                file.delete()?;
                wipe(&data)?;
                kind = RestoreKind::Full(error.to_string());
                from = start;
                open_engine(&data)?
            }
            other => other?,
        };
        // No engine write before the checkpoint is gone (the restore itself writes). Opening
        // the engine is not a write: a failed open leaves the checkpoint as it was.
        file.delete()?;
        match &kind {
            RestoreKind::Incremental => tracing::info!(
                store = name,
                changelog = changelog.name(),
                from,
                to = end,
                "restoring the store from its checkpoint"
            ),
            RestoreKind::Full(reason) => tracing::info!(
                store = name,
                changelog = changelog.name(),
                from,
                to = end,
                reason = reason.as_str(),
                "restoring the store in full from its changelog"
            ),
        }
        let parts = Restored {
            name: name.to_owned(),
            dir,
            changelog,
            engine,
            file,
            end,
            config: config.clone(),
        };
        Ok(Restoring::new(
            parts,
            kind,
            from,
            started,
            Box::new(Self::over_restored),
        ))
    }

    /// The store over an engine restored up to `parts.end`, whose checkpoint is on disk.
    fn over_restored(parts: Restored) -> Self {
        let Restored {
            name,
            dir,
            changelog,
            engine,
            file,
            end,
            config,
        } = parts;
        let checkpoint = Arc::new(Mutex::new(CheckpointState {
            file,
            on_disk: Some(end),
            poisoned: false,
        }));
        let logging: Arc<dyn KeyValueStore> = Arc::new(LoggingStore {
            engine: Arc::clone(&engine),
            changelog: Arc::clone(&changelog),
            checkpoint: Arc::clone(&checkpoint),
        });
        let cache = Arc::new(CachingKeyValueStore::with_budget(logging, config.budget()));
        Self {
            name,
            dir,
            changelog,
            engine,
            cache,
            checkpoint,
            commit_lock: Mutex::new(()),
            checkpoint_on_commit: config.checkpoint_on_commit,
        }
    }

    /// The state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The changelog.
    pub fn changelog(&self) -> &Arc<dyn Changelog> {
        &self.changelog
    }

    /// The write cache's counters (all zero but `writes` when caching is off).
    pub fn cache_stats(&self) -> CacheStats {
        self.cache.stats()
    }

    /// Commits: writes the cache down, makes the changelog durable, flushes the engine and
    /// writes the checkpoint (unless [`ChangeloggedConfig::checkpoint_on_commit`] is off).
    /// Returns the changelog offset the store now reflects.
    pub fn commit(&self) -> Result<i64> {
        self.commit_and_checkpoint(self.checkpoint_on_commit)
    }

    /// Commits as [`ChangeloggedStore::commit`] does and writes the checkpoint even when
    /// [`ChangeloggedConfig::checkpoint_on_commit`] is off. For exactly-once, once the
    /// transaction holding the store's changelog records has committed (a clean stop, or
    /// partitions handed back after their commit): nothing can abort those records any more,
    /// so the local store equals the committed changelog and the next open replays only
    /// what follows. The store's next write deletes the checkpoint again, as always.
    pub fn checkpoint(&self) -> Result<i64> {
        self.commit_and_checkpoint(true)
    }

    fn commit_and_checkpoint(&self, write_checkpoint: bool) -> Result<i64> {
        let _commit = self.commit_lock.lock();
        self.cache.flush_cache()?;
        // Engine writes are held off until the checkpoint is written.
        let mut checkpoint = self.checkpoint.lock();
        if checkpoint.poisoned {
            return Err(poisoned(&self.name));
        }
        let end = self.changelog.flush()?;
        self.engine.flush()?;
        if write_checkpoint && checkpoint.on_disk != Some(end) {
            checkpoint.file.write(&Checkpoint {
                store: self.name.clone(),
                changelog: self.changelog.name().to_owned(),
                offset: end,
            })?;
            checkpoint.on_disk = Some(end);
        }
        Ok(end)
    }

    /// Commits and closes the store, leaving a checkpoint for a quick restore next time.
    pub fn close(self) -> Result<i64> {
        self.commit()
    }
}

impl KeyValueStore for ChangeloggedStore {
    fn name(&self) -> &str {
        &self.name
    }
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.cache.get(key)
    }
    fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.cache.put(key, value)
    }
    fn write_batch(&self, entries: &[Change]) -> Result<()> {
        self.cache.write_batch(entries)
    }
    fn delete(&self, key: &[u8]) -> Result<()> {
        self.cache.delete(key)
    }
    fn range<'a>(&'a self, from: Bound<&[u8]>, to: Bound<&[u8]>) -> Result<EntryIter<'a>> {
        self.cache.range(from, to)
    }
    fn approximate_len(&self) -> Result<u64> {
        self.cache.approximate_len()
    }
    /// Commits (see [`ChangeloggedStore::commit`]).
    fn flush(&self) -> Result<()> {
        self.commit().map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::changelog::MemoryChangelog;
    use crate::memory::MemoryKeyValueStore;

    /// An "engine" that persists in a shared map keyed by directory, so that a reopen finds
    /// the data as long as the directory exists (and wipes follow the directory).
    #[derive(Default, Clone)]
    struct DiskSim {
        stores: Arc<Mutex<BTreeMap<PathBuf, Arc<MemoryKeyValueStore>>>>,
        incompatible: Arc<Mutex<bool>>,
    }

    impl DiskSim {
        fn open(&self, dir: &Path) -> Result<Arc<dyn KeyValueStore>> {
            if *self.incompatible.lock() && dir.exists() {
                return Err(Error::IncompatibleFormat {
                    path: dir.to_path_buf(),
                    found: 9,
                    expected: 1,
                });
            }
            let mut stores = self.stores.lock();
            if !dir.exists() {
                std::fs::create_dir_all(dir).unwrap();
                stores.remove(dir);
            }
            let store = stores
                .entry(dir.to_path_buf())
                .or_insert_with(|| Arc::new(MemoryKeyValueStore::new("s")));
            Ok(Arc::clone(store) as Arc<dyn KeyValueStore>)
        }
    }

    fn contents(store: &dyn KeyValueStore) -> BTreeMap<Vec<u8>, Vec<u8>> {
        store.all().unwrap().map(|e| e.unwrap()).collect()
    }

    fn fold(changelog: &MemoryChangelog) -> BTreeMap<Vec<u8>, Vec<u8>> {
        let mut map = BTreeMap::new();
        for r in changelog.records() {
            match r.value {
                Some(v) => map.insert(r.key, v),
                None => map.remove(&r.key),
            };
        }
        map
    }

    fn open(
        dir: &Path,
        sim: &DiskSim,
        log: &Arc<MemoryChangelog>,
        cache: usize,
    ) -> Result<(ChangeloggedStore, RestoreReport)> {
        let config = ChangeloggedConfig {
            cache_max_bytes: cache,
            restore_batch: 3,
            ..ChangeloggedConfig::default()
        };
        let log: Arc<dyn Changelog> = log.clone();
        ChangeloggedStore::open(dir, "s", log, &config, |d| sim.open(d))
    }

    #[test]
    fn commit_sends_deduplicated_values_and_close_checkpoints() {
        let dir = tempfile::tempdir().unwrap();
        let sim = DiskSim::default();
        let log = Arc::new(MemoryChangelog::new("s-changelog-0"));
        let (store, report) = open(dir.path(), &sim, &log, 1 << 20).unwrap();
        assert!(matches!(report.kind, RestoreKind::Full(_)));
        for i in 0..100u8 {
            store.put(b"a", &[i]).unwrap();
        }
        store.put(b"b", b"x").unwrap();
        store.delete(b"b").unwrap();
        assert_eq!(store.commit().unwrap(), 2);
        assert_eq!(store.cache_stats().absorbed, 100);
        assert_eq!(log.records().len(), 2);
        store.put(b"c", b"3").unwrap();
        assert_eq!(store.close().unwrap(), 3);

        let (store, report) = open(dir.path(), &sim, &log, 1 << 20).unwrap();
        assert_eq!(report.kind, RestoreKind::Incremental);
        assert_eq!(report.records, 0);
        assert_eq!(contents(&store), fold(&log));
        assert_eq!(store.get(b"a").unwrap(), Some(vec![99]));
    }

    #[test]
    fn crash_without_commit_forces_a_full_restore_to_the_durable_changelog() {
        let dir = tempfile::tempdir().unwrap();
        let sim = DiskSim::default();
        let log = Arc::new(MemoryChangelog::new("c"));
        // A tiny cache: writes are evicted into the engine between commits.
        let (store, _) = open(dir.path(), &sim, &log, 200).unwrap();
        for i in 0..20u8 {
            store.put(&[i], &[i]).unwrap();
        }
        store.commit().unwrap();
        let committed = contents(&store);
        for i in 0..20u8 {
            store.put(&[i], &[i, i]).unwrap();
        }
        assert!(store.cache_stats().evicted > 0);
        assert!(!dir.path().join("checkpoint").exists());
        // Crash: the unflushed changelog records are lost, the engine kept the evictions.
        drop(store);
        log.lose_unflushed();
        let (store, report) = open(dir.path(), &sim, &log, 200).unwrap();
        assert!(matches!(report.kind, RestoreKind::Full(_)), "{report:?}");
        assert_eq!(contents(&store), committed);
    }

    #[test]
    fn incremental_restore_replays_records_after_the_checkpoint_across_gaps() {
        let dir = tempfile::tempdir().unwrap();
        let sim = DiskSim::default();
        let log = Arc::new(MemoryChangelog::new("c"));
        let (store, _) = open(dir.path(), &sim, &log, 0).unwrap();
        store.put(b"a", b"1").unwrap();
        store.close().unwrap();
        // Another instance (the task ran elsewhere) wrote more, and compaction ran.
        log.append(&[
            (b"b".to_vec(), Some(b"2".to_vec())),
            (b"a".to_vec(), None),
            (b"b".to_vec(), Some(b"3".to_vec())),
            (b"c".to_vec(), Some(b"4".to_vec())),
        ])
        .unwrap();
        log.flush().unwrap();
        log.compact(false);
        let (store, report) = open(dir.path(), &sim, &log, 0).unwrap();
        assert_eq!(report.kind, RestoreKind::Incremental);
        assert_eq!((report.from_offset, report.to_offset), (1, 5));
        assert_eq!(report.records, 3);
        assert_eq!(contents(&store), fold(&log));
    }

    #[test]
    fn bad_checkpoints_force_a_full_restore() {
        let dir = tempfile::tempdir().unwrap();
        let sim = DiskSim::default();
        let log = Arc::new(MemoryChangelog::new("c"));
        let (store, _) = open(dir.path(), &sim, &log, 0).unwrap();
        store.put(b"a", b"1").unwrap();
        store.put(b"b", b"2").unwrap();
        store.close().unwrap();
        let cp = dir.path().join("checkpoint");

        // Corrupt.
        let mut bytes = std::fs::read(&cp).unwrap();
        bytes[30] ^= 1;
        std::fs::write(&cp, &bytes).unwrap();
        let (store, report) = open(dir.path(), &sim, &log, 0).unwrap();
        assert!(matches!(&report.kind, RestoreKind::Full(r) if r.contains("checksum")));
        assert_eq!(report.records, 2);
        store.close().unwrap();

        // Beyond the changelog's end (the topic lost its tail).
        log.truncate(1);
        let (store, report) = open(dir.path(), &sim, &log, 0).unwrap();
        assert!(matches!(&report.kind, RestoreKind::Full(r) if r.contains("outside")));
        assert_eq!(contents(&store), fold(&log));
        store.close().unwrap();

        // Local data missing.
        std::fs::remove_dir_all(dir.path().join(DATA_DIR)).unwrap();
        let (store, report) = open(dir.path(), &sim, &log, 0).unwrap();
        assert!(matches!(&report.kind, RestoreKind::Full(r) if r.contains("missing")));
        assert_eq!(contents(&store), fold(&log));
        store.close().unwrap();

        // Another changelog.
        let other = Arc::new(MemoryChangelog::new("other"));
        let (store, report) = open(dir.path(), &sim, &other, 0).unwrap();
        assert!(matches!(&report.kind, RestoreKind::Full(r) if r.contains("changelog")));
        assert!(contents(&store).is_empty());
    }

    #[test]
    fn incompatible_format_fails_clearly_or_rebuilds() {
        let dir = tempfile::tempdir().unwrap();
        let sim = DiskSim::default();
        let log = Arc::new(MemoryChangelog::new("c"));
        let (store, _) = open(dir.path(), &sim, &log, 0).unwrap();
        store.put(b"a", b"1").unwrap();
        store.close().unwrap();
        *sim.incompatible.lock() = true;
        let err = open(dir.path(), &sim, &log, 0).unwrap_err();
        assert!(matches!(err, Error::IncompatibleFormat { .. }));
        assert!(err.to_string().contains("delete the directory"));
        let config = ChangeloggedConfig {
            rebuild_incompatible: true,
            ..ChangeloggedConfig::default()
        };
        let dyn_log: Arc<dyn Changelog> = log.clone();
        let (store, report) =
            ChangeloggedStore::open(dir.path(), "s", dyn_log, &config, |d| sim.open(d)).unwrap();
        assert!(matches!(&report.kind, RestoreKind::Full(r) if r.contains("format")));
        assert_eq!(store.get(b"a").unwrap(), Some(b"1".to_vec()));
    }

    #[test]
    fn a_failed_changelog_flush_never_checkpoints() {
        let dir = tempfile::tempdir().unwrap();
        let sim = DiskSim::default();
        let log = Arc::new(MemoryChangelog::new("c"));
        let (store, _) = open(dir.path(), &sim, &log, 1 << 10).unwrap();
        store.put(b"a", b"1").unwrap();
        log.fail_flushes(1);
        assert!(store.commit().is_err());
        assert!(!dir.path().join("checkpoint").exists());
        // A retry succeeds.
        assert_eq!(store.commit().unwrap(), 1);
        assert!(dir.path().join("checkpoint").exists());
    }
}
