//! The aggregation's operators: the rows regrouped by the grouping values (a stream
//! repartitioned unless already keyed by them, a table's changes regrouped) and folded into
//! the states by eddy-streams' (windowed) aggregation operators.

use std::sync::Arc;

use eddy_streams::processor::NodeId;
use eddy_streams::serdes::SerdeRef;
use eddy_streams::{EmitStrategy, KStream, KTable};

use crate::catalog::WindowInfo;
use crate::catalog::schema::ROWTIME;
use crate::error::Result;
use crate::expr::TExpr;
use crate::parser::ast::{Expr, ExprKind};
use crate::plan::PlanContext;
use crate::plan::flow::{FlowColumn, Role, StreamFlow};
use crate::plan::stream::{not_null_row, stream_stage, table_stage};
use crate::runtime::aggregate::{AggregateResultNode, AggregateSpec, ResultTime};
use crate::runtime::batch::NULL_ROW;
use crate::runtime::convert::{RecordLayout, ToRecordsNode};
use crate::types::SqlType;
use crate::value::Row;

use super::Input;
use super::STORE;
use super::windows::WindowSetup;

/// The input of the aggregation: grouped rows (key = grouping values, value = arguments
/// then ROWTIME) from a stream, or a table's changes regrouped.
pub(super) enum Grouped {
    Stream(KStream<Row, Row>),
    Table(eddy_streams::KGroupedTable<Row, Row>),
}

/// Regroups the input by the grouping values. `pre_outputs` are the grouping values
/// (`n_keys` of them) then the aggregate calls' arguments, per input row.
pub(super) fn group(
    ctx: &mut PlanContext<'_>,
    group_by: &[Expr],
    input: Input,
    filter: Option<TExpr>,
    mut pre_outputs: Vec<(String, TExpr)>,
    n_keys: usize,
    (key_serde, value_serde): (SerdeRef<Row>, SerdeRef<Row>),
) -> Result<Grouped> {
    Ok(match input {
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
            let by_key = is_grouped_by_key(group_by, &flow);
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
    })
}

/// Folds the grouped rows into the states in the store [`STORE`], and turns the states into
/// results: the node of the aggregation's results.
pub(super) fn fold(
    ctx: &mut PlanContext<'_>,
    grouped: Grouped,
    window: Option<(WindowInfo, WindowSetup)>,
    spec: Arc<AggregateSpec>,
    state_serde: SerdeRef<Row>,
    emit_final: bool,
) -> NodeId {
    let s1 = spec.clone();
    let s2 = spec.clone();
    let s3 = spec.clone();
    let init = move || s1.init();
    match (grouped, window) {
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
    }
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
