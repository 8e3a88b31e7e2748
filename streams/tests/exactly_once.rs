//! Exactly-once processing (`ProcessingGuarantee::ExactlyOnceV2`), SIGKILLed, on both
//! backends. A child process (this test binary run again) counts its input per key with a
//! RocksDB store and no caches, so a crash-free run writes, for each key, exactly the counts
//! 1, 2, ... n in order. The child is killed at random moments and restarted, and finally one
//! run catches up. Read `read_committed`, the output must be exactly that crash-free
//! sequence: no count repeated (at-least-once would repeat the ones since the last commit)
//! and none missing.
//!
//! - Kafka backend: the parent runs Eddy's Kafka protocol server and appends the input at a
//!   steady pace; the child's app reaches it with librdkafka.
//! - Embedded backend: the broker lives in the child and dies with it; the child appends the
//!   input itself (durably) while its app runs, and the final run compares the output with
//!   the input that survived.
//!
//! Reproduce a run with the seed it prints: `EDDY_EOS_SEED=<seed>`.

mod common;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::TestBroker;
use eddy_streams::partitioner::partition_for_key;
use eddy_streams::runtime::{Backend as _, KafkaBackend, ProcessingGuarantee};
use eddy_streams::serdes::Serdes;
use eddy_streams::{App, AppConfig, StreamsBuilder, Topology};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

const KEYS: usize = 5;
const PARTITIONS: i32 = 2;
const APP_ID: &str = "eos-count";
const DIR_ENV: &str = "EDDY_EOS_CHILD_DIR";
const MODE_ENV: &str = "EDDY_EOS_CHILD_MODE";
const KAFKA_ENV: &str = "EDDY_EOS_CHILD_KAFKA";
/// The child's `group.instance.id` (static membership); `eos-child` if unset.
const INSTANCE_ENV: &str = "EDDY_EOS_CHILD_INSTANCE";
/// With [`INSTANCE_ENV`]: the child's `session.timeout.ms` is the broker's minimum (6 s), so
/// that a killed or frozen instance is noticed in the time of a test.
const SHORT_SESSION_MS: &str = "6000";

fn topology() -> Topology {
    let b = StreamsBuilder::new();
    b.stream("eos-in", Serdes::string(), Serdes::string())
        .group_by_key()
        .count("eos-counts")
        .to_stream()
        .to("eos-out");
    b.build().unwrap()
}

fn key(k: usize) -> String {
    format!("w{k}")
}

/// The child: runs the app until killed ("run"), or until the group's committed input
/// offsets reach the input's end, then stops cleanly ("finish").
#[test]
fn exactly_once_child() {
    let Ok(dir) = std::env::var(DIR_ENV) else {
        return;
    };
    let mode = std::env::var(MODE_ENV).unwrap();
    let dir = std::path::PathBuf::from(dir);
    let Ok(addr) = std::env::var(KAFKA_ENV) else {
        return embedded_child(&dir, &mode);
    };
    let instance = std::env::var(INSTANCE_ENV).ok();
    let mut client = vec![(
        "group.instance.id",
        instance.as_deref().unwrap_or("eos-child"),
    )];
    if instance.is_some() {
        client.push(("session.timeout.ms", SHORT_SESSION_MS));
    }
    let backend = Arc::new(KafkaBackend::with_config(&addr, &client).unwrap());
    let config = AppConfig {
        threads: 2,
        commit_interval: Duration::from_millis(20),
        state_dir: dir.join("state"),
        cache_max_bytes: 0,
        processing_guarantee: ProcessingGuarantee::ExactlyOnceV2,
        ..AppConfig::new(APP_ID, backend)
    };
    let app = App::new(topology(), config).start().unwrap();
    println!("started");
    if mode == "run" {
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    }
    // Reads the group's committed offsets; it never joins the group.
    let offsets: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &addr)
        .set("group.id", APP_ID)
        .create()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let mut wanted = TopicPartitionList::new();
        let mut ends = Vec::new();
        for p in 0..PARTITIONS {
            wanted.add_partition("eos-in", p);
            ends.push(
                offsets
                    .fetch_watermarks("eos-in", p, Duration::from_secs(10))
                    .unwrap()
                    .1,
            );
        }
        let committed = offsets
            .committed_offsets(wanted, Duration::from_secs(10))
            .unwrap();
        let caught_up = (0..PARTITIONS).all(|p| {
            committed
                .find_partition("eos-in", p)
                .and_then(|e| e.offset().to_raw())
                == Some(ends[p as usize])
        });
        if caught_up {
            break;
        }
        assert!(Instant::now() < deadline, "the finish run did not catch up");
        std::thread::sleep(Duration::from_millis(50));
    }
    app.stop().unwrap();
    println!("finished");
}

