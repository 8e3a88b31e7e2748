//! The per-process RocksDB environment: configuration, the shared block cache and write
//! buffer manager, the options every store is opened with, and memory accounting.

use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;
use rocksdb::{BlockBasedOptions, Cache, DBCompressionType, Options, WriteBufferManager};

use crate::error::{Error, Result};
use crate::kv::KeyValueStore;
use crate::rocks::db::Db;
use crate::rocks::kv::RocksKeyValueStore;
use crate::rocks::segments::RocksSegments;
use crate::segments::SegmentStorage;
use crate::session::SegmentedSessionStore;
use crate::window::{Retention, SegmentedWindowStore};

const MIB: usize = 1 << 20;

/// Configuration of a [`RocksEnv`]. Build with struct update syntax over
/// [`RocksConfig::default`]; the defaults are listed in the [module docs](crate::rocks).
#[derive(Debug, Clone, PartialEq)]
pub struct RocksConfig {
    /// Total bytes for the block cache and the memtables of every store of this environment
    /// (default 256 MiB).
    pub memory_budget_bytes: usize,
    /// Share of the budget that memtables may take, in `(0, 1)` (default 0.5). Memtable memory
    /// is charged to the block cache, so the two never add up to more than the budget.
    pub write_buffer_share: f64,
    /// Size of one memtable of one store or segment (default 8 MiB).
    pub write_buffer_bytes: usize,
    /// Memtables per store or segment, the active one included (default 2).
    pub max_write_buffers: u32,
    /// Bloom filter bits per key for point lookups; `0.0` turns filters off (default 10).
    pub bloom_bits_per_key: f64,
    /// Uncompressed size of a table block (default 16 KiB).
    pub block_size_bytes: usize,
    /// Write every write to the write-ahead log, synced by `flush` (default true). When off,
    /// `flush` flushes memtables to table files instead.
    pub use_wal: bool,
    /// Stall writers while the memtables of all stores are at their cap, until a flush frees
    /// memory (default false, as Kafka Streams' bounded-memory config). Off, reaching the cap
    /// makes the writing store flush its memtables, and memtables stay charged to the block
    /// cache, so the budget holds. **On, it can stall forever**: RocksDB frees memory only by
    /// flushing the memtables of stores that write, so memtables filled by stores that have
    /// since gone idle keep every writer stalled (seen with 100 stores, see
    /// `examples/memory_budget.rs`). Only for a few stores that all keep writing.
    pub stall_writes_at_limit: bool,
    /// Flush and compaction jobs per database, run on RocksDB's process-wide thread pool
    /// (default 2).
    pub max_background_jobs: u32,
}

impl Default for RocksConfig {
    fn default() -> Self {
        Self {
            memory_budget_bytes: 256 * MIB,
            write_buffer_share: 0.5,
            write_buffer_bytes: 8 * MIB,
            max_write_buffers: 2,
            bloom_bits_per_key: 10.0,
            block_size_bytes: 16 << 10,
            use_wal: true,
            stall_writes_at_limit: false,
            max_background_jobs: 2,
        }
    }
}

impl RocksConfig {
    /// Checks the configuration for values RocksDB cannot work with.
    pub fn validate(&self) -> Result<()> {
        if self.memory_budget_bytes < 4 * MIB {
            return Err(Error::InvalidConfig(format!(
                "RocksDB memory budget must be at least 4 MiB, got {} bytes",
                self.memory_budget_bytes
            )));
        }
        if !(self.write_buffer_share > 0.0 && self.write_buffer_share < 1.0) {
            return Err(Error::InvalidConfig(format!(
                "write buffer share must be in (0, 1), got {}",
                self.write_buffer_share
            )));
        }
        if self.write_buffer_bytes < 64 << 10 {
            return Err(Error::InvalidConfig(format!(
                "write buffer must be at least 64 KiB, got {} bytes",
                self.write_buffer_bytes
            )));
        }
        if self.max_write_buffers == 0 || self.max_write_buffers > 64 {
            return Err(Error::InvalidConfig(format!(
                "max write buffers must be in 1..=64, got {}",
                self.max_write_buffers
            )));
        }
        if !(self.bloom_bits_per_key >= 0.0 && self.bloom_bits_per_key <= 64.0) {
            return Err(Error::InvalidConfig(format!(
                "bloom bits per key must be in 0..=64, got {}",
                self.bloom_bits_per_key
            )));
        }
        if self.block_size_bytes < 512 || self.block_size_bytes > 64 * MIB {
            return Err(Error::InvalidConfig(format!(
                "block size must be in 512 B..=64 MiB, got {} bytes",
                self.block_size_bytes
            )));
        }
        if self.max_background_jobs == 0 || self.max_background_jobs > 256 {
            return Err(Error::InvalidConfig(format!(
                "max background jobs must be in 1..=256, got {}",
                self.max_background_jobs
            )));
        }
        Ok(())
    }

