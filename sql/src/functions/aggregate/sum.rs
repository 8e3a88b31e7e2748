//! SUM of INT, BIGINT, DOUBLE or DECIMAL, and SUM_LIST of ARRAY<INT|BIGINT|DOUBLE>
//! (ksqlDB's `SumKudaf`s and `ListSumUdaf`, all `TableUdaf`s). The sum keeps the argument's
//! type: SUM(INT) is an INT that wraps on overflow as Java's int does; a DECIMAL sum that
//! no longer fits its precision fails with ksqlDB's "Numeric field overflow". NULLs (and
//! NULL list elements) are skipped.

use std::sync::Arc;

use super::{Signature, arg, arg_type, bad_arg, bad_state, choose};
use crate::error::{Result, SqlError};
use crate::functions::{AggregateArg, AggregateFunction, Aggregator, FunctionRegistry, Param};
use crate::types::SqlType;
use crate::value::{Value, format_decimal};

/// The numeric kinds a sum is kept in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    BigInt,
    Double,
    Decimal { precision: u8, scale: u8 },
}

impl Kind {
    fn of(ty: &SqlType) -> Option<Self> {
        Some(match ty {
            SqlType::Int => Self::Int,
            SqlType::BigInt => Self::BigInt,
            SqlType::Double => Self::Double,
            SqlType::Decimal { precision, scale } => Self::Decimal {
                precision: *precision,
                scale: *scale,
            },
            _ => return None,
        })
    }

    fn ty(self) -> SqlType {
        match self {
            Self::Int => SqlType::Int,
            Self::BigInt => SqlType::BigInt,
            Self::Double => SqlType::Double,
            Self::Decimal { precision, scale } => SqlType::Decimal { precision, scale },
        }
    }

    fn zero(self) -> Value {
        match self {
            Self::Int => Value::Int(0),
            Self::BigInt => Value::BigInt(0),
            Self::Double => Value::Double(0.0),
            Self::Decimal { scale, .. } => Value::Decimal(0, scale),
        }
    }

    /// `a + b` (or `a - b`), as the Java type does. `check` applies DecimalSumKudaf's
    /// overflow check (only `aggregate` checks; `undo` and `merge` do not).
    fn combine(self, name: &str, a: &Value, b: &Value, negate: bool, check: bool) -> Result<Value> {
        Ok(match (self, a, b) {
            (_, a, Value::Null) => a.clone(),
            (Self::Int, Value::Int(x), Value::Int(y)) => Value::Int(if negate {
                x.wrapping_sub(*y)
            } else {
                x.wrapping_add(*y)
            }),
            (Self::BigInt, Value::BigInt(x), Value::BigInt(y)) => Value::BigInt(if negate {
                x.wrapping_sub(*y)
            } else {
                x.wrapping_add(*y)
            }),
            (Self::Double, Value::Double(x), Value::Double(y)) => {
                Value::Double(if negate { x - y } else { x + y })
            }
            (Self::Decimal { precision, scale }, Value::Decimal(x, sx), Value::Decimal(y, sy)) => {
                let too_large = || overflow(precision, scale, "(too large)".into());
                let x = rescale(*x, *sx, scale).ok_or_else(too_large)?;
                let y = rescale(*y, *sy, scale).ok_or_else(too_large)?;
                let sum = if negate {
                    x.checked_sub(y)
                } else {
                    x.checked_add(y)
                };
                let sum = sum.ok_or_else(|| overflow(precision, scale, "(too large)".into()))?;
                if check && sum.unsigned_abs() >= 10u128.pow(precision as u32) {
                    return Err(overflow(
                        precision,
                        scale,
                        round_to_precision(sum, scale, precision),
                    ));
                }
                Value::Decimal(sum, scale)
            }
            (_, Value::Null, _) => return Err(bad_state(name, a)),
            (_, a, b) => {
                return Err(SqlError::eval(format!(
                    "{name} of {} cannot add {a:?} and {b:?}",
                    self.ty()
                )));
            }
        })
    }
}

fn overflow(precision: u8, scale: u8, got: String) -> SqlError {
    SqlError::eval(format!(
        "Numeric field overflow: A field with precision {precision} and scale {scale} must \
         round to an absolute value less than 10^{}. Got {got}",
        precision - scale
    ))
}

/// An unscaled decimal of scale `from` at scale `to` (rounded half up when that drops
/// digits); `None` if it does not fit.
fn rescale(unscaled: i128, from: u8, to: u8) -> Option<i128> {
    if from == to {
        return Some(unscaled);
    }
    if to > from {
        return unscaled.checked_mul(10i128.checked_pow((to - from) as u32)?);
    }
    let divisor = 10i128.checked_pow((from - to) as u32)?;
    let q = unscaled.abs() / divisor;
    let q = if unscaled.abs() % divisor * 2 >= divisor {
        q + 1
    } else {
        q
    };
    Some(if unscaled < 0 { -q } else { q })
}

