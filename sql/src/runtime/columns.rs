//! Arrow columns to and from [`Cell`]s, so sources and sinks need no rows of [`Value`]s in
//! between: [`ColumnBuilder`] builds a column as records are decoded (Arrow's builders for
//! the common types; the others collect values and convert them at the end,
//! [`to_array_owned`]); [`ColumnView`] reads a batch's column cell by cell for encoding.

use std::sync::Arc;

use std::borrow::Cow;

use arrow::array::{
    Array, ArrayBuilder, ArrayRef, BooleanArray, BooleanBuilder, Float64Array, Float64Builder,
    Int32Array, Int32Builder, Int64Array, Int64Builder, StringArray, StringBuilder,
    TimestampMillisecondArray, TimestampMillisecondBuilder,
};

use crate::arrow_conv::{to_array_owned, value_at};
use crate::error::{Result, SqlError};
use crate::serde::cell::Cell;
use crate::types::SqlType;
use crate::value::Value;

/// A column being built.
#[derive(Debug)]
pub enum ColumnBuilder {
    /// BOOLEAN.
    Boolean(BooleanBuilder),
    /// INT.
    Int(Int32Builder),
    /// BIGINT.
    BigInt(Int64Builder),
    /// DOUBLE.
    Double(Float64Builder),
    /// STRING.
    String(StringBuilder),
    /// TIMESTAMP.
    Timestamp(TimestampMillisecondBuilder),
    /// Any other type, collected as values.
    Values(SqlType, Vec<Value>),
}

fn wrong(cell: &Cell<'_>, ty: &str) -> SqlError {
    SqlError::eval(format!("value {cell:?} does not have type {ty}"))
}

impl ColumnBuilder {
    /// A builder of a column of `ty` with room for `capacity` rows.
    pub fn new(ty: &SqlType, capacity: usize) -> Self {
        match ty {
            SqlType::Boolean => Self::Boolean(BooleanBuilder::with_capacity(capacity)),
            SqlType::Int => Self::Int(Int32Builder::with_capacity(capacity)),
            SqlType::BigInt => Self::BigInt(Int64Builder::with_capacity(capacity)),
            SqlType::Double => Self::Double(Float64Builder::with_capacity(capacity)),
            SqlType::String => Self::String(StringBuilder::with_capacity(capacity, capacity * 16)),
            SqlType::Timestamp => {
                Self::Timestamp(TimestampMillisecondBuilder::with_capacity(capacity))
            }
            other => Self::Values(other.clone(), Vec::with_capacity(capacity)),
        }
    }

    /// Appends a cell of the column's type.
    pub fn append(&mut self, cell: Cell<'_>) -> Result<()> {
        if cell.is_null() {
            self.append_null();
            return Ok(());
        }
        match self {
            Self::Boolean(b) => match cell {
                Cell::Bool(v) | Cell::Value(Value::Boolean(v)) => b.append_value(v),
                other => return Err(wrong(&other, "BOOLEAN")),
            },
            Self::Int(b) => match cell {
                Cell::I32(v) | Cell::Value(Value::Int(v)) => b.append_value(v),
                other => return Err(wrong(&other, "INT")),
            },
            Self::BigInt(b) => match cell {
                Cell::I64(v) | Cell::Value(Value::BigInt(v)) => b.append_value(v),
                other => return Err(wrong(&other, "BIGINT")),
            },
            Self::Double(b) => match cell {
                Cell::F64(v) | Cell::Value(Value::Double(v)) => b.append_value(v),
                other => return Err(wrong(&other, "DOUBLE")),
            },
            Self::String(b) => match cell {
                Cell::Str(s) => b.append_value(s),
                Cell::Value(Value::String(s)) => b.append_value(s),
                other => return Err(wrong(&other, "STRING")),
            },
            Self::Timestamp(b) => match cell {
                Cell::Timestamp(v) | Cell::Value(Value::Timestamp(v)) => b.append_value(v),
                other => return Err(wrong(&other, "TIMESTAMP")),
            },
            Self::Values(_, values) => values.push(cell.into_value()),
        }
        Ok(())
    }

    /// Appends a NULL.
    pub fn append_null(&mut self) {
        match self {
            Self::Boolean(b) => b.append_null(),
            Self::Int(b) => b.append_null(),
            Self::BigInt(b) => b.append_null(),
            Self::Double(b) => b.append_null(),
            Self::String(b) => b.append_null(),
            Self::Timestamp(b) => b.append_null(),
            Self::Values(_, values) => values.push(Value::Null),
        }
    }

    /// The column.
    pub fn finish(self) -> Result<ArrayRef> {
        Ok(match self {
            Self::Boolean(mut b) => Arc::new(b.finish()),
            Self::Int(mut b) => Arc::new(b.finish()),
            Self::BigInt(mut b) => Arc::new(b.finish()),
            Self::Double(mut b) => Arc::new(b.finish()),
            Self::String(mut b) => Arc::new(b.finish()),
            Self::Timestamp(mut b) => Arc::new(b.finish()),
            Self::Values(ty, values) => to_array_owned(&values, &ty)?,
        })
    }

    /// The number of rows appended.
    pub fn len(&self) -> usize {
        match self {
            Self::Boolean(b) => b.len(),
            Self::Int(b) => b.len(),
            Self::BigInt(b) => b.len(),
            Self::Double(b) => b.len(),
            Self::String(b) => b.len(),
            Self::Timestamp(b) => b.len(),
            Self::Values(_, values) => values.len(),
        }
    }

