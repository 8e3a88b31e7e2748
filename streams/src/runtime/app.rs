//! [`App`]: runs a topology on stream threads over a [`Backend`], with state stores backed
//! by changelog topics, at-least-once commits, interactive queries and metrics.
//!
//! # Commit (at-least-once)
//!
//! Every `commit_interval`, and when the app stops, a stream thread:
//! 1. has already sent every output and repartition record its tasks produced (sends happen
//!    after each polled batch); it flushes the producer, so they are durable;
//! 2. commits every store: its changelog is flushed (durable), then the local store, then
//!    its checkpoint (see `eddy_state::logged`);
//! 3. commits the input offsets: the next offset to process per partition.
//!
//! A crash anywhere before step 3 leaves the offsets of the previous commit, so the records
//! since then are processed again (outputs may repeat, nothing is lost); state restored from
//! the changelog includes at least everything up to the committed offsets. Exactly-once
//! would make steps 1-3 one atomic write (Kafka transactions: outputs, changelogs and
//! offsets in one transaction); the order above is the one such a commit needs, but it is
//! not built.
//!
//! # Input order and rebalances (stream threads)
//!
//! Polled records wait in their task's [`TaskInput`], which hands them out oldest first
//! across the task's partitions and holds back while a partition may still have older
//! records on the broker (Kafka Streams' `PartitionGroup`). When the backend revokes
//! partitions ([`Consumer::revoking`]), the thread commits as above while it still owns
//! them, suspends their tasks and only then releases them; the next assignment resumes the
//! tasks it gives back and closes the others.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use eddy_state::memory::{MemoryKeyValueStore, MemorySegments};
use eddy_state::typed::{TypedKeyValueStore, TypedWindowStore};
use eddy_state::{
    ChangeloggedConfig, ChangeloggedSessionStore, ChangeloggedStore, ChangeloggedWindowStore,
    RestoreReport, Retention, RocksConfig, RocksEnv, SegmentedSessionStore, SegmentedWindowStore,
};
use parking_lot::{Mutex, RwLock};

use super::backend::{Backend, Consumer, Member, OffsetReset, Producer, TopicKind};
use super::task_input::TaskInput;
use crate::error::{Error, Result};
use crate::partitioner::partition_for_key;
use crate::processor::StoreHandle;
use crate::record::SinkRecord;
use crate::serdes::{SerdeRef, Shared};
use crate::task::{Task, TaskId};
use crate::topology::{StoreKind, StoreSpec, TopicName, Topology};

/// Which engine holds stores locally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StoreEngine {
    /// RocksDB under the state directory (default): state survives restarts locally and only
    /// the changelog tail after the checkpoint is replayed.
    #[default]
    RocksDb,
    /// In memory: restored in full from the changelog at every start.
    Memory,
}

/// Kafka Streams' `processing.guarantee`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProcessingGuarantee {
    /// Every input record is processed at least once; after a crash, the records since the
    /// last commit are processed again and their outputs written twice (the default).
    #[default]
    AtLeastOnce,
    /// `exactly_once_v2`: each stream thread's outputs, changelog records and input offsets
    /// commit in one transaction of its producer, and inputs and changelogs are read
    /// `read_committed`, so after a crash the committed output equals a crash-free run's.
    /// Stores are restored from their changelogs at every start (no checkpoints are written
    /// while transactions may abort). On both backends.
    ExactlyOnceV2,
}

