//! Queries over one stream or table without aggregation: WHERE, PARTITION BY, table
//! functions and the projection, fused into one vectorised stage (a table's changes go
//! through a table stage instead), then the sink.

mod keys;
mod stages;
mod table;

use super::flow::{FlowColumn, Role, StreamFlow};
use super::partition::{is_partition_by_null, partition_by_null, repartition, resolve_select};
use super::select::SelectColumn;
use super::sink::{ResultSchema, resolve_target, stream_sink};
use super::source::SourceNaming;
use super::{PlanContext, PlannedQuery, Target};
use crate::catalog::DataSource;
use crate::catalog::schema::{WINDOWEND, WINDOWSTART};
use crate::error::{Result, SqlError};
use crate::expr::TExpr;
use crate::parser::ast::{Expr, ExprKind, Query, SourceKind};
use crate::runtime::batch::NULL_ROW;
use crate::types::SqlType;
use table::plan_table;

pub use keys::{
    KeySpec, SplitSelect, check_timestamp_column, join_and, join_grammatical, keys_not_included,
    split_keys,
};
pub use stages::{
    not_null_row, null_on_null_row, rowtime_expr, sink_timestamp, stream_stage, table_stage,
    table_stage_with, timestamp_to_bigint,
};

/// The stage column holding the record time a sink writes.
pub const RECORD_TIME: &str = "#rowtime";

/// Looks a source up.
pub fn lookup(ctx: &PlanContext<'_>, name: &crate::parser::ast::Name) -> Result<DataSource> {
    ctx.metastore.source(&name.value).cloned().ok_or_else(|| {
        SqlError::at(
            name.pos,
            format!(
                "{} does not exist.{}",
                name.value,
                ctx.metastore.alternatives(&name.value, None)
            ),
        )
    })
}

fn column_expr(c: &FlowColumn) -> Expr {
    Expr::new(
        ExprKind::Column {
            source: c.qualifier.clone(),
            name: c.name.clone(),
        },
        Default::default(),
    )
}

/// Plans a query over one source without aggregation.
pub fn plan(ctx: &mut PlanContext<'_>, query: &Query, target: &Target) -> Result<PlannedQuery> {
    let source = lookup(ctx, &query.from.source.name)?;
    let naming = SourceNaming {
        alias: query.from.source.alias_or_name().to_string(),
        prefixed: false,
        node_id: "KsqlTopic".to_string(),
    };
    if query.window.is_some() {
        return Err(SqlError::semantic(
            "WINDOW clause requires a GROUP BY clause.",
        ));
    }
    if query.having.is_some() {
        return Err(SqlError::semantic(
            "HAVING clause requires a GROUP BY clause.",
        ));
    }
    if query.limit.is_some() && !matches!(target, Target::Transient) {
        return Err(SqlError::semantic(
            "LIMIT is only supported for push queries (SELECT ... EMIT CHANGES LIMIT n)",
        ));
    }
    match source.kind {
        SourceKind::Stream => {
            let flow = super::source::stream(ctx, &source, &naming)?;
            let input = StreamInput::of(&source, query.from.source.alias_or_name());
            plan_stream(ctx, query, target, &input, flow)
        }
        SourceKind::Table => {
            if !query.partition_by.is_empty() {
                return Err(SqlError::semantic(
                    "PARTITION BY is not supported on tables: a table is already keyed by its PRIMARY KEY.",
                ));
            }
            let flow = super::source::table(ctx, &source, &naming)?;
            plan_table(ctx, query, target, &source, flow)
        }
    }
}

fn source_names(source: &DataSource) -> Vec<Vec<String>> {
    vec![
        source
            .schema
            .columns()
            .iter()
            .map(|c| c.name.clone())
            .collect(),
    ]
}

