//! Source nodes: decode the records of a topic partition into typed records, and the
//! `KTABLE-SOURCE` processor that materialises a table.

use std::sync::Arc;

use eddy_state::{KeyValueStore, Serde};

use crate::error::Result;
use crate::processor::{AnyBatch, Context, InitContext, Node, downcast};
use crate::record::{Change, Record, SourceRecord};
use crate::serdes::SerdeRef;

use super::{decode, encode};

/// The largest record time sources accept (year 100 000, in ms): far beyond any real clock,
/// and far enough below `i64::MAX` that window arithmetic (`start + size + grace`, a sliding
/// window's `t + 1 + difference`) never overflows on a record's time.
pub(crate) const MAX_TIMESTAMP: i64 = 3_093_527_980_800_000;

/// A user timestamp extractor: `(key, value, record timestamp) -> event time`.
pub type TimestampExtractor<K, V> = Arc<dyn Fn(&K, &V, i64) -> i64 + Send + Sync>;

/// How a source turns a value (or a tombstone) into what it forwards; `None` skips it.
pub(crate) type DecodeValue<V, O> =
    fn(Option<&[u8]>, &dyn Serde<V>) -> Option<eddy_state::Result<O>>;

/// Streams drop tombstones: a stream value cannot be null.
pub(crate) fn stream_value<V>(
    bytes: Option<&[u8]>,
    serde: &dyn Serde<V>,
) -> Option<eddy_state::Result<V>> {
    bytes.map(|b| serde.deserialize(b))
}

/// Tables keep tombstones as deletes.
pub(crate) fn table_value<V>(
    bytes: Option<&[u8]>,
    serde: &dyn Serde<V>,
) -> Option<eddy_state::Result<Option<V>>> {
    Some(match bytes {
        Some(b) => serde.deserialize(b).map(Some),
        None => Ok(None),
    })
}

pub(crate) struct SourceNode<K, V, O> {
    name: String,
    key_serde: SerdeRef<K>,
    value_serde: SerdeRef<V>,
    extractor: Option<TimestampExtractor<K, O>>,
    decode_value: DecodeValue<V, O>,
}

impl<K, V, O> SourceNode<K, V, O> {
    pub fn new(
        name: &str,
        key_serde: SerdeRef<K>,
        value_serde: SerdeRef<V>,
        extractor: Option<TimestampExtractor<K, O>>,
        decode_value: DecodeValue<V, O>,
    ) -> Self {
        Self {
            name: name.to_string(),
            key_serde,
            value_serde,
            extractor,
            decode_value,
        }
    }
}

impl<K, V, O> Node for SourceNode<K, V, O>
where
    K: Clone + Send + 'static,
    V: Send + 'static,
    O: Clone + Send + 'static,
{
    fn process(&mut self, batch: AnyBatch, ctx: &mut Context<'_>) -> Result<()> {
        let input = downcast::<Vec<SourceRecord>>(batch, &self.name)?;
        ctx.record_processed(input.len() as u64);
        let mut out = Vec::with_capacity(input.len());
        let mut skipped = 0u64;
        for record in input {
            let key = match self
                .key_serde
                .deserialize(record.key.as_deref().unwrap_or_default())
            {
                Ok(key) => key,
                Err(e) => {
                    tracing::warn!(source = %self.name, offset = record.offset, error = %e, "skipping a record whose key cannot be decoded");
                    skipped += 1;
                    continue;
                }
            };
            let value = match (self.decode_value)(record.value.as_deref(), &*self.value_serde) {
                None => {
                    skipped += 1;
                    continue;
                }
                Some(Ok(value)) => value,
                Some(Err(e)) => {
                    tracing::warn!(source = %self.name, offset = record.offset, error = %e, "skipping a record whose value cannot be decoded");
                    skipped += 1;
                    continue;
                }
            };
            let timestamp = match &self.extractor {
                Some(extract) => extract(&key, &value, record.timestamp),
                None => record.timestamp,
            };
            if !(0..=MAX_TIMESTAMP).contains(&timestamp) {
                tracing::warn!(source = %self.name, offset = record.offset, timestamp, "skipping a record with a timestamp out of range (negative, or past year 100 000)");
                skipped += 1;
                continue;
            }
            ctx.observe_time(timestamp);
            out.push(
                Record::new(key, value, timestamp)
                    .with_headers(crate::record::shared_headers(record.headers.clone())),
            );
        }
        if skipped > 0 {
            ctx.record_skipped(skipped);
        }
        ctx.forward_records(out);
        Ok(())
    }
}

/// `KTABLE-SOURCE`: upserts (or deletes) each record in the table's store and forwards the
/// change with the old value. A delete of a key the store does not have changes nothing; it
/// is forwarded (`Change { new: None, old: None }`, as Kafka Streams' `KTableSource` does)
/// only with `forward_absent_deletes`.
pub(crate) struct TableSourceNode<K, V> {
    name: String,
    store_name: String,
    key_serde: SerdeRef<K>,
    value_serde: SerdeRef<V>,
    forward_absent_deletes: bool,
    store: Option<Arc<dyn KeyValueStore>>,
}

impl<K, V> TableSourceNode<K, V> {
    pub fn new(
        name: &str,
        store: &str,
        key_serde: SerdeRef<K>,
        value_serde: SerdeRef<V>,
        forward_absent_deletes: bool,
    ) -> Self {
        Self {
            name: name.to_string(),
            store_name: store.to_string(),
            key_serde,
            value_serde,
            forward_absent_deletes,
            store: None,
        }
    }
}

impl<K, V> Node for TableSourceNode<K, V>
where
    K: Clone + Send + 'static,
    V: Clone + Send + 'static,
{
    fn init(&mut self, ctx: &mut InitContext<'_>) -> Result<()> {
        self.store = Some(ctx.kv_store(&self.store_name)?);
        Ok(())
    }

    fn process(&mut self, batch: AnyBatch, ctx: &mut Context<'_>) -> Result<()> {
        let input = downcast::<Vec<Record<K, Option<V>>>>(batch, &self.name)?;
        let store = self.store.as_ref().expect("init opened the store");
        let mut out = Vec::with_capacity(input.len());
        for record in input {
            let key = encode(&*self.key_serde, &record.key, &self.store_name)?;
            let old = match store.get(&key)? {
                Some(bytes) => Some(decode(&*self.value_serde, &bytes)?),
                None => None,
            };
            match &record.value {
                Some(value) => {
                    store.put(&key, &encode(&*self.value_serde, value, &self.store_name)?)?
                }
                None => store.delete(&key)?,
            }
            if old.is_none() && record.value.is_none() && !self.forward_absent_deletes {
                continue;
            }
            out.push(
                Record::new(record.key, Change::new(record.value, old), record.timestamp)
                    .with_headers(record.headers),
            );
        }
        ctx.forward_records(out);
        Ok(())
    }
}
