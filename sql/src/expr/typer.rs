//! [`Typer`]: resolves names and checks types with ksqlDB's rules, producing [`TExpr`]s.
//!
//! The rules that differ from generic SQL: integer literals are INT unless they need
//! BIGINT, `1.5` is a DECIMAL and `1.5E0` a DOUBLE; arithmetic widens INT -> BIGINT ->
//! DECIMAL -> DOUBLE and computes DECIMAL result types as ksqlDB's `SqlDecimal` does;
//! comparisons coerce string literals to the other side's type; comparing with a NULL
//! literal is refused; unquoted names were upper-cased by the parser.

use std::collections::BTreeMap;

use bigdecimal::BigDecimal;

use super::{HigherOrder, TExpr, TKind};
use crate::error::{Pos, Result, SqlError};
use crate::functions::signature::common_type;
use crate::functions::{FunctionKind, FunctionRegistry};
use crate::parser::ast::{AstType, BinaryOp, Expr, ExprKind, Literal};
use crate::types::{SqlType, StructField};
use crate::value::Value;

mod coerce;

/// A column that expressions may name.
#[derive(Debug, Clone, PartialEq)]
pub struct ScopeColumn {
    /// The source alias that qualifies it (`L` in `L.ID`), if any.
    pub qualifier: Option<String>,
    /// Its name.
    pub name: String,
    /// The name of the batch column holding it.
    pub internal: String,
    /// Its type.
    pub ty: SqlType,
}

/// The columns in scope.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// The columns.
    pub columns: Vec<ScopeColumn>,
    /// The aliases of the sources in scope (for "not a valid stream/table name" errors).
    pub qualifiers: Vec<String>,
}

impl Scope {
    /// A scope over unqualified columns whose internal names are their names.
    pub fn of(columns: impl IntoIterator<Item = (String, SqlType)>) -> Self {
        Self {
            columns: columns
                .into_iter()
                .map(|(name, ty)| ScopeColumn {
                    qualifier: None,
                    internal: name.clone(),
                    name,
                    ty,
                })
                .collect(),
            qualifiers: Vec::new(),
        }
    }

    /// Resolves `[qualifier.]name`.
    pub fn resolve(&self, qualifier: Option<&str>, name: &str, pos: Pos) -> Result<&ScopeColumn> {
        if let Some(q) = qualifier
            && !self.qualifiers.iter().any(|s| s == q)
            && !self
                .columns
                .iter()
                .any(|c| c.qualifier.as_deref() == Some(q))
        {
            return Err(SqlError::at(
                pos,
                format!("'{q}' is not a valid stream/table name or alias."),
            ));
        }
        let matches: Vec<&ScopeColumn> = self
            .columns
            .iter()
            .filter(|c| {
                c.name == name && (qualifier.is_none() || c.qualifier.as_deref() == qualifier)
            })
            .collect();
        match matches.as_slice() {
            [one] => Ok(one),
            [] => Err(SqlError::at(
                pos,
                match qualifier {
                    Some(q) => format!("Column '{q}.{name}' cannot be resolved."),
                    None => format!("Column '{name}' cannot be resolved."),
                },
            )),
            many => {
                // The same underlying column seen through two names is not ambiguous.
                if many.iter().all(|c| c.internal == many[0].internal) {
                    return Ok(many[0]);
                }
                // An unqualified column (a join's ROWTIME, its synthetic key) wins over the
                // sources' columns of the same name when none is qualified.
                if qualifier.is_none() {
                    let unqualified: Vec<&&ScopeColumn> =
                        many.iter().filter(|c| c.qualifier.is_none()).collect();
                    if let [one] = unqualified.as_slice() {
                        return Ok(one);
                    }
                }
                let options: Vec<String> = many
                    .iter()
                    .map(|c| match &c.qualifier {
                        Some(q) => format!("{q}.{}", c.name),
                        None => c.name.clone(),
                    })
                    .collect();
                Err(SqlError::at(
                    pos,
                    format!(
                        "Column '{name}' is ambiguous. Could be {}.",
                        options.join(" or ")
                    ),
                ))
            }
        }
    }
}

