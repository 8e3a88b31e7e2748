//! NULL handling: COALESCE and IFNULL (vectorised: [`Coalesce`]), NULLIF.

use std::sync::Arc;

use arrow::compute::is_not_null;
use arrow::compute::kernels::zip::zip;
use arrow::datatypes::DataType;
use datafusion_common::{DataFusionError, Result as DfResult};
use datafusion_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::{FunctionRegistry, Param, Returns, ScalarFunction};
use crate::value::Value;

pub(super) fn register(r: &mut FunctionRegistry) {
    let t = || Param::Generic('T');
    r.add_scalar(
        ScalarFunction::new("COALESCE", "Returns the first parameter that is not NULL.")
            .with_datafusion(vec![t(), t()], Returns::Generic('T'), Coalesce::udf())
            .variadic(),
    );
    r.add_scalar(
        ScalarFunction::new(
            "IFNULL",
            "Returns expression if not NULL, otherwise the alternative value.",
        )
        .with_datafusion(vec![t(), t()], Returns::Generic('T'), Coalesce::udf()),
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

/// COALESCE (and IFNULL) over arrays: the first argument that is not NULL, row by row.
/// DataFusion's own `coalesce` expects to be rewritten into a CASE by its optimizer, which
/// Eddy's planning does not run; this is the same selection with Arrow's `zip` kernel. The
/// arguments arrive cast to one type.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Coalesce {
    signature: Signature,
}

impl Coalesce {
    /// The function.
    pub fn udf() -> Arc<ScalarUDF> {
        Arc::new(ScalarUDF::new_from_impl(Self {
            signature: Signature::variadic_any(Volatility::Immutable),
        }))
    }
}

impl ScalarUDFImpl for Coalesce {
    fn name(&self) -> &str {
        "ksql_coalesce"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> DfResult<DataType> {
        arg_types
            .iter()
            .find(|t| **t != DataType::Null)
            .or(arg_types.first())
            .cloned()
            .ok_or_else(|| DataFusionError::Plan("COALESCE needs an argument".to_string()))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let n = args.number_rows;
        let target = args.return_field.data_type().clone();
        let mut result: Option<arrow::array::ArrayRef> = None;
        for arg in &args.args {
            let mut array = arg.to_array(n)?;
            if array.data_type() != &target {
                // An untyped NULL argument.
                array = arrow::compute::cast(&array, &target)?;
            }
            result = Some(match result {
                None => array,
                Some(so_far) => zip(&is_not_null(&so_far)?, &so_far, &array)?,
            });
        }
        result
            .map(ColumnarValue::Array)
            .ok_or_else(|| DataFusionError::Execution("COALESCE needs an argument".to_string()))
    }
}
