//! Corruption tests: damage a partition's files on disk the ways disks and crashes do (flipped
//! bytes in a batch header, body or CRC, a batch cut short, garbage after the last batch,
//! damaged or missing index files), reopen the broker, and check that it opens, says what it
//! repaired, serves exactly the records before the damage (all of them, for index damage),
//! and goes on appending at the next offset. Bytes that fail their CRC behind a clean shutdown
//! (when recovery is skipped) must fail the fetch instead of being served.
//!
//! Every case starts from a copy of one written log and is named in failure messages; the
//! random choices come from fixed seeds, so a failure reproduces.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use eddy_broker::{Broker, BrokerConfig, Durability, Error, OffsetSpec, TopicConfig};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use support::{
    RawBatch, Stored, append_bytes, append_expecting, flip_byte, in_runtime, partition_dir,
    raw_batches, read_partition, record_at, segment_files, truncate_file,
};

const TOPIC: &str = "t";
/// Timestamp of the first batch; batch `i` has `T0 + 10 * i`.
const T0: i64 = 1_700_000_000_000;
/// Batches in the tail segment of the written log.
const TAIL_BATCHES: usize = 6;
/// Ids for records appended after a repair start here.
const NEW_IDS: u64 = 1 << 40;

fn topic_config() -> TopicConfig {
    TopicConfig {
        partitions: 1,
        segment_bytes: 8 << 10,
        // Dense sparse indexes, so that every segment has several entries to damage.
        index_interval_bytes: 512,
        retention_ms: -1,
        ..TopicConfig::default()
    }
}

/// How the writing broker stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// Dropped without `shutdown()`: the next open recovers.
    Drop,
    /// Shut down, then the clean-shutdown marker deleted: the next open recovers.
    DeleteMarker,
    /// Shut down cleanly: the next open trusts the files and skips recovery.
    Clean,
}

impl Stop {
    fn is_clean(self) -> bool {
        self == Self::Clean
    }
}

/// Writes a log of several segments (an explicit roll before the last [`TAIL_BATCHES`]
/// single-record batches, 300 to 620 bytes each) and stops the broker as `stop` says. Returns the records written.
fn write_log(data: &Path, stop: Stop) -> anyhow::Result<Vec<Stored>> {
    in_runtime(async {
        let broker = Broker::open(BrokerConfig::new(data)).await?;
        broker.create_topic(TOPIC, topic_config()).await?;
        let mut written = Vec::new();
        let mut id = 1u64;
        for batch in 0..40 + TAIL_BATCHES {
            if batch == 40 {
                broker.roll(TOPIC, 0).await?;
            }
            let count = if batch < 40 { 1 + batch % 3 } else { 1 };
            if batch >= 40 {
                // Tail records of 300+ bytes, so that the tail's sparse indexes have a few
                // entries to damage.
                while support::payload(id).len() < 300 {
                    id += 1;
                }
            }
            let timestamp = T0 + 10 * batch as i64;
            let records: Vec<_> = (0..count as u64)
                .map(|i| record_at(id + i, timestamp))
                .collect();
            let info = broker
                .produce(TOPIC, 0, &records, Durability::Durable)
                .await?;
            ensure!(info.base_offset == written.len() as i64);
            for i in 0..count as u64 {
                written.push(Stored {
                    offset: written.len() as i64,
                    id: id + i,
                    timestamp,
                });
            }
            id += count as u64;
        }
        match stop {
            Stop::Drop => {}
            Stop::DeleteMarker => {
                broker.shutdown().await?;
                std::fs::remove_file(data.join(".clean-shutdown"))
                    .context("removing the clean-shutdown marker")?;
            }
            Stop::Clean => {
                broker.shutdown().await?;
                ensure!(
                    data.join(".clean-shutdown").exists(),
                    "no clean-shutdown marker"
                );
            }
        }
        Ok(written)
    })
}

/// A written log to copy for each case, so every case starts from the same bytes.
struct Template {
    _tmp: tempfile::TempDir,
    stop: Stop,
    data: PathBuf,
    written: Vec<Stored>,
}

