//! What the engine needs of the Kafka cluster under it ([`Cluster`]): topics (existence,
//! partitions, creation, deletion) and producing single records (`INSERT ... VALUES`).
//! [`BrokerCluster`] is the embedded broker.

use std::collections::BTreeMap;
use std::sync::Arc;

use eddy_broker::{Broker, NewRecord, TopicConfig};
use eddy_streams::record::RawRecord;

use crate::error::{Result, SqlError};

/// A Kafka cluster's topics, as the engine uses them.
pub trait Cluster: Send + Sync {
    /// How many partitions `topic` has, or `None` if it does not exist.
    fn partitions(&self, topic: &str) -> Result<Option<i32>>;
    /// Creates a topic.
    fn create_topic(
        &self,
        topic: &str,
        partitions: i32,
        replicas: i16,
        config: &BTreeMap<String, String>,
    ) -> Result<()>;
    /// Deletes a topic.
    fn delete_topic(&self, topic: &str) -> Result<()>;
    /// Every topic's name.
    fn topics(&self) -> Result<Vec<String>>;
    /// Deletes a consumer group's committed offsets (an application stopped for good);
    /// a group that does not exist is not an error.
    fn delete_group(&self, _group: &str) -> Result<()> {
        Ok(())
    }
    /// Writes one record (to its partition, or by its key).
    fn produce(&self, topic: &str, record: RawRecord) -> Result<()>;
    /// Writes records, in order per partition; all are durable when it returns.
    fn produce_many(&self, topic: &str, records: Vec<RawRecord>) -> Result<()> {
        for record in records {
            self.produce(topic, record)?;
        }
        Ok(())
    }
    /// A reader of every partition of `topic` from its earliest offset, outside any
    /// consumer group (pull queries follow tables and scan streams with it).
    fn reader(&self, topic: &str) -> Result<Box<dyn eddy_streams::runtime::backend::Consumer>> {
        Err(SqlError::semantic(format!(
            "this cluster cannot read topic {topic}"
        )))
    }
    /// The offset the next record of a partition will get (its high watermark), or `None`
    /// if the partition does not exist.
    fn end_offset(&self, topic: &str, partition: i32) -> Result<Option<i64>> {
        Err(SqlError::semantic(format!(
            "this cluster cannot tell the end of {topic}-{partition}"
        )))
    }
    /// Every record `topic` holds now, partition by partition (each with its partition and
    /// offset), at most `limit` of them.
    fn read(&self, topic: &str, _limit: usize) -> Result<Vec<(i32, i64, RawRecord)>> {
        Err(SqlError::semantic(format!(
            "this cluster cannot read topic {topic} back"
        )))
    }
}

/// The embedded broker as a cluster.
#[derive(Clone)]
pub struct BrokerCluster {
    broker: Broker,
    runtime: Arc<tokio::runtime::Handle>,
}

impl std::fmt::Debug for BrokerCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerCluster").finish_non_exhaustive()
    }
}

impl BrokerCluster {
    /// The cluster of `broker`, whose async calls run on `runtime`.
    pub fn new(broker: Broker, runtime: tokio::runtime::Handle) -> Self {
        Self {
            broker,
            runtime: Arc::new(runtime),
        }
    }

    fn block<F: std::future::Future>(&self, f: F) -> F::Output {
        match tokio::runtime::Handle::try_current() {
            // Inside the runtime's own threads, block in place rather than deadlock.
            Ok(_) => tokio::task::block_in_place(|| self.runtime.block_on(f)),
            Err(_) => self.runtime.block_on(f),
        }
    }
}

impl Cluster for BrokerCluster {
    fn partitions(&self, topic: &str) -> Result<Option<i32>> {
        Ok(self
            .broker
            .describe_topic(topic)
            .ok()
            .map(|d| d.partitions.len() as i32))
    }

