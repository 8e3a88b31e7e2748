//! NULL handling: COALESCE, IFNULL, NULLIF.

use super::{FunctionRegistry, Param, Returns, ScalarFunction};
use crate::value::Value;

pub(super) fn register(r: &mut FunctionRegistry) {
    let t = || Param::Generic('T');
    r.add_scalar(
        ScalarFunction::new("COALESCE", "Returns the first parameter that is not NULL.")
            .with_nulls(vec![t(), t()], Returns::Generic('T'), |args| {
                Ok(args
                    .iter()
                    .find(|v| !v.is_null())
                    .cloned()
                    .unwrap_or(Value::Null))
            })
            .variadic(),
    );
    r.add_scalar(
        ScalarFunction::new(
            "IFNULL",
            "Returns expression if not NULL, otherwise the alternative value.",
        )
        .with_nulls(vec![t(), t()], Returns::Generic('T'), |args| {
            Ok(if args[0].is_null() {
                args[1].clone()
            } else {
                args[0].clone()
            })
        }),
    );
    r.add_scalar(
        ScalarFunction::new(
            "NULLIF",
            "Returns NULL if the two expressions are equal, otherwise the first.",
        )
        .with_nulls(vec![t(), t()], Returns::Generic('T'), |args| {
            Ok(if !args[0].is_null() && args[0] == args[1] {
                Value::Null
            } else {
                args[0].clone()
            })
        }),
    );
}
