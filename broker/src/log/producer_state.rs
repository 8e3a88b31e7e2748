//! Idempotent-producer state per partition, as Kafka keeps it: for each producer id, its
//! current epoch and the sequence numbers and offsets of its last five batches. A retried
//! batch that matches one of them is a duplicate and gets its original offsets back; a batch
//! that does not continue the sequence is refused.
//!
//! The state is rebuilt at open from the batch headers of the newest segments (Kafka
//! snapshots it to files instead); a producer silent for longer than that is unknown
//! afterwards and must start a new sequence, which clients do on UNKNOWN_PRODUCER_ID.

use std::collections::{HashMap, VecDeque};

use crate::batch::BatchHeader;
use crate::error::{Error, Result};

/// Batches remembered per producer: what Kafka allows in flight per connection with
/// idempotence (`max.in.flight.requests.per.connection` <= 5).
const REMEMBERED_BATCHES: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BatchMeta {
    first_seq: i32,
    last_seq: i32,
    first_offset: i64,
    last_offset: i64,
}

#[derive(Debug, Clone, Default)]
struct ProducerEntry {
    epoch: i16,
    recent: VecDeque<BatchMeta>,
}

/// What to do with an incoming idempotent batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SequenceCheck {
    /// The next batch in sequence: append it.
    Append,
    /// Already in the log: answer with these offsets, write nothing.
    Duplicate { first_offset: i64, last_offset: i64 },
}

/// Sequence numbers wrap to 0 after `i32::MAX`, as in Kafka.
fn add_sequence(seq: i32, n: i32) -> i32 {
    if seq > i32::MAX - n {
        n - (i32::MAX - seq) - 1
    } else {
        seq + n
    }
}

#[derive(Debug, Default, Clone)]
pub(crate) struct ProducerStates {
    producers: HashMap<i64, ProducerEntry>,
}

impl ProducerStates {
    /// Checks a producer's batch (with `producer_id >= 0`) against its state.
    pub fn check(&self, header: &BatchHeader) -> Result<SequenceCheck> {
        let producer_id = header.producer_id;
        let first_seq = header.base_sequence;
        let last_seq = add_sequence(first_seq, header.last_offset_delta);
        let Some(entry) = self.producers.get(&producer_id) else {
            return if first_seq == 0 {
                Ok(SequenceCheck::Append)
            } else {
                Err(Error::UnknownProducerId {
                    producer_id,
                    sequence: first_seq,
                })
            };
        };
        if header.producer_epoch < entry.epoch {
            return Err(Error::InvalidProducerEpoch {
                producer_id,
                current: entry.epoch,
                got: header.producer_epoch,
            });
        }
        if header.producer_epoch > entry.epoch {
            // A new epoch starts its sequence over.
            return if first_seq == 0 {
                Ok(SequenceCheck::Append)
            } else {
                Err(Error::OutOfOrderSequence {
                    producer_id,
                    expected: 0,
                    got: first_seq,
                })
            };
        }
        if let Some(dup) = entry
            .recent
            .iter()
            .find(|b| b.first_seq == first_seq && b.last_seq == last_seq)
        {
            return Ok(SequenceCheck::Duplicate {
                first_offset: dup.first_offset,
                last_offset: dup.last_offset,
            });
        }
        let expected = entry
            .recent
            .back()
            .map_or(0, |last| add_sequence(last.last_seq, 1));
        if first_seq == expected {
            Ok(SequenceCheck::Append)
        } else {
            Err(Error::OutOfOrderSequence {
                producer_id,
                expected,
                got: first_seq,
            })
        }
    }

    /// Records a batch now in the log (its header carries the assigned base offset).
    pub fn record(&mut self, header: &BatchHeader) {
        if header.producer_id < 0 {
            return;
        }
        let entry = self.producers.entry(header.producer_id).or_default();
        if header.producer_epoch != entry.epoch {
            entry.epoch = header.producer_epoch;
            entry.recent.clear();
        }
        if entry.recent.len() == REMEMBERED_BATCHES {
            entry.recent.pop_front();
        }
        entry.recent.push_back(BatchMeta {
            first_seq: header.base_sequence,
            last_seq: add_sequence(header.base_sequence, header.last_offset_delta),
            first_offset: header.base_offset,
            last_offset: header.last_offset(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(pid: i64, epoch: i16, seq: i32, count: i32, base_offset: i64) -> BatchHeader {
        BatchHeader {
            base_offset,
            batch_length: 100,
            partition_leader_epoch: 0,
            magic: 2,
            crc: 0,
            attributes: 0,
            last_offset_delta: count - 1,
            base_timestamp: 0,
            max_timestamp: 0,
            producer_id: pid,
            producer_epoch: epoch,
            base_sequence: seq,
            records_count: count,
        }
    }

    #[test]
    fn sequences_duplicates_and_fencing() {
        let mut states = ProducerStates::default();
        assert_eq!(
            states.check(&batch(7, 0, 0, 3, 0)).unwrap(),
            SequenceCheck::Append
        );
        states.record(&batch(7, 0, 0, 3, 10));
        // The retry of the same batch gets its original offsets.
        assert_eq!(
            states.check(&batch(7, 0, 0, 3, 0)).unwrap(),
            SequenceCheck::Duplicate {
                first_offset: 10,
                last_offset: 12
            }
        );
        assert_eq!(
            states.check(&batch(7, 0, 3, 2, 0)).unwrap(),
            SequenceCheck::Append
        );
        assert!(matches!(
            states.check(&batch(7, 0, 5, 1, 0)),
            Err(Error::OutOfOrderSequence {
                expected: 3,
                got: 5,
                ..
            })
        ));
        states.record(&batch(7, 1, 0, 1, 20));
        assert!(matches!(
            states.check(&batch(7, 0, 1, 1, 0)),
            Err(Error::InvalidProducerEpoch {
                current: 1,
                got: 0,
                ..
            })
        ));
        assert!(matches!(
            states.check(&batch(8, 0, 4, 1, 0)),
            Err(Error::UnknownProducerId { sequence: 4, .. })
        ));
        assert_eq!(add_sequence(i32::MAX, 1), 0);
        assert_eq!(add_sequence(i32::MAX - 1, 3), 1);
    }
}