impl Template {
    fn new(stop: Stop) -> anyhow::Result<Self> {
        let tmp = tempfile::tempdir()?;
        let data = tmp.path().join("data");
        let written = write_log(&data, stop)?;
        let segments = segment_files(&partition_dir(&data, TOPIC, 0))?;
        ensure!(
            segments.len() >= 4,
            "only {} segments written",
            segments.len()
        );
        let tail = raw_batches(&segments.last().expect("segments").1)?;
        ensure!(
            tail.len() == TAIL_BATCHES,
            "the tail segment has {} batches",
            tail.len()
        );
        for (_, path) in &segments {
            for ext in ["index", "timeindex"] {
                let index = path.with_extension(ext);
                ensure!(
                    std::fs::metadata(&index)?.len() >= 24,
                    "{} has fewer than two entries",
                    index.display()
                );
            }
        }
        Ok(Self {
            _tmp: tmp,
            stop,
            data,
            written,
        })
    }

    /// A fresh copy of the data directory.
    fn copy(&self) -> anyhow::Result<(tempfile::TempDir, PathBuf)> {
        let tmp = tempfile::tempdir()?;
        let data = tmp.path().join("data");
        copy_dir(&self.data, &data)?;
        Ok((tmp, data))
    }
}

fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// What a reopen must find.
#[derive(Debug)]
struct Expected {
    /// Whether the open reports a clean shutdown.
    clean: bool,
    /// How many of the written records are served (those before the damage).
    kept: usize,
    /// Bytes recovery must report cutting.
    truncated: u64,
    /// At least this many segments had their indexes rebuilt.
    min_rebuilt: usize,
}

/// Reopens a damaged data directory and checks it against `expected`: the report, every
/// record read sequentially and one offset at a time, timestamp lookups, then new appends at
/// the next offsets, and a clean reopen that finds nothing to repair.
fn reopen_and_check(data: &Path, written: &[Stored], expected: &Expected) -> anyhow::Result<()> {
    let kept = &written[..expected.kept];
    in_runtime(async {
        let (broker, report) = Broker::open_with_report(BrokerConfig::new(data))
            .await
            .context("reopening after the damage")?;
        ensure!(
            report.clean_shutdown == expected.clean,
            "the open reported clean_shutdown={}",
            report.clean_shutdown
        );
        let recovery = report
            .repaired
            .get(&(TOPIC.to_string(), 0))
            .cloned()
            .unwrap_or_default();
        ensure!(
            recovery.truncated_bytes == expected.truncated
                && recovery.dropped_segments == 0
                && recovery.rebuilt_indexes >= expected.min_rebuilt,
            "recovery reported {recovery:?}"
        );
        check_served(&broker, kept).await?;

        // New appends continue right after the last record kept.
        let next = kept.len() as i64;
        append_expecting(&broker, TOPIC, 0, &[NEW_IDS, NEW_IDS + 1], next).await?;
        append_expecting(&broker, TOPIC, 0, &[NEW_IDS + 2], next + 2).await?;
        let stored = read_partition(&broker, TOPIC, 0, 0).await?;
        let ids: Vec<u64> = stored.iter().map(|s| s.id).collect();
        let mut want: Vec<u64> = kept.iter().map(|s| s.id).collect();
        want.extend([NEW_IDS, NEW_IDS + 1, NEW_IDS + 2]);
        ensure!(ids == want, "after appending, the log holds {ids:?}");
        broker.shutdown().await?;
        Ok(())
    })?;
    // The repaired log is consistent: a clean reopen trusts it and finds the same records.
    in_runtime(async {
        let (broker, report) = Broker::open_with_report(BrokerConfig::new(data)).await?;
        ensure!(
            report.clean_shutdown,
            "the shutdown after the repair was not clean"
        );
        ensure!(
            report.repaired.is_empty(),
            "the repaired log needed repair again: {:?}",
            report.repaired
        );
        let stored = read_partition(&broker, TOPIC, 0, 0).await?;
        ensure!(
            stored.len() == kept.len() + 3 && stored[..kept.len()] == *kept,
            "after a clean reopen the log holds {} records",
            stored.len()
        );
        Ok(())
    })
}

