//! ksqlDB's SQL types ([`SqlType`]), how they print (as ksqlDB prints them in schemas and
//! messages), and how they map one to one onto Arrow types for vectorised evaluation.

use std::fmt;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Fields, TimeUnit};

use crate::error::{Result, SqlError};

/// The largest precision of a DECIMAL (ksqlDB's and Arrow's `Decimal128` limit is 38).
pub const MAX_DECIMAL_PRECISION: u8 = 38;

/// A ksqlDB type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SqlType {
    /// BOOLEAN.
    Boolean,
    /// INT / INTEGER: 32-bit signed.
    Int,
    /// BIGINT: 64-bit signed.
    BigInt,
    /// DOUBLE: 64-bit IEEE float.
    Double,
    /// DECIMAL(precision, scale).
    Decimal {
        /// Total digits, 1..=38.
        precision: u8,
        /// Digits after the point, 0..=precision.
        scale: u8,
    },
    /// STRING / VARCHAR.
    String,
    /// BYTES.
    Bytes,
    /// TIMESTAMP: milliseconds since the epoch, no time zone.
    Timestamp,
    /// DATE: days since the epoch.
    Date,
    /// TIME: milliseconds since midnight.
    Time,
    /// `ARRAY<element>`.
    Array(Box<SqlType>),
    /// MAP<key, value>.
    Map(Box<SqlType>, Box<SqlType>),
    /// STRUCT<name type, ...>, fields in order.
    Struct(Vec<StructField>),
}

/// A field of a STRUCT type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StructField {
    /// The field's name, as written (unquoted names upper-cased by the parser).
    pub name: String,
    /// Its type.
    pub ty: SqlType,
}

impl SqlType {
    /// DECIMAL(precision, scale), checked as ksqlDB checks it.
    pub fn decimal(precision: u32, scale: u32) -> Result<Self> {
        if precision == 0 || precision > MAX_DECIMAL_PRECISION as u32 {
            return Err(SqlError::semantic(format!(
                "DECIMAL precision must be between 1 and {MAX_DECIMAL_PRECISION}: {precision}"
            )));
        }
        if scale > precision {
            return Err(SqlError::semantic(format!(
                "DECIMAL scale must be equal to or less than precision. precision:{precision}, \
                 scale:{scale}"
            )));
        }
        Ok(Self::Decimal {
            precision: precision as u8,
            scale: scale as u8,
        })
    }

    /// A STRUCT type from `(name, type)` pairs.
    pub fn structure<I, S>(fields: I) -> Self
    where
        I: IntoIterator<Item = (S, SqlType)>,
        S: Into<String>,
    {
        Self::Struct(
            fields
                .into_iter()
                .map(|(name, ty)| StructField {
                    name: name.into(),
                    ty,
                })
                .collect(),
        )
    }

    /// `ARRAY<element>`.
    pub fn array(element: SqlType) -> Self {
        Self::Array(Box::new(element))
    }

    /// MAP<key, value>.
    pub fn map(key: SqlType, value: SqlType) -> Self {
        Self::Map(Box::new(key), Box::new(value))
    }

    /// Whether this is INT, BIGINT, DECIMAL or DOUBLE.
    pub fn is_numeric(&self) -> bool {
        matches!(
            self,
            Self::Int | Self::BigInt | Self::Double | Self::Decimal { .. }
        )
    }

    /// Whether this is INT or BIGINT.
    pub fn is_integer(&self) -> bool {
        matches!(self, Self::Int | Self::BigInt)
    }

    /// Whether this is a TIMESTAMP, DATE or TIME.
    pub fn is_temporal(&self) -> bool {
        matches!(self, Self::Timestamp | Self::Date | Self::Time)
    }

    /// Whether this type is or contains a MAP (map keys are refused: ksqlDB issue 6621).
    pub fn contains_map(&self) -> bool {
        match self {
            Self::Map(..) => true,
            Self::Array(e) => e.contains_map(),
            Self::Struct(fields) => fields.iter().any(|f| f.ty.contains_map()),
            _ => false,
        }
    }

    /// The decimal a value of an integer type widens to: INT is DECIMAL(10, 0), BIGINT is
    /// DECIMAL(19, 0) (ksqlDB's `DecimalUtil.toSqlDecimal`).
    pub fn as_decimal(&self) -> Option<(u8, u8)> {
        match self {
            Self::Int => Some((10, 0)),
            Self::BigInt => Some((19, 0)),
            Self::Decimal { precision, scale } => Some((*precision, *scale)),
            _ => None,
        }
    }

