//! The result of a join projected into its sink (or pushed, for a transient query): the
//! output key chosen among the join's key columns, WHERE, the projection, the planned query.

use std::sync::Arc;

use crate::catalog::DataSource;
use crate::catalog::schema::{ROWTIME, WINDOWEND, WINDOWSTART};
use crate::error::{Result, SqlError};
use crate::expr::{ScopeColumn, TExpr};
use crate::parser::ast::{Expr, ExprKind, Query, SourceKind};
use crate::plan::flow::{FlowColumn, Role, StreamFlow, TableFlow, scope_of};
use crate::plan::select::{SelectColumn, same_expr};
use crate::plan::sink::{ResultSchema, resolve_target, stream_sink, table_sink};
use crate::plan::stream::{
    not_null_row, prefix_error, sink_timestamp, stream_stage, table_stage_with,
};
use crate::plan::{PlanContext, PlannedQuery, Target};
use crate::runtime::batch::{NULL_ROW, StageSchema};
use crate::runtime::convert::FromRecordsNode;
use crate::types::SqlType;

use super::{JOIN_KEY, JOIN_WINDOW, Side, SideFlow, qualify, synthetic_key_name};

#[allow(clippy::too_many_lines)]
pub(super) fn finish(
    ctx: &mut PlanContext<'_>,
    query: &Query,
    target: &Target,
    side: Side,
    sources: &[DataSource],
) -> Result<PlannedQuery> {
    let synthetic = side.viable.is_empty();
    let key_ty = side.key_type.clone().unwrap_or(SqlType::String);
    let mut columns = side.columns.clone();
    let key_name = synthetic_key_name(sources);
    if synthetic {
        columns.insert(
            0,
            FlowColumn {
                qualifier: None,
                name: key_name.clone(),
                internal: JOIN_KEY.to_string(),
                ty: key_ty.clone(),
                role: Role::Key,
            },
        );
    }
    let mut scope = scope_of(&columns, &side.aliases);
    scope.columns.push(ScopeColumn {
        qualifier: None,
        name: ROWTIME.to_string(),
        internal: ROWTIME.to_string(),
        ty: SqlType::BigInt,
    });
    let filter = match &query.where_clause {
        Some(w) => Some(
            ctx.typer(&scope)
                .type_predicate(w, "WHERE")
                .map_err(|e| prefix_error(e, "Invalid Predicate: "))?,
        ),
        None => None,
    };
    let names: Vec<Vec<String>> = sources
        .iter()
        .map(|s| s.schema.columns().iter().map(|c| c.name.clone()).collect())
        .collect();
    let select = crate::plan::select::resolve(&query.select, &columns, &names, true)?;
    let typed: Vec<(String, TExpr)> = select
        .iter()
        .map(|s| Ok((s.alias.clone(), ctx.type_expr(&scope, &s.expr)?)))
        .collect::<Result<_>>()?;
    let row = side.row();
    // The joined batches: key (and its window), the sides' columns, ROWTIME, #nullrow.
    let window = side.window;
    let mut key_columns = vec![(JOIN_KEY.to_string(), key_ty.clone())];
    if window.is_some() {
        key_columns.extend(JOIN_WINDOW.map(|w| (w.to_string(), SqlType::BigInt)));
    }
    let mut stage_columns = key_columns.clone();
    stage_columns.extend(row.iter().cloned());
    let primary_source = sources[0].clone();
    let is_transient = matches!(target, Target::Transient);
    // The output key: the first viable key column the projection selects.
    let (key_item, values): (Option<SelectColumn>, Vec<SelectColumn>) = if is_transient {
        (None, select.clone())
    } else {
        let candidates: Vec<Expr> = if synthetic {
            vec![Expr::new(
                ExprKind::Column {
                    source: None,
                    name: key_name.clone(),
                },
                Default::default(),
            )]
        } else {
            side.viable.clone()
        };
        let position = candidates.iter().find_map(|k| {
            select
                .iter()
                .position(|s| same_expr(&qualify(&s.expr, &scope), k, false))
        });
        match position {
            Some(p) => {
                // The key column selected twice is ksqlDB's error (the other viable
                // columns are plain values).
                let key_expr = qualify(&select[p].expr, &scope);
                let keyed: Vec<&SelectColumn> = select
                    .iter()
                    .filter(|s| same_expr(&qualify(&s.expr, &scope), &key_expr, false))
                    .collect();
                if keyed.len() > 1 {
                    let mut aliases: Vec<String> = keyed.iter().map(|s| s.alias.clone()).collect();
                    aliases.sort();
                    let column = match &qualify(&select[p].expr, &scope).kind {
                        ExprKind::Column {
                            source: Some(q),
                            name,
                        } => format!("{q}_{name}"),
                        ExprKind::Column { name, .. } => name.clone(),
                        _ => select[p].alias.clone(),
                    };
                    return Err(SqlError::semantic(format!(
                        "The projection contains a key column (`{column}`) more than once, aliased as: {}.\nEach key column must only be in the projection once. If you intended to copy the key into the value, then consider using the AS_VALUE function to indicate which key reference should be copied.",
                        crate::plan::stream::join_and(&aliases)
                    )));
                }
                let mut rest = select.clone();
                let item = rest.remove(p);
                (Some(item), rest)
            }
            None => {
                let sink_name = match target {
                    Target::Create { name, .. } => name.clone(),
                    Target::Insert { target } => target.name.clone(),
                    Target::Transient => String::new(),
                };
                let listed: Vec<String> = candidates.iter().map(|c| c.to_string()).collect();
                return Err(crate::plan::stream::keys_not_included(
                    &sink_name,
                    "join expression",
                    &listed,
                    false,
                    synthetic,
                ));
            }
        }
    };
    let typed_of = |alias: &str| -> Result<TExpr> {
        typed
            .iter()
            .find(|(n, _)| n == alias)
            .map(|(_, t)| t.clone())
            .ok_or_else(|| SqlError::semantic(format!("internal: no column {alias}")))
    };
    let result = ResultSchema {
        key: key_item
            .iter()
            .map(|k| (k.alias.clone(), key_ty.clone()))
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
    let source_names: Vec<String> = sources.iter().map(|s| s.name.clone()).collect();
    let resolved = resolve_target(ctx, target, side.kind, &primary_source, &result, window)?;
    // The window bounds of the result's windowed keys.
    let bounds: Vec<(String, TExpr)> = match window {
        Some(_) => [WINDOWSTART, WINDOWEND]
            .iter()
            .zip(JOIN_WINDOW)
            .map(|(name, internal)| (name.to_string(), TExpr::column(internal, SqlType::BigInt)))
            .collect(),
        None => Vec::new(),
    };
    match side.flow {
        SideFlow::Stream(stream) => {
            stage_columns.push((ROWTIME.to_string(), SqlType::BigInt));
            stage_columns.push((NULL_ROW.to_string(), SqlType::Boolean));
            let schema = StageSchema::new(stage_columns);
            let s = schema.clone();
            let node = ctx.processor(
                "Join-Batches",
                stream.node(),
                Arc::new(move || Box::new(FromRecordsNode::new("JoinBatches", s.clone()))),
            );
            let flow = StreamFlow {
                node,
                schema,
                columns,
                key: Vec::new(),
                window,
                qualifiers: side.aliases.clone(),
            };
            let filter = filter.map(|f| not_null_row(Some(f)));
            if is_transient {
                let mut outputs = typed.clone();
                outputs.push((
                    NULL_ROW.to_string(),
                    TExpr::column(NULL_ROW, SqlType::Boolean),
                ));
                let out = stream_stage(ctx, &flow, filter.as_ref(), &outputs, "Project")?;
                return ctx.finish_transient(out.node, SourceKind::Stream, source_names, &typed);
            }
            let (sink, sink_topic) =
                resolved.ok_or_else(|| SqlError::semantic("internal: no sink"))?;
            let mut outputs: Vec<(String, TExpr)> = key_item
                .iter()
                .map(|k| (k.alias.clone(), TExpr::column(JOIN_KEY, key_ty.clone())))
                .collect();
            for s in &values {
                outputs.push((s.alias.clone(), typed_of(&s.alias)?));
            }
            let rowtime = match sink_timestamp(&sink, &outputs)? {
                Some(e) => e,
                None => TExpr::column(ROWTIME, SqlType::BigInt),
            };
            outputs.push((ROWTIME.to_string(), rowtime));
            outputs.extend(bounds.iter().cloned());
            outputs.push((
                NULL_ROW.to_string(),
                TExpr::column(NULL_ROW, SqlType::Boolean),
            ));
            let out = stream_stage(ctx, &flow, filter.as_ref(), &outputs, "Project")?;
            stream_sink(ctx, &out, &sink, false)?;
            ctx.finish_persistent(SourceKind::Stream, source_names, sink, sink_topic, &result)
        }
        SideFlow::Table(table) => {
            let flow = TableFlow {
                table,
                key: key_columns.clone(),
                row: row.clone(),
                columns,
                window,
                qualifiers: side.aliases.clone(),
                store: None,
            };
            let mut outputs: Vec<(String, TExpr)> = key_columns
                .iter()
                .map(|(n, t)| (format!("#key:{n}"), TExpr::column(n.clone(), t.clone())))
                .collect();
            let key_width = outputs.len();
            if is_transient {
                outputs.extend(typed.iter().cloned());
                let node = table_stage_with(
                    ctx,
                    &flow,
                    filter.as_ref(),
                    &outputs,
                    key_width,
                    "Project",
                    true,
                )?;
                return ctx.finish_transient(node, SourceKind::Table, source_names, &typed);
            }
            let (sink, sink_topic) =
                resolved.ok_or_else(|| SqlError::semantic("internal: no sink"))?;
            let mut out_row = Vec::new();
            for s in &values {
                let t = typed_of(&s.alias)?;
                out_row.push((s.alias.clone(), t.ty.clone().unwrap_or(SqlType::String)));
                outputs.push((s.alias.clone(), t));
            }
            let rowtime = match sink_timestamp(&sink, &outputs)? {
                Some(e) => e,
                None => TExpr::column(ROWTIME, SqlType::BigInt),
            };
            outputs.push((ROWTIME.to_string(), rowtime));
            out_row.push((ROWTIME.to_string(), SqlType::BigInt));
            let node = table_stage_with(
                ctx,
                &flow,
                filter.as_ref(),
                &outputs,
                key_width,
                "Project",
                true,
            )?;
            table_sink(ctx, node, &out_row, &sink)?;
            ctx.finish_persistent(SourceKind::Table, source_names, sink, sink_topic, &result)
        }
        SideFlow::Source(..) => Err(SqlError::semantic("internal: a join without joins")),
    }
}