/// `BigDecimal.add(.., new MathContext(precision)).toPlainString()` of an exact sum: the
/// value rounded half up to `precision` significant digits.
fn round_to_precision(unscaled: i128, scale: u8, precision: u8) -> String {
    let digits = unscaled.unsigned_abs().to_string().len() as i64;
    let drop = digits - precision as i64;
    if drop <= 0 {
        return format_decimal(unscaled, scale);
    }
    let divisor = 10i128.pow(drop as u32);
    let mut q = unscaled.abs() / divisor;
    if unscaled.abs() % divisor * 2 >= divisor {
        q += 1;
    }
    let q = if unscaled < 0 { -q } else { q };
    let new_scale = scale as i64 - drop;
    if new_scale >= 0 {
        format_decimal(q, new_scale as u8)
    } else {
        format!("{q}{}", "0".repeat((-new_scale) as usize))
    }
}

#[derive(Debug)]
struct SumAggregator {
    name: &'static str,
    kind: Kind,
    /// SUM_LIST: the argument is an array whose elements are summed.
    list: bool,
}

impl SumAggregator {
    /// The sum of one argument (an element sum for SUM_LIST), or NULL.
    fn value(&self, v: &Value) -> Result<Value> {
        if !self.list {
            return Ok(v.clone());
        }
        match v {
            Value::Null => Ok(Value::Null),
            Value::Array(items) => items.iter().try_fold(self.kind.zero(), |acc, x| {
                self.kind.combine(self.name, &acc, x, false, false)
            }),
            other => Err(bad_arg(self.name, other)),
        }
    }
}

impl Aggregator for SumAggregator {
    fn value_args(&self) -> usize {
        1
    }
    fn state_type(&self) -> SqlType {
        self.kind.ty()
    }
    fn return_type(&self) -> SqlType {
        self.kind.ty()
    }
    fn init(&self) -> Value {
        self.kind.zero()
    }
    fn add(&self, state: Value, args: &[Value]) -> Result<Value> {
        let v = self.value(arg(args, 0))?;
        self.kind.combine(self.name, &state, &v, false, true)
    }
    fn supports_undo(&self) -> bool {
        true
    }
    fn undo(&self, state: Value, args: &[Value]) -> Result<Value> {
        let v = self.value(arg(args, 0))?;
        self.kind.combine(self.name, &state, &v, true, false)
    }
    fn merge(&self, a: Value, b: Value) -> Result<Value> {
        self.kind.combine(self.name, &a, &b, false, false)
    }
    fn result(&self, state: &Value) -> Result<Value> {
        Ok(state.clone())
    }
}

struct Sum;

impl AggregateFunction for Sum {
    fn name(&self) -> &str {
        "SUM"
    }
    fn description(&self) -> &str {
        "Computes the sum for a key."
    }
    fn resolve(&self, args: &[AggregateArg]) -> Result<Arc<dyn Aggregator>> {
        choose(
            self.name(),
            &[
                Signature::new(vec![(Param::AnyDecimal, "val1")]),
                Signature::new(vec![(SqlType::Double.into(), "val1")]),
                Signature::new(vec![(SqlType::BigInt.into(), "val1")]),
                Signature::new(vec![(SqlType::Int.into(), "val1")]),
            ],
            args,
        )?;
        let ty = arg_type(self.name(), args, 0)?;
        let kind = Kind::of(&ty).ok_or_else(|| SqlError::semantic(format!("SUM of {ty}")))?;
        Ok(Arc::new(SumAggregator {
            name: "SUM",
            kind,
            list: false,
        }))
    }
}

struct SumList;

impl AggregateFunction for SumList {
    fn name(&self) -> &str {
        "sum_list"
    }
    fn description(&self) -> &str {
        "Returns the sum of elements contained in the list."
    }
    fn resolve(&self, args: &[AggregateArg]) -> Result<Arc<dyn Aggregator>> {
        choose(
            self.name(),
            &[
                Signature::new(vec![(Param::array(SqlType::Double.into()), "val1")]),
                Signature::new(vec![(Param::array(SqlType::Int.into()), "val1")]),
                Signature::new(vec![(Param::array(SqlType::BigInt.into()), "val1")]),
            ],
            args,
        )?;
        let ty = arg_type(self.name(), args, 0)?;
        let kind = match &ty {
            SqlType::Array(e) => Kind::of(e),
            _ => None,
        }
        .ok_or_else(|| SqlError::semantic(format!("SUM_LIST of {ty}")))?;
        Ok(Arc::new(SumAggregator {
            name: "SUM_LIST",
            kind,
            list: true,
        }))
    }
}