    /// The Arrow type that carries values of this type.
    pub fn to_arrow(&self) -> DataType {
        match self {
            Self::Boolean => DataType::Boolean,
            Self::Int => DataType::Int32,
            Self::BigInt => DataType::Int64,
            Self::Double => DataType::Float64,
            Self::Decimal { precision, scale } => DataType::Decimal128(*precision, *scale as i8),
            Self::String => DataType::Utf8,
            Self::Bytes => DataType::Binary,
            Self::Timestamp => DataType::Timestamp(TimeUnit::Millisecond, None),
            Self::Date => DataType::Date32,
            Self::Time => DataType::Time32(TimeUnit::Millisecond),
            Self::Array(element) => {
                DataType::List(Arc::new(Field::new("item", element.to_arrow(), true)))
            }
            Self::Map(key, value) => DataType::Map(
                Arc::new(Field::new(
                    "entries",
                    DataType::Struct(Fields::from(vec![
                        Field::new("key", key.to_arrow(), false),
                        Field::new("value", value.to_arrow(), true),
                    ])),
                    false,
                )),
                false,
            ),
            Self::Struct(fields) => DataType::Struct(
                fields
                    .iter()
                    .map(|f| Field::new(&f.name, f.ty.to_arrow(), true))
                    .collect::<Vec<_>>()
                    .into(),
            ),
        }
    }

    /// The ksqlDB type of an Arrow type, where there is one.
    pub fn from_arrow(data_type: &DataType) -> Option<Self> {
        Some(match data_type {
            DataType::Boolean => Self::Boolean,
            DataType::Int32 => Self::Int,
            DataType::Int64 => Self::BigInt,
            DataType::Float64 => Self::Double,
            DataType::Decimal128(p, s) => Self::Decimal {
                precision: *p,
                scale: (*s).max(0) as u8,
            },
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Self::String,
            DataType::Binary | DataType::LargeBinary | DataType::BinaryView => Self::Bytes,
            DataType::Timestamp(TimeUnit::Millisecond, _) => Self::Timestamp,
            DataType::Date32 => Self::Date,
            DataType::Time32(TimeUnit::Millisecond) => Self::Time,
            DataType::List(f) | DataType::LargeList(f) => {
                Self::Array(Box::new(Self::from_arrow(f.data_type())?))
            }
            DataType::Map(entries, _) => match entries.data_type() {
                DataType::Struct(kv) if kv.len() == 2 => Self::Map(
                    Box::new(Self::from_arrow(kv[0].data_type())?),
                    Box::new(Self::from_arrow(kv[1].data_type())?),
                ),
                _ => return None,
            },
            DataType::Struct(fields) => Self::Struct(
                fields
                    .iter()
                    .map(|f| {
                        Some(StructField {
                            name: f.name().clone(),
                            ty: Self::from_arrow(f.data_type())?,
                        })
                    })
                    .collect::<Option<Vec<_>>>()?,
            ),
            _ => return None,
        })
    }

    /// The ksqlDB name of the type's kind, as in function signatures (`DECIMAL`, `ARRAY`).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Self::Boolean => "BOOLEAN",
            Self::Int => "INTEGER",
            Self::BigInt => "BIGINT",
            Self::Double => "DOUBLE",
            Self::Decimal { .. } => "DECIMAL",
            Self::String => "STRING",
            Self::Bytes => "BYTES",
            Self::Timestamp => "TIMESTAMP",
            Self::Date => "DATE",
            Self::Time => "TIME",
            Self::Array(_) => "ARRAY",
            Self::Map(..) => "MAP",
            Self::Struct(_) => "STRUCT",
        }
    }
}

impl fmt::Display for SqlType {
    /// ksqlDB's `SqlType.toString()`: `INTEGER`, `DECIMAL(4, 2)`, `ARRAY<STRING>`,
    /// `MAP<STRING, INTEGER>`, ``STRUCT<`F1` INTEGER, `F2` STRING>``.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Decimal { precision, scale } => write!(f, "DECIMAL({precision}, {scale})"),
            Self::Array(e) => write!(f, "ARRAY<{e}>"),
            Self::Map(k, v) => write!(f, "MAP<{k}, {v}>"),
            Self::Struct(fields) => {
                f.write_str("STRUCT<")?;
                for (i, field) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "`{}` {}", field.name, field.ty)?;
                }
                f.write_str(">")
            }
            other => f.write_str(other.kind_name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_as_ksqldb() {
        let t = SqlType::structure([
            ("F", SqlType::map(SqlType::String, SqlType::String)),
            ("D", SqlType::decimal(4, 2).unwrap()),
        ]);
        assert_eq!(
            t.to_string(),
            "STRUCT<`F` MAP<STRING, STRING>, `D` DECIMAL(4, 2)>"
        );
        assert_eq!(SqlType::array(SqlType::Int).to_string(), "ARRAY<INTEGER>");
    }

    #[test]
    fn arrow_round_trip() {
        let t = SqlType::structure([
            (
                "A",
                SqlType::array(SqlType::map(SqlType::String, SqlType::BigInt)),
            ),
            ("T", SqlType::Timestamp),
            ("D", SqlType::Date),
            ("TM", SqlType::Time),
            ("B", SqlType::Bytes),
            ("X", SqlType::decimal(10, 3).unwrap()),
        ]);
        assert_eq!(SqlType::from_arrow(&t.to_arrow()), Some(t));
    }

    #[test]
    fn decimal_bounds() {
        assert!(SqlType::decimal(0, 0).is_err());
        assert!(SqlType::decimal(39, 0).is_err());
        assert!(SqlType::decimal(3, 4).is_err());
        assert!(SqlType::decimal(38, 38).is_ok());
    }
}
