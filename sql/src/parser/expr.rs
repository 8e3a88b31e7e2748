//! sqlparser's expression AST to Eddy's: identifiers upper-cased unless quoted, numbers typed
//! as ksqlDB types them (INT, BIGINT, DECIMAL, DOUBLE), the dialect's encodings of ksqlDB
//! constructs decoded (see [`super::dialect`]), and SQL-standard special forms
//! (`SUBSTRING(x FROM 1)`, `TRIM(x)`, `CEIL(x)`) turned back into plain function calls.

use datafusion_sql::sqlparser::ast::{
    self as sql, AccessExpr, BinaryOperator, CeilFloorKind, DataType, FunctionArg, FunctionArgExpr,
    FunctionArguments, Spanned, UnaryOperator, Value as SqlValue,
};

use super::ast::{BinaryOp, Expr, ExprKind, Literal};
use super::dialect::KsqlDialect;
use super::ident_name;
use super::statement::number_literal;
use crate::error::{Pos, Result, SqlError};

/// The function name standing for `s->*` in a projection (never a real function).
pub(crate) const STRUCT_STAR: &str = "__KSQL_STRUCT_STAR";

/// Functions whose first argument may be a time unit (`TIMESTAMPADD(MINUTES, 5, ts)`).
const UNIT_FUNCTIONS: &[&str] = &[
    "TIMESTAMPADD",
    "TIMESTAMPSUB",
    "DATEADD",
    "DATESUB",
    "TIMEADD",
    "TIMESUB",
];

/// The time units ksqlDB accepts as function arguments.
pub(crate) const TIME_UNITS: &[&str] = &[
    "MILLISECOND",
    "MILLISECONDS",
    "SECOND",
    "SECONDS",
    "MINUTE",
    "MINUTES",
    "HOUR",
    "HOURS",
    "DAY",
    "DAYS",
    "WEEK",
    "WEEKS",
    "MONTH",
    "MONTHS",
    "YEAR",
    "YEARS",
];

fn pos(e: &sql::Expr) -> Pos {
    let s = e.span().start;
    Pos::new(s.line, s.column)
}

fn boxed(e: sql::Expr, d: &KsqlDialect) -> Result<Box<Expr>> {
    Ok(Box::new(convert_expr(e, d)?))
}

fn unsupported(p: Pos, what: impl std::fmt::Display) -> SqlError {
    SqlError::parse(p, format!("{what} is not supported in ksqlDB's SQL"))
}

