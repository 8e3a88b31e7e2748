//! The sides of a join read keyed by the join key: a stream side rekeyed by its join
//! expression (through a repartition topic when it must be), a table side by its key.

use std::sync::Arc;

use eddy_streams::serdes::SerdeRef;
use eddy_streams::{KStream, KTable};

use crate::catalog::WindowInfo;
use crate::catalog::schema::{ROWTIME, WINDOWEND, WINDOWSTART};
use crate::error::{Result, SqlError};
use crate::expr::TExpr;
use crate::plan::PlanContext;
use crate::plan::flow::{StreamFlow, TableFlow};
use crate::plan::stream::{stream_stage, table_stage};
use crate::runtime::batch::{NULL_ROW, StageSchema};
use crate::runtime::convert::{FromRecordsNode, RecordLayout, ToRecordsNode};
use crate::runtime::serdes::{RowSerde, WindowedRowSerde};
use crate::serde::{Format, FormatInfo, codec_for};
use crate::types::SqlType;
use crate::value::Row;

use super::{JOIN_KEY, Side, SideFlow};

/// The key serde for join keys of `ty`: the left source's key format when it can hold the
/// key, else KAFKA, else JSON.
pub(super) fn key_serde(
    format: &FormatInfo,
    ty: &SqlType,
    window: Option<WindowInfo>,
) -> Result<SerdeRef<Row>> {
    let format = if format.format != Format::None && format.format.supports(ty) {
        format.clone()
    } else if Format::Kafka.supports(ty) {
        FormatInfo::of(Format::Kafka)
    } else {
        FormatInfo::of(Format::Json)
    };
    let codec = codec_for(&format, vec![(JOIN_KEY.to_string(), ty.clone())], false)?;
    Ok(match window {
        Some(w) => WindowedRowSerde::shared(codec, 1, w.size_ms),
        None => RowSerde::shared(codec, 1),
    })
}

/// Reads a stream side keyed by `key` (its join expression): the stream of records keyed
/// by the join key whose rows hold the side's columns.
pub(super) fn keyed_stream(
    ctx: &mut PlanContext<'_>,
    side: &Side,
    key: &TExpr,
    serde: SerdeRef<Row>,
    needs_repartition: bool,
    name: &str,
) -> Result<KStream<Row, Row>> {
    let row = side.row();
    let value_serde = RowSerde::internal(row.iter().map(|(_, t)| t.clone()).collect());
    let key_ty = key.ty.clone().unwrap_or(SqlType::String);
    match &side.flow {
        SideFlow::Source(source, naming) => {
            let flow = crate::plan::source::stream(ctx, source, naming)?;
            let rowtime = naming.internal(ROWTIME);
            let outputs = key_stage_outputs(key, &row, &rowtime);
            let stage = stream_stage(ctx, &flow, None, &outputs, &format!("{name}-Key"))?;
            // A windowed key is the join key and the window's bounds.
            let mut key = vec![(0, key_ty)];
            if side.window.is_some() {
                for bound in [WINDOWSTART, WINDOWEND] {
                    let internal = naming.internal(bound);
                    let i = row
                        .iter()
                        .position(|(n, _)| *n == internal)
                        .ok_or_else(|| {
                            SqlError::semantic(format!(
                                "internal: no {internal} in a windowed source"
                            ))
                        })?;
                    key.push((i + 1, SqlType::BigInt));
                }
            }
            let layout = RecordLayout {
                key,
                value: row
                    .iter()
                    .enumerate()
                    .map(|(i, (_, t))| (i + 1, t.clone()))
                    .collect(),
                rowtime: row.len() + 1,
                null_row: row.len() + 2,
                drop_null_keys: true,
            };
            let node = ctx.processor(
                &format!("{name}-Records"),
                stage.node,
                Arc::new(move || Box::new(ToRecordsNode::new("JoinRecords", layout.clone()))),
            );
            let stream = KStream::from_node(&ctx.builder, node, Some(serde), Some(value_serde));
            Ok(if needs_repartition {
                ctx.step(format!("Repartition: {name}-repartition"));
                stream.repartition(name)
            } else {
                stream
            })
        }
        SideFlow::Stream(stream) => {
            if !needs_repartition {
                return Ok(stream.clone());
            }
            // Rekey joined rows: back to batches, evaluate the key, records again.
            let mut stage_columns = vec![(
                JOIN_KEY.to_string(),
                side.key_type.clone().unwrap_or(SqlType::String),
            )];
            stage_columns.extend(row.iter().cloned());
            stage_columns.push((ROWTIME.to_string(), SqlType::BigInt));
            stage_columns.push((NULL_ROW.to_string(), SqlType::Boolean));
            let schema = StageSchema::new(stage_columns);
            let s = schema.clone();
            let node = ctx.processor(
                &format!("{name}-Batches"),
                stream.node(),
                Arc::new(move || Box::new(FromRecordsNode::new("JoinBatches", s.clone()))),
            );
            let flow = StreamFlow {
                node,
                schema,
                columns: side.columns.clone(),
                key: Vec::new(),
                window: None,
                qualifiers: side.aliases.clone(),
            };
            let outputs = key_stage_outputs(key, &row, ROWTIME);
            let stage = stream_stage(ctx, &flow, None, &outputs, &format!("{name}-Key"))?;
            let layout = RecordLayout {
                key: vec![(0, key_ty)],
                value: row
                    .iter()
                    .enumerate()
                    .map(|(i, (_, t))| (i + 1, t.clone()))
                    .collect(),
                rowtime: row.len() + 1,
                null_row: row.len() + 2,
                drop_null_keys: true,
            };
            let node = ctx.processor(
                &format!("{name}-Records"),
                stage.node,
                Arc::new(move || Box::new(ToRecordsNode::new("JoinRecords", layout.clone()))),
            );
            ctx.step(format!("Repartition: {name}-repartition"));
            Ok(
                KStream::from_node(&ctx.builder, node, Some(serde), Some(value_serde))
                    .repartition(name),
            )
        }
        SideFlow::Table(_) => Err(SqlError::semantic(
            "internal: a table side read as a stream",
        )),
    }
}

