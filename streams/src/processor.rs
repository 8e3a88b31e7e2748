//! The processor layer the runtime executes: type-erased nodes that take and forward
//! *batches*.
//!
//! A [`Node`] receives an [`AnyBatch`] (a boxed `Vec<Record<K, V>>` for the typed DSL; an
//! Arrow `RecordBatch` for vectorised SQL operators), works on the whole batch, and forwards
//! batches to its children through the [`Context`]. The type check is one downcast per
//! batch, not per record, and the typed closures of the DSL are called in a tight loop over
//! the batch. A task runs the graph depth first: a batch a node forwards is processed by the
//! node's children, in the order they were added, before the node's next input.
//!
//! [`Processor`] is the typed, record-at-a-time interface for user code
//! ([`KStream::process`](crate::KStream::process)), with state stores and punctuation.

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use eddy_state::{KeyValueStore, SessionStore, WindowStore};

use crate::error::{Error, Result};
use crate::record::{Record, SinkRecord};

/// A batch of records of some type, as it moves between nodes.
pub type AnyBatch = Box<dyn Any + Send>;

/// A node's index in its topology.
pub type NodeId = usize;

/// A state store as a task opens it for its nodes.
#[derive(Clone)]
pub enum StoreHandle {
    /// A key-value store.
    KeyValue(Arc<dyn KeyValueStore>),
    /// A window store.
    Window(Arc<dyn WindowStore>),
    /// A session store.
    Session(Arc<dyn SessionStore>),
}

impl std::fmt::Debug for StoreHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::KeyValue(_) => "KeyValue",
            Self::Window(_) => "Window",
            Self::Session(_) => "Session",
        })
    }
}

/// When a punctuation fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PunctuationType {
    /// As the task's stream time (the largest record timestamp it has seen) passes each
    /// multiple of the interval; driven by data, deterministic.
    StreamTime,
    /// As the wall clock passes each interval (the test driver's clock is advanced by hand).
    WallClock,
}

#[derive(Debug, Clone)]
pub(crate) struct Schedule {
    pub node: NodeId,
    pub kind: PunctuationType,
    pub interval_ms: i64,
    pub next_ms: Option<i64>,
}

/// Counters a task keeps for its metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TaskCounters {
    /// Records read from input topics.
    pub processed: u64,
    /// Records dropped because their window had closed (late beyond the grace period).
    pub late_dropped: u64,
    /// Records skipped because they could not be deserialised or had an invalid timestamp.
    pub skipped: u64,
}

impl TaskCounters {
    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &TaskCounters) {
        self.processed += other.processed;
        self.late_dropped += other.late_dropped;
        self.skipped += other.skipped;
    }
}

/// The mutable state of a task that nodes see while processing.
#[derive(Debug, Default)]
pub(crate) struct TaskState {
    pub stream_time: i64,
    pub wall_clock_ms: i64,
    pub partition: i32,
    pub output: Vec<SinkRecord>,
    pub counters: TaskCounters,
    /// The budget aggregations' record caches draw on (`None`, or a budget of 0: every
    /// update is forwarded at once).
    pub record_cache: Option<std::sync::Arc<eddy_state::CacheBudget>>,
}

/// What a node may do when its task starts: open its stores and schedule punctuations.
pub struct InitContext<'a> {
    pub(crate) node: NodeId,
    pub(crate) node_name: &'a str,
    pub(crate) application_id: &'a str,
    pub(crate) partition: i32,
    pub(crate) stores: &'a HashMap<String, StoreHandle>,
    pub(crate) schedules: &'a mut Vec<Schedule>,
}

