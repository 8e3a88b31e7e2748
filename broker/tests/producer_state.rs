//! Idempotent-producer state across restarts, as Kafka keeps it: snapshots taken at segment
//! rolls (`<offset>.snapshot`) and loaded at open, the batch headers after them replayed, a
//! bad snapshot falling back to an older one or a scan of the log, and producers silent for
//! `producer_id_expiration_ms` forgotten by maintenance. Every test runs the real [`Broker`]
//! on a temporary directory and produces idempotent batches as a Kafka client encodes them.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use bytes::{Bytes, BytesMut};
use eddy_broker::{
    AppendInfo, Broker, BrokerConfig, Durability, Error, FlushPolicy, NewRecord, OffsetSpec,
    TopicConfig,
};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

const TOPIC: &str = "idem";
/// A plausible "long ago" for record timestamps (November 2023), for retention.
const T0: i64 = 1_700_000_000_000;

fn broker_config(dir: &Path, producer_id_expiration_ms: i64) -> BrokerConfig {
    BrokerConfig {
        data_dir: dir.to_path_buf(),
        // No timed background flushing or maintenance: the tests run maintenance themselves.
        flush_policy: FlushPolicy::GroupCommit {
            interval: Duration::from_secs(3600),
        },
        maintenance_interval: Duration::from_secs(3600),
        producer_id_expiration_ms,
        ..BrokerConfig::new("")
    }
}

