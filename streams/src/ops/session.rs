//! Session-windowed aggregation of grouped streams: sessions per key grow and merge as
//! records arrive within the inactivity gap, in a session store; results are emitted on
//! every update, or only final sessions once they close.

use std::sync::Arc;

use eddy_state::{SessionStore, SessionWindow};

use crate::dsl::{EmitStrategy, SessionWindows};
use crate::error::Result;
use crate::processor::{AnyBatch, Context, InitContext, Node, downcast};
use crate::record::{Change, Record, Windowed};
use crate::serdes::SerdeRef;

use super::aggregate::Folder;
use super::emit_progress::EmitProgress;
use super::{decode, encode};

/// Merges two sessions' aggregates: `(key, aggregate, aggregate) -> aggregate`.
pub type Merger<K, VA> = Arc<dyn Fn(&K, VA, VA) -> VA + Send + Sync>;

pub(crate) struct SessionAggregateNode<K, V, VA> {
    pub name: String,
    pub store_name: String,
    pub windows: SessionWindows,
    pub emit: EmitStrategy,
    pub key_serde: SerdeRef<K>,
    pub value_serde: SerdeRef<VA>,
    pub aggregator: Folder<K, V, VA>,
    pub merger: Merger<K, VA>,
    pub store: Option<Arc<dyn SessionStore>>,
    /// The largest record time this aggregation has seen.
    pub observed: i64,
    /// How far final results have been emitted (on-close only).
    pub progress: EmitProgress,
}

impl<K, V, VA> SessionAggregateNode<K, V, VA>
where
    K: Clone + Send + 'static,
    VA: Clone + Send + 'static,
{
    /// The time sessions must end at or after to be open, at stream time `observed`.
    fn close_time(&self, observed: i64) -> i64 {
        observed - self.windows.grace_ms - self.windows.gap_ms
    }

    /// Emits the sessions that closed as stream time reached `observed`: those ending in
    /// `[emitted_until, close)`, as Kafka Streams' `KStreamSessionWindowAggregate` does with
    /// `ON_WINDOW_CLOSE`. Called before a record that advances stream time is written, so
    /// the store (whose retention follows the newest session end) still holds them.
    fn emit_closed(
        &mut self,
        observed: i64,
        out: &mut Vec<Record<Windowed<K>, Change<VA>>>,
    ) -> Result<()> {
        let close = self.close_time(observed);
        if !self.progress.advanced_to(close) {
            return Ok(());
        }
        let store = self.store.as_ref().expect("init opened the store");
        for entry in store.fetch_ended(self.progress.last.unwrap_or(i64::MIN / 2), close - 1)? {
            let key = decode(&*self.key_serde, &entry.key)?;
            let value = decode(&*self.value_serde, &entry.value)?;
            let (start, end) = (entry.window.start, entry.window.end);
            out.push(Record::new(
                Windowed::new(key, start, end),
                Change::new(Some(value), None),
                end,
            ));
        }
        self.progress.advance(close)?;
        Ok(())
    }
}

impl<K, V, VA> Node for SessionAggregateNode<K, V, VA>
where
    K: Clone + Send + 'static,
    V: Send + 'static,
    VA: Clone + Send + 'static,
{
    fn init(&mut self, ctx: &mut InitContext<'_>) -> Result<()> {
        self.store = Some(ctx.session_store(&self.store_name)?);
        if self.emit == EmitStrategy::OnWindowClose
            && let Some(until) = self.progress.init(ctx)?
        {
            // Stream time had reached at least this: what was emitted stays closed after a
            // restart.
            self.observed = self.observed.max(
                until
                    .saturating_add(self.windows.gap_ms)
                    .saturating_add(self.windows.grace_ms),
            );
        }
        Ok(())
    }

    fn process(&mut self, batch: AnyBatch, ctx: &mut Context<'_>) -> Result<()> {
        let input = downcast::<Vec<Record<K, V>>>(batch, &self.name)?;
        let store = self.store.clone().expect("init opened the store");
        let gap = self.windows.gap_ms;
        let on_update = self.emit == EmitStrategy::OnWindowUpdate;
        let mut out = Vec::new();
        let mut late = 0;
        for record in input {
            let ts = record.timestamp;
            if !on_update && ts > self.observed {
                self.emit_closed(ts, &mut out)?;
            }
            self.observed = self.observed.max(ts);
            // As Kafka Streams: a session is closed once stream time passes end + gap + grace.
            let close = self.close_time(self.observed);
            let key = encode(&*self.key_serde, &record.key, &self.store_name)?;
            let found = store.find_sessions(&key, ts - gap, ts + gap)?;
            let mut merged = SessionWindow { start: ts, end: ts };
            for s in &found {
                merged.start = merged.start.min(s.window.start);
                merged.end = merged.end.max(s.window.end);
            }
            // On close, a closed session has been emitted as final: a record that would
            // reopen it by merging is late too (Kafka Streams merges it and later emits the
            // merged session as well).
            // (And never merge sessions away into one the store would refuse as expired.)
            if merged.end < close
                || (!on_update && found.iter().any(|s| s.window.end < close))
                || store.is_expired(merged.end)
            {
                late += 1;
                continue;
            }
            let mut agg: Option<VA> = None;
            let mut previous_same_window = None;
            for s in found {
                let value = decode(&*self.value_serde, &s.value)?;
                agg = Some(match agg {
                    None => value.clone(),
                    Some(a) => (self.merger)(&record.key, a, value.clone()),
                });
                if s.window == merged {
                    previous_same_window = Some(value);
                    continue;
                }
                store.remove(&key, s.window)?;
                if !on_update {
                    continue;
                }
                out.push(Record::new(
                    Windowed::new(record.key.clone(), s.window.start, s.window.end),
                    Change::new(None, Some(value)),
                    ts,
                ));
            }
            let new = (self.aggregator)(&record.key, &record.value, agg);
            let bytes = encode(&*self.value_serde, &new, &self.store_name)?;
            store.put(&key, merged, &bytes)?;
            if !on_update {
                continue;
            }
            out.push(Record::new(
                Windowed::new(record.key, merged.start, merged.end),
                Change::new(Some(new), previous_same_window),
                ts,
            ));
        }
        if late > 0 {
            ctx.record_late(late);
        }
        ctx.forward_records(out);
        Ok(())
    }
}
