//! The Kafka wire-protocol server: real Kafka clients (librdkafka, kcat, the Java clients,
//! kafka-python, franz-go, kafkajs) talk to the [`Broker`] through it unchanged.
//!
//! Shaped like tokio-rs/mini-redis: [`frames`] reads request frames within the
//! [`memory_budget`], [`connection`] reads requests and
//! writes responses in order, [`dispatch`] routes each request to its module under [`apis`],
//! all sharing one [`ServerState`]; the listener here accepts connections up to a cap and
//! stops on an injected shutdown signal.

pub mod apis;
mod connection;
mod dispatch;
mod frames;
mod memory_budget;

pub use dispatch::{Decoded, decode_request};
pub mod groups;
mod metrics;

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

use crate::broker::Broker;
use crate::error::{Error, IoContext, Result};

/// Kafka's default `fetch.max.bytes`: 55 MiB.
pub const DEFAULT_FETCH_MAX_BYTES: usize = 55 << 20;

/// The default memory budget for requests and fetch responses in flight: 256 MiB.
pub const DEFAULT_MEMORY_BUDGET_BYTES: usize = 256 << 20;

/// One connection's place in the per-address count (`max_connections_per_ip`), given back
/// when dropped.
struct PerIpSlot {
    state: Arc<ServerState>,
    ip: IpAddr,
}

impl PerIpSlot {
    /// A slot for `peer`'s address, or `None` when it has all it may have.
    fn take(state: &Arc<ServerState>, peer: SocketAddr) -> Option<Self> {
        let ip = peer.ip();
        let mut counts = state
            .connections_per_ip
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let count = counts.entry(ip).or_insert(0);
        if *count >= state.config.max_connections_per_ip {
            return None;
        }
        *count += 1;
        Some(Self {
            state: Arc::clone(state),
            ip,
        })
    }
}

impl Drop for PerIpSlot {
    fn drop(&mut self) {
        let mut counts = self
            .state
            .connections_per_ip
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(count) = counts.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

/// How the protocol server is set up.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on. Loopback by default.
    pub listen: SocketAddr,
    /// Host name clients are told to connect to (Metadata, FindCoordinator); defaults to the
    /// listen address's IP.
    pub advertised_host: Option<String>,
    /// Port clients are told to connect to; defaults to the bound port.
    pub advertised_port: Option<u16>,
    /// This broker's node id.
    pub node_id: i32,
    /// The cluster id reported in Metadata.
    pub cluster_id: String,
    /// Connections beyond this wait in the accept queue.
    pub max_connections: usize,
    /// Largest request frame accepted (Kafka's `socket.request.max.bytes`); a frame claiming
    /// more closes its connection before anything is allocated for it.
    pub max_request_bytes: usize,
    /// Requests read ahead per connection while earlier ones finish (responses still go out
    /// in request order).
    pub max_in_flight_per_connection: usize,
    /// Largest fetch response, whatever the client asks (Kafka's `fetch.max.bytes`): a
    /// response holds at most min(request max_bytes, this) bytes of records, each partition
    /// at most min(its partition_max_bytes, what is left); the first partition with data
    /// still gets one whole batch if that batch is larger, so a big batch is never stuck.
    pub fetch_max_bytes: usize,
    /// Bytes of request frames and fetch responses held in memory at once, across all
    /// connections: a request from its first byte until it has been handled (a produce's
    /// records are in the log), a fetch response from the read until it has been written to
    /// the socket. At the budget, connections stop reading requests and fetches wait
    /// (backpressure, not growth). One frame or fetch larger than the budget is clamped to
    /// it. 0 turns the budget off.
    pub memory_budget_bytes: usize,
    /// A connection with no request in progress for this long is closed (Kafka's
    /// `connections.max.idle.ms`, 10 minutes by default).
    pub connections_max_idle: Duration,
    /// A request frame that has started arriving must finish within this, or its
    /// connection is closed: a slow or stalled client cannot hold a connection slot.
    pub frame_read_timeout: Duration,
    /// Connections at once from one client address (Kafka's `max.connections.per.ip`);
    /// more are closed on accept. Unlimited by default, as in Kafka.
    pub max_connections_per_ip: usize,
    /// Create unknown topics when a client asks for their metadata (Kafka's
    /// `auto.create.topics.enable`).
    pub auto_create_topics: bool,
    /// Partitions of auto-created topics (Kafka's `num.partitions`).
    pub default_partitions: i32,
    /// Consumer group timing.
    pub groups: groups::GroupConfig,
    /// Where to serve Prometheus metrics over HTTP (`GET /metrics`); `None` turns them off.
    pub metrics_listen: Option<SocketAddr>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 9092)),
            advertised_host: None,
            advertised_port: None,
            node_id: 1,
            cluster_id: "eddy-cluster".to_string(),
            max_connections: 1024,
            max_request_bytes: 100 << 20,
            max_in_flight_per_connection: 32,
            fetch_max_bytes: DEFAULT_FETCH_MAX_BYTES,
            memory_budget_bytes: DEFAULT_MEMORY_BUDGET_BYTES,
            connections_max_idle: Duration::from_secs(600),
            frame_read_timeout: Duration::from_secs(60),
            max_connections_per_ip: usize::MAX,
            auto_create_topics: true,
            default_partitions: 1,
            groups: groups::GroupConfig::default(),
            metrics_listen: None,
        }
    }
}

