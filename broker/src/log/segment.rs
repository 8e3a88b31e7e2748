//! One log segment: a file of RecordBatch v2 bytes named by its 20-digit base offset, with its
//! sparse offset and time indexes. Appends go through `&mut self`; reads go through a
//! [`SegmentReader`], a cheap handle that works without the partition lock.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::batch::{BatchHeader, HEADER_LEN, LOG_OVERHEAD, check_batch};
use crate::error::{Error, IoContext, Result};

use super::index::{IndexFile, OffsetEntry, TimeEntry, floor};

/// File name stem for a base offset: 20 digits, zero-padded, as Kafka names segments.
pub(crate) fn file_stem(base_offset: i64) -> String {
    format!("{base_offset:020}")
}

/// The `.log`, `.index` and `.timeindex` paths of a segment.
pub(crate) fn segment_paths(dir: &Path, base_offset: i64) -> [PathBuf; 3] {
    let stem = file_stem(base_offset);
    [
        dir.join(format!("{stem}.log")),
        dir.join(format!("{stem}.index")),
        dir.join(format!("{stem}.timeindex")),
    ]
}

/// What opening a segment found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SegmentRecovery {
    /// Bytes cut off the end because they were torn or corrupt.
    pub truncated_bytes: u64,
    /// Whether the indexes were rebuilt from the segment.
    pub rebuilt_indexes: bool,
}

#[derive(Debug)]
pub(crate) struct Segment {
    pub base_offset: i64,
    path: PathBuf,
    file: Arc<File>,
    /// Bytes of complete batches in the file.
    pub size: u64,
    /// One past the last offset stored here (the base offset when empty).
    pub next_offset: i64,
    /// Largest record timestamp, or -1 when empty.
    pub max_timestamp: i64,
    /// Max timestamp of the first batch: segment age for `segment.ms` is measured from it.
    pub first_batch_timestamp: Option<i64>,
    offset_index: IndexFile<OffsetEntry>,
    time_index: IndexFile<TimeEntry>,
    bytes_since_index_entry: u64,
    index_interval: u64,
}

/// Result of scanning a segment's batches.
struct Scan {
    valid_size: u64,
    next_offset: i64,
    max_timestamp: i64,
    first_batch_timestamp: Option<i64>,
    corruption: Option<String>,
}

