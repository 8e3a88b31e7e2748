//! Typing operators: comparisons (string literals coerced to the other side, NULL refused),
//! arithmetic with its widening and DECIMAL result types, AND/OR, and CASE.

use crate::error::{Pos, Result, SqlError};
use crate::expr::{TExpr, TKind};
use crate::functions::signature::common_type;
use crate::parser::ast::{BinaryOp, Expr, ExprKind};
use crate::types::SqlType;
use crate::value::Value;

use super::Typer;
use super::literals::coerce_literal;

/// The result type of a decimal operation (ksqlDB's `SqlDecimal` rules), capped at 38.
pub fn decimal_result(op: BinaryOp, (p1, s1): (u8, u8), (p2, s2): (u8, u8)) -> SqlType {
    let (p1, s1, p2, s2) = (p1 as i32, s1 as i32, p2 as i32, s2 as i32);
    let (precision, scale) = match op {
        BinaryOp::Add | BinaryOp::Subtract => {
            let scale = s1.max(s2);
            ((p1 - s1).max(p2 - s2) + scale + 1, scale)
        }
        BinaryOp::Multiply => (p1 + p2 + 1, s1 + s2),
        BinaryOp::Divide => {
            let scale = 6.max(s1 + p2 + 1);
            (p1 - s1 + s2 + scale, scale)
        }
        _ => {
            let scale = s1.max(s2);
            ((p1 - s1).min(p2 - s2) + scale, scale)
        }
    };
    let precision = precision.clamp(1, 38);
    SqlType::Decimal {
        precision: precision as u8,
        scale: scale.clamp(0, precision) as u8,
    }
}

