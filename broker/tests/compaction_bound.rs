//! Compaction with a bounded key map (`compaction_map_max_bytes`, Kafka's dedupe buffer): a
//! partition with more distinct keys than the map holds is compacted over several passes,
//! each cleaning up to where its map filled, and ends exactly where an unbounded compaction
//! ends in one pass.

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

/// A broker whose compaction map holds `map_bytes`, with `KEYS` keys each written `ROUNDS`
/// times across many small segments.
async fn filled(dir: &std::path::Path, map_bytes: usize) -> Result<Broker> {
    let broker = Broker::open(BrokerConfig {
        compaction_map_max_bytes: map_bytes,
        ..BrokerConfig::new(dir)
    })
    .await?;
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
