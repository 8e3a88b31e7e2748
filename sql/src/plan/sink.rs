//! The result of a persistent query as a source ([`sink_source`]: topic, formats inherited
//! from the query's source unless the statement sets them, key and value columns, window,
//! timestamp column), checks of `INSERT INTO` targets, and the sink nodes.

use std::sync::Arc;

use eddy_streams::processor::NodeId;
use eddy_streams::topology::TopicName;

use super::flow::StreamFlow;
use super::{PlanContext, Target};
use crate::catalog::schema::{Column, ColumnKind, LogicalSchema};
use crate::catalog::{DataSource, TimestampColumn, WindowInfo};
use crate::error::{Result, SqlError};
use crate::parser::ast::{Properties, SourceKind};
use crate::runtime::sink::{SinkLayout, StreamSinkNode, TableSinkNode};
use crate::serde::format::{FormatInfo, check_columns};
use crate::serde::{Format, codec_for};
use crate::types::SqlType;

/// The properties `CREATE ... AS SELECT` accepts.
const SINK_PROPERTIES: &[&str] = &[
    "KAFKA_TOPIC",
    "KEY_FORMAT",
    "VALUE_FORMAT",
    "FORMAT",
    "PARTITIONS",
    "REPLICAS",
    "TIMESTAMP",
    "TIMESTAMP_FORMAT",
    "WRAP_SINGLE_VALUE",
    "VALUE_DELIMITER",
    "KEY_DELIMITER",
    "RETENTION_MS",
];

/// The result's columns: name, type and whether each is a key column.
#[derive(Debug, Clone)]
pub struct ResultSchema {
    /// Key columns (window bounds excluded).
    pub key: Vec<(String, SqlType)>,
    /// Value columns.
    pub value: Vec<(String, SqlType)>,
}

impl ResultSchema {
    /// As a logical schema.
    pub fn logical(&self) -> LogicalSchema {
        LogicalSchema::new(
            self.key
                .iter()
                .map(|(n, t)| Column::new(n, t.clone(), ColumnKind::Key))
                .chain(
                    self.value
                        .iter()
                        .map(|(n, t)| Column::new(n, t.clone(), ColumnKind::Value)),
                )
                .collect(),
        )
    }
}

fn format_property(properties: &Properties, names: &[&str]) -> Result<Option<FormatInfo>> {
    for name in names {
        if let Some(v) = properties.get(name) {
            return Ok(Some(FormatInfo::of(Format::parse(&v)?)));
        }
    }
    Ok(None)
}

