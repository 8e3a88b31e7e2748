//! Compaction with a bounded key map (`compaction_map_max_bytes`, Kafka's dedupe buffer): a
//! partition with more distinct keys than the map holds is compacted over several passes,
//! each cleaning up to where its map filled, and ends exactly where an unbounded compaction
//! ends in one pass. How far the log is clean survives a restart: a restarted broker goes on
//! where its last pass stopped, pass for pass as one that was not restarted.

use std::time::Duration;

use anyhow::{Result, ensure};
use eddy_broker::{
    Broker, BrokerConfig, CleanupPolicy, Durability, NewRecord, TopicConfig, decode_records,
};

const TOPIC: &str = "keys";
const KEYS: usize = 300;
const ROUNDS: usize = 6;

/// Every record of the partition: (offset, key, value).
async fn read_all(broker: &Broker) -> Result<Vec<(i64, String, String)>> {
    let mut out = Vec::new();
    let mut offset = 0;
    loop {
        let fetched = broker
            .fetch(TOPIC, 0, offset, 1 << 20, Duration::ZERO)
            .await?;
        let Some(next) = eddy_broker::batch::next_offset_after(&fetched.records) else {
            break;
        };
        for r in decode_records(&fetched.records)? {
            if r.offset >= offset {
                let text = |b: Option<bytes::Bytes>| String::from_utf8(b.unwrap().to_vec());
                out.push((r.offset, text(r.key)?, text(r.value)?));
            }
        }
        offset = next;
    }
    Ok(out)
}

async fn open(dir: &std::path::Path, map_bytes: usize) -> Result<Broker> {
    Ok(Broker::open(BrokerConfig {
        compaction_map_max_bytes: map_bytes,
        ..BrokerConfig::new(dir)
    })
    .await?)
}

/// A broker whose compaction map holds `map_bytes`, with `KEYS` keys each written `ROUNDS`
/// times across many small segments.
async fn filled(dir: &std::path::Path, map_bytes: usize) -> Result<Broker> {
    let broker = open(dir, map_bytes).await?;
    broker
        .create_topic(
            TOPIC,
            TopicConfig {
                cleanup_policy: CleanupPolicy::COMPACT,
                min_compaction_lag_ms: 0,
                segment_bytes: 4096,
                ..TopicConfig::default()
            },
        )
        .await?;
    for round in 0..ROUNDS {
        for chunk in (0..KEYS).collect::<Vec<_>>().chunks(25) {
            let records: Vec<NewRecord> = chunk
                .iter()
                .map(|k| NewRecord::new(format!("key-{k:04}"), format!("v{round}")))
                .collect();
            broker
                .produce(TOPIC, 0, &records, Durability::Written)
                .await?;
        }
    }
    Ok(broker)
}

#[tokio::test]
async fn a_bounded_map_compacts_over_several_passes_to_the_same_log() -> Result<()> {
    let unbounded_dir = tempfile::tempdir()?;
    let unbounded = filled(unbounded_dir.path(), 128 << 20).await?;
    let bounded_dir = tempfile::tempdir()?;
    // About 50 keys' worth (a key is counted as its 8 bytes plus 64).
    let bounded = filled(bounded_dir.path(), 50 * 72).await?;
    let written = read_all(&bounded).await?;
    ensure!(written.len() == KEYS * ROUNDS, "{} records", written.len());

    let now = eddy_broker::now_ms();
    let one_pass = unbounded.run_maintenance(now).await?;
    ensure!(
        unbounded.run_maintenance(now + 1).await?.records_removed == 0,
        "the unbounded map compacts in one pass"
    );
    let expected = read_all(&unbounded).await?;

    let mut passes = Vec::new();
    for pass in 0..200 {
        let stats = bounded.run_maintenance(now + pass).await?;
        passes.push(stats.records_removed);
        if stats.records_removed == 0 && stats.segments_cleaned == 0 && pass > 0 {
            break;
        }
    }
    ensure!(
        passes[0] < one_pass.records_removed,
        "the first bounded pass removed {} records, as many as the unbounded one ({}): the bound did nothing",
        passes[0],
        one_pass.records_removed
    );
    ensure!(
        passes.iter().filter(|&&n| n > 0).count() > 2,
        "records removed per pass: {passes:?}"
    );
    let compacted = read_all(&bounded).await?;
    ensure!(
        compacted == expected,
        "after {} passes ({passes:?}) the bounded log holds {} records, the unbounded one {}",
        passes.len(),
        compacted.len(),
        expected.len()
    );
    // Every key's latest value is there (the active segment may hold older ones too).
    for k in 0..KEYS {
        let key = format!("key-{k:04}");
        let last = compacted.iter().rev().find(|(_, kk, _)| *kk == key);
        ensure!(
            last.map(|(_, _, v)| v.as_str()) == Some(&*format!("v{}", ROUNDS - 1)),
            "{key}: {last:?}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn a_restarted_broker_compacts_on_from_where_its_last_pass_stopped() -> Result<()> {
    const MAP: usize = 50 * 72;
    let steady_dir = tempfile::tempdir()?;
    let steady = filled(steady_dir.path(), MAP).await?;
    let restarted_dir = tempfile::tempdir()?;
    let mut restarted = filled(restarted_dir.path(), MAP).await?;
    let now = eddy_broker::now_ms();
    let mut passes = Vec::new();
    for pass in 0..4 {
        let expected = steady.run_maintenance(now + pass).await?;
        let got = restarted.run_maintenance(now + pass).await?;
        passes.push(expected.records_removed);
        ensure!(
            (got.records_removed, got.segments_cleaned)
                == (expected.records_removed, expected.segments_cleaned),
            "pass {pass} after a restart removed {} records from {} segments, without one {} \
             from {} (passes so far: {passes:?})",
            got.records_removed,
            got.segments_cleaned,
            expected.records_removed,
            expected.segments_cleaned
        );
        ensure!(
            read_all(&restarted).await? == read_all(&steady).await?,
            "the logs differ after pass {pass}"
        );
        restarted.shutdown().await?;
        drop(restarted);
        restarted = open(restarted_dir.path(), MAP).await?;
    }
    // The first pass indexes one segment's keys and removes nothing; each later one (each
    // after a restart) has something to remove, so the comparisons compare something.
    ensure!(
        passes[1..].iter().all(|&n| n > 0),
        "records removed per pass: {passes:?}"
    );
    Ok(())
}
