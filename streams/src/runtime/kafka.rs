//! [`KafkaBackend`]: the runtime on any Kafka cluster (or `eddy broker`) through librdkafka.
//!
//! - Input: one consumer per stream thread in the consumer group `<application id>`, with
//!   the range assignor (partition `p` of co-partitioned topics goes to the same member),
//!   offsets committed by the runtime only. Instances of one app share its partitions; when
//!   one stops, a rebalance hands its partitions to the others, whose threads open the
//!   tasks and restore their stores from the changelog topics.
//! - Output: an idempotent producer with `acks=all`; `flush` waits for every delivery and
//!   fails if any failed (librdkafka reports failures only through its callback, so the
//!   producer context keeps the first one).
//! - Changelogs: [`KafkaChangelog`] on one partition of a compacted topic.
//!
//! Rebalances are eager (all partitions revoked, then assigned). The consumer holds a
//! revocation back (see [`RebalanceContext`]) until its stream thread has flushed outputs and
//! changelogs, committed offsets and suspended the revoked tasks, as Kafka Streams does in
//! `onPartitionsRevoked`; only then does the group go on, so the next owner restores a
//! complete changelog and starts where this one stopped, repeating nothing. With
//! `group.instance.id` set (see [`KafkaBackend::with_config`]) the threads are static
//! members, and a restarted instance gets its partitions back without a rebalance.
//!
//! Lag: each consumer tracks the offset after the last record it handed out per partition;
//! high watermarks come from librdkafka's statistics (from its fetch responses), reported
//! every [`STATISTICS_INTERVAL_MS`], not asked for per record.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use eddy_state::{Change, Changelog, ChangelogRecord};
use parking_lot::Mutex;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer as _, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Headers as _, Message, OwnedHeaders, Timestamp};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer as _, ProducerContext};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientContext, Offset, Statistics, TopicPartitionList};

use super::backend::{Backend, Consumer, Member, OffsetReset, Polled, Producer, TopicKind};
use crate::error::{Error, Result};
use crate::record::{SinkRecord, SourceRecord};

const TIMEOUT: Duration = Duration::from_secs(30);
/// librdkafka's static membership property.
const GROUP_INSTANCE_ID: &str = "group.instance.id";
/// Messages taken per poll at most.
const MAX_POLL_RECORDS: usize = 10_000;

fn kafka_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Backend {
        backend: "kafka",
        message: format!("{what}: {e}"),
    }
}

/// A Kafka cluster as a backend.
#[derive(Clone)]
pub struct KafkaBackend {
    bootstrap: String,
    extra: Vec<(String, String)>,
    admin: Arc<AdminClient<DefaultClientContext>>,
    metadata: Arc<BaseConsumer>,
    runtime: Arc<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for KafkaBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaBackend")
            .field("bootstrap", &self.bootstrap)
            .finish_non_exhaustive()
    }
}

impl KafkaBackend {
    /// A backend for the cluster at `bootstrap_servers` (`host:port,...`).
    pub fn new(bootstrap_servers: &str) -> Result<Self> {
        Self::with_config(bootstrap_servers, &[])
    }

