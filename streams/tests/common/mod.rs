//! What the runtime tests share: a broker to run apps on, reached either through the
//! embedded backend (in process, no sockets) or through the Kafka backend (librdkafka against
//! Eddy's Kafka protocol server on a real 127.0.0.1 socket, port chosen by the OS). Either
//! way an Eddy [`Broker`] is underneath, and the tests produce input and read output through
//! it directly, so that the same test body checks both backends.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use eddy_broker::server::groups::GroupConfig;
use eddy_broker::{
    Broker, BrokerConfig, Durability, NewRecord, OffsetSpec, Record, Server, ServerConfig,
    decode_records,
};
use eddy_streams::runtime::{Backend, KafkaBackend};
use eddy_streams::serdes::Serdes;
use eddy_streams::{EmbeddedBackend, StreamsBuilder, Topology};
use tokio::runtime::{Handle, Runtime};

/// Makes a [`TestBroker`] with its data in a directory: [`TestBroker::embedded`] or
/// [`TestBroker::kafka`].
pub type Start = fn(&Path) -> TestBroker;

/// A broker with a backend on it.
pub struct TestBroker {
    /// The backend apps run on.
    pub backend: Arc<dyn Backend>,
    /// The Kafka protocol server's address (Kafka backend only).
    pub addr: Option<String>,
    broker: Broker,
    handle: Handle,
    server: Option<ServerGuard>,
}

/// A running protocol server and the runtime it runs on.
struct ServerGuard {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    runtime: Runtime,
    /// The server's Prometheus text.
    metrics: Arc<dyn Fn() -> String + Send + Sync>,
}

impl TestBroker {
    /// The embedded backend on a broker in `dir`.
    pub fn embedded(dir: &Path) -> Self {
        let backend = Arc::new(EmbeddedBackend::open(dir).unwrap());
        Self {
            broker: backend.broker().clone(),
            handle: backend.handle().clone(),
            backend,
            addr: None,
            server: None,
        }
    }

    /// The Kafka backend against Eddy's Kafka protocol server on a broker in `dir`.
    pub fn kafka(dir: &Path) -> Self {
        Self::kafka_with(
            dir,
            GroupConfig {
                initial_rebalance_delay: Duration::from_millis(300),
                ..GroupConfig::default()
            },
            &[],
        )
    }

