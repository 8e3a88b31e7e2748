//! Real-client benchmark: librdkafka (rdkafka) against an in-process Eddy server over
//! loopback. Not a timed test: it prints figures.
//!
//! - produce throughput, 100-byte records, batching on (linger.ms=5, batch.size=1 MB),
//!   acks=1 and acks=all (records/s, MB/s, from the first send until every delivery report);
//! - consume throughput: one consumer reading the acks=1 topic from the beginning, and as a
//!   baseline the same records read through the broker library (no socket, no client);
//! - end-to-end latency at a fixed 50,000 records/s: the producer puts a timestamp in each
//!   record, a consumer in this process reads it back; p50/p99/p99.9/max;
//! - the same throughput figures with 100 producers, then 100 consumers, at once (each its
//!   own librdkafka client and connection, each a hundredth of the records).
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

const RECORD_BYTES: usize = 100;
const PARTITIONS: i32 = 3;
/// Records per throughput run (capped by `MAX_RUN` too).
const THROUGHPUT_RECORDS: u64 = 3_000_000;
const MAX_RUN: Duration = Duration::from_secs(15);
const LATENCY_RATE: u64 = 50_000;
const LATENCY_RUN: Duration = Duration::from_secs(5);
const LATENCY_WARMUP: Duration = Duration::from_millis(500);
/// Clients at once in the concurrent runs.
const CLIENTS: usize = 100;
/// Threads driving them (each client is polled in turn by one of these).
const DRIVER_THREADS: usize = 4;

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

fn producer(bootstrap: &str, acks: &str, linger_ms: &str) -> Result<BaseProducer<Counter>> {
    let producer = client_config(bootstrap)
        .set("acks", acks)
        .set("linger.ms", linger_ms)
        .set("batch.size", "1000000")
        .set("queue.buffering.max.messages", "1000000")
        .set("queue.buffering.max.kbytes", "1048576")
        .set("compression.type", "none")
        .create_with_context(Counter::default())?;
    Ok(producer)
}