/// What a query over a stream flow reads: one source, or the sources of a join whose
/// result the flow is.
pub struct StreamInput<'a> {
    /// The source whose formats the result inherits (a join's leftmost).
    pub inherit: &'a DataSource,
    /// The names of the sources read.
    pub sources: Vec<String>,
    /// Every source's column names (generated names avoid them).
    pub columns: Vec<Vec<String>>,
    /// The alias qualifying the flow's columns (none for a join's result).
    pub alias: Option<String>,
    /// How errors print the PARTITION BY expressions, if not as written.
    pub partition_display: Option<Vec<String>>,
}

impl<'a> StreamInput<'a> {
    /// One source, under `alias`.
    pub fn of(source: &'a DataSource, alias: &str) -> Self {
        Self {
            inherit: source,
            sources: vec![source.name.clone()],
            columns: source_names(source),
            alias: Some(alias.to_string()),
            partition_display: None,
        }
    }
}

/// Plans a query without aggregation over a stream: WHERE, PARTITION BY, table
/// functions, the projection and the sink.
pub fn plan_stream(
    ctx: &mut PlanContext<'_>,
    query: &Query,
    target: &Target,
    input: &StreamInput<'_>,
    flow: StreamFlow,
) -> Result<PlannedQuery> {
    let source = input.inherit;
    let scope = flow.scope();
    let filter = match &query.where_clause {
        Some(w) => Some(
            ctx.typer(&scope)
                .type_predicate(w, "WHERE")
                .map_err(|e| prefix_error(e, "Invalid Predicate: "))?,
        ),
        None => None,
    };
    let filter = if filter.is_some() {
        Some(not_null_row(filter))
    } else {
        None
    };
    // PARTITION BY re-keys the stream (after the WHERE clause) before the projection.
    let (flow, filter, repartitioned) = if is_partition_by_null(&query.partition_by)? {
        if let Target::Create { properties, .. } = target
            && let Some(format) = properties
                .get("KEY_FORMAT")
                .or_else(|| properties.get("FORMAT"))
            && !format.eq_ignore_ascii_case("NONE")
        {
            return Err(SqlError::semantic(
                "Key format specified for stream without key columns.",
            ));
        }
        (partition_by_null(flow), filter, None)
    } else if query.partition_by.is_empty() {
        (flow, filter, None)
    } else {
        let mut r = repartition(
            ctx,
            &flow,
            &query.partition_by,
            filter.as_ref(),
            input.alias.as_deref(),
        )?;
        if let Some(display) = &input.partition_display {
            r.display = display.clone();
        }
        (r.flow.clone(), None, Some(r))
    };
    let key_columns: Vec<&FlowColumn> = flow
        .columns
        .iter()
        .filter(|c| c.role == Role::Key)
        .collect();
    let key_exprs: Vec<Expr> = match &repartitioned {
        Some(r) => r.key_refs.clone(),
        None => key_columns.iter().map(|c| column_expr(c)).collect(),
    };
    let key_typed: Vec<TExpr> = key_columns
        .iter()
        .map(|c| TExpr::column(c.internal.clone(), c.ty.clone()))
        .collect();
    let mut select = super::select::resolve(&query.select, &flow.columns, &input.columns, false)?;
    if let Some(r) = &repartitioned {
        for item in &mut select {
            if let Some(key) = resolve_select(&item.expr, r) {
                item.expr = key;
            }
        }
    }
    // Table functions: a flat-map step (after the WHERE clause) feeds the projection.
    let (flow, select, filter) = match super::flatmap::plan(ctx, &flow, &select, filter.as_ref())? {
        Some((flow, select)) => (flow, select, None),
        None => (flow, select, filter),
    };
    let scope = flow.scope();
    let result_columns: Vec<(String, TExpr)> = select
        .iter()
        .map(|s| {
            Ok((
                s.alias.clone(),
                ctx.type_in_clause(&scope, &s.expr, "SELECT")?,
            ))
        })
        .collect::<Result<_>>()?;
    for (name, t) in &result_columns {
        if t.is_untyped_null() {
            return Err(SqlError::semantic(format!(
                "Can't infer a type of null. Please explicitly cast it to a required type, e.g. CAST(null AS VARCHAR). (column {name})"
            )));
        }
    }
    if let Target::Transient = target {
        return plan_transient_stream(ctx, query, flow, filter, result_columns, &input.sources);
    }
    let sink_name = match target {
        Target::Create { name, .. } => name.clone(),
        Target::Insert { target } => target.name.clone(),
        Target::Transient => unreachable!("handled above"),
    };
    let key_spec = match &repartitioned {
        Some(r) => KeySpec {
            exprs: key_exprs.clone(),
            display: r.display.clone(),
            kind: "partitioning expression",
        },
        None => KeySpec::columns(key_exprs.clone()),
    };
    // Window bounds are dropped from the value unless aliased.
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
    let split = split_keys(&select_no_bounds, &key_spec, &sink_name, true)?;
    let typed_value = |name: &str| {
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
            .zip(&key_typed)
            .map(|(n, t)| (n.clone(), t.ty.clone().unwrap_or(SqlType::String)))
            .collect(),
        value: split
            .values
            .iter()
            .map(|s| {
                Ok((
                    s.alias.clone(),
                    typed_value(&s.alias)?.ty.unwrap_or(SqlType::String),
                ))
            })
            .collect::<Result<_>>()?,
    };
    if result.value.is_empty() {
        return Err(SqlError::semantic(
            "The projection contains no value columns.",
        ));
    }
    let (sink, sink_topic) = resolve_target(
        ctx,
        target,
        SourceKind::Stream,
        source,
        &result,
        flow.window,
    )?
    .ok_or_else(|| SqlError::semantic("internal: persistent query without a sink"))?;
    // The stage: key columns, value columns, ROWTIME, window bounds, #nullrow.
    let mut outputs: Vec<(String, TExpr)> = Vec::new();
    for (name, t) in split.key_names.iter().zip(&key_typed) {
        outputs.push((name.clone(), t.clone()));
    }
    for s in &split.values {
        outputs.push((s.alias.clone(), typed_value(&s.alias)?));
    }
    // The record time under its own name: a key column may be called ROWTIME.
    outputs.push((
        RECORD_TIME.to_string(),
        rowtime_expr(&sink, &outputs, &flow)?,
    ));
    if flow.window.is_some() {
        outputs.push((
            WINDOWSTART.to_string(),
            TExpr::column(WINDOWSTART, SqlType::BigInt),
        ));
        outputs.push((
            WINDOWEND.to_string(),
            TExpr::column(WINDOWEND, SqlType::BigInt),
        ));
    }
    outputs.push((
        NULL_ROW.to_string(),
        TExpr::column(NULL_ROW, SqlType::Boolean),
    ));
    let out_flow = stream_stage(ctx, &flow, filter.as_ref(), &outputs, "Project")?;
    stream_sink(ctx, &out_flow, &sink, repartitioned.is_none())?;
    ctx.finish_persistent(
        SourceKind::Stream,
        input.sources.clone(),
        sink,
        sink_topic,
        &result,
    )
}

fn plan_transient_stream(
    ctx: &mut PlanContext<'_>,
    _query: &Query,
    flow: StreamFlow,
    filter: Option<TExpr>,
    result_columns: Vec<(String, TExpr)>,
    sources: &[String],
) -> Result<PlannedQuery> {
    let mut outputs = result_columns.clone();
    outputs.push((
        NULL_ROW.to_string(),
        TExpr::column(NULL_ROW, SqlType::Boolean),
    ));
    let out_flow = stream_stage(ctx, &flow, filter.as_ref(), &outputs, "Project")?;
    ctx.finish_transient(
        out_flow.node,
        SourceKind::Stream,
        sources.to_vec(),
        &result_columns,
    )
}

/// Prefixes a statement error's message.
pub fn prefix_error(e: SqlError, prefix: &str) -> SqlError {
    match e {
        SqlError::Statement { pos, message } => SqlError::Statement {
            pos,
            message: format!("{prefix}{message}"),
        },
        other => other,
    }
}
