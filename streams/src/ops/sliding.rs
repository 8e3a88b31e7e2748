//! Sliding-window aggregation of grouped streams (Kafka Streams'
//! `KStreamSlidingWindowAggregate`): windows `[start, start + difference]` that exist only
//! where they hold records, kept in a window store keyed by window start, emitting on every
//! update or only final results once windows close.
//!
//! Each stored value is the window's aggregate with the largest record time in it (Kafka's
//! `ValueAndTimestamp`): that time tells whether a window reaches past a new record, which
//! is how the windows a record creates are seeded from the ones it finds.

use std::collections::HashSet;
use std::sync::Arc;

use eddy_state::WindowStore;

use crate::dsl::{EmitStrategy, SlidingWindows};
use crate::error::{Error, Result};
use crate::processor::{AnyBatch, Context, InitContext, Node, downcast};
use crate::record::{Change, Record, Windowed};
use crate::serdes::SerdeRef;

use super::aggregate::Folder;
use super::emit_progress::EmitProgress;
use super::{decode, encode, split_time, with_time};

/// A window's aggregate and the largest record time it holds.
#[derive(Clone)]
struct Timed<VA> {
    max_time: i64,
    agg: VA,
}

pub(crate) struct SlidingWindowAggregateNode<K, V, VA> {
    pub name: String,
    pub store_name: String,
    pub windows: SlidingWindows,
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

/// What processing one record needs, and what it produces.
struct Step<'a, K, V> {
    key: &'a K,
    value: &'a V,
    raw_key: Vec<u8>,
    time: i64,
    close: i64,
    late: u64,
}

