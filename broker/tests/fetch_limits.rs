//! Fetch responses are bounded by the server, whatever the client asks: `fetch_max_bytes`
//! (Kafka's `fetch.max.bytes`) caps a response, each partition gets at most what is left of
//! it, the first partition with data still gets one whole batch if that batch is larger, and
//! the fetch memory budget (`memory_budget_bytes`) clamps a response and makes fetches
//! wait for one another instead of allocating. Raw Kafka protocol over a real socket to a
//! server on a free loopback port.

mod support;

use anyhow::{Result, ensure};
use bytes::Bytes;
use eddy_broker::{BrokerConfig, Durability, NewRecord, ServerConfig, TopicConfig};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{BrokerId, FetchRequest, FetchResponse, TopicName};
use support::protocol::{Client, Harness, s};

const MIB: usize = 1 << 20;
const VERSION: i16 = 12;

fn record(id: u64, size: usize) -> NewRecord {
    let mut value = vec![(id % 251) as u8; size];
    value[..8].copy_from_slice(&id.to_be_bytes());
    NewRecord {
        key: Some(Bytes::from(id.to_string())),
        value: Some(Bytes::from(value)),
        headers: Vec::new(),
        timestamp: None,
    }
}

async fn start(fetch_max_bytes: usize, budget: usize) -> Result<Harness> {
    let server = ServerConfig {
        fetch_max_bytes,
        memory_budget_bytes: budget,
        ..ServerConfig::default()
    };
    let harness = Harness::start(|dir| BrokerConfig::new(dir), server, "fetch-limits").await?;
    let config = TopicConfig {
        partitions: 3,
        max_message_bytes: 8 << 20,
        ..TopicConfig::default()
    };
    harness.broker.create_topic("t", config).await?;
    Ok(harness)
}

/// Appends `batches` batches of `per_batch` records of `size` bytes to `partition`.
async fn fill(
    h: &Harness,
    partition: i32,
    batches: u64,
    per_batch: u64,
    size: usize,
) -> Result<()> {
    for b in 0..batches {
        let records: Vec<_> = (0..per_batch)
            .map(|i| record(b * per_batch + i, size))
            .collect();
        h.broker
            .produce("t", partition, &records, Durability::Written)
            .await?;
    }
    Ok(())
}

/// A fetch of the given (partition, offset) pairs, each asking for `i32::MAX` bytes, with a
/// response limit of `i32::MAX`.
fn greedy_fetch(partitions: &[(i32, i64)]) -> FetchRequest {
    FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(0)
        .with_min_bytes(1)
        .with_max_bytes(i32::MAX)
        .with_session_epoch(-1)
        .with_topics(vec![
            FetchTopic::default()
                .with_topic(TopicName(s("t")))
                .with_partitions(
                    partitions
                        .iter()
                        .map(|&(partition, offset)| {
                            FetchPartition::default()
                                .with_partition(partition)
                                .with_fetch_offset(offset)
                                .with_current_leader_epoch(-1)
                                .with_log_start_offset(-1)
                                .with_partition_max_bytes(i32::MAX)
                        })
                        .collect(),
                ),
        ])
}

