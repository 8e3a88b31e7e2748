//! Queries over one stream or table without aggregation: WHERE, PARTITION BY, table
//! functions and the projection, fused into one vectorised stage (a table's changes go
//! through a table stage instead), then the sink.

use std::sync::Arc;

use super::flow::{FlowColumn, Role, StreamFlow, TableFlow};
use super::partition::{is_partition_by_null, partition_by_null, repartition, resolve_select};
use super::select::{SelectColumn, same_expr};
use super::sink::{ResultSchema, resolve_target, stream_sink, table_sink};
use super::source::SourceNaming;
use super::{PlanContext, PlannedQuery, Target, TransientOutput};
use crate::catalog::DataSource;
use crate::catalog::schema::{ROWTIME, WINDOWEND, WINDOWSTART};
use crate::error::{Result, SqlError};
use crate::expr::{TExpr, TKind};
use crate::parser::ast::{BinaryOp, Expr, ExprKind, Query, SourceKind};
use crate::runtime::batch::{NULL_ROW, StageSchema};
use crate::runtime::stage::{StreamStageNode, TableStageNode};
use crate::runtime::transient::{StreamPushNode, TablePushNode};
use crate::types::SqlType;
use crate::value::Value;

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

/// `NOT #nullrow AND predicate`: null rows never pass a WHERE clause.
pub fn not_null_row(predicate: Option<TExpr>) -> TExpr {
    let not_null = TExpr::new(
        TKind::Not(Box::new(TExpr::column(NULL_ROW, SqlType::Boolean))),
        Some(SqlType::Boolean),
    );
    match predicate {
        None => not_null,
        Some(p) => TExpr::new(
            TKind::Binary {
                op: BinaryOp::And,
                left: Box::new(not_null),
                right: Box::new(p),
            },
            Some(SqlType::Boolean),
        ),
    }
}

/// `CASE WHEN #nullrow THEN NULL ELSE e END`.
pub fn null_on_null_row(e: TExpr) -> TExpr {
    let ty = e.ty.clone();
    TExpr::new(
        TKind::Case {
            whens: vec![(
                TExpr::column(NULL_ROW, SqlType::Boolean),
                TExpr::literal(Value::Null, ty.clone().unwrap_or(SqlType::String)),
            )],
            else_result: Some(Box::new(e)),
        },
        ty,
    )
}

/// The select's expressions that are the key, and the rest.
pub struct SplitSelect {
    /// Per key column: the output name.
    pub key_names: Vec<String>,
    /// The value columns: name and expression.
    pub values: Vec<SelectColumn>,
}

/// The sink's TIMESTAMP property must name a result column (checked before the key, as
/// ksqlDB does).
pub fn check_timestamp_column(target: &Target, select: &[SelectColumn]) -> Result<()> {
    let Target::Create { properties, .. } = target else {
        return Ok(());
    };
    let Some(column) = properties.get("TIMESTAMP") else {
        return Ok(());
    };
    let column = column.trim().to_ascii_uppercase();
    if select.iter().any(|s| s.alias == column) {
        return Ok(());
    }
    Err(SqlError::semantic(format!(
        "The TIMESTAMP column set in the WITH clause does not exist in the schema: '{column}'"
    )))
}

/// What a persistent query's key is made of, for [`split_keys`].
pub struct KeySpec {
    /// Per key column, the select expression that is it.
    pub exprs: Vec<Expr>,
    /// The key expressions as errors name them.
    pub display: Vec<String>,
    /// What errors call them ("key column", "grouping expression", ...).
    pub kind: &'static str,
}

impl KeySpec {
    /// A key of existing columns.
    pub fn columns(exprs: Vec<Expr>) -> Self {
        Self {
            display: exprs
                .iter()
                .map(|e| match &e.kind {
                    ExprKind::Column { name, .. } => name.clone(),
                    _ => e.to_string(),
                })
                .collect(),
            exprs,
            kind: "key column",
        }
    }
}

