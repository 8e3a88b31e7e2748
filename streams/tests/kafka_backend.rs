//! The runtime on the Kafka backend (librdkafka) against Eddy's own Kafka protocol server:
//! word count, then a second instance joins the consumer group and takes over half the
//! partitions (restoring their stores from the changelog topic), then the first instance
//! stops and the second takes over everything.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use eddy_broker::{Broker, BrokerConfig, Durability, NewRecord, Server, ServerConfig};
use eddy_streams::partitioner::partition_for_key;
use eddy_streams::runtime::{Backend, KafkaBackend, RunningApp};
use eddy_streams::serdes::Serdes;
use eddy_streams::{App, AppConfig, StreamsBuilder, Topology};

const PARTITIONS: i32 = 4;

fn word_count() -> Topology {
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

struct Cluster {
    runtime: tokio::runtime::Runtime,
    broker: Broker,
    addr: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Cluster {
    fn start(dir: &std::path::Path) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let broker = runtime
            .block_on(Broker::open(BrokerConfig::new(dir)))
            .unwrap();
        let config = ServerConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            ..ServerConfig::default()
        };
        let server = runtime
            .block_on(Server::bind(broker.clone(), config))
            .unwrap();
        let addr = server.local_addr().to_string();
        let (stop, stopped) = tokio::sync::oneshot::channel();
        runtime.spawn(async move {
            let _ = server
                .run(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Self {
            runtime,
            broker,
            addr,
            stop: Some(stop),
        }
    }

    fn produce_lines(&self, lines: &[&str]) {
        for (i, line) in lines.iter().enumerate() {
            let key = format!("line-{i}-{line}");
            let partition = partition_for_key(key.as_bytes(), PARTITIONS);
            let record = NewRecord {
                key: Some(Bytes::from(key)),
                value: Some(Bytes::copy_from_slice(line.as_bytes())),
                headers: Vec::new(),
                timestamp: None,
            };
            self.runtime
                .block_on(
                    self.broker
                        .produce("lines", partition, &[record], Durability::Durable),
                )
                .unwrap();
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = self.runtime.block_on(self.broker.shutdown());
    }
}

fn counts(apps: &[&RunningApp]) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for app in apps {
        for (k, v) in app
            .range("counts", .., Serdes::string(), Serdes::i64())
            .unwrap()
        {
            out.insert(k, v);
        }
    }
    out
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn expected(words: &[(&str, i64)]) -> BTreeMap<String, i64> {
    words.iter().map(|(w, n)| (w.to_string(), *n)).collect()
}

#[test]
fn two_instances_share_and_hand_over_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = Cluster::start(&dir.path().join("broker"));
    let backend: Arc<KafkaBackend> = Arc::new(KafkaBackend::new(&cluster.addr).unwrap());
    backend.create_topic("lines", PARTITIONS, false).unwrap();
    backend
        .create_topic("counts-out", PARTITIONS, false)
        .unwrap();
    let config = |state: &str| AppConfig {
        commit_interval: Duration::from_millis(100),
        state_dir: dir.path().join(state),
        ..AppConfig::new("wc-kafka", backend.clone())
    };
    let words = [
        "apple", "banana", "cherry", "damson", "elder", "fig", "grape", "hazel",
    ];

    cluster.produce_lines(&words);
    let a = App::new(word_count(), config("a")).start().unwrap();
    wait_for("instance a to count every word once", || {
        counts(&[&a]) == expected(&words.map(|w| (w, 1)))
    });
    assert_eq!(
        backend.partitions("wc-kafka-counts-changelog").unwrap(),
        Some(PARTITIONS)
    );
    // Let a commit before b joins, so that the hand-over repeats nothing.
    std::thread::sleep(Duration::from_millis(500));

    let b = App::new(word_count(), config("b")).start().unwrap();
    wait_for("the group to split the words between a and b", || {
        let (ca, cb) = (counts(&[&a]), counts(&[&b]));
        !ca.is_empty() && !cb.is_empty() && ca.keys().all(|k| !cb.contains_key(k))
    });
    assert!(
        b.metrics().restored_records > 0,
        "b restored the tasks it took over"
    );
    cluster.produce_lines(&words);
    wait_for("a and b to count every word twice", || {
        counts(&[&a, &b]) == expected(&words.map(|w| (w, 2)))
    });
    std::thread::sleep(Duration::from_millis(500));

    a.stop().unwrap();
    cluster.produce_lines(&words);
    wait_for("b alone to count every word three times", || {
        counts(&[&b]) == expected(&words.map(|w| (w, 3)))
    });
    b.stop().unwrap();
}