/// The embedded backend's child: the broker is in this process. "run" appends input while
/// the app runs until killed; "finish" catches up, then checks the committed output against
/// the input and prints `exact` or what differs.
fn embedded_child(dir: &std::path::Path, mode: &str) {
    use eddy_broker::{Isolation, OffsetSpec, batch::without_aborted, decode_records};
    let backend = Arc::new(eddy_streams::EmbeddedBackend::open(dir.join("broker")).unwrap());
    let broker = backend.broker().clone();
    let handle = backend.handle().clone();
    for topic in ["eos-in", "eos-out"] {
        backend
            .create_topic(topic, PARTITIONS, eddy_streams::runtime::TopicKind::Plain)
            .unwrap();
    }
    let config = AppConfig {
        threads: 2,
        commit_interval: Duration::from_millis(20),
        state_dir: dir.join("state"),
        cache_max_bytes: 0,
        processing_guarantee: ProcessingGuarantee::ExactlyOnceV2,
        ..AppConfig::new(APP_ID, backend.clone())
    };
    let app = App::new(topology(), config).start().unwrap();
    println!("started");
    let end = |topic: &str, p: i32| {
        handle
            .block_on(broker.list_offset(topic, p, OffsetSpec::Latest))
            .unwrap()
            .map_or(0, |(o, _)| o)
    };
    if mode == "run" {
        let mut i = 0usize;
        loop {
            for _ in 0..10 {
                let k = key(i % KEYS);
                let p = partition_for_key(k.as_bytes(), PARTITIONS);
                let record = eddy_broker::NewRecord::new(k, "x");
                handle
                    .block_on(broker.produce(
                        "eos-in",
                        p,
                        &[record],
                        eddy_broker::Durability::Durable,
                    ))
                    .unwrap();
                i += 1;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while !(0..PARTITIONS).all(|p| {
        broker
            .committed_offset(APP_ID, "eos-in", p)
            .map(|c| c.offset)
            == Some(end("eos-in", p))
    }) {
        assert!(Instant::now() < deadline, "the finish run did not catch up");
        std::thread::sleep(Duration::from_millis(50));
    }
    app.stop().unwrap();
    // Read a partition's records, as read_committed or everything.
    let read = |topic: &str, p: i32, isolation: Isolation| {
        let mut records = Vec::new();
        let mut at = 0;
        while at < end(topic, p) {
            let fetched = handle
                .block_on(broker.fetch_isolated(topic, p, at, 1 << 20, Duration::ZERO, isolation))
                .unwrap();
            let Some(next) = eddy_broker::batch::next_offset_after(&fetched.records) else {
                break;
            };
            let kept = without_aborted(&fetched.records, &fetched.aborted);
            records.extend(
                decode_records(&kept)
                    .unwrap()
                    .into_iter()
                    .filter(|r| r.offset >= at),
            );
            at = next;
        }
        records
    };
    let mut sent = [0i64; KEYS];
    let mut counts: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut everything = 0;
    for p in 0..PARTITIONS {
        for r in read("eos-in", p, Isolation::ReadUncommitted) {
            let k: usize = std::str::from_utf8(&r.key.unwrap()[1..])
                .unwrap()
                .parse()
                .unwrap();
            sent[k] += 1;
        }
        for r in read("eos-out", p, Isolation::ReadCommitted) {
            let k = String::from_utf8(r.key.unwrap().to_vec()).unwrap();
            let count = i64::from_be_bytes(r.value.unwrap()[..].try_into().unwrap());
            counts.entry(k).or_default().push(count);
        }
        everything += read("eos-out", p, Isolation::ReadUncommitted).len();
    }
    println!(
        "{} input records; {} records of aborted transactions in the output",
        sent.iter().sum::<i64>(),
        everything as i64 - sent.iter().sum::<i64>()
    );
    for (k, &n) in sent.iter().enumerate() {
        let expected: Vec<i64> = (1..=n).collect();
        let got = counts.get(&key(k)).cloned().unwrap_or_default();
        if got != expected {
            println!(
                "differs: {}: {} counts, expected 1..={n}; first difference at {:?}",
                key(k),
                got.len(),
                got.iter().zip(&expected).position(|(a, b)| a != b)
            );
            return;
        }
    }
    println!("exact");
}

fn child(dir: &std::path::Path, mode: &str, addr: Option<&str>) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "exactly_once_child",
        "--exact",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(DIR_ENV, dir)
    .env(MODE_ENV, mode)
    .stderr(Stdio::null());
    match addr {
        Some(addr) => cmd.env(KAFKA_ENV, addr),
        None => cmd.env_remove(KAFKA_ENV),
    };
    cmd
}

/// Kills `cycles` "run" children at random moments after they start.
fn kill_cycles(dir: &std::path::Path, addr: Option<&str>, cycles: usize, rng: &mut u64) {
    for cycle in 0..cycles {
        let mut run = child(dir, "run", addr)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        let mut out = std::io::BufReader::new(run.stdout.take().unwrap());
        let _ = std::io::BufRead::read_line(&mut out, &mut line);
        *rng = xorshift(*rng);
        let after = Duration::from_millis(300 + *rng % 1_200);
        std::thread::sleep(after);
        run.kill().unwrap();
        run.wait().unwrap();
        eprintln!("cycle {cycle}: killed {after:?} after the start");
    }
}

fn seed() -> u64 {
    let seed = match std::env::var("EDDY_EOS_SEED") {
        Ok(s) => s.parse().unwrap(),
        Err(_) => rand_seed(),
    };
    eprintln!("seed {seed} (EDDY_EOS_SEED={seed} to repeat)");
    seed
}

#[test]
fn exactly_once_output_equals_a_crash_free_run_across_kills_on_embedded() {
    let mut rng = seed();
    let dir = tempfile::tempdir().unwrap();
    kill_cycles(dir.path(), None, 5, &mut rng);
    let finish = child(dir.path(), "finish", None).output().unwrap();
    let stdout = String::from_utf8_lossy(&finish.stdout);
    eprintln!("{stdout}");
    assert!(
        finish.status.success() && stdout.lines().any(|l| l.ends_with("exact")),
        "the finish run failed or found other counts: {stdout}"
    );
}

/// Every record of `eos-out`, per key in offset order, read with `isolation`.
fn read_output(addr: &str, isolation: &str) -> BTreeMap<String, Vec<i64>> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", addr)
        .set("group.id", format!("eos-reader-{isolation}"))
        .set("enable.auto.commit", "false")
        .set("isolation.level", isolation)
        .create()
        .unwrap();
    let mut assignment = TopicPartitionList::new();
    let mut ends = Vec::new();
    for p in 0..PARTITIONS {
        assignment
            .add_partition_offset("eos-out", p, Offset::Beginning)
            .unwrap();
        ends.push(
            consumer
                .fetch_watermarks("eos-out", p, Duration::from_secs(10))
                .unwrap()
                .1,
        );
    }
    consumer.assign(&assignment).unwrap();
    let mut out: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let positions = consumer.position().unwrap();
        let done = (0..PARTITIONS).all(|p| {
            let end = ends[p as usize];
            end == 0
                || positions
                    .find_partition("eos-out", p)
                    .and_then(|e| e.offset().to_raw())
                    .is_some_and(|at| at >= end)
        });
        if done {
            return out;
        }
        assert!(Instant::now() < deadline, "reading eos-out timed out");
        if let Some(message) = consumer.poll(Duration::from_millis(50)) {
            let message = message.unwrap();
            let key = String::from_utf8(message.key().unwrap().to_vec()).unwrap();
            let count = i64::from_be_bytes(message.payload().unwrap().try_into().unwrap());
            out.entry(key).or_default().push(count);
        }
    }
}

