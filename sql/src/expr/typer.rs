//! [`Typer`]: resolves names and checks types with ksqlDB's rules, producing [`TExpr`]s.
//!
//! The rules that differ from generic SQL: integer literals are INT unless they need
//! BIGINT, `1.5` is a DECIMAL and `1.5E0` a DOUBLE; arithmetic widens INT -> BIGINT ->
//! DECIMAL -> DOUBLE and computes DECIMAL result types as ksqlDB's `SqlDecimal` does;
//! comparisons coerce string literals to the other side's type; comparing with a NULL
//! literal is refused; unquoted names were upper-cased by the parser.

use std::collections::BTreeMap;

use super::{TExpr, TKind};
use crate::error::{Result, SqlError};
use crate::functions::FunctionRegistry;
use crate::functions::signature::common_type;
use crate::parser::ast::{AstType, Expr, ExprKind, Literal};
use crate::types::{SqlType, StructField};
use crate::value::Value;
use literals::literal;
use operators::magic_timestamp;

mod coerce;
mod functions;
mod literals;
mod operators;
mod scope;
mod types;

pub use literals::{coerce_literal, decimal_literal_type};
pub use operators::decimal_result;
pub use scope::{Scope, ScopeColumn};
pub use types::{castable, resolve_type};

/// Types expressions against a scope.
pub struct Typer<'a> {
    scope: &'a Scope,
    registry: &'a FunctionRegistry,
    custom_types: &'a BTreeMap<String, SqlType>,
    lambda_vars: Vec<(String, SqlType)>,
}

impl<'a> Typer<'a> {
    /// A typer over `scope`.
    pub fn new(
        scope: &'a Scope,
        registry: &'a FunctionRegistry,
        custom_types: &'a BTreeMap<String, SqlType>,
    ) -> Self {
        Self {
            scope,
            registry,
            custom_types,
            lambda_vars: Vec::new(),
        }
    }

    /// Resolves a type as written (custom type names included).
    pub fn resolve_type(&self, ty: &AstType) -> Result<SqlType> {
        resolve_type(ty, self.custom_types)
    }

    /// Types an expression.
    pub fn type_expr(&mut self, e: &Expr) -> Result<TExpr> {
        self.expr(e).map_err(|err| err.or_at(e.pos))
    }

    /// Types an expression that must be BOOLEAN (WHERE, HAVING, ON).
    pub fn type_predicate(&mut self, e: &Expr, clause: &str) -> Result<TExpr> {
        let t = self.type_expr(e)?;
        match &t.ty {
            Some(SqlType::Boolean) => Ok(t),
            None => Ok(TExpr::literal(Value::Null, SqlType::Boolean)),
            Some(other) => Err(SqlError::at(
                e.pos,
                format!(
                    "Type error in {clause} expression: Should evaluate to boolean but is {} ({other}) instead.",
                    crate::parser::display_expr(e)
                ),
            )),
        }
    }

