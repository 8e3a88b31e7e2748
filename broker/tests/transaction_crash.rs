//! The broker SIGKILLed in the middle of transactions. A child process (this test binary run
//! again, see [`transaction_crash_child`]) serves a broker; an rdkafka transactional producer
//! commits transaction after transaction, each writing one record to each of three
//! partitions; the parent kills the child at a random moment, restarts it on the same data
//! directory, initialises a new producer with the same `transactional.id` (which must finish
//! whatever the crash left open) and reads everything `read_committed`:
//! - every transaction whose commit was acknowledged is there, in all three partitions;
//! - every transaction that is there is there whole (atomic across partitions), once;
//! - nothing is left open at the end: the last stable offset is the log end, and the
//!   transactional id's epoch went up with every initialisation (its state survived).
//!
//! Reproduce a run with the seed it prints: `EDDY_TXN_CRASH_SEED=<seed>`.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use eddy_broker::{Broker, BrokerConfig, OffsetSpec, Server, ServerConfig, TopicConfig};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rdkafka::ClientConfig;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use support::{ChildProcess, emit};

const TOPIC: &str = "txn-crash";
const PARTITIONS: i32 = 3;
const TRANSACTIONAL_ID: &str = "crash-app";
const KILL_CYCLES: u32 = 4;
const ENV_DIR: &str = "EDDY_TXN_CRASH_CHILD_DIR";
const WAIT: Duration = Duration::from_secs(20);

/// The child's side: a no-op in a normal run; with `EDDY_TXN_CRASH_CHILD_DIR` set it serves
/// a broker on that directory until it is killed.
#[test]
fn transaction_crash_child() {
    let Some(dir) = std::env::var_os(ENV_DIR) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime
        .block_on(async {
            let broker = Broker::open(BrokerConfig::new(Path::new(&dir))).await?;
            if broker.describe_topic(TOPIC).is_err() {
                let config = TopicConfig {
                    partitions: PARTITIONS,
                    // Small segments: kills land around rolls too.
                    segment_bytes: 16 << 10,
                    ..TopicConfig::default()
                };
                broker.create_topic(TOPIC, config).await?;
            }
            let config = ServerConfig {
                listen: "127.0.0.1:0".parse()?,
                ..ServerConfig::default()
            };
            let server = Server::bind(broker, config).await?;
            emit(&format!("listen {}", server.local_addr()));
            server.run(std::future::pending()).await?;
            anyhow::Ok(())
        })
        .expect("the child failed");
}

fn start_child(dir: &Path) -> Result<(ChildProcess, String)> {
    let mut child = ChildProcess::spawn(
        "transaction_crash_child",
        &[(ENV_DIR, OsString::from(dir.as_os_str()))],
    )?;
    let addr = child.wait_for_prefix("listen ", WAIT)?;
    Ok((child, addr))
}

fn client_config(bootstrap: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("broker.address.family", "v4")
        .set("reconnect.backoff.max.ms", "200")
        .set_log_level(RDKafkaLogLevel::Emerg);
    config
}

fn producer(bootstrap: &str) -> Result<BaseProducer> {
    let producer: BaseProducer = client_config(bootstrap)
        .set("transactional.id", TRANSACTIONAL_ID)
        .set("transaction.timeout.ms", "60000")
        .set("message.timeout.ms", "5000")
        .set("linger.ms", "0")
        .create()?;
    producer.init_transactions(WAIT)?;
    Ok(producer)
}

/// Commits transactions `first..` until one fails (the broker was killed) or `stop` is set;
/// returns the numbers whose commit was acknowledged.
fn commit_until_failure(producer: &BaseProducer, first: u64, stop: &AtomicBool) -> Vec<u64> {
    let timeout = Duration::from_secs(3);
    let mut acknowledged = Vec::new();
    for n in first.. {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let attempt = (|| -> Result<()> {
            producer.begin_transaction()?;
            for p in 0..PARTITIONS {
                let value = format!("{n}:{p}");
                let record = BaseRecord::<str, str>::to(TOPIC)
                    .partition(p)
                    .key(&value)
                    .payload(&value);
                producer.send(record).map_err(|(e, _)| e)?;
            }
            producer.commit_transaction(timeout)?;
            Ok(())
        })();
        match attempt {
            Ok(()) => acknowledged.push(n),
            Err(_) => break,
        }
    }
    acknowledged
}

/// Reads every partition `read_committed` up to its end; returns the values by partition.
fn read_committed(bootstrap: &str) -> Result<BTreeMap<i32, Vec<String>>> {
    let consumer: BaseConsumer = client_config(bootstrap)
        .set("group.id", "crash-reader")
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .set("fetch.wait.max.ms", "50")
        .create()?;
    let mut assignment = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        assignment.add_partition_offset(TOPIC, p, Offset::Beginning)?;
    }
    consumer.assign(&assignment)?;
    let ends: Vec<i64> = (0..PARTITIONS)
        .map(|p| Ok(consumer.fetch_watermarks(TOPIC, p, WAIT)?.1))
        .collect::<Result<_>>()?;
    let started = Instant::now();
    let mut values: BTreeMap<i32, Vec<String>> = BTreeMap::new();
    loop {
        let positions = consumer.position()?;
        let done = (0..PARTITIONS).all(|p| {
            let position = positions
                .find_partition(TOPIC, p)
                .and_then(|e| e.offset().to_raw())
                .unwrap_or(-1);
            let end = ends[p as usize];
            end == 0 || position >= end
        });
        if done {
            return Ok(values);
        }
        ensure!(
            started.elapsed() < WAIT,
            "reading took over {WAIT:?}: at {positions:?} of {ends:?}"
        );
        if let Some(message) = consumer.poll(Duration::from_millis(50)) {
            let message = message?;
            let value = String::from_utf8(message.payload().unwrap_or_default().to_vec())?;
            values.entry(message.partition()).or_default().push(value);
        }
    }
}

