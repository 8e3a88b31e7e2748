//! Real-client benchmark: librdkafka (rdkafka) against an in-process Eddy server over
//! loopback. Not a timed test: it prints figures.
//!
//! - produce throughput, 100-byte records, batching on (linger.ms=5, batch.size=1 MB),
//!   acks=1 and acks=all (records/s, MB/s, from the first send until every delivery report);
//! - consume throughput: one consumer reading an acks=all topic from the beginning, and as a
//!   baseline the same records read through the broker library (no socket, no client);
//!   these single-client figures are each the median of three runs;
//! - end-to-end latency at a fixed 50,000 records/s: the producer puts a timestamp in each
//!   record, a consumer in this process reads it back; p50/p99/p99.9/max;
//! - the same throughput figures with 100 producers, then 100 consumers, at once (each its
//!   own librdkafka client and connection, each a hundredth of the records);
//! - transactional produce beside plain idempotent produce, and read_committed consume of
//!   the transactional topic beside read_uncommitted (`kafka_clients/transactions.rs`;
//!   `-- --transactions` runs only these).
//!
//! The broker runs on its own tokio runtime (two worker threads) in this process, with its
//! default durability (group-commit fsync; acks=all waits for it). Run with
//! `cargo bench -p eddy-broker --bench kafka_clients`; it takes about two minutes. It lives
//! in the broker crate so that its optimised build needs only the broker and librdkafka.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use eddy_broker::{Broker, BrokerConfig, Server, ServerConfig, TopicConfig};
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{DeliveryResult, Message};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer, ProducerContext};
use rdkafka::{ClientContext, Offset, TopicPartitionList};

#[path = "kafka_clients/concurrent.rs"]
mod concurrent;
#[path = "kafka_clients/transactions.rs"]
mod transactions;

const RECORD_BYTES: usize = 100;
const PARTITIONS: i32 = 3;
/// Records per throughput run (capped by `MAX_RUN` too).
const THROUGHPUT_RECORDS: u64 = 3_000_000;
const MAX_RUN: Duration = Duration::from_secs(15);
/// Runs of each single-client throughput measurement (see [`print_median`]).
const RUNS: usize = 3;
const LATENCY_RATE: u64 = 50_000;
const LATENCY_RUN: Duration = Duration::from_secs(5);
const LATENCY_WARMUP: Duration = Duration::from_millis(500);
/// Clients at once in the concurrent runs.
pub const CLIENTS: usize = 100;
/// Threads driving them (each client is polled in turn by one of these).
pub const DRIVER_THREADS: usize = 4;

/// The broker and its protocol server on a runtime of their own.
struct TestServer {
    runtime: tokio::runtime::Runtime,
    broker: Broker,
    addr: SocketAddr,
    _stop: tokio::sync::oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

impl TestServer {
    fn start() -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("eddy-bench-server")
            .enable_all()
            .build()?;
        let config = ServerConfig {
            listen: "127.0.0.1:0".parse()?,
            auto_create_topics: false,
            ..ServerConfig::default()
        };
        let (broker, server) = runtime.block_on(async {
            let broker = Broker::open(BrokerConfig::new(dir.path())).await?;
            let server = Server::bind(broker.clone(), config).await?;
            anyhow::Ok((broker, server))
        })?;
        let addr = server.local_addr();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        runtime.spawn(server.run(async {
            let _ = stopped.await;
        }));
        Ok(Self {
            runtime,
            broker,
            addr,
            _stop: stop,
            _dir: dir,
        })
    }

    fn bootstrap(&self) -> String {
        self.addr.to_string()
    }

    fn create_topic(&self, name: &str, partitions: i32) -> Result<()> {
        let config = TopicConfig {
            partitions,
            ..TopicConfig::default()
        };
        self.runtime
            .block_on(self.broker.create_topic(name, config))
            .with_context(|| format!("creating topic {name}"))?;
        Ok(())
    }
}

/// A consumer's settings. `fetch.queue.backoff.ms` (librdkafka >= 2.1, default 1000): once
/// a partition's local queue passes `queued.min.messages` (100k), librdkafka postpones that
/// partition's next fetch by this long, even if the application drains the queue in a few
/// milliseconds. With the default, a consumer reading a backlog as fast as it can idles most
/// of each second: 460k records/s here, 1.89M with 10 ms (measured in one session, same
/// broker). The same happens against Kafka; applications that read backlogs lower it too.
fn consumer_config(bootstrap: &str) -> ClientConfig {
    let mut config = client_config(bootstrap);
    config.set("fetch.queue.backoff.ms", "10");
    config
}

fn client_config(bootstrap: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("broker.address.family", "v4")
        .set("log_level", "4");
    config
}

/// Counts delivery reports.
#[derive(Default)]
struct Counter {
    ok: AtomicU64,
    failed: AtomicU64,
}