    /// With extra librdkafka properties for every client (security settings, for example).
    /// `group.instance.id` turns on static membership for the stream threads' consumers.
    pub fn with_config(bootstrap_servers: &str, extra: &[(&str, &str)]) -> Result<Self> {
        let extra: Vec<(String, String)> = extra
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", bootstrap_servers);
        for (k, v) in &extra {
            config.set(k, v);
        }
        let admin = config
            .create()
            .map_err(|e| kafka_error("creating an admin client", e))?;
        let metadata = config
            .create()
            .map_err(|e| kafka_error("creating a metadata client", e))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| Error::Io {
                path: "tokio runtime".into(),
                source,
            })?;
        Ok(Self {
            bootstrap: bootstrap_servers.to_string(),
            extra,
            admin: Arc::new(admin),
            metadata: Arc::new(metadata),
            runtime: Arc::new(runtime),
        })
    }

    /// Creates a topic with topic-level configs (`cleanup.policy`, `retention.ms`, ...),
    /// unless it exists; waits until the metadata shows it.
    pub fn create_topic_with_config(
        &self,
        topic: &str,
        partitions: i32,
        config: &[(String, String)],
    ) -> Result<()> {
        if self.partitions(topic)?.is_some() {
            return Ok(());
        }
        let mut new = NewTopic::new(topic, partitions, TopicReplication::Fixed(-1));
        for (k, v) in config {
            new = new.set(k, v);
        }
        let results = self
            .runtime
            .block_on(self.admin.create_topics(
                &[new],
                &AdminOptions::new().operation_timeout(Some(TIMEOUT)),
            ))
            .map_err(|e| kafka_error(&format!("creating topic {topic}"), e))?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((name, code)) => {
                    return Err(kafka_error(&format!("creating topic {name}"), code));
                }
            }
        }
        self.await_topic(topic, true)
    }

    /// Deletes a topic; waits until the metadata no longer shows it.
    pub fn delete_topic(&self, topic: &str) -> Result<()> {
        let results = self
            .runtime
            .block_on(self.admin.delete_topics(
                &[topic],
                &AdminOptions::new().operation_timeout(Some(TIMEOUT)),
            ))
            .map_err(|e| kafka_error(&format!("deleting topic {topic}"), e))?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::UnknownTopicOrPartition)) => {}
                Err((name, code)) => {
                    return Err(kafka_error(&format!("deleting topic {name}"), code));
                }
            }
        }
        self.await_topic(topic, false)
    }

    /// The cluster's topic names.
    pub fn topics(&self) -> Result<Vec<String>> {
        let metadata = self
            .metadata
            .fetch_metadata(None, TIMEOUT)
            .map_err(|e| kafka_error("listing topics", e))?;
        let mut names: Vec<String> = metadata
            .topics()
            .iter()
            .filter(|t| t.error().is_none())
            .map(|t| t.name().to_string())
            .collect();
        names.sort();
        Ok(names)
    }

    /// Waits until the metadata shows `topic` (or no longer does).
    fn await_topic(&self, topic: &str, present: bool) -> Result<()> {
        for _ in 0..100 {
            if self.partitions(topic)?.is_some() == present {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(kafka_error(
            &format!("topic {topic}"),
            if present {
                "not visible in metadata after 5 s"
            } else {
                "still in the metadata 5 s after its deletion"
            },
        ))
    }

    /// The configuration every client shares. `group.instance.id` is left out: it belongs to
    /// the group consumers only (see [`Self::group_config`]).
    fn config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.bootstrap);
        for (k, v) in &self.extra {
            if k != GROUP_INSTANCE_ID {
                config.set(k, v);
            }
        }
        config
    }

    /// A stream thread's consumer configuration. With `group.instance.id` set (static
    /// membership, KIP-345), each thread is the static member `<id>-<thread index>`, as in
    /// Kafka Streams: a restarted instance takes its members' places, and their partitions,
    /// without waiting for their sessions to time out.
    fn group_config(&self, member: Member) -> ClientConfig {
        let mut config = self.config();
        if let Some((_, id)) = self.extra.iter().find(|(k, _)| k == GROUP_INSTANCE_ID) {
            config.set(GROUP_INSTANCE_ID, format!("{id}-{}", member.index));
        }
        config
    }

    fn producer(&self) -> Result<BaseProducer<DeliveryFailures>> {
        self.producer_config()
            .create_with_context(DeliveryFailures::default())
            .map_err(|e| kafka_error("creating a producer", e))
    }

    fn producer_config(&self) -> ClientConfig {
        let mut config = self.config();
        config
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set("linger.ms", "5");
        config
    }

    /// The reader a stream thread's stores restore with (assigned partitions only, never a
    /// group member: librdkafka requires a group id and nothing else uses it).
    fn restore_reader(&self, read_committed: bool) -> Result<BaseConsumer> {
        self.config()
            .set("group.id", "eddy-changelog-restore")
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "false")
            .set(
                "isolation.level",
                if read_committed {
                    "read_committed"
                } else {
                    "read_uncommitted"
                },
            )
            .create()
            .map_err(|e| kafka_error("creating a changelog reader", e))
    }

    fn thread_producer(
        &self,
        producer: BaseProducer<DeliveryFailures>,
        transactional: bool,
    ) -> Result<Box<dyn Producer>> {
        Ok(Box::new(KafkaProducer {
            txn: Arc::new(ThreadTransaction {
                producer,
                transactional,
                open: AtomicBool::new(false),
            }),
            restore: Arc::new(Mutex::new(self.restore_reader(transactional)?)),
        }))
    }
}

