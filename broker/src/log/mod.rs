//! A partition's log: an ordered set of segments, the log start offset, and the operations
//! that change them (append, roll, retention, truncation on recovery). This layer is
//! synchronous and knows nothing of tasks or waiting; [`crate::partition`] adds concurrency,
//! group commit and long-polling on top.

pub(crate) mod compaction;
mod durable;
pub(crate) mod index;
pub(crate) mod producer_snapshot;
pub(crate) mod producer_state;
pub(crate) mod segment;
mod transactional;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;

use crate::batch::{BatchHeader, ProducedBatch, stamp_batch, validate_produce};
use crate::config::TopicConfig;
use crate::error::{Error, IoContext, Result};
pub(crate) use durable::{FlushPlan, sync_dir, write_atomically};
use durable::{RECOVERY_POINT_FILE, read_offset_file};
pub use segment::SegmentRecovery;
use segment::{Located, Segment, SegmentFiles, SegmentReader, StartHint};

const LOG_START_FILE: &str = "log-start-offset";

/// The offsets a successful append was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    /// Offset of the first appended record.
    pub base_offset: i64,
    /// Offset of the last appended record.
    pub last_offset: i64,
    /// The log start offset after the append.
    pub log_start_offset: i64,
}

/// What recovery did to one partition when it was opened.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LogRecovery {
    /// Torn or corrupt bytes removed from the end of the log.
    pub truncated_bytes: u64,
    /// Segments whose indexes were rebuilt.
    pub rebuilt_indexes: usize,
    /// Whole segments dropped because they followed a corrupt batch.
    pub dropped_segments: usize,
}

/// Where to read the next batch for an offset, captured under the lock.
pub(crate) struct ReadPlan {
    pub reader: SegmentReader,
    pub start: StartHint,
    /// Base offset of the segment after this one, to continue with if this one has nothing.
    pub next_segment: Option<i64>,
}

#[derive(Debug)]
pub(crate) struct Log {
    dir: PathBuf,
    config: TopicConfig,
    segments: BTreeMap<i64, Segment>,
    log_start_offset: i64,
    /// Set by the compactor: until the active segment rolls or `recheck_at_ms` passes, another
    /// pass cannot change anything and is skipped.
    pub(crate) compaction_checkpoint: Option<compaction::Checkpoint>,
    /// Below this offset the log was cleaned by an earlier pass (Kafka's first dirty
    /// offset; in memory only, so a restart cleans from the start again).
    pub(crate) compaction_first_dirty: i64,
    producers: producer_state::ProducerStates,
    /// Segments rolled since the last flush: a roll does not fsync under the log's lock, the
    /// next [`FlushPlan`] does (before anything newer counts as durable).
    rolled_unsynced: Vec<SegmentFiles>,
    /// Serialises writes of the recovery point file by concurrent flushes.
    recovery_point_write: Arc<parking_lot::Mutex<()>>,
    /// The snapshot files of `producers` in `dir`.
    producer_snapshots: producer_snapshot::ProducerSnapshots,
    /// Open and aborted transactions (see [`transactional`]).
    txns: crate::txn::log_state::LogTxns,
    /// Whether this partition has ever held a transactional batch (its marker file exists):
    /// only then does opening it replay every batch header to rebuild `txns`.
    transactional: bool,
}