#[test]
fn exactly_once_output_equals_a_crash_free_run_across_kills() {
    let mut rng = seed();
    let dir = tempfile::tempdir().unwrap();
    let (broker, addr) = kafka_with_topics(dir.path());
    // Input arrives all through the kill cycles, in the partition of its key.
    let stop = Arc::new(AtomicBool::new(false));
    let producer = steady_input(&broker, &stop);
    kill_cycles(dir.path(), Some(&addr), 5, &mut rng);
    stop.store(true, Ordering::SeqCst);
    let sent = producer.join().unwrap();
    let finish = child(dir.path(), "finish", Some(&addr)).output().unwrap();
    let stdout = String::from_utf8_lossy(&finish.stdout);
    assert!(
        finish.status.success() && stdout.contains("finished"),
        "the finish run failed: {stdout}"
    );

    assert_exactly_once(&addr, &sent);
}

/// The Kafka backend's broker in `dir/broker` with the input and output topics, and its
/// address.
fn kafka_with_topics(dir: &std::path::Path) -> (Arc<TestBroker>, String) {
    let broker = Arc::new(TestBroker::kafka(&dir.join("broker")));
    let addr = broker.addr.clone().unwrap();
    for topic in ["eos-in", "eos-out"] {
        broker.create_topic(topic, PARTITIONS, false);
    }
    (broker, addr)
}

