//! Kafka RecordBatch v2: reading and checking batch headers on the hot path, and building or
//! decoding whole batches through the `kafka-protocol` crate.
//!
//! The log stores batches byte for byte as producers send them, so appending only needs the
//! 61-byte header: check length, magic and CRC-32C, then write the base offset in place (the
//! base offset and leader epoch sit outside the CRC, so the producer's checksum stays valid).
//! `kafka-protocol`'s decoder checks the CRC too, but it always decodes every record and it does
//! not expose `lastOffsetDelta` or `maxTimestamp`, which the log and its time index need per
//! append; hence this small header view. Everything that needs the records themselves
//! (encoding a produce, compaction, timestamp lookups) goes through `kafka-protocol`.

use bytes::{Bytes, BytesMut};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use crate::error::{Error, Result};

/// Bytes before the batch length field counts from: base offset (8) and batch length (4).
pub const LOG_OVERHEAD: usize = 12;
/// Size of a RecordBatch v2 header, up to and including the record count.
pub const HEADER_LEN: usize = 61;
/// The only record format stored: RecordBatch v2.
pub const MAGIC_V2: i8 = 2;

const CRC_OFFSET: usize = 17;
const ATTRIBUTES_OFFSET: usize = 21;

/// The fixed header of one RecordBatch v2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    /// Offset of the first record.
    pub base_offset: i64,
    /// Bytes after the length field (so the whole batch is `LOG_OVERHEAD + batch_length`).
    pub batch_length: i32,
    /// Leader epoch stamped by the broker.
    pub partition_leader_epoch: i32,
    /// Format version; 2 for everything stored here.
    pub magic: i8,
    /// CRC-32C over everything from the attributes to the end of the batch.
    pub crc: u32,
    /// Compression codec, timestamp type, transactional and control flags.
    pub attributes: i16,
    /// Offset of the last record minus the base offset.
    pub last_offset_delta: i32,
    /// Timestamp of the first record.
    pub base_timestamp: i64,
    /// Largest record timestamp in the batch.
    pub max_timestamp: i64,
    /// Idempotent producer id, or -1.
    pub producer_id: i64,
    /// Idempotent producer epoch, or -1.
    pub producer_epoch: i16,
    /// Sequence number of the first record, or -1.
    pub base_sequence: i32,
    /// Number of records in the batch.
    pub records_count: i32,
}

fn be_i64(b: &[u8], at: usize) -> i64 {
    i64::from_be_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}
fn be_i32(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}
fn be_i16(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes(b[at..at + 2].try_into().expect("2 bytes"))
}

impl BatchHeader {
    /// Parses the header at the start of `buf`, which must hold at least [`HEADER_LEN`] bytes.
    /// Checks the length field and magic, not the CRC.
    pub fn parse(buf: &[u8]) -> Result<Self, String> {
        if buf.len() < HEADER_LEN {
            return Err(format!(
                "{} bytes is shorter than a batch header ({HEADER_LEN})",
                buf.len()
            ));
        }
        let header = Self {
            base_offset: be_i64(buf, 0),
            batch_length: be_i32(buf, 8),
            partition_leader_epoch: be_i32(buf, 12),
            magic: buf[16] as i8,
            crc: u32::from_be_bytes(buf[CRC_OFFSET..CRC_OFFSET + 4].try_into().expect("4 bytes")),
            attributes: be_i16(buf, ATTRIBUTES_OFFSET),
            last_offset_delta: be_i32(buf, 23),
            base_timestamp: be_i64(buf, 27),
            max_timestamp: be_i64(buf, 35),
            producer_id: be_i64(buf, 43),
            producer_epoch: be_i16(buf, 51),
            base_sequence: be_i32(buf, 53),
            records_count: be_i32(buf, 57),
        };
        if header.magic != MAGIC_V2 {
            return Err(format!(
                "magic byte {} is not 2 (only RecordBatch v2 is supported)",
                header.magic
            ));
        }
        if (header.batch_length as i64) < (HEADER_LEN - LOG_OVERHEAD) as i64 {
            return Err(format!(
                "batch length {} is shorter than the header",
                header.batch_length
            ));
        }
        if header.last_offset_delta < 0 || header.records_count < 0 {
            return Err(format!(
                "negative last offset delta ({}) or record count ({})",
                header.last_offset_delta, header.records_count
            ));
        }
        Ok(header)
    }

