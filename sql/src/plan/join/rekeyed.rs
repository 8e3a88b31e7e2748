//! A join planned further as one source: its rows as ksqlDB's join schema, re-keyed by
//! PARTITION BY or aggregated, the query rewritten over that schema.

use std::sync::Arc;

use eddy_streams::KTable;

use crate::catalog::DataSource;
use crate::catalog::schema::ROWTIME;
use crate::error::{Result, SqlError};
use crate::expr::TExpr;
use crate::parser::ast::{Expr, ExprKind, Query, SelectItem};
use crate::plan::flow::{Flow, StreamFlow, TableFlow, scope_of};
use crate::plan::select::same_expr;
use crate::plan::stream::table_stage_with;
use crate::plan::{PlanContext, PlannedQuery, Target};
use crate::runtime::batch::{NULL_ROW, StageSchema};
use crate::runtime::convert::FromRecordsNode;
use crate::types::SqlType;

use super::{JOIN_KEY, Side, SideFlow, qualify, synthetic_key_name};

/// A join re-keyed by PARTITION BY: the joined rows as a stream of ksqlDB's join schema
/// ([`crate::plan::joined`]), then planned as a query over one stream (PARTITION BY, the
/// projection, the sink), its expressions rewritten over that schema.
pub(super) fn repartitioned(
    ctx: &mut PlanContext<'_>,
    query: &Query,
    target: &Target,
    side: Side,
    sources: &[DataSource],
) -> Result<PlannedQuery> {
    let (flow, rewritten, input) = as_flow(ctx, query, side, sources)?;
    let Flow::Stream(flow) = flow else {
        return Err(SqlError::semantic(
            "PARTITION BY is not supported on tables: a table is already keyed by its PRIMARY KEY.",
        ));
    };
    crate::plan::stream::plan_stream(ctx, &rewritten, target, &input, flow)
}

/// An aggregation of a join (ksqlDB's `AggregateNode` over its `JoinNode`): the joined
/// rows or table as ksqlDB's join schema ([`crate::plan::joined`]), aggregated as one source's.
pub(super) fn aggregated_join(
    ctx: &mut PlanContext<'_>,
    query: &Query,
    target: &Target,
    side: Side,
    sources: &[DataSource],
) -> Result<PlannedQuery> {
    crate::plan::aggregate::check_clauses(ctx, query, target, side.kind)?;
    let (flow, rewritten, input) = as_flow(ctx, query, side, sources)?;
    let flow = match flow {
        Flow::Stream(f) => crate::plan::aggregate::Input::Stream(f),
        Flow::Table(f) => crate::plan::aggregate::Input::Table(f),
    };
    crate::plan::aggregate::plan_aggregation(ctx, &rewritten, target, &input, flow)
}

