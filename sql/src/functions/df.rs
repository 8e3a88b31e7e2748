//! DataFusion built-ins behind ksqlDB overloads whose parameters are INT or BIGINT but
//! whose Java code converts them to `double` first (SIN(INT), EXP(BIGINT), ...): the
//! arguments are cast to DOUBLE (Java's widening conversion, round to nearest) and the
//! built-in is called on them, vectorised.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow::datatypes::{DataType, Field};
use datafusion_common::Result as DfResult;
use datafusion_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A DataFusion function called with its arguments cast to DOUBLE.
pub struct DoubleArgs {
    inner: Arc<ScalarUDF>,
    id: u64,
    signature: Signature,
}

impl fmt::Debug for DoubleArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DoubleArgs({})", self.inner.name())
    }
}

impl PartialEq for DoubleArgs {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for DoubleArgs {}

impl Hash for DoubleArgs {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id.hash(state);
    }
}

/// `inner` called with DOUBLE arguments.
pub fn double_args(inner: Arc<ScalarUDF>) -> Arc<ScalarUDF> {
    let volatility = inner.signature().volatility;
    Arc::new(ScalarUDF::new_from_impl(DoubleArgs {
        inner,
        id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        signature: Signature::variadic_any(volatility),
    }))
}

impl ScalarUDFImpl for DoubleArgs {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> DfResult<DataType> {
        let doubles = vec![DataType::Float64; arg_types.len()];
        self.inner.return_type(&doubles)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let cast = args
            .args
            .iter()
            .map(|a| a.cast_to(&DataType::Float64, None))
            .collect::<DfResult<Vec<_>>>()?;
        let fields = args
            .arg_fields
            .iter()
            .map(|f| Arc::new(Field::new(f.name(), DataType::Float64, f.is_nullable())))
            .collect();
        self.inner.invoke_with_args(ScalarFunctionArgs {
            args: cast,
            arg_fields: fields,
            number_rows: args.number_rows,
            return_field: args.return_field,
            config_options: args.config_options,
        })
    }
}
