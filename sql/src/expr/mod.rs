//! Typed expressions: [`typer`] checks a parsed expression against the columns in scope
//! with ksqlDB's typing rules and produces a [`TExpr`]; [`compile`] turns that into a
//! DataFusion expression (DataFusion's functions where their semantics are ksqlDB's, UDFs
//! from [`udf`] and [`numeric_cast`] where not) and a physical expression; [`eval`] evaluates a stage's filter
//! and projections on Arrow batches, a failing row at a time becoming NULL plus a
//! processing-log entry rather than failing the batch.

pub mod compile;
pub mod eval;
pub mod numeric_cast;
pub mod typer;
pub mod udf;

use std::fmt;

use crate::functions::Implementation;
use crate::parser::ast::BinaryOp;
use crate::types::SqlType;
use crate::value::Value;

pub use eval::{ErrorSink, ExprProgram};
pub use typer::{Scope, ScopeColumn, Typer};

/// A typed expression.
#[derive(Debug, Clone)]
pub struct TExpr {
    /// What it computes.
    pub kind: TKind,
    /// Its type; `None` only for an untyped NULL literal.
    pub ty: Option<SqlType>,
}

/// The higher-order functions, which take lambdas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HigherOrder {
    /// `TRANSFORM(array, x => ...)`, `TRANSFORM(map, (k, v) => k', (k, v) => v')`.
    Transform,
    /// `FILTER(array, x => bool)`, `FILTER(map, (k, v) => bool)`.
    Filter,
    /// `REDUCE(array, init, (s, x) => s')`, `REDUCE(map, init, (s, k, v) => s')`.
    Reduce,
}

/// Typed expression kinds.
#[derive(Debug, Clone)]
pub enum TKind {
    /// A column of the input batch, by its internal name.
    Column(String),
    /// A lambda parameter.
    LambdaVar(String),
    /// A literal of the expression's type.
    Literal(Value),
    /// A conversion to the expression's type.
    Cast(Box<TExpr>),
    /// A scalar function call; arguments already cast to the overload's types.
    Call {
        /// The function's name.
        name: String,
        /// Its implementation.
        implementation: Implementation,
        /// Arguments.
        args: Vec<TExpr>,
    },
    /// Arithmetic, comparison, logic or concatenation; operands are cast to one type for
    /// arithmetic and comparisons.
    Binary {
        /// The operator.
        op: BinaryOp,
        /// Left operand.
        left: Box<TExpr>,
        /// Right operand.
        right: Box<TExpr>,
    },
    /// `NOT x`.
    Not(Box<TExpr>),
    /// `-x`.
    Negate(Box<TExpr>),
    /// `x IS [NOT] NULL`.
    IsNull {
        /// The operand.
        expr: Box<TExpr>,
        /// `NOT`.
        negated: bool,
    },
    /// `a IS [NOT] DISTINCT FROM b`.
    IsDistinctFrom {
        /// Left.
        left: Box<TExpr>,
        /// Right.
        right: Box<TExpr>,
        /// `NOT`.
        negated: bool,
    },
    /// A searched CASE (simple CASEs are rewritten to equalities).
    Case {
        /// `WHEN condition THEN result`.
        whens: Vec<(TExpr, TExpr)>,
        /// `ELSE`.
        else_result: Option<Box<TExpr>>,
    },
    /// `x [NOT] IN (list)`.
    InList {
        /// The operand.
        expr: Box<TExpr>,
        /// The list, cast to the operand's type.
        list: Vec<TExpr>,
        /// `NOT`.
        negated: bool,
    },
    /// `x [NOT] BETWEEN low AND high`.
    Between {
        /// The operand.
        expr: Box<TExpr>,
        /// Low.
        low: Box<TExpr>,
        /// High.
        high: Box<TExpr>,
        /// `NOT`.
        negated: bool,
    },
    /// `x [NOT] LIKE pattern [ESCAPE c]`.
    Like {
        /// The operand.
        expr: Box<TExpr>,
        /// The pattern.
        pattern: Box<TExpr>,
        /// The escape character.
        escape: Option<char>,
        /// `NOT`.
        negated: bool,
    },
    /// `array[index]` or `map[key]`.
    Subscript {
        /// The array or map.
        expr: Box<TExpr>,
        /// The index or key.
        index: Box<TExpr>,
    },
    /// `struct->field`.
    Deref {
        /// The struct.
        expr: Box<TExpr>,
        /// The field.
        field: String,
    },
    /// `ARRAY[...]`, elements cast to the element type.
    MakeArray(Vec<TExpr>),
    /// `MAP(k := v, ...)`.
    MakeMap(Vec<(TExpr, TExpr)>),
    /// `STRUCT(name := v, ...)`.
    MakeStruct(Vec<(String, TExpr)>),
    /// A lambda (only as an argument of a higher-order function).
    Lambda {
        /// Parameters and their types.
        params: Vec<(String, SqlType)>,
        /// The body.
        body: Box<TExpr>,
    },
    /// TRANSFORM, FILTER or REDUCE.
    HigherOrder {
        /// Which.
        function: HigherOrder,
        /// Arguments (collections, initial values, lambdas).
        args: Vec<TExpr>,
    },
}