/// The join's result as a flow of ksqlDB's join schema, the query rewritten over it, and
/// what the planning over it needs of the sources.
fn as_flow<'s>(
    ctx: &mut PlanContext<'_>,
    query: &Query,
    side: Side,
    sources: &'s [DataSource],
) -> Result<(Flow, Query, crate::plan::stream::StreamInput<'s>)> {
    if side.window.is_some() {
        return Err(SqlError::semantic(
            "Implicit repartitioning of windowed sources is not supported. See https://github.com/confluentinc/ksql/issues/4385.",
        ));
    }
    let scope = scope_of(&side.columns, &side.aliases);
    let key_ty = side.key_type.clone().unwrap_or(SqlType::String);
    let key_ty = &key_ty;
    // The key is named after the first viable key column the projection selects (or the
    // first one), else it is the synthetic key (`LogicalPlanner.buildJoinKey`).
    let key = if side.viable.is_empty() {
        crate::plan::joined::JoinKey {
            name: synthetic_key_name(sources),
            internal: JOIN_KEY.to_string(),
            ty: key_ty.clone(),
            synthetic: true,
        }
    } else {
        let selected = |v: &Expr| {
            query.select.iter().any(|item| match item {
                SelectItem::Wildcard(_) => true,
                SelectItem::QualifiedWildcard(q) => {
                    matches!(&v.kind, ExprKind::Column { source: Some(s), .. } if *s == q.value)
                }
                SelectItem::Expr { expr, .. } => same_expr(&qualify(expr, &scope), v, false),
                SelectItem::StructWildcard(_) => false,
            })
        };
        let chosen = side
            .viable
            .iter()
            .find(|v| selected(v))
            .unwrap_or(&side.viable[0]);
        let ExprKind::Column {
            source: Some(q),
            name,
        } = &chosen.kind
        else {
            return Err(SqlError::semantic(
                "internal: a viable key that is not a column",
            ));
        };
        let name = crate::plan::joined::join_column_name(q, name);
        crate::plan::joined::JoinKey {
            internal: name.clone(),
            name,
            ty: key_ty.clone(),
            synthetic: false,
        }
    };
    let row = side.row();
    let columns = crate::plan::joined::columns(&side.columns, &side.aliases, &key);
    let flow = match &side.flow {
        SideFlow::Stream(stream) => {
            // The joined batches: key, the sides' columns, ROWTIME, #nullrow.
            let mut stage_columns = vec![(JOIN_KEY.to_string(), key.ty.clone())];
            stage_columns.extend(row.iter().cloned());
            stage_columns.push((ROWTIME.to_string(), SqlType::BigInt));
            stage_columns.push((NULL_ROW.to_string(), SqlType::Boolean));
            let schema = StageSchema::new(stage_columns);
            let s = schema.clone();
            let node = ctx.processor(
                "Join-Batches",
                stream.node(),
                Arc::new(move || Box::new(FromRecordsNode::new("JoinBatches", s.clone()))),
            );
            Flow::Stream(StreamFlow {
                node,
                schema,
                columns,
                key: vec![key.internal.clone()],
                window: None,
                qualifiers: Vec::new(),
            })
        }
        SideFlow::Table(table) => {
            // The joined rows with their record time, as ROWTIME.
            let keys = vec![(JOIN_KEY.to_string(), key.ty.clone())];
            let joined = TableFlow {
                table: table.clone(),
                key: keys.clone(),
                row: row.clone(),
                columns: Vec::new(),
                window: None,
                qualifiers: Vec::new(),
                store: None,
            };
            let mut outputs = vec![(
                format!("#key:{JOIN_KEY}"),
                TExpr::column(JOIN_KEY, key.ty.clone()),
            )];
            outputs.extend(
                row.iter()
                    .map(|(n, t)| (n.clone(), TExpr::column(n.clone(), t.clone()))),
            );
            outputs.push((ROWTIME.to_string(), TExpr::column(ROWTIME, SqlType::BigInt)));
            let node = table_stage_with(ctx, &joined, None, &outputs, 1, "Join-Rows", true)?;
            let mut row = row;
            row.push((ROWTIME.to_string(), SqlType::BigInt));
            Flow::Table(TableFlow {
                table: KTable::from_node(&ctx.builder, node, None, None, None),
                key: keys,
                row,
                columns,
                window: None,
                qualifiers: Vec::new(),
                store: None,
            })
        }
        SideFlow::Source(..) => {
            return Err(SqlError::semantic("internal: a join without joins"));
        }
    };
    // Select items are named over the join, as written, before the rewrite.
    let names: Vec<Vec<String>> = sources
        .iter()
        .map(|s| s.schema.columns().iter().map(|c| c.name.clone()).collect())
        .collect();
    let exprs: Vec<SelectItem> = query
        .select
        .iter()
        .filter(|i| matches!(i, SelectItem::Expr { .. }))
        .cloned()
        .collect();
    let named = crate::plan::select::resolve(&exprs, &side.columns, &names, true)?;
    let rewritten = crate::plan::joined::rewrite_query(query, &side.columns, &named)?;
    let input = crate::plan::stream::StreamInput {
        inherit: &sources[0],
        sources: sources.iter().map(|s| s.name.clone()).collect(),
        columns: names,
        alias: None,
        partition_display: Some(
            query
                .partition_by
                .iter()
                .map(|e| qualify(e, &scope).to_string())
                .collect(),
        ),
    };
    Ok((flow, rewritten, input))
}