/// Converts a sqlparser expression.
pub(crate) fn convert_expr(e: sql::Expr, d: &KsqlDialect) -> Result<Expr> {
    let p = pos(&e);
    let kind = match e {
        sql::Expr::Identifier(ident) => ExprKind::Column {
            source: None,
            name: ident_name(&ident),
        },
        sql::Expr::CompoundIdentifier(parts) => {
            if parts.len() != 2 {
                return Err(SqlError::parse(
                    p,
                    format!(
                        "Expecting a column or source.column, found {}",
                        parts
                            .iter()
                            .map(|i| i.value.as_str())
                            .collect::<Vec<_>>()
                            .join(".")
                    ),
                ));
            }
            ExprKind::Column {
                source: Some(ident_name(&parts[0])),
                name: ident_name(&parts[1]),
            }
        }
        sql::Expr::CompoundFieldAccess { root, access_chain } => {
            let mut chain = access_chain.into_iter().peekable();
            // `source.column[...]`: in ksqlDB `a.b` always qualifies a column (structs
            // are dereferenced with `->`).
            let mut expr = match (*root, chain.peek()) {
                (
                    sql::Expr::Identifier(source),
                    Some(AccessExpr::Dot(sql::Expr::Identifier(_))),
                ) => {
                    let Some(AccessExpr::Dot(sql::Expr::Identifier(column))) = chain.next() else {
                        unreachable!("peeked")
                    };
                    Expr::new(
                        ExprKind::Column {
                            source: Some(ident_name(&source)),
                            name: ident_name(&column),
                        },
                        p,
                    )
                }
                (root, _) => convert_expr(root, d)?,
            };
            for access in chain {
                let kind = match access {
                    AccessExpr::Dot(sql::Expr::Nested(inner))
                        if matches!(*inner, sql::Expr::Identifier(_)) =>
                    {
                        let sql::Expr::Identifier(field) = *inner else {
                            unreachable!("matched")
                        };
                        ExprKind::Deref {
                            expr: Box::new(expr),
                            field: ident_name(&field),
                        }
                    }
                    AccessExpr::Dot(sql::Expr::Identifier(field)) => ExprKind::Deref {
                        expr: Box::new(expr),
                        field: ident_name(&field),
                    },
                    AccessExpr::Dot(sql::Expr::QualifiedWildcard(..)) => ExprKind::Function {
                        name: STRUCT_STAR.to_string(),
                        args: vec![expr],
                        star: false,
                    },
                    AccessExpr::Dot(other) => {
                        return Err(SqlError::parse(
                            pos(&other),
                            format!("Expecting a field name, found {other}"),
                        ));
                    }
                    AccessExpr::Subscript(sql::Subscript::Index { index }) => ExprKind::Subscript {
                        expr: Box::new(expr),
                        index: boxed(index, d)?,
                    },
                    AccessExpr::Subscript(other) => {
                        return Err(unsupported(p, format!("the slice [{other}]")));
                    }
                };
                expr = Expr::new(kind, p);
            }
            return Ok(expr);
        }
        sql::Expr::IsNull(e) => ExprKind::IsNull {
            expr: boxed(*e, d)?,
            negated: false,
        },
        sql::Expr::IsNotNull(e) => ExprKind::IsNull {
            expr: boxed(*e, d)?,
            negated: true,
        },
        sql::Expr::IsDistinctFrom(a, b) => ExprKind::IsDistinctFrom {
            left: boxed(*a, d)?,
            right: boxed(*b, d)?,
            negated: false,
        },
        sql::Expr::IsNotDistinctFrom(a, b) => ExprKind::IsDistinctFrom {
            left: boxed(*a, d)?,
            right: boxed(*b, d)?,
            negated: true,
        },
        sql::Expr::InList {
            expr,
            list,
            negated,
        } => {
            if list.is_empty() {
                return Err(SqlError::parse(
                    p,
                    "Expecting at least one value in IN (...)",
                ));
            }
            ExprKind::InList {
                expr: boxed(*expr, d)?,
                list: list
                    .into_iter()
                    .map(|e| convert_expr(e, d))
                    .collect::<Result<_>>()?,
                negated,
            }
        }
        sql::Expr::Between {
            expr,
            negated,
            low,
            high,
        } => ExprKind::Between {
            expr: boxed(*expr, d)?,
            low: boxed(*low, d)?,
            high: boxed(*high, d)?,
            negated,
        },
        sql::Expr::BinaryOp { left, op, right } => {
            let op = match op {
                BinaryOperator::Plus => BinaryOp::Add,
                BinaryOperator::Minus => BinaryOp::Subtract,
                BinaryOperator::Multiply => BinaryOp::Multiply,
                BinaryOperator::Divide => BinaryOp::Divide,
                BinaryOperator::Modulo => BinaryOp::Modulo,
                BinaryOperator::StringConcat => BinaryOp::Concat,
                BinaryOperator::Eq => BinaryOp::Eq,
                BinaryOperator::NotEq => BinaryOp::NotEq,
                BinaryOperator::Lt => BinaryOp::Lt,
                BinaryOperator::LtEq => BinaryOp::LtEq,
                BinaryOperator::Gt => BinaryOp::Gt,
                BinaryOperator::GtEq => BinaryOp::GtEq,
                BinaryOperator::And => BinaryOp::And,
                BinaryOperator::Or => BinaryOp::Or,
                other => return Err(unsupported(p, format!("the operator {other}"))),
            };
            ExprKind::Binary {
                op,
                left: boxed(*left, d)?,
                right: boxed(*right, d)?,
            }
        }
        sql::Expr::Like {
            negated,
            any,
            expr,
            pattern,
            escape_char,
        } => {
            if any {
                return Err(unsupported(p, "LIKE ANY"));
            }
            let escape = match escape_char.map(|v| v.value) {
                None => None,
                Some(SqlValue::SingleQuotedString(s)) if s.chars().count() == 1 => s.chars().next(),
                Some(other) => {
                    return Err(SqlError::parse(
                        p,
                        format!("Expecting a single character after ESCAPE, found {other}"),
                    ));
                }
            };
            ExprKind::Like {
                expr: boxed(*expr, d)?,
                pattern: boxed(*pattern, d)?,
                escape,
                negated,
            }
        }
        sql::Expr::UnaryOp { op, expr } => match op {
            UnaryOperator::Minus => match *expr {
                sql::Expr::Value(v) if matches!(v.value, SqlValue::Number(..)) => {
                    let SqlValue::Number(text, _) = v.value else {
                        unreachable!("matched a number")
                    };
                    ExprKind::Literal(number_literal(&text, true, p)?)
                }
                other => ExprKind::Negate(boxed(other, d)?),
            },
            UnaryOperator::Plus => return convert_expr(*expr, d),
            UnaryOperator::Not => ExprKind::Not(boxed(*expr, d)?),
            other => return Err(unsupported(p, format!("the operator {other}"))),
        },
        sql::Expr::Cast {
            expr, data_type, ..
        } => match data_type {
            DataType::Custom(name, _) => {
                let placeholder = name.to_string();
                let ty = d.cast_type(&placeholder).ok_or_else(|| {
                    SqlError::parse(p, format!("Expecting a type, found {placeholder}"))
                })?;
                ExprKind::Cast {
                    expr: boxed(*expr, d)?,
                    ty,
                }
            }
            other => return Err(unsupported(p, format!("the cast to {other}"))),
        },
        sql::Expr::Ceil { expr, field } => {
            if !matches!(
                field,
                CeilFloorKind::DateTimeField(sql::DateTimeField::NoDateTime)
            ) {
                return Err(unsupported(p, "CEIL with a second argument"));
            }
            call("CEIL", vec![convert_expr(*expr, d)?])
        }
        sql::Expr::Floor { expr, field } => {
            if !matches!(
                field,
                CeilFloorKind::DateTimeField(sql::DateTimeField::NoDateTime)
            ) {
                return Err(unsupported(p, "FLOOR with a second argument"));
            }
            call("FLOOR", vec![convert_expr(*expr, d)?])
        }
        sql::Expr::Substring {
            expr,
            substring_from,
            substring_for,
            ..
        } => {
            let mut args = vec![convert_expr(*expr, d)?];
            if let Some(from) = substring_from {
                args.push(convert_expr(*from, d)?);
            }
            if let Some(len) = substring_for {
                args.push(convert_expr(*len, d)?);
            }
            call("SUBSTRING", args)
        }
        sql::Expr::Trim {
            expr,
            trim_where,
            trim_what,
            trim_characters,
        } => {
            if trim_where.is_some() || trim_what.is_some() || trim_characters.is_some() {
                return Err(unsupported(p, "TRIM with options"));
            }
            call("TRIM", vec![convert_expr(*expr, d)?])
        }
        sql::Expr::Position { expr, r#in } => call(
            "INSTR",
            vec![convert_expr(*r#in, d)?, convert_expr(*expr, d)?],
        ),
        sql::Expr::Nested(e) => return convert_expr(*e, d),
        sql::Expr::Value(v) => ExprKind::Literal(match v.value {
            SqlValue::Number(text, _) => number_literal(&text, false, p)?,
            SqlValue::SingleQuotedString(s) => Literal::String(s),
            SqlValue::Boolean(b) => Literal::Boolean(b),
            SqlValue::Null => Literal::Null,
            other => return Err(unsupported(p, format!("the literal {other}"))),
        }),
        sql::Expr::TypedString(t) => {
            let text = match &t.value.value {
                SqlValue::SingleQuotedString(s) => s.clone(),
                other => other.to_string(),
            };
            match t.data_type {
                DataType::Decimal(_) | DataType::Dec(_) | DataType::Numeric(_) => {
                    ExprKind::Literal(Literal::Decimal(text))
                }
                other => {
                    return Err(unsupported(
                        p,
                        format!("the typed literal {other} '{text}' (use CAST)"),
                    ));
                }
            }
        }
        sql::Expr::Function(f) => return convert_function(f, p, d),
        sql::Expr::Case {
            operand,
            conditions,
            else_result,
            ..
        } => ExprKind::Case {
            operand: operand.map(|o| boxed(*o, d)).transpose()?,
            whens: conditions
                .into_iter()
                .map(|w| Ok((convert_expr(w.condition, d)?, convert_expr(w.result, d)?)))
                .collect::<Result<_>>()?,
            else_result: else_result.map(|e| boxed(*e, d)).transpose()?,
        },
        sql::Expr::Struct { values, .. } => ExprKind::Struct(
            values
                .into_iter()
                .map(|v| match v {
                    sql::Expr::Named { expr, name } => {
                        Ok((ident_name(&name), convert_expr(*expr, d)?))
                    }
                    other => Err(SqlError::parse(
                        pos(&other),
                        "Expecting name := value in STRUCT(...)",
                    )),
                })
                .collect::<Result<_>>()?,
        ),
        sql::Expr::Map(m) => ExprKind::Map(
            m.entries
                .into_iter()
                .map(|e| Ok((convert_expr(*e.key, d)?, convert_expr(*e.value, d)?)))
                .collect::<Result<_>>()?,
        ),
        sql::Expr::Array(a) => ExprKind::Array(
            a.elem
                .into_iter()
                .map(|e| convert_expr(e, d))
                .collect::<Result<_>>()?,
        ),
        sql::Expr::Lambda(l) => {
            let params = match l.params {
                sql::OneOrManyWithParens::One(p) => vec![ident_name(&p.name)],
                sql::OneOrManyWithParens::Many(ps) => {
                    ps.iter().map(|p| ident_name(&p.name)).collect()
                }
            };
            ExprKind::Lambda {
                params,
                body: boxed(*l.body, d)?,
            }
        }
        sql::Expr::Subquery(_) | sql::Expr::InSubquery { .. } | sql::Expr::Exists { .. } => {
            return Err(unsupported(p, "a subquery"));
        }
        other => return Err(unsupported(p, format!("the expression {other}"))),
    };
    Ok(Expr::new(kind, p))
}

fn call(name: &str, args: Vec<Expr>) -> ExprKind {
    ExprKind::Function {
        name: name.to_string(),
        args,
        star: false,
    }
}

fn convert_function(f: sql::Function, p: Pos, d: &KsqlDialect) -> Result<Expr> {
    let name = f
        .name
        .0
        .iter()
        .map(|part| part.to_string())
        .collect::<Vec<_>>()
        .join(".")
        .to_ascii_uppercase();
    if f.over.is_some() || f.filter.is_some() || !f.within_group.is_empty() {
        return Err(unsupported(
            p,
            format!("{name}(...) with OVER, FILTER or WITHIN GROUP"),
        ));
    }
    let list = match f.args {
        FunctionArguments::List(list) => list,
        FunctionArguments::None => {
            // `CURRENT_DATE` and the like: sqlparser reads some bare words as calls.
            return Ok(Expr::new(ExprKind::Column { source: None, name }, p));
        }
        FunctionArguments::Subquery(_) => return Err(unsupported(p, "a subquery")),
    };
    if list.duplicate_treatment.is_some() {
        return Err(unsupported(p, format!("{name}(DISTINCT ...)")));
    }
    let mut star = false;
    let mut args = Vec::new();
    for (i, arg) in list.args.into_iter().enumerate() {
        match arg {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => {
                let e = convert_expr(e, d)?;
                let unit = match &e.kind {
                    ExprKind::Column {
                        source: None,
                        name: unit,
                    } if i == 0
                        && UNIT_FUNCTIONS.contains(&name.as_str())
                        && TIME_UNITS.contains(&unit.as_str()) =>
                    {
                        Some(unit.clone())
                    }
                    _ => None,
                };
                args.push(match unit {
                    Some(u) => Expr::new(ExprKind::TimeUnit(u), e.pos),
                    None => e,
                });
            }
            FunctionArg::Unnamed(FunctionArgExpr::Wildcard) => star = true,
            other => {
                return Err(SqlError::parse(
                    p,
                    format!("Expecting an argument of {name}, found {other}"),
                ));
            }
        }
    }
    if star && !args.is_empty() {
        return Err(SqlError::parse(
            p,
            format!("{name}(*) takes no other arguments"),
        ));
    }
    Ok(Expr::new(ExprKind::Function { name, args, star }, p))
}