impl TExpr {
    /// A typed expression.
    pub fn new(kind: TKind, ty: Option<SqlType>) -> Self {
        Self { kind, ty }
    }

    /// A literal.
    pub fn literal(value: Value, ty: SqlType) -> Self {
        Self::new(TKind::Literal(value), Some(ty))
    }

    /// A column reference.
    pub fn column(name: impl Into<String>, ty: SqlType) -> Self {
        Self::new(TKind::Column(name.into()), Some(ty))
    }

    /// Whether this is the untyped NULL literal.
    pub fn is_untyped_null(&self) -> bool {
        self.ty.is_none()
    }

    /// This expression converted to `ty` (no-op when it already has that type).
    pub fn cast_to(self, ty: &SqlType) -> TExpr {
        if self.ty.as_ref() == Some(ty) {
            return self;
        }
        if let TKind::Literal(Value::Null) = self.kind {
            return TExpr::literal(Value::Null, ty.clone());
        }
        TExpr::new(TKind::Cast(Box::new(self)), Some(ty.clone()))
    }

    /// The columns the expression reads (internal names), in first-use order.
    pub fn columns(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.visit(&mut |e| {
            if let TKind::Column(c) = &e.kind
                && !out.contains(c)
            {
                out.push(c.clone());
            }
        });
        out
    }

    /// Calls `f` on this expression and every sub-expression.
    pub fn visit(&self, f: &mut impl FnMut(&TExpr)) {
        f(self);
        match &self.kind {
            TKind::Column(_) | TKind::LambdaVar(_) | TKind::Literal(_) => {}
            TKind::Cast(e) | TKind::Not(e) | TKind::Negate(e) => e.visit(f),
            TKind::IsNull { expr, .. } | TKind::Deref { expr, .. } => expr.visit(f),
            TKind::Call { args, .. } | TKind::MakeArray(args) | TKind::HigherOrder { args, .. } => {
                args.iter().for_each(|a| a.visit(f))
            }
            TKind::Binary { left, right, .. } | TKind::IsDistinctFrom { left, right, .. } => {
                left.visit(f);
                right.visit(f);
            }
            TKind::Case { whens, else_result } => {
                for (w, t) in whens {
                    w.visit(f);
                    t.visit(f);
                }
                if let Some(e) = else_result {
                    e.visit(f);
                }
            }
            TKind::InList { expr, list, .. } => {
                expr.visit(f);
                list.iter().for_each(|a| a.visit(f));
            }
            TKind::Between {
                expr, low, high, ..
            } => {
                expr.visit(f);
                low.visit(f);
                high.visit(f);
            }
            TKind::Like { expr, pattern, .. } => {
                expr.visit(f);
                pattern.visit(f);
            }
            TKind::Subscript { expr, index } => {
                expr.visit(f);
                index.visit(f);
            }
            TKind::MakeMap(entries) => {
                for (k, v) in entries {
                    k.visit(f);
                    v.visit(f);
                }
            }
            TKind::MakeStruct(fields) => fields.iter().for_each(|(_, v)| v.visit(f)),
            TKind::Lambda { body, .. } => body.visit(f),
        }
    }
}

