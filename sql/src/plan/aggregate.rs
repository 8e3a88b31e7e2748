//! Aggregations (ksqlDB's `AggregateNode`): GROUP BY keys and the aggregate calls'
//! arguments computed in a stage, the rows regrouped (through
//! `<app>-Aggregate-GroupBy-repartition` unless already keyed by the grouping) and folded
//! into the states by eddy-streams' (windowed) aggregation operators in the store
//! `Aggregate-Aggregate-Materialize`, then HAVING and the projection over the grouping
//! keys, the aggregate results and the window bounds.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use eddy_streams::{EmitStrategy, KStream, KTable, SessionWindows, TimeWindows};

use super::flow::{FlowColumn, Role, StreamFlow, TableFlow};
use super::select::{SelectColumn, internal_column, rewrite, same_expr, strip, visit};
use super::sink::{ResultSchema, resolve_target, table_sink};
use super::source::SourceNaming;
use super::stream::{
    KeySpec, StreamInput, lookup, not_null_row, prefix_error, split_keys, stream_stage,
    table_stage, timestamp_to_bigint,
};
use super::{PlanContext, PlannedQuery, Target, TransientOutput};
use crate::catalog::schema::{ROWTIME, WINDOWEND, WINDOWSTART};
use crate::catalog::{WindowInfo, WindowType};
use crate::error::{Result, SqlError};
use crate::expr::{Scope, ScopeColumn, TExpr};
use crate::functions::{AggregateArg, FunctionKind};
use crate::parser::ast::{Expr, ExprKind, Literal, Query, Refinement, SourceKind, WindowExpr};
use crate::runtime::aggregate::{AggregateResultNode, AggregateSpec, ResultTime};
use crate::runtime::batch::NULL_ROW;
use crate::runtime::convert::{RecordLayout, ToRecordsNode};
use crate::runtime::serdes::RowSerde;
use crate::runtime::transient::TablePushNode;
use crate::types::SqlType;
use crate::value::{Row, Value};

/// The store of an aggregation's states.
const STORE: &str = "Aggregate-Aggregate-Materialize";