impl Log {
    /// Opens (or creates) the log in `dir`. With `recover`, the last segment is scanned batch
    /// by batch and cut at the first bad one; older segments were flushed when they rolled, so
    /// only their indexes are checked (and rebuilt with a full scan if they fail).
    pub fn open(dir: &Path, config: TopicConfig, recover: bool) -> Result<(Self, LogRecovery)> {
        fs::create_dir_all(dir).with_path(dir)?;
        let mut bases = Vec::new();
        for entry in fs::read_dir(dir).with_path(dir)? {
            let path = entry.with_path(dir)?.path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if name == compaction::CLEANING_DIR {
                // What an interrupted compaction was writing.
                fs::remove_dir_all(&path).with_path(&path)?;
            } else if name.ends_with(".cleaned") || name.ends_with(".tmp") {
                // Leftovers of an interrupted compaction swap (before `cleaning/`) or config
                // write.
                fs::remove_file(&path).with_path(&path)?;
            } else if let Some(Ok(base)) = name.strip_suffix(".log").map(str::parse::<i64>) {
                bases.push(base);
            }
        }
        bases.sort_unstable();
        let persisted_start = read_log_start(dir)?;
        // Without the file (a log written before recovery points existed, when every roll
        // fsynced), only the last segment can have been written after an fsync.
        let recovery_point = read_offset_file(dir, RECOVERY_POINT_FILE)?
            .or(bases.last().copied())
            .unwrap_or(0);
        let mut recovery = LogRecovery::default();
        let mut segments = BTreeMap::new();
        let mut cut_at = None;
        for (i, &base) in bases.iter().enumerate() {
            if cut_at.is_some() {
                // A corrupt batch in an earlier segment ends the log there, as in Kafka.
                for path in segment::segment_paths(dir, base) {
                    let _ = fs::remove_file(path);
                }
                recovery.dropped_segments += 1;
                continue;
            }
            let is_last = i + 1 == bases.len();
            // A segment that starts before the recovery point but ends after it (the next
            // one starts later) was still being written too.
            let unsynced = is_last || bases[i + 1] > recovery_point;
            let (segment, seg_recovery) =
                Segment::open(dir, base, config.index_interval_bytes, recover && unsynced)?;
            recovery.truncated_bytes += seg_recovery.truncated_bytes;
            recovery.rebuilt_indexes += seg_recovery.rebuilt_indexes as usize;
            if seg_recovery.truncated_bytes > 0 && !is_last {
                cut_at = Some(segment.next_offset);
            }
            segments.insert(base, segment);
        }
        if segments.is_empty() {
            let base = persisted_start.unwrap_or(0);
            segments.insert(
                base,
                Segment::create(dir, base, config.index_interval_bytes)?,
            );
            // Also makes the new segment's directory entry durable.
            write_atomically(&dir.join(RECOVERY_POINT_FILE), base.to_string().as_bytes())?;
        }
        let first_base = *segments.keys().next().expect("at least one segment");
        let mut log = Self {
            dir: dir.to_path_buf(),
            config,
            segments,
            log_start_offset: persisted_start.unwrap_or(first_base).max(first_base),
            compaction_checkpoint: None,
            compaction_first_dirty: 0,
            producers: producer_state::ProducerStates::default(),
            rolled_unsynced: Vec::new(),
            recovery_point_write: Arc::default(),
            producer_snapshots: producer_snapshot::ProducerSnapshots::default(),
            txns: Default::default(),
            transactional: false,
        };
        if recover {
            // Segments past the recovery point were checked above but may still be only in
            // the page cache: the next flush fsyncs them before it moves the point.
            let active = log.active().base_offset;
            log.rolled_unsynced = log
                .segments
                .range(..active)
                .filter(|(_, s)| s.next_offset > recovery_point)
                .map(|(_, s)| s.files())
                .collect();
        }
        log.rebuild_producer_state()?;
        log.rebuild_transactions()?;
        let end = log.log_end_offset();
        if log.log_start_offset > end {
            // The log was truncated below a persisted start (corruption): start at the end.
            log.log_start_offset = end;
        }
        // Past the end, the log was cut (recovery) and what is appended again there is not
        // clean: compaction starts over, as Kafka's cleaner does with such a checkpoint.
        log.compaction_first_dirty = compaction::read_first_dirty(dir)?
            .filter(|&o| o <= end)
            .unwrap_or(0);
        Ok((log, recovery))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn config(&self) -> &TopicConfig {
        &self.config
    }

    pub fn set_config(&mut self, config: TopicConfig) {
        self.config = config;
        self.compaction_checkpoint = None;
        // Other settings (a shorter delete.retention.ms, say) may clean more: start over.
        self.compaction_first_dirty = 0;
        compaction::forget_first_dirty(&self.dir);
    }

    fn active(&self) -> &Segment {
        self.segments
            .values()
            .next_back()
            .expect("a log always has a segment")
    }

    fn active_mut(&mut self) -> &mut Segment {
        self.segments
            .values_mut()
            .next_back()
            .expect("a log always has a segment")
    }

    /// The next offset to be written.
    pub fn log_end_offset(&self) -> i64 {
        self.active().next_offset
    }

    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }

    /// Total bytes in all segments.
    pub fn size_bytes(&self) -> u64 {
        self.segments.values().map(|s| s.size).sum()
    }

    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// What a flush of everything written so far must fsync, to run outside the lock.
    pub fn flush_plan(&self) -> FlushPlan {
        FlushPlan {
            target: self.log_end_offset(),
            dir: self.dir.clone(),
            active: self.active().data_file(),
            rolled: self.rolled_unsynced.clone(),
            recovery_point_write: Arc::clone(&self.recovery_point_write),
        }
    }

    /// Forgets rolled segments a [`FlushPlan`] has fsynced.
    pub fn mark_synced(&mut self, bases: &[i64]) {
        self.rolled_unsynced
            .retain(|s| !bases.contains(&s.base_offset));
    }

    /// Validates producer batches, assigns offsets and appends them. Nothing is written if any
    /// batch is bad.
    pub fn append(&mut self, batches: &mut [u8]) -> Result<AppendInfo> {
        let validated = validate_produce(batches, self.config.max_message_bytes as usize)?;
        if validated.iter().any(|b| b.header.is_control()) {
            return Err(Error::CorruptBatch(
                "control batches are written by the broker, not by producers".into(),
            ));
        }
        if let Some(batch) = validated
            .iter()
            .find(|b| b.header.is_transactional() && b.header.producer_id < 0)
        {
            return Err(Error::CorruptBatch(format!(
                "a transactional batch at byte {} has no producer id",
                batch.position
            )));
        }
        if let Some(duplicate) = self.check_sequences(&validated)? {
            return Ok(duplicate);
        }
        self.append_validated(batches, &validated)
    }

    /// Appends batches already validated (producer batches, or a marker the broker built).
    fn append_validated(
        &mut self,
        batches: &mut [u8],
        validated: &[ProducedBatch],
    ) -> Result<AppendInfo> {
        let newest_ts = validated
            .iter()
            .map(|b| b.header.max_timestamp)
            .max()
            .unwrap_or(-1);
        let records: i64 = validated
            .iter()
            .map(|b| b.header.records_count as i64)
            .sum();
        if !self.transactional && validated.iter().any(|b| b.header.is_transactional()) {
            self.mark_transactional()?;
        }
        self.maybe_roll(batches.len() as u64, newest_ts, records)?;
        let base_offset = self.log_end_offset();
        let mut next = base_offset;
        let mut stamped: Vec<(usize, BatchHeader)> = Vec::with_capacity(validated.len());
        for batch in validated {
            let end = batch.position + batch.header.total_len();
            stamp_batch(&mut batches[batch.position..end], next, 0);
            let mut header = batch.header;
            header.base_offset = next;
            header.partition_leader_epoch = 0;
            next = header.last_offset() + 1;
            stamped.push((batch.position, header));
        }
        self.active_mut().append(batches, &stamped)?;
        let now = crate::broker::now_ms();
        for (position, header) in &stamped {
            let end = position + header.total_len();
            self.note_batch(header, &batches[*position..end], now)?;
        }
        Ok(AppendInfo {
            base_offset,
            last_offset: next - 1,
            log_start_offset: self.log_start_offset,
        })
    }

    /// Checks idempotent producers' sequence numbers. Returns the original offsets if the
    /// whole request is a retry of batches already in the log.
    fn check_sequences(&self, batches: &[ProducedBatch]) -> Result<Option<AppendInfo>> {
        if batches.iter().all(|b| b.header.producer_id < 0) {
            return Ok(None);
        }
        // Batches of one request are checked against the state as it will be after the ones
        // before them: on a scratch copy of their producers' entries.
        let mut states = self
            .producers
            .subset(batches.iter().map(|b| b.header.producer_id));
        let mut duplicates = Vec::new();
        for (i, batch) in batches.iter().enumerate() {
            if batch.header.producer_id < 0 {
                continue;
            }
            match states.check(&batch.header)? {
                producer_state::SequenceCheck::Append => {
                    let mut header = batch.header;
                    header.base_offset = i64::MAX / 2 + i as i64; // placeholder offsets
                    states.record(&header, 0); // a scratch copy: the time is not used
                }
                producer_state::SequenceCheck::Duplicate {
                    first_offset,
                    last_offset,
                } => duplicates.push((first_offset, last_offset)),
            }
        }
        match duplicates.len() {
            0 => Ok(None),
            n if n == batches.len() => Ok(Some(AppendInfo {
                base_offset: duplicates[0].0,
                last_offset: duplicates[n - 1].1,
                log_start_offset: self.log_start_offset,
            })),
            _ => Err(Error::CorruptBatch(
                "a request mixing retried and new batches of an idempotent producer".into(),
            )),
        }
    }