/// Checks that the broker serves exactly `kept`: a sequential read, a fetch at every offset
/// (which goes through the offset index), and a timestamp lookup for every batch (which goes
/// through the time index).
async fn check_served(broker: &Broker, kept: &[Stored]) -> anyhow::Result<()> {
    let stored = read_partition(broker, TOPIC, 0, 0).await?;
    ensure!(
        stored == kept,
        "the log serves {} records ({:?}..), expected the {} before the damage",
        stored.len(),
        stored.first().map(|s| s.id),
        kept.len()
    );
    for want in kept {
        let fetched = broker
            .fetch(TOPIC, 0, want.offset, 1, Duration::ZERO)
            .await
            .with_context(|| format!("fetch at offset {}", want.offset))?;
        let records = eddy_broker::decode_records(&fetched.records)?;
        let first = records.iter().find(|r| r.offset >= want.offset);
        ensure!(
            first.map(|r| r.offset) == Some(want.offset),
            "a fetch at offset {} starts with offset {:?}",
            want.offset,
            first.map(|r| r.offset)
        );
        ensure!(support::check_record(first.expect("checked"))? == want.id);
    }
    let mut previous_ts = None;
    for want in kept {
        if previous_ts == Some(want.timestamp) {
            continue; // not the first record of its batch
        }
        previous_ts = Some(want.timestamp);
        for ts in [want.timestamp, want.timestamp - 5] {
            let found = broker
                .list_offset(TOPIC, 0, OffsetSpec::Timestamp(ts))
                .await
                .with_context(|| format!("looking up timestamp {ts}"))?;
            ensure!(
                found == Some((want.offset, want.timestamp)),
                "timestamp {ts} found {found:?}, expected offset {}",
                want.offset
            );
        }
    }
    let past = kept.last().map_or(T0, |s| s.timestamp + 1);
    let found = broker
        .list_offset(TOPIC, 0, OffsetSpec::Timestamp(past))
        .await?;
    ensure!(
        found.is_none(),
        "a timestamp after every record found {found:?}"
    );
    Ok(())
}

/// Damage to the tail segment's data.
#[derive(Debug, Clone, Copy)]
enum TailDamage {
    /// Flip bits of one byte of a tail batch: in the header (length, magic or a CRC-covered
    /// field), the CRC, or the body.
    FlipHeader {
        batch: usize,
    },
    FlipCrc {
        batch: usize,
    },
    FlipBody {
        batch: usize,
    },
    /// Cut the file inside a tail batch.
    CutInside {
        batch: usize,
    },
    /// Random bytes after the last batch.
    Garbage,
    /// Zeros after the last batch (what a crash can leave after a file was extended).
    Zeros,
    /// The first tail batch again after the last one: whole and CRC-valid, but out of
    /// sequence.
    Replayed,
}

/// Applies `damage` to the tail segment; returns the records kept and the bytes to be cut.
fn damage_tail(
    tail: &Path,
    batches: &[RawBatch],
    damage: TailDamage,
    rng: &mut StdRng,
) -> anyhow::Result<(usize, u64)> {
    let file_len = std::fs::metadata(tail)?.len();
    let from = |b: &RawBatch| (b.base_offset as usize, file_len - b.position);
    Ok(match damage {
        TailDamage::FlipHeader { batch } => {
            let b = &batches[batch];
            // Length (8..12), magic (16), attributes .. record count (21..61). The base offset
            // and leader epoch are outside the CRC by design; the CRC has its own case.
            let field = match rng.random_range(0..3) {
                0 => rng.random_range(8..12),
                1 => 16,
                _ => rng.random_range(21..61),
            };
            flip_byte(tail, b.position + field, rng.random_range(1..=255))?;
            from(b)
        }
        TailDamage::FlipCrc { batch } => {
            let b = &batches[batch];
            flip_byte(
                tail,
                b.position + rng.random_range(17..21),
                rng.random_range(1..=255),
            )?;
            from(b)
        }
        TailDamage::FlipBody { batch } => {
            let b = &batches[batch];
            flip_byte(
                tail,
                b.position + rng.random_range(61..b.len),
                rng.random_range(1..=255),
            )?;
            from(b)
        }
        TailDamage::CutInside { batch } => {
            let b = &batches[batch];
            let keep = rng.random_range(1..b.len);
            truncate_file(tail, b.position + keep)?;
            (b.base_offset as usize, keep)
        }
        TailDamage::Garbage => {
            let garbage: Vec<u8> = (0..rng.random_range(1..300))
                .map(|_| rng.random())
                .collect();
            append_bytes(tail, &garbage)?;
            let end = batches.last().expect("tail batches").last_offset as usize + 1;
            (end, garbage.len() as u64)
        }
        TailDamage::Zeros => {
            append_bytes(tail, &[0; 4096])?;
            let end = batches.last().expect("tail batches").last_offset as usize + 1;
            (end, 4096)
        }
        TailDamage::Replayed => {
            let bytes = std::fs::read(tail)?;
            let first = &batches[0];
            let copy = &bytes[first.position as usize..(first.position + first.len) as usize];
            append_bytes(tail, copy)?;
            let end = batches.last().expect("tail batches").last_offset as usize + 1;
            (end, first.len)
        }
    })
}

