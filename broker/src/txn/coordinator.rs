//! The transaction coordinator's state per `transactional.id` and the rules for changing it
//! (Kafka's `TransactionMetadata` and `TransactionCoordinator`), without I/O: the broker
//! ([`crate::Broker`]'s transaction methods) persists every change to `__transaction_state`
//! before answering, and writes the markers.
//!
//! Life of a transaction: `Empty` (or `Complete*`) -> `Ongoing` when a partition or group is
//! added -> `PrepareCommit`/`PrepareAbort` when the producer ends it (persisted before any
//! marker is written) -> `CompleteCommit`/`CompleteAbort` once every marker is on disk. A
//! broker that restarts in a `Prepare*` state writes the markers again; a partition ignores
//! a marker for a producer with no open transaction there, so that is safe.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::markers::Outcome;
use crate::error::{Error, Result};

/// Where a transaction is in its life (the names are Kafka's, as DescribeTransactions and
/// ListTransactions report them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxnStatus {
    /// No transaction started since the producer was initialised.
    Empty,
    /// Partitions or groups have been added.
    Ongoing,
    /// The producer asked to commit; markers are being written.
    PrepareCommit,
    /// The producer asked to abort (or the transaction timed out); markers are being written.
    PrepareAbort,
    /// The last transaction committed.
    CompleteCommit,
    /// The last transaction aborted.
    CompleteAbort,
}

impl TxnStatus {
    /// Every state, in life order.
    pub const ALL: [Self; 6] = [
        Self::Empty,
        Self::Ongoing,
        Self::PrepareCommit,
        Self::PrepareAbort,
        Self::CompleteCommit,
        Self::CompleteAbort,
    ];

    /// Kafka's name for the state.
    pub fn name(self) -> &'static str {
        match self {
            Self::Empty => "Empty",
            Self::Ongoing => "Ongoing",
            Self::PrepareCommit => "PrepareCommit",
            Self::PrepareAbort => "PrepareAbort",
            Self::CompleteCommit => "CompleteCommit",
            Self::CompleteAbort => "CompleteAbort",
        }
    }

    fn preparing(self) -> Option<Outcome> {
        match self {
            Self::PrepareCommit => Some(Outcome::Commit),
            Self::PrepareAbort => Some(Outcome::Abort),
            _ => None,
        }
    }
}

/// An offset a transaction commits for a group when it commits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingOffset {
    /// The group.
    pub group: String,
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The next offset to consume.
    pub offset: i64,
    /// The leader epoch of the last consumed record, or -1.
    pub leader_epoch: i32,
    /// The client's metadata string.
    pub metadata: String,
}

/// The coordinator's record of one transactional id: what `__transaction_state` stores.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnMetadata {
    /// The transactional id.
    pub transactional_id: String,
    /// Its producer id.
    pub producer_id: i64,
    /// The current epoch: requests with an older one are fenced.
    pub producer_epoch: i16,
    /// The epoch before the last bump, which a producer may present to InitProducerId to
    /// recover after a timeout abort (KIP-360).
    pub last_producer_epoch: i16,
    /// `transaction.timeout.ms`.
    pub timeout_ms: i32,
    /// Where the current (or last) transaction is.
    pub status: TxnStatus,
    /// Partitions in the transaction.
    pub partitions: BTreeSet<(String, i32)>,
    /// Groups whose offsets the transaction commits (AddOffsetsToTxn).
    pub groups: BTreeSet<String>,
    /// Offsets committed with the transaction (TxnOffsetCommit), applied on commit.
    pub pending_offsets: Vec<PendingOffset>,
    /// When the current transaction started (ms since the epoch).
    pub started_ms: i64,
    /// When the record last changed.
    pub updated_ms: i64,
}

/// What InitProducerId must do before it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitStep {
    /// Answer with this id and epoch (after persisting the new metadata).
    Ready,
    /// An unfinished transaction must be finished first: write its markers, then persist.
    Finish {
        /// Abort for an open transaction (with the new epoch, which fences the old
        /// producer); what was being prepared for one left preparing.
        outcome: Outcome,
        /// For a transaction left preparing, the epoch is bumped only once it is finished
        /// (its markers carry the old one): call [`TxnMetadata::reinitialise`] again.
        then_reinitialise: bool,
    },
}

