//! Reading a row function's arguments: the planner casts every argument to its
//! parameter's type, so a value of another kind is an internal error, reported (not
//! panicked on) like any failed call.

use crate::error::{Result, SqlError};
use crate::value::Value;

fn wrong(expected: &str, got: &Value) -> SqlError {
    SqlError::eval(format!("expected {expected}, got {}", got.display(None)))
}

/// A STRING argument.
pub fn string(v: &Value) -> Result<&str> {
    match v {
        Value::String(s) => Ok(s),
        other => Err(wrong("a STRING", other)),
    }
}

/// A STRING argument that may be NULL.
pub fn opt_string(v: &Value) -> Result<Option<&str>> {
    match v {
        Value::Null => Ok(None),
        other => string(other).map(Some),
    }
}

/// A BYTES argument.
pub fn bytes(v: &Value) -> Result<&[u8]> {
    match v {
        Value::Bytes(b) => Ok(b),
        other => Err(wrong("BYTES", other)),
    }
}

/// An INT argument.
pub fn int(v: &Value) -> Result<i32> {
    match v {
        Value::Int(i) => Ok(*i),
        other => Err(wrong("an INT", other)),
    }
}

/// An INT argument that may be NULL.
pub fn opt_int(v: &Value) -> Result<Option<i32>> {
    match v {
        Value::Null => Ok(None),
        other => int(other).map(Some),
    }
}

/// An INT argument for a Java `int` parameter: NULL cannot be unboxed.
pub fn primitive_int(v: &Value) -> Result<i32> {
    match v {
        Value::Null => Err(SqlError::eval(
            "NULL passed for a parameter of primitive type int",
        )),
        other => int(other),
    }
}

/// A BIGINT argument.
pub fn bigint(v: &Value) -> Result<i64> {
    match v {
        Value::BigInt(i) => Ok(*i),
        other => Err(wrong("a BIGINT", other)),
    }
}

/// A DOUBLE argument.
pub fn double(v: &Value) -> Result<f64> {
    match v {
        Value::Double(d) => Ok(*d),
        other => Err(wrong("a DOUBLE", other)),
    }
}

/// An ARRAY argument.
pub fn array(v: &Value) -> Result<&[Value]> {
    match v {
        Value::Array(items) => Ok(items),
        other => Err(wrong("an ARRAY", other)),
    }
}

/// A MAP argument.
pub fn map(v: &Value) -> Result<&[(Value, Value)]> {
    match v {
        Value::Map(entries) => Ok(entries),
        other => Err(wrong("a MAP", other)),
    }
}

/// A TIMESTAMP argument (ms since the epoch).
pub fn timestamp(v: &Value) -> Result<i64> {
    match v {
        Value::Timestamp(t) => Ok(*t),
        other => Err(wrong("a TIMESTAMP", other)),
    }
}

/// A DATE argument (days since the epoch).
pub fn date(v: &Value) -> Result<i32> {
    match v {
        Value::Date(d) => Ok(*d),
        other => Err(wrong("a DATE", other)),
    }
}

/// A TIME argument (ms since midnight).
pub fn time(v: &Value) -> Result<i32> {
    match v {
        Value::Time(t) => Ok(*t),
        other => Err(wrong("a TIME", other)),
    }
}
