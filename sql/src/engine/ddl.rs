//! `CREATE [OR REPLACE] [SOURCE] STREAM|TABLE ... (columns) WITH (...)`: a source from its
//! columns and properties, checked as ksqlDB checks them (keys, reserved names, formats,
//! windows, timestamp columns), and its topic found or created.

use std::collections::{BTreeMap, BTreeSet};

use super::cluster::Cluster;
use super::config::Config;
use crate::catalog::schema::{Column, ColumnKind, LogicalSchema, is_reserved_column_name};
use crate::catalog::{DataSource, TimestampColumn, WindowInfo, WindowType};
use crate::error::{Result, SqlError};
use crate::expr::typer::resolve_type;
use crate::parser::ast::{ColumnConstraint, CreateSource, Properties, SourceKind};
use crate::runtime::source::headers_type;
use crate::serde::Format;
use crate::serde::format::{FormatInfo, check_columns, parse_delimiter};
use crate::types::SqlType;

/// The properties a source definition accepts.
const SOURCE_PROPERTIES: &[&str] = &[
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
    "WINDOW_TYPE",
    "WINDOW_SIZE",
    "RETENTION_MS",
    "KEY_SCHEMA_ID",
    "VALUE_SCHEMA_ID",
    "KEY_SCHEMA_FULL_NAME",
    "VALUE_SCHEMA_FULL_NAME",
    "VALUE_AVRO_SCHEMA_FULL_NAME",
];

/// Parses a duration like `30 seconds` or `1 HOUR` (WINDOW_SIZE), in milliseconds.
pub fn parse_duration_text(text: &str) -> Result<i64> {
    let bad = || SqlError::semantic(format!("Invalid duration: '{text}'. Use e.g. '30 SECONDS'"));
    let mut parts = text.split_whitespace();
    let amount: i64 = parts.next().ok_or_else(bad)?.parse().map_err(|_| bad())?;
    let unit = parts.next().ok_or_else(bad)?.to_ascii_uppercase();
    if parts.next().is_some() {
        return Err(bad());
    }
    let ms = match unit.trim_end_matches('S') {
        "MILLISECOND" => 1,
        "SECOND" => 1_000,
        "MINUTE" => 60_000,
        "HOUR" => 3_600_000,
        "DAY" => 86_400_000,
        _ => return Err(bad()),
    };
    Ok(amount.saturating_mul(ms))
}

/// Sets a format's delimiter from `property` (`KEY_DELIMITER`, `VALUE_DELIMITER`), which
/// only DELIMITED takes.
pub fn apply_delimiter(
    properties: &Properties,
    property: &str,
    format: &mut FormatInfo,
) -> Result<()> {
    let Some(text) = properties.get(property) else {
        return Ok(());
    };
    let delimiter = parse_delimiter(property, &text)?;
    if format.format != Format::Delimited {
        return Err(SqlError::semantic(format!(
            "{} does not support the following configs: [delimiter]",
            format.format
        )));
    }
    format.delimiter = Some(delimiter);
    Ok(())
}

/// Schema names and ids configure the schema-registry formats, none of which Eddy's formats
/// are; ksqlDB refuses them on other formats the same way.
fn refuse_schema_properties(
    properties: &Properties,
    key: &FormatInfo,
    value: &FormatInfo,
) -> Result<()> {
    let checks = [
        ("KEY_SCHEMA_FULL_NAME", key, "fullSchemaName"),
        ("VALUE_SCHEMA_FULL_NAME", value, "fullSchemaName"),
        ("VALUE_AVRO_SCHEMA_FULL_NAME", value, "fullSchemaName"),
        ("KEY_SCHEMA_ID", key, "schemaId"),
        ("VALUE_SCHEMA_ID", value, "schemaId"),
    ];
    for (property, format, config) in checks {
        if properties.get(property).is_some() {
            return Err(SqlError::semantic(format!(
                "{} does not support the following configs: [{config}]",
                format.format
            )));
        }
    }
    Ok(())
}