    /// Rebuilds idempotent-producer state at open: the newest valid snapshot, then the batch
    /// headers from its offset to the log end; without one, the headers of every segment. If
    /// that read more than the active segment, the result is snapshotted at the log end.
    fn rebuild_producer_state(&mut self) -> Result<()> {
        let (first, end) = (self.first_segment_base(), self.log_end_offset());
        self.producer_snapshots = producer_snapshot::ProducerSnapshots::list(&self.dir)?;
        let loaded = self.producer_snapshots.load(&self.dir, first, end)?;
        let from = loaded.map_or(first, |(offset, states)| {
            self.producers = states;
            offset
        });
        let readers: Vec<SegmentReader> = self
            .segments
            .values()
            .filter(|s| s.next_offset > from)
            .map(Segment::reader)
            .collect();
        // The log does not record when batches were appended: replayed ones count as now.
        let now = crate::broker::now_ms();
        for reader in &readers {
            reader.for_each_header(|header| {
                if header.base_offset < from {
                    return;
                }
                if header.is_control() {
                    self.producers
                        .fence(header.producer_id, header.producer_epoch, now);
                } else {
                    self.producers.record(header, now);
                }
            })?;
        }
        if from < self.active().base_offset {
            self.snapshot_producer_state(end);
        }
        Ok(())
    }

    fn first_segment_base(&self) -> i64 {
        *self
            .segments
            .keys()
            .next()
            .expect("a log always has a segment")
    }

    /// Snapshots the producer state as of `offset`, which must be the log end (not fsynced;
    /// see [`producer_snapshot`]). A failure is logged, not returned: without the snapshot the
    /// next open replays more of the log, nothing is lost.
    fn snapshot_producer_state(&mut self, offset: i64) {
        let first = self.first_segment_base();
        if let Err(e) = self
            .producer_snapshots
            .write(&self.dir, offset, &self.producers, first)
        {
            tracing::warn!(dir = %self.dir.display(), offset, error = %e,
                "producer-state snapshot failed; the next open may replay more of the log");
        }
    }

    /// Forgets idempotent producers that have not appended for `expiration_ms` before
    /// `now_ms` (`producer_id_expiration_ms`). Returns how many were forgotten.
    pub(crate) fn expire_producers(&mut self, now_ms: i64, expiration_ms: i64) -> usize {
        self.producers.expire(now_ms, expiration_ms)
    }

    fn maybe_roll(&mut self, incoming: u64, newest_ts: i64, records: i64) -> Result<()> {
        let active = self.active();
        if active.is_empty() {
            return Ok(());
        }
        let too_big = active.size + incoming > self.config.segment_bytes;
        let too_old = active
            .first_batch_timestamp
            .is_some_and(|first| newest_ts - first > self.config.segment_ms);
        let offsets_overflow = active.next_offset + records - active.base_offset > u32::MAX as i64;
        let position_overflow = active.size + incoming > u32::MAX as u64;
        if too_big || too_old || offsets_overflow || position_overflow {
            self.roll()?;
        }
        Ok(())
    }

    /// Closes the active segment and starts a new one at the log end offset. Rolling an empty
    /// segment does nothing. Nothing is fsynced here (the caller holds the log's write lock):
    /// the closed segment joins `rolled_unsynced` for the next flush, and until that flush
    /// has written the recovery point, crash recovery checks it like the active segment.
    pub fn roll(&mut self) -> Result<()> {
        let active = self.active();
        if active.is_empty() {
            return Ok(());
        }
        let closed = active.files();
        let base = active.next_offset;
        let segment = Segment::create(&self.dir, base, self.config.index_interval_bytes)?;
        self.segments.insert(base, segment);
        self.rolled_unsynced.push(closed);
        self.snapshot_producer_state(base);
        Ok(())
    }

