//! Expressions printed as ksqlDB's `ExpressionFormatter` prints them in messages:
//! `(L.A = null)`, `COUNT(*)`, `'text'`, `S->F`.

use std::fmt;

use super::ast::{AstType, Expr, ExprKind, Literal};

/// The expression as ksqlDB prints it.
pub fn display_expr(e: &Expr) -> String {
    e.to_string()
}

fn list(f: &mut fmt::Formatter<'_>, items: &[Expr]) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ExprKind::Column { source, name } => match source {
                Some(s) => write!(f, "{s}.{name}"),
                None => f.write_str(name),
            },
            ExprKind::Literal(l) => match l {
                Literal::Null => f.write_str("null"),
                Literal::Boolean(b) => write!(f, "{b}"),
                Literal::Int(v) => write!(f, "{v}"),
                Literal::BigInt(v) => write!(f, "{v}"),
                Literal::Decimal(t) => f.write_str(t),
                Literal::Double(v) => write!(f, "{}", crate::value::format_double(*v)),
                Literal::String(s) => write!(f, "'{}'", s.replace('\'', "''")),
            },
            ExprKind::Negate(e) => write!(f, "-{e}"),
            ExprKind::Not(e) => write!(f, "(NOT {e})"),
            ExprKind::Binary { op, left, right } => {
                write!(f, "({left} {} {right})", op.symbol())
            }
            ExprKind::IsNull { expr, negated } => {
                write!(f, "({expr} IS {}NULL)", if *negated { "NOT " } else { "" })
            }
            ExprKind::IsDistinctFrom {
                left,
                right,
                negated,
            } => write!(
                f,
                "({left} IS {}DISTINCT FROM {right})",
                if *negated { "NOT " } else { "" }
            ),
            ExprKind::Between {
                expr,
                low,
                high,
                negated,
            } => write!(
                f,
                "({expr} {}BETWEEN {low} AND {high})",
                if *negated { "NOT " } else { "" }
            ),
            ExprKind::InList {
                expr,
                list: items,
                negated,
            } => {
                write!(f, "({expr} {}IN (", if *negated { "NOT " } else { "" })?;
                list(f, items)?;
                f.write_str("))")
            }
            ExprKind::Like {
                expr,
                pattern,
                negated,
                ..
            } => write!(
                f,
                "({expr} {}LIKE {pattern})",
                if *negated { "NOT " } else { "" }
            ),
            ExprKind::Case {
                operand,
                whens,
                else_result,
            } => {
                f.write_str("(CASE")?;
                if let Some(o) = operand {
                    write!(f, " {o}")?;
                }
                for (w, t) in whens {
                    write!(f, " WHEN {w} THEN {t}")?;
                }
                if let Some(e) = else_result {
                    write!(f, " ELSE {e}")?;
                }
                f.write_str(" END)")
            }
            ExprKind::Cast { expr, ty } => write!(f, "CAST({expr} AS {})", display_type(ty)),
            ExprKind::Function { name, args, star } => {
                write!(f, "{name}(")?;
                if *star {
                    f.write_str("*")?;
                }
                list(f, args)?;
                f.write_str(")")
            }
            ExprKind::Subscript { expr, index } => write!(f, "{expr}[{index}]"),
            ExprKind::Deref { expr, field } => write!(f, "{expr}->{field}"),
            ExprKind::Array(items) => {
                f.write_str("ARRAY[")?;
                list(f, items)?;
                f.write_str("]")
            }
            ExprKind::Map(entries) => {
                f.write_str("MAP(")?;
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}:={v}")?;
                }
                f.write_str(")")
            }
            ExprKind::Struct(fields) => {
                f.write_str("STRUCT(")?;
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}:={v}")?;
                }
                f.write_str(")")
            }
            ExprKind::Lambda { params, body } => {
                if params.len() == 1 {
                    write!(f, "{} => {body}", params[0])
                } else {
                    write!(f, "({}) => {body}", params.join(", "))
                }
            }
            ExprKind::TimeUnit(u) => f.write_str(u),
        }
    }
}

/// A type as written.
pub fn display_type(ty: &AstType) -> String {
    match ty {
        AstType::Boolean => "BOOLEAN".into(),
        AstType::Int => "INTEGER".into(),
        AstType::BigInt => "BIGINT".into(),
        AstType::Double => "DOUBLE".into(),
        AstType::Decimal(p, s) => format!("DECIMAL({p}, {s})"),
        AstType::String => "STRING".into(),
        AstType::Bytes => "BYTES".into(),
        AstType::Timestamp => "TIMESTAMP".into(),
        AstType::Date => "DATE".into(),
        AstType::Time => "TIME".into(),
        AstType::Array(e) => format!("ARRAY<{}>", display_type(e)),
        AstType::Map(k, v) => format!("MAP<{}, {}>", display_type(k), display_type(v)),
        AstType::Struct(fields) => format!(
            "STRUCT<{}>",
            fields
                .iter()
                .map(|(n, t)| format!("`{n}` {}", display_type(t)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        AstType::Named(n) => n.value.clone(),
    }
}
