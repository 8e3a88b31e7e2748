//! Aggregations of grouped streams and grouped tables into key-value stores (count, reduce
//! and aggregate all compile to these), and `to_table`.
//!
//! Aggregations forward their changes through a [`RecordCache`] when the task has one (the
//! runtime, unless `cache_max_bytes` is 0), so each key sends one change per commit;
//! without it (the test driver) every update is forwarded at once.

use std::sync::Arc;

use eddy_state::KeyValueStore;

use crate::error::Result;
use crate::processor::{AnyBatch, Context, InitContext, Node, downcast};
use crate::record::{Change, Record};
use crate::serdes::SerdeRef;

use super::record_cache::RecordCache;
use super::{decode, encode};

/// Folds a value into a key's aggregate, `None` if the key has none yet:
/// `(key, value, aggregate) -> aggregate`. Count, reduce and aggregate all become one.
pub type Folder<K, V, VA> = Arc<dyn Fn(&K, &V, Option<VA>) -> VA + Send + Sync>;

/// A key-value store with the serdes of its keys and values.
pub(crate) struct KvState<K, V> {
    pub name: String,
    pub key_serde: SerdeRef<K>,
    pub value_serde: SerdeRef<V>,
    pub store: Option<Arc<dyn KeyValueStore>>,
}

impl<K, V> KvState<K, V> {
    pub fn new(name: &str, key_serde: SerdeRef<K>, value_serde: SerdeRef<V>) -> Self {
        Self {
            name: name.to_string(),
            key_serde,
            value_serde,
            store: None,
        }
    }

    pub fn init(&mut self, ctx: &InitContext<'_>) -> Result<()> {
        self.store = Some(ctx.kv_store(&self.name)?);
        Ok(())
    }

    fn store(&self) -> &Arc<dyn KeyValueStore> {
        self.store.as_ref().expect("init opened the store")
    }

    pub fn key(&self, key: &K) -> Result<Vec<u8>> {
        encode(&*self.key_serde, key, &self.name)
    }

    pub fn get_raw(&self, key: &[u8]) -> Result<Option<V>> {
        match self.store().get(key)? {
            Some(bytes) => Ok(Some(decode(&*self.value_serde, &bytes)?)),
            None => Ok(None),
        }
    }

    pub fn get(&self, key: &K) -> Result<Option<V>> {
        self.get_raw(&self.key(key)?)
    }

    /// Writes `key`'s value (`None` deletes); returns the encoded value's length.
    pub fn put_raw(&self, key: &[u8], value: Option<&V>) -> Result<usize> {
        match value {
            Some(v) => {
                let bytes = encode(&*self.value_serde, v, &self.name)?;
                self.store().put(key, &bytes)?;
                Ok(bytes.len())
            }
            None => {
                self.store().delete(key)?;
                Ok(0)
            }
        }
    }
}

/// Where an aggregation's changes go: straight to its children, or into its record cache.
struct ChangeOutput<K, V> {
    cache: RecordCache<K, V>,
    direct: Vec<Record<K, Change<V>>>,
}

impl<K: Clone + Send + 'static, V: Clone + Send + 'static> ChangeOutput<K, V> {
    /// Queues one change of the key encoded as `key` (its new value `value_len` bytes long).
    fn push(
        &mut self,
        ctx: &Context<'_>,
        key: &[u8],
        change: Record<K, Change<V>>,
        value_len: usize,
    ) {
        match ctx.record_cache() {
            None => self.direct.push(change),
            Some(budget) => {
                if self.cache.update(budget, key, change, value_len) {
                    // The budget (shared by every cache of the app) is over: this cache's
                    // changes go down now.
                    self.direct.extend(self.cache.take());
                }
            }
        }
    }

    /// Forwards what `push` did not cache, after a batch.
    fn forward_direct(&mut self, ctx: &mut Context<'_>) {
        if !self.direct.is_empty() {
            ctx.forward_records(std::mem::take(&mut self.direct));
        }
    }

    /// Forwards everything cached, before a commit.
    fn flush(&mut self, ctx: &mut Context<'_>) {
        self.direct.extend(self.cache.take());
        self.forward_direct(ctx);
    }
}

/// Aggregates a grouped stream: one aggregate per key, updated by each record, forwarded as
/// a table change.
pub(crate) struct StreamAggregateNode<K, V, VA> {
    name: String,
    state: KvState<K, VA>,
    aggregator: Folder<K, V, VA>,
    output: ChangeOutput<K, VA>,
}

impl<K, V, VA> StreamAggregateNode<K, V, VA> {
    pub fn new(name: &str, state: KvState<K, VA>, aggregator: Folder<K, V, VA>) -> Self {
        Self {
            name: name.to_string(),
            state,
            aggregator,
            output: ChangeOutput {
                cache: RecordCache::default(),
                direct: Vec::new(),
            },
        }
    }
}

