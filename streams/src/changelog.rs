//! [`BrokerChangelog`]: a state store's changelog on one partition of a topic of the embedded
//! broker, implementing [`eddy_state::Changelog`].
//!
//! - `append` only buffers (records are encoded when flushed); `flush` appends the buffer as
//!   record batches of at most [`MAX_BATCH_BYTES`] with [`Durability::Durable`], so when it
//!   returns every record is fsynced, and returns the partition's end offset.
//! - `read` fetches whole batches from the offset asked for and skips records below it (a
//!   fetch starts at the batch holding the offset) and control records; compaction leaves
//!   gaps, which readers step over (the trait's contract).
//! - The changelog topic should be compacted (`cleanup.policy=compact`); the streams runtime
//!   creates it as `<application id>-<store>-changelog`.
//!
//! The trait is synchronous, for stream threads that run tasks and stores outside the async
//! runtime; this implementation blocks on the broker's async API through a runtime
//! [`Handle`]. So its methods must not be called from a thread of that runtime (tokio
//! panics on `block_on` there).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use eddy_broker::{Broker, Durability, Isolation, NewRecord, OffsetSpec, decode_records};
use eddy_state::{Change, Changelog, ChangelogRecord};
use parking_lot::Mutex;
use tokio::runtime::Handle;

use crate::runtime::embedded_txn::EmbeddedTransaction;

/// Largest batch `flush` appends at once (bytes of keys and values), well under the default
/// `max.message.bytes` of 1 MiB.
pub const MAX_BATCH_BYTES: usize = 512 << 10;

/// Bytes asked for per fetch while reading.
const FETCH_BYTES: usize = 1 << 20;

/// One partition of a changelog topic of the embedded broker.
pub struct BrokerChangelog {
    broker: Broker,
    runtime: Handle,
    topic: String,
    partition: i32,
    name: String,
    pending: Mutex<Vec<NewRecord>>,
    /// Under exactly-once: the stream thread's transaction, which flushes write into, and
    /// reads are `read_committed`.
    txn: Option<Arc<Mutex<EmbeddedTransaction>>>,
}

impl std::fmt::Debug for BrokerChangelog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerChangelog")
            .field("name", &self.name)
            .field("pending", &self.pending.lock().len())
            .finish()
    }
}

impl BrokerChangelog {
    /// The changelog in partition `partition` of `topic`, which must exist. `runtime` is a
    /// handle on the runtime the broker runs on.
    pub fn new(broker: Broker, runtime: Handle, topic: &str, partition: i32) -> Self {
        Self {
            broker,
            runtime,
            topic: topic.to_owned(),
            partition,
            name: format!("{topic}-{partition}"),
            pending: Mutex::new(Vec::new()),
            txn: None,
        }
    }

    /// The changelog written in a stream thread's transaction (exactly-once) and read
    /// `read_committed`.
    pub(crate) fn transactional(
        broker: Broker,
        runtime: Handle,
        topic: &str,
        partition: i32,
        txn: Arc<Mutex<EmbeddedTransaction>>,
    ) -> Self {
        Self {
            txn: Some(txn),
            ..Self::new(broker, runtime, topic, partition)
        }
    }

    fn isolation(&self) -> Isolation {
        match self.txn {
            Some(_) => Isolation::ReadCommitted,
            None => Isolation::ReadUncommitted,
        }
    }

    fn error(&self, what: &str, e: impl std::fmt::Display) -> eddy_state::Error {
        eddy_state::Error::Changelog {
            store: self.name.clone(),
            message: format!("{what} {}: {e}", self.name),
        }
    }

    fn offset(&self, spec: OffsetSpec) -> eddy_state::Result<i64> {
        let found = self
            .runtime
            .block_on(self.broker.list_offset(&self.topic, self.partition, spec))
            .map_err(|e| self.error("listing offsets of", e))?;
        Ok(found.map_or(0, |(offset, _)| offset))
    }
}

impl Changelog for BrokerChangelog {
    fn name(&self) -> &str {
        &self.name
    }