impl Backend for KafkaBackend {
    fn name(&self) -> &'static str {
        "kafka"
    }

    fn partitions(&self, topic: &str) -> Result<Option<i32>> {
        let metadata = self
            .metadata
            .fetch_metadata(Some(topic), TIMEOUT)
            .map_err(|e| kafka_error(&format!("metadata of {topic}"), e))?;
        Ok(metadata
            .topics()
            .iter()
            .find(|t| t.name() == topic && t.error().is_none() && !t.partitions().is_empty())
            .map(|t| t.partitions().len() as i32))
    }

    fn create_topic(&self, topic: &str, partitions: i32, kind: TopicKind) -> Result<()> {
        if self.partitions(topic)?.is_some() {
            return Ok(());
        }
        // -1: the cluster's default replication factor (`default.replication.factor`), so
        // changelog and repartition topics are as durable as the cluster's own topics.
        let mut new = NewTopic::new(topic, partitions, TopicReplication::Fixed(-1));
        let retention;
        match kind {
            TopicKind::Plain => {}
            TopicKind::Compacted => new = new.set("cleanup.policy", "compact"),
            TopicKind::Windowed { retention_ms } => {
                retention = retention_ms.to_string();
                new = new
                    .set("cleanup.policy", "compact,delete")
                    .set("retention.ms", &retention);
            }
        }
        let results = self
            .runtime
            .block_on(self.admin.create_topics(
                &[new],
                &AdminOptions::new().operation_timeout(Some(TIMEOUT)),
            ))
            .map_err(|e| kafka_error(&format!("creating topic {topic}"), e))?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((name, code)) => {
                    return Err(kafka_error(&format!("creating topic {name}"), code));
                }
            }
        }
        // Wait until the metadata shows it, so that consumers and producers find it.
        for _ in 0..100 {
            if self.partitions(topic)?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(kafka_error(
            &format!("creating topic {topic}"),
            "not visible in metadata after 5 s",
        ))
    }

    fn consumer(
        &self,
        group: &str,
        topics: &[String],
        member: Member,
    ) -> Result<Box<dyn Consumer>> {
        // Defaults the user's properties may override (e.g. a longer session timeout for
        // static members that restart slowly), then what the runtime relies on: its own
        // offset commits, and eager rebalances, whose revocations it holds back to commit.
        let mut config = ClientConfig::new();
        // Internal topics of a `latest` application are created with it and empty when it
        // starts, so `latest` reads them from the start too.
        let reset = match member.reset {
            OffsetReset::Earliest => "earliest",
            OffsetReset::Latest => "latest",
        };
        config
            .set("auto.offset.reset", reset)
            .set("session.timeout.ms", "10000")
            .set("heartbeat.interval.ms", "1000")
            .set("statistics.interval.ms", STATISTICS_INTERVAL_MS);
        for (k, v) in self.group_config(member).config_map().iter() {
            config.set(k.to_string(), v.to_string());
        }
        let consumer: BaseConsumer<RebalanceContext> = config
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set(
                "isolation.level",
                if member.read_committed {
                    "read_committed"
                } else {
                    "read_uncommitted"
                },
            )
            .set("partition.assignment.strategy", "range")
            .set("group.protocol", "classic")
            .create_with_context(RebalanceContext::default())
            .map_err(|e| kafka_error("creating a consumer", e))?;
        let names: Vec<&str> = topics.iter().map(String::as_str).collect();
        consumer
            .subscribe(&names)
            .map_err(|e| kafka_error("subscribing", e))?;
        Ok(Box::new(KafkaConsumer::new(consumer)))
    }

    fn reader(&self, topic: &str) -> Result<Box<dyn Consumer>> {
        let partitions = self.partitions(topic)?.ok_or_else(|| {
            Error::Config(format!(
                "global table topic {topic:?} does not exist; create it first"
            ))
        })?;
        let consumer: BaseConsumer<RebalanceContext> = self
            .config()
            .set("group.id", format!("{topic}-global-reader"))
            .set("enable.auto.commit", "false")
            .create_with_context(RebalanceContext::default())
            .map_err(|e| kafka_error("creating a global table reader", e))?;
        let mut list = TopicPartitionList::new();
        for p in 0..partitions {
            list.add_partition_offset(topic, p, Offset::Beginning)
                .map_err(|e| kafka_error("assigning", e))?;
        }
        consumer
            .assign(&list)
            .map_err(|e| kafka_error("assigning a global table's partitions", e))?;
        Ok(Box::new(KafkaConsumer::new(consumer)))
    }

    fn producer(&self) -> Result<Box<dyn Producer>> {
        self.thread_producer(KafkaBackend::producer(self)?, false)
    }

    fn transactional_producer(&self, transactional_id: &str) -> Result<Box<dyn Producer>> {
        let producer: BaseProducer<DeliveryFailures> = self
            .producer_config()
            .set("transactional.id", transactional_id)
            // Kafka Streams' exactly-once default: a zombie's open transaction is aborted
            // within 10 s, which also bounds how long it holds back read_committed readers.
            .set("transaction.timeout.ms", "10000")
            .create_with_context(DeliveryFailures::default())
            .map_err(|e| kafka_error("creating a transactional producer", e))?;
        producer.init_transactions(TIMEOUT).map_err(|e| {
            kafka_error(
                &format!("initialising transactions of {transactional_id}"),
                e,
            )
        })?;
        self.thread_producer(producer, true)
    }

    fn end_offset(&self, topic: &str, partition: i32) -> Option<i64> {
        self.metadata
            .fetch_watermarks(topic, partition, TIMEOUT)
            .ok()
            .map(|(_, high)| high)
    }
}