    /// The memtable cap of all stores together, in bytes.
    pub fn write_buffer_limit_bytes(&self) -> usize {
        (self.memory_budget_bytes as f64 * self.write_buffer_share) as usize
    }
}

/// Memory used by the RocksDB stores of one [`RocksEnv`], next to the budget.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemoryUsage {
    /// The configured budget.
    pub budget_bytes: usize,
    /// Bytes held by the shared block cache: data, index and filter blocks, plus the memtable
    /// memory charged to it. This is the figure the budget bounds.
    pub block_cache_usage_bytes: usize,
    /// Of which pinned (in use by readers or pinned index and filter blocks).
    pub block_cache_pinned_bytes: usize,
    /// The memtable cap of the write buffer manager.
    pub write_buffer_limit_bytes: usize,
    /// Memtable memory as counted by the write buffer manager (included in the cache usage).
    pub write_buffer_usage_bytes: usize,
    /// Sum of `rocksdb.size-all-mem-tables` over open stores (active, immutable and pinned
    /// memtables), as reported by each database.
    pub memtable_bytes: u64,
    /// Sum of `rocksdb.estimate-table-readers-mem` over open stores: table reader memory
    /// outside the cache (small, since index and filter blocks live in the cache).
    pub table_readers_bytes: u64,
    /// Open databases (a window or session store is one database).
    pub open_databases: usize,
}

impl MemoryUsage {
    /// The RocksDB memory accounted for: the block cache (which includes memtables) plus
    /// table readers outside it.
    pub fn total_bytes(&self) -> u64 {
        self.block_cache_usage_bytes as u64 + self.table_readers_bytes
    }
}

pub(crate) struct EnvInner {
    pub(crate) config: RocksConfig,
    cache: Cache,
    write_buffers: WriteBufferManager,
    databases: Mutex<Vec<Weak<Db>>>,
    /// Bytes written through all stores, for spacing out memtable cap checks.
    written: AtomicUsize,
    /// Held while the memtable cap is enforced (one thread at a time does it).
    enforcing: Mutex<()>,
}

/// Bytes written between two checks of the memtable cap.
const CAP_CHECK_BYTES: usize = 1 << 20;

/// The RocksDB environment of a process: one shared block cache and write buffer manager,
/// so that the memory of all stores opened through it stays within one budget. Create
/// **one** per process and open every store through it; cloning is cheap and shares it.
#[derive(Clone)]
pub struct RocksEnv {
    pub(crate) inner: Arc<EnvInner>,
}

