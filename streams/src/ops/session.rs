//! Session-windowed aggregation of grouped streams, as Kafka Streams'
//! `KStreamSessionWindowAggregate` runs it: sessions per key grow and merge as records
//! arrive within the inactivity gap, in a session store; results are emitted on every
//! update, or only final sessions once they close. Every result carries its session's end
//! as its timestamp.
//!
//! A record finds the sessions it merges with as Kafka's session store returns them: not
//! those ending at or before the store's newest session end minus its retention, so with the
//! default retention (`gap + grace`) a record never merges into a session that has closed.

use std::sync::Arc;

use eddy_state::{Retention, SessionStore, SessionWindow};

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
    /// The newest session end written to the store (Kafka's store-side stream time), which
    /// with the retention decides which sessions a record can still find.
    pub store_time: i64,
    /// How far final results have been emitted (on-close only).
    pub progress: EmitProgress,
}

impl<K, V, VA> SessionAggregateNode<K, V, VA>
where
    K: Clone + Send + 'static,
    VA: Clone + Send + 'static,
{
    /// Emits the sessions closed at close time `close` (those ending before it) that the
    /// last emission did not: those ending in `[last close, close)`, by end, then start,
    /// then key bytes (the order of Kafka's time-ordered session store), each at its end.
    ///
    /// Kafka emits after writing the record. Eddy emits just before, as the sessions of the
    /// store would be after the write: `merged_away` (the sessions of `key` the record is
    /// about to delete) are left out, and so are the sessions in segments the write will
    /// drop (`newest_end`, the store's newest session end after the write, if the record is
    /// written). Reading before the write matters because Kafka's
    /// `findSessions(earliestSessionEndTime, latestSessionEndTime)` does not filter by
    /// retention while Eddy's store reads do, relative to their newest session end: before
    /// the write they still return every session ending since the last emission.
    fn emit_closed(
        &mut self,
        close: i64,
        key: &[u8],
        merged_away: &[SessionWindow],
        newest_end: Option<i64>,
        out: &mut Vec<Record<Windowed<K>, Change<VA>>>,
    ) -> Result<()> {
        let upper = close - 1;
        if !self.progress.advanced_to(close) || upper < 0 {
            return Ok(());
        }
        let lower = self.progress.last.map_or(0, |last| last.max(0));
        let store = self.store.as_ref().expect("init opened the store");
        let retention = Retention::new(self.windows.retention_ms())?;
        let segment = |time: i64| time.div_euclid(retention.segment_ms);
        let first_live_segment =
            newest_end.map(|end| segment(end.saturating_sub(retention.retention_ms)));
        let mut closed = store.fetch_ended(lower, upper)?;
        closed.retain(|e| {
            !(e.key == key && merged_away.contains(&e.window))
                && first_live_segment.is_none_or(|first| segment(e.window.end) >= first)
        });
        closed.sort_by(|a, b| {
            (a.window.end, a.window.start, &a.key).cmp(&(b.window.end, b.window.start, &b.key))
        });
        for entry in closed {
            let key = decode(&*self.key_serde, &entry.key)?;
            let value = decode(&*self.value_serde, &entry.value)?;
            let (start, end) = (entry.window.start, entry.window.end);
            out.push(Record::new(
                Windowed::new(key, start, end),
                Change::new(Some(value), None),
                end,
            ));
        }
        self.progress.advance(close)
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
            && let Some(last) = self.progress.init(ctx)?
        {
            // Stream time had reached at least this: what was emitted stays closed after a
            // restart.
            self.observed = self.observed.max(
                last.saturating_add(self.windows.gap_ms)
                    .saturating_add(self.windows.grace_ms),
            );
        }
        // A lower bound of the store's newest session end.
        self.store_time = self.store_time.max(self.observed);
        Ok(())
    }

    fn process(&mut self, batch: AnyBatch, ctx: &mut Context<'_>) -> Result<()> {
        let input = downcast::<Vec<Record<K, V>>>(batch, &self.name)?;
        let store = self.store.clone().expect("init opened the store");
        let (gap, retention) = (self.windows.gap_ms, self.windows.retention_ms());
        let on_update = self.emit == EmitStrategy::OnWindowUpdate;
        let mut out = Vec::new();
        let mut late = 0;
        let mut stamp = super::HeaderStamp::new();
        for record in input {
            stamp.next(&mut out, record.headers.clone());
            let ts = record.timestamp;
            self.observed = self.observed.max(ts);
            // As Kafka Streams: a session is closed once stream time passes end + gap + grace.
            let close = self.observed - self.windows.grace_ms - gap;
            let key = encode(&*self.key_serde, &record.key, &self.store_name)?;
            // Kafka's session store reads skip sessions ending at or before its newest
            // session end minus the retention.
            let visible_from = self.store_time.saturating_sub(retention).saturating_add(1);
            let found: Vec<_> = store
                .find_sessions(&key, ts - gap, ts + gap)?
                .into_iter()
                .filter(|s| s.window.end >= visible_from)
                .collect();
            let single = SessionWindow { start: ts, end: ts };
            let mut merged = single;
            for s in &found {
                merged.start = merged.start.min(s.window.start);
                merged.end = merged.end.max(s.window.end);
            }
            let accepted = merged.end >= close;
            if !on_update {
                let merged_away: Vec<_> = if accepted && merged != single {
                    found.iter().map(|s| s.window).collect()
                } else {
                    Vec::new()
                };
                let newest_end = accepted.then(|| self.store_time.max(merged.end));
                self.emit_closed(close, &key, &merged_away, newest_end, &mut out)?;
            }
            if !accepted {
                late += 1;
                continue;
            }
            let mut agg: Option<VA> = None;
            let mut previous = None;
            for s in found {
                let value = decode(&*self.value_serde, &s.value)?;
                agg = Some(match agg {
                    None => value.clone(),
                    Some(a) => (self.merger)(&record.key, a, value.clone()),
                });
                if merged == single {
                    // The record's own point session [ts, ts] is updated in place.
                    previous = Some(value);
                    continue;
                }
                // As Kafka: every session the record joins is deleted, even one the merged
                // session equals, and the merged session is written anew.
                store.remove(&key, s.window)?;
                if on_update {
                    out.push(Record::new(
                        Windowed::new(record.key.clone(), s.window.start, s.window.end),
                        Change::new(None, Some(value)),
                        s.window.end,
                    ));
                }
            }
            let new = (self.aggregator)(&record.key, &record.value, agg);
            let bytes = encode(&*self.value_serde, &new, &self.store_name)?;
            if !store.put(&key, merged, &bytes)? {
                late += 1;
                continue;
            }
            self.store_time = self.store_time.max(merged.end);
            if on_update {
                out.push(Record::new(
                    Windowed::new(record.key, merged.start, merged.end),
                    Change::new(Some(new), previous),
                    merged.end,
                ));
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
