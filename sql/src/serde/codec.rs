//! [`RowCodec`]: how the key or value columns of a record become bytes and back, for each
//! format; [`codec_for`] picks one. KAFKA and NONE live here; JSON and DELIMITED have
//! modules of their own.

use std::borrow::Cow;
use std::fmt::Debug;
use std::sync::Arc;

use super::cell::{Cell, fill_from_row};
use super::delimited::DelimitedCodec;
use super::format::{Format, FormatInfo};
use super::json::JsonCodec;
use crate::error::{Result, SqlError};
use crate::types::SqlType;
use crate::value::{Row, Value};

/// Encodes and decodes the key or value columns of records.
pub trait RowCodec: Send + Sync + Debug {
    /// Decodes record bytes into one value per column; `None` when the bytes encode a null
    /// (JSON `null`), which streams drop and tables read as a delete.
    fn decode(&self, bytes: &[u8]) -> Result<Option<Row>>;

    /// [`Self::decode`] into `cells` (cleared first), one per column, which may borrow
    /// `bytes`; `false` when the bytes encode a null. Codecs that can read columns without
    /// building [`Value`]s override it.
    fn decode_cells<'a>(&self, bytes: &'a [u8], cells: &mut Vec<Cell<'a>>) -> Result<bool> {
        Ok(fill_from_row(cells, self.decode(bytes)?))
    }

    /// Encodes one value per column; `None` writes no bytes (a null key or value).
    fn encode(&self, row: &[Value]) -> Result<Option<Vec<u8>>>;

    /// [`Self::encode`] of one cell per column. Codecs that can write cells without
    /// building [`Value`]s override it.
    fn encode_cells(&self, cells: &[Cell<'_>]) -> Result<Option<Vec<u8>>> {
        let row: Row = cells.iter().cloned().map(Cell::into_value).collect();
        self.encode(&row)
    }
}

/// A shared codec.
pub type CodecRef = Arc<dyn RowCodec>;

/// The codec of `format` for `columns`. `wrap_single_value` applies to a single column:
/// values default to wrapped, keys to unwrapped (as in ksqlDB).
pub fn codec_for(
    info: &FormatInfo,
    columns: Vec<(String, SqlType)>,
    wrap_single: bool,
) -> Result<CodecRef> {
    Ok(match info.format {
        Format::Json => Arc::new(JsonCodec::new(columns, wrap_single)),
        Format::Delimited => Arc::new(DelimitedCodec::new(columns, info.delimiter())),
        Format::Kafka => match columns.len() {
            0 => Arc::new(NoneCodec),
            1 => Arc::new(KafkaCodec::new(columns[0].1.clone())?),
            _ => {
                return Err(SqlError::semantic(
                    "The 'KAFKA' format only supports a single field",
                ));
            }
        },
        Format::None => Arc::new(NoneCodec),
    })
}

/// The NONE format: no columns, no bytes.
#[derive(Debug, Clone, Copy)]
pub struct NoneCodec;

impl RowCodec for NoneCodec {
    fn decode(&self, _bytes: &[u8]) -> Result<Option<Row>> {
        Ok(Some(Vec::new()))
    }

    fn encode(&self, _row: &[Value]) -> Result<Option<Vec<u8>>> {
        Ok(None)
    }
}

/// Kafka's primitive serializers for one column: INT as 4 big-endian bytes, BIGINT and
/// DOUBLE as 8, STRING as UTF-8, BYTES as they are.
#[derive(Debug, Clone)]
pub struct KafkaCodec {
    ty: SqlType,
}

impl KafkaCodec {
    /// A codec for one column of `ty`.
    pub fn new(ty: SqlType) -> Result<Self> {
        if !Format::Kafka.supports(&ty) {
            return Err(SqlError::semantic(format!(
                "The 'KAFKA' format does not support type '{}'",
                ty.kind_name()
            )));
        }
        Ok(Self { ty })
    }
}

