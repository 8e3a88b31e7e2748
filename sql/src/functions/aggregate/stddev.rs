//! STDDEV_SAMP and STDDEV_SAMPLE of INT, BIGINT or DOUBLE (ksqlDB's
//! `StandardDeviationSampUdaf` and `StandardDeviationSampleUdaf`, `TableUdaf`s), by the
//! Youngs-Cramer algorithm over a `STRUCT<SUM type, COUNT BIGINT, M2 DOUBLE>` state, with
//! the sum in the argument's Java type. Both return 0.0 below two values. As ksqlDB (and its
//! documentation) says, STDDEV_SAMP returns the sample *variance*; STDDEV_SAMPLE its square
//! root. Their merges differ as ksqlDB's do: STDDEV_SAMP divides integer sums by counts in
//! integer arithmetic. NULLs are skipped.

use std::sync::Arc;

use super::{
    Signature, arg, arg_type, bad_arg, choose, double_field, fields, long_field, struct_type,
};
use crate::error::{Result, SqlError};
use crate::functions::{AggregateArg, AggregateFunction, Aggregator, FunctionRegistry};
use crate::types::SqlType;
use crate::value::Value;

/// A sum in the argument's Java type.
#[derive(Debug, Clone, Copy)]
enum Sum {
    Int(i32),
    Long(i64),
    Double(f64),
}

impl Sum {
    fn value(self) -> Value {
        match self {
            Self::Int(v) => Value::Int(v),
            Self::Long(v) => Value::BigInt(v),
            Self::Double(v) => Value::Double(v),
        }
    }
}

#[derive(Debug)]
struct StdDev {
    ty: SqlType,
    /// STDDEV_SAMPLE (the square root, and double arithmetic when merging).
    sqrt: bool,
}

struct State {
    sum: Sum,
    count: i64,
    m2: f64,
}

impl StdDev {
    fn name(&self) -> &'static str {
        if self.sqrt {
            "STDDEV_SAMPLE"
        } else {
            "STDDEV_SAMP"
        }
    }

    fn zero(&self) -> Sum {
        match self.ty {
            SqlType::Int => Sum::Int(0),
            SqlType::BigInt => Sum::Long(0),
            _ => Sum::Double(0.0),
        }
    }

    fn read(&self, state: Value) -> Result<State> {
        let f = fields(self.name(), state, 3)?;
        let sum = match (&f[0], self.zero()) {
            (Value::Int(v), Sum::Int(_)) => Sum::Int(*v),
            (Value::BigInt(v), Sum::Long(_)) => Sum::Long(*v),
            (Value::Double(v), Sum::Double(_)) => Sum::Double(*v),
            (Value::Null, zero) => zero,
            (other, _) => return Err(bad_arg(self.name(), other)),
        };
        Ok(State {
            sum,
            count: long_field(self.name(), &f[1])?,
            m2: double_field(self.name(), &f[2])?,
        })
    }

    fn write(s: State) -> Value {
        Value::Struct(vec![
            s.sum.value(),
            Value::BigInt(s.count),
            Value::Double(s.m2),
        ])
    }

    /// The argument in the sum's type.
    fn input(&self, v: &Value) -> Result<Sum> {
        Ok(match (v, self.zero()) {
            (Value::Int(x), Sum::Int(_)) => Sum::Int(*x),
            (Value::BigInt(x), Sum::Long(_)) => Sum::Long(*x),
            (Value::Double(x), Sum::Double(_)) => Sum::Double(*x),
            (other, _) => return Err(bad_arg(self.name(), other)),
        })
    }

    /// `createDelta`: `v * (count + 1) - (sum + v)`, in the Java types.
    fn delta(s: &State, v: Sum) -> f64 {
        match (s.sum, v) {
            (Sum::Int(sum), Sum::Int(x)) => (x as i64)
                .wrapping_mul(s.count.wrapping_add(1))
                .wrapping_sub(sum.wrapping_add(x) as i64)
                as f64,
            (Sum::Long(sum), Sum::Long(x)) => {
                x.wrapping_mul(s.count.wrapping_add(1))
                    .wrapping_sub(sum.wrapping_add(x)) as f64
            }
            (Sum::Double(sum), Sum::Double(x)) => x * (s.count.wrapping_add(1)) as f64 - (sum + x),
            _ => f64::NAN,
        }
    }

    fn plus(a: Sum, b: Sum, negate: bool) -> Sum {
        match (a, b) {
            (Sum::Int(x), Sum::Int(y)) => Sum::Int(if negate {
                x.wrapping_sub(y)
            } else {
                x.wrapping_add(y)
            }),
            (Sum::Long(x), Sum::Long(y)) => Sum::Long(if negate {
                x.wrapping_sub(y)
            } else {
                x.wrapping_add(y)
            }),
            (Sum::Double(x), Sum::Double(y)) => Sum::Double(if negate { x - y } else { x + y }),
            (a, _) => a,
        }
    }

    /// `mergeInner`: the difference of the two means (STDDEV_SAMP: integer division for
    /// integer sums, as ksqlDB's; Java's long division by zero would throw).
    fn mean_difference(&self, a: &State, b: &State) -> Result<f64> {
        let divide = |x: i64, n: i64| {
            if n == 0 {
                Err(SqlError::eval(format!("{}: / by zero", self.name())))
            } else {
                Ok(x.wrapping_div(n))
            }
        };
        Ok(match (a.sum, b.sum, self.sqrt) {
            (Sum::Int(x), Sum::Int(y), false) => {
                divide(x as i64, a.count)?.wrapping_sub(divide(y as i64, b.count)?) as f64
            }
            (Sum::Long(x), Sum::Long(y), false) => {
                divide(x, a.count)?.wrapping_sub(divide(y, b.count)?) as f64
            }
            (Sum::Int(x), Sum::Int(y), true) => {
                x as f64 / a.count as f64 - y as f64 / b.count as f64
            }
            (Sum::Long(x), Sum::Long(y), true) => {
                x as f64 / a.count as f64 - y as f64 / b.count as f64
            }
            (Sum::Double(x), Sum::Double(y), _) => x / a.count as f64 - y / b.count as f64,
            _ => f64::NAN,
        })
    }
}

