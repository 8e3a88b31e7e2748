//! Tasks in their restoring state: a task's stores are opened as restores
//! ([`eddy_state::Restoring`]) and replayed a batch at a time between the stream thread's
//! polls, while the thread keeps the task's input partitions paused; once every store is
//! complete the task starts running (Kafka Streams' `RESTORING` task state and its state
//! updater, done on the stream thread).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use eddy_state::memory::{MemoryKeyValueStore, MemorySegments};
use eddy_state::{
    Changelog, ChangeloggedConfig, ChangeloggedSessionStore, ChangeloggedStore,
    ChangeloggedWindowStore, RestoreReport, Restoring, Retention, RocksEnv, SegmentedSessionStore,
    SegmentedWindowStore,
};

use super::task_input::TaskInput;
use crate::error::{Error, Result};
use crate::processor::StoreHandle;
use crate::task::TaskId;
use crate::topology::{StoreKind, StoreSpec, Topology};

/// Commits one of a task's stores; `true` also writes its checkpoint when exactly-once
/// would not (see `eddy_state::ChangeloggedStore::checkpoint`).
pub(super) type StoreCommit = Box<dyn Fn(bool) -> eddy_state::Result<i64> + Send>;

/// A restored store: what the task reads and writes, and how the thread commits it.
pub(super) struct OpenStore {
    pub name: String,
    pub handle: StoreHandle,
    pub commit: StoreCommit,
}

/// A task whose stores are being restored; records polled for it meanwhile wait in
/// `input`.
pub(super) struct RestoringTask {
    pub id: TaskId,
    restoring: Vec<Restoring<OpenStore>>,
    restored: Vec<(OpenStore, RestoreReport)>,
    pub input: TaskInput,
}

/// How a thread opens its tasks' stores.
pub(super) struct StoreOpener<'a> {
    pub topology: &'a Topology,
    pub state_dir: &'a Path,
    pub config: ChangeloggedConfig,
    pub env: Option<&'a Arc<RocksEnv>>,
}

impl StoreOpener<'_> {
    /// Opens task `id`'s stores as restores (each store's engine open and its checkpoint
    /// decided; nothing replayed yet), each over the changelog `changelog` gives for it.
    pub(super) fn open_task(
        &self,
        id: TaskId,
        changelog: impl Fn(&StoreSpec) -> Result<Arc<dyn Changelog>>,
    ) -> Result<RestoringTask> {
        let task_dir = self.state_dir.join(id.to_string());
        let mut restoring = Vec::new();
        for name in &self.topology.subtopologies()[id.subtopology].stores {
            let spec = self
                .topology
                .store(name)
                .ok_or_else(|| Error::topology(format!("no store {name:?}")))?;
            restoring.push(self.open_store(spec, &task_dir.join(name), changelog(spec)?)?);
        }
        Ok(RestoringTask {
            id,
            restoring,
            restored: Vec::new(),
            input: TaskInput::default(),
        })
    }

    fn open_store(
        &self,
        spec: &StoreSpec,
        dir: &Path,
        changelog: Arc<dyn Changelog>,
    ) -> Result<Restoring<OpenStore>> {
        let name = spec.name.clone();
        let config = &self.config;
        let env = self.env;
        Ok(match spec.kind {
            StoreKind::KeyValue => {
                ChangeloggedStore::restoring(dir, &name, changelog, config, |d| match env {
                    Some(env) => env.open_kv(d, &name),
                    None => Ok(Arc::new(MemoryKeyValueStore::new(&name))),
                })?
                .map(move |store| opened(name, store, |s| StoreHandle::KeyValue(s)))
            }
            StoreKind::Window { retention_ms } => {
                let retention = Retention::new(retention_ms)?;
                ChangeloggedWindowStore::restoring(dir, &name, changelog, config, |d| {
                    Ok(Arc::new(match env {
                        Some(env) => env.open_window_store(d, &name, retention)?,
                        None => SegmentedWindowStore::open(
                            Arc::new(MemorySegments::new(&name)),
                            retention,
                        )?,
                    }))
                })?
                .map(move |store| opened(name, store, |s| StoreHandle::Window(s)))
            }
            StoreKind::Session { retention_ms } => {
                let retention = Retention::new(retention_ms)?;
                ChangeloggedSessionStore::restoring(dir, &name, changelog, config, |d| {
                    Ok(Arc::new(match env {
                        Some(env) => env.open_session_store(d, &name, retention)?,
                        None => SegmentedSessionStore::open(
                            Arc::new(MemorySegments::new(&name)),
                            retention,
                        )?,
                    }))
                })?
                .map(move |store| opened(name, store, |s| StoreHandle::Session(s)))
            }
        })
    }
}