#[test]
fn a_damaged_tail_is_cut_at_the_first_bad_batch() -> anyhow::Result<()> {
    let mut rng = StdRng::seed_from_u64(0x7a11);
    let last = TAIL_BATCHES - 1;
    let mut cases = Vec::new();
    for batch in [0, 2, last] {
        cases.push(TailDamage::FlipHeader { batch });
        cases.push(TailDamage::FlipCrc { batch });
        cases.push(TailDamage::FlipBody { batch });
        cases.push(TailDamage::CutInside { batch });
    }
    cases.extend([
        TailDamage::FlipHeader { batch: last },
        TailDamage::FlipBody { batch: 1 },
    ]);
    cases.extend([
        TailDamage::Garbage,
        TailDamage::Garbage,
        TailDamage::Zeros,
        TailDamage::Replayed,
    ]);
    // Both ways of stopping uncleanly, and a clean stop: with the marker present the open
    // trusts the files, but it still walks the batch headers after the last index entry, so a
    // cut or a bad length is found (a bad CRC is then the fetch's to catch; see the last test).
    let templates = [
        Template::new(Stop::Drop)?,
        Template::new(Stop::DeleteMarker)?,
        Template::new(Stop::Clean)?,
    ];
    for (i, damage) in cases.iter().enumerate() {
        // Each case after one of the unclean stops (taking turns), and after a clean one.
        for template in [&templates[(i + i / 4) % 2], &templates[2]] {
            let stop = template.stop;
            let clean_detects = matches!(
                damage,
                TailDamage::CutInside { .. }
                    | TailDamage::Garbage
                    | TailDamage::Zeros
                    | TailDamage::Replayed
            );
            if stop.is_clean() && !clean_detects {
                continue;
            }
            let (_tmp, data) = template.copy()?;
            let segments = segment_files(&partition_dir(&data, TOPIC, 0))?;
            let tail = &segments.last().expect("segments").1;
            let batches = raw_batches(tail)?;
            let (kept, truncated) = damage_tail(tail, &batches, *damage, &mut rng)?;
            let expected = Expected {
                clean: stop.is_clean(),
                kept,
                truncated,
                min_rebuilt: 1,
            };
            reopen_and_check(&data, &template.written, &expected).with_context(|| {
                format!("case {i}: {damage:?} after {stop:?}, expecting {expected:?}")
            })?;
        }
    }
    Ok(())
}

/// Which index file of a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Index {
    Offset,
    Time,
}

impl Index {
    fn path(self, log: &Path) -> PathBuf {
        log.with_extension(match self {
            Self::Offset => "index",
            Self::Time => "timeindex",
        })
    }

    fn entry_size(self) -> u64 {
        match self {
            Self::Offset => 8,
            Self::Time => 12,
        }
    }
}

/// Damage to an index file.
#[derive(Debug, Clone, Copy)]
enum IndexDamage {
    /// Flip bits of one byte of entry `entry` (counted from the end if negative).
    Flip {
        index: Index,
        entry: i64,
        byte: u64,
        mask: u8,
    },
    /// Cut the file in the middle of its last entry.
    CutInsideEntry(Index),
    /// Drop the last entry whole.
    DropLastEntry(Index),
    /// Cut the file to nothing.
    Empty(Index),
    /// Zeros after the last entry.
    ZeroEntry(Index),
    /// Delete the file.
    Delete(Index),
    /// Delete both index files.
    DeleteBoth,
}

