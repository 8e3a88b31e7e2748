//! Aggregations (ksqlDB's `AggregateNode`): GROUP BY keys and the aggregate calls'
//! arguments computed in a stage, the rows regrouped (through
//! `<app>-Aggregate-GroupBy-repartition` unless already keyed by the grouping) and folded
//! into the states by eddy-streams' (windowed) aggregation operators in the store
//! `Aggregate-Aggregate-Materialize`, then HAVING and the projection over the grouping
//! keys, the aggregate results and the window bounds.

mod calls;
mod checks;
mod operators;
mod windows;

use std::sync::Arc;

use eddy_streams::KTable;

use super::flow::{FlowColumn, StreamFlow, TableFlow};
use super::select::{SelectColumn, same_expr};
use super::sink::{ResultSchema, resolve_target, table_sink};
use super::source::SourceNaming;
use super::stream::{
    KeySpec, StreamInput, lookup, prefix_error, sink_timestamp, split_keys, table_stage,
};
use super::{PlanContext, PlannedQuery, Target};
use crate::catalog::schema::{ROWTIME, WINDOWEND, WINDOWSTART};
use crate::error::{Result, SqlError};
use crate::expr::{Scope, ScopeColumn, TExpr};
use crate::parser::ast::{Expr, ExprKind, Query, Refinement, SourceKind};
use crate::runtime::aggregate::AggregateSpec;
use crate::runtime::serdes::RowSerde;
use crate::types::SqlType;
use calls::{agg_column, collect_calls, dedupe, key_column, rewrite_post};
use checks::{check_no_aggregates, check_no_window_bounds};
use windows::windows;

pub use checks::check_clauses;

/// The store of an aggregation's states.
const STORE: &str = "Aggregate-Aggregate-Materialize";

/// Plans an aggregation.
pub fn plan(ctx: &mut PlanContext<'_>, query: &Query, target: &Target) -> Result<PlannedQuery> {
    let source = lookup(ctx, &query.from.source.name)?;
    let naming = SourceNaming {
        alias: query.from.source.alias_or_name().to_string(),
        prefixed: false,
        node_id: "KsqlTopic".to_string(),
    };
    check_clauses(ctx, query, target, source.kind)?;
    let input = StreamInput::of(&source, query.from.source.alias_or_name());
    match source.kind {
        SourceKind::Stream => {
            let flow = super::source::stream(ctx, &source, &naming)?;
            plan_aggregation(ctx, query, target, &input, Input::Stream(flow))
        }
        SourceKind::Table => {
            let flow = super::source::table(ctx, &source, &naming)?;
            plan_aggregation(ctx, query, target, &input, Input::Table(flow))
        }
    }
}

/// What an aggregation reads.
pub enum Input {
    /// A stream.
    Stream(StreamFlow),
    /// A table's changes.
    Table(TableFlow),
}

impl Input {
    fn columns(&self) -> &[FlowColumn] {
        match self {
            Self::Stream(f) => &f.columns,
            Self::Table(f) => &f.columns,
        }
    }

    fn scope(&self) -> Scope {
        match self {
            Self::Stream(f) => f.scope(),
            Self::Table(f) => f.scope(),
        }
    }
}

