//! [`TopologyTestDriver`]: runs a topology in memory, deterministically, without a broker
//! (Kafka Streams' `TopologyTestDriver`).
//!
//! Records piped into an input topic are processed at once, through every sub-topology:
//! records written to a repartition topic (or to any topic the topology itself reads) are
//! fed straight back in. Outputs are captured per topic; stores are in memory and can be
//! inspected; wall-clock time only moves when the test advances it.
//!
//! ```
//! use eddy_streams::{StreamsBuilder, TopologyTestDriver, serdes::Serdes};
//! let builder = StreamsBuilder::new();
//! builder
//!     .stream("in", Serdes::string(), Serdes::i64())
//!     .filter(|_, v| *v > 10)
//!     .to("out");
//! let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
//! let input = driver.input_topic("in", Serdes::string(), Serdes::i64());
//! let output = driver.output_topic("out", Serdes::string(), Serdes::i64());
//! input.pipe("a".to_string(), 5, 1_000).unwrap();
//! input.pipe("b".to_string(), 50, 2_000).unwrap();
//! assert_eq!(output.read_key_values().unwrap(), vec![("b".to_string(), Some(50))]);
//! ```

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use eddy_state::memory::{MemoryKeyValueStore, MemorySegments};
use eddy_state::typed::{TypedKeyValueStore, TypedSessionStore, TypedWindowStore};
use eddy_state::{Retention, SegmentedSessionStore, SegmentedWindowStore};

use crate::error::{Error, Result};
use crate::processor::{StoreHandle, TaskCounters};
use crate::record::{Headers, Record, SinkRecord, SourceRecord};
use crate::serdes::{SerdeRef, Shared};
use crate::task::{Task, TaskId};
use crate::topology::{StoreKind, StoreSpec, Topology};

/// The application id the driver runs topologies under (internal topics are named after it).
pub const DRIVER_APPLICATION_ID: &str = "test-driver";

struct Inner {
    tasks: Vec<Task>,
    /// Resolved topic -> index of the task that reads it.
    readers: HashMap<String, usize>,
    /// Global table topic -> its store.
    globals: HashMap<String, StoreHandle>,
    internal: BTreeSet<String>,
    outputs: HashMap<String, VecDeque<SinkRecord>>,
    /// Every topic that received output, internal topics excepted.
    written: BTreeSet<String>,
    offsets: HashMap<String, i64>,
    stores: HashMap<String, StoreHandle>,
    /// Stores whose values follow a record time (`StoreSpec::timestamped`).
    timestamped: BTreeSet<String>,
    wall_clock_ms: i64,
}

/// Runs a topology in memory. Cheap to clone; clones share the run.
#[derive(Clone)]
pub struct TopologyTestDriver {
    inner: Rc<RefCell<Inner>>,
}

impl std::fmt::Debug for TopologyTestDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TopologyTestDriver").finish_non_exhaustive()
    }
}

/// An in-memory store for a spec.
pub(crate) fn memory_store(spec: &StoreSpec) -> Result<StoreHandle> {
    Ok(match spec.kind {
        StoreKind::KeyValue => {
            StoreHandle::KeyValue(Arc::new(MemoryKeyValueStore::new(&spec.name)))
        }
        StoreKind::Window { retention_ms } => {
            StoreHandle::Window(Arc::new(SegmentedWindowStore::open(
                Arc::new(MemorySegments::new(&spec.name)),
                Retention::new(retention_ms)?,
            )?))
        }
        StoreKind::Session { retention_ms } => {
            StoreHandle::Session(Arc::new(SegmentedSessionStore::open(
                Arc::new(MemorySegments::new(&spec.name)),
                Retention::new(retention_ms)?,
            )?))
        }
    })
}

impl TopologyTestDriver {
    /// A driver for `topology`, with the wall clock at 0.
    pub fn new(topology: Topology) -> Result<Self> {
        Self::with_wall_clock(topology, 0)
    }