    /// [`TestBroker::kafka`] with the server's group settings `groups` and librdkafka
    /// properties `client` for every client of the backend.
    pub fn kafka_with(dir: &Path, groups: GroupConfig, client: &[(&str, &str)]) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("test-broker")
            .enable_all()
            .build()
            .unwrap();
        let broker = runtime
            .block_on(Broker::open(BrokerConfig::new(dir)))
            .unwrap();
        let config = ServerConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            // A fresh group waits `initial_rebalance_delay` for more members before its
            // first assignment; Kafka's default of 3 s would dominate the tests' run time.
            groups,
            ..ServerConfig::default()
        };
        let server = runtime
            .block_on(Server::bind(broker.clone(), config))
            .unwrap();
        let addr = server.local_addr().to_string();
        let metrics = server.metrics_renderer();
        let (stop, stopped) = tokio::sync::oneshot::channel();
        runtime.spawn(async move {
            let _ = server
                .run(async {
                    let _ = stopped.await;
                })
                .await;
        });
        let backend = Arc::new(KafkaBackend::with_config(&addr, client).unwrap());
        Self {
            backend,
            addr: Some(addr),
            broker,
            handle: runtime.handle().clone(),
            server: Some(ServerGuard {
                stop: Some(stop),
                runtime,
                metrics,
            }),
        }
    }

    /// Client connections open to the protocol server (Kafka backend only), from its
    /// `connections` gauge.
    pub fn connections(&self) -> Option<i64> {
        let text = (self.server.as_ref()?.metrics)();
        text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
            let (name, value) = l.split_once(' ')?;
            (name == "connections" || name.ends_with("_connections"))
                .then(|| value.trim().parse().ok())?
        })
    }

    /// The broker underneath.
    pub fn broker(&self) -> &Broker {
        &self.broker
    }

    /// Runs a future of the broker's API from a test thread.
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.handle.block_on(future)
    }

    /// Creates a topic through the backend.
    pub fn create_topic(&self, topic: &str, partitions: i32, compacted: bool) {
        self.backend
            .create_topic(
                topic,
                partitions,
                if compacted {
                    eddy_streams::runtime::TopicKind::Compacted
                } else {
                    eddy_streams::runtime::TopicKind::Plain
                },
            )
            .unwrap();
    }

    /// Appends string records (key, value) to one partition, durably, with timestamp `ts`.
    pub fn produce(&self, topic: &str, partition: i32, records: &[(&str, &str)], ts: Option<i64>) {
        let records: Vec<NewRecord> = records
            .iter()
            .map(|(k, v)| NewRecord {
                key: Some(Bytes::copy_from_slice(k.as_bytes())),
                value: Some(Bytes::copy_from_slice(v.as_bytes())),
                headers: Vec::new(),
                timestamp: ts,
            })
            .collect();
        self.block_on(
            self.broker
                .produce(topic, partition, &records, Durability::Durable),
        )
        .unwrap();
    }

    /// The end offset of a partition.
    pub fn end_offset(&self, topic: &str, partition: i32) -> i64 {
        self.block_on(
            self.broker
                .list_offset(topic, partition, OffsetSpec::Latest),
        )
        .unwrap()
        .map_or(0, |(o, _)| o)
    }

    /// The offset `group` committed on a partition, if any.
    pub fn committed(&self, group: &str, topic: &str, partition: i32) -> Option<i64> {
        self.broker
            .committed_offset(group, topic, partition)
            .map(|c| c.offset)
    }

    /// Appends records to one partition, durably.
    pub fn produce_records(&self, topic: &str, partition: i32, records: &[NewRecord]) {
        self.block_on(
            self.broker
                .produce(topic, partition, records, Durability::Durable),
        )
        .unwrap();
    }

    /// Every record of `topic` as the broker holds it (timestamp and headers included),
    /// with its partition, partition by partition.
    pub fn read_records(&self, topic: &str) -> Vec<(i32, Record)> {
        let mut out = Vec::new();
        let partitions = self.backend.partitions(topic).unwrap().unwrap_or(0);
        for p in 0..partitions {
            let end = self.end_offset(topic, p);
            let mut offset = 0;
            while offset < end {
                // read_committed, past whole batches: transaction markers and aborted batches
                // hold offsets no committed record shows.
                let fetched = self
                    .block_on(self.broker.fetch_isolated(
                        topic,
                        p,
                        offset,
                        1 << 20,
                        Duration::ZERO,
                        eddy_broker::Isolation::ReadCommitted,
                    ))
                    .unwrap();
                let Some(next) = eddy_broker::batch::next_offset_after(&fetched.records) else {
                    break;
                };
                let committed =
                    eddy_broker::batch::without_aborted(&fetched.records, &fetched.aborted);
                for r in decode_records(&committed).unwrap() {
                    if r.offset >= offset {
                        out.push((p, r));
                    }
                }
                offset = next;
            }
        }
        out
    }

    /// Every committed record of `topic`, partition by partition, as (key, value) bytes.
    pub fn read(&self, topic: &str) -> Vec<(Bytes, Option<Bytes>)> {
        self.read_records(topic)
            .into_iter()
            .map(|(_, r)| (r.key.unwrap_or_default(), r.value))
            .collect()
    }

    /// The latest value per key of a topic of string keys and values; a tombstone removes
    /// its key.
    pub fn latest_strings(&self, topic: &str) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (k, v) in self.read(topic) {
            let key = String::from_utf8(k.to_vec()).unwrap();
            match v {
                Some(v) => out.insert(key, String::from_utf8(v.to_vec()).unwrap()),
                None => out.remove(&key),
            };
        }
        out
    }

    /// Appends one string record (`None`: a tombstone) to the partition Kafka's
    /// partitioner picks for its key among `partitions`.
    pub fn put_keyed(&self, topic: &str, partitions: i32, key: &str, value: Option<&str>, ts: i64) {
        let record = NewRecord {
            key: Some(Bytes::copy_from_slice(key.as_bytes())),
            value: value.map(|v| Bytes::copy_from_slice(v.as_bytes())),
            headers: Vec::new(),
            timestamp: Some(ts),
        };
        let partition = eddy_streams::partitioner::partition_for_key(key.as_bytes(), partitions);
        self.block_on(
            self.broker
                .produce(topic, partition, &[record], Durability::Durable),
        )
        .unwrap();
    }

    /// The latest value per key of a topic of string keys and big-endian i64 values.
    pub fn latest_counts(&self, topic: &str) -> BTreeMap<String, i64> {
        self.read(topic)
            .into_iter()
            .map(|(k, v)| {
                (
                    String::from_utf8(k.to_vec()).unwrap(),
                    i64::from_be_bytes(v.unwrap()[..].try_into().unwrap()),
                )
            })
            .collect()
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        if let Some(mut server) = self.server.take() {
            if let Some(stop) = server.stop.take() {
                let _ = stop.send(());
            }
            let _ = server.runtime.block_on(self.broker.shutdown());
        }
    }
}

/// Word count: lines from `lines`, counts per word in store `counts`, updates to
/// `counts-out` (big-endian i64 values).
pub fn word_count() -> Topology {
    let b = StreamsBuilder::new();
    b.stream("lines", Serdes::string(), Serdes::string())
        .flat_map_values(|line: String| {
            line.split_whitespace()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .group_by(|_, w| w.clone(), Serdes::string())
        .count("counts")
        .to_stream()
        .to("counts-out");
    b.build().unwrap()
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
/// `kafka::<test>`. The file must have `TestBroker` in scope.
#[allow(unused_macros)]
macro_rules! on_each_backend {
    ($($test:ident),* $(,)?) => {
        mod embedded {
            $(#[test]
            fn $test() {
                super::$test(super::TestBroker::embedded)
            })*
        }
        mod kafka {
            $(#[test]
            fn $test() {
                super::$test(super::TestBroker::kafka)
            })*
        }
    };
}
