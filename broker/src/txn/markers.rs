//! Transaction markers: the control batches a transaction coordinator writes into every
//! partition of a transaction when it commits or aborts (KIP-98), and cutting a fetch's batches
//! at the last stable offset.
//!
//! A marker is a RecordBatch v2 with the transactional and control attribute bits set and one
//! record, whose key is `version: i16 (0) | type: i16` (0 abort, 1 commit) and whose value is
//! `version: i16 (0) | coordinator_epoch: i32`, as Kafka's `EndTransactionMarker` writes it.
//! Clients read them: a `read_committed` consumer stops skipping an aborted transaction's
//! records at its abort marker.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use crate::batch::{BatchHeader, HEADER_LEN, MAGIC_V2};
use crate::error::{Error, Result};

const ABORT: i16 = 0;
const COMMIT: i16 = 1;

/// How a transaction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Outcome {
    /// Its records are visible to `read_committed` readers.
    Commit,
    /// Its records are skipped by `read_committed` readers.
    Abort,
}

/// A commit or abort marker for one producer, as one control batch (offset 0, to be stamped
/// by the log).
pub(crate) fn encode_marker(
    producer_id: i64,
    producer_epoch: i16,
    outcome: Outcome,
    coordinator_epoch: i32,
    now_ms: i64,
) -> Result<Bytes> {
    let mut key = BytesMut::with_capacity(4);
    key.put_i16(0);
    key.put_i16(match outcome {
        Outcome::Commit => COMMIT,
        Outcome::Abort => ABORT,
    });
    let mut value = BytesMut::with_capacity(6);
    value.put_i16(0);
    value.put_i32(coordinator_epoch);
    let record = Record {
        transactional: true,
        control: true,
        delete_horizon: false,
        partition_leader_epoch: 0,
        producer_id,
        producer_epoch,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        // Control batches carry no sequence (-1); the encoder takes the first record's.
        sequence: -1,
        timestamp: now_ms,
        key: Some(key.freeze()),
        value: Some(value.freeze()),
        headers: Default::default(),
    };
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        [&record],
        &RecordEncodeOptions {
            version: MAGIC_V2,
            compression: Compression::None,
        },
    )
    .map_err(|e| Error::CorruptBatch(format!("cannot encode a transaction marker: {e}")))?;
    Ok(buf.freeze())
}

/// The outcome a control batch records, or `None` for a control batch that is not a
/// transaction marker (Kafka has none other in user partitions; tolerated, ignored).
pub(crate) fn decode_marker(batch: &[u8]) -> Result<Option<Outcome>> {
    let mut buf = Bytes::copy_from_slice(batch);
    let set = RecordBatchDecoder::decode(&mut buf)
        .map_err(|e| Error::Decode(format!("unreadable control batch: {e}")))?;
    let Some(mut key) = set.records.first().and_then(|r| r.key.clone()) else {
        return Ok(None);
    };
    if key.remaining() < 4 {
        return Ok(None);
    }
    let _version = key.get_i16();
    Ok(match key.get_i16() {
        ABORT => Some(Outcome::Abort),
        COMMIT => Some(Outcome::Commit),
        _ => None,
    })
}

/// The leading whole batches of `batches` that start below `end` (a fetch's bytes cut at the
/// last stable offset for a `read_committed` reader).
pub(crate) fn batches_below(batches: Bytes, end: i64) -> Bytes {
    let mut position = 0;
    while position + HEADER_LEN <= batches.len() {
        let Ok(header) = BatchHeader::parse(&batches[position..]) else {
            break;
        };
        if header.base_offset >= end {
            break;
        }
        position += header.total_len();
    }
    batches.slice(..position.min(batches.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::check_batch;

    #[test]
    fn markers_round_trip_with_the_control_and_transactional_bits() {
        for outcome in [Outcome::Commit, Outcome::Abort] {
            let batch = encode_marker(7, 3, outcome, 0, 1_000).unwrap();
            let header = check_batch(&batch).unwrap();
            assert!(header.is_control() && header.is_transactional());
            assert_eq!((header.producer_id, header.producer_epoch), (7, 3));
            assert_eq!(header.base_sequence, -1);
            assert_eq!(decode_marker(&batch).unwrap(), Some(outcome));
        }
    }

    #[test]
    fn batches_are_cut_at_the_first_one_at_or_past_the_end() {
        let one = crate::batch::encode_batch(
            &[crate::NewRecord::value("a"), crate::NewRecord::value("b")],
            0,
            Compression::None,
        )
        .unwrap();
        let mut second = BytesMut::from(&one[..]);
        crate::batch::stamp_batch(&mut second, 2, 0);
        let both = Bytes::from([&one[..], &second[..]].concat());
        assert_eq!(batches_below(both.clone(), 2).len(), one.len());
        assert_eq!(batches_below(both.clone(), 3).len(), both.len());
        assert_eq!(batches_below(both, 0).len(), 0);
    }
}