impl<K, V, VA> Node for StreamAggregateNode<K, V, VA>
where
    K: Clone + Send + 'static,
    V: Send + 'static,
    VA: Clone + Send + 'static,
{
    fn init(&mut self, ctx: &mut InitContext<'_>) -> Result<()> {
        self.state.init(ctx)
    }

    fn process(&mut self, batch: AnyBatch, ctx: &mut Context<'_>) -> Result<()> {
        let input = downcast::<Vec<Record<K, V>>>(batch, &self.name)?;
        for record in input {
            let key = self.state.key(&record.key)?;
            let old = self.state.get_raw(&key)?;
            let new = (self.aggregator)(&record.key, &record.value, old.clone());
            let len = self.state.put_raw(&key, Some(&new))?;
            let change = Record::new(record.key, Change::new(Some(new), old), record.timestamp)
                .with_headers(record.headers);
            self.output.push(ctx, &key, change, len);
        }
        self.output.forward_direct(ctx);
        Ok(())
    }

    fn flush(&mut self, ctx: &mut Context<'_>) -> Result<()> {
        self.output.flush(ctx);
        Ok(())
    }
}

/// Aggregates a grouped table: the old value of a row is subtracted, the new one added.
pub(crate) struct TableAggregateNode<K, V, VA> {
    name: String,
    state: KvState<K, VA>,
    adder: Folder<K, V, VA>,
    subtractor: Folder<K, V, VA>,
    output: ChangeOutput<K, VA>,
}

impl<K, V, VA> TableAggregateNode<K, V, VA> {
    pub fn new(
        name: &str,
        state: KvState<K, VA>,
        adder: Folder<K, V, VA>,
        subtractor: Folder<K, V, VA>,
    ) -> Self {
        Self {
            name: name.to_string(),
            state,
            adder,
            subtractor,
            output: ChangeOutput {
                cache: RecordCache::default(),
                direct: Vec::new(),
            },
        }
    }
}

impl<K, V, VA> Node for TableAggregateNode<K, V, VA>
where
    K: Clone + Send + 'static,
    V: Send + 'static,
    VA: Clone + Send + 'static,
{
    fn init(&mut self, ctx: &mut InitContext<'_>) -> Result<()> {
        self.state.init(ctx)
    }

    fn process(&mut self, batch: AnyBatch, ctx: &mut Context<'_>) -> Result<()> {
        let input = downcast::<Vec<Record<K, Change<V>>>>(batch, &self.name)?;
        for record in input {
            let key = self.state.key(&record.key)?;
            let old = self.state.get_raw(&key)?;
            let mut agg = old.clone();
            if let Some(removed) = &record.value.old {
                agg = Some((self.subtractor)(&record.key, removed, agg));
            }
            if let Some(added) = &record.value.new {
                agg = Some((self.adder)(&record.key, added, agg));
            }
            let Some(agg) = agg else { continue };
            let len = self.state.put_raw(&key, Some(&agg))?;
            let change = Record::new(record.key, Change::new(Some(agg), old), record.timestamp)
                .with_headers(record.headers);
            self.output.push(ctx, &key, change, len);
        }
        self.output.forward_direct(ctx);
        Ok(())
    }

    fn flush(&mut self, ctx: &mut Context<'_>) -> Result<()> {
        self.output.flush(ctx);
        Ok(())
    }
}

/// Materialises a stream as a table (`to_table`), or keeps a table's latest values in a
/// store (a materialised `filter` or `map_values`): upserts each row and forwards the
/// change against what the store held.
pub(crate) struct MaterializeNode<K, V> {
    name: String,
    state: KvState<K, V>,
}

impl<K, V> MaterializeNode<K, V> {
    pub fn new(name: &str, state: KvState<K, V>) -> Self {
        Self {
            name: name.to_string(),
            state,
        }
    }
}

impl<K, V> Node for MaterializeNode<K, V>
where
    K: Clone + Send + 'static,
    V: Clone + Send + 'static,
{
    fn init(&mut self, ctx: &mut InitContext<'_>) -> Result<()> {
        self.state.init(ctx)
    }

    fn process(&mut self, batch: AnyBatch, ctx: &mut Context<'_>) -> Result<()> {
        let input = downcast::<Vec<Record<K, Change<V>>>>(batch, &self.name)?;
        let mut out = Vec::with_capacity(input.len());
        for record in input {
            let key = self.state.key(&record.key)?;
            let old = self.state.get_raw(&key)?;
            self.state.put_raw(&key, record.value.new.as_ref())?;
            if old.is_none() && record.value.new.is_none() {
                continue;
            }
            out.push(
                Record::new(
                    record.key,
                    Change::new(record.value.new, old),
                    record.timestamp,
                )
                .with_headers(record.headers),
            );
        }
        ctx.forward_records(out);
        Ok(())
    }
}