impl ClientContext for Counter {}

impl ProducerContext for Counter {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => self.ok.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.failed.fetch_add(1, Ordering::Relaxed),
        };
    }
}

/// A producer's settings: batching on, no compression.
fn producer_config(bootstrap: &str, acks: &str, linger_ms: &str) -> ClientConfig {
    let mut config = client_config(bootstrap);
    config
        .set("acks", acks)
        .set("linger.ms", linger_ms)
        .set("batch.size", "1000000")
        .set("queue.buffering.max.messages", "1000000")
        .set("queue.buffering.max.kbytes", "1048576")
        .set("compression.type", "none");
    config
}

fn producer(bootstrap: &str, acks: &str, linger_ms: &str) -> Result<BaseProducer<Counter>> {
    Ok(producer_config(bootstrap, acks, linger_ms).create_with_context(Counter::default())?)
}

/// Waits until every sent record has its delivery report; fails on any failed one.
fn check_delivered(producer: &BaseProducer<Counter>, sent: u64) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let counter = producer.context();
    while counter.ok.load(Ordering::Relaxed) + counter.failed.load(Ordering::Relaxed) < sent {
        ensure!(
            Instant::now() < deadline,
            "delivery reports missing after 60 s"
        );
        producer.poll(Duration::from_millis(1));
    }
    let (ok, failed) = (
        counter.ok.load(Ordering::Relaxed),
        counter.failed.load(Ordering::Relaxed),
    );
    ensure!(
        failed == 0 && ok == sent,
        "{failed} failed, {ok} of {sent} acknowledged"
    );
    Ok(())
}

/// Sends one record, polling the producer while its queue is full. The clock is read only
/// once the queue is full: at 2M records/s a clock read per record is a tenth of the
/// harness's CPU (measured with perf), which is not what this benchmark measures.
fn send(producer: &BaseProducer<Counter>, topic: &str, payload: &[u8]) -> Result<()> {
    let mut record = BaseRecord::<(), [u8]>::to(topic).payload(payload);
    let mut deadline = None;
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((e, back)) => {
                let deadline =
                    *deadline.get_or_insert_with(|| Instant::now() + Duration::from_secs(30));
                ensure!(
                    Instant::now() < deadline,
                    "producer queue full for 30 s: {e}"
                );
                record = back;
                producer.poll(Duration::from_millis(1));
            }
        }
    }
}

/// One throughput measurement: how many records (and payload bytes) in how long.
#[derive(Clone, Copy)]
struct Rate {
    records: u64,
    bytes: u64,
    elapsed: Duration,
}

impl Rate {
    fn per_second(&self) -> f64 {
        self.records as f64 / self.elapsed.as_secs_f64()
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secs = self.elapsed.as_secs_f64();
        write!(
            f,
            "{:>9.0} records/s  {:>7.1} MB/s  ({} records in {:.2} s)",
            self.per_second(),
            self.bytes as f64 / secs / 1e6,
            self.records,
            secs
        )
    }
}

fn rate(records: u64, bytes: u64, elapsed: Duration) -> Rate {
    Rate {
        records,
        bytes,
        elapsed,
    }
}

/// Prints the median of several runs of one measurement. The machine is shared: single
/// runs of the same binary differ by a quarter, so the single-client figures are the
/// median of [`RUNS`] runs, each printed too.
fn print_median(label: &str, mut rates: Vec<Rate>) {
    rates.sort_by(|a, b| a.per_second().total_cmp(&b.per_second()));
    if let Some(median) = rates.get(rates.len() / 2) {
        println!("{label} median of {}: {median}", rates.len());
    }
}

/// Produces up to [`THROUGHPUT_RECORDS`] records (or for [`MAX_RUN`]) into a new topic;
/// prints and returns the rate.
fn produce_throughput(server: &TestServer, topic: &str, acks: &str) -> Result<Rate> {
    server.create_topic(topic, PARTITIONS)?;
    let producer = producer(&server.bootstrap(), acks, "5")?;
    let (sent, elapsed) = produce_run(&producer, topic)?;
    let rate = rate(sent, sent * RECORD_BYTES as u64, elapsed);
    println!("produce  acks={acks:<3}  {rate}");
    Ok(rate)
}

/// Sends up to [`THROUGHPUT_RECORDS`] records (or for [`MAX_RUN`]) and waits for every
/// delivery; returns how many, and the time from the first send to the last delivery.
fn produce_run(producer: &BaseProducer<Counter>, topic: &str) -> Result<(u64, Duration)> {
    let payload = vec![b'x'; RECORD_BYTES];
    let start = Instant::now();
    let mut sent = 0u64;
    while sent < THROUGHPUT_RECORDS {
        send(producer, topic, &payload)?;
        sent += 1;
        if sent.is_multiple_of(1000) {
            producer.poll(Duration::ZERO);
            if start.elapsed() >= MAX_RUN {
                break;
            }
        }
    }
    producer
        .flush(Duration::from_secs(60))
        .context("flushing the producer")?;
    let elapsed = start.elapsed();
    check_delivered(producer, sent)?;
    Ok((sent, elapsed))
}