/// Keeps the first delivery failure librdkafka reports.
#[derive(Default)]
struct DeliveryFailures {
    first: Mutex<Option<String>>,
}

impl ClientContext for DeliveryFailures {}

impl ProducerContext for DeliveryFailures {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, message)) = result {
            self.first
                .lock()
                .get_or_insert_with(|| format!("{}-{}: {e}", message.topic(), message.partition()));
        }
    }
}

/// Sends one record, polling the producer while its queue is full.
fn send(
    producer: &BaseProducer<DeliveryFailures>,
    topic: &str,
    partition: i32,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    timestamp: Option<i64>,
    headers: &[(String, Option<Bytes>)],
) -> Result<()> {
    let mut record = BaseRecord::<[u8], [u8]>::to(topic).partition(partition);
    if let Some(k) = key {
        record = record.key(k);
    }
    if let Some(v) = value {
        record = record.payload(v);
    }
    if let Some(ts) = timestamp {
        record = record.timestamp(ts);
    }
    if !headers.is_empty() {
        let mut owned = OwnedHeaders::new_with_capacity(headers.len());
        for (key, value) in headers {
            owned = owned.insert(Header {
                key: key.as_str(),
                value: value.as_deref(),
            });
        }
        record = record.headers(owned);
    }
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                record = returned;
                producer.poll(Duration::from_millis(10));
            }
            Err((e, _)) => return Err(kafka_error(&format!("sending to {topic}-{partition}"), e)),
        }
    }
}

/// Waits for every delivery; fails if one failed.
fn flush(producer: &BaseProducer<DeliveryFailures>) -> Result<()> {
    producer
        .flush(TIMEOUT)
        .map_err(|e| kafka_error("flushing the producer", e))?;
    if let Some(failure) = producer.context().first.lock().take() {
        return Err(kafka_error("delivering records", failure));
    }
    Ok(())
}