    fn append(&self, records: &[Change]) -> eddy_state::Result<()> {
        let mut pending = self.pending.lock();
        pending.extend(records.iter().map(|(key, value)| NewRecord {
            key: Some(Bytes::copy_from_slice(key)),
            value: value.as_deref().map(Bytes::copy_from_slice),
            headers: Vec::new(),
            timestamp: None,
        }));
        Ok(())
    }

    fn flush(&self) -> eddy_state::Result<i64> {
        let mut pending = self.pending.lock();
        let mut from = 0;
        while from < pending.len() {
            // Cut batches by size, at least one record each.
            let mut to = from;
            let mut bytes = 0;
            while to < pending.len() && (to == from || bytes < MAX_BATCH_BYTES) {
                let record = &pending[to];
                bytes += record.key.as_ref().map_or(0, Bytes::len)
                    + record.value.as_ref().map_or(0, Bytes::len);
                to += 1;
            }
            let appended = match &self.txn {
                Some(txn) => txn
                    .lock()
                    .append(&self.topic, self.partition, &pending[from..to])
                    .map(|_| ()),
                None => self
                    .runtime
                    .block_on(self.broker.produce(
                        &self.topic,
                        self.partition,
                        &pending[from..to],
                        Durability::Durable,
                    ))
                    .map(|_| ())
                    .map_err(crate::Error::from),
            };
            if let Err(e) = appended {
                // What was appended stays appended; the rest stays pending for a retry.
                pending.drain(..from);
                if e.is_task_migrated() {
                    return Err(eddy_state::Error::ChangelogFenced {
                        store: self.name.clone(),
                        message: e.to_string(),
                    });
                }
                return Err(self.error("appending to", e));
            }
            from = to;
        }
        pending.clear();
        drop(pending);
        self.end_offset()
    }

    fn start_offset(&self) -> eddy_state::Result<i64> {
        self.offset(OffsetSpec::Earliest)
    }

    fn end_offset(&self) -> eddy_state::Result<i64> {
        // read_committed: a restore goes up to the last stable offset, past which records
        // may still abort.
        self.offset(match self.txn {
            Some(_) => OffsetSpec::LastStable,
            None => OffsetSpec::Latest,
        })
    }

    fn read(&self, from_offset: i64, max: usize) -> eddy_state::Result<Vec<ChangelogRecord>> {
        let end = self.end_offset()?;
        let mut position = from_offset.max(self.start_offset()?);
        // A fetch may hold only records below the position (the batch it starts in) or only
        // control records: go on until there is a record or the end is reached.
        while position < end {
            let fetched = self
                .runtime
                .block_on(self.broker.fetch_isolated(
                    &self.topic,
                    self.partition,
                    position,
                    FETCH_BYTES,
                    Duration::ZERO,
                    self.isolation(),
                ))
                .map_err(|e| self.error("reading", e))?;
            if fetched.records.is_empty() {
                break;
            }
            let committed = eddy_broker::batch::without_aborted(&fetched.records, &fetched.aborted);
            let records =
                decode_records(&committed).map_err(|e| self.error("decoding a batch of", e))?;
            let out: Vec<ChangelogRecord> = records
                .iter()
                .filter(|r| r.offset >= position && r.offset < end)
                .take(max)
                .filter_map(|r| {
                    Some(ChangelogRecord {
                        offset: r.offset,
                        // Unkeyed records are not store writes; skip them.
                        key: r.key.as_ref()?.to_vec(),
                        value: r.value.as_ref().map(|v| v.to_vec()),
                    })
                })
                .collect();
            if !out.is_empty() {
                return Ok(out);
            }
            // Nothing usable here: continue after the last offset of the last batch fetched
            // (from the batch headers: compaction and control records leave offsets that
            // no decoded record shows).
            match eddy_broker::batch::next_offset_after(&fetched.records) {
                Some(next) if next > position => position = next,
                _ => {
                    return Err(self.error(
                        "reading",
                        format!("a fetch at offset {position} made no progress"),
                    ));
                }
            }
        }
        Ok(Vec::new())
    }
}
