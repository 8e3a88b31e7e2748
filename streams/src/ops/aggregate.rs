//! Aggregations of grouped streams and grouped tables into key-value stores (count, reduce
//! and aggregate all compile to these), and `to_table`.

use std::sync::Arc;

use eddy_state::KeyValueStore;

use crate::error::Result;
use crate::processor::{AnyBatch, Context, InitContext, Node, downcast};
use crate::record::{Change, Record};
use crate::serdes::SerdeRef;

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

    pub fn put_raw(&self, key: &[u8], value: Option<&V>) -> Result<()> {
        match value {
            Some(v) => self
                .store()
                .put(key, &encode(&*self.value_serde, v, &self.name)?)?,
            None => self.store().delete(key)?,
        }
        Ok(())
    }
}

/// Aggregates a grouped stream: one aggregate per key, updated by each record, forwarded as
/// a table change.
pub(crate) struct StreamAggregateNode<K, V, VA> {
    name: String,
    state: KvState<K, VA>,
    aggregator: Folder<K, V, VA>,
}

impl<K, V, VA> StreamAggregateNode<K, V, VA> {
    pub fn new(name: &str, state: KvState<K, VA>, aggregator: Folder<K, V, VA>) -> Self {
        Self {
            name: name.to_string(),
            state,
            aggregator,
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
        let mut out = Vec::with_capacity(input.len());
        for record in input {
            let key = self.state.key(&record.key)?;
            let old = self.state.get_raw(&key)?;
            let new = (self.aggregator)(&record.key, &record.value, old.clone());
            self.state.put_raw(&key, Some(&new))?;
            out.push(Record::new(
                record.key,
                Change::new(Some(new), old),
                record.timestamp,
            ));
        }
        ctx.forward_records(out);
        Ok(())
    }
}

/// Aggregates a grouped table: the old value of a row is subtracted, the new one added.
pub(crate) struct TableAggregateNode<K, V, VA> {
    name: String,
    state: KvState<K, VA>,
    adder: Folder<K, V, VA>,
    subtractor: Folder<K, V, VA>,
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
        let mut out = Vec::with_capacity(input.len());
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
            self.state.put_raw(&key, Some(&agg))?;
            out.push(Record::new(
                record.key,
                Change::new(Some(agg), old),
                record.timestamp,
            ));
        }
        ctx.forward_records(out);
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
            out.push(Record::new(
                record.key,
                Change::new(record.value.new, old),
                record.timestamp,
            ));
        }
        ctx.forward_records(out);
        Ok(())
    }
}
