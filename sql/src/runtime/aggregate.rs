//! What SQL aggregations hand to the DSL's aggregation operators: the fold of a row into
//! the aggregate states ([`AggregateSpec`]), and the node turning aggregate states into
//! result rows ([`AggregateResultNode`]).
//!
//! The state row is one state per aggregate call, then the largest record time folded in
//! (Kafka Streams gives an aggregation result the largest timestamp of its inputs). Input
//! rows are the aggregate calls' arguments, then `ROWTIME`.

use std::sync::Arc;

use eddy_streams::processor::{AnyBatch, Context, Node, downcast};
use eddy_streams::record::{Change, Record, Windowed};

use super::processing_log::ProcessingLog;
use crate::functions::Aggregator;
use crate::types::SqlType;
use crate::value::{Row, Value};

/// The aggregate calls of a query and where their arguments are in the input rows.
#[derive(Debug, Clone)]
pub struct AggregateSpec {
    /// The aggregators, in call order.
    pub aggregators: Vec<Arc<dyn Aggregator>>,
    /// For each aggregator, the positions of its value arguments in the input row.
    pub args: Vec<Vec<usize>>,
    /// Where ROWTIME is in the input row.
    pub rowtime: usize,
    /// Where failing calls are reported.
    pub log: ProcessingLog,
}

impl AggregateSpec {
    /// The types of the state row.
    pub fn state_types(&self) -> Vec<SqlType> {
        let mut types: Vec<SqlType> = self.aggregators.iter().map(|a| a.state_type()).collect();
        types.push(SqlType::BigInt);
        types
    }

    /// The state row before any input.
    pub fn init(&self) -> Row {
        let mut row: Row = self.aggregators.iter().map(|a| a.init()).collect();
        row.push(Value::BigInt(i64::MIN));
        row
    }

    fn args_of(&self, i: usize, input: &Row) -> Row {
        self.args[i]
            .iter()
            .map(|&j| input.get(j).cloned().unwrap_or(Value::Null))
            .collect()
    }

    fn time_of(&self, input: &Row) -> i64 {
        input
            .get(self.rowtime)
            .and_then(Value::as_i64)
            .unwrap_or(i64::MIN)
    }

    /// Folds an input row into the states.
    pub fn add(&self, mut state: Row, input: &Row) -> Row {
        for (i, agg) in self.aggregators.iter().enumerate() {
            let args = self.args_of(i, input);
            let current = std::mem::take(&mut state[i]);
            state[i] = match agg.add(current.clone(), &args) {
                Ok(s) => s,
                Err(e) => {
                    self.log.record(format!("Failed to aggregate: {e}"));
                    current
                }
            };
        }
        let n = self.aggregators.len();
        let t = self.time_of(input);
        if let Some(max) = state.get_mut(n) {
            let current = max.as_i64().unwrap_or(i64::MIN);
            *max = Value::BigInt(current.max(t));
        }
        state
    }

    /// Takes an input row out of the states (table aggregations).
    pub fn undo(&self, mut state: Row, input: &Row) -> Row {
        for (i, agg) in self.aggregators.iter().enumerate() {
            let args = self.args_of(i, input);
            let current = std::mem::take(&mut state[i]);
            state[i] = match agg.undo(current.clone(), &args) {
                Ok(s) => s,
                Err(e) => {
                    self.log.record(format!("Failed to undo an aggregate: {e}"));
                    current
                }
            };
        }
        let n = self.aggregators.len();
        let t = self.time_of(input);
        if let Some(max) = state.get_mut(n) {
            let current = max.as_i64().unwrap_or(i64::MIN);
            *max = Value::BigInt(current.max(t));
        }
        state
    }

