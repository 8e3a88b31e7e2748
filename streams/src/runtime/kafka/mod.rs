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

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use parking_lot::Mutex;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::producer::{BaseProducer, Producer as _};
use rdkafka::{Offset, TopicPartitionList};

use super::backend::{Backend, Consumer, Member, OffsetReset, Producer, TopicKind};

mod changelog;
mod consumer;
mod producer;

use crate::error::{Error, Result};
pub use changelog::KafkaChangelog;
use consumer::{KafkaConsumer, RebalanceContext, STATISTICS_INTERVAL_MS};
use producer::{DeliveryFailures, KafkaProducer, ThreadTransaction};

/// How long client calls wait for the cluster.
const TIMEOUT: Duration = Duration::from_secs(30);
/// librdkafka's static membership property.
const GROUP_INSTANCE_ID: &str = "group.instance.id";
/// Messages taken per poll at most.
const MAX_POLL_RECORDS: usize = 10_000;

/// librdkafka settings every consumer of the backend starts from (the user's properties
/// override them). `fetch.queue.backoff.ms` (librdkafka >= 2.1, default 1000): once a
/// partition's local queue holds `queued.min.messages` (100k), librdkafka postpones its
/// next fetch by that long however fast the queue drains, which capped a stream thread
/// reading a backlog at about 100k records/s (Nexmark q7 on the Kafka backend: 91k/s with
/// the default; see docs/benchmarks.md). The Java consumer Kafka Streams uses has no
/// such pause.
const CONSUMER_DEFAULTS: &[(&str, &str)] = &[("fetch.queue.backoff.ms", "10")];

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

    /// Deletes a consumer group and its committed offsets (a group that does not exist is
    /// not an error; one with members is).
    pub fn delete_group(&self, group: &str) -> Result<()> {
        let results = self
            .runtime
            .block_on(self.admin.delete_groups(
                &[group],
                &AdminOptions::new().operation_timeout(Some(TIMEOUT)),
            ))
            .map_err(|e| kafka_error(&format!("deleting group {group}"), e))?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::GroupIdNotFound)) => {}
                Err((name, code)) => {
                    return Err(kafka_error(&format!("deleting group {name}"), code));
                }
            }
        }
        Ok(())
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

    /// Every consumer's configuration: [`CONSUMER_DEFAULTS`], then the user's properties.
    fn consumer_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        for (k, v) in CONSUMER_DEFAULTS {
            config.set(*k, *v);
        }
        for (k, v) in self.config().config_map().iter() {
            config.set(k.to_string(), v.to_string());
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
        self.consumer_config()
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
        for (k, v) in CONSUMER_DEFAULTS {
            config.set(*k, *v);
        }
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
            .consumer_config()
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