    /// Size of the whole batch in bytes, headers included.
    pub fn total_len(&self) -> usize {
        LOG_OVERHEAD + self.batch_length as usize
    }

    /// Offset of the last record in the batch.
    pub fn last_offset(&self) -> i64 {
        self.base_offset + self.last_offset_delta as i64
    }

    /// The compression codec id (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd).
    pub fn compression(&self) -> u8 {
        (self.attributes & 0x7) as u8
    }

    /// Whether the batch belongs to a transaction (its records, or its marker).
    pub fn is_transactional(&self) -> bool {
        self.attributes & (1 << 4) != 0
    }

    /// Whether the batch holds transaction markers rather than data.
    pub fn is_control(&self) -> bool {
        self.attributes & (1 << 5) != 0
    }
}

/// Checks a whole batch (header and CRC) at the start of `buf`; returns its header.
/// `buf` may hold more bytes after the batch.
pub fn check_batch(buf: &[u8]) -> Result<BatchHeader, String> {
    let header = BatchHeader::parse(buf)?;
    let total = header.total_len();
    if buf.len() < total {
        return Err(format!(
            "batch claims {total} bytes but only {} are present",
            buf.len()
        ));
    }
    let actual = crc32c::crc32c(&buf[ATTRIBUTES_OFFSET..total]);
    if actual != header.crc {
        return Err(format!(
            "CRC-32C mismatch at base offset {}: stored {:#010x}, computed {actual:#010x}",
            header.base_offset, header.crc
        ));
    }
    Ok(header)
}

/// Walks the records of an uncompressed batch body, checking that each record's length and
/// offset delta are consistent and that they fill the body exactly. (Compressed bodies are
/// checked by their CRC only; decompressing every produce is left to consumers, as the batch
/// is stored as sent.)
fn check_uncompressed_records(header: &BatchHeader, body: &[u8]) -> Result<(), String> {
    let mut at = 0usize;
    for index in 0..header.records_count {
        let (len, used) =
            read_varint(&body[at..]).ok_or_else(|| format!("record {index}: truncated length"))?;
        at += used;
        if len < 0 || at + len as usize > body.len() {
            return Err(format!("record {index}: length {len} runs past the batch"));
        }
        let record = &body[at..at + len as usize];
        // attributes (1 byte), timestamp delta (varlong), offset delta (varint)
        let rest = record
            .get(1..)
            .ok_or_else(|| format!("record {index}: empty"))?;
        let (_, ts_len) =
            read_varlong(rest).ok_or_else(|| format!("record {index}: bad timestamp delta"))?;
        let (delta, _) = read_varint(&rest[ts_len..])
            .ok_or_else(|| format!("record {index}: bad offset delta"))?;
        if delta != index {
            return Err(format!("record {index} has offset delta {delta}"));
        }
        at += len as usize;
    }
    if at != body.len() {
        return Err(format!(
            "{} bytes left over after {} records",
            body.len() - at,
            header.records_count
        ));
    }
    Ok(())
}

fn read_varlong(buf: &[u8]) -> Option<(i64, usize)> {
    let mut value: u64 = 0;
    for (i, byte) in buf.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            let decoded = ((value >> 1) as i64) ^ -((value & 1) as i64);
            return Some((decoded, i + 1));
        }
    }
    None
}

fn read_varint(buf: &[u8]) -> Option<(i32, usize)> {
    let (v, used) = read_varlong(&buf[..buf.len().min(5)])?;
    i32::try_from(v).ok().map(|v| (v, used))
}

/// The offset after the last whole batch in `batches` (as returned by a fetch), from the
/// batch headers alone; `None` if there is no whole batch.
pub fn next_offset_after(batches: &[u8]) -> Option<i64> {
    let mut at = 0;
    let mut next = None;
    while let Ok(header) = BatchHeader::parse(&batches[at..]) {
        if at + header.total_len() > batches.len() {
            break;
        }
        next = Some(header.last_offset() + 1);
        at += header.total_len();
    }
    next
}

