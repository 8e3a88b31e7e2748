//! An fsync that stalls on one partition (a disk, or a file system, that takes seconds to
//! flush it) stays that partition's problem: while an `acks=all` write to it waits for its
//! fsync, a durable write to another partition is acknowledged, a write to the stalled
//! partition with `acks=1` is too, both partitions serve fetches, and a consumer group forms
//! and reads. Nothing waits for the stalled fsync but the writes that asked for it.
//!
//! The stall is real, not a mock: the broker runs in a child process (this test binary run
//! again, see [`fsync_stall_child`]) with an `LD_PRELOAD` shim, compiled here with the
//! system's C compiler, whose `fsync` and `fdatasync` sleep [`STALL`] before syncing a file
//! under the stalled partition's directory. A first check shows the shim works: the durable
//! write to the stalled partition takes the stall.

mod support;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use eddy_broker::{Broker, BrokerConfig, Server, ServerConfig, TopicConfig};
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{DeliveryResult, Message};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer, ProducerContext};
use rdkafka::{ClientConfig, ClientContext, Offset, TopicPartitionList};
use support::{ChildProcess, emit};

const STALLED: &str = "stalled";
const HEALTHY: &str = "healthy";
/// How long each fsync of a file of the stalled partition sleeps.
const STALL: Duration = Duration::from_secs(10);
/// What "not stalled" means here: well under one stall, generous for a loaded machine.
const PROMPT: Duration = Duration::from_secs(4);
const WAIT: Duration = Duration::from_secs(20);
const ENV_DIR: &str = "EDDY_FSYNC_STALL_CHILD_DIR";

/// The shim: `fsync`/`fdatasync` of a file whose path contains `$EDDY_STALL_FSYNC_PATH`
/// sleep `$EDDY_STALL_FSYNC_MS` first, then sync for real.
const SHIM: &str = r#"
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void maybe_stall(int fd) {
    const char *marker = getenv("EDDY_STALL_FSYNC_PATH");
    const char *ms = getenv("EDDY_STALL_FSYNC_MS");
    if (!marker || !ms) return;
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n <= 0) return;
    path[n] = 0;
    if (strstr(path, marker)) usleep((useconds_t)atoi(ms) * 1000);
}

int fsync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    maybe_stall(fd);
    return real(fd);
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    maybe_stall(fd);
    return real(fd);
}
"#;

/// Compiles [`SHIM`] into `dir`; returns the library's path.
fn build_shim(dir: &Path) -> Result<PathBuf> {
    let source = dir.join("stall_fsync.c");
    let library = dir.join("libstall_fsync.so");
    std::fs::write(&source, SHIM)?;
    let status = Command::new("cc")
        .args(["-shared", "-fPIC", "-O2", "-o"])
        .arg(&library)
        .arg(&source)
        .arg("-ldl")
        .status()
        .context("running cc (scripts/setup.sh installs build-essential)")?;
    ensure!(
        status.success(),
        "cc failed to build the fsync shim: {status}"
    );
    Ok(library)
}

/// The child's side: a no-op in a normal run; with `EDDY_FSYNC_STALL_CHILD_DIR` set it
/// serves a broker on that directory (its topics made by the parent) until it is killed.
#[test]
fn fsync_stall_child() {
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

fn client_config(bootstrap: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("broker.address.family", "v4")
        .set_log_level(RDKafkaLogLevel::Emerg);
    config
}

/// Counts delivery reports.
#[derive(Default)]
struct Deliveries {
    ok: AtomicU64,
    failed: AtomicU64,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => self.ok.fetch_add(1, Ordering::SeqCst),
            Err(_) => self.failed.fetch_add(1, Ordering::SeqCst),
        };
    }
}

/// A producer (its own connection) with `acks`, its metadata already fetched so that a
/// timed write measures the write alone.
fn producer(bootstrap: &str, acks: &str) -> Result<BaseProducer<Deliveries>> {
    let producer: BaseProducer<Deliveries> = client_config(bootstrap)
        .set("acks", acks)
        .set("linger.ms", "0")
        .set("message.timeout.ms", "30000")
        .create_with_context(Deliveries::default())?;
    producer.client().fetch_metadata(None, WAIT)?;
    Ok(producer)
}

/// Writes one record to partition 0 of `topic` and waits for its acknowledgement; returns
/// how long that took.
fn write(producer: &BaseProducer<Deliveries>, topic: &str, value: &str) -> Result<Duration> {
    let started = Instant::now();
    let before = producer.context().ok.load(Ordering::SeqCst);
    producer
        .send(
            BaseRecord::<str, str>::to(topic)
                .partition(0)
                .payload(value),
        )
        .map_err(|(e, _)| e)?;
    while producer.context().ok.load(Ordering::SeqCst) == before {
        ensure!(
            producer.context().failed.load(Ordering::SeqCst) == 0,
            "a write to {topic} failed"
        );
        ensure!(started.elapsed() < WAIT, "no acknowledgement from {topic}");
        producer.poll(Duration::from_millis(5));
    }
    Ok(started.elapsed())
}

