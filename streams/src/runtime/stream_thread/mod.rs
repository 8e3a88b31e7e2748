//! A stream thread: polls its consumer, opens and closes its tasks as the assignment changes
//! (restoring their stores), feeds them their input in order, sends their outputs through
//! the thread's one producer (its record collector), and commits.
//!
//! # Task states
//!
//! Restoring, running, suspended, closed: the transitions are in [`task_manager`].
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

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use eddy_state::RocksEnv;

use super::app::Shared_;
use super::backend::{Consumer, Member, Producer};
use super::config::{AppConfig, ProcessingGuarantee};
use super::plan::Plan;
use super::restoring::RestoringTask;
use task_manager::RunningTask;

mod task_manager;
use crate::error::{Error, Result};
use crate::partitioner::partition_for_key;
use crate::processor::StoreHandle;
use crate::record::SinkRecord;
use crate::task::TaskId;
use crate::topology::Topology;

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
    /// Running (or suspended) tasks.
    tasks: HashMap<TaskId, RunningTask>,
    /// Tasks whose stores are being restored, their input partitions paused.
    restoring: HashMap<TaskId, RestoringTask>,
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
            restoring: HashMap::new(),
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
        self.checkpoint_committed(|_| true)?;
        self.report(&mut reported);
        self.close_all();
        Ok(())
    }

    /// Exactly-once, right after a commit: writes the checkpoints of the stores of the
    /// tasks `which` picks. Their changelog records are committed now, so a later open here
    /// replays only what follows instead of the whole changelog (at-least-once, every commit
    /// writes them already). Kafka Streams (before KIP-892) does the same at a clean close.
    fn checkpoint_committed(&self, which: impl Fn(&RunningTask) -> bool) -> Result<()> {
        if self.config.processing_guarantee != ProcessingGuarantee::ExactlyOnceV2 {
            return Ok(());
        }
        for running in self.tasks.values().filter(|t| which(t)) {
            for commit in &running.commits {
                commit(true)?;
            }
        }
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
            // While tasks restore, polls do not wait: the restore goes on between them.
            let timeout = if self.restoring.is_empty() {
                self.config.poll_timeout
            } else {
                Duration::ZERO
            };
            let polled = consumer.poll(timeout)?;
            let assignment = consumer.assignment();
            if !consumer.rebalancing() {
                self.sync_tasks(&assignment)?;
            }
            self.buffer(polled)?;
            self.restore_some(consumer, &assignment)?;
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
                self.checkpoint_committed(|t| t.suspended)?;
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
            let input = match (self.tasks.get_mut(&id), self.restoring.get_mut(&id)) {
                (Some(running), _) => &mut running.input,
                // Fetched before its partitions were paused: kept for when it runs.
                (None, Some(restoring)) => &mut restoring.input,
                (None, None) => {
                    return Err(Error::NotRunning(format!(
                        "records for {}-{} but no task {id}",
                        batch.topic, batch.partition
                    )));
                }
            };
            input.push(&batch.topic, batch.partition, batch.records);
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
                    let id = TaskId {
                        subtopology,
                        partition: *partition,
                    };
                    match (self.tasks.get(&id), self.restoring.get(&id)) {
                        (Some(running), _) => Some(&running.input),
                        (None, Some(restoring)) => Some(&restoring.input),
                        (None, None) => None,
                    }
                })
                .map_or(0, |input| input.buffered(topic, *partition));
            lags.insert((topic.clone(), *partition), fetched_lag + buffered as i64);
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
                commit(false)?;
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
}
