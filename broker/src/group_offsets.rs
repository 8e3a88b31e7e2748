//! Committed consumer-group offsets, stored durably in the internal compacted topic
//! `__consumer_offsets` and mirrored in memory for lookups.
//!
//! Each commit is one record per (group, topic, partition), keyed by that triple, so
//! compaction keeps exactly the latest commit per key; deleting a group writes tombstones.
//! On open the whole topic is replayed into memory. The record layout is Eddy's own (a
//! version, then length-prefixed fields), not Kafka's internal schema: no client reads this
//! topic directly, the broker answers OffsetFetch from memory.

use std::collections::HashMap;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use parking_lot::RwLock;

use crate::batch::NewRecord;
use crate::error::{Error, Result};

/// The internal topic holding committed offsets.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

const FORMAT_VERSION: u16 = 1;

/// A committed position of a consumer group in one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedOffset {
    /// The next offset the group will consume.
    pub offset: i64,
    /// The leader epoch of the last consumed record, or -1.
    pub leader_epoch: i32,
    /// Free-form metadata the client attached.
    pub metadata: String,
    /// When the commit was made (milliseconds since the epoch).
    pub commit_timestamp: i64,
}

/// (group, topic, partition)
pub(crate) type OffsetKey = (String, String, i32);

fn put_str(buf: &mut BytesMut, s: &str) -> Result<()> {
    let len = u16::try_from(s.len())
        .map_err(|_| Error::Decode(format!("string of {} bytes is too long to store", s.len())))?;
    buf.put_u16(len);
    buf.put_slice(s.as_bytes());
    Ok(())
}

fn get_str(buf: &mut Bytes) -> Result<String> {
    if buf.remaining() < 2 {
        return Err(Error::Decode("truncated string length".into()));
    }
    let len = buf.get_u16() as usize;
    if buf.remaining() < len {
        return Err(Error::Decode("truncated string".into()));
    }
    String::from_utf8(buf.split_to(len).to_vec()).map_err(|e| Error::Decode(e.to_string()))
}

pub(crate) fn encode_key(key: &OffsetKey) -> Result<Bytes> {
    let mut buf = BytesMut::new();
    buf.put_u16(FORMAT_VERSION);
    put_str(&mut buf, &key.0)?;
    put_str(&mut buf, &key.1)?;
    buf.put_i32(key.2);
    Ok(buf.freeze())
}

fn decode_key(mut buf: Bytes) -> Result<OffsetKey> {
    if buf.remaining() < 2 || buf.get_u16() != FORMAT_VERSION {
        return Err(Error::Decode("unknown offset key version".into()));
    }
    let group = get_str(&mut buf)?;
    let topic = get_str(&mut buf)?;
    if buf.remaining() < 4 {
        return Err(Error::Decode("truncated partition".into()));
    }
    Ok((group, topic, buf.get_i32()))
}

pub(crate) fn encode_value(value: &CommittedOffset) -> Result<Bytes> {
    let mut buf = BytesMut::new();
    buf.put_u16(FORMAT_VERSION);
    buf.put_i64(value.offset);
    buf.put_i32(value.leader_epoch);
    put_str(&mut buf, &value.metadata)?;
    buf.put_i64(value.commit_timestamp);
    Ok(buf.freeze())
}

fn decode_value(mut buf: Bytes) -> Result<CommittedOffset> {
    if buf.remaining() < 14 || buf.get_u16() != FORMAT_VERSION {
        return Err(Error::Decode("unknown offset value version".into()));
    }
    let offset = buf.get_i64();
    let leader_epoch = buf.get_i32();
    let metadata = get_str(&mut buf)?;
    if buf.remaining() < 8 {
        return Err(Error::Decode("truncated commit timestamp".into()));
    }
    Ok(CommittedOffset {
        offset,
        leader_epoch,
        metadata,
        commit_timestamp: buf.get_i64(),
    })
}

/// The in-memory view of committed offsets. Each entry remembers the log offset of the commit
/// record it came from, so that concurrent commits to one key settle on the one the log
/// ordered last, whatever order their acknowledgements arrive in.
#[derive(Debug, Default)]
pub(crate) struct OffsetCache {
    entries: RwLock<HashMap<OffsetKey, (i64, Option<CommittedOffset>)>>,
}