/// Splits a persistent query's projection into key columns (a select item that is the
/// key expression `key.exprs[i]`, at most once each) and values, with ksqlDB's errors.
pub fn split_keys(
    select: &[SelectColumn],
    key: &KeySpec,
    sink_name: &str,
    single_source: bool,
) -> Result<SplitSelect> {
    let mut aliases: Vec<Vec<String>> = vec![Vec::new(); key.exprs.len()];
    let mut values = Vec::new();
    for item in select {
        match key
            .exprs
            .iter()
            .position(|k| same_expr(&item.expr, k, single_source))
        {
            Some(i) => aliases[i].push(item.alias.clone()),
            None => values.push(item.clone()),
        }
    }
    for (i, names) in aliases.iter().enumerate() {
        if names.len() > 1 {
            let mut names = names.clone();
            names.sort();
            let column = match &key.exprs[i].kind {
                ExprKind::Column { name, .. } => format!("`{name}`"),
                _ => key.display[i].clone(),
            };
            return Err(SqlError::semantic(format!(
                "The projection contains a key column ({column}) more than once, aliased as: {}.\nEach key column must only be in the projection once. If you intended to copy the key into the value, then consider using the AS_VALUE function to indicate which key reference should be copied.",
                join_and(&names)
            )));
        }
    }
    if aliases.iter().any(Vec::is_empty) {
        return Err(keys_not_included(
            sink_name,
            key.kind,
            &key.display,
            true,
            false,
        ));
    }
    Ok(SplitSelect {
        key_names: aliases.into_iter().map(|mut a| a.remove(0)).collect(),
        values,
    })
}

/// ksqlDB's error for a persistent query whose projection lacks its key: `required` are
/// the key expressions (all of them needed, or any one when not `require_all`),
/// `synthetic` when the key is a join's synthetic column.
pub fn keys_not_included(
    sink_name: &str,
    kind: &str,
    required: &[String],
    require_all: bool,
    synthetic: bool,
) -> SqlError {
    let key_plural = if require_all && required.len() > 1 {
        "s"
    } else {
        ""
    };
    let kinds = if required.len() == 1 {
        kind.to_string()
    } else {
        format!("{kind}s")
    };
    let joined = if require_all {
        join_and(required)
    } else {
        join_grammatical(required, "or")
    };
    let example = if require_all {
        required.join(", ")
    } else {
        required.first().cloned().unwrap_or_default()
    };
    let see = if synthetic {
        "See https://cnfl.io/2LV7ouS."
    } else {
        ""
    };
    let why = if synthetic {
        format!(
            "\n{} was added as a synthetic key column because the join criteria did not match \
             any source column. This expression must be included in the projection and may be \
             aliased. ",
            required.first().cloned().unwrap_or_default()
        )
    } else {
        String::new()
    };
    SqlError::semantic(format!(
        "Key{key_plural} missing from projection (ie, SELECT). {see}\nThe query used to build \
         `{sink_name}` must include the {kinds} {joined} in its projection (eg, SELECT \
         {example}...).{why}"
    ))
}

/// `A`, `A or B`, `A, B or C` (Guava-style grammatical joining with `word`).
pub fn join_grammatical(items: &[String], word: &str) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} {word} {last}", init.join(", ")),
    }
}

/// `A`, `A and B`, `A, B and C`.
pub fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
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
    let topology = ctx.build()?;
    Ok(PlannedQuery {
        topology,
        sink: Some(sink),
        sources: input.sources.clone(),
        result_kind: SourceKind::Stream,
        columns: result.key.iter().chain(&result.value).cloned().collect(),
        steps: std::mem::take(&mut ctx.steps),
        stages: std::mem::take(&mut ctx.stages),
        sink_topic,
        log: ctx.log.clone(),
        transient_output: None,
    })
}

