//! Conversions between [`Value`]s and Arrow arrays of the matching types
//! ([`SqlType::to_arrow`]): columns of rows become arrays for vectorised evaluation, and
//! array elements become values again for formats, stores and row-at-a-time functions.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, Float64Array,
    Int32Array, Int64Array, ListArray, MapArray, StringArray, StructArray, Time32MillisecondArray,
    TimestampMillisecondArray, new_null_array,
};
use arrow::buffer::{NullBuffer, OffsetBuffer};
use arrow::datatypes::{DataType, Field, Fields};

use crate::error::{Result, SqlError};
use crate::types::SqlType;
use crate::value::Value;

fn nulls_of<'a>(values: impl Iterator<Item = &'a Value>) -> Option<NullBuffer> {
    let valid: Vec<bool> = values.map(|v| !v.is_null()).collect();
    if valid.iter().all(|v| *v) {
        None
    } else {
        Some(NullBuffer::from(valid))
    }
}

fn wrong(v: &Value, ty: &SqlType) -> SqlError {
    SqlError::eval(format!("value {v:?} does not have type {ty}"))
}

/// An Arrow array of `ty` holding `values` (NULLs where a value is `Value::Null`).
pub fn to_array(values: &[&Value], ty: &SqlType) -> Result<ArrayRef> {
    macro_rules! prim {
        ($array:ty, $pat:pat => $out:expr) => {{
            let mut out = Vec::with_capacity(values.len());
            for v in values {
                out.push(match v {
                    Value::Null => None,
                    $pat => Some($out),
                    other => return Err(wrong(other, ty)),
                });
            }
            Arc::new(<$array>::from(out)) as ArrayRef
        }};
    }
    Ok(match ty {
        SqlType::Boolean => prim!(BooleanArray, Value::Boolean(b) => *b),
        SqlType::Int => prim!(Int32Array, Value::Int(v) => *v),
        SqlType::BigInt => prim!(Int64Array, Value::BigInt(v) => *v),
        SqlType::Double => prim!(Float64Array, Value::Double(v) => *v),
        SqlType::Timestamp => prim!(TimestampMillisecondArray, Value::Timestamp(v) => *v),
        SqlType::Date => prim!(Date32Array, Value::Date(v) => *v),
        SqlType::Time => prim!(Time32MillisecondArray, Value::Time(v) => *v),
        SqlType::Decimal { precision, scale } => {
            let mut out = Vec::with_capacity(values.len());
            for v in values {
                out.push(match v {
                    Value::Null => None,
                    Value::Decimal(u, s) if s == scale => Some(*u),
                    Value::Decimal(..) | Value::Int(_) | Value::BigInt(_) => Some(
                        match Value::decimal_from(
                            &v.as_big_decimal().unwrap_or_default(),
                            *precision,
                            *scale,
                        ) {
                            Some(Value::Decimal(u, _)) => u,
                            _ => return Err(wrong(v, ty)),
                        },
                    ),
                    other => return Err(wrong(other, ty)),
                });
            }
            Arc::new(Decimal128Array::from(out).with_precision_and_scale(*precision, *scale as i8)?)
        }
        SqlType::String => {
            let mut out: Vec<Option<&str>> = Vec::with_capacity(values.len());
            for v in values {
                out.push(match v {
                    Value::Null => None,
                    Value::String(s) => Some(s.as_str()),
                    other => return Err(wrong(other, ty)),
                });
            }
            Arc::new(StringArray::from(out))
        }
        SqlType::Bytes => {
            let mut out: Vec<Option<&[u8]>> = Vec::with_capacity(values.len());
            for v in values {
                out.push(match v {
                    Value::Null => None,
                    Value::Bytes(b) => Some(b.as_slice()),
                    other => return Err(wrong(other, ty)),
                });
            }
            Arc::new(BinaryArray::from(out))
        }
        SqlType::Array(element) => {
            let mut offsets = Vec::with_capacity(values.len() + 1);
            offsets.push(0i32);
            let mut children: Vec<&Value> = Vec::new();
            for v in values {
                match v {
                    Value::Null => {}
                    Value::Array(items) => children.extend(items.iter()),
                    other => return Err(wrong(other, ty)),
                }
                offsets.push(children.len() as i32);
            }
            let child = to_array(&children, element)?;
            let DataType::List(field) = ty.to_arrow() else {
                unreachable!("arrays are lists")
            };
            Arc::new(ListArray::try_new(
                field,
                OffsetBuffer::new(offsets.into()),
                child,
                nulls_of(values.iter().copied()),
            )?)
        }
        SqlType::Map(kt, vt) => {
            let mut offsets = Vec::with_capacity(values.len() + 1);
            offsets.push(0i32);
            let mut keys: Vec<&Value> = Vec::new();
            let mut vals: Vec<&Value> = Vec::new();
            for v in values {
                match v {
                    Value::Null => {}
                    Value::Map(entries) => {
                        for (k, val) in entries {
                            keys.push(k);
                            vals.push(val);
                        }
                    }
                    other => return Err(wrong(other, ty)),
                }
                offsets.push(keys.len() as i32);
            }
            let DataType::Map(entries_field, _) = ty.to_arrow() else {
                unreachable!("maps are maps")
            };
            let DataType::Struct(fields) = entries_field.data_type().clone() else {
                unreachable!("map entries are structs")
            };
            let entries = StructArray::try_new(
                fields,
                vec![to_array(&keys, kt)?, to_array(&vals, vt)?],
                None,
            )?;
            Arc::new(MapArray::try_new(
                entries_field,
                OffsetBuffer::new(offsets.into()),
                entries,
                nulls_of(values.iter().copied()),
                false,
            )?)
        }
        SqlType::Struct(fields) => {
            let arrow_fields: Fields = fields
                .iter()
                .map(|f| Field::new(&f.name, f.ty.to_arrow(), true))
                .collect();
            if fields.is_empty() {
                return Ok(Arc::new(StructArray::new_empty_fields(
                    values.len(),
                    nulls_of(values.iter().copied()),
                )));
            }
            let null = Value::Null;
            let mut columns = Vec::with_capacity(fields.len());
            for (i, f) in fields.iter().enumerate() {
                let mut column: Vec<&Value> = Vec::with_capacity(values.len());
                for v in values {
                    column.push(match v {
                        Value::Null => &null,
                        Value::Struct(items) => items.get(i).unwrap_or(&null),
                        other => return Err(wrong(other, ty)),
                    });
                }
                columns.push(to_array(&column, &f.ty)?);
            }
            Arc::new(StructArray::try_new(
                arrow_fields,
                columns,
                nulls_of(values.iter().copied()),
            )?)
        }
    })
}

