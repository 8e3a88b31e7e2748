//! Table functions in a stream query's projection (ksqlDB's `FlatMapNode`): each call is
//! replaced in the select items by a column the flat-map step adds, after the WHERE clause
//! and PARTITION BY and before the projection, which then sees one row per result.

use std::sync::Arc;

use super::PlanContext;
use super::flow::{FlowColumn, Role, StreamFlow};
use super::select::{SelectColumn, internal_column, rewrite, visit};
use super::stream::stream_stage;
use crate::error::{Result, SqlError};
use crate::expr::TExpr;
use crate::functions::FunctionKind;
use crate::parser::ast::{Expr, ExprKind, SelectItem};
use crate::runtime::batch::{NULL_ROW, StageSchema};
use crate::runtime::flatmap::{FlatMapNode, TableCall};

/// Whether any select item calls a table function.
pub fn has_table_functions(ctx: &PlanContext<'_>, select: &[SelectItem]) -> bool {
    let mut found = false;
    for item in select {
        if let SelectItem::Expr { expr, .. } = item {
            visit(expr, &mut |e| {
                if let ExprKind::Function { name, .. } = &e.kind
                    && ctx.registry.kind(name) == Some(FunctionKind::Table)
                {
                    found = true;
                }
            });
        }
    }
    found
}

/// A table function call found in the projection.
struct Call {
    name: String,
    args: Vec<Expr>,
}

/// Adds the flat-map step when the projection calls table functions: returns the flow
/// with one more column per call (the WHERE `filter` applied before) and the select
/// items reading those columns; `None` when there are no table functions.
pub fn plan(
    ctx: &mut PlanContext<'_>,
    flow: &StreamFlow,
    select: &[SelectColumn],
    filter: Option<&TExpr>,
) -> Result<Option<(StreamFlow, Vec<SelectColumn>)>> {
    let mut calls: Vec<Call> = Vec::new();
    let registry = ctx.registry;
    let rewritten: Vec<SelectColumn> = select
        .iter()
        .map(|item| {
            let expr = rewrite(&item.expr, &mut |e| match &e.kind {
                ExprKind::Function { name, args, .. }
                    if registry.kind(name) == Some(FunctionKind::Table) =>
                {
                    calls.push(Call {
                        name: name.clone(),
                        args: args.clone(),
                    });
                    Some(internal_column(&format!("#tf{}", calls.len() - 1), e.pos))
                }
                _ => None,
            });
            SelectColumn {
                expr,
                ..item.clone()
            }
        })
        .collect();
    if calls.is_empty() {
        return Ok(None);
    }
    // Stage 1: every column passed through, plus each call's arguments.
    let scope = flow.scope();
    let mut outputs: Vec<(String, TExpr)> = flow
        .schema
        .columns
        .iter()
        .map(|(n, t)| (n.clone(), TExpr::column(n.clone(), t.clone())))
        .collect();
    let mut resolved = Vec::new();
    for (i, call) in calls.iter().enumerate() {
        let function = registry.table(&call.name).ok_or_else(|| {
            SqlError::semantic(format!("internal: no table function {}", call.name))
        })?;
        let mut args = Vec::new();
        for (j, a) in call.args.iter().enumerate() {
            let typed = ctx.type_in_clause(&scope, a, "SELECT")?;
            let column = format!("#tfarg{i}_{j}");
            args.push((outputs.len(), typed.ty.clone()));
            outputs.push((column, typed));
        }
        let types: Vec<_> = args.iter().map(|(_, t)| t.clone()).collect();
        let (output, f) = function.resolve(&types)?;
        resolved.push(TableCall {
            function: f,
            name: call.name.clone(),
            args: args
                .into_iter()
                .map(|(c, t)| (c, t.unwrap_or(crate::types::SqlType::String)))
                .collect(),
            output,
        });
    }
    let args_stage = stream_stage(ctx, flow, filter, &outputs, "FlatMap-Args")?;
    // Stage 2: the flat map, appending one column per call.
    let mut columns = args_stage.schema.columns.clone();
    for (i, call) in resolved.iter().enumerate() {
        columns.push((format!("#tf{i}"), call.output.clone()));
    }
    let schema = StageSchema::new(columns);
    let null_row = schema
        .index_of(NULL_ROW)
        .ok_or_else(|| SqlError::semantic("internal: no #nullrow column"))?;
    let arrow = schema.arrow();
    let log = ctx.log.clone();
    let node = ctx.processor(
        "FlatMap",
        args_stage.node,
        Arc::new(move || {
            Box::new(FlatMapNode::new(
                "FlatMap",
                resolved.clone(),
                null_row,
                arrow.clone(),
                log.clone(),
            ))
        }),
    );
    ctx.step(format!(
        "FlatMap: {}",
        calls
            .iter()
            .map(|c| format!(
                "{}({})",
                c.name,
                c.args
                    .iter()
                    .map(|a| a.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let mut flow_columns = flow.columns.clone();
    for (i, (_, ty)) in schema.columns[schema.columns.len() - calls.len()..]
        .iter()
        .enumerate()
    {
        flow_columns.push(FlowColumn {
            qualifier: None,
            name: format!("#tf{i}"),
            internal: format!("#tf{i}"),
            ty: ty.clone(),
            role: Role::Value,
        });
    }
    Ok(Some((
        StreamFlow {
            node,
            schema,
            columns: flow_columns,
            key: flow.key.clone(),
            window: flow.window,
            qualifiers: flow.qualifiers.clone(),
        },
        rewritten,
    )))
}