impl Aggregator for StdDev {
    fn value_args(&self) -> usize {
        1
    }
    fn state_type(&self) -> SqlType {
        struct_type(&[
            ("SUM", self.ty.clone()),
            ("COUNT", SqlType::BigInt),
            ("M2", SqlType::Double),
        ])
    }
    fn return_type(&self) -> SqlType {
        SqlType::Double
    }
    fn init(&self) -> Value {
        Self::write(State {
            sum: self.zero(),
            count: 0,
            m2: 0.0,
        })
    }
    fn add(&self, state: Value, args: &[Value]) -> Result<Value> {
        let v = arg(args, 0);
        if v.is_null() {
            return Ok(state);
        }
        let v = self.input(v)?;
        let s = self.read(state)?;
        let count = s.count.wrapping_add(1);
        let m2 = if count.wrapping_sub(1) > 0 {
            let delta = Self::delta(&s, v);
            delta * delta / count.wrapping_mul(count.wrapping_sub(1)) as f64
        } else {
            0.0
        };
        Ok(Self::write(State {
            sum: Self::plus(s.sum, v, false),
            count,
            m2: m2 + s.m2,
        }))
    }
    fn supports_undo(&self) -> bool {
        true
    }
    fn undo(&self, state: Value, args: &[Value]) -> Result<Value> {
        let v = arg(args, 0);
        if v.is_null() {
            return Ok(state);
        }
        let v = self.input(v)?;
        let s = self.read(state)?;
        let count = s.count.wrapping_sub(1);
        let m2 = if count > 0 {
            let delta = Self::delta(&s, v);
            delta * delta / count.wrapping_mul(count.wrapping_add(1)) as f64
        } else {
            0.0
        };
        Ok(Self::write(State {
            sum: Self::plus(s.sum, v, true),
            count,
            m2: s.m2 - m2,
        }))
    }
    fn merge(&self, a: Value, b: Value) -> Result<Value> {
        let a = self.read(a)?;
        let b = self.read(b)?;
        let count = a.count.wrapping_add(b.count);
        let m2 = if a.count == 0 || b.count == 0 {
            a.m2 + b.m2
        } else {
            let inner = self.mean_difference(&a, &b)?;
            a.m2 + b.m2 + a.count.wrapping_mul(b.count) as f64 * inner * inner / count as f64
        };
        Ok(Self::write(State {
            sum: Self::plus(a.sum, b.sum, false),
            count,
            m2,
        }))
    }
    fn result(&self, state: &Value) -> Result<Value> {
        let s = self.read(state.clone())?;
        if s.count < 2 {
            return Ok(Value::Double(0.0));
        }
        let variance = s.m2 / (s.count - 1) as f64;
        Ok(Value::Double(if self.sqrt {
            variance.sqrt()
        } else {
            variance
        }))
    }
}

struct StdDevFunction {
    sqrt: bool,
}

impl AggregateFunction for StdDevFunction {
    fn name(&self) -> &str {
        if self.sqrt {
            "STDDEV_SAMPLE"
        } else {
            "STDDEV_SAMP"
        }
    }
    fn description(&self) -> &str {
        "Returns the sample standard deviation of the column. Applicable only to numeric types."
    }
    fn resolve(&self, args: &[AggregateArg]) -> Result<Arc<dyn Aggregator>> {
        choose(
            self.name(),
            &[
                Signature::new(vec![(SqlType::BigInt.into(), "val1")]),
                Signature::new(vec![(SqlType::Int.into(), "val1")]),
                Signature::new(vec![(SqlType::Double.into(), "val1")]),
            ],
            args,
        )?;
        Ok(Arc::new(StdDev {
            ty: arg_type(self.name(), args, 0)?,
            sqrt: self.sqrt,
        }))
    }
}