impl Segment {
    /// Creates a new, empty segment file (and empty indexes).
    pub fn create(dir: &Path, base_offset: i64, index_interval: u32) -> Result<Self> {
        let [log_path, index_path, time_path] = segment_paths(dir, base_offset);
        let file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&log_path)
            .with_path(&log_path)?;
        Ok(Self {
            base_offset,
            path: log_path,
            file: Arc::new(file),
            size: 0,
            next_offset: base_offset,
            max_timestamp: -1,
            first_batch_timestamp: None,
            offset_index: IndexFile::create(&index_path)?,
            time_index: IndexFile::create(&time_path)?,
            bytes_since_index_entry: 0,
            index_interval: index_interval as u64,
        })
    }

    /// Opens an existing segment. With `recover`, every batch is checked (length and CRC) and
    /// the file is truncated at the first bad one; the indexes are rebuilt. Without it, the
    /// indexes are loaded and sanity-checked, and rebuilt (with a full check) only if they fail.
    pub fn open(
        dir: &Path,
        base_offset: i64,
        index_interval: u32,
        recover: bool,
    ) -> Result<(Self, SegmentRecovery)> {
        let [log_path, index_path, time_path] = segment_paths(dir, base_offset);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&log_path)
            .with_path(&log_path)?;
        let file_size = file.metadata().with_path(&log_path)?.len();
        let loaded = if recover {
            None
        } else {
            match (IndexFile::load(&index_path)?, IndexFile::load(&time_path)?) {
                (Some(oi), Some(ti)) => Some((oi, ti)),
                _ => None,
            }
        };
        let have_indexes = loaded.is_some();
        let (offset_index, time_index) = match loaded {
            Some(pair) => pair,
            None => (
                IndexFile::create(&index_path)?,
                IndexFile::create(&time_path)?,
            ),
        };
        let mut segment = Self {
            base_offset,
            path: log_path,
            file: Arc::new(file),
            size: file_size,
            next_offset: base_offset,
            max_timestamp: -1,
            first_batch_timestamp: None,
            offset_index,
            time_index,
            bytes_since_index_entry: 0,
            index_interval: index_interval as u64,
        };
        if have_indexes && segment.indexes_look_sane() {
            // Only the batches after the last index entry need reading.
            let start = segment.offset_index.last().map_or(0, |e| e.position as u64);
            let scan = segment.scan(start, false)?;
            if scan.corruption.is_none() && scan.valid_size == file_size {
                segment.apply_scan(&scan);
                segment.first_batch_timestamp = segment.read_first_timestamp()?;
                if let Some(last) = segment.time_index.last() {
                    segment.max_timestamp = segment.max_timestamp.max(last.timestamp);
                }
                segment.bytes_since_index_entry = file_size - start;
                return Ok((segment, SegmentRecovery::default()));
            }
        }
        let recovery = segment.rebuild()?;
        Ok((segment, recovery))
    }

    /// Scans the whole segment with CRC checks, truncates at the first bad batch and rebuilds
    /// both indexes.
    fn rebuild(&mut self) -> Result<SegmentRecovery> {
        let [_, index_path, time_path] = segment_paths(
            self.path.parent().expect("segment has a directory"),
            self.base_offset,
        );
        self.offset_index = IndexFile::create(&index_path)?;
        self.time_index = IndexFile::create(&time_path)?;
        self.bytes_since_index_entry = 0;
        self.max_timestamp = -1;
        self.first_batch_timestamp = None;
        let file_size = self.size;
        let scan = self.scan(0, true)?;
        if let Some(reason) = &scan.corruption {
            tracing::warn!(
                segment = %self.path.display(),
                at = scan.valid_size,
                dropped = file_size - scan.valid_size,
                %reason,
                "truncating segment at first bad batch"
            );
            self.file.set_len(scan.valid_size).with_path(&self.path)?;
            self.file.sync_all().with_path(&self.path)?;
        }
        self.apply_scan(&scan);
        self.first_batch_timestamp = scan.first_batch_timestamp;
        self.offset_index.sync()?;
        self.time_index.sync()?;
        Ok(SegmentRecovery {
            truncated_bytes: file_size - scan.valid_size,
            rebuilt_indexes: true,
        })
    }

    fn apply_scan(&mut self, scan: &Scan) {
        self.size = scan.valid_size;
        if scan.next_offset > self.next_offset {
            self.next_offset = scan.next_offset;
        }
        self.max_timestamp = self.max_timestamp.max(scan.max_timestamp);
    }

    /// Index entries must increase strictly, stay inside the file and point at batches.
    fn indexes_look_sane(&self) -> bool {
        let oi = self.offset_index.entries();
        let increasing = oi
            .windows(2)
            .all(|w| w[0].relative_offset < w[1].relative_offset && w[0].position < w[1].position);
        let inside = oi
            .last()
            .is_none_or(|e| e.position as u64 + HEADER_LEN as u64 <= self.size);
        let ti = self.time_index.entries();
        let time_ok = ti.windows(2).all(|w| {
            w[0].timestamp <= w[1].timestamp && w[0].relative_offset <= w[1].relative_offset
        });
        if !(increasing && inside && time_ok) {
            return false;
        }
        // The last entry must point at a batch with exactly that base offset.
        match oi.last() {
            Some(e) => matches!(
                self.read_header(e.position as u64),
                Ok(Some(h)) if h.base_offset == self.base_offset + e.relative_offset as i64
            ),
            None => true,
        }
    }

    fn read_first_timestamp(&self) -> Result<Option<i64>> {
        Ok(self.read_header(0)?.map(|h| h.max_timestamp))
    }

    fn read_header(&self, position: u64) -> Result<Option<BatchHeader>> {
        if position + HEADER_LEN as u64 > self.size {
            return Ok(None);
        }
        let mut buf = [0u8; HEADER_LEN];
        self.file
            .read_exact_at(&mut buf, position)
            .with_path(&self.path)?;
        Ok(BatchHeader::parse(&buf).ok())
    }

    /// Walks batches from `start`. With `check_crc`, reads every batch whole and checks its CRC;
    /// otherwise reads headers only. Adds index entries as it goes when called from `rebuild`
    /// (the indexes are empty then) and stops at the first bad batch.
    fn scan(&mut self, start: u64, check_crc: bool) -> Result<Scan> {
        let file_size = self.size;
        let mut position = start;
        let mut scan = Scan {
            valid_size: start,
            next_offset: self.base_offset,
            max_timestamp: -1,
            first_batch_timestamp: None,
            corruption: None,
        };
        let mut buf = Vec::new();
        let mut expected_base = None::<i64>;
        while position < file_size {
            let remaining = file_size - position;
            if remaining < HEADER_LEN as u64 {
                scan.corruption = Some(format!("{remaining} trailing bytes, less than a header"));
                break;
            }
            let mut head = [0u8; HEADER_LEN];
            self.file
                .read_exact_at(&mut head, position)
                .with_path(&self.path)?;
            let header = match BatchHeader::parse(&head) {
                Ok(h) => h,
                Err(reason) => {
                    scan.corruption = Some(reason);
                    break;
                }
            };
            let total = header.total_len() as u64;
            if total > remaining {
                scan.corruption = Some(format!(
                    "batch at {position} claims {total} bytes, only {remaining} remain"
                ));
                break;
            }
            if header.base_offset < self.base_offset
                || expected_base.is_some_and(|e| header.base_offset < e)
                || header.last_offset() - self.base_offset > u32::MAX as i64
            {
                scan.corruption = Some(format!(
                    "batch at {position} has base offset {} out of sequence",
                    header.base_offset
                ));
                break;
            }
            if check_crc {
                buf.resize(total as usize, 0);
                self.file
                    .read_exact_at(&mut buf, position)
                    .with_path(&self.path)?;
                if let Err(reason) = check_batch(&buf) {
                    scan.corruption = Some(reason);
                    break;
                }
                // Rebuilding: the indexes were emptied, add entries as on append.
                self.maybe_index(&header, position)?;
            }
            if scan.first_batch_timestamp.is_none() && position == 0 {
                scan.first_batch_timestamp = Some(header.max_timestamp);
            }
            scan.max_timestamp = scan.max_timestamp.max(header.max_timestamp);
            scan.next_offset = header.last_offset() + 1;
            expected_base = Some(header.last_offset() + 1);
            position += total;
            scan.valid_size = position;
        }
        Ok(scan)
    }

    /// Adds index entries for a batch about to sit at `position`, Kafka-style: an offset entry
    /// once `index.interval.bytes` have passed since the last, and a time entry with it when
    /// the segment's max timestamp has grown.
    fn maybe_index(&mut self, header: &BatchHeader, position: u64) -> Result<()> {
        if self.bytes_since_index_entry >= self.index_interval || position == 0 {
            let relative_offset = (header.base_offset - self.base_offset) as u32;
            if position > 0 {
                self.offset_index.push(OffsetEntry {
                    relative_offset,
                    position: position as u32,
                })?;
            }
            let running_max = self.max_timestamp.max(header.max_timestamp);
            if self
                .time_index
                .last()
                .is_none_or(|e| running_max > e.timestamp)
            {
                self.time_index.push(TimeEntry {
                    timestamp: running_max,
                    relative_offset,
                })?;
            }
            self.bytes_since_index_entry = 0;
        }
        self.bytes_since_index_entry += header.total_len() as u64;
        self.max_timestamp = self.max_timestamp.max(header.max_timestamp);
        Ok(())
    }

    /// Appends already-stamped batches (one write). On a failed write the file is cut back to
    /// its previous size, so the segment stays consistent; if even that fails the error says
    /// so and the caller must stop writing.
    pub fn append(&mut self, bytes: &[u8], headers: &[(usize, BatchHeader)]) -> Result<()> {
        let start = self.size;
        if let Err(source) = self.file.write_all_at(bytes, start) {
            let cut = self.file.set_len(start);
            return Err(match cut {
                Ok(()) => Error::Io {
                    path: self.path.clone(),
                    source,
                },
                Err(_) => Error::CorruptLog {
                    path: self.path.clone(),
                    reason: format!(
                        "write failed ({source}) and the partial write could not be removed"
                    ),
                },
            });
        }
        for (at, header) in headers {
            self.maybe_index(header, start + *at as u64)?;
            if self.first_batch_timestamp.is_none() {
                self.first_batch_timestamp = Some(header.max_timestamp);
            }
            self.next_offset = header.last_offset() + 1;
        }
        self.size += bytes.len() as u64;
        Ok(())
    }

    /// Position to start scanning from for `offset`: the floor offset-index entry, if the batch
    /// header there has the entry's offset. An entry damaged on disk in a way the open's sanity
    /// check cannot see (a middle entry still in order) would otherwise start a read inside a
    /// batch, or past `offset` and silently skip records; such reads scan from the start.
    pub fn position_for_offset(&self, offset: i64) -> StartHint {
        let relative = (offset - self.base_offset).clamp(0, u32::MAX as i64) as u32;
        match floor(self.offset_index.entries(), relative, |e| e.relative_offset) {
            Some(i) => {
                let entry = self.offset_index.entries()[i];
                StartHint {
                    position: entry.position as u64,
                    base_offset: Some(self.base_offset + entry.relative_offset as i64),
                }
            }
            None => StartHint::trusted(0),
        }
    }

    /// Position to start scanning from for the first record with timestamp >= `timestamp`.
    pub fn position_for_timestamp(&self, timestamp: i64) -> StartHint {
        let entries = self.time_index.entries();
        // Entries hold the running max: those below the target can be skipped.
        let below = entries.partition_point(|e| e.timestamp < timestamp);
        match below.checked_sub(1) {
            Some(i) => {
                self.position_for_offset(self.base_offset + entries[i].relative_offset as i64)
            }
            None => StartHint::trusted(0),
        }
    }

    pub fn reader(&self) -> SegmentReader {
        SegmentReader {
            file: Arc::clone(&self.file),
            path: self.path.clone(),
            end: self.size,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// The segment's files (data, offset index, time index), to fsync outside the log's
    /// lock.
    pub fn files(&self) -> SegmentFiles {
        SegmentFiles {
            base_offset: self.base_offset,
            files: vec![
                (Arc::clone(&self.file), self.path.clone()),
                (
                    Arc::clone(self.offset_index.file()),
                    self.offset_index.path().to_path_buf(),
                ),
                (
                    Arc::clone(self.time_index.file()),
                    self.time_index.path().to_path_buf(),
                ),
            ],
        }
    }

    /// The data file alone: the active segment's indexes are rebuilt by crash recovery, so a
    /// flush of it need not fsync them.
    pub fn data_file(&self) -> SegmentFiles {
        SegmentFiles {
            base_offset: self.base_offset,
            files: vec![(Arc::clone(&self.file), self.path.clone())],
        }
    }

    /// Deletes the segment's files, the data file last: if that fails, the segment is still
    /// whole on disk (missing indexes are rebuilt at the next open).
    pub fn delete_files(&self) -> Result<()> {
        for path in [
            self.time_index.path(),
            self.offset_index.path(),
            self.path.as_path(),
        ] {
            match std::fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_path(path),
            }
        }
        Ok(())
    }
}

