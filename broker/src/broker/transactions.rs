//! The broker as transaction coordinator: InitProducerId for transactional ids, partitions
//! and groups added to transactions, transactional offset commits, commit and abort (markers
//! written into every partition of the transaction), timeouts, and the state kept durably in
//! `__transaction_state` (see [`crate::txn`]).
//!
//! Each transactional id's record is behind its own async mutex, held for a whole operation
//! (an EndTxn's markers included), so operations on one id are serialised and different ids
//! go on in parallel. Every change is written to `__transaction_state` and fsynced before the
//! request is answered; markers are fsynced before a transaction is recorded complete. After
//! a crash, [`Broker::load_transactions`] finishes every transaction left preparing; open
//! ones are aborted when they time out, as in Kafka.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use parking_lot::Mutex;

use super::{Broker, now_ms};
use crate::error::{Error, Result};
use crate::group_offsets::CommittedOffset;
use crate::partition::Durability;
use crate::txn::coordinator::{InitStep, PendingOffset, TxnMetadata, TxnStatus};
use crate::txn::markers::Outcome;
use crate::txn::state_log::{self, TRANSACTION_STATE_TOPIC};

/// One transactional id's record (`None` until InitProducerId creates it, and after it
/// expires).
type Slot = Arc<tokio::sync::Mutex<Option<TxnMetadata>>>;

/// The coordinator's records, by transactional id.
#[derive(Default)]
pub(crate) struct Coordinator {
    slots: Mutex<HashMap<String, Slot>>,
    /// (group, topic, partition) -> the transactional ids with offsets for it pending in an
    /// open transaction: OffsetFetch with `require_stable` answers UNSTABLE_OFFSET_COMMIT for
    /// those. Kept in step with the records by [`Coordinator::note`].
    pending_offsets: Mutex<HashMap<(String, String, i32), HashSet<String>>>,
}

impl Coordinator {
    fn slot(&self, transactional_id: &str) -> Slot {
        Arc::clone(
            self.slots
                .lock()
                .entry(transactional_id.to_string())
                .or_default(),
        )
    }

    fn existing(&self, transactional_id: &str) -> Option<Slot> {
        self.slots.lock().get(transactional_id).cloned()
    }

    fn all(&self) -> Vec<Slot> {
        self.slots.lock().values().cloned().collect()
    }

    /// Brings `pending_offsets` in step with a transactional id's record as it now is
    /// (`None`: forgotten).
    fn note(&self, transactional_id: &str, metadata: Option<&TxnMetadata>) {
        let mut pending = self.pending_offsets.lock();
        pending.retain(|_, ids| {
            ids.remove(transactional_id);
            !ids.is_empty()
        });
        for o in metadata.iter().flat_map(|m| &m.pending_offsets) {
            pending
                .entry((o.group.clone(), o.topic.clone(), o.partition))
                .or_default()
                .insert(transactional_id.to_string());
        }
    }
}

fn unknown(transactional_id: &str, producer_id: i64) -> Error {
    Error::InvalidProducerIdMapping {
        transactional_id: transactional_id.to_string(),
        producer_id,
    }
}

impl Broker {
    /// InitProducerId with a transactional id: a producer id and a new epoch for it. An open
    /// transaction of an earlier epoch is aborted first (its producer is fenced). `expected`
    /// is the id and epoch a recovering producer presents (KIP-360), or `None`.
    pub async fn init_transactional_producer(
        &self,
        transactional_id: &str,
        timeout_ms: i32,
        expected: Option<(i64, i16)>,
    ) -> Result<(i64, i16)> {
        let max = self.inner.config.transaction_max_timeout_ms;
        if timeout_ms <= 0 || timeout_ms > max {
            return Err(Error::InvalidTransactionTimeout {
                got: timeout_ms,
                max,
            });
        }
        if transactional_id.is_empty() {
            return Err(Error::InvalidTxnState {
                transactional_id: String::new(),
                reason: "an empty transactional id".into(),
            });
        }
        let slot = match self.inner.transactions.existing(transactional_id) {
            Some(slot) => slot,
            None => {
                if self.inner.transactions.slots.lock().len()
                    >= self.inner.config.max_transactional_ids
                {
                    return Err(Error::InvalidTxnState {
                        transactional_id: transactional_id.to_string(),
                        reason: format!(
                            "the coordinator already keeps {} transactional ids (max_transactional_ids)",
                            self.inner.config.max_transactional_ids
                        ),
                    });
                }
                self.inner.transactions.slot(transactional_id)
            }
        };
        let mut guard = slot.lock().await;
        match self
            .reinitialise(transactional_id, guard.clone(), timeout_ms, expected)
            .await
        {
            Ok(metadata) => {
                self.inner
                    .transactions
                    .note(transactional_id, Some(&metadata));
                let answer = (metadata.producer_id, metadata.producer_epoch);
                *guard = Some(metadata);
                Ok(answer)
            }
            Err((e, kept)) => {
                // What the record is now, as far as disk and partitions know.
                *guard = kept;
                if guard.is_none() {
                    // A new id that could not be set up: no empty slot stays behind.
                    self.inner
                        .transactions
                        .slots
                        .lock()
                        .remove(transactional_id);
                }
                Err(e)
            }
        }
    }

