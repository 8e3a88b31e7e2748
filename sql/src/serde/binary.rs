//! Eddy's internal row encoding, for what only Eddy reads: values in repartition topics,
//! aggregation states and join buffers in state stores and their changelogs. Compact and
//! exact for every type (DELIMITED cannot hold structs, KAFKA one column), and read back by
//! the schema it was written with. Keys of internal topics use the query's key format
//! instead, because partitioning must match what producers of the source topics do.
//!
//! Per value: a presence byte (0 = NULL), then little-endian fixed-size numbers, or a u32
//! length and bytes, or a u32 count and the elements.

use super::codec::RowCodec;
use crate::error::{Result, SqlError};
use crate::types::SqlType;
use crate::value::{Row, Value};

/// The internal encoding for rows of these types.
#[derive(Debug, Clone)]
pub struct BinaryCodec {
    types: Vec<SqlType>,
}

impl BinaryCodec {
    /// A codec for rows of `types`.
    pub fn new(types: Vec<SqlType>) -> Self {
        Self { types }
    }
}

impl RowCodec for BinaryCodec {
    fn decode(&self, bytes: &[u8]) -> Result<Option<Row>> {
        let mut r = Cursor { bytes, at: 0 };
        // Sized up front: state stores read a row back on every update.
        let mut row = Vec::with_capacity(self.types.len());
        for ty in &self.types {
            row.push(r.value(ty)?);
        }
        if r.at != bytes.len() {
            return Err(SqlError::serde(format!(
                "internal row has {} bytes left over",
                bytes.len() - r.at
            )));
        }
        Ok(Some(row))
    }

    fn encode(&self, row: &[Value]) -> Result<Option<Vec<u8>>> {
        let mut out = Vec::with_capacity(32);
        encode_row(row, &mut out);
        Ok(Some(out))
    }
}

/// Appends the encoding of a row (the types are implied by the values).
pub fn encode_row(row: &[Value], out: &mut Vec<u8>) {
    for v in row {
        encode_value(v, out);
    }
}

fn put_len(n: usize, out: &mut Vec<u8>) {
    out.extend_from_slice(&(n as u32).to_le_bytes());
}

/// Appends the encoding of one value.
pub fn encode_value(value: &Value, out: &mut Vec<u8>) {
    if value.is_null() {
        out.push(0);
        return;
    }
    out.push(1);
    match value {
        Value::Null => {}
        Value::Boolean(b) => out.push(*b as u8),
        Value::Int(v) | Value::Date(v) | Value::Time(v) => out.extend_from_slice(&v.to_le_bytes()),
        Value::BigInt(v) | Value::Timestamp(v) => out.extend_from_slice(&v.to_le_bytes()),
        Value::Double(v) => out.extend_from_slice(&v.to_le_bytes()),
        Value::Decimal(u, s) => {
            out.extend_from_slice(&u.to_le_bytes());
            out.push(*s);
        }
        Value::String(s) => {
            put_len(s.len(), out);
            out.extend_from_slice(s.as_bytes());
        }
        Value::Bytes(b) => {
            put_len(b.len(), out);
            out.extend_from_slice(b);
        }
        Value::Array(items) | Value::Struct(items) => {
            put_len(items.len(), out);
            for item in items {
                encode_value(item, out);
            }
        }
        Value::Map(entries) => {
            put_len(entries.len(), out);
            for (k, v) in entries {
                encode_value(k, out);
                encode_value(v, out);
            }
        }
    }
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8]> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| SqlError::serde("internal row is truncated"))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let slice = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(slice);
        Ok(a)
    }

    fn len(&mut self) -> Result<usize> {
        let n = u32::from_le_bytes(self.array()?) as usize;
        // Every element takes at least one byte: a count beyond what is left is corrupt.
        if n > self.bytes.len() - self.at {
            return Err(SqlError::serde("internal row has an impossible length"));
        }
        Ok(n)
    }

    fn value(&mut self, ty: &SqlType) -> Result<Value> {
        if self.take(1)?[0] == 0 {
            return Ok(Value::Null);
        }
        Ok(match ty {
            SqlType::Boolean => Value::Boolean(self.take(1)?[0] != 0),
            SqlType::Int => Value::Int(i32::from_le_bytes(self.array()?)),
            SqlType::Date => Value::Date(i32::from_le_bytes(self.array()?)),
            SqlType::Time => Value::Time(i32::from_le_bytes(self.array()?)),
            SqlType::BigInt => Value::BigInt(i64::from_le_bytes(self.array()?)),
            SqlType::Timestamp => Value::Timestamp(i64::from_le_bytes(self.array()?)),
            SqlType::Double => Value::Double(f64::from_le_bytes(self.array()?)),
            SqlType::Decimal { .. } => {
                let u = i128::from_le_bytes(self.array()?);
                Value::Decimal(u, self.take(1)?[0])
            }
            SqlType::String => {
                let n = self.len()?;
                Value::String(
                    String::from_utf8(self.take(n)?.to_vec())
                        .map_err(|_| SqlError::serde("internal row has invalid UTF-8"))?,
                )
            }
            SqlType::Bytes => {
                let n = self.len()?;
                Value::Bytes(self.take(n)?.to_vec())
            }
            SqlType::Array(element) => {
                let n = self.len()?;
                Value::Array((0..n).map(|_| self.value(element)).collect::<Result<_>>()?)
            }
            SqlType::Struct(fields) => {
                let n = self.len()?;
                if n != fields.len() {
                    return Err(SqlError::serde("internal struct has the wrong field count"));
                }
                Value::Struct(
                    fields
                        .iter()
                        .map(|f| self.value(&f.ty))
                        .collect::<Result<_>>()?,
                )
            }
            SqlType::Map(k, v) => {
                let n = self.len()?;
                Value::Map(
                    (0..n)
                        .map(|_| Ok((self.value(k)?, self.value(v)?)))
                        .collect::<Result<_>>()?,
                )
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_every_type() {
        let types = vec![
            SqlType::Boolean,
            SqlType::Int,
            SqlType::BigInt,
            SqlType::Double,
            SqlType::decimal(10, 2).unwrap(),
            SqlType::String,
            SqlType::Bytes,
            SqlType::Timestamp,
            SqlType::Date,
            SqlType::Time,
            SqlType::array(SqlType::map(SqlType::String, SqlType::Int)),
            SqlType::structure([("A".to_string(), SqlType::String)]),
        ];
        let row = vec![
            Value::Boolean(true),
            Value::Int(-1),
            Value::Null,
            Value::Double(2.5),
            Value::Decimal(-12345, 2),
            Value::String("héllo".into()),
            Value::Bytes(vec![0, 255]),
            Value::Timestamp(1_700_000_000_000),
            Value::Date(-3),
            Value::Time(1000),
            Value::Array(vec![Value::Map(vec![(
                Value::String("k".into()),
                Value::Int(1),
            )])]),
            Value::Struct(vec![Value::Null]),
        ];
        let codec = BinaryCodec::new(types);
        let bytes = codec.encode(&row).unwrap().unwrap();
        assert_eq!(codec.decode(&bytes).unwrap().unwrap(), row);
        assert!(codec.decode(&bytes[..bytes.len() - 1]).is_err());
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(codec.decode(&longer).is_err());
    }
}
