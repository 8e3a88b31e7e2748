//! [`NumericCast`]: CASTs between INT, BIGINT and DOUBLE that narrow (BIGINT to INT, DOUBLE
//! to INT or BIGINT), vectorised. ksqlDB casts as Java does (`(int) aLong` keeps the low 32
//! bits; `(long) aDouble` truncates, saturates, and makes NaN 0), which are Rust's `as`
//! conversions; Arrow's cast kernels instead make out-of-range values NULL, so they are not
//! used for these.

use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray};
use arrow::datatypes::{DataType, Float64Type, Int32Type, Int64Type};
use datafusion_common::{DataFusionError, Result as DfResult};
use datafusion_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use crate::types::SqlType;

/// A narrowing numeric CAST.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NumericCast {
    from: DataType,
    to: DataType,
    signature: Signature,
}

impl NumericCast {
    /// The UDF casting `from` to `to`, if this is a narrowing cast it implements.
    pub fn udf(from: &SqlType, to: &SqlType) -> Option<Arc<ScalarUDF>> {
        let narrowing = matches!(
            (from, to),
            (SqlType::BigInt, SqlType::Int) | (SqlType::Double, SqlType::Int | SqlType::BigInt)
        );
        narrowing.then(|| {
            Arc::new(ScalarUDF::new_from_impl(Self {
                from: from.to_arrow(),
                to: to.to_arrow(),
                signature: Signature::exact(vec![from.to_arrow()], Volatility::Immutable),
            }))
        })
    }
}

impl ScalarUDFImpl for NumericCast {
    fn name(&self) -> &str {
        "ksql_numeric_cast"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> DfResult<DataType> {
        Ok(self.to.clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let input = args.args[0].to_array(args.number_rows)?;
        let out: ArrayRef = match (&self.from, &self.to) {
            (DataType::Int64, DataType::Int32) => Arc::new(
                input
                    .as_primitive::<Int64Type>()
                    .unary::<_, Int32Type>(|v| v as i32),
            ),
            (DataType::Float64, DataType::Int32) => Arc::new(
                input
                    .as_primitive::<Float64Type>()
                    .unary::<_, Int32Type>(|v| v as i32),
            ),
            (DataType::Float64, DataType::Int64) => Arc::new(
                input
                    .as_primitive::<Float64Type>()
                    .unary::<_, Int64Type>(|v| v as i64),
            ),
            (from, to) => {
                return Err(DataFusionError::Internal(format!(
                    "no numeric cast from {from} to {to}"
                )));
            }
        };
        Ok(ColumnarValue::Array(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, Float64Array, Int32Array, Int64Array};
    use arrow::datatypes::Field;
    use datafusion_common::config::ConfigOptions;

    fn cast(udf: &ScalarUDF, input: ArrayRef, to: DataType) -> ArrayRef {
        let args = ScalarFunctionArgs {
            args: vec![ColumnarValue::Array(input.clone())],
            arg_fields: vec![Arc::new(Field::new("a", input.data_type().clone(), true))],
            number_rows: input.len(),
            return_field: Arc::new(Field::new("r", to, true)),
            config_options: Arc::new(ConfigOptions::default()),
        };
        match udf.invoke_with_args(args).unwrap() {
            ColumnarValue::Array(a) => a,
            ColumnarValue::Scalar(_) => panic!("a scalar"),
        }
    }

    #[test]
    fn casts_as_java_does() {
        let to_bigint = NumericCast::udf(&SqlType::Double, &SqlType::BigInt).unwrap();
        let doubles = Float64Array::from(vec![
            Some(2.9),
            Some(-2.9),
            None,
            Some(f64::NAN),
            Some(1e300),
        ]);
        let out = cast(&to_bigint, Arc::new(doubles), DataType::Int64);
        let expected = Int64Array::from(vec![Some(2), Some(-2), None, Some(0), Some(i64::MAX)]);
        assert_eq!(out.as_primitive::<Int64Type>(), &expected);
        assert_ne!(
            out.as_primitive::<Int64Type>(),
            &Int64Array::from(vec![Some(3), Some(-2), None, Some(0), Some(i64::MAX)])
        );

        let to_int = NumericCast::udf(&SqlType::BigInt, &SqlType::Int).unwrap();
        let longs = Int64Array::from(vec![Some(4_294_967_297), Some(-1), None]);
        let out = cast(&to_int, Arc::new(longs), DataType::Int32);
        assert_eq!(
            out.as_primitive::<Int32Type>(),
            &Int32Array::from(vec![Some(1), Some(-1), None])
        );
        assert!(NumericCast::udf(&SqlType::Int, &SqlType::BigInt).is_none());
    }
}
