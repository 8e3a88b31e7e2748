//! Row functions that need their arguments' types, not just their values (TO_JSON_STRING
//! prints struct field names, which a [`Value::Struct`] does not carry).
//!
//! The framework's row functions see values only, so these are DataFusion UDFs: the
//! argument types come from the Arrow fields DataFusion passes at evaluation. A failing
//! row gives NULL, but (unlike a row function) cannot reach the stage's processing log.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow::array::ArrayRef;
use arrow::datatypes::DataType;
use datafusion_common::{DataFusionError, Result as DfResult};
use datafusion_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use crate::arrow_conv::{to_array_owned, value_at};
use crate::error::Result;
use crate::functions::Nulls;
use crate::types::SqlType;
use crate::value::Value;

/// A function over one row's values and the argument types (`None`: an untyped NULL).
pub type TypedFn = Arc<dyn Fn(&[Value], &[Option<SqlType>]) -> Result<Value> + Send + Sync>;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A typed row function as a DataFusion UDF.
pub struct TypedRowUdf {
    name: String,
    id: u64,
    signature: Signature,
    ret: SqlType,
    f: TypedFn,
    nulls: Nulls,
}

impl fmt::Debug for TypedRowUdf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TypedRowUdf")
            .field("name", &self.name)
            .field("ret", &self.ret)
            .finish()
    }
}

impl PartialEq for TypedRowUdf {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for TypedRowUdf {}

impl Hash for TypedRowUdf {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id.hash(state);
    }
}

/// The UDF for `f`, returning `ret`.
pub fn typed_udf(
    name: &str,
    ret: SqlType,
    nulls: Nulls,
    f: impl Fn(&[Value], &[Option<SqlType>]) -> Result<Value> + Send + Sync + 'static,
) -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::new_from_impl(TypedRowUdf {
        name: name.to_ascii_lowercase(),
        id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        signature: Signature::variadic_any(Volatility::Immutable),
        ret,
        f: Arc::new(f),
        nulls,
    }))
}

/// A UDF of no arguments, called once per row (UUID(), UNIX_TIMESTAMP()): the row UDFs'
/// variadic signature refuses zero arguments.
pub fn nullary_udf(
    name: &str,
    ret: SqlType,
    f: impl Fn() -> Result<Value> + Send + Sync + 'static,
) -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::new_from_impl(TypedRowUdf {
        name: name.to_ascii_lowercase(),
        id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        signature: Signature::nullary(Volatility::Volatile),
        ret,
        f: Arc::new(move |_: &[Value], _: &[Option<SqlType>]| f()),
        nulls: Nulls::Pass,
    }))
}

impl ScalarUDFImpl for TypedRowUdf {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> DfResult<DataType> {
        Ok(self.ret.to_arrow())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let n = args.number_rows;
        let types: Vec<Option<SqlType>> = args
            .arg_fields
            .iter()
            .map(|f| SqlType::from_arrow(f.data_type()))
            .collect();
        let arrays: Vec<ArrayRef> = args
            .args
            .iter()
            .map(|a| a.to_array(n))
            .collect::<DfResult<_>>()?;
        let mut out = Vec::with_capacity(n);
        let mut row = Vec::with_capacity(arrays.len());
        for i in 0..n {
            row.clear();
            for (array, ty) in arrays.iter().zip(&types) {
                row.push(match ty {
                    Some(ty) => value_at(array.as_ref(), i, ty)
                        .map_err(|e| DataFusionError::Execution(e.to_string()))?,
                    None => Value::Null,
                });
            }
            if self.nulls == Nulls::Propagate && row.iter().any(Value::is_null) {
                out.push(Value::Null);
                continue;
            }
            out.push((self.f)(&row, &types).unwrap_or(Value::Null));
        }
        let array = to_array_owned(&out, &self.ret)
            .map_err(|e| DataFusionError::Execution(e.to_string()))?;
        Ok(ColumnarValue::Array(array))
    }
}