/// Plans an aggregation of `input`, which reads `sources` (one source, or a join's).
#[allow(clippy::too_many_lines)]
pub fn plan_aggregation(
    ctx: &mut PlanContext<'_>,
    query: &Query,
    target: &Target,
    sources: &StreamInput<'_>,
    input: Input,
) -> Result<PlannedQuery> {
    let source = sources.inherit;
    let scope = input.scope();
    let windowed = query.window.is_some();
    let select = super::select::resolve(&query.select, input.columns(), &sources.columns, false)?;
    // WHERE, before the grouping.
    let filter = match &query.where_clause {
        Some(w) => {
            check_no_window_bounds(w, windowed)?;
            check_no_aggregates(ctx, w, "WHERE")?;
            Some(
                ctx.typer(&scope)
                    .type_predicate(w, "WHERE")
                    .map_err(|e| prefix_error(e, "Invalid Predicate: "))?,
            )
        }
        None => None,
    };
    // The grouping expressions.
    let mut group_typed = Vec::new();
    for g in &query.group_by {
        check_no_aggregates(ctx, g, "GROUP BY")?;
        check_no_window_bounds(g, windowed)?;
        let t = ctx.type_expr(&scope, g)?;
        let ty = t.ty.clone().ok_or_else(|| {
            SqlError::at(
                g.pos,
                "GROUP BY NULL is not supported: group by an expression of a type",
            )
        })?;
        if ty.contains_map() {
            return Err(SqlError::semantic(format!(
                "Map keys, including types that contain maps, are not supported as they may lead to unexpected behavior due to inconsistent serialization. Key column name: `{}`. Column type: {ty}. See https://github.com/confluentinc/ksql/issues/6621 for more.",
                group_key_name(g, &select, &sources.columns)
            )));
        }
        group_typed.push(t);
    }
    // The aggregate calls, in the projection then HAVING.
    let mut calls = Vec::new();
    for s in &select {
        if !windowed
            || !matches!(&s.expr.kind, ExprKind::Column { name, .. } if name == WINDOWSTART || name == WINDOWEND)
        {
            collect_calls(ctx, &s.expr, &scope, &mut calls)?;
        }
    }
    if let Some(h) = &query.having {
        collect_calls(ctx, h, &scope, &mut calls)?;
    }
    if calls.is_empty() {
        return Err(SqlError::semantic(
            "GROUP BY requires aggregate functions in either the SELECT or HAVING clause.",
        ));
    }
    // The aggregation's state goes through internal topics in the source's value format.
    if calls.iter().any(|c| {
        !source
            .value_format
            .format
            .supports(&c.aggregator.state_type())
    }) {
        return Err(SqlError::semantic(
            "One of the functions used in the statement has an intermediate type that the value \
             format can not handle. Please remove the function or change the format.\nConsider \
             up-voting https://github.com/confluentinc/ksql/issues/3950, which will resolve this \
             limitation",
        ));
    }
    for call in &calls {
        for a in &call.value_args {
            let mut bad = None;
            a.visit(&mut |x| {
                if let crate::expr::TKind::Column(c) = &x.kind
                    && windowed
                    && (c == WINDOWSTART || c == WINDOWEND)
                {
                    bad = Some(c.clone());
                }
            });
            if let Some(c) = bad {
                return Err(SqlError::semantic(format!(
                    "Window bounds column {c} can only be used in the SELECT clause of windowed aggregations and can not be passed to aggregate functions.\nSee https://github.com/confluentinc/ksql/issues/4397"
                )));
            }
        }
    }
    if matches!(input, Input::Table(_))
        && let Some(c) = calls.iter().find(|c| !c.aggregator.supports_undo())
    {
        return Err(SqlError::semantic(format!(
            "The aggregation functions {} cannot be applied to a table source, only to a stream source.",
            c.name
        )));
    }
    // The projection and HAVING over the result.
    let mut post_select = Vec::new();
    let mut leftovers = Vec::new();
    for s in &select {
        let (e, rest) = rewrite_post(&s.expr, &calls, &query.group_by, windowed);
        leftovers.extend(rest);
        post_select.push(SelectColumn {
            alias: s.alias.clone(),
            expr: e,
            explicit: s.explicit,
        });
    }
    if !leftovers.is_empty() {
        return Err(SqlError::semantic(format!(
            "Non-aggregate SELECT expression(s) not part of GROUP BY: {}\nEither add the column(s) to the GROUP BY or remove them from the SELECT.",
            dedupe(leftovers).join(", ")
        )));
    }
    let having = match &query.having {
        Some(h) => {
            let (e, rest) = rewrite_post(h, &calls, &query.group_by, windowed);
            if !rest.is_empty() {
                return Err(SqlError::semantic(format!(
                    "Non-aggregate HAVING expression not part of GROUP BY: {}\nConsider switching the HAVING clause to a WHERE clause before the GROUP BY.",
                    dedupe(rest).join(", ")
                )));
            }
            Some(e)
        }
        None => None,
    };
    // The result's key: the grouping expressions, named by the projection.
    let window = match &query.window {
        Some(w) => Some(windows(
            w,
            query.refinement == Some(crate::parser::ast::Refinement::Final),
        )?),
        None => None,
    };
    let window_info = window.as_ref().map(|(info, _)| *info);
    let post_scope = {
        let mut columns: Vec<ScopeColumn> = group_typed
            .iter()
            .enumerate()
            .map(|(i, t)| ScopeColumn {
                qualifier: None,
                name: key_column(i),
                internal: key_column(i),
                ty: t.ty.clone().unwrap_or(SqlType::String),
            })
            .collect();
        if windowed {
            for w in [WINDOWSTART, WINDOWEND] {
                columns.push(ScopeColumn {
                    qualifier: None,
                    name: w.to_string(),
                    internal: w.to_string(),
                    ty: SqlType::BigInt,
                });
            }
        }
        for (i, c) in calls.iter().enumerate() {
            columns.push(ScopeColumn {
                qualifier: None,
                name: agg_column(i),
                internal: agg_column(i),
                ty: c.aggregator.return_type(),
            });
        }
        columns.push(ScopeColumn {
            qualifier: None,
            name: ROWTIME.to_string(),
            internal: ROWTIME.to_string(),
            ty: SqlType::BigInt,
        });
        Scope {
            columns,
            qualifiers: Vec::new(),
        }
    };
    let typed_select: Vec<(String, TExpr)> = post_select
        .iter()
        .map(|s| Ok((s.alias.clone(), ctx.type_expr(&post_scope, &s.expr)?)))
        .collect::<Result<_>>()?;
    let having_typed = match &having {
        Some(h) => Some(ctx.typer(&post_scope).type_predicate(h, "HAVING")?),
        None => None,
    };
    let is_transient = matches!(target, Target::Transient);
    // Window bounds are part of the key; unaliased they are dropped from the value.
    let value_candidates: Vec<SelectColumn> = select
        .iter()
        .filter(|s| {
            !(windowed
                && !s.explicit
                && matches!(&s.expr.kind, ExprKind::Column { name, .. } if name == WINDOWSTART || name == WINDOWEND))
        })
        .cloned()
        .collect();
    let sink_name = match target {
        Target::Create { name, .. } => name.clone(),
        Target::Insert { target } => target.name.clone(),
        Target::Transient => String::new(),
    };
    let (key_names, values): (Vec<String>, Vec<SelectColumn>) = if is_transient {
        (
            query
                .group_by
                .iter()
                .map(|g| group_key_name(g, &select, &sources.columns))
                .collect(),
            value_candidates.clone(),
        )
    } else {
        let split = split_keys(
            &value_candidates,
            &KeySpec {
                exprs: query.group_by.clone(),
                display: query.group_by.iter().map(|e| e.to_string()).collect(),
                kind: "grouping expression",
            },
            &sink_name,
            true,
        )?;
        (split.key_names, split.values)
    };
    let typed_of = |alias: &str| -> Result<TExpr> {
        typed_select
            .iter()
            .find(|(n, _)| n == alias)
            .map(|(_, t)| t.clone())
            .ok_or_else(|| SqlError::semantic(format!("internal: no column {alias}")))
    };
    let result = ResultSchema {
        key: key_names
            .iter()
            .zip(&group_typed)
            .map(|(n, t)| (n.clone(), t.ty.clone().unwrap_or(SqlType::String)))
            .collect(),
        value: values
            .iter()
            .map(|s| {
                Ok((
                    s.alias.clone(),
                    typed_of(&s.alias)?.ty.unwrap_or(SqlType::String),
                ))
            })
            .collect::<Result<_>>()?,
    };
    if !is_transient && result.value.is_empty() {
        return Err(SqlError::semantic(
            "The projection contains no value columns.",
        ));
    }
    let resolved = resolve_target(ctx, target, SourceKind::Table, source, &result, window_info)?;
    // The key format of the grouped rows is the result's.
    let key_serde = match &resolved {
        Some((sink, _)) => {
            let codec = crate::serde::codec_for(&sink.key_format, sink.key_columns(), false)?;
            RowSerde::shared(codec, sink.key_columns().len())
        }
        None => {
            let format = if result.key.len() > 1 {
                crate::serde::FormatInfo::of(crate::serde::Format::Json)
            } else {
                source.key_format.clone()
            };
            let format = if format.format == crate::serde::Format::None {
                crate::serde::FormatInfo::of(crate::serde::Format::Json)
            } else {
                format
            };
            let codec = crate::serde::codec_for(&format, result.key.clone(), false)?;
            RowSerde::shared(codec, result.key.len())
        }
    };
    // Stage 1: the grouping values and the arguments, per input row.
    let mut pre_outputs: Vec<(String, TExpr)> = group_typed
        .iter()
        .enumerate()
        .map(|(i, t)| (key_column(i), t.clone()))
        .collect();
    let mut arg_positions = Vec::new();
    let mut arg_types = Vec::new();
    for (i, call) in calls.iter().enumerate() {
        let mut positions = Vec::new();
        for (j, a) in call.value_args.iter().enumerate() {
            positions.push(arg_types.len());
            arg_types.push(a.ty.clone().unwrap_or(SqlType::String));
            pre_outputs.push((format!("#arg{i}_{j}"), a.clone()));
        }
        arg_positions.push(positions);
    }
    let n_keys = group_typed.len();
    let spec = Arc::new(AggregateSpec {
        aggregators: calls.iter().map(|c| c.aggregator.clone()).collect(),
        args: arg_positions,
        rowtime: arg_types.len(),
        log: ctx.log.clone(),
    });
    let mut value_types = arg_types.clone();
    value_types.push(SqlType::BigInt);
    let value_serde = RowSerde::internal(value_types);
    let state_serde = RowSerde::internal(spec.state_types());
    ctx.step(format!(
        "Aggregate: GROUP BY {}; {}",
        query
            .group_by
            .iter()
            .map(|g| g.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        calls
            .iter()
            .map(|c| c.expr.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let grouped = operators::group(
        ctx,
        &query.group_by,
        input,
        filter,
        pre_outputs,
        n_keys,
        (key_serde, value_serde),
    )?;
    let emit_final = query.refinement == Some(Refinement::Final);
    let results = operators::fold(ctx, grouped, window, spec, state_serde, emit_final);
    // Stage 2: HAVING and the projection over keys, window bounds, results, ROWTIME.
    let mut result_key: Vec<(String, SqlType)> = group_typed
        .iter()
        .enumerate()
        .map(|(i, t)| (key_column(i), t.ty.clone().unwrap_or(SqlType::String)))
        .collect();
    if windowed {
        result_key.push((WINDOWSTART.to_string(), SqlType::BigInt));
        result_key.push((WINDOWEND.to_string(), SqlType::BigInt));
    }
    let mut result_row: Vec<(String, SqlType)> = calls
        .iter()
        .enumerate()
        .map(|(i, c)| (agg_column(i), c.aggregator.return_type()))
        .collect();
    result_row.push((ROWTIME.to_string(), SqlType::BigInt));
    let result_flow = TableFlow {
        table: KTable::from_node(&ctx.builder, results, None, None, None),
        key: result_key.clone(),
        row: result_row,
        columns: Vec::new(),
        window: window_info,
        qualifiers: Vec::new(),
        store: None,
    };
    let mut outputs: Vec<(String, TExpr)> = result_key
        .iter()
        .map(|(n, t)| (n.clone(), TExpr::column(n.clone(), t.clone())))
        .collect();
    let key_width = outputs.len();
    if is_transient {
        for (alias, t) in &typed_select {
            outputs.push((alias.clone(), t.clone()));
        }
        let node = table_stage(
            ctx,
            &result_flow,
            having_typed.as_ref(),
            &outputs,
            key_width,
            "Aggregate-Project",
        )?;
        return ctx.finish_transient(
            node,
            SourceKind::Table,
            sources.sources.clone(),
            &typed_select,
        );
    }
    let (sink, sink_topic) =
        resolved.ok_or_else(|| SqlError::semantic("internal: persistent query without a sink"))?;
    let mut row: Vec<(String, SqlType)> = Vec::new();
    for s in &values {
        let t = typed_of(&s.alias)?;
        row.push((s.alias.clone(), t.ty.clone().unwrap_or(SqlType::String)));
        outputs.push((s.alias.clone(), t));
    }
    let rowtime = match sink_timestamp(&sink, &outputs)? {
        Some(e) => e,
        None => TExpr::column(ROWTIME, SqlType::BigInt),
    };
    outputs.push((ROWTIME.to_string(), rowtime));
    row.push((ROWTIME.to_string(), SqlType::BigInt));
    let node = table_stage(
        ctx,
        &result_flow,
        having_typed.as_ref(),
        &outputs,
        key_width,
        "Aggregate-Project",
    )?;
    table_sink(ctx, node, &row, &sink)?;
    ctx.finish_persistent(
        SourceKind::Table,
        sources.sources.clone(),
        sink,
        sink_topic,
        &result,
    )
}

/// The name of a grouping key when nothing in the projection names it.
fn group_key_name(g: &Expr, select: &[SelectColumn], columns: &[Vec<String>]) -> String {
    if let Some(s) = select.iter().find(|s| same_expr(&s.expr, g, true)) {
        return s.alias.clone();
    }
    match &g.kind {
        ExprKind::Column { name, .. } => name.clone(),
        _ => {
            let mut generator =
                super::select::AliasGenerator::new(columns.iter().flatten().map(String::as_str));
            generator.alias_for(g)
        }
    }
}
