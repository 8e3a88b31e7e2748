//! Idempotent-producer state per partition, as Kafka keeps it: for each producer id, its
//! current epoch, the sequence numbers and offsets of its last five batches, and when it last
//! appended. A retried batch that matches one of them is a duplicate and gets its original
//! offsets back; a batch that does not continue the sequence is refused.
//!
//! **Snapshots.** The state lives in memory. When the log rolls a new segment at base offset
//! B it is written, as of B, to `<B, 20 digits>.snapshot` in the partition directory (Kafka's
//! `ProducerStateManager.takeSnapshot`; the file I/O is in [`super::producer_snapshot`], the
//! layout in [`ProducerStates::encode_snapshot`]). At open the newest valid snapshot at or
//! below the log end is loaded and the batch headers from its offset to the log end are
//! replayed; without one, every segment's headers are. A producer therefore keeps its state
//! across restarts however long it was silent, until it expires. Snapshots are not fsynced
//! (the log's write lock is held when they are taken): one that a crash left torn fails its
//! CRC-32C and is ignored, and an older one or a full scan is used instead.
//!
//! **Expiry** (Kafka's `producer.id.expiration.ms`, [`ProducerStates::expire`]). A producer
//! that has not appended for the broker's `producer_id_expiration_ms` is forgotten at the next
//! maintenance pass and must start a new sequence, which clients do on UNKNOWN_PRODUCER_ID.
//! "Appended" is the broker's wall-clock time of the append, not the batch's timestamps (which
//! Kafka uses): a client's clock, or `CreateTime` values it chose, can then neither keep an id
//! alive forever nor expire it early. Batches replayed at open count as appended at the open,
//! since the log does not record append times; a restart therefore never expires a producer
//! early, at worst keeps one up to another expiration period.

use std::collections::{HashMap, VecDeque};

use crate::batch::BatchHeader;
use crate::error::{Error, Result};

/// Batches remembered per producer: what Kafka allows in flight per connection with
/// idempotence (`max.in.flight.requests.per.connection` <= 5).
const REMEMBERED_BATCHES: usize = 5;

