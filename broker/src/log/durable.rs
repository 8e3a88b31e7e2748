//! Making a partition's files durable: the flush that fsyncs what was written (rolled
//! segments first) without holding the log's lock, the recovery point it moves, and atomic
//! writes of the small files beside the segments.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{IoContext, Result};

use super::segment::SegmentFiles;

/// Every segment below the one starting at this offset is on disk (fsynced); recovery after a
/// crash checks the segments from here on (Kafka's recovery-point-offset-checkpoint).
pub(super) const RECOVERY_POINT_FILE: &str = "recovery-point";

/// What one flush must fsync, captured under the lock and run without it.
pub(crate) struct FlushPlan {
    /// Everything below this offset is on disk once the plan has run.
    pub target: i64,
    pub(super) dir: PathBuf,
    pub(super) active: SegmentFiles,
    pub(super) rolled: Vec<SegmentFiles>,
    pub(super) recovery_point_write: Arc<parking_lot::Mutex<()>>,
}

impl FlushPlan {
    /// Fsyncs the rolled segments, then the active one; if any segment had rolled, the
    /// directory (the new segments' entries) and the recovery point follow. Returns the
    /// rolled segments synced, for [`Log::mark_synced`].
    pub fn run(self) -> Result<Vec<i64>> {
        for segment in &self.rolled {
            segment.sync()?;
        }
        self.active.sync()?;
        if !self.rolled.is_empty() {
            // The new segments' directory entries: without them, what the active segment
            // holds is not durable however often it is fsynced.
            sync_dir(&self.dir)?;
            let _one_writer = self.recovery_point_write.lock();
            if let Err(e) = write_atomically(
                &self.dir.join(RECOVERY_POINT_FILE),
                self.active.base_offset.to_string().as_bytes(),
            ) {
                // Everything is on disk; only the record of it is not. Recovery after a
                // crash will check more segments than it needs to; the next flush retries.
                tracing::warn!(dir = %self.dir.display(), error = %e,
                    "cannot move the recovery point; the rolled segments stay listed");
                return Ok(Vec::new());
            }
        }
        Ok(self.rolled.iter().map(|s| s.base_offset).collect())
    }
}

/// An offset kept in a small file of the partition directory; `None` if there is none.
pub(super) fn read_offset_file(dir: &Path, name: &str) -> Result<Option<i64>> {
    let path = dir.join(name);
    match fs::read_to_string(&path) {
        Ok(text) => Ok(text.trim().parse().ok()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_path(path),
    }
}

/// Writes a small file so that a crash leaves either the old or the new contents: a temporary
/// file, fsync, rename over the target, fsync of the directory.
pub(crate) fn write_atomically(path: &Path, contents: &[u8]) -> Result<()> {
    use std::io::Write;
    let tmp = PathBuf::from(format!("{}.tmp", path.display()));
    let mut file = fs::File::create(&tmp).with_path(&tmp)?;
    file.write_all(contents).with_path(&tmp)?;
    file.sync_all().with_path(&tmp)?;
    fs::rename(&tmp, path).with_path(path)?;
    sync_dir(path.parent().expect("file has a directory"))
}

/// Makes a directory's entries (created, renamed, deleted files) durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_path(dir)
}
