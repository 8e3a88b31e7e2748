//! [`EmbeddedBackend`]: the runtime on an in-process [`Broker`], without sockets.
//!
//! Partitions are assigned statically: stream thread `i` of `n` owns partition `p` of every
//! input topic when `p % n == i`, so co-partitioned partitions stay together. Offsets are
//! committed to the broker's group offsets (group = application id), as Kafka clients'
//! are. Output records are appended at once with [`Durability::Written`] (visible to other
//! tasks, safe against a process crash) and fsynced at `flush`.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use eddy_broker::{
    Broker, CleanupPolicy, CommittedOffset, Durability, Isolation, NewRecord, OffsetSpec,
    TopicConfig, decode_records,
};
use eddy_state::Changelog;
use futures_util::future::select_all;
use parking_lot::Mutex;
use tokio::runtime::{Handle, Runtime};

use super::backend::{Backend, Consumer, Member, OffsetReset, Polled, Producer, TopicKind};
use super::embedded_txn::EmbeddedTransaction;
use crate::changelog::BrokerChangelog;
use crate::error::{Error, Result};
use crate::record::{SinkRecord, SourceRecord};

/// Bytes asked for per partition per poll.
const FETCH_BYTES: usize = 1 << 20;

fn backend_error(e: impl std::fmt::Display) -> Error {
    Error::Backend {
        backend: "embedded",
        message: e.to_string(),
    }
}

/// The embedded broker as a backend.
#[derive(Clone)]
pub struct EmbeddedBackend {
    broker: Broker,
    handle: Handle,
    /// A runtime the backend owns (when it opened the broker itself).
    _runtime: Option<Arc<Runtime>>,
}

impl std::fmt::Debug for EmbeddedBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedBackend").finish_non_exhaustive()
    }
}

impl EmbeddedBackend {
    /// A backend on a broker that runs on the runtime `handle` belongs to. Stream threads
    /// block on that runtime, so they must not be its worker threads (they are not: the
    /// runtime starts its own).
    pub fn new(broker: Broker, handle: Handle) -> Self {
        Self {
            broker,
            handle,
            _runtime: None,
        }
    }

    /// Opens (or creates) a broker in `data_dir` on a runtime of its own.
    pub fn open(data_dir: impl Into<std::path::PathBuf>) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("eddy-broker")
            .enable_all()
            .build()
            .map_err(|source| Error::Io {
                path: "tokio runtime".into(),
                source,
            })?;
        let broker = runtime.block_on(Broker::open(eddy_broker::BrokerConfig::new(data_dir)))?;
        Ok(Self {
            broker,
            handle: runtime.handle().clone(),
            _runtime: Some(Arc::new(runtime)),
        })
    }

    /// The broker.
    pub fn broker(&self) -> &Broker {
        &self.broker
    }

    /// The runtime handle the broker runs on.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Runs a future of the broker's API to completion from a non-runtime thread.
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.handle.block_on(future)
    }
}