fn format_of(properties: &Properties, name: &str) -> Result<Option<FormatInfo>> {
    properties
        .get(name)
        .map(|f| Format::parse(&f).map(FormatInfo::of))
        .transpose()
}

/// The key and value formats a statement's properties give, with the configured defaults.
pub fn formats(properties: &Properties, config: &Config) -> Result<(FormatInfo, FormatInfo)> {
    let format = format_of(properties, "FORMAT")?;
    let key = format_of(properties, "KEY_FORMAT")?;
    let value = format_of(properties, "VALUE_FORMAT")?;
    if format.is_some() && key.is_some() {
        return Err(SqlError::semantic(
            "Cannot supply both 'KEY_FORMAT' and 'FORMAT' properties, as 'FORMAT' sets both key and value formats.\nEither use just 'FORMAT', or use 'KEY_FORMAT' and 'VALUE_FORMAT'.",
        ));
    }
    if format.is_some() && value.is_some() {
        return Err(SqlError::semantic(
            "Cannot supply both 'VALUE_FORMAT' and 'FORMAT' properties, as 'FORMAT' sets both key and value formats.\nEither use just 'FORMAT', or use 'KEY_FORMAT' and 'VALUE_FORMAT'.",
        ));
    }
    let key = match key.or_else(|| format.clone()) {
        Some(k) => k,
        None => FormatInfo::of(Format::parse(config.default_key_format())?),
    };
    let mut value = match value.or(format) {
        Some(v) => v,
        None => match config.default_value_format() {
            Some(d) => FormatInfo::of(Format::parse(d)?),
            None => {
                return Err(SqlError::semantic(
                    "Statement is missing the 'VALUE_FORMAT' property from the WITH clause. Either provide one or set a default via the 'ksql.persistence.default.format.value' config.",
                ));
            }
        },
    };
    let mut key = key;
    apply_delimiter(properties, "KEY_DELIMITER", &mut key)?;
    apply_delimiter(properties, "VALUE_DELIMITER", &mut value)?;
    refuse_schema_properties(properties, &key, &value)?;
    Ok((key, value))
}