/// Keeps librdkafka's latest per-partition offsets (for lag), and holds back eager
/// revocations until the stream thread has committed and closed the
/// revoked tasks (Kafka Streams does that work in `onPartitionsRevoked`, inside the
/// consumer's poll). librdkafka's group stays in the rebalance, and no other member gets the
/// partitions, until the consumer unassigns them ([`Consumer::release_revoked`]).
#[derive(Default)]
struct RebalanceContext {
    /// Partitions of a revocation not yet released.
    revoking: Mutex<Option<Vec<(String, i32)>>>,
    /// Set when the consumer closes: revocations then go through at once.
    closing: AtomicBool,
    /// Set from a release until the next assignment arrives.
    awaiting_assignment: AtomicBool,
    /// Per partition, offsets from librdkafka's latest statistics.
    offsets: Mutex<HashMap<(String, i32), PartitionOffsets>>,
}

impl ClientContext for RebalanceContext {
    fn stats(&self, statistics: Statistics) {
        let mut offsets = HashMap::new();
        for (name, topic) in &statistics.topics {
            for (&partition, p) in &topic.partitions {
                // -1 is librdkafka's internal "unassigned" partition.
                if partition >= 0 && p.desired {
                    offsets.insert(
                        (name.clone(), partition),
                        PartitionOffsets {
                            high_watermark: p.hi_offset,
                            committed: p.committed_offset,
                            next_fetch: p.next_offset,
                            queued: p.fetchq_cnt,
                        },
                    );
                }
            }
        }
        *self.offsets.lock() = offsets;
    }
}

impl ConsumerContext for RebalanceContext {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        partitions: &mut TopicPartitionList,
    ) {
        if err != RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS {
            self.awaiting_assignment.store(false, Ordering::SeqCst);
        }
        // Only eager rebalances happen: the consumer is configured with the range assignor
        // and the classic group protocol.
        let result = match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => consumer.assign(partitions),
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS
                if !self.closing.load(Ordering::SeqCst) && !consumer.assignment_lost() =>
            {
                let revoked = partitions
                    .elements()
                    .iter()
                    .map(|e| (e.topic().to_string(), e.partition()))
                    .collect();
                tracing::info!(partitions = ?revoked, "partitions revoked; committing before releasing them");
                *self.revoking.lock() = Some(revoked);
                Ok(())
            }
            _ => {
                // Closing, an error, or the assignment was lost (the member was expelled:
                // its session timed out, or it did not poll for max.poll.interval.ms). The
                // partitions may already be another member's: let go at once, commit
                // nothing; the stream thread closes their tasks without committing.
                if consumer.assignment_lost() {
                    tracing::warn!(
                        "the group assignment was lost; closing its tasks without a commit"
                    );
                }
                self.revoking.lock().take();
                consumer.unassign()
            }
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "rebalance: updating the assignment failed");
        }
    }
}

/// How often librdkafka reports its statistics, high watermarks among them (for lag).
const STATISTICS_INTERVAL_MS: &str = "250";

/// What librdkafka's statistics say of one partition (offsets are -1001 when unknown).
#[derive(Debug, Clone, Copy)]
struct PartitionOffsets {
    /// The high watermark as of the last fetch response.
    high_watermark: i64,
    /// The group's committed offset: where consumption starts after an assignment.
    committed: i64,
    /// The next offset to fetch.
    next_fetch: i64,
    /// Records fetched, not yet handed out.
    queued: i64,
}

struct KafkaConsumer {
    consumer: BaseConsumer<RebalanceContext>,
    /// Per partition, the offset after the last record handed out.
    next: HashMap<(String, i32), i64>,
}

impl KafkaConsumer {
    fn new(consumer: BaseConsumer<RebalanceContext>) -> Self {
        Self {
            consumer,
            next: HashMap::new(),
        }
    }

    fn revocation_pending(&self) -> bool {
        self.consumer.context().revoking.lock().is_some()
    }
}

