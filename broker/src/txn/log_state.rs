//! What one partition's log knows of transactions: the open transaction of each producer
//! (from its first transactional batch to its marker), which bounds the last stable offset,
//! and the aborted transactions, which `read_committed` fetches return so that clients skip
//! their records (Kafka's `ProducerStateManager` ongoing transactions and `.txnindex`).
//!
//! The state is rebuilt at open by replaying the partition's batch headers (see
//! [`crate::log::Log`]); a partition that never saw a transactional batch skips that.

use std::collections::{HashMap, VecDeque};

use super::markers::Outcome;
use crate::batch::BatchHeader;

/// An aborted transaction of one producer in one partition: its records lie between
/// `first_offset` and `last_offset` (the abort marker).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortedTxn {
    /// The producer whose records to skip.
    pub producer_id: i64,
    /// The transaction's first record in this partition.
    pub first_offset: i64,
    /// The abort marker's offset.
    pub last_offset: i64,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct LogTxns {
    /// Producer id -> first offset of its open transaction.
    ongoing: HashMap<i64, i64>,
    /// In marker order, so by `last_offset`.
    aborted: VecDeque<AbortedTxn>,
}

impl LogTxns {
    /// Notes a batch appended (or replayed) at its offsets: a transactional data batch opens
    /// its producer's transaction if none is open.
    pub fn on_batch(&mut self, header: &BatchHeader) {
        if header.is_transactional() && !header.is_control() && header.producer_id >= 0 {
            self.ongoing
                .entry(header.producer_id)
                .or_insert(header.base_offset);
        }
    }

    /// Notes a marker for `producer_id` at `marker_offset`: its transaction, if one is open,
    /// ends (and is remembered if aborted).
    pub fn on_marker(&mut self, producer_id: i64, marker_offset: i64, outcome: Outcome) {
        let Some(first_offset) = self.ongoing.remove(&producer_id) else {
            return; // a marker for a transaction with no records here (or a retried one)
        };
        if outcome == Outcome::Abort {
            self.aborted.push_back(AbortedTxn {
                producer_id,
                first_offset,
                last_offset: marker_offset,
            });
        }
    }

    /// The last stable offset: the first offset of the oldest open transaction, or the log
    /// end when none is open. `read_committed` readers see nothing at or past it.
    pub fn last_stable_offset(&self, log_end: i64) -> i64 {
        self.ongoing.values().copied().min().unwrap_or(log_end)
    }

    /// Aborted transactions that overlap `[from, upto)`: what a `read_committed` fetch of
    /// those offsets returns.
    pub fn aborted_between(&self, from: i64, upto: i64) -> Vec<AbortedTxn> {
        let start = self.aborted.partition_point(|t| t.last_offset < from);
        self.aborted
            .range(start..)
            .filter(|t| t.first_offset < upto)
            .copied()
            .collect()
    }

    /// Forgets aborted transactions that ended below the log start (retention removed them).
    pub fn forget_before(&mut self, log_start: i64) {
        while self
            .aborted
            .front()
            .is_some_and(|t| t.last_offset < log_start)
        {
            self.aborted.pop_front();
        }
    }

    /// The aborted transactions by producer, for [`AbortedIndex::contains`] lookups (a
    /// compaction pass asks once per record).
    pub fn aborted_index(&self) -> AbortedIndex {
        let mut by_producer: HashMap<i64, Vec<(i64, i64)>> = HashMap::new();
        for t in &self.aborted {
            // In marker order, so each producer's list is sorted by marker offset.
            by_producer
                .entry(t.producer_id)
                .or_default()
                .push((t.first_offset, t.last_offset));
        }
        AbortedIndex { by_producer }
    }
}

/// Aborted transactions by producer id, each producer's sorted by marker offset.
#[derive(Debug, Default, Clone)]
pub(crate) struct AbortedIndex {
    by_producer: HashMap<i64, Vec<(i64, i64)>>,
}

impl AbortedIndex {
    /// Whether a record at `offset` of `producer_id` belongs to an aborted transaction
    /// (compaction drops those). A producer's transactions do not overlap, so the only
    /// candidate is its first one whose marker lies past the offset.
    pub fn contains(&self, producer_id: i64, offset: i64) -> bool {
        let Some(ranges) = self.by_producer.get(&producer_id) else {
            return false;
        };
        let i = ranges.partition_point(|&(_, last)| last <= offset);
        ranges.get(i).is_some_and(|&(first, _)| first <= offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(producer_id: i64, base_offset: i64, transactional: bool) -> BatchHeader {
        BatchHeader {
            base_offset,
            batch_length: 49,
            partition_leader_epoch: 0,
            magic: 2,
            crc: 0,
            attributes: if transactional { 1 << 4 } else { 0 },
            last_offset_delta: 0,
            base_timestamp: 0,
            max_timestamp: 0,
            producer_id,
            producer_epoch: 0,
            base_sequence: 0,
            records_count: 1,
        }
    }

    #[test]
    fn the_last_stable_offset_is_held_by_the_oldest_open_transaction() {
        let mut txns = LogTxns::default();
        assert_eq!(txns.last_stable_offset(10), 10);
        txns.on_batch(&batch(1, 3, true));
        txns.on_batch(&batch(2, 5, true));
        txns.on_batch(&batch(1, 6, true)); // the same transaction goes on
        txns.on_batch(&batch(3, 7, false)); // not transactional
        assert_eq!(txns.last_stable_offset(10), 3);
        txns.on_marker(1, 8, Outcome::Commit);
        assert_eq!(txns.last_stable_offset(10), 5);
        txns.on_marker(2, 9, Outcome::Abort);
        assert_eq!(txns.last_stable_offset(10), 10);
        assert_eq!(
            txns.aborted_between(0, 10),
            vec![AbortedTxn {
                producer_id: 2,
                first_offset: 5,
                last_offset: 9
            }]
        );
        // Producer 2 aborts a second transaction, [11, 13).
        txns.on_batch(&batch(2, 11, true));
        txns.on_marker(2, 13, Outcome::Abort);
        let index = txns.aborted_index();
        assert!(index.contains(2, 5) && !index.contains(1, 5) && !index.contains(2, 9));
        assert!(
            !index.contains(2, 4),
            "before the transaction's first record"
        );
        assert!(index.contains(2, 12) && !index.contains(2, 10) && !index.contains(2, 13));
    }

    #[test]
    fn aborted_transactions_are_returned_only_where_they_overlap_the_fetch() {
        let mut txns = LogTxns::default();
        for (producer, first, marker) in [(1, 0, 2), (2, 3, 5), (3, 4, 9)] {
            txns.on_batch(&batch(producer, first, true));
            txns.on_marker(producer, marker, Outcome::Abort);
        }
        let ids = |txns: &LogTxns, from, upto| -> Vec<i64> {
            txns.aborted_between(from, upto)
                .iter()
                .map(|t| t.producer_id)
                .collect()
        };
        assert_eq!(ids(&txns, 0, 1), vec![1]);
        assert_eq!(ids(&txns, 3, 4), vec![2]);
        assert_eq!(ids(&txns, 6, 20), vec![3]);
        assert_eq!(ids(&txns, 10, 20), Vec::<i64>::new());
        txns.forget_before(3);
        assert_eq!(ids(&txns, 0, 20), vec![2, 3]);
    }
}