/// Everything request handlers share.
pub(crate) struct ServerState {
    pub broker: Broker,
    pub config: ServerConfig,
    pub advertised_host: String,
    pub advertised_port: i32,
    pub groups: groups::GroupCoordinator,
    pub metrics: Arc<metrics::Metrics>,
    pub memory_budget: memory_budget::MemoryBudget,
    /// Open connections per client address (for `max_connections_per_ip`).
    pub connections_per_ip: Mutex<HashMap<IpAddr, usize>>,
}

/// A bound, not yet running, protocol server.
pub struct Server {
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
    state: Arc<ServerState>,
}

impl Server {
    /// Binds the listen address. Port 0 picks a free port: see [`Server::local_addr`].
    pub async fn bind(broker: Broker, config: ServerConfig) -> Result<Self> {
        let listener = TcpListener::bind(config.listen)
            .await
            .with_path(format!("listen address {}", config.listen))?;
        let local = listener
            .local_addr()
            .with_path(format!("listen address {}", config.listen))?;
        let advertised_host = config
            .advertised_host
            .clone()
            .unwrap_or_else(|| local.ip().to_string());
        let advertised_port = i32::from(config.advertised_port.unwrap_or(local.port()));
        let groups = groups::GroupCoordinator::new(broker.clone(), config.groups.clone());
        let metrics_listener = match config.metrics_listen {
            Some(addr) => Some(metrics::bind(addr).await?),
            None => None,
        };
        let metrics = Arc::new(metrics::Metrics::new(broker.clone()));
        Ok(Self {
            listener,
            metrics_listener,
            state: Arc::new(ServerState {
                broker,
                memory_budget: memory_budget::MemoryBudget::new(config.memory_budget_bytes),
                connections_per_ip: Mutex::new(HashMap::new()),
                config,
                advertised_host,
                advertised_port,
                groups,
                metrics,
            }),
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Renders the server's metrics in Prometheus' text format, on demand (for a process
    /// that serves them on an endpoint of its own, as `eddy server` does).
    pub fn metrics_renderer(&self) -> Arc<dyn Fn() -> String + Send + Sync> {
        let metrics = Arc::clone(&self.state.metrics);
        Arc::new(move || metrics.render())
    }

    /// The address of the metrics endpoint, if it is on.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    /// Serves connections until `shutdown` completes, then stops accepting, lets every
    /// connection finish the requests it has read (up to 30 s), and returns. The broker itself
    /// is left open: shut it down after this returns.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let limit = Arc::new(Semaphore::new(self.state.config.max_connections));
        let reaper = self.state.groups.start_reaper(stop_rx.clone());
        let metrics_task = self.metrics_listener.map(|listener| {
            metrics::serve(listener, Arc::clone(&self.state.metrics), stop_rx.clone())
        });
        let mut connections = tokio::task::JoinSet::new();
        tokio::pin!(shutdown);
        let local_addr = self.listener.local_addr().with_path("listen address")?;
        tracing::info!(addr = %local_addr, "Kafka protocol server listening");
        loop {
            let permit = tokio::select! {
                _ = &mut shutdown => break,
                permit = Arc::clone(&limit).acquire_owned() => permit.map_err(|_| Error::ShutDown)?,
            };
            let (stream, peer) = tokio::select! {
                _ = &mut shutdown => break,
                accepted = self.listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        // Out of file descriptors and the like: back off, keep serving.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let Some(per_ip) = PerIpSlot::take(&self.state, peer) else {
                tracing::warn!(%peer, "too many connections from this address; closing");
                self.state.metrics.connections_refused_per_ip.inc();
                drop(stream);
                continue;
            };
            let _ = stream.set_nodelay(true);
            self.state.metrics.connections_accepted.inc();
            let state = Arc::clone(&self.state);
            let stop = stop_rx.clone();
            connections.spawn(async move {
                connection::serve(stream, peer, state, stop).await;
                drop(per_ip);
                drop(permit);
            });
            // Reap finished connection tasks so the set does not grow.
            while connections.try_join_next().is_some() {}
        }
        tracing::info!("shutting down the protocol server");
        stop_tx.send_replace(true);
        let drain = async { while connections.join_next().await.is_some() {} };
        if tokio::time::timeout(Duration::from_secs(30), drain)
            .await
            .is_err()
        {
            tracing::warn!("connections still busy after 30 s; closing them");
            connections.abort_all();
        }
        reaper.abort();
        if let Some(task) = metrics_task {
            let _ = task.await;
        }
        Ok(())
    }
}