impl Consumer for KafkaConsumer {
    fn poll(&mut self, timeout: Duration) -> Result<Vec<Polled>> {
        let mut by_partition: BTreeMap<(String, i32), Vec<SourceRecord>> = BTreeMap::new();
        let mut wait = timeout;
        let mut taken = 0;
        // A pending revocation ends the poll: the thread must commit and release first.
        while taken < MAX_POLL_RECORDS && !self.revocation_pending() {
            let Some(result) = self.consumer.poll(wait) else {
                break;
            };
            wait = Duration::ZERO;
            let message = match result {
                Ok(m) => m,
                Err(KafkaError::PartitionEOF(_)) => continue,
                // Transient (a broker restarting, a dropped connection): librdkafka
                // reconnects and retries by itself; only fatal errors stop the thread.
                Err(KafkaError::MessageConsumption(code)) => {
                    tracing::warn!(%code, "consumer error; librdkafka retries");
                    break;
                }
                Err(e) => return Err(kafka_error("polling", e)),
            };
            let timestamp = match message.timestamp() {
                Timestamp::CreateTime(t) | Timestamp::LogAppendTime(t) => t,
                Timestamp::NotAvailable => -1,
            };
            let key = (message.topic().to_string(), message.partition());
            self.next.insert(key.clone(), message.offset() + 1);
            by_partition.entry(key).or_default().push(SourceRecord {
                offset: message.offset(),
                timestamp,
                key: message.key().map(Bytes::copy_from_slice),
                value: message.payload().map(Bytes::copy_from_slice),
                headers: message
                    .headers()
                    .map(|headers| {
                        headers
                            .iter()
                            .map(|h| (h.key.to_string(), h.value.map(Bytes::copy_from_slice)))
                            .collect()
                    })
                    .unwrap_or_default(),
            });
            taken += 1;
        }
        Ok(by_partition
            .into_iter()
            .map(|((topic, partition), records)| Polled {
                topic,
                partition,
                records,
            })
            .collect())
    }

