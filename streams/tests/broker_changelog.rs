//! A RocksDB store changelogged to a compacted topic of the real embedded broker: written,
//! committed, the topic compacted (leaving offset gaps) and the broker reopened, then
//! restored on "another machine" (an empty directory) from the topic alone, and
//! incrementally where it was.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use eddy_broker::{Broker, BrokerConfig, CleanupPolicy, FlushPolicy, TopicConfig};
use eddy_state::{
    Changelog, ChangeloggedConfig, ChangeloggedStore, KeyValueStore, RestoreKind, RocksConfig,
    RocksEnv,
};
use eddy_streams::BrokerChangelog;

const TOPIC: &str = "app-counts-changelog";

fn broker_config(dir: &Path) -> BrokerConfig {
    BrokerConfig {
        data_dir: dir.to_path_buf(),
        flush_policy: FlushPolicy::GroupCommit {
            interval: Duration::from_secs(3600),
        },
        maintenance_interval: Duration::from_secs(3600),
        ..BrokerConfig::new("")
    }
}

fn open_store(
    env: &RocksEnv,
    dir: &Path,
    changelog: &Arc<BrokerChangelog>,
) -> anyhow::Result<(ChangeloggedStore, eddy_state::RestoreReport)> {
    let changelog: Arc<dyn Changelog> = changelog.clone();
    let config = ChangeloggedConfig {
        cache_max_bytes: 64 << 10,
        restore_batch: 700,
        ..ChangeloggedConfig::default()
    };
    Ok(ChangeloggedStore::open(
        dir,
        "counts",
        changelog,
        &config,
        |d| env.open_kv(d, "counts"),
    )?)
}

fn contents(store: &dyn KeyValueStore) -> anyhow::Result<BTreeMap<Vec<u8>, Vec<u8>>> {
    let mut out = BTreeMap::new();
    for entry in store.all()? {
        let (k, v) = entry?;
        out.insert(k, v);
    }
    Ok(out)
}

#[test]
fn store_restores_from_a_compacted_broker_topic() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let broker_dir = tempfile::tempdir()?;
    let broker = runtime.block_on(Broker::open(broker_config(broker_dir.path())))?;
    runtime.block_on(broker.create_topic(
        TOPIC,
        TopicConfig {
            cleanup_policy: CleanupPolicy::COMPACT,
            segment_bytes: 64 << 10,
            ..TopicConfig::default()
        },
    ))?;
    let env = RocksEnv::new(RocksConfig {
        memory_budget_bytes: 16 << 20,
        ..RocksConfig::default()
    })?;
    let changelog = Arc::new(BrokerChangelog::new(
        broker.clone(),
        runtime.handle().clone(),
        TOPIC,
        0,
    ));

    // Write: counts per key, some deletes, a commit every 1000 operations.
    let state_a = tempfile::tempdir()?;
    let (store, report) = open_store(&env, state_a.path(), &changelog)?;
    assert!(matches!(report.kind, RestoreKind::Full(_)));
    let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    for i in 0..20_000u64 {
        let key = format!("key-{:03}", i.wrapping_mul(7919) % 500).into_bytes();
        if i % 11 == 0 {
            store.delete(&key)?;
            model.remove(&key);
        } else {
            let count = model
                .get(&key)
                .map_or(0, |v| u64::from_be_bytes(v[..8].try_into().unwrap()))
                + 1;
            let value = [count.to_be_bytes().as_slice(), &[0u8; 40]].concat();
            store.put(&key, &value)?;
            model.insert(key, value);
        }
        if i % 1000 == 999 {
            store.commit()?;
        }
    }
    let end = store.close()?;
    assert_eq!(changelog.end_offset()?, end);
    drop(changelog);

    // Compact the topic (roll first so every record is in a closed segment), and reopen
    // the broker: the restore reads what is on disk.
    runtime.block_on(broker.roll(TOPIC, 0))?;
    let stats = runtime.block_on(broker.run_maintenance(eddy_broker::now_ms()))?;
    assert!(stats.records_removed > 0, "{stats:?}");
    runtime.block_on(broker.shutdown())?;
    drop(broker);
    let broker = runtime.block_on(Broker::open(broker_config(broker_dir.path())))?;
    let changelog = Arc::new(BrokerChangelog::new(
        broker.clone(),
        runtime.handle().clone(),
        TOPIC,
        0,
    ));
    assert_eq!(changelog.end_offset()?, end);
    // Compaction left gaps: fewer records than offsets.
    let mut records = 0;
    let mut position = 0;
    loop {
        let batch = changelog.read(position, 1_000)?;
        let Some(last) = batch.last() else { break };
        assert!(batch.windows(2).all(|w| w[0].offset < w[1].offset));
        position = last.offset + 1;
        records += batch.len();
    }
    assert!(records < end as usize, "{records} records, end {end}");

    // Another machine: nothing local, the topic alone.
    let state_b = tempfile::tempdir()?;
    let (restored, report) = open_store(&env, state_b.path(), &changelog)?;
    assert!(matches!(report.kind, RestoreKind::Full(_)), "{report:?}");
    assert_eq!(report.records, records as u64);
    assert_eq!(report.to_offset, end);
    assert_eq!(contents(&restored)?, model);
    drop(restored);

    // Where it ran: the checkpoint is at the end, nothing to replay.
    let (store, report) = open_store(&env, state_a.path(), &changelog)?;
    assert_eq!(report.kind, RestoreKind::Incremental, "{report:?}");
    assert_eq!(report.records, 0);
    assert_eq!(contents(&store)?, model);

    // More writes after compaction continue at the end offset.
    store.put(b"key-new", b"1")?;
    assert_eq!(store.commit()?, end + 1);
    runtime.block_on(broker.shutdown())?;
    Ok(())
}
