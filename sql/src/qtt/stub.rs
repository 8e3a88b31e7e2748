//! The conformance runner's stand-ins for Kafka and the query runtime: [`StubKafka`] keeps
//! topics as lists of records; [`RecordingRunner`] keeps each started query's topology for
//! the runner to drive through test drivers, as ksqlDB's test executor does.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use eddy_streams::Topology;
use eddy_streams::record::RawRecord;

use crate::engine::{Cluster, PersistentQuery, QueryRunner};
use crate::error::Result;

/// A record in a stub topic.
#[derive(Debug, Clone, PartialEq)]
pub struct StubRecord {
    /// Key bytes.
    pub key: Option<Bytes>,
    /// Value bytes.
    pub value: Option<Bytes>,
    /// Timestamp.
    pub timestamp: i64,
    /// Headers.
    pub headers: Vec<(String, Option<Bytes>)>,
}

#[derive(Debug, Default)]
struct Topic {
    partitions: i32,
    records: Vec<StubRecord>,
}

/// Topics in memory.
#[derive(Debug, Clone, Default)]
pub struct StubKafka {
    topics: Arc<Mutex<BTreeMap<String, Topic>>>,
}

impl StubKafka {
    /// An empty stub.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Topic>> {
        self.topics.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Creates a topic if missing.
    pub fn ensure(&self, topic: &str, partitions: i32) {
        self.lock().entry(topic.to_string()).or_insert(Topic {
            partitions,
            records: Vec::new(),
        });
    }

    /// Appends a record (creating the topic).
    pub fn write(&self, topic: &str, record: StubRecord) {
        let mut topics = self.lock();
        let t = topics.entry(topic.to_string()).or_insert(Topic {
            partitions: 1,
            records: Vec::new(),
        });
        t.records.push(record);
    }

    /// Every record of a topic, in order.
    pub fn read(&self, topic: &str) -> Vec<StubRecord> {
        self.lock()
            .get(topic)
            .map(|t| t.records.clone())
            .unwrap_or_default()
    }

    /// Whether a topic exists.
    pub fn exists(&self, topic: &str) -> bool {
        self.lock().contains_key(topic)
    }
}

impl Cluster for StubKafka {
    fn partitions(&self, topic: &str) -> Result<Option<i32>> {
        Ok(self.lock().get(topic).map(|t| t.partitions))
    }

    fn create_topic(
        &self,
        topic: &str,
        partitions: i32,
        _replicas: i16,
        _config: &BTreeMap<String, String>,
    ) -> Result<()> {
        self.ensure(topic, partitions);
        Ok(())
    }

    fn delete_topic(&self, topic: &str) -> Result<()> {
        self.lock().remove(topic);
        Ok(())
    }

    fn topics(&self) -> Result<Vec<String>> {
        Ok(self.lock().keys().cloned().collect())
    }

    fn produce(&self, topic: &str, record: RawRecord) -> Result<()> {
        self.write(
            topic,
            StubRecord {
                key: record.key,
                value: record.value,
                timestamp: record.timestamp,
                headers: record.headers,
            },
        );
        Ok(())
    }
}

/// A started query and its topology (`None` once stopped).
type Started = (PersistentQuery, Option<Topology>);

/// The queries started, in order, with their topologies.
#[derive(Clone, Default)]
pub struct RecordingRunner {
    queries: Arc<Mutex<Vec<Started>>>,
}

impl std::fmt::Debug for RecordingRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingRunner").finish_non_exhaustive()
    }
}

impl RecordingRunner {
    /// Takes the started queries' topologies (those not stopped since), in start order.
    pub fn take(&self) -> Vec<(PersistentQuery, Topology)> {
        let mut queries = self.queries.lock().unwrap_or_else(|e| e.into_inner());
        queries
            .drain(..)
            .filter_map(|(q, t)| t.map(|t| (q, t)))
            .collect()
    }
}

impl QueryRunner for RecordingRunner {
    fn start(&mut self, query: &PersistentQuery, topology: Topology) -> Result<()> {
        self.queries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((query.clone(), Some(topology)));
        Ok(())
    }

    fn stop(&mut self, id: &str) -> Result<()> {
        let mut queries = self.queries.lock().unwrap_or_else(|e| e.into_inner());
        for (q, t) in queries.iter_mut() {
            if q.id == id {
                *t = None;
            }
        }
        Ok(())
    }
}