/// How an [`App`] runs.
#[derive(Clone)]
pub struct AppConfig {
    /// The application id: consumer group, and prefix of internal topics.
    pub application_id: String,
    /// Where it runs.
    pub backend: Arc<dyn Backend>,
    /// Stream threads (default 1).
    pub threads: usize,
    /// How often offsets, outputs and stores are committed (default 1 s).
    pub commit_interval: Duration,
    /// Where stores live: `<state_dir>/<application id>/<task>/<store>`.
    pub state_dir: PathBuf,
    /// Memory for all RocksDB stores of the app: block cache and memtables (default 256 MiB).
    pub memory_budget_bytes: usize,
    /// Bound of each store's write cache and each aggregation's record cache, bytes, per
    /// task (default 10 MiB; 0 turns both off).
    pub cache_max_bytes: usize,
    /// Store engine (default RocksDB).
    pub store_engine: StoreEngine,
    /// Longest a poll waits for records (default 100 ms).
    pub poll_timeout: Duration,
    /// Longest a task reading several partitions waits for one that is empty but not caught
    /// up (records on the broker not fetched yet, or its lag not known yet) before it
    /// processes the others anyway (default 1 s; zero: never wait). Kafka Streams'
    /// `max.task.idle.ms`, except that Kafka's 0 still waits for partitions known to have
    /// unfetched records, without a bound.
    pub max_task_idle: Duration,
    /// Where input topics are read from when the application has no committed offset
    /// (default earliest; internal topics are always read from the start).
    pub auto_offset_reset: OffsetReset,
    /// At-least-once (default) or exactly-once processing.
    pub processing_guarantee: ProcessingGuarantee,
}

impl std::fmt::Debug for AppConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppConfig")
            .field("application_id", &self.application_id)
            .field("backend", &self.backend.name())
            .field("threads", &self.threads)
            .field("commit_interval", &self.commit_interval)
            .field("state_dir", &self.state_dir)
            .finish_non_exhaustive()
    }
}

impl AppConfig {
    /// Defaults for an application on a backend.
    pub fn new(application_id: &str, backend: Arc<dyn Backend>) -> Self {
        Self {
            application_id: application_id.to_string(),
            backend,
            threads: 1,
            commit_interval: Duration::from_secs(1),
            state_dir: std::env::temp_dir().join("eddy-streams"),
            memory_budget_bytes: 256 << 20,
            cache_max_bytes: 10 << 20,
            store_engine: StoreEngine::RocksDb,
            poll_timeout: Duration::from_millis(100),
            max_task_idle: Duration::from_secs(1),
            auto_offset_reset: OffsetReset::Earliest,
            processing_guarantee: ProcessingGuarantee::AtLeastOnce,
        }
    }

    fn validate(&self) -> Result<()> {
        if self.application_id.is_empty()
            || !self
                .application_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            return Err(Error::Config(format!(
                "application id {:?} must be non-empty and use only letters, digits, '.', '_' and '-' \
                 (it names topics)",
                self.application_id
            )));
        }
        if self.threads == 0 {
            return Err(Error::Config("threads must be at least 1".into()));
        }
        Ok(())
    }
}

/// A topology to run, with its configuration.
pub struct App {
    topology: Arc<Topology>,
    config: AppConfig,
}

/// Counters of a running app, summed over its threads.
#[derive(Debug, Default)]
struct Metrics {
    processed: AtomicU64,
    late_dropped: AtomicU64,
    skipped: AtomicU64,
    commits: AtomicU64,
    commit_micros_total: AtomicU64,
    commit_micros_max: AtomicU64,
    restored_records: AtomicU64,
    lag: Mutex<HashMap<(String, i32), i64>>,
    /// Records sent, by output topic (sinks and repartition topics).
    produced: Mutex<HashMap<String, u64>>,
}

/// A snapshot of an app's metrics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricsSnapshot {
    /// Records read from input topics.
    pub processed: u64,
    /// Records dropped as late (their window had closed).
    pub late_dropped: u64,
    /// Records skipped as undecodable or with invalid timestamps.
    pub skipped: u64,
    /// Commits done.
    pub commits: u64,
    /// Mean commit latency.
    pub commit_latency_avg: Duration,
    /// Longest commit.
    pub commit_latency_max: Duration,
    /// Changelog records replayed into stores at task start.
    pub restored_records: u64,
    /// Records in input partitions not yet processed, summed (as of the last poll).
    pub lag: i64,
    /// Records processed per second since the app started.
    pub processed_per_sec: f64,
    /// Records sent to each output topic (sinks and repartition topics) since the app
    /// started.
    pub produced: BTreeMap<String, u64>,
}

struct Shared_ {
    stop: AtomicBool,
    metrics: Metrics,
    stores: RwLock<HashMap<(String, i32), StoreHandle>>,
    failure: Mutex<Option<String>>,
    started: Instant,
}

