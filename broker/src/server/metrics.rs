//! Prometheus metrics for the protocol server, served as text on an HTTP `/metrics` endpoint.
//!
//! Counters and histograms are updated on the request path (bytes and records in and out
//! per topic, requests and their latency per API, connections); consumer lag and log sizes are
//! computed from the broker at scrape time, so they cost nothing between scrapes.
//! `prometheus-client` does the bookkeeping and the text format; axum serves it.

use std::net::SocketAddr;
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::broker::Broker;
use crate::error::{IoContext, Result};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct TopicLabels {
    pub topic: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ApiLabels {
    pub api: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PartitionLabels {
    topic: String,
    partition: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LagLabels {
    group: String,
    topic: String,
    partition: String,
}

fn latency_histogram() -> Histogram {
    // 50 µs .. ~26 s
    Histogram::new(exponential_buckets(0.00005, 2.0, 20))
}

/// The server's metrics.
pub(crate) struct Metrics {
    registry: Registry,
    pub bytes_in: Family<TopicLabels, Counter>,
    pub records_in: Family<TopicLabels, Counter>,
    pub bytes_out: Family<TopicLabels, Counter>,
    pub records_out: Family<TopicLabels, Counter>,
    pub requests: Family<ApiLabels, Counter>,
    pub request_seconds: Family<ApiLabels, Histogram, fn() -> Histogram>,
    pub connections: Gauge,
    pub connections_accepted: Counter,
    pub connections_closed_idle: Counter,
    pub connections_closed_slow_frame: Counter,
    pub connections_refused_per_ip: Counter,
}

impl Metrics {
    pub fn new(broker: Broker) -> Self {
        let mut registry = Registry::with_prefix("eddy");
        let metrics = Self {
            registry: Registry::default(),
            bytes_in: Family::default(),
            records_in: Family::default(),
            bytes_out: Family::default(),
            records_out: Family::default(),
            requests: Family::default(),
            request_seconds: Family::new_with_constructor(latency_histogram),
            connections: Gauge::default(),
            connections_accepted: Counter::default(),
            connections_closed_idle: Counter::default(),
            connections_closed_slow_frame: Counter::default(),
            connections_refused_per_ip: Counter::default(),
        };
        registry.register(
            "bytes_in",
            "Record batch bytes appended, by topic",
            metrics.bytes_in.clone(),
        );
        registry.register(
            "records_in",
            "Records appended, by topic",
            metrics.records_in.clone(),
        );
        registry.register(
            "bytes_out",
            "Record batch bytes fetched, by topic",
            metrics.bytes_out.clone(),
        );
        registry.register(
            "records_out",
            "Records fetched, by topic",
            metrics.records_out.clone(),
        );
        registry.register(
            "requests",
            "Requests answered, by API",
            metrics.requests.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time from reading a request to its response being ready, by API",
            metrics.request_seconds.clone(),
        );
        registry.register(
            "connections",
            "Open client connections",
            metrics.connections.clone(),
        );
        registry.register(
            "connections_accepted",
            "Client connections accepted",
            metrics.connections_accepted.clone(),
        );
        registry.register(
            "connections_closed_idle",
            "Connections closed after connections_max_idle_ms without a request",
            metrics.connections_closed_idle.clone(),
        );
        registry.register(
            "connections_closed_slow_frame",
            "Connections closed because a request frame did not finish arriving in time",
            metrics.connections_closed_slow_frame.clone(),
        );
        registry.register(
            "connections_refused_per_ip",
            "Connections closed on accept: their address had max_connections_per_ip open",
            metrics.connections_refused_per_ip.clone(),
        );
        registry.register_collector(Box::new(LogCollector { broker }));
        Self {
            registry,
            ..metrics
        }
    }

    /// Counts one answered request.
    pub fn observe_request(&self, api: &str, elapsed: Duration) {
        let labels = ApiLabels {
            api: api.to_string(),
        };
        self.requests.get_or_create(&labels).inc();
        self.request_seconds
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

/// Scrape-time metrics read from the broker: log end offsets and sizes per partition, and
/// consumer lag per group and partition.
#[derive(Debug)]
struct LogCollector {
    broker: Broker,
}

impl Collector for LogCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let mut end_offsets = Vec::new();
        let mut sizes = Vec::new();
        for topic in self.broker.list_topics() {
            if let Ok(description) = self.broker.describe_topic(&topic) {
                for p in description.partitions {
                    let labels = PartitionLabels {
                        topic: topic.clone(),
                        partition: p.partition.to_string(),
                    };
                    end_offsets.push((labels.clone(), p.log_end_offset));
                    sizes.push((labels, p.size_bytes as i64));
                }
            }
        }
        let mut lags = Vec::new();
        for group in self.broker.groups_with_offsets() {
            for (topic, partition, committed) in self.broker.group_offsets(&group) {
                let end = end_offsets
                    .iter()
                    .find(|(l, _)| l.topic == topic && l.partition == partition.to_string())
                    .map(|(_, end)| *end);
                if let Some(end) = end {
                    lags.push((
                        LagLabels {
                            group: group.clone(),
                            topic,
                            partition: partition.to_string(),
                        },
                        (end - committed.offset).max(0),
                    ));
                }
            }
        }
        for (name, help, series) in [
            (
                "log_end_offset",
                "Next offset to be written, by partition",
                &end_offsets,
            ),
            ("log_size_bytes", "Bytes on disk, by partition", &sizes),
        ] {
            let mut family = encoder.encode_descriptor(
                name,
                help,
                None,
                prometheus_client::metrics::MetricType::Gauge,
            )?;
            for (labels, value) in series {
                ConstGauge::new(*value).encode(family.encode_family(labels)?)?;
            }
        }
        let failures = encoder.encode_descriptor(
            "maintenance_failures",
            "Partition retention or compaction passes that failed (the others went on)",
            None,
            prometheus_client::metrics::MetricType::Counter,
        )?;
        prometheus_client::metrics::counter::ConstCounter::new(self.broker.maintenance_failures())
            .encode(failures)?;
        let mut family = encoder.encode_descriptor(
            "consumer_lag",
            "Log end offset minus the group's committed offset, by group and partition",
            None,
            prometheus_client::metrics::MetricType::Gauge,
        )?;
        for (labels, lag) in &lags {
            ConstGauge::new(*lag).encode(family.encode_family(labels)?)?;
        }
        Ok(())
    }
}

/// Binds the metrics endpoint's address.
pub(crate) async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr)
        .await
        .with_path(format!("metrics address {addr}"))
}

/// Serves `GET /metrics` on `listener` until `stop` flips.
pub(crate) fn serve(
    listener: tokio::net::TcpListener,
    metrics: std::sync::Arc<Metrics>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let addr = listener.local_addr().ok();
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let metrics = std::sync::Arc::clone(&metrics);
            async move {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    metrics.render(),
                )
            }
        }),
    );
    tracing::info!(?addr, "metrics endpoint listening on /metrics");
    tokio::spawn(async move {
        let shutdown = async move {
            let _ = stop.wait_for(|stopped| *stopped).await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(error = %e, "metrics endpoint failed");
        }
    })
}
