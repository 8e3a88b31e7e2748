//! An app's metrics: the counters its threads update ([`Metrics`]), a snapshot of them
//! ([`MetricsSnapshot`]), their Prometheus text (through prometheus-client, read at scrape
//! time so the hot path only bumps atomics), and an optional HTTP endpoint serving that text
//! at `GET /metrics` (`AppConfig::metrics_listen`), as the broker serves its own.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use crate::error::{Error, Result};

/// Counters of a running app, summed over its threads.
#[derive(Debug, Default)]
pub(super) struct Metrics {
    pub(super) processed: AtomicU64,
    pub(super) late_dropped: AtomicU64,
    pub(super) skipped: AtomicU64,
    pub(super) commits: AtomicU64,
    pub(super) commit_micros_total: AtomicU64,
    pub(super) commit_micros_max: AtomicU64,
    pub(super) restored_records: AtomicU64,
    /// Records on the broker not yet processed, by input partition (as of the last poll).
    pub(super) lag: Mutex<HashMap<(String, i32), i64>>,
    /// Records sent, by output topic (sinks and repartition topics).
    pub(super) produced: Mutex<HashMap<String, u64>>,
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
    /// Bytes held by all its caches (record caches and store write caches), which
    /// `cache_max_bytes` bounds together.
    pub cache_bytes: usize,
}

impl Metrics {
    /// The counters now; `started` is when the app started, `cache_bytes` what its caches
    /// hold.
    pub(super) fn snapshot(&self, started: Instant, cache_bytes: usize) -> MetricsSnapshot {
        let commits = self.commits.load(Ordering::Relaxed);
        let processed = self.processed.load(Ordering::Relaxed);
        let secs = started.elapsed().as_secs_f64();
        MetricsSnapshot {
            processed,
            late_dropped: self.late_dropped.load(Ordering::Relaxed),
            skipped: self.skipped.load(Ordering::Relaxed),
            commits,
            commit_latency_avg: Duration::from_micros(
                self.commit_micros_total.load(Ordering::Relaxed) / commits.max(1),
            ),
            commit_latency_max: Duration::from_micros(
                self.commit_micros_max.load(Ordering::Relaxed),
            ),
            restored_records: self.restored_records.load(Ordering::Relaxed),
            lag: self.lag.lock().values().sum(),
            processed_per_sec: if secs > 0.0 {
                processed as f64 / secs
            } else {
                0.0
            },
            produced: self
                .produced
                .lock()
                .iter()
                .map(|(t, n)| (t.clone(), *n))
                .collect(),
            cache_bytes,
        }
    }
}

/// What a scrape reads: the app's counters, and the two things they do not hold.
pub(super) trait MetricsSource: Send + Sync + 'static {
    /// The counters.
    fn metrics(&self) -> &Metrics;
    /// A snapshot (with the cache's current size).
    fn snapshot(&self) -> MetricsSnapshot;
    /// Stream threads (and the global thread) still running.
    fn running(&self) -> bool;
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AppLabels {
    application_id: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TopicLabels {
    application_id: String,
    topic: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PartitionLabels {
    application_id: String,
    topic: String,
    partition: String,
}

/// Encodes an app's metrics at scrape time.
struct AppCollector {
    application_id: String,
    source: Arc<dyn MetricsSource>,
}

impl std::fmt::Debug for AppCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppCollector")
            .field("application_id", &self.application_id)
            .finish_non_exhaustive()
    }
}

