//! The aggregate calls of a query (in the projection, then HAVING), and expressions
//! rewritten over the aggregation's result: calls as their result columns, grouping
//! expressions as key columns.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::catalog::schema::{ROWTIME, WINDOWEND, WINDOWSTART};
use crate::error::{Result, SqlError};
use crate::expr::{Scope, TExpr};
use crate::functions::{AggregateArg, FunctionKind};
use crate::parser::ast::{Expr, ExprKind, Literal};
use crate::plan::PlanContext;
use crate::plan::select::{internal_column, rewrite, same_expr, strip, visit};
use crate::value::Value;

/// An aggregate call of the query.
pub(super) struct Call {
    /// The call as written.
    pub(super) expr: Expr,
    /// Its function.
    pub(super) name: String,
    /// Typed arguments evaluated per row.
    pub(super) value_args: Vec<TExpr>,
    /// The aggregator.
    pub(super) aggregator: Arc<dyn crate::functions::Aggregator>,
}

fn literal_value(e: &Expr) -> Option<Value> {
    match &e.kind {
        ExprKind::Literal(Literal::Int(v)) => Some(Value::Int(*v)),
        ExprKind::Literal(Literal::BigInt(v)) => Some(Value::BigInt(*v)),
        ExprKind::Literal(Literal::Boolean(b)) => Some(Value::Boolean(*b)),
        ExprKind::Literal(Literal::String(s)) => Some(Value::String(s.clone())),
        ExprKind::Literal(Literal::Double(d)) => Some(Value::Double(*d)),
        ExprKind::Literal(Literal::Decimal(t)) => crate::expr::typer::decimal_literal_type(t)
            .ok()
            .map(|(v, _)| v),
        ExprKind::Negate(inner) => match literal_value(inner)? {
            Value::Int(v) => Some(Value::Int(v.checked_neg()?)),
            Value::BigInt(v) => Some(Value::BigInt(v.checked_neg()?)),
            Value::Double(v) => Some(Value::Double(-v)),
            _ => None,
        },
        _ => None,
    }
}

/// Collects the aggregate calls of an expression (deduplicated by their text).
pub(super) fn collect_calls(
    ctx: &PlanContext<'_>,
    e: &Expr,
    scope: &Scope,
    calls: &mut Vec<Call>,
) -> Result<()> {
    let mut found: Vec<Expr> = Vec::new();
    let mut nested: Option<String> = None;
    visit(e, &mut |x| {
        if let ExprKind::Function { name, args, .. } = &x.kind
            && ctx.registry.kind(name) == Some(FunctionKind::Aggregate)
        {
            for a in args {
                visit(a, &mut |y| {
                    if let ExprKind::Function { name: inner, .. } = &y.kind
                        && ctx.registry.kind(inner) == Some(FunctionKind::Aggregate)
                    {
                        nested.get_or_insert_with(|| inner.clone());
                    }
                });
            }
            found.push(x.clone());
        }
    });
    if let Some(inner) = nested {
        return Err(SqlError::at(
            e.pos,
            format!(
                "Aggregate functions can not be nested: {inner}(...) is inside another aggregate."
            ),
        ));
    }
    for call in found {
        if calls.iter().any(|c| same_expr(&c.expr, &call, true)) {
            continue;
        }
        let ExprKind::Function { name, args, .. } = &call.kind else {
            continue;
        };
        let function = ctx.registry.aggregate(name).ok_or_else(|| {
            SqlError::at(
                call.pos,
                format!("Can't find any functions with the name '{name}'"),
            )
        })?;
        let mut typed = Vec::new();
        let mut arg_info = Vec::new();
        for a in args {
            let t = ctx.type_expr(scope, a)?;
            arg_info.push(AggregateArg {
                ty: t.ty.clone(),
                literal: literal_value(a),
            });
            typed.push(t);
        }
        let aggregator = function.resolve(&arg_info).map_err(|e| e.or_at(call.pos))?;
        let n = aggregator.value_args().min(typed.len());
        // Parameters after the per-row arguments (TOPK's k) must be written as literals.
        if let Some((i, a)) = args
            .iter()
            .enumerate()
            .skip(n)
            .find(|(_, a)| literal_value(a).is_none())
        {
            return Err(SqlError::at(
                a.pos,
                format!(
                    "Parameter {} passed to function {} must be a literal constant, but was expression: '{a}'",
                    i + 1,
                    name.to_ascii_uppercase()
                ),
            ));
        }
        calls.push(Call {
            expr: call.clone(),
            name: name.clone(),
            value_args: typed.into_iter().take(n).collect(),
            aggregator,
        });
    }
    Ok(())
}

/// The name of the internal column of grouping key `i`.
pub(super) fn key_column(i: usize) -> String {
    format!("#key{i}")
}

/// The name of the internal column of aggregate call `i`'s result.
pub(super) fn agg_column(i: usize) -> String {
    format!("KSQL_AGG_VARIABLE_{i}")
}

/// Rewrites an expression over the aggregation's result: aggregate calls become their
/// result columns, grouping expressions their key columns. Returns the columns it still
/// reads that are neither.
pub(super) fn rewrite_post(
    e: &Expr,
    calls: &[Call],
    group_by: &[Expr],
    windowed: bool,
) -> (Expr, Vec<Expr>) {
    let mut leftovers = Vec::new();
    let rewritten = rewrite(e, &mut |x| {
        if let Some(i) = calls.iter().position(|c| same_expr(&c.expr, x, true)) {
            return Some(internal_column(&agg_column(i), x.pos));
        }
        if let Some(i) = group_by.iter().position(|g| same_expr(g, x, true)) {
            return Some(internal_column(&key_column(i), x.pos));
        }
        None
    });
    visit(&rewritten, &mut |x| {
        if let ExprKind::Column { name, .. } = &x.kind
            && !name.starts_with("#key")
            && !name.starts_with("KSQL_AGG_VARIABLE_")
            && !(windowed && (name == WINDOWSTART || name == WINDOWEND))
            && name != ROWTIME
        {
            leftovers.push(x.clone());
        }
    });
    (rewritten, leftovers)
}

pub(super) fn dedupe(exprs: Vec<Expr>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    exprs
        .into_iter()
        .map(|e| strip(&e).to_string())
        .filter(|s| seen.insert(s.clone()))
        .collect()
}
