//! HISTOGRAM of a STRING column (ksqlDB's `HistogramUdaf`, a `TableUdaf`): a
//! `MAP<STRING, BIGINT>` of each distinct value to how often it occurs, at most 1000 distinct
//! values (further new values are ignored). A NULL value is counted too, under a NULL key,
//! as ksqlDB's HashMap does. Undoing removes a value whose count reaches 0; undoing a value
//! the map does not hold fails, as ksqlDB's does (it throws on unboxing the missing count).

use std::sync::Arc;

use super::{Signature, arg, bad_state, choose};
use crate::error::{Result, SqlError};
use crate::functions::{AggregateArg, AggregateFunction, Aggregator, FunctionRegistry};
use crate::types::SqlType;
use crate::value::Value;

const LIMIT: usize = 1000;

#[derive(Debug)]
struct Histogram;

fn entries(state: Value) -> Result<Vec<(Value, Value)>> {
    match state {
        Value::Map(e) => Ok(e),
        Value::Null => Ok(Vec::new()),
        other => Err(bad_state("HISTOGRAM", &other)),
    }
}

fn count(v: &Value) -> Result<i64> {
    match v {
        Value::BigInt(n) => Ok(*n),
        other => Err(bad_state("HISTOGRAM", other)),
    }
}

/// `agg.merge(key, n, Long::sum)` if the map has room or the key.
fn bump(map: &mut Vec<(Value, Value)>, key: &Value, n: i64) -> Result<()> {
    if let Some((_, c)) = map.iter_mut().find(|(k, _)| k == key) {
        *c = Value::BigInt(count(c)?.wrapping_add(n));
    } else if map.len() < LIMIT {
        map.push((key.clone(), Value::BigInt(n)));
    }
    Ok(())
}

impl Aggregator for Histogram {
    fn value_args(&self) -> usize {
        1
    }
    fn state_type(&self) -> SqlType {
        SqlType::map(SqlType::String, SqlType::BigInt)
    }
    fn return_type(&self) -> SqlType {
        SqlType::map(SqlType::String, SqlType::BigInt)
    }
    fn init(&self) -> Value {
        Value::Map(Vec::new())
    }
    fn add(&self, state: Value, args: &[Value]) -> Result<Value> {
        let mut map = entries(state)?;
        bump(&mut map, arg(args, 0), 1)?;
        Ok(Value::Map(map))
    }
    fn supports_undo(&self) -> bool {
        true
    }
    fn undo(&self, state: Value, args: &[Value]) -> Result<Value> {
        let key = arg(args, 0);
        let mut map = entries(state)?;
        let Some(i) = map.iter().position(|(k, _)| k == key) else {
            return Err(SqlError::eval(format!(
                "HISTOGRAM cannot undo {} as it holds no count for it",
                key.display(Some(&SqlType::String))
            )));
        };
        let n = count(&map[i].1)?.wrapping_sub(1);
        if n < 1 {
            map.remove(i);
        } else {
            map[i].1 = Value::BigInt(n);
        }
        Ok(Value::Map(map))
    }
    fn merge(&self, a: Value, b: Value) -> Result<Value> {
        let mut map = entries(a)?;
        for (k, v) in entries(b)? {
            bump(&mut map, &k, count(&v)?)?;
        }
        Ok(Value::Map(map))
    }
    fn result(&self, state: &Value) -> Result<Value> {
        Ok(Value::Map(entries(state.clone())?))
    }
}

struct HistogramFunction;

impl AggregateFunction for HistogramFunction {
    fn name(&self) -> &str {
        "histogram"
    }
    fn description(&self) -> &str {
        "Returns a map of each distinct String from the input Stream or Table and how many \
         times each occurs. \nThis version limits the size of the resultant Map to 1000 \
         entries. Any entries added beyond this limit will be ignored."
    }
    fn resolve(&self, args: &[AggregateArg]) -> Result<Arc<dyn Aggregator>> {
        choose(
            self.name(),
            &[Signature::new(vec![(SqlType::String.into(), "val1")])],
            args,
        )?;
        Ok(Arc::new(Histogram))
    }
}

pub(super) fn register(r: &mut FunctionRegistry) {
    r.add_aggregate(Arc::new(HistogramFunction));
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    fn s(v: &str) -> Value {
        Value::String(v.into())
    }

    #[test]
    fn counts_each_value() {
        let agg = resolve("HISTOGRAM", &[col(SqlType::String)]);
        assert_eq!(
            agg.return_type(),
            SqlType::map(SqlType::String, SqlType::BigInt)
        );
        assert_eq!(
            run(&*agg, &[s("a"), s("b"), s("a"), Value::Null]),
            Value::Map(vec![
                (s("a"), Value::BigInt(2)),
                (s("b"), Value::BigInt(1)),
                (Value::Null, Value::BigInt(1)),
            ])
        );
    }

    #[test]
    fn limits_distinct_values() {
        let agg = resolve("HISTOGRAM", &[col(SqlType::String)]);
        let mut rows: Vec<Value> = (0..1001).map(|i| s(&i.to_string())).collect();
        rows.push(s("0"));
        let Value::Map(m) = run(&*agg, &rows) else {
            panic!("a map")
        };
        assert_eq!(m.len(), 1000);
        assert_eq!(m[0], (s("0"), Value::BigInt(2)));
        assert!(!m.iter().any(|(k, _)| *k == s("1000")));
    }

    #[test]
    fn undoes_and_merges() {
        let agg = resolve("HISTOGRAM", &[col(SqlType::String)]);
        assert!(agg.supports_undo());
        let st = add_all(&*agg, agg.init(), &[s("a"), s("a"), s("b")]);
        let st = agg.undo(st, &[s("a")]).unwrap();
        let st = agg.undo(st, &[s("b")]).unwrap();
        assert_eq!(st, Value::Map(vec![(s("a"), Value::BigInt(1))]));
        assert!(agg.undo(st.clone(), &[s("zzz")]).is_err());
        let other = add_all(&*agg, agg.init(), &[s("a"), s("c")]);
        let merged = agg.merge(st, other).unwrap();
        assert_round_trips(&*agg, &merged);
        assert_eq!(
            merged,
            Value::Map(vec![(s("a"), Value::BigInt(2)), (s("c"), Value::BigInt(1))])
        );
    }

    #[test]
    fn takes_only_strings() {
        assert!(
            resolve_err("HISTOGRAM", &[col(SqlType::Int)])
                .starts_with("Function 'histogram' does not accept parameters (INTEGER).")
        );
    }
}
