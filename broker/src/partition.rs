//! One partition as the rest of the broker sees it: the synchronous [`Log`] behind a
//! read-write lock (one writer, many readers), group-commit fsync for durable appends, and a
//! watch channel that wakes long-polling fetches when the log grows.
//!
//! File I/O runs on tokio's blocking pool so that a slow disk never stalls the async
//! workers, and the lock is only ever taken there: what request handlers ask of a partition
//! (offsets, size) is published after every change and read without it. Appends hold the
//! write lock only while writing to the page cache, a segment roll included (the closed
//! segment is fsynced by the next flush); the fsync that makes appends durable runs without
//! it and is shared: whoever finds no fsync in flight flushes everything written so far,
//! and every append that landed before it is covered by that one fsync (group commit).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use parking_lot::RwLock;
use tokio::sync::{Semaphore, watch};

use crate::error::{Error, Result};
use crate::log::compaction::{CompactionStats, compact};
use crate::log::{AppendInfo, Log, read_from};
use crate::txn::{AbortedTxn, Outcome};

/// How long an append waits before it is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Acknowledge once the bytes are fsynced (Kafka's `acks=all` on a single node). Under
    /// [`FlushPolicy::GroupCommit`] (the default) the record survives a crash of the process
    /// or the machine.
    #[default]
    Durable,
    /// Acknowledge once the bytes are in the operating system's page cache (Kafka's
    /// `acks=1`): they survive a crash of the process, not of the machine, until the
    /// background flush.
    Written,
}

/// When the broker fsyncs. Single-node Eddy has no replicas, so this is its whole durability
/// story; see docs/ARCHITECTURE.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushPolicy {
    /// The default. `Durable` appends return after an fsync shared by all appends in flight
    /// (group commit); everything else is flushed every `interval` in the background and at
    /// shutdown. A rolled segment is fsynced by the next flush, not by the roll.
    GroupCommit {
        /// Background flush interval for `Written` appends.
        interval: Duration,
    },
    /// Never fsync on the append path: `Durable` appends are treated as `Written`, and data is
    /// flushed only every `interval` and at shutdown. A machine crash can lose up to
    /// `interval` of acknowledged data. For benchmarks and disposable data.
    Interval {
        /// Background flush interval.
        interval: Duration,
    },
}

impl Default for FlushPolicy {
    fn default() -> Self {
        Self::GroupCommit {
            interval: Duration::from_secs(1),
        }
    }
}

impl FlushPolicy {
    /// The background flush interval.
    pub fn interval(&self) -> Duration {
        match *self {
            Self::GroupCommit { interval } | Self::Interval { interval } => interval,
        }
    }
}

/// Records read from a partition.
#[derive(Debug, Clone, Default)]
pub struct FetchResult {
    /// Whole RecordBatch v2 batches, exactly as stored: decode with
    /// [`crate::decode_records`]. Empty when nothing arrived before the deadline.
    pub records: Bytes,
    /// The log end offset when the read was done (Eddy's high watermark).
    pub high_watermark: i64,
    /// The first offset still in the log.
    pub log_start_offset: i64,
    /// The last stable offset: below it, every transaction has ended.
    pub last_stable_offset: i64,
    /// For [`Isolation::ReadCommitted`]: the aborted transactions overlapping the records
    /// returned, whose records a reader skips (oldest first).
    pub aborted: Vec<AbortedTxn>,
}

/// Which records a read may return (Kafka's `isolation.level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Isolation {
    /// Everything written (`read_uncommitted`, the default).
    #[default]
    ReadUncommitted,
    /// Only records below the last stable offset, with the aborted transactions among them
    /// listed (`read_committed`).
    ReadCommitted,
}

/// How many fsyncs of one partition may run at once.
const CONCURRENT_FSYNCS: usize = 2;

pub(crate) struct Partition {
    pub topic: String,
    pub index: i32,
    log: Arc<RwLock<Log>>,
    /// Log end offset, published after every append, for long-polls.
    end_offset: watch::Sender<i64>,
    /// Everything below this offset is on disk.
    durable_offset: watch::Sender<i64>,
    /// Permits for fsyncs in flight. More than one overlaps one fsync's fixed cost (journal
    /// commit, device cache flush) with the next one's data transfer.
    sync_permits: Semaphore,
    policy: FlushPolicy,
    /// Set when a write failed and the log could not be restored: no more appends.
    offline: AtomicBool,
    published: Arc<Published>,
}