    /// Flushes every segment not yet on disk and their indexes (at shutdown).
    pub fn sync(&mut self) -> Result<()> {
        let mut plan = self.flush_plan();
        plan.active = self.active().files();
        let synced = plan.run()?;
        self.mark_synced(&synced);
        Ok(())
    }

    /// Where to start reading `offset`. `Ok(None)` means the offset is the log end (nothing to
    /// read yet).
    pub fn plan_read(&self, offset: i64) -> Result<Option<ReadPlan>> {
        let end = self.log_end_offset();
        if offset < self.log_start_offset || offset > end {
            return Err(Error::OffsetOutOfRange {
                offset,
                log_start: self.log_start_offset,
                log_end: end,
            });
        }
        if offset == end {
            return Ok(None);
        }
        Ok(Some(self.plan_in_segment(offset)))
    }

    fn plan_in_segment(&self, offset: i64) -> ReadPlan {
        let (base, segment) = self
            .segments
            .range(..=offset)
            .next_back()
            .or_else(|| self.segments.iter().next())
            .expect("a log always has a segment");
        let next_segment = self.segments.range(base + 1..).next().map(|(b, _)| *b);
        ReadPlan {
            reader: segment.reader(),
            start: segment.position_for_offset(offset),
            next_segment,
        }
    }

    /// Readers for the segments that may hold timestamp `ts`, oldest first, with the position
    /// to start each scan at.
    pub fn plan_timestamp_lookup(&self, ts: i64) -> Vec<(SegmentReader, StartHint)> {
        self.segments
            .values()
            .filter(|s| s.max_timestamp >= ts)
            .map(|s| (s.reader(), s.position_for_timestamp(ts)))
            .collect()
    }

    /// Deletes old segments by `retention.ms` (against `now_ms`) and `retention.bytes`, and
    /// moves the log start offset. Returns how many segments were deleted.
    pub fn apply_retention(&mut self, now_ms: i64) -> Result<usize> {
        if !self.config.cleanup_policy.delete {
            return Ok(0);
        }
        let retention_ms = self.config.retention_ms;
        let retention_bytes = self.config.retention_bytes;
        let mut total = self.size_bytes() as i64;
        let mut doomed = Vec::new();
        let active_base = self.active().base_offset;
        // Closed segments that compaction emptied must not stop retention. They go with the
        // next segment retention deletes, never alone: that would move the log start past
        // offsets consumers may still be positioned at, though no data expired.
        let mut emptied = Vec::new();
        for segment in self.segments.values() {
            if segment.is_empty() && segment.base_offset != active_base {
                emptied.push(segment.base_offset);
                continue;
            }
            let expired = retention_ms >= 0
                && !segment.is_empty()
                && now_ms - segment.max_timestamp > retention_ms;
            let oversize = retention_bytes >= 0 && total - segment.size as i64 >= retention_bytes;
            if !(expired || oversize) || segment.is_empty() {
                break;
            }
            total -= segment.size as i64;
            doomed.append(&mut emptied);
            doomed.push(segment.base_offset);
        }
        if doomed.is_empty() {
            return Ok(0);
        }
        if doomed.last() == Some(&self.active().base_offset) {
            self.roll()?;
        }
        for base in &doomed {
            self.delete_segment(*base)?;
            let first = *self.segments.keys().next().expect("roll kept a segment");
            if first > self.log_start_offset {
                self.log_start_offset = first;
            }
        }
        self.txns.forget_before(self.log_start_offset);
        tracing::debug!(dir = %self.dir.display(), deleted = doomed.len(), log_start = self.log_start_offset, "retention");
        Ok(doomed.len())
    }

    /// Moves the log start offset to `offset` (Kafka's DeleteRecords), deleting segments wholly
    /// below it. Returns the new log start offset.
    pub fn delete_records_before(&mut self, offset: i64) -> Result<i64> {
        let end = self.log_end_offset();
        if offset > end || offset < 0 {
            return Err(Error::OffsetOutOfRange {
                offset,
                log_start: self.log_start_offset,
                log_end: end,
            });
        }
        if offset <= self.log_start_offset {
            return Ok(self.log_start_offset);
        }
        write_log_start(&self.dir, offset)?;
        self.log_start_offset = offset;
        self.txns.forget_before(offset);
        // A segment goes once the next one starts at or below the new log start. (Not by its
        // own next offset: compaction may have emptied its tail, and the log start must stay
        // in the first segment, or the next open, which starts the log no earlier than the
        // first segment, would move it.)
        let bases: Vec<i64> = self.segments.keys().copied().collect();
        let doomed: Vec<i64> = bases
            .windows(2)
            .filter(|pair| pair[1] <= offset)
            .map(|pair| pair[0])
            .collect();
        for base in doomed {
            self.delete_segment(base)?;
        }
        Ok(offset)
    }

