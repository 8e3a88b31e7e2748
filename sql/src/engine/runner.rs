//! [`AppRunner`]: runs each query's topology as an eddy-streams application on a
//! [`Backend`] (the embedded broker, or a Kafka cluster through rdkafka), as ksqlDB runs
//! one Kafka Streams application per query.
//!
//! A query's streams properties come from the engine's configuration at the time it
//! started (ksqlDB's `ksql.streams.*` and the bare Kafka Streams names):
//! `auto.offset.reset` (`earliest` or `latest`, ksqlDB's default), `num.stream.threads`,
//! `commit.interval.ms`, `cache.max.bytes.buffering` and `processing.guarantee`
//! (`at_least_once`, the default, or `exactly_once_v2`; `exactly_once` is Kafka's deprecated
//! name for the same).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eddy_streams::runtime::{
    Backend, MetricsSnapshot, OffsetReset, ProcessingGuarantee, RunningApp,
};
use eddy_streams::{App, AppConfig, Topology};

use super::{PersistentQuery, QueryRunner, QueryStatus, Stopper};
use crate::error::{Result, SqlError};

/// Runs queries as applications on a backend, with their state under `state_dir`.
pub struct AppRunner {
    backend: Arc<dyn Backend>,
    state_dir: PathBuf,
    apps: Arc<Mutex<BTreeMap<String, RunningApp>>>,
    /// Paused queries' applications, stopped, to start again at `RESUME`.
    paused: BTreeMap<String, App>,
}

impl std::fmt::Debug for AppRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppRunner")
            .field("backend", &self.backend.name())
            .field("state_dir", &self.state_dir)
            .finish_non_exhaustive()
    }
}

impl AppRunner {
    /// A runner on `backend`, keeping query state under `state_dir`.
    pub fn new(backend: Arc<dyn Backend>, state_dir: impl Into<PathBuf>) -> Self {
        Self {
            backend,
            state_dir: state_dir.into(),
            apps: Arc::default(),
            paused: BTreeMap::new(),
        }
    }

    /// The application configuration of a query.
    fn config(
        &self,
        application_id: &str,
        properties: &BTreeMap<String, String>,
    ) -> Result<AppConfig> {
        let get = |name: &str| {
            properties
                .get(&format!("ksql.streams.{name}"))
                .or_else(|| properties.get(name))
                .map(|v| v.trim().to_string())
        };
        let number = |name: &str| -> Result<Option<u64>> {
            get(name)
                .map(|v| {
                    v.parse::<u64>().map_err(|_| {
                        SqlError::semantic(format!(
                            "Invalid value {v} for property {name}: a number is needed"
                        ))
                    })
                })
                .transpose()
        };
        let mut config = AppConfig::new(application_id, self.backend.clone());
        config.state_dir = self.state_dir.clone();
        config.auto_offset_reset = match get("auto.offset.reset").as_deref() {
            None | Some("latest") => OffsetReset::Latest,
            Some("earliest") => OffsetReset::Earliest,
            Some(other) => {
                return Err(SqlError::semantic(format!(
                    "Invalid value {other} for property auto.offset.reset: use 'earliest' or 'latest'"
                )));
            }
        };
        if let Some(n) = number("num.stream.threads")? {
            config.threads = (n as usize).max(1);
        }
        if let Some(ms) = number("commit.interval.ms")? {
            config.commit_interval = Duration::from_millis(ms);
        }
        if let Some(bytes) = number("cache.max.bytes.buffering")? {
            config.cache_max_bytes = bytes as usize;
        }
        config.processing_guarantee = match get("processing.guarantee").as_deref() {
            None | Some("at_least_once") => ProcessingGuarantee::AtLeastOnce,
            Some("exactly_once_v2" | "exactly_once") => ProcessingGuarantee::ExactlyOnceV2,
            Some(other) => {
                return Err(SqlError::semantic(format!(
                    "Invalid value {other} for property processing.guarantee: use \
                     'at_least_once' or 'exactly_once_v2'"
                )));
            }
        };
        Ok(config)
    }

    fn run(&self, id: &str, config: AppConfig, topology: Topology) -> Result<()> {
        let app = App::new(topology, config).start()?;
        let previous = self
            .apps
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_string(), app);
        if let Some(previous) = previous {
            previous.stop()?;
        }
        Ok(())
    }
}

impl QueryRunner for AppRunner {
    fn start(&mut self, query: &PersistentQuery, topology: Topology) -> Result<()> {
        let config = self.config(&query.application_id, &query.properties)?;
        self.run(&query.id, config, topology)
    }

    fn start_transient(
        &mut self,
        id: &str,
        application_id: &str,
        properties: &BTreeMap<String, String>,
        topology: Topology,
    ) -> Result<Stopper> {
        let config = self.config(application_id, properties)?;
        let local_state = config.clone();
        self.run(id, config, topology)?;
        let apps = self.apps.clone();
        let id = id.to_string();
        // A push query never resumes: its local state goes when it ends.
        Ok(Box::new(move || {
            let app = apps.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
            if let Some(app) = app {
                app.stop()?;
            }
            Ok(eddy_streams::runtime::clean_up_local_state(&local_state)?)
        }))
    }

    fn stop(&mut self, id: &str) -> Result<()> {
        self.paused.remove(id);
        let app = self
            .apps
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
        match app {
            Some(app) => Ok(app.stop()?),
            None => Ok(()),
        }
    }

    fn clean_up(&mut self, application_id: &str) -> Result<()> {
        let mut config = AppConfig::new(application_id, self.backend.clone());
        config.state_dir = self.state_dir.clone();
        Ok(eddy_streams::runtime::clean_up_local_state(&config)?)
    }

    fn state_dir(&self) -> Option<PathBuf> {
        Some(self.state_dir.clone())
    }

    fn status(&self, id: &str) -> QueryStatus {
        if self.paused.contains_key(id) {
            return QueryStatus::Paused;
        }
        let apps = self.apps.lock().unwrap_or_else(|e| e.into_inner());
        match apps.get(id) {
            None => QueryStatus::Stopped,
            Some(app) => match app.failure() {
                Some(error) => QueryStatus::Error(error),
                None if app.is_running() => QueryStatus::Running,
                None => QueryStatus::Stopped,
            },
        }
    }

    fn pause(&mut self, id: &str) -> Result<()> {
        let app = self
            .apps
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id)
            .ok_or_else(|| SqlError::semantic(format!("Query {id} is not running")))?;
        self.paused.insert(id.to_string(), app.into_stopped()?);
        Ok(())
    }

    fn start_paused(&mut self, query: &PersistentQuery, topology: Topology) -> Result<()> {
        let config = self.config(&query.application_id, &query.properties)?;
        self.paused
            .insert(query.id.clone(), App::new(topology, config));
        Ok(())
    }

    fn resume(&mut self, id: &str) -> Result<()> {
        let app = self
            .paused
            .remove(id)
            .ok_or_else(|| SqlError::semantic(format!("Query {id} is not paused")))?;
        let running = app.start()?;
        self.apps
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_string(), running);
        Ok(())
    }

    fn app(&self, id: &str) -> Option<AppView> {
        self.apps
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .map(|app| AppView {
                snapshot: app.metrics(),
                metrics: app.metrics_text(),
            })
    }
}

/// What a running query's application reports (for `DESCRIBE ... EXTENDED`, `EXPLAIN`).
#[derive(Debug, Clone)]
pub struct AppView {
    /// Its counters.
    pub snapshot: MetricsSnapshot,
    /// Its metrics in the Prometheus text format.
    pub metrics: String,
}