fn fixed<const N: usize>(bytes: &[u8], what: &str) -> Result<[u8; N]> {
    bytes.try_into().map_err(|_| {
        SqlError::serde(format!(
            "Size of data received by {what}Deserializer is not {N}: {} bytes",
            bytes.len()
        ))
    })
}

impl RowCodec for KafkaCodec {
    fn decode(&self, bytes: &[u8]) -> Result<Option<Row>> {
        let value = match self.ty {
            SqlType::Int => Value::Int(i32::from_be_bytes(fixed::<4>(bytes, "Integer")?)),
            SqlType::BigInt => Value::BigInt(i64::from_be_bytes(fixed::<8>(bytes, "Long")?)),
            SqlType::Double => Value::Double(f64::from_be_bytes(fixed::<8>(bytes, "Double")?)),
            SqlType::String => Value::String(
                String::from_utf8(bytes.to_vec())
                    .map_err(|_| SqlError::serde("the key or value is not valid UTF-8"))?,
            ),
            SqlType::Bytes => Value::Bytes(bytes.to_vec()),
            _ => return Err(SqlError::serde("unsupported KAFKA type")),
        };
        Ok(Some(vec![value]))
    }

    fn decode_cells<'a>(&self, bytes: &'a [u8], cells: &mut Vec<Cell<'a>>) -> Result<bool> {
        cells.clear();
        cells.push(match self.ty {
            SqlType::Int => Cell::I32(i32::from_be_bytes(fixed::<4>(bytes, "Integer")?)),
            SqlType::BigInt => Cell::I64(i64::from_be_bytes(fixed::<8>(bytes, "Long")?)),
            SqlType::Double => Cell::F64(f64::from_be_bytes(fixed::<8>(bytes, "Double")?)),
            SqlType::String => {
                Cell::Str(Cow::Borrowed(std::str::from_utf8(bytes).map_err(|_| {
                    SqlError::serde("the key or value is not valid UTF-8")
                })?))
            }
            _ => return Ok(fill_from_row(cells, self.decode(bytes)?)),
        });
        Ok(true)
    }

    fn encode(&self, row: &[Value]) -> Result<Option<Vec<u8>>> {
        Ok(match row.first() {
            None | Some(Value::Null) => None,
            Some(Value::Int(v)) => Some(v.to_be_bytes().to_vec()),
            Some(Value::BigInt(v)) => Some(v.to_be_bytes().to_vec()),
            Some(Value::Double(v)) => Some(v.to_be_bytes().to_vec()),
            Some(Value::String(s)) => Some(s.as_bytes().to_vec()),
            Some(Value::Bytes(b)) => Some(b.clone()),
            Some(other) => {
                return Err(SqlError::serde(format!(
                    "cannot write {other:?} in the KAFKA format as {}",
                    self.ty
                )));
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_primitives() {
        let c = KafkaCodec::new(SqlType::Int).unwrap();
        assert_eq!(
            c.encode(&[Value::Int(258)]).unwrap().unwrap(),
            vec![0, 0, 1, 2]
        );
        assert_eq!(
            c.decode(&[0, 0, 1, 2]).unwrap().unwrap(),
            vec![Value::Int(258)]
        );
        assert!(c.decode(&[1, 2]).is_err());
        let mut cells = Vec::new();
        assert!(c.decode_cells(&[0, 0, 1, 2], &mut cells).unwrap());
        assert_eq!(cells, [Cell::I32(258)]);
        assert!(c.decode_cells(&[1, 2], &mut cells).is_err());
        let s = KafkaCodec::new(SqlType::String).unwrap();
        assert!(s.decode_cells(b"key", &mut cells).unwrap());
        assert_eq!(cells, [Cell::Str("key".into())]);
        assert!(s.decode_cells(b"\xff", &mut cells).is_err());
        assert!(KafkaCodec::new(SqlType::Boolean).is_err());
    }
}
