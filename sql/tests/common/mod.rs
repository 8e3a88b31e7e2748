//! What the engine's runtime tests share: an [`Engine`] running its queries as
//! applications on a real broker, reached through the embedded backend (in process) or
//! through the Kafka backend (librdkafka against Eddy's Kafka protocol server on a
//! 127.0.0.1 socket, port chosen by the OS). Outputs are read from the broker directly,
//! so one test body checks both backends.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use eddy_broker::batch::without_aborted;
use eddy_broker::server::groups::GroupConfig;
use eddy_broker::{
    Broker, BrokerConfig, Isolation, OffsetSpec, Record, Server, ServerConfig, decode_records,
};
use eddy_sql::engine::{AppRunner, BrokerCluster, Cluster, Config, Engine, KafkaCluster};
use eddy_streams::EmbeddedBackend;
use eddy_streams::runtime::{Backend, KafkaBackend};
use tokio::runtime::{Handle, Runtime};

/// Makes a [`TestEngine`] with its data in a directory.
pub type Start = fn(&Path) -> TestEngine;

/// An engine on a broker.
pub struct TestEngine {
    /// The engine.
    pub engine: Engine,
    broker: Broker,
    handle: Handle,
    _server: Option<(tokio::sync::oneshot::Sender<()>, Runtime)>,
}

/// The engine's configuration in the tests: read topics from the start, commit often.
fn config() -> Config {
    let mut values = BTreeMap::new();
    values.insert("auto.offset.reset".to_string(), "earliest".to_string());
    values.insert("commit.interval.ms".to_string(), "50".to_string());
    values.insert("cache.max.bytes.buffering".to_string(), "0".to_string());
    Config::with(values)
}

impl TestEngine {
    /// An engine on the embedded backend.
    pub fn embedded(dir: &Path) -> Self {
        let backend = Arc::new(EmbeddedBackend::open(dir.join("broker")).unwrap());
        let broker = backend.broker().clone();
        let handle = backend.handle().clone();
        let cluster = Arc::new(BrokerCluster::new(broker.clone(), handle.clone()));
        let runner = AppRunner::new(backend, dir.join("state"));
        Self {
            engine: Engine::new(config(), cluster, Box::new(runner)),
            broker,
            handle,
            _server: None,
        }
    }

    /// An engine on the Kafka backend against Eddy's Kafka protocol server.
    pub fn kafka(dir: &Path) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let broker = runtime
            .block_on(Broker::open(BrokerConfig::new(dir.join("broker"))))
            .unwrap();
        let server_config = ServerConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            groups: GroupConfig {
                initial_rebalance_delay: Duration::from_millis(300),
                ..GroupConfig::default()
            },
            ..ServerConfig::default()
        };
        let server = runtime
            .block_on(Server::bind(broker.clone(), server_config))
            .unwrap();
        let addr = server.local_addr().to_string();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        runtime.spawn(async move {
            let _ = server
                .run(async {
                    let _ = stopped.await;
                })
                .await;
        });
        let backend = Arc::new(KafkaBackend::new(&addr).unwrap());
        let cluster: Arc<dyn Cluster> = Arc::new(KafkaCluster::new(backend.clone()));
        let runner = AppRunner::new(backend as Arc<dyn Backend>, dir.join("state"));
        Self {
            engine: Engine::new(config(), cluster, Box::new(runner)),
            broker,
            handle: runtime.handle().clone(),
            _server: Some((stop, runtime)),
        }
    }

    /// Runs statements, panicking with the error if one fails.
    pub fn run(&mut self, sql: &str) {
        if let Err(e) = self.engine.execute(sql) {
            panic!("{sql}\nfailed: {e}");
        }
    }

    /// The broker underneath.
    pub fn broker(&self) -> &Broker {
        &self.broker
    }

    /// Every committed record of `topic` (as a `read_committed` reader sees it), partition
    /// by partition.
    pub fn records(&self, topic: &str) -> Vec<Record> {
        let mut out = Vec::new();
        let Ok(description) = self.broker.describe_topic(topic) else {
            return out;
        };
        for p in 0..description.partitions.len() as i32 {
            let end = self
                .handle
                .block_on(self.broker.list_offset(topic, p, OffsetSpec::Latest))
                .unwrap()
                .map_or(0, |(o, _)| o);
            let mut offset = 0;
            while offset < end {
                let fetched = self
                    .handle
                    .block_on(self.broker.fetch_isolated(
                        topic,
                        p,
                        offset,
                        1 << 20,
                        Duration::ZERO,
                        Isolation::ReadCommitted,
                    ))
                    .unwrap();
                // Past whole batches: transaction markers and aborted batches hold offsets
                // no committed record shows.
                let Some(next) = eddy_broker::batch::next_offset_after(&fetched.records) else {
                    break;
                };
                let committed = without_aborted(&fetched.records, &fetched.aborted);
                out.extend(
                    decode_records(&committed)
                        .unwrap()
                        .into_iter()
                        .filter(|r| r.offset >= offset),
                );
                offset = next;
            }
        }
        out
    }

    /// The values of `topic`'s records as text (tombstones as `None`).
    pub fn values(&self, topic: &str) -> Vec<Option<String>> {
        self.records(topic)
            .into_iter()
            .map(|r| r.value.map(|v| String::from_utf8_lossy(&v).into_owned()))
            .collect()
    }

    /// The latest value per key (keys and values as text); tombstones remove keys.
    pub fn latest(&self, topic: &str) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for r in self.records(topic) {
            let key = r
                .key
                .map(|k| String::from_utf8_lossy(&k).into_owned())
                .unwrap_or_default();
            match r.value {
                Some(v) => {
                    out.insert(key, String::from_utf8_lossy(&v).into_owned());
                }
                None => {
                    out.remove(&key);
                }
            }
        }
        out
    }
}

/// Polls `done` every 20 ms until it holds; panics after 90 s.
pub fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Each test function (taking a [`Start`]) once per backend: `embedded::<test>` and
/// `kafka::<test>`.
#[allow(unused_macros)]
macro_rules! on_each_backend {
    ($($test:ident),* $(,)?) => {
        mod embedded {
            $(#[test]
            fn $test() {
                super::$test(super::TestEngine::embedded)
            })*
        }
        mod kafka {
            $(#[test]
            fn $test() {
                super::$test(super::TestEngine::kafka)
            })*
        }
    };
}