/// The source a `CREATE ... AS SELECT` makes, from its properties, the query's leftmost
/// source (`inherit`) and the result's columns.
#[allow(clippy::too_many_arguments)]
pub fn sink_source(
    ctx: &PlanContext<'_>,
    name: &str,
    kind: SourceKind,
    properties: &Properties,
    sql: &str,
    inherit: &DataSource,
    result: &ResultSchema,
    window: Option<WindowInfo>,
) -> Result<(DataSource, Option<i32>)> {
    for p in properties.values.keys() {
        if !SINK_PROPERTIES.contains(&p.as_str()) {
            return Err(SqlError::semantic(format!(
                "Invalid config variable(s) in the WITH clause: {p}"
            )));
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for (n, _) in result.key.iter().chain(&result.value) {
        if !seen.insert(n.as_str()) {
            return Err(SqlError::semantic(format!(
                "Duplicate column name: `{n}`. Each column of {name} must have a distinct name."
            )));
        }
    }
    let topic = properties
        .get("KAFKA_TOPIC")
        .unwrap_or_else(|| format!("{}{name}", ctx.config.output_topic_prefix()));
    let partitions = match properties.get("PARTITIONS") {
        Some(p) => Some(
            p.trim()
                .parse::<i32>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| SqlError::semantic(format!("Invalid number of partitions: {p}")))?,
        ),
        None => ctx
            .config
            .int(crate::engine::config::SINK_PARTITIONS)
            .map(|n| n as i32),
    };
    let mut key_format = match format_property(properties, &["KEY_FORMAT", "FORMAT"])? {
        Some(f) => f,
        None => {
            let inherited = inherit.key_format.clone();
            if inherited.format == Format::None && !result.key.is_empty() {
                FormatInfo::of(Format::parse(ctx.config.default_key_format())?)
            } else {
                inherited
            }
        }
    };
    if result.key.is_empty() {
        key_format = FormatInfo::of(Format::None);
    }
    let mut value_format = match format_property(properties, &["VALUE_FORMAT", "FORMAT"])? {
        Some(f) => f,
        None => inherit.value_format.clone(),
    };
    crate::engine::ddl::apply_delimiter(properties, "KEY_DELIMITER", &mut key_format)?;
    crate::engine::ddl::apply_delimiter(properties, "VALUE_DELIMITER", &mut value_format)?;
    let wrap = match properties.get("WRAP_SINGLE_VALUE") {
        Some(v) => Some(v.eq_ignore_ascii_case("true")),
        None => ctx.config.wrap_single_values(),
    };
    let logical = result.logical();
    let keys: Vec<&Column> = logical.key_columns().collect();
    let values: Vec<&Column> = logical.value_columns().collect();
    check_columns(&key_format, &keys, true, None)?;
    check_columns(
        &value_format,
        &values,
        false,
        wrap.filter(|_| values.len() == 1),
    )?;
    if keys.iter().any(|c| c.ty.contains_map()) {
        let c = keys
            .iter()
            .find(|c| c.ty.contains_map())
            .map(|c| (*c).clone());
        if let Some(c) = c {
            return Err(SqlError::semantic(format!(
                "Map keys, including types that contain maps, are not supported as they may lead to unexpected behavior due to inconsistent serialization. Key column name: `{}`. Column type: {}. See https://github.com/confluentinc/ksql/issues/6621 for more.",
                c.name, c.ty
            )));
        }
    }
    let timestamp = match properties.get("TIMESTAMP") {
        None => None,
        Some(column) => {
            let column = column.trim().to_ascii_uppercase();
            let c = logical.find(&column).ok_or_else(|| {
                SqlError::semantic(format!(
                    "The TIMESTAMP column set in the WITH clause does not exist in the schema: '{column}'"
                ))
            })?;
            let format = properties.get("TIMESTAMP_FORMAT");
            match (&c.ty, &format) {
                (SqlType::BigInt | SqlType::Timestamp, _) | (SqlType::String, Some(_)) => {}
                _ => {
                    return Err(SqlError::semantic(format!(
                        "Timestamp column, `{column}`, should be LONG(INT64), TIMESTAMP, or a String with a timestamp_format specified."
                    )));
                }
            }
            Some(TimestampColumn { column, format })
        }
    };
    Ok((
        DataSource {
            name: name.to_string(),
            kind,
            schema: logical,
            topic,
            key_format,
            value_format,
            wrap_single_value: wrap.unwrap_or(true),
            window,
            timestamp,
            is_source: false,
            is_sink: true,
            sql: sql.to_string(),
        },
        partitions,
    ))
}

/// Checks that a query's result fits an `INSERT INTO` target.
pub fn check_insert(
    target: &DataSource,
    result: &ResultSchema,
    window: Option<WindowInfo>,
) -> Result<()> {
    let result_schema = result.logical();
    let same = result_schema.columns().len() == target.schema.columns().len()
        && result_schema
            .columns()
            .iter()
            .zip(target.schema.columns())
            .all(|(a, b)| {
                a.name == b.name
                    && a.ty == b.ty
                    && (a.kind == ColumnKind::Key) == (b.kind == ColumnKind::Key)
            });
    if !same {
        return Err(SqlError::semantic(format!(
            "Incompatible schema between results and sink.\nResult schema is {result_schema}\nSink schema is {}",
            target.schema
        )));
    }
    if window.map(|w| w.kind) != target.window.map(|w| w.kind) {
        return Err(SqlError::semantic(format!(
            "Incompatible key format between results and sink: {} is {}windowed",
            target.name,
            if target.window.is_some() { "" } else { "not " }
        )));
    }
    Ok(())
}

/// Adds a stream sink after `flow`, whose stage holds the result's key columns, value
/// columns, the record time, window bounds (if windowed) and `#nullrow`, writing `sink`'s
/// topic; `source_key` says the key columns are the source's (an all-NULL key was read as
/// a null key and is written as one).
pub fn stream_sink(
    ctx: &mut PlanContext<'_>,
    flow: &StreamFlow,
    sink: &DataSource,
    source_key: bool,
) -> Result<NodeId> {
    let index = |name: &str| {
        flow.schema
            .index_of(name)
            .ok_or_else(|| SqlError::semantic(format!("internal: no column {name} in the result")))
    };
    let mut key = Vec::new();
    for c in sink.schema.key_columns() {
        key.push((index(&c.name)?, c.ty.clone()));
    }
    if sink.window.is_some() {
        key.push((index(crate::catalog::schema::WINDOWSTART)?, SqlType::BigInt));
        key.push((index(crate::catalog::schema::WINDOWEND)?, SqlType::BigInt));
    }
    let mut value = Vec::new();
    for c in sink.schema.value_columns() {
        value.push((index(&c.name)?, c.ty.clone()));
    }
    let layout = SinkLayout {
        key,
        value,
        rowtime: index(super::stream::RECORD_TIME)
            .or_else(|_| index(crate::catalog::schema::ROWTIME))?,
        null_row: index(crate::runtime::batch::NULL_ROW)?,
        null_key_when_all_null: source_key,
    };
    let key_serde = super::source::key_serde(sink)?;
    let value_codec = codec_for(
        &sink.value_format,
        sink.value_columns(),
        sink.wrap_single_value,
    )?;
    let log = ctx.log.clone();
    let encode = ctx.processor(
        "Sink-Encode",
        flow.node,
        Arc::new(move || {
            Box::new(StreamSinkNode::new(
                "Sink-Encode",
                layout.clone(),
                key_serde.clone(),
                value_codec.clone(),
                log.clone(),
            ))
        }),
    );
    let name = ctx.node_name("KSTREAM-SINK");
    let node = ctx
        .graph()
        .add_sink(name, TopicName::External(sink.topic.clone()), &[encode]);
    ctx.step(format!("StreamSink: {} (topic {})", sink.name, sink.topic));
    Ok(node)
}

/// Adds a table sink after `parent`, a node forwarding `Record<Row, Change<Row>>` whose rows
/// hold the columns `row` (the result's value columns among them, and ROWTIME if present).
pub fn table_sink(
    ctx: &mut PlanContext<'_>,
    parent: NodeId,
    row: &[(String, SqlType)],
    sink: &DataSource,
) -> Result<NodeId> {
    let value_columns: Vec<usize> = sink
        .schema
        .value_columns()
        .map(|c| {
            row.iter().position(|(n, _)| n == &c.name).ok_or_else(|| {
                SqlError::semantic(format!("internal: no column {} in the result", c.name))
            })
        })
        .collect::<Result<_>>()?;
    let rowtime = row
        .iter()
        .position(|(n, _)| n == crate::catalog::schema::ROWTIME);
    let key_serde = super::source::key_serde(sink)?;
    let value_codec = codec_for(
        &sink.value_format,
        sink.value_columns(),
        sink.wrap_single_value,
    )?;
    let log = ctx.log.clone();
    let encode = ctx.processor(
        "Sink-Encode",
        parent,
        Arc::new(move || {
            Box::new(TableSinkNode::new(
                "Sink-Encode",
                key_serde.clone(),
                value_codec.clone(),
                value_columns.clone(),
                rowtime,
                log.clone(),
            ))
        }),
    );
    let name = ctx.node_name("KTABLE-SINK");
    let node = ctx
        .graph()
        .add_sink(name, TopicName::External(sink.topic.clone()), &[encode]);
    ctx.step(format!("TableSink: {} (topic {})", sink.name, sink.topic));
    Ok(node)
}

/// The result's source for a target, and the topic to create.
#[allow(clippy::too_many_arguments)]
pub fn resolve_target(
    ctx: &PlanContext<'_>,
    target: &Target,
    result_kind: SourceKind,
    inherit: &DataSource,
    result: &ResultSchema,
    window: Option<WindowInfo>,
) -> Result<Option<(DataSource, Option<super::SinkTopic>)>> {
    match target {
        Target::Create {
            name,
            kind,
            properties,
            sql,
        } => {
            if *kind != result_kind {
                return Err(SqlError::semantic(match result_kind {
                    SourceKind::Stream => {
                        "Invalid result type. Your SELECT query produces a STREAM. Please use CREATE STREAM AS SELECT statement instead."
                    }
                    SourceKind::Table => {
                        "Invalid result type. Your SELECT query produces a TABLE. Please use CREATE TABLE AS SELECT statement instead."
                    }
                }));
            }
            let (source, partitions) =
                sink_source(ctx, name, *kind, properties, sql, inherit, result, window)?;
            let topic = source.topic.clone();
            Ok(Some((source, Some((topic, partitions)))))
        }
        Target::Insert { target } => {
            if target.kind != result_kind {
                return Err(SqlError::semantic(format!(
                    "Incompatible data sink and query result. Data sink ({}) type is {} but select query result is {}.",
                    target.name,
                    match target.kind {
                        SourceKind::Stream => "KSTREAM",
                        SourceKind::Table => "KTABLE",
                    },
                    match result_kind {
                        SourceKind::Stream => "KSTREAM",
                        SourceKind::Table => "KTABLE",
                    }
                )));
            }
            check_insert(target, result, window)?;
            Ok(Some((target.clone(), None)))
        }
        Target::Transient => Ok(None),
    }
}