/// A consumer assigned every partition of `topic` from `offset`, reading at `isolation`
/// (`read_uncommitted`, librdkafka's default, or `read_committed`).
fn assigned_consumer(
    bootstrap: &str,
    topic: &str,
    offset: Offset,
    isolation: &str,
) -> Result<BaseConsumer> {
    let consumer: BaseConsumer = consumer_config(bootstrap)
        .set("group.id", "bench-reader")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .set("fetch.wait.max.ms", "100")
        .set("isolation.level", isolation)
        .create()?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition_offset(topic, p, offset)?;
    }
    consumer.assign(&tpl)?;
    Ok(consumer)
}

/// One consumer reading `topic` from the beginning at `isolation` until it has `count`
/// records; its rate from the first record on.
fn consume_throughput(
    server: &TestServer,
    topic: &str,
    count: u64,
    isolation: &str,
) -> Result<Rate> {
    let consumer = assigned_consumer(&server.bootstrap(), topic, Offset::Beginning, isolation)?;
    let mut got = 0u64;
    let mut bytes = 0u64;
    let mut start = None;
    let deadline = Instant::now() + Duration::from_secs(60);
    while got < count {
        // The deadline is checked every 1000 records or empty poll, not per record (see
        // `send`).
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                start.get_or_insert_with(Instant::now);
                got += 1;
                bytes += m.payload_len() as u64;
                if !got.is_multiple_of(1000) {
                    continue;
                }
            }
            Some(Err(e)) => anyhow::bail!("consumer error: {e}"),
            None => {}
        }
        ensure!(
            Instant::now() < deadline,
            "consumed {got} of {count} in 60 s"
        );
    }
    let elapsed = start.map_or(Duration::ZERO, |s| s.elapsed());
    Ok(rate(got, bytes, elapsed))
}