/// Reads partition 0 of `topic` from the start until a record holds `value`; returns how
/// long that took.
fn read_until(bootstrap: &str, topic: &str, value: &str) -> Result<Duration> {
    let consumer: BaseConsumer = client_config(bootstrap)
        .set("group.id", format!("reader-{topic}"))
        .set("enable.auto.commit", "false")
        .create()?;
    let mut partitions = TopicPartitionList::new();
    partitions.add_partition_offset(topic, 0, Offset::Beginning)?;
    consumer.assign(&partitions)?;
    read_from(&consumer, topic, value)
}

fn read_from(consumer: &BaseConsumer, topic: &str, value: &str) -> Result<Duration> {
    let started = Instant::now();
    while started.elapsed() < WAIT {
        if let Some(message) = consumer.poll(Duration::from_millis(20))
            && message?.payload() == Some(value.as_bytes())
        {
            return Ok(started.elapsed());
        }
    }
    bail!("{value:?} was not read from {topic} within {WAIT:?}")
}

/// A consumer in a group subscribed to `topic` (JoinGroup, SyncGroup, OffsetFetch through
/// the coordinator) reading until `value`; returns how long that took.
fn read_in_group(bootstrap: &str, topic: &str, value: &str) -> Result<Duration> {
    let started = Instant::now();
    let consumer: BaseConsumer = client_config(bootstrap)
        .set("group.id", "stall-group")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "6000")
        .create()?;
    consumer.subscribe(&[topic])?;
    read_from(&consumer, topic, value)?;
    Ok(started.elapsed())
}

#[test]
fn an_fsync_stall_on_one_partition_stalls_nothing_else() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let shim = build_shim(dir.path())?;
    let data = dir.path().join("data");
    // The topics are made here, before the shim is loaded: creating one fsyncs its files.
    support::in_runtime(async {
        let broker = Broker::open(BrokerConfig::new(&data)).await?;
        for topic in [STALLED, HEALTHY] {
            let config = TopicConfig {
                partitions: 1,
                ..TopicConfig::default()
            };
            broker.create_topic(topic, config).await?;
        }
        broker.shutdown().await?;
        anyhow::Ok(())
    })?;
    let stalled_dir = format!("{}/", support::partition_dir(&data, STALLED, 0).display());
    let mut child = ChildProcess::spawn(
        "fsync_stall_child",
        &[
            (ENV_DIR, OsString::from(&data)),
            ("LD_PRELOAD", OsString::from(&shim)),
            ("EDDY_STALL_FSYNC_PATH", OsString::from(&stalled_dir)),
            (
                "EDDY_STALL_FSYNC_MS",
                OsString::from(STALL.as_millis().to_string()),
            ),
        ],
    )?;
    let bootstrap = child.wait_for_prefix("listen ", WAIT)?;

    let durable_to_stalled = producer(&bootstrap, "all")?;
    let durable_to_healthy = producer(&bootstrap, "all")?;
    let quick_to_stalled = producer(&bootstrap, "1")?;
    // The healthy partition's first durable write (creating what a first fsync creates) is
    // not the one measured.
    write(&durable_to_healthy, HEALTHY, "warm-up")?;

    let stalled_write = std::thread::spawn(move || {
        let took = write(&durable_to_stalled, STALLED, "durable")?;
        anyhow::Ok((took, Instant::now()))
    });
    // Its fsync is under way (and sleeping) from here on.
    std::thread::sleep(Duration::from_millis(300));
    let mut checks = Vec::new();
    let mut check = |what: &'static str, took: Duration| checks.push((what, took, Instant::now()));
    check(
        "an acks=all write to the healthy partition",
        write(&durable_to_healthy, HEALTHY, "during")?,
    );
    check(
        "an acks=1 write to the stalled partition",
        write(&quick_to_stalled, STALLED, "quick")?,
    );
    check(
        "a fetch from the healthy partition",
        read_until(&bootstrap, HEALTHY, "during")?,
    );
    check(
        "a fetch from the stalled partition",
        read_until(&bootstrap, STALLED, "quick")?,
    );
    let in_group = read_in_group(&bootstrap, HEALTHY, "during")?;
    let group_done = Instant::now();
    let (stalled, stalled_done) = stalled_write
        .join()
        .map_err(|_| anyhow::anyhow!("the stalled writer panicked"))??;
    drop((durable_to_healthy, quick_to_stalled));
    let output = child.kill()?;

    // The shim works: the durable write to the stalled partition waited for its fsync.
    ensure!(
        stalled >= STALL - Duration::from_millis(300),
        "the acks=all write to the stalled partition took {stalled:?}, less than the {STALL:?} \
         stall: the shim did not stall its fsync\nchild stderr:\n{}",
        output.stderr
    );
    // Each check ran while that write still waited, and none waited for it.
    for (what, took, done) in checks {
        ensure!(
            done < stalled_done,
            "{what} ended after the stalled write: it did not run during the stall"
        );
        ensure!(
            took < PROMPT,
            "{what} took {took:?} while the stalled partition's fsync slept"
        );
    }
    // Joining takes a rebalance round of its own; it must still not wait out the stall.
    ensure!(
        group_done < stalled_done,
        "a consumer group took {in_group:?} to form and read: not done within the stall"
    );
    Ok(())
}
