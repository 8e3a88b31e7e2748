//! Real-client benchmark: librdkafka (rdkafka) against an in-process Eddy server over
//! loopback. Not a timed test: it prints figures.
//!
//! - produce throughput, 100-byte records, batching on (linger.ms=5, batch.size=1 MB),
//!   acks=1 and acks=all (records/s, MB/s, from the first send until every delivery report);
//! - consume throughput: one consumer reading the acks=1 topic from the beginning;
//! - end-to-end latency at a fixed 50,000 records/s: the producer puts a timestamp in each
//!   record, a consumer in this process reads it back; p50/p99/p99.9/max.
//!
//! The broker runs on its own tokio runtime (two worker threads) in this process, with its
//! default durability (group-commit fsync; acks=all waits for it). Run with
//! `cargo bench --bench kafka_clients`; it takes well under two minutes.

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{DeliveryResult, Message};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer, ProducerContext};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use support::{TestServer, client_config};

const RECORD_BYTES: usize = 100;
const PARTITIONS: i32 = 3;
/// Records per throughput run (capped by `MAX_RUN` too).
const THROUGHPUT_RECORDS: u64 = 3_000_000;
const MAX_RUN: Duration = Duration::from_secs(15);
const LATENCY_RATE: u64 = 50_000;
const LATENCY_RUN: Duration = Duration::from_secs(5);
const LATENCY_WARMUP: Duration = Duration::from_millis(500);

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
    let consumer: BaseConsumer = client_config(bootstrap)
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
    latency(&server, "bench-latency-acks1", "1")?;
    latency(&server, "bench-latency-acksall", "all")?;
    drop(server);
    println!("total {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}
