//! Coercion of user-written expression lists to one type, as ksqlDB's `CoercionUtil` does
//! for `x IN (a, b, c)` and the ARRAY and MAP constructors.
//!
//! The first typed element sets the type; each later one must coerce to it or it to the
//! later one (numbers widen, a string literal may be read as a number or a boolean, a
//! literal may become a string, structs merge their fields). Literals are converted at
//! planning time, other expressions get a CAST. NULL literals take any type.

use super::{Typer, coerce_literal};
use crate::error::{Result, SqlError};
use crate::expr::TExpr;
use crate::functions::signature::common_type;
use crate::parser::ast::{Expr, ExprKind, Literal};
use crate::parser::display_expr;
use crate::types::{SqlType, StructField};

/// Why coercion failed: "operator does not exist" failures are rewrapped by enclosing
/// constructors, other errors (bad literal syntax) propagate as they are.
enum Failure {
    Mismatch(String),
    Other(SqlError),
}

impl From<SqlError> for Failure {
    fn from(e: SqlError) -> Self {
        Failure::Other(e)
    }
}

fn mismatch(value: &Expr, source: Option<&SqlType>, target: &SqlType) -> Failure {
    let source = source.map_or_else(|| "NULL".to_string(), |t| t.to_string());
    Failure::Mismatch(format!(
        "operator does not exist: {target} = {source} ({})\nHint: You might need to add \
         explicit type casts.",
        display_expr(value)
    ))
}

fn invalid_syntax(value: &str, target: &SqlType) -> Failure {
    Failure::Other(SqlError::semantic(format!(
        "invalid input syntax for type {}: \"{value}\".",
        target.kind_name()
    )))
}

/// Whether coercion may treat the expression as a literal (ksqlDB's LAX coercer).
fn is_literal(e: &Expr) -> bool {
    matches!(e.kind, ExprKind::Literal(_))
}

/// `from` coerces to `to` under ksqlDB's STRICT rules, or also LAX ones for literals;
/// the result is the type holding both.
fn can_coerce(from: &SqlType, to: &SqlType, lax: bool) -> Option<SqlType> {
    use SqlType::*;
    match (from, to) {
        _ if from == to && !matches!(from, Struct(_)) => Some(to.clone()),
        (Int | BigInt | Decimal { .. }, Decimal { .. }) => common_type(from, to),
        (Int, BigInt | Double) | (BigInt | Decimal { .. }, Double) => Some(to.clone()),
        (String, Timestamp | Time | Date | Bytes) => Some(to.clone()),
        (Array(a), Array(b)) => Some(SqlType::array(can_coerce(a, b, lax)?)),
        (Map(ak, av), Map(bk, bv)) => Some(SqlType::map(
            can_coerce(ak, bk, lax)?,
            can_coerce(av, bv, lax)?,
        )),
        (Struct(a), Struct(b)) => {
            let mut fields: Vec<StructField> = Vec::new();
            for name in a.iter().chain(b).map(|f| &f.name) {
                if fields.iter().any(|f| &f.name == name) {
                    continue;
                }
                let fa = a.iter().find(|f| &f.name == name);
                let fb = b.iter().find(|f| &f.name == name);
                let ty = match (fa, fb) {
                    (Some(x), Some(y)) => can_coerce(&x.ty, &y.ty, lax)?,
                    (Some(x), None) | (None, Some(x)) => x.ty.clone(),
                    (None, None) => unreachable!("the name came from one of them"),
                };
                fields.push(StructField {
                    name: name.clone(),
                    ty,
                });
            }
            Some(Struct(fields))
        }
        (Boolean | Int | BigInt | Decimal { .. } | Double | Timestamp | Time | Date, String)
            if lax =>
        {
            Some(String)
        }
        (String, Boolean | Int | BigInt | Decimal { .. } | Double) if lax => Some(to.clone()),
        _ => None,
    }
}

/// The numeric type a string literal reads as: INT, BIGINT or DECIMAL as written, DOUBLE
/// with an exponent... as ksqlDB's `getStringNumericType`, then widened with `target`.
fn numeric_type_of_string(text: &str, target: &SqlType) -> std::result::Result<SqlType, Failure> {
    let trimmed = text.trim();
    let parsed: bigdecimal::BigDecimal =
        trimmed.parse().map_err(|_| invalid_syntax(text, target))?;
    let integral = !trimmed.contains(['.', 'e', 'E']);
    let source = if integral && trimmed.parse::<i32>().is_ok() {
        SqlType::Int
    } else if integral && trimmed.parse::<i64>().is_ok() {
        SqlType::BigInt
    } else {
        let (digits, scale) = parsed.as_bigint_and_exponent();
        let scale = scale.max(0) as u32;
        let precision = (digits.magnitude().to_string().len() as u32)
            .max(scale)
            .max(1);
        SqlType::decimal(precision, scale)?
    };
    Ok(match (&source, target) {
        (SqlType::Double, _) | (_, SqlType::Double) => SqlType::Double,
        (SqlType::Decimal { .. }, _) | (_, SqlType::Decimal { .. }) => {
            common_type(&source, target).unwrap_or(SqlType::Double)
        }
        _ => {
            if can_coerce(&source, target, false).is_some() {
                target.clone()
            } else {
                source
            }
        }
    })
}