impl InitContext<'_> {
    fn store(&self, name: &str) -> Result<&StoreHandle> {
        self.stores.get(name).ok_or_else(|| {
            Error::topology(format!(
                "processor {} uses store {name:?}, which is not connected to it \
                 (name it when adding the processor)",
                self.node_name
            ))
        })
    }

    /// The key-value store `name`, which must be connected to this node.
    pub fn kv_store(&self, name: &str) -> Result<Arc<dyn KeyValueStore>> {
        match self.store(name)? {
            StoreHandle::KeyValue(s) => Ok(s.clone()),
            other => Err(Error::topology(format!(
                "store {name:?} is a {other:?} store, not a key-value store"
            ))),
        }
    }

    /// The window store `name`, which must be connected to this node.
    pub fn window_store(&self, name: &str) -> Result<Arc<dyn WindowStore>> {
        match self.store(name)? {
            StoreHandle::Window(s) => Ok(s.clone()),
            other => Err(Error::topology(format!(
                "store {name:?} is a {other:?} store, not a window store"
            ))),
        }
    }

    /// The session store `name`, which must be connected to this node.
    pub fn session_store(&self, name: &str) -> Result<Arc<dyn SessionStore>> {
        match self.store(name)? {
            StoreHandle::Session(s) => Ok(s.clone()),
            other => Err(Error::topology(format!(
                "store {name:?} is a {other:?} store, not a session store"
            ))),
        }
    }

    /// Calls the node's `punctuate` every `interval` of stream time or wall-clock time.
    pub fn schedule(&mut self, interval: Duration, kind: PunctuationType) {
        self.schedules.push(Schedule {
            node: self.node,
            kind,
            interval_ms: (interval.as_millis() as i64).max(1),
            next_ms: None,
        });
    }

    /// The application id (internal topics and changelogs are named after it).
    pub fn application_id(&self) -> &str {
        self.application_id
    }

    /// The input partition of the node's task.
    pub fn partition(&self) -> i32 {
        self.partition
    }
}

/// What a node may do while processing: forward batches to its children, write to topics
/// (sinks), read stream time, count late and skipped records.
pub struct Context<'a> {
    pub(crate) children: &'a [NodeId],
    pub(crate) queue: &'a mut Vec<(NodeId, AnyBatch)>,
    pub(crate) state: &'a mut TaskState,
}

impl Context<'_> {
    /// Forwards a batch to every child (cloned for all but the last).
    pub fn forward<B: Clone + Send + 'static>(&mut self, batch: B) {
        if let Some((&last, rest)) = self.children.split_last() {
            for &child in rest {
                self.queue.push((child, Box::new(batch.clone())));
            }
            self.queue.push((last, Box::new(batch)));
        }
    }

    /// Forwards a batch of records to every child, unless it is empty.
    pub fn forward_records<K, V>(&mut self, batch: Vec<Record<K, V>>)
    where
        K: Clone + Send + 'static,
        V: Clone + Send + 'static,
    {
        if !batch.is_empty() {
            self.forward(batch);
        }
    }

    /// Forwards a batch to one child, by the order children were added.
    pub fn forward_to<B: Send + 'static>(&mut self, child: usize, batch: B) {
        if let Some(&id) = self.children.get(child) {
            self.queue.push((id, Box::new(batch)));
        }
    }

    /// Number of children.
    pub fn child_count(&self) -> usize {
        self.children.len()
    }

    /// The task's stream time: the largest record timestamp it has read.
    pub fn stream_time(&self) -> i64 {
        self.state.stream_time
    }

    /// Wall-clock time as the task sees it (the test driver's mocked clock in tests).
    pub fn wall_clock_ms(&self) -> i64 {
        self.state.wall_clock_ms
    }

    /// The input partition of the task.
    pub fn partition(&self) -> i32 {
        self.state.partition
    }

    /// Queues a record for an output topic; it is written at the next commit.
    pub fn send(&mut self, record: SinkRecord) {
        self.state.output.push(record);
    }

    /// Counts records dropped because they arrived after their window closed.
    pub fn record_late(&mut self, n: u64) {
        self.state.counters.late_dropped += n;
    }

    /// Counts records skipped as undecodable or with invalid timestamps.
    pub fn record_skipped(&mut self, n: u64) {
        self.state.counters.skipped += n;
    }

    /// Advances the task's stream time to `timestamp` if it is newer. Call this with each
    /// record's event time before processing it: the DSL's sources do, and so must the
    /// node that decodes the records of a raw source
    /// ([`TopologyBuilder::add_source`](crate::TopologyBuilder::add_source)), which does
    /// not. Stream-time punctuations fire, and windows close, as stream time passes them.
    pub fn observe_time(&mut self, timestamp: i64) {
        if timestamp > self.state.stream_time {
            self.state.stream_time = timestamp;
        }
    }

    /// Counts records read from input topics, for the `processed` metric. Sources count
    /// what they read (raw sources included), so other nodes need not.
    pub fn record_processed(&mut self, n: u64) {
        self.state.counters.processed += n;
    }

    /// The bound of an aggregation's record cache in bytes (0: caching off).
    pub(crate) fn record_cache(&self) -> Option<&std::sync::Arc<eddy_state::CacheBudget>> {
        self.state.record_cache.as_ref().filter(|b| b.is_enabled())
    }
}