/// A running app: stop it, query its stores, read its metrics.
pub struct RunningApp {
    shared: Arc<Shared_>,
    threads: Vec<JoinHandle<Result<()>>>,
    topology: Arc<Topology>,
    config: AppConfig,
}

impl std::fmt::Debug for RunningApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningApp").finish_non_exhaustive()
    }
}

impl App {
    /// An app for `topology`.
    pub fn new(topology: Topology, config: AppConfig) -> Self {
        Self {
            topology: Arc::new(topology),
            config,
        }
    }

    /// Creates internal topics, checks co-partitioning, and starts the stream threads.
    ///
    /// It blocks while it talks to the broker: call it from a plain thread, not from inside
    /// an async runtime (use `tokio::task::spawn_blocking` there).
    pub fn start(self) -> Result<RunningApp> {
        self.config.validate()?;
        let plan = Arc::new(Plan::new(&self.topology, &self.config)?);
        let shared = Arc::new(Shared_ {
            stop: AtomicBool::new(false),
            metrics: Metrics::default(),
            stores: RwLock::new(HashMap::new()),
            failure: Mutex::new(None),
            started: Instant::now(),
        });
        let env = match self.config.store_engine {
            StoreEngine::RocksDb => Some(Arc::new(RocksEnv::new(RocksConfig {
                memory_budget_bytes: self.config.memory_budget_bytes,
                ..RocksConfig::default()
            })?)),
            StoreEngine::Memory => None,
        };
        let mut threads = Vec::new();
        let globals = self.start_globals(env.as_deref(), &shared, &mut threads)?;
        let exactly_once = self.config.processing_guarantee == ProcessingGuarantee::ExactlyOnceV2;
        let process_id = if exactly_once {
            Some(process_id(&self.config)?)
        } else {
            None
        };
        for index in 0..self.config.threads {
            let backend = &self.config.backend;
            let producer = match &process_id {
                // One transactional id per thread of this instance, stable across its
                // restarts: a restarted thread fences its earlier self and aborts what that
                // left open.
                Some(process) => backend.transactional_producer(&format!(
                    "{}-{process}-{index}",
                    self.config.application_id
                ))?,
                None => backend.producer()?,
            };
            let thread = StreamThread {
                producer,
                member: Member {
                    index,
                    count: self.config.threads,
                    reset: self.config.auto_offset_reset,
                    read_committed: exactly_once,
                },
                topology: self.topology.clone(),
                config: self.config.clone(),
                plan: plan.clone(),
                shared: shared.clone(),
                env: env.clone(),
                globals: globals.clone(),
                tasks: HashMap::new(),
                positions: HashMap::new(),
                partitions: HashMap::new(),
                round_robin: 0,
                closed_counters: Default::default(),
            };
            let name = format!("{}-StreamThread-{index}", self.config.application_id);
            let handle = supervised(name, shared.clone(), move || thread.run());
            match handle {
                Ok(handle) => threads.push(handle),
                Err(e) => {
                    // Stop the threads already started before reporting.
                    shared.stop.store(true, Ordering::SeqCst);
                    return Err(e);
                }
            }
        }
        Ok(RunningApp {
            shared,
            threads,
            topology: self.topology,
            config: self.config,
        })
    }
}

