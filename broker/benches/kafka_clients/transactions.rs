//! Transactional produce beside plain idempotent produce: what Kafka's transactions cost
//! through a real client (issue 13's broker benchmark).
//!
//! Both producers are idempotent with `acks=all` (a transactional producer always is), so
//! the difference is the transaction protocol alone: `AddPartitionsToTxn` once per
//! partition and transaction, `EndTxn`, the coordinator's two durable writes to
//! `__transaction_state` per transaction, and a commit marker per partition.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};

use rdkafka::producer::{BaseProducer, Producer};

use super::{
    Counter, MAX_RUN, PARTITIONS, RECORD_BYTES, THROUGHPUT_RECORDS, TestServer, check_delivered,
    produce_run, producer_config, rate, send,
};

/// Records per transaction in the transactional runs: about what an exactly-once stream
/// thread commits per 100 ms at these rates, and ten times fewer.
pub const TRANSACTION_SIZES: [u64; 2] = [10_000, 100_000];

fn idempotent_producer(
    bootstrap: &str,
    transactional_id: Option<&str>,
) -> Result<BaseProducer<Counter>> {
    let mut config = producer_config(bootstrap, "all", "5");
    config.set("enable.idempotence", "true");
    if let Some(id) = transactional_id {
        config.set("transactional.id", id);
    }
    Ok(config.create_with_context(Counter::default())?)
}

/// Plain idempotent produce (`enable.idempotence=true`, `acks=all`): the baseline.
pub fn idempotent_throughput(server: &TestServer, topic: &str) -> Result<u64> {
    server.create_topic(topic, PARTITIONS)?;
    let producer = idempotent_producer(&server.bootstrap(), None)?;
    let (sent, elapsed) = produce_run(&producer, topic)?;
    println!(
        "produce  idempotent, acks=all             {}",
        rate(sent, sent * RECORD_BYTES as u64, elapsed)
    );
    Ok(sent)
}

/// Transactional produce: transactions of `per_transaction` records, each committed (the
/// commit waits for every record of it and for the markers); returns the records sent.
pub fn transactional_throughput(
    server: &TestServer,
    topic: &str,
    per_transaction: u64,
) -> Result<u64> {
    server.create_topic(topic, PARTITIONS)?;
    let producer = idempotent_producer(&server.bootstrap(), Some(&format!("bench-{topic}")))?;
    producer.init_transactions(Duration::from_secs(30))?;
    let payload = vec![b'x'; RECORD_BYTES];
    let start = Instant::now();
    let (mut sent, mut transactions) = (0u64, 0u64);
    let mut commit_time = Duration::ZERO;
    while sent < THROUGHPUT_RECORDS && start.elapsed() < MAX_RUN {
        producer.begin_transaction()?;
        for _ in 0..per_transaction {
            send(&producer, topic, &payload)?;
            sent += 1;
            if sent.is_multiple_of(1000) {
                producer.poll(Duration::ZERO);
            }
        }
        // Flushed first, in 1 ms poll steps: rdkafka's BaseProducer::flush (which
        // commit_transaction's own flush amounts to here) polls in steps of 100 ms that
        // always run to their end, so each transaction waited about 100 ms for its last
        // delivery reports (measured: 103 ms a commit, against 5 ms from confluent-kafka's
        // Python client on the same broker). The streams runtime flushes the same way.
        let deadline = Instant::now() + Duration::from_secs(60);
        while producer.in_flight_count() > 0 {
            ensure!(Instant::now() < deadline, "records undelivered after 60 s");
            let _ = producer.flush(Duration::ZERO);
            producer.poll(Duration::from_millis(1));
        }
        let committing = Instant::now();
        producer
            .commit_transaction(Duration::from_secs(60))
            .context("committing a transaction")?;
        commit_time += committing.elapsed();
        transactions += 1;
    }
    check_delivered(&producer, sent)?;
    println!(
        "produce  transactional, {per_transaction:>6}/txn ({transactions:>3} txns)  {}  commit {:.1} ms avg",
        rate(sent, sent * RECORD_BYTES as u64, start.elapsed()),
        commit_time.as_secs_f64() * 1000.0 / transactions.max(1) as f64
    );
    Ok(sent)
}