impl Collector for AppCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let m = self.source.snapshot();
        let app = AppLabels {
            application_id: self.application_id.clone(),
        };
        let counters = [
            (
                "records_processed",
                "Records read from input topics",
                m.processed,
            ),
            (
                "records_late_dropped",
                "Records dropped as late: their window had closed",
                m.late_dropped,
            ),
            (
                "records_skipped",
                "Records skipped as undecodable or with an invalid timestamp",
                m.skipped,
            ),
            ("commits", "Commits done", m.commits),
            (
                "restored_records",
                "Changelog records replayed into stores when tasks started",
                m.restored_records,
            ),
        ];
        for (name, help, value) in counters {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            ConstCounter::new(value).encode(family.encode_family(&app)?)?;
        }
        let gauges = [
            (
                "commit_latency_seconds_avg",
                "Mean time of a commit",
                m.commit_latency_avg.as_secs_f64(),
            ),
            (
                "commit_latency_seconds_max",
                "Longest commit",
                m.commit_latency_max.as_secs_f64(),
            ),
            (
                "cache_bytes",
                "Bytes held by the app's record and store write caches together",
                m.cache_bytes as f64,
            ),
            (
                "running",
                "1 while every thread of the app runs, 0 once one has failed or it stops",
                if self.source.running() { 1.0 } else { 0.0 },
            ),
        ];
        for (name, help, value) in gauges {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            ConstGauge::new(value).encode(family.encode_family(&app)?)?;
        }
        let mut family = encoder.encode_descriptor(
            "records_produced",
            "Records sent, by output topic (sinks and repartition topics)",
            None,
            MetricType::Counter,
        )?;
        for (topic, sent) in &m.produced {
            let labels = TopicLabels {
                application_id: self.application_id.clone(),
                topic: topic.clone(),
            };
            ConstCounter::new(*sent).encode(family.encode_family(&labels)?)?;
        }
        let mut lags: Vec<((String, i32), i64)> = self
            .source
            .metrics()
            .lag
            .lock()
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        lags.sort();
        let mut family = encoder.encode_descriptor(
            "lag_records",
            "Records on the broker not yet processed, by input partition (as of the last poll)",
            None,
            MetricType::Gauge,
        )?;
        for ((topic, partition), lag) in lags {
            let labels = PartitionLabels {
                application_id: self.application_id.clone(),
                topic,
                partition: partition.to_string(),
            };
            ConstGauge::new(lag).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

/// An app's metrics registry (prefix `eddy_streams`).
pub(super) struct AppRegistry(Registry);

impl AppRegistry {
    pub(super) fn new(application_id: &str, source: Arc<dyn MetricsSource>) -> Self {
        let mut registry = Registry::with_prefix("eddy_streams");
        registry.register_collector(Box::new(AppCollector {
            application_id: application_id.to_string(),
            source,
        }));
        Self(registry)
    }

    /// The Prometheus text exposition of every metric.
    pub(super) fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.0)
            .expect("writing to a String cannot fail");
        out
    }
}

/// The HTTP endpoint serving `GET /metrics`, on a thread of its own with a one-thread tokio
/// runtime (the stream threads are plain threads; the app may run on either backend).
pub(super) struct MetricsEndpoint {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl MetricsEndpoint {
    /// Binds `listen` (port 0: one the OS picks) and serves `registry` there until stopped.
    pub(super) fn start(listen: SocketAddr, registry: Arc<AppRegistry>) -> Result<Self> {
        let io = |source| Error::Io {
            path: format!("metrics address {listen}").into(),
            source,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(io)?;
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(listen))
            .map_err(io)?;
        let addr = listener.local_addr().map_err(io)?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = axum::Router::new().route(
            "/metrics",
            axum::routing::get(move || {
                let registry = registry.clone();
                async move {
                    (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8",
                        )],
                        registry.render(),
                    )
                }
            }),
        );
        let thread = std::thread::Builder::new()
            .name("eddy-streams-metrics".into())
            .spawn(move || {
                let served = runtime.block_on(async move {
                    axum::serve(listener, app)
                        .with_graceful_shutdown(async {
                            let _ = stopped.await;
                        })
                        .await
                });
                if let Err(e) = served {
                    tracing::warn!(%addr, error = %e, "the metrics endpoint stopped");
                }
            })
            .map_err(|source| Error::Io {
                path: "the metrics endpoint's thread".into(),
                source,
            })?;
        tracing::info!(%addr, "streams metrics at http://{addr}/metrics");
        Ok(Self {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    pub(super) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for MetricsEndpoint {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
