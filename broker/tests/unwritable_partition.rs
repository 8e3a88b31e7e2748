//! A partition whose directory becomes unwritable: no file can be created or deleted in it
//! (`chattr +i`, which binds root too; `chmod 0555` for other users). Its appends go on until
//! its segment must roll, then are refused with an I/O error naming the directory; the other
//! partition keeps taking appends and serving reads; retention goes on for the other
//! partition and is retried for this one. Once the directory is writable again, the same
//! broker (no restart) takes appends there again, and every acknowledged record of both
//! partitions is served, in order.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use eddy_broker::{Broker, BrokerConfig, Durability, FlushPolicy, TopicConfig};
use support::{partition_dir, read_partition, record_at};

const TOPIC: &str = "t";
/// Record timestamps: old enough for a retention of one hour to expire them at `NOW`.
const OLD: i64 = 1_700_000_000_000;
const NOW: i64 = OLD + 10 * 3_600_000;

/// Makes a directory unwritable, and writable again when dropped.
struct Unwritable<'a> {
    dir: &'a Path,
    immutable: bool,
}

impl<'a> Unwritable<'a> {
    fn make(dir: &'a Path) -> Result<Self> {
        // SAFETY: geteuid has no preconditions.
        #[allow(unsafe_code)]
        let root = unsafe { libc::geteuid() } == 0;
        if root {
            // Root ignores permission bits; the immutable attribute binds it.
            let status = Command::new("chattr").arg("+i").arg(dir).status();
            ensure!(
                status.as_ref().is_ok_and(|s| s.success()),
                "chattr +i {} failed ({status:?}): this test needs chattr (e2fsprogs) on ext4/xfs",
                dir.display()
            );
        } else {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555))?;
        }
        Ok(Self {
            dir,
            immutable: root,
        })
    }
}

impl Drop for Unwritable<'_> {
    fn drop(&mut self) {
        if self.immutable {
            let _ = Command::new("chattr").arg("-i").arg(self.dir).status();
        } else {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(self.dir, std::fs::Permissions::from_mode(0o755));
        }
    }
}

async fn produce_at(
    broker: &Broker,
    partition: i32,
    id: u64,
    timestamp: i64,
) -> eddy_broker::Result<i64> {
    broker
        .produce(
            TOPIC,
            partition,
            &[record_at(id, timestamp)],
            Durability::Durable,
        )
        .await
        .map(|info| info.base_offset)
}

async fn produce(broker: &Broker, partition: i32, id: u64) -> eddy_broker::Result<i64> {
    produce_at(broker, partition, id, OLD).await
}

#[tokio::test]
async fn an_unwritable_partition_refuses_appends_the_others_go_on_and_it_recovers() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let broker = Broker::open(BrokerConfig {
        flush_policy: FlushPolicy::GroupCommit {
            interval: Duration::from_secs(3600),
        },
        maintenance_interval: Duration::from_secs(3600),
        ..BrokerConfig::new(dir.path())
    })
    .await?;
    let config =
        TopicConfig::from_overrides(2, [("segment.bytes", "2048"), ("retention.ms", "3600000")])?;
    broker.create_topic(TOPIC, config).await?;
    let mut id = 0u64;
    let mut acked = [Vec::new(), Vec::new()];
    for _ in 0..20 {
        for partition in 0..2 {
            produce(&broker, partition, id).await?;
            acked[partition as usize].push(id);
            id += 1;
        }
    }
    let segments = |p: usize| {
        broker
            .describe_topic(TOPIC)
            .map(|d| d.partitions[p].segments)
    };
    ensure!(segments(0)? > 2 && segments(1)? > 2, "the segments rolled");

    // A recent record in partition 0's active segment: retention will want its older
    // segments only (deleting files, not rolling).
    produce_at(&broker, 0, id, NOW).await?;
    acked[0].push(id);
    id += 1;
    let stuck_dir = partition_dir(dir.path(), TOPIC, 0);
    {
        let _unwritable = Unwritable::make(&stuck_dir)?;
        // Partition 0 takes appends until its segment is full, then refuses each one (a
        // roll must create a file) with an error that names its directory.
        let mut error = None;
        for _ in 0..40 {
            match produce(&broker, 0, id).await {
                Ok(_) => acked[0].push(id),
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
            id += 1;
        }
        let error = error.context("an unwritable partition kept taking appends")?;
        ensure!(
            error.to_string().contains(&stuck_dir.display().to_string()),
            "the error does not name the directory: {error}"
        );
        id += 1;
        // It keeps refusing (and stays readable); partition 1 takes appends meanwhile.
        ensure!(produce(&broker, 0, id).await.is_err(), "a retry was taken");
        id += 1;
        for _ in 0..20 {
            produce_at(&broker, 1, id, NOW).await?;
            acked[1].push(id);
            id += 1;
        }
        read_partition(&broker, TOPIC, 0, 0).await?;

        // Retention: partition 1's expired segments go; partition 0's cannot, which is
        // counted and left for the next pass, and it stays readable from offset 0.
        let failures = broker.maintenance_failures();
        broker.run_maintenance(NOW).await?;
        ensure!(
            broker.maintenance_failures() == failures + 1,
            "the failed retention was not counted"
        );
        let described = broker.describe_topic(TOPIC)?;
        ensure!(
            described.partitions[0].log_start_offset == 0,
            "partition 0 lost segments it could not delete"
        );
        ensure!(
            described.partitions[1].log_start_offset > 0,
            "partition 1's retention did not run"
        );
        let stored = read_partition(&broker, TOPIC, 0, 0).await?;
        ensure!(
            stored.iter().map(|s| s.id).collect::<Vec<_>>() == acked[0],
            "partition 0 does not hold exactly what was acknowledged"
        );
    }

    // Writable again: the same broker takes appends at the next offset, no restart.
    let next = broker.describe_topic(TOPIC)?.partitions[0].log_end_offset;
    let offset = produce_at(&broker, 0, id, NOW).await?;
    ensure!(offset == next, "appended at {offset}, not {next}");
    acked[0].push(id);
    broker.run_maintenance(NOW).await?;
    for partition in 0..2 {
        let start = broker.describe_topic(TOPIC)?.partitions[partition].log_start_offset;
        let stored = read_partition(&broker, TOPIC, partition as i32, start).await?;
        let ids: Vec<u64> = stored.iter().map(|s| s.id).collect();
        ensure!(
            !ids.is_empty(),
            "partition {partition}: nothing left to check"
        );
        let kept = &acked[partition][acked[partition].len() - ids.len()..];
        ensure!(
            ids == kept,
            "partition {partition}: served {ids:?}, acknowledged {:?}",
            acked[partition]
        );
    }
    ensure!(
        broker.describe_topic(TOPIC)?.partitions[0].log_start_offset > 0,
        "partition 0's retention did not run once it could"
    );
    broker.shutdown().await?;
    Ok(())
}
