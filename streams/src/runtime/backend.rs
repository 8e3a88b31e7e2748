//! [`Backend`]: what the runtime needs from a broker, behind one trait so that the same
//! topologies run on the embedded broker and on Kafka.
//!
//! Stream threads are plain threads that block; backends hide whether the broker underneath
//! is async (the embedded one) or has its own threads (librdkafka).

use std::sync::Arc;
use std::time::Duration;

use eddy_state::Changelog;

use crate::error::{Error, Result};
use crate::record::{SinkRecord, SourceRecord};

/// Records polled from one partition.
#[derive(Debug)]
pub struct Polled {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// Records in offset order.
    pub records: Vec<SourceRecord>,
}

/// Which member of the application a consumer is, for backends that assign partitions
/// statically (the embedded one: one process, `count` stream threads).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    /// This thread's index.
    pub index: usize,
    /// Threads in the application.
    pub count: usize,
    /// Where input topics are read from when the group has no committed offset.
    pub reset: OffsetReset,
    /// Read only committed records (`isolation.level=read_committed`), as exactly-once
    /// processing does.
    pub read_committed: bool,
}

/// Where a consumer group starts reading a partition it has no committed offset for
/// (Kafka's `auto.offset.reset`). Internal topics (repartitions) are always read from the
/// start, as Kafka Streams does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OffsetReset {
    /// The oldest record still kept (Kafka Streams' default).
    #[default]
    Earliest,
    /// Only records written from now on (ksqlDB's default for push queries).
    Latest,
}

/// A consumer of an application's input topics.
pub trait Consumer: Send {
    /// Records that arrived, waiting up to `timeout` when there are none.
    fn poll(&mut self, timeout: Duration) -> Result<Vec<Polled>>;

    /// The partitions this consumer owns now (they change on rebalances).
    fn assignment(&self) -> Vec<(String, i32)>;

    /// Commits, for each partition, the offset of the next record to process.
    fn commit(&mut self, offsets: &[(String, i32, i64)]) -> Result<()>;

    /// This consumer as `Any`, for its backend's producer to reach backend-specific state
    /// (a Kafka transaction needs the consumer's group metadata).
    fn as_any(&self) -> &dyn std::any::Any;

    /// The offset of the next record this consumer hands out from an assigned partition:
    /// past the records it handed out and past control records (transaction markers) and
    /// compaction gaps after them; `None` before it has a position.
    fn position(&self, topic: &str, partition: i32) -> Option<i64>;

    /// Records of an assigned partition on the broker past what this consumer has handed
    /// out, as last known; `None` while unknown. A task reading several partitions waits
    /// for an empty one unless this is `Some(0)` (see `task_input`), and the lag metric
    /// sums it.
    fn lag(&self, topic: &str, partition: i32) -> Option<i64>;

    /// Stops fetching from these assigned partitions until [`resume`](Self::resume)d
    /// (Kafka's `pause`): the thread keeps polling, so its group membership stays alive,
    /// while their tasks restore. Unassigned partitions are ignored.
    fn pause(&mut self, partitions: &[(String, i32)]) -> Result<()>;

    /// Fetches from paused partitions again.
    fn resume(&mut self, partitions: &[(String, i32)]) -> Result<()>;

    /// Partitions a rebalance is taking away from this consumer (Kafka's
    /// `onPartitionsRevoked`). The consumer keeps them, and no other member gets them,
    /// until [`release_revoked`](Self::release_revoked): the stream thread first commits
    /// and suspends their tasks, so that the next owner restores complete changelogs and
    /// starts from committed offsets. Empty for backends that assign statically.
    fn revoking(&self) -> Vec<(String, i32)> {
        Vec::new()
    }

    /// Gives up the partitions [`revoking`](Self::revoking) named, letting the rebalance go on.
    fn release_revoked(&mut self) -> Result<()> {
        Ok(())
    }

    /// Whether a rebalance is under way (partitions released, the new assignment not yet
    /// known): the thread then keeps its suspended tasks until it sees what comes back.
    fn rebalancing(&self) -> bool {
        false
    }
}

/// A producer of an application's output, repartition and changelog records.
pub trait Producer: Send {
    /// Sends records to one partition; they may be buffered until [`flush`](Self::flush).
    fn send(&mut self, topic: &str, partition: i32, records: Vec<SinkRecord>) -> Result<()>;

