//! Append and read throughput of the partitioned log, next to the disk's raw sequential write
//! bandwidth measured in the same run.
//!
//! Run: `cargo bench -p eddy-broker --bench log_throughput` (env `EDDY_BENCH_MB`, default 256:
//! megabytes written per case; `EDDY_BENCH_DIR`: where to write, default the system temp dir).
//!
//! Each case appends pre-encoded RecordBatch v2 batches (what a Kafka producer sends; the
//! broker validates the CRC and record layout, stamps offsets and writes) from several
//! concurrent producers per partition, every append `Durability::Durable` under the default
//! group-commit flush policy, so each acknowledgement waits for an fsync. Then it reads
//! everything back from offset 0 with 1 MiB fetches while the data is in the page cache.
//! The baseline writes the same number of bytes with plain `write` calls of the same batch
//! size to a file in the same directory, then one `fsync`.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use eddy_broker::{Broker, BrokerConfig, Compression, Durability, NewRecord, TopicConfig};

const TARGET_BATCH_BYTES: usize = 64 * 1024;

fn raw_write_bandwidth(dir: &Path, total: usize, chunk: usize) -> f64 {
    let path = dir.join("raw-baseline.bin");
    let buf = vec![0xA5u8; chunk];
    let start = Instant::now();
    let mut file = std::fs::File::create(&path).expect("create baseline file");
    let mut written = 0;
    while written < total {
        file.write_all(&buf).expect("write baseline");
        written += chunk;
    }
    file.sync_all().expect("fsync baseline");
    let secs = start.elapsed().as_secs_f64();
    drop(file);
    std::fs::remove_file(&path).expect("remove baseline file");
    written as f64 / secs
}

struct CaseResult {
    records: u64,
    bytes: u64,
    append: Duration,
    read: Duration,
}

async fn run_case(
    dir: &Path,
    record_size: usize,
    partitions: i32,
    total_bytes: usize,
) -> CaseResult {
    let mut broker_config = BrokerConfig::new(dir);
    if std::env::var("EDDY_BENCH_FLUSH").as_deref() == Ok("interval") {
        broker_config.flush_policy = eddy_broker::FlushPolicy::Interval {
            interval: Duration::from_secs(1),
        };
    }
    let broker = Broker::open(broker_config).await.expect("open broker");
    let config = TopicConfig {
        partitions,
        ..TopicConfig::default()
    };
    broker
        .create_topic("bench", config)
        .await
        .expect("create topic");
    let records_per_batch = (TARGET_BATCH_BYTES / (record_size + 20)).max(1);
    let batch = {
        let records: Vec<NewRecord> = (0..records_per_batch)
            .map(|i| NewRecord::new(format!("key-{i:06}"), vec![b'v'; record_size]))
            .collect();
        eddy_broker::encode_batch(&records, eddy_broker::now_ms(), Compression::None)
            .expect("encode")
    };
    let producers = partitions as usize * producers_per_partition();
    let batches_total = total_bytes.div_ceil(batch.len());
    let batches_per_producer = batches_total.div_ceil(producers);

    let start = Instant::now();
    let mut tasks = Vec::new();
    for producer in 0..producers {
        let broker = broker.clone();
        let batch = batch.clone();
        let partition = (producer % partitions as usize) as i32;
        tasks.push(tokio::spawn(async move {
            for _ in 0..batches_per_producer {
                broker
                    .produce_batch("bench", partition, batch.clone(), Durability::Durable)
                    .await
                    .expect("append");
            }
        }));
    }
    for task in tasks {
        task.await.expect("producer");
    }
    let append = start.elapsed();
    let batches_written = (batches_per_producer * producers) as u64;
    let records = batches_written * records_per_batch as u64;
    let bytes = batches_written * batch.len() as u64;

    let start = Instant::now();
    let mut tasks = Vec::new();
    for partition in 0..partitions {
        let broker = broker.clone();
        tasks.push(tokio::spawn(async move {
            let mut offset = 0;
            let mut read = 0u64;
            loop {
                let fetched = broker
                    .fetch("bench", partition, offset, 1 << 20, Duration::ZERO)
                    .await
                    .expect("fetch");
                if fetched.records.is_empty() {
                    break;
                }
                read += fetched.records.len() as u64;
                offset =
                    eddy_broker::batch::next_offset_after(&fetched.records).expect("whole batches");
            }
            read
        }));
    }
    let mut read_bytes = 0;
    for task in tasks {
        read_bytes += task.await.expect("reader");
    }
    let read = start.elapsed();
    assert_eq!(read_bytes, bytes, "read back every byte written");
    broker.shutdown().await.expect("shutdown");
    CaseResult {
        records,
        bytes,
        append,
        read,
    }
}

/// Concurrent producers per partition (env `EDDY_BENCH_PRODUCERS`, default 16): like a Kafka
/// producer's in-flight requests, they are what group commit batches into one fsync.
fn producers_per_partition() -> usize {
    std::env::var("EDDY_BENCH_PRODUCERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16)
}

fn mb(bytes: f64) -> f64 {
    bytes / 1e6
}

#[tokio::main]
async fn main() {
    let total_mb: usize = std::env::var("EDDY_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let total = total_mb << 20;
    let base = std::env::var_os("EDDY_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let scratch = tempfile::Builder::new()
        .prefix("eddy-bench-")
        .tempdir_in(&base)
        .expect("scratch dir");
    println!(
        "log_throughput: {total_mb} MiB per case in {}, {} producers per partition, ~{} KiB batches, Durability::Durable (group commit)",
        scratch.path().display(),
        producers_per_partition(),
        TARGET_BATCH_BYTES / 1024
    );
    println!(
        "{:<34} {:>12} {:>10} {:>8} {:>12} {:>10}",
        "case", "append rec/s", "MB/s", "vs raw", "read rec/s", "MB/s"
    );
    for record_size in [100usize, 1024] {
        for partitions in [1, 8] {
            let raw = raw_write_bandwidth(scratch.path(), total, TARGET_BATCH_BYTES);
            let dir = scratch.path().join(format!("r{record_size}-p{partitions}"));
            let r = run_case(&dir, record_size, partitions, total).await;
            let append_bw = r.bytes as f64 / r.append.as_secs_f64();
            let read_bw = r.bytes as f64 / r.read.as_secs_f64();
            println!(
                "{:<34} {:>12.0} {:>10.1} {:>7.0}% {:>12.0} {:>10.1}",
                format!("{record_size} B records, {partitions} partition(s)"),
                r.records as f64 / r.append.as_secs_f64(),
                mb(append_bw),
                100.0 * append_bw / raw,
                r.records as f64 / r.read.as_secs_f64(),
                mb(read_bw),
            );
            println!(
                "{:<34} raw write+fsync of the same {total_mb} MiB: {:.1} MB/s",
                "",
                mb(raw)
            );
            std::fs::remove_dir_all(&dir).expect("clean case dir");
        }
    }
}
