//! What the examples share: the backend to run on, producing sample input, and reading an
//! output topic back.
//!
//! By default an example runs on an embedded broker in a temporary directory. With
//! `--bootstrap-servers HOST:PORT` (or `EDDY_BOOTSTRAP_SERVERS=HOST:PORT`) it runs on the
//! Kafka backend against that cluster instead (`eddy broker start`, or any Kafka). Input is
//! produced and output read through the backend itself, so the same code serves both. On a
//! cluster the examples expect a fresh one: their topics must not exist yet.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use eddy_streams::EmbeddedBackend;
use eddy_streams::record::SinkRecord;
use eddy_streams::runtime::{Backend, KafkaBackend};

/// Where an example runs: the backend, and a temporary directory for the state stores (and
/// the embedded broker's data), removed when dropped.
pub struct Env {
    pub backend: Arc<dyn Backend>,
    pub dir: tempfile::TempDir,
}

impl Env {
    /// The state directory for the app.
    pub fn state_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("state")
    }

    /// Creates the example's topics. On a cluster they must be new, so that the output the
    /// example checks is this run's.
    pub fn create_topics(&self, topics: &[&str], partitions: i32) -> anyhow::Result<()> {
        for topic in topics {
            if self.backend.name() != "embedded" && self.backend.partitions(topic)?.is_some() {
                anyhow::bail!(
                    "topic {topic:?} already exists on the cluster; run the examples against a \
                     fresh broker (or delete their topics first)"
                );
            }
            self.backend.create_topic(
                topic,
                partitions,
                eddy_streams::runtime::TopicKind::Plain,
            )?;
        }
        Ok(())
    }
}

/// The bootstrap servers from `--bootstrap-servers HOST:PORT` (also `--bootstrap-servers=`)
/// or `EDDY_BOOTSTRAP_SERVERS`, if given.
fn bootstrap_servers() -> anyhow::Result<Option<String>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => {}
        [flag, value] if flag == "--bootstrap-servers" => return Ok(Some(value.clone())),
        [arg] if arg.starts_with("--bootstrap-servers=") => {
            return Ok(Some(arg["--bootstrap-servers=".len()..].to_string()));
        }
        _ => anyhow::bail!(
            "unexpected arguments {args:?}; the only one is --bootstrap-servers HOST:PORT"
        ),
    }
    Ok(std::env::var("EDDY_BOOTSTRAP_SERVERS")
        .ok()
        .filter(|s| !s.is_empty()))
}

/// The backend this run uses (see the module docs), announced on stdout.
pub fn env() -> anyhow::Result<Env> {
    let dir = tempfile::tempdir()?;
    let backend: Arc<dyn Backend> = match bootstrap_servers()? {
        Some(servers) => {
            println!("backend: kafka at {servers}");
            Arc::new(KafkaBackend::new(&servers)?)
        }
        None => {
            println!("backend: embedded broker in {}", dir.path().display());
            Arc::new(EmbeddedBackend::open(dir.path().join("broker"))?)
        }
    };
    Ok(Env { backend, dir })
}

/// The examples' time origin: now, rounded down to the hour (so windows align as they would
/// at 0). Sample timestamps are relative to it: records stamped near 1970 would be past a
/// cluster's retention (7 days by default) and deleted before the app reads them.
pub fn origin() -> i64 {
    static ORIGIN: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    const HOUR: i64 = 3_600_000;
    *ORIGIN.get_or_init(|| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        now - now % HOUR
    })
}

/// Sends keyed records to `topic` with timestamps relative to [`origin`], each to the
/// partition its key hashes to (as Kafka's default partitioner does), and waits until they
/// are durable.
pub fn produce(
    backend: &Arc<dyn Backend>,
    topic: &str,
    records: &[(Vec<u8>, Vec<u8>, i64)],
) -> anyhow::Result<()> {
    let partitions = backend
        .partitions(topic)?
        .ok_or_else(|| anyhow::anyhow!("no topic {topic:?}"))?;
    let mut producer = backend.producer()?;
    for (key, value, ts) in records {
        let partition = eddy_streams::partitioner::partition_for_key(key, partitions);
        let record = SinkRecord {
            topic: Arc::from(topic),
            partition: Some(partition),
            key: Some(Bytes::copy_from_slice(key)),
            value: Some(Bytes::copy_from_slice(value)),
            timestamp: origin() + ts,
            headers: Vec::new(),
        };
        producer.send(topic, partition, vec![record])?;
    }
    producer.flush()?;
    Ok(())
}

/// A record's key and value bytes (`None`: a tombstone).
pub type KeyValue = (Vec<u8>, Option<Vec<u8>>);

/// Every record of `topic` as (key, value) bytes, in offset order per partition, read up to
/// the partitions' current ends.
pub fn read_topic(backend: &Arc<dyn Backend>, topic: &str) -> anyhow::Result<Vec<KeyValue>> {
    let partitions = backend.partitions(topic)?.unwrap_or(0);
    let ends: Vec<i64> = (0..partitions)
        .map(|p| backend.end_offset(topic, p).unwrap_or(0))
        .collect();
    let mut next = vec![0i64; ends.len()];
    let mut by_partition: Vec<Vec<KeyValue>> = vec![Vec::new(); ends.len()];
    let mut reader = backend.reader(topic)?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while next.iter().zip(&ends).any(|(n, e)| n < e) {
        anyhow::ensure!(Instant::now() < deadline, "reading {topic} timed out");
        for batch in reader.poll(Duration::from_millis(100))? {
            let p = batch.partition as usize;
            for r in batch.records {
                if r.offset < ends[p] {
                    by_partition[p].push((
                        r.key.map(|k| k.to_vec()).unwrap_or_default(),
                        r.value.map(|v| v.to_vec()),
                    ));
                }
                next[p] = r.offset + 1;
            }
        }
    }
    Ok(by_partition.into_iter().flatten().collect())
}

/// Polls `done` until it holds, or fails after 60 s.
pub fn wait_for(what: &str, mut done: impl FnMut() -> anyhow::Result<bool>) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done()? {
        anyhow::ensure!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}