impl<K, V, VA> SlidingWindowAggregateNode<K, V, VA>
where
    K: Clone + Send + 'static,
    VA: Clone + Send + 'static,
{
    fn store(&self) -> &Arc<dyn WindowStore> {
        self.store.as_ref().expect("init opened the store")
    }

    fn difference(&self) -> i64 {
        self.windows.time_difference_ms
    }

    fn decode_timed(&self, bytes: &[u8]) -> Result<Timed<VA>> {
        let (max_time, agg) = split_time(bytes, "sliding window aggregate")?;
        Ok(Timed {
            max_time,
            agg: decode(&*self.value_serde, agg)?,
        })
    }

    fn encode_timed(&self, timed: &Timed<VA>) -> Result<Vec<u8>> {
        let agg = encode(&*self.value_serde, &timed.agg, &self.store_name)?;
        Ok(with_time(timed.max_time, agg))
    }

    /// The key's windows starting in `[from, to]`, oldest first.
    fn windows_between(&self, key: &[u8], from: i64, to: i64) -> Result<Vec<(i64, Timed<VA>)>> {
        self.store()
            .fetch(key, from, to)?
            .into_iter()
            .map(|(start, bytes)| Ok((start, self.decode_timed(&bytes)?)))
            .collect()
    }

    /// Adds the record to the window at `start`: an existing window (`current`), or a new
    /// one seeded with `seed` (the aggregate of the records it already covers, if any).
    /// Windows already closed are skipped and the record counted late for them, as Kafka
    /// Streams does.
    fn add_to_window(
        &self,
        step: &mut Step<'_, K, V>,
        start: i64,
        current: Option<Timed<VA>>,
        seed: Option<VA>,
        out: &mut Vec<Record<Windowed<K>, Change<VA>>>,
    ) -> Result<()> {
        let end = start + self.difference();
        if end < step.close {
            step.late += 1;
            return Ok(());
        }
        let (base, old, max_time) = match current {
            Some(c) => (Some(c.agg.clone()), Some(c.agg), c.max_time.max(step.time)),
            None => (seed, None, step.time),
        };
        let agg = (self.aggregator)(step.key, step.value, base);
        let timed = Timed { max_time, agg };
        if !self
            .store()
            .put(&step.raw_key, start, &self.encode_timed(&timed)?)?
        {
            step.late += 1;
            return Ok(());
        }
        if self.emit == EmitStrategy::OnWindowUpdate {
            out.push(Record::new(
                Windowed::new(step.key.clone(), start, end),
                Change::new(Some(timed.agg), old),
                max_time,
            ));
        }
        Ok(())
    }

    /// Creates the record's right window `[t + 1, t + 1 + difference]` holding what
    /// `right` (the newest window reaching past the record, before the record was added)
    /// holds after `t`.
    fn create_right_window(
        &self,
        step: &Step<'_, K, V>,
        right: Timed<VA>,
        out: &mut Vec<Record<Windowed<K>, Change<VA>>>,
    ) -> Result<()> {
        let start = step.time + 1;
        self.store()
            .put(&step.raw_key, start, &self.encode_timed(&right)?)?;
        if self.emit == EmitStrategy::OnWindowUpdate {
            out.push(Record::new(
                Windowed::new(step.key.clone(), start, start + self.difference()),
                Change::new(Some(right.agg), None),
                right.max_time,
            ));
        }
        Ok(())
    }

    fn unexpected_window(&self, start: i64, time: i64) -> Error {
        Error::Processor {
            node: self.name.clone(),
            message: format!(
                "store {} holds a window starting at {start}, which no record at {time} can \
                 meet (the store was written by something else)",
                self.store_name
            ),
        }
    }

    /// A record at `t >= difference`: updates the windows containing it, then creates the
    /// previous record's right window, its own left window and its own right window where
    /// they are missing and not empty.
    fn process_in_order(
        &self,
        step: &mut Step<'_, K, V>,
        out: &mut Vec<Record<Windowed<K>, Change<VA>>>,
    ) -> Result<()> {
        let (t, d) = (step.time, self.difference());
        let mut starts = HashSet::new();
        let mut left: Option<Timed<VA>> = None;
        let mut right: Option<Timed<VA>> = None;
        let (mut left_exists, mut right_exists) = (false, false);
        let mut previous: Option<i64> = None;
        for (start, window) in self.windows_between(&step.raw_key, (t - 2 * d).max(0), t + 1)? {
            starts.insert(start);
            let end = start + d;
            if end < t {
                // The newest window ending before the record holds exactly the records of
                // its left window that precede it.
                previous = Some(window.max_time);
                left = Some(window);
            } else if end == t {
                left_exists = true;
                if window.max_time < t {
                    previous = Some(window.max_time);
                }
                self.add_to_window(step, start, Some(window), None, out)?;
            } else if start <= t {
                right = Some(window.clone());
                self.add_to_window(step, start, Some(window), None, out)?;
            } else if start == t + 1 {
                right_exists = true;
            } else {
                return Err(self.unexpected_window(start, t));
            }
        }
        if let Some(p) = previous {
            // The previous record's right window, if this record is the first in it.
            if !starts.contains(&(p + 1)) && p + 1 + d >= t {
                self.add_to_window(step, p + 1, None, None, out)?;
            }
        }
        if !left_exists {
            let seed = match previous {
                Some(p) if t - d <= p => left.map(|l| l.agg),
                _ => None,
            };
            self.add_to_window(step, t - d, None, seed, out)?;
        }
        if let Some(r) = right.filter(|r| !right_exists && r.max_time > t) {
            self.create_right_window(step, r, out)?;
        }
        Ok(())
    }

    /// A record at `0 <= t < difference`, whose left window would start before 0: as in
    /// Kafka Streams, such records share the window `[0, difference]`.
    fn process_early(
        &self,
        step: &mut Step<'_, K, V>,
        out: &mut Vec<Record<Windowed<K>, Change<VA>>>,
    ) -> Result<()> {
        let t = step.time;
        let mut starts = HashSet::new();
        let mut combined: Option<Timed<VA>> = None;
        let mut right: Option<Timed<VA>> = None;
        let mut right_exists = false;
        let mut previous: Option<i64> = None;
        for (start, window) in self.windows_between(&step.raw_key, 0, t + 1)? {
            starts.insert(start);
            if start == 0 {
                if window.max_time < t {
                    previous = Some(window.max_time);
                }
                combined = Some(window);
            } else if start <= t {
                right = Some(window.clone());
                self.add_to_window(step, start, Some(window), None, out)?;
            } else if start == t + 1 {
                right_exists = true;
            } else {
                return Err(self.unexpected_window(start, t));
            }
        }
        // Without a window reaching past the record, `[0, difference]` holds only records
        // after it when it holds any later than it.
        if right.is_none() {
            right = combined.clone().filter(|c| c.max_time > t);
        }
        if let Some(r) = right.filter(|r| !right_exists && r.max_time > t) {
            self.create_right_window(step, r, out)?;
        }
        if let Some(p) = previous.filter(|p| !starts.contains(&(p + 1))) {
            self.add_to_window(step, p + 1, None, None, out)?;
        }
        self.add_to_window(step, 0, combined, None, out)
    }

    /// Emits the windows that closed as stream time reached `observed`: those starting in
    /// `[last close - difference, close - difference)` (Kafka Streams'
    /// `KStreamSlidingWindowAggregate` bounds), by window start, then key bytes. Called
    /// before a record that advances stream time is written, so the store still holds
    /// them. (Kafka emits after the write, which can hide windows past its shorter
    /// retention when stream time jumps; Eddy emits them.)
    fn emit_closed(
        &mut self,
        observed: i64,
        out: &mut Vec<Record<Windowed<K>, Change<VA>>>,
    ) -> Result<()> {
        let close = observed - self.windows.grace_ms;
        let d = self.difference();
        let upper = close - d - 1;
        if !self.progress.advanced_to(close) || upper < 0 {
            return Ok(());
        }
        let lower = self.progress.last.map_or(0, |last| (last - d).max(0));
        let mut closed = self.store().fetch_all(lower, upper)?;
        closed.sort_by_key(|e| e.window_start);
        for entry in closed {
            let key = decode(&*self.key_serde, &entry.key)?;
            let timed = self.decode_timed(&entry.value)?;
            out.push(Record::new(
                Windowed::new(key, entry.window_start, entry.window_start + d),
                Change::new(Some(timed.agg), None),
                timed.max_time,
            ));
        }
        self.progress.advance(close)
    }
}