impl Typer<'_> {
    /// Types both sides of a comparison and brings them to one type.
    pub(super) fn comparable(
        &mut self,
        left: &Expr,
        right: &Expr,
        op: &str,
        pos: Pos,
        allow_null: bool,
    ) -> Result<(TExpr, TExpr)> {
        let l = magic_timestamp(right, self.expr(left)?)?;
        let r = magic_timestamp(left, self.expr(right)?)?;
        if !allow_null && (l.is_untyped_null() || r.is_untyped_null()) {
            return Err(SqlError::at(
                pos,
                format!(
                    "Comparison with NULL not supported: {} {op} {}\nUse 'IS NULL' or 'IS NOT NULL' instead.",
                    l.ty.as_ref().map_or("NULL", SqlType::kind_name),
                    r.ty.as_ref().map_or("NULL", SqlType::kind_name)
                ),
            ));
        }
        let (lt, rt) = match (&l.ty, &r.ty) {
            (Some(a), Some(b)) => (a.clone(), b.clone()),
            (Some(a), None) => return Ok((l.clone(), r.cast_to(a))),
            (None, Some(b)) => return Ok((l.cast_to(b), r.clone())),
            (None, None) => return Ok((l, r)),
        };
        // A string literal takes the other side's type.
        if is_string_literal(&r) && rt != lt {
            let r = coerce_literal(r, &lt)?;
            return Ok((l, r));
        }
        if is_string_literal(&l) && rt != lt {
            let l = coerce_literal(l, &rt)?;
            return Ok((l, r));
        }
        let common = common_type(&lt, &rt).ok_or_else(|| {
            SqlError::at(
                pos,
                format!(
                    "Cannot compare {} ({lt}) to {} ({rt}) with {}.",
                    crate::parser::display_expr(left),
                    crate::parser::display_expr(right),
                    comparison_name(op)
                ),
            )
        })?;
        Ok((l.cast_to(&common), r.cast_to(&common)))
    }

    pub(super) fn binary(
        &mut self,
        op: BinaryOp,
        left: &Expr,
        right: &Expr,
        pos: Pos,
    ) -> Result<TExpr> {
        match op {
            BinaryOp::And | BinaryOp::Or => {
                let l = self.boolean(left, op.symbol())?;
                let r = self.boolean(right, op.symbol())?;
                Ok(TExpr::new(
                    TKind::Binary {
                        op,
                        left: Box::new(l),
                        right: Box::new(r),
                    },
                    Some(SqlType::Boolean),
                ))
            }
            op if op.is_comparison() => {
                let (l, r) = self.comparable(left, right, op.symbol(), pos, false)?;
                if let Some(ty) = &l.ty
                    && matches!(
                        op,
                        BinaryOp::Lt | BinaryOp::LtEq | BinaryOp::Gt | BinaryOp::GtEq
                    )
                    && matches!(
                        ty,
                        SqlType::Array(_) | SqlType::Map(..) | SqlType::Struct(_)
                    )
                {
                    return Err(SqlError::at(
                        pos,
                        format!(
                            "Cannot compare {} ({ty}) to {} ({ty}) with {}.",
                            crate::parser::display_expr(left),
                            crate::parser::display_expr(right),
                            comparison_name(op.symbol())
                        ),
                    ));
                }
                Ok(TExpr::new(
                    TKind::Binary {
                        op,
                        left: Box::new(l),
                        right: Box::new(r),
                    },
                    Some(SqlType::Boolean),
                ))
            }
            BinaryOp::Concat => {
                let l = self.string(left, "||")?;
                let r = self.string(right, "||")?;
                Ok(TExpr::new(
                    TKind::Binary {
                        op,
                        left: Box::new(l),
                        right: Box::new(r),
                    },
                    Some(SqlType::String),
                ))
            }
            _ => {
                let l = self.expr(left)?;
                let r = self.expr(right)?;
                let (lt, rt) = match (&l.ty, &r.ty) {
                    (Some(a), Some(b)) => (a.clone(), b.clone()),
                    (Some(a), None) => (a.clone(), a.clone()),
                    (None, Some(b)) => (b.clone(), b.clone()),
                    (None, None) => {
                        return Err(SqlError::at(
                            pos,
                            format!(
                                "Arithmetic on types NULL and NULL are not supported: {}",
                                op.symbol()
                            ),
                        ));
                    }
                };
                if op == BinaryOp::Add && lt == SqlType::String && rt == SqlType::String {
                    return Ok(TExpr::new(
                        TKind::Binary {
                            op: BinaryOp::Concat,
                            left: Box::new(l.cast_to(&lt)),
                            right: Box::new(r.cast_to(&rt)),
                        },
                        Some(SqlType::String),
                    ));
                }
                if !lt.is_numeric() || !rt.is_numeric() {
                    return Err(SqlError::at(
                        pos,
                        format!(
                            "Error processing expression: ({} {} {}). Unsupported arithmetic types. {lt} {rt}",
                            crate::parser::display_expr(left),
                            op.symbol(),
                            crate::parser::display_expr(right)
                        ),
                    ));
                }
                let (operand, result) = arithmetic_types(op, &lt, &rt);
                Ok(TExpr::new(
                    TKind::Binary {
                        op,
                        left: Box::new(l.cast_to(&operand.0)),
                        right: Box::new(r.cast_to(&operand.1)),
                    },
                    Some(result),
                ))
            }
        }
    }

    pub(super) fn case(
        &mut self,
        operand: Option<&Expr>,
        whens: &[(Expr, Expr)],
        else_result: Option<&Expr>,
        pos: Pos,
    ) -> Result<TExpr> {
        let mut conditions = Vec::new();
        for (w, _) in whens {
            let cond = match operand {
                Some(op) => {
                    let (l, r) = self.comparable(op, w, "=", w.pos, true)?;
                    TExpr::new(
                        TKind::Binary {
                            op: BinaryOp::Eq,
                            left: Box::new(l),
                            right: Box::new(r),
                        },
                        Some(SqlType::Boolean),
                    )
                }
                None => {
                    let t = self.expr(w)?;
                    match &t.ty {
                        Some(SqlType::Boolean) | None => t.cast_to(&SqlType::Boolean),
                        Some(other) => {
                            return Err(SqlError::at(
                                w.pos,
                                format!(
                                    "WHEN operand type should be boolean.\nType for '{}' is {other}",
                                    crate::parser::display_expr(w)
                                ),
                            ));
                        }
                    }
                }
            };
            conditions.push(cond);
        }
        let mut results = whens
            .iter()
            .map(|(_, t)| self.expr(t))
            .collect::<Result<Vec<_>>>()?;
        let else_t = else_result.map(|e| self.expr(e)).transpose()?;
        let mut all: Vec<&TExpr> = results.iter().collect();
        if let Some(e) = &else_t {
            all.push(e);
        }
        let mut ty: Option<SqlType> = None;
        for t in &all {
            if let Some(b) = &t.ty {
                ty = Some(match &ty {
                    None => b.clone(),
                    Some(a) => common_type(a, b).ok_or_else(|| {
                        SqlError::at(
                            pos,
                            "Invalid Case expression. Type for all 'THEN' clauses should be the same.",
                        )
                    })?,
                });
            }
        }
        let ty = ty.ok_or_else(|| {
            SqlError::at(
                pos,
                "Invalid Case expression. All case branches have NULL type",
            )
        })?;
        results = results.into_iter().map(|r| r.cast_to(&ty)).collect();
        Ok(TExpr::new(
            TKind::Case {
                whens: conditions.into_iter().zip(results).collect(),
                else_result: else_t.map(|e| Box::new(e.cast_to(&ty))),
            },
            Some(ty),
        ))
    }
}