    /// InitProducerId's work on a record (`None`: a new transactional id): the new record,
    /// persisted; or the error with the record to keep, matching what disk and the
    /// partitions know (the previous one, or one left preparing or already finished).
    async fn reinitialise(
        &self,
        transactional_id: &str,
        previous: Option<TxnMetadata>,
        timeout_ms: i32,
        expected: Option<(i64, i16)>,
    ) -> Result<TxnMetadata, (Error, Option<TxnMetadata>)> {
        let now = now_ms();
        let Some(mut metadata) = previous.clone() else {
            let id = self.allocate_producer_id().await.map_err(|e| (e, None))?;
            let metadata = TxnMetadata::new(transactional_id, id, timeout_ms, now);
            self.persist(&metadata).await.map_err(|e| (e, None))?;
            return Ok(metadata);
        };
        let keep_previous = |e| (e, previous.clone());
        // Reserved before the call so that the closure needs no await.
        let spare_id = if metadata.producer_epoch >= i16::MAX - 1 {
            self.allocate_producer_id().await.map_err(keep_previous)?
        } else {
            -1
        };
        let step = metadata
            .reinitialise(expected, timeout_ms, || spare_id, now)
            .map_err(keep_previous)?;
        let InitStep::Finish {
            outcome,
            then_reinitialise,
        } = step
        else {
            self.persist(&metadata).await.map_err(keep_previous)?;
            return Ok(metadata);
        };
        self.persist(&metadata).await.map_err(keep_previous)?;
        // Persisted as preparing: from here on, a failure leaves it so, and the next
        // attempt (or the next open) finishes it.
        if let Err(e) = self.finish(&mut metadata, outcome).await {
            return Err((e, Some(metadata)));
        }
        if then_reinitialise {
            metadata
                .reinitialise(None, timeout_ms, || spare_id, now)
                .map_err(|e| (e, Some(metadata.clone())))?;
        }
        match self.persist(&metadata).await {
            Ok(()) => Ok(metadata),
            Err(e) => Err((e, Some(metadata))),
        }
    }

    /// Runs `f` on a transactional id's record after checking the producer id and epoch,
    /// and persists the record if `f` says it changed.
    async fn with_transaction<T>(
        &self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        f: impl FnOnce(&mut TxnMetadata, i64) -> Result<(T, bool)>,
    ) -> Result<T> {
        let slot = self
            .inner
            .transactions
            .existing(transactional_id)
            .ok_or_else(|| unknown(transactional_id, producer_id))?;
        let mut guard = slot.lock().await;
        let metadata = guard
            .as_mut()
            .ok_or_else(|| unknown(transactional_id, producer_id))?;
        metadata.check_producer(producer_id, producer_epoch)?;
        let before = metadata.clone();
        let (value, changed) = match f(metadata, now_ms()) {
            Ok(done) => done,
            Err(e) => {
                *metadata = before;
                return Err(e);
            }
        };
        if changed && let Err(e) = self.persist(metadata).await {
            *metadata = before;
            return Err(e);
        }
        self.inner
            .transactions
            .note(transactional_id, Some(metadata));
        Ok(value)
    }

    /// AddPartitionsToTxn: the partitions must exist (the caller checks each).
    pub async fn add_partitions_to_txn(
        &self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        partitions: Vec<(String, i32)>,
    ) -> Result<()> {
        self.with_transaction(transactional_id, producer_id, producer_epoch, |m, now| {
            Ok(((), m.add_partitions(partitions, now)?))
        })
        .await
    }

    /// AddOffsetsToTxn: the transaction will commit offsets of `group`.
    pub async fn add_offsets_to_txn(
        &self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        group: &str,
    ) -> Result<()> {
        self.with_transaction(transactional_id, producer_id, producer_epoch, |m, now| {
            Ok(((), m.add_group(group, now)?))
        })
        .await
    }

