//! Focused behaviour tests of the broker: retention, compaction, committed offsets, topic
//! deletion, long-polling, offset lookups, validation of names, configs and batches, config
//! persistence, the data-directory lock, crash recovery and concurrent appends. Every test runs
//! the real [`Broker`] on a temporary directory.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use bytes::Bytes;
use eddy_broker::{
    Broker, BrokerConfig, CommittedOffset, Compression, Durability, Error, FlushPolicy, NewRecord,
    OFFSETS_TOPIC, OffsetSpec, OpenReport, Record, TopicConfig, decode_records, encode_batch,
};
use tempfile::TempDir;
use tokio::time::Instant;

/// A plausible "now" for record timestamps (November 2023).
const T0: i64 = 1_700_000_000_000;

fn broker_config(dir: &Path) -> BrokerConfig {
    BrokerConfig {
        data_dir: dir.to_path_buf(),
        // No timed background flushing or maintenance: the tests run maintenance themselves,
        // with their own clock.
        flush_policy: FlushPolicy::GroupCommit {
            interval: Duration::from_secs(3600),
        },
        maintenance_interval: Duration::from_secs(3600),
        ..BrokerConfig::new("")
    }
}

async fn open_with_report(dir: &Path) -> Result<(Broker, OpenReport)> {
    // After an unclean drop a background task may hold the old broker (and its directory
    // lock) for a moment longer.
    let mut attempts = 0;
    loop {
        match Broker::open_with_report(broker_config(dir)).await {
            Ok(opened) => return Ok(opened),
            Err(e) if attempts < 100 && e.to_string().contains("another broker") => {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => return Err(e).context("opening the broker"),
        }
    }
}

async fn open(dir: &Path) -> Result<Broker> {
    Ok(open_with_report(dir).await?.0)
}

async fn setup() -> Result<(TempDir, Broker)> {
    let dir = tempfile::tempdir()?;
    let broker = open(dir.path()).await?;
    Ok((dir, broker))
}

fn topic_config(partitions: i32, overrides: &[(&str, &str)]) -> Result<TopicConfig> {
    Ok(TopicConfig::from_overrides(
        partitions,
        overrides.iter().copied(),
    )?)
}

fn rec(key: &str, value: &str, ts: i64) -> NewRecord {
    NewRecord::new(key.to_string(), value.to_string()).at(ts)
}

fn tombstone(key: &str, ts: i64) -> NewRecord {
    NewRecord {
        key: Some(Bytes::from(key.to_string())),
        value: None,
        headers: Vec::new(),
        timestamp: Some(ts),
    }
}

fn partition_dir(data_dir: &Path, topic: &str, partition: i32) -> PathBuf {
    data_dir
        .join("topics")
        .join(topic)
        .join(partition.to_string())
}

/// Base offsets of the segment files in a partition directory.
fn segment_bases(data_dir: &Path, topic: &str, partition: i32) -> Result<Vec<i64>> {
    let dir = partition_dir(data_dir, topic, partition);
    let mut bases = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(".log")
            && let Ok(base) = stem.parse()
        {
            bases.push(base);
        }
    }
    bases.sort_unstable();
    Ok(bases)
}

/// Whether any of a segment's files (`.log`, `.index`, `.timeindex`) exists.
fn segment_files_exist(data_dir: &Path, topic: &str, partition: i32, base: i64) -> bool {
    let dir = partition_dir(data_dir, topic, partition);
    ["log", "index", "timeindex"]
        .iter()
        .any(|ext| dir.join(format!("{base:020}.{ext}")).exists())
}

/// Every record from the log start to the log end, read in small fetches.
async fn read_all(broker: &Broker, topic: &str, partition: i32) -> Result<Vec<Record>> {
    let start = broker
        .list_offset(topic, partition, OffsetSpec::Earliest)
        .await?
        .context("earliest")?
        .0;
    let mut offset = start;
    let mut out = Vec::new();
    loop {
        let fetched = broker
            .fetch(topic, partition, offset, 200, Duration::ZERO)
            .await?;
        let records: Vec<Record> = decode_records(&fetched.records)?
            .into_iter()
            .filter(|r| r.offset >= offset)
            .collect();
        let Some(last) = records.last() else { break };
        offset = last.offset + 1;
        out.extend(records);
    }
    Ok(out)
}

/// (offset, key, value) of records, for compact comparisons.
fn summary(records: &[Record]) -> Vec<(i64, Option<String>, Option<String>)> {
    let text = |b: &Option<Bytes>| b.as_ref().map(|b| String::from_utf8_lossy(b).into_owned());
    records
        .iter()
        .map(|r| (r.offset, text(&r.key), text(&r.value)))
        .collect()
}

fn kv(offset: i64, key: &str, value: Option<&str>) -> (i64, Option<String>, Option<String>) {
    (offset, Some(key.to_string()), value.map(str::to_string))
}

fn partition_state(broker: &Broker, topic: &str, partition: i32) -> Result<(i64, i64, u64, usize)> {
    let description = broker.describe_topic(topic)?;
    let p = &description.partitions[partition as usize];
    Ok((
        p.log_start_offset,
        p.log_end_offset,
        p.size_bytes,
        p.segments,
    ))
}