pub(super) fn register(r: &mut FunctionRegistry) {
    r.add_aggregate(Arc::new(StdDevFunction { sqrt: false }));
    r.add_aggregate(Arc::new(StdDevFunction { sqrt: true }));
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    fn close(v: Value, want: f64) {
        match v {
            Value::Double(x) => assert!((x - want).abs() < 1e-9, "{x} vs {want}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn samp_is_the_variance_and_sample_its_root() {
        let rows: Vec<Value> = [2, 4, 4, 4, 5, 5, 7, 9]
            .into_iter()
            .map(Value::Int)
            .collect();
        // Sample variance of the above: 32 / 7.
        let samp = resolve("STDDEV_SAMP", &[col(SqlType::Int)]);
        assert_eq!(samp.return_type(), SqlType::Double);
        assert_eq!(
            samp.state_type().to_string(),
            "STRUCT<`SUM` INTEGER, `COUNT` BIGINT, `M2` DOUBLE>"
        );
        close(run(&*samp, &rows), 32.0 / 7.0);
        let sample = resolve("STDDEV_SAMPLE", &[col(SqlType::Int)]);
        close(run(&*sample, &rows), (32.0f64 / 7.0).sqrt());
        assert_eq!(run(&*sample, &[Value::Int(3)]), Value::Double(0.0));
        assert_eq!(run(&*sample, &[Value::Null]), Value::Double(0.0));
    }

    #[test]
    fn doubles_and_longs() {
        let agg = resolve("STDDEV_SAMPLE", &[col(SqlType::Double)]);
        close(
            run(
                &*agg,
                &[Value::Double(1.5), Value::Double(2.5), Value::Null],
            ),
            0.5f64.sqrt(),
        );
        let agg = resolve("STDDEV_SAMP", &[col(SqlType::BigInt)]);
        close(run(&*agg, &[Value::BigInt(10), Value::BigInt(20)]), 50.0);
    }

    #[test]
    fn undo_takes_a_value_out() {
        let agg = resolve("STDDEV_SAMP", &[col(SqlType::Double)]);
        assert!(agg.supports_undo());
        let s = add_all(
            &*agg,
            agg.init(),
            &[Value::Double(1.0), Value::Double(2.0), Value::Double(10.0)],
        );
        let s = agg.undo(s, &[Value::Double(10.0)]).unwrap();
        let s = agg.undo(s, &[Value::Null]).unwrap();
        close(agg.result(&s).unwrap(), 0.5);
    }

    #[test]
    fn merges_as_ksqldb() {
        // Means 1.5 and 3.5: STDDEV_SAMPLE merges them exactly; STDDEV_SAMP divides the
        // integer sums by the counts in integer arithmetic (1 and 3), as ksqlDB does.
        let rows_a = [Value::Int(1), Value::Int(2)];
        let rows_b = [Value::Int(3), Value::Int(4)];
        let sample = resolve("STDDEV_SAMPLE", &[col(SqlType::Int)]);
        let merged = sample
            .merge(
                add_all(&*sample, sample.init(), &rows_a),
                add_all(&*sample, sample.init(), &rows_b),
            )
            .unwrap();
        assert_round_trips(&*sample, &merged);
        // Variance of 1..4 is 5/3.
        close(sample.result(&merged).unwrap(), (5.0f64 / 3.0).sqrt());
        let samp = resolve("STDDEV_SAMP", &[col(SqlType::Int)]);
        let merged = samp
            .merge(
                add_all(&*samp, samp.init(), &rows_a),
                add_all(&*samp, samp.init(), &rows_b),
            )
            .unwrap();
        // M2 = 0.5 + 0.5 + 2 * 2 * (1 - 3)^2 / 4 = 5, so 5 / 3 as well here.
        close(samp.result(&merged).unwrap(), 5.0 / 3.0);
        let odd = samp
            .merge(
                add_all(&*samp, samp.init(), &[Value::Int(1), Value::Int(4)]),
                add_all(&*samp, samp.init(), &[Value::Int(6)]),
            )
            .unwrap();
        // Means 2 (not 2.5) and 6: M2 = 4.5 + 0 + 2 * 1 * 16 / 3.
        close(samp.result(&odd).unwrap(), (4.5 + 32.0 / 3.0) / 2.0);
        assert_eq!(samp.merge(samp.init(), samp.init()).unwrap(), samp.init());
    }

    #[test]
    fn refuses_decimals() {
        assert!(
            resolve_err("STDDEV_SAMP", &[col(SqlType::decimal(3, 1).unwrap())])
                .starts_with("Function 'STDDEV_SAMP' does not accept parameters (DECIMAL(3, 1)).")
        );
    }
}