impl App {
    /// Opens the global tables' stores (empty), reads each global topic up to its current
    /// end, and starts one thread that keeps them up to date. Stream threads start after, so
    /// joins see the whole table as of start-up.
    fn start_globals(
        &self,
        env: Option<&RocksEnv>,
        shared: &Arc<Shared_>,
        threads: &mut Vec<JoinHandle<Result<()>>>,
    ) -> Result<HashMap<String, StoreHandle>> {
        let mut handles = HashMap::new();
        let mut readers = Vec::new();
        for spec in self.topology.global_stores() {
            let topic = spec.global_topic.clone().unwrap_or_default();
            let store: Arc<dyn eddy_state::KeyValueStore> = match env {
                Some(env) => {
                    // The topic is the changelog: rebuild from it at every start.
                    let dir = self
                        .config
                        .state_dir
                        .join(&self.config.application_id)
                        .join("global")
                        .join(&spec.name);
                    if dir.exists() {
                        std::fs::remove_dir_all(&dir).map_err(|source| Error::Io {
                            path: dir.clone(),
                            source,
                        })?;
                    }
                    std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
                        path: dir.clone(),
                        source,
                    })?;
                    env.open_kv(&dir, &spec.name)?
                }
                None => Arc::new(MemoryKeyValueStore::new(&spec.name)),
            };
            let backend = &self.config.backend;
            let mut reader = backend.reader(&topic)?;
            let ends = global_topic_ends(backend.as_ref(), &topic)?;
            let deadline = Instant::now() + Duration::from_secs(300);
            let mut restored = 0u64;
            // Caught up once the reader's position reaches each partition's end as of the
            // start: positions step past transaction markers and compaction gaps, which the
            // last record's offset does not.
            let behind = |reader: &dyn Consumer| {
                ends.iter().enumerate().any(|(p, &end)| {
                    end > 0 && reader.position(&topic, p as i32).is_none_or(|at| at < end)
                })
            };
            while behind(reader.as_ref()) {
                if Instant::now() > deadline {
                    return Err(Error::NotRunning(format!(
                        "reading global table topic {topic} to its end ({ends:?}) took over 300 s"
                    )));
                }
                for batch in reader.poll(self.config.poll_timeout)? {
                    crate::ops::join::apply_global(&*store, &batch.records)?;
                    restored += batch.records.len() as u64;
                }
            }
            tracing::info!(store = %spec.name, %topic, records = restored, "global table loaded");
            shared
                .metrics
                .restored_records
                .fetch_add(restored, Ordering::Relaxed);
            shared.stores.write().insert(
                (spec.name.clone(), -1),
                StoreHandle::KeyValue(store.clone()),
            );
            handles.insert(spec.name.clone(), StoreHandle::KeyValue(store.clone()));
            readers.push((reader, store));
        }
        if readers.is_empty() {
            return Ok(handles);
        }
        let timeout = self.config.poll_timeout;
        let name = format!("{}-GlobalStreamThread", self.config.application_id);
        let stop = shared.clone();
        let handle = supervised(name, shared.clone(), move || {
            while !stop.stop.load(Ordering::SeqCst) {
                for (reader, store) in &mut readers {
                    for batch in reader.poll(timeout)? {
                        crate::ops::join::apply_global(&**store, &batch.records)?;
                    }
                }
            }
            Ok(())
        })?;
        threads.push(handle);
        Ok(handles)
    }
}

/// Starts thread `name` running `body`. If it fails, or panics, the failure is recorded
/// and every thread of the app is told to stop, so `RunningApp::is_running` and `failure`
/// see it.
fn supervised(
    name: String,
    shared: Arc<Shared_>,
    body: impl FnOnce() -> Result<()> + Send + 'static,
) -> Result<JoinHandle<Result<()>>> {
    std::thread::Builder::new()
        .name(name.clone())
        .spawn(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body))
                .unwrap_or_else(|panic| {
                    let message = panic
                        .downcast_ref::<&str>()
                        .map(|m| m.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "a panic".to_string());
                    Err(Error::NotRunning(format!("{name} panicked: {message}")))
                });
            if let Err(e) = &result {
                tracing::error!(thread = %name, error = %e, "thread failed");
                shared.failure.lock().get_or_insert_with(|| e.to_string());
                shared.stop.store(true, Ordering::SeqCst);
            }
            result
        })
        .map_err(|source| Error::Io {
            path: "a stream thread".into(),
            source,
        })
}

impl RunningApp {
    /// Whether every thread is still running (a failed thread stops the app).
    pub fn is_running(&self) -> bool {
        !self.shared.stop.load(Ordering::SeqCst)
    }

    /// The first thread failure, if any.
    pub fn failure(&self) -> Option<String> {
        self.shared.failure.lock().clone()
    }

    /// Stops the threads after a final commit, and waits for them.
    pub fn stop(mut self) -> Result<()> {
        self.join_all()
    }