impl<K, V, VA> Node for SlidingWindowAggregateNode<K, V, VA>
where
    K: Clone + Send + 'static,
    V: Send + 'static,
    VA: Clone + Send + 'static,
{
    fn init(&mut self, ctx: &mut InitContext<'_>) -> Result<()> {
        let store = ctx.window_store(&self.store_name)?;
        // Window starts are at most one past a record's time: a lower bound of stream time
        // that survives a restart.
        self.observed = self.observed.max(store.observed_time().saturating_sub(1));
        self.store = Some(store);
        if self.emit == EmitStrategy::OnWindowClose
            && let Some(last) = self.progress.init(ctx)?
        {
            // What was emitted is closed: no record may change it after a restart.
            self.observed = self
                .observed
                .max(last.saturating_add(self.windows.grace_ms));
        }
        Ok(())
    }

    fn process(&mut self, batch: AnyBatch, ctx: &mut Context<'_>) -> Result<()> {
        let input = downcast::<Vec<Record<K, V>>>(batch, &self.name)?;
        let d = self.difference();
        let mut out = Vec::new();
        let (mut late, mut skipped) = (0, 0);
        let mut stamp = super::HeaderStamp::new();
        for record in input {
            stamp.next(&mut out, record.headers.clone());
            let t = record.timestamp;
            if t < 0 {
                skipped += 1;
                continue;
            }
            if self.emit == EmitStrategy::OnWindowClose && t > self.observed {
                self.emit_closed(t, &mut out)?;
            }
            self.observed = self.observed.max(t);
            let close = self.observed - self.windows.grace_ms;
            // Kafka Streams' rule: once the record's right window has closed, every window
            // holding it has.
            if t + 1 + d <= close {
                late += 1;
                continue;
            }
            let mut step = Step {
                key: &record.key,
                value: &record.value,
                raw_key: encode(&*self.key_serde, &record.key, &self.store_name)?,
                time: t,
                close,
                late: 0,
            };
            if t < d {
                self.process_early(&mut step, &mut out)?;
            } else {
                self.process_in_order(&mut step, &mut out)?;
            }
            late += step.late;
        }
        stamp.finish(&mut out);
        if late > 0 {
            ctx.record_late(late);
        }
        if skipped > 0 {
            ctx.record_skipped(skipped);
        }
        ctx.forward_records(out);
        Ok(())
    }
}
