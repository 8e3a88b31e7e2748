//! Exactly-once on the embedded backend: a stream thread's transaction on the in-process
//! broker, through the broker's own transaction coordinator (the same one Kafka clients use
//! over the wire). Sinks and changelogs append transactional batches with the thread's
//! producer id and epoch and per-partition sequence numbers; the commit adds the input
//! offsets to the transaction and ends it, which writes the markers (fsynced) and commits
//! the offsets with them.

use std::collections::{BTreeSet, HashMap};

use eddy_broker::batch::{ProducerFields, encode_producer_batch};
use eddy_broker::{AppendInfo, Broker, Compression, Durability, NewRecord, Outcome, PendingOffset};
use tokio::runtime::Handle;

use crate::error::{Error, Result};

/// `transaction.timeout.ms` for the embedded backend's transactions (Kafka Streams'
/// exactly-once default): a killed thread's open transaction is aborted within it at the
/// latest (a restart of the same thread aborts it at once).
const TRANSACTION_TIMEOUT_MS: i32 = 10_000;

/// A broker error of a transactional call: fencing and a transaction the coordinator no
/// longer has open (it timed out) mean the thread's tasks are lost, not that it must stop.
fn txn_error(what: &str, e: eddy_broker::Error) -> Error {
    use eddy_broker::Error as Broker;
    match e {
        Broker::ProducerFenced { .. }
        | Broker::InvalidProducerEpoch { .. }
        | Broker::InvalidProducerIdMapping { .. }
        | Broker::InvalidTxnState { .. } => Error::TaskMigrated(format!("{what}: {e}")),
        e => Error::Backend {
            backend: "embedded",
            message: format!("{what}: {e}"),
        },
    }
}

/// One stream thread's producer identity and its open transaction.
pub(crate) struct EmbeddedTransaction {
    broker: Broker,
    handle: Handle,
    transactional_id: String,
    producer_id: i64,
    epoch: i16,
    /// Partitions added to the open transaction.
    added: BTreeSet<(String, i32)>,
    /// The next sequence number per partition (reset with each new epoch).
    sequences: HashMap<(String, i32), i32>,
}

impl EmbeddedTransaction {
    /// Initialises the transactional id (fencing an earlier producer with it and aborting
    /// what it left open).
    pub fn init(broker: Broker, handle: Handle, transactional_id: &str) -> Result<Self> {
        let (producer_id, epoch) = handle
            .block_on(broker.init_transactional_producer(
                transactional_id,
                TRANSACTION_TIMEOUT_MS,
                None,
            ))
            .map_err(|e| txn_error(&format!("initialising {transactional_id}"), e))?;
        Ok(Self {
            broker,
            handle,
            transactional_id: transactional_id.to_string(),
            producer_id,
            epoch,
            added: BTreeSet::new(),
            sequences: HashMap::new(),
        })
    }

    /// Appends records to a partition in the open transaction (in the page cache: the
    /// commit's markers are fsynced, and with them everything before them).
    pub fn append(
        &mut self,
        topic: &str,
        partition: i32,
        records: &[NewRecord],
    ) -> Result<AppendInfo> {
        let key = (topic.to_string(), partition);
        if !self.added.contains(&key) {
            self.handle
                .block_on(self.broker.add_partitions_to_txn(
                    &self.transactional_id,
                    self.producer_id,
                    self.epoch,
                    vec![key.clone()],
                ))
                .map_err(|e| {
                    txn_error(&format!("adding {topic}-{partition} to the transaction"), e)
                })?;
            self.added.insert(key.clone());
        }
        let sequence = self.sequences.entry(key).or_insert(0);
        let batch = encode_producer_batch(
            records,
            eddy_broker::now_ms(),
            Compression::None,
            Some(ProducerFields {
                producer_id: self.producer_id,
                producer_epoch: self.epoch,
                base_sequence: *sequence,
                transactional: true,
            }),
        )?;
        let info = self
            .handle
            .block_on(
                self.broker
                    .produce_batch(topic, partition, batch, Durability::Written),
            )
            .map_err(|e| txn_error(&format!("writing to {topic}-{partition}"), e))?;
        *sequence = sequence.wrapping_add(records.len() as i32);
        Ok(info)
    }

    /// Commits the open transaction with the input `offsets` of consumer group `group`.
    /// A failure aborts what can be aborted and is returned.
    pub fn commit(&mut self, group: &str, offsets: &[(String, i32, i64)]) -> Result<()> {
        if self.added.is_empty() && offsets.is_empty() {
            return Ok(());
        }
        let result = self.handle.block_on(async {
            let (id, pid, epoch) = (&self.transactional_id, self.producer_id, self.epoch);
            if !offsets.is_empty() {
                self.broker
                    .add_offsets_to_txn(id, pid, epoch, group)
                    .await?;
                let pending = offsets
                    .iter()
                    .map(|(topic, partition, offset)| PendingOffset {
                        group: group.to_string(),
                        topic: topic.clone(),
                        partition: *partition,
                        offset: *offset,
                        leader_epoch: -1,
                        metadata: String::new(),
                    })
                    .collect();
                self.broker
                    .txn_offset_commit(id, pid, epoch, pending)
                    .await?;
            }
            self.broker.end_txn(id, pid, epoch, Outcome::Commit).await
        });
        self.added.clear();
        if let Err(e) = result {
            let aborted = self.handle.block_on(self.broker.end_txn(
                &self.transactional_id,
                self.producer_id,
                self.epoch,
                Outcome::Abort,
            ));
            if let Err(abort) = aborted {
                tracing::warn!(error = %abort, "aborting the failed transaction failed too");
            }
            return Err(txn_error("committing the transaction", e));
        }
        Ok(())
    }
}