/// A node of a running topology.
pub trait Node: Send {
    /// Called once when the task starts, before any `process`.
    fn init(&mut self, _ctx: &mut InitContext<'_>) -> Result<()> {
        Ok(())
    }

    /// Processes one batch.
    fn process(&mut self, batch: AnyBatch, ctx: &mut Context<'_>) -> Result<()>;

    /// A punctuation this node scheduled in `init` fired at `time`.
    fn punctuate(
        &mut self,
        _kind: PunctuationType,
        _time: i64,
        _ctx: &mut Context<'_>,
    ) -> Result<()> {
        Ok(())
    }

    /// Forwards whatever the node holds back (an aggregation's record cache); called before
    /// every commit, so nothing held back is lost to a commit.
    fn flush(&mut self, _ctx: &mut Context<'_>) -> Result<()> {
        Ok(())
    }
}

/// Takes a typed batch out of an [`AnyBatch`], or says which node got the wrong type (a bug
/// in whatever built the topology, never in user data).
pub fn downcast<T: 'static>(batch: AnyBatch, node: &str) -> Result<T> {
    batch
        .downcast::<T>()
        .map(|b| *b)
        .map_err(|_| Error::Processor {
            node: node.to_string(),
            message: format!(
                "received a batch that is not a {} (the topology was wired wrongly)",
                std::any::type_name::<T>()
            ),
        })
}

/// Output of a typed [`Processor`]: records to forward, and the task's clocks.
pub struct Forwarder<KO, VO> {
    pub(crate) records: Vec<Record<KO, VO>>,
    pub(crate) stream_time: i64,
    pub(crate) wall_clock_ms: i64,
}

impl<KO, VO> Forwarder<KO, VO> {
    /// Forwards a record to the processor's children.
    pub fn forward(&mut self, record: Record<KO, VO>) {
        self.records.push(record);
    }

    /// The task's stream time.
    pub fn stream_time(&self) -> i64 {
        self.stream_time
    }

    /// The task's wall-clock time.
    pub fn wall_clock_ms(&self) -> i64 {
        self.wall_clock_ms
    }
}

/// A typed, record-at-a-time processor for [`KStream::process`](crate::KStream::process):
/// Kafka Streams' `Processor` API. Open stores and schedule punctuations in `init`.
pub trait Processor<K, V, KO, VO>: Send {
    /// Called once when the task starts.
    fn init(&mut self, _ctx: &mut InitContext<'_>) -> Result<()> {
        Ok(())
    }

    /// Processes one record; forward any number of records through `out`.
    fn process(&mut self, record: Record<K, V>, out: &mut Forwarder<KO, VO>) -> Result<()>;

    /// A scheduled punctuation fired at `time`.
    fn punctuate(
        &mut self,
        _kind: PunctuationType,
        _time: i64,
        _out: &mut Forwarder<KO, VO>,
    ) -> Result<()> {
        Ok(())
    }
}