/// Builds the source a `CREATE STREAM|TABLE` statement defines.
pub fn source_from_statement(
    create: &CreateSource,
    sql: &str,
    config: &Config,
    custom_types: &BTreeMap<String, SqlType>,
) -> Result<DataSource> {
    let name = &create.name.value;
    let kind_word = match create.kind {
        SourceKind::Stream => "stream",
        SourceKind::Table => "table",
    };
    for p in create.properties.values.keys() {
        if !SOURCE_PROPERTIES.contains(&p.as_str()) {
            return Err(SqlError::semantic(format!(
                "Invalid config variable(s) in the WITH clause: {p}"
            )));
        }
    }
    let topic = create.properties.get("KAFKA_TOPIC").ok_or_else(|| {
        SqlError::semantic("Missing required property \"KAFKA_TOPIC\" which has no default value.")
    })?;
    // Format properties are checked first, as ksqlDB prepares them.
    formats(&create.properties, config)?;
    if create.elements.is_empty() {
        return Err(SqlError::semantic(format!(
            "The statement does not define any columns: {kind_word} {name} needs its columns listed (Eddy has no schema registry to infer them from)."
        )));
    }
    let mut columns = Vec::new();
    let mut seen = BTreeSet::new();
    for e in &create.elements {
        let col = &e.name.value;
        if is_reserved_column_name(col) {
            return Err(SqlError::at(
                e.name.pos,
                format!(
                    "'{col}' is a reserved column name. You cannot use it as a name for a column."
                ),
            ));
        }
        if !seen.insert(col.clone()) {
            return Err(SqlError::at(
                e.name.pos,
                format!("Duplicate column names:\n\t`{col}`"),
            ));
        }
        let ty = resolve_type(&e.ty, custom_types)?;
        let kind = match (&e.constraint, create.kind) {
            (ColumnConstraint::None, _) => ColumnKind::Value,
            (ColumnConstraint::Key, SourceKind::Stream) => ColumnKind::Key,
            (ColumnConstraint::PrimaryKey, SourceKind::Table) => ColumnKind::Key,
            (ColumnConstraint::Key, SourceKind::Table) => {
                return Err(SqlError::at(
                    e.name.pos,
                    format!(
                        "Column `{col}` is a 'KEY' column: please use 'PRIMARY KEY' for tables.\nTables have PRIMARY KEYs, which are unique and NON NULL.\nStreams have KEYs, which have no uniqueness or NON NULL constraints."
                    ),
                ));
            }
            (ColumnConstraint::PrimaryKey, SourceKind::Stream) => {
                return Err(SqlError::at(
                    e.name.pos,
                    format!(
                        "Column `{col}` is a 'PRIMARY KEY' column: please use 'KEY' for streams.\nTables have PRIMARY KEYs, which are unique and NON NULL.\nStreams have KEYs, which have no uniqueness or NON NULL constraints."
                    ),
                ));
            }
            (ColumnConstraint::Headers, _) => {
                if ty != headers_type() {
                    return Err(SqlError::at(
                        e.name.pos,
                        format!(
                            "Invalid type for HEADERS column: expected ARRAY<STRUCT<`KEY` STRING, `VALUE` BYTES>>, got {ty}"
                        ),
                    ));
                }
                ColumnKind::Headers
            }
            (ColumnConstraint::Header(k), _) => {
                if ty != SqlType::Bytes {
                    return Err(SqlError::at(
                        e.name.pos,
                        format!("Invalid type for HEADER('{k}') column: expected BYTES, got {ty}"),
                    ));
                }
                ColumnKind::Header(k.clone())
            }
        };
        if kind == ColumnKind::Key && ty.contains_map() {
            return Err(SqlError::semantic(format!(
                "Map keys, including types that contain maps, are not supported as they may lead to unexpected behavior due to inconsistent serialization. Key column name: `{col}`. Column type: {ty}. See https://github.com/confluentinc/ksql/issues/6621 for more."
            )));
        }
        columns.push(Column::new(col, ty, kind));
    }
    let schema = LogicalSchema::new(columns);
    if create.kind == SourceKind::Table && schema.key_count() == 0 {
        return Err(SqlError::semantic(
            "Tables require a PRIMARY KEY. Please define the PRIMARY KEY.",
        ));
    }
    if schema
        .header_columns()
        .filter(|c| c.kind == ColumnKind::Headers)
        .count()
        > 1
    {
        return Err(SqlError::semantic(
            "Schema already contains a HEADERS column.",
        ));
    }
    let (key_format, value_format) = formats(&create.properties, config)?;
    let keys: Vec<&Column> = schema.key_columns().collect();
    let values: Vec<&Column> = schema.value_columns().collect();
    let wrap = create
        .properties
        .get("WRAP_SINGLE_VALUE")
        .map(|v| v.eq_ignore_ascii_case("true"));
    if wrap.is_some() && values.len() != 1 {
        return Err(SqlError::semantic(
            "'WRAP_SINGLE_VALUE' is only valid for single-field value schemas",
        ));
    }
    check_columns(&key_format, &keys, true, None)?;
    check_columns(&value_format, &values, false, wrap)?;
    let window = window_info(&create.properties)?;
    let timestamp = match create.properties.get("TIMESTAMP") {
        None => None,
        Some(column) => {
            let column = column.trim().to_ascii_uppercase();
            let c = schema.find(&column).ok_or_else(|| {
                SqlError::semantic(format!(
                    "The TIMESTAMP column set in the WITH clause does not exist in the schema: '{column}'"
                ))
            })?;
            let format = create.properties.get("TIMESTAMP_FORMAT");
            match (&c.ty, &format) {
                (SqlType::BigInt | SqlType::Timestamp, _) | (SqlType::String, Some(_)) => {}
                _ => {
                    return Err(SqlError::semantic(format!(
                        "Timestamp column, `{column}`, should be LONG(INT64), TIMESTAMP, or a String with a timestamp_format specified."
                    )));
                }
            }
            if let Some(f) = &format {
                crate::functions::java_time::JavaPattern::compile(f)?;
            }
            Some(TimestampColumn { column, format })
        }
    };
    Ok(DataSource {
        name: name.clone(),
        kind: create.kind,
        schema,
        topic,
        key_format,
        value_format,
        wrap_single_value: wrap.or_else(|| config.wrap_single_values()).unwrap_or(true),
        window,
        timestamp,
        is_source: create.is_source,
        is_sink: false,
        sql: sql.to_string(),
    })
}

