//! A case's `post` conditions: the sources the statements made (type, schema, formats,
//! window) and the topics that must not exist (`blacklist`).

use std::collections::BTreeMap;

use crate::catalog::MetaStore;
use crate::catalog::schema::{Column, ColumnKind, LogicalSchema};
use crate::expr::typer::resolve_type;
use crate::parser::ast::{ColumnConstraint, SourceKind, Statement};
use crate::serde::json_text::Json;

/// A schema written as in a case (`ID INT KEY, NAME STRING`).
fn parse_schema(
    text: &str,
    custom: &BTreeMap<String, crate::types::SqlType>,
) -> Result<LogicalSchema, String> {
    if text.trim().is_empty() {
        return Ok(LogicalSchema::default());
    }
    let sql = format!("CREATE STREAM POST_SCHEMA ({text}) WITH (kafka_topic='x', format='json');");
    let statement =
        crate::parser::parse_one(&sql).map_err(|e| format!("bad expected schema {text:?}: {e}"))?;
    let Statement::CreateSource(c) = statement.statement else {
        return Err(format!("bad expected schema {text:?}"));
    };
    let mut columns = Vec::new();
    for e in c.elements {
        let ty = resolve_type(&e.ty, custom).map_err(|err| err.to_string())?;
        let kind = match e.constraint {
            ColumnConstraint::Key | ColumnConstraint::PrimaryKey => ColumnKind::Key,
            ColumnConstraint::Headers => ColumnKind::Headers,
            ColumnConstraint::Header(k) => ColumnKind::Header(k),
            ColumnConstraint::None => ColumnKind::Value,
        };
        columns.push(Column::new(e.name.value, ty, kind));
    }
    Ok(LogicalSchema::new(columns))
}

/// Checks `post` against the catalog and the queries' internal topics.
pub fn verify(
    post: &Json,
    metastore: &MetaStore,
    internal_topics: &[String],
) -> Result<(), String> {
    if let Some(sources) = post.get("sources").and_then(Json::as_array) {
        for expected in sources {
            let name = expected
                .get("name")
                .and_then(Json::as_str)
                .unwrap_or_default();
            let source = metastore
                .source(name)
                .ok_or_else(|| format!("post: source {name} does not exist"))?;
            if let Some(kind) = expected.get("type").and_then(Json::as_str) {
                let actual = match source.kind {
                    SourceKind::Stream => "stream",
                    SourceKind::Table => "table",
                };
                if !kind.eq_ignore_ascii_case(actual) {
                    return Err(format!("post: {name} is a {actual}, expected a {kind}"));
                }
            }
            if let Some(schema) = expected.get("schema").and_then(Json::as_str) {
                let wanted = parse_schema(schema, metastore.custom_types())?;
                if wanted != source.schema {
                    return Err(format!(
                        "post: {name} has schema {}, expected {wanted}",
                        source.schema
                    ));
                }
            }
            if let Some(key_format) = expected.get("keyFormat") {
                if let Some(f) = key_format.get("format").and_then(Json::as_str)
                    && !f.eq_ignore_ascii_case(source.key_format.format.name())
                {
                    return Err(format!(
                        "post: {name} has key format {}, expected {f}",
                        source.key_format.format
                    ));
                }
                let window_type = key_format.get("windowType").and_then(Json::as_str);
                let actual_type = source.window.map(|w| w.kind.name());
                if window_type.map(str::to_ascii_uppercase).as_deref() != actual_type {
                    return Err(format!(
                        "post: {name} has window {actual_type:?}, expected {window_type:?}"
                    ));
                }
                if let Some(size) = key_format.get("windowSize").and_then(Json::as_i64)
                    && source.window.and_then(|w| w.size_ms) != Some(size)
                {
                    return Err(format!(
                        "post: {name} has window size {:?}, expected {size}",
                        source.window.and_then(|w| w.size_ms)
                    ));
                }
            }
            let value_format = match expected.get("valueFormat") {
                Some(Json::String(f)) => Some(f.clone()),
                Some(v) => v.get("format").and_then(Json::as_str).map(str::to_string),
                None => None,
            };
            if let Some(f) = value_format
                && !f.eq_ignore_ascii_case(source.value_format.format.name())
            {
                return Err(format!(
                    "post: {name} has value format {}, expected {f}",
                    source.value_format.format
                ));
            }
            if let Some(Json::Bool(is_source)) = expected.get("isSource")
                && *is_source != source.is_source
            {
                return Err(format!(
                    "post: {name}.isSource is {}, expected {is_source}",
                    source.is_source
                ));
            }
        }
    }
    if let Some(blacklist) = post
        .get("topics")
        .and_then(|t| t.get("blacklist"))
        .and_then(Json::as_str)
    {
        let re = regex::Regex::new(&format!("^(?:{blacklist})$"))
            .map_err(|e| format!("post: bad blacklist regex {blacklist}: {e}"))?;
        if let Some(t) = internal_topics.iter().find(|t| re.is_match(t)) {
            return Err(format!(
                "post: topic {t} should not exist (blacklist {blacklist})"
            ));
        }
    }
    Ok(())
}
