//! Growing a topic's partition count with [`Broker::create_partitions`]: new partitions start
//! empty and take appends, old ones keep their data, the count survives clean and unclean
//! restarts, and counts that do not grow (or the internal offsets topic) are refused.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use eddy_broker::{
    Broker, BrokerConfig, Durability, Error, FlushPolicy, NewRecord, OFFSETS_TOPIC, OffsetSpec,
    TopicConfig,
};

fn broker_config(dir: &Path) -> BrokerConfig {
    BrokerConfig {
        data_dir: dir.to_path_buf(),
        flush_policy: FlushPolicy::GroupCommit {
            interval: Duration::from_secs(3600),
        },
        maintenance_interval: Duration::from_secs(3600),
        ..BrokerConfig::new("")
    }
}

async fn open(dir: &Path) -> Result<Broker> {
    // After an unclean drop a background task may hold the old broker (and its directory
    // lock) for a moment longer.
    let mut attempts = 0;
    loop {
        match Broker::open(broker_config(dir)).await {
            Ok(broker) => return Ok(broker),
            Err(e) if attempts < 100 && e.to_string().contains("another broker") => {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => return Err(e).context("opening the broker"),
        }
    }
}

async fn end_offset(broker: &Broker, topic: &str, partition: i32) -> Result<i64> {
    Ok(broker
        .list_offset(topic, partition, OffsetSpec::Latest)
        .await?
        .context("latest")?
        .0)
}

async fn produce(broker: &Broker, topic: &str, partition: i32, n: usize) -> Result<()> {
    let records: Vec<NewRecord> = (0..n)
        .map(|i| NewRecord::new(format!("k{i}"), format!("v{i}")))
        .collect();
    broker
        .produce(topic, partition, &records, Durability::Durable)
        .await?;
    Ok(())
}

#[tokio::test]
async fn new_partitions_start_empty_and_take_appends() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let broker = open(dir.path()).await?;
    let config = TopicConfig {
        partitions: 2,
        ..TopicConfig::default()
    };
    let created = broker.create_topic("grow", config).await?;
    produce(&broker, "grow", 0, 3).await?;
    produce(&broker, "grow", 1, 2).await?;

    let grown = broker.create_partitions("grow", 5).await?;
    ensure!(grown.id == created.id, "the topic id changed");
    ensure!(
        grown.config.partitions == 5,
        "config says {}",
        grown.config.partitions
    );
    let indexes: Vec<i32> = grown.partitions.iter().map(|p| p.partition).collect();
    ensure!(indexes == [0, 1, 2, 3, 4], "partitions {indexes:?}");
    ensure!(end_offset(&broker, "grow", 0).await? == 3);
    ensure!(end_offset(&broker, "grow", 1).await? == 2);
    for p in 2..5 {
        ensure!(
            end_offset(&broker, "grow", p).await? == 0,
            "partition {p} is not empty"
        );
    }
    produce(&broker, "grow", 4, 4).await?;
    ensure!(end_offset(&broker, "grow", 4).await? == 4);
    ensure!(
        matches!(
            broker
                .produce("grow", 5, &[NewRecord::new("k", "v")], Durability::Durable)
                .await,
            Err(Error::UnknownTopicOrPartition { partition: 5, .. })
        ),
        "partition 5 should not exist"
    );
    // Config changes reach the new partitions too, and keep the new count.
    let altered = broker
        .alter_topic_config("grow", [("retention.ms", "60000")])
        .await?;
    ensure!(altered.partitions == 5 && altered.retention_ms == 60_000);
    broker.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn the_new_count_survives_restarts() -> Result<()> {
    let dir = tempfile::tempdir()?;
    {
        let broker = open(dir.path()).await?;
        broker
            .create_topic("persist", TopicConfig::default())
            .await?;
        produce(&broker, "persist", 0, 2).await?;
        broker.create_partitions("persist", 3).await?;
        produce(&broker, "persist", 2, 5).await?;
        broker.shutdown().await?;
    }
    {
        let broker = open(dir.path()).await?;
        let described = broker.describe_topic("persist")?;
        ensure!(described.config.partitions == 3 && described.partitions.len() == 3);
        ensure!(end_offset(&broker, "persist", 0).await? == 2);
        ensure!(end_offset(&broker, "persist", 1).await? == 0);
        ensure!(end_offset(&broker, "persist", 2).await? == 5);
        // Grow again, then drop the broker without a clean shutdown: recovery keeps it all.
        broker.create_partitions("persist", 4).await?;
        produce(&broker, "persist", 3, 1).await?;
        drop(broker);
    }
    let broker = open(dir.path()).await?;
    let described = broker.describe_topic("persist")?;
    ensure!(
        described.config.partitions == 4 && described.partitions.len() == 4,
        "after an unclean restart: {described:?}"
    );
    ensure!(end_offset(&broker, "persist", 3).await? == 1);
    ensure!(end_offset(&broker, "persist", 2).await? == 5);
    broker.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn counts_that_do_not_grow_are_refused() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let broker = open(dir.path()).await?;
    let config = TopicConfig {
        partitions: 3,
        ..TopicConfig::default()
    };
    broker.create_topic("fixed", config).await?;
    for count in [3, 2, 0, -1] {
        let err = broker.create_partitions("fixed", count).await.unwrap_err();
        ensure!(
            matches!(err, Error::InvalidPartitions { .. }),
            "count {count}: {err}"
        );
        ensure!(err.to_string().contains("3 partitions"), "{err}");
    }
    ensure!(broker.describe_topic("fixed")?.partitions.len() == 3);
    let err = broker
        .create_partitions(OFFSETS_TOPIC, 2)
        .await
        .unwrap_err();
    ensure!(matches!(err, Error::InvalidPartitions { .. }), "{err}");
    let err = broker.create_partitions("missing", 2).await.unwrap_err();
    ensure!(
        matches!(err, Error::UnknownTopicOrPartition { .. }),
        "{err}"
    );
    broker.shutdown().await?;
    Ok(())
}