    /// Stops as [`RunningApp::stop`] does and gives the app back, to start again later:
    /// its offsets are committed and its stores' state stays on disk, so it resumes where
    /// it stopped (ksqlDB's `PAUSE`, then `RESUME`).
    pub fn into_stopped(mut self) -> Result<App> {
        self.join_all()?;
        Ok(App {
            topology: self.topology.clone(),
            config: self.config.clone(),
        })
    }

    fn join_all(&mut self) -> Result<()> {
        self.shared.stop.store(true, Ordering::SeqCst);
        let mut first = None;
        for thread in self.threads.drain(..) {
            match thread.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    first.get_or_insert(e);
                }
                Err(_) => {
                    first.get_or_insert(Error::NotRunning("a stream thread panicked".into()));
                }
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// A snapshot of the metrics.
    pub fn metrics(&self) -> MetricsSnapshot {
        let m = &self.shared.metrics;
        let commits = m.commits.load(Ordering::Relaxed);
        let processed = m.processed.load(Ordering::Relaxed);
        let secs = self.shared.started.elapsed().as_secs_f64();
        MetricsSnapshot {
            processed,
            late_dropped: m.late_dropped.load(Ordering::Relaxed),
            skipped: m.skipped.load(Ordering::Relaxed),
            commits,
            commit_latency_avg: Duration::from_micros(
                m.commit_micros_total.load(Ordering::Relaxed) / commits.max(1),
            ),
            commit_latency_max: Duration::from_micros(m.commit_micros_max.load(Ordering::Relaxed)),
            restored_records: m.restored_records.load(Ordering::Relaxed),
            lag: m.lag.lock().values().sum(),
            processed_per_sec: if secs > 0.0 {
                processed as f64 / secs
            } else {
                0.0
            },
            produced: m
                .produced
                .lock()
                .iter()
                .map(|(t, n)| (t.clone(), *n))
                .collect(),
        }
    }

    /// The metrics in Prometheus' text format.
    pub fn metrics_text(&self) -> String {
        let m = self.metrics();
        format!(
            "# TYPE eddy_streams_records_processed_total counter\neddy_streams_records_processed_total {}\n\
             # TYPE eddy_streams_records_late_dropped_total counter\neddy_streams_records_late_dropped_total {}\n\
             # TYPE eddy_streams_records_skipped_total counter\neddy_streams_records_skipped_total {}\n\
             # TYPE eddy_streams_commits_total counter\neddy_streams_commits_total {}\n\
             # TYPE eddy_streams_commit_latency_seconds_max gauge\neddy_streams_commit_latency_seconds_max {}\n\
             # TYPE eddy_streams_restored_records_total counter\neddy_streams_restored_records_total {}\n\
             # TYPE eddy_streams_lag_records gauge\neddy_streams_lag_records {}\n",
            m.processed,
            m.late_dropped,
            m.skipped,
            m.commits,
            m.commit_latency_max.as_secs_f64(),
            m.restored_records,
            m.lag
        )
    }

    fn handles(&self, name: &str) -> Result<Vec<StoreHandle>> {
        if self.topology.store(name).is_none() {
            return Err(Error::topology(format!(
                "the topology has no store {name:?}"
            )));
        }
        let stores = self.shared.stores.read();
        let mut found: Vec<_> = stores
            .iter()
            .filter(|((n, _), _)| n == name)
            .map(|((_, p), h)| (*p, h.clone()))
            .collect();
        found.sort_by_key(|(p, _)| *p);
        Ok(found.into_iter().map(|(_, h)| h).collect())
    }

    /// Looks up `key` in key-value store `name` across the partitions this instance holds
    /// (interactive query).
    pub fn get<K: 'static, V: 'static>(
        &self,
        name: &str,
        key: &K,
        key_serde: SerdeRef<K>,
        value_serde: SerdeRef<V>,
    ) -> Result<Option<V>> {
        for handle in self.handles(name)? {
            if let StoreHandle::KeyValue(store) = handle {
                let typed = TypedKeyValueStore::new(
                    store,
                    Shared(key_serde.clone()),
                    Shared(value_serde.clone()),
                );
                if let Some(v) = typed.get(key)? {
                    return Ok(Some(v));
                }
            }
        }
        Ok(None)
    }

    /// Every entry of key-value store `name` with a key in `range`, over the partitions this
    /// instance holds, in key order per partition.
    pub fn range<K: 'static, V: 'static>(
        &self,
        name: &str,
        range: impl std::ops::RangeBounds<K> + Clone,
        key_serde: SerdeRef<K>,
        value_serde: SerdeRef<V>,
    ) -> Result<Vec<(K, V)>> {
        let mut out = Vec::new();
        for handle in self.handles(name)? {
            if let StoreHandle::KeyValue(store) = handle {
                let typed = TypedKeyValueStore::new(
                    store,
                    Shared(key_serde.clone()),
                    Shared(value_serde.clone()),
                );
                for entry in typed.range(range.clone())? {
                    out.push(entry?);
                }
            }
        }
        Ok(out)
    }

    /// `key`'s windows starting in `[from, to]` in window store `name`.
    pub fn window_fetch<K: 'static, V: 'static>(
        &self,
        name: &str,
        key: &K,
        from: i64,
        to: i64,
        key_serde: SerdeRef<K>,
        value_serde: SerdeRef<V>,
    ) -> Result<Vec<(i64, V)>> {
        let timestamped = self
            .topology
            .stores()
            .iter()
            .any(|s| s.name == name && s.timestamped);
        let value_serde = crate::serdes::store_value_serde(timestamped, value_serde);
        let mut out = Vec::new();
        for handle in self.handles(name)? {
            if let StoreHandle::Window(store) = handle {
                let typed = TypedWindowStore::new(
                    name,
                    store,
                    Shared(key_serde.clone()),
                    Shared(value_serde.clone()),
                );
                out.extend(typed.fetch(key, from, to)?);
            }
        }
        out.sort_by_key(|(t, _)| *t);
        Ok(out)
    }
}

impl Drop for RunningApp {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// Topic names and partition counts, resolved once at start.
struct Plan {
    /// Resolved source topic -> sub-topology.
    topic_sub: HashMap<String, usize>,
    /// Every resolved source topic.
    source_topics: Vec<String>,
}

impl Plan {
    fn new(topology: &Topology, config: &AppConfig) -> Result<Self> {
        let app = &config.application_id;
        let backend = &config.backend;
        // External inputs must exist; their partition counts size the internal topics.
        let mut external = BTreeMap::new();
        for sub in topology.subtopologies() {
            for topic in &sub.source_topics {
                if let TopicName::External(name) = topic {
                    let n = backend.partitions(name)?.ok_or_else(|| {
                        Error::Config(format!(
                            "input topic {name:?} does not exist on the {} backend; create it first",
                            backend.name()
                        ))
                    })?;
                    external.insert(name.clone(), n);
                }
            }
        }
        for (topic, wanted) in topology.internal_topic_partitions(app, &external)? {
            let name = topic.resolve(app);
            backend.create_topic(&name, wanted, TopicKind::Plain)?;
            // An internal topic left by an earlier run with other input sizes would send
            // records to the wrong tasks (Kafka Streams refuses these too).
            let actual = backend.partitions(&name)?.unwrap_or(0);
            if actual != wanted {
                return Err(Error::Topology(format!(
                    "internal topic {name} has {actual} partitions but the topology needs \
                     {wanted} (the input topics changed size?); delete it, with the \
                     application's state, to start over"
                )));
            }
        }
        for group in topology.copartition_groups() {
            let mut counts = Vec::new();
            for topic in &group.topics {
                let name = topic.resolve(app);
                let n = backend.partitions(&name)?.unwrap_or(0);
                counts.push((name, n));
            }
            if counts.windows(2).any(|w| w[0].1 != w[1].1) {
                let listed: Vec<String> = counts
                    .iter()
                    .map(|(t, n)| format!("{t} ({n} partitions)"))
                    .collect();
                return Err(Error::Topology(format!(
                    "{} needs its input topics co-partitioned, but they differ: {}; give them the \
                     same number of partitions (and the same partitioner), or repartition one side",
                    group.reason,
                    listed.join(", ")
                )));
            }
        }
        let mut topic_sub = HashMap::new();
        for sub in topology.subtopologies() {
            let mut task_partitions = 1;
            for topic in &sub.source_topics {
                let name = topic.resolve(app);
                task_partitions = task_partitions.max(backend.partitions(&name)?.unwrap_or(1));
                topic_sub.insert(name, sub.id);
            }
            for store in &sub.stores {
                let changelog = changelog_topic(app, store);
                let kind = topology
                    .store(store)
                    .map_or(TopicKind::Compacted, TopicKind::changelog_for);
                backend.create_topic(&changelog, task_partitions, kind)?;
            }
        }
        let source_topics = topic_sub
            .keys()
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        Ok(Self {
            topic_sub,
            source_topics,
        })
    }
}

/// The changelog topic of a store.
pub fn changelog_topic(application_id: &str, store: &str) -> String {
    format!("{application_id}-{store}-changelog")
}

/// This instance's process id, kept in `<state_dir>/<application id>/process-id` (Kafka
/// Streams keeps one there too): it names the stream threads' transactional ids, so that a
/// restart on the same state directory fences its earlier self.
fn process_id(config: &AppConfig) -> Result<String> {
    let dir = config.state_dir.join(&config.application_id);
    let path = dir.join("process-id");
    let io = |source| Error::Io {
        path: path.clone(),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(id) if !id.trim().is_empty() => return Ok(id.trim().to_string()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    std::fs::create_dir_all(&dir).map_err(io)?;
    let id = uuid::Uuid::new_v4().to_string();
    std::fs::write(&path, &id).map_err(io)?;
    Ok(id)
}

/// The end offset of every partition of a global table's topic, for its bootstrap: a missing
/// topic or an unknown end is an error, not an empty table.
fn global_topic_ends(backend: &dyn Backend, topic: &str) -> Result<Vec<i64>> {
    let partitions = backend.partitions(topic)?.ok_or_else(|| {
        Error::Config(format!(
            "global table topic {topic:?} does not exist on the {} backend; create it first",
            backend.name()
        ))
    })?;
    (0..partitions)
        .map(|p| {
            backend.end_offset(topic, p).ok_or_else(|| {
                Error::NotRunning(format!(
                    "cannot read the end offset of global table topic {topic}/{p}"
                ))
            })
        })
        .collect()
}

/// A task with its stores' commit handles and its fetched, unprocessed input.
struct RunningTask {
    task: Task,
    commits: Vec<Box<dyn Fn() -> eddy_state::Result<i64> + Send>>,
    input: TaskInput,
    /// Committed and idle since its partitions were revoked: resumed if the next
    /// assignment gives them back, closed otherwise (Kafka Streams' eager protocol).
    suspended: bool,
}

struct StreamThread {
    member: Member,
    /// The thread's record collector: its one producer, for sinks, repartition topics and
    /// every changelog of its tasks' stores (not a client per store).
    producer: Box<dyn Producer>,
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

impl StreamThread {
    fn run(mut self) -> Result<()> {
        let backend = self.config.backend.clone();
        let mut consumer = backend.consumer(
            &self.config.application_id,
            &self.plan.source_topics,
            self.member,
        )?;
        let mut last_commit = Instant::now();
        let mut reported = crate::processor::TaskCounters::default();
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
            self.report_lag(&*consumer, &assignment);
            self.process_buffered(&*consumer)?;
            let now = eddy_broker::now_ms();
            for running in self.tasks.values_mut().filter(|t| !t.suspended) {
                running.task.punctuate_wall_clock(now)?;
            }
            self.send_outputs()?;
            self.report(&mut reported);
            let revoking = consumer.revoking();
            if !revoking.is_empty() {
                // Everything done so far becomes durable and committed while the partitions
                // are still ours; then they go.
                self.commit(&mut *consumer)?;
                last_commit = Instant::now();
                self.suspend_revoked(&revoking);
                consumer.release_revoked()?;
                continue;
            }
            if last_commit.elapsed() >= self.config.commit_interval {
                self.commit(&mut *consumer)?;
                last_commit = Instant::now();
            }
        }
        self.commit(&mut *consumer)?;
        self.report(&mut reported);
        self.close_all();
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
        task.set_record_cache_bytes(self.config.cache_max_bytes);
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
            cache_max_bytes: self.config.cache_max_bytes,
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
