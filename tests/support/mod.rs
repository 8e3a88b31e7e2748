//! Shared helpers for the real-client tests (`tests/kafka_*.rs`): an in-process Eddy broker
//! and Kafka protocol server on loopback (its own tokio runtime, so the tests themselves are
//! plain synchronous code driving real clients), keyed test records, an rdkafka producer that
//! collects its delivery reports, and bounded waits.
//!
//! Nothing here is a mock: clients talk to the real [`Server`] over TCP.

#![allow(dead_code)]

pub mod sql_server;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use eddy_broker::server::groups::GroupConfig;
use eddy_broker::{Broker, BrokerConfig, Record, Server, ServerConfig, TopicConfig};
use rdkafka::ClientConfig;
use rdkafka::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::message::{DeliveryResult, Message};
use rdkafka::producer::{Producer, ProducerContext, ThreadedProducer};
use tempfile::TempDir;

/// How long any single wait in these tests may take before it fails the test. Generous on
/// purpose: the machines running them are small and shared.
pub const WAIT: Duration = Duration::from_secs(45);

/// Group timing for tests: short enough that rebalances and session expiry take seconds.
pub fn test_group_config() -> GroupConfig {
    GroupConfig {
        min_session_timeout: Duration::from_secs(1),
        max_session_timeout: Duration::from_secs(300),
        initial_rebalance_delay: Duration::from_millis(200),
        ..GroupConfig::default()
    }
}

/// An Eddy broker and protocol server running in this process on a loopback port.
pub struct TestServer {
    runtime: Option<tokio::runtime::Runtime>,
    broker: Option<Broker>,
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<eddy_broker::Result<()>>>,
    dir: Option<TempDir>,
}

impl TestServer {
    /// Starts a server on a fresh temporary data directory with test group timing.
    pub fn start() -> Result<Self> {
        Self::start_in(tempfile::tempdir()?, |_| {})
    }

    /// Starts a server on `dir` (which it keeps and returns from [`TestServer::stop`]);
    /// `tweak` adjusts the server configuration before it binds.
    pub fn start_in(dir: TempDir, tweak: impl FnOnce(&mut ServerConfig)) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("eddy-test-server")
            .enable_all()
            .build()?;
        let mut config = ServerConfig {
            listen: "127.0.0.1:0".parse()?,
            auto_create_topics: false,
            groups: test_group_config(),
            ..ServerConfig::default()
        };
        tweak(&mut config);
        let path = dir.path().to_path_buf();
        let (broker, server) = runtime.block_on(async {
            let broker = Broker::open(BrokerConfig::new(&path))
                .await
                .with_context(|| format!("opening a broker on {}", path.display()))?;
            let server = Server::bind(broker.clone(), config)
                .await
                .context("binding the protocol server")?;
            anyhow::Ok((broker, server))
        })?;
        let addr = server.local_addr();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = runtime.spawn(server.run(async {
            let _ = stopped.await;
        }));
        Ok(Self {
            runtime: Some(runtime),
            broker: Some(broker),
            addr,
            stop: Some(stop),
            task: Some(task),
            dir: Some(dir),
        })
    }

    /// `host:port` for `bootstrap.servers`.
    pub fn bootstrap(&self) -> String {
        self.addr.to_string()
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        self.dir.as_ref().expect("running").path()
    }

    /// The broker behind the server.
    pub fn broker(&self) -> &Broker {
        self.broker.as_ref().expect("running")
    }

    /// Runs a future on the server's runtime.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.as_ref().expect("running").block_on(future)
    }

    /// Creates a topic directly on the broker (not through CreateTopics).
    pub fn create_topic(&self, name: &str, partitions: i32) -> Result<()> {
        let broker = self.broker().clone();
        self.block_on(broker.create_topic(
            name,
            TopicConfig {
                partitions,
                ..TopicConfig::default()
            },
        ))
        .with_context(|| format!("creating topic {name}"))?;
        Ok(())
    }

    /// Every record of one partition, read straight from the broker's log.
    pub fn log_records(&self, topic: &str, partition: i32) -> Result<Vec<Record>> {
        let broker = self.broker().clone();
        self.block_on(async move {
            let mut records = Vec::new();
            let mut offset = 0;
            loop {
                let fetched = broker
                    .fetch(topic, partition, offset, 4 << 20, Duration::ZERO)
                    .await?;
                if fetched.records.is_empty() {
                    if offset >= fetched.high_watermark {
                        return Ok(records);
                    }
                    bail!(
                        "{topic}/{partition}: empty fetch at {offset} below the high watermark {}",
                        fetched.high_watermark
                    );
                }
                let batch = eddy_broker::decode_records(&fetched.records)?;
                for record in batch {
                    if record.offset >= offset {
                        offset = record.offset + 1;
                        records.push(record);
                    }
                }
            }
        })
    }

    /// The log end offset of each partition of `topic`.
    pub fn end_offsets(&self, topic: &str, partitions: i32) -> Result<Vec<i64>> {
        let broker = self.broker().clone();
        self.block_on(async move {
            let mut ends = Vec::new();
            for p in 0..partitions {
                let (end, _) = broker
                    .list_offset(topic, p, eddy_broker::OffsetSpec::Latest)
                    .await?
                    .context("latest offset")?;
                ends.push(end);
            }
            anyhow::Ok(ends)
        })
    }

    /// Stops the server (it drains its connections), shuts the broker down cleanly and
    /// returns the data directory, so a new server can reopen it.
    pub fn stop(mut self) -> Result<TempDir> {
        self.shutdown()?;
        Ok(self.dir.take().expect("stopped once"))
    }

    fn shutdown(&mut self) -> Result<()> {
        let Some(runtime) = self.runtime.take() else {
            return Ok(());
        };
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let broker = self.broker.take().expect("running");
        let task = self.task.take().expect("running");
        let result = runtime.block_on(async move {
            let served = tokio::time::timeout(Duration::from_secs(40), task)
                .await
                .context("the server did not stop within 40 s of its shutdown signal")?;
            served
                .context("the server task panicked")?
                .context("the server returned an error")?;
            tokio::time::timeout(Duration::from_secs(20), broker.shutdown())
                .await
                .context("Broker::shutdown did not finish within 20 s")?
                .context("Broker::shutdown failed")?;
            drop(broker);
            anyhow::Ok(())
        });
        runtime.shutdown_timeout(Duration::from_secs(5));
        result
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            if !std::thread::panicking() {
                panic!("stopping the test server: {e:#}");
            }
            eprintln!("stopping the test server: {e:#}");
        }
    }
}

