//! Types as written resolved (custom type names included), and which CASTs are allowed.

use std::collections::BTreeMap;

use crate::error::{Result, SqlError};
use crate::parser::ast::AstType;
use crate::types::{SqlType, StructField};

/// Whether ksqlDB can CAST `from` to `to`.
pub fn castable(from: &SqlType, to: &SqlType) -> bool {
    use SqlType::*;
    if from == to {
        return true;
    }
    match (from, to) {
        (Bytes, String) | (String, Bytes) => false,
        (_, String) => true,
        (String, _) => matches!(
            to,
            Boolean | Int | BigInt | Double | Decimal { .. } | Timestamp | Date | Time
        ),
        (a, b) if a.is_numeric() && b.is_numeric() => true,
        (Boolean, Int | BigInt) => false,
        (Timestamp, Date | Time) | (Date, Timestamp) => true,
        (Array(a), Array(b)) => castable(a, b),
        (Map(ak, av), Map(bk, bv)) => castable(ak, bk) && castable(av, bv),
        (Struct(_), Struct(_)) => true,
        _ => false,
    }
}

/// Resolves a type as written against the custom types.
pub fn resolve_type(ty: &AstType, custom: &BTreeMap<String, SqlType>) -> Result<SqlType> {
    Ok(match ty {
        AstType::Boolean => SqlType::Boolean,
        AstType::Int => SqlType::Int,
        AstType::BigInt => SqlType::BigInt,
        AstType::Double => SqlType::Double,
        AstType::Decimal(p, s) => SqlType::decimal(*p, *s)?,
        AstType::String => SqlType::String,
        AstType::Bytes => SqlType::Bytes,
        AstType::Timestamp => SqlType::Timestamp,
        AstType::Date => SqlType::Date,
        AstType::Time => SqlType::Time,
        AstType::Array(e) => SqlType::array(resolve_type(e, custom)?),
        AstType::Map(k, v) => SqlType::map(resolve_type(k, custom)?, resolve_type(v, custom)?),
        AstType::Struct(fields) => SqlType::Struct(
            fields
                .iter()
                .map(|(name, t)| {
                    Ok(StructField {
                        name: name.clone(),
                        ty: resolve_type(t, custom)?,
                    })
                })
                .collect::<Result<_>>()?,
        ),
        AstType::Named(name) => custom
            .get(&name.value)
            .cloned()
            .ok_or_else(|| SqlError::at(name.pos, format!("Unknown type: {}", name.value)))?,
    })
}
