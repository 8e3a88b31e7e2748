//! What the examples share: an embedded broker in a temporary directory, producing sample
//! input, and reading an output topic back.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use eddy_broker::{Durability, NewRecord, OffsetSpec, decode_records};
use eddy_streams::EmbeddedBackend;
use eddy_streams::runtime::Backend;

/// An embedded broker in a fresh temporary directory (kept alive by the returned guard).
pub fn broker() -> anyhow::Result<(Arc<EmbeddedBackend>, tempfile::TempDir)> {
    let dir = tempfile::tempdir()?;
    let backend = Arc::new(EmbeddedBackend::open(dir.path().join("broker"))?);
    Ok((backend, dir))
}

/// Appends keyed records with timestamps to partition 0 of `topic`, durably.
pub fn produce(
    backend: &EmbeddedBackend,
    topic: &str,
    records: &[(Vec<u8>, Vec<u8>, i64)],
) -> anyhow::Result<()> {
    let partitions = backend.partitions(topic)?.unwrap_or(1);
    for (key, value, ts) in records {
        let partition = eddy_streams::partitioner::partition_for_key(key, partitions);
        let record = NewRecord {
            key: Some(Bytes::copy_from_slice(key)),
            value: Some(Bytes::copy_from_slice(value)),
            headers: Vec::new(),
            timestamp: Some(*ts),
        };
        backend.block_on(backend.broker().produce(
            topic,
            partition,
            &[record],
            Durability::Durable,
        ))?;
    }
    Ok(())
}

/// A record's key and value bytes (`None`: a tombstone).
pub type KeyValue = (Vec<u8>, Option<Vec<u8>>);

/// Every record of `topic` as (key, value) bytes, partition by partition.
pub fn read_topic(backend: &EmbeddedBackend, topic: &str) -> anyhow::Result<Vec<KeyValue>> {
    let mut out = Vec::new();
    for p in 0..backend.partitions(topic)?.unwrap_or(0) {
        let end = backend
            .block_on(backend.broker().list_offset(topic, p, OffsetSpec::Latest))?
            .map_or(0, |(o, _)| o);
        let mut offset = 0;
        while offset < end {
            let fetched = backend.block_on(backend.broker().fetch(
                topic,
                p,
                offset,
                1 << 20,
                Duration::ZERO,
            ))?;
            for r in decode_records(&fetched.records)? {
                if r.offset >= offset {
                    out.push((
                        r.key.map(|k| k.to_vec()).unwrap_or_default(),
                        r.value.map(|v| v.to_vec()),
                    ));
                    offset = r.offset + 1;
                }
            }
        }
    }
    Ok(out)
}

/// Polls `done` until it holds, or fails after 60 s.
pub fn wait_for(what: &str, mut done: impl FnMut() -> anyhow::Result<bool>) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done()? {
        anyhow::ensure!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}