impl fmt::Display for TExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            TKind::Column(c) => f.write_str(c),
            TKind::LambdaVar(v) => f.write_str(v),
            TKind::Literal(Value::String(s)) => write!(f, "'{}'", s.replace('\'', "''")),
            TKind::Literal(Value::Null) => f.write_str("null"),
            TKind::Literal(v) => write!(f, "{v}"),
            TKind::Cast(e) => match &self.ty {
                Some(t) => write!(f, "CAST({e} AS {t})"),
                None => write!(f, "{e}"),
            },
            TKind::Call { name, args, .. } => {
                write!(f, "{name}(")?;
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{a}")?;
                }
                f.write_str(")")
            }
            TKind::Binary { op, left, right } => write!(f, "({left} {} {right})", op.symbol()),
            TKind::Not(e) => write!(f, "(NOT {e})"),
            TKind::Negate(e) => write!(f, "-{e}"),
            TKind::IsNull { expr, negated } => {
                write!(f, "({expr} IS {}NULL)", if *negated { "NOT " } else { "" })
            }
            TKind::IsDistinctFrom {
                left,
                right,
                negated,
            } => write!(
                f,
                "({left} IS {}DISTINCT FROM {right})",
                if *negated { "NOT " } else { "" }
            ),
            TKind::Case { whens, else_result } => {
                f.write_str("(CASE")?;
                for (w, t) in whens {
                    write!(f, " WHEN {w} THEN {t}")?;
                }
                if let Some(e) = else_result {
                    write!(f, " ELSE {e}")?;
                }
                f.write_str(" END)")
            }
            TKind::InList {
                expr,
                list,
                negated,
            } => {
                write!(f, "({expr} {}IN (", if *negated { "NOT " } else { "" })?;
                for (i, a) in list.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{a}")?;
                }
                f.write_str("))")
            }
            TKind::Between {
                expr,
                low,
                high,
                negated,
            } => write!(
                f,
                "({expr} {}BETWEEN {low} AND {high})",
                if *negated { "NOT " } else { "" }
            ),
            TKind::Like {
                expr,
                pattern,
                negated,
                ..
            } => write!(
                f,
                "({expr} {}LIKE {pattern})",
                if *negated { "NOT " } else { "" }
            ),
            TKind::Subscript { expr, index } => write!(f, "{expr}[{index}]"),
            TKind::Deref { expr, field } => write!(f, "{expr}->{field}"),
            TKind::MakeArray(items) => {
                f.write_str("ARRAY[")?;
                for (i, a) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{a}")?;
                }
                f.write_str("]")
            }
            TKind::MakeMap(entries) => {
                f.write_str("MAP(")?;
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}:={v}")?;
                }
                f.write_str(")")
            }
            TKind::MakeStruct(fields) => {
                f.write_str("STRUCT(")?;
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}:={v}")?;
                }
                f.write_str(")")
            }
            TKind::Lambda { params, body } => {
                let names: Vec<&str> = params.iter().map(|(n, _)| n.as_str()).collect();
                write!(f, "({}) => {body}", names.join(", "))
            }
            TKind::HigherOrder { function, args } => {
                write!(f, "{}(", format!("{function:?}").to_uppercase())?;
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{a}")?;
                }
                f.write_str(")")
            }
        }
    }
}

#[cfg(test)]
mod tests;
