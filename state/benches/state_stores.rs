//! State store benchmark (not a timed test): puts and gets of 100-byte values over 1M keys
//! through [`RocksKeyValueStore`], uncached and behind the write cache
//! ([`CachingKeyValueStore`]), next to a plain RocksDB put/get loop with the same options
//! measured in the same run (the baseline); then window store appends in time order with
//! fetches; then a restore of a key-value store from a changelog of 5M records. Prints
//! records/s.
//!
//! ```text
//! cargo bench -p eddy-state --bench state_stores [-- KEYS [RESTORE_RECORDS]]
//! ```
//!
//! Goals (from the "eddy-state" issue): at least 1M cached puts/s; uncached puts within 80%
//! of the raw RocksDB loop; restore at least 500k records/s.
//!
//! The restore reads an in-memory changelog ([`MemoryChangelog`]), so it measures the
//! store's side of a restore (batching, RocksDB writes, flush, checkpoint), not fetching
//! the changelog from a broker (which the broker's own benchmark measures).

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use eddy_state::rocks::{RocksConfig, RocksEnv};
use std::sync::Arc;

use eddy_state::{
    CachingKeyValueStore, Changelog, ChangeloggedConfig, ChangeloggedStore, KeyValueStore,
    MemoryChangelog, Retention, WindowStore,
};
use rocksdb::{
    BlockBasedOptions, Cache, DBCompressionType, DBWithThreadMode, MultiThreaded, Options,
    WriteBatch, WriteBufferManager, WriteOptions,
};

const VALUE_BYTES: usize = 100;
/// Write cache size for the cached case: the default of `ChangeloggedConfig` (10 MiB, as
/// Kafka Streams).
const CACHE_BYTES: usize = 10 << 20;
/// Puts between commits of the cached store (a commit syncs RocksDB's log: one fsync). A
/// task committing every 30 s (Kafka Streams' default interval) at 33k puts/s or more
/// commits less often than this.
const COMMIT_EVERY: u64 = 1_000_000;
/// Records per write batch of the raw batched baseline (the cache writes down evictions in
/// batches of a quarter of its bound: about 14k entries of this size).
const RAW_BATCH: u64 = 14_000;

/// The key of record `i`: a bijection on u64, so keys arrive in no particular order.
fn key(i: u64) -> [u8; 8] {
    i.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_be_bytes()
}

fn value(i: u64) -> [u8; VALUE_BYTES] {
    let mut value = [0u8; VALUE_BYTES];
    let mut seed = i | 1;
    for chunk in value.chunks_mut(8) {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        chunk.copy_from_slice(&seed.to_le_bytes()[..chunk.len()]);
    }
    value
}

fn line(case: &str, records: u64, secs: f64) -> f64 {
    let rate = records as f64 / secs;
    println!("{case:<44} {rate:>11.0} records/s  ({records} in {secs:.2} s)");
    rate
}

/// Plain RocksDB with the options `RocksEnv` gives a key-value store under
/// `RocksConfig::default()`, written out by hand (the engine keeps RocksDB types private):
/// shared LRU cache of the budget, write buffer manager charged to it, 8 MiB x 2 memtables,
/// index and filter blocks in the cache, 10-bit bloom filters, 16 KiB blocks, LZ4, WAL on
/// without sync.
fn raw_options(config: &RocksConfig) -> Options {
    let cache = Cache::new_lru_cache(config.memory_budget_bytes);
    let write_buffers = WriteBufferManager::new_write_buffer_manager_with_cache(
        config.write_buffer_limit_bytes(),
        config.stall_writes_at_limit,
        cache.clone(),
    );
    let mut table = BlockBasedOptions::default();
    table.set_block_cache(&cache);
    table.set_block_size(config.block_size_bytes);
    table.set_cache_index_and_filter_blocks(true);
    table.set_cache_index_and_filter_blocks_with_high_priority(true);
    table.set_pin_l0_filter_and_index_blocks_in_cache(true);
    table.set_pin_top_level_index_and_filter(true);
    table.set_bloom_filter(config.bloom_bits_per_key, false);
    table.set_optimize_filters_for_memory(true);
    let mut options = Options::default();
    options.set_block_based_table_factory(&table);
    options.set_write_buffer_size(config.write_buffer_bytes);
    options.set_max_write_buffer_number(config.max_write_buffers as i32);
    options.set_compression_type(DBCompressionType::Lz4);
    options.set_level_compaction_dynamic_level_bytes(true);
    options.create_if_missing(true);
    options.set_write_buffer_manager(&write_buffers);
    options.set_max_background_jobs(config.max_background_jobs as i32);
    options.set_max_total_wal_size(64 << 20);
    options.set_keep_log_file_num(2);
    options.set_max_log_file_size(1 << 20);
    options
}

