//! CORRELATION(x, y) of two DOUBLE, two INT or two BIGINT columns (ksqlDB's
//! `CorrelationUdaf`, a `TableUdaf`): the Pearson correlation coefficient by the
//! single-pass formula over a `STRUCT<X_SUM, Y_SUM, X_SQUARED_SUM, Y_SQUARED_SUM, XY_SUM
//! DOUBLE, COUNT BIGINT>` state. Rows where either value is NULL are skipped; fewer than two
//! rows, or a constant column, give NaN.

use std::sync::Arc;

use super::{Signature, arg, bad_arg, choose, double_field, fields, long_field, struct_type};
use crate::error::Result;
use crate::functions::{AggregateArg, AggregateFunction, Aggregator, FunctionRegistry};
use crate::types::SqlType;
use crate::value::Value;

const NAME: &str = "correlation";

#[derive(Debug)]
struct Correlation;

/// X_SUM, Y_SUM, X_SQUARED_SUM, Y_SQUARED_SUM, XY_SUM and COUNT.
type Sums = ([f64; 5], i64);

impl Correlation {
    fn read(&self, state: Value) -> Result<Sums> {
        let f = fields("CORRELATION", state, 6)?;
        let mut sums = [0.0; 5];
        for (s, v) in sums.iter_mut().zip(&f) {
            *s = double_field("CORRELATION", v)?;
        }
        Ok((sums, long_field("CORRELATION", &f[5])?))
    }

    fn write((sums, count): Sums) -> Value {
        let mut f: Vec<Value> = sums.into_iter().map(Value::Double).collect();
        f.push(Value::BigInt(count));
        Value::Struct(f)
    }

    fn double(v: &Value) -> Result<f64> {
        match v {
            Value::Int(x) => Ok(*x as f64),
            Value::BigInt(x) => Ok(*x as f64),
            Value::Double(x) => Ok(*x),
            other => Err(bad_arg("CORRELATION", other)),
        }
    }

    fn step(&self, state: Value, args: &[Value], undo: bool) -> Result<Value> {
        let (x, y) = (arg(args, 0), arg(args, 1));
        if x.is_null() || y.is_null() {
            return Ok(state);
        }
        let (x, y) = (Self::double(x)?, Self::double(y)?);
        let (s, count) = self.read(state)?;
        let d = [x, y, x * x, y * y, x * y];
        let mut out = s;
        for (o, d) in out.iter_mut().zip(d) {
            if undo {
                *o -= d;
            } else {
                *o += d;
            }
        }
        let count = if undo {
            count.wrapping_sub(1)
        } else {
            count.wrapping_add(1)
        };
        Ok(Self::write((out, count)))
    }
}

impl Aggregator for Correlation {
    fn value_args(&self) -> usize {
        2
    }
    fn state_type(&self) -> SqlType {
        struct_type(&[
            ("X_SUM", SqlType::Double),
            ("Y_SUM", SqlType::Double),
            ("X_SQUARED_SUM", SqlType::Double),
            ("Y_SQUARED_SUM", SqlType::Double),
            ("XY_SUM", SqlType::Double),
            ("COUNT", SqlType::BigInt),
        ])
    }
    fn return_type(&self) -> SqlType {
        SqlType::Double
    }
    fn init(&self) -> Value {
        Self::write(([0.0; 5], 0))
    }
    fn add(&self, state: Value, args: &[Value]) -> Result<Value> {
        self.step(state, args, false)
    }
    fn supports_undo(&self) -> bool {
        true
    }
    fn undo(&self, state: Value, args: &[Value]) -> Result<Value> {
        self.step(state, args, true)
    }
    fn merge(&self, a: Value, b: Value) -> Result<Value> {
        let (sa, ca) = self.read(a)?;
        let (sb, cb) = self.read(b)?;
        let mut out = sa;
        for (o, b) in out.iter_mut().zip(sb) {
            *o += b;
        }
        Ok(Self::write((out, ca.wrapping_add(cb))))
    }
    fn result(&self, state: &Value) -> Result<Value> {
        let ([sum_x, sum_y, sq_x, sq_y, sum_xy], count) = self.read(state.clone())?;
        let n = count as f64;
        let numerator = n * sum_xy - sum_x * sum_y;
        let denominator_x = n * sq_x - sum_x * sum_x;
        let denominator_y = n * sq_y - sum_y * sum_y;
        let denominator = (denominator_x * denominator_y).sqrt();
        Ok(Value::Double(numerator / denominator))
    }
}