/// Figures about the log, published after every change under its write lock, so that
/// request handlers on tokio workers read them without waiting for a writer.
#[derive(Debug, Default)]
struct Published {
    start_offset: AtomicI64,
    last_stable_offset: AtomicI64,
    size_bytes: AtomicU64,
    segments: AtomicUsize,
}

impl Published {
    fn of(log: &Log) -> Self {
        let published = Self::default();
        published.update(log);
        published
    }

    fn update(&self, log: &Log) {
        self.start_offset
            .store(log.log_start_offset(), Ordering::Release);
        self.last_stable_offset
            .store(log.last_stable_offset(), Ordering::Release);
        self.size_bytes.store(log.size_bytes(), Ordering::Release);
        self.segments.store(log.segment_count(), Ordering::Release);
    }
}

/// One read from `offset` (on a blocking thread): up to the log end, or for `read_committed`
/// up to the last stable offset, with the aborted transactions among what was read.
fn read_isolated(
    log: &RwLock<Log>,
    offset: i64,
    max_bytes: usize,
    min_one: bool,
    isolation: Isolation,
) -> Result<FetchResult> {
    let records = read_from(|o| log.read().plan_read(o), offset, max_bytes, min_one)?;
    let log = log.read();
    let last_stable_offset = log.last_stable_offset();
    let (records, aborted) = match isolation {
        Isolation::ReadUncommitted => (records, Vec::new()),
        Isolation::ReadCommitted => {
            let records = crate::txn::markers::batches_below(records, last_stable_offset);
            let upto = crate::batch::next_offset_after(&records).unwrap_or(offset);
            let aborted = if upto > offset {
                log.aborted_between(offset, upto)
            } else {
                Vec::new()
            };
            (records, aborted)
        }
    };
    Ok(FetchResult {
        records,
        high_watermark: log.log_end_offset(),
        log_start_offset: log.log_start_offset(),
        last_stable_offset,
        aborted,
    })
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|join_error| std::panic::resume_unwind(join_error.into_panic()))
}

impl Partition {
    pub fn new(topic: &str, index: i32, log: Log, policy: FlushPolicy) -> Self {
        let end = log.log_end_offset();
        let published = Arc::new(Published::of(&log));
        Self {
            topic: topic.to_string(),
            index,
            log: Arc::new(RwLock::new(log)),
            end_offset: watch::Sender::new(end),
            // What was there at open was recovered from disk, so it is durable.
            durable_offset: watch::Sender::new(end),
            sync_permits: Semaphore::new(CONCURRENT_FSYNCS),
            policy,
            offline: AtomicBool::new(false),
            published,
        }
    }