impl Backend for EmbeddedBackend {
    fn name(&self) -> &'static str {
        "embedded"
    }

    fn partitions(&self, topic: &str) -> Result<Option<i32>> {
        Ok(self
            .broker
            .describe_topic(topic)
            .ok()
            .map(|d| d.partitions.len() as i32))
    }

    fn create_topic(&self, topic: &str, partitions: i32, kind: TopicKind) -> Result<()> {
        if self.partitions(topic)?.is_some() {
            return Ok(());
        }
        let defaults = TopicConfig::default();
        let (cleanup_policy, retention_ms) = match kind {
            TopicKind::Plain => (CleanupPolicy::DELETE, defaults.retention_ms),
            TopicKind::Compacted => (CleanupPolicy::COMPACT, defaults.retention_ms),
            TopicKind::Windowed { retention_ms } => (
                CleanupPolicy {
                    compact: true,
                    delete: true,
                },
                retention_ms,
            ),
        };
        let config = TopicConfig {
            partitions,
            cleanup_policy,
            retention_ms,
            ..defaults
        };
        self.block_on(self.broker.create_topic(topic, config))?;
        Ok(())
    }

    fn consumer(
        &self,
        group: &str,
        topics: &[String],
        member: Member,
    ) -> Result<Box<dyn Consumer>> {
        let mut assigned = Vec::new();
        for topic in topics {
            let partitions = self.partitions(topic)?.ok_or_else(|| {
                Error::Config(format!(
                    "input topic {topic:?} does not exist; create it first"
                ))
            })?;
            for p in 0..partitions {
                if p as usize % member.count == member.index {
                    assigned.push((topic.clone(), p));
                }
            }
        }
        let mut positions = HashMap::new();
        for (topic, p) in &assigned {
            // Internal topics (`<application id>-...`) are always read from the start.
            let internal = topic.starts_with(&format!("{group}-"));
            let spec = match member.reset {
                OffsetReset::Latest if !internal => OffsetSpec::Latest,
                _ => OffsetSpec::Earliest,
            };
            let position = match self.broker.committed_offset(group, topic, *p) {
                Some(c) => c.offset,
                None => self
                    .block_on(self.broker.list_offset(topic, *p, spec))?
                    .map_or(0, |(o, _)| o),
            };
            positions.insert((topic.clone(), *p), position);
        }
        Ok(Box::new(EmbeddedConsumer {
            backend: self.clone(),
            group: group.to_string(),
            _hold: Some(self.broker.hold_group(group)),
            assigned,
            paused: BTreeSet::new(),
            positions,
            high_watermarks: HashMap::new(),
            isolation: if member.read_committed {
                Isolation::ReadCommitted
            } else {
                Isolation::ReadUncommitted
            },
        }))
    }

    fn reader(&self, topic: &str) -> Result<Box<dyn Consumer>> {
        let partitions = self.partitions(topic)?.ok_or_else(|| {
            Error::Config(format!(
                "global table topic {topic:?} does not exist; create it first"
            ))
        })?;
        let mut positions = HashMap::new();
        let mut assigned = Vec::new();
        for p in 0..partitions {
            let start = self
                .block_on(self.broker.list_offset(topic, p, OffsetSpec::Earliest))?
                .map_or(0, |(o, _)| o);
            positions.insert((topic.to_string(), p), start);
            assigned.push((topic.to_string(), p));
        }
        Ok(Box::new(EmbeddedConsumer {
            backend: self.clone(),
            group: String::new(),
            _hold: None,
            assigned,
            paused: BTreeSet::new(),
            positions,
            high_watermarks: HashMap::new(),
            isolation: Isolation::ReadUncommitted,
        }))
    }

    fn producer(&self) -> Result<Box<dyn Producer>> {
        Ok(Box::new(EmbeddedProducer {
            backend: self.clone(),
            written: BTreeSet::new(),
            txn: None,
        }))
    }

    fn transactional_producer(&self, transactional_id: &str) -> Result<Box<dyn Producer>> {
        let txn =
            EmbeddedTransaction::init(self.broker.clone(), self.handle.clone(), transactional_id)?;
        Ok(Box::new(EmbeddedProducer {
            backend: self.clone(),
            written: BTreeSet::new(),
            txn: Some(Arc::new(Mutex::new(txn))),
        }))
    }

    fn end_offset(&self, topic: &str, partition: i32) -> Option<i64> {
        self.block_on(
            self.broker
                .list_offset(topic, partition, OffsetSpec::Latest),
        )
        .ok()
        .flatten()
        .map(|(o, _)| o)
    }
}

struct EmbeddedConsumer {
    backend: EmbeddedBackend,
    group: String,
    /// Keeps the group's committed offsets from expiring while this consumer lives (it is
    /// not a member the broker's group coordinator sees).
    _hold: Option<eddy_broker::GroupHold>,
    assigned: Vec<(String, i32)>,
    positions: HashMap<(String, i32), i64>,
    /// Each partition's high watermark as of its last fetch.
    high_watermarks: HashMap<(String, i32), i64>,
    /// Read as `read_committed` (exactly-once) or everything.
    isolation: Isolation,
    /// Assigned partitions not fetched from for now (their tasks restore).
    paused: BTreeSet<(String, i32)>,
}

impl EmbeddedConsumer {
    /// The partitions to fetch from (assigned, not paused), each with its position.
    fn fetch_positions(&self) -> Vec<(String, i32, i64)> {
        self.assigned
            .iter()
            .filter(|tp| !self.paused.contains(*tp))
            .map(|(t, p)| (t.clone(), *p, self.positions[&(t.clone(), *p)]))
            .collect()
    }

