//! DataFusion UDFs for what DataFusion cannot evaluate with ksqlDB's semantics:
//!
//! - [`RowUdf`]: any function over [`Value`]s, evaluated row by row; a row whose call
//!   fails gets NULL and its error goes to the stage's [`ErrorSink`] (ksqlDB's processing
//!   log), so one bad row never fails a batch;
//! - [`IntegerDivision`]: INT and BIGINT `/` and `%`, vectorised, NULL (and an error) for a
//!   zero divisor instead of DataFusion's batch-wide failure;
//! - [`HigherOrderUdf`]: TRANSFORM and FILTER evaluate their lambda vectorised over the
//!   elements of every row at once (captured columns repeated per element); REDUCE folds
//!   row by row.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Int32Array, Int64Array, ListArray, MapArray,
    RecordBatch, StructArray, UInt32Array,
};
use arrow::buffer::OffsetBuffer;
use arrow::compute::{filter, take};
use arrow::datatypes::{DataType, Field, Int32Type, Int64Type, Schema};
use datafusion_common::{DataFusionError, Result as DfResult};
use datafusion_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion_physical_expr::PhysicalExpr;

use super::eval::ErrorSink;
use crate::arrow_conv::{to_array_owned, value_at};
use crate::functions::{Nulls, RowFn};
use crate::types::SqlType;
use crate::value::Value;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

fn df(e: crate::error::SqlError) -> DataFusionError {
    DataFusionError::Execution(e.to_string())
}

/// A function over values, evaluated a row at a time.
pub struct RowUdf {
    name: String,
    id: u64,
    signature: Signature,
    arg_types: Vec<Option<SqlType>>,
    ret: SqlType,
    f: RowFn,
    nulls: Nulls,
    errors: ErrorSink,
}

impl fmt::Debug for RowUdf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RowUdf")
            .field("name", &self.name)
            .field("ret", &self.ret)
            .finish()
    }
}

impl PartialEq for RowUdf {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for RowUdf {}

impl Hash for RowUdf {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id.hash(state);
    }
}

impl RowUdf {
    /// A DataFusion UDF calling `f` per row with arguments of `arg_types`, returning `ret`.
    pub fn udf(
        name: &str,
        arg_types: Vec<Option<SqlType>>,
        ret: SqlType,
        f: RowFn,
        nulls: Nulls,
        errors: ErrorSink,
    ) -> Arc<ScalarUDF> {
        Arc::new(ScalarUDF::new_from_impl(Self {
            name: name.to_ascii_lowercase(),
            id: next_id(),
            signature: Signature::variadic_any(Volatility::Volatile),
            arg_types,
            ret,
            f,
            nulls,
            errors,
        }))
    }
}

impl ScalarUDFImpl for RowUdf {
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
        let arrays: Vec<ArrayRef> = args
            .args
            .iter()
            .map(|a| a.to_array(n))
            .collect::<DfResult<_>>()?;
        let mut out = Vec::with_capacity(n);
        let mut row = Vec::with_capacity(arrays.len());
        for i in 0..n {
            row.clear();
            for (array, ty) in arrays.iter().zip(&self.arg_types) {
                row.push(match ty {
                    Some(ty) => value_at(array.as_ref(), i, ty).map_err(df)?,
                    None => Value::Null,
                });
            }
            if self.nulls == Nulls::Propagate && row.iter().any(Value::is_null) {
                out.push(Value::Null);
                continue;
            }
            match (self.f)(&row) {
                Ok(v) => out.push(v),
                Err(e) => {
                    self.errors.push(format!(
                        "Error computing expression {}: {e}",
                        self.name.to_ascii_uppercase()
                    ));
                    out.push(Value::Null);
                }
            }
        }
        Ok(ColumnarValue::Array(
            to_array_owned(&out, &self.ret).map_err(df)?,
        ))
    }
}

/// `/` or `%` on INT or BIGINT with Java's truncating semantics; a zero divisor gives NULL
/// and an error in the sink.
#[derive(Debug)]
pub struct IntegerDivision {
    id: u64,
    modulo: bool,
    bigint: bool,
    signature: Signature,
    errors: ErrorSink,
}

impl PartialEq for IntegerDivision {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for IntegerDivision {}

impl Hash for IntegerDivision {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id.hash(state);
    }
}

