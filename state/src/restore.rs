//! A changelogged store's restore, one batch at a time: [`Restoring`] is a store that is
//! open, its checkpoint decided (see [`crate::logged`]), and its changelog being replayed
//! into the engine. A stream thread steps it between polls, so that a long restore neither
//! stalls the thread's other tasks nor keeps it from polling (Kafka Streams' restoring
//! task state); [`Restoring::finish`] completes it and gives the store.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use crate::changelog::Changelog;
use crate::checkpoint::{Checkpoint, CheckpointFile};
use crate::error::{Error, Result};
use crate::kv::KeyValueStore;
use crate::logged::{ChangeloggedConfig, RestoreKind, RestoreReport};

/// What a completed restore hands to the store built over it.
pub(crate) struct Restored {
    pub name: String,
    pub dir: PathBuf,
    pub changelog: Arc<dyn Changelog>,
    pub engine: Arc<dyn KeyValueStore>,
    pub file: CheckpointFile,
    /// The changelog offset the engine reflects, and whose checkpoint is on disk.
    pub end: i64,
    pub config: ChangeloggedConfig,
}

/// A store being restored from its changelog; `T` is the store it becomes.
pub struct Restoring<T> {
    parts: Restored,
    kind: RestoreKind,
    from: i64,
    /// Next changelog offset to replay; the restore is complete at `parts.end`.
    position: i64,
    records: u64,
    started: Instant,
    last_report: Instant,
    build: Box<dyn FnOnce(Restored) -> T + Send>,
}

impl<T> std::fmt::Debug for Restoring<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Restoring")
            .field("store", &self.parts.name)
            .field("changelog", &self.parts.changelog.name())
            .field("position", &self.position)
            .field("end", &self.parts.end)
            .finish_non_exhaustive()
    }
}

impl<T> Restoring<T> {
    /// A restore of `parts.engine` replaying `[from, parts.end)`, whose checkpoint file is
    /// already gone; `build` makes the store once it is complete.
    pub(crate) fn new(
        parts: Restored,
        kind: RestoreKind,
        from: i64,
        started: Instant,
        build: Box<dyn FnOnce(Restored) -> T + Send>,
    ) -> Self {
        Self {
            parts,
            kind,
            from,
            position: from,
            records: 0,
            started,
            last_report: started,
            build,
        }
    }

    /// The store's name.
    pub fn store(&self) -> &str {
        &self.parts.name
    }

    /// Changelog records still to replay (an upper bound: compaction and transaction
    /// markers leave gaps).
    pub fn remaining(&self) -> i64 {
        (self.parts.end - self.position).max(0)
    }

    /// Records replayed so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Whether every record to restore has been replayed.
    pub fn is_complete(&self) -> bool {
        self.position >= self.parts.end
    }

    /// Replays the next batch (up to `max` records, one changelog read); returns whether
    /// the restore is complete.
    pub fn step(&mut self, max: usize) -> Result<bool> {
        if self.is_complete() {
            return Ok(true);
        }
        let (name, changelog, end) = (&self.parts.name, &self.parts.changelog, self.parts.end);
        let batch = changelog.read(self.position, max.max(1))?;
        if batch.is_empty() {
            // Nothing more below the end (compaction, markers, or a shorter log).
            self.position = end;
            return Ok(true);
        }
        let mut changes = Vec::with_capacity(batch.len());
        for record in batch {
            if record.offset < self.position {
                return Err(Error::Changelog {
                    store: name.clone(),
                    message: format!(
                        "changelog {} returned offset {} when reading from {}",
                        changelog.name(),
                        record.offset,
                        self.position
                    ),
                });
            }
            if record.offset >= end {
                self.position = end;
                break;
            }
            self.position = record.offset + 1;
            changes.push((record.key, record.value));
        }
        self.records += changes.len() as u64;
        self.parts.engine.restore_batch(&changes)?;
        if self.last_report.elapsed() >= self.parts.config.progress_interval {
            self.last_report = Instant::now();
            let secs = self.started.elapsed().as_secs_f64().max(1e-9);
            tracing::info!(
                store = name.as_str(),
                records = self.records,
                position = self.position,
                end,
                records_per_sec = (self.records as f64 / secs) as u64,
                "restoring"
            );
        }
        Ok(self.is_complete())
    }

    /// Completes the restore (the records left, if any), flushes the engine, writes the
    /// checkpoint at the end and gives the store.
    pub fn finish(mut self) -> Result<(T, RestoreReport)> {
        let batch = self.parts.config.restore_batch;
        while !self.step(batch)? {}
        self.parts.engine.flush()?;
        self.parts.file.write(&Checkpoint {
            store: self.parts.name.clone(),
            changelog: self.parts.changelog.name().to_owned(),
            offset: self.parts.end,
        })?;
        let report = RestoreReport {
            store: self.parts.name.clone(),
            kind: self.kind,
            from_offset: self.from,
            to_offset: self.parts.end,
            records: self.records,
            elapsed: self.started.elapsed(),
        };
        tracing::info!(
            store = report.store.as_str(),
            records = report.records,
            records_per_sec = report.records_per_sec() as u64,
            elapsed_ms = report.elapsed.as_millis() as u64,
            "store restored"
        );
        Ok(((self.build)(self.parts), report))
    }

    /// Stops the restore half-way (its task went elsewhere before it completed): flushes
    /// what was replayed and writes the checkpoint there, so a later open here goes on from
    /// that offset instead of restoring in full. Valid because the engine now holds exactly
    /// the changelog's records below the position (and under exactly-once, the end was the
    /// last stable offset, so all of them are committed).
    pub fn abandon(self) -> Result<()> {
        self.parts.engine.flush()?;
        self.parts.file.write(&Checkpoint {
            store: self.parts.name.clone(),
            changelog: self.parts.changelog.name().to_owned(),
            offset: self.position,
        })?;
        tracing::info!(
            store = self.parts.name.as_str(),
            position = self.position,
            end = self.parts.end,
            "restore abandoned; checkpointed where it stopped"
        );
        Ok(())
    }

    /// The same restore, becoming `f` of the store it would have become.
    pub fn map<U>(self, f: impl FnOnce(T) -> U + Send + 'static) -> Restoring<U>
    where
        T: 'static,
    {
        let build = self.build;
        Restoring {
            parts: self.parts,
            kind: self.kind,
            from: self.from,
            position: self.position,
            records: self.records,
            started: self.started,
            last_report: self.last_report,
            build: Box::new(move |parts| f(build(parts))),
        }
    }
}