    /// A driver whose wall clock starts at `wall_clock_ms`.
    pub fn with_wall_clock(topology: Topology, wall_clock_ms: i64) -> Result<Self> {
        let mut stores = HashMap::new();
        for spec in topology.stores() {
            stores.insert(spec.name.clone(), memory_store(spec)?);
        }
        let mut tasks = Vec::new();
        let mut readers = HashMap::new();
        let mut globals = HashMap::new();
        for spec in topology.global_stores() {
            if let (Some(topic), Some(handle)) = (&spec.global_topic, stores.get(&spec.name)) {
                globals.insert(topic.clone(), handle.clone());
            }
        }
        for sub in topology.subtopologies() {
            let task_stores = sub
                .stores
                .iter()
                .chain(topology.global_stores().map(|s| &s.name))
                .filter_map(|s| stores.get(s).map(|h: &StoreHandle| (s.clone(), h.clone())))
                .collect();
            let id = TaskId {
                subtopology: sub.id,
                partition: 0,
            };
            let task = Task::new(&topology, id, DRIVER_APPLICATION_ID, task_stores)?;
            for topic in task.source_topics() {
                readers.insert(topic.clone(), tasks.len());
            }
            tasks.push(task);
        }
        let internal = topology
            .internal_topics()
            .iter()
            .map(|t| format!("{DRIVER_APPLICATION_ID}-{}", t.suffix))
            .collect();
        let driver = Self {
            inner: Rc::new(RefCell::new(Inner {
                tasks,
                readers,
                globals,
                internal,
                outputs: HashMap::new(),
                written: BTreeSet::new(),
                offsets: HashMap::new(),
                stores,
                timestamped: topology
                    .stores()
                    .iter()
                    .filter(|s| s.timestamped)
                    .map(|s| s.name.clone())
                    .collect(),
                wall_clock_ms,
            })),
        };
        driver.advance_wall_clock(Duration::ZERO)?;
        Ok(driver)
    }

    /// Pipes one raw record into `topic` and processes everything it leads to.
    pub fn pipe_raw(
        &self,
        topic: &str,
        key: Option<Vec<u8>>,
        value: Option<Vec<u8>>,
        timestamp: i64,
    ) -> Result<()> {
        self.pipe_raw_with_headers(topic, key, value, timestamp, Vec::new())
    }

    /// Pipes one raw record with headers into `topic` and processes everything it leads
    /// to. Records the topology writes to topics it reads itself (repartition topics) keep
    /// their headers on the way back in.
    pub fn pipe_raw_with_headers(
        &self,
        topic: &str,
        key: Option<Vec<u8>>,
        value: Option<Vec<u8>>,
        timestamp: i64,
        headers: Headers,
    ) -> Result<()> {
        let mut pending = VecDeque::new();
        pending.push_back(Pending {
            topic: topic.to_string(),
            key: key.map(Bytes::from),
            value: value.map(Bytes::from),
            timestamp,
            headers,
        });
        self.process(pending)
    }

    /// Processes records, and the records they lead to, in order.
    fn process(&self, mut pending: VecDeque<Pending>) -> Result<()> {
        let mut inner = self.inner.borrow_mut();
        while let Some(record) = pending.pop_front() {
            let Pending {
                topic,
                key,
                value,
                timestamp,
                headers,
            } = record;
            let mut source = SourceRecord {
                offset: 0,
                timestamp,
                key,
                value,
                headers,
            };
            if let Some(StoreHandle::KeyValue(store)) = inner.globals.get(&topic) {
                crate::ops::join::apply_global(&**store, &[source])?;
                continue;
            }
            let Some(&index) = inner.readers.get(&topic) else {
                return Err(Error::topology(format!(
                    "the topology does not read topic {topic:?}"
                )));
            };
            let offset = inner.offsets.entry(topic.clone()).or_insert(0);
            source.offset = *offset;
            *offset += 1;
            inner.tasks[index].process(&topic, vec![source])?;
            inner.collect(&mut pending);
        }
        Ok(())
    }