#[test]
fn transactions_are_atomic_and_durable_across_broker_kills() -> Result<()> {
    let seed = match std::env::var("EDDY_TXN_CRASH_SEED") {
        Ok(s) => s.parse().context("EDDY_TXN_CRASH_SEED")?,
        Err(_) => rand::random::<u64>(),
    };
    eprintln!("seed {seed} (EDDY_TXN_CRASH_SEED={seed} to repeat)");
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir()?;
    let mut acknowledged: BTreeSet<u64> = BTreeSet::new();
    let mut next = 0u64;
    for cycle in 0..=KILL_CYCLES {
        let (child, bootstrap) = start_child(dir.path())?;
        let producer = producer(&bootstrap)?;
        let state = read_committed(&bootstrap)
            .with_context(|| format!("cycle {cycle}: reading after the restart"))?;
        check(&state, &acknowledged, cycle)?;
        if cycle == KILL_CYCLES {
            drop(producer);
            drop(child.kill()?);
            break;
        }
        // Numbers not used before: past every acknowledged one and every one that is there
        // (a commit the kill cut off may have landed all the same).
        let seen_max = state
            .values()
            .flatten()
            .filter_map(|v| v.split(':').next()?.parse::<u64>().ok())
            .max();
        next = next.max(seen_max.map_or(0, |m| m + 1));
        let stop = Arc::new(AtomicBool::new(false));
        let kill_after = Duration::from_millis(rng.random_range(200..1200));
        let worker = {
            let stop = Arc::clone(&stop);
            let first = next;
            std::thread::spawn(move || {
                let acked = commit_until_failure(&producer, first, &stop);
                (producer, acked)
            })
        };
        std::thread::sleep(kill_after);
        let _output = child.kill()?;
        stop.store(true, Ordering::SeqCst);
        let (producer, acked) = worker.join().expect("the producer thread");
        drop(producer);
        eprintln!(
            "cycle {cycle}: killed after {kill_after:?}, {} transactions acknowledged",
            acked.len()
        );
        ensure!(
            !acked.is_empty() || cycle > 0,
            "no transaction was committed before the kill"
        );
        // One more: the transaction the kill interrupted may have committed.
        next = acked.last().map_or(next, |n| n + 1) + 1;
        acknowledged.extend(acked);
    }
    ensure!(!acknowledged.is_empty());
    // The coordinator's state survived every kill: one producer id whose epoch went up with
    // each initialisation, and nothing open in any partition.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let broker = Broker::open(BrokerConfig::new(dir.path())).await?;
        let state = broker
            .describe_transaction(TRANSACTIONAL_ID)
            .await
            .context("the transactional id's state")?;
        ensure!(
            i32::from(state.producer_epoch) >= KILL_CYCLES as i32,
            "epoch {} after {} initialisations",
            state.producer_epoch,
            KILL_CYCLES + 1
        );
        ensure!(state.preparing().is_none(), "left {:?}", state.status);
        for p in 0..PARTITIONS {
            let end = broker.list_offset(TOPIC, p, OffsetSpec::Latest).await?;
            let stable = broker.list_offset(TOPIC, p, OffsetSpec::LastStable).await?;
            ensure!(
                end == stable,
                "partition {p}: end {end:?}, stable {stable:?}"
            );
        }
        broker.shutdown().await?;
        anyhow::Ok(())
    })
}

/// Every acknowledged transaction is there in all partitions; every transaction there is
/// whole and there once.
fn check(
    state: &BTreeMap<i32, Vec<String>>,
    acknowledged: &BTreeSet<u64>,
    cycle: u32,
) -> Result<()> {
    let mut partitions_of: BTreeMap<u64, Vec<i32>> = BTreeMap::new();
    for (&partition, values) in state {
        for value in values {
            let (n, p) = value
                .split_once(':')
                .with_context(|| format!("a value {value:?}"))?;
            let n: u64 = n.parse()?;
            ensure!(
                p.parse::<i32>()? == partition,
                "{value} in partition {partition}"
            );
            partitions_of.entry(n).or_default().push(partition);
        }
    }
    let whole: Vec<i32> = (0..PARTITIONS).collect();
    for (n, partitions) in &partitions_of {
        ensure!(
            *partitions == whole,
            "cycle {cycle}: transaction {n} is in partitions {partitions:?} (torn or repeated)"
        );
    }
    let missing: Vec<_> = acknowledged
        .iter()
        .filter(|n| !partitions_of.contains_key(n))
        .collect();
    ensure!(
        missing.is_empty(),
        "cycle {cycle}: acknowledged transactions lost: {missing:?}"
    );
    Ok(())
}