/// Number of records in the whole batches of `batches`, from the headers alone.
pub fn count_records(batches: &[u8]) -> u64 {
    let mut at = 0;
    let mut count = 0;
    while let Ok(header) = BatchHeader::parse(&batches[at..]) {
        if at + header.total_len() > batches.len() {
            break;
        }
        count += header.records_count as u64;
        at += header.total_len();
    }
    count
}

/// One batch found by [`validate_produce`]: where it sits in the input and its header.
#[derive(Debug, Clone, Copy)]
pub struct ProducedBatch {
    /// Byte position in the input buffer.
    pub position: usize,
    /// The batch's header as the producer sent it.
    pub header: BatchHeader,
}

/// Validates the record batches a producer sent, before anything is written: every batch must
/// be complete, v2, CRC-correct, non-empty, with consecutive offsets, and no larger than
/// `max_batch_bytes`. Returns the batches in order.
pub fn validate_produce(buf: &[u8], max_batch_bytes: usize) -> Result<Vec<ProducedBatch>> {
    if buf.is_empty() {
        return Err(Error::CorruptBatch(
            "no record batches in the request".into(),
        ));
    }
    let mut batches = Vec::new();
    let mut position = 0;
    while position < buf.len() {
        let rest = &buf[position..];
        let header = check_batch(rest).map_err(Error::CorruptBatch)?;
        let total = header.total_len();
        if total > max_batch_bytes {
            return Err(Error::MessageTooLarge {
                size: total,
                max: max_batch_bytes,
            });
        }
        if header.records_count == 0 {
            return Err(Error::CorruptBatch("a batch with no records".into()));
        }
        if header.last_offset_delta != header.records_count - 1 {
            return Err(Error::CorruptBatch(format!(
                "last offset delta {} does not match {} records",
                header.last_offset_delta, header.records_count
            )));
        }
        if header.compression() == 0 {
            check_uncompressed_records(&header, &rest[HEADER_LEN..total])
                .map_err(Error::CorruptBatch)?;
        } else if header.compression() > 4 {
            return Err(Error::CorruptBatch(format!(
                "unknown compression codec {}",
                header.compression()
            )));
        }
        batches.push(ProducedBatch { position, header });
        position += total;
    }
    Ok(batches)
}

/// Writes the broker-assigned base offset and leader epoch into a batch in place. Neither is
/// covered by the CRC, so the batch stays valid.
pub fn stamp_batch(batch: &mut [u8], base_offset: i64, leader_epoch: i32) {
    batch[0..8].copy_from_slice(&base_offset.to_be_bytes());
    batch[12..16].copy_from_slice(&leader_epoch.to_be_bytes());
}

/// A record to append: what a producer supplies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewRecord {
    /// The key; `None` for unkeyed records. Compaction keeps the latest record per key.
    pub key: Option<Bytes>,
    /// The value; `None` is a tombstone.
    pub value: Option<Bytes>,
    /// Headers, in order.
    pub headers: Vec<(String, Option<Bytes>)>,
    /// Event time in milliseconds since the epoch; `None` means "now".
    pub timestamp: Option<i64>,
}

impl NewRecord {
    /// A keyed record with a value.
    pub fn new(key: impl Into<Bytes>, value: impl Into<Bytes>) -> Self {
        Self {
            key: Some(key.into()),
            value: Some(value.into()),
            ..Self::default()
        }
    }

    /// An unkeyed record.
    pub fn value(value: impl Into<Bytes>) -> Self {
        Self {
            value: Some(value.into()),
            ..Self::default()
        }
    }

    /// Sets the timestamp.
    pub fn at(mut self, timestamp: i64) -> Self {
        self.timestamp = Some(timestamp);
        self
    }
}

/// A record read back from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Its offset in the partition.
    pub offset: i64,
    /// Its timestamp (milliseconds since the epoch).
    pub timestamp: i64,
    /// The key.
    pub key: Option<Bytes>,
    /// The value; `None` is a tombstone.
    pub value: Option<Bytes>,
    /// Headers, in order.
    pub headers: Vec<(String, Option<Bytes>)>,
}

