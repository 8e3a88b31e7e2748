//! The vectorised stages a query's stateless steps run in (a stream stage, a table stage
//! whose rejected rows become deletes), and the expressions they share: null rows, ROWTIME.

use std::sync::Arc;

use crate::catalog::DataSource;
use crate::catalog::schema::{ROWTIME, WINDOWEND, WINDOWSTART};
use crate::error::{Result, SqlError};
use crate::expr::{TExpr, TKind};
use crate::parser::ast::BinaryOp;
use crate::plan::PlanContext;
use crate::plan::flow::{FlowColumn, Role, StreamFlow, TableFlow};
use crate::runtime::batch::{NULL_ROW, StageSchema};
use crate::runtime::stage::{StreamStageNode, TableStageNode};
use crate::types::SqlType;
use crate::value::Value;

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

/// ROWTIME of the result: the record time, or the sink's TIMESTAMP column.
pub fn rowtime_expr(
    sink: &DataSource,
    outputs: &[(String, TExpr)],
    flow: &StreamFlow,
) -> Result<TExpr> {
    if let Some(e) = sink_timestamp(sink, outputs)? {
        return Ok(e);
    }
    let internal = flow
        .columns
        .iter()
        .find(|c| {
            c.role == Role::Pseudo
                && (c.name == ROWTIME || c.name == format!("#shadowed_{ROWTIME}"))
        })
        .map(|c| c.internal.clone())
        .unwrap_or_else(|| ROWTIME.to_string());
    Ok(TExpr::column(internal, SqlType::BigInt))
}

/// The sink's TIMESTAMP column among `outputs`, as epoch milliseconds; `None` when the
/// sink has none (the record time is written).
pub fn sink_timestamp(sink: &DataSource, outputs: &[(String, TExpr)]) -> Result<Option<TExpr>> {
    let Some(ts) = &sink.timestamp else {
        return Ok(None);
    };
    let e = outputs
        .iter()
        .find(|(n, _)| n == &ts.column)
        .map(|(_, e)| e.clone())
        .ok_or_else(|| SqlError::semantic(format!("no column {} for TIMESTAMP", ts.column)))?;
    timestamp_to_bigint(e, ts.format.as_deref()).map(Some)
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