impl TxnMetadata {
    /// A new transactional id, with a fresh producer id and epoch 0.
    pub fn new(transactional_id: &str, producer_id: i64, timeout_ms: i32, now_ms: i64) -> Self {
        Self {
            transactional_id: transactional_id.to_string(),
            producer_id,
            producer_epoch: 0,
            last_producer_epoch: -1,
            timeout_ms,
            status: TxnStatus::Empty,
            partitions: BTreeSet::new(),
            groups: BTreeSet::new(),
            pending_offsets: Vec::new(),
            started_ms: now_ms,
            updated_ms: now_ms,
        }
    }

    /// Checks a request's producer id and epoch against this record.
    pub fn check_producer(&self, producer_id: i64, epoch: i16) -> Result<()> {
        if producer_id != self.producer_id {
            return Err(Error::InvalidProducerIdMapping {
                transactional_id: self.transactional_id.clone(),
                producer_id,
            });
        }
        if epoch != self.producer_epoch {
            return Err(Error::ProducerFenced {
                transactional_id: self.transactional_id.clone(),
                current: self.producer_epoch,
                got: epoch,
            });
        }
        Ok(())
    }

    /// InitProducerId for an existing id: checks the producer's claim (`expected`, sent by
    /// clients recovering with KIP-360), bumps the epoch (a new producer id once the epoch
    /// would overflow, from `fresh_id`) and says whether a transaction must be finished first.
    pub fn reinitialise(
        &mut self,
        expected: Option<(i64, i16)>,
        timeout_ms: i32,
        fresh_id: impl FnOnce() -> i64,
        now_ms: i64,
    ) -> Result<InitStep> {
        if let Some((id, epoch)) = expected
            && (id != self.producer_id
                || (epoch != self.producer_epoch && epoch != self.last_producer_epoch))
        {
            return Err(Error::ProducerFenced {
                transactional_id: self.transactional_id.clone(),
                current: self.producer_epoch,
                got: epoch,
            });
        }
        let step = match (self.status, self.status.preparing()) {
            (TxnStatus::Ongoing, _) => {
                // The abort's markers carry the new epoch, which fences the old producer in
                // every partition it wrote to.
                self.bump_epoch(fresh_id);
                self.status = TxnStatus::PrepareAbort;
                InitStep::Finish {
                    outcome: Outcome::Abort,
                    then_reinitialise: false,
                }
            }
            (_, Some(outcome)) => InitStep::Finish {
                outcome,
                then_reinitialise: true,
            },
            (_, None) => {
                self.bump_epoch(fresh_id);
                InitStep::Ready
            }
        };
        self.timeout_ms = timeout_ms;
        self.updated_ms = now_ms;
        Ok(step)
    }

    fn bump_epoch(&mut self, fresh_id: impl FnOnce() -> i64) {
        if self.producer_epoch >= i16::MAX - 1 {
            self.producer_id = fresh_id();
            self.producer_epoch = 0;
            self.last_producer_epoch = -1;
        } else {
            self.last_producer_epoch = self.producer_epoch;
            self.producer_epoch += 1;
        }
    }

    /// Refuses changes while a transaction is being completed; starts a new transaction if
    /// none is open.
    fn open_for_changes(&mut self, now_ms: i64) -> Result<()> {
        if self.status.preparing().is_some() {
            return Err(Error::ConcurrentTransactions(self.transactional_id.clone()));
        }
        if self.status != TxnStatus::Ongoing {
            self.status = TxnStatus::Ongoing;
            self.partitions.clear();
            self.groups.clear();
            self.pending_offsets.clear();
            self.started_ms = now_ms;
        }
        self.updated_ms = now_ms;
        Ok(())
    }

