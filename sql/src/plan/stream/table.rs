//! Queries over one table without aggregation: WHERE and the projection as a table stage
//! over its changes (rejected rows become deletes), then the sink.

use super::keys::{KeySpec, check_timestamp_column, split_keys};
use super::stages::{sink_timestamp, table_stage};
use super::{column_expr, prefix_error, source_names};
use crate::catalog::DataSource;
use crate::catalog::schema::{ROWTIME, WINDOWEND, WINDOWSTART};
use crate::error::{Result, SqlError};
use crate::expr::TExpr;
use crate::parser::ast::{Expr, ExprKind, Query, SourceKind};
use crate::plan::flow::{FlowColumn, Role, TableFlow};
use crate::plan::select::SelectColumn;
use crate::plan::sink::{ResultSchema, resolve_target, table_sink};
use crate::plan::{PlanContext, PlannedQuery, Target};
use crate::types::SqlType;

pub(super) fn plan_table(
    ctx: &mut PlanContext<'_>,
    query: &Query,
    target: &Target,
    source: &DataSource,
    flow: TableFlow,
) -> Result<PlannedQuery> {
    let scope = flow.scope();
    let filter = match &query.where_clause {
        Some(w) => Some(
            ctx.typer(&scope)
                .type_predicate(w, "WHERE")
                .map_err(|e| prefix_error(e, "Invalid Predicate: "))?,
        ),
        None => None,
    };
    let select =
        crate::plan::select::resolve(&query.select, &flow.columns, &source_names(source), false)?;
    let result_columns: Vec<(String, TExpr)> = select
        .iter()
        .map(|s| Ok((s.alias.clone(), ctx.type_expr(&scope, &s.expr)?)))
        .collect::<Result<_>>()?;
    let key_columns: Vec<&FlowColumn> = flow
        .columns
        .iter()
        .filter(|c| c.role == Role::Key)
        .collect();
    let key_exprs: Vec<Expr> = key_columns.iter().map(|c| column_expr(c)).collect();
    let window_keys: Vec<(String, TExpr)> = flow
        .columns
        .iter()
        .filter(|c| c.role == Role::WindowBound)
        .map(|c| {
            (
                c.name.clone(),
                TExpr::column(c.internal.clone(), c.ty.clone()),
            )
        })
        .collect();
    if let Target::Transient = target {
        let mut outputs: Vec<(String, TExpr)> = key_columns
            .iter()
            .map(|c| {
                (
                    format!("#key:{}", c.name),
                    TExpr::column(c.internal.clone(), c.ty.clone()),
                )
            })
            .collect();
        outputs.extend(
            window_keys
                .iter()
                .map(|(n, e)| (format!("#key:{n}"), e.clone())),
        );
        let key_width = outputs.len();
        outputs.extend(result_columns.iter().cloned());
        let node = table_stage(ctx, &flow, filter.as_ref(), &outputs, key_width, "Project")?;
        return ctx.finish_transient(
            node,
            SourceKind::Table,
            vec![source.name.clone()],
            &result_columns,
        );
    }
    let sink_name = match target {
        Target::Create { name, .. } => name.clone(),
        Target::Insert { target } => target.name.clone(),
        Target::Transient => unreachable!("handled above"),
    };
    let select_no_bounds: Vec<SelectColumn> = select
        .iter()
        .filter(|s| {
            !(flow.window.is_some()
                && !s.explicit
                && matches!(&s.expr.kind, ExprKind::Column { name, .. } if name == WINDOWSTART || name == WINDOWEND))
        })
        .cloned()
        .collect();
    check_timestamp_column(target, &select_no_bounds)?;
    let split = split_keys(
        &select_no_bounds,
        &KeySpec::columns(key_exprs.clone()),
        &sink_name,
        true,
    )?;
    let typed = |name: &str| {
        result_columns
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.clone())
            .ok_or_else(|| SqlError::semantic(format!("internal: no column {name}")))
    };
    let result = ResultSchema {
        key: split
            .key_names
            .iter()
            .zip(&key_columns)
            .map(|(n, c)| (n.clone(), c.ty.clone()))
            .collect(),
        value: split
            .values
            .iter()
            .map(|s| {
                Ok((
                    s.alias.clone(),
                    typed(&s.alias)?.ty.unwrap_or(SqlType::String),
                ))
            })
            .collect::<Result<_>>()?,
    };
    if result.value.is_empty() {
        return Err(SqlError::semantic(
            "The projection contains no value columns.",
        ));
    }
    let (sink, sink_topic) =
        resolve_target(ctx, target, SourceKind::Table, source, &result, flow.window)?
            .ok_or_else(|| SqlError::semantic("internal: persistent query without a sink"))?;
    let mut outputs: Vec<(String, TExpr)> = split
        .key_names
        .iter()
        .zip(&key_columns)
        .map(|(n, c)| (n.clone(), TExpr::column(c.internal.clone(), c.ty.clone())))
        .collect();
    outputs.extend(window_keys.iter().cloned());
    let key_width = outputs.len();
    let mut row: Vec<(String, SqlType)> = Vec::new();
    for s in &split.values {
        let t = typed(&s.alias)?;
        row.push((s.alias.clone(), t.ty.clone().unwrap_or(SqlType::String)));
        outputs.push((s.alias.clone(), t));
    }
    let rowtime = match sink_timestamp(&sink, &outputs)? {
        Some(e) => e,
        None => TExpr::column(
            flow.columns
                .iter()
                .find(|c| c.name == ROWTIME)
                .map(|c| c.internal.clone())
                .unwrap_or_else(|| ROWTIME.into()),
            SqlType::BigInt,
        ),
    };
    outputs.push((ROWTIME.to_string(), rowtime));
    row.push((ROWTIME.to_string(), SqlType::BigInt));
    let node = table_stage(ctx, &flow, filter.as_ref(), &outputs, key_width, "Project")?;
    table_sink(ctx, node, &row, &sink)?;
    ctx.finish_persistent(
        SourceKind::Table,
        vec![source.name.clone()],
        sink,
        sink_topic,
        &result,
    )
}