    /// Whether no row was appended.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A column of a batch read as cells: typed access for the common types, [`value_at`]
/// for the others.
#[derive(Debug, Clone, Copy)]
pub enum ColumnView<'b> {
    /// BOOLEAN.
    Boolean(&'b BooleanArray),
    /// INT.
    Int(&'b Int32Array),
    /// BIGINT.
    BigInt(&'b Int64Array),
    /// DOUBLE.
    Double(&'b Float64Array),
    /// STRING.
    String(&'b StringArray),
    /// TIMESTAMP.
    Timestamp(&'b TimestampMillisecondArray),
    /// Any other type.
    Other(&'b dyn Array, &'b SqlType),
}

impl<'b> ColumnView<'b> {
    /// A view of `array`, a column of `ty`.
    pub fn new(array: &'b ArrayRef, ty: &'b SqlType) -> Self {
        let any = array.as_any();
        let view = match ty {
            SqlType::Boolean => any.downcast_ref().map(Self::Boolean),
            SqlType::Int => any.downcast_ref().map(Self::Int),
            SqlType::BigInt => any.downcast_ref().map(Self::BigInt),
            SqlType::Double => any.downcast_ref().map(Self::Double),
            SqlType::String => any.downcast_ref().map(Self::String),
            SqlType::Timestamp => any.downcast_ref().map(Self::Timestamp),
            _ => None,
        };
        // Other layouts of a type (a string view array, say) are read as values.
        view.unwrap_or(Self::Other(array.as_ref(), ty))
    }

    /// Row `i` as a cell, borrowing strings from the array.
    pub fn cell(&self, i: usize) -> Result<Cell<'b>> {
        fn get<'b, T, V>(a: &'b T, i: usize, f: impl FnOnce(&'b T) -> V) -> Option<V>
        where
            T: Array,
        {
            a.is_valid(i).then(|| f(a))
        }
        Ok(match self {
            Self::Boolean(a) => get(*a, i, |a| Cell::Bool(a.value(i))),
            Self::Int(a) => get(*a, i, |a| Cell::I32(a.value(i))),
            Self::BigInt(a) => get(*a, i, |a| Cell::I64(a.value(i))),
            Self::Double(a) => get(*a, i, |a| Cell::F64(a.value(i))),
            Self::String(a) => get(*a, i, |a| Cell::Str(Cow::Borrowed(a.value(i)))),
            Self::Timestamp(a) => get(*a, i, |a| Cell::Timestamp(a.value(i))),
            Self::Other(a, ty) if a.is_valid(i) => Some(Cell::Value(value_at(*a, i, ty)?)),
            Self::Other(..) => None,
        }
        .unwrap_or(Cell::Null))
    }

    /// Row `i` as a value.
    pub fn value(&self, i: usize) -> Result<Value> {
        Ok(self.cell(i)?.into_value())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arrow_conv::array_values;

    #[test]
    fn cells_and_values_build_the_same_columns() {
        let cases: Vec<(SqlType, Vec<Cell<'static>>)> = vec![
            (
                SqlType::BigInt,
                vec![Cell::I64(1), Cell::Null, Cell::Value(Value::BigInt(3))],
            ),
            (
                SqlType::String,
                vec![
                    Cell::Str("a".into()),
                    Cell::Value(Value::String("b".into())),
                ],
            ),
            (
                SqlType::Timestamp,
                vec![Cell::Timestamp(7), Cell::Value(Value::Null)],
            ),
            (SqlType::Int, vec![Cell::I32(-1)]),
            (SqlType::Double, vec![Cell::F64(0.5)]),
            (SqlType::Boolean, vec![Cell::Bool(true), Cell::Null]),
            (
                SqlType::decimal(4, 2).unwrap(),
                vec![Cell::Value(Value::Decimal(150, 2)), Cell::Null],
            ),
        ];
        for (ty, cells) in cases {
            let expected: Vec<Value> = cells.iter().cloned().map(Cell::into_value).collect();
            let mut builder = ColumnBuilder::new(&ty, 4);
            for cell in cells {
                builder.append(cell).unwrap();
            }
            assert_eq!(builder.len(), expected.len());
            let array = builder.finish().unwrap();
            assert_eq!(array.data_type(), &ty.to_arrow());
            assert_eq!(array_values(&array, &ty).unwrap(), expected, "{ty}");
        }
    }

    #[test]
    fn views_read_back_what_was_built() {
        let ty = SqlType::decimal(4, 2).unwrap();
        for (ty, cells) in [
            (SqlType::String, vec![Cell::Str("a".into()), Cell::Null]),
            (SqlType::Timestamp, vec![Cell::Timestamp(7), Cell::Null]),
            (ty, vec![Cell::Value(Value::Decimal(150, 2)), Cell::Null]),
        ] {
            let mut builder = ColumnBuilder::new(&ty, 2);
            for cell in cells.clone() {
                builder.append(cell).unwrap();
            }
            let array = builder.finish().unwrap();
            let view = ColumnView::new(&array, &ty);
            let read: Vec<Cell<'_>> = (0..2).map(|i| view.cell(i).unwrap()).collect();
            assert_eq!(read, cells, "{ty}");
            let values: Vec<Value> = (0..2).map(|i| view.value(i).unwrap()).collect();
            assert_eq!(values, array_values(&array, &ty).unwrap(), "{ty}");
        }
    }

    #[test]
    fn a_cell_of_another_type_is_an_error() {
        let mut builder = ColumnBuilder::new(&SqlType::BigInt, 1);
        assert!(builder.append(Cell::Str("x".into())).is_err());
        assert!(builder.append(Cell::Value(Value::Int(1))).is_err());
    }
}