    /// Deletes a segment's files, then forgets it. If a file cannot be deleted (an
    /// unwritable directory, an I/O error) the segment stays, readable as before, and the
    /// next pass tries again: the log in memory never loses a segment whose data is on disk.
    fn delete_segment(&mut self, base: i64) -> Result<()> {
        if let Some(segment) = self.segments.get(&base) {
            segment.delete_files()?;
            self.segments.remove(&base);
        }
        Ok(())
    }

    /// Closed segments (all but the active one), for the compactor.
    pub(crate) fn active_base_offset(&self) -> i64 {
        self.active().base_offset
    }

    pub(crate) fn closed_segments(&self) -> Vec<(i64, SegmentReader, i64)> {
        let active = self.active().base_offset;
        self.segments
            .values()
            .filter(|s| s.base_offset != active)
            .map(|s| (s.base_offset, s.reader(), s.max_timestamp))
            .collect()
    }

    /// Replaces a closed segment with its compacted version, already written and flushed,
    /// with its indexes, in `cleaning/`. Returns false (and deletes the cleaned files) if the
    /// segment changed or went away meanwhile (retention).
    pub(crate) fn swap_in_cleaned(&mut self, base: i64, old_size: u64) -> Result<bool> {
        let active = self.active().base_offset;
        let still_there =
            base != active && self.segments.get(&base).is_some_and(|s| s.size == old_size);
        let targets = segment::segment_paths(&self.dir, base);
        let cleaned = segment::segment_paths(&self.dir.join(compaction::CLEANING_DIR), base);
        if !still_there {
            for path in &cleaned {
                let _ = fs::remove_file(path);
            }
            return Ok(false);
        }
        // Crash safety: the old indexes go first, then the log, then the new indexes; a crash
        // at any point leaves the old or the new log with no indexes or a missing one, and
        // the next open rebuilds them from that log.
        for p in &targets[1..] {
            match fs::remove_file(p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_path(p),
            }
        }
        for (from, to) in cleaned.iter().zip(&targets) {
            fs::rename(from, to).with_path(to)?;
        }
        sync_dir(&self.dir)?;
        // Loads the indexes built beside the cleaned copy (checks them, reads past the last
        // entry only): no scan of the segment under the lock.
        let (segment, _) = Segment::open(&self.dir, base, self.config.index_interval_bytes, false)?;
        self.segments.insert(base, segment);
        Ok(true)
    }
}

/// Reads whole batches starting at `offset`, up to `max_bytes` (at least one batch), from
/// whichever segment holds it, moving on past segments that hold nothing at or after it
/// (compaction can empty a segment). `plan` is called under the partition's read lock; the
/// file reads happen outside it.
pub(crate) fn read_from(
    plan: impl Fn(i64) -> Result<Option<ReadPlan>>,
    offset: i64,
    max_bytes: usize,
    min_one: bool,
) -> Result<Bytes> {
    let mut next = offset;
    loop {
        let Some(step) = plan(next)? else {
            return Ok(Bytes::new());
        };
        match step.reader.locate(step.start, offset, None)? {
            Located::At(position) => {
                let batches = step
                    .reader
                    .read_batches_within(position, max_bytes, min_one)?;
                return Ok(Bytes::from(batches));
            }
            Located::PastEnd => match step.next_segment {
                Some(base) => next = base.max(offset),
                None => return Ok(Bytes::new()),
            },
        }
    }
}

fn read_log_start(dir: &Path) -> Result<Option<i64>> {
    read_offset_file(dir, LOG_START_FILE)
}

fn write_log_start(dir: &Path, offset: i64) -> Result<()> {
    write_atomically(&dir.join(LOG_START_FILE), offset.to_string().as_bytes())
}
