//! MIN and MAX of INT, BIGINT, DOUBLE, DECIMAL, DATE, TIME, TIMESTAMP, STRING and BYTES
//! (ksqlDB's `BaseComparableKudaf`s; not table UDAFs): NULLs are skipped, the state and
//! result are the argument's type, NULL before any value. Values order by Java's
//! `compareTo` (strings by UTF-16 code unit, bytes by signed byte, -0.0 below 0.0).

use std::cmp::Ordering;
use std::sync::Arc;

use super::java::compare;
use super::{Signature, arg, arg_type, choose};
use crate::error::Result;
use crate::functions::{AggregateArg, AggregateFunction, Aggregator, FunctionRegistry, Param};
use crate::types::SqlType;
use crate::value::Value;

#[derive(Debug)]
struct Extreme {
    ty: SqlType,
    max: bool,
}

impl Extreme {
    /// `BaseComparableKudaf.aggregate(current, aggregate)`.
    fn pick(&self, current: Value, aggregate: Value) -> Value {
        if current.is_null() {
            return aggregate;
        }
        if aggregate.is_null() {
            return current;
        }
        let current_greater = compare(&current, &aggregate) == Ordering::Greater;
        // MAX: `first.compareTo(second) > 0 ? first : second`; MIN the other way round.
        if current_greater == self.max {
            current
        } else {
            aggregate
        }
    }
}

impl Aggregator for Extreme {
    fn value_args(&self) -> usize {
        1
    }
    fn state_type(&self) -> SqlType {
        self.ty.clone()
    }
    fn return_type(&self) -> SqlType {
        self.ty.clone()
    }
    fn init(&self) -> Value {
        Value::Null
    }
    fn add(&self, state: Value, args: &[Value]) -> Result<Value> {
        Ok(self.pick(arg(args, 0).clone(), state))
    }
    fn merge(&self, a: Value, b: Value) -> Result<Value> {
        Ok(self.pick(a, b))
    }
    fn result(&self, state: &Value) -> Result<Value> {
        Ok(state.clone())
    }
}

struct MinMax {
    max: bool,
}

fn signatures() -> Vec<Signature> {
    let mut all: Vec<Signature> = [SqlType::Int, SqlType::BigInt, SqlType::Double]
        .into_iter()
        .map(|t| Signature::new(vec![(t.into(), "val1")]))
        .collect();
    all.push(Signature::new(vec![(Param::AnyDecimal, "val1")]));
    all.extend(
        [
            SqlType::Date,
            SqlType::Time,
            SqlType::Timestamp,
            SqlType::String,
            SqlType::Bytes,
        ]
        .into_iter()
        .map(|t| Signature::new(vec![(t.into(), "val1")])),
    );
    all
}

impl AggregateFunction for MinMax {
    fn name(&self) -> &str {
        if self.max { "MAX" } else { "MIN" }
    }
    fn description(&self) -> &str {
        if self.max {
            "Computes the maximum value for a key."
        } else {
            "Computes the minimum value for a key."
        }
    }
    fn resolve(&self, args: &[AggregateArg]) -> Result<Arc<dyn Aggregator>> {
        choose(self.name(), &signatures(), args)?;
        Ok(Arc::new(Extreme {
            ty: arg_type(self.name(), args, 0)?,
            max: self.max,
        }))
    }
}

pub(super) fn register(r: &mut FunctionRegistry) {
    r.add_aggregate(Arc::new(MinMax { max: false }));
    r.add_aggregate(Arc::new(MinMax { max: true }));
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    #[test]
    fn finds_extremes_skipping_nulls() {
        let max = resolve("MAX", &[col(SqlType::Int)]);
        let min = resolve("MIN", &[col(SqlType::Int)]);
        assert_eq!(max.return_type(), SqlType::Int);
        let rows = [
            Value::Null,
            Value::Int(3),
            Value::Int(-1),
            Value::Null,
            Value::Int(7),
        ];
        assert_eq!(run(&*max, &rows), Value::Int(7));
        assert_eq!(run(&*min, &rows), Value::Int(-1));
        assert_eq!(run(&*min, &[Value::Null]), Value::Null);
        assert!(!max.supports_undo());
    }

    #[test]
    fn orders_as_java() {
        let max = resolve("MAX", &[col(SqlType::String)]);
        let rows = [
            Value::String("\u{1f600}".into()),
            Value::String("\u{ff61}".into()),
        ];
        assert_eq!(run(&*max, &rows), Value::String("\u{ff61}".into()));
        let max = resolve("MAX", &[col(SqlType::Bytes)]);
        assert_eq!(
            run(&*max, &[Value::Bytes(vec![0x80]), Value::Bytes(vec![0x7f])]),
            Value::Bytes(vec![0x7f])
        );
        let max = resolve("MAX", &[col(SqlType::Double)]);
        assert_eq!(
            run(&*max, &[Value::Double(-0.0), Value::Double(0.0)]),
            Value::Double(0.0)
        );
        let min = resolve("MIN", &[col(SqlType::Double)]);
        let r = run(&*min, &[Value::Double(0.0), Value::Double(-0.0)]);
        assert!(matches!(r, Value::Double(v) if v.is_sign_negative()));
    }

    #[test]
    fn handles_temporal_and_decimal_types() {
        let ty = SqlType::decimal(5, 2).unwrap();
        let max = resolve("MAX", &[col(ty.clone())]);
        assert_eq!(max.return_type(), ty);
        let s = add_all(
            &*max,
            max.init(),
            &[Value::Decimal(150, 2), Value::Decimal(-900, 2)],
        );
        assert_round_trips(&*max, &s);
        assert_eq!(s, Value::Decimal(150, 2));
        let min = resolve("MIN", &[col(SqlType::Timestamp)]);
        assert_eq!(
            run(&*min, &[Value::Timestamp(5), Value::Timestamp(2)]),
            Value::Timestamp(2)
        );
    }

    #[test]
    fn merges() {
        let max = resolve("MAX", &[col(SqlType::BigInt)]);
        assert_eq!(
            max.merge(Value::BigInt(1), Value::BigInt(4)).unwrap(),
            Value::BigInt(4)
        );
        assert_eq!(
            max.merge(Value::Null, Value::BigInt(4)).unwrap(),
            Value::BigInt(4)
        );
        assert_eq!(
            max.merge(Value::BigInt(1), Value::Null).unwrap(),
            Value::BigInt(1)
        );
    }

    #[test]
    fn refuses_booleans_and_collections() {
        let err = resolve_err("MIN", &[col(SqlType::Boolean)]);
        assert!(
            err.starts_with("Function 'MIN' does not accept parameters (BOOLEAN)."),
            "{err}"
        );
        assert!(
            resolve_err("MAX", &[col(SqlType::array(SqlType::Int))])
                .starts_with("Function 'MAX' does not accept parameters (ARRAY<INTEGER>).")
        );
    }
}