fn raw_rocksdb(dir: &Path, config: &RocksConfig, keys: u64) -> anyhow::Result<(f64, f64)> {
    let db = DBWithThreadMode::<MultiThreaded>::open(&raw_options(config), dir)?;
    let mut write = WriteOptions::default();
    write.set_sync(false);
    write.disable_wal(!config.use_wal);
    let started = Instant::now();
    for i in 0..keys {
        db.put_opt(key(i), value(i), &write)?;
    }
    db.flush_wal(true)?;
    let puts = line(
        "raw RocksDB put (baseline)",
        keys,
        started.elapsed().as_secs_f64(),
    );
    let started = Instant::now();
    for i in 0..keys {
        let found = db.get(key(i))?;
        black_box(found.map(|v| v.len()));
    }
    let gets = line(
        "raw RocksDB get (baseline)",
        keys,
        started.elapsed().as_secs_f64(),
    );
    Ok((puts, gets))
}

/// The same options, writing 14k-record write batches: the ceiling of the write cache with
/// distinct keys (which writes evictions down in batches of that size).
fn raw_rocksdb_batched(dir: &Path, config: &RocksConfig, keys: u64) -> anyhow::Result<f64> {
    let db = DBWithThreadMode::<MultiThreaded>::open(&raw_options(config), dir)?;
    let mut write = WriteOptions::default();
    write.set_sync(false);
    write.disable_wal(!config.use_wal);
    let started = Instant::now();
    let mut batch = WriteBatch::default();
    for i in 0..keys {
        batch.put(key(i), value(i));
        if (i + 1) % RAW_BATCH == 0 {
            db.write_opt(std::mem::take(&mut batch), &write)?;
        }
    }
    db.write_opt(batch, &write)?;
    db.flush_wal(true)?;
    Ok(line(
        "raw RocksDB put, 14k per write batch",
        keys,
        started.elapsed().as_secs_f64(),
    ))
}

fn eddy_uncached(dir: &Path, env: &RocksEnv, keys: u64) -> anyhow::Result<(f64, f64)> {
    let store = env.open_kv(dir, "uncached")?;
    let started = Instant::now();
    for i in 0..keys {
        store.put(&key(i), &value(i))?;
    }
    store.flush()?;
    let puts = line(
        "RocksKeyValueStore put",
        keys,
        started.elapsed().as_secs_f64(),
    );
    let started = Instant::now();
    for i in 0..keys {
        let found = store.get(&key(i))?;
        black_box(found.map(|v| v.len()));
    }
    let gets = line(
        "RocksKeyValueStore get",
        keys,
        started.elapsed().as_secs_f64(),
    );
    Ok((puts, gets))
}

/// The cached case: the write cache (`CachingKeyValueStore`, 10 MiB) over a
/// `RocksKeyValueStore`, committed (flushed) every 1M puts. First 1M distinct keys (the
/// cache absorbs nothing: every put reaches RocksDB, batched), then 1M puts over 10k hot
/// keys (the cache absorbs most of them), then gets.
fn eddy_cached(dir: &Path, env: &RocksEnv, keys: u64) -> anyhow::Result<f64> {
    let store = CachingKeyValueStore::new(env.open_kv(dir, "cached")?, CACHE_BYTES);
    let started = Instant::now();
    for i in 0..keys {
        store.put(&key(i), &value(i))?;
        if (i + 1) % COMMIT_EVERY == 0 {
            store.flush()?;
        }
    }
    store.flush()?;
    let puts = line(
        "cached put, distinct keys (commit /1M)",
        keys,
        started.elapsed().as_secs_f64(),
    );
    let started = Instant::now();
    for i in 0..keys {
        store.put(&key(i % 10_000), &value(i))?;
        if (i + 1) % COMMIT_EVERY == 0 {
            store.flush()?;
        }
    }
    store.flush()?;
    line(
        "cached put, 10k hot keys (commit /1M)",
        keys,
        started.elapsed().as_secs_f64(),
    );
    let started = Instant::now();
    for i in 0..keys {
        let found = store.get(&key(i))?;
        black_box(found.map(|v| v.len()));
    }
    line("cached get", keys, started.elapsed().as_secs_f64());
    Ok(puts)
}

/// Window store appends in time order: 1M records over 10k keys, one record per
/// millisecond, 10-minute retention in 1-minute segments (segments are dropped as time
/// advances); then 100k fetches of one key's last 10 seconds.
fn window_store(dir: &Path, env: &RocksEnv, records: u64) -> anyhow::Result<()> {
    let store =
        env.open_window_store(dir, "windows", Retention::with_segment_ms(600_000, 60_000)?)?;
    let started = Instant::now();
    for i in 0..records {
        store.put(&(i % 10_000).to_be_bytes(), i as i64, &value(i))?;
    }
    store.flush()?;
    line(
        "window put (time order)",
        records,
        started.elapsed().as_secs_f64(),
    );
    let fetches = records / 10;
    let now = records as i64;
    let started = Instant::now();
    let mut found = 0usize;
    for i in 0..fetches {
        let k = i.wrapping_mul(7919) % 10_000;
        found += store.fetch(&k.to_be_bytes(), now - 10_000, now)?.len();
    }
    let secs = started.elapsed().as_secs_f64();
    line("window fetch (one key, last 10 s)", fetches, secs);
    println!(
        "  ({found} windows fetched, {:.1} per fetch)",
        found as f64 / fetches as f64
    );
    Ok(())
}

