//! Reading a stream or a table: the raw source node, the decoding node, and the flow's
//! columns. A table is materialised in a state store (`<node>-Reduce`, as ksqlDB names the
//! store of a source table), so that its changes carry old values for aggregations and
//! joins.

use std::sync::Arc;

use eddy_streams::topology::TopicName;
use eddy_streams::{KStream, KTable};

use super::PlanContext;
use super::flow::{FlowColumn, Role, StreamFlow, TableFlow};
use crate::catalog::schema::{
    ColumnKind, ROWOFFSET, ROWPARTITION, ROWTIME, WINDOWEND, WINDOWSTART,
};
use crate::catalog::{DataSource, TimestampColumn};
use crate::error::{Result, SqlError};
use crate::functions::java_time::JavaPattern;
use crate::parser::ast::SourceKind;
use crate::runtime::batch::StageSchema;
use crate::runtime::serdes::{RowSerde, WindowedRowSerde};
use crate::runtime::source::{
    NonKeySource, SourceDecoder, StreamDecodeNode, TableDecodeNode, TimestampSource,
};
use crate::serde::codec_for;
use crate::types::SqlType;
use crate::value::Row;

/// How a source's columns are named inside the query.
#[derive(Debug, Clone)]
pub struct SourceNaming {
    /// The alias (or name) that qualifies the source's columns.
    pub alias: String,
    /// Prefix internal names with the alias (`L_ID`), as in joins.
    pub prefixed: bool,
    /// The ksqlDB plan node id, used in store names (`KsqlTopic`, `KafkaTopic_Left`).
    pub node_id: String,
}

impl SourceNaming {
    /// The internal name of a column.
    pub fn internal(&self, name: &str) -> String {
        if self.prefixed {
            format!("{}_{name}", self.alias)
        } else {
            name.to_string()
        }
    }
}

/// The decoder of a source's records.
pub fn decoder(ctx: &PlanContext<'_>, source: &DataSource) -> Result<SourceDecoder> {
    let key_columns = source.key_columns();
    let value_columns = source.value_columns();
    let key = codec_for(&source.key_format, key_columns.clone(), false)?;
    let value = codec_for(
        &source.value_format,
        value_columns.clone(),
        source.wrap_single_value,
    )?;
    let mut non_key = Vec::new();
    let mut value_index = 0;
    for column in source.schema.non_key_columns() {
        non_key.push(match &column.kind {
            ColumnKind::Value => {
                value_index += 1;
                NonKeySource::Value(value_index - 1)
            }
            ColumnKind::Headers => NonKeySource::Headers,
            ColumnKind::Header(k) => NonKeySource::Header(k.clone()),
            ColumnKind::Key => unreachable!("non-key columns"),
        });
    }
    let timestamp = match &source.timestamp {
        None => TimestampSource::Record,
        Some(TimestampColumn { column, format }) => {
            let index = source
                .schema
                .non_key_columns()
                .position(|c| &c.name == column)
                .ok_or_else(|| {
                    SqlError::semantic(format!(
                        "The TIMESTAMP column set in the WITH clause does not exist in the schema: '{column}'"
                    ))
                })?;
            let ty = &source
                .schema
                .find(column)
                .map(|c| c.ty.clone())
                .unwrap_or(SqlType::BigInt);
            match (ty, format) {
                (SqlType::String, Some(f)) => {
                    TimestampSource::Formatted(index, JavaPattern::compile(f)?)
                }
                (SqlType::String, None) => {
                    return Err(SqlError::semantic(
                        "A TIMESTAMP column of type STRING needs a TIMESTAMP_FORMAT",
                    ));
                }
                _ => TimestampSource::Column(index),
            }
        }
    };
    Ok(SourceDecoder {
        key,
        key_width: key_columns.len(),
        value,
        value_width: value_columns.len(),
        window: source.window,
        non_key,
        timestamp,
        log: ctx.log.clone(),
        topic: source.topic.clone(),
    })
}

/// The flow columns of a source: keys, non-key columns, pseudo columns, window bounds.
fn source_columns(source: &DataSource, naming: &SourceNaming) -> Vec<FlowColumn> {
    let column = |name: &str, ty: SqlType, role| FlowColumn {
        qualifier: Some(naming.alias.clone()),
        name: name.to_string(),
        internal: naming.internal(name),
        ty,
        role,
    };
    let mut columns: Vec<FlowColumn> = source
        .schema
        .columns()
        .iter()
        .map(|c| {
            column(
                &c.name,
                c.ty.clone(),
                if c.kind == ColumnKind::Key {
                    Role::Key
                } else {
                    Role::Value
                },
            )
        })
        .collect();
    columns.push(column(ROWTIME, SqlType::BigInt, Role::Pseudo));
    columns.push(column(ROWPARTITION, SqlType::Int, Role::Pseudo));
    columns.push(column(ROWOFFSET, SqlType::BigInt, Role::Pseudo));
    if source.window.is_some() {
        columns.push(column(WINDOWSTART, SqlType::BigInt, Role::WindowBound));
        columns.push(column(WINDOWEND, SqlType::BigInt, Role::WindowBound));
    }
    columns
}

