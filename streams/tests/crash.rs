//! SIGKILL crash test of an application, on both backends: a child process appends input
//! while a counting app processes it with RocksDB stores and changelogs; the parent kills it
//! at random moments, many times; a final run processes everything and the counts must cover
//! every input record (at-least-once: nothing lost; duplicates are allowed and reported).
//!
//! On the embedded backend the broker lives in the child and dies with it. On the Kafka
//! backend the parent runs Eddy's Kafka protocol server and the child's app reaches it over a
//! socket with librdkafka, as static group members (a restarted child takes its killed
//! predecessor's place without waiting for its session to time out).

mod common;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::TestBroker;
use eddy_streams::record::SinkRecord;
use eddy_streams::runtime::{Backend, KafkaBackend};
use eddy_streams::serdes::Serdes;
use eddy_streams::{App, AppConfig, EmbeddedBackend, StreamsBuilder, Topology};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::{Offset, TopicPartitionList};

const KEYS: usize = 7;
const CHILD_ENV: &str = "EDDY_STREAMS_CRASH_DIR";
const MODE_ENV: &str = "EDDY_STREAMS_CRASH_MODE";
/// The Kafka protocol server's address when the child runs on the Kafka backend.
const KAFKA_ENV: &str = "EDDY_STREAMS_CRASH_KAFKA";
const APP_ID: &str = "crashy";

fn topology() -> Topology {
    let b = StreamsBuilder::new();
    b.stream("in", Serdes::string(), Serdes::string())
        .group_by(|_, v| v.clone(), Serdes::string())
        .count("counts")
        .to_stream()
        .to("out");
    b.build().unwrap()
}

/// The child's backend, and how it reads the app's committed offsets.
enum ChildBackend {
    Embedded(Arc<EmbeddedBackend>),
    Kafka(Arc<KafkaBackend>, BaseConsumer),
}

impl ChildBackend {
    fn open(dir: &std::path::Path) -> Self {
        match std::env::var(KAFKA_ENV) {
            Ok(addr) => {
                let backend =
                    KafkaBackend::with_config(&addr, &[("group.instance.id", "crashy-child")])
                        .unwrap();
                // Reads the group's committed offsets; it never joins the group.
                let offsets: BaseConsumer = ClientConfig::new()
                    .set("bootstrap.servers", &addr)
                    .set("group.id", APP_ID)
                    .set("enable.auto.commit", "false")
                    .create()
                    .unwrap();
                Self::Kafka(Arc::new(backend), offsets)
            }
            Err(_) => Self::Embedded(Arc::new(EmbeddedBackend::open(dir.join("broker")).unwrap())),
        }
    }

    fn backend(&self) -> Arc<dyn Backend> {
        match self {
            Self::Embedded(b) => b.clone(),
            Self::Kafka(b, _) => b.clone(),
        }
    }

    fn committed(&self, topic: &str, partition: i32) -> Option<i64> {
        match self {
            Self::Embedded(b) => b
                .broker()
                .committed_offset(APP_ID, topic, partition)
                .map(|c| c.offset),
            Self::Kafka(_, consumer) => {
                let mut list = TopicPartitionList::new();
                list.add_partition(topic, partition);
                let committed = consumer
                    .committed_offsets(list, Duration::from_secs(10))
                    .unwrap();
                match committed.find_partition(topic, partition)?.offset() {
                    Offset::Offset(o) => Some(o),
                    _ => None,
                }
            }
        }
    }
}

/// Every record of `topic` up to its current end, through the backend's own reader.
fn read_all(backend: &dyn Backend, topic: &str) -> Vec<(String, Bytes)> {
    let partitions = backend.partitions(topic).unwrap().unwrap();
    let ends: Vec<i64> = (0..partitions)
        .map(|p| backend.end_offset(topic, p).unwrap())
        .collect();
    let mut next = vec![0i64; ends.len()];
    let mut out = Vec::new();
    let mut reader = backend.reader(topic).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while next.iter().zip(&ends).any(|(n, e)| n < e) {
        assert!(Instant::now() < deadline, "reading {topic} timed out");
        for batch in reader.poll(Duration::from_millis(100)).unwrap() {
            let p = batch.partition as usize;
            for r in batch.records {
                if r.offset < ends[p] {
                    out.push((
                        String::from_utf8(r.key.unwrap().to_vec()).unwrap(),
                        r.value.unwrap(),
                    ));
                }
                next[p] = r.offset + 1;
            }
        }
    }
    out
}