impl IndexDamage {
    /// Whether an open must notice it and rebuild the segment's indexes: a file that is not
    /// whole entries, is missing, or has entries out of order or pointing nowhere (the wild
    /// flips below). A shorter index is still a valid one, and a flipped low bit can keep
    /// every entry in order (reads check the entry they use instead).
    fn must_rebuild(self) -> bool {
        match self {
            Self::Flip { mask, .. } => mask == 0x80,
            Self::CutInsideEntry(_) | Self::ZeroEntry(_) | Self::Delete(_) | Self::DeleteBoth => {
                true
            }
            Self::DropLastEntry(_) | Self::Empty(_) => false,
        }
    }

    fn apply(self, log: &Path) -> anyhow::Result<()> {
        match self {
            Self::Flip {
                index,
                entry,
                byte,
                mask,
            } => {
                let path = index.path(log);
                let entries = (std::fs::metadata(&path)?.len() / index.entry_size()) as i64;
                let entry = if entry < 0 { entries + entry } else { entry };
                ensure!(
                    (0..entries).contains(&entry),
                    "{} has {entries} entries",
                    path.display()
                );
                flip_byte(&path, entry as u64 * index.entry_size() + byte, mask)
            }
            Self::CutInsideEntry(index) => {
                let path = index.path(log);
                let len = std::fs::metadata(&path)?.len();
                truncate_file(&path, len - index.entry_size() / 2)
            }
            Self::DropLastEntry(index) => {
                let path = index.path(log);
                let len = std::fs::metadata(&path)?.len();
                truncate_file(&path, len - index.entry_size())
            }
            Self::Empty(index) => truncate_file(&index.path(log), 0),
            Self::ZeroEntry(index) => {
                append_bytes(&index.path(log), &vec![0; index.entry_size() as usize])
            }
            Self::Delete(index) => Ok(std::fs::remove_file(index.path(log))?),
            Self::DeleteBoth => {
                std::fs::remove_file(Index::Offset.path(log))?;
                Ok(std::fs::remove_file(Index::Time.path(log))?)
            }
        }
    }
}

fn index_damages() -> Vec<IndexDamage> {
    let flip = |index, entry, byte, mask| IndexDamage::Flip {
        index,
        entry,
        byte,
        mask,
    };
    let mut out = vec![
        // Offset index entries are (relative offset, position), 4 bytes each, big-endian. A
        // low bit in a middle entry keeps the entries in order, so no check at open sees it.
        flip(Index::Offset, 1, 3, 0x01),
        flip(Index::Offset, 1, 7, 0x01),
        flip(Index::Offset, 0, 0, 0x80),
        flip(Index::Offset, -1, 7, 0x80),
        // Time index entries are (timestamp: 8 bytes, relative offset: 4 bytes).
        flip(Index::Time, 1, 7, 0x01),
        flip(Index::Time, 1, 11, 0x01),
        flip(Index::Time, 0, 8, 0x80),
        flip(Index::Time, -1, 0, 0x80),
    ];
    for index in [Index::Offset, Index::Time] {
        out.extend([
            IndexDamage::CutInsideEntry(index),
            IndexDamage::DropLastEntry(index),
            IndexDamage::Empty(index),
            IndexDamage::ZeroEntry(index),
            IndexDamage::Delete(index),
        ]);
    }
    out.push(IndexDamage::DeleteBoth);
    out
}

#[test]
fn damaged_indexes_are_rebuilt_and_every_record_is_served() -> anyhow::Result<()> {
    let templates = [Template::new(Stop::Drop)?, Template::new(Stop::Clean)?];
    let damages = index_damages();
    for template in &templates {
        let clean = template.stop.is_clean();
        let segments = segment_files(&partition_dir(&template.data, TOPIC, 0))?;
        // A closed segment in the middle (whose indexes every open trusts if they look
        // sane) and the tail (which an unclean open always rebuilds).
        for target in [segments.len() / 2, segments.len() - 1] {
            let is_tail = target == segments.len() - 1;
            for damage in &damages {
                // An unclean open rebuilds the tail's indexes whatever they hold: a few cases
                // are enough there.
                if !clean
                    && is_tail
                    && !matches!(
                        damage,
                        IndexDamage::DeleteBoth | IndexDamage::CutInsideEntry(_)
                    )
                {
                    continue;
                }
                let (_tmp, data) = template.copy()?;
                let log = &segment_files(&partition_dir(&data, TOPIC, 0))?[target].1;
                damage.apply(log)?;
                // An unclean open rebuilds the tail's indexes whatever they hold.
                let min_rebuilt =
                    usize::from(!clean) + usize::from(damage.must_rebuild() && (clean || !is_tail));
                let expected = Expected {
                    clean,
                    kept: template.written.len(),
                    truncated: 0,
                    min_rebuilt,
                };
                reopen_and_check(&data, &template.written, &expected).with_context(|| {
                    format!(
                        "{damage:?} in segment {} ({}), clean={clean}",
                        target,
                        if is_tail { "tail" } else { "closed" }
                    )
                })?;
            }
        }
    }
    Ok(())
}

