//! [`Cell`]: one decoded column value on its way into an Arrow column, borrowing the
//! record's bytes where it can. Codecs that read columns cheaply (JSON) fill cells of the
//! common types directly; anything else arrives as a [`Value`].

use std::borrow::Cow;

use crate::value::{Row, Value};

/// A decoded column value, already of the column's type.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell<'a> {
    /// NULL.
    Null,
    /// A BOOLEAN.
    Bool(bool),
    /// An INT.
    I32(i32),
    /// A BIGINT.
    I64(i64),
    /// A TIMESTAMP (milliseconds since the epoch).
    Timestamp(i64),
    /// A DOUBLE.
    F64(f64),
    /// A STRING.
    Str(Cow<'a, str>),
    /// Any value, as a [`Value`] of the column's type.
    Value(Value),
}

impl Cell<'_> {
    /// Whether this is NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Self::Null | Self::Value(Value::Null))
    }

    /// The value as an i64 (BIGINT and TIMESTAMP cells), for record times.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Self::I64(v)
            | Self::Timestamp(v)
            | Self::Value(Value::BigInt(v) | Value::Timestamp(v)) => Some(*v),
            _ => None,
        }
    }

    /// The value as a string (STRING cells).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::Str(s) => Some(s),
            Self::Value(Value::String(s)) => Some(s),
            _ => None,
        }
    }

    /// The cell as an owned [`Value`].
    pub fn into_value(self) -> Value {
        match self {
            Self::Null => Value::Null,
            Self::Bool(b) => Value::Boolean(b),
            Self::I32(v) => Value::Int(v),
            Self::Timestamp(v) => Value::Timestamp(v),
            Self::I64(v) => Value::BigInt(v),
            Self::F64(v) => Value::Double(v),
            Self::Str(s) => Value::String(s.into_owned()),
            Self::Value(v) => v,
        }
    }
}

/// Fills `cells` (cleared first) from a decoded row; `false` for a null (`None`).
pub fn fill_from_row(cells: &mut Vec<Cell<'_>>, row: Option<Row>) -> bool {
    cells.clear();
    match row {
        Some(row) => {
            cells.extend(row.into_iter().map(Cell::Value));
            true
        }
        None => false,
    }
}