/// The child: `run` appends input while the app runs until killed; `finish` processes
/// everything, stops cleanly and prints `key count-in-input latest-output store`.
#[test]
#[ignore = "child process of the crash_and_restart tests"]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mode = std::env::var(MODE_ENV).unwrap();
    let dir = std::path::PathBuf::from(dir);
    let child = ChildBackend::open(&dir);
    let backend = child.backend();
    backend
        .create_topic("in", 2, eddy_streams::runtime::TopicKind::Plain)
        .unwrap();
    backend
        .create_topic("out", 2, eddy_streams::runtime::TopicKind::Plain)
        .unwrap();
    let config = AppConfig {
        threads: 2,
        commit_interval: Duration::from_millis(15),
        state_dir: dir.join("state"),
        cache_max_bytes: 512,
        ..AppConfig::new(APP_ID, backend.clone())
    };
    let app = App::new(topology(), config).start().unwrap();
    if mode == "run" {
        let mut producer = backend.producer().unwrap();
        let mut n = 0u64;
        println!("started");
        loop {
            let records: Vec<SinkRecord> = (0..20)
                .map(|i| {
                    n += 1;
                    SinkRecord {
                        topic: Arc::from("in"),
                        partition: None,
                        key: Some(Bytes::from(format!("line{n}"))),
                        value: Some(Bytes::from(format!("w{}", (n + i) as usize % KEYS))),
                        timestamp: eddy_broker::now_ms(),
                        headers: Vec::new(),
                    }
                })
                .collect();
            producer.send("in", (n % 2) as i32, records).unwrap();
            producer.flush().unwrap();
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    // Done when the committed offsets of the input and repartition topics reach their ends
    // (the counts alone, with duplicates, reach the input's size too early).
    let caught_up = || {
        ["in", "crashy-counts-repartition"].iter().all(|topic| {
            (0..2).all(|p| {
                let end = backend.end_offset(topic, p).unwrap();
                child.committed(topic, p).map_or(end == 0, |c| c == end)
            })
        })
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while !caught_up() {
        assert!(Instant::now() < deadline, "finish run did not catch up");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Interactive queries see only the partitions this instance holds: on the Kafka backend
    // a late rebalance (a killed static member's place being taken) can leave one unheld for
    // a moment after the offsets caught up, and a lookup there finds nothing. Wait until
    // every key is found (a key the store really lost is found with a lower count, or never,
    // and the checks below or this deadline fail the test).
    let lookup = |k: usize| {
        app.get("counts", &format!("w{k}"), Serdes::string(), Serdes::i64())
            .unwrap()
    };
    while (0..KEYS).any(|k| lookup(k).is_none()) {
        assert!(Instant::now() < deadline, "the store never held every key");
        std::thread::sleep(Duration::from_millis(50));
    }
    let store: Vec<i64> = (0..KEYS).map(|k| lookup(k).unwrap_or(0)).collect();
    app.stop().unwrap();
    let mut input: BTreeMap<String, i64> = BTreeMap::new();
    for (_, v) in read_all(&*backend, "in") {
        *input
            .entry(String::from_utf8(v.to_vec()).unwrap())
            .or_default() += 1;
    }
    let mut output: BTreeMap<String, i64> = BTreeMap::new();
    for (k, v) in read_all(&*backend, "out") {
        output.insert(k, i64::from_be_bytes(v[..].try_into().unwrap()));
    }
    for (k, stored) in store.iter().enumerate() {
        let key = format!("w{k}");
        println!(
            "RESULT {key} {} {} {stored}",
            input.get(&key).copied().unwrap_or(0),
            output.get(&key).copied().unwrap_or(0),
        );
    }
}

fn child(dir: &std::path::Path, mode: &str, kafka: Option<&str>) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "crash_child",
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD_ENV, dir)
    .env(MODE_ENV, mode)
    .stderr(Stdio::null());
    match kafka {
        Some(addr) => cmd.env(KAFKA_ENV, addr),
        None => cmd.env_remove(KAFKA_ENV),
    };
    cmd
}

/// Kills `cycles` children after `min_ms` plus a random part of `spread_ms` each, then
/// checks a final run's counts.
fn crash_and_restart(
    dir: &std::path::Path,
    kafka: Option<&str>,
    cycles: usize,
    min_ms: u64,
    spread_ms: u64,
) {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..cycles {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut run = child(dir, "run", kafka)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        // Let it start (broker recovery, store restore) and work for a random while.
        let mut line = String::new();
        let mut out = std::io::BufReader::new(run.stdout.take().unwrap());
        let _ = std::io::BufRead::read_line(&mut out, &mut line);
        std::thread::sleep(Duration::from_millis(min_ms + seed % spread_ms));
        // kill(2) through the standard library sends SIGKILL.
        run.kill().unwrap();
        run.wait().unwrap();
    }
    let output = child(dir, "finish", kafka).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "finish run failed: {stdout}");
    let mut total_in = 0;
    let mut duplicates = 0;
    let mut rows = 0;
    for line in stdout
        .lines()
        .filter_map(|l| l.split_once("RESULT ").map(|(_, r)| r))
    {
        let f: Vec<&str> = std::iter::once("RESULT")
            .chain(line.split_whitespace())
            .collect();
        let (input, output, store): (i64, i64, i64) = (
            f[2].parse().unwrap(),
            f[3].parse().unwrap(),
            f[4].parse().unwrap(),
        );
        assert!(input > 0, "no input for {}: {line}", f[1]);
        assert!(store >= input, "store lost counts for {}: {line}", f[1]);
        assert_eq!(
            output, store,
            "the output topic's latest count differs from the store: {line}"
        );
        total_in += input;
        duplicates += store - input;
        rows += 1;
    }
    assert_eq!(rows, KEYS, "{stdout}");
    println!(
        "{cycles} kills, {total_in} input records, {duplicates} counted twice (at-least-once)"
    );
}

#[test]
fn crash_and_restart_never_loses_counts() {
    let dir = tempfile::tempdir().unwrap();
    crash_and_restart(dir.path(), None, 12, 30, 300);
}

#[test]
fn crash_and_restart_never_loses_counts_on_kafka() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::kafka(&dir.path().join("broker"));
    let addr = broker.addr.clone().unwrap();
    // Kills land while the group forms, restores, and processes.
    crash_and_restart(dir.path(), Some(&addr), 6, 300, 1_500);
}
