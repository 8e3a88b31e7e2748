//! Log compaction (`cleanup.policy=compact`): keep only the latest record for each key, and
//! drop tombstones once they are older than `delete.retention.ms`.
//!
//! The compactor works on closed segments only, which are immutable, so it reads them and
//! writes their cleaned copies without holding the partition lock; appends and reads go on.
//! The cleaned copy is written, with its indexes, in the partition's `cleaning/` directory;
//! only the final swap of one segment (renames, a directory fsync, loading the indexes)
//! takes the write lock, briefly. Offsets never change:
//! kept batches are copied byte for byte, and batches that lose records are re-encoded with
//! their records' original offsets. The newest record of a key in the active segment does not
//! count until that segment rolls, as in Kafka.
//!
//! Transactions: only segments wholly below the last stable offset are cleaned (an open
//! transaction's records may still abort); records of aborted transactions are removed and
//! never count as a key's latest; markers are kept (Kafka removes them once no record of their
//! transaction remains, after `delete.retention.ms`; Eddy does not yet).
//!
//! Memory: the map of keys to their latest offsets covers the dirty segments (those not
//! cleaned by an earlier pass) only as far as `compaction_map_max_bytes` allows; the pass
//! cleans the log up to there and the next one goes on, as Kafka's cleaner does with its
//! dedupe buffer. The map copies its keys, so no decoded batch outlives its segment's read.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::Path;

use bytes::Bytes;
use parking_lot::RwLock;

use super::Log;
use super::segment::{Segment, SegmentReader, segment_paths};
use crate::batch::{BatchHeader, decode_batch_full, reencode_batch};
use crate::error::{IoContext, Result};
use kafka_protocol::records::Record;

/// What one compaction pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CompactionStats {
    /// Segments rewritten.
    pub segments_cleaned: usize,
    /// Records removed (superseded values and expired tombstones).
    pub records_removed: u64,
    /// Transaction markers removed: their transaction had no record left in the log, and
    /// they were older than `delete.retention.ms`.
    pub markers_removed: u64,
    /// Partitions whose retention or compaction failed in a broker-wide pass (each logged;
    /// the pass went on with the others).
    pub partitions_failed: usize,
}

/// What the last pass left for later: nothing changes until the active segment rolls or
/// `recheck_at_ms` (a kept tombstone expiring, a segment passing `min.compaction.lag.ms`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Checkpoint {
    active_base: i64,
    recheck_at_ms: i64,
}

/// Bytes a key-map entry is counted for besides its key: the offset, the `Bytes` handle and
/// the hash table's slot (an estimate; the bound is on this count).
const MAP_ENTRY_OVERHEAD: usize = 64;

/// Where a segment's cleaned copy and its indexes are written before the swap (inside the
/// partition directory: same file system, so the swap is renames). Emptied at open.
pub(crate) const CLEANING_DIR: &str = "cleaning";

/// How far the log is clean, kept across restarts (Kafka's cleaner-offset-checkpoint): a
/// compaction pass goes on from here instead of cleaning the whole log again.
const FIRST_DIRTY_FILE: &str = "cleaner-offset";

/// The first dirty offset a pass recorded, if any.
pub(super) fn read_first_dirty(dir: &Path) -> Result<Option<i64>> {
    super::read_offset_file(dir, FIRST_DIRTY_FILE)
}

/// Forgets the first dirty offset (the next pass cleans from the log start).
pub(super) fn forget_first_dirty(dir: &Path) {
    let path = dir.join(FIRST_DIRTY_FILE);
    if let Err(e) = std::fs::remove_file(&path)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(path = %path.display(), error = %e, "cannot remove the compaction offset");
    }
}

/// Calls `f` with each whole batch of a segment, in order.
fn for_each_batch(
    reader: &SegmentReader,
    mut f: impl FnMut(BatchHeader, &[u8]) -> Result<()>,
) -> Result<()> {
    let mut position = 0;
    while position < reader.end() {
        let bytes = reader.read_one(position)?;
        let header = BatchHeader::parse(&bytes).expect("read_one returns checked batches");
        f(header, &bytes)?;
        position += bytes.len() as u64;
    }
    Ok(())
}