/// Per requested partition, in order: (record bytes, offsets of the records).
fn partitions_of(response: &FetchResponse) -> Result<Vec<(usize, Vec<i64>)>> {
    let mut out = Vec::new();
    for topic in &response.responses {
        for p in &topic.partitions {
            ensure!(
                p.error_code == 0,
                "partition {} error {}",
                p.partition_index,
                p.error_code
            );
            let records = p.records.clone().unwrap_or_default();
            let offsets = eddy_broker::decode_records(&records)?
                .iter()
                .map(|r| r.offset)
                .collect();
            out.push((records.len(), offsets));
        }
    }
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_greedy_fetch_gets_at_most_fetch_max_bytes_and_reads_everything_in_order() -> Result<()> {
    let h = start(MIB, 64 * MIB).await?;
    // 4 MiB in partition 0 and 1 (64 batches of 4 records of 16 KiB each).
    fill(&h, 0, 64, 4, 16 << 10).await?;
    fill(&h, 1, 64, 4, 16 << 10).await?;
    let mut client = h.client().await?;

    let response = client
        .call(VERSION, &greedy_fetch(&[(0, 0), (1, 0)]))
        .await?;
    let parts = partitions_of(&response)?;
    let total: usize = parts.iter().map(|p| p.0).sum();
    ensure!(total <= MIB, "{total} bytes in a response capped at 1 MiB");
    ensure!(total > MIB / 2, "only {total} bytes: the cap is not 1 MiB");
    ensure!(parts[0].0 > 0, "the first partition has data");

    // Reading on from where each response ends reaches every record of both partitions, in
    // order, one capped response at a time.
    for partition in [0, 1] {
        let mut next = 0i64;
        let mut responses = 0;
        while next < 256 {
            let response = client
                .call(VERSION, &greedy_fetch(&[(partition, next)]))
                .await?;
            let parts = partitions_of(&response)?;
            ensure!(parts[0].0 <= MIB, "{} bytes", parts[0].0);
            for offset in &parts[0].1 {
                ensure!(*offset == next, "offset {offset}, expected {next}");
                next += 1;
            }
            responses += 1;
            ensure!(responses < 100, "no progress at offset {next}");
        }
        ensure!(
            responses >= 4,
            "4 MiB read in {responses} responses of at most 1 MiB"
        );
    }
    h.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_larger_than_the_limits_is_still_served_first_and_only_first() -> Result<()> {
    // fetch.max.bytes 1 MiB, and a budget (2 MiB) smaller than the 3 MiB batch too.
    let h = start(MIB, 2 * MIB).await?;
    fill(&h, 0, 1, 1, 3 * MIB).await?; // one 3 MiB batch
    fill(&h, 1, 8, 1, 100 << 10).await?; // small batches
    let mut client = h.client().await?;

    // Alone, the big batch comes whole, so a consumer is never stuck behind it.
    let parts = partitions_of(&client.call(VERSION, &greedy_fetch(&[(0, 0)])).await?)?;
    ensure!(
        parts[0].0 > 3 * MIB && parts[0].1 == vec![0],
        "{:?}",
        parts[0].0
    );

    // First in the request: it is served, and the rest of the response is spent.
    let parts = partitions_of(
        &client
            .call(VERSION, &greedy_fetch(&[(0, 0), (1, 0)]))
            .await?,
    )?;
    ensure!(parts[0].1 == vec![0], "the big batch first");
    ensure!(parts[1].0 == 0, "nothing after it: {} bytes", parts[1].0);

    // After a partition with data, it does not fit and is left for a later fetch.
    let parts = partitions_of(
        &client
            .call(VERSION, &greedy_fetch(&[(1, 0), (0, 0)]))
            .await?,
    )?;
    ensure!(
        parts[0].0 > 0 && parts[0].0 <= MIB,
        "{} bytes from the small partition",
        parts[0].0
    );
    ensure!(
        parts[1].0 == 0,
        "the big batch is not squeezed in: {} bytes",
        parts[1].0
    );
    // An empty partition first does not use up the one-batch allowance.
    let parts = partitions_of(
        &client
            .call(VERSION, &greedy_fetch(&[(2, 0), (0, 0)]))
            .await?,
    )?;
    ensure!(parts[0].0 == 0 && parts[1].1 == vec![0], "{:?}", parts[1].1);
    h.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_larger_than_the_memory_budget_is_clamped_to_it() -> Result<()> {
    let h = start(64 * MIB, 2 * MIB).await?;
    fill(&h, 0, 64, 4, 16 << 10).await?; // 4 MiB
    let mut client = h.client().await?;
    let parts = partitions_of(&client.call(VERSION, &greedy_fetch(&[(0, 0)])).await?)?;
    ensure!(
        parts[0].0 <= 2 * MIB && parts[0].0 > MIB,
        "{} bytes with a 2 MiB budget",
        parts[0].0
    );
    h.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_and_concurrent_fetches_over_the_budget_all_complete() -> Result<()> {
    // Each fetch wants the whole 1 MiB budget: they must take turns, and fetches pipelined on
    // one connection must not deadlock (a later one holding budget the earlier one needs,
    // whose response has to be written first).
    let h = start(MIB, MIB).await?;
    fill(&h, 0, 64, 4, 16 << 10).await?; // 4 MiB
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let mut client: Client = h.client().await?;
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for offset in [0i64, 48, 100, 148, 200] {
                ids.push((
                    offset,
                    client.send(VERSION, &greedy_fetch(&[(0, offset)])).await?,
                ));
            }
            for (offset, id) in ids {
                let response = client.recv::<FetchRequest>(VERSION, id).await?;
                let parts = partitions_of(&response)?;
                ensure!(parts[0].1.first() == Some(&offset), "fetch at {offset}");
                ensure!(parts[0].0 <= MIB, "{} bytes", parts[0].0);
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        tokio::time::timeout(std::time::Duration::from_secs(20), task).await???;
    }

    // A long-poll waiting for data holds no budget: with one parked at the log end of
    // partition 1 (2 MiB long, so its reads reserve the whole budget), fetches of partition 0
    // still get the whole budget.
    fill(&h, 1, 32, 4, 16 << 10).await?;
    let mut parked = h.client().await?;
    let wait = greedy_fetch(&[(1, 128)]).with_max_wait_ms(3000);
    let parked_id = parked.send(VERSION, &wait).await?;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let mut client = h.client().await?;
    let started = std::time::Instant::now();
    let parts = partitions_of(&client.call(VERSION, &greedy_fetch(&[(0, 0)])).await?)?;
    ensure!(parts[0].0 > MIB / 2, "{} bytes", parts[0].0);
    ensure!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "the fetch waited for the parked long-poll"
    );
    fill(&h, 1, 1, 1, 1000).await?;
    let parts = partitions_of(&parked.recv::<FetchRequest>(VERSION, parked_id).await?)?;
    ensure!(
        parts[0].1 == vec![128],
        "the long-poll woke with the new record"
    );
    h.stop().await
}
