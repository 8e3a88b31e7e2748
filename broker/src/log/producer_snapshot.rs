//! Producer-state snapshot files: `<offset, 20 digits>.snapshot` in a partition directory,
//! each holding the idempotent-producer state as of that offset (every batch below it
//! applied), in the layout of [`ProducerStates::encode_snapshot`]. See
//! [`super::producer_state`] for when they are taken and used.
//!
//! A snapshot is written to `<name>.tmp` and renamed into place, without an fsync: taking one
//! must not wait for the disk while the log's write lock is held. After a crash a snapshot may
//! therefore be missing, empty, torn, or ahead of what survived of the log; all of these are
//! detected at open (checksum, offset above the log end) and the snapshot is dropped. The
//! newest [`KEPT_SNAPSHOTS`] are kept, so that a bad newest one has an older one to fall back
//! on; ones below the first segment are useless (the batches after them cannot be replayed)
//! and are deleted.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::producer_state::ProducerStates;
use super::segment::file_stem;
use crate::error::{Error, IoContext, Result};

/// File name suffix of a snapshot.
pub(crate) const SNAPSHOT_SUFFIX: &str = ".snapshot";

/// Snapshots kept per partition: the newest and two to fall back on.
pub(crate) const KEPT_SNAPSHOTS: usize = 3;

/// The snapshot file of the state as of `offset`.
pub(crate) fn snapshot_path(dir: &Path, offset: i64) -> PathBuf {
    dir.join(format!("{}{SNAPSHOT_SUFFIX}", file_stem(offset)))
}

/// The snapshot files of one partition directory, by offset.
#[derive(Debug, Default)]
pub(crate) struct ProducerSnapshots {
    offsets: BTreeSet<i64>,
}

impl ProducerSnapshots {
    /// Finds the snapshot files in `dir`.
    pub fn list(dir: &Path) -> Result<Self> {
        let mut offsets = BTreeSet::new();
        for entry in fs::read_dir(dir).with_path(dir)? {
            let path = entry.with_path(dir)?.path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if let Some(Ok(offset)) = name.strip_suffix(SNAPSHOT_SUFFIX).map(str::parse::<i64>)
                && offset >= 0
            {
                offsets.insert(offset);
            }
        }
        Ok(Self { offsets })
    }

    /// Loads the newest valid snapshot with `first <= offset <= end` (`first`: the first
    /// segment's base offset, `end`: the log end offset), deleting the snapshots outside that
    /// range and the invalid ones met on the way. `None` if there is none.
    pub fn load(
        &mut self,
        dir: &Path,
        first: i64,
        end: i64,
    ) -> Result<Option<(i64, ProducerStates)>> {
        let above_end: Vec<i64> = self.offsets.range(end + 1..).copied().collect();
        let below_first: Vec<i64> = self.offsets.range(..first).copied().collect();
        for &offset in above_end.iter().chain(&below_first) {
            self.delete(dir, offset)?;
        }
        if !above_end.is_empty() {
            // The log was cut below them and will grow again past them with other batches: a
            // deletion lost in a crash would bring back a state that is no longer the log's.
            super::sync_dir(dir)?;
        }
        while let Some(offset) = self.offsets.last().copied() {
            match read(dir, offset) {
                Ok(states) => return Ok(Some((offset, states))),
                Err(e @ Error::CorruptLog { .. }) => {
                    tracing::warn!(error = %e, "ignoring and deleting a bad producer-state snapshot");
                    self.delete(dir, offset)?;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "ignoring an unreadable producer-state snapshot");
                    self.offsets.remove(&offset);
                }
            }
        }
        Ok(None)
    }

    /// Writes `states` as of `offset` (not fsynced), then deletes all but the newest
    /// [`KEPT_SNAPSHOTS`] and those below `first` (the first segment's base offset).
    pub fn write(
        &mut self,
        dir: &Path,
        offset: i64,
        states: &ProducerStates,
        first: i64,
    ) -> Result<()> {
        let path = snapshot_path(dir, offset);
        let tmp = PathBuf::from(format!("{}.tmp", path.display()));
        let bytes = states.encode_snapshot(offset);
        let written = fs::File::create(&tmp)
            .and_then(|mut file| file.write_all(&bytes))
            .with_path(&tmp)
            .and_then(|()| fs::rename(&tmp, &path).with_path(&path));
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        self.offsets.insert(offset);
        let doomed: Vec<i64> = self
            .offsets
            .iter()
            .rev()
            .enumerate()
            .filter(|&(i, &o)| i >= KEPT_SNAPSHOTS || o < first)
            .map(|(_, &o)| o)
            .collect();
        for offset in doomed {
            self.delete(dir, offset)?;
        }
        Ok(())
    }

    fn delete(&mut self, dir: &Path, offset: i64) -> Result<()> {
        self.offsets.remove(&offset);
        let path = snapshot_path(dir, offset);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).with_path(path),
        }
    }
}

/// Reads and checks one snapshot file; a bad one is [`Error::CorruptLog`].
fn read(dir: &Path, offset: i64) -> Result<ProducerStates> {
    let path = snapshot_path(dir, offset);
    let bytes = fs::read(&path).with_path(&path)?;
    let corrupt = |reason: String| Error::CorruptLog {
        path: path.clone(),
        reason: format!("producer-state snapshot: {reason}"),
    };
    let (at, states) = ProducerStates::decode_snapshot(&bytes).map_err(corrupt)?;
    if at != offset {
        return Err(corrupt(format!(
            "holds the state as of offset {at}, not {offset} as its name says"
        )));
    }
    Ok(states)
}