    /// AddPartitionsToTxn. Returns whether anything changed (to persist).
    pub fn add_partitions(
        &mut self,
        partitions: impl IntoIterator<Item = (String, i32)>,
        now_ms: i64,
    ) -> Result<bool> {
        let was = self.status;
        self.open_for_changes(now_ms)?;
        let mut changed = was != TxnStatus::Ongoing;
        for p in partitions {
            changed |= self.partitions.insert(p);
        }
        Ok(changed)
    }

    /// AddOffsetsToTxn. Returns whether anything changed.
    pub fn add_group(&mut self, group: &str, now_ms: i64) -> Result<bool> {
        let was = self.status;
        self.open_for_changes(now_ms)?;
        Ok(self.groups.insert(group.to_string()) || was != TxnStatus::Ongoing)
    }

    /// TxnOffsetCommit: offsets for a group added with AddOffsetsToTxn, replacing earlier
    /// ones of this transaction for the same partitions.
    pub fn add_offsets(&mut self, offsets: Vec<PendingOffset>, now_ms: i64) -> Result<()> {
        if self.status != TxnStatus::Ongoing {
            return Err(self.invalid("TxnOffsetCommit outside a transaction"));
        }
        if let Some(o) = offsets.iter().find(|o| !self.groups.contains(&o.group)) {
            return Err(self.invalid(&format!(
                "TxnOffsetCommit for group {:?}, which AddOffsetsToTxn did not add",
                o.group
            )));
        }
        for offset in offsets {
            self.pending_offsets.retain(|o| {
                (&o.group, &o.topic, o.partition)
                    != (&offset.group, &offset.topic, offset.partition)
            });
            self.pending_offsets.push(offset);
        }
        self.updated_ms = now_ms;
        Ok(())
    }

    /// EndTxn: moves an open transaction to `Prepare*`. Returns the outcome whose markers
    /// must be written, or `None` when the request repeats one already completed.
    pub fn prepare_end(&mut self, outcome: Outcome, now_ms: i64) -> Result<Option<Outcome>> {
        let wanted = match outcome {
            Outcome::Commit => "commit",
            Outcome::Abort => "abort",
        };
        match (self.status, outcome) {
            (TxnStatus::Ongoing, _) => {
                self.status = match outcome {
                    Outcome::Commit => TxnStatus::PrepareCommit,
                    Outcome::Abort => TxnStatus::PrepareAbort,
                };
                self.updated_ms = now_ms;
                Ok(Some(outcome))
            }
            (TxnStatus::PrepareCommit, Outcome::Commit)
            | (TxnStatus::PrepareAbort, Outcome::Abort) => Ok(Some(outcome)),
            (TxnStatus::CompleteCommit, Outcome::Commit)
            | (TxnStatus::CompleteAbort, Outcome::Abort) => Ok(None),
            (TxnStatus::PrepareCommit | TxnStatus::PrepareAbort, _) => {
                Err(Error::ConcurrentTransactions(self.transactional_id.clone()))
            }
            (status, _) => Err(self.invalid(&format!(
                "cannot {wanted} a transaction in state {}",
                status.name()
            ))),
        }
    }

    /// The transaction's markers are on disk (and its offsets applied): it is complete.
    pub fn complete(&mut self, now_ms: i64) {
        self.status = match self.status {
            TxnStatus::PrepareCommit => TxnStatus::CompleteCommit,
            TxnStatus::PrepareAbort => TxnStatus::CompleteAbort,
            other => other,
        };
        self.partitions.clear();
        self.groups.clear();
        self.pending_offsets.clear();
        self.updated_ms = now_ms;
    }

    /// The outcome being written, if the transaction is preparing.
    pub fn preparing(&self) -> Option<Outcome> {
        self.status.preparing()
    }

    /// Whether an open transaction has run past its timeout at `now_ms`.
    pub fn timed_out(&self, now_ms: i64) -> bool {
        self.status == TxnStatus::Ongoing
            && now_ms.saturating_sub(self.started_ms) > i64::from(self.timeout_ms)
    }

    /// Aborts a timed-out transaction: the epoch is bumped, so the producer is fenced.
    pub fn abort_for_timeout(&mut self, fresh_id: impl FnOnce() -> i64, now_ms: i64) {
        self.bump_epoch(fresh_id);
        self.status = TxnStatus::PrepareAbort;
        self.updated_ms = now_ms;
    }