impl fmt::Debug for RocksEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RocksEnv")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl RocksEnv {
    /// An environment with the given configuration (checked with [`RocksConfig::validate`]).
    pub fn new(config: RocksConfig) -> Result<Self> {
        config.validate()?;
        let cache = Cache::new_lru_cache(config.memory_budget_bytes);
        let write_buffers = WriteBufferManager::new_write_buffer_manager_with_cache(
            config.write_buffer_limit_bytes(),
            config.stall_writes_at_limit,
            cache.clone(),
        );
        Ok(Self {
            inner: Arc::new(EnvInner {
                config,
                cache,
                write_buffers,
                databases: Mutex::new(Vec::new()),
                written: AtomicUsize::new(0),
                enforcing: Mutex::new(()),
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &RocksConfig {
        &self.inner.config
    }

    /// Opens (creating if needed) the key-value store whose database lives in directory
    /// `dir` (one directory per store). `name` is used in errors and metrics.
    pub fn open_kv(&self, dir: &Path, name: &str) -> Result<Arc<dyn KeyValueStore>> {
        Ok(Arc::new(RocksKeyValueStore::open(self, dir, name)?))
    }

    /// Opens (creating if needed) segment storage for a window or session store, whose
    /// database lives in directory `dir`: one column family per segment.
    pub fn open_segments(&self, dir: &Path, name: &str) -> Result<Arc<dyn SegmentStorage>> {
        Ok(Arc::new(RocksSegments::open(self, dir, name)?))
    }

    /// Opens a window store on RocksDB segments in directory `dir`.
    pub fn open_window_store(
        &self,
        dir: &Path,
        name: &str,
        retention: Retention,
    ) -> Result<SegmentedWindowStore> {
        SegmentedWindowStore::open(self.open_segments(dir, name)?, retention)
    }

    /// Opens a session store on RocksDB segments in directory `dir`.
    pub fn open_session_store(
        &self,
        dir: &Path,
        name: &str,
        retention: Retention,
    ) -> Result<SegmentedSessionStore> {
        SegmentedSessionStore::open(self.open_segments(dir, name)?, retention)
    }

    /// Current memory use of all stores open in this environment.
    pub fn memory_usage(&self) -> MemoryUsage {
        let databases = self.live_databases();
        let mut usage = MemoryUsage {
            budget_bytes: self.inner.config.memory_budget_bytes,
            block_cache_usage_bytes: self.inner.cache.get_usage(),
            block_cache_pinned_bytes: self.inner.cache.get_pinned_usage(),
            write_buffer_limit_bytes: self.inner.write_buffers.get_buffer_size(),
            write_buffer_usage_bytes: self.inner.write_buffers.get_usage(),
            open_databases: databases.len(),
            ..MemoryUsage::default()
        };
        for db in &databases {
            usage.memtable_bytes += db.property_sum("rocksdb.size-all-mem-tables");
            usage.table_readers_bytes += db.property_sum("rocksdb.estimate-table-readers-mem");
        }
        usage
    }

    /// Counts bytes written by any store; every [`CAP_CHECK_BYTES`] it enforces the memtable
    /// cap.
    pub(crate) fn note_write(&self, bytes: usize) {
        let before = self.inner.written.fetch_add(bytes, Ordering::Relaxed);
        if before / CAP_CHECK_BYTES != before.wrapping_add(bytes) / CAP_CHECK_BYTES {
            self.enforce_memtable_cap();
        }
    }

    /// RocksDB's write buffer manager, when the memtables of all stores reach the cap, makes
    /// only the store being written flush its own memtables. Memtables filled by stores that
    /// have gone idle would then stay in memory for good, and with many stores they alone
    /// exceed the cap (100 stores x 1.5 MiB in `examples/memory_budget.rs`). So when the
    /// memtables are near the cap, this flushes the largest ones of any store, in the
    /// background, until about half the cap would remain.
    fn enforce_memtable_cap(&self) {
        let limit = self.inner.write_buffers.get_buffer_size() as u64;
        let usage = self.inner.write_buffers.get_usage() as u64;
        if usage < limit / 10 * 9 {
            return;
        }
        let Some(_one_at_a_time) = self.inner.enforcing.try_lock() else {
            return;
        };
        let mut databases: Vec<(u64, Arc<Db>)> = self
            .live_databases()
            .into_iter()
            .map(|db| (db.property_sum("rocksdb.cur-size-all-mem-tables"), db))
            .collect();
        databases.sort_unstable_by_key(|(size, _)| std::cmp::Reverse(*size));
        let mut projected = usage;
        for (size, db) in databases {
            if projected <= limit / 2 || size == 0 {
                break;
            }
            db.flush_memtables_in_background();
            projected = projected.saturating_sub(size);
        }
    }

    fn live_databases(&self) -> Vec<Arc<Db>> {
        let mut list = self.inner.databases.lock();
        list.retain(|db| db.strong_count() > 0);
        list.iter().filter_map(Weak::upgrade).collect()
    }

    /// Records an open database for [`RocksEnv::memory_usage`].
    pub(crate) fn register(&self, db: &Arc<Db>) {
        let mut list = self.inner.databases.lock();
        list.retain(|db| db.strong_count() > 0);
        list.push(Arc::downgrade(db));
    }

    /// Options of a database: the shared write buffer manager, plus the default column
    /// family's options.
    pub(crate) fn db_options(&self) -> Options {
        let config = &self.inner.config;
        let mut options = self.cf_options();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        options.set_write_buffer_manager(&self.inner.write_buffers);
        options.set_max_background_jobs(config.max_background_jobs as i32);
        // Bounds the log when some column families are rarely written: older memtables are
        // flushed so that the log can be recycled.
        options.set_max_total_wal_size(
            (config.write_buffer_bytes as u64)
                .saturating_mul(8)
                .max(64 << 20),
        );
        options.set_keep_log_file_num(2);
        options.set_max_log_file_size(MIB);
        options
    }

    /// Options of one column family (a store or a segment): small memtables, the shared
    /// block cache with index and filter blocks in it, bloom filters, LZ4.
    pub(crate) fn cf_options(&self) -> Options {
        let config = &self.inner.config;
        let mut table = BlockBasedOptions::default();
        table.set_block_cache(&self.inner.cache);
        table.set_block_size(config.block_size_bytes);
        table.set_cache_index_and_filter_blocks(true);
        table.set_cache_index_and_filter_blocks_with_high_priority(true);
        table.set_pin_l0_filter_and_index_blocks_in_cache(true);
        table.set_pin_top_level_index_and_filter(true);
        if config.bloom_bits_per_key > 0.0 {
            table.set_bloom_filter(config.bloom_bits_per_key, false);
            table.set_optimize_filters_for_memory(true);
        }
        let mut options = Options::default();
        options.set_block_based_table_factory(&table);
        options.set_write_buffer_size(config.write_buffer_bytes);
        options.set_max_write_buffer_number(config.max_write_buffers as i32);
        options.set_compression_type(DBCompressionType::Lz4);
        options.set_level_compaction_dynamic_level_bytes(true);
        options
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    /// Stores that each stay below their own write buffer size, but together exceed the
    /// memtable cap, and then go idle: RocksDB alone would keep all their memtables.
    #[test]
    fn memtables_of_idle_stores_are_flushed_to_keep_the_cap() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let env = RocksEnv::new(RocksConfig {
            memory_budget_bytes: 16 << 20,
            ..RocksConfig::default()
        })?;
        let limit = env.memory_usage().write_buffer_limit_bytes;
        assert_eq!(limit, 8 << 20);
        let mut stores = Vec::new();
        let value = [7u8; 1000];
        for i in 0..24 {
            let store = env.open_kv(&dir.path().join(format!("kv{i}")), "kv")?;
            // 1 MiB each: an eighth of a store's 8 MiB write buffer.
            for k in 0..1_000u32 {
                store.put(&k.to_be_bytes(), &value)?;
            }
            stores.push(store);
        }
        // Flushes run in the background: wait for them to land.
        let deadline = Instant::now() + Duration::from_secs(20);
        let usage = loop {
            let usage = env.memory_usage();
            if usage.write_buffer_usage_bytes <= limit || Instant::now() > deadline {
                break usage;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(
            usage.write_buffer_usage_bytes <= limit,
            "24 MiB written, memtables over the {limit}-byte cap: {usage:?}"
        );
        // Nothing was lost by flushing.
        for store in &stores {
            assert_eq!(store.get(&999u32.to_be_bytes())?, Some(value.to_vec()));
        }
        Ok(())
    }
}