/// Version of the snapshot layout ([`ProducerStates::encode_snapshot`]).
const SNAPSHOT_VERSION: u8 = 1;
/// Bytes before the checksummed part of a snapshot: the version and the CRC-32C.
const SNAPSHOT_HEADER_LEN: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BatchMeta {
    first_seq: i32,
    last_seq: i32,
    first_offset: i64,
    last_offset: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct ProducerEntry {
    epoch: i16,
    recent: VecDeque<BatchMeta>,
    /// Broker wall-clock time (ms since the epoch) of the producer's last append.
    last_append_ms: i64,
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

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct ProducerStates {
    producers: HashMap<i64, ProducerEntry>,
}

impl ProducerStates {
    /// A copy of the state of these producers only: what checking one request's batches
    /// needs, without copying every producer the partition knows.
    pub fn subset(&self, producer_ids: impl IntoIterator<Item = i64>) -> Self {
        let mut producers = HashMap::new();
        for id in producer_ids {
            if let Some(entry) = self.producers.get(&id) {
                producers.entry(id).or_insert_with(|| entry.clone());
            }
        }
        Self { producers }
    }

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

    /// Records a batch now in the log (its header carries the assigned base offset), appended
    /// at `now_ms` (the broker's wall clock).
    pub fn record(&mut self, header: &BatchHeader, now_ms: i64) {
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
        entry.last_append_ms = entry.last_append_ms.max(now_ms);
    }

    /// Notes a transaction marker written for a producer at `epoch` (the coordinator writes
    /// them with the producer's newest epoch): an older epoch is fenced from then on, and a
    /// new epoch starts its sequence at 0.
    pub fn fence(&mut self, producer_id: i64, epoch: i16, now_ms: i64) {
        let entry = self.producers.entry(producer_id).or_default();
        if epoch > entry.epoch {
            entry.epoch = epoch;
            entry.recent.clear();
        }
        entry.last_append_ms = entry.last_append_ms.max(now_ms);
    }

    /// The epoch the partition knows for a producer, if any.
    pub fn epoch(&self, producer_id: i64) -> Option<i16> {
        self.producers.get(&producer_id).map(|e| e.epoch)
    }

    /// Forgets producers whose last append is `expiration_ms` or more before `now_ms` (as
    /// Kafka's `producer.id.expiration.ms` does). Returns how many were forgotten.
    pub fn expire(&mut self, now_ms: i64, expiration_ms: i64) -> usize {
        let before = self.producers.len();
        self.producers
            .retain(|_, entry| now_ms.saturating_sub(entry.last_append_ms) < expiration_ms);
        before - self.producers.len()
    }

    /// The state as of `offset` (the log end when it is taken) in the snapshot layout, all
    /// integers big-endian:
    ///
    /// ```text
    /// version: u8 (1) | crc: u32, CRC-32C of everything after it
    /// offset: i64 | producers: u32
    /// per producer, by id: producer_id: i64 | epoch: i16 | last_append_ms: i64 | batches: u8 (1..=5)
    ///   per batch, oldest first: first_seq: i32 | last_seq: i32 | first_offset: i64 | last_offset: i64
    /// ```
    pub fn encode_snapshot(&self, offset: i64) -> Vec<u8> {
        let mut ids: Vec<i64> = self.producers.keys().copied().collect();
        ids.sort_unstable();
        let mut out = Vec::with_capacity(
            SNAPSHOT_HEADER_LEN + 12 + ids.len() * (19 + REMEMBERED_BATCHES * 24),
        );
        out.push(SNAPSHOT_VERSION);
        out.extend_from_slice(&[0; 4]); // the CRC, filled in below
        out.extend_from_slice(&offset.to_be_bytes());
        out.extend_from_slice(&(ids.len() as u32).to_be_bytes());
        for id in ids {
            let entry = &self.producers[&id];
            out.extend_from_slice(&id.to_be_bytes());
            out.extend_from_slice(&entry.epoch.to_be_bytes());
            out.extend_from_slice(&entry.last_append_ms.to_be_bytes());
            out.push(entry.recent.len() as u8);
            for batch in &entry.recent {
                out.extend_from_slice(&batch.first_seq.to_be_bytes());
                out.extend_from_slice(&batch.last_seq.to_be_bytes());
                out.extend_from_slice(&batch.first_offset.to_be_bytes());
                out.extend_from_slice(&batch.last_offset.to_be_bytes());
            }
        }
        let crc = crc32c::crc32c(&out[SNAPSHOT_HEADER_LEN..]);
        out[1..SNAPSHOT_HEADER_LEN].copy_from_slice(&crc.to_be_bytes());
        out
    }

    /// Decodes [`ProducerStates::encode_snapshot`]'s bytes: the offset the state is as of,
    /// and the state. Refuses (saying why) another version, a checksum mismatch, and contents
    /// that do not make sense (a batch at or past the snapshot's offset, a repeated producer,
    /// bytes missing or left over).
    pub fn decode_snapshot(bytes: &[u8]) -> Result<(i64, Self), String> {
        if bytes.len() < SNAPSHOT_HEADER_LEN {
            return Err(format!(
                "{} bytes is shorter than a snapshot header",
                bytes.len()
            ));
        }
        if bytes[0] != SNAPSHOT_VERSION {
            return Err(format!(
                "snapshot version {} is not {SNAPSHOT_VERSION}",
                bytes[0]
            ));
        }
        let stored = u32::from_be_bytes(bytes[1..SNAPSHOT_HEADER_LEN].try_into().expect("4 bytes"));
        let actual = crc32c::crc32c(&bytes[SNAPSHOT_HEADER_LEN..]);
        if stored != actual {
            return Err(format!(
                "checksum mismatch (stored {stored:#010x}, computed {actual:#010x})"
            ));
        }
        let mut r = Reader {
            buf: &bytes[SNAPSHOT_HEADER_LEN..],
        };
        let offset = i64::from_be_bytes(r.take()?);
        let count = u32::from_be_bytes(r.take()?);
        let mut producers = HashMap::new();
        for _ in 0..count {
            let id = i64::from_be_bytes(r.take()?);
            let epoch = i16::from_be_bytes(r.take()?);
            let last_append_ms = i64::from_be_bytes(r.take()?);
            let [batches] = r.take()?;
            if id < 0 || !(1..=REMEMBERED_BATCHES).contains(&(batches as usize)) {
                return Err(format!("producer {id} with {batches} batches"));
            }
            let mut recent = VecDeque::with_capacity(batches as usize);
            for _ in 0..batches {
                let batch = BatchMeta {
                    first_seq: i32::from_be_bytes(r.take()?),
                    last_seq: i32::from_be_bytes(r.take()?),
                    first_offset: i64::from_be_bytes(r.take()?),
                    last_offset: i64::from_be_bytes(r.take()?),
                };
                if !(0 <= batch.first_offset
                    && batch.first_offset <= batch.last_offset
                    && batch.last_offset < offset)
                {
                    return Err(format!(
                        "producer {id} has a batch at offsets {}..={}, not below the \
                         snapshot's offset {offset}",
                        batch.first_offset, batch.last_offset
                    ));
                }
                recent.push_back(batch);
            }
            let entry = ProducerEntry {
                epoch,
                recent,
                last_append_ms,
            };
            if producers.insert(id, entry).is_some() {
                return Err(format!("producer {id} appears twice"));
            }
        }
        if !r.buf.is_empty() {
            return Err(format!("{} bytes after the last producer", r.buf.len()));
        }
        Ok((offset, Self { producers }))
    }
}

/// Reads fixed-size fields off the front of a buffer.
struct Reader<'a> {
    buf: &'a [u8],
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let Some((field, rest)) = self.buf.split_first_chunk::<N>() else {
            return Err("the snapshot ends in the middle of a producer".into());
        };
        self.buf = rest;
        Ok(*field)
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
        states.record(&batch(7, 0, 0, 3, 10), 0);
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
        states.record(&batch(7, 1, 0, 1, 20), 0);
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

    /// Several producers, one with more batches than are remembered, one with a new epoch.
    fn sample() -> ProducerStates {
        let mut states = ProducerStates::default();
        for i in 0..7 {
            states.record(&batch(7, 0, i * 2, 2, 100 + i as i64 * 2), 1_000 + i as i64);
        }
        states.record(&batch(9, 0, 0, 1, 120), 2_000);
        states.record(&batch(9, 3, 0, 4, 121), 2_500);
        states.record(&batch(i64::MAX, i16::MAX, i32::MAX, 2, 125), 3_000);
        states
    }

    #[test]
    fn snapshots_round_trip() {
        let states = sample();
        let bytes = states.encode_snapshot(127);
        let (offset, decoded) = ProducerStates::decode_snapshot(&bytes).unwrap();
        assert_eq!(offset, 127);
        assert_eq!(decoded, states);
        assert_eq!(decoded.producers.len(), 3);
        assert_eq!(decoded.producers[&7].recent.len(), REMEMBERED_BATCHES);
        assert_eq!(decoded.producers[&7].last_append_ms, 1_006);
        assert_eq!(decoded.producers[&9].epoch, 3);
        // The decoded state answers as the original does: the retry of producer 7's last
        // batch is a duplicate, the one it forgot is out of order, its next batch appends.
        assert_eq!(
            decoded.check(&batch(7, 0, 12, 2, 0)).unwrap(),
            SequenceCheck::Duplicate {
                first_offset: 112,
                last_offset: 113
            }
        );
        assert!(decoded.check(&batch(7, 0, 0, 2, 0)).is_err());
        assert_eq!(
            decoded.check(&batch(7, 0, 14, 1, 0)).unwrap(),
            SequenceCheck::Append
        );
        // Encoding is deterministic (producers by id), and an empty state round-trips too.
        assert_eq!(decoded.encode_snapshot(127), bytes);
        let empty = ProducerStates::default().encode_snapshot(0);
        assert_eq!(
            ProducerStates::decode_snapshot(&empty).unwrap(),
            (0, ProducerStates::default())
        );
    }

    #[test]
    fn damaged_snapshots_are_refused() {
        let bytes = sample().encode_snapshot(127);
        // Any single flipped byte fails the version or the checksum.
        for at in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[at] ^= 0x40;
            let err = ProducerStates::decode_snapshot(&bad).unwrap_err();
            let expected = if at == 0 { "version" } else { "checksum" };
            assert!(err.contains(expected), "byte {at}: {err}");
        }
        // A torn file (any prefix) is refused.
        for len in 0..bytes.len() {
            assert!(
                ProducerStates::decode_snapshot(&bytes[..len]).is_err(),
                "{len} bytes"
            );
        }
        // Consistent checksums over bad contents are refused as well.
        let reseal = |mut b: Vec<u8>| {
            let crc = crc32c::crc32c(&b[SNAPSHOT_HEADER_LEN..]);
            b[1..SNAPSHOT_HEADER_LEN].copy_from_slice(&crc.to_be_bytes());
            b
        };
        let mut trailing = bytes.clone();
        trailing.push(0);
        let err = ProducerStates::decode_snapshot(&reseal(trailing)).unwrap_err();
        assert!(err.contains("after the last producer"), "{err}");
        let mut below = bytes.clone();
        below[5..13].copy_from_slice(&100i64.to_be_bytes()); // offset below its batches
        let err = ProducerStates::decode_snapshot(&reseal(below)).unwrap_err();
        assert!(err.contains("not below"), "{err}");
    }

    #[test]
    fn silent_producers_expire() {
        let mut states = ProducerStates::default();
        states.record(&batch(1, 0, 0, 1, 0), 1_000);
        states.record(&batch(2, 0, 0, 1, 1), 1_000);
        states.record(&batch(2, 0, 1, 1, 2), 5_000);
        assert_eq!(states.expire(5_999, 5_000), 0);
        assert_eq!(
            states.expire(6_000, 5_000),
            1,
            "silent for the whole expiration"
        );
        assert!(matches!(
            states.check(&batch(1, 0, 1, 1, 0)),
            Err(Error::UnknownProducerId { .. })
        ));
        assert_eq!(
            states.check(&batch(2, 0, 2, 1, 0)).unwrap(),
            SequenceCheck::Append
        );
        // A clock that went backwards expires nothing.
        assert_eq!(states.expire(0, 5_000), 0);
        assert_eq!(states.producers.len(), 1);
    }
}