/// Reads a table side keyed by its key: a table whose rows hold the side's columns.
/// With `rekey` (the join's key serde and a store name), a source table whose key format
/// differs from the join's is re-keyed into it through a repartition topic and materialised
/// again, as ksqlDB's `SchemaKTable.selectKey` does for a join (`RightSourceKeyed`).
pub(super) fn keyed_table(
    ctx: &mut PlanContext<'_>,
    side: &Side,
    name: &str,
    rekey: Option<(SerdeRef<Row>, String)>,
) -> Result<KTable<Row, Row>> {
    match &side.flow {
        SideFlow::Source(source, naming) => {
            let flow: TableFlow = crate::plan::source::table(ctx, source, naming)?;
            let key_width = flow.key.len();
            let mut outputs: Vec<(String, TExpr)> = flow
                .key
                .iter()
                .map(|(n, t)| (format!("#key:{n}"), TExpr::column(n.clone(), t.clone())))
                .collect();
            outputs.extend(
                side.row()
                    .into_iter()
                    .map(|(n, t)| (n.clone(), TExpr::column(n, t))),
            );
            let node = table_stage(
                ctx,
                &flow,
                None,
                &outputs,
                key_width,
                &format!("{name}-Prepare"),
            )?;
            let key_serde = crate::plan::source::key_serde(source)?;
            let row_serde = RowSerde::internal(side.row().into_iter().map(|(_, t)| t).collect());
            let Some((join_serde, store)) = rekey else {
                return Ok(KTable::from_node(
                    &ctx.builder,
                    node,
                    None,
                    Some(key_serde),
                    Some(row_serde),
                ));
            };
            let upserts = ctx.processor(
                &format!("{name}-SelectKey"),
                node,
                Arc::new(|| Box::new(UpsertsNode)),
            );
            let stream: KStream<Row, Option<Row>> =
                KStream::from_node(&ctx.builder, upserts, Some(join_serde), None)
                    .mark_for_repartition();
            ctx.step(format!(
                "{name}: re-keyed into the join's key format through {store}-repartition"
            ));
            Ok(KTable::from_upserts(&stream, &store, row_serde))
        }
        SideFlow::Table(t) => Ok(t.clone()),
        SideFlow::Stream(_) => Err(SqlError::semantic(
            "internal: a stream side read as a table",
        )),
    }
}

/// A table's changes as upserts: the new row, or `None` for a delete.
struct UpsertsNode;

impl eddy_streams::processor::Node for UpsertsNode {
    fn process(
        &mut self,
        batch: eddy_streams::processor::AnyBatch,
        ctx: &mut eddy_streams::processor::Context<'_>,
    ) -> eddy_streams::Result<()> {
        let changes = eddy_streams::processor::downcast::<
            Vec<eddy_streams::record::Record<Row, eddy_streams::record::Change<Row>>>,
        >(batch, "Upserts")?;
        let upserts: Vec<eddy_streams::record::Record<Row, Option<Row>>> = changes
            .into_iter()
            .map(|r| eddy_streams::record::Record::new(r.key, r.value.new, r.timestamp))
            .collect();
        ctx.forward_records(upserts);
        Ok(())
    }
}

/// The outputs of a side's key stage: the join key, the side's row, its record time as
/// `#rowtime` (from the column `rowtime`), and the tombstone flag.
fn key_stage_outputs(
    key: &TExpr,
    row: &[(String, SqlType)],
    rowtime: &str,
) -> Vec<(String, TExpr)> {
    let mut outputs = vec![(JOIN_KEY.to_string(), key.clone())];
    outputs.extend(
        row.iter()
            .map(|(n, t)| (n.clone(), TExpr::column(n.clone(), t.clone()))),
    );
    outputs.push((
        "#rowtime".to_string(),
        TExpr::column(rowtime, SqlType::BigInt),
    ));
    outputs.push((
        NULL_ROW.to_string(),
        TExpr::column(NULL_ROW, SqlType::Boolean),
    ));
    outputs
}
