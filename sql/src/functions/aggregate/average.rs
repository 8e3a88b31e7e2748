//! AVG of INT, BIGINT or DOUBLE (ksqlDB's `AverageUdaf`, a `TableUdaf`; no DECIMAL
//! overload, and UDAFs get no implicit casts): the state is `STRUCT<SUM type, COUNT
//! BIGINT>` with the sum in the argument's Java type (an INT sum wraps), the result a DOUBLE,
//! 0.0 for no rows. NULLs are skipped.

use std::sync::Arc;

use super::{Signature, arg, arg_type, bad_arg, choose, fields, long_field, struct_type};
use crate::error::{Result, SqlError};
use crate::functions::{AggregateArg, AggregateFunction, Aggregator, FunctionRegistry};
use crate::types::SqlType;
use crate::value::Value;

const NAME: &str = "avg";

#[derive(Debug)]
struct AverageAggregator {
    ty: SqlType,
}

impl AverageAggregator {
    fn zero(&self) -> Value {
        match self.ty {
            SqlType::Int => Value::Int(0),
            SqlType::BigInt => Value::BigInt(0),
            _ => Value::Double(0.0),
        }
    }

    fn plus(&self, sum: &Value, v: &Value, negate: bool) -> Result<Value> {
        Ok(match (sum, v) {
            (Value::Int(s), Value::Int(x)) => Value::Int(if negate {
                s.wrapping_sub(*x)
            } else {
                s.wrapping_add(*x)
            }),
            (Value::BigInt(s), Value::BigInt(x)) => Value::BigInt(if negate {
                s.wrapping_sub(*x)
            } else {
                s.wrapping_add(*x)
            }),
            (Value::Double(s), Value::Double(x)) => {
                Value::Double(if negate { s - x } else { s + x })
            }
            (Value::Null, x) => return self.plus(&self.zero(), x, negate),
            (_, x) => return Err(bad_arg("AVG", x)),
        })
    }

    fn step(&self, state: Value, v: &Value, negate: bool) -> Result<Value> {
        if v.is_null() {
            return Ok(state);
        }
        let f = fields("AVG", state, 2)?;
        let count = long_field("AVG", &f[1])?;
        Ok(Value::Struct(vec![
            self.plus(&f[0], v, negate)?,
            Value::BigInt(if negate {
                count.wrapping_sub(1)
            } else {
                count.wrapping_add(1)
            }),
        ]))
    }
}

impl Aggregator for AverageAggregator {
    fn value_args(&self) -> usize {
        1
    }
    fn state_type(&self) -> SqlType {
        struct_type(&[("SUM", self.ty.clone()), ("COUNT", SqlType::BigInt)])
    }
    fn return_type(&self) -> SqlType {
        SqlType::Double
    }
    fn init(&self) -> Value {
        Value::Struct(vec![self.zero(), Value::BigInt(0)])
    }
    fn add(&self, state: Value, args: &[Value]) -> Result<Value> {
        self.step(state, arg(args, 0), false)
    }
    fn supports_undo(&self) -> bool {
        true
    }
    fn undo(&self, state: Value, args: &[Value]) -> Result<Value> {
        self.step(state, arg(args, 0), true)
    }
    fn merge(&self, a: Value, b: Value) -> Result<Value> {
        let a = fields("AVG", a, 2)?;
        let b = fields("AVG", b, 2)?;
        Ok(Value::Struct(vec![
            self.plus(&a[0], &b[0], false)?,
            Value::BigInt(long_field("AVG", &a[1])?.wrapping_add(long_field("AVG", &b[1])?)),
        ]))
    }
    fn result(&self, state: &Value) -> Result<Value> {
        let f = fields("AVG", state.clone(), 2)?;
        let count = long_field("AVG", &f[1])?;
        if count == 0 {
            return Ok(Value::Double(0.0));
        }
        let sum = match &f[0] {
            Value::Int(s) => *s as f64,
            Value::BigInt(s) => *s as f64,
            Value::Double(s) => *s,
            Value::Null => 0.0,
            other => return Err(bad_arg("AVG", other)),
        };
        Ok(Value::Double(sum / count as f64))
    }
}