/// Handles on a segment's files, fsynced after the log's lock is released.
#[derive(Debug, Clone)]
pub(crate) struct SegmentFiles {
    pub base_offset: i64,
    files: Vec<(Arc<File>, PathBuf)>,
}

impl SegmentFiles {
    pub fn sync(&self) -> Result<()> {
        for (file, path) in &self.files {
            file.sync_data().with_path(path)?;
        }
        Ok(())
    }
}

/// A read handle on a segment's file: the bytes up to `end` are complete batches.
#[derive(Debug, Clone)]
pub(crate) struct SegmentReader {
    file: Arc<File>,
    path: PathBuf,
    end: u64,
}

/// Where an index lookup says to start scanning: a position and the base offset of the batch
/// that should start there. The reader checks the claim before trusting it, since an index
/// entry can be damaged in ways the open-time checks do not see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StartHint {
    pub position: u64,
    /// The base offset the index claims for the batch at `position`; `None` when the
    /// position comes from a batch just read, not from an index.
    pub base_offset: Option<i64>,
}

impl StartHint {
    /// A position known to start a batch.
    pub fn trusted(position: u64) -> Self {
        Self {
            position,
            base_offset: None,
        }
    }
}

/// Outcome of locating a batch in a segment.
pub(crate) enum Located {
    /// The batch holding (or first after) the offset starts here.
    At(u64),
    /// Every batch in the segment ends before the offset.
    PastEnd,
}