impl IntegerDivision {
    /// The UDF for `/` (or `%` when `modulo`) on INT (or BIGINT when `bigint`).
    pub fn udf(modulo: bool, bigint: bool, errors: ErrorSink) -> Arc<ScalarUDF> {
        Arc::new(ScalarUDF::new_from_impl(Self {
            id: next_id(),
            modulo,
            bigint,
            signature: Signature::variadic_any(Volatility::Volatile),
            errors,
        }))
    }
}

impl ScalarUDFImpl for IntegerDivision {
    fn name(&self) -> &str {
        if self.modulo {
            "ksql_modulo"
        } else {
            "ksql_divide"
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> DfResult<DataType> {
        Ok(if self.bigint {
            DataType::Int64
        } else {
            DataType::Int32
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let n = args.number_rows;
        let a = args.args[0].to_array(n)?;
        let b = args.args[1].to_array(n)?;
        let mut zero = false;
        let result: ArrayRef = if self.bigint {
            let (a, b) = (a.as_primitive::<Int64Type>(), b.as_primitive::<Int64Type>());
            Arc::new(
                a.iter()
                    .zip(b.iter())
                    .map(|(x, y)| match (x, y) {
                        (Some(_), Some(0)) => {
                            zero = true;
                            None
                        }
                        (Some(x), Some(y)) if self.modulo => Some(x.wrapping_rem(y)),
                        (Some(x), Some(y)) => Some(x.wrapping_div(y)),
                        _ => None,
                    })
                    .collect::<Int64Array>(),
            )
        } else {
            let (a, b) = (a.as_primitive::<Int32Type>(), b.as_primitive::<Int32Type>());
            Arc::new(
                a.iter()
                    .zip(b.iter())
                    .map(|(x, y)| match (x, y) {
                        (Some(_), Some(0)) => {
                            zero = true;
                            None
                        }
                        (Some(x), Some(y)) if self.modulo => Some(x.wrapping_rem(y)),
                        (Some(x), Some(y)) => Some(x.wrapping_div(y)),
                        _ => None,
                    })
                    .collect::<Int32Array>(),
            )
        };
        if zero {
            self.errors
                .push("Error computing expression: / by zero".to_string());
        }
        Ok(ColumnarValue::Array(result))
    }
}

/// A compiled lambda: its body as a physical expression over a batch whose columns are the
/// lambda's parameters followed by the columns it captures.
#[derive(Debug, Clone)]
pub struct CompiledLambda {
    /// The body.
    pub body: Arc<dyn PhysicalExpr>,
    /// The schema the body is evaluated on.
    pub schema: Arc<Schema>,
    /// The parameter types.
    pub params: Vec<SqlType>,
    /// The body's type.
    pub ret: SqlType,
}

impl CompiledLambda {
    fn eval(&self, columns: Vec<ArrayRef>, rows: usize) -> DfResult<ArrayRef> {
        let batch = RecordBatch::try_new_with_options(
            self.schema.clone(),
            columns,
            &arrow::array::RecordBatchOptions::new().with_row_count(Some(rows)),
        )?;
        self.body.evaluate(&batch)?.into_array(rows)
    }
}

/// TRANSFORM, FILTER and REDUCE.
#[derive(Debug)]
pub struct HigherOrderUdf {
    id: u64,
    function: super::HigherOrder,
    signature: Signature,
    /// The collection's type.
    collection: SqlType,
    /// The lambdas (two for TRANSFORM of a map).
    lambdas: Vec<CompiledLambda>,
    /// REDUCE's state type.
    state: Option<SqlType>,
    ret: SqlType,
    /// How many captured columns follow the fixed arguments.
    captures: usize,
}

impl PartialEq for HigherOrderUdf {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for HigherOrderUdf {}

impl Hash for HigherOrderUdf {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id.hash(state);
    }
}

impl HigherOrderUdf {
    /// The UDF. Its arguments are the collection, REDUCE's initial state, then the captured
    /// columns in the order the lambdas' schemas list them after their parameters.
    pub fn udf(
        function: super::HigherOrder,
        collection: SqlType,
        lambdas: Vec<CompiledLambda>,
        state: Option<SqlType>,
        ret: SqlType,
        captures: usize,
    ) -> Arc<ScalarUDF> {
        Arc::new(ScalarUDF::new_from_impl(Self {
            id: next_id(),
            function,
            signature: Signature::variadic_any(Volatility::Volatile),
            collection,
            lambdas,
            state,
            ret,
            captures,
        }))
    }

    /// Element columns (values, or keys and values) and each element's row.
    fn flatten(&self, collection: &ArrayRef) -> (Vec<ArrayRef>, UInt32Array, OffsetBuffer<i32>) {
        match self.collection {
            SqlType::Map(..) => {
                let map = collection.as_any().downcast_ref::<MapArray>();
                let map = map.expect("a map argument is a MapArray");
                let offsets = map.offsets().clone();
                let (start, end) = (offsets[0] as usize, offsets[offsets.len() - 1] as usize);
                let entries = map.entries();
                let keys = entries.column(0).slice(start, end - start);
                let values = entries.column(1).slice(start, end - start);
                (vec![keys, values], parents(&offsets), rebase(&offsets))
            }
            _ => {
                let list = collection.as_any().downcast_ref::<ListArray>();
                let list = list.expect("an array argument is a ListArray");
                let offsets = list.offsets().clone();
                let (start, end) = (offsets[0] as usize, offsets[offsets.len() - 1] as usize);
                let values = list.values().slice(start, end - start);
                (vec![values], parents(&offsets), rebase(&offsets))
            }
        }
    }
}

/// The row of each element, from list offsets.
fn parents(offsets: &OffsetBuffer<i32>) -> UInt32Array {
    let mut out = Vec::with_capacity(offsets[offsets.len() - 1] as usize);
    for (row, w) in offsets.windows(2).enumerate() {
        for _ in w[0]..w[1] {
            out.push(row as u32);
        }
    }
    UInt32Array::from(out)
}

/// Offsets starting at zero.
fn rebase(offsets: &OffsetBuffer<i32>) -> OffsetBuffer<i32> {
    let first = offsets[0];
    OffsetBuffer::new(offsets.iter().map(|o| o - first).collect::<Vec<_>>().into())
}

/// Offsets of lists that keep the elements whose `keep` flag is set.
fn filtered_offsets(offsets: &OffsetBuffer<i32>, keep: &BooleanArray) -> OffsetBuffer<i32> {
    let mut out = Vec::with_capacity(offsets.len());
    out.push(0i32);
    let mut total = 0;
    for w in offsets.windows(2) {
        for i in w[0]..w[1] {
            if keep.is_valid(i as usize) && keep.value(i as usize) {
                total += 1;
            }
        }
        out.push(total);
    }
    OffsetBuffer::new(out.into())
}

impl ScalarUDFImpl for HigherOrderUdf {
    fn name(&self) -> &str {
        match self.function {
            super::HigherOrder::Transform => "transform",
            super::HigherOrder::Filter => "filter",
            super::HigherOrder::Reduce => "reduce",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> DfResult<DataType> {
        Ok(self.ret.to_arrow())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let n = args.number_rows;
        let arrays: Vec<ArrayRef> = args
            .args
            .iter()
            .map(|a| a.to_array(n))
            .collect::<DfResult<_>>()?;
        let collection = &arrays[0];
        let fixed = if self.function == super::HigherOrder::Reduce {
            2
        } else {
            1
        };
        let captured = &arrays[fixed..fixed + self.captures];
        if self.function == super::HigherOrder::Reduce {
            return self.reduce(collection, &arrays[1], captured, n);
        }
        let (elements, parent, offsets) = self.flatten(collection);
        let count = parent.len();
        let lambda_columns = |_: &CompiledLambda| -> DfResult<Vec<ArrayRef>> {
            let mut columns = elements.clone();
            for c in captured {
                columns.push(take(c.as_ref(), &parent, None)?);
            }
            Ok(columns)
        };
        let nulls = collection.nulls().cloned();
        let result: ArrayRef = match (&self.function, &self.ret) {
            (super::HigherOrder::Transform, SqlType::Array(_)) => {
                let lambda = &self.lambdas[0];
                let values = lambda.eval(lambda_columns(lambda)?, count)?;
                let DataType::List(field) = self.ret.to_arrow() else {
                    unreachable!("arrays are lists")
                };
                Arc::new(ListArray::try_new(field, offsets, values, nulls)?)
            }
            (super::HigherOrder::Transform, SqlType::Map(..)) => {
                let keys = self.lambdas[0].eval(lambda_columns(&self.lambdas[0])?, count)?;
                let values = self.lambdas[1].eval(lambda_columns(&self.lambdas[1])?, count)?;
                let DataType::Map(entries_field, _) = self.ret.to_arrow() else {
                    unreachable!("maps are maps")
                };
                let DataType::Struct(fields) = entries_field.data_type().clone() else {
                    unreachable!("map entries are structs")
                };
                let entries = StructArray::try_new(fields, vec![keys, values], None)?;
                Arc::new(MapArray::try_new(
                    entries_field,
                    offsets,
                    entries,
                    nulls,
                    false,
                )?)
            }
            (super::HigherOrder::Filter, _) => {
                let lambda = &self.lambdas[0];
                let keep = lambda.eval(lambda_columns(lambda)?, count)?;
                let keep = keep.as_boolean().clone();
                let keep_all = BooleanArray::from(
                    (0..keep.len())
                        .map(|i| keep.is_valid(i) && keep.value(i))
                        .collect::<Vec<bool>>(),
                );
                let new_offsets = filtered_offsets(&offsets, &keep_all);
                match self.collection {
                    SqlType::Map(..) => {
                        let keys = filter(elements[0].as_ref(), &keep_all)?;
                        let values = filter(elements[1].as_ref(), &keep_all)?;
                        let DataType::Map(entries_field, _) = self.ret.to_arrow() else {
                            unreachable!("maps are maps")
                        };
                        let DataType::Struct(fields) = entries_field.data_type().clone() else {
                            unreachable!("map entries are structs")
                        };
                        let entries = StructArray::try_new(fields, vec![keys, values], None)?;
                        Arc::new(MapArray::try_new(
                            entries_field,
                            new_offsets,
                            entries,
                            nulls,
                            false,
                        )?)
                    }
                    _ => {
                        let values = filter(elements[0].as_ref(), &keep_all)?;
                        let DataType::List(field) = self.ret.to_arrow() else {
                            unreachable!("arrays are lists")
                        };
                        Arc::new(ListArray::try_new(field, new_offsets, values, nulls)?)
                    }
                }
            }
            _ => {
                return Err(DataFusionError::Internal(format!(
                    "higher-order function {:?} returning {}",
                    self.function, self.ret
                )));
            }
        };
        Ok(ColumnarValue::Array(result))
    }
}

impl HigherOrderUdf {
    /// REDUCE, row by row: the state starts at the row's initial value and the lambda
    /// folds each element in turn.
    fn reduce(
        &self,
        collection: &ArrayRef,
        init: &ArrayRef,
        captured: &[ArrayRef],
        n: usize,
    ) -> DfResult<ColumnarValue> {
        let lambda = &self.lambdas[0];
        let state_ty = self.state.clone().unwrap_or_else(|| self.ret.clone());
        let mut out = Vec::with_capacity(n);
        for row in 0..n {
            let collection_value =
                value_at(collection.as_ref(), row, &self.collection).map_err(df)?;
            let mut state = value_at(init.as_ref(), row, &state_ty).map_err(df)?;
            if collection_value.is_null() {
                // ksqlDB's REDUCE of a NULL collection is its initial state.
                out.push(crate::expr::eval::cast_value(&state, &state_ty, &self.ret).map_err(df)?);
                continue;
            }
            let elements: Vec<Vec<Value>> = match collection_value {
                Value::Array(items) => items.into_iter().map(|v| vec![v]).collect(),
                Value::Map(entries) => entries.into_iter().map(|(k, v)| vec![k, v]).collect(),
                _ => Vec::new(),
            };
            let row_index = UInt32Array::from(vec![row as u32]);
            let captured_row: Vec<ArrayRef> = captured
                .iter()
                .map(|c| take(c.as_ref(), &row_index, None))
                .collect::<Result<_, _>>()?;
            for element in elements {
                let mut columns = vec![to_array_owned(&[state], &lambda.params[0]).map_err(df)?];
                for (value, ty) in element.iter().zip(&lambda.params[1..]) {
                    columns.push(to_array_owned(std::slice::from_ref(value), ty).map_err(df)?);
                }
                columns.extend(captured_row.iter().cloned());
                let result = lambda.eval(columns, 1)?;
                let value = value_at(result.as_ref(), 0, &lambda.ret).map_err(df)?;
                state = crate::expr::eval::cast_value(&value, &lambda.ret, &lambda.params[0])
                    .map_err(df)?;
            }
            out.push(
                crate::expr::eval::cast_value(&state, &lambda.params[0], &self.ret).map_err(df)?,
            );
        }
        Ok(ColumnarValue::Array(
            to_array_owned(&out, &self.ret).map_err(df)?,
        ))
    }
}

/// A field for a column of a lambda batch.
pub fn lambda_field(name: &str, ty: &SqlType) -> Field {
    Field::new(name, ty.to_arrow(), true)
}
