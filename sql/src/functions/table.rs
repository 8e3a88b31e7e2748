//! Table functions: EXPLODE.

use std::sync::Arc;

use super::{FunctionRegistry, TableFn, TableFunction};
use crate::error::{Result, SqlError};
use crate::types::SqlType;
use crate::value::Value;

struct Explode;

impl TableFunction for Explode {
    fn name(&self) -> &str {
        "EXPLODE"
    }

    fn description(&self) -> &str {
        "Explodes an array: one row per element."
    }

    fn resolve(&self, args: &[Option<SqlType>]) -> Result<(SqlType, TableFn)> {
        match args {
            [Some(SqlType::Array(element))] => {
                let f: TableFn = Arc::new(|a: &[Value]| match &a[0] {
                    Value::Array(items) => Ok(items.clone()),
                    _ => Ok(Vec::new()),
                });
                Ok(((**element).clone(), f))
            }
            _ => Err(SqlError::semantic(format!(
                "Function 'EXPLODE' does not accept parameters ({}).",
                args.iter()
                    .map(|a| a.as_ref().map_or("NULL".into(), |t| t.to_string()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }
}

pub(super) fn register(r: &mut FunctionRegistry) {
    r.add_table(Arc::new(Explode));
}