    /// Turns fetched bytes into records at or after the position, and moves the position.
    fn take(
        &mut self,
        topic: &str,
        partition: i32,
        fetched: eddy_broker::FetchResult,
    ) -> Result<Option<Polled>> {
        let key = (topic.to_string(), partition);
        let position = self.positions[&key];
        self.high_watermarks
            .insert(key.clone(), fetched.high_watermark);
        if fetched.records.is_empty() {
            return Ok(None);
        }
        // read_committed: the batches of aborted transactions are dropped here, as Kafka
        // clients drop them (the position still steps past them, below).
        let committed = eddy_broker::batch::without_aborted(&fetched.records, &fetched.aborted);
        let records: Vec<SourceRecord> = decode_records(&committed)?
            .into_iter()
            .filter(|r| r.offset >= position)
            .map(|r| SourceRecord {
                offset: r.offset,
                timestamp: r.timestamp,
                key: r.key,
                value: r.value,
                headers: r.headers,
            })
            .collect();
        // Past every whole batch fetched: records, and control batches or compaction gaps
        // after the last of them.
        let next = eddy_broker::batch::next_offset_after(&fetched.records).unwrap_or(position);
        self.positions.insert(key, next.max(position));
        if records.is_empty() {
            return Ok(None);
        }
        Ok(Some(Polled {
            topic: topic.to_string(),
            partition,
            records,
        }))
    }

    async fn fetch(
        broker: &Broker,
        topic: &str,
        partition: i32,
        position: i64,
        wait: Duration,
        isolation: Isolation,
    ) -> (String, i32, eddy_broker::Result<eddy_broker::FetchResult>) {
        let result = broker
            .fetch_isolated(topic, partition, position, FETCH_BYTES, wait, isolation)
            .await;
        (topic.to_string(), partition, result)
    }

    fn fetched(
        &mut self,
        topic: String,
        partition: i32,
        result: eddy_broker::Result<eddy_broker::FetchResult>,
        out: &mut Vec<Polled>,
    ) -> Result<()> {
        match result {
            Ok(fetched) => {
                if let Some(polled) = self.take(&topic, partition, fetched)? {
                    out.push(polled);
                }
            }
            Err(eddy_broker::Error::OffsetOutOfRange { .. }) => {
                // Retention removed what we had not read: start again at the log start, as
                // Kafka Streams does with auto.offset.reset=earliest.
                let start = self
                    .backend
                    .block_on(self.backend.broker.list_offset(
                        &topic,
                        partition,
                        OffsetSpec::Earliest,
                    ))?
                    .map_or(0, |(o, _)| o);
                tracing::warn!(%topic, partition, start, "offset out of range; resetting to the log start");
                self.positions.insert((topic, partition), start);
            }
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }
}

impl Consumer for EmbeddedConsumer {
    fn poll(&mut self, timeout: Duration) -> Result<Vec<Polled>> {
        let mut out = Vec::new();
        let broker = self.backend.broker.clone();
        // First every partition without waiting; if none had records, wait for the first.
        let requests = self.fetch_positions();
        for (topic, partition, position) in &requests {
            let (t, p, result) = self.backend.block_on(Self::fetch(
                &broker,
                topic,
                *partition,
                *position,
                Duration::ZERO,
                self.isolation,
            ));
            self.fetched(t, p, result, &mut out)?;
        }
        if out.is_empty() && !requests.is_empty() {
            let isolation = self.isolation;
            let requests = self.fetch_positions();
            let (t, p, result) = self.backend.block_on(async {
                let futures = requests.iter().map(|(t, p, pos)| {
                    Box::pin(Self::fetch(&broker, t, *p, *pos, timeout, isolation))
                });
                select_all(futures).await.0
            });
            self.fetched(t, p, result, &mut out)?;
        } else if requests.is_empty() {
            std::thread::sleep(timeout);
        }
        Ok(out)
    }

    fn assignment(&self) -> Vec<(String, i32)> {
        self.assigned.clone()
    }

    fn pause(&mut self, partitions: &[(String, i32)]) -> Result<()> {
        self.paused.extend(partitions.iter().cloned());
        Ok(())
    }