    fn assignment(&self) -> Vec<(String, i32)> {
        self.consumer
            .assignment()
            .map(|list| {
                list.elements()
                    .iter()
                    .map(|e| (e.topic().to_string(), e.partition()))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn commit(&mut self, offsets: &[(String, i32, i64)]) -> Result<()> {
        let assigned = self.assignment();
        let mut list = TopicPartitionList::new();
        for (topic, partition, offset) in offsets {
            // Partitions lost in a rebalance are the new owner's to commit.
            if assigned.iter().any(|(t, p)| t == topic && p == partition) {
                list.add_partition_offset(topic, *partition, Offset::Offset(*offset))
                    .map_err(|e| kafka_error("committing", e))?;
            }
        }
        if list.count() == 0 {
            return Ok(());
        }
        self.consumer
            .commit(&list, CommitMode::Sync)
            .map_err(|e| kafka_error("committing offsets", e))
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn position(&self, topic: &str, partition: i32) -> Option<i64> {
        // librdkafka's application position: past the last record handed out, and past
        // control records (transaction markers) it skipped.
        let positions = self.consumer.position().ok()?;
        positions
            .find_partition(topic, partition)?
            .offset()
            .to_raw()
            .filter(|&o| o >= 0)
    }

    fn lag(&self, topic: &str, partition: i32) -> Option<i64> {
        let key = (topic.to_string(), partition);
        let stats = *self.consumer.context().offsets.lock().get(&key)?;
        if stats.high_watermark < 0 {
            return None;
        }
        // Where this consumer is: after what it handed out; before anything, where it
        // starts (the committed offset, or the fetch position once nothing is queued).
        let position = match self.next.get(&key) {
            Some(&next) => next,
            None if stats.committed >= 0 => stats.committed,
            None if stats.queued == 0 && stats.next_fetch >= 0 => stats.next_fetch,
            None => return None,
        };
        Some((stats.high_watermark - position).max(0))
    }

    fn rebalancing(&self) -> bool {
        self.awaiting_assignment()
    }

    fn revoking(&self) -> Vec<(String, i32)> {
        self.consumer
            .context()
            .revoking
            .lock()
            .clone()
            .unwrap_or_default()
    }

    fn release_revoked(&mut self) -> Result<()> {
        let context = self.consumer.context();
        if context.revoking.lock().take().is_some() {
            context.awaiting_assignment.store(true, Ordering::SeqCst);
            self.next.clear();
            self.consumer
                .unassign()
                .map_err(|e| kafka_error("releasing revoked partitions", e))?;
        }
        Ok(())
    }
}

impl KafkaConsumer {
    fn awaiting_assignment(&self) -> bool {
        self.consumer
            .context()
            .awaiting_assignment
            .load(Ordering::SeqCst)
    }
}

impl Drop for KafkaConsumer {
    fn drop(&mut self) {
        // Closing revokes everything; nothing is left to commit by then.
        self.consumer
            .context()
            .closing
            .store(true, Ordering::SeqCst);
        if let Err(e) = self.release_revoked() {
            tracing::warn!(error = %e, "releasing revoked partitions on close");
        }
    }
}

/// A stream thread's producer and, under exactly-once, its open transaction: shared by the
/// thread's sinks and its stores' changelogs, which all write in the same transaction.
struct ThreadTransaction {
    producer: BaseProducer<DeliveryFailures>,
    transactional: bool,
    /// Whether a transaction has begun since the last commit.
    open: AtomicBool,
}

impl ThreadTransaction {
    /// Begins a transaction before the first record after a commit (exactly-once only).
    fn ensure_open(&self) -> Result<()> {
        if self.transactional && !self.open.swap(true, Ordering::SeqCst) {
            self.producer
                .begin_transaction()
                .map_err(|e| kafka_error("beginning a transaction", e))?;
        }
        Ok(())
    }

    fn send(
        &self,
        topic: &str,
        partition: i32,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        timestamp: Option<i64>,
        headers: &[(String, Option<Bytes>)],
    ) -> Result<()> {
        self.ensure_open()?;
        send(
            &self.producer,
            topic,
            partition,
            key,
            value,
            timestamp,
            headers,
        )
    }

    /// Sends the input offsets in the transaction and commits it. An error that leaves the
    /// transaction abortable aborts it (nothing of it becomes visible); either way the
    /// error is returned.
    fn commit(&self, offsets: &[(String, i32, i64)], consumer: &KafkaConsumer) -> Result<()> {
        self.ensure_open()?;
        let group = match offsets.is_empty() {
            true => None,
            false => Some(consumer.consumer.group_metadata().ok_or_else(|| {
                kafka_error(
                    "committing the transaction",
                    "the consumer has no group metadata (it has not joined its group)",
                )
            })?),
        };
        let result = (|| -> rdkafka::error::KafkaResult<()> {
            if let Some(group) = &group {
                let mut list = TopicPartitionList::new();
                for (topic, partition, offset) in offsets {
                    list.add_partition_offset(topic, *partition, Offset::Offset(*offset))?;
                }
                self.producer
                    .send_offsets_to_transaction(&list, group, TIMEOUT)?;
            }
            self.producer.commit_transaction(TIMEOUT)
        })();
        self.open.store(false, Ordering::SeqCst);
        if let Err(KafkaError::Transaction(e)) = &result
            && e.txn_requires_abort()
            && let Err(abort) = self.producer.abort_transaction(TIMEOUT)
        {
            tracing::warn!(error = %abort, "aborting the failed transaction failed too");
        }
        result.map_err(|e| kafka_error("committing the transaction", e))?;
        if let Some(failure) = self.producer.context().first.lock().take() {
            return Err(kafka_error("delivering records", failure));
        }
        Ok(())
    }
}

/// A stream thread's clients: its producer (with its transaction), shared by its sinks and
/// its stores' changelogs, and the reader its stores restore with.
struct KafkaProducer {
    txn: Arc<ThreadTransaction>,
    restore: Arc<Mutex<BaseConsumer>>,
}

impl Producer for KafkaProducer {
    fn send(&mut self, topic: &str, partition: i32, records: Vec<SinkRecord>) -> Result<()> {
        for r in &records {
            self.txn.send(
                topic,
                partition,
                r.key.as_deref(),
                r.value.as_deref(),
                Some(r.timestamp),
                &r.headers,
            )?;
        }
        self.txn.producer.poll(Duration::ZERO);
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        flush(&self.txn.producer)
    }

    fn commit_offsets(
        &mut self,
        offsets: &[(String, i32, i64)],
        consumer: &mut dyn Consumer,
    ) -> Result<()> {
        if !self.txn.transactional {
            self.flush()?;
            return consumer.commit(offsets);
        }
        let consumer = consumer
            .as_any()
            .downcast_ref::<KafkaConsumer>()
            .ok_or_else(|| {
                Error::Config("a Kafka transaction needs the Kafka backend's consumer".into())
            })?;
        self.txn.commit(offsets, consumer)
    }

    fn changelog(&self, topic: &str, partition: i32) -> Result<Arc<dyn Changelog>> {
        Ok(Arc::new(KafkaChangelog {
            name: format!("{topic}-{partition}"),
            topic: topic.to_string(),
            partition,
            txn: Arc::clone(&self.txn),
            reader: Arc::clone(&self.restore),
            pending: Mutex::new(Vec::new()),
        }))
    }
}

/// A store's changelog on one partition of a Kafka topic.
pub struct KafkaChangelog {
    name: String,
    topic: String,
    partition: i32,
    /// The stream thread's producer and transaction.
    txn: Arc<ThreadTransaction>,
    /// The stream thread's restore reader.
    reader: Arc<Mutex<BaseConsumer>>,
    pending: Mutex<Vec<Change>>,
}

impl std::fmt::Debug for KafkaChangelog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaChangelog")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl KafkaChangelog {
    fn error(&self, e: impl std::fmt::Display) -> eddy_state::Error {
        eddy_state::Error::Changelog {
            store: self.name.clone(),
            message: e.to_string(),
        }
    }

    fn watermarks(&self) -> eddy_state::Result<(i64, i64)> {
        self.reader
            .lock()
            .fetch_watermarks(&self.topic, self.partition, TIMEOUT)
            .map_err(|e| self.error(format!("offsets of {}: {e}", self.name)))
    }
}

impl Changelog for KafkaChangelog {
    fn name(&self) -> &str {
        &self.name
    }

    fn append(&self, records: &[Change]) -> eddy_state::Result<()> {
        self.pending.lock().extend_from_slice(records);
        Ok(())
    }

    fn flush(&self) -> eddy_state::Result<i64> {
        let pending = std::mem::take(&mut *self.pending.lock());
        for (key, value) in &pending {
            self.txn
                .send(
                    &self.topic,
                    self.partition,
                    Some(key),
                    value.as_deref(),
                    None,
                    &[],
                )
                .map_err(|e| self.error(e))?;
        }
        flush(&self.txn.producer).map_err(|e| self.error(e))?;
        self.end_offset()
    }

    fn start_offset(&self) -> eddy_state::Result<i64> {
        Ok(self.watermarks()?.0)
    }

    fn end_offset(&self) -> eddy_state::Result<i64> {
        Ok(self.watermarks()?.1)
    }

    fn read(&self, from_offset: i64, max: usize) -> eddy_state::Result<Vec<ChangelogRecord>> {
        let end = self.end_offset()?;
        if from_offset >= end {
            return Ok(Vec::new());
        }
        let reader = self.reader.lock();
        let mut list = TopicPartitionList::new();
        list.add_partition_offset(&self.topic, self.partition, Offset::Offset(from_offset))
            .map_err(|e| self.error(e))?;
        reader.assign(&list).map_err(|e| self.error(e))?;
        let mut out = Vec::new();
        let deadline = std::time::Instant::now() + TIMEOUT;
        while out.len() < max {
            let Some(result) = reader.poll(Duration::from_millis(100)) else {
                // Compaction or control records may leave nothing more below the end.
                let position = reader.position().ok().and_then(|l| {
                    l.find_partition(&self.topic, self.partition)
                        .and_then(|e| e.offset().to_raw())
                });
                if position.is_some_and(|p| p >= end) {
                    break;
                }
                if std::time::Instant::now() > deadline {
                    return Err(self.error(format!(
                        "reading {} timed out at offset {from_offset}",
                        self.name
                    )));
                }
                continue;
            };
            let message = result.map_err(|e| self.error(e))?;
            if message.offset() < from_offset {
                continue;
            }
            let Some(key) = message.key() else { continue };
            out.push(ChangelogRecord {
                offset: message.offset(),
                key: key.to_vec(),
                value: message.payload().map(<[u8]>::to_vec),
            });
            if message.offset() + 1 >= end {
                break;
            }
        }
        // Stop fetching: a restore is done reading, and an assigned reader would keep
        // prefetching the changelog for the task's whole life.
        reader.unassign().map_err(|e| self.error(e))?;
        Ok(out)
    }
}