    /// Returns once everything sent is durable.
    fn flush(&mut self) -> Result<()>;

    /// Commits the input `offsets` (the next offset to process, per partition) read by
    /// `consumer`, after everything sent so far: at-least-once, a flush and the consumer's
    /// own commit; a transactional producer sends the offsets in its transaction and
    /// commits it, so outputs, changelog records and offsets become visible together.
    fn commit_offsets(
        &mut self,
        offsets: &[(String, i32, i64)],
        consumer: &mut dyn Consumer,
    ) -> Result<()> {
        self.flush()?;
        consumer.commit(offsets)
    }

    /// A store's changelog on one partition of `topic` that writes through this producer
    /// and restores with this producer's restore reader: a stream thread's stores share its
    /// clients (Kafka Streams' record collector and restore consumer), so a thread has two
    /// clients however many tasks and stores it runs.
    fn changelog(&self, topic: &str, partition: i32) -> Result<Arc<dyn Changelog>>;
}

/// A broker the runtime can run on.
pub trait Backend: Send + Sync + 'static {
    /// A short name for messages (`"embedded"`, `"kafka"`).
    fn name(&self) -> &'static str;

    /// How many partitions `topic` has, or `None` if it does not exist.
    fn partitions(&self, topic: &str) -> Result<Option<i32>>;

    /// Creates a topic configured as `kind` says unless it exists (an existing topic's
    /// configuration is left as it is).
    fn create_topic(&self, topic: &str, partitions: i32, kind: TopicKind) -> Result<()>;

    /// A consumer of `topics` in consumer group `group`.
    fn consumer(&self, group: &str, topics: &[String], member: Member)
    -> Result<Box<dyn Consumer>>;

    /// A reader of every partition of `topic` from its earliest offset, outside any group
    /// (for global tables).
    fn reader(&self, topic: &str) -> Result<Box<dyn Consumer>>;

    /// A producer (with its restore reader: see [`Producer::changelog`]), one per stream
    /// thread.
    fn producer(&self) -> Result<Box<dyn Producer>>;

    /// A transactional producer for exactly-once processing, initialised (which fences an
    /// earlier producer with the same `transactional_id` and aborts its open transaction);
    /// its changelogs restore `read_committed`.
    fn transactional_producer(&self, transactional_id: &str) -> Result<Box<dyn Producer>> {
        let _ = transactional_id;
        Err(Error::Config(format!(
            "processing_guarantee exactly_once_v2 is not supported on the {} backend yet \
             (use the Kafka backend, or at_least_once)",
            self.name()
        )))
    }

    /// The high watermark of a partition (for lag metrics), if the backend knows it cheaply.
    fn end_offset(&self, _topic: &str, _partition: i32) -> Option<i64> {
        None
    }
}

/// Kafka Streams' `windowstore.changelog.additional.retention.ms`: a windowed store's
/// changelog keeps records one day longer than the store, so that a restore after a stop of
/// up to a day still finds every window the store would keep.
pub const WINDOWED_CHANGELOG_ADDITIONAL_RETENTION_MS: i64 = 86_400_000;

/// How a topic the runtime creates is configured (as Kafka Streams configures its internal
/// topics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicKind {
    /// Repartition topics (and plain topics made by tests and examples):
    /// `cleanup.policy=delete`, the backend's default retention.
    Plain,
    /// A key-value store's changelog: `cleanup.policy=compact`.
    Compacted,
    /// A window, session or join store's changelog, whose keys carry window times and so
    /// never repeat: `cleanup.policy=compact,delete` with `retention.ms` = `retention_ms`, or
    /// it would grow forever and a restore would replay all history.
    Windowed {
        /// The topic's `retention.ms`.
        retention_ms: i64,
    },
}

impl TopicKind {
    /// The changelog kind for a store with this spec.
    pub fn changelog_for(store: &crate::topology::StoreSpec) -> Self {
        use crate::topology::StoreKind;
        match store.kind {
            StoreKind::KeyValue => Self::Compacted,
            StoreKind::Window { retention_ms } | StoreKind::Session { retention_ms } => {
                Self::Windowed {
                    retention_ms: retention_ms
                        .saturating_add(WINDOWED_CHANGELOG_ADDITIONAL_RETENTION_MS),
                }
            }
        }
    }
}
