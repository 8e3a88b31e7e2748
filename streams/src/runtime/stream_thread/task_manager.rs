//! A stream thread's task manager: the transitions of its tasks between their states, as
//! Kafka Streams' `TaskManager` makes them, kept apart from the poll loop ([`super`]).
//!
//! A task is *restoring* from its assignment until its stores have replayed their
//! changelogs ([`super::restoring`]): its input partitions are paused, and between polls
//! (which then do not wait) the thread replays batches for up to [`RESTORE_SLICE`], so a long
//! restore keeps the consumer polling (within `max.poll.interval.ms`) and the thread's
//! other tasks processing. It is then *running*; *suspended* once its partitions are
//! revoked and committed (kept open in case they come back); *closed* when they do not, or
//! when the thread stops. A restoring task given up checkpoints its stores where their
//! restore stopped. A task lost without a revocation (its member expelled) is closed
//! without a commit and its checkpoints deleted.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use eddy_state::ChangeloggedConfig;

use super::StreamThread;
use crate::error::Result;
use crate::runtime::backend::Consumer;
use crate::runtime::config::ProcessingGuarantee;
use crate::runtime::plan::changelog_topic;
use crate::runtime::restoring::{self, RESTORE_SLICE, RestoringTask, StoreCommit, StoreOpener};
use crate::runtime::task_input::TaskInput;
use crate::task::{Task, TaskId};

/// A task with its stores' commit handles and its fetched, unprocessed input.
pub(super) struct RunningTask {
    pub(super) task: Task,
    pub(super) commits: Vec<StoreCommit>,
    pub(super) input: TaskInput,
    /// Committed and idle since its partitions were revoked: resumed if the next
    /// assignment gives them back, closed otherwise (Kafka Streams' eager protocol).
    pub(super) suspended: bool,
}

impl StreamThread {
    /// Suspends the tasks reading any of `revoked` (after a commit): they drop their
    /// buffered input (the next owner fetches it again from the committed offsets) and do
    /// nothing until the next assignment resumes or closes them. Keeping their stores open
    /// lets a task that comes straight back skip a restore.
    pub(super) fn suspend_revoked(&mut self, revoked: &[(String, i32)]) {
        let mut lags = self.shared.metrics.lag.lock();
        for (topic, partition) in revoked {
            lags.remove(&(topic.clone(), *partition));
            let Some(&subtopology) = self.plan.topic_sub.get(topic) else {
                continue;
            };
            let id = TaskId {
                subtopology,
                partition: *partition,
            };
            if let Some(running) = self.tasks.get_mut(&id) {
                running.suspended = true;
                running.input = TaskInput::default();
            }
            // A restoring task is given up, checkpointed where its restore stopped.
            if let Some(restoring) = self.restoring.remove(&id) {
                restoring.abandon();
            }
        }
    }

    /// Drops what the thread keeps about a closed task: its stores in the registry, its
    /// input positions and lag.
    fn forget(&mut self, id: TaskId) {
        self.unregister(id);
        let of_task = |t: &String, p: &i32| {
            self.plan.topic_sub.get(t) == Some(&id.subtopology) && *p == id.partition
        };
        self.positions.retain(|(t, p), _| !of_task(t, p));
        self.shared
            .metrics
            .lag
            .lock()
            .retain(|(t, p), _| !of_task(t, p));
    }