/// ksqlDB's name of a comparison operator (`ComparisonExpression.Type`), for messages.
fn comparison_name(symbol: &str) -> &str {
    match symbol {
        "=" => "EQUAL",
        "<>" | "!=" => "NOT_EQUAL",
        "<" => "LESS_THAN",
        "<=" => "LESS_THAN_OR_EQUAL",
        ">" => "GREATER_THAN",
        ">=" => "GREATER_THAN_OR_EQUAL",
        "IS DISTINCT FROM" => "IS_DISTINCT_FROM",
        other => other,
    }
}

/// The operand types and result type of arithmetic on two numeric types.
fn arithmetic_types(op: BinaryOp, a: &SqlType, b: &SqlType) -> ((SqlType, SqlType), SqlType) {
    use SqlType::*;
    match (a, b) {
        (Double, _) | (_, Double) => ((Double, Double), Double),
        (Decimal { .. }, _) | (_, Decimal { .. }) => {
            let (da, db) = (
                a.as_decimal().unwrap_or((10, 0)),
                b.as_decimal().unwrap_or((10, 0)),
            );
            let left = Decimal {
                precision: da.0,
                scale: da.1,
            };
            let right = Decimal {
                precision: db.0,
                scale: db.1,
            };
            ((left, right), decimal_result(op, da, db))
        }
        (BigInt, _) | (_, BigInt) => ((BigInt, BigInt), BigInt),
        _ => ((Int, Int), Int),
    }
}

/// ksqlDB's "magic" timestamps: a string literal compared with ROWTIME, WINDOWSTART or
/// WINDOWEND is read as a timestamp (`'2020-01-31T12:00:00.000+0100'`, or a prefix of one)
/// and compared as epoch milliseconds.
pub(super) fn magic_timestamp(other: &Expr, this: TExpr) -> Result<TExpr> {
    let ExprKind::Column { name, .. } = &other.kind else {
        return Ok(this);
    };
    if !matches!(name.as_str(), "ROWTIME" | "WINDOWSTART" | "WINDOWEND") {
        return Ok(this);
    }
    let TKind::Literal(Value::String(text)) = &this.kind else {
        return Ok(this);
    };
    let ms = crate::functions::time_parse::parse_timestamp_literal(text).ok_or_else(|| {
        SqlError::semantic(format!(
            "Failed to parse timestamp '{text}': use yyyy-MM-dd'T'HH:mm:ss.SSS, optionally with \
             a time zone offset, or a prefix of it"
        ))
    })?;
    Ok(TExpr::literal(Value::BigInt(ms), SqlType::BigInt))
}

fn is_string_literal(t: &TExpr) -> bool {
    matches!(t.kind, TKind::Literal(Value::String(_)))
}