    /// Runs `f` with the log's write lock on a blocking thread, then publishes the log's
    /// figures.
    async fn write_log<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Log) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let log = Arc::clone(&self.log);
        let published = Arc::clone(&self.published);
        blocking(move || {
            let mut log = log.write();
            let result = f(&mut log);
            published.update(&log);
            result
        })
        .await
    }

    fn check_online(&self) -> Result<()> {
        if self.offline.load(Ordering::SeqCst) {
            return Err(Error::PartitionOffline {
                topic: self.topic.clone(),
                partition: self.index,
            });
        }
        Ok(())
    }

    /// Appends producer batches (validated, then stamped with offsets) and waits as
    /// `durability` asks.
    pub async fn append(&self, batches: Bytes, durability: Durability) -> Result<AppendInfo> {
        let info = self.append_unflushed(batches).await?;
        if self.must_wait_for_fsync(durability) {
            self.wait_durable(info.last_offset + 1).await?;
        }
        Ok(info)
    }

    /// Whether an append with `durability` waits for an fsync under this partition's policy.
    pub fn must_wait_for_fsync(&self, durability: Durability) -> bool {
        durability == Durability::Durable && matches!(self.policy, FlushPolicy::GroupCommit { .. })
    }

    /// The first half of an append: validated, stamped and written to the page cache, visible
    /// to readers, not yet fsynced. The protocol server does this in request order and waits
    /// for the fsync ([`Partition::wait_durable`]) concurrently.
    pub async fn append_unflushed(&self, batches: Bytes) -> Result<AppendInfo> {
        self.check_online()?;
        let result = self
            .write_log(move |log| log.append(&mut BytesMut::from(batches)))
            .await;
        let info = match result {
            Ok(info) => info,
            Err(e @ Error::CorruptLog { .. }) => {
                self.take_offline(&e);
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        // max: a retried duplicate reports old offsets, and appends may finish out of order.
        self.end_offset
            .send_modify(|end| *end = (*end).max(info.last_offset + 1));
        Ok(info)
    }

    /// A receiver that changes whenever the log end offset moves, for long-polls that watch
    /// several partitions at once.
    pub fn watch_end_offset(&self) -> watch::Receiver<i64> {
        self.end_offset.subscribe()
    }

    /// Returns once every offset below `end` is on disk, sharing fsyncs with concurrent callers.
    pub async fn wait_durable(&self, end: i64) -> Result<()> {
        loop {
            if *self.durable_offset.borrow() >= end {
                return Ok(());
            }
            let _permit = self
                .sync_permits
                .acquire()
                .await
                .map_err(|_| Error::ShutDown)?;
            if *self.durable_offset.borrow() >= end {
                return Ok(()); // the fsync we waited for covered us
            }
            self.flush().await?;
        }
    }

    /// Fsyncs everything written so far. Callers hold a sync permit. Concurrent fsyncs of one
    /// file are safe: each one returns only once every byte written before it started is on
    /// disk, whichever of them wrote it out.
    async fn flush(&self) -> Result<()> {
        // After a failed fsync, a retry can succeed without the lost pages being on disk
        // (Linux reports a writeback error once): nothing counts as durable any more.
        self.check_online()?;
        let log = Arc::clone(&self.log);
        // Planned and run on a blocking thread: the lock is taken there (never on a tokio
        // worker), and only to list the files; the fsyncs run without it.
        let synced = blocking(move || {
            let plan = log.read().flush_plan();
            let target = plan.target;
            let rolled = plan.run()?;
            if !rolled.is_empty() {
                log.write().mark_synced(&rolled);
            }
            Ok(target)
        })
        .await;
        match synced {
            Ok(target) => {
                self.durable_offset.send_modify(|d| *d = (*d).max(target));
                Ok(())
            }
            Err(e) => {
                // After a failed fsync the kernel may have dropped the dirty pages: what the
                // page cache shows can no longer be trusted to be on disk. Stop writing; the
                // next open recovers from what is really there.
                self.take_offline(&e);
                Err(e)
            }
        }
    }

    fn take_offline(&self, cause: &Error) {
        self.offline.store(true, Ordering::SeqCst);
        tracing::error!(topic = %self.topic, partition = self.index, error = %cause, "partition taken offline");
    }

    /// Background flush: fsync if anything was written since the last one.
    pub async fn flush_if_dirty(&self) -> Result<()> {
        if *self.durable_offset.borrow() < *self.end_offset.borrow() {
            let _permit = self
                .sync_permits
                .acquire()
                .await
                .map_err(|_| Error::ShutDown)?;
            self.flush().await?;
        }
        Ok(())
    }

    /// Reads from `offset`; if there is nothing to read there yet (the log end, or for
    /// `read_committed` the last stable offset), waits up to `max_wait` for data.
    pub async fn fetch(
        &self,
        offset: i64,
        max_bytes: usize,
        max_wait: Duration,
        isolation: Isolation,
    ) -> Result<FetchResult> {
        let mut end_rx = self.end_offset.subscribe();
        let deadline = tokio::time::Instant::now() + max_wait;
        loop {
            let log = Arc::clone(&self.log);
            let result =
                blocking(move || read_isolated(&log, offset, max_bytes, true, isolation)).await?;
            if !result.records.is_empty() || max_wait.is_zero() {
                return Ok(result);
            }
            end_rx.mark_unchanged();
            if *end_rx.borrow() > result.high_watermark.max(offset) {
                continue; // data arrived between the read and the subscription check
            }
            match tokio::time::timeout_at(deadline, end_rx.changed()).await {
                Ok(Ok(())) if *end_rx.borrow() > result.high_watermark.max(offset) => continue,
                Ok(Ok(())) => {
                    // Woken without new data past what we read (cannot normally happen):
                    // wait out the deadline rather than spin.
                    tokio::time::sleep_until(deadline).await;
                    return Ok(result);
                }
                Ok(Err(_)) => return Err(Error::ShutDown),
                Err(_elapsed) => return Ok(result),
            }
        }
    }

    /// Reads from `offset` without waiting, up to `max_bytes`. With `min_one` a first batch
    /// larger than `max_bytes` is returned whole (so a big batch is never stuck); without it
    /// nothing is read then (the protocol server's later partitions in one response).
    pub async fn read_now(
        &self,
        offset: i64,
        max_bytes: usize,
        min_one: bool,
        isolation: Isolation,
    ) -> Result<FetchResult> {
        let log = Arc::clone(&self.log);
        blocking(move || read_isolated(&log, offset, max_bytes, min_one, isolation)).await
    }

    /// Appends a transaction marker for a producer (see [`Log::append_marker`]) and waits
    /// until it is on disk, so that a coordinator never records a transaction complete whose
    /// markers a crash could lose.
    pub async fn append_marker(
        &self,
        producer_id: i64,
        producer_epoch: i16,
        outcome: Outcome,
        coordinator_epoch: i32,
    ) -> Result<AppendInfo> {
        self.check_online()?;
        let info = self
            .write_log(move |log| {
                log.append_marker(producer_id, producer_epoch, outcome, coordinator_epoch)
            })
            .await?;
        self.end_offset
            .send_modify(|end| *end = (*end).max(info.last_offset + 1));
        if matches!(self.policy, FlushPolicy::GroupCommit { .. }) {
            self.wait_durable(info.last_offset + 1).await?;
        }
        Ok(info)
    }

    /// The last stable offset (published after every append).
    pub fn last_stable_offset(&self) -> i64 {
        self.published.last_stable_offset.load(Ordering::Acquire)
    }

    /// The end offset readers have been told of (published after each append).
    pub fn log_end_offset(&self) -> i64 {
        *self.end_offset.borrow()
    }

    pub fn log_start_offset(&self) -> i64 {
        self.published.start_offset.load(Ordering::Acquire)
    }

    /// Bytes in all segments.
    pub fn size_bytes(&self) -> u64 {
        self.published.size_bytes.load(Ordering::Acquire)
    }

    pub fn segment_count(&self) -> usize {
        self.published.segments.load(Ordering::Acquire)
    }

    /// First offset whose record timestamp is >= `timestamp`, with that record's timestamp.
    pub async fn offset_for_timestamp(&self, timestamp: i64) -> Result<Option<(i64, i64)>> {
        let log = Arc::clone(&self.log);
        blocking(move || {
            let (plans, start) = {
                let log = log.read();
                (log.plan_timestamp_lookup(timestamp), log.log_start_offset())
            };
            for (reader, mut position) in plans {
                // The first batch that reaches the timestamp may hold the matching records
                // only below the log start (after delete-records): go on to the next batches.
                while let crate::log::segment::Located::At(at) =
                    reader.locate(position, 0, Some(timestamp))?
                {
                    let batch = Bytes::from(reader.read_one(at)?);
                    position = crate::log::segment::StartHint::trusted(at + batch.len() as u64);
                    let found = crate::batch::decode_records(&batch)?
                        .into_iter()
                        .find(|r| r.timestamp >= timestamp && r.offset >= start);
                    if let Some(r) = found {
                        return Ok(Some((r.offset, r.timestamp)));
                    }
                }
            }
            Ok(None)
        })
        .await
    }

    pub async fn apply_retention(&self, now_ms: i64) -> Result<usize> {
        self.write_log(move |log| log.apply_retention(now_ms)).await
    }

    /// One compaction pass; its key map holds at most about `map_max_bytes`.
    pub async fn compact(&self, now_ms: i64, map_max_bytes: usize) -> Result<CompactionStats> {
        let log = Arc::clone(&self.log);
        let published = Arc::clone(&self.published);
        blocking(move || {
            // Compaction takes the lock itself, briefly, around its file swaps.
            let stats = compact(&log, now_ms, map_max_bytes);
            published.update(&log.read());
            stats
        })
        .await
    }

    pub async fn delete_records_before(&self, offset: i64) -> Result<i64> {
        self.write_log(move |log| log.delete_records_before(offset))
            .await
    }

    /// Forgets idempotent producers silent for `expiration_ms` before `now_ms`; how many.
    pub async fn expire_producers(&self, now_ms: i64, expiration_ms: i64) -> Result<usize> {
        self.write_log(move |log| Ok(log.expire_producers(now_ms, expiration_ms)))
            .await
    }

    pub async fn set_config(&self, config: crate::config::TopicConfig) -> Result<()> {
        self.write_log(move |log| {
            log.set_config(config);
            Ok(())
        })
        .await
    }

    pub async fn roll(&self) -> Result<()> {
        self.write_log(Log::roll).await
    }

    /// Flushes everything (used at shutdown).
    pub async fn close(&self) -> Result<()> {
        self.write_log(Log::sync).await
    }
}
