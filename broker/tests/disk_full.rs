//! Disk-full test: a child process lowers its file size limit (`RLIMIT_FSIZE`) so that writes
//! to a segment fail with `EFBIG` once it reaches the limit, the way they fail on a full disk,
//! and appends until the broker refuses. The refusal must be an I/O error that names the
//! segment file, must leave the partition consistent (the failed batch is not there, the
//! acknowledged ones are, the next append is refused the same way), and after the child exits
//! without a shutdown, a reopened broker must serve every acknowledged record and take new
//! appends at the next offsets.

// The child calls `setrlimit` and `signal` (libc) to set the file size limit and to get
// EFBIG instead of being killed by SIGXFSZ. Nothing else here is unsafe.
#![allow(unsafe_code)]

mod support;

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use eddy_broker::{Broker, BrokerConfig, Durability, Error, TopicConfig};

use support::{
    Ack, ChildProcess, acks_by_partition, append_expecting, emit, in_runtime, partition_dir,
    read_partition, record,
};

const TOPIC: &str = "full";
const PARTITIONS: i32 = 2;
/// The child's file size limit; segments may grow far bigger, so the limit is what stops them.
const FILE_SIZE_LIMIT: u64 = 96 << 10;

const ENV_DIR: &str = "EDDY_DISK_FULL_CHILD_DIR";

fn topic_config() -> TopicConfig {
    TopicConfig {
        partitions: PARTITIONS,
        segment_bytes: 4 << 20,
        retention_ms: -1,
        ..TopicConfig::default()
    }
}

