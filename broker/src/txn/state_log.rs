//! The records of `__transaction_state`, the internal compacted topic where the coordinator
//! keeps every transactional id's [`TxnMetadata`]: one record per change, keyed by the id,
//! so compaction keeps the latest; an expired id gets a tombstone. The layout is Eddy's own
//! (the key is the id's UTF-8 bytes, the value the metadata as JSON), not Kafka's internal
//! schema: no client reads this topic, the broker answers from memory and replays the topic
//! at open.

use bytes::Bytes;

use super::coordinator::TxnMetadata;
use crate::batch::{NewRecord, Record};
use crate::error::{Error, Result};

/// The internal topic holding the coordinator's state.
pub const TRANSACTION_STATE_TOPIC: &str = "__transaction_state";

/// The record for a change of `metadata`.
pub(crate) fn record_for(metadata: &TxnMetadata) -> Result<NewRecord> {
    let value = serde_json::to_vec(metadata)
        .map_err(|e| Error::Decode(format!("cannot encode transaction state: {e}")))?;
    Ok(NewRecord::new(
        Bytes::from(metadata.transactional_id.clone()),
        value,
    ))
}

/// The tombstone that forgets a transactional id.
pub(crate) fn tombstone_for(transactional_id: &str) -> NewRecord {
    NewRecord {
        key: Some(Bytes::from(transactional_id.to_string())),
        ..NewRecord::default()
    }
}

/// What a replayed record says: the id, and its metadata (`None` for a tombstone).
pub(crate) fn decode(record: &Record) -> Result<(String, Option<TxnMetadata>)> {
    let key = record
        .key
        .as_ref()
        .ok_or_else(|| Error::Decode(format!("{TRANSACTION_STATE_TOPIC} record without a key")))?;
    let id = String::from_utf8(key.to_vec())
        .map_err(|e| Error::Decode(format!("{TRANSACTION_STATE_TOPIC} key: {e}")))?;
    let metadata = match &record.value {
        None => None,
        Some(value) => Some(serde_json::from_slice(value).map_err(|e| {
            Error::Decode(format!("{TRANSACTION_STATE_TOPIC} value for {id:?}: {e}"))
        })?),
    };
    Ok((id, metadata))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_and_tombstones_round_trip() {
        let mut metadata = TxnMetadata::new("orders-app", 4, 60_000, 7);
        metadata.add_partitions([("orders".into(), 2)], 8).unwrap();
        let as_record = |r: NewRecord| Record {
            offset: 0,
            timestamp: 0,
            key: r.key,
            value: r.value,
            headers: Vec::new(),
        };
        let (id, back) = decode(&as_record(record_for(&metadata).unwrap())).unwrap();
        assert_eq!((id.as_str(), back), ("orders-app", Some(metadata)));
        let (id, back) = decode(&as_record(tombstone_for("gone"))).unwrap();
        assert_eq!((id.as_str(), back), ("gone", None));
    }
}
