//! [`AppConfig`]: how an application runs (threads, commit interval, state, caches, the
//! processing guarantee), and its choices ([`StoreEngine`], [`ProcessingGuarantee`]).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::backend::{Backend, OffsetReset};
use crate::error::{Error, Result};

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
    /// Stores write checkpoints only once their changelog records are committed and their
    /// task stops here (a clean stop, a revocation), not at every commit: after a crash
    /// they restore in full from their changelogs. On both backends.
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
    /// One bound for all the app's caches together, in bytes: every store's write cache
    /// and every aggregation's record cache, in every task (Kafka Streams'
    /// `statestore.cache.max.bytes`; default 10 MiB; 0 turns them off). A cache written
    /// while the total is over it evicts its own oldest entries.
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
    /// Where to serve the app's metrics over HTTP, in Prometheus' text format at
    /// `GET /metrics` (default none; port 0 picks a free one, see
    /// `RunningApp::metrics_addr`). `RunningApp::metrics_text` gives the same text.
    pub metrics_listen: Option<std::net::SocketAddr>,
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
            metrics_listen: None,
        }
    }

    /// This application's local state on this instance: `<state_dir>/<application id>`
    /// (its stores, checkpoints and process id).
    pub fn local_state_dir(&self) -> std::path::PathBuf {
        self.state_dir.join(&self.application_id)
    }

    pub(super) fn validate(&self) -> Result<()> {
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
