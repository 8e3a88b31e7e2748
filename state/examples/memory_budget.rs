//! Measures RocksDB memory with many stores open under one [`RocksEnv`] budget.
//!
//! Opens 100 key-value stores and 10 window stores in a temporary directory under a 128 MiB
//! budget, writes 100k 100-byte values into each key-value store and 100k windowed values
//! into each window store (about 1.1 GB of data: the budget many times over if memory were
//! unbounded), reads a sample back from every store, and prints the process's resident
//! memory (from `/proc/self/status`) and RocksDB's own accounting next to the budget.
//!
//! ```text
//! cargo run --release -p eddy-state --example memory_budget [-- BUDGET_MIB [STORES]]
//! ```

use std::sync::Arc;
use std::time::Instant;

use eddy_state::rocks::{MemoryUsage, RocksConfig, RocksEnv};
use eddy_state::{KeyValueStore, Retention, SegmentedWindowStore, WindowStore};

const MIB: f64 = (1 << 20) as f64;
const KEYS_PER_STORE: u64 = 100_000;
const VALUE_BYTES: usize = 100;
const WINDOW_STORES: usize = 10;

/// A `VmRSS`/`VmHWM`-style line of `/proc/self/status`, in MiB.
fn proc_status_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// xorshift: cheap incompressible-ish bytes, so LZ4 does not shrink the data away.
fn fill(value: &mut [u8], mut seed: u64) {
    for chunk in value.chunks_mut(8) {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let bytes = seed.to_le_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
}

fn report(stage: &str, usage: &MemoryUsage, rss_before: f64) {
    println!(
        "{stage:<22} rss {:7.1} MiB (+{:6.1} over start)  peak rss {:7.1} MiB | \
         cache {:6.1} MiB (pinned {:5.1}) of {:.0} | memtables {:6.1} MiB (wbm {:5.1} of {:.0}) | \
         table readers {:4.1} MiB | rocksdb total {:6.1} MiB",
        proc_status_mib("VmRSS:"),
        proc_status_mib("VmRSS:") - rss_before,
        proc_status_mib("VmHWM:"),
        usage.block_cache_usage_bytes as f64 / MIB,
        usage.block_cache_pinned_bytes as f64 / MIB,
        usage.budget_bytes as f64 / MIB,
        usage.memtable_bytes as f64 / MIB,
        usage.write_buffer_usage_bytes as f64 / MIB,
        usage.write_buffer_limit_bytes as f64 / MIB,
        usage.table_readers_bytes as f64 / MIB,
        usage.total_bytes() as f64 / MIB,
    );
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let budget_mib: usize = args.next().map_or(Ok(128), |a| a.parse())?;
    let kv_stores: usize = args.next().map_or(Ok(100), |a| a.parse())?;
    let dir = tempfile::tempdir()?;
    let rss_start = proc_status_mib("VmRSS:");
    let config = RocksConfig {
        memory_budget_bytes: budget_mib << 20,
        ..RocksConfig::default()
    };
    println!(
        "budget {budget_mib} MiB (memtables up to {:.0} MiB), {kv_stores} key-value stores x \
         {KEYS_PER_STORE} x {VALUE_BYTES}-byte values, {WINDOW_STORES} window stores x \
         {KEYS_PER_STORE} windowed values; data written: {:.0} MiB; rss at start {rss_start:.1} MiB",
        config.write_buffer_limit_bytes() as f64 / MIB,
        ((kv_stores + WINDOW_STORES) as u64 * KEYS_PER_STORE * (VALUE_BYTES as u64 + 8)) as f64
            / MIB,
    );
    let env = RocksEnv::new(config)?;

    let started = Instant::now();
    let stores: Vec<Arc<dyn KeyValueStore>> = (0..kv_stores)
        .map(|i| env.open_kv(&dir.path().join(format!("kv-{i}")), &format!("kv-{i}")))
        .collect::<Result<_, _>>()?;
    let windows: Vec<SegmentedWindowStore> = (0..WINDOW_STORES)
        .map(|i| {
            env.open_window_store(
                &dir.path().join(format!("window-{i}")),
                &format!("window-{i}"),
                Retention::with_segment_ms(600_000, 60_000)?,
            )
        })
        .collect::<Result<_, _>>()?;
    report("opened", &env.memory_usage(), rss_start);

    let mut value = vec![0u8; VALUE_BYTES];
    for (i, store) in stores.iter().enumerate() {
        for k in 0..KEYS_PER_STORE {
            // Spread keys over the key space (a bijection on u64), not in insertion order.
            let key = k.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            fill(&mut value, (key ^ i as u64) | 1);
            store.put(&key.to_be_bytes(), &value)?;
        }
        if i % 25 == 24 {
            report(
                &format!("written {} stores", i + 1),
                &env.memory_usage(),
                rss_start,
            );
        }
    }
    for (i, window) in windows.iter().enumerate() {
        for t in 0..KEYS_PER_STORE as i64 {
            fill(&mut value, ((t as u64) << 8) | i as u64 | 1);
            window.put(&(t % 1000).to_be_bytes(), t * 10, &value)?;
        }
    }
    for store in &stores {
        store.flush()?;
    }
    for window in &windows {
        window.flush()?;
    }
    report("all written", &env.memory_usage(), rss_start);
    let write_secs = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let mut found = 0u64;
    for store in &stores {
        for k in (0..KEYS_PER_STORE).step_by(10) {
            let key = k.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            found += u64::from(store.get(&key.to_be_bytes())?.is_some());
        }
    }
    let mut scanned = 0u64;
    for store in stores.iter().take(10) {
        for entry in store.all()? {
            entry?;
            scanned += 1;
        }
    }
    let mut fetched = 0usize;
    for window in &windows {
        for key in 0..100i64 {
            fetched += window.fetch(&key.to_be_bytes(), 900_000, 1_000_000)?.len();
        }
    }
    report("read back", &env.memory_usage(), rss_start);
    println!(
        "wrote in {write_secs:.1} s; read {found} of {} sampled keys, scanned {scanned} entries \
         of 10 stores, fetched {fetched} windows in {:.1} s",
        kv_stores as u64 * KEYS_PER_STORE / 10,
        started.elapsed().as_secs_f64()
    );
    let usage = env.memory_usage();
    println!(
        "summary: budget {budget_mib} MiB; rocksdb accounted {:.1} MiB; process rss {:.1} MiB \
         (peak {:.1} MiB, {:.1} MiB at start); {} databases open",
        usage.total_bytes() as f64 / MIB,
        proc_status_mib("VmRSS:"),
        proc_status_mib("VmHWM:"),
        rss_start,
        usage.open_databases,
    );
    drop(windows);
    drop(stores);
    Ok(())
}
