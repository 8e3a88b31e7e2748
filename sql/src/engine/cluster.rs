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
    /// Writes one record (to its partition, or by its key).
    fn produce(&self, topic: &str, record: RawRecord) -> Result<()>;
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

    fn topics(&self) -> Result<Vec<String>> {
        Ok(self.broker.list_topics())
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
        let new = NewRecord {
            key: record.key,
            value: record.value,
            timestamp: Some(record.timestamp),
            headers: record.headers,
        };
        self.block(
            self.broker
                .produce(topic, partition, &[new], eddy_broker::Durability::Durable),
        )?;
        Ok(())
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
        Ok(eddy_streams::runtime::Backend::partitions(&*self.backend, topic)?)
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

    fn topics(&self) -> Result<Vec<String>> {
        Ok(self.backend.topics()?)
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
}