    /// TxnOffsetCommit: offsets that become the group's committed offsets if, and when, the
    /// transaction commits.
    pub async fn txn_offset_commit(
        &self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        offsets: Vec<PendingOffset>,
    ) -> Result<()> {
        self.with_transaction(transactional_id, producer_id, producer_epoch, |m, now| {
            m.add_offsets(offsets, now)?;
            Ok(((), true))
        })
        .await
    }

    /// EndTxn: commits or aborts the producer's open transaction. Returns once every marker
    /// is on disk and, for a commit, the transaction's offsets are committed.
    pub async fn end_txn(
        &self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        outcome: Outcome,
    ) -> Result<()> {
        let slot = self
            .inner
            .transactions
            .existing(transactional_id)
            .ok_or_else(|| unknown(transactional_id, producer_id))?;
        let mut guard = slot.lock().await;
        let metadata = guard
            .as_mut()
            .ok_or_else(|| unknown(transactional_id, producer_id))?;
        metadata.check_producer(producer_id, producer_epoch)?;
        let before = metadata.clone();
        let Some(outcome) = metadata.prepare_end(outcome, now_ms())? else {
            return Ok(()); // a retry of a completed request
        };
        if metadata.status != before.status
            && let Err(e) = self.persist(metadata).await
        {
            *metadata = before;
            return Err(e);
        }
        self.finish(metadata, outcome).await?;
        self.inner
            .transactions
            .note(transactional_id, Some(metadata));
        // Not fsynced: if a crash loses it, the transaction is found preparing at the next
        // open and finished again (its markers written twice, which readers skip), and any
        // later durable change of this id fsyncs it anyway.
        self.persist_with(metadata, Durability::Written).await
    }

    /// Whether a transactional produce may write to a partition: the producer is the
    /// transactional id's current one and added the partition to its open transaction.
    pub async fn check_transactional_produce(
        &self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        topic: &str,
        partition: i32,
    ) -> Result<()> {
        self.with_transaction(transactional_id, producer_id, producer_epoch, |m, _| {
            if m.status != TxnStatus::Ongoing
                || !m.partitions.contains(&(topic.to_string(), partition))
            {
                return Err(Error::InvalidTxnState {
                    transactional_id: transactional_id.to_string(),
                    reason: format!(
                        "{topic}/{partition} was not added to the transaction (AddPartitionsToTxn)"
                    ),
                });
            }
            Ok(((), false))
        })
        .await
    }

    /// Whether an open transaction has offsets pending for a group's partition.
    pub fn has_pending_txn_offset(&self, group: &str, topic: &str, partition: i32) -> bool {
        self.inner
            .transactions
            .pending_offsets
            .lock()
            .contains_key(&(group.to_string(), topic.to_string(), partition))
    }

    /// A transactional id's record, if the coordinator has one.
    pub async fn describe_transaction(&self, transactional_id: &str) -> Option<TxnMetadata> {
        let slot = self.inner.transactions.existing(transactional_id)?;
        slot.lock().await.clone()
    }

    /// Every transactional id's record, by id.
    pub async fn list_transactions(&self) -> Vec<TxnMetadata> {
        let mut all = Vec::new();
        for slot in self.inner.transactions.all() {
            if let Some(m) = slot.lock().await.clone() {
                all.push(m);
            }
        }
        all.sort_by(|a, b| a.transactional_id.cmp(&b.transactional_id));
        all
    }

    /// Writes a preparing transaction's markers into all its partitions (fsynced), commits
    /// its offsets if it commits, and marks it complete (the caller persists that).
    async fn finish(&self, metadata: &mut TxnMetadata, outcome: Outcome) -> Result<()> {
        // Markers go to all partitions at once: each waits for its own fsync.
        let mut markers = Vec::with_capacity(metadata.partitions.len());
        for (topic, index) in &metadata.partitions {
            let partition = match self.partition(topic, *index) {
                Ok(partition) => partition,
                // Deleted since it was added: nothing to mark.
                Err(Error::UnknownTopicOrPartition { .. }) => continue,
                Err(e) => return Err(e),
            };
            let (id, epoch) = (metadata.producer_id, metadata.producer_epoch);
            markers.push(async move { partition.append_marker(id, epoch, outcome, 0).await });
        }
        futures_util::future::try_join_all(markers).await?;
        if outcome == Outcome::Commit {
            let now = now_ms();
            for (group, offsets) in metadata.offsets_by_group() {
                let offsets: Vec<_> = offsets
                    .into_iter()
                    .map(|o| {
                        (
                            o.topic.clone(),
                            o.partition,
                            CommittedOffset {
                                offset: o.offset,
                                leader_epoch: o.leader_epoch,
                                metadata: o.metadata.clone(),
                                commit_timestamp: now,
                            },
                        )
                    })
                    .collect();
                self.commit_offsets(group, &offsets).await?;
            }
        }
        metadata.complete(now_ms());
        Ok(())
    }