    /// Moves the wall clock forward and fires wall-clock punctuations.
    pub fn advance_wall_clock(&self, by: Duration) -> Result<()> {
        let mut inner = self.inner.borrow_mut();
        inner.wall_clock_ms += by.as_millis() as i64;
        let now = inner.wall_clock_ms;
        let mut pending = VecDeque::new();
        for i in 0..inner.tasks.len() {
            inner.tasks[i].punctuate_wall_clock(now)?;
        }
        inner.collect(&mut pending);
        drop(inner);
        // Each record with everything it leads to before the next, as if piped in turn.
        for record in pending {
            self.process(VecDeque::from([record]))?;
        }
        Ok(())
    }

    /// Takes every record written to `topic` so far, in the order they were written, as
    /// raw bytes with their timestamps and headers (the same records a
    /// [`TestOutputTopic`] of the topic reads: reading either takes them). Internal
    /// topics are not captured (their records are fed straight back in).
    pub fn read_output_raw(&self, topic: &str) -> Vec<SinkRecord> {
        self.inner
            .borrow_mut()
            .outputs
            .get_mut(topic)
            .map(|q| q.drain(..).collect())
            .unwrap_or_default()
    }

    /// The topics the topology has written to so far (internal topics excepted), sorted,
    /// whether or not their records have been read.
    pub fn output_topic_names(&self) -> Vec<String> {
        self.inner.borrow().written.iter().cloned().collect()
    }

    /// A typed handle to pipe records into `topic`.
    pub fn input_topic<K, V>(
        &self,
        topic: &str,
        key_serde: SerdeRef<K>,
        value_serde: SerdeRef<V>,
    ) -> TestInputTopic<K, V> {
        TestInputTopic {
            driver: self.clone(),
            topic: topic.to_string(),
            key_serde,
            value_serde,
        }
    }

    /// A typed handle to read what the topology wrote to `topic`.
    pub fn output_topic<K, V>(
        &self,
        topic: &str,
        key_serde: SerdeRef<K>,
        value_serde: SerdeRef<V>,
    ) -> TestOutputTopic<K, V> {
        TestOutputTopic {
            driver: self.clone(),
            topic: topic.to_string(),
            key_serde,
            value_serde,
        }
    }

    fn store(&self, name: &str) -> Result<StoreHandle> {
        self.inner
            .borrow()
            .stores
            .get(name)
            .cloned()
            .ok_or_else(|| Error::topology(format!("the topology has no store {name:?}")))
    }

    /// The key-value store `name`, typed.
    pub fn kv_store<K: 'static, V: 'static>(
        &self,
        name: &str,
        key_serde: SerdeRef<K>,
        value_serde: SerdeRef<V>,
    ) -> Result<TypedKeyValueStore<K, V>> {
        match self.store(name)? {
            StoreHandle::KeyValue(s) => Ok(TypedKeyValueStore::new(
                s,
                Shared(key_serde),
                Shared(value_serde),
            )),
            other => Err(Error::topology(format!(
                "store {name:?} is a {other:?} store"
            ))),
        }
    }

    /// The window store `name`, typed.
    pub fn window_store<K: 'static, V: 'static>(
        &self,
        name: &str,
        key_serde: SerdeRef<K>,
        value_serde: SerdeRef<V>,
    ) -> Result<TypedWindowStore<K, V>> {
        let timestamped = self.inner.borrow().timestamped.contains(name);
        let value_serde = crate::serdes::store_value_serde(timestamped, value_serde);
        match self.store(name)? {
            StoreHandle::Window(s) => Ok(TypedWindowStore::new(
                name,
                s,
                Shared(key_serde),
                Shared(value_serde),
            )),
            other => Err(Error::topology(format!(
                "store {name:?} is a {other:?} store"
            ))),
        }
    }

    /// The session store `name`, typed.
    pub fn session_store<K: 'static, V: 'static>(
        &self,
        name: &str,
        key_serde: SerdeRef<K>,
        value_serde: SerdeRef<V>,
    ) -> Result<TypedSessionStore<K, V>> {
        match self.store(name)? {
            StoreHandle::Session(s) => Ok(TypedSessionStore::new(
                name,
                s,
                Shared(key_serde),
                Shared(value_serde),
            )),
            other => Err(Error::topology(format!(
                "store {name:?} is a {other:?} store"
            ))),
        }
    }