    /// Deletes the checkpoint of each store of task `id`.
    fn drop_checkpoints(&self, id: TaskId) {
        let task_dir = self.config.local_state_dir().join(id.to_string());
        for store in &self.topology.subtopologies()[id.subtopology].stores {
            let checkpoint = task_dir
                .join(store)
                .join(eddy_state::checkpoint::CHECKPOINT_FILE);
            if let Err(error) = std::fs::remove_file(&checkpoint)
                && error.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(path = %checkpoint.display(), %error, "removing a checkpoint failed");
            }
        }
    }

    /// Opens tasks for newly assigned partitions and closes those no longer assigned.
    pub(super) fn sync_tasks(&mut self, assignment: &[(String, i32)]) -> Result<()> {
        let mut wanted = BTreeSet::new();
        for (topic, partition) in assignment {
            if let Some(&sub) = self.plan.topic_sub.get(topic) {
                wanted.insert(TaskId {
                    subtopology: sub,
                    partition: *partition,
                });
            }
        }
        let gone: Vec<TaskId> = self
            .restoring
            .keys()
            .filter(|id| !wanted.contains(id))
            .copied()
            .collect();
        for id in gone {
            // Nothing of a restoring task is uncommitted: its restore is checkpointed.
            tracing::info!(task = %id, "giving up a task before its restore completed");
            if let Some(restoring) = self.restoring.remove(&id) {
                restoring.abandon();
            }
            self.forget(id);
        }
        let revoked: Vec<TaskId> = self
            .tasks
            .keys()
            .filter(|id| !wanted.contains(id))
            .copied()
            .collect();
        for id in revoked {
            let Some(running) = self.tasks.remove(&id) else {
                continue;
            };
            self.closed_counters.add(running.task.counters());
            if running.suspended {
                // Revoked, committed when suspended, and not given back: just close.
                tracing::info!(task = %id, "closing a task whose partitions went to another member");
            } else {
                // Lost without a revocation (the member was expelled from the group): the
                // partitions may already be another member's, so nothing is committed, and
                // the stores' checkpoints go so that a later owner here restores in full
                // rather than trust local state with uncommitted writes.
                tracing::warn!(task = %id, "closing a lost task without a commit");
                drop(running);
                self.drop_checkpoints(id);
            }
            self.forget(id);
        }
        for id in wanted {
            if let Some(running) = self.tasks.get_mut(&id) {
                if !running.suspended {
                    continue;
                }
                tracing::info!(task = %id, "resuming a suspended task");
                running.suspended = false;
            } else if self.restoring.contains_key(&id) {
                continue;
            } else {
                let restoring = self.open_task(id)?;
                self.restoring.insert(id, restoring);
            }
            let input = match (self.tasks.get_mut(&id), self.restoring.get_mut(&id)) {
                (Some(running), _) => &mut running.input,
                (None, Some(restoring)) => &mut restoring.input,
                (None, None) => continue,
            };
            for (topic, partition) in assignment {
                if *partition == id.partition
                    && self.plan.topic_sub.get(topic) == Some(&id.subtopology)
                {
                    input.add_partition(topic, *partition);
                }
            }
        }
        Ok(())
    }

    /// Steps the restoring tasks, their input partitions paused meanwhile: every task
    /// replays at least one batch per store (so none waits for another's restore), and
    /// more until [`RESTORE_SLICE`] has passed. Tasks whose stores are complete start
    /// running and their partitions resume.
    pub(super) fn restore_some(
        &mut self,
        consumer: &mut dyn Consumer,
        assignment: &[(String, i32)],
    ) -> Result<()> {
        if self.restoring.is_empty() {
            return Ok(());
        }
        let partitions_of = |id: TaskId| -> Vec<(String, i32)> {
            assignment
                .iter()
                .filter(|(t, p)| {
                    *p == id.partition && self.plan.topic_sub.get(t) == Some(&id.subtopology)
                })
                .cloned()
                .collect()
        };
        // Paused again every time: a rebalance may have handed them back unpaused.
        let paused: Vec<(String, i32)> = self
            .restoring
            .keys()
            .flat_map(|&id| partitions_of(id))
            .collect();
        consumer.pause(&paused)?;
        let deadline = Instant::now() + RESTORE_SLICE;
        let batch = ChangeloggedConfig::default().restore_batch;
        let ids: Vec<TaskId> = self.restoring.keys().copied().collect();
        for id in ids {
            let Some(restoring) = self.restoring.get_mut(&id) else {
                continue;
            };
            let replayed = restoring.step(batch, deadline)?;
            self.shared
                .metrics
                .restored_records
                .fetch_add(replayed, Ordering::Relaxed);
            if restoring.is_complete() {
                let restoring = self.restoring.remove(&id).expect("present");
                let running = self.start_running(restoring)?;
                self.tasks.insert(id, running);
                consumer.resume(&partitions_of(id))?;
            } else {
                tracing::debug!(task = %id, remaining = restoring.remaining(), "restoring");
            }
        }
        Ok(())
    }

    fn unregister(&self, id: TaskId) {
        let sub = &self.topology.subtopologies()[id.subtopology];
        let mut stores = self.shared.stores.write();
        for store in &sub.stores {
            stores.remove(&(store.clone(), id.partition));
        }
    }

    /// Opens task `id` in its restoring state: its stores open, their restores decided.
    fn open_task(&self, id: TaskId) -> Result<RestoringTask> {
        let opener = StoreOpener {
            topology: &self.topology,
            state_dir: &self.config.local_state_dir(),
            config: ChangeloggedConfig {
                cache_budget: Some(Arc::clone(&self.shared.cache_budget)),
                checkpoint_on_commit: self.config.processing_guarantee
                    == ProcessingGuarantee::AtLeastOnce,
                ..ChangeloggedConfig::default()
            },
            env: self.env.as_ref(),
        };
        opener.open_task(id, |spec| {
            self.producer.changelog(
                &changelog_topic(&self.config.application_id, &spec.name),
                id.partition,
            )
        })
    }

    /// A task whose stores are restored, running: its processors built over them, its
    /// stores open to interactive queries.
    fn start_running(&self, restoring: RestoringTask) -> Result<RunningTask> {
        let id = restoring.id;
        let (stores, input) = restoring.into_restored();
        for (_, report) in &stores {
            tracing::info!(task = %id, store = %report.store, records = report.records,
                kind = ?report.kind, elapsed_ms = report.elapsed.as_millis() as u64, "store restored");
        }
        let handles = restoring::handles(&stores);
        let mut with_globals = handles.clone();
        with_globals.extend(self.globals.iter().map(|(k, v)| (k.clone(), v.clone())));
        let mut task = Task::new(
            &self.topology,
            id,
            &self.config.application_id,
            with_globals,
        )?;
        task.set_record_cache(Arc::clone(&self.shared.cache_budget));
        let mut registry = self.shared.stores.write();
        for (name, handle) in handles {
            registry.insert((name, id.partition), handle);
        }
        Ok(RunningTask {
            task,
            commits: stores.into_iter().map(|(store, _)| store.commit).collect(),
            input,
            suspended: false,
        })
    }

    pub(super) fn close_all(&mut self) {
        let ids: Vec<TaskId> = self.tasks.keys().copied().collect();
        for id in ids {
            self.unregister(id);
        }
        self.tasks.clear();
        for (_, restoring) in self.restoring.drain() {
            restoring.abandon();
        }
    }
}