/// `WINDOW_TYPE` and `WINDOW_SIZE`.
pub fn window_info(properties: &Properties) -> Result<Option<WindowInfo>> {
    let size = properties.get("WINDOW_SIZE");
    let Some(kind) = properties.get("WINDOW_TYPE") else {
        if size.is_some() {
            return Err(SqlError::semantic(
                "'WINDOW_SIZE' should not be set without 'WINDOW_TYPE'.",
            ));
        }
        return Ok(None);
    };
    let kind = match kind.to_ascii_uppercase().as_str() {
        "TUMBLING" => WindowType::Tumbling,
        "HOPPING" => WindowType::Hopping,
        "SESSION" => WindowType::Session,
        other => {
            return Err(SqlError::semantic(format!(
                "Invalid value for WINDOW_TYPE: {other}. Valid values are: SESSION, HOPPING, TUMBLING"
            )));
        }
    };
    let size_ms = match (kind, size) {
        (WindowType::Session, Some(_)) => {
            // ksqlDB checks the WITH clause while parsing: a syntax-level error.
            let pos = properties
                .values
                .get("WINDOW_SIZE")
                .map(|(_, pos)| *pos)
                .unwrap_or_default();
            return Err(SqlError::parse(
                pos,
                "'WINDOW_SIZE' should not be set for SESSION windows.",
            ));
        }
        (WindowType::Session, None) => None,
        (_, None) => {
            return Err(SqlError::semantic(format!(
                "'WINDOW_SIZE' should be set for {} windows.",
                kind.name()
            )));
        }
        (_, Some(s)) => Some(parse_duration_text(&s)?),
    };
    Ok(Some(WindowInfo { kind, size_ms }))
}

/// Makes sure a new source's topic exists with the partitions it asks for, creating it if
/// `PARTITIONS` is given, with ksqlDB's messages otherwise.
pub fn ensure_topic(
    cluster: &dyn Cluster,
    source: &DataSource,
    properties: &Properties,
) -> Result<()> {
    let partitions = properties
        .get("PARTITIONS")
        .map(|p| {
            p.trim()
                .parse::<i32>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| SqlError::semantic(format!("Invalid number of partitions: {p}")))
        })
        .transpose()?;
    let replicas = properties
        .get("REPLICAS")
        .and_then(|r| r.trim().parse::<i16>().ok())
        .unwrap_or(1);
    match (cluster.partitions(&source.topic)?, partitions) {
        (Some(existing), Some(wanted)) if existing != wanted => Err(SqlError::semantic(format!(
            "A Kafka topic with the name '{}' already exists, with different partition/replica configuration than required by KSQL. KSQL requires {wanted} partitions (topic has {existing}).",
            source.topic
        ))),
        (Some(_), _) => Ok(()),
        (None, Some(wanted)) => {
            let mut config = BTreeMap::new();
            if source.kind == SourceKind::Table {
                config.insert("cleanup.policy".to_string(), "compact".to_string());
            }
            cluster.create_topic(&source.topic, wanted, replicas, &config)
        }
        (None, None) => Err(SqlError::semantic(format!(
            "Topic '{}' does not exist. If you want to create a new topic for the {} please re-run the statement providing the required 'PARTITIONS' configuration in the WITH clause (and optionally 'REPLICAS'). For example: CREATE {} {} (ID INT, VALUE STRING) WITH (KAFKA_TOPIC='{}', PARTITIONS=2, REPLICAS=1, FORMAT='JSON');",
            source.topic,
            match source.kind {
                SourceKind::Stream => "stream",
                SourceKind::Table => "table",
            },
            source.kind,
            source.name,
            source.topic
        ))),
    }
}