/// Sends a signal (`STOP`, `CONT`) to a child.
fn signal(child: &std::process::Child, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name} failed");
}

/// A "run" child as static member `instance` (6 s sessions), its state in `dir/<instance>`;
/// returns once its app has started.
fn instance(dir: &std::path::Path, addr: &str, instance: &str) -> std::process::Child {
    let mut run = child(&dir.join(instance), "run", Some(addr))
        .env(INSTANCE_ENV, instance)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    // The test harness prints its own lines first, and the test's name before `started`.
    let out = std::io::BufReader::new(run.stdout.take().unwrap());
    let started =
        std::io::BufRead::lines(out).any(|l| l.is_ok_and(|l| l.trim_end().ends_with("started")));
    assert!(started, "{instance} did not start");
    run
}

/// Two instances on the Kafka backend (static members with 6 s sessions, each its own state
/// directory), input arriving all along. The first is SIGKILLed and the second takes its
/// partitions over; the first comes back; then the second is frozen (SIGSTOP) past its
/// session, so the first takes everything, and thawed: a zombie holding an open transaction
/// over partitions that are no longer its own, whose commit must be fenced (its group
/// generation is stale, KIP-447) and its transaction aborted. Read `read_committed`, the
/// output is exactly the crash-free run's.
///
/// Ignored: it fails. Without the freeze (kill and take-over only) it passes; with it, the
/// committed output misses each key's last few counts (3016..3020 of 3020, say), which are
/// in aborted transactions only, while the input offsets past them are committed. Not yet
/// diagnosed; one suspect is that a task restores its stores before its input's committed
/// offsets are stable (KIP-447's pending transactional offsets), which Kafka Streams waits
/// for first. Run it with `--ignored`.
#[test]
#[ignore = "fails: a zombie loses committed output; see the doc comment"]
fn two_instances_one_killed_one_a_zombie_stay_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let (broker, addr) = kafka_with_topics(dir.path());
    let stop = Arc::new(AtomicBool::new(false));
    let producer = steady_input(&broker, &stop);
    let session = Duration::from_millis(SHORT_SESSION_MS.parse().unwrap());
    let mut first = instance(dir.path(), &addr, "eos-a");
    eprintln!("eos-a started");
    let second = instance(dir.path(), &addr, "eos-b");
    eprintln!("eos-b started");
    std::thread::sleep(Duration::from_secs(2));
    eprintln!("killing eos-a");
    first.kill().unwrap();
    first.wait().unwrap();
    // The second takes the first's partitions once its session has expired.
    std::thread::sleep(session + Duration::from_secs(3));
    let mut first = instance(dir.path(), &addr, "eos-a");
    eprintln!("eos-a restarted; freezing eos-b");
    std::thread::sleep(Duration::from_secs(2));
    signal(&second, "STOP");
    std::thread::sleep(session + Duration::from_secs(3));
    signal(&second, "CONT");
    eprintln!("eos-b thawed");
    std::thread::sleep(Duration::from_secs(3));
    stop.store(true, Ordering::SeqCst);
    let sent = producer.join().unwrap();
    let mut second = second;
    for run in [&mut first, &mut second] {
        run.kill().unwrap();
        run.wait().unwrap();
    }
    eprintln!("both killed; catching up");
    let finish = child(dir.path(), "finish", Some(&addr)).output().unwrap();
    let stdout = String::from_utf8_lossy(&finish.stdout);
    assert!(
        finish.status.success() && stdout.contains("finished"),
        "the finish run failed: {stdout}"
    );
    assert_exactly_once(&addr, &sent);
}

