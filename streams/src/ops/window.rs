//! Windowed aggregation of grouped streams into a window store, emitting on every update or
//! only final results on window close, as Kafka Streams' `KStreamWindowAggregate` does.
//!
//! Each stored value is the window's aggregate with the largest record time in it in front
//! (Kafka's `ValueAndTimestamp`, see [`with_time`]): every result, update or final, carries
//! that time.
//!
//! On close, each record first updates its open windows, then emits the windows that have
//! closed since the last emission, read back from the store. The store's reads never return
//! windows older than its newest window start minus its retention (Kafka's segmented stores
//! filter their reads the same way), so when stream time jumps ahead, closed windows the
//! jump hides are never emitted: that is Kafka's behaviour, and reproduced on purpose.

use std::sync::Arc;

use eddy_state::WindowStore;

use crate::dsl::{EmitStrategy, TimeWindows};
use crate::error::Result;
use crate::processor::{AnyBatch, Context, InitContext, Node, downcast};
use crate::record::{Change, Record, Windowed};
use crate::serdes::SerdeRef;

use super::aggregate::Folder;
use super::emit_progress::EmitProgress;
use super::{decode, encode, split_time, with_time};

/// What a time-window store value is called in decoding errors.
const WHAT: &str = "time window aggregate";

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
    fn store(&self) -> &Arc<dyn WindowStore> {
        self.store.as_ref().expect("init opened the store")
    }

    /// The window of `key` starting at `start`: its aggregate and largest record time.
    fn fetch(&self, key: &[u8], start: i64) -> Result<Option<(VA, i64)>> {
        match self.store().fetch_one(key, start)? {
            Some(bytes) => {
                let (time, agg) = split_time(&bytes, WHAT)?;
                Ok(Some((decode(&*self.value_serde, agg)?, time)))
            }
            None => Ok(None),
        }
    }

    /// Emits the windows closed at close time `close` that the last emission did not
    /// (Kafka Streams' `maybeForwardFinalResult` with `KStreamWindowAggregate`'s bounds):
    /// those starting in `(last close - size, close - size]`, by window start, then key
    /// bytes (the order of Kafka's time-ordered window store), each at its largest record
    /// time.
    fn emit_closed(
        &mut self,
        close: i64,
        out: &mut Vec<Record<Windowed<K>, Change<VA>>>,
    ) -> Result<()> {
        if !self.progress.advanced_to(close) {
            return Ok(());
        }
        let size = self.windows.size_ms;
        let upper = close - size;
        if upper < 0 {
            // No window has closed yet.
            return Ok(());
        }
        let lower = match self.progress.last {
            None => 0,
            Some(last) => (last - size).max(0) + 1,
        };
        if self.progress.last.is_some()
            && self
                .windows
                .windows_for(upper)
                .eq(self.windows.windows_for(lower - 1))
        {
            // Close time has not moved past another window's end.
            return Ok(());
        }
        let mut closed = self.store().fetch_all(lower, upper)?;
        // By key, then start: a stable sort by start leaves start, then key.
        closed.sort_by_key(|e| e.window_start);
        for entry in closed {
            let key = decode(&*self.key_serde, &entry.key)?;
            let (time, agg) = split_time(&entry.value, WHAT)?;
            let value = decode(&*self.value_serde, agg)?;
            out.push(Record::new(
                Windowed::new(key, entry.window_start, entry.window_start + size),
                Change::new(Some(value), None),
                time,
            ));
        }
        self.progress.advance(close)
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
            && let Some(last) = self.progress.init(ctx)?
        {
            // Stream time had reached at least this (the store's own time only counts
            // whole segments): what was emitted stays closed after a restart.
            self.observed = self
                .observed
                .max(last.saturating_add(self.windows.grace_ms));
        }
        Ok(())
    }

    fn process(&mut self, batch: AnyBatch, ctx: &mut Context<'_>) -> Result<()> {
        let input = downcast::<Vec<Record<K, V>>>(batch, &self.name)?;
        let on_update = self.emit == EmitStrategy::OnWindowUpdate;
        let mut out = Vec::new();
        let mut late = 0;
        let mut stamp = super::HeaderStamp::new();
        for record in input {
            stamp.next(&mut out, record.headers.clone());
            self.observed = self.observed.max(record.timestamp);
            let close = self.observed - self.windows.grace_ms;
            let key = encode(&*self.key_serde, &record.key, &self.store_name)?;
            for (start, end) in self.windows.windows_for(record.timestamp) {
                if end <= close {
                    late += 1;
                    continue;
                }
                let (old, time) = match self.fetch(&key, start)? {
                    Some((agg, time)) => (Some(agg), time.max(record.timestamp)),
                    None => (None, record.timestamp),
                };
                let new = (self.aggregator)(&record.key, &record.value, old.clone());
                let bytes = encode(&*self.value_serde, &new, &self.store_name)?;
                if !self.store().put(&key, start, &with_time(time, bytes))? {
                    late += 1;
                    continue;
                }
                if on_update {
                    out.push(Record::new(
                        Windowed::new(record.key.clone(), start, end),
                        Change::new(Some(new), old),
                        time,
                    ));
                }
            }
            if !on_update {
                self.emit_closed(close, &mut out)?;
            }
        }
        stamp.finish(&mut out);
        if late > 0 {
            ctx.record_late(late);
        }
        ctx.forward_records(out);
        Ok(())
    }
}