async fn open_with(dir: &Path, producer_id_expiration_ms: i64) -> Result<Broker> {
    // After an unclean drop a background task may hold the old broker (and its directory
    // lock) for a moment longer.
    let mut attempts = 0;
    loop {
        match Broker::open(broker_config(dir, producer_id_expiration_ms)).await {
            Ok(broker) => return Ok(broker),
            Err(e) if attempts < 100 && e.to_string().contains("another broker") => {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => return Err(e).context("opening the broker"),
        }
    }
}

async fn open(dir: &Path) -> Result<Broker> {
    open_with(dir, 86_400_000).await
}

/// Stops a broker either cleanly or as a crash does (dropped without a shutdown; the
/// appends were durable, the snapshots are in the page cache as after a process crash).
async fn stop(broker: Broker, clean: bool) -> Result<()> {
    if clean {
        broker.shutdown().await?;
    }
    drop(broker);
    Ok(())
}

/// A topic of one partition with tiny segments (a few batches each) and no retention unless
/// `retention_ms` says otherwise.
async fn create_topic(broker: &Broker, retention_ms: i64) -> Result<()> {
    broker
        .create_topic(
            TOPIC,
            TopicConfig {
                segment_bytes: 1024,
                retention_ms,
                ..TopicConfig::default()
            },
        )
        .await?;
    Ok(())
}

/// One RecordBatch v2 of `count` records from an idempotent producer, as a Kafka client
/// encodes it, with record timestamps `timestamp`.
fn idempotent_batch(pid: i64, epoch: i16, base_sequence: i32, count: i32, timestamp: i64) -> Bytes {
    let records: Vec<Record> = (0..count)
        .map(|i| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: pid,
            producer_epoch: epoch,
            timestamp_type: TimestampType::Creation,
            offset: i64::from(i),
            sequence: base_sequence + i,
            timestamp,
            key: Some(Bytes::from(format!("p{pid}"))),
            value: Some(Bytes::from(format!("seq-{}", base_sequence + i))),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .expect("the batch encodes");
    buf.freeze()
}

/// Sends producer `pid`'s batch of `count` records from `seq` (epoch 0, timestamps now).
async fn send(broker: &Broker, pid: i64, seq: i32, count: i32) -> eddy_broker::Result<AppendInfo> {
    send_at(broker, pid, seq, count, eddy_broker::now_ms()).await
}

async fn send_at(
    broker: &Broker,
    pid: i64,
    seq: i32,
    count: i32,
    timestamp: i64,
) -> eddy_broker::Result<AppendInfo> {
    let batch = idempotent_batch(pid, 0, seq, count, timestamp);
    broker
        .produce_batch(TOPIC, 0, batch, Durability::Durable)
        .await
}

/// Appends `n` plain (non-idempotent) records of about 300 bytes each, one batch each: with
/// 1 KiB segments that rolls a segment every few records.
async fn fill(broker: &Broker, n: usize, timestamp: i64) -> Result<()> {
    for i in 0..n {
        let record = NewRecord::new(format!("filler-{i}"), vec![b'x'; 300]).at(timestamp);
        broker
            .produce(TOPIC, 0, &[record], Durability::Written)
            .await?;
    }
    broker.flush(TOPIC, 0).await?;
    Ok(())
}

async fn log_end(broker: &Broker) -> Result<i64> {
    Ok(broker
        .list_offset(TOPIC, 0, OffsetSpec::Latest)
        .await?
        .context("latest")?
        .0)
}

fn partition_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("topics").join(TOPIC).join("0")
}

/// The snapshot files of the partition, by offset (parsed from the 20-digit name).
fn snapshots(data_dir: &Path) -> Result<Vec<(i64, PathBuf)>> {
    support::files_by_offset(&partition_dir(data_dir), ".snapshot")
}

fn segment_count(broker: &Broker) -> Result<usize> {
    Ok(broker.describe_topic(TOPIC)?.partitions[0].segments)
}

/// Checks that the retry of producer `pid`'s batch of `count` records from sequence `seq`,
/// which was given `original`, gets the original offsets back and writes nothing.
async fn check_duplicate(
    broker: &Broker,
    pid: i64,
    seq: i32,
    count: i32,
    original: AppendInfo,
) -> Result<()> {
    let end = log_end(broker).await?;
    let retry = send(broker, pid, seq, count)
        .await
        .with_context(|| format!("the retry of producer {pid}'s batch from sequence {seq}"))?;
    ensure!(
        (retry.base_offset, retry.last_offset) == (original.base_offset, original.last_offset),
        "the retry got offsets {}..={}, not the original {}..={}",
        retry.base_offset,
        retry.last_offset,
        original.base_offset,
        original.last_offset
    );
    ensure!(
        log_end(broker).await? == end,
        "the retry appended something"
    );
    Ok(())
}

/// Checks that producer `pid`, whose next sequence is `next`, is refused a batch skipping it.
async fn check_gap_refused(broker: &Broker, pid: i64, next: i32) -> Result<()> {
    match send(broker, pid, next + 1, 1).await {
        Err(Error::OutOfOrderSequence { expected, got, .. }) => ensure!(
            (expected, got) == (next, next + 1),
            "out of order: expected {expected}, got {got}"
        ),
        other => bail!("a batch skipping sequence {next}: {other:?} (expected OutOfOrderSequence)"),
    }
    Ok(())
}

/// Checks what a partition that knows producer `pid` (whose last batch, of `count` records
/// from sequence `seq`, was given `last`) must answer: the retry of that batch is a
/// duplicate, a gap in the sequence is refused, and the next sequence is appended at the log
/// end. Returns where that next batch went.
async fn check_producer_known(
    broker: &Broker,
    pid: i64,
    seq: i32,
    count: i32,
    last: AppendInfo,
) -> Result<AppendInfo> {
    check_duplicate(broker, pid, seq, count, last).await?;
    check_gap_refused(broker, pid, seq + count).await?;
    let end = log_end(broker).await?;
    let appended = send(broker, pid, seq + count, 1)
        .await
        .context("the next batch in sequence")?;
    ensure!(
        appended.base_offset == end,
        "the next batch went to {} (log end {end})",
        appended.base_offset
    );
    Ok(appended)
}

/// An idempotent producer writes, then other writes roll the segment many times, then the
/// broker restarts: the producer's state must come back whole.
async fn survives_rolls_and_restart(clean: bool) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let broker = open(dir.path()).await?;
    create_topic(&broker, -1).await?;
    let pid = broker.allocate_producer_id().await?;
    send(&broker, pid, 0, 3).await?;
    let last = send(&broker, pid, 3, 2).await?;
    // Another idempotent producer keeps writing, its last batch in the active segment.
    let other = broker.allocate_producer_id().await?;
    let mut other_last = None;
    for round in 0..8 {
        fill(&broker, 4, eddy_broker::now_ms()).await?;
        other_last = Some(send(&broker, other, round, 1).await?);
    }
    let segments = segment_count(&broker)?;
    ensure!(segments >= 10, "only {segments} segments");
    let kept = snapshots(dir.path())?;
    ensure!(kept.len() == 3, "snapshots kept: {kept:?}");
    stop(broker, clean).await?;

    let broker = open(dir.path()).await?;
    check_producer_known(&broker, pid, 3, 2, last).await?;
    check_producer_known(&broker, other, 7, 1, other_last.context("sent")?).await?;
    broker.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn a_retry_after_many_rolls_and_a_clean_restart_is_a_duplicate() -> Result<()> {
    survives_rolls_and_restart(true).await
}

#[tokio::test]
async fn a_retry_after_many_rolls_and_a_crash_is_a_duplicate() -> Result<()> {
    survives_rolls_and_restart(false).await
}

/// Kafka keeps a producer's state when retention deletes its batches (KIP-360): only the
/// snapshot knows it then, after a crash too.
#[tokio::test]
async fn producer_state_outlives_the_retention_of_its_batches() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let broker = open(dir.path()).await?;
    create_topic(&broker, 24 * 3600 * 1000).await?;
    let pid = broker.allocate_producer_id().await?;
    send_at(&broker, pid, 0, 2, T0).await?;
    let last = send_at(&broker, pid, 2, 3, T0).await?;
    fill(&broker, 20, T0).await?;
    // Everything is older than a day: retention deletes every segment (rolling the active one).
    broker.run_maintenance(eddy_broker::now_ms()).await?;
    let description = broker.describe_topic(TOPIC)?.partitions[0].clone();
    ensure!(
        description.log_start_offset == description.log_end_offset
            && description.log_start_offset > last.last_offset,
        "retention left {description:?}"
    );
    stop(broker, false).await?;

    let broker = open(dir.path()).await?;
    check_producer_known(&broker, pid, 2, 3, last).await?;
    broker.shutdown().await?;
    Ok(())
}

