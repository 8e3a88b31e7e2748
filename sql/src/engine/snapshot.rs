//! Table snapshots for pull queries: every table a pull query reads is followed from its
//! topic (which holds the table's changes: the sink of a `CREATE TABLE ... AS SELECT`, or
//! the topic a `CREATE TABLE` declares), the latest record per key kept in a map, and read
//! up to date again before each query. So a pull query sees every change written before it
//! started, on any table, materialised by a query or not.
//!
//! Keys are the topic's key bytes, windowed keys included (the key's bytes, then the window
//! in Kafka Streams' layout), so the rows of one key are adjacent and a key lookup on a
//! windowed table is a prefix scan.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::time::{Duration, Instant};

use eddy_streams::record::RawRecord;
use eddy_streams::runtime::backend::Consumer;

use super::Cluster;
use crate::error::{Result, SqlError};

/// How long a pull query waits for a table's topic to be read up to date.
const CATCH_UP: Duration = Duration::from_secs(30);

/// One table's rows, as of the last catch-up.
pub struct TableSnapshot {
    topic: String,
    reader: Box<dyn Consumer>,
    positions: Positions,
    rows: BTreeMap<Vec<u8>, RawRecord>,
}

impl std::fmt::Debug for TableSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableSnapshot")
            .field("topic", &self.topic)
            .field("rows", &self.rows.len())
            .finish_non_exhaustive()
    }
}

/// Where a reader of a topic is: per partition, the offset of the next record to read.
pub type Positions = BTreeMap<i32, i64>;

/// Polls `reader` (positioned at `positions`) until every partition of `topic` has been
/// read up to the end it had when this was called, handing each record to `apply`;
/// stops early when `apply` says so.
pub fn read_to_end(
    cluster: &dyn Cluster,
    reader: &mut dyn Consumer,
    topic: &str,
    positions: &mut Positions,
    mut apply: impl FnMut(i32, RawRecord) -> bool,
) -> Result<()> {
    let partitions = cluster.partitions(topic)?.unwrap_or(0);
    let mut ends = BTreeMap::new();
    for p in 0..partitions {
        ends.insert(p, cluster.end_offset(topic, p)?.unwrap_or(0));
    }
    let caught_up = |positions: &Positions| {
        ends.iter()
            .all(|(p, end)| positions.get(p).copied().unwrap_or(0) >= *end)
    };
    let deadline = Instant::now() + CATCH_UP;
    while !caught_up(positions) {
        if Instant::now() >= deadline {
            return Err(SqlError::semantic(format!(
                "Topic {topic} could not be read up to date within {} s; try again",
                CATCH_UP.as_secs()
            )));
        }
        for batch in reader.poll(Duration::from_millis(20))? {
            for r in batch.records {
                positions.insert(batch.partition, r.offset + 1);
                let record = RawRecord {
                    key: r.key,
                    value: r.value,
                    timestamp: r.timestamp,
                    headers: r.headers,
                    partition: Some(batch.partition),
                };
                if !apply(batch.partition, record) {
                    return Ok(());
                }
            }
        }
    }
    Ok(())
}

impl TableSnapshot {
    /// A snapshot following `topic` through `reader` (from its start), not read yet.
    pub fn new(topic: &str, reader: Box<dyn Consumer>) -> Self {
        Self {
            topic: topic.to_string(),
            reader,
            positions: Positions::new(),
            rows: BTreeMap::new(),
        }
    }

    /// Reads the topic up to its end: records without a key are not rows (tables skip
    /// them), a tombstone deletes its key.
    pub fn catch_up(&mut self, cluster: &dyn Cluster) -> Result<()> {
        let rows = &mut self.rows;
        read_to_end(
            cluster,
            &mut *self.reader,
            &self.topic,
            &mut self.positions,
            |_, record| {
                match (&record.key, &record.value) {
                    (None, _) => {}
                    (Some(key), None) => {
                        rows.remove(key.as_ref());
                    }
                    (Some(key), Some(_)) => {
                        rows.insert(key.to_vec(), record);
                    }
                }
                true
            },
        )
    }

    /// How many rows it holds.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Every row, in key order.
    pub fn all(&self) -> impl Iterator<Item = &RawRecord> {
        self.rows.values()
    }

    /// The rows whose key bytes start with `prefix` (a key of an unwindowed table: at
    /// most one row; of a windowed one: its windows).
    pub fn with_prefix<'a>(&'a self, prefix: &'a [u8]) -> impl Iterator<Item = &'a RawRecord> {
        self.rows
            .range::<[u8], _>((Bound::Included(prefix), Bound::Unbounded))
            .take_while(move |(k, _)| k.starts_with(prefix))
            .map(|(_, r)| r)
    }
}