    /// The tasks' counters, summed.
    pub fn counters(&self) -> TaskCounters {
        let inner = self.inner.borrow();
        let mut total = TaskCounters::default();
        for task in &inner.tasks {
            let c = task.counters();
            total.processed += c.processed;
            total.late_dropped += c.late_dropped;
            total.skipped += c.skipped;
        }
        total
    }
}

/// A record on its way into a topic the topology reads.
struct Pending {
    topic: String,
    key: Option<Bytes>,
    value: Option<Bytes>,
    timestamp: i64,
    headers: Headers,
}

impl Inner {
    /// Moves task outputs to the captured outputs, and queues those the topology reads.
    fn collect(&mut self, pending: &mut VecDeque<Pending>) {
        for i in 0..self.tasks.len() {
            for record in self.tasks[i].take_output() {
                let topic = record.topic.to_string();
                if self.readers.contains_key(&topic) {
                    pending.push_back(Pending {
                        topic: topic.clone(),
                        key: record.key.clone(),
                        value: record.value.clone(),
                        timestamp: record.timestamp,
                        headers: record.headers.clone(),
                    });
                }
                if !self.internal.contains(&topic) {
                    self.written.insert(topic.clone());
                    self.outputs.entry(topic).or_default().push_back(record);
                }
            }
        }
    }
}

/// Pipes typed records into a topic of a [`TopologyTestDriver`].
pub struct TestInputTopic<K, V> {
    driver: TopologyTestDriver,
    topic: String,
    key_serde: SerdeRef<K>,
    value_serde: SerdeRef<V>,
}

impl<K, V> TestInputTopic<K, V> {
    /// Pipes a record with this timestamp and processes it.
    pub fn pipe(&self, key: K, value: V, timestamp: i64) -> Result<()> {
        let key = self
            .key_serde
            .serialize(&key)
            .map_err(|source| Error::Serialize {
                target: self.topic.clone(),
                source,
            })?;
        let value = self
            .value_serde
            .serialize(&value)
            .map_err(|source| Error::Serialize {
                target: self.topic.clone(),
                source,
            })?;
        self.driver
            .pipe_raw(&self.topic, Some(key), Some(value), timestamp)
    }

    /// Pipes a tombstone (a delete, for tables).
    pub fn pipe_tombstone(&self, key: K, timestamp: i64) -> Result<()> {
        let key = self
            .key_serde
            .serialize(&key)
            .map_err(|source| Error::Serialize {
                target: self.topic.clone(),
                source,
            })?;
        self.driver
            .pipe_raw(&self.topic, Some(key), None, timestamp)
    }
}

/// Reads typed records a [`TopologyTestDriver`] wrote to a topic.
pub struct TestOutputTopic<K, V> {
    driver: TopologyTestDriver,
    topic: String,
    key_serde: SerdeRef<K>,
    value_serde: SerdeRef<V>,
}

impl<K, V> TestOutputTopic<K, V> {
    /// Takes every record written so far (`None` values are tombstones).
    pub fn read_records(&self) -> Result<Vec<Record<K, Option<V>>>> {
        let records: Vec<SinkRecord> = self
            .driver
            .inner
            .borrow_mut()
            .outputs
            .get_mut(&self.topic)
            .map(|q| q.drain(..).collect())
            .unwrap_or_default();
        records
            .into_iter()
            .map(|r| {
                let key = self
                    .key_serde
                    .deserialize(r.key.as_deref().unwrap_or_default())?;
                let value = match &r.value {
                    Some(v) => Some(self.value_serde.deserialize(v)?),
                    None => None,
                };
                Ok(Record::new(key, value, r.timestamp))
            })
            .collect()
    }

    /// Takes every record written so far, as key and value.
    pub fn read_key_values(&self) -> Result<Vec<(K, Option<V>)>> {
        Ok(self
            .read_records()?
            .into_iter()
            .map(|r| (r.key, r.value))
            .collect())
    }

    /// Whether nothing is waiting to be read.
    pub fn is_empty(&self) -> bool {
        self.driver
            .inner
            .borrow()
            .outputs
            .get(&self.topic)
            .is_none_or(|q| q.is_empty())
    }
}
