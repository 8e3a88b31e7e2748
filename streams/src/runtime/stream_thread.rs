//! A stream thread: polls its consumer, opens and closes its tasks as the assignment changes
//! (restoring their stores), feeds them their input in order, sends their outputs through
//! the thread's one producer (its record collector), and commits.
//!
//! # Commit
//!
//! Every `commit_interval`, and when the app stops, a stream thread:
//! 1. has already sent every output and repartition record its tasks produced (sends happen
//!    after each polled batch); it flushes the producer, so they are durable;
//! 2. commits every store: its changelog is flushed (durable), then the local store, then
//!    its checkpoint (see `eddy_state::logged`);
//! 3. commits the input offsets: the next offset to process per partition.
//!
//! At-least-once, a crash anywhere before step 3 leaves the offsets of the previous commit,
//! so the records since then are processed again (outputs may repeat, nothing is lost);
//! state restored from the changelog includes at least everything up to the committed
//! offsets. Exactly-once ([`ProcessingGuarantee::ExactlyOnceV2`]), the thread's producer is
//! transactional: steps 1 and 2 write into its open transaction (no checkpoint), and step 3
//! ([`Producer::commit_offsets`]) adds the offsets to it and commits it, so all three become
//! visible to `read_committed` readers at once, or not at all.
//!
//! # Input order and rebalances (stream threads)
//!
//! Polled records wait in their task's [`TaskInput`], which hands them out oldest first
//! across the task's partitions and holds back while a partition may still have older
//! records on the broker (Kafka Streams' `PartitionGroup`). When the backend revokes
//! partitions ([`Consumer::revoking`]), the thread commits as above while it still owns
//! them, suspends their tasks and only then releases them; the next assignment resumes the
//! tasks it gives back and closes the others.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use eddy_state::memory::{MemoryKeyValueStore, MemorySegments};
use eddy_state::{
    ChangeloggedConfig, ChangeloggedSessionStore, ChangeloggedStore, ChangeloggedWindowStore,
    RestoreReport, Retention, RocksEnv, SegmentedSessionStore, SegmentedWindowStore,
};

use super::app::Shared_;
use super::backend::{Consumer, Member, Producer};
use super::config::{AppConfig, ProcessingGuarantee};
use super::plan::{Plan, changelog_topic};
use super::task_input::TaskInput;
use crate::error::{Error, Result};
use crate::partitioner::partition_for_key;
use crate::processor::StoreHandle;
use crate::record::SinkRecord;
use crate::task::{Task, TaskId};
use crate::topology::{StoreKind, StoreSpec, Topology};

/// A task with its stores' commit handles and its fetched, unprocessed input.
struct RunningTask {
    task: Task,
    commits: Vec<Box<dyn Fn() -> eddy_state::Result<i64> + Send>>,
    input: TaskInput,
    /// Committed and idle since its partitions were revoked: resumed if the next
    /// assignment gives them back, closed otherwise (Kafka Streams' eager protocol).
    suspended: bool,
}

pub(super) struct StreamThread {
    member: Member,
    /// The thread's record collector: its one producer, for sinks, repartition topics and
    /// every changelog of its tasks' stores (not a client per store).
    producer: Box<dyn Producer>,
    /// Makes a new producer when the thread recovers from lost tasks (a fenced
    /// transactional producer cannot go on).
    new_producer: ProducerFactory,
    /// Recoveries since the last successful commit: past [`MAX_RECOVERIES`] the thread
    /// stops with the error.
    recoveries: u32,
    topology: Arc<Topology>,
    config: AppConfig,
    plan: Arc<Plan>,
    shared: Arc<Shared_>,
    env: Option<Arc<RocksEnv>>,
    /// The global tables' stores, shared by every task.
    globals: HashMap<String, StoreHandle>,
    tasks: HashMap<TaskId, RunningTask>,
    /// Next offset to process per input partition.
    positions: HashMap<(String, i32), i64>,
    /// Partition counts of output topics.
    partitions: HashMap<String, i32>,
    round_robin: i32,
    /// What tasks closed so far had counted.
    closed_counters: crate::processor::TaskCounters,
}