/// Baseline: the same records read through the broker library (no socket, no client), one
/// partition after another, to show what the clients' figures are measured against.
fn library_read(server: &TestServer, topic: &str, count: u64) -> Result<()> {
    let start = Instant::now();
    let (mut records, mut bytes) = (0u64, 0u64);
    server.runtime.block_on(async {
        for partition in 0..PARTITIONS {
            let mut offset = 0;
            loop {
                let fetched = server
                    .broker
                    .fetch(topic, partition, offset, 1 << 20, Duration::ZERO)
                    .await?;
                if fetched.records.is_empty() {
                    break;
                }
                let decoded = eddy_broker::decode_records(&fetched.records)?;
                bytes += decoded
                    .iter()
                    .map(|r| r.value.as_ref().map_or(0, |v| v.len() as u64))
                    .sum::<u64>();
                records += decoded.len() as u64;
                offset = decoded.last().map_or(offset, |r| r.offset + 1);
            }
        }
        anyhow::Ok(())
    })?;
    ensure!(records == count, "read {records} of {count}");
    println!(
        "library read (baseline, no client)  {}",
        rate(records, bytes, start.elapsed())
    );
    Ok(())
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// Produces at [`LATENCY_RATE`] for [`LATENCY_RUN`], each record carrying its send time;
/// a consumer thread measures when it arrives.
fn latency(server: &TestServer, topic: &str, acks: &str) -> Result<()> {
    server.create_topic(topic, PARTITIONS)?;
    let base = Instant::now();
    let total = LATENCY_RATE * LATENCY_RUN.as_secs();
    let consumer = assigned_consumer(&server.bootstrap(), topic, Offset::End, "read_uncommitted")?;
    // Let the consumer settle on its partitions first.
    consumer.poll(Duration::from_millis(500));
    let received = Arc::new(AtomicU64::new(0));
    let reader = {
        let received = Arc::clone(&received);
        std::thread::spawn(move || -> Result<Vec<u64>> {
            let warmup_ns = LATENCY_WARMUP.as_nanos() as u64;
            let mut samples = Vec::with_capacity(total as usize);
            let deadline = Instant::now() + LATENCY_RUN + Duration::from_secs(30);
            while received.load(Ordering::Relaxed) < total && Instant::now() < deadline {
                match consumer.poll(Duration::from_millis(100)) {
                    Some(Ok(m)) => {
                        let now = base.elapsed().as_nanos() as u64;
                        let payload = m.payload().unwrap_or_default();
                        let sent = u64::from_le_bytes(payload[..8].try_into()?);
                        if sent >= warmup_ns {
                            samples.push(now.saturating_sub(sent) / 1000);
                        }
                        received.fetch_add(1, Ordering::Relaxed);
                    }
                    Some(Err(e)) => anyhow::bail!("consumer error: {e}"),
                    None => {}
                }
            }
            Ok(samples)
        })
    };
    let producer = producer(&server.bootstrap(), acks, "5")?;
    let mut payload = vec![b'x'; RECORD_BYTES];
    let start = Instant::now();
    let mut sent = 0u64;
    while sent < total {
        let due = (start.elapsed().as_secs_f64() * LATENCY_RATE as f64) as u64;
        if sent >= due {
            producer.poll(Duration::ZERO);
            std::thread::sleep(Duration::from_micros(100));
            continue;
        }
        while sent < due.min(total) {
            let now = base.elapsed().as_nanos() as u64;
            payload[..8].copy_from_slice(&now.to_le_bytes());
            send(&producer, topic, &payload)?;
            sent += 1;
        }
        producer.poll(Duration::ZERO);
    }
    let sending = start.elapsed();
    producer.flush(Duration::from_secs(30))?;
    let mut samples = reader
        .join()
        .map_err(|_| anyhow::anyhow!("latency reader panicked"))??;
    let got = received.load(Ordering::Relaxed);
    ensure!(
        got == total,
        "latency run: {got} of {total} records arrived"
    );
    samples.sort_unstable();
    ensure!(!samples.is_empty(), "no latency samples");
    let ms = |us: u64| us as f64 / 1000.0;
    println!(
        "latency  acks={acks:<3}  at {:.0} records/s: p50 {:.2} ms  p99 {:.2} ms  p99.9 {:.2} ms  max {:.2} ms  ({} samples)",
        total as f64 / sending.as_secs_f64(),
        ms(percentile(&samples, 0.50)),
        ms(percentile(&samples, 0.99)),
        ms(percentile(&samples, 0.999)),
        ms(*samples.last().unwrap()),
        samples.len()
    );
    Ok(())
}

fn main() -> Result<()> {
    // `cargo bench` passes `--bench`; a filter or `--list` from other tools is ignored.
    if std::env::args().any(|a| a == "--list") {
        return Ok(());
    }
    let started = Instant::now();
    let server = TestServer::start()?;
    println!(
        "Eddy + rdkafka over loopback: {RECORD_BYTES}-byte records, {PARTITIONS} partitions, \
         linger.ms=5, batch.size=1MB, no compression"
    );
    if std::env::args().any(|a| a == "--transactions") {
        transaction_costs(&server)?;
        println!("total {:.1} s", started.elapsed().as_secs_f64());
        return Ok(());
    }
    let mut produced = 0;
    for acks in ["1", "all"] {
        let mut rates = Vec::new();
        for run in 1..=RUNS {
            rates.push(produce_throughput(
                &server,
                &format!("bench-acks{acks}-{run}"),
                acks,
            )?);
        }
        produced = rates[0].records;
        print_median(&format!("produce  acks={acks:<3}"), rates);
    }
    let mut rates = Vec::new();
    for _ in 0..RUNS {
        let consumed =
            consume_throughput(&server, "bench-acksall-1", produced, "read_uncommitted")?;
        println!("consume            {consumed}");
        rates.push(consumed);
    }
    print_median("consume           ", rates);
    library_read(&server, "bench-acksall-1", produced)?;
    latency(&server, "bench-latency-acks1", "1")?;
    latency(&server, "bench-latency-acksall", "all")?;
    println!("{CLIENTS} clients at once:");
    let produced = concurrent::produce_concurrently(&server, "bench-many-acks1", "1")?;
    concurrent::produce_concurrently(&server, "bench-many-acksall", "all")?;
    concurrent::consume_concurrently(&server, "bench-many-acks1", produced)?;
    transaction_costs(&server)?;
    drop(server);
    println!("total {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Transactions against plain idempotent produce, then read_committed against
/// read_uncommitted on the transactional topic ([`transactions`]).
fn transaction_costs(server: &TestServer) -> Result<()> {
    println!("transactions (idempotent producers, acks=all):");
    transactions::idempotent_throughput(server, "bench-idempotent")?;
    let mut last = None;
    for size in transactions::TRANSACTION_SIZES {
        let topic = format!("bench-txn-{size}");
        let sent = transactions::transactional_throughput(server, &topic, size)?;
        last = Some((topic, sent));
    }
    if let Some((topic, sent)) = last {
        for isolation in ["read_uncommitted", "read_committed"] {
            let consumed = consume_throughput(server, &topic, sent, isolation)?;
            println!("consume  {isolation:<16} (that topic)      {consumed}");
        }
    }
    Ok(())
}
