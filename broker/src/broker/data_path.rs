//! The broker's data path for in-process callers: appends, reads (with an isolation
//! level), offset lookups, flushes, DeleteRecords and rolls, one partition at a time.

use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::records::Compression;

use super::{Broker, OffsetSpec, now_ms};
use crate::batch::{NewRecord, encode_batch};
use crate::error::Result;
use crate::log::AppendInfo;
use crate::partition::{Durability, FetchResult, Isolation};

impl Broker {
    /// Appends records to a partition as one batch; returns the offsets they were given.
    pub async fn produce(
        &self,
        topic: &str,
        partition: i32,
        records: &[NewRecord],
        durability: Durability,
    ) -> Result<AppendInfo> {
        let batch = encode_batch(records, now_ms(), Compression::None)?;
        self.produce_batch(topic, partition, batch, durability)
            .await
    }

    /// Appends pre-encoded RecordBatch v2 bytes (one or more batches, as a Kafka producer
    /// sends them). Every batch is checked first; nothing is written if one is bad.
    pub async fn produce_batch(
        &self,
        topic: &str,
        partition: i32,
        batches: Bytes,
        durability: Durability,
    ) -> Result<AppendInfo> {
        self.partition(topic, partition)?
            .append(batches, durability)
            .await
    }

    /// Reads whole batches from `offset`, up to `max_bytes` (but at least one batch). At the
    /// log end it waits up to `max_wait` for data and returns as soon as some arrives.
    pub async fn fetch(
        &self,
        topic: &str,
        partition: i32,
        offset: i64,
        max_bytes: usize,
        max_wait: Duration,
    ) -> Result<FetchResult> {
        self.fetch_isolated(
            topic,
            partition,
            offset,
            max_bytes,
            max_wait,
            Isolation::ReadUncommitted,
        )
        .await
    }

    /// Like [`Broker::fetch`], reading as `isolation` says: `read_committed` stops at the
    /// last stable offset and lists the aborted transactions among the batches returned
    /// ([`FetchResult::aborted`]; [`crate::batch::without_aborted`] drops them).
    pub async fn fetch_isolated(
        &self,
        topic: &str,
        partition: i32,
        offset: i64,
        max_bytes: usize,
        max_wait: Duration,
        isolation: Isolation,
    ) -> Result<FetchResult> {
        self.partition(topic, partition)?
            .fetch(offset, max_bytes, max_wait, isolation)
            .await
    }

    /// Looks up an offset: earliest, latest, or the first at or after a timestamp (with that
    /// record's timestamp; `None` if no record is that new).
    pub async fn list_offset(
        &self,
        topic: &str,
        partition: i32,
        spec: OffsetSpec,
    ) -> Result<Option<(i64, i64)>> {
        let partition = self.partition(topic, partition)?;
        match spec {
            OffsetSpec::Earliest => Ok(Some((partition.log_start_offset(), -1))),
            OffsetSpec::Latest => Ok(Some((partition.log_end_offset(), -1))),
            OffsetSpec::LastStable => Ok(Some((partition.last_stable_offset(), -1))),
            OffsetSpec::Timestamp(ts) => partition.offset_for_timestamp(ts).await,
        }
    }

    /// Fsyncs a partition if anything was appended since its last fsync: makes
    /// [`Durability::Written`](crate::Durability::Written) appends durable (the streams runtime's commit does this).
    pub async fn flush(&self, topic: &str, partition: i32) -> Result<()> {
        self.partition(topic, partition)?.flush_if_dirty().await
    }

    /// Moves a partition's log start offset forward to `offset` (Kafka's DeleteRecords).
    pub async fn delete_records(&self, topic: &str, partition: i32, offset: i64) -> Result<i64> {
        self.partition(topic, partition)?
            .delete_records_before(offset)
            .await
    }

    /// Rolls a partition's active segment (mostly for tests and tools).
    pub async fn roll(&self, topic: &str, partition: i32) -> Result<()> {
        self.partition(topic, partition)?.roll().await
    }
}