/// Makes a stream thread's producer (transactional under exactly-once).
pub(super) type ProducerFactory = Box<dyn Fn() -> Result<Box<dyn Producer>> + Send>;

/// Consecutive recoveries from lost tasks without a commit in between before the thread
/// gives up: something is wrong beyond a rebalance or a fenced transaction.
const MAX_RECOVERIES: u32 = 5;

/// What every stream thread of an app shares.
pub(super) struct ThreadContext {
    pub topology: Arc<Topology>,
    pub config: AppConfig,
    pub plan: Arc<Plan>,
    pub shared: Arc<Shared_>,
    pub env: Option<Arc<RocksEnv>>,
    /// The global tables' stores, shared by every task.
    pub globals: HashMap<String, StoreHandle>,
}

impl StreamThread {
    /// A thread that will consume as `member` and produce (and keep its changelogs)
    /// through `producer`.
    pub(super) fn new(
        member: Member,
        producer: Box<dyn Producer>,
        new_producer: ProducerFactory,
        context: ThreadContext,
    ) -> Self {
        let ThreadContext {
            topology,
            config,
            plan,
            shared,
            env,
            globals,
        } = context;
        Self {
            member,
            producer,
            new_producer,
            recoveries: 0,
            topology,
            config,
            plan,
            shared,
            env,
            globals,
            tasks: HashMap::new(),
            positions: HashMap::new(),
            partitions: HashMap::new(),
            round_robin: 0,
            closed_counters: Default::default(),
        }
    }

    pub(super) fn run(mut self) -> Result<()> {
        let mut consumer = self.consumer()?;
        let mut reported = crate::processor::TaskCounters::default();
        loop {
            match self.process_until_stopped(&mut *consumer, &mut reported) {
                Ok(()) => break,
                Err(e) if e.is_task_migrated() && self.recoveries < MAX_RECOVERIES => {
                    self.recoveries += 1;
                    tracing::warn!(error = %e, recovery = self.recoveries,
                        "tasks lost; closing them without a commit and rejoining");
                    consumer = self.recover(consumer)?;
                }
                Err(e) => return Err(e),
            }
        }
        self.commit(&mut *consumer)?;
        self.report(&mut reported);
        self.close_all();
        Ok(())
    }

    fn consumer(&self) -> Result<Box<dyn Consumer>> {
        self.config.backend.consumer(
            &self.config.application_id,
            &self.plan.source_topics,
            self.member,
        )
    }

    /// After lost tasks: closes every task without committing (their stores, reopened,
    /// restore from the changelogs' committed records), drops the consumer (which leaves the
    /// group) and the producer (aborting what it had open), and starts again from the
    /// committed offsets with new ones.
    fn recover(&mut self, consumer: Box<dyn Consumer>) -> Result<Box<dyn Consumer>> {
        self.close_all();
        self.positions.clear();
        drop(consumer);
        self.producer = (self.new_producer)()?;
        self.consumer()
    }

    /// The poll loop, until the app stops (`Ok`) or something fails.
    fn process_until_stopped(
        &mut self,
        consumer: &mut dyn Consumer,
        reported: &mut crate::processor::TaskCounters,
    ) -> Result<()> {
        let mut last_commit = Instant::now();
        loop {
            if self.shared.stop.load(Ordering::SeqCst) {
                break;
            }
            let polled = consumer.poll(self.config.poll_timeout)?;
            let assignment = consumer.assignment();
            if !consumer.rebalancing() {
                self.sync_tasks(&assignment)?;
            }
            self.buffer(polled)?;
            // Before processing: the lag is what this poll left to do.
            self.report_lag(consumer, &assignment);
            self.process_buffered(consumer)?;
            let now = eddy_broker::now_ms();
            for running in self.tasks.values_mut().filter(|t| !t.suspended) {
                running.task.punctuate_wall_clock(now)?;
            }
            self.send_outputs()?;
            self.report(reported);
            let revoking = consumer.revoking();
            if !revoking.is_empty() {
                // Everything done so far becomes durable and committed while the partitions
                // are still ours; then they go.
                self.commit(consumer)?;
                last_commit = Instant::now();
                self.suspend_revoked(&revoking);
                consumer.release_revoked()?;
                continue;
            }
            if last_commit.elapsed() >= self.config.commit_interval {
                self.commit(consumer)?;
                last_commit = Instant::now();
            }
        }
        Ok(())
    }

