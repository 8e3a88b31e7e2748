//! [`App`]: starts a topology's stream threads (see [`super::stream_thread`]) and global
//! tables over a [`Backend`], and, once running, stops it, answers interactive queries and
//! reports metrics.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use eddy_state::memory::MemoryKeyValueStore;
use eddy_state::typed::{TypedKeyValueStore, TypedWindowStore};
use eddy_state::{RocksConfig, RocksEnv};
use parking_lot::{Mutex, RwLock};

use super::backend::{Backend, Consumer, Member};
use super::config::{AppConfig, ProcessingGuarantee, StoreEngine};
use super::metrics::{AppRegistry, Metrics, MetricsEndpoint, MetricsSnapshot, MetricsSource};
use super::plan::Plan;
use super::stream_thread::{ProducerFactory, StreamThread, ThreadContext};
use crate::error::{Error, Result};
use crate::processor::StoreHandle;
use crate::serdes::{SerdeRef, Shared};
use crate::topology::Topology;

/// A topology to run, with its configuration.
pub struct App {
    topology: Arc<Topology>,
    config: AppConfig,
}

pub(super) struct Shared_ {
    pub(super) stop: AtomicBool,
    pub(super) metrics: Metrics,
    pub(super) stores: RwLock<HashMap<(String, i32), StoreHandle>>,
    pub(super) failure: Mutex<Option<String>>,
    pub(super) started: Instant,
    /// One cache budget for every store write cache and record cache of the app
    /// (`cache_max_bytes`).
    pub(super) cache_budget: Arc<eddy_state::CacheBudget>,
}

/// A running app: stop it, query its stores, read its metrics.
pub struct RunningApp {
    shared: Arc<Shared_>,
    threads: Vec<JoinHandle<Result<()>>>,
    topology: Arc<Topology>,
    config: AppConfig,
    registry: Arc<AppRegistry>,
    /// Serves `registry` over HTTP, if `metrics_listen` asked for it; stopped on drop.
    endpoint: Option<MetricsEndpoint>,
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
            cache_budget: eddy_state::CacheBudget::new(self.config.cache_max_bytes),
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
            // One transactional id per thread of this instance, stable across its restarts:
            // a restarted thread fences its earlier self and aborts what that left open.
            let transactional_id = process_id
                .as_ref()
                .map(|process| format!("{}-{process}-{index}", self.config.application_id));
            let backend = Arc::clone(&self.config.backend);
            let new_producer: ProducerFactory = Box::new(move || match &transactional_id {
                Some(id) => backend.transactional_producer(id),
                None => backend.producer(),
            });
            // The first one now: a broker that refuses it fails the start, not a thread.
            let producer = new_producer()?;
            let member = Member {
                index,
                count: self.config.threads,
                reset: self.config.auto_offset_reset,
                read_committed: exactly_once,
            };
            let thread = StreamThread::new(
                member,
                producer,
                new_producer,
                ThreadContext {
                    topology: self.topology.clone(),
                    config: self.config.clone(),
                    plan: plan.clone(),
                    shared: shared.clone(),
                    env: env.clone(),
                    globals: globals.clone(),
                },
            );
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
        let registry = Arc::new(AppRegistry::new(
            &self.config.application_id,
            shared.clone(),
        ));
        let endpoint = match self.config.metrics_listen {
            Some(listen) => match MetricsEndpoint::start(listen, registry.clone()) {
                Ok(endpoint) => Some(endpoint),
                Err(e) => {
                    shared.stop.store(true, Ordering::SeqCst);
                    return Err(e);
                }
            },
            None => None,
        };
        Ok(RunningApp {
            shared,
            threads,
            topology: self.topology,
            config: self.config,
            registry,
            endpoint,
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
                        .local_state_dir()
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
        self.shared.snapshot()
    }

    /// The metrics in Prometheus' text format (what the metrics endpoint serves).
    pub fn metrics_text(&self) -> String {
        self.registry.render()
    }

    /// Where the metrics endpoint listens (`AppConfig::metrics_listen`), if it runs.
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.endpoint.as_ref().map(MetricsEndpoint::addr)
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

impl MetricsSource for Shared_ {
    fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    fn snapshot(&self) -> MetricsSnapshot {
        self.metrics
            .snapshot(self.started, self.cache_budget.used())
    }

    fn running(&self) -> bool {
        !self.stop.load(Ordering::SeqCst)
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

/// Deletes an application's local state ([`AppConfig::local_state_dir`]), as Kafka Streams'
/// `KafkaStreams.cleanUp()`: the next start restores every store from its changelog. Only
/// for an application that no instance runs on this state directory (one that was stopped,
/// or one being removed for good, as ksqlDB removes a terminated query's). A directory
/// that is not there is not an error.
pub fn clean_up_local_state(config: &AppConfig) -> Result<()> {
    let dir = config.local_state_dir();
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(Error::Io { path: dir, source }),
    }
}

/// This instance's process id, kept in `<state_dir>/<application id>/process-id` (Kafka
/// Streams keeps one there too): it names the stream threads' transactional ids, so that a
/// restart on the same state directory fences its earlier self.
fn process_id(config: &AppConfig) -> Result<String> {
    let dir = config.local_state_dir();
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