    fn create_topic(
        &self,
        topic: &str,
        partitions: i32,
        _replicas: i16,
        config: &BTreeMap<String, String>,
    ) -> Result<()> {
        let mut topic_config = TopicConfig {
            partitions: partitions.max(1),
            ..TopicConfig::default()
        };
        for (k, v) in config {
            topic_config
                .set(k, v)
                .map_err(|e| SqlError::semantic(format!("invalid topic config {k}={v}: {e}")))?;
        }
        self.block(self.broker.create_topic(topic, topic_config))?;
        Ok(())
    }

    fn delete_topic(&self, topic: &str) -> Result<()> {
        self.block(self.broker.delete_topic(topic))?;
        Ok(())
    }

    fn delete_group(&self, group: &str) -> Result<()> {
        self.block(self.broker.delete_group_offsets(group))?;
        Ok(())
    }

    fn topics(&self) -> Result<Vec<String>> {
        Ok(self.broker.list_topics())
    }

    fn end_offset(&self, topic: &str, partition: i32) -> Result<Option<i64>> {
        Ok(self
            .block(
                self.broker
                    .list_offset(topic, partition, eddy_broker::OffsetSpec::Latest),
            )
            .ok()
            .flatten()
            .map(|(o, _)| o))
    }

    fn reader(&self, topic: &str) -> Result<Box<dyn eddy_streams::runtime::backend::Consumer>> {
        use eddy_streams::runtime::Backend as _;
        let backend =
            eddy_streams::EmbeddedBackend::new(self.broker.clone(), (*self.runtime).clone());
        Ok(backend.reader(topic)?)
    }

    fn produce(&self, topic: &str, record: RawRecord) -> Result<()> {
        self.produce_many(topic, vec![record])
    }

    /// One durable append per partition for the whole lot (a group commit, not one
    /// fsync per record).
    fn produce_many(&self, topic: &str, records: Vec<RawRecord>) -> Result<()> {
        let partitions = self
            .partitions(topic)?
            .ok_or_else(|| SqlError::semantic(format!("Topic {topic} does not exist")))?;
        let mut by_partition: BTreeMap<i32, Vec<NewRecord>> = BTreeMap::new();
        for record in records {
            let partition = match (record.partition, &record.key) {
                (Some(p), _) => p,
                (None, Some(k)) => eddy_streams::partitioner::partition_for_key(k, partitions),
                (None, None) => 0,
            };
            by_partition.entry(partition).or_default().push(NewRecord {
                key: record.key,
                value: record.value,
                timestamp: Some(record.timestamp),
                headers: record.headers,
            });
        }
        for (partition, records) in by_partition {
            self.block(self.broker.produce(
                topic,
                partition,
                &records,
                eddy_broker::Durability::Durable,
            ))?;
        }
        Ok(())
    }

    fn read(&self, topic: &str, limit: usize) -> Result<Vec<(i32, i64, RawRecord)>> {
        let partitions = self
            .partitions(topic)?
            .ok_or_else(|| SqlError::semantic(format!("Topic {topic} does not exist")))?;
        let mut out = Vec::new();
        for p in 0..partitions {
            let end = self
                .block(
                    self.broker
                        .list_offset(topic, p, eddy_broker::OffsetSpec::Latest),
                )?
                .map_or(0, |(o, _)| o);
            let mut offset = self
                .block(
                    self.broker
                        .list_offset(topic, p, eddy_broker::OffsetSpec::Earliest),
                )?
                .map_or(0, |(o, _)| o);
            while offset < end && out.len() < limit {
                let fetched = self.block(self.broker.fetch(
                    topic,
                    p,
                    offset,
                    1 << 20,
                    std::time::Duration::ZERO,
                ))?;
                let records = eddy_broker::decode_records(&fetched.records)?;
                if records.is_empty() {
                    break;
                }
                for r in records {
                    if r.offset < offset || out.len() >= limit {
                        continue;
                    }
                    offset = r.offset + 1;
                    out.push((
                        p,
                        r.offset,
                        RawRecord {
                            key: r.key,
                            value: r.value,
                            timestamp: r.timestamp,
                            headers: r.headers,
                            partition: Some(p),
                        },
                    ));
                }
            }
        }
        Ok(out)
    }
}