    /// Buffers polled records in the input of the task that processes them.
    fn buffer(&mut self, polled: Vec<super::backend::Polled>) -> Result<()> {
        for batch in polled {
            let Some(&subtopology) = self.plan.topic_sub.get(&batch.topic) else {
                continue;
            };
            let id = TaskId {
                subtopology,
                partition: batch.partition,
            };
            let running = self.tasks.get_mut(&id).ok_or_else(|| {
                Error::NotRunning(format!(
                    "records for {}-{} but no task {id}",
                    batch.topic, batch.partition
                ))
            })?;
            running
                .input
                .push(&batch.topic, batch.partition, batch.records);
        }
        Ok(())
    }

    /// Processes what the tasks have buffered, oldest first across each task's partitions,
    /// as far as each may go without waiting (see [`TaskInput`]).
    fn process_buffered(&mut self, consumer: &dyn Consumer) -> Result<()> {
        let lag = |topic: &str, partition: i32| consumer.lag(topic, partition);
        for running in self.tasks.values_mut().filter(|t| !t.suspended) {
            while let Some((topic, partition, records)) =
                running
                    .input
                    .next_run(lag, Instant::now(), self.config.max_task_idle)
            {
                let Some(last) = records.last().map(|r| r.offset) else {
                    continue;
                };
                running.task.process(&topic, records)?;
                let position = self.positions.entry((topic, partition)).or_insert(0);
                *position = (*position).max(last + 1);
            }
        }
        Ok(())
    }

    /// Publishes this thread's lag: per assigned partition, records on the broker not yet
    /// fetched plus records fetched but not yet processed.
    fn report_lag(&self, consumer: &dyn Consumer, assignment: &[(String, i32)]) {
        let mut lags = self.shared.metrics.lag.lock();
        for (topic, partition) in assignment {
            let Some(fetched_lag) = consumer.lag(topic, *partition) else {
                continue;
            };
            let buffered = self
                .plan
                .topic_sub
                .get(topic)
                .and_then(|&subtopology| {
                    self.tasks.get(&TaskId {
                        subtopology,
                        partition: *partition,
                    })
                })
                .map_or(0, |t| t.input.buffered(topic, *partition));
            lags.insert((topic.clone(), *partition), fetched_lag + buffered as i64);
        }
    }