fn expect_out_of_range<T: std::fmt::Debug>(
    result: eddy_broker::Result<T>,
    offset: i64,
    log_start: i64,
    log_end: i64,
) -> Result<()> {
    match result {
        Err(Error::OffsetOutOfRange {
            offset: o,
            log_start: s,
            log_end: e,
        }) if (o, s, e) == (offset, log_start, log_end) => Ok(()),
        other => bail!(
            "expected OffsetOutOfRange {{ offset: {offset}, log_start: {log_start}, log_end: {log_end} }}, got {other:?}"
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Retention
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_by_time_moves_log_start_and_deletes_files() -> Result<()> {
    let (dir, broker) = setup().await?;
    broker
        .create_topic("t", topic_config(1, &[("retention.ms", "10000")])?)
        .await?;
    // Segments [0, 3) newest at T0, [3, 6) newest at T0+1000 (with an older record first), and
    // the active one [6, 9) newest at T0+5000.
    broker
        .produce(
            "t",
            0,
            &[
                rec("a", "0", T0 - 50),
                rec("b", "1", T0),
                rec("c", "2", T0 - 10),
            ],
            Durability::Durable,
        )
        .await?;
    broker.roll("t", 0).await?;
    broker
        .produce(
            "t",
            0,
            &[
                rec("a", "3", T0 - 100_000),
                rec("b", "4", T0 + 1000),
                rec("c", "5", T0 + 500),
            ],
            Durability::Durable,
        )
        .await?;
    broker.roll("t", 0).await?;
    broker
        .produce(
            "t",
            0,
            &[
                rec("a", "6", T0 + 5000),
                rec("b", "7", T0 + 4000),
                rec("c", "8", T0 + 3000),
            ],
            Durability::Durable,
        )
        .await?;
    let data = dir.path();
    assert_eq!(segment_bases(data, "t", 0)?, vec![0, 3, 6]);

    // Nothing is older than retention.ms yet.
    broker.run_maintenance(T0 + 10_000 - 1).await?;
    assert_eq!(partition_state(&broker, "t", 0)?.0, 0);
    assert_eq!(segment_bases(data, "t", 0)?, vec![0, 3, 6]);

    // The first segment's newest record is now too old: that whole segment goes.
    broker.run_maintenance(T0 + 10_000 + 1).await?;
    let (start, end, _, segments) = partition_state(&broker, "t", 0)?;
    assert_eq!((start, end, segments), (3, 9, 2));
    assert_eq!(segment_bases(data, "t", 0)?, vec![3, 6]);
    assert!(
        !segment_files_exist(data, "t", 0, 0),
        "segment 0's files remain"
    );
    assert_eq!(
        broker.list_offset("t", 0, OffsetSpec::Earliest).await?,
        Some((3, -1))
    );
    expect_out_of_range(
        broker.fetch("t", 0, 2, 1 << 20, Duration::ZERO).await,
        2,
        3,
        9,
    )?;
    let values: Vec<_> = summary(&read_all(&broker, "t", 0).await?)
        .into_iter()
        .map(|(o, _, v)| (o, v.expect("value")))
        .collect();
    assert_eq!(
        values,
        (3..9).map(|o| (o, o.to_string())).collect::<Vec<_>>(),
        "records after the log start are intact"
    );

    // A segment is judged by its newest record: [3, 6) holds one far older record but stays
    // until its newest (T0+1000) expires.
    broker.run_maintenance(T0 + 11_000 - 1).await?;
    assert_eq!(partition_state(&broker, "t", 0)?.0, 3);

    // Everything expired, the active segment included: the log is empty from its end on.
    broker.run_maintenance(T0 + 15_000 + 1).await?;
    let (start, end, size, segments) = partition_state(&broker, "t", 0)?;
    assert_eq!((start, end, size, segments), (9, 9, 0, 1));
    assert_eq!(segment_bases(data, "t", 0)?, vec![9]);
    for base in [3, 6] {
        assert!(
            !segment_files_exist(data, "t", 0, base),
            "segment {base}'s files remain"
        );
    }
    expect_out_of_range(
        broker.fetch("t", 0, 8, 1 << 20, Duration::ZERO).await,
        8,
        9,
        9,
    )?;
    let fetched = broker.fetch("t", 0, 9, 1 << 20, Duration::ZERO).await?;
    assert!(fetched.records.is_empty());
    // Appends carry on at the old log end, and survive a restart.
    let info = broker
        .produce("t", 0, &[rec("d", "9", T0 + 20_000)], Durability::Durable)
        .await?;
    assert_eq!((info.base_offset, info.log_start_offset), (9, 9));
    broker.shutdown().await?;
    drop(broker);
    let broker = open(data).await?;
    assert_eq!(partition_state(&broker, "t", 0)?.0, 9);
    assert_eq!(
        summary(&read_all(&broker, "t", 0).await?),
        vec![kv(9, "d", Some("9"))]
    );
    broker.shutdown().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_by_bytes_moves_log_start_and_deletes_files() -> Result<()> {
    let (dir, broker) = setup().await?;
    broker
        .create_topic("t", topic_config(1, &[("retention.ms", "-1")])?)
        .await?;
    // Five closed segments of identical size, two records each.
    for s in 0..5 {
        broker
            .produce(
                "t",
                0,
                &[
                    rec("k", "0123456789", T0 + s),
                    rec("k", "9876543210", T0 + s),
                ],
                Durability::Written,
            )
            .await?;
        broker.roll("t", 0).await?;
    }
    let (_, _, total, segments) = partition_state(&broker, "t", 0)?;
    assert_eq!(segments, 6, "five closed segments and an empty active one");
    let segment_size = total / 5;
    assert_eq!(total, segment_size * 5);

    // Unlimited: nothing goes, whatever the clock.
    broker.run_maintenance(i64::MAX / 2).await?;
    assert_eq!(partition_state(&broker, "t", 0)?.0, 0);

    // Keep at least 2.5 segments' worth: the oldest go while the rest is still that big, so
    // three segments (7.5 → 2.5 needs dropping two) remain.
    let limit = segment_size * 5 / 2;
    broker
        .alter_topic_config("t", [("retention.bytes", limit.to_string().as_str())])
        .await?;
    broker.run_maintenance(T0).await?;
    let (start, end, size, segments) = partition_state(&broker, "t", 0)?;
    assert_eq!((start, end, segments), (4, 10, 4));
    assert_eq!(size, segment_size * 3);
    assert!(size >= limit && size - segment_size < limit);
    assert_eq!(segment_bases(dir.path(), "t", 0)?, vec![4, 6, 8, 10]);
    for base in [0, 2] {
        assert!(
            !segment_files_exist(dir.path(), "t", 0, base),
            "segment {base}'s files remain"
        );
    }
    expect_out_of_range(
        broker.fetch("t", 0, 3, 1 << 20, Duration::ZERO).await,
        3,
        4,
        10,
    )?;
    let offsets: Vec<i64> = read_all(&broker, "t", 0)
        .await?
        .iter()
        .map(|r| r.offset)
        .collect();
    assert_eq!(offsets, (4..10).collect::<Vec<_>>());

    // Running again changes nothing: the log is within the limit.
    broker.run_maintenance(T0).await?;
    assert_eq!(partition_state(&broker, "t", 0)?.0, 4);
    broker.shutdown().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_passes_over_segments_emptied_by_compaction() -> Result<()> {
    let (dir, broker) = setup().await?;
    broker
        .create_topic(
            "t",
            topic_config(
                1,
                &[
                    ("cleanup.policy", "compact,delete"),
                    ("retention.ms", "10000"),
                ],
            )?,
        )
        .await?;
    broker
        .produce(
            "t",
            0,
            &[rec("a", "a1", T0), rec("b", "b1", T0)],
            Durability::Written,
        )
        .await?;
    broker.roll("t", 0).await?;
    broker
        .produce(
            "t",
            0,
            &[rec("a", "a2", T0 + 5000), rec("b", "b2", T0 + 5000)],
            Durability::Written,
        )
        .await?;
    broker.roll("t", 0).await?;
    broker
        .produce("t", 0, &[rec("c", "c1", T0 + 20_000)], Durability::Written)
        .await?;

    // Compaction empties the first segment; nothing has expired yet.
    let stats = broker.run_maintenance(T0 + 6000).await?;
    assert_eq!(stats.records_removed, 2);
    assert_eq!(segment_bases(dir.path(), "t", 0)?, vec![0, 2, 4]);
    assert_eq!(partition_state(&broker, "t", 0)?.0, 0);
    let fetched = broker.fetch("t", 0, 0, 1 << 20, Duration::ZERO).await?;
    assert_eq!(decode_records(&fetched.records)?[0].offset, 2);

    // The emptied segment does not go on its own: the log start stays where consumers may be.
    broker.run_maintenance(T0 + 15_000 - 1).await?;
    assert_eq!(partition_state(&broker, "t", 0)?.0, 0);
    assert_eq!(segment_bases(dir.path(), "t", 0)?, vec![0, 2, 4]);

    // Nor does it stop retention: once the next segment expires, both go.
    broker.run_maintenance(T0 + 15_000 + 1).await?;
    assert_eq!(partition_state(&broker, "t", 0)?.0, 4);
    assert_eq!(segment_bases(dir.path(), "t", 0)?, vec![4]);
    assert_eq!(
        summary(&read_all(&broker, "t", 0).await?),
        vec![kv(4, "c", Some("c1"))]
    );
    broker.shutdown().await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Compaction
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_keeps_the_latest_record_per_key_and_never_moves_offsets() -> Result<()> {
    let (dir, broker) = setup().await?;
    broker
        .create_topic(
            "table",
            topic_config(
                1,
                &[
                    ("cleanup.policy", "compact"),
                    ("delete.retention.ms", "1000"),
                ],
            )?,
        )
        .await?;
    let p = |records: Vec<NewRecord>| {
        let broker = broker.clone();
        async move {
            broker
                .produce("table", 0, &records, Durability::Written)
                .await
        }
    };
    // One closed segment: 0 a=1, 1 b=1, 2 a=2 | 3 c=1, 4 (no key) | 5 b=tombstone | 6 a=3
    p(vec![
        rec("a", "a1", T0),
        rec("b", "b1", T0),
        rec("a", "a2", T0),
    ])
    .await?;
    p(vec![rec("c", "c1", T0), NewRecord::value("unkeyed").at(T0)]).await?;
    p(vec![tombstone("b", T0 + 100)]).await?;
    p(vec![rec("a", "a3", T0)]).await?;
    broker.roll("table", 0).await?;
    // The active segment: 7 a=4, 8 c=2, 9 a=5 — never compacted.
    p(vec![rec("a", "a4", T0), rec("c", "c2", T0)]).await?;
    p(vec![rec("a", "a5", T0)]).await?;
    let size_before = partition_state(&broker, "table", 0)?.2;

    let stats = broker.run_maintenance(T0 + 500).await?;
    assert_eq!((stats.segments_cleaned, stats.records_removed), (1, 3));
    // The cleaned copy was written with its indexes in cleaning/ and renamed into place.
    let partition = partition_dir(dir.path(), "table", 0);
    let cleaning = partition.join("cleaning");
    assert_eq!(
        std::fs::read_dir(&cleaning)?.count(),
        0,
        "left in cleaning/"
    );
    for name in [
        "00000000000000000000.index",
        "00000000000000000000.timeindex",
    ] {
        assert!(partition.join(name).is_file(), "{name} is missing");
    }
    let unkeyed = (4, None, Some("unkeyed".to_string()));
    let active = vec![
        kv(7, "a", Some("a4")),
        kv(8, "c", Some("c2")),
        kv(9, "a", Some("a5")),
    ];
    let mut expected = vec![
        kv(3, "c", Some("c1")),
        unkeyed.clone(),
        kv(5, "b", None),
        kv(6, "a", Some("a3")),
    ];
    expected.extend(active.clone());
    assert_eq!(summary(&read_all(&broker, "table", 0).await?), expected);
    let (start, end, size, _) = partition_state(&broker, "table", 0)?;
    assert_eq!(
        (start, end),
        (0, 10),
        "compaction moves neither end of the log"
    );
    assert!(
        size < size_before,
        "the segment shrank: {size} vs {size_before}"
    );

    // A fetch at a removed offset starts at the next record that remains.
    let fetched = broker.fetch("table", 0, 1, 1 << 20, Duration::ZERO).await?;
    let first = decode_records(&fetched.records)?
        .into_iter()
        .find(|r| r.offset >= 1)
        .context("records after offset 1")?;
    assert_eq!(first.offset, 3);
    // Timestamp lookups skip removed records too.
    assert_eq!(
        broker
            .list_offset("table", 0, OffsetSpec::Timestamp(T0))
            .await?,
        Some((3, T0))
    );

    // Once the active segment rolls, its records count: older values in the first segment go.
    broker.roll("table", 0).await?;
    let stats = broker.run_maintenance(T0 + 500).await?;
    assert_eq!((stats.segments_cleaned, stats.records_removed), (2, 3));
    assert_eq!(
        summary(&read_all(&broker, "table", 0).await?),
        vec![
            unkeyed,
            kv(5, "b", None),
            kv(8, "c", Some("c2")),
            kv(9, "a", Some("a5"))
        ]
    );

    // The result survives a restart (clean and unclean), offsets and all; what a compaction
    // cut off by the stop left in cleaning/ is removed.
    broker.shutdown().await?;
    drop(broker);
    std::fs::write(
        cleaning.join("00000000000000000000.log"),
        b"half a cleaned copy",
    )?;
    let broker = open(dir.path()).await?;
    assert!(!cleaning.exists(), "cleaning/ survived the open");
    let after_clean = summary(&read_all(&broker, "table", 0).await?);
    drop(broker);
    let broker = open(dir.path()).await?;
    assert_eq!(summary(&read_all(&broker, "table", 0).await?), after_clean);
    assert_eq!(after_clean.len(), 4);
    // A compacted topic has no time or size retention.
    broker.run_maintenance(i64::MAX / 2).await?;
    assert_eq!(partition_state(&broker, "table", 0)?.0, 0);
    broker.shutdown().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_drops_tombstones_only_after_delete_retention() -> Result<()> {
    let (_dir, broker) = setup().await?;
    broker
        .create_topic(
            "table",
            topic_config(
                1,
                &[
                    ("cleanup.policy", "compact"),
                    ("delete.retention.ms", "1000"),
                ],
            )?,
        )
        .await?;
    broker
        .produce(
            "table",
            0,
            &[rec("k", "v1", T0), rec("other", "x", T0)],
            Durability::Written,
        )
        .await?;
    broker
        .produce("table", 0, &[tombstone("k", T0 + 100)], Durability::Written)
        .await?;
    broker.roll("table", 0).await?;

    // The tombstone is 999 ms old: the value it deletes goes, the tombstone stays.
    broker.run_maintenance(T0 + 100 + 999).await?;
    assert_eq!(
        summary(&read_all(&broker, "table", 0).await?),
        vec![kv(1, "other", Some("x")), kv(2, "k", None)]
    );
    // Still there a moment before delete.retention.ms has passed.
    broker.run_maintenance(T0 + 100 + 999).await?;
    assert_eq!(read_all(&broker, "table", 0).await?.len(), 2);
    // Older than delete.retention.ms: gone.
    let stats = broker.run_maintenance(T0 + 100 + 1001).await?;
    assert_eq!(stats.records_removed, 1);
    assert_eq!(
        summary(&read_all(&broker, "table", 0).await?),
        vec![kv(1, "other", Some("x"))]
    );
    assert_eq!(partition_state(&broker, "table", 0)?.1, 3);
    broker.shutdown().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_respects_min_compaction_lag() -> Result<()> {
    let (_dir, broker) = setup().await?;
    broker
        .create_topic(
            "table",
            topic_config(
                1,
                &[
                    ("cleanup.policy", "compact"),
                    ("min.compaction.lag.ms", "10000"),
                ],
            )?,
        )
        .await?;
    broker
        .produce(
            "table",
            0,
            &[rec("k", "v1", T0), rec("k", "v2", T0 + 100)],
            Durability::Written,
        )
        .await?;
    broker.roll("table", 0).await?;
    broker
        .produce("table", 0, &[rec("k", "v3", T0 + 200)], Durability::Written)
        .await?;

    // The closed segment's newest record is younger than the lag: untouched.
    for now in [T0 + 5000, T0 + 100 + 10_000 - 1] {
        let stats = broker.run_maintenance(now).await?;
        assert_eq!(stats.records_removed, 0, "compacted at {now}");
        assert_eq!(read_all(&broker, "table", 0).await?.len(), 3);
    }
    // Past the lag, the superseded value goes.
    let stats = broker.run_maintenance(T0 + 100 + 10_000 + 1).await?;
    assert_eq!(stats.records_removed, 1);
    assert_eq!(
        summary(&read_all(&broker, "table", 0).await?),
        vec![kv(1, "k", Some("v2")), kv(2, "k", Some("v3"))]
    );

    // Lowering the lag applies at once.
    broker.roll("table", 0).await?;
    broker
        .produce("table", 0, &[rec("k", "v4", T0 + 300)], Durability::Written)
        .await?;
    assert_eq!(broker.run_maintenance(T0 + 1000).await?.records_removed, 0);
    broker
        .alter_topic_config("table", [("min.compaction.lag.ms", "0")])
        .await?;
    assert_eq!(broker.run_maintenance(T0 + 1000).await?.records_removed, 1);
    assert_eq!(
        summary(&read_all(&broker, "table", 0).await?),
        vec![kv(2, "k", Some("v3")), kv(3, "k", Some("v4"))]
    );
    broker.shutdown().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_records_after_compaction_keeps_its_log_start_across_restarts() -> Result<()> {
    let (dir, broker) = setup().await?;
    broker
        .create_topic("table", topic_config(1, &[("cleanup.policy", "compact")])?)
        .await?;
    // Segment [0, 4): x a b c; segment [4, 7): a b c; then an empty active segment.
    let first = [
        rec("x", "x1", T0),
        rec("a", "a1", T0),
        rec("b", "b1", T0),
        rec("c", "c1", T0),
    ];
    broker
        .produce("table", 0, &first, Durability::Written)
        .await?;
    broker.roll("table", 0).await?;
    let second = [rec("a", "a2", T0), rec("b", "b2", T0), rec("c", "c2", T0)];
    broker
        .produce("table", 0, &second, Durability::Written)
        .await?;
    broker.roll("table", 0).await?;
    // Compaction leaves only offset 0 in the first segment.
    assert_eq!(broker.run_maintenance(T0 + 1000).await?.records_removed, 3);

    // Offsets 2 and 3 are gone, but the first segment still spans them.
    assert_eq!(broker.delete_records("table", 0, 2).await?, 2);
    let check = |broker: Broker| async move {
        assert_eq!(
            broker.list_offset("table", 0, OffsetSpec::Earliest).await?,
            Some((2, -1))
        );
        expect_out_of_range(
            broker.fetch("table", 0, 1, 1024, Duration::ZERO).await,
            1,
            2,
            7,
        )?;
        let fetched = broker.fetch("table", 0, 2, 1 << 20, Duration::ZERO).await?;
        let offsets: Vec<i64> = decode_records(&fetched.records)?
            .iter()
            .map(|r| r.offset)
            .collect();
        assert_eq!(offsets, vec![4, 5, 6]);
        anyhow::Ok(broker)
    };
    let broker = check(broker).await?;
    // The log start is the same after an unclean and after a clean restart.
    drop(broker);
    let broker = check(open(dir.path()).await?).await?;
    broker.shutdown().await?;
    drop(broker);
    let broker = check(open(dir.path()).await?).await?;
    broker.shutdown().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_and_appends_proceed_during_compaction() -> Result<()> {
    let (_dir, broker) = setup().await?;
    broker
        .create_topic(
            "table",
            topic_config(
                1,
                &[("cleanup.policy", "compact"), ("segment.bytes", "65536")],
            )?,
        )
        .await?;
    // Enough closed data that a compaction pass takes a while: 40 batches of 500 records over
    // 100 keys, each key rewritten many times.
    const BATCHES: i64 = 40;
    const PER_BATCH: i64 = 500;
    for b in 0..BATCHES {
        let records: Vec<NewRecord> = (0..PER_BATCH)
            .map(|i| {
                let n = b * PER_BATCH + i;
                rec(&format!("key-{}", n % 100), &format!("value-{n}"), T0)
            })
            .collect();
        broker
            .produce_batch(
                "table",
                0,
                encode_batch(&records, T0, Compression::None)?,
                Durability::Written,
            )
            .await?;
    }
    broker.roll("table", 0).await?;
    let closed_end = BATCHES * PER_BATCH;

    let compactor = {
        let broker = broker.clone();
        tokio::spawn(async move { broker.run_maintenance(T0 + 1000).await })
    };
    // Append and read while it runs.
    let mut appended_during = 0;
    let mut fetched_during = 0;
    let mut next = closed_end;
    while !compactor.is_finished() {
        let info = broker
            .produce(
                "table",
                0,
                &[rec("new", &format!("value-{next}"), T0)],
                Durability::Written,
            )
            .await?;
        assert_eq!(info.base_offset, next);
        next += 1;
        // A read of the closed part sees either the old or the compacted records, never
        // anything else.
        let from = (next * 7919) % closed_end;
        let fetched = broker.fetch("table", 0, from, 4096, Duration::ZERO).await?;
        for r in decode_records(&fetched.records)? {
            let value = String::from_utf8(r.value.clone().context("a value")?.to_vec())?;
            assert_eq!(value, format!("value-{}", r.offset), "record {r:?}");
        }
        if !compactor.is_finished() {
            appended_during += 1;
            fetched_during += 1;
        }
    }
    let stats = compactor.await??;
    assert!(stats.records_removed > 0, "{stats:?}");
    // Were appends blocked for the whole pass, at most the one waiting when it ended (and one
    // or two racing the end of the maintenance call) would count.
    assert!(
        appended_during >= 5 && fetched_during >= 5,
        "only {appended_during} appends and {fetched_during} reads completed while compaction ran"
    );
    // The result: the latest value of each of the 100 keys, then the new appends.
    let records = read_all(&broker, "table", 0).await?;
    let kept: Vec<i64> = records
        .iter()
        .map(|r| r.offset)
        .filter(|&o| o < closed_end)
        .collect();
    assert_eq!(kept, (closed_end - 100..closed_end).collect::<Vec<_>>());
    let new: Vec<i64> = records
        .iter()
        .map(|r| r.offset)
        .filter(|&o| o >= closed_end)
        .collect();
    assert_eq!(new, (closed_end..next).collect::<Vec<_>>());
    eprintln!("{appended_during} appends and reads completed during compaction ({stats:?})");
    broker.shutdown().await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Committed offsets and topic deletion
// ---------------------------------------------------------------------------------------------

fn committed(offset: i64, metadata: &str) -> CommittedOffset {
    CommittedOffset {
        offset,
        leader_epoch: -1,
        metadata: metadata.to_string(),
        commit_timestamp: T0 + offset,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_offsets_survive_restarts_and_group_deletion() -> Result<()> {
    let (dir, broker) = setup().await?;
    broker.create_topic("orders", topic_config(2, &[])?).await?;
    broker
        .commit_offsets(
            "g1",
            &[
                ("orders".into(), 0, committed(5, "m0")),
                ("orders".into(), 1, committed(7, "m1")),
            ],
        )
        .await?;
    broker
        .commit_offsets("g2", &[("orders".into(), 0, committed(1, ""))])
        .await?;
    broker
        .commit_offsets("g1", &[("orders".into(), 0, committed(6, "again"))])
        .await?;
    assert_eq!(
        broker.committed_offset("g1", "orders", 0),
        Some(committed(6, "again"))
    );

    // Clean restart.
    broker.shutdown().await?;
    drop(broker);
    let broker = open(dir.path()).await?;
    assert_eq!(
        broker.committed_offset("g1", "orders", 0),
        Some(committed(6, "again"))
    );
    assert_eq!(
        broker.committed_offset("g1", "orders", 1),
        Some(committed(7, "m1"))
    );
    assert_eq!(
        broker.committed_offset("g2", "orders", 0),
        Some(committed(1, ""))
    );
    assert_eq!(
        broker.groups_with_offsets(),
        vec!["g1".to_string(), "g2".to_string()]
    );

    // Unclean restart after another commit.
    broker
        .commit_offsets("g1", &[("orders".into(), 1, committed(9, "m2"))])
        .await?;
    drop(broker);
    let (broker, report) = open_with_report(dir.path()).await?;
    assert!(!report.clean_shutdown);
    assert_eq!(
        broker.group_offsets("g1"),
        vec![
            ("orders".to_string(), 0, committed(6, "again")),
            ("orders".to_string(), 1, committed(9, "m2")),
        ]
    );

    // Deleting a group removes all its offsets, durably, and nothing of other groups.
    broker.delete_group_offsets("g1").await?;
    assert_eq!(broker.committed_offset("g1", "orders", 0), None);
    assert!(broker.group_offsets("g1").is_empty());
    assert_eq!(broker.groups_with_offsets(), vec!["g2".to_string()]);
    drop(broker);
    let broker = open(dir.path()).await?;
    assert!(broker.group_offsets("g1").is_empty());
    assert_eq!(
        broker.committed_offset("g2", "orders", 0),
        Some(committed(1, ""))
    );

    // Compacting the offsets topic (tombstones expired and all) changes none of it.
    broker.roll(OFFSETS_TOPIC, 0).await?;
    let stats = broker.run_maintenance(i64::MAX / 2).await?;
    assert!(stats.records_removed > 0, "{stats:?}");
    broker.shutdown().await?;
    drop(broker);
    let broker = open(dir.path()).await?;
    assert!(broker.group_offsets("g1").is_empty());
    assert_eq!(broker.groups_with_offsets(), vec!["g2".to_string()]);
    assert_eq!(
        broker.committed_offset("g2", "orders", 0),
        Some(committed(1, ""))
    );
    // A group can commit again after deletion.
    broker
        .commit_offsets("g1", &[("orders".into(), 0, committed(11, ""))])
        .await?;
    assert_eq!(
        broker.committed_offset("g1", "orders", 0),
        Some(committed(11, ""))
    );
    broker.shutdown().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_topic_removes_its_offsets_and_directory() -> Result<()> {
    let (dir, broker) = setup().await?;
    let old_id = broker
        .create_topic("doomed", topic_config(2, &[])?)
        .await?
        .id;
    broker.create_topic("kept", topic_config(1, &[])?).await?;
    broker
        .produce("doomed", 1, &[rec("k", "v", T0)], Durability::Durable)
        .await?;
    broker
        .commit_offsets(
            "g",
            &[
                ("doomed".into(), 0, committed(3, "")),
                ("doomed".into(), 1, committed(1, "")),
                ("kept".into(), 0, committed(2, "")),
            ],
        )
        .await?;
    let topic_dir = dir.path().join("topics").join("doomed");
    assert!(topic_dir.exists());

    broker.delete_topic("doomed").await?;
    assert!(!topic_dir.exists(), "the topic directory remains");
    assert!(!broker.list_topics().contains(&"doomed".to_string()));
    assert_eq!(broker.committed_offset("g", "doomed", 0), None);
    assert_eq!(
        broker.group_offsets("g"),
        vec![("kept".to_string(), 0, committed(2, ""))]
    );
    match broker.fetch("doomed", 0, 0, 1024, Duration::ZERO).await {
        Err(Error::UnknownTopicOrPartition { topic, .. }) => assert_eq!(topic, "doomed"),
        other => panic!("fetch from a deleted topic: {other:?}"),
    }
    assert!(matches!(
        broker
            .produce("doomed", 0, &[rec("k", "v", T0)], Durability::Written)
            .await,
        Err(Error::UnknownTopicOrPartition { .. })
    ));
    assert!(matches!(
        broker.delete_topic("doomed").await,
        Err(Error::UnknownTopicOrPartition { .. })
    ));
    // The internal offsets topic cannot be deleted.
    let err = broker.delete_topic(OFFSETS_TOPIC).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("__consumer_offsets is an internal topic"),
        "{err}"
    );

    // Across a restart (unclean, so recovery runs) the topic and its offsets stay gone.
    drop(broker);
    let broker = open(dir.path()).await?;
    assert!(!broker.list_topics().contains(&"doomed".to_string()));
    assert!(!topic_dir.exists());
    assert_eq!(broker.committed_offset("g", "doomed", 1), None);
    assert_eq!(
        broker.committed_offset("g", "kept", 0),
        Some(committed(2, ""))
    );

    // A new topic of the same name starts empty, with no offsets.
    broker.create_topic("doomed", topic_config(2, &[])?).await?;
    assert_eq!(partition_state(&broker, "doomed", 1)?.1, 0);
    assert_eq!(broker.committed_offset("g", "doomed", 0), None);
    assert_ne!(broker.describe_topic("doomed")?.id, old_id);
    broker.shutdown().await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Fetching and offset lookups
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_poll_wakes_promptly_when_data_arrives() -> Result<()> {
    let (_dir, broker) = setup().await?;
    broker.create_topic("t", topic_config(2, &[])?).await?;
    broker
        .produce("t", 0, &[rec("k", "first", T0)], Durability::Durable)
        .await?;

    let started = Instant::now();
    let poll = {
        let broker = broker.clone();
        tokio::spawn(async move {
            broker
                .fetch("t", 0, 1, 1 << 20, Duration::from_secs(60))
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!poll.is_finished(), "the fetch returned with no data");
    // An append to another partition does not satisfy it.
    broker
        .produce("t", 1, &[rec("k", "elsewhere", T0)], Durability::Durable)
        .await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !poll.is_finished(),
        "an append to partition 1 woke a fetch of partition 0"
    );

    broker
        .produce("t", 0, &[rec("k", "second", T0)], Durability::Written)
        .await?;
    let fetched = tokio::time::timeout(Duration::from_secs(20), poll)
        .await
        .context("the long-poll did not wake up after an append")???;
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(20), "took {elapsed:?}");
    assert_eq!(
        summary(&decode_records(&fetched.records)?),
        vec![kv(1, "k", Some("second"))]
    );
    assert_eq!(fetched.high_watermark, 2);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_poll_returns_empty_after_max_wait() -> Result<()> {
    let (_dir, broker) = setup().await?;
    broker.create_topic("t", topic_config(1, &[])?).await?;
    broker
        .produce("t", 0, &[rec("k", "v", T0)], Durability::Durable)
        .await?;
    let max_wait = Duration::from_millis(300);
    let started = Instant::now();
    let fetched = broker.fetch("t", 0, 1, 1 << 20, max_wait).await?;
    let elapsed = started.elapsed();
    assert!(fetched.records.is_empty());
    assert_eq!((fetched.high_watermark, fetched.log_start_offset), (1, 0));
    assert!(
        elapsed >= max_wait,
        "returned after {elapsed:?}, before max_wait"
    );
    assert!(elapsed < Duration::from_secs(20), "took {elapsed:?}");

    // With data available it does not wait at all (well under max_wait).
    let started = Instant::now();
    let fetched = broker
        .fetch("t", 0, 0, 1 << 20, Duration::from_secs(60))
        .await?;
    assert_eq!(decode_records(&fetched.records)?.len(), 1);
    assert!(started.elapsed() < Duration::from_secs(20));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_outside_the_log_is_offset_out_of_range() -> Result<()> {
    let (_dir, broker) = setup().await?;
    broker.create_topic("t", topic_config(1, &[])?).await?;
    // An empty log: only offset 0 is in range.
    expect_out_of_range(broker.fetch("t", 0, 1, 1024, Duration::ZERO).await, 1, 0, 0)?;
    expect_out_of_range(
        broker.fetch("t", 0, -1, 1024, Duration::ZERO).await,
        -1,
        0,
        0,
    )?;
    assert!(
        broker
            .fetch("t", 0, 0, 1024, Duration::ZERO)
            .await?
            .records
            .is_empty()
    );

    let records: Vec<NewRecord> = (0..10).map(|i| rec("k", &i.to_string(), T0)).collect();
    broker
        .produce("t", 0, &records, Durability::Durable)
        .await?;
    expect_out_of_range(
        broker.fetch("t", 0, 11, 1024, Duration::ZERO).await,
        11,
        0,
        10,
    )?;
    // Past the end is an error even for a long-poll: it returns at once.
    let started = Instant::now();
    expect_out_of_range(
        broker
            .fetch("t", 0, 12, 1024, Duration::from_secs(60))
            .await,
        12,
        0,
        10,
    )?;
    assert!(started.elapsed() < Duration::from_secs(20));

    assert_eq!(broker.delete_records("t", 0, 4).await?, 4);
    expect_out_of_range(
        broker.fetch("t", 0, 3, 1024, Duration::ZERO).await,
        3,
        4,
        10,
    )?;
    expect_out_of_range(
        broker.fetch("t", 0, 0, 1024, Duration::ZERO).await,
        0,
        4,
        10,
    )?;
    let fetched = broker.fetch("t", 0, 4, 1024, Duration::ZERO).await?;
    assert_eq!(fetched.log_start_offset, 4);
    // The batch holding offset 4 also holds 0..4; consumers skip those.
    let offsets: Vec<i64> = decode_records(&fetched.records)?
        .iter()
        .map(|r| r.offset)
        .collect();
    assert_eq!(offsets, (0..10).collect::<Vec<_>>());
    // delete_records past the end is refused, and below the start changes nothing.
    expect_out_of_range(broker.delete_records("t", 0, 11).await, 11, 4, 10)?;
    assert_eq!(broker.delete_records("t", 0, 2).await?, 4);
    // The moved log start survives an unclean restart.
    let dir = broker.data_dir().to_path_buf();
    drop(broker);
    let broker = open(&dir).await?;
    expect_out_of_range(
        broker.fetch("t", 0, 3, 1024, Duration::ZERO).await,
        3,
        4,
        10,
    )?;
    match broker.fetch("t", 1, 0, 1024, Duration::ZERO).await {
        Err(Error::UnknownTopicOrPartition { topic, partition }) => {
            assert_eq!((topic.as_str(), partition), ("t", 1));
        }
        other => panic!("fetch from a partition that does not exist: {other:?}"),
    }
    broker.shutdown().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offset_inside_a_batch_returns_the_whole_batch() -> Result<()> {
    let (_dir, broker) = setup().await?;
    broker
        .create_topic("t", topic_config(1, &[("index.interval.bytes", "0")])?)
        .await?;
    let batch = |from: i64| -> Vec<NewRecord> {
        (from..from + 5)
            .map(|i| rec("k", &i.to_string(), T0 + i))
            .collect()
    };
    for from in [0, 5, 10] {
        let info = broker
            .produce("t", 0, &batch(from), Durability::Written)
            .await?;
        assert_eq!((info.base_offset, info.last_offset), (from, from + 4));
    }
    for offset in 0..15 {
        // max_bytes of 1: exactly one whole batch, the one holding the offset.
        let fetched = broker.fetch("t", 0, offset, 1, Duration::ZERO).await?;
        let offsets: Vec<i64> = decode_records(&fetched.records)?
            .iter()
            .map(|r| r.offset)
            .collect();
        let base = offset / 5 * 5;
        assert_eq!(
            offsets,
            (base..base + 5).collect::<Vec<_>>(),
            "fetch at {offset}"
        );
    }
    // A larger max_bytes returns whole batches from there on.
    let fetched = broker.fetch("t", 0, 7, 1 << 20, Duration::ZERO).await?;
    let offsets: Vec<i64> = decode_records(&fetched.records)?
        .iter()
        .map(|r| r.offset)
        .collect();
    assert_eq!(offsets, (5..15).collect::<Vec<_>>());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_offset_by_timestamp_finds_the_first_record_at_or_after_it() -> Result<()> {
    let (_dir, broker) = setup().await?;
    broker
        .create_topic("t", topic_config(1, &[("index.interval.bytes", "0")])?)
        .await?;
    // Offsets and timestamps (not monotonic): 0:100 1:300 | 2:200 | roll | 3:400 4:250 | 5:500
    let at = |ts: i64| rec("k", &ts.to_string(), T0 + ts);
    broker
        .produce("t", 0, &[at(100), at(300)], Durability::Written)
        .await?;
    broker
        .produce("t", 0, &[at(200)], Durability::Written)
        .await?;
    broker.roll("t", 0).await?;
    broker
        .produce("t", 0, &[at(400), at(250)], Durability::Written)
        .await?;
    broker
        .produce("t", 0, &[at(500)], Durability::Written)
        .await?;
    let lookup = |ts: i64| {
        let broker = broker.clone();
        async move {
            broker
                .list_offset("t", 0, OffsetSpec::Timestamp(T0 + ts))
                .await
        }
    };
    for (ts, expected) in [
        (0, Some((0, 100))),
        (100, Some((0, 100))),
        (101, Some((1, 300))),
        (150, Some((1, 300))),
        (300, Some((1, 300))),
        (301, Some((3, 400))),
        (401, Some((5, 500))),
        (500, Some((5, 500))),
        (501, None),
    ] {
        let expected = expected.map(|(o, t)| (o, T0 + t));
        assert_eq!(lookup(ts).await?, expected, "timestamp {ts}");
    }
    assert_eq!(
        broker.list_offset("t", 0, OffsetSpec::Earliest).await?,
        Some((0, -1))
    );
    assert_eq!(
        broker.list_offset("t", 0, OffsetSpec::Latest).await?,
        Some((6, -1))
    );

    // Below the log start, records do not count, even in a batch that straddles it.
    broker.delete_records("t", 0, 1).await?;
    assert_eq!(lookup(0).await?, Some((1, T0 + 300)));
    broker.delete_records("t", 0, 2).await?;
    assert_eq!(lookup(0).await?, Some((2, T0 + 200)));
    assert_eq!(lookup(250).await?, Some((3, T0 + 400)));
    broker.delete_records("t", 0, 4).await?;
    assert_eq!(lookup(0).await?, Some((4, T0 + 250)));
    assert_eq!(lookup(300).await?, Some((5, T0 + 500)));
    assert_eq!(
        broker.list_offset("t", 0, OffsetSpec::Earliest).await?,
        Some((4, -1))
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_topic_names_and_configs_are_refused_with_the_reason() -> Result<()> {
    let (dir, broker) = setup().await?;
    let long = "x".repeat(250);
    for (name, why) in [
        ("", "empty"),
        (".", "not allowed"),
        ("..", "not allowed"),
        ("has space", "' '"),
        ("a/b", "'/'"),
        ("ünï", "'ü'"),
        (long.as_str(), "250 characters"),
    ] {
        match broker.create_topic(name, TopicConfig::default()).await {
            Err(e @ Error::InvalidTopicName { .. }) => {
                let message = e.to_string();
                assert!(message.contains(why), "{name:?}: {message}");
                assert!(
                    message.contains(&format!("{name:?}")),
                    "{name:?}: {message}"
                );
            }
            other => panic!("topic name {name:?} accepted: {other:?}"),
        }
    }
    // 249 characters is fine.
    broker
        .create_topic(&"y".repeat(249), TopicConfig::default())
        .await?;

    // Values set directly on the struct are checked too.
    let bad_configs = [
        (
            TopicConfig {
                partitions: 0,
                ..TopicConfig::default()
            },
            "partitions",
        ),
        (
            TopicConfig {
                segment_bytes: 5,
                ..TopicConfig::default()
            },
            "segment.bytes",
        ),
        (
            TopicConfig {
                retention_ms: -7,
                ..TopicConfig::default()
            },
            "retention.ms",
        ),
        (
            TopicConfig {
                retention_bytes: -2,
                ..TopicConfig::default()
            },
            "retention.bytes",
        ),
        (
            TopicConfig {
                segment_ms: 0,
                ..TopicConfig::default()
            },
            "segment.ms",
        ),
        (
            TopicConfig {
                delete_retention_ms: -1,
                ..TopicConfig::default()
            },
            "delete.retention.ms",
        ),
        (
            TopicConfig {
                min_compaction_lag_ms: -1,
                ..TopicConfig::default()
            },
            "min.compaction.lag.ms",
        ),
    ];
    for (config, key) in bad_configs {
        match broker.create_topic("bad", config.clone()).await {
            Err(e @ Error::InvalidConfig { .. }) => {
                assert!(e.to_string().contains(key), "{config:?}: {e}");
            }
            other => panic!("config {config:?} accepted: {other:?}"),
        }
        assert!(!broker.list_topics().contains(&"bad".to_string()));
        assert!(!dir.path().join("topics").join("bad").exists());
    }

    // String overrides: the key, the value and the reason are all in the message.
    for (key, value, why) in [
        ("segment.bytes", "ten", "integer"),
        ("segment.bytes", "10", "at least"),
        ("segment.bytes", "4294967296", "32-bit"),
        ("retention.ms", "-2", "at least -1"),
        ("cleanup.policy", "forever", "compact"),
        ("max.message.bytes", "-1", "at least 0"),
        ("retention.mss", "1", "unknown config key"),
    ] {
        let err = TopicConfig::from_overrides(1, [(key, value)]).unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, Error::InvalidConfig { .. }), "{message}");
        assert!(
            message.contains(key) && message.contains(value) && message.contains(why),
            "{key}={value}: {message}"
        );
    }

    // A bad alteration changes nothing, in memory or on disk.
    broker
        .create_topic("t", topic_config(1, &[("retention.ms", "5000")])?)
        .await?;
    let before = broker.describe_topic("t")?.config;
    let err = broker
        .alter_topic_config(
            "t",
            [("retention.bytes", "1000"), ("segment.bytes", "nope")],
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("segment.bytes"), "{err}");
    assert_eq!(broker.describe_topic("t")?.config, before);
    let err = broker
        .alter_topic_config("missing", [("retention.ms", "1")])
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::UnknownTopicOrPartition { .. }),
        "{err}"
    );
    // Creating a topic twice is refused.
    assert!(matches!(
        broker.create_topic("t", TopicConfig::default()).await,
        Err(Error::TopicAlreadyExists(name)) if name == "t"
    ));
    broker.shutdown().await?;
    drop(broker);
    let broker = open(dir.path()).await?;
    assert_eq!(broker.describe_topic("t")?.config, before);
    broker.shutdown().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_over_max_message_bytes_is_refused_and_nothing_is_written() -> Result<()> {
    let (_dir, broker) = setup().await?;
    broker
        .create_topic("t", topic_config(1, &[("max.message.bytes", "1000")])?)
        .await?;
    let big = NewRecord::new("k", vec![b'x'; 2000]).at(T0);
    match broker
        .produce("t", 0, std::slice::from_ref(&big), Durability::Durable)
        .await
    {
        Err(Error::MessageTooLarge { size, max }) => {
            assert_eq!(max, 1000);
            assert!(size > 2000, "size {size}");
        }
        other => panic!("an oversized batch was accepted: {other:?}"),
    }
    assert_eq!(partition_state(&broker, "t", 0)?, (0, 0, 0, 1));

    // A request of several batches where only the last is too large: none is written.
    let mut request = encode_batch(&[rec("k", "small", T0)], T0, Compression::None)?.to_vec();
    request.extend_from_slice(&encode_batch(&[big], T0, Compression::None)?);
    assert!(matches!(
        broker
            .produce_batch("t", 0, Bytes::from(request), Durability::Durable)
            .await,
        Err(Error::MessageTooLarge { .. })
    ));
    assert_eq!(partition_state(&broker, "t", 0)?, (0, 0, 0, 1));

    // Small batches go through, from offset 0; raising the limit lets the big one in.
    assert_eq!(
        broker
            .produce("t", 0, &[rec("k", "ok", T0)], Durability::Durable)
            .await?
            .base_offset,
        0
    );
    broker
        .alter_topic_config("t", [("max.message.bytes", "5000")])
        .await?;
    let info = broker
        .produce(
            "t",
            0,
            &[NewRecord::new("k", vec![b'y'; 2000]).at(T0)],
            Durability::Durable,
        )
        .await?;
    assert_eq!(info.base_offset, 1);
    assert_eq!(read_all(&broker, "t", 0).await?.len(), 2);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_batch_is_refused_and_nothing_is_written() -> Result<()> {
    let (_dir, broker) = setup().await?;
    broker.create_topic("t", topic_config(1, &[])?).await?;
    broker
        .produce("t", 0, &[rec("k", "before", T0)], Durability::Durable)
        .await?;
    let state = partition_state(&broker, "t", 0)?;

    let good = encode_batch(
        &[rec("k", "v1", T0), rec("k", "v2", T0)],
        T0,
        Compression::None,
    )?;
    let mut flipped = good.to_vec();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x55; // payload byte: CRC mismatch
    let mut bad_magic = good.to_vec();
    bad_magic[16] = 1;
    let mut two_then_bad = good.to_vec();
    two_then_bad.extend_from_slice(&good);
    two_then_bad.extend_from_slice(&flipped);
    let mut good_then_torn = good.to_vec();
    good_then_torn.extend_from_slice(&good[..good.len() - 5]);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("crc", flipped, "CRC"),
        ("magic", bad_magic, "magic"),
        ("truncated", good[..good.len() - 3].to_vec(), "only"),
        ("short", good[..20].to_vec(), "shorter"),
        ("empty", Vec::new(), "no record batches"),
        ("good, good, corrupt", two_then_bad, "CRC"),
        ("good, torn", good_then_torn, "only"),
    ];
    for (name, bytes, why) in cases {
        match broker
            .produce_batch("t", 0, Bytes::from(bytes), Durability::Durable)
            .await
        {
            Err(e @ Error::CorruptBatch(_)) => assert!(e.to_string().contains(why), "{name}: {e}"),
            other => panic!("{name}: a corrupt request was accepted: {other:?}"),
        }
        assert_eq!(
            partition_state(&broker, "t", 0)?,
            state,
            "{name}: something was written"
        );
    }
    // The partition is still fine: the next good batch lands right after the first record.
    let info = broker
        .produce_batch("t", 0, good, Durability::Durable)
        .await?;
    assert_eq!((info.base_offset, info.last_offset), (1, 2));
    assert_eq!(
        summary(&read_all(&broker, "t", 0).await?),
        vec![
            kv(0, "k", Some("before")),
            kv(1, "k", Some("v1")),
            kv(2, "k", Some("v2"))
        ]
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segments_roll_by_size_and_by_record_time() -> Result<()> {
    let (dir, broker) = setup().await?;
    broker
        .create_topic("by-time", topic_config(1, &[("segment.ms", "1000")])?)
        .await?;
    for ts in [T0, T0 + 1000] {
        broker
            .produce("by-time", 0, &[rec("k", "v", ts)], Durability::Written)
            .await?;
    }
    assert_eq!(segment_bases(dir.path(), "by-time", 0)?, vec![0]);
    // More than segment.ms past the segment's first batch: a new segment.
    broker
        .produce(
            "by-time",
            0,
            &[rec("k", "v", T0 + 1001)],
            Durability::Written,
        )
        .await?;
    assert_eq!(segment_bases(dir.path(), "by-time", 0)?, vec![0, 2]);

    let batch = encode_batch(&[rec("k", "0123456789", T0)], T0, Compression::None)?;
    let limit = (batch.len() * 2).to_string();
    broker
        .create_topic(
            "by-size",
            topic_config(1, &[("segment.bytes", limit.as_str())])?,
        )
        .await?;
    for _ in 0..5 {
        broker
            .produce_batch("by-size", 0, batch.clone(), Durability::Written)
            .await?;
    }
    // Two batches fit in a segment; the third starts a new one.
    assert_eq!(segment_bases(dir.path(), "by-size", 0)?, vec![0, 2, 4]);
    assert_eq!(read_all(&broker, "by-size", 0).await?.len(), 5);
    broker.shutdown().await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Persistence, locking, recovery
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_config_persists_across_restarts() -> Result<()> {
    let (dir, broker) = setup().await?;
    let config = topic_config(
        3,
        &[
            ("cleanup.policy", "compact,delete"),
            ("segment.bytes", "4096"),
            ("retention.ms", "-1"),
            ("delete.retention.ms", "123"),
        ],
    )?;
    let created = broker.create_topic("t", config.clone()).await?;
    assert_eq!(created.config, config);
    assert_eq!(created.partitions.len(), 3);
    let id = created.id;

    broker.shutdown().await?;
    drop(broker);
    let broker = open(dir.path()).await?;
    let described = broker.describe_topic("t")?;
    assert_eq!((described.id, &described.config), (id, &config));

    let altered = broker
        .alter_topic_config(
            "t",
            [
                ("retention.ms", "60000"),
                ("min.compaction.lag.ms", "7"),
                ("cleanup.policy", "delete"),
            ],
        )
        .await?;
    assert_eq!(altered.retention_ms, 60_000);
    assert_eq!(altered.min_compaction_lag_ms, 7);
    assert!(!altered.cleanup_policy.compact);
    assert_eq!(altered.partitions, 3);
    assert_eq!(
        altered.segment_bytes, 4096,
        "keys not altered keep their values"
    );

    // Unclean restart: the alteration was durable.
    drop(broker);
    let broker = open(dir.path()).await?;
    let described = broker.describe_topic("t")?;
    assert_eq!((described.id, &described.config), (id, &altered));
    // And it is in force after the restart: retention.ms applies now.
    broker
        .produce("t", 0, &[rec("k", "v", T0)], Durability::Durable)
        .await?;
    broker.roll("t", 0).await?;
    broker.run_maintenance(T0 + 60_001).await?;
    assert_eq!(partition_state(&broker, "t", 0)?.0, 1);

    // Clean restart again.
    broker.shutdown().await?;
    drop(broker);
    let broker = open(dir.path()).await?;
    assert_eq!(broker.describe_topic("t")?.config, altered);
    broker.shutdown().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_brokers_cannot_open_the_same_data_dir() -> Result<()> {
    let (dir, first) = setup().await?;
    first.create_topic("t", topic_config(1, &[])?).await?;
    match Broker::open(broker_config(dir.path())).await {
        Err(e) => assert!(e.to_string().contains("another broker"), "{e}"),
        Ok(_) => panic!("a second broker opened a data directory in use"),
    }
    // The first broker is unaffected.
    first
        .produce("t", 0, &[rec("k", "v", T0)], Durability::Durable)
        .await?;
    // Once it is gone, the directory can be opened.
    first.shutdown().await?;
    drop(first);
    let second = open(dir.path()).await?;
    assert_eq!(read_all(&second, "t", 0).await?.len(), 1);
    second.shutdown().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unclean_restart_cuts_a_torn_tail_and_keeps_the_rest() -> Result<()> {
    let (dir, broker) = setup().await?;
    broker
        .create_topic("t", topic_config(1, &[("index.interval.bytes", "0")])?)
        .await?;
    for i in 0..3 {
        broker
            .produce(
                "t",
                0,
                &[rec("k", &format!("v{i}"), T0 + i)],
                Durability::Written,
            )
            .await?;
    }
    drop(broker); // a crash: no shutdown
    let log = partition_dir(dir.path(), "t", 0).join(format!("{:020}.log", 0));
    let intact = std::fs::metadata(&log)?.len();
    {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new().append(true).open(&log)?;
        file.write_all(&[0xab; 37])?; // half a batch, as a crash mid-write leaves
    }
    let (broker, report) = open_with_report(dir.path()).await?;
    assert!(!report.clean_shutdown);
    let repaired = report
        .repaired
        .get(&("t".to_string(), 0))
        .context("no repair reported")?;
    assert_eq!(repaired.truncated_bytes, 37);
    assert_eq!(std::fs::metadata(&log)?.len(), intact);
    assert_eq!(
        summary(&read_all(&broker, "t", 0).await?),
        vec![
            kv(0, "k", Some("v0")),
            kv(1, "k", Some("v1")),
            kv(2, "k", Some("v2"))
        ]
    );
    let info = broker
        .produce("t", 0, &[rec("k", "v3", T0)], Durability::Durable)
        .await?;
    assert_eq!(info.base_offset, 3);

    // A clean restart needs no repair.
    broker.shutdown().await?;
    drop(broker);
    let (broker, report) = open_with_report(dir.path()).await?;
    assert!(
        report.clean_shutdown && report.repaired.is_empty(),
        "{report:?}"
    );
    assert_eq!(read_all(&broker, "t", 0).await?.len(), 4);
    broker.shutdown().await?;
    Ok(())
}

/// A roll does not fsync (it runs under the partition's write lock): the closed segment is
/// fsynced by the next flush, which then moves the partition's recovery point past it. Until
/// then crash recovery checks it batch by batch, like the active segment: a segment rolled
/// after the last flush with a bad batch in its middle is cut there at the next unclean open,
/// and what was flushed before stays.
#[tokio::test]
async fn segments_rolled_since_the_last_flush_are_checked_by_recovery() -> Result<()> {
    let (dir, broker) = setup().await?;
    broker
        .create_topic("t", topic_config(1, &[("segment.bytes", "1024")])?)
        .await?;
    let value = "x".repeat(200);
    for i in 0..20 {
        broker
            .produce("t", 0, &[rec("k", &value, T0 + i)], Durability::Durable)
            .await?;
    }
    let partition = partition_dir(dir.path(), "t", 0);
    let point_file = partition.join("recovery-point");
    let point: i64 = std::fs::read_to_string(&point_file)?.trim().parse()?;
    let bases = || -> Result<Vec<i64>> {
        let mut bases: Vec<i64> = std::fs::read_dir(&partition)?
            .filter_map(|e| {
                let name = e.ok()?.file_name().into_string().ok()?;
                name.strip_suffix(".log")?.parse().ok()
            })
            .collect();
        bases.sort_unstable();
        Ok(bases)
    };
    assert!(bases()?.len() > 3, "the segments rolled: {:?}", bases()?);
    assert_eq!(
        Some(&point),
        bases()?.last(),
        "a durable append flushed every rolled segment and moved the recovery point"
    );
    for i in 20..60 {
        broker
            .produce("t", 0, &[rec("k", &value, T0 + i)], Durability::Written)
            .await?;
    }
    assert_eq!(
        std::fs::read_to_string(&point_file)?.trim(),
        point.to_string(),
        "rolls alone do not move the recovery point"
    );
    drop(broker); // a crash: no shutdown
    // A segment rolled after the last flush, and not the last one: damage a record value in
    // its middle (its batch's CRC no longer matches, its lengths still do).
    let rolled_since = bases()?
        .into_iter()
        .filter(|&b| b > point)
        .collect::<Vec<_>>();
    assert!(
        rolled_since.len() >= 2,
        "rolled past the point: {rolled_since:?}"
    );
    let damaged = partition.join(format!("{:020}.log", rolled_since[0]));
    let mut bytes = std::fs::read(&damaged)?;
    let middle = bytes.len() / 2;
    let at = middle
        + bytes[middle..]
            .windows(50)
            .position(|w| w.iter().all(|&b| b == b'x'))
            .context("a record value")?;
    bytes[at] = b'y';
    std::fs::write(&damaged, &bytes)?;

    let (broker, report) = open_with_report(dir.path()).await?;
    let repaired = report
        .repaired
        .get(&("t".to_string(), 0))
        .context("no repair reported")?;
    assert!(repaired.truncated_bytes > 0, "{repaired:?}");
    assert!(repaired.dropped_segments > 0, "{repaired:?}");
    let records = read_all(&broker, "t", 0).await?;
    assert!(
        records.len() >= 20 && records.len() < 60,
        "kept {} records",
        records.len()
    );
    for (i, record) in records.iter().enumerate() {
        assert_eq!(record.offset, i as i64, "no gaps");
    }
    broker.shutdown().await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_to_different_partitions_run_concurrently() -> Result<()> {
    let (_dir, broker) = setup().await?;
    const PARTITIONS: i32 = 5;
    const APPENDS: i64 = 60;
    broker
        .create_topic("t", topic_config(PARTITIONS, &[("segment.bytes", "2048")])?)
        .await?;

    // A long-poll parked on partition 4 (which gets nothing until the end) holds nothing the
    // other partitions need.
    let parked = {
        let broker = broker.clone();
        tokio::spawn(async move {
            broker
                .fetch("t", 4, 0, 1 << 20, Duration::from_secs(60))
                .await
        })
    };

    // One producer task per partition for partitions 1.., plus two tasks sharing partition 0;
    // all durable, all at once.
    let mut tasks = Vec::new();
    for (task, partition) in [(0, 0), (1, 0), (2, 1), (3, 2), (4, 3)] {
        let broker = broker.clone();
        tasks.push(tokio::spawn(async move {
            let mut offsets = Vec::new();
            for i in 0..APPENDS {
                let value = format!("task-{task}-{i}");
                let durability = if i % 2 == 0 {
                    Durability::Durable
                } else {
                    Durability::Written
                };
                let info = broker
                    .produce(
                        "t",
                        partition,
                        &[rec(&format!("task-{task}"), &value, T0 + i)],
                        durability,
                    )
                    .await?;
                offsets.push(info.base_offset);
            }
            anyhow::Ok((task, partition, offsets))
        }));
    }
    let mut by_partition: Vec<Vec<(i64, i64)>> = vec![Vec::new(); 4];
    for task in tasks {
        let (task, partition, offsets) = tokio::time::timeout(Duration::from_secs(60), task)
            .await
            .context("producers did not finish")???;
        ensure!(
            offsets.windows(2).all(|w| w[0] < w[1]),
            "task {task}'s appends did not get increasing offsets: {offsets:?}"
        );
        by_partition[partition as usize].extend(offsets.into_iter().map(|o| (o, task)));
    }
    assert!(
        !parked.is_finished(),
        "the long-poll of partition 4 returned without data"
    );
    broker
        .produce("t", 4, &[rec("k", "last", T0)], Durability::Durable)
        .await?;
    let fetched = tokio::time::timeout(Duration::from_secs(20), parked)
        .await
        .context("the parked long-poll did not wake")???;
    assert_eq!(
        summary(&decode_records(&fetched.records)?),
        vec![kv(0, "k", Some("last"))]
    );

    for partition in 0..4 {
        let records = read_all(&broker, "t", partition).await?;
        let expected_len = if partition == 0 { 2 * APPENDS } else { APPENDS } as usize;
        assert_eq!(records.len(), expected_len, "partition {partition}");
        let offsets: BTreeSet<i64> = records.iter().map(|r| r.offset).collect();
        assert_eq!(
            offsets,
            (0..expected_len as i64).collect(),
            "partition {partition} is not dense"
        );
        // Each record is where its append said it would be, and each task's records are in
        // the order it sent them.
        let mut seen = std::collections::HashMap::<String, i64>::new();
        for r in &records {
            let value = String::from_utf8(r.value.clone().context("value")?.to_vec())?;
            let (task, i) = value
                .strip_prefix("task-")
                .and_then(|v| v.split_once('-'))
                .context("value format")?;
            let i: i64 = i.parse()?;
            let last = seen.insert(task.to_string(), i);
            assert_eq!(
                last.map_or(0, |l| l + 1),
                i,
                "partition {partition}: {value} out of order"
            );
            let task: i64 = task.parse()?;
            assert!(
                by_partition[partition as usize].contains(&(r.offset, task)),
                "partition {partition}: offset {} holds {value}, not what its append returned",
                r.offset
            );
        }
    }
    broker.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn a_partition_whose_maintenance_fails_leaves_the_others_maintained() -> Result<()> {
    let (dir, broker) = setup().await?;
    for topic in ["bad", "good"] {
        broker
            .create_topic(topic, topic_config(1, &[("cleanup.policy", "compact")])?)
            .await?;
        broker
            .produce(
                topic,
                0,
                &[rec("a", "a1", T0), rec("a", "a2", T0), rec("b", "b1", T0)],
                Durability::Written,
            )
            .await?;
        broker.roll(topic, 0).await?;
        broker
            .produce(topic, 0, &[rec("c", "c1", T0)], Durability::Written)
            .await?;
    }
    // The closed segment of "bad" gets a flipped byte inside its batch: its CRC fails.
    let segment = dir
        .path()
        .join("topics/bad/0")
        .join(format!("{:020}.log", 0));
    let mut bytes = std::fs::read(&segment).with_context(|| segment.display().to_string())?;
    let last = bytes.len() - 3;
    bytes[last] ^= 0xff;
    std::fs::write(&segment, &bytes)?;

    let stats = broker.run_maintenance(T0 + 500).await?;
    assert_eq!(stats.partitions_failed, 1, "{stats:?}");
    assert_eq!(broker.maintenance_failures(), 1);
    // "good" was compacted all the same (a1 superseded), and both still take writes.
    assert_eq!(
        (stats.segments_cleaned, stats.records_removed),
        (1, 1),
        "{stats:?}"
    );
    for topic in ["bad", "good"] {
        broker
            .produce(topic, 0, &[rec("d", "d1", T0)], Durability::Durable)
            .await?;
    }
    let good = summary(&read_all(&broker, "good", 0).await?);
    assert_eq!(
        good,
        [
            kv(1, "a", Some("a2")),
            kv(2, "b", Some("b1")),
            kv(3, "c", Some("c1")),
            kv(4, "d", Some("d1"))
        ]
    );
    broker.shutdown().await?;
    Ok(())
}
