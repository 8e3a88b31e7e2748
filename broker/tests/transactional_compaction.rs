//! Compaction of a topic written in transactions: records of aborted transactions are
//! removed and never supersede committed ones; markers stay while their transaction has
//! records in the log or is younger than `delete.retention.ms`, and go after (an
//! exactly-once changelog would otherwise keep a marker per commit forever); segments
//! holding an open transaction's records are left alone until it ends; and the state is
//! rebuilt the same after a restart.

use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use eddy_broker::batch::{ProducerFields, encode_producer_batch};
use eddy_broker::{
    Broker, BrokerConfig, CleanupPolicy, Compression, Durability, Isolation, NewRecord, Outcome,
    TopicConfig, batch::without_aborted, decode_records,
};

const TOPIC: &str = "compacted";

fn config() -> TopicConfig {
    TopicConfig {
        cleanup_policy: CleanupPolicy::COMPACT,
        min_compaction_lag_ms: 0,
        ..TopicConfig::default()
    }
}

/// A transactional producer writing through the broker's library API.
struct Txn {
    id: &'static str,
    producer_id: i64,
    epoch: i16,
    sequence: i32,
}

impl Txn {
    async fn init(broker: &Broker, id: &'static str) -> Result<Self> {
        let (producer_id, epoch) = broker.init_transactional_producer(id, 60_000, None).await?;
        Ok(Self {
            id,
            producer_id,
            epoch,
            sequence: 0,
        })
    }

    async fn write(&mut self, broker: &Broker, records: &[(&str, &str)]) -> Result<()> {
        broker
            .add_partitions_to_txn(
                self.id,
                self.producer_id,
                self.epoch,
                vec![(TOPIC.into(), 0)],
            )
            .await?;
        let records: Vec<NewRecord> = records
            .iter()
            .map(|(k, v)| NewRecord::new(k.to_string(), v.to_string()))
            .collect();
        let producer = ProducerFields {
            producer_id: self.producer_id,
            producer_epoch: self.epoch,
            base_sequence: self.sequence,
            transactional: true,
        };
        let batch = encode_producer_batch(&records, 1_000, Compression::None, Some(producer))?;
        broker
            .produce_batch(TOPIC, 0, batch, Durability::Written)
            .await?;
        self.sequence += records.len() as i32;
        Ok(())
    }

    async fn end(&self, broker: &Broker, outcome: Outcome) -> Result<()> {
        broker
            .end_txn(self.id, self.producer_id, self.epoch, outcome)
            .await?;
        Ok(())
    }
}

/// (key, value) of every record a reader sees, as `isolation` says, with the count of
/// control batches (markers) read past.
async fn read(broker: &Broker, isolation: Isolation) -> Result<(Vec<(String, String)>, usize)> {
    let mut out = Vec::new();
    let mut markers = 0;
    let mut offset = broker
        .list_offset(TOPIC, 0, eddy_broker::OffsetSpec::Earliest)
        .await?
        .map_or(0, |(o, _)| o);
    loop {
        let fetched = broker
            .fetch_isolated(TOPIC, 0, offset, 1 << 20, Duration::ZERO, isolation)
            .await?;
        let Some(next) = eddy_broker::batch::next_offset_after(&fetched.records) else {
            break;
        };
        let mut at = 0;
        while let Ok(header) = eddy_broker::batch::BatchHeader::parse(&fetched.records[at..]) {
            markers += usize::from(header.is_control());
            at += header.total_len();
            if at >= fetched.records.len() {
                break;
            }
        }
        let kept = without_aborted(&fetched.records, &fetched.aborted);
        for r in decode_records(&kept)? {
            if r.offset >= offset {
                let text =
                    |b: Option<bytes::Bytes>| String::from_utf8(b.unwrap().to_vec()).unwrap();
                out.push((text(r.key), text(r.value)));
            }
        }
        offset = next;
    }
    Ok((out, markers))
}

async fn open(dir: &Path) -> Result<Broker> {
    Ok(Broker::open(BrokerConfig::new(dir)).await?)
}