/// Appends input at a steady pace, each key to its partition, until `stop`; the counts sent
/// per key.
fn steady_input(
    broker: &Arc<TestBroker>,
    stop: &Arc<AtomicBool>,
) -> std::thread::JoinHandle<Vec<i64>> {
    let (broker, stop) = (Arc::clone(broker), Arc::clone(stop));
    std::thread::spawn(move || {
        let mut sent = vec![0i64; KEYS];
        let mut i = 0usize;
        while !stop.load(Ordering::SeqCst) {
            for _ in 0..10 {
                let k = key(i % KEYS);
                let p = partition_for_key(k.as_bytes(), PARTITIONS);
                broker.produce("eos-in", p, &[(&k, "x")], None);
                sent[i % KEYS] += 1;
                i += 1;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        sent
    })
}

/// The output read `read_committed` holds, for each key, exactly the counts 1..=sent.
fn assert_exactly_once(addr: &str, sent: &[i64]) {
    let committed = read_output(addr, "read_committed");
    for (k, &n) in sent.iter().enumerate() {
        let expected: Vec<i64> = (1..=n).collect();
        let got = committed.get(&key(k)).cloned().unwrap_or_default();
        assert!(
            got == expected,
            "{}: {} counts, expected 1..={n}; first difference at {:?}",
            key(k),
            got.len(),
            got.iter().zip(&expected).position(|(a, b)| a != b)
        );
    }
    let everything: usize = read_output(addr, "read_uncommitted")
        .values()
        .map(Vec::len)
        .sum();
    let total: i64 = sent.iter().sum();
    eprintln!(
        "{total} input records; {} records of aborted transactions in the output",
        everything as i64 - total
    );
}

fn xorshift(mut x: u64) -> u64 {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x
}

fn rand_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    xorshift(nanos | 1)
}

/// Writes input records `from..to`: key `i % KEYS`, in the partition its key hashes to.
fn produce_inputs(broker: &TestBroker, from: usize, to: usize) {
    for i in from..to {
        let k = key(i % KEYS);
        broker.produce(
            "eos-in",
            partition_for_key(k.as_bytes(), PARTITIONS),
            &[(&k, "x")],
            None,
        );
    }
}

/// The committed counts of `eos-out`, in order, per key.
fn counts_by_key(broker: &TestBroker) -> BTreeMap<String, Vec<i64>> {
    let mut by_key: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (k, v) in broker.read("eos-out") {
        by_key
            .entry(String::from_utf8(k.to_vec()).unwrap())
            .or_default()
            .push(i64::from_be_bytes(v.unwrap()[..].try_into().unwrap()));
    }
    by_key
}

/// A thread whose transaction the coordinator aborts under it (its timeout passed: the
/// broker's maintenance pass fences it) loses its tasks, recovers them and goes on: the app
/// keeps running and the committed output is still exactly 1..n per key.
fn an_aborted_transaction_is_recovered_from_in_place(start: common::Start) {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(&dir.path().join("broker"));
    for topic in ["eos-in", "eos-out"] {
        broker.create_topic(topic, PARTITIONS, false);
    }
    let produce = |from: usize, to: usize| produce_inputs(&broker, from, to);
    produce(0, 100);
    let config = AppConfig {
        threads: 1,
        // Long enough that the fencing lands inside an open transaction.
        commit_interval: Duration::from_secs(2),
        state_dir: dir.path().join("state"),
        cache_max_bytes: 0,
        processing_guarantee: ProcessingGuarantee::ExactlyOnceV2,
        ..AppConfig::new(APP_ID, broker.backend.clone())
    };
    let app = App::new(topology(), config).start().unwrap();
    common::wait_for("the first commit", || app.metrics().commits >= 1);
    produce(100, 200);
    // Processed, not yet committed: the records are in an open transaction.
    common::wait_for("the second batch processed", || {
        app.metrics().processed >= 200
    });
    let b = broker.broker().clone();
    broker
        .block_on(b.run_maintenance(eddy_broker::now_ms() + 60_000))
        .unwrap();
    let fenced = broker
        .block_on(b.list_transactions())
        .into_iter()
        .filter(|t| t.status.name() == "CompleteAbort")
        .count();
    assert!(fenced >= 1, "the maintenance pass aborted no transaction");
    produce(200, 300);
    let counts = || counts_by_key(&broker);
    common::wait_for("every record counted and committed", || {
        counts().values().map(Vec::len).sum::<usize>() >= 300
    });
    assert!(app.is_running(), "the app stopped: {:?}", app.failure());
    for k in 0..KEYS {
        let expected: Vec<i64> = (1..=60).collect();
        assert_eq!(counts()[&key(k)], expected, "{}", key(k));
    }
    app.stop().unwrap();
}

#[test]
fn an_aborted_transaction_is_recovered_from_in_place_on_embedded() {
    an_aborted_transaction_is_recovered_from_in_place(TestBroker::embedded);
}

#[test]
fn an_aborted_transaction_is_recovered_from_in_place_on_kafka() {
    an_aborted_transaction_is_recovered_from_in_place(TestBroker::kafka);
}

/// Exactly-once stores write no checkpoint at a commit, but do once their records are
/// committed and the app stops cleanly: the restart replays nothing (a full restore would
/// replay every count), and counting goes on from the right state.
fn a_clean_stop_checkpoints_the_stores(start: common::Start) {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(&dir.path().join("broker"));
    for topic in ["eos-in", "eos-out"] {
        broker.create_topic(topic, PARTITIONS, false);
    }
    let produce = |from: usize, to: usize| produce_inputs(&broker, from, to);
    let config = AppConfig {
        threads: 1,
        commit_interval: Duration::from_millis(100),
        state_dir: dir.path().join("state"),
        cache_max_bytes: 0,
        processing_guarantee: ProcessingGuarantee::ExactlyOnceV2,
        ..AppConfig::new(APP_ID, broker.backend.clone())
    };
    let outputs = || broker.read("eos-out").len();
    produce(0, 100);
    let app = App::new(topology(), config.clone()).start().unwrap();
    common::wait_for("the first counts committed", || outputs() == 100);
    app.stop().unwrap();
    // Every count is in the changelog: 100 records a full restore would replay.
    let changelog = eddy_streams::runtime::changelog_topic(APP_ID, "eos-counts");
    assert_eq!(broker.read(&changelog).len(), 100);

    produce(100, 200);
    let app = App::new(topology(), config).start().unwrap();
    common::wait_for("the next counts committed", || outputs() == 200);
    assert_eq!(
        app.metrics().restored_records,
        0,
        "the restart replayed changelog records"
    );
    app.stop().unwrap();
    let by_key = counts_by_key(&broker);
    let per_key = (200 / KEYS) as i64;
    for k in 0..KEYS {
        assert_eq!(
            by_key[&key(k)],
            (1..=per_key).collect::<Vec<_>>(),
            "{}",
            key(k)
        );
    }
}

#[test]
fn a_clean_stop_checkpoints_the_stores_on_embedded() {
    a_clean_stop_checkpoints_the_stores(TestBroker::embedded);
}

#[test]
fn a_clean_stop_checkpoints_the_stores_on_kafka() {
    a_clean_stop_checkpoints_the_stores(TestBroker::kafka);
}
