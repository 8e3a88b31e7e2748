//! The records that move through a topology: typed records between processors, table
//! changes, windowed keys, and the raw records read from and written to topics.

use std::sync::Arc;

use bytes::Bytes;

/// A typed record between processors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<K, V> {
    /// The key.
    pub key: K,
    /// The value.
    pub value: V,
    /// Event time, milliseconds since the epoch.
    pub timestamp: i64,
    /// The headers it carries (`None`: none). As in Kafka Streams, a record's headers go
    /// with whatever it becomes: mapped, filtered, re-keyed, aggregated (an update carries
    /// the headers of the record that caused it) or joined (those of the arriving side);
    /// sinks write them.
    pub headers: Option<Arc<Headers>>,
}

impl<K, V> Record<K, V> {
    /// A record without headers.
    pub fn new(key: K, value: V, timestamp: i64) -> Self {
        Self {
            key,
            value,
            timestamp,
            headers: None,
        }
    }

    /// The record with `headers` (`None`: without).
    pub fn with_headers(mut self, headers: Option<Arc<Headers>>) -> Self {
        self.headers = headers;
        self
    }
}

/// Headers as records hold them: `None` when there are none.
pub fn shared_headers(headers: Headers) -> Option<Arc<Headers>> {
    (!headers.is_empty()).then(|| Arc::new(headers))
}

/// An update of a table row, as table processors pass it on (Kafka Streams' `Change`): the
/// new value (`None`: the row was deleted) and the old one (`None`: there was no row), so
/// that aggregations of tables can subtract what a row contributed before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change<V> {
    /// The row's value after the update.
    pub new: Option<V>,
    /// The row's value before it.
    pub old: Option<V>,
}

impl<V> Change<V> {
    /// An update from `old` to `new`.
    pub fn new(new: Option<V>, old: Option<V>) -> Self {
        Self { new, old }
    }
}

/// A time window: `[start, end)` for time windows, `[start, end]` for sessions (whose
/// start and end are the times of their first and last records).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Window {
    /// Start, milliseconds.
    pub start: i64,
    /// End, milliseconds.
    pub end: i64,
}

/// A key of a windowed aggregation: the grouping key and its window.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Windowed<K> {
    /// The grouping key.
    pub key: K,
    /// The window.
    pub window: Window,
}

impl<K> Windowed<K> {
    /// `key` in `window`.
    pub fn new(key: K, start: i64, end: i64) -> Self {
        Self {
            key,
            window: Window { start, end },
        }
    }
}

/// Record headers, in order: key and value (`None`: a null value), as Kafka carries them.
/// Kafka allows a key more than once; Eddy's broker keeps one value per key (the last, at
/// the first one's place), since the Kafka protocol crate it encodes batches with holds
/// headers in a map.
pub type Headers = Vec<(String, Option<Bytes>)>;

/// A record as read from a topic partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRecord {
    /// Its offset in the partition.
    pub offset: i64,
    /// Its timestamp.
    pub timestamp: i64,
    /// The key bytes; `None` for unkeyed records.
    pub key: Option<Bytes>,
    /// The value bytes; `None` is a tombstone.
    pub value: Option<Bytes>,
    /// Its headers, in order (a `None` value is a null header value).
    pub headers: Headers,
}

/// A record on its way to a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkRecord {
    /// The topic (already resolved: internal topics carry the application id).
    pub topic: Arc<str>,
    /// The partition, or `None` to partition by key (Kafka's murmur2 partitioner).
    pub partition: Option<i32>,
    /// The key bytes.
    pub key: Option<Bytes>,
    /// The value bytes; `None` is a tombstone.
    pub value: Option<Bytes>,
    /// Its timestamp.
    pub timestamp: i64,
    /// Its headers, in order (the DSL's sinks write none).
    pub headers: Headers,
}

/// A record for a raw sink ([`TopologyBuilder::add_sink`](crate::TopologyBuilder::add_sink)):
/// bytes as they are to be written, with the topic chosen by the sink.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawRecord {
    /// The key bytes; `None` for an unkeyed record.
    pub key: Option<Bytes>,
    /// The value bytes; `None` is a tombstone.
    pub value: Option<Bytes>,
    /// Its timestamp, milliseconds since the epoch.
    pub timestamp: i64,
    /// Its headers, in order.
    pub headers: Headers,
    /// The partition to write to, or `None` to partition by key with Kafka's default
    /// (murmur2) partitioner, as the DSL's sinks do (unkeyed records are spread round
    /// robin).
    pub partition: Option<i32>,
}

impl RawRecord {
    /// A record with this key, value and timestamp, no headers, partitioned by key.
    pub fn new(key: Option<Bytes>, value: Option<Bytes>, timestamp: i64) -> Self {
        Self {
            key,
            value,
            timestamp,
            headers: Vec::new(),
            partition: None,
        }
    }
}