/// An aggregate call of the query.
struct Call {
    /// The call as written.
    expr: Expr,
    /// Its function.
    name: String,
    /// Typed arguments evaluated per row.
    value_args: Vec<TExpr>,
    /// The aggregator.
    aggregator: Arc<dyn crate::functions::Aggregator>,
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
fn collect_calls(
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
fn key_column(i: usize) -> String {
    format!("#key{i}")
}

/// The name of the internal column of aggregate call `i`'s result.
fn agg_column(i: usize) -> String {
    format!("KSQL_AGG_VARIABLE_{i}")
}

/// Rewrites an expression over the aggregation's result: aggregate calls become their
/// result columns, grouping expressions their key columns. Returns the columns it still
/// reads that are neither.
fn rewrite_post(e: &Expr, calls: &[Call], group_by: &[Expr], windowed: bool) -> (Expr, Vec<Expr>) {
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

fn dedupe(exprs: Vec<Expr>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    exprs
        .into_iter()
        .map(|e| strip(&e).to_string())
        .filter(|s| seen.insert(s.clone()))
        .collect()
}

/// The window's eddy-streams form and the sink's window info.
/// Without a GRACE PERIOD, windows get ksqlDB's default: what remains of 24 hours after the
/// window, or none with EMIT FINAL (ksqlDB's `RewrittenAnalysis`).
fn windows(window: &WindowExpr, emit_final: bool) -> Result<(WindowInfo, WindowSetup)> {
    let day = 86_400_000u64;
    let ms = |d: &Duration| d.as_millis() as u64;
    let default_grace = |size: u64| {
        if emit_final {
            Duration::ZERO
        } else {
            Duration::from_millis(day.saturating_sub(size))
        }
    };
    Ok(match window {
        WindowExpr::Tumbling {
            size,
            retention,
            grace,
        } => {
            let grace = grace.unwrap_or_else(|| default_grace(ms(size)));
            let mut w = TimeWindows::of_size_and_grace(*size, grace);
            if let Some(r) = retention {
                w = w
                    .with_retention(*r)
                    .map_err(|e| SqlError::semantic(e.to_string()))?;
            }
            (
                WindowInfo {
                    kind: WindowType::Tumbling,
                    size_ms: Some(ms(size) as i64),
                },
                WindowSetup::Time(w),
            )
        }
        WindowExpr::Hopping {
            size,
            advance,
            retention,
            grace,
        } => {
            if advance > size {
                return Err(SqlError::semantic(format!(
                    "Window advance must be less than or equal to the window size. Got advance: {} ms, size: {} ms",
                    ms(advance),
                    ms(size)
                )));
            }
            let grace = grace.unwrap_or_else(|| default_grace(ms(size)));
            let mut w = TimeWindows::of_size_and_grace(*size, grace)
                .advance_by(*advance)
                .map_err(|e| SqlError::semantic(e.to_string()))?;
            if let Some(r) = retention {
                w = w
                    .with_retention(*r)
                    .map_err(|e| SqlError::semantic(e.to_string()))?;
            }
            (
                WindowInfo {
                    kind: WindowType::Hopping,
                    size_ms: Some(ms(size) as i64),
                },
                WindowSetup::Time(w),
            )
        }
        WindowExpr::Session {
            gap,
            retention,
            grace,
        } => {
            let grace = grace.unwrap_or_else(|| default_grace(ms(gap)));
            let mut w = SessionWindows::with_inactivity_gap_and_grace(*gap, grace);
            if let Some(r) = retention {
                w = w
                    .with_retention(*r)
                    .map_err(|e| SqlError::semantic(e.to_string()))?;
            }
            (
                WindowInfo {
                    kind: WindowType::Session,
                    size_ms: None,
                },
                WindowSetup::Session(w),
            )
        }
    })
}

enum WindowSetup {
    Time(TimeWindows),
    Session(SessionWindows),
}

/// The input of the aggregation: grouped rows (key = grouping values, value = arguments
/// then ROWTIME) from a stream, or a table's changes regrouped.
enum Grouped {
    Stream(KStream<Row, Row>),
    Table(eddy_streams::KGroupedTable<Row, Row>),
}

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
    let grouped = match input {
        Input::Stream(flow) => {
            let rowtime = flow
                .columns
                .iter()
                .find(|c| c.name == ROWTIME && c.role == Role::Pseudo)
                .map(|c| c.internal.clone())
                .unwrap_or_else(|| ROWTIME.to_string());
            pre_outputs.push((ROWTIME.to_string(), TExpr::column(rowtime, SqlType::BigInt)));
            pre_outputs.push((
                NULL_ROW.to_string(),
                TExpr::column(NULL_ROW, SqlType::Boolean),
            ));
            let stage = stream_stage(
                ctx,
                &flow,
                Some(&not_null_row(filter)),
                &pre_outputs,
                "Aggregate-Prepare",
            )?;
            let key: Vec<(usize, SqlType)> = (0..n_keys)
                .map(|i| (i, pre_outputs[i].1.ty.clone().unwrap_or(SqlType::String)))
                .collect();
            let value: Vec<(usize, SqlType)> = (n_keys..pre_outputs.len() - 1)
                .map(|i| (i, pre_outputs[i].1.ty.clone().unwrap_or(SqlType::String)))
                .collect();
            let layout = RecordLayout {
                key,
                value,
                rowtime: pre_outputs.len() - 2,
                null_row: pre_outputs.len() - 1,
                drop_null_keys: true,
            };
            let node = ctx.processor(
                "Aggregate-GroupBy",
                stage.node,
                Arc::new(move || Box::new(ToRecordsNode::new("Aggregate-GroupBy", layout.clone()))),
            );
            let stream: KStream<Row, Row> = KStream::from_node(
                &ctx.builder,
                node,
                Some(key_serde.clone()),
                Some(value_serde.clone()),
            );
            // Grouping by exactly the source's key columns needs no repartition.
            let by_key = is_grouped_by_key(&query.group_by, &flow);
            let stream = if by_key {
                stream
            } else {
                ctx.step("Repartition: Aggregate-GroupBy-repartition");
                stream.repartition("Aggregate-GroupBy")
            };
            Grouped::Stream(stream)
        }
        Input::Table(flow) => {
            let key_width = flow.key.len();
            let mut outputs: Vec<(String, TExpr)> = flow
                .key
                .iter()
                .map(|(n, t)| (format!("#source:{n}"), TExpr::column(n.clone(), t.clone())))
                .collect();
            let rowtime = flow
                .columns
                .iter()
                .find(|c| c.name == ROWTIME)
                .map(|c| c.internal.clone())
                .unwrap_or_else(|| ROWTIME.to_string());
            pre_outputs.push((ROWTIME.to_string(), TExpr::column(rowtime, SqlType::BigInt)));
            outputs.extend(pre_outputs.iter().cloned());
            let node = table_stage(
                ctx,
                &flow,
                filter.as_ref(),
                &outputs,
                key_width,
                "Aggregate-Prepare",
            )?;
            let table: KTable<Row, Row> = KTable::from_node(&ctx.builder, node, None, None, None);
            let n = n_keys;
            let grouped = table.group_by(
                move |_, v: &Row| (v[..n].to_vec(), v[n..].to_vec()),
                key_serde.clone(),
                value_serde.clone(),
            );
            Grouped::Table(grouped)
        }
    };
    let emit_final = query.refinement == Some(Refinement::Final);
    let s1 = spec.clone();
    let s2 = spec.clone();
    let s3 = spec.clone();
    let init = move || s1.init();
    let results = match (grouped, window) {
        (Grouped::Stream(stream), None) => {
            let table = stream.group_by_key().aggregate(
                STORE,
                init,
                move |_, v: &Row, agg: Row| s2.add(agg, v),
                state_serde,
            );
            let spec = spec.clone();
            ctx.processor(
                "Aggregate-Result",
                table.node(),
                Arc::new(move || {
                    Box::new(AggregateResultNode::plain("Aggregate-Result", spec.clone()))
                }),
            )
        }
        (Grouped::Table(grouped), _) => {
            let table = grouped.aggregate(
                STORE,
                init,
                move |_, v: &Row, agg: Row| s2.add(agg, v),
                move |_, v: &Row, agg: Row| s3.undo(agg, v),
                state_serde,
            );
            let spec = spec.clone();
            ctx.processor(
                "Aggregate-Result",
                table.node(),
                Arc::new(move || {
                    Box::new(AggregateResultNode::plain("Aggregate-Result", spec.clone()))
                }),
            )
        }
        (Grouped::Stream(stream), Some((_, WindowSetup::Time(w)))) => {
            let mut windowed_stream = stream.group_by_key().windowed_by(w);
            if emit_final {
                windowed_stream = windowed_stream.emit_strategy(EmitStrategy::on_window_close());
            }
            let table = windowed_stream.aggregate(
                STORE,
                init,
                move |_, v: &Row, agg: Row| s2.add(agg, v),
                state_serde,
            );
            let spec = spec.clone();
            let time = if emit_final {
                ResultTime::Forwarded
            } else {
                ResultTime::MaxInput
            };
            ctx.processor(
                "Aggregate-Result",
                table.node(),
                Arc::new(move || {
                    Box::new(AggregateResultNode::windowed(
                        "Aggregate-Result",
                        spec.clone(),
                        time,
                    ))
                }),
            )
        }
        (Grouped::Stream(stream), Some((_, WindowSetup::Session(w)))) => {
            let mut session_stream = stream.group_by_key().windowed_by_session(w);
            if emit_final {
                session_stream = session_stream.emit_strategy(EmitStrategy::on_window_close());
            }
            let table = session_stream.aggregate(
                STORE,
                init,
                move |_, v: &Row, agg: Row| s2.add(agg, v),
                move |_, a: Row, b: Row| s3.merge(a, b),
                state_serde,
            );
            let spec = spec.clone();
            ctx.processor(
                "Aggregate-Result",
                table.node(),
                Arc::new(move || {
                    Box::new(AggregateResultNode::windowed(
                        "Aggregate-Result",
                        spec.clone(),
                        ResultTime::WindowEnd,
                    ))
                }),
            )
        }
    };
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
        let columns: Vec<(String, SqlType)> = typed_select
            .iter()
            .map(|(n, t)| (n.clone(), t.ty.clone().unwrap_or(SqlType::String)))
            .collect();
        if let Some(sender) = ctx.push.clone() {
            let indexes: Vec<usize> = (0..columns.len()).collect();
            ctx.processor(
                "Push",
                node,
                Arc::new(move || {
                    Box::new(TablePushNode::new("Push", indexes.clone(), sender.clone()))
                }),
            );
        }
        let topology = ctx.build()?;
        return Ok(PlannedQuery {
            topology,
            sink: None,
            sources: sources.sources.clone(),
            result_kind: SourceKind::Table,
            columns: columns.clone(),
            steps: std::mem::take(&mut ctx.steps),
            stages: std::mem::take(&mut ctx.stages),
            sink_topic: None,
            log: ctx.log.clone(),
            transient_output: Some(TransientOutput { columns }),
        });
    }
    let (sink, sink_topic) =
        resolved.ok_or_else(|| SqlError::semantic("internal: persistent query without a sink"))?;
    let mut row: Vec<(String, SqlType)> = Vec::new();
    for s in &values {
        let t = typed_of(&s.alias)?;
        row.push((s.alias.clone(), t.ty.clone().unwrap_or(SqlType::String)));
        outputs.push((s.alias.clone(), t));
    }
    let rowtime = match &sink.timestamp {
        Some(ts) => {
            let e = outputs
                .iter()
                .find(|(n, _)| n == &ts.column)
                .map(|(_, e)| e.clone())
                .ok_or_else(|| SqlError::semantic("no TIMESTAMP column"))?;
            timestamp_to_bigint(e, ts.format.as_deref())?
        }
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
    let topology = ctx.build()?;
    Ok(PlannedQuery {
        topology,
        sink: Some(sink),
        sources: sources.sources.clone(),
        result_kind: SourceKind::Table,
        columns: result.key.iter().chain(&result.value).cloned().collect(),
        steps: std::mem::take(&mut ctx.steps),
        stages: std::mem::take(&mut ctx.stages),
        sink_topic,
        log: ctx.log.clone(),
        transient_output: None,
    })
}

/// Whether the grouping is the stream's key columns, in order (no repartition needed).
fn is_grouped_by_key(group_by: &[Expr], flow: &StreamFlow) -> bool {
    let keys: Vec<&FlowColumn> = flow
        .columns
        .iter()
        .filter(|c| c.role == Role::Key)
        .collect();
    group_by.len() == keys.len()
        && group_by
            .iter()
            .zip(&keys)
            .all(|(g, k)| matches!(&g.kind, ExprKind::Column { name, .. } if *name == k.name))
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

fn check_no_aggregates(ctx: &PlanContext<'_>, e: &Expr, clause: &str) -> Result<()> {
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

fn check_no_window_bounds(e: &Expr, windowed: bool) -> Result<()> {
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
