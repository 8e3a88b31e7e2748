//! The clauses an aggregation must and must not have, and the expressions that may not hold
//! aggregate calls or window bounds, with ksqlDB's errors.

use super::calls::dedupe;
use crate::catalog::schema::{WINDOWEND, WINDOWSTART};
use crate::error::{Result, SqlError};
use crate::functions::FunctionKind;
use crate::parser::ast::{Expr, ExprKind, Query, SourceKind};
use crate::plan::select::{rewrite, visit};
use crate::plan::{PlanContext, Target};

/// The clauses an aggregation over a stream or table (`kind`) must and must not have.
pub fn check_clauses(
    ctx: &PlanContext<'_>,
    query: &Query,
    target: &Target,
    kind: SourceKind,
) -> Result<()> {
    if query.group_by.is_empty() {
        // ksqlDB groups such a query by a constant, so columns outside the aggregates
        // are reported as not part of that (implicit) GROUP BY first.
        let loose = columns_outside_aggregates(ctx, query);
        if !loose.is_empty() {
            return Err(SqlError::semantic(format!(
                "Non-aggregate SELECT expression(s) not part of GROUP BY: {}\nEither add the column(s) to the GROUP BY or remove them from the SELECT.",
                dedupe(loose).join(", ")
            )));
        }
        let name = first_aggregate(ctx, query).unwrap_or_else(|| "COUNT".into());
        return Err(SqlError::semantic(match target {
            Target::Create { .. } => format!(
                "CREATE TABLE AS SELECT statement does not support aggregate function {name} without a GROUP BY clause."
            ),
            _ => format!("Use of aggregate function {name} requires a GROUP BY clause."),
        }));
    }
    if !query.partition_by.is_empty() {
        return Err(SqlError::semantic(
            "PARTITION BY is not supported with GROUP BY: the result is keyed by its grouping expressions.",
        ));
    }
    if kind == SourceKind::Table && query.window.is_some() {
        return Err(SqlError::semantic(
            "Windowed aggregations are only supported on streams: a table cannot be windowed.",
        ));
    }
    Ok(())
}

/// The column references of the select items that are not inside aggregate calls.
fn columns_outside_aggregates(ctx: &PlanContext<'_>, query: &Query) -> Vec<Expr> {
    let mut found = Vec::new();
    for item in &query.select {
        if let crate::parser::ast::SelectItem::Expr { expr, .. } = item {
            // `rewrite` as a visitor that does not descend into aggregate calls.
            rewrite(expr, &mut |x| match &x.kind {
                ExprKind::Function { name, .. }
                    if ctx.registry.kind(name) == Some(FunctionKind::Aggregate) =>
                {
                    Some(x.clone())
                }
                ExprKind::Column { .. } => {
                    found.push(x.clone());
                    Some(x.clone())
                }
                _ => None,
            });
        }
    }
    found
}

fn first_aggregate(ctx: &PlanContext<'_>, query: &Query) -> Option<String> {
    let mut name = None;
    for item in &query.select {
        if let crate::parser::ast::SelectItem::Expr { expr, .. } = item {
            visit(expr, &mut |x| {
                if let ExprKind::Function { name: n, .. } = &x.kind
                    && ctx.registry.kind(n) == Some(FunctionKind::Aggregate)
                {
                    name.get_or_insert_with(|| n.clone());
                }
            });
        }
    }
    name
}

pub(super) fn check_no_aggregates(ctx: &PlanContext<'_>, e: &Expr, clause: &str) -> Result<()> {
    let mut found = None;
    visit(e, &mut |x| {
        if let ExprKind::Function { name, .. } = &x.kind
            && ctx.registry.kind(name) == Some(FunctionKind::Aggregate)
        {
            found.get_or_insert_with(|| name.clone());
        }
    });
    match found {
        Some(name) if clause == "GROUP BY" => Err(SqlError::semantic(format!(
            "GROUP BY does not support aggregate functions: {name} is an aggregate function."
        ))),
        Some(name) => Err(SqlError::semantic(format!(
            "Aggregate functions can not be used in the {clause} clause: {name}"
        ))),
        None => Ok(()),
    }
}

pub(super) fn check_no_window_bounds(e: &Expr, windowed: bool) -> Result<()> {
    if !windowed {
        return Ok(());
    }
    let mut found = None;
    visit(e, &mut |x| {
        if let ExprKind::Column { name, .. } = &x.kind
            && (name == WINDOWSTART || name == WINDOWEND)
        {
            found.get_or_insert_with(|| name.clone());
        }
    });
    match found {
        Some(c) => Err(SqlError::semantic(format!(
            "Window bounds column {c} can only be used in the SELECT clause of windowed aggregations and can not be passed to aggregate functions.\nSee https://github.com/confluentinc/ksql/issues/4397"
        ))),
        None => Ok(()),
    }
}