impl OffsetCache {
    /// Applies one record of the offsets topic, found at `log_offset`.
    pub fn apply(&self, log_offset: i64, key: OffsetKey, value: Option<CommittedOffset>) {
        let mut entries = self.entries.write();
        let slot = entries.entry(key).or_insert((-1, None));
        if log_offset > slot.0 {
            *slot = (log_offset, value);
        }
    }

    /// Replays one stored record; undecodable records are logged and skipped.
    pub fn apply_record(&self, record: &crate::batch::Record) {
        let Some(key_bytes) = record.key.clone() else {
            return;
        };
        let decoded = decode_key(key_bytes).and_then(|key| {
            let value = record.value.clone().map(decode_value).transpose()?;
            Ok((key, value))
        });
        match decoded {
            Ok((key, value)) => self.apply(record.offset, key, value),
            Err(e) => {
                tracing::warn!(offset = record.offset, error = %e, "skipping undecodable offset commit")
            }
        }
    }

    pub fn get(&self, key: &OffsetKey) -> Option<CommittedOffset> {
        self.entries.read().get(key).and_then(|(_, v)| v.clone())
    }

    /// Every live commit of a group.
    pub fn group(&self, group: &str) -> Vec<(String, i32, CommittedOffset)> {
        let mut out: Vec<_> = self
            .entries
            .read()
            .iter()
            .filter(|((g, _, _), _)| g == group)
            .filter_map(|((_, t, p), (_, v))| v.clone().map(|v| (t.clone(), *p, v)))
            .collect();
        out.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        out
    }

    /// Names of groups with at least one live commit.
    pub fn groups(&self) -> Vec<String> {
        let mut groups: Vec<String> = self
            .entries
            .read()
            .iter()
            .filter(|(_, (_, v))| v.is_some())
            .map(|((g, _, _), _)| g.clone())
            .collect();
        groups.sort();
        groups.dedup();
        groups
    }

    /// Keys of live commits matching a filter.
    pub fn keys_where(&self, f: impl Fn(&OffsetKey) -> bool) -> Vec<OffsetKey> {
        self.entries
            .read()
            .iter()
            .filter(|(k, (_, v))| v.is_some() && f(k))
            .map(|(k, _)| k.clone())
            .collect()
    }
}

/// Groups used by consumers inside this process (the streams runtime's embedded backend),
/// which the group coordinator never sees as members: while one is held, offsets
/// retention leaves its committed offsets alone, as Kafka does for a group with members.
#[derive(Debug, Default)]
pub(crate) struct LocalGroups {
    held: parking_lot::Mutex<HashMap<String, usize>>,
}

impl LocalGroups {
    pub fn hold(&self, group: &str) {
        *self.held.lock().entry(group.to_string()).or_default() += 1;
    }

    pub fn release(&self, group: &str) {
        let mut held = self.held.lock();
        if let Some(count) = held.get_mut(group) {
            *count -= 1;
            if *count == 0 {
                held.remove(group);
            }
        }
    }

    pub fn is_held(&self, group: &str) -> bool {
        self.held.lock().contains_key(group)
    }
}

/// Builds the record for a commit (or, with `None`, a tombstone).
pub(crate) fn commit_record(key: &OffsetKey, value: Option<&CommittedOffset>) -> Result<NewRecord> {
    Ok(NewRecord {
        key: Some(encode_key(key)?),
        value: value.map(encode_value).transpose()?,
        headers: Vec::new(),
        timestamp: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_values_round_trip() {
        let key = ("g".to_string(), "orders".to_string(), 7);
        assert_eq!(decode_key(encode_key(&key).unwrap()).unwrap(), key);
        let value = CommittedOffset {
            offset: 42,
            leader_epoch: -1,
            metadata: "m".into(),
            commit_timestamp: 1000,
        };
        assert_eq!(decode_value(encode_value(&value).unwrap()).unwrap(), value);
        assert!(decode_key(Bytes::from_static(b"\x00\x09")).is_err());
    }

    #[test]
    fn the_later_log_offset_wins() {
        let cache = OffsetCache::default();
        let key = ("g".to_string(), "t".to_string(), 0);
        let at = |offset| CommittedOffset {
            offset,
            leader_epoch: -1,
            metadata: String::new(),
            commit_timestamp: 0,
        };
        cache.apply(5, key.clone(), Some(at(50)));
        cache.apply(3, key.clone(), Some(at(30)));
        assert_eq!(cache.get(&key).unwrap().offset, 50);
        cache.apply(6, key.clone(), None);
        assert_eq!(cache.get(&key), None);
        assert!(cache.groups().is_empty());
    }
}