/// The producer fields of a batch an idempotent or transactional producer writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerFields {
    /// The producer id (from InitProducerId).
    pub producer_id: i64,
    /// Its epoch.
    pub producer_epoch: i16,
    /// The sequence number of the batch's first record in its partition.
    pub base_sequence: i32,
    /// Whether the batch belongs to a transaction.
    pub transactional: bool,
}

fn to_kafka_record(
    offset: i64,
    timestamp: i64,
    record: &NewRecord,
    producer: Option<ProducerFields>,
) -> kafka_protocol::records::Record {
    kafka_protocol::records::Record {
        transactional: producer.is_some_and(|p| p.transactional),
        control: false,
        delete_horizon: false,
        partition_leader_epoch: 0,
        producer_id: producer.map_or(-1, |p| p.producer_id),
        producer_epoch: producer.map_or(-1, |p| p.producer_epoch),
        timestamp_type: TimestampType::Creation,
        offset,
        // The encoder derives the batch's base sequence from the first record; with no
        // producer id that must come out as -1.
        sequence: match producer {
            Some(p) => p.base_sequence.wrapping_add(offset as i32),
            None => (offset - 1) as i32,
        },
        timestamp: record.timestamp.unwrap_or(timestamp),
        key: record.key.clone(),
        value: record.value.clone(),
        headers: record
            .headers
            .iter()
            .map(|(k, v)| (StrBytes::from_string(k.clone()), v.clone()))
            .collect(),
    }
}

/// Encodes records into one RecordBatch v2 (relative offsets from 0), stamping `now_ms` on
/// records without a timestamp.
pub fn encode_batch(records: &[NewRecord], now_ms: i64, compression: Compression) -> Result<Bytes> {
    encode_producer_batch(records, now_ms, compression, None)
}

/// Like [`encode_batch`], with an idempotent or transactional producer's fields (`None`:
/// none, as [`encode_batch`]).
pub fn encode_producer_batch(
    records: &[NewRecord],
    now_ms: i64,
    compression: Compression,
    producer: Option<ProducerFields>,
) -> Result<Bytes> {
    if records.is_empty() {
        return Err(Error::CorruptBatch("no records to encode".into()));
    }
    let kafka_records: Vec<_> = records
        .iter()
        .enumerate()
        .map(|(i, r)| to_kafka_record(i as i64, now_ms, r, producer))
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &kafka_records,
        &RecordEncodeOptions {
            version: MAGIC_V2,
            compression,
        },
    )
    .map_err(|e| Error::CorruptBatch(format!("cannot encode records: {e}")))?;
    Ok(buf.freeze())
}

/// The batches of `batches` (whole batches, as a `read_committed` fetch returns them) that
/// do not belong to one of the `aborted` transactions: what a `read_committed` client keeps.
pub fn without_aborted(batches: &Bytes, aborted: &[crate::txn::AbortedTxn]) -> Bytes {
    if aborted.is_empty() {
        return batches.clone();
    }
    let mut kept = BytesMut::with_capacity(batches.len());
    let mut at = 0;
    while let Ok(header) = BatchHeader::parse(&batches[at..]) {
        let end = at + header.total_len();
        if end > batches.len() {
            break;
        }
        let dropped = header.is_transactional()
            && !header.is_control()
            && aborted.iter().any(|t| {
                t.producer_id == header.producer_id
                    && t.first_offset <= header.base_offset
                    && header.base_offset < t.last_offset
            });
        if !dropped {
            kept.extend_from_slice(&batches[at..end]);
        }
        at = end;
    }
    kept.freeze()
}

/// Decodes every record in a buffer of whole batches (as returned by a fetch), skipping
/// control batches.
pub fn decode_records(batches: &Bytes) -> Result<Vec<Record>> {
    let mut buf = batches.clone();
    let sets =
        RecordBatchDecoder::decode_all(&mut buf).map_err(|e| Error::Decode(e.to_string()))?;
    Ok(sets
        .into_iter()
        .flat_map(|set| set.records)
        .filter(|r| !r.control)
        .map(|r| Record {
            offset: r.offset,
            timestamp: r.timestamp,
            key: r.key,
            value: r.value,
            headers: r
                .headers
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        })
        .collect())
}