/// Reads a stream.
pub fn stream(
    ctx: &mut PlanContext<'_>,
    source: &DataSource,
    naming: &SourceNaming,
) -> Result<StreamFlow> {
    let decoder = Arc::new(decoder(ctx, source)?);
    let columns = source_columns(source, naming);
    let mut stage: Vec<(String, SqlType)> = columns
        .iter()
        .map(|c| (c.internal.clone(), c.ty.clone()))
        .collect();
    stage.push((
        crate::runtime::batch::NULL_ROW.to_string(),
        SqlType::Boolean,
    ));
    let schema = StageSchema::new(stage);
    let name = ctx.node_name(&format!("{}-Source", naming.node_id));
    let raw = ctx
        .graph()
        .add_source(name, vec![TopicName::External(source.topic.clone())]);
    let node_schema = schema.clone();
    let node = ctx.processor(
        &format!("{}-Decode", naming.node_id),
        raw,
        Arc::new(move || {
            Box::new(StreamDecodeNode::new(
                "Decode",
                decoder.clone(),
                node_schema.clone(),
            ))
        }),
    );
    ctx.step(format!(
        "{} StreamSource: {} ({}, key {}, value {})",
        naming.node_id,
        source.topic,
        source.name,
        source.key_format.format,
        source.value_format.format
    ));
    Ok(StreamFlow {
        node,
        schema,
        key: source
            .schema
            .key_columns()
            .map(|c| naming.internal(&c.name))
            .collect(),
        columns,
        window: source.window,
        qualifiers: vec![naming.alias.clone()],
    })
}

/// The key serde of a source's (or a result's) keys: the key format, windowed if needed.
pub fn key_serde(source: &DataSource) -> Result<eddy_streams::serdes::SerdeRef<Row>> {
    let key_columns = source.key_columns();
    let codec = codec_for(&source.key_format, key_columns.clone(), false)?;
    Ok(match &source.window {
        Some(w) => WindowedRowSerde::shared(codec, key_columns.len(), w.size_ms),
        None => RowSerde::shared(codec, key_columns.len()),
    })
}

/// Reads a table, materialised in `<node id>-Reduce`.
pub fn table(
    ctx: &mut PlanContext<'_>,
    source: &DataSource,
    naming: &SourceNaming,
) -> Result<TableFlow> {
    if source.kind != SourceKind::Table {
        return Err(SqlError::semantic(format!(
            "{} is not a table",
            source.name
        )));
    }
    let decoder = Arc::new(decoder(ctx, source)?);
    let columns = source_columns(source, naming);
    let mut key: Vec<(String, SqlType)> = columns
        .iter()
        .filter(|c| c.role == Role::Key)
        .map(|c| (c.internal.clone(), c.ty.clone()))
        .collect();
    key.extend(
        columns
            .iter()
            .filter(|c| c.role == Role::WindowBound)
            .map(|c| (c.internal.clone(), c.ty.clone())),
    );
    let row: Vec<(String, SqlType)> = columns
        .iter()
        .filter(|c| matches!(c.role, Role::Value | Role::Pseudo))
        .map(|c| (c.internal.clone(), c.ty.clone()))
        .collect();
    let name = ctx.node_name(&format!("{}-Source", naming.node_id));
    let raw = ctx
        .graph()
        .add_source(name, vec![TopicName::External(source.topic.clone())]);
    let node = ctx.processor(
        &format!("{}-Decode", naming.node_id),
        raw,
        Arc::new(move || Box::new(TableDecodeNode::new("Decode", decoder.clone()))),
    );
    let key_serde = key_serde(source)?;
    let upserts: KStream<Row, Option<Row>> =
        KStream::from_node(&ctx.builder, node, Some(key_serde), None);
    let store = format!("{}-Reduce", naming.node_id);
    let value_serde = RowSerde::internal(row.iter().map(|(_, t)| t.clone()).collect());
    let table = KTable::from_upserts(&upserts, &store, value_serde);
    ctx.step(format!(
        "{} TableSource: {} ({}, key {}, value {}), materialised in {store}",
        naming.node_id,
        source.topic,
        source.name,
        source.key_format.format,
        source.value_format.format
    ));
    Ok(TableFlow {
        table,
        key,
        row,
        columns,
        window: source.window,
        qualifiers: vec![naming.alias.clone()],
        store: Some(store),
    })
}