/// Restores a RocksDB key-value store into an empty directory from a changelog of
/// `records` records (distinct keys, 100-byte values), as a task moved to a new machine does.
fn restore(dir: &Path, env: &RocksEnv, records: u64) -> anyhow::Result<f64> {
    let changelog = Arc::new(MemoryChangelog::new("bench-store-changelog-0"));
    let chunk = 100_000;
    for from in (0..records).step_by(chunk as usize) {
        let batch: Vec<_> = (from..(from + chunk).min(records))
            .map(|i| (key(i).to_vec(), Some(value(i).to_vec())))
            .collect();
        changelog.append(&batch)?;
    }
    changelog.flush()?;
    // Baseline: reading the changelog alone, in the restore's batch size.
    let started = Instant::now();
    let (mut position, mut read) = (0, 0u64);
    loop {
        let batch = changelog.read(position, ChangeloggedConfig::default().restore_batch)?;
        let Some(last) = batch.last() else { break };
        position = last.offset + 1;
        read += batch.len() as u64;
        black_box(batch);
    }
    line(
        "read the changelog alone (baseline)",
        read,
        started.elapsed().as_secs_f64(),
    );
    let log: Arc<dyn Changelog> = changelog;
    let (store, report) = ChangeloggedStore::open(
        dir,
        "bench-store",
        log,
        &ChangeloggedConfig::default(),
        |d| env.open_kv(d, "bench-store"),
    )?;
    anyhow::ensure!(
        report.records == records,
        "restored {} records",
        report.records
    );
    anyhow::ensure!(store.get(&key(records - 1))?.is_some(), "last key missing");
    let rate = line(
        "restore from changelog (empty dir)",
        report.records,
        report.elapsed.as_secs_f64(),
    );
    Ok(rate)
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with('-'));
    let keys: u64 = args.next().map_or(Ok(1_000_000), |a| a.parse())?;
    let restore_records: u64 = args.next().map_or(Ok(5_000_000), |a| a.parse())?;
    let dir = tempfile::tempdir()?;
    let config = RocksConfig::default();
    println!(
        "eddy-state on RocksDB: {keys} keys, {VALUE_BYTES}-byte values, budget {} MiB, WAL on \
         (not synced per write), each store in a fresh directory",
        config.memory_budget_bytes >> 20
    );
    let env = RocksEnv::new(config.clone())?;
    let mut best = (0f64, 0f64, 0f64, 0f64);
    for round in 0..2 {
        println!("-- round {}", round + 1);
        let (raw_puts, raw_gets) =
            raw_rocksdb(&dir.path().join(format!("raw-{round}")), &config, keys)?;
        let (puts, gets) = eddy_uncached(&dir.path().join(format!("kv-{round}")), &env, keys)?;
        best = (
            best.0.max(raw_puts),
            best.1.max(raw_gets),
            best.2.max(puts),
            best.3.max(gets),
        );
    }
    // Two rounds, cached first in the second, so that neither side always inherits the
    // other's background compactions.
    let (mut raw_batched, mut cached) = (0f64, 0f64);
    for round in 0..2 {
        println!("-- write cache, round {}", round + 1);
        let raw_dir = dir.path().join(format!("raw-batched-{round}"));
        let cached_dir = dir.path().join(format!("cached-{round}"));
        if round == 0 {
            raw_batched = raw_batched.max(raw_rocksdb_batched(&raw_dir, &config, keys)?);
            cached = cached.max(eddy_cached(&cached_dir, &env, keys)?);
        } else {
            cached = cached.max(eddy_cached(&cached_dir, &env, keys)?);
            raw_batched = raw_batched.max(raw_rocksdb_batched(&raw_dir, &config, keys)?);
        }
    }
    println!("-- window store");
    window_store(&dir.path().join("windows"), &env, keys)?;
    println!("-- restore");
    let restored = restore(&dir.path().join("restore"), &env, restore_records)?;
    println!(
        "summary (best of 2): uncached puts {:.0}% of raw RocksDB (goal >= 80%), gets {:.0}% of \
         raw; cached puts (distinct keys) {:.0}/s = {:.0}% of raw batched puts (goal >= 1M/s); \
         restore {:.0} records/s (goal >= 500k/s)",
        best.2 / best.0 * 100.0,
        best.3 / best.1 * 100.0,
        cached,
        cached / raw_batched * 100.0,
        restored,
    );
    Ok(())
}