    /// Groups with offsets pending, by group.
    pub fn offsets_by_group(&self) -> BTreeMap<&str, Vec<&PendingOffset>> {
        let mut by_group: BTreeMap<&str, Vec<&PendingOffset>> = BTreeMap::new();
        for o in &self.pending_offsets {
            by_group.entry(&o.group).or_default().push(o);
        }
        by_group
    }

    fn invalid(&self, reason: &str) -> Error {
        Error::InvalidTxnState {
            transactional_id: self.transactional_id.clone(),
            reason: reason.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txn() -> TxnMetadata {
        TxnMetadata::new("t", 10, 60_000, 0)
    }

    #[test]
    fn a_transaction_goes_ongoing_prepare_complete() {
        let mut t = txn();
        assert!(t.add_partitions([("a".into(), 0)], 1).unwrap());
        assert!(!t.add_partitions([("a".into(), 0)], 2).unwrap());
        assert_eq!(t.status, TxnStatus::Ongoing);
        assert_eq!(
            t.prepare_end(Outcome::Commit, 3).unwrap(),
            Some(Outcome::Commit)
        );
        assert!(matches!(
            t.add_partitions([("b".into(), 0)], 4),
            Err(Error::ConcurrentTransactions(_))
        ));
        t.complete(5);
        assert_eq!(t.status, TxnStatus::CompleteCommit);
        assert!(t.partitions.is_empty());
        // A retried commit is answered without markers; an abort of it is refused.
        assert_eq!(t.prepare_end(Outcome::Commit, 6).unwrap(), None);
        assert!(matches!(
            t.prepare_end(Outcome::Abort, 6),
            Err(Error::InvalidTxnState { .. })
        ));
    }

    #[test]
    fn reinitialising_fences_the_old_epoch_and_aborts_its_transaction() {
        let mut t = txn();
        t.add_partitions([("a".into(), 0)], 1).unwrap();
        let step = t.reinitialise(None, 30_000, || 99, 2).unwrap();
        assert_eq!(
            step,
            InitStep::Finish {
                outcome: Outcome::Abort,
                then_reinitialise: false
            }
        );
        assert_eq!(
            (t.producer_id, t.producer_epoch, t.status),
            (10, 1, TxnStatus::PrepareAbort)
        );
        assert!(matches!(
            t.check_producer(10, 0),
            Err(Error::ProducerFenced { .. })
        ));
        assert!(matches!(
            t.check_producer(11, 1),
            Err(Error::InvalidProducerIdMapping { .. })
        ));
        t.check_producer(10, 1).unwrap();
        // A claim with an epoch the coordinator never gave is fenced.
        assert!(t.reinitialise(Some((10, 7)), 30_000, || 99, 3).is_err());
    }

    #[test]
    fn the_epoch_wraps_to_a_new_producer_id() {
        let mut t = txn();
        t.producer_epoch = i16::MAX - 1;
        assert_eq!(t.reinitialise(None, 1, || 42, 0).unwrap(), InitStep::Ready);
        assert_eq!((t.producer_id, t.producer_epoch), (42, 0));
    }

    #[test]
    fn offsets_need_their_group_added_and_a_timeout_is_measured_from_the_start() {
        let mut t = txn();
        t.add_partitions([("a".into(), 0)], 1_000).unwrap();
        let offset = PendingOffset {
            group: "g".into(),
            topic: "a".into(),
            partition: 0,
            offset: 5,
            leader_epoch: -1,
            metadata: String::new(),
        };
        assert!(t.add_offsets(vec![offset.clone()], 1_001).is_err());
        t.add_group("g", 1_002).unwrap();
        t.add_offsets(vec![offset.clone()], 1_003).unwrap();
        t.add_offsets(
            vec![PendingOffset {
                offset: 6,
                ..offset
            }],
            1_004,
        )
        .unwrap();
        assert_eq!(t.pending_offsets.len(), 1);
        assert_eq!(t.pending_offsets[0].offset, 6);
        assert!(!t.timed_out(61_000) && t.timed_out(61_001));
    }
}
