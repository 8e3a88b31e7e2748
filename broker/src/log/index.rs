//! Sparse per-segment indexes, as in Kafka: the offset index maps a relative offset to the file
//! position of the batch holding it; the time index maps a timestamp to the first offset whose
//! batch may hold records at or after it. Both are append-only files of fixed-size big-endian
//! entries, mirrored in memory for lookups, and rebuilt from the segment when they fail a check.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{IoContext, Result};

/// One fixed-size index entry type.
pub(crate) trait Entry: Copy {
    const SIZE: usize;
    fn encode(&self, out: &mut Vec<u8>);
    fn decode(bytes: &[u8]) -> Self;
}

/// Offset index entry: (offset relative to the segment base, byte position in the segment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OffsetEntry {
    pub relative_offset: u32,
    pub position: u32,
}

impl Entry for OffsetEntry {
    const SIZE: usize = 8;
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.relative_offset.to_be_bytes());
        out.extend_from_slice(&self.position.to_be_bytes());
    }
    fn decode(b: &[u8]) -> Self {
        Self {
            relative_offset: u32::from_be_bytes(b[0..4].try_into().expect("4 bytes")),
            position: u32::from_be_bytes(b[4..8].try_into().expect("4 bytes")),
        }
    }
}

/// Time index entry: (largest timestamp seen so far in the segment, relative offset of the
/// batch that raised it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeEntry {
    pub timestamp: i64,
    pub relative_offset: u32,
}

impl Entry for TimeEntry {
    const SIZE: usize = 12;
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.relative_offset.to_be_bytes());
    }
    fn decode(b: &[u8]) -> Self {
        Self {
            timestamp: i64::from_be_bytes(b[0..8].try_into().expect("8 bytes")),
            relative_offset: u32::from_be_bytes(b[8..12].try_into().expect("4 bytes")),
        }
    }
}

/// An index file and its entries in memory.
#[derive(Debug)]
pub(crate) struct IndexFile<E: Entry> {
    path: PathBuf,
    /// Shared so that a rolled segment's index can be fsynced outside the log's lock.
    file: Arc<File>,
    entries: Vec<E>,
    scratch: Vec<u8>,
}

impl<E: Entry> IndexFile<E> {
    /// Creates (or empties) the index file.
    pub fn create(path: &Path) -> Result<Self> {
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .write(true)
            .truncate(true)
            .open(path)
            .with_path(path)?;
        Ok(Self {
            path: path.to_path_buf(),
            file: Arc::new(file),
            entries: Vec::new(),
            scratch: Vec::new(),
        })
    }

    /// Loads an existing index. Returns `Ok(None)` if the file is missing or its length is not
    /// a whole number of entries, meaning it must be rebuilt.
    pub fn load(path: &Path) -> Result<Option<Self>> {
        let mut file = match OpenOptions::new().read(true).append(true).open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_path(path),
        };
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).with_path(path)?;
        if bytes.len() % E::SIZE != 0 {
            return Ok(None);
        }
        let entries = bytes.chunks_exact(E::SIZE).map(E::decode).collect();
        Ok(Some(Self {
            path: path.to_path_buf(),
            file: Arc::new(file),
            entries,
            scratch: Vec::new(),
        }))
    }

    pub fn entries(&self) -> &[E] {
        &self.entries
    }

    pub fn last(&self) -> Option<&E> {
        self.entries.last()
    }

    /// Appends one entry to memory and to the file.
    pub fn push(&mut self, entry: E) -> Result<()> {
        self.scratch.clear();
        entry.encode(&mut self.scratch);
        (&*self.file)
            .write_all(&self.scratch)
            .with_path(&self.path)?;
        self.entries.push(entry);
        Ok(())
    }

    pub fn sync(&self) -> Result<()> {
        self.file.sync_data().with_path(&self.path)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file, to fsync without holding the segment.
    pub fn file(&self) -> &Arc<File> {
        &self.file
    }
}

/// Largest entry index `i` with `key(entries[i]) <= target`, by binary search.
pub(crate) fn floor<E, K: Ord>(entries: &[E], target: K, key: impl Fn(&E) -> K) -> Option<usize> {
    let n = entries.partition_point(|e| key(e) <= target);
    n.checked_sub(1)
}
