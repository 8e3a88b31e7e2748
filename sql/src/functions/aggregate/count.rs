//! COUNT: rows (`COUNT(*)`, `COUNT()`) or non-NULL values (`COUNT(col)`).

use std::sync::Arc;

use crate::error::Result;
use crate::functions::{AggregateArg, AggregateFunction, Aggregator, FunctionRegistry};
use crate::types::SqlType;
use crate::value::Value;

#[derive(Debug)]
struct CountAggregator {
    /// Counts rows (no argument) or non-NULL values.
    args: usize,
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
        let n = state.as_i64().unwrap_or(0);
        Ok(Value::BigInt(if args.first().is_some_and(Value::is_null) {
            n
        } else {
            n + 1
        }))
    }
    fn supports_undo(&self) -> bool {
        true
    }
    fn undo(&self, state: Value, args: &[Value]) -> Result<Value> {
        let n = state.as_i64().unwrap_or(0);
        Ok(Value::BigInt(if args.first().is_some_and(Value::is_null) {
            n
        } else {
            n - 1
        }))
    }
    fn merge(&self, a: Value, b: Value) -> Result<Value> {
        Ok(Value::BigInt(
            a.as_i64().unwrap_or(0) + b.as_i64().unwrap_or(0),
        ))
    }
    fn result(&self, state: &Value) -> Result<Value> {
        Ok(state.clone())
    }
}

struct Count;

impl AggregateFunction for Count {
    fn name(&self) -> &str {
        "COUNT"
    }
    fn description(&self) -> &str {
        "Counts records, or the non-NULL values of a column."
    }
    fn resolve(&self, args: &[AggregateArg]) -> Result<Arc<dyn Aggregator>> {
        Ok(Arc::new(CountAggregator {
            args: args.len().min(1),
        }))
    }
}

pub(super) fn register(r: &mut FunctionRegistry) {
    r.add_aggregate(Arc::new(Count));
}