/// An array of `ty` from owned values.
pub fn to_array_owned(values: &[Value], ty: &SqlType) -> Result<ArrayRef> {
    let refs: Vec<&Value> = values.iter().collect();
    to_array(&refs, ty)
}

/// A column of `len` NULLs of `ty`.
pub fn null_array(ty: &SqlType, len: usize) -> ArrayRef {
    new_null_array(&ty.to_arrow(), len)
}

fn downcast<'a, T: 'static>(array: &'a dyn Array, ty: &SqlType) -> Result<&'a T> {
    array.as_any().downcast_ref::<T>().ok_or_else(|| {
        SqlError::eval(format!(
            "expected an array of {ty}, found {}",
            array.data_type()
        ))
    })
}

/// Element `i` of an array of `ty`.
pub fn value_at(array: &dyn Array, i: usize, ty: &SqlType) -> Result<Value> {
    if array.is_null(i) {
        return Ok(Value::Null);
    }
    Ok(match ty {
        SqlType::Boolean => Value::Boolean(downcast::<BooleanArray>(array, ty)?.value(i)),
        SqlType::Int => Value::Int(downcast::<Int32Array>(array, ty)?.value(i)),
        SqlType::BigInt => Value::BigInt(downcast::<Int64Array>(array, ty)?.value(i)),
        SqlType::Double => Value::Double(downcast::<Float64Array>(array, ty)?.value(i)),
        SqlType::Decimal { scale, .. } => {
            Value::Decimal(downcast::<Decimal128Array>(array, ty)?.value(i), *scale)
        }
        SqlType::String => match array.data_type() {
            DataType::Utf8View => Value::String(
                downcast::<arrow::array::StringViewArray>(array, ty)?
                    .value(i)
                    .to_string(),
            ),
            DataType::LargeUtf8 => Value::String(
                downcast::<arrow::array::LargeStringArray>(array, ty)?
                    .value(i)
                    .to_string(),
            ),
            _ => Value::String(downcast::<StringArray>(array, ty)?.value(i).to_string()),
        },
        SqlType::Bytes => match array.data_type() {
            DataType::BinaryView => Value::Bytes(
                downcast::<arrow::array::BinaryViewArray>(array, ty)?
                    .value(i)
                    .to_vec(),
            ),
            _ => Value::Bytes(downcast::<BinaryArray>(array, ty)?.value(i).to_vec()),
        },
        SqlType::Timestamp => {
            Value::Timestamp(downcast::<TimestampMillisecondArray>(array, ty)?.value(i))
        }
        SqlType::Date => Value::Date(downcast::<Date32Array>(array, ty)?.value(i)),
        SqlType::Time => Value::Time(downcast::<Time32MillisecondArray>(array, ty)?.value(i)),
        SqlType::Array(element) => {
            let list = downcast::<ListArray>(array, ty)?;
            let items = list.value(i);
            Value::Array(
                (0..items.len())
                    .map(|j| value_at(&items, j, element))
                    .collect::<Result<_>>()?,
            )
        }
        SqlType::Map(kt, vt) => {
            let map = downcast::<MapArray>(array, ty)?;
            let entries = map.value(i);
            let (keys, values) = (entries.column(0), entries.column(1));
            Value::Map(
                (0..entries.len())
                    .map(|j| Ok((value_at(keys, j, kt)?, value_at(values, j, vt)?)))
                    .collect::<Result<_>>()?,
            )
        }
        SqlType::Struct(fields) => {
            let s = downcast::<StructArray>(array, ty)?;
            Value::Struct(
                fields
                    .iter()
                    .enumerate()
                    .map(|(j, f)| value_at(s.column(j), i, &f.ty))
                    .collect::<Result<_>>()?,
            )
        }
    })
}

/// Every element of an array of `ty`.
pub fn array_values(array: &dyn Array, ty: &SqlType) -> Result<Vec<Value>> {
    (0..array.len()).map(|i| value_at(array, i, ty)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_round_trip() {
        let ty = SqlType::structure([
            (
                "A".to_string(),
                SqlType::array(SqlType::map(
                    SqlType::String,
                    SqlType::decimal(5, 2).unwrap(),
                )),
            ),
            ("B".to_string(), SqlType::Bytes),
        ]);
        let values = vec![
            Value::Struct(vec![
                Value::Array(vec![
                    Value::Map(vec![(Value::String("x".into()), Value::Decimal(105, 2))]),
                    Value::Null,
                ]),
                Value::Bytes(vec![1]),
            ]),
            Value::Null,
            Value::Struct(vec![Value::Null, Value::Null]),
        ];
        let array = to_array_owned(&values, &ty).unwrap();
        assert_eq!(array.data_type(), &ty.to_arrow());
        assert_eq!(array_values(&array, &ty).unwrap(), values);
    }

    #[test]
    fn wrong_values_are_errors() {
        assert!(to_array_owned(&[Value::String("x".into())], &SqlType::Int).is_err());
    }
}