/// Decodes the records of a single batch together with its producer fields, for compaction.
pub(crate) fn decode_batch_full(batch: &[u8]) -> Result<Vec<kafka_protocol::records::Record>> {
    let mut buf = Bytes::copy_from_slice(batch);
    let set = RecordBatchDecoder::decode(&mut buf).map_err(|e| Error::Decode(e.to_string()))?;
    Ok(set.records)
}

/// Re-encodes kept records of one batch (compaction output), preserving offsets, timestamps
/// and producer fields, with the batch's original compression.
pub(crate) fn reencode_batch(
    records: &[kafka_protocol::records::Record],
    compression: u8,
) -> Result<Bytes> {
    let compression = match compression {
        1 => Compression::Gzip,
        2 => Compression::Snappy,
        3 => Compression::Lz4,
        4 => Compression::Zstd,
        _ => Compression::None,
    };
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        records,
        &RecordEncodeOptions {
            version: MAGIC_V2,
            compression,
        },
    )
    .map_err(|e| Error::Decode(format!("cannot re-encode compacted batch: {e}")))?;
    Ok(buf.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Bytes {
        encode_batch(
            &[
                NewRecord::new("k1", "v1").at(10),
                NewRecord::value("v2").at(12),
            ],
            0,
            Compression::None,
        )
        .unwrap()
    }

    #[test]
    fn header_of_an_encoded_batch() {
        let batch = sample();
        let header = check_batch(&batch).unwrap();
        assert_eq!(header.records_count, 2);
        assert_eq!(header.last_offset_delta, 1);
        assert_eq!(header.max_timestamp, 12);
        assert_eq!(header.base_sequence, -1);
        assert_eq!(header.producer_id, -1);
        assert_eq!(header.total_len(), batch.len());
        assert_eq!(validate_produce(&batch, 1 << 20).unwrap().len(), 1);
    }

    #[test]
    fn stamping_keeps_the_crc_valid() {
        let mut batch = BytesMut::from(&sample()[..]);
        stamp_batch(&mut batch, 1234, 0);
        let header = check_batch(&batch).unwrap();
        assert_eq!(header.base_offset, 1234);
        let records = decode_records(&batch.freeze()).unwrap();
        assert_eq!(records[0].offset, 1234);
        assert_eq!(records[1].offset, 1235);
        assert_eq!(records[0].key.as_deref(), Some(&b"k1"[..]));
        assert_eq!(records[1].key, None);
    }

    #[test]
    fn bad_batches_are_refused_with_a_reason() {
        let good = sample();
        let mut flipped = good.to_vec();
        let last = flipped.len() - 1;
        flipped[last] ^= 0x55;
        let err = validate_produce(&flipped, 1 << 20).unwrap_err().to_string();
        assert!(err.contains("CRC"), "{err}");

        let err = validate_produce(&good[..good.len() - 3], 1 << 20)
            .unwrap_err()
            .to_string();
        assert!(err.contains("only"), "{err}");

        let err = validate_produce(&good[..20], 1 << 20)
            .unwrap_err()
            .to_string();
        assert!(err.contains("shorter"), "{err}");

        let err = validate_produce(&good, 10).unwrap_err();
        assert!(matches!(err, Error::MessageTooLarge { .. }), "{err}");

        let mut bad_magic = good.to_vec();
        bad_magic[16] = 1;
        let err = validate_produce(&bad_magic, 1 << 20)
            .unwrap_err()
            .to_string();
        assert!(err.contains("magic"), "{err}");

        assert!(validate_produce(&[], 1 << 20).is_err());
    }

    #[test]
    fn compressed_batches_round_trip() {
        for compression in [
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let records: Vec<_> = (0..50)
                .map(|i| NewRecord::new(format!("k{i}"), vec![b'x'; 100]).at(i))
                .collect();
            let batch = encode_batch(&records, 0, compression).unwrap();
            validate_produce(&batch, 1 << 20).unwrap();
            assert_eq!(decode_records(&batch).unwrap().len(), 50);
        }
    }
}
