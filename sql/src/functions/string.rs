//! String functions.

use super::{FunctionRegistry, ScalarFunction};
use crate::types::SqlType;
use crate::value::Value;

fn s() -> super::Param {
    SqlType::String.into()
}

pub(super) fn register(r: &mut FunctionRegistry) {
    r.add_scalar(
        ScalarFunction::new("UCASE", "Converts a string to upper case.").with(
            vec![s()],
            SqlType::String,
            |a| {
                Ok(Value::String(
                    a[0].as_str().unwrap_or_default().to_uppercase(),
                ))
            },
        ),
    );
    r.add_scalar(
        ScalarFunction::new("LCASE", "Converts a string to lower case.").with(
            vec![s()],
            SqlType::String,
            |a| {
                Ok(Value::String(
                    a[0].as_str().unwrap_or_default().to_lowercase(),
                ))
            },
        ),
    );
    r.add_scalar(
        ScalarFunction::new("LEN", "Returns the length of a string in characters.").with(
            vec![s()],
            SqlType::Int,
            |a| {
                Ok(Value::Int(
                    a[0].as_str().unwrap_or_default().chars().count() as i32,
                ))
            },
        ),
    );
}