/// The key of test record `i`.
pub fn key_of(i: u64) -> String {
    format!("key-{i}")
}

/// The value of test record `i`: its number, then padding to about `size` bytes.
pub fn value_of(i: u64, size: usize) -> String {
    let mut v = format!("value-{i}:");
    while v.len() < size {
        v.push('x');
    }
    v
}

/// The record number in a value made by [`value_of`].
pub fn number_in(value: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(value).ok()?;
    let rest = text.strip_prefix("value-")?;
    rest.split(':').next()?.parse().ok()
}

/// A librdkafka log line worth reporting: warnings are printed and ignored; errors (and the
/// client's error callbacks) are returned, so callers can fail on them.
pub fn client_log_problem(level: RDKafkaLogLevel, facility: &str, message: &str) -> Option<String> {
    let level_number = level as i32;
    if level_number > RDKafkaLogLevel::Warning as i32 {
        return None;
    }
    let line = format!("librdkafka {level:?} {facility}: {message}");
    eprintln!("{line}");
    (level_number <= RDKafkaLogLevel::Error as i32).then_some(line)
}

/// Where a record was acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    /// The record's number (see [`key_of`]).
    pub number: u64,
    /// Its partition.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
}

/// Collects an rdkafka producer's delivery reports. The delivery opaque is the record number.
#[derive(Default)]
pub struct Deliveries {
    ok: Mutex<Vec<Delivered>>,
    failed: Mutex<Vec<(u64, String)>>,
    reported: AtomicUsize,
    client_errors: Mutex<Vec<String>>,
}

impl ClientContext for Deliveries {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        if let Some(line) = client_log_problem(level, facility, message) {
            self.client_errors.lock().unwrap().push(line);
        }
    }
    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        let line = format!("librdkafka error: {error}: {reason}");
        eprintln!("{line}");
        self.client_errors.lock().unwrap().push(line);
    }
}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = Box<u64>;

    fn delivery(&self, result: &DeliveryResult<'_>, number: Box<u64>) {
        match result {
            Ok(message) => self.ok.lock().unwrap().push(Delivered {
                number: *number,
                partition: message.partition(),
                offset: message.offset(),
            }),
            Err((error, _)) => self
                .failed
                .lock()
                .unwrap()
                .push((*number, error.to_string())),
        }
        self.reported.fetch_add(1, Ordering::SeqCst);
    }
}

impl Deliveries {
    /// How many reports, good or bad, arrived.
    pub fn reported(&self) -> usize {
        self.reported.load(Ordering::SeqCst)
    }

    /// The successful deliveries so far.
    pub fn ok(&self) -> Vec<Delivered> {
        self.ok.lock().unwrap().clone()
    }

    /// The failed deliveries so far (record number, error).
    pub fn failed(&self) -> Vec<(u64, String)> {
        self.failed.lock().unwrap().clone()
    }