#[test]
fn a_corrupt_batch_is_never_served() -> anyhow::Result<()> {
    // With the clean-shutdown marker, the open does not check CRCs: the fetch must. Without
    // it, recovery checks only the tail, so a closed segment's bad batch is the fetch's too.
    for (stop, tail) in [
        (Stop::Clean, true),
        (Stop::Clean, false),
        (Stop::Drop, false),
    ] {
        let template = Template::new(stop)?;
        let (_tmp, data) = template.copy()?;
        let segments = segment_files(&partition_dir(&data, TOPIC, 0))?;
        let log = &segments[if tail {
            segments.len() - 1
        } else {
            segments.len() / 2
        }]
        .1;
        let batches = raw_batches(log)?;
        let bad = batches[batches.len() / 2];
        // A value byte in the body: the header still parses, only the CRC says it is wrong.
        flip_byte(log, bad.position + bad.len - 3, 0x20)?;
        let written = template.written.clone();
        let log = log.clone();
        in_runtime(async move {
            let (broker, report) = Broker::open_with_report(BrokerConfig::new(&data)).await?;
            ensure!(report.clean_shutdown == stop.is_clean());
            if stop.is_clean() {
                ensure!(report.repaired.is_empty(), "repaired {:?}", report.repaired);
            } else {
                // Recovery checks the tail only; the bad batch is in a closed segment.
                let recovery = report.repaired.get(&(TOPIC.to_string(), 0));
                ensure!(
                    recovery.is_none_or(|r| r.truncated_bytes == 0 && r.dropped_segments == 0),
                    "recovery {recovery:?}"
                );
            }
            for want in &written {
                let fetched = broker.fetch(TOPIC, 0, want.offset, 1, Duration::ZERO).await;
                let in_bad = (bad.base_offset..=bad.last_offset).contains(&want.offset);
                match fetched {
                    Err(Error::CorruptLog { path, reason }) if in_bad => {
                        ensure!(
                            path == log,
                            "the error names {}, not {}",
                            path.display(),
                            log.display()
                        );
                        ensure!(reason.contains("CRC"), "reason: {reason}");
                    }
                    Ok(f) if !in_bad => {
                        let records = eddy_broker::decode_records(&f.records)?;
                        let first = records.iter().find(|r| r.offset >= want.offset);
                        ensure!(first.is_some_and(|r| r.offset == want.offset
                            && support::check_record(r).ok() == Some(want.id)));
                    }
                    other => bail!(
                        "a fetch at offset {} (bad batch {}..={}) gave {:?}",
                        want.offset,
                        bad.base_offset,
                        bad.last_offset,
                        other.map(|f| f.records.len())
                    ),
                }
            }
            // A fetch that would run through the bad batch serves nothing of it.
            let from = bad.base_offset.saturating_sub(3).max(0);
            match broker.fetch(TOPIC, 0, from, 1 << 20, Duration::ZERO).await {
                Err(Error::CorruptLog { .. }) => {}
                Ok(f) => {
                    let records = eddy_broker::decode_records(&f.records)?;
                    ensure!(
                        records.iter().all(|r| r.offset < bad.base_offset),
                        "a fetch from {from} served offsets up to {:?}",
                        records.last().map(|r| r.offset)
                    );
                }
                Err(e) => bail!("a fetch from {from}: {e}"),
            }
            Ok(())
        })
        .with_context(|| {
            format!(
                "{stop:?}, bad batch in the {} segment",
                if tail { "tail" } else { "closed" }
            )
        })?;
    }
    Ok(())
}