struct CorrelationFunction;

impl AggregateFunction for CorrelationFunction {
    fn name(&self) -> &str {
        NAME
    }
    fn description(&self) -> &str {
        "Computes the Pearson correlation coefficient between two columns of data."
    }
    fn resolve(&self, args: &[AggregateArg]) -> Result<Arc<dyn Aggregator>> {
        let pair =
            |t: SqlType| Signature::new(vec![(t.clone().into(), "val1"), (t.into(), "val2")]);
        let signatures = [
            pair(SqlType::Double),
            pair(SqlType::Int),
            pair(SqlType::BigInt),
        ];
        choose(NAME, &signatures, args)?;
        Ok(Arc::new(Correlation))
    }
}

pub(super) fn register(r: &mut FunctionRegistry) {
    r.add_aggregate(Arc::new(CorrelationFunction));
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    fn pairs(agg: &dyn Aggregator, rows: &[(Value, Value)]) -> Value {
        rows.iter().fold(agg.init(), |s, (x, y)| {
            agg.add(s, &[x.clone(), y.clone()]).unwrap()
        })
    }

    #[test]
    fn correlates() {
        let agg = resolve("CORRELATION", &[col(SqlType::Int), col(SqlType::Int)]);
        assert_eq!(agg.value_args(), 2);
        assert_eq!(agg.return_type(), SqlType::Double);
        let s = pairs(
            &*agg,
            &[
                (Value::Int(1), Value::Int(2)),
                (Value::Int(2), Value::Int(4)),
                (Value::Int(3), Value::Null),
                (Value::Int(3), Value::Int(6)),
            ],
        );
        assert_round_trips(&*agg, &s);
        assert_eq!(agg.result(&s).unwrap(), Value::Double(1.0));
        let s = pairs(
            &*agg,
            &[
                (Value::Int(1), Value::Int(2)),
                (Value::Int(2), Value::Int(1)),
            ],
        );
        assert_eq!(agg.result(&s).unwrap(), Value::Double(-1.0));
    }

    #[test]
    fn too_few_rows_or_a_constant_is_nan() {
        let agg = resolve("CORRELATION", &[col(SqlType::Double), col(SqlType::Double)]);
        let nan = |v: Value| matches!(v, Value::Double(x) if x.is_nan());
        assert!(nan(agg.result(&agg.init()).unwrap()));
        let s = pairs(&*agg, &[(Value::Double(1.0), Value::Double(2.0))]);
        assert!(nan(agg.result(&s).unwrap()));
        let s = pairs(
            &*agg,
            &[
                (Value::Double(1.0), Value::Double(2.0)),
                (Value::Double(1.0), Value::Double(3.0)),
            ],
        );
        assert!(nan(agg.result(&s).unwrap()));
    }

    #[test]
    fn undoes_and_merges() {
        let agg = resolve("CORRELATION", &[col(SqlType::BigInt), col(SqlType::BigInt)]);
        assert!(agg.supports_undo());
        let a = pairs(
            &*agg,
            &[
                (Value::BigInt(1), Value::BigInt(1)),
                (Value::BigInt(5), Value::BigInt(-7)),
            ],
        );
        let b = pairs(&*agg, &[(Value::BigInt(2), Value::BigInt(2))]);
        let merged = agg.merge(a, b).unwrap();
        let s = agg
            .undo(merged, &[Value::BigInt(5), Value::BigInt(-7)])
            .unwrap();
        let s = agg.undo(s, &[Value::Null, Value::BigInt(1)]).unwrap();
        assert_eq!(agg.result(&s).unwrap(), Value::Double(1.0));
    }

    #[test]
    fn needs_two_columns_of_one_type() {
        assert!(
            resolve_err("CORRELATION", &[col(SqlType::Int), col(SqlType::Double)]).starts_with(
                "Function 'correlation' does not accept parameters (INTEGER, DOUBLE)."
            )
        );
    }
}
