//! Session-windowed aggregation of grouped streams: sessions per key grow and merge as
//! records arrive within the inactivity gap, in a session store.

use std::sync::Arc;

use eddy_state::{SessionStore, SessionWindow};

use crate::dsl::SessionWindows;
use crate::error::Result;
use crate::processor::{AnyBatch, Context, InitContext, Node, downcast};
use crate::record::{Change, Record, Windowed};
use crate::serdes::SerdeRef;

use super::aggregate::Folder;
use super::{decode, encode};

/// Merges two sessions' aggregates: `(key, aggregate, aggregate) -> aggregate`.
pub type Merger<K, VA> = Arc<dyn Fn(&K, VA, VA) -> VA + Send + Sync>;

pub(crate) struct SessionAggregateNode<K, V, VA> {
    pub name: String,
    pub store_name: String,
    pub windows: SessionWindows,
    pub key_serde: SerdeRef<K>,
    pub value_serde: SerdeRef<VA>,
    pub aggregator: Folder<K, V, VA>,
    pub merger: Merger<K, VA>,
    pub store: Option<Arc<dyn SessionStore>>,
    pub observed: i64,
}

impl<K, V, VA> Node for SessionAggregateNode<K, V, VA>
where
    K: Clone + Send + 'static,
    V: Send + 'static,
    VA: Clone + Send + 'static,
{
    fn init(&mut self, ctx: &mut InitContext<'_>) -> Result<()> {
        self.store = Some(ctx.session_store(&self.store_name)?);
        Ok(())
    }

    fn process(&mut self, batch: AnyBatch, ctx: &mut Context<'_>) -> Result<()> {
        let input = downcast::<Vec<Record<K, V>>>(batch, &self.name)?;
        let store = self.store.clone().expect("init opened the store");
        let gap = self.windows.gap_ms;
        let mut out = Vec::new();
        let mut late = 0;
        for record in input {
            let ts = record.timestamp;
            self.observed = self.observed.max(ts);
            // As Kafka Streams: a session is closed once stream time passes end + gap + grace.
            let close = self.observed - self.windows.grace_ms - gap;
            let key = encode(&*self.key_serde, &record.key, &self.store_name)?;
            let found = store.find_sessions(&key, ts - gap, ts + gap)?;
            let mut merged = SessionWindow { start: ts, end: ts };
            for s in &found {
                merged.start = merged.start.min(s.window.start);
                merged.end = merged.end.max(s.window.end);
            }
            if merged.end < close {
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
                out.push(Record::new(
                    Windowed::new(record.key.clone(), s.window.start, s.window.end),
                    Change::new(None, Some(value)),
                    ts,
                ));
            }
            let new = (self.aggregator)(&record.key, &record.value, agg);
            let bytes = encode(&*self.value_serde, &new, &self.store_name)?;
            if !store.put(&key, merged, &bytes)? {
                late += 1;
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