impl SegmentReader {
    fn corrupt(&self, reason: String) -> Error {
        Error::CorruptLog {
            path: self.path.clone(),
            reason,
        }
    }

    fn header_at(&self, position: u64) -> Result<BatchHeader> {
        let mut head = [0u8; HEADER_LEN];
        self.file
            .read_exact_at(&mut head, position)
            .with_path(&self.path)?;
        let header = BatchHeader::parse(&head)
            .map_err(|reason| self.corrupt(format!("at position {position}: {reason}")))?;
        if position + header.total_len() as u64 > self.end {
            return Err(self.corrupt(format!("batch at {position} runs past the segment end")));
        }
        Ok(header)
    }

    /// Finds, from `start`, the first batch whose last offset is >= `offset` (or, with
    /// `by_timestamp`, whose max timestamp is >= the given timestamp).
    pub fn locate(
        &self,
        start: StartHint,
        offset: i64,
        min_timestamp: Option<i64>,
    ) -> Result<Located> {
        let mut position = start.position;
        if let Some(claimed) = start.base_offset {
            let trusted = matches!(self.header_at(position), Ok(h) if h.base_offset == claimed);
            if !trusted {
                tracing::warn!(segment = %self.path.display(), ?start, "offset index entry does not point at its batch; scanning from the segment start");
                position = 0;
            }
        }
        while position + (LOG_OVERHEAD as u64) < self.end {
            let header = self.header_at(position)?;
            let hit = match min_timestamp {
                Some(ts) => header.max_timestamp >= ts,
                None => header.last_offset() >= offset,
            };
            if hit {
                return Ok(Located::At(position));
            }
            position += header.total_len() as u64;
        }
        Ok(Located::PastEnd)
    }