/// Flips one byte in the middle of a file.
fn corrupt(path: &Path) -> Result<()> {
    let mut bytes = std::fs::read(path)?;
    let at = bytes.len() / 2;
    bytes[at] ^= 0x5a;
    std::fs::write(path, bytes)?;
    Ok(())
}

#[tokio::test]
async fn a_bad_snapshot_falls_back_to_an_older_one_or_a_scan() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let broker = open(dir.path()).await?;
    create_topic(&broker, 24 * 3600 * 1000).await?;
    // Producer `old` writes into the first segment, which retention deletes below; producer
    // `pid` writes after every roll, so each snapshot holds a different state of it.
    let old = broker.allocate_producer_id().await?;
    let old_last = send_at(&broker, old, 0, 2, T0).await?;
    broker.roll(TOPIC, 0).await?;
    let pid = broker.allocate_producer_id().await?;
    let mut sent = Vec::new();
    for seq in 0..4 {
        sent.push(send(&broker, pid, seq, 1).await?);
        broker.roll(TOPIC, 0).await?;
    }
    broker.run_maintenance(eddy_broker::now_ms()).await?;
    ensure!(
        broker.describe_topic(TOPIC)?.partitions[0].log_start_offset > old_last.last_offset,
        "retention did not delete producer {old}'s batches"
    );
    stop(broker, true).await?;
    let kept = snapshots(dir.path())?;
    ensure!(kept.len() == 3, "snapshots kept: {kept:?}");

    // The newest snapshot is damaged: the one before it is loaded and the batches after it
    // replayed. Both producers are known (`old` only through a snapshot).
    corrupt(&kept[2].1)?;
    let broker = open(dir.path()).await?;
    let pid_last = check_producer_known(&broker, pid, 3, 1, sent[3]).await?;
    check_duplicate(&broker, old, 0, 2, old_last).await?;
    check_gap_refused(&broker, old, 2).await?;
    stop(broker, true).await?;

    // Every snapshot is damaged or empty, and a stray one claims an offset past the log end:
    // the segments are scanned. `pid` is known from its batches; `old`'s are gone, so it is
    // unknown and must start over, as a client does on UNKNOWN_PRODUCER_ID.
    let kept = snapshots(dir.path())?;
    ensure!(kept.len() == 3, "snapshots kept: {kept:?}");
    let stray = partition_dir(dir.path()).join(format!("{:020}.snapshot", 1_000_000));
    std::fs::copy(&kept[2].1, &stray)?;
    for (i, (_, path)) in kept.iter().enumerate() {
        if i == 0 {
            std::fs::write(path, b"")?;
        } else {
            corrupt(path)?;
        }
    }
    let broker = open(dir.path()).await?;
    ensure!(
        !stray.exists(),
        "the snapshot past the log end is still there"
    );
    check_producer_known(&broker, pid, 4, 1, pid_last).await?;
    match send(&broker, old, 3, 1).await {
        Err(Error::UnknownProducerId { .. }) => {}
        other => bail!("producer {old} without batches or snapshot: {other:?}"),
    }
    send(&broker, old, 0, 1).await?;
    broker.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn silent_producers_expire_at_maintenance_and_active_ones_do_not() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let broker = open_with(dir.path(), 1000).await?;
    create_topic(&broker, -1).await?;
    let silent = broker.allocate_producer_id().await?;
    let active = broker.allocate_producer_id().await?;
    send(&broker, silent, 0, 2).await?;
    send(&broker, active, 0, 1).await?;
    // Maintenance before the expiration forgets nobody.
    broker.run_maintenance(eddy_broker::now_ms()).await?;
    send(&broker, silent, 2, 1).await?;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    send(&broker, active, 1, 1).await?;
    // Record timestamps do not count, only when the broker appended: a batch stamped long ago
    // does not expire the active producer.
    let active_last = send_at(&broker, active, 2, 1, T0).await?;
    broker.run_maintenance(eddy_broker::now_ms()).await?;

    match send(&broker, silent, 3, 1).await {
        Err(Error::UnknownProducerId {
            producer_id,
            sequence: 3,
        }) if producer_id == silent => {}
        other => bail!("the silent producer's next batch: {other:?} (expected UnknownProducerId)"),
    }
    check_producer_known(&broker, active, 2, 1, active_last).await?;
    // The forgotten producer starts a new sequence, as a client does after UNKNOWN_PRODUCER_ID.
    send(&broker, silent, 0, 1).await?;
    send(&broker, silent, 1, 1).await?;
    broker.shutdown().await?;
    Ok(())
}