/// The changelogged stores' commits, whatever their kind.
trait Committed: Send + Sync + 'static {
    fn commit(&self) -> eddy_state::Result<i64>;
    fn checkpoint(&self) -> eddy_state::Result<i64>;
}

macro_rules! committed {
    ($($store:ty),*) => {$(
        impl Committed for $store {
            fn commit(&self) -> eddy_state::Result<i64> {
                <$store>::commit(self)
            }
            fn checkpoint(&self) -> eddy_state::Result<i64> {
                <$store>::checkpoint(self)
            }
        }
    )*};
}
committed!(
    ChangeloggedStore,
    ChangeloggedWindowStore,
    ChangeloggedSessionStore
);

/// A restored store as its task uses it.
fn opened<S: Committed>(
    name: String,
    store: S,
    handle: impl FnOnce(Arc<S>) -> StoreHandle,
) -> OpenStore {
    let store = Arc::new(store);
    let committed = Arc::clone(&store);
    OpenStore {
        name,
        handle: handle(store),
        commit: Box::new(move |checkpoint| {
            if checkpoint {
                committed.checkpoint()
            } else {
                committed.commit()
            }
        }),
    }
}

impl RestoringTask {
    /// Replays batches of `batch` records into its stores, round-robin: one per store at
    /// least, then more until every store is complete or `deadline` passes; returns the
    /// records replayed.
    pub(super) fn step(&mut self, batch: usize, deadline: Instant) -> Result<u64> {
        let mut replayed = 0;
        while !self.restoring.is_empty() {
            for store in &mut self.restoring {
                let before = store.records();
                store.step(batch)?;
                replayed += store.records() - before;
            }
            self.finish_complete()?;
            if Instant::now() >= deadline {
                break;
            }
        }
        Ok(replayed)
    }

    /// Whether every store is restored.
    pub(super) fn is_complete(&self) -> bool {
        self.restoring.is_empty()
    }

    /// Changelog records its stores still have to replay (an upper bound).
    pub(super) fn remaining(&self) -> i64 {
        self.restoring.iter().map(Restoring::remaining).sum()
    }

    /// Finishes the stores whose replay is complete (flush, checkpoint).
    fn finish_complete(&mut self) -> Result<()> {
        let mut i = 0;
        while i < self.restoring.len() {
            if self.restoring[i].is_complete() {
                let done = self.restoring.swap_remove(i);
                self.restored.push(done.finish()?);
            } else {
                i += 1;
            }
        }
        Ok(())
    }

    /// The restored stores, once [`RestoringTask::is_complete`], with their reports.
    pub(super) fn into_restored(self) -> (Vec<(OpenStore, RestoreReport)>, TaskInput) {
        debug_assert!(self.restoring.is_empty());
        (self.restored, self.input)
    }

    /// Gives the task up before its restore completed (its partitions went elsewhere, or
    /// the app stops): each store half-way is checkpointed where it stopped, so that a
    /// later open here goes on from there.
    pub(super) fn abandon(self) {
        for store in self.restoring {
            let name = store.store().to_string();
            if let Err(error) = store.abandon() {
                tracing::warn!(task = %self.id, store = %name, %error,
                    "checkpointing an abandoned restore failed; the next open restores in full");
            }
        }
    }
}

/// Time a thread spends restoring between two polls, at most.
pub(super) const RESTORE_SLICE: Duration = Duration::from_millis(100);

/// The stores by name, for [`crate::task::Task::new`].
pub(super) fn handles(stores: &[(OpenStore, RestoreReport)]) -> HashMap<String, StoreHandle> {
    stores
        .iter()
        .map(|(s, _)| (s.name.clone(), s.handle.clone()))
        .collect()
}