    fn resume(&mut self, partitions: &[(String, i32)]) -> Result<()> {
        for partition in partitions {
            self.paused.remove(partition);
        }
        Ok(())
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn position(&self, topic: &str, partition: i32) -> Option<i64> {
        self.positions.get(&(topic.to_string(), partition)).copied()
    }

    fn lag(&self, topic: &str, partition: i32) -> Option<i64> {
        let key = (topic.to_string(), partition);
        let high = self.high_watermarks.get(&key)?;
        Some((high - self.positions.get(&key)?).max(0))
    }

    fn commit(&mut self, offsets: &[(String, i32, i64)]) -> Result<()> {
        let now = eddy_broker::now_ms();
        let offsets: Vec<_> = offsets
            .iter()
            .map(|(t, p, o)| {
                (
                    t.clone(),
                    *p,
                    CommittedOffset {
                        offset: *o,
                        leader_epoch: -1,
                        metadata: String::new(),
                        commit_timestamp: now,
                    },
                )
            })
            .collect();
        self.backend
            .block_on(self.backend.broker.commit_offsets(&self.group, &offsets))?;
        Ok(())
    }
}

struct EmbeddedProducer {
    backend: EmbeddedBackend,
    written: BTreeSet<(String, i32)>,
    /// Under exactly-once: the thread's transaction, shared with its changelogs.
    txn: Option<Arc<Mutex<EmbeddedTransaction>>>,
}

impl Producer for EmbeddedProducer {
    fn changelog(&self, topic: &str, partition: i32) -> Result<Arc<dyn Changelog>> {
        // In-process: the broker is the only client, whatever the number of stores.
        let (broker, handle) = (self.backend.broker.clone(), self.backend.handle.clone());
        Ok(Arc::new(match &self.txn {
            Some(txn) => {
                BrokerChangelog::transactional(broker, handle, topic, partition, Arc::clone(txn))
            }
            None => BrokerChangelog::new(broker, handle, topic, partition),
        }))
    }

    fn commit_offsets(
        &mut self,
        offsets: &[(String, i32, i64)],
        consumer: &mut dyn Consumer,
    ) -> Result<()> {
        let Some(txn) = &self.txn else {
            self.flush()?;
            return consumer.commit(offsets);
        };
        let group = &consumer
            .as_any()
            .downcast_ref::<EmbeddedConsumer>()
            .ok_or_else(|| {
                Error::Config(
                    "an embedded transaction needs the embedded backend's consumer".into(),
                )
            })?
            .group;
        txn.lock().commit(group, offsets)
    }

    fn send(&mut self, topic: &str, partition: i32, records: Vec<SinkRecord>) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let records: Vec<NewRecord> = records
            .into_iter()
            .map(|r| NewRecord {
                key: r.key,
                value: r.value,
                headers: r.headers,
                timestamp: Some(r.timestamp),
            })
            .collect();
        // Cut into batches well under max.message.bytes.
        let mut from = 0;
        while from < records.len() {
            let mut to = from;
            let mut bytes = 0;
            while to < records.len() && (to == from || bytes < 512 << 10) {
                let r = &records[to];
                bytes += r.key.as_ref().map_or(0, |k| k.len())
                    + r.value.as_ref().map_or(0, |v| v.len())
                    + r.headers
                        .iter()
                        .map(|(k, v)| k.len() + v.as_ref().map_or(0, |v| v.len()) + 8)
                        .sum::<usize>()
                    + 16;
                to += 1;
            }
            match &self.txn {
                Some(txn) => {
                    txn.lock().append(topic, partition, &records[from..to])?;
                }
                None => {
                    self.backend
                        .block_on(self.backend.broker.produce(
                            topic,
                            partition,
                            &records[from..to],
                            Durability::Written,
                        ))
                        .map_err(|e| {
                            backend_error(format!("writing to {topic}-{partition}: {e}"))
                        })?;
                }
            }
            from = to;
        }
        if self.txn.is_none() {
            // Fsynced at the next flush; a transaction's commit fsyncs its markers instead.
            self.written.insert((topic.to_string(), partition));
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        for (topic, partition) in std::mem::take(&mut self.written) {
            self.backend
                .block_on(self.backend.broker.flush(&topic, partition))?;
        }
        Ok(())
    }
}
