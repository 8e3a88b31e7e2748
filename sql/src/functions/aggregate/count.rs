//! COUNT: rows (`COUNT(*)`, `COUNT()`) or non-NULL values (`COUNT(col)`), a BIGINT
//! (ksqlDB's `CountKudaf`, a `TableUdaf`).

use std::sync::Arc;

use super::{Signature, choose};
use crate::error::Result;
use crate::functions::{AggregateArg, AggregateFunction, Aggregator, FunctionRegistry, Param};
use crate::types::SqlType;
use crate::value::Value;

#[derive(Debug)]
struct CountAggregator {
    /// Counts rows (no argument) or non-NULL values.
    args: usize,
}

impl CountAggregator {
    fn step(&self, state: &Value, args: &[Value], delta: i64) -> Value {
        let n = state.as_i64().unwrap_or(0);
        if args.first().is_some_and(Value::is_null) {
            Value::BigInt(n)
        } else {
            Value::BigInt(n.wrapping_add(delta))
        }
    }
}

impl Aggregator for CountAggregator {
    fn value_args(&self) -> usize {
        self.args
    }
    fn state_type(&self) -> SqlType {
        SqlType::BigInt
    }
    fn return_type(&self) -> SqlType {
        SqlType::BigInt
    }
    fn init(&self) -> Value {
        Value::BigInt(0)
    }
    fn add(&self, state: Value, args: &[Value]) -> Result<Value> {
        Ok(self.step(&state, args, 1))
    }
    fn supports_undo(&self) -> bool {
        true
    }
    fn undo(&self, state: Value, args: &[Value]) -> Result<Value> {
        Ok(self.step(&state, args, -1))
    }
    fn merge(&self, a: Value, b: Value) -> Result<Value> {
        Ok(Value::BigInt(
            a.as_i64()
                .unwrap_or(0)
                .wrapping_add(b.as_i64().unwrap_or(0)),
        ))
    }
    fn result(&self, state: &Value) -> Result<Value> {
        Ok(Value::BigInt(state.as_i64().unwrap_or(0)))
    }
}

struct Count;

impl AggregateFunction for Count {
    fn name(&self) -> &str {
        "COUNT"
    }
    fn description(&self) -> &str {
        "Counts records by key."
    }
    fn resolve(&self, args: &[AggregateArg]) -> Result<Arc<dyn Aggregator>> {
        // COUNT(*) and COUNT() count rows; otherwise ksqlDB's only signature is COUNT(T).
        if args.is_empty() {
            return Ok(Arc::new(CountAggregator { args: 0 }));
        }
        choose(
            self.name(),
            &[Signature::new(vec![(Param::Generic('T'), "val1")])],
            args,
        )?;
        Ok(Arc::new(CountAggregator { args: 1 }))
    }
}

pub(super) fn register(r: &mut FunctionRegistry) {
    r.add_aggregate(Arc::new(Count));
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    #[test]
    fn counts_non_null_values() {
        let agg = resolve("COUNT", &[col(SqlType::String)]);
        assert_eq!(agg.value_args(), 1);
        assert_eq!(agg.return_type(), SqlType::BigInt);
        let rows = [
            Value::String("a".into()),
            Value::Null,
            Value::String("b".into()),
        ];
        assert_eq!(run(&*agg, &rows), Value::BigInt(2));
    }

    #[test]
    fn counts_rows() {
        let agg = resolve("COUNT", &[]);
        assert_eq!(agg.value_args(), 0);
        let s = agg.add(agg.init(), &[]).unwrap();
        let s = agg.add(s, &[]).unwrap();
        assert_eq!(agg.result(&s).unwrap(), Value::BigInt(2));
    }

    #[test]
    fn counts_an_untyped_null_as_nothing() {
        let agg = resolve("COUNT", &[null()]);
        assert_eq!(run(&*agg, &[Value::Null, Value::Null]), Value::BigInt(0));
    }

    #[test]
    fn undoes_and_merges() {
        let agg = resolve("COUNT", &[col(SqlType::Int)]);
        assert!(agg.supports_undo());
        let s = add_all(&*agg, agg.init(), &[Value::Int(1), Value::Int(2)]);
        let s = agg.undo(s, &[Value::Int(1)]).unwrap();
        let s = agg.undo(s, &[Value::Null]).unwrap();
        assert_eq!(s, Value::BigInt(1));
        let s = agg.undo(s, &[Value::Int(2)]).unwrap();
        assert_eq!(agg.result(&s).unwrap(), Value::BigInt(0));
        assert_eq!(
            agg.merge(Value::BigInt(2), Value::BigInt(3)).unwrap(),
            Value::BigInt(5)
        );
        assert_round_trips(&*agg, &Value::BigInt(5));
    }

    #[test]
    fn takes_at_most_one_argument() {
        let err = resolve_err("COUNT", &[col(SqlType::Int), col(SqlType::String)]);
        assert!(
            err.starts_with(
                "Function 'COUNT' does not accept parameters (INTEGER, STRING).\n\
                 Valid alternatives are:\nCOUNT(T val1)"
            ),
            "{err}"
        );
    }
}