/// Runs one compaction pass over a partition's closed segments at time `now_ms`.
pub(crate) fn compact(
    log: &RwLock<Log>,
    now_ms: i64,
    map_max_bytes: usize,
) -> Result<CompactionStats> {
    let (mut closed, config, dir, active_base, checkpoint, txns, stable, first_dirty) = {
        let log = log.read();
        (
            log.closed_segments(),
            log.config().clone(),
            log.dir().to_path_buf(),
            log.active_base_offset(),
            log.compaction_checkpoint,
            log.txns.aborted_index(),
            log.last_stable_offset(),
            log.compaction_first_dirty,
        )
    };
    // A segment is cleaned only if it ends at or below the last stable offset.
    let ends: Vec<i64> = closed
        .iter()
        .skip(1)
        .map(|(base, _, _)| *base)
        .chain([active_base])
        .collect();
    let eligible = ends.iter().take_while(|&&end| end <= stable).count();
    // Segments held back by an open transaction are looked at again at the next pass.
    let held_back = eligible < closed.len();
    closed.truncate(eligible);
    let aborted = |r: &Record| r.transactional && txns.contains(r.producer_id, r.offset);
    let mut stats = CompactionStats::default();
    if !config.cleanup_policy.compact || closed.is_empty() {
        return Ok(stats);
    }
    if checkpoint.is_some_and(|c| c.active_base == active_base && now_ms < c.recheck_at_ms) {
        return Ok(stats);
    }
    let mut recheck_at_ms = if held_back { now_ms } else { i64::MAX };
    // The latest offset of every key in the uncleaned (dirty) segments, from the first
    // dirty one on, until the map holds `map_max_bytes`: the pass cleans the log up to
    // `map_end`, and the next pass goes on from there (Kafka's cleaner, whose dedupe buffer
    // bounds its map the same way). The first dirty segment is always indexed whole, so
    // every pass makes progress.
    let mut latest: HashMap<Bytes, i64> = HashMap::new();
    let mut map_bytes = 0usize;
    let mut map_end = closed
        .first()
        .map_or(active_base, |(base, _, _)| *base)
        .max(first_dirty);
    let mut map_full = false;
    let mut first = true;
    for (index, (_, reader, _)) in closed.iter().enumerate() {
        let end = ends[index];
        if end <= first_dirty {
            continue; // cleaned by an earlier pass
        }
        for_each_batch(reader, |header, bytes| {
            if header.is_control() || map_full {
                return Ok(());
            }
            for record in decode_batch_full(bytes)? {
                if aborted(&record) {
                    continue;
                }
                if let Some(key) = record.key {
                    // Its own copy: the decoded key points into the whole batch's buffer.
                    let key = Bytes::copy_from_slice(&key);
                    let size = key.len() + MAP_ENTRY_OVERHEAD;
                    if latest.insert(key, record.offset).is_none() {
                        map_bytes += size;
                    }
                }
            }
            if !first && map_bytes >= map_max_bytes {
                map_full = true;
            }
            Ok(())
        })?;
        if map_full {
            // This segment is indexed only in part: it stays dirty (entries pointing into
            // it still supersede older records, which is right).
            break;
        }
        map_end = end;
        first = false;
        if map_bytes >= map_max_bytes {
            map_full = index + 1 < closed.len();
            break;
        }
    }
    if map_full {
        // More to clean: the next maintenance pass goes on from `map_end`.
        recheck_at_ms = now_ms;
    }
    let lag_horizon = now_ms - config.min_compaction_lag_ms;
    let tombstone_horizon = now_ms - config.delete_retention_ms;
    // How far the log is clean after this pass: up to `map_end`, unless the loop below stops
    // earlier (a segment too young to clean).
    let mut cleaned_until = map_end;
    // Producers with a record of their current transaction still in the log (after this
    // pass), as the segments are read in order: a transaction's marker can go only once no
    // record of it is left, or a reader (and the next open) would take those records for an
    // open transaction. Kafka's cleaner removes markers on the same terms.
    let mut txn_has_data: HashSet<i64> = HashSet::new();
    // When a kept marker passes delete.retention.ms (another look is due then).
    let mut marker_recheck_at = i64::MAX;
    for (index, (base, reader, max_timestamp)) in closed.into_iter().enumerate() {
        if ends[index] > map_end {
            break; // past what the map covers
        }
        if max_timestamp > lag_horizon {
            cleaned_until = cleaned_until.min(base);
            // Holds records younger than min.compaction.lag.ms: it and everything after it
            // wait (as in Kafka, only an unbroken run from the start of the log is cleaned;
            // cleaning past a skipped segment could drop a tombstone while an older value of
            // its key survives in the skipped one). Look again once it is old enough.
            recheck_at_ms =
                recheck_at_ms.min(max_timestamp.saturating_add(config.min_compaction_lag_ms) + 1);
            break;
        }
        // Whether a record stays: the latest of its key, or keyless, or a tombstone still
        // within delete.retention.ms (which makes the pass look again when it expires).
        let mut keep = |r: &Record| match &r.key {
            _ if aborted(r) => false,
            None => true,
            // A key the map does not hold has its latest record in the clean part (records
            // superseded there went in an earlier pass).
            Some(key) if latest.get(key).is_some_and(|&latest| latest != r.offset) => false,
            Some(_) if r.value.is_none() => {
                if r.timestamp < tombstone_horizon {
                    return false;
                }
                recheck_at_ms =
                    recheck_at_ms.min(r.timestamp.saturating_add(config.delete_retention_ms) + 1);
                true
            }
            Some(_) => true,
        };
        // A first pass counts what would go, so that a segment with nothing to remove is
        // not copied; the second streams the cleaned copy to its file (never the whole
        // segment in memory).
        let mut removed = 0u64;
        // Markers of this segment to remove, by their batch's base offset.
        let mut dropped_markers: HashSet<i64> = HashSet::new();
        for_each_batch(&reader, |header, bytes| {
            if header.is_control() {
                if !txn_has_data.remove(&header.producer_id) {
                    if header.max_timestamp < tombstone_horizon {
                        dropped_markers.insert(header.base_offset);
                    } else {
                        marker_recheck_at = marker_recheck_at.min(
                            header
                                .max_timestamp
                                .saturating_add(config.delete_retention_ms)
                                + 1,
                        );
                    }
                }
                return Ok(());
            }
            let records = decode_batch_full(bytes)?;
            let before = removed;
            removed += records.iter().filter(|r| !keep(r)).count() as u64;
            if header.is_transactional() && removed - before < records.len() as u64 {
                txn_has_data.insert(header.producer_id);
            }
            Ok(())
        })?;
        if removed == 0 && dropped_markers.is_empty() {
            continue;
        }
        let cleaning = dir.join(CLEANING_DIR);
        fs::create_dir_all(&cleaning).with_path(&cleaning)?;
        let [cleaned, _, _] = segment_paths(&cleaning, base);
        let file = File::create(&cleaned).with_path(&cleaned)?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        for_each_batch(&reader, |header, bytes| {
            if header.is_control() {
                if dropped_markers.contains(&header.base_offset) {
                    return Ok(());
                }
                return out.write_all(bytes).with_path(&cleaned);
            }
            let records = decode_batch_full(bytes)?;
            let total = records.len();
            let kept: Vec<_> = records.into_iter().filter(|r| keep(r)).collect();
            if kept.len() == total {
                out.write_all(bytes).with_path(&cleaned)
            } else if !kept.is_empty() {
                out.write_all(&reencode_batch(&kept, header.compression())?)
                    .with_path(&cleaned)
            } else {
                Ok(())
            }
        })?;
        let file = out
            .into_inner()
            .map_err(|e| e.into_error())
            .with_path(&cleaned)?;
        file.sync_all().with_path(&cleaned)?;
        // Its indexes, built (and fsynced) here: the swap only renames them into place.
        Segment::open(&cleaning, base, config.index_interval_bytes, true)?;
        if log.write().swap_in_cleaned(base, reader.end())? {
            stats.segments_cleaned += 1;
            stats.records_removed += removed;
            stats.markers_removed += dropped_markers.len() as u64;
        }
    }
    recheck_at_ms = recheck_at_ms.min(marker_recheck_at);
    let mut log = log.write();
    log.compaction_checkpoint = Some(Checkpoint {
        active_base,
        recheck_at_ms,
    });
    let first_dirty = log.compaction_first_dirty.max(cleaned_until);
    if first_dirty > log.compaction_first_dirty {
        log.compaction_first_dirty = first_dirty;
        drop(log);
        // Not critical: if it is lost, the next pass after a restart cleans from the start.
        if let Err(e) = super::write_atomically(
            &dir.join(FIRST_DIRTY_FILE),
            first_dirty.to_string().as_bytes(),
        ) {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot record the compaction offset");
        }
    }
    if stats.segments_cleaned > 0 {
        tracing::debug!(dir = %dir.display(), ?stats, "compacted");
    }
    Ok(stats)
}
