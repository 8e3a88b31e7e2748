//! Windowed aggregation of grouped streams into a window store, emitting on every update or
//! only final results on window close.

use std::sync::Arc;

use eddy_state::{KeyValueStore, WindowStore};

use crate::dsl::{EmitStrategy, TimeWindows};
use crate::error::Result;
use crate::processor::{AnyBatch, Context, InitContext, Node, downcast};
use crate::record::{Change, Record, Windowed};
use crate::serdes::SerdeRef;

use super::aggregate::Folder;
use super::{decode, encode};

/// The key under which an on-close aggregation keeps the close time it has emitted up to,
/// in its small metadata store.
const EMITTED_KEY: &[u8] = b"emitted-until";

pub(crate) struct WindowAggregateNode<K, V, VA> {
    pub name: String,
    pub store_name: String,
    /// Store of the on-close emission progress.
    pub emit_store_name: String,
    pub windows: TimeWindows,
    pub emit: EmitStrategy,
    pub key_serde: SerdeRef<K>,
    pub value_serde: SerdeRef<VA>,
    pub aggregator: Folder<K, V, VA>,
    pub store: Option<Arc<dyn WindowStore>>,
    pub emit_store: Option<Arc<dyn KeyValueStore>>,
    /// The largest record time this aggregation has seen.
    pub observed: i64,
    /// Windows ending at or before this have been emitted (on-close only).
    pub emitted_until: i64,
}

impl<K, V, VA> WindowAggregateNode<K, V, VA>
where
    K: Clone + Send + 'static,
    VA: Clone + Send + 'static,
{
    /// Emits the windows that closed as stream time reached `observed`: those ending in
    /// `(emitted_until, observed - grace]`. Called before a record that advances stream time
    /// is written, so the store (whose retention follows the newest window it holds) still
    /// has them. Scans the store only when a window boundary was crossed.
    fn emit_closed(
        &mut self,
        observed: i64,
        out: &mut Vec<Record<Windowed<K>, Change<VA>>>,
    ) -> Result<()> {
        let close = observed - self.windows.grace_ms;
        let (size, advance) = (self.windows.size_ms, self.windows.advance_ms);
        let next_end = ((self.emitted_until - size).div_euclid(advance) + 1) * advance + size;
        if close < next_end {
            return Ok(());
        }
        let store = self.store.as_ref().expect("init opened the store");
        let from = self.emitted_until - size + 1;
        let mut closed = store.fetch_all(from, close - size)?;
        closed.sort_by_key(|e| e.window_start);
        for entry in closed {
            let key = decode(&*self.key_serde, &entry.key)?;
            let value = decode(&*self.value_serde, &entry.value)?;
            let end = entry.window_start + size;
            out.push(Record::new(
                Windowed::new(key, entry.window_start, end),
                Change::new(Some(value), None),
                end - 1,
            ));
        }
        self.emitted_until = close;
        if let Some(meta) = &self.emit_store {
            meta.put(EMITTED_KEY, &close.to_be_bytes())?;
        }
        Ok(())
    }
}

impl<K, V, VA> Node for WindowAggregateNode<K, V, VA>
where
    K: Clone + Send + 'static,
    V: Send + 'static,
    VA: Clone + Send + 'static,
{
    fn init(&mut self, ctx: &mut InitContext<'_>) -> Result<()> {
        let store = ctx.window_store(&self.store_name)?;
        self.observed = store.observed_time();
        self.store = Some(store);
        if self.emit == EmitStrategy::OnWindowClose {
            let meta = ctx.kv_store(&self.emit_store_name)?;
            let saved = meta.get(EMITTED_KEY)?;
            if let Some(Ok(b)) = saved.map(|b| <[u8; 8]>::try_from(b.as_slice())) {
                self.emitted_until = i64::from_be_bytes(b);
            }
            self.emit_store = Some(meta);
        }
        Ok(())
    }

    fn process(&mut self, batch: AnyBatch, ctx: &mut Context<'_>) -> Result<()> {
        let input = downcast::<Vec<Record<K, V>>>(batch, &self.name)?;
        let store = self.store.clone().expect("init opened the store");
        let on_update = self.emit == EmitStrategy::OnWindowUpdate;
        let mut out = Vec::new();
        let mut late = 0;
        for record in input {
            if !on_update && record.timestamp > self.observed {
                self.emit_closed(record.timestamp, &mut out)?;
            }
            self.observed = self.observed.max(record.timestamp);
            let close = self.observed - self.windows.grace_ms;
            let key = encode(&*self.key_serde, &record.key, &self.store_name)?;
            for (start, end) in self.windows.windows_for(record.timestamp) {
                if end <= close {
                    late += 1;
                    continue;
                }
                let old = match store.fetch_one(&key, start)? {
                    Some(bytes) => Some(decode(&*self.value_serde, &bytes)?),
                    None => None,
                };
                let new = (self.aggregator)(&record.key, &record.value, old.clone());
                let bytes = encode(&*self.value_serde, &new, &self.store_name)?;
                if !store.put(&key, start, &bytes)? {
                    late += 1;
                    continue;
                }
                if on_update {
                    out.push(Record::new(
                        Windowed::new(record.key.clone(), start, end),
                        Change::new(Some(new), old),
                        record.timestamp,
                    ));
                }
            }
        }
        if late > 0 {
            ctx.record_late(late);
        }
        ctx.forward_records(out);
        Ok(())
    }
}