    fn expr(&mut self, e: &Expr) -> Result<TExpr> {
        let pos = e.pos;
        Ok(match &e.kind {
            ExprKind::Column { source, name } => {
                if source.is_none()
                    && let Some((_, ty)) = self.lambda_vars.iter().rev().find(|(n, _)| n == name)
                {
                    return Ok(TExpr::new(TKind::LambdaVar(name.clone()), Some(ty.clone())));
                }
                let c = self.scope.resolve(source.as_deref(), name, pos)?;
                TExpr::column(c.internal.clone(), c.ty.clone())
            }
            ExprKind::Literal(l) => literal(l)?,
            ExprKind::TimeUnit(u) => TExpr::literal(Value::String(u.clone()), SqlType::String),
            ExprKind::Negate(inner) => {
                let t = self.expr(inner)?;
                match &t.ty {
                    Some(ty) if ty.is_numeric() => {
                        let ty = ty.clone();
                        TExpr::new(TKind::Negate(Box::new(t)), Some(ty))
                    }
                    None => t,
                    Some(other) => {
                        return Err(SqlError::at(
                            pos,
                            format!("Unsupported type for negation: {other}"),
                        ));
                    }
                }
            }
            ExprKind::Not(inner) => {
                let t = self.boolean(inner, "NOT")?;
                TExpr::new(TKind::Not(Box::new(t)), Some(SqlType::Boolean))
            }
            ExprKind::Binary { op, left, right } => self.binary(*op, left, right, pos)?,
            ExprKind::IsNull { expr, negated } => TExpr::new(
                TKind::IsNull {
                    expr: Box::new(self.expr(expr)?),
                    negated: *negated,
                },
                Some(SqlType::Boolean),
            ),
            ExprKind::IsDistinctFrom {
                left,
                right,
                negated,
            } => {
                let (l, r) = self.comparable(left, right, "IS DISTINCT FROM", pos, true)?;
                TExpr::new(
                    TKind::IsDistinctFrom {
                        left: Box::new(l),
                        right: Box::new(r),
                        negated: *negated,
                    },
                    Some(SqlType::Boolean),
                )
            }
            ExprKind::Between {
                expr,
                low,
                high,
                negated,
            } => {
                let t = self.expr(expr)?;
                let lo = magic_timestamp(expr, self.expr(low)?)?;
                let hi = magic_timestamp(expr, self.expr(high)?)?;
                let ty = [&t, &lo, &hi]
                    .iter()
                    .filter_map(|x| x.ty.clone())
                    .try_fold(None::<SqlType>, |acc, ty| match acc {
                        None => Ok(Some(ty)),
                        Some(a) => common_type(&a, &ty).map(Some).ok_or_else(|| {
                            SqlError::at(pos, format!("Cannot compare {a} with {ty} in BETWEEN"))
                        }),
                    })?
                    .ok_or_else(|| SqlError::at(pos, "BETWEEN needs typed operands"))?;
                let conv = |x: TExpr| coerce_literal(x, &ty).map(|x| x.cast_to(&ty));
                TExpr::new(
                    TKind::Between {
                        expr: Box::new(conv(t)?),
                        low: Box::new(conv(lo)?),
                        high: Box::new(conv(hi)?),
                        negated: *negated,
                    },
                    Some(SqlType::Boolean),
                )
            }
            ExprKind::InList {
                expr,
                list,
                negated,
            } => {
                // ksqlDB drops NULL literals from the list: they never match.
                let mut items: Vec<&Expr> = vec![expr];
                items.extend(
                    list.iter()
                        .filter(|e| !matches!(e.kind, ExprKind::Literal(Literal::Null))),
                );
                let (ty, mut converted) = self.coerce_user_list(&items)?;
                if ty.is_none() {
                    return Err(SqlError::at(pos, "IN needs a typed operand"));
                }
                let value = converted.remove(0);
                TExpr::new(
                    TKind::InList {
                        expr: Box::new(value),
                        list: converted,
                        negated: *negated,
                    },
                    Some(SqlType::Boolean),
                )
            }
            ExprKind::Like {
                expr,
                pattern,
                escape,
                negated,
            } => {
                let t = self.string(expr, "LIKE")?;
                let p = self.string(pattern, "LIKE")?;
                TExpr::new(
                    TKind::Like {
                        expr: Box::new(t),
                        pattern: Box::new(p),
                        escape: *escape,
                        negated: *negated,
                    },
                    Some(SqlType::Boolean),
                )
            }
            ExprKind::Case {
                operand,
                whens,
                else_result,
            } => self.case(operand.as_deref(), whens, else_result.as_deref(), pos)?,
            ExprKind::Cast { expr, ty } => {
                let target = self.resolve_type(ty)?;
                let t = self.expr(expr)?;
                if let Some(from) = &t.ty
                    && !castable(from, &target)
                {
                    return Err(SqlError::at(
                        pos,
                        format!("Cast of {from} to {target} is not supported"),
                    ));
                }
                t.cast_to(&target)
            }
            ExprKind::Function { name, args, star } => self.function(name, args, *star, pos)?,
            ExprKind::Subscript { expr, index } => {
                let t = self.expr(expr)?;
                let i = self.expr(index)?;
                match t.ty.clone() {
                    Some(SqlType::Array(element)) => {
                        let i = match &i.ty {
                            Some(SqlType::Int) | None => i.cast_to(&SqlType::Int),
                            Some(SqlType::BigInt) => i.cast_to(&SqlType::Int),
                            Some(other) => {
                                return Err(SqlError::at(
                                    pos,
                                    format!("Array index must be an INTEGER, not {other}"),
                                ));
                            }
                        };
                        TExpr::new(
                            TKind::Subscript {
                                expr: Box::new(t),
                                index: Box::new(i),
                            },
                            Some(*element),
                        )
                    }
                    Some(SqlType::Map(key, value)) => {
                        let i = coerce_literal(i, &key)?.cast_to(&key);
                        TExpr::new(
                            TKind::Subscript {
                                expr: Box::new(t),
                                index: Box::new(i),
                            },
                            Some(*value),
                        )
                    }
                    other => {
                        return Err(SqlError::at(
                            pos,
                            format!(
                                "Subscript expects an ARRAY or a MAP, but {} is {}",
                                crate::parser::display_expr(expr),
                                other.map_or("NULL".to_string(), |t| t.to_string())
                            ),
                        ));
                    }
                }
            }
            ExprKind::Deref { expr, field } => {
                let t = self.expr(expr)?;
                match &t.ty {
                    Some(SqlType::Struct(fields)) => {
                        let f = fields
                            .iter()
                            .find(|f| &f.name == field)
                            .or_else(|| fields.iter().find(|f| f.name.eq_ignore_ascii_case(field)))
                            .ok_or_else(|| {
                                SqlError::at(
                                    pos,
                                    format!(
                                        "Could not find field '{field}' in '{}'.",
                                        crate::parser::display_expr(expr)
                                    ),
                                )
                            })?;
                        let (name, ty) = (f.name.clone(), f.ty.clone());
                        TExpr::new(
                            TKind::Deref {
                                expr: Box::new(t),
                                field: name,
                            },
                            Some(ty),
                        )
                    }
                    other => {
                        return Err(SqlError::at(
                            pos,
                            format!(
                                "Expected STRUCT type for dereference, got {}",
                                other.as_ref().map_or("NULL".into(), |t| t.to_string())
                            ),
                        ));
                    }
                }
            }
            ExprKind::Array(items) => {
                let refs: Vec<&Expr> = items.iter().collect();
                let (element, typed) = self.coerce_user_list(&refs)?;
                let element = element.ok_or_else(|| {
                    SqlError::at(
                        pos,
                        "Cannot construct an array with all NULL elements (see \
                         https://github.com/confluentinc/ksql/issues/4239). As a workaround, \
                         you may cast a NULL value to the desired type.",
                    )
                })?;
                TExpr::new(TKind::MakeArray(typed), Some(SqlType::array(element)))
            }
            ExprKind::Map(entries) => {
                if entries.is_empty() {
                    return Err(SqlError::at(
                        pos,
                        "Map constructor cannot be empty. Please supply at least one key value \
                         pair (see https://github.com/confluentinc/ksql/issues/4239).",
                    ));
                }
                let keys: Vec<&Expr> = entries.iter().map(|(k, _)| k).collect();
                let values: Vec<&Expr> = entries.iter().map(|(_, v)| v).collect();
                let (kt, keys) = self.coerce_user_list(&keys)?;
                let kt = kt.ok_or_else(|| {
                    SqlError::at(
                        pos,
                        "Cannot construct a map with all NULL keys (see \
                         https://github.com/confluentinc/ksql/issues/4239). As a workaround, \
                         you may cast a NULL key to the desired type.",
                    )
                })?;
                let (vt, values) = self.coerce_user_list(&values)?;
                let vt = vt.ok_or_else(|| {
                    SqlError::at(
                        pos,
                        "Cannot construct a map with all NULL values (see \
                         https://github.com/confluentinc/ksql/issues/4239). As a workaround, \
                         you may cast a NULL value to the desired type.",
                    )
                })?;
                TExpr::new(
                    TKind::MakeMap(keys.into_iter().zip(values).collect()),
                    Some(SqlType::map(kt, vt)),
                )
            }
            ExprKind::Struct(fields) => {
                let mut typed = Vec::new();
                let mut types = Vec::new();
                for (name, value) in fields {
                    let t = self.expr(value)?;
                    let ty = t.ty.clone().ok_or_else(|| {
                        SqlError::at(
                            value.pos,
                            "Can't infer a type of null. Please explicitly cast it to a \
                             required type, e.g. CAST(null AS VARCHAR).",
                        )
                    })?;
                    if types.iter().any(|f: &StructField| &f.name == name) {
                        return Err(SqlError::at(
                            pos,
                            "Duplicate field names found in STRUCT: ".to_string() + name,
                        ));
                    }
                    types.push(StructField {
                        name: name.clone(),
                        ty,
                    });
                    typed.push((name.clone(), t));
                }
                if typed.is_empty() {
                    return Ok(TExpr::literal(
                        Value::Struct(Vec::new()),
                        SqlType::Struct(Vec::new()),
                    ));
                }
                TExpr::new(TKind::MakeStruct(typed), Some(SqlType::Struct(types)))
            }
            ExprKind::Lambda { .. } => {
                return Err(SqlError::at(
                    pos,
                    "A lambda is only allowed as an argument of TRANSFORM, FILTER or REDUCE",
                ));
            }
        })
    }

    fn boolean(&mut self, e: &Expr, what: &str) -> Result<TExpr> {
        let t = self.expr(e)?;
        match &t.ty {
            Some(SqlType::Boolean) => Ok(t),
            None => Ok(TExpr::literal(Value::Null, SqlType::Boolean)),
            Some(other) => Err(SqlError::at(
                e.pos,
                format!("{what} expects a BOOLEAN operand, got {other}"),
            )),
        }
    }

    fn string(&mut self, e: &Expr, what: &str) -> Result<TExpr> {
        let t = self.expr(e)?;
        match &t.ty {
            Some(SqlType::String) => Ok(t),
            None => Ok(TExpr::literal(Value::Null, SqlType::String)),
            Some(other) => Err(SqlError::at(
                e.pos,
                format!("{what} expects STRING operands, got {other}"),
            )),
        }
    }
}