/// The child's side: a no-op in a normal test run; with `EDDY_DISK_FULL_CHILD_DIR` set, it
/// lowers its file size limit, appends until every partition refuses, checks the refusals,
/// and exits without shutting the broker down.
#[test]
fn disk_full_child() {
    let Some(dir) = std::env::var_os(ENV_DIR) else {
        return;
    };
    // SAFETY: `signal` with SIG_IGN installs no handler code, and `setrlimit` reads a valid,
    // initialised struct; both happen before the runtime starts any thread.
    unsafe {
        assert_ne!(libc::signal(libc::SIGXFSZ, libc::SIG_IGN), libc::SIG_ERR);
        let limit = libc::rlimit {
            rlim_cur: FILE_SIZE_LIMIT as libc::rlim_t,
            rlim_max: FILE_SIZE_LIMIT as libc::rlim_t,
        };
        assert_eq!(
            libc::setrlimit(libc::RLIMIT_FSIZE, &limit),
            0,
            "setrlimit failed"
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime
        .block_on(child_main(Path::new(&dir)))
        .expect("the child failed");
    emit("done");
    // Exit as a crash would: no shutdown, no flush, nothing dropped.
    std::process::exit(0);
}

async fn child_main(dir: &Path) -> anyhow::Result<()> {
    let broker = Broker::open(BrokerConfig::new(dir)).await?;
    let mut tasks = tokio::task::JoinSet::new();
    for partition in 0..PARTITIONS {
        let broker = broker.clone();
        let dir = partition_dir(dir, TOPIC, partition);
        tasks.spawn(async move { fill_partition(&broker, partition, &dir).await });
    }
    while let Some(joined) = tasks.join_next().await {
        joined??;
    }
    Ok(())
}

/// Appends to one partition until an append fails, then checks the failure and the state it
/// left.
async fn fill_partition(broker: &Broker, partition: i32, dir: &Path) -> anyhow::Result<()> {
    let mut acked = Vec::new();
    let mut seq = 0u64;
    for round in 0.. {
        ensure!(
            round < 100_000,
            "{TOPIC}/{partition}: still appending after {round} batches; the limit never hit"
        );
        // 1 to 8 records of 8..600 bytes: the limit falls inside a batch, wherever it is.
        let ids: Vec<u64> = (0..1 + seq % 8)
            .map(|i| (u64::from(partition as u32) << 32) | (seq + i))
            .collect();
        seq += ids.len() as u64;
        let records: Vec<_> = ids.iter().map(|&id| record(id)).collect();
        match broker
            .produce(TOPIC, partition, &records, Durability::Durable)
            .await
        {
            Ok(info) => {
                ensure!(info.base_offset == acked.len() as i64);
                for (i, &id) in ids.iter().enumerate() {
                    let offset = info.base_offset + i as i64;
                    emit(
                        &Ack {
                            partition,
                            offset,
                            id,
                        }
                        .line(),
                    );
                    acked.push(id);
                }
            }
            Err(e) => {
                let file = check_refusal(&e, partition, dir)?;
                emit(&format!("refused {partition} {}", file.display()));
                // The partition is still consistent: the same append is refused the same way
                // (not taken offline by bytes left behind), the log end has not moved, and
                // everything acknowledged reads back intact.
                let again = broker
                    .produce(TOPIC, partition, &records, Durability::Durable)
                    .await;
                match again {
                    Err(e) => {
                        check_refusal(&e, partition, dir).context("the retried append")?;
                    }
                    Ok(info) => bail!("the retried append succeeded at {}", info.base_offset),
                }
                let stored = read_partition(broker, TOPIC, partition, 0).await?;
                let ids: Vec<u64> = stored.iter().map(|s| s.id).collect();
                ensure!(
                    ids == acked,
                    "{TOPIC}/{partition}: after the refusal the log holds {} records, {} were acknowledged",
                    ids.len(),
                    acked.len()
                );
                return Ok(());
            }
        }
    }
    unreachable!("the loop returns")
}

/// A refused append must be an I/O error (EFBIG) naming the segment file, or the partition
/// going offline. Returns the file named.
fn check_refusal(e: &Error, partition: i32, dir: &Path) -> anyhow::Result<PathBuf> {
    match e {
        Error::Io { path, source } => {
            ensure!(
                source.raw_os_error() == Some(libc::EFBIG),
                "{TOPIC}/{partition}: expected EFBIG, got {source}"
            );
            ensure!(
                path.parent() == Some(dir) && path.extension().is_some_and(|x| x == "log"),
                "{TOPIC}/{partition}: the error names {}, not a segment in {}",
                path.display(),
                dir.display()
            );
            ensure!(
                e.to_string().contains(&path.display().to_string()),
                "the message does not name the file: {e}"
            );
            Ok(path.clone())
        }
        Error::PartitionOffline { .. } => Ok(dir.to_path_buf()),
        other => bail!("{TOPIC}/{partition}: an append failed with {other:?}, not an I/O error"),
    }
}

#[test]
fn a_full_disk_refuses_appends_and_loses_nothing_acknowledged() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let data = tmp.path().join("data");
    in_runtime(async {
        let broker = Broker::open(BrokerConfig::new(&data)).await?;
        broker.create_topic(TOPIC, topic_config()).await?;
        broker.shutdown().await?;
        Ok(())
    })?;

    let child = ChildProcess::spawn("disk_full_child", &[(ENV_DIR, OsString::from(&data))])?;
    let output = child.wait(Duration::from_secs(60))?;
    ensure!(
        output.status.success() && output.lines.iter().any(|l| l == "done"),
        "the child failed: {:?}\nstderr:\n{}",
        output.status,
        output.stderr
    );
    let acks = acks_by_partition(&output.lines)?;
    let refused: HashMap<i32, PathBuf> = output
        .lines
        .iter()
        .filter_map(|l| l.strip_prefix("refused "))
        .map(|rest| {
            let (p, file) = rest.split_once(' ').expect("refused <partition> <file>");
            (p.parse().expect("partition"), PathBuf::from(file))
        })
        .collect();

    in_runtime(async {
        let (broker, report) = Broker::open_with_report(BrokerConfig::new(&data)).await?;
        ensure!(
            !report.clean_shutdown,
            "the child exited without a shutdown"
        );
        for partition in 0..PARTITIONS {
            let dir = partition_dir(&data, TOPIC, partition);
            let file = refused
                .get(&partition)
                .with_context(|| format!("partition {partition} was never refused"))?;
            ensure!(
                file.starts_with(&dir),
                "partition {partition}: refusal named {}",
                file.display()
            );
            let size = std::fs::metadata(file)?.len();
            ensure!(
                size <= FILE_SIZE_LIMIT,
                "{} is {size} bytes, over the limit",
                file.display()
            );
            let acked: Vec<u64> = acks
                .get(&partition)
                .map_or(&[][..], Vec::as_slice)
                .iter()
                .map(|a| a.id)
                .collect();
            ensure!(
                acked.len() >= 20,
                "partition {partition}: only {} records acknowledged",
                acked.len()
            );
            // The failed write was cut back by the broker itself: recovery finds nothing torn.
            let truncated = report
                .repaired
                .get(&(TOPIC.to_string(), partition))
                .map_or(0, |r| r.truncated_bytes);
            ensure!(
                truncated == 0,
                "partition {partition}: recovery cut {truncated} bytes"
            );
            eprintln!(
                "disk full: partition {partition}: {} records acknowledged, refused at {size} bytes of {}",
                acked.len(),
                file.display()
            );
            // Exactly the acknowledged records, in order, intact.
            let stored = read_partition(&broker, TOPIC, partition, 0).await?;
            let ids: Vec<u64> = stored.iter().map(|s| s.id).collect();
            ensure!(
                ids == acked,
                "partition {partition}: {} records stored, {} acknowledged",
                ids.len(),
                acked.len()
            );
            // With room again, appends go on at the next offsets, larger than the limit too.
            let next = acked.len() as i64;
            let new: Vec<u64> = (0..300)
                .map(|i| (1 << 40) | (u64::from(partition as u32) << 32) | i)
                .collect();
            append_expecting(&broker, TOPIC, partition, &new[..1], next).await?;
            append_expecting(&broker, TOPIC, partition, &new[1..], next + 1).await?;
            let stored = read_partition(&broker, TOPIC, partition, 0).await?;
            ensure!(stored.len() == acked.len() + new.len());
            ensure!(std::fs::metadata(file)?.len() > FILE_SIZE_LIMIT);
        }
        broker.shutdown().await?;
        Ok(())
    })
}