/// Sends one record, polling the producer while its queue is full.
fn send(producer: &BaseProducer<Counter>, topic: &str, payload: &[u8]) -> Result<()> {
    let mut record = BaseRecord::<(), [u8]>::to(topic).payload(payload);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((e, back)) => {
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

fn rate(count: u64, bytes: u64, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    format!(
        "{:>9.0} records/s  {:>7.1} MB/s  ({count} records in {:.2} s)",
        count as f64 / secs,
        bytes as f64 / secs / 1e6,
        secs
    )
}

/// Produces up to [`THROUGHPUT_RECORDS`] records (or for [`MAX_RUN`]); returns how many.
fn produce_throughput(server: &TestServer, topic: &str, acks: &str) -> Result<u64> {
    server.create_topic(topic, PARTITIONS)?;
    let producer = producer(&server.bootstrap(), acks, "5")?;
    let payload = vec![b'x'; RECORD_BYTES];
    let start = Instant::now();
    let mut sent = 0u64;
    while sent < THROUGHPUT_RECORDS && start.elapsed() < MAX_RUN {
        send(&producer, topic, &payload)?;
        sent += 1;
        if sent.is_multiple_of(1000) {
            producer.poll(Duration::ZERO);
        }
    }
    producer
        .flush(Duration::from_secs(60))
        .context("flushing the producer")?;
    let elapsed = start.elapsed();
    let counter = producer.context();
    let (ok, failed) = (
        counter.ok.load(Ordering::Relaxed),
        counter.failed.load(Ordering::Relaxed),
    );
    ensure!(
        failed == 0 && ok == sent,
        "{failed} failed, {ok} of {sent} acknowledged"
    );
    println!(
        "produce  acks={acks:<3}  {}",
        rate(sent, sent * RECORD_BYTES as u64, elapsed)
    );
    Ok(sent)
}

fn assigned_consumer(bootstrap: &str, topic: &str, offset: Offset) -> Result<BaseConsumer> {
    let consumer: BaseConsumer = consumer_config(bootstrap)
        .set("group.id", "bench-reader")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .set("fetch.wait.max.ms", "100")
        .create()?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition_offset(topic, p, offset)?;
    }
    consumer.assign(&tpl)?;
    Ok(consumer)
}

fn consume_throughput(server: &TestServer, topic: &str, count: u64) -> Result<()> {
    let consumer = assigned_consumer(&server.bootstrap(), topic, Offset::Beginning)?;
    let mut got = 0u64;
    let mut bytes = 0u64;
    let mut start = None;
    let deadline = Instant::now() + Duration::from_secs(60);
    while got < count {
        ensure!(
            Instant::now() < deadline,
            "consumed {got} of {count} in 60 s"
        );
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                start.get_or_insert_with(Instant::now);
                got += 1;
                bytes += m.payload_len() as u64;
            }
            Some(Err(e)) => anyhow::bail!("consumer error: {e}"),
            None => {}
        }
    }
    let elapsed = start.map_or(Duration::ZERO, |s| s.elapsed());
    println!("consume            {}", rate(got, bytes, elapsed));
    Ok(())
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
    let consumer = assigned_consumer(&server.bootstrap(), topic, Offset::End)?;
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
    let produced = produce_throughput(&server, "bench-acks1", "1")?;
    produce_throughput(&server, "bench-acksall", "all")?;
    consume_throughput(&server, "bench-acks1", produced)?;
    library_read(&server, "bench-acks1", produced)?;
    latency(&server, "bench-latency-acks1", "1")?;
    latency(&server, "bench-latency-acksall", "all")?;
    println!("{CLIENTS} clients at once:");
    let produced = produce_concurrently(&server, "bench-many-acks1", "1")?;
    produce_concurrently(&server, "bench-many-acksall", "all")?;
    consume_concurrently(&server, "bench-many-acks1", produced)?;
    drop(server);
    println!("total {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// [`CLIENTS`] producers, each with its own connection, sending a share of
/// [`THROUGHPUT_RECORDS`] each, driven round-robin by [`DRIVER_THREADS`] threads.
fn produce_concurrently(server: &TestServer, topic: &str, acks: &str) -> Result<u64> {
    server.create_topic(topic, PARTITIONS)?;
    let per_client = THROUGHPUT_RECORDS / CLIENTS as u64;
    let producers = (0..CLIENTS)
        .map(|_| producer(&server.bootstrap(), acks, "5"))
        .collect::<Result<Vec<_>>>()?;
    // Connected before the clock starts: the first send would otherwise pay for it.
    for p in &producers {
        p.client()
            .fetch_metadata(Some(topic), Duration::from_secs(10))?;
    }
    let mut groups: Vec<Vec<BaseProducer<Counter>>> =
        (0..DRIVER_THREADS).map(|_| Vec::new()).collect();
    for (i, p) in producers.into_iter().enumerate() {
        groups[i % DRIVER_THREADS].push(p);
    }
    let start = Instant::now();
    let drivers: Vec<_> = groups
        .into_iter()
        .map(|group| {
            let topic = topic.to_string();
            std::thread::spawn(move || -> Result<(u64, u64)> {
                let payload = vec![b'x'; RECORD_BYTES];
                for _ in 0..per_client {
                    for p in &group {
                        send(p, &topic, &payload)?;
                    }
                }
                let (mut ok, mut failed) = (0, 0);
                for p in &group {
                    p.flush(Duration::from_secs(60))
                        .context("flushing a producer")?;
                    ok += p.context().ok.load(Ordering::Relaxed);
                    failed += p.context().failed.load(Ordering::Relaxed);
                }
                Ok((ok, failed))
            })
        })
        .collect();
    let (mut ok, mut failed) = (0, 0);
    for driver in drivers {
        let (o, f) = driver
            .join()
            .map_err(|_| anyhow::anyhow!("a producer thread panicked"))??;
        ok += o;
        failed += f;
    }
    let elapsed = start.elapsed();
    let sent = per_client * CLIENTS as u64;
    ensure!(
        failed == 0 && ok == sent,
        "{failed} failed, {ok} of {sent} acknowledged"
    );
    println!(
        "produce  acks={acks:<3}  {}",
        rate(sent, sent * RECORD_BYTES as u64, elapsed)
    );
    Ok(sent)
}

/// [`CLIENTS`] consumers, each reading its own range of one partition of `topic` (which
/// holds `count` records spread over [`PARTITIONS`] partitions by the producers).
fn consume_concurrently(server: &TestServer, topic: &str, count: u64) -> Result<()> {
    let mut ends = Vec::new();
    for p in 0..PARTITIONS {
        let end = server
            .runtime
            .block_on(
                server
                    .broker
                    .list_offset(topic, p, eddy_broker::OffsetSpec::Latest),
            )?
            .map_or(0, |(offset, _)| offset);
        ends.push(end);
    }
    ensure!(
        ends.iter().sum::<i64>() as u64 == count,
        "the partitions hold {ends:?}, not {count} records"
    );
    // Client i reads partition i % PARTITIONS, its (i / PARTITIONS)-th slice.
    let mut readers = Vec::with_capacity(CLIENTS);
    for i in 0..CLIENTS {
        let partition = (i % PARTITIONS as usize) as i32;
        let slices = (CLIENTS - partition as usize).div_ceil(PARTITIONS as usize) as i64;
        let slice = (i / PARTITIONS as usize) as i64;
        let end = ends[partition as usize];
        let (from, to) = (end * slice / slices, end * (slice + 1) / slices);
        let consumer: BaseConsumer = consumer_config(&server.bootstrap())
            .set("group.id", "bench-readers")
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "false")
            .set("fetch.wait.max.ms", "100")
            .create()?;
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(topic, partition, Offset::Offset(from))?;
        consumer.assign(&tpl)?;
        readers.push((consumer, (to - from) as u64));
    }
    let mut groups: Vec<Vec<(BaseConsumer, u64)>> =
        (0..DRIVER_THREADS).map(|_| Vec::new()).collect();
    for (i, r) in readers.into_iter().enumerate() {
        groups[i % DRIVER_THREADS].push(r);
    }
    let start = Instant::now();
    let drivers: Vec<_> = groups
        .into_iter()
        .map(|mut group| {
            std::thread::spawn(move || -> Result<(u64, u64)> {
                let (mut got, mut bytes) = (0u64, 0u64);
                let deadline = Instant::now() + Duration::from_secs(120);
                while group.iter().any(|(_, left)| *left > 0) {
                    ensure!(
                        Instant::now() < deadline,
                        "consumers still reading after 120 s"
                    );
                    for (consumer, left) in group.iter_mut().filter(|(_, left)| *left > 0) {
                        // Drain what this client has buffered, then go on to the next.
                        while *left > 0 {
                            match consumer.poll(Duration::ZERO) {
                                Some(Ok(m)) => {
                                    *left -= 1;
                                    got += 1;
                                    bytes += m.payload_len() as u64;
                                }
                                Some(Err(e)) => anyhow::bail!("consumer error: {e}"),
                                None => break,
                            }
                        }
                    }
                    std::thread::yield_now();
                }
                Ok((got, bytes))
            })
        })
        .collect();
    let (mut got, mut bytes) = (0, 0);
    for driver in drivers {
        let (g, b) = driver
            .join()
            .map_err(|_| anyhow::anyhow!("a consumer thread panicked"))??;
        got += g;
        bytes += b;
    }
    ensure!(got == count, "consumed {got} of {count}");
    println!("consume            {}", rate(got, bytes, start.elapsed()));
    Ok(())
}