/// Types expressions against a scope.
pub struct Typer<'a> {
    scope: &'a Scope,
    registry: &'a FunctionRegistry,
    custom_types: &'a BTreeMap<String, SqlType>,
    lambda_vars: Vec<(String, SqlType)>,
}

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

    /// Types both sides of a comparison and brings them to one type.
    fn comparable(
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

    fn binary(&mut self, op: BinaryOp, left: &Expr, right: &Expr, pos: Pos) -> Result<TExpr> {
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

    fn case(
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

    fn function(&mut self, name: &str, args: &[Expr], star: bool, pos: Pos) -> Result<TExpr> {
        match name {
            "TRANSFORM" => return self.higher_order(HigherOrder::Transform, args, pos),
            "FILTER" => return self.higher_order(HigherOrder::Filter, args, pos),
            "REDUCE" => return self.higher_order(HigherOrder::Reduce, args, pos),
            // ksqlDB's identity UDF: it only stops a key column in the projection from
            // being taken as the key, so the value gets a copy.
            "AS_VALUE" if args.len() == 1 && !star => return self.expr(&args[0]),
            _ => {}
        }
        match self.registry.kind(name) {
            Some(FunctionKind::Aggregate) => {
                return Err(SqlError::at(
                    pos,
                    format!("Use of aggregate function {name} requires a GROUP BY clause."),
                ));
            }
            Some(FunctionKind::Table) => {
                return Err(SqlError::at(
                    pos,
                    format!(
                        "Table function {name} can only be used in the SELECT clause of a \
                         stream query, not nested in other expressions"
                    ),
                ));
            }
            Some(FunctionKind::Scalar) => {}
            None => {
                return Err(SqlError::at(
                    pos,
                    format!("Can't find any functions with the name '{name}'"),
                ));
            }
        }
        let function = self.registry.scalar(name).ok_or_else(|| {
            SqlError::at(
                pos,
                format!("Can't find any functions with the name '{name}'"),
            )
        })?;
        let typed = args
            .iter()
            .map(|a| self.expr(a))
            .collect::<Result<Vec<_>>>()?;
        let arg_types: Vec<Option<SqlType>> = typed.iter().map(|t| t.ty.clone()).collect();
        let resolved = function.resolve(&arg_types).map_err(|e| e.or_at(pos))?;
        let args = typed
            .into_iter()
            .zip(&resolved.binding.arg_types)
            .map(|(t, ty)| match ty {
                Some(ty) => t.cast_to(ty),
                None => t,
            })
            .collect();
        Ok(TExpr::new(
            TKind::Call {
                name: function.name.clone(),
                implementation: resolved.implementation,
                args,
            },
            Some(resolved.return_type),
        ))
    }

    fn lambda(&mut self, e: &Expr, params: &[SqlType]) -> Result<TExpr> {
        let ExprKind::Lambda {
            params: names,
            body,
        } = &e.kind
        else {
            return Err(SqlError::at(e.pos, "Expecting a lambda here"));
        };
        if names.len() != params.len() {
            return Err(SqlError::at(
                e.pos,
                format!(
                    "Was expecting {} arguments but found {}, {names:?}. Check your lambda statement.",
                    params.len(),
                    names.len()
                ),
            ));
        }
        let bound: Vec<(String, SqlType)> =
            names.iter().cloned().zip(params.iter().cloned()).collect();
        let depth = self.lambda_vars.len();
        self.lambda_vars.extend(bound.iter().cloned());
        let body = self.expr(body);
        self.lambda_vars.truncate(depth);
        let body = body?;
        let ty = body.ty.clone();
        Ok(TExpr::new(
            TKind::Lambda {
                params: bound,
                body: Box::new(body),
            },
            ty,
        ))
    }

    fn higher_order(&mut self, function: HigherOrder, args: &[Expr], pos: Pos) -> Result<TExpr> {
        let name = format!("{function:?}").to_uppercase();
        let bad = || {
            SqlError::at(
                pos,
                format!("Function '{name}' does not accept parameters of these types"),
            )
        };
        let Some(first) = args.first() else {
            return Err(bad());
        };
        let collection = self.expr(first)?;
        let ty = collection.ty.clone().ok_or_else(bad)?;
        match (function, &ty, args.len()) {
            (HigherOrder::Transform, SqlType::Array(e), 2) => {
                let l = self.lambda(&args[1], &[(**e).clone()])?;
                let out = l.ty.clone().ok_or_else(bad)?;
                Ok(TExpr::new(
                    TKind::HigherOrder {
                        function,
                        args: vec![collection, l],
                    },
                    Some(SqlType::array(out)),
                ))
            }
            (HigherOrder::Transform, SqlType::Map(k, v), 3) => {
                let kl = self.lambda(&args[1], &[(**k).clone(), (**v).clone()])?;
                let vl = self.lambda(&args[2], &[(**k).clone(), (**v).clone()])?;
                let (kt, vt) = (
                    kl.ty.clone().ok_or_else(bad)?,
                    vl.ty.clone().ok_or_else(bad)?,
                );
                Ok(TExpr::new(
                    TKind::HigherOrder {
                        function,
                        args: vec![collection, kl, vl],
                    },
                    Some(SqlType::map(kt, vt)),
                ))
            }
            (HigherOrder::Filter, SqlType::Array(e), 2) => {
                let l = self.lambda(&args[1], &[(**e).clone()])?;
                if l.ty != Some(SqlType::Boolean) {
                    return Err(SqlError::at(pos, "FILTER's lambda must return a BOOLEAN"));
                }
                Ok(TExpr::new(
                    TKind::HigherOrder {
                        function,
                        args: vec![collection, l],
                    },
                    Some(ty),
                ))
            }
            (HigherOrder::Filter, SqlType::Map(k, v), 2) => {
                let l = self.lambda(&args[1], &[(**k).clone(), (**v).clone()])?;
                if l.ty != Some(SqlType::Boolean) {
                    return Err(SqlError::at(pos, "FILTER's lambda must return a BOOLEAN"));
                }
                Ok(TExpr::new(
                    TKind::HigherOrder {
                        function,
                        args: vec![collection, l],
                    },
                    Some(ty),
                ))
            }
            (HigherOrder::Reduce, SqlType::Array(_) | SqlType::Map(..), 3) => {
                let init = self.expr(&args[1])?;
                let state = init.ty.clone().ok_or_else(bad)?;
                let params = match &ty {
                    SqlType::Array(e) => vec![state.clone(), (**e).clone()],
                    SqlType::Map(k, v) => vec![state.clone(), (**k).clone(), (**v).clone()],
                    _ => unreachable!("matched arrays and maps"),
                };
                let l = self.lambda(&args[2], &params)?;
                let out = l.ty.clone().ok_or_else(bad)?;
                let result = common_type(&state, &out).ok_or_else(|| {
                    SqlError::at(
                        pos,
                        format!("REDUCE's lambda returns {out}, but the initial state is {state}"),
                    )
                })?;
                Ok(TExpr::new(
                    TKind::HigherOrder {
                        function,
                        args: vec![collection, init, l],
                    },
                    Some(result),
                ))
            }
            _ => Err(bad()),
        }
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
fn magic_timestamp(other: &Expr, this: TExpr) -> Result<TExpr> {
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

fn literal(l: &Literal) -> Result<TExpr> {
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