/// ROWTIME of the result: the record time, or the sink's TIMESTAMP column.
pub fn rowtime_expr(
    sink: &DataSource,
    outputs: &[(String, TExpr)],
    flow: &StreamFlow,
) -> Result<TExpr> {
    let Some(ts) = &sink.timestamp else {
        let internal = flow
            .columns
            .iter()
            .find(|c| {
                c.role == Role::Pseudo
                    && (c.name == ROWTIME || c.name == format!("#shadowed_{ROWTIME}"))
            })
            .map(|c| c.internal.clone())
            .unwrap_or_else(|| ROWTIME.to_string());
        return Ok(TExpr::column(internal, SqlType::BigInt));
    };
    let e = outputs
        .iter()
        .find(|(n, _)| n == &ts.column)
        .map(|(_, e)| e.clone())
        .ok_or_else(|| SqlError::semantic(format!("no column {} for TIMESTAMP", ts.column)))?;
    timestamp_to_bigint(e, ts.format.as_deref())
}

/// A BIGINT, TIMESTAMP or (with a pattern) STRING expression as epoch milliseconds.
pub fn timestamp_to_bigint(e: TExpr, format: Option<&str>) -> Result<TExpr> {
    Ok(match (&e.ty, format) {
        (Some(SqlType::String), Some(pattern)) => {
            let pattern = crate::functions::java_time::JavaPattern::compile(pattern)?;
            TExpr::new(
                TKind::Call {
                    name: "PARSE_TIMESTAMP".into(),
                    implementation: crate::functions::Implementation::Row {
                        f: Arc::new(move |a| match &a[0] {
                            Value::String(s) => {
                                Ok(Value::BigInt(pattern.parse_timestamp(
                                    s,
                                    &crate::functions::java_time::Zone::utc(),
                                )?))
                            }
                            _ => Ok(Value::Null),
                        }),
                        nulls: crate::functions::Nulls::Propagate,
                    },
                    args: vec![e],
                },
                Some(SqlType::BigInt),
            )
        }
        _ => e.cast_to(&SqlType::BigInt),
    })
}

