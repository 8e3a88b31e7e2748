//! The throughput runs with [`CLIENTS`] producers, then [`CLIENTS`] consumers, at once: each
//! its own librdkafka client and connection, driven round-robin by [`DRIVER_THREADS`]
//! threads.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, Producer};
use rdkafka::{Offset, TopicPartitionList};

use super::{
    CLIENTS, Counter, DRIVER_THREADS, PARTITIONS, RECORD_BYTES, THROUGHPUT_RECORDS, TestServer,
    consumer_config, producer, rate, send,
};

/// [`CLIENTS`] producers, each with its own connection, sending a share of
/// [`THROUGHPUT_RECORDS`] each, driven round-robin by [`DRIVER_THREADS`] threads.
pub fn produce_concurrently(server: &TestServer, topic: &str, acks: &str) -> Result<u64> {
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
pub fn consume_concurrently(server: &TestServer, topic: &str, count: u64) -> Result<()> {
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
