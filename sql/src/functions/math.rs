//! Mathematical functions.

use super::{FunctionRegistry, Param, Returns, ScalarFunction};
use crate::error::SqlError;
use crate::types::SqlType;
use crate::value::Value;

pub(super) fn register(r: &mut FunctionRegistry) {
    r.add_scalar(
        ScalarFunction::new("ABS", "Returns the absolute value of its argument.")
            .with(vec![SqlType::Int.into()], SqlType::Int, |a| match a[0] {
                Value::Int(v) => Ok(Value::Int(v.wrapping_abs())),
                _ => Err(SqlError::eval("ABS expects an INT")),
            })
            .with(vec![SqlType::BigInt.into()], SqlType::BigInt, |a| {
                match a[0] {
                    Value::BigInt(v) => Ok(Value::BigInt(v.wrapping_abs())),
                    _ => Err(SqlError::eval("ABS expects a BIGINT")),
                }
            })
            .with(vec![SqlType::Double.into()], SqlType::Double, |a| {
                match a[0] {
                    Value::Double(v) => Ok(Value::Double(v.abs())),
                    _ => Err(SqlError::eval("ABS expects a DOUBLE")),
                }
            })
            .with(vec![Param::AnyDecimal], Returns::Arg(0), |a| match a[0] {
                Value::Decimal(u, s) => Ok(Value::Decimal(u.abs(), s)),
                _ => Err(SqlError::eval("ABS expects a DECIMAL")),
            }),
    );
}