/// A Kafka cluster (or `eddy broker` over the Kafka protocol) as a cluster, through
/// eddy-streams' rdkafka backend: topics made and listed with admin requests, records
/// written with its producer (partitioned by Kafka's murmur2 of the key, as Java clients do).
#[derive(Clone)]
pub struct KafkaCluster {
    backend: Arc<eddy_streams::runtime::KafkaBackend>,
}

impl std::fmt::Debug for KafkaCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaCluster").finish_non_exhaustive()
    }
}

impl KafkaCluster {
    /// The cluster `backend` talks to.
    pub fn new(backend: Arc<eddy_streams::runtime::KafkaBackend>) -> Self {
        Self { backend }
    }
}

impl Cluster for KafkaCluster {
    fn partitions(&self, topic: &str) -> Result<Option<i32>> {
        Ok(eddy_streams::runtime::Backend::partitions(
            &*self.backend,
            topic,
        )?)
    }

    fn create_topic(
        &self,
        topic: &str,
        partitions: i32,
        _replicas: i16,
        config: &BTreeMap<String, String>,
    ) -> Result<()> {
        let config: Vec<(String, String)> =
            config.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        Ok(self
            .backend
            .create_topic_with_config(topic, partitions.max(1), &config)?)
    }

    fn delete_topic(&self, topic: &str) -> Result<()> {
        Ok(self.backend.delete_topic(topic)?)
    }

    fn delete_group(&self, group: &str) -> Result<()> {
        Ok(self.backend.delete_group(group)?)
    }

    fn topics(&self) -> Result<Vec<String>> {
        Ok(self.backend.topics()?)
    }

    fn reader(&self, topic: &str) -> Result<Box<dyn eddy_streams::runtime::backend::Consumer>> {
        use eddy_streams::runtime::Backend as _;
        Ok(self.backend.reader(topic)?)
    }

    fn end_offset(&self, topic: &str, partition: i32) -> Result<Option<i64>> {
        use eddy_streams::runtime::Backend as _;
        Ok(self.backend.end_offset(topic, partition))
    }

    fn produce(&self, topic: &str, record: RawRecord) -> Result<()> {
        let partitions = self
            .partitions(topic)?
            .ok_or_else(|| SqlError::semantic(format!("Topic {topic} does not exist")))?;
        let partition = match (record.partition, &record.key) {
            (Some(p), _) => p,
            (None, Some(k)) => eddy_streams::partitioner::partition_for_key(k, partitions),
            (None, None) => 0,
        };
        let mut producer = eddy_streams::runtime::Backend::producer(&*self.backend)?;
        producer.send(
            topic,
            partition,
            vec![eddy_streams::record::SinkRecord {
                topic: topic.into(),
                partition: Some(partition),
                key: record.key,
                value: record.value,
                timestamp: record.timestamp,
                headers: record.headers,
            }],
        )?;
        producer.flush()?;
        Ok(())
    }

    /// Reads from the start until the topic gives nothing for a while (half a second).
    fn read(&self, topic: &str, limit: usize) -> Result<Vec<(i32, i64, RawRecord)>> {
        use eddy_streams::runtime::Backend as _;
        let mut reader = self.backend.reader(topic)?;
        let mut out = Vec::new();
        let mut idle = 0;
        while out.len() < limit && idle < 5 {
            let polled = reader.poll(std::time::Duration::from_millis(100))?;
            if polled.iter().all(|p| p.records.is_empty()) {
                idle += 1;
                continue;
            }
            idle = 0;
            for batch in polled {
                for r in batch.records {
                    if out.len() >= limit {
                        break;
                    }
                    out.push((
                        batch.partition,
                        r.offset,
                        RawRecord {
                            key: r.key,
                            value: r.value,
                            timestamp: r.timestamp,
                            headers: r.headers,
                            partition: Some(batch.partition),
                        },
                    ));
                }
            }
        }
        out.sort_by_key(|(p, o, _)| (*p, *o));
        Ok(out)
    }
}
