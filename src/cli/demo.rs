//! `eddy demo`: the durable log end to end, in-process. Opens a data directory, makes sure
//! topic `demo` exists, writes keyed records spread over its partitions by Kafka's default
//! partitioner (each produce acknowledged only after fsync), reads every one back and checks
//! it, then shuts down cleanly. Running it again appends to the same topic.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use bytes::Bytes;
use eddy::broker::{
    Broker, BrokerConfig, Durability, NewRecord, TopicConfig, TopicDescription, decode_records,
    now_ms,
};
use tokio::task::JoinSet;

use super::{Opened, bytes, describe_open, duration, finish, open, rate};
use eddy_streams::partitioner::partition_for_key;

/// The demo's topic and how many partitions it gets when the demo creates it.
pub const TOPIC: &str = "demo";
const PARTITIONS: i32 = 3;
/// Bytes asked for per fetch while reading back.
const FETCH_BYTES: usize = 1 << 20;

/// What `eddy demo` was asked to do.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The broker's data directory.
    #[arg(long, value_name = "DIR", default_value = "./eddy-data")]
    pub data_dir: PathBuf,
    /// How many keyed records to write.
    #[arg(long, value_name = "N", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub records: u64,
    /// Records per produce call (one RecordBatch each).
    #[arg(long, value_name = "N", default_value_t = 100,
          value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub batch_size: u64,
}

/// One partition's share of the run.
struct PartitionRun {
    partition: i32,
    /// Log end offset before this run wrote: this run's records start here.
    start: i64,
    /// (key, value) in the order written.
    expected: Vec<(Bytes, Bytes)>,
    batches: usize,
}

pub async fn run(options: Args) -> Result<()> {
    let opened = open(BrokerConfig::new(&options.data_dir)).await?;
    let broker = opened.broker.clone();
    let result = demo(&opened, &options).await;
    let ((), shutdown) = finish(&broker, result).await?;
    println!(
        "shut down   cleanly in {} (flushed; the next open skips recovery)",
        duration(shutdown)
    );
    Ok(())
}

async fn ensure_topic(broker: &Broker) -> Result<(TopicDescription, bool)> {
    if broker.list_topics().iter().any(|t| t == TOPIC) {
        let description = broker.describe_topic(TOPIC)?;
        return Ok((description, false));
    }
    let config = TopicConfig {
        partitions: PARTITIONS,
        ..TopicConfig::default()
    };
    let description = broker
        .create_topic(TOPIC, config)
        .await
        .with_context(|| format!("cannot create topic {TOPIC:?}"))?;
    Ok((description, true))
}

async fn demo(opened: &Opened, options: &Args) -> Result<()> {
    let broker = &opened.broker;
    println!(
        "Eddy demo: the durable partitioned log, used in-process (no network server involved)"
    );
    println!("data dir    {}", opened.shown_dir.display());
    println!("opened      {}", describe_open(opened));

    let (topic, created) = ensure_topic(broker).await?;
    let partitions = topic.partitions.len() as i32;
    if created {
        println!("topic       {TOPIC}: created with {partitions} partitions");
    } else {
        println!("topic       {TOPIC}: already exists with {partitions} partitions, reused");
    }

    // Spread the records over the partitions by key, as a Kafka producer would.
    let run_id = now_ms();
    let mut runs: Vec<PartitionRun> = topic
        .partitions
        .iter()
        .map(|p| PartitionRun {
            partition: p.partition,
            start: p.log_end_offset,
            expected: Vec::new(),
            batches: 0,
        })
        .collect();
    for i in 0..options.records {
        let key = format!("key-{i}");
        let value = format!("demo run {run_id}, record {i}");
        let p = partition_for_key(key.as_bytes(), partitions) as usize;
        runs[p]
            .expected
            .push((Bytes::from(key), Bytes::from(value)));
    }

    let written_in = write(broker, &mut runs, options.batch_size as usize).await?;
    let batches: usize = runs.iter().map(|r| r.batches).sum();
    println!(
        "wrote       {} records (keys key-0..key-{}, Kafka's murmur2 partitioner) in {batches} \
         batches, each acknowledged after fsync: {}, {} records/s",
        options.records,
        options.records - 1,
        duration(written_in),
        rate(options.records, written_in)
    );

    let started = Instant::now();
    let mut read = 0u64;
    for run in &runs {
        read += read_back(broker, run).await?;
    }
    let read_in = started.elapsed();
    ensure!(
        read == options.records,
        "read back {read} records, wrote {}",
        options.records
    );
    println!(
        "read back   {read} records in {}, {} records/s: every key, value and offset as written",
        duration(read_in),
        rate(read, read_in)
    );

    let after = broker.describe_topic(TOPIC)?;
    println!();
    println!(
        "{:<9}  {:>7}  {:<19}  {:>9}  {:>9}  {:>10}  {:>8}",
        "partition", "records", "offsets this run", "log start", "log end", "size", "segments"
    );
    for (run, p) in runs.iter().zip(&after.partitions) {
        let offsets = if run.expected.is_empty() {
            "-".to_string()
        } else {
            format!(
                "{}-{}",
                run.start,
                run.start + run.expected.len() as i64 - 1
            )
        };
        println!(
            "{:<9}  {:>7}  {:<19}  {:>9}  {:>9}  {:>10}  {:>8}",
            p.partition,
            run.expected.len(),
            offsets,
            p.log_start_offset,
            p.log_end_offset,
            bytes(p.size_bytes),
            p.segments
        );
    }
    let in_log: i64 = after
        .partitions
        .iter()
        .map(|p| p.log_end_offset - p.log_start_offset)
        .sum();
    let total_bytes: u64 = after.partitions.iter().map(|p| p.size_bytes).sum();
    println!(
        "total       {} records this run; {in_log} records in the topic, {}",
        options.records,
        bytes(total_bytes)
    );
    println!();
    Ok(())
}

