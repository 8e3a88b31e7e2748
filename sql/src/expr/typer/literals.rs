//! Literals typed as ksqlDB types them (DECIMAL from the text's digits), and literals
//! coerced to another type at planning time.

use bigdecimal::BigDecimal;

use crate::error::{Result, SqlError};
use crate::expr::{TExpr, TKind};
use crate::parser::ast::Literal;
use crate::types::SqlType;
use crate::value::Value;

/// The DECIMAL type of a literal's text (`1.50` is DECIMAL(3, 2)).
pub fn decimal_literal_type(text: &str) -> Result<(Value, SqlType)> {
    let d: BigDecimal = text
        .parse()
        .map_err(|_| SqlError::semantic(format!("Invalid decimal literal: {text}")))?;
    let (digits, scale) = d.as_bigint_and_exponent();
    let scale = scale.max(0) as u32;
    let precision = digits.magnitude().to_string().len() as u32;
    let precision = precision.max(scale).max(1);
    let ty = SqlType::decimal(precision, scale)?;
    let SqlType::Decimal { precision, scale } = ty else {
        unreachable!("decimal() makes decimals")
    };
    let value = Value::decimal_from(&d, precision, scale)
        .ok_or_else(|| SqlError::semantic(format!("Invalid decimal literal: {text}")))?;
    Ok((value, ty))
}

/// A string literal converted to `ty` at planning time (ksqlDB coerces string literals in
/// comparisons), or the expression unchanged if it is not one.
pub fn coerce_literal(t: TExpr, ty: &SqlType) -> Result<TExpr> {
    let TKind::Literal(Value::String(s)) = &t.kind else {
        return Ok(t);
    };
    if ty == &SqlType::String {
        return Ok(t);
    }
    let bad = || {
        SqlError::semantic(format!(
            "invalid input syntax for type {}: \"{s}\".",
            ty.kind_name()
        ))
    };
    let text = s.trim();
    let value = match ty {
        SqlType::Int => Value::Int(text.parse().map_err(|_| bad())?),
        SqlType::BigInt => Value::BigInt(text.parse().map_err(|_| bad())?),
        SqlType::Double => Value::Double(text.parse().map_err(|_| bad())?),
        SqlType::Decimal { precision, scale } => {
            let d: BigDecimal = text.parse().map_err(|_| bad())?;
            Value::decimal_from(&d, *precision, *scale).ok_or_else(bad)?
        }
        SqlType::Boolean => {
            let lower = text.to_ascii_lowercase();
            // ksqlDB accepts prefixes of true/false/yes/no.
            if !lower.is_empty() && ("true".starts_with(&lower) || "yes".starts_with(&lower)) {
                Value::Boolean(true)
            } else if !lower.is_empty() && ("false".starts_with(&lower) || "no".starts_with(&lower))
            {
                Value::Boolean(false)
            } else {
                return Err(bad());
            }
        }
        SqlType::Timestamp => Value::Timestamp(
            crate::functions::time_parse::parse_timestamp_literal(text).ok_or_else(bad)?,
        ),
        SqlType::Date => {
            Value::Date(crate::functions::time_parse::parse_date_literal(text).ok_or_else(bad)?)
        }
        SqlType::Time => {
            Value::Time(crate::functions::time_parse::parse_time_literal(text).ok_or_else(bad)?)
        }
        _ => return Ok(t),
    };
    Ok(TExpr::literal(value, ty.clone()))
}

pub(super) fn literal(l: &Literal) -> Result<TExpr> {
    Ok(match l {
        Literal::Null => TExpr::new(TKind::Literal(Value::Null), None),
        Literal::Boolean(b) => TExpr::literal(Value::Boolean(*b), SqlType::Boolean),
        Literal::Int(v) => TExpr::literal(Value::Int(*v), SqlType::Int),
        Literal::BigInt(v) => TExpr::literal(Value::BigInt(*v), SqlType::BigInt),
        Literal::Double(v) => TExpr::literal(Value::Double(*v), SqlType::Double),
        Literal::String(s) => TExpr::literal(Value::String(s.clone()), SqlType::String),
        Literal::Decimal(text) => {
            let (value, ty) = decimal_literal_type(text)?;
            TExpr::literal(value, ty)
        }
    })
}