pub(super) fn register(r: &mut FunctionRegistry) {
    r.add_aggregate(Arc::new(Sum));
    r.add_aggregate(Arc::new(SumList));
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    #[test]
    fn keeps_the_argument_type() {
        for ty in [SqlType::Int, SqlType::BigInt, SqlType::Double] {
            let agg = resolve("SUM", &[col(ty.clone())]);
            assert_eq!(agg.return_type(), ty);
            assert_eq!(agg.state_type(), ty);
        }
        let agg = resolve("SUM", &[col(SqlType::Int)]);
        assert_eq!(
            run(&*agg, &[Value::Int(1), Value::Null, Value::Int(2)]),
            Value::Int(3)
        );
        let agg = resolve("SUM", &[col(SqlType::Double)]);
        assert_eq!(
            run(&*agg, &[Value::Double(1.5), Value::Double(2.25)]),
            Value::Double(3.75)
        );
        assert_eq!(run(&*agg, &[]), Value::Double(0.0));
    }

    #[test]
    fn integers_wrap_as_java() {
        let agg = resolve("SUM", &[col(SqlType::Int)]);
        assert_eq!(
            run(&*agg, &[Value::Int(i32::MAX), Value::Int(1)]),
            Value::Int(i32::MIN)
        );
        let agg = resolve("SUM", &[col(SqlType::BigInt)]);
        assert_eq!(
            run(&*agg, &[Value::BigInt(i64::MAX), Value::BigInt(2)]),
            Value::BigInt(i64::MIN + 1)
        );
    }

    #[test]
    fn decimals_keep_precision_and_scale_and_overflow() {
        let ty = SqlType::decimal(4, 1).unwrap();
        let agg = resolve("SUM", &[col(ty.clone())]);
        assert_eq!(agg.return_type(), ty);
        let s = add_all(
            &*agg,
            agg.init(),
            &[Value::Decimal(5009, 1), Value::Decimal(3008, 1)],
        );
        assert_eq!(s, Value::Decimal(8017, 1));
        assert_round_trips(&*agg, &s);
        let err = agg.add(s.clone(), &[Value::Decimal(4008, 1)]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Numeric field overflow: A field with precision 4 and scale 1 must round to an \
             absolute value less than 10^3. Got 1203"
        );
        // Undo and merge do not check.
        let s = agg.undo(s, &[Value::Decimal(8017, 1)]).unwrap();
        assert_eq!(agg.result(&s).unwrap(), Value::Decimal(0, 1));
        assert_eq!(
            agg.merge(Value::Decimal(9000, 1), Value::Decimal(9000, 1))
                .unwrap(),
            Value::Decimal(18000, 1)
        );
    }

    #[test]
    fn aligns_decimal_scales() {
        let agg = resolve("SUM", &[col(SqlType::decimal(6, 2).unwrap())]);
        assert_eq!(
            run(&*agg, &[Value::Decimal(15, 1), Value::Decimal(125, 2)]),
            Value::Decimal(275, 2)
        );
        assert_eq!(rescale(-12345, 3, 1), Some(-123));
        assert_eq!(rescale(-12355, 3, 1), Some(-124));
    }

    #[test]
    fn rounds_messages_as_big_decimal() {
        assert_eq!(round_to_precision(12025, 1, 4), "1203");
        assert_eq!(round_to_precision(-12024, 1, 4), "-1202");
        assert_eq!(round_to_precision(123456, 0, 4), "123500");
        assert_eq!(round_to_precision(1234, 2, 4), "12.34");
    }

    #[test]
    fn undoes_and_merges() {
        let agg = resolve("SUM", &[col(SqlType::BigInt)]);
        assert!(agg.supports_undo());
        let s = add_all(&*agg, agg.init(), &[Value::BigInt(5), Value::BigInt(7)]);
        let s = agg.undo(s, &[Value::BigInt(5)]).unwrap();
        let s = agg.undo(s, &[Value::Null]).unwrap();
        assert_eq!(s, Value::BigInt(7));
        assert_eq!(
            agg.merge(Value::BigInt(7), Value::BigInt(3)).unwrap(),
            Value::BigInt(10)
        );
    }

    #[test]
    fn refuses_other_types() {
        let err = resolve_err("SUM", &[col(SqlType::String)]);
        assert!(
            err.starts_with(
                "Function 'SUM' does not accept parameters (STRING).\nValid alternatives are:\n\
                 SUM(DECIMAL val1)\nSUM(DOUBLE val1)\nSUM(BIGINT val1)\nSUM(INTEGER val1)\n"
            ),
            "{err}"
        );
        // No implicit casts for UDAFs.
        assert!(
            resolve_err("SUM_LIST", &[col(SqlType::array(SqlType::String))])
                .starts_with("Function 'sum_list' does not accept parameters (ARRAY<STRING>).")
        );
    }

    #[test]
    fn sums_lists() {
        let agg = resolve("SUM_LIST", &[col(SqlType::array(SqlType::Int))]);
        assert_eq!(agg.return_type(), SqlType::Int);
        let rows = [
            Value::Array(vec![Value::Int(1), Value::Null, Value::Int(2)]),
            Value::Null,
            Value::Array(vec![Value::Int(3)]),
        ];
        let s = add_all(&*agg, agg.init(), &rows);
        assert_eq!(s, Value::Int(6));
        let s = agg.undo(s, &[Value::Array(vec![Value::Int(3)])]).unwrap();
        assert_eq!(agg.result(&s).unwrap(), Value::Int(3));
        let agg = resolve("SUM_LIST", &[col(SqlType::array(SqlType::Double))]);
        assert_eq!(
            run(
                &*agg,
                &[Value::Array(vec![Value::Double(0.5), Value::Double(0.25)])]
            ),
            Value::Double(0.75)
        );
    }
}