    /// Suspends the tasks reading any of `revoked` (after a commit): they drop their
    /// buffered input (the next owner fetches it again from the committed offsets) and do
    /// nothing until the next assignment resumes or closes them. Keeping their stores open
    /// lets a task that comes straight back skip a restore.
    fn suspend_revoked(&mut self, revoked: &[(String, i32)]) {
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
        let task_dir = self
            .config
            .state_dir
            .join(&self.config.application_id)
            .join(id.to_string());
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

    /// Adds what the tasks counted since the last report to the app's metrics. Closed tasks'
    /// counts stay in the total through `closed_counters`, so the total never goes back.
    fn report(&self, reported: &mut crate::processor::TaskCounters) {
        let mut total = self.closed_counters;
        for running in self.tasks.values() {
            total.add(running.task.counters());
        }
        let m = &self.shared.metrics;
        m.processed.fetch_add(
            total.processed.saturating_sub(reported.processed),
            Ordering::Relaxed,
        );
        m.late_dropped.fetch_add(
            total.late_dropped.saturating_sub(reported.late_dropped),
            Ordering::Relaxed,
        );
        m.skipped.fetch_add(
            total.skipped.saturating_sub(reported.skipped),
            Ordering::Relaxed,
        );
        *reported = total;
    }

    /// Opens tasks for newly assigned partitions and closes those no longer assigned.
    fn sync_tasks(&mut self, assignment: &[(String, i32)]) -> Result<()> {
        let mut wanted = BTreeSet::new();
        for (topic, partition) in assignment {
            if let Some(&sub) = self.plan.topic_sub.get(topic) {
                wanted.insert(TaskId {
                    subtopology: sub,
                    partition: *partition,
                });
            }
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
            match self.tasks.get_mut(&id) {
                Some(running) if running.suspended => {
                    tracing::info!(task = %id, "resuming a suspended task");
                    running.suspended = false;
                }
                Some(_) => continue,
                None => {
                    let running = self.open_task(id)?;
                    self.tasks.insert(id, running);
                }
            }
            let Some(running) = self.tasks.get_mut(&id) else {
                continue;
            };
            for (topic, partition) in assignment {
                if *partition == id.partition
                    && self.plan.topic_sub.get(topic) == Some(&id.subtopology)
                {
                    running.input.add_partition(topic, *partition);
                }
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

    fn open_task(&self, id: TaskId) -> Result<RunningTask> {
        let sub = &self.topology.subtopologies()[id.subtopology];
        let mut handles = HashMap::new();
        let mut commits: Vec<Box<dyn Fn() -> eddy_state::Result<i64> + Send>> = Vec::new();
        let task_dir = self
            .config
            .state_dir
            .join(&self.config.application_id)
            .join(id.to_string());
        for name in &sub.stores {
            let spec = self
                .topology
                .store(name)
                .ok_or_else(|| Error::topology(format!("no store {name:?}")))?;
            let (handle, commit, report) =
                self.open_store(spec, &task_dir.join(name), id.partition)?;
            tracing::info!(task = %id, store = %name, records = report.records, kind = ?report.kind, "store restored");
            self.shared
                .metrics
                .restored_records
                .fetch_add(report.records, Ordering::Relaxed);
            handles.insert(name.clone(), handle);
            commits.push(commit);
        }
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
            commits,
            input: TaskInput::default(),
            suspended: false,
        })
    }

    #[allow(clippy::type_complexity)]
    fn open_store(
        &self,
        spec: &StoreSpec,
        dir: &std::path::Path,
        partition: i32,
    ) -> Result<(
        StoreHandle,
        Box<dyn Fn() -> eddy_state::Result<i64> + Send>,
        RestoreReport,
    )> {
        let changelog = self.producer.changelog(
            &changelog_topic(&self.config.application_id, &spec.name),
            partition,
        )?;
        let config = ChangeloggedConfig {
            cache_budget: Some(Arc::clone(&self.shared.cache_budget)),
            checkpoint_on_commit: self.config.processing_guarantee
                == ProcessingGuarantee::AtLeastOnce,
            ..ChangeloggedConfig::default()
        };
        let name = spec.name.clone();
        let env = self.env.clone();
        Ok(match spec.kind {
            StoreKind::KeyValue => {
                let (store, report) =
                    ChangeloggedStore::open(dir, &name, changelog, &config, |d| match &env {
                        Some(env) => env.open_kv(d, &name),
                        None => Ok(Arc::new(MemoryKeyValueStore::new(&name))),
                    })?;
                let store = Arc::new(store);
                let c = store.clone();
                (
                    StoreHandle::KeyValue(store),
                    Box::new(move || c.commit()),
                    report,
                )
            }
            StoreKind::Window { retention_ms } => {
                let retention = Retention::new(retention_ms)?;
                let (store, report) =
                    ChangeloggedWindowStore::open(dir, &name, changelog, &config, |d| {
                        Ok(Arc::new(match &env {
                            Some(env) => env.open_window_store(d, &name, retention)?,
                            None => SegmentedWindowStore::open(
                                Arc::new(MemorySegments::new(&name)),
                                retention,
                            )?,
                        }))
                    })?;
                let store = Arc::new(store);
                let c = store.clone();
                (
                    StoreHandle::Window(store),
                    Box::new(move || c.commit()),
                    report,
                )
            }
            StoreKind::Session { retention_ms } => {
                let retention = Retention::new(retention_ms)?;
                let (store, report) =
                    ChangeloggedSessionStore::open(dir, &name, changelog, &config, |d| {
                        Ok(Arc::new(match &env {
                            Some(env) => env.open_session_store(d, &name, retention)?,
                            None => SegmentedSessionStore::open(
                                Arc::new(MemorySegments::new(&name)),
                                retention,
                            )?,
                        }))
                    })?;
                let store = Arc::new(store);
                let c = store.clone();
                (
                    StoreHandle::Session(store),
                    Box::new(move || c.commit()),
                    report,
                )
            }
        })
    }

    /// Sends what the tasks produced, partitioned by key with Kafka's partitioner.
    fn send_outputs(&mut self) -> Result<()> {
        let mut by_partition: HashMap<(std::sync::Arc<str>, i32), Vec<SinkRecord>> = HashMap::new();
        let ids: Vec<TaskId> = self.tasks.keys().copied().collect();
        for id in ids {
            let output = self
                .tasks
                .get_mut(&id)
                .map(|t| t.task.take_output())
                .unwrap_or_default();
            for record in output {
                let partitions = match self.partitions.get(&*record.topic) {
                    Some(&n) => n,
                    None => {
                        let n = self.config.backend.partitions(&record.topic)?.ok_or_else(|| {
                            Error::Config(format!(
                                "output topic {:?} does not exist on the {} backend; create it first",
                                record.topic,
                                self.config.backend.name()
                            ))
                        })?;
                        self.partitions.insert(record.topic.to_string(), n);
                        n
                    }
                };
                let partition = match (record.partition, &record.key) {
                    (Some(p), _) => p,
                    (None, Some(key)) => partition_for_key(key, partitions),
                    (None, None) => {
                        self.round_robin = (self.round_robin + 1) % partitions;
                        self.round_robin
                    }
                };
                by_partition
                    .entry((record.topic.clone(), partition))
                    .or_default()
                    .push(record);
            }
        }
        for ((topic, partition), records) in by_partition {
            let sent = records.len() as u64;
            self.producer.send(&topic, partition, records)?;
            let mut produced = self.shared.metrics.produced.lock();
            match produced.get_mut(&*topic) {
                Some(count) => *count += sent,
                None => {
                    produced.insert(topic.to_string(), sent);
                }
            }
        }
        Ok(())
    }

    fn commit(&mut self, consumer: &mut dyn Consumer) -> Result<()> {
        let started = Instant::now();
        // Suspended tasks were committed when they were suspended and have done nothing
        // since; committing them again could checkpoint changelog records their partition's
        // new owner has written meanwhile.
        for running in self.tasks.values_mut().filter(|t| !t.suspended) {
            running.task.flush()?;
        }
        self.send_outputs()?;
        self.producer.flush()?;
        for running in self.tasks.values().filter(|t| !t.suspended) {
            for commit in &running.commits {
                commit()?;
            }
        }
        let offsets: Vec<(String, i32, i64)> = self
            .positions
            .iter()
            .map(|((t, p), o)| (t.clone(), *p, *o))
            .collect();
        // At-least-once: a flush and the consumer's commit; exactly-once: the offsets go in
        // the thread's transaction, which commits outputs, changelogs and offsets at once.
        self.producer.commit_offsets(&offsets, consumer)?;
        self.recoveries = 0;
        let micros = started.elapsed().as_micros() as u64;
        let m = &self.shared.metrics;
        m.commits.fetch_add(1, Ordering::Relaxed);
        m.commit_micros_total.fetch_add(micros, Ordering::Relaxed);
        m.commit_micros_max.fetch_max(micros, Ordering::Relaxed);
        Ok(())
    }

    fn close_all(&mut self) {
        let ids: Vec<TaskId> = self.tasks.keys().copied().collect();
        for id in ids {
            self.unregister(id);
        }
        self.tasks.clear();
    }
}