    /// Reads whole batches from `position`, up to `max_bytes` but always at least one batch,
    /// checking every batch's CRC: bytes that fail are never returned.
    pub fn read_batches(&self, position: u64, max_bytes: usize) -> Result<Vec<u8>> {
        self.read_batches_within(position, max_bytes, true)
    }

    /// As [`SegmentReader::read_batches`]; with `min_one` false, a first batch larger than
    /// `max_bytes` is not read at all (the result is empty) rather than returned whole.
    pub fn read_batches_within(
        &self,
        position: u64,
        max_bytes: usize,
        min_one: bool,
    ) -> Result<Vec<u8>> {
        let available = (self.end - position) as usize;
        let first = self.header_at(position)?;
        if !min_one && first.total_len() > max_bytes {
            return Ok(Vec::new());
        }
        let want = max_bytes.max(first.total_len()).min(available);
        let mut buf = vec![0u8; want];
        self.file
            .read_exact_at(&mut buf, position)
            .with_path(&self.path)?;
        let mut at = 0;
        while at + HEADER_LEN <= buf.len() {
            let header = BatchHeader::parse(&buf[at..])
                .map_err(|r| self.corrupt(format!("at position {}: {r}", position + at as u64)))?;
            if at + header.total_len() > buf.len() {
                break;
            }
            check_batch(&buf[at..])
                .map_err(|r| self.corrupt(format!("at position {}: {r}", position + at as u64)))?;
            at += header.total_len();
        }
        buf.truncate(at);
        Ok(buf)
    }

    /// Calls `f` with the header of every batch, in order (headers only, no CRC check).
    pub fn for_each_header(&self, mut f: impl FnMut(&BatchHeader)) -> Result<()> {
        self.scan_headers(|header, _| {
            f(header);
            Ok(())
        })
    }

    /// Like [`SegmentReader::for_each_header`], with each batch's position, and stopping at
    /// the first error `f` returns.
    pub fn scan_headers(&self, mut f: impl FnMut(&BatchHeader, u64) -> Result<()>) -> Result<()> {
        let mut position = 0;
        while position + (HEADER_LEN as u64) <= self.end {
            let header = self.header_at(position)?;
            f(&header, position)?;
            position += header.total_len() as u64;
        }
        Ok(())
    }

    /// Reads one whole batch at `position` (CRC-checked).
    pub fn read_one(&self, position: u64) -> Result<Vec<u8>> {
        let header = self.header_at(position)?;
        self.read_batches(position, header.total_len())
    }

    pub fn end(&self) -> u64 {
        self.end
    }
}