    /// The client's error-level log lines and error callbacks so far.
    pub fn client_errors(&self) -> Vec<String> {
        self.client_errors.lock().unwrap().clone()
    }
}

/// A client configuration for the test server: IPv4 loopback, quick reconnects.
pub fn client_config(bootstrap: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("broker.address.family", "v4")
        .set("reconnect.backoff.ms", "50")
        .set("reconnect.backoff.max.ms", "1000")
        .set("log_level", "4");
    config
}

/// An idempotent, acks=all, batching producer with Kafka's default (murmur2) partitioner.
pub fn idempotent_producer_config(bootstrap: &str) -> ClientConfig {
    let mut config = client_config(bootstrap);
    config
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("batch.size", "1000000")
        .set("partitioner", "murmur2_random")
        .set("message.timeout.ms", "60000");
    config
}

/// Produces records `numbers` (key [`key_of`], value [`value_of`] of `value_size` bytes) to
/// `topic` with `config`, flushes, and returns the delivery reports. Fails if any delivery
/// failed, the client reported an error, or the flush did not finish within [`WAIT`].
pub fn produce_numbered(
    config: &ClientConfig,
    topic: &str,
    numbers: impl IntoIterator<Item = u64>,
    value_size: usize,
) -> Result<Vec<Delivered>> {
    produce_numbered_tolerating(config, topic, numbers, value_size, |_| false)
}

/// [`produce_numbered`], ignoring the client errors for which `tolerated` is true (a test
/// that cuts connections expects "all brokers are down" now and then).
pub fn produce_numbered_tolerating(
    config: &ClientConfig,
    topic: &str,
    numbers: impl IntoIterator<Item = u64>,
    value_size: usize,
    tolerated: impl Fn(&str) -> bool,
) -> Result<Vec<Delivered>> {
    let producer: ThreadedProducer<Deliveries> = config
        .create_with_context(Deliveries::default())
        .context("creating the producer")?;
    let mut sent = 0usize;
    for i in numbers {
        let key = key_of(i);
        let value = value_of(i, value_size);
        let mut record = rdkafka::producer::BaseRecord::with_opaque_to(topic, Box::new(i))
            .key(&key)
            .payload(&value);
        let deadline = Instant::now() + WAIT;
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((e, back)) => {
                    ensure!(
                        Instant::now() < deadline,
                        "the producer queue stayed full for {WAIT:?}: {e}"
                    );
                    record = back;
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
        sent += 1;
    }
    producer
        .flush(WAIT)
        .with_context(|| format!("flushing {sent} records within {WAIT:?}"))?;
    let deliveries = producer.context();
    let failed = deliveries.failed();
    ensure!(
        failed.is_empty(),
        "{} of {sent} deliveries failed; first: record {} {}",
        failed.len(),
        failed[0].0,
        failed[0].1
    );
    let client_errors: Vec<String> = deliveries
        .client_errors()
        .into_iter()
        .filter(|e| !tolerated(e))
        .collect();
    ensure!(
        client_errors.is_empty(),
        "the producer reported errors:\n  {}",
        client_errors.join("\n  ")
    );
    let ok = deliveries.ok();
    ensure!(
        ok.len() == sent,
        "{} delivery reports for {sent} records",
        ok.len()
    );
    Ok(ok)
}

/// Checks deliveries against the log: every (partition, offset) distinct, and per
/// partition the record numbers increase with the offset (a single producer's order). Returns
/// partition -> offset -> record number.
pub fn delivery_map(deliveries: &[Delivered]) -> Result<BTreeMap<i32, BTreeMap<i64, u64>>> {
    let mut map: BTreeMap<i32, BTreeMap<i64, u64>> = BTreeMap::new();
    for d in deliveries {
        if let Some(other) = map
            .entry(d.partition)
            .or_default()
            .insert(d.offset, d.number)
        {
            bail!(
                "records {other} and {} were both acknowledged at {}/{}",
                d.number,
                d.partition,
                d.offset
            );
        }
    }
    for (p, offsets) in &map {
        let mut last: Option<u64> = None;
        for (o, n) in offsets {
            if let Some(prev) = last {
                ensure!(
                    *n > prev,
                    "partition {p}: record {n} at offset {o} after record {prev}: producer order lost"
                );
            }
            last = Some(*n);
        }
    }
    Ok(map)
}

/// Polls `check` every 50 ms until it returns `Some`, for at most `timeout`; fails with
/// `what` otherwise.
pub fn wait_for<T>(
    timeout: Duration,
    what: &str,
    mut check: impl FnMut() -> Result<Option<T>>,
) -> Result<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check()? {
            return Ok(value);
        }
        if Instant::now() >= deadline {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