/// Writes every partition's records, the partitions concurrently, `batch_size` records per
/// produce call, each call waiting for its fsync (concurrent calls share one: group commit).
async fn write(broker: &Broker, runs: &mut [PartitionRun], batch_size: usize) -> Result<Duration> {
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for (index, run) in runs.iter().enumerate() {
        let broker = broker.clone();
        let partition = run.partition;
        let start = run.start;
        let records: Vec<NewRecord> = run
            .expected
            .iter()
            .map(|(k, v)| NewRecord::new(k.clone(), v.clone()))
            .collect();
        tasks.spawn(async move {
            let mut next = start;
            let mut batches = 0;
            for chunk in records.chunks(batch_size) {
                let info = broker
                    .produce(TOPIC, partition, chunk, Durability::Durable)
                    .await
                    .with_context(|| format!("produce to {TOPIC}/{partition} failed"))?;
                ensure!(
                    info.base_offset == next,
                    "{TOPIC}/{partition}: expected offset {next}, the log assigned {} \
                     (is something else writing to this data directory?)",
                    info.base_offset
                );
                next = info.last_offset + 1;
                batches += 1;
            }
            anyhow::Ok((index, batches))
        });
    }
    while let Some(joined) = tasks.join_next().await {
        let (index, batches) = joined.context("a produce task panicked")??;
        runs[index].batches = batches;
    }
    Ok(started.elapsed())
}

/// Fetches a partition's records of this run and checks each against what was written.
/// Returns how many were read.
async fn read_back(broker: &Broker, run: &PartitionRun) -> Result<u64> {
    let partition = run.partition;
    let end = run.start + run.expected.len() as i64;
    let mut offset = run.start;
    while offset < end {
        let fetched = broker
            .fetch(TOPIC, partition, offset, FETCH_BYTES, Duration::ZERO)
            .await
            .with_context(|| format!("fetch from {TOPIC}/{partition} at offset {offset} failed"))?;
        let records = decode_records(&fetched.records)
            .with_context(|| format!("cannot decode records of {TOPIC}/{partition}"))?;
        let before = offset;
        for record in records
            .into_iter()
            .filter(|r| r.offset >= before && r.offset < end)
        {
            if record.offset != offset {
                bail!(
                    "{TOPIC}/{partition}: expected offset {offset} next, read {}",
                    record.offset
                );
            }
            let (key, value) = &run.expected[(offset - run.start) as usize];
            if record.key.as_ref() != Some(key) || record.value.as_ref() != Some(value) {
                bail!(
                    "{TOPIC}/{partition} offset {offset}: read key {:?} value {:?}, wrote key \
                     {key:?} value {value:?}",
                    record.key,
                    record.value
                );
            }
            offset += 1;
        }
        if offset == before {
            bail!(
                "{TOPIC}/{partition}: no records at offset {offset} although the log end is {}",
                fetched.high_watermark
            );
        }
    }
    Ok(run.expected.len() as u64)
}
