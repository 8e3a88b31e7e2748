//! Restore from a real changelog topic (not a timed test): 5M records (8-byte distinct keys,
//! 100-byte values) in a compacted topic of the embedded broker, restored into an empty
//! RocksDB store through [`BrokerChangelog`], next to reading the topic alone through the
//! same changelog (the baseline) in the same run. Prints records/s.
//!
//! ```text
//! cargo bench -p eddy-streams --bench changelog_restore [-- RECORDS]
//! ```
//!
//! Goal (from the "eddy-state" issue): restore at least 500k records/s.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use eddy_broker::{
    Broker, BrokerConfig, CleanupPolicy, Durability, FlushPolicy, NewRecord, TopicConfig,
};
use eddy_state::{
    Changelog, ChangeloggedConfig, ChangeloggedStore, KeyValueStore, RocksConfig, RocksEnv,
};
use eddy_streams::BrokerChangelog;

const TOPIC: &str = "bench-store-changelog";
const VALUE_BYTES: usize = 100;

fn key(i: u64) -> [u8; 8] {
    i.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_be_bytes()
}

fn value(i: u64) -> Vec<u8> {
    let mut value = vec![0u8; VALUE_BYTES];
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
    println!("{case:<40} {rate:>11.0} records/s  ({records} in {secs:.2} s)");
    rate
}

fn main() -> anyhow::Result<()> {
    let records: u64 = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map_or(Ok(5_000_000), |a| a.parse())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let dir = tempfile::tempdir()?;
    let broker = runtime.block_on(Broker::open(BrokerConfig {
        data_dir: dir.path().join("broker"),
        flush_policy: FlushPolicy::GroupCommit {
            interval: Duration::from_secs(1),
        },
        maintenance_interval: Duration::from_secs(3600),
        ..BrokerConfig::new("")
    }))?;
    runtime.block_on(broker.create_topic(
        TOPIC,
        TopicConfig {
            cleanup_policy: CleanupPolicy::COMPACT,
            ..TopicConfig::default()
        },
    ))?;
    println!(
        "restore from the embedded broker: {records} records, 8-byte distinct keys, \
         {VALUE_BYTES}-byte values, RocksConfig::default()"
    );
    let started = Instant::now();
    let chunk = 5_000;
    for from in (0..records).step_by(chunk as usize) {
        let batch: Vec<NewRecord> = (from..(from + chunk).min(records))
            .map(|i| NewRecord {
                key: Some(Bytes::copy_from_slice(&key(i))),
                value: Some(Bytes::from(value(i))),
                headers: Vec::new(),
                timestamp: None,
            })
            .collect();
        runtime.block_on(broker.produce(TOPIC, 0, &batch, Durability::Written))?;
    }
    line(
        "write the topic (setup)",
        records,
        started.elapsed().as_secs_f64(),
    );

    let changelog = Arc::new(BrokerChangelog::new(
        broker.clone(),
        runtime.handle().clone(),
        TOPIC,
        0,
    ));
    let batch_size = ChangeloggedConfig::default().restore_batch;
    for _ in 0..2 {
        let started = Instant::now();
        let (mut position, mut read) = (0, 0u64);
        loop {
            let batch = changelog.read(position, batch_size)?;
            let Some(last) = batch.last() else { break };
            position = last.offset + 1;
            read += batch.len() as u64;
        }
        line(
            "read the topic alone (baseline)",
            read,
            started.elapsed().as_secs_f64(),
        );
    }

    let env = RocksEnv::new(RocksConfig::default())?;
    let mut best = 0f64;
    for round in 0..2 {
        let log: Arc<dyn Changelog> = changelog.clone();
        let (store, report) = ChangeloggedStore::open(
            dir.path().join(format!("store-{round}")),
            "bench-store",
            log,
            &ChangeloggedConfig::default(),
            |d| env.open_kv(d, "bench-store"),
        )?;
        anyhow::ensure!(report.records == records, "restored {}", report.records);
        anyhow::ensure!(store.get(&key(records - 1))?.is_some(), "last key missing");
        best = best.max(line(
            "restore into an empty RocksDB store",
            report.records,
            report.elapsed.as_secs_f64(),
        ));
    }
    println!("summary: restore {best:.0} records/s, best of 2 (goal >= 500k/s)");
    runtime.block_on(broker.shutdown())?;
    Ok(())
}