struct Average;

impl AggregateFunction for Average {
    fn name(&self) -> &str {
        NAME
    }
    fn description(&self) -> &str {
        "Returns the average value of the column computed as the sum divided by thecount. \
         Applicable only to numeric types."
    }
    fn resolve(&self, args: &[AggregateArg]) -> Result<Arc<dyn Aggregator>> {
        choose(
            NAME,
            &[
                Signature::new(vec![(SqlType::BigInt.into(), "val1")]),
                Signature::new(vec![(SqlType::Int.into(), "val1")]),
                Signature::new(vec![(SqlType::Double.into(), "val1")]),
            ],
            args,
        )?;
        let ty = arg_type(NAME, args, 0)?;
        if !matches!(ty, SqlType::Int | SqlType::BigInt | SqlType::Double) {
            return Err(SqlError::semantic(format!("AVG of {ty}")));
        }
        Ok(Arc::new(AverageAggregator { ty }))
    }
}

pub(super) fn register(r: &mut FunctionRegistry) {
    r.add_aggregate(Arc::new(Average));
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    #[test]
    fn averages_as_a_double() {
        let agg = resolve("AVG", &[col(SqlType::Int)]);
        assert_eq!(agg.return_type(), SqlType::Double);
        assert_eq!(
            agg.state_type().to_string(),
            "STRUCT<`SUM` INTEGER, `COUNT` BIGINT>"
        );
        assert_eq!(
            run(&*agg, &[Value::Int(1), Value::Null, Value::Int(2)]),
            Value::Double(1.5)
        );
        assert_eq!(run(&*agg, &[]), Value::Double(0.0));
        let agg = resolve("AVG", &[col(SqlType::Double)]);
        assert_eq!(
            run(&*agg, &[Value::Double(1.0), Value::Double(4.0)]),
            Value::Double(2.5)
        );
    }

    #[test]
    fn an_int_sum_wraps_as_java() {
        let agg = resolve("AVG", &[col(SqlType::Int)]);
        assert_eq!(
            run(&*agg, &[Value::Int(i32::MAX), Value::Int(1)]),
            Value::Double(i32::MIN as f64 / 2.0)
        );
    }

    #[test]
    fn undoes_and_merges() {
        let agg = resolve("AVG", &[col(SqlType::BigInt)]);
        assert!(agg.supports_undo());
        let s = add_all(
            &*agg,
            agg.init(),
            &[Value::BigInt(1), Value::BigInt(2), Value::BigInt(6)],
        );
        let s = agg.undo(s, &[Value::BigInt(6)]).unwrap();
        let s = agg.undo(s, &[Value::Null]).unwrap();
        assert_eq!(agg.result(&s).unwrap(), Value::Double(1.5));
        let other = add_all(&*agg, agg.init(), &[Value::BigInt(9)]);
        let merged = agg.merge(s, other).unwrap();
        assert_round_trips(&*agg, &merged);
        assert_eq!(agg.result(&merged).unwrap(), Value::Double(4.0));
        let s = agg.undo(merged, &[Value::BigInt(9)]).unwrap();
        let s = agg.undo(s, &[Value::BigInt(1)]).unwrap();
        let s = agg.undo(s, &[Value::BigInt(2)]).unwrap();
        assert_eq!(agg.result(&s).unwrap(), Value::Double(0.0));
    }

    #[test]
    fn has_no_decimal_overload() {
        let err = resolve_err("AVG", &[col(SqlType::decimal(4, 2).unwrap())]);
        assert!(
            err.starts_with("Function 'avg' does not accept parameters (DECIMAL(4, 2))."),
            "{err}"
        );
    }
}