#[tokio::test]
async fn compaction_drops_aborted_records_keeps_markers_and_waits_for_open_transactions()
-> Result<()> {
    let dir = tempfile::tempdir()?;
    let broker = open(dir.path()).await?;
    broker.create_topic(TOPIC, config()).await?;
    let mut txn = Txn::init(&broker, "writer").await?;
    // k=v1 committed; then k=v2 and j=x aborted: v2 must not supersede v1.
    txn.write(&broker, &[("k", "v1")]).await?;
    txn.end(&broker, Outcome::Commit).await?;
    txn.write(&broker, &[("k", "v2"), ("j", "x")]).await?;
    txn.end(&broker, Outcome::Abort).await?;
    // m=1 committed twice over: only the later one survives compaction.
    txn.write(&broker, &[("m", "1")]).await?;
    txn.end(&broker, Outcome::Commit).await?;
    txn.write(&broker, &[("m", "2")]).await?;
    txn.end(&broker, Outcome::Commit).await?;
    broker.roll(TOPIC, 0).await?;
    // An open transaction in the next segment: it and everything after wait.
    txn.write(&broker, &[("k", "v3")]).await?;
    broker.roll(TOPIC, 0).await?;

    let stats = broker.run_maintenance(eddy_broker::now_ms()).await?;
    assert_eq!(stats.segments_cleaned, 1, "{stats:?}");
    // Removed: the aborted k=v2 and j=x, and the superseded m=1.
    assert_eq!(stats.records_removed, 3, "{stats:?}");
    let (committed, markers) = read(&broker, Isolation::ReadCommitted).await?;
    assert_eq!(
        committed,
        vec![("k".into(), "v1".into()), ("m".into(), "2".into())]
    );
    assert_eq!(markers, 4, "every marker stays");
    let (everything, _) = read(&broker, Isolation::ReadUncommitted).await?;
    assert_eq!(
        everything.last(),
        Some(&("k".into(), "v3".into())),
        "the open one is untouched"
    );

    // Once the open transaction commits, k=v3 supersedes k=v1 at the next pass.
    txn.end(&broker, Outcome::Commit).await?;
    broker.roll(TOPIC, 0).await?;
    broker.run_maintenance(eddy_broker::now_ms()).await?;
    let (committed, _) = read(&broker, Isolation::ReadCommitted).await?;
    assert_eq!(
        committed,
        vec![("m".into(), "2".into()), ("k".into(), "v3".into())]
    );

    // A restart rebuilds the same view.
    broker.shutdown().await?;
    drop(broker);
    let broker = open(dir.path()).await?;
    let (after, _) = read(&broker, Isolation::ReadCommitted).await?;
    assert_eq!(after, committed);
    broker.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn markers_go_once_their_transaction_has_no_records_left() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let broker = open(dir.path()).await?;
    let config = TopicConfig {
        delete_retention_ms: 0,
        ..config()
    };
    broker.create_topic(TOPIC, config).await?;
    let mut txn = Txn::init(&broker, "writer").await?;
    // k=v1 committed (stays); k=v2, j=x aborted (removed); m=1 committed, then superseded
    // by m=2 (committed, stays).
    txn.write(&broker, &[("k", "v1")]).await?;
    txn.end(&broker, Outcome::Commit).await?;
    txn.write(&broker, &[("k", "v2"), ("j", "x")]).await?;
    txn.end(&broker, Outcome::Abort).await?;
    txn.write(&broker, &[("m", "1")]).await?;
    txn.end(&broker, Outcome::Commit).await?;
    txn.write(&broker, &[("m", "2")]).await?;
    txn.end(&broker, Outcome::Commit).await?;
    broker.roll(TOPIC, 0).await?;
    let (_, markers) = read(&broker, Isolation::ReadCommitted).await?;
    assert_eq!(markers, 4);

    // Past delete.retention.ms (0 here): the markers of the aborted transaction and of the
    // one whose only record was superseded go; the two with records left stay.
    let later = eddy_broker::now_ms() + 1_000;
    let stats = broker.run_maintenance(later).await?;
    assert_eq!(
        (stats.records_removed, stats.markers_removed),
        (3, 2),
        "{stats:?}"
    );
    let (committed, markers) = read(&broker, Isolation::ReadCommitted).await?;
    let expected = vec![("k".into(), "v1".into()), ("m".into(), "2".into())];
    assert_eq!(committed, expected);
    assert_eq!(markers, 2);

    // k=v3 supersedes k=v1: its transaction's marker goes at the next pass too.
    txn.write(&broker, &[("k", "v3")]).await?;
    txn.end(&broker, Outcome::Commit).await?;
    broker.roll(TOPIC, 0).await?;
    let stats = broker.run_maintenance(later + 1_000).await?;
    assert_eq!(
        (stats.records_removed, stats.markers_removed),
        (1, 1),
        "{stats:?}"
    );
    let (committed, _) = read(&broker, Isolation::ReadCommitted).await?;
    let expected: Vec<(String, String)> = vec![("m".into(), "2".into()), ("k".into(), "v3".into())];
    assert_eq!(committed, expected);

    // A restart finds no transaction left open by a missing marker: read_committed reads to
    // the end, and the producer goes on.
    broker.shutdown().await?;
    drop(broker);
    let broker = open(dir.path()).await?;
    let end = broker
        .list_offset(TOPIC, 0, eddy_broker::OffsetSpec::Latest)
        .await?
        .map(|(o, _)| o);
    let stable = broker
        .list_offset(TOPIC, 0, eddy_broker::OffsetSpec::LastStable)
        .await?
        .map(|(o, _)| o);
    assert_eq!(stable, end, "the last stable offset is the log end");
    let (after, _) = read(&broker, Isolation::ReadCommitted).await?;
    assert_eq!(after, expected);
    broker.shutdown().await?;
    Ok(())
}