    async fn persist(&self, metadata: &TxnMetadata) -> Result<()> {
        self.persist_with(metadata, Durability::Durable).await
    }

    async fn persist_with(&self, metadata: &TxnMetadata, durability: Durability) -> Result<()> {
        let record = state_log::record_for(metadata)?;
        // Created at the first transactional id, as Kafka does: brokers whose clients never
        // use transactions do not have it.
        self.ensure_internal_topic(TRANSACTION_STATE_TOPIC).await?;
        self.produce(TRANSACTION_STATE_TOPIC, 0, &[record], durability)
            .await?;
        Ok(())
    }

    /// Replays `__transaction_state` (if it exists), then finishes every
    /// transaction a crash left preparing.
    pub(super) async fn load_transactions(&self) -> Result<()> {
        let mut records: HashMap<String, Option<TxnMetadata>> = HashMap::new();
        self.replay_internal_topic(TRANSACTION_STATE_TOPIC, |record| {
            match state_log::decode(record) {
                Ok((id, metadata)) => {
                    records.insert(id, metadata);
                }
                Err(e) => {
                    tracing::warn!(offset = record.offset, error = %e, "skipping an undecodable transaction state record")
                }
            }
            Ok(())
        })
        .await?;
        for (id, metadata) in records {
            let Some(mut metadata) = metadata else {
                continue;
            };
            if let Some(outcome) = metadata.preparing() {
                tracing::info!(transactional_id = %id, ?outcome, "finishing a transaction left preparing");
                self.finish(&mut metadata, outcome).await?;
                self.persist(&metadata).await?;
            }
            self.inner.transactions.note(&id, Some(&metadata));
            *self.inner.transactions.slot(&id).lock().await = Some(metadata);
        }
        Ok(())
    }

    /// Aborts transactions open past their timeout (fencing their producers) and forgets
    /// transactional ids idle for `transactional_id_expiration_ms`. Failures are logged and
    /// retried at the next pass.
    pub(super) async fn expire_transactions(&self, now_ms: i64) {
        for slot in self.inner.transactions.all() {
            let mut guard = slot.lock().await;
            let Some(metadata) = guard.as_mut() else {
                continue;
            };
            let id = metadata.transactional_id.clone();
            let result = self.maintain_transaction(metadata, now_ms).await;
            self.inner.transactions.note(&id, Some(metadata));
            match result {
                Ok(false) => {}
                Ok(true) => {
                    *guard = None;
                    self.inner.transactions.note(&id, None);
                    self.inner.transactions.slots.lock().remove(&id);
                }
                Err(e) => {
                    tracing::error!(transactional_id = %id, error = %e,
                        "transaction maintenance failed; retried at the next pass");
                }
            }
        }
    }

    /// One transactional id's maintenance: abort if timed out, finish if left preparing,
    /// forget (tombstone) if idle past the expiration. Returns whether it was forgotten.
    async fn maintain_transaction(&self, metadata: &mut TxnMetadata, now_ms: i64) -> Result<bool> {
        if metadata.timed_out(now_ms) {
            let spare = if metadata.producer_epoch >= i16::MAX - 1 {
                self.allocate_producer_id().await?
            } else {
                -1
            };
            tracing::info!(transactional_id = %metadata.transactional_id,
                "aborting a transaction past its timeout");
            metadata.abort_for_timeout(|| spare, now_ms);
            self.persist(metadata).await?;
        }
        if let Some(outcome) = metadata.preparing() {
            self.finish(metadata, outcome).await?;
            self.persist(metadata).await?;
            return Ok(false);
        }
        let idle = now_ms.saturating_sub(metadata.updated_ms);
        if metadata.status == TxnStatus::Ongoing
            || idle <= self.inner.config.transactional_id_expiration_ms
        {
            return Ok(false);
        }
        let tombstone = state_log::tombstone_for(&metadata.transactional_id);
        self.produce(
            TRANSACTION_STATE_TOPIC,
            0,
            &[tombstone],
            Durability::Durable,
        )
        .await?;
        Ok(true)
    }
}
