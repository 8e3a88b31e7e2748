//! The nodes the DSL builds: one module per family of operators.

pub(crate) mod aggregate;
pub(crate) mod emit_progress;
pub(crate) mod fk_join;
pub(crate) mod join;
pub(crate) mod raw;
pub(crate) mod record_cache;
pub(crate) mod session;
pub(crate) mod sink;
pub(crate) mod sliding;
pub(crate) mod source;
pub(crate) mod stateless;
pub(crate) mod window;

use eddy_state::Serde;

use crate::error::{Error, Result};

/// Serialises a value for a store, naming the store if it fails.
pub(crate) fn encode<T>(serde: &dyn Serde<T>, value: &T, store: &str) -> Result<Vec<u8>> {
    serde.serialize(value).map_err(|source| Error::Serialize {
        target: format!("store {store}"),
        source,
    })
}

/// Deserialises a value read back from a store.
pub(crate) fn decode<T>(serde: &dyn Serde<T>, bytes: &[u8]) -> Result<T> {
    Ok(serde.deserialize(bytes)?)
}

/// A stored value with the record time it carries in front, as 8 big-endian bytes (Kafka
/// Streams' `ValueAndTimestamp`): how window aggregates keep the largest record time of
/// each window. Stores holding such values are marked timestamped in the topology, so
/// that typed reads skip the time.
pub(crate) fn with_time(time: i64, value: Vec<u8>) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(8 + value.len());
    bytes.extend_from_slice(&time.to_be_bytes());
    bytes.extend(value);
    bytes
}

/// Splits a value made by [`with_time`] into its time and the value; `what` names the
/// store's contents if it is too short.
pub(crate) fn split_time<'a>(bytes: &'a [u8], what: &'static str) -> Result<(i64, &'a [u8])> {
    match bytes.split_first_chunk::<8>() {
        Some((time, value)) => Ok((i64::from_be_bytes(*time), value)),
        None => Err(Error::State(eddy_state::Error::Decode {
            what,
            reason: format!("{} bytes, shorter than its 8-byte time", bytes.len()),
        })),
    }
}

/// Length-prefixed list of byte strings: how join buffers keep several records under one
/// key and time.
pub(crate) fn push_item(list: &mut Vec<u8>, item: &[u8]) {
    list.extend_from_slice(&(item.len() as u32).to_be_bytes());
    list.extend_from_slice(item);
}

/// The items of a list made by [`push_item`]; a truncated tail is reported, not read.
pub(crate) fn items(mut list: &[u8]) -> Result<Vec<&[u8]>> {
    let mut out = Vec::new();
    while !list.is_empty() {
        if list.len() < 4 {
            return Err(corrupt_list());
        }
        let len = u32::from_be_bytes([list[0], list[1], list[2], list[3]]) as usize;
        if list.len() < 4 + len {
            return Err(corrupt_list());
        }
        out.push(&list[4..4 + len]);
        list = &list[4 + len..];
    }
    Ok(out)
}

fn corrupt_list() -> Error {
    Error::State(eddy_state::Error::Decode {
        what: "join buffer entry",
        reason: "truncated length-prefixed list".to_string(),
    })
}

/// Gives the records a node produced while handling one input record that record's
/// headers (Kafka Streams forwards with the current record's headers: an aggregation's
/// updates and final results, a join's results). Call [`HeaderStamp::next`] before handling
/// each input record and [`HeaderStamp::finish`] after the last.
pub(crate) struct HeaderStamp {
    from: usize,
    headers: Option<std::sync::Arc<crate::record::Headers>>,
}

impl HeaderStamp {
    pub(crate) fn new() -> Self {
        Self {
            from: 0,
            headers: None,
        }
    }

    /// Stamps what the previous input produced, then remembers `headers` for the next.
    pub(crate) fn next<K, V>(
        &mut self,
        out: &mut [crate::record::Record<K, V>],
        headers: Option<std::sync::Arc<crate::record::Headers>>,
    ) {
        self.finish(out);
        self.headers = headers;
    }

    /// Stamps what the last input produced.
    pub(crate) fn finish<K, V>(&mut self, out: &mut [crate::record::Record<K, V>]) {
        if self.headers.is_some() {
            for r in &mut out[self.from..] {
                r.headers = self.headers.clone();
            }
        }
        self.from = out.len();
    }
}