    /// Merges the states of two sessions.
    pub fn merge(&self, a: Row, b: Row) -> Row {
        let n = self.aggregators.len();
        let mut out = Vec::with_capacity(n + 1);
        for (i, agg) in self.aggregators.iter().enumerate() {
            let (x, y) = (
                a.get(i).cloned().unwrap_or_default(),
                b.get(i).cloned().unwrap_or_default(),
            );
            out.push(match agg.merge(x.clone(), y) {
                Ok(s) => s,
                Err(e) => {
                    self.log.record(format!("Failed to merge aggregates: {e}"));
                    x
                }
            });
        }
        let t = |r: &Row| r.get(n).and_then(Value::as_i64).unwrap_or(i64::MIN);
        out.push(Value::BigInt(t(&a).max(t(&b))));
        out
    }

    /// The result row of a state: one result per call, then the state's record time.
    pub fn results(&self, state: &Row) -> Row {
        let mut out: Row = self
            .aggregators
            .iter()
            .enumerate()
            .map(|(i, agg)| match state.get(i).map(|s| agg.result(s)) {
                Some(Ok(v)) => v,
                Some(Err(e)) => {
                    self.log
                        .record(format!("Failed to compute an aggregate's result: {e}"));
                    Value::Null
                }
                None => Value::Null,
            })
            .collect();
        out.push(
            state
                .get(self.aggregators.len())
                .cloned()
                .unwrap_or(Value::Null),
        );
        out
    }
}

/// How an aggregation's result records are timed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultTime {
    /// The largest input record time (Kafka Streams' aggregations).
    MaxInput,
    /// The window's end (session windows).
    WindowEnd,
    /// The time the operator forwarded with (windows emitted on close).
    Forwarded,
}

/// Splits an aggregation's store key into the result key and its window bounds, if windowed.
type KeySplitter<K> = fn(K) -> (Row, Option<(i64, i64)>);

/// Turns aggregate states into result rows: key (with window bounds for windowed keys)
/// and `results ++ [ROWTIME]`.
pub struct AggregateResultNode<K> {
    name: String,
    spec: Arc<AggregateSpec>,
    time: ResultTime,
    key: KeySplitter<K>,
}

impl AggregateResultNode<Row> {
    /// For key-value aggregations.
    pub fn plain(name: &str, spec: Arc<AggregateSpec>) -> Self {
        Self {
            name: name.to_string(),
            spec,
            time: ResultTime::MaxInput,
            key: |k| (k, None),
        }
    }
}

impl AggregateResultNode<Windowed<Row>> {
    /// For windowed aggregations.
    pub fn windowed(name: &str, spec: Arc<AggregateSpec>, time: ResultTime) -> Self {
        Self {
            name: name.to_string(),
            spec,
            time,
            key: |k| (k.key, Some((k.window.start, k.window.end))),
        }
    }
}

impl<K: Send + 'static> Node for AggregateResultNode<K> {
    fn process(&mut self, batch: AnyBatch, ctx: &mut Context<'_>) -> eddy_streams::Result<()> {
        let input = downcast::<Vec<Record<K, Change<Row>>>>(batch, &self.name)?;
        let mut out = Vec::with_capacity(input.len());
        for r in input {
            let (mut key, window) = (self.key)(r.key);
            if let Some((start, end)) = window {
                key.push(Value::BigInt(start));
                key.push(Value::BigInt(end));
            }
            let mut new = r.value.new.as_ref().map(|s| self.spec.results(s));
            let old = r.value.old.as_ref().map(|s| self.spec.results(s));
            let time = match (self.time, &new, window) {
                (ResultTime::WindowEnd, _, Some((_, end))) => end,
                (ResultTime::MaxInput, Some(row), _) => row
                    .last()
                    .and_then(Value::as_i64)
                    .filter(|t| *t != i64::MIN)
                    .unwrap_or(r.timestamp),
                _ => r.timestamp,
            };
            if let Some(row) = new.as_mut()
                && let Some(last) = row.last_mut()
            {
                *last = Value::BigInt(time);
            }
            out.push(Record::new(key, Change::new(new, old), time).with_headers(r.headers));
        }
        ctx.forward_records(out);
        Ok(())
    }
}