impl Typer<'_> {
    /// Types `items` and converts them to their common type, which is `None` when every
    /// item is an untyped NULL.
    pub(super) fn coerce_user_list(
        &mut self,
        items: &[&Expr],
    ) -> Result<(Option<SqlType>, Vec<TExpr>)> {
        let typed: Vec<TExpr> = items.iter().map(|e| self.expr(e)).collect::<Result<_>>()?;
        let mut common: Option<SqlType> = None;
        for (ast, t) in items.iter().zip(&typed) {
            common = self
                .resolve_common(ast, t.ty.as_ref(), common)
                .map_err(|f| match f {
                    Failure::Mismatch(m) => SqlError::at(ast.pos, m),
                    Failure::Other(e) => e.or_at(ast.pos),
                })?;
        }
        let Some(ty) = common else {
            return Ok((None, typed));
        };
        let converted = typed
            .into_iter()
            .map(|t| {
                if t.ty.as_ref().is_none_or(|x| x == &ty) {
                    Ok(t.cast_to(&ty))
                } else {
                    coerce_literal(t, &ty).map(|t| t.cast_to(&ty))
                }
            })
            .collect::<Result<_>>()?;
        Ok((Some(ty), converted))
    }

    fn resolve_common(
        &mut self,
        ast: &Expr,
        ty: Option<&SqlType>,
        common: Option<SqlType>,
    ) -> std::result::Result<Option<SqlType>, Failure> {
        let Some(target) = common else {
            return Ok(ty.cloned());
        };
        let Some(source) = ty else {
            return Ok(Some(target));
        };
        match &ast.kind {
            ExprKind::Array(elements) => {
                let SqlType::Array(item) = &target else {
                    return Err(mismatch(ast, Some(source), &target));
                };
                let refs: Vec<&Expr> = elements.iter().collect();
                let item = self
                    .structured_common(item, &refs)
                    .map_err(|f| rewrap(f, ast, source, &target))?;
                Ok(Some(SqlType::array(item)))
            }
            ExprKind::Map(entries) => {
                let SqlType::Map(k, v) = &target else {
                    return Err(mismatch(ast, Some(source), &target));
                };
                let keys: Vec<&Expr> = entries.iter().map(|(k, _)| k).collect();
                let values: Vec<&Expr> = entries.iter().map(|(_, v)| v).collect();
                let k = self
                    .structured_common(k, &keys)
                    .map_err(|f| rewrap(f, ast, source, &target))?;
                let v = self
                    .structured_common(v, &values)
                    .map_err(|f| rewrap(f, ast, source, &target))?;
                Ok(Some(SqlType::map(k, v)))
            }
            ExprKind::Struct(fields) => {
                let SqlType::Struct(target_fields) = &target else {
                    return Err(mismatch(ast, Some(source), &target));
                };
                let mut names: Vec<&String> = fields.iter().map(|(n, _)| n).collect();
                for f in target_fields {
                    if !names.contains(&&f.name) {
                        names.push(&f.name);
                    }
                }
                let mut out = Vec::new();
                for name in names {
                    let value = fields.iter().find(|(n, _)| n == name).map(|(_, v)| v);
                    let target_ty = target_fields.iter().find(|f| &f.name == name);
                    let field_ty = match (value, target_ty) {
                        (Some(v), target_ty) => {
                            let vt = self.expr(v)?.ty;
                            self.resolve_common(v, vt.as_ref(), target_ty.map(|f| f.ty.clone()))
                                .map_err(|f| rewrap(f, ast, source, &target))?
                                .or(vt)
                        }
                        (None, Some(t)) => Some(t.ty.clone()),
                        (None, None) => None,
                    };
                    let Some(field_ty) = field_ty else {
                        return Err(mismatch(ast, Some(source), &target));
                    };
                    out.push(StructField {
                        name: name.clone(),
                        ty: field_ty,
                    });
                }
                Ok(Some(SqlType::Struct(out)))
            }
            ExprKind::Literal(Literal::String(s)) if target.is_numeric() => {
                numeric_type_of_string(s, &target).map(Some)
            }
            ExprKind::Literal(Literal::String(s)) if target == SqlType::Boolean => {
                if parse_boolean_exact(s).is_none() {
                    return Err(invalid_syntax(s, &target));
                }
                Ok(Some(target))
            }
            _ => {
                let lax = is_literal(ast);
                can_coerce(source, &target, lax)
                    .or_else(|| can_coerce(&target, source, lax))
                    .map(Some)
                    .ok_or_else(|| mismatch(ast, Some(source), &target))
            }
        }
    }

    /// The common type of a constructor's elements and the type they must fit.
    fn structured_common(
        &mut self,
        target: &SqlType,
        elements: &[&Expr],
    ) -> std::result::Result<SqlType, Failure> {
        let mut common = Some(target.clone());
        for e in elements {
            let ty = self.expr(e)?.ty;
            common = self.resolve_common(e, ty.as_ref(), common)?;
        }
        Ok(common.unwrap_or_else(|| target.clone()))
    }
}

/// A nested mismatch reported as the enclosing constructor's mismatch.
fn rewrap(f: Failure, ast: &Expr, source: &SqlType, target: &SqlType) -> Failure {
    match f {
        Failure::Mismatch(_) => mismatch(ast, Some(source), target),
        other => other,
    }
}

/// ksqlDB's `SqlBooleans.parseBooleanExact`: true/false/yes/no, any case, or a prefix of them.
fn parse_boolean_exact(s: &str) -> Option<bool> {
    let lower = s.trim().to_ascii_lowercase();
    if lower.is_empty() {
        return None;
    }
    if "true".starts_with(&lower) || "yes".starts_with(&lower) {
        Some(true)
    } else if "false".starts_with(&lower) || "no".starts_with(&lower) {
        Some(false)
    } else {
        None
    }
}