/// Adds a vectorised stage after `flow`: `filter`, then `outputs` (which become the
/// stage's columns). The result's columns are named by the outputs.
pub fn stream_stage(
    ctx: &mut PlanContext<'_>,
    flow: &StreamFlow,
    filter: Option<&TExpr>,
    outputs: &[(String, TExpr)],
    step: &str,
) -> Result<StreamFlow> {
    let (program, plan) = ctx
        .compiler
        .program(&flow.schema.columns, filter, outputs)?;
    let program = Arc::new(program);
    let log = ctx.log.clone();
    let name = step.to_string();
    let node = ctx.processor(
        step,
        flow.node,
        Arc::new(move || Box::new(StreamStageNode::new(&name, program.clone(), log.clone()))),
    );
    ctx.step(format!(
        "{step}: {}{}",
        filter.map(|f| format!("filter {f}; ")).unwrap_or_default(),
        outputs
            .iter()
            .filter(|(n, _)| n != NULL_ROW)
            .map(|(n, e)| format!("{e} AS {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    ctx.stages.push((step.to_string(), plan));
    let schema = StageSchema::new(
        outputs
            .iter()
            .map(|(n, e)| (n.clone(), e.ty.clone().unwrap_or(SqlType::String)))
            .collect(),
    );
    Ok(StreamFlow {
        node,
        columns: schema
            .columns
            .iter()
            .filter(|(n, _)| n != NULL_ROW)
            .map(|(n, t)| FlowColumn {
                qualifier: None,
                name: n.clone(),
                internal: n.clone(),
                ty: t.clone(),
                role: if n == ROWTIME {
                    Role::Pseudo
                } else if n == WINDOWSTART || n == WINDOWEND {
                    Role::WindowBound
                } else {
                    Role::Value
                },
            })
            .collect(),
        schema,
        key: Vec::new(),
        window: flow.window,
        qualifiers: Vec::new(),
    })
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
    let columns: Vec<(String, SqlType)> = result_columns
        .iter()
        .map(|(n, t)| (n.clone(), t.ty.clone().unwrap_or(SqlType::String)))
        .collect();
    if let Some(sender) = ctx.push.clone() {
        let indexed: Vec<(usize, SqlType)> = columns
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, (_, t))| (i, t))
            .collect();
        let null_row = columns.len();
        ctx.processor(
            "Push",
            out_flow.node,
            Arc::new(move || {
                Box::new(StreamPushNode::new(
                    "Push",
                    indexed.clone(),
                    null_row,
                    sender.clone(),
                ))
            }),
        );
    }
    let topology = ctx.build()?;
    Ok(PlannedQuery {
        topology,
        sink: None,
        sources: sources.to_vec(),
        result_kind: SourceKind::Stream,
        columns: columns.clone(),
        steps: std::mem::take(&mut ctx.steps),
        stages: std::mem::take(&mut ctx.stages),
        sink_topic: None,
        log: ctx.log.clone(),
        transient_output: Some(TransientOutput { columns }),
    })
}

/// Adds a table stage after `flow`: `filter` (rejected rows become deletes) and `outputs`,
/// whose first `key_width` are the output key.
pub fn table_stage(
    ctx: &mut PlanContext<'_>,
    flow: &TableFlow,
    filter: Option<&TExpr>,
    outputs: &[(String, TExpr)],
    key_width: usize,
    step: &str,
) -> Result<eddy_streams::processor::NodeId> {
    table_stage_with(ctx, flow, filter, outputs, key_width, step, false)
}

/// [`table_stage`], optionally giving the program each record's time as a last `ROWTIME`
/// input column (for tables whose rows do not carry it: join results).
pub fn table_stage_with(
    ctx: &mut PlanContext<'_>,
    flow: &TableFlow,
    filter: Option<&TExpr>,
    outputs: &[(String, TExpr)],
    key_width: usize,
    step: &str,
    record_time: bool,
) -> Result<eddy_streams::processor::NodeId> {
    let mut input = flow.stage_schema();
    if record_time {
        input.columns.push((ROWTIME.to_string(), SqlType::BigInt));
    }
    let (program, plan) = ctx.compiler.program(&input.columns, filter, outputs)?;
    let program = Arc::new(program);
    let log = ctx.log.clone();
    let name = step.to_string();
    let node = ctx.processor(
        step,
        flow.table.node(),
        Arc::new(move || {
            let node = TableStageNode::new(
                &name,
                program.clone(),
                input.clone(),
                key_width,
                log.clone(),
            );
            Box::new(if record_time {
                node.with_record_time()
            } else {
                node
            })
        }),
    );
    ctx.step(format!(
        "{step}: {}{}",
        filter.map(|f| format!("filter {f}; ")).unwrap_or_default(),
        outputs
            .iter()
            .map(|(n, e)| format!("{e} AS {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    ctx.stages.push((step.to_string(), plan));
    Ok(node)
}

fn plan_table(
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
        super::select::resolve(&query.select, &flow.columns, &source_names(source), false)?;
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
        let columns: Vec<(String, SqlType)> = result_columns
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
            sources: vec![source.name.clone()],
            result_kind: SourceKind::Table,
            columns: columns.clone(),
            steps: std::mem::take(&mut ctx.steps),
            stages: std::mem::take(&mut ctx.stages),
            sink_topic: None,
            log: ctx.log.clone(),
            transient_output: Some(TransientOutput { columns }),
        });
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
    let rowtime = match &sink.timestamp {
        Some(ts) => {
            let e = outputs
                .iter()
                .find(|(n, _)| n == &ts.column)
                .map(|(_, e)| e.clone())
                .ok_or_else(|| SqlError::semantic("no TIMESTAMP column"))?;
            timestamp_to_bigint(e, ts.format.as_deref())?
        }
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
    let topology = ctx.build()?;
    Ok(PlannedQuery {
        topology,
        sink: Some(sink),
        sources: vec![source.name.clone()],
        result_kind: SourceKind::Table,
        columns: result.key.iter().chain(&result.value).cloned().collect(),
        steps: std::mem::take(&mut ctx.steps),
        stages: std::mem::take(&mut ctx.stages),
        sink_topic,
        log: ctx.log.clone(),
        transient_output: None,
    })
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
