//! The broker's error type: one enum for the crate, with messages a person can act on.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong in the broker, from a bad topic name to a failed disk write.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A topic name that Kafka would also refuse.
    #[error("invalid topic name {name:?}: {reason}")]
    InvalidTopicName {
        /// The name as given.
        name: String,
        /// Why it is refused.
        reason: String,
    },
    /// A topic configuration key or value that cannot be used.
    #[error("invalid topic config {key}={value:?}: {reason}")]
    InvalidConfig {
        /// The config key.
        key: String,
        /// The value as given.
        value: String,
        /// Why it is refused.
        reason: String,
    },
    /// A partition count that cannot be used (growing a topic to a count not larger than the
    /// current one, or growing the internal offsets topic).
    #[error("invalid partition count for topic {topic:?}: {reason}")]
    InvalidPartitions {
        /// Topic name.
        topic: String,
        /// Why it is refused.
        reason: String,
    },
    /// A topic that already exists was created again.
    #[error("topic {0:?} already exists")]
    TopicAlreadyExists(String),
    /// A topic or partition that does not exist.
    #[error("unknown topic or partition {topic}/{partition}")]
    UnknownTopicOrPartition {
        /// Topic name.
        topic: String,
        /// Partition index, or -1 when the topic itself is unknown.
        partition: i32,
    },
    /// A record batch that failed validation (length, magic, CRC, record layout).
    #[error("corrupt record batch: {0}")]
    CorruptBatch(String),
    /// A record batch larger than the topic's `max.message.bytes`.
    #[error("record batch of {size} bytes exceeds max.message.bytes={max}")]
    MessageTooLarge {
        /// Size of the offending batch.
        size: usize,
        /// The topic's limit.
        max: usize,
    },
    /// A fetch or offset lookup outside `[log_start_offset, log_end_offset]`.
    #[error("offset {offset} is out of range [{log_start}, {log_end}]")]
    OffsetOutOfRange {
        /// The requested offset.
        offset: i64,
        /// The first offset still in the log.
        log_start: i64,
        /// The next offset to be written.
        log_end: i64,
    },
    /// Bytes on disk failed their CRC or length check on read; they are not served.
    #[error("corrupt data in {path}: {reason}")]
    CorruptLog {
        /// The segment or index file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// The partition failed a write and could not restore a consistent state; it refuses
    /// further writes until the broker is reopened (which recovers it).
    #[error(
        "partition {topic}/{partition} is offline after a failed write; reopen the broker to recover it"
    )]
    PartitionOffline {
        /// Topic name.
        topic: String,
        /// Partition index.
        partition: i32,
    },
    /// An idempotent producer's batch does not follow the last one it wrote.
    #[error("out-of-order sequence from producer {producer_id}: expected {expected}, got {got}")]
    OutOfOrderSequence {
        /// The producer id.
        producer_id: i64,
        /// The sequence number the partition expected next.
        expected: i32,
        /// The batch's base sequence.
        got: i32,
    },
    /// An idempotent producer wrote with an epoch older than one already seen (it was fenced
    /// by a newer instance of itself).
    #[error("producer {producer_id} epoch {got} is older than the current epoch {current}")]
    InvalidProducerEpoch {
        /// The producer id.
        producer_id: i64,
        /// The current epoch.
        current: i16,
        /// The epoch in the batch.
        got: i16,
    },
    /// An idempotent producer the partition has no state for wrote a non-initial sequence.
    #[error("unknown producer {producer_id} (no state for it; sequence {sequence} is not 0)")]
    UnknownProducerId {
        /// The producer id.
        producer_id: i64,
        /// The batch's base sequence.
        sequence: i32,
    },
    /// A transactional producer whose epoch is older than the coordinator's: a newer
    /// instance with the same `transactional.id` has fenced it.
    #[error(
        "transactional id {transactional_id:?}: producer epoch {got} was fenced by epoch {current}"
    )]
    ProducerFenced {
        /// The transactional id.
        transactional_id: String,
        /// The coordinator's epoch.
        current: i16,
        /// The request's epoch.
        got: i16,
    },
    /// A transactional request whose producer id is not the one the coordinator gave this
    /// transactional id (or for a transactional id it does not know).
    #[error("transactional id {transactional_id:?} is not mapped to producer id {producer_id}")]
    InvalidProducerIdMapping {
        /// The transactional id.
        transactional_id: String,
        /// The request's producer id.
        producer_id: i64,
    },
    /// A transactional request that the transaction's state does not allow.
    #[error("transactional id {transactional_id:?}: {reason}")]
    InvalidTxnState {
        /// The transactional id.
        transactional_id: String,
        /// What was asked and why it cannot be done.
        reason: String,
    },
    /// The transaction is being completed: retry.
    #[error("transactional id {0:?} is completing a transaction; retry")]
    ConcurrentTransactions(String),
    /// A `transaction.timeout.ms` outside what the broker allows.
    #[error("transaction timeout {got} ms is outside 1..={max} ms (transaction_max_timeout_ms)")]
    InvalidTransactionTimeout {
        /// The requested timeout.
        got: i32,
        /// The broker's maximum.
        max: i32,
    },
    /// Decoding records from a stored batch failed.
    #[error("cannot decode records: {0}")]
    Decode(String),
    /// An operation on a closed broker.
    #[error("the broker is shut down")]
    ShutDown,
    /// An I/O error, with the file it concerned.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

/// The broker's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Attaches a path to an `io::Error`, so every I/O failure says which file it was about.
pub(crate) trait IoContext<T> {
    fn with_path(self, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn with_path(self, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|source| Error::Io {
            path: path.into(),
            source,
        })
    }
}
