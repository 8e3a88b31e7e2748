//! SUM of INT, BIGINT, DOUBLE or DECIMAL (ksqlDB keeps the argument's type: SUM(INT) is
//! an INT).

use std::sync::Arc;

use crate::error::{Result, SqlError};
use crate::functions::{AggregateArg, AggregateFunction, Aggregator, FunctionRegistry};
use crate::types::SqlType;
use crate::value::Value;

#[derive(Debug)]
struct SumAggregator {
    ty: SqlType,
}

impl SumAggregator {
    fn combine(&self, a: &Value, b: &Value, negate: bool) -> Result<Value> {
        Ok(match (&self.ty, a, b) {
            (_, a, Value::Null) => a.clone(),
            (SqlType::Int, Value::Int(x), Value::Int(y)) => Value::Int(if negate {
                x.wrapping_sub(*y)
            } else {
                x.wrapping_add(*y)
            }),
            (SqlType::BigInt, Value::BigInt(x), Value::BigInt(y)) => Value::BigInt(if negate {
                x.wrapping_sub(*y)
            } else {
                x.wrapping_add(*y)
            }),
            (SqlType::Double, Value::Double(x), Value::Double(y)) => {
                Value::Double(if negate { x - y } else { x + y })
            }
            (SqlType::Decimal { .. }, Value::Decimal(x, s), Value::Decimal(y, _)) => {
                Value::Decimal(if negate { x - y } else { x + y }, *s)
            }
            (ty, a, b) => {
                return Err(SqlError::eval(format!(
                    "SUM of {ty} cannot add {a:?} and {b:?}"
                )));
            }
        })
    }
}

impl Aggregator for SumAggregator {
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
        match self.ty {
            SqlType::Int => Value::Int(0),
            SqlType::BigInt => Value::BigInt(0),
            SqlType::Double => Value::Double(0.0),
            SqlType::Decimal { scale, .. } => Value::Decimal(0, scale),
            _ => Value::Null,
        }
    }
    fn add(&self, state: Value, args: &[Value]) -> Result<Value> {
        self.combine(&state, &args[0], false)
    }
    fn supports_undo(&self) -> bool {
        true
    }
    fn undo(&self, state: Value, args: &[Value]) -> Result<Value> {
        self.combine(&state, &args[0], true)
    }
    fn merge(&self, a: Value, b: Value) -> Result<Value> {
        self.combine(&a, &b, false)
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
        "Returns the sum of a column's values."
    }
    fn resolve(&self, args: &[AggregateArg]) -> Result<Arc<dyn Aggregator>> {
        match args {
            [AggregateArg { ty: Some(ty), .. }]
                if matches!(
                    ty,
                    SqlType::Int | SqlType::BigInt | SqlType::Double | SqlType::Decimal { .. }
                ) =>
            {
                Ok(Arc::new(SumAggregator { ty: ty.clone() }))
            }
            _ => Err(SqlError::semantic(format!(
                "Function 'SUM' does not accept parameters ({}).",
                args.iter()
                    .map(|a| a.ty.as_ref().map_or("NULL".into(), |t| t.to_string()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }
}

pub(super) fn register(r: &mut FunctionRegistry) {
    r.add_aggregate(Arc::new(Sum));
}
