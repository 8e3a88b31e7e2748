//! Windowed aggregation of grouped streams into a window store, emitting on every update or
//! only final results on window close.

use std::sync::Arc;

use eddy_state::WindowStore;

use crate::dsl::{EmitStrategy, TimeWindows};
use crate::error::Result;
use crate::processor::{AnyBatch, Context, InitContext, Node, downcast};
use crate::record::{Change, Record, Windowed};
use crate::serdes::SerdeRef;

use super::aggregate::Folder;
use super::emit_progress::EmitProgress;
use super::{decode, encode};

pub(crate) struct WindowAggregateNode<K, V, VA> {
    pub name: String,
    pub store_name: String,
    pub windows: TimeWindows,
    pub emit: EmitStrategy,
    pub key_serde: SerdeRef<K>,
    pub value_serde: SerdeRef<VA>,
    pub aggregator: Folder<K, V, VA>,
    pub store: Option<Arc<dyn WindowStore>>,
    /// The largest record time this aggregation has seen.
    pub observed: i64,
    /// How far final results have been emitted (on-close only).
    pub progress: EmitProgress,
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
        let next_end = ((self.progress.until - size).div_euclid(advance) + 1) * advance + size;
        if close < next_end {
            return Ok(());
        }
        let store = self.store.as_ref().expect("init opened the store");
        let from = self.progress.until - size + 1;
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
        self.progress.advance(close)?;
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
        if self.emit == EmitStrategy::OnWindowClose
            && let Some(until) = self.progress.init(ctx)?
        {
            // Stream time had reached at least this (the store's own time only counts
            // whole segments): what was emitted stays closed after a restart.
            self.observed = self
                .observed
                .max(until.saturating_add(self.windows.grace_ms));
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
