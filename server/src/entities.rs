//! ksqlDB's REST entities (`io.confluent.ksql.rest.entity`) as JSON: each statement's
//! result in `POST /ksql`'s answer is one object whose `@type` names its kind
//! (`currentStatus`, `streams`, `tables`, `queries`, `sourceDescription`, ...), with
//! `statementText` and `warnings`, and the fields ksqlDB's clients read.

use eddy_sql::SqlType;
use eddy_sql::engine::StatementResult;
use eddy_sql::engine::describe::{FieldInfo, QueryDescription, QuerySummary, SourceDescription};
use serde_json::{Value, json};

/// The outcome of a statement that changed what runs (`CommandStatusEntity`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandStatus {
    /// ksqlDB's command id: `stream/PAGEVIEWS/create`, `terminate/CSAS_S_0/execute`.
    pub command_id: String,
    /// `SUCCESS` or `ERROR`.
    pub status: &'static str,
    /// What happened, in ksqlDB's words.
    pub message: String,
    /// The query it started, if it did.
    pub query_id: Option<String>,
    /// Its place in the command topic.
    pub sequence: i64,
}

/// A `currentStatus` entity.
pub fn current_status(statement: &str, status: &CommandStatus) -> Value {
    json!({
        "@type": "currentStatus",
        "statementText": statement,
        "commandId": status.command_id,
        "commandStatus": {
            "status": status.status,
            "message": status.message,
            "queryId": status.query_id,
        },
        "commandSequenceNumber": status.sequence,
        "warnings": [],
    })
}

/// The entity of a `SHOW`, `DESCRIBE` or `EXPLAIN`; `None` for other results.
pub fn listing(result: &StatementResult, statement: &str) -> Option<Value> {
    let (kind, mut body) = match result {
        StatementResult::Streams(sources) | StatementResult::Tables(sources) => {
            let (kind, key) = if matches!(result, StatementResult::Streams(_)) {
                ("streams", "streams")
            } else {
                ("tables", "tables")
            };
            let items: Vec<Value> = sources
                .iter()
                .map(|s| {
                    json!({
                        "type": s.kind,
                        "name": s.name,
                        "topic": s.topic,
                        "keyFormat": s.key_format,
                        "valueFormat": s.value_format,
                        "isWindowed": s.is_windowed,
                    })
                })
                .collect();
            (kind, json!({ key: items }))
        }
        StatementResult::Queries(queries) => (
            "queries",
            json!({ "queries": queries.iter().map(running_query).collect::<Vec<_>>() }),
        ),
        StatementResult::Topics(topics) => (
            "kafka_topics",
            json!({
                "topics": topics
                    .iter()
                    .map(|t| json!({
                        "name": t.name,
                        "replicaInfo": vec![1; t.partitions.max(0) as usize],
                    }))
                    .collect::<Vec<_>>()
            }),
        ),
        StatementResult::Functions(functions) => (
            "function_names",
            json!({
                "functions": functions
                    .iter()
                    .map(|f| json!({"name": f.name, "type": f.kind, "category": ""}))
                    .collect::<Vec<_>>()
            }),
        ),
        StatementResult::Types(types) => (
            "type_list",
            json!({
                "types": types
                    .iter()
                    .map(|(name, ty)| (name.clone(), schema_info(ty)))
                    .collect::<serde_json::Map<_, _>>()
            }),
        ),
        StatementResult::Properties(properties) => (
            "properties",
            json!({
                "properties": properties
                    .iter()
                    .map(|(k, v)| json!({"name": k, "scope": scope(k), "value": v}))
                    .collect::<Vec<_>>(),
                "overwrittenProperties": [],
                "defaultProperties": [],
            }),
        ),
        StatementResult::Variables(variables) => (
            "variables",
            json!({
                "variables": variables
                    .iter()
                    .map(|(k, v)| json!({"name": k, "value": v}))
                    .collect::<Vec<_>>()
            }),
        ),
        StatementResult::Source(source) => (
            "sourceDescription",
            json!({ "sourceDescription": source_description(source) }),
        ),
        StatementResult::Sources(sources) => (
            "source_descriptions",
            json!({
                "sourceDescriptions":
                    sources.iter().map(source_description).collect::<Vec<_>>()
            }),
        ),
        StatementResult::Function(function) => (
            "describe_function",
            json!({
                "name": function.summary.name,
                "description": function.summary.description,
                "author": "",
                "version": "",
                "path": "internal",
                "type": function.summary.kind,
                "functions": function
                    .signatures
                    .iter()
                    .map(|s| json!({
                        "arguments": [],
                        "returnType": "",
                        "description": s,
                        "argumentTypes": [],
                    }))
                    .collect::<Vec<_>>(),
            }),
        ),
        StatementResult::Query(query) => (
            "queryDescription",
            json!({ "queryDescription": query_description(query) }),
        ),
        _ => return None,
    };
    let object = body.as_object_mut()?;
    object.insert("@type".into(), kind.into());
    object.insert("statementText".into(), statement.into());
    object.insert("warnings".into(), json!([]));
    Some(body)
}

/// ksqlDB's scope of a property: `KSQL` for `ksql.*`, `STREAMS` for the rest.
fn scope(name: &str) -> &'static str {
    if name.starts_with("ksql.") {
        "KSQL"
    } else {
        "STREAMS"
    }
}

/// `RunningQuery`.
fn running_query(q: &QuerySummary) -> Value {
    json!({
        "queryString": q.sql,
        "sinks": q.sinks,
        "sinkKafkaTopics": q.sink_topics,
        "id": q.id,
        "statusCount": { q.state.clone(): 1 },
        "queryType": q.query_type,
        "state": q.state,
    })
}

/// `SchemaInfo`: a type as a tree.
pub fn schema_info(ty: &SqlType) -> Value {
    let mut info = json!({
        "type": ty.kind_name(),
        "fields": Value::Null,
        "memberSchema": Value::Null,
    });
    match ty {
        SqlType::Struct(fields) => {
            info["fields"] = fields
                .iter()
                .map(|f| json!({"name": f.name, "schema": schema_info(&f.ty)}))
                .collect();
        }
        SqlType::Array(element) => info["memberSchema"] = schema_info(element),
        SqlType::Map(_, value) => info["memberSchema"] = schema_info(value),
        SqlType::Decimal { precision, scale } => {
            info["parameters"] = json!({"precision": precision, "scale": scale});
        }
        _ => {}
    }
    info
}

/// `FieldInfo`: `type` is `KEY` or `HEADER` (with `headerKey`), absent for values.
fn field_info(field: &FieldInfo) -> Value {
    let mut info = json!({"name": field.name, "schema": schema_info(&field.sql_type)});
    match field.kind.as_deref() {
        Some("KEY" | "PRIMARY KEY") => info["type"] = "KEY".into(),
        Some(header) if header.starts_with("HEADER") => {
            info["type"] = "HEADER".into();
            if let Some(key) = header
                .strip_prefix("HEADER('")
                .and_then(|k| k.strip_suffix("')"))
            {
                info["headerKey"] = key.into();
            }
        }
        _ => {}
    }
    info
}

/// `SourceDescription`.
fn source_description(source: &SourceDescription) -> Value {
    json!({
        "name": source.summary.name,
        "windowType": source.window_type,
        "readQueries": source.read_queries.iter().map(running_query).collect::<Vec<_>>(),
        "writeQueries": source.write_queries.iter().map(running_query).collect::<Vec<_>>(),
        "fields": source.fields.iter().map(field_info).collect::<Vec<_>>(),
        "type": source.summary.kind,
        "timestamp": source.timestamp.clone().unwrap_or_default(),
        "statistics": "",
        "errorStats": "",
        "extended": source.partitions.is_some(),
        "keyFormat": source.summary.key_format,
        "valueFormat": source.summary.value_format,
        "topic": source.summary.topic,
        "partitions": source.partitions.unwrap_or(0),
        "replication": i32::from(source.partitions.is_some()),
        "statement": source.statement,
        "queryOffsetSummaries": [],
        "sourceConstraints": [],
        "clusterStatistics": [],
        "clusterErrorStats": [],
    })
}

/// `QueryDescription`.
fn query_description(query: &QueryDescription) -> Value {
    json!({
        "id": query.id.clone().unwrap_or_default(),
        "statementText": query.sql,
        "windowType": Value::Null,
        "fields": query.fields.iter().map(field_info).collect::<Vec<_>>(),
        "sources": query.sources,
        "sinks": query.sinks,
        "topology": query.topology,
        "executionPlan": query.execution_plan.join("\n"),
        "overriddenProperties": {},
        "ksqlHostQueryStatus": {},
        "queryType": "PERSISTENT",
        "queryErrors": [],
        "tasksMetadata": [],
        "state": query.state,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use eddy_sql::engine::describe::SourceSummary;

    #[test]
    fn a_listing_carries_its_type_statement_and_fields() {
        let result = StatementResult::Streams(vec![SourceSummary {
            name: "PAGEVIEWS".into(),
            kind: "STREAM".into(),
            topic: "pageviews".into(),
            key_format: "KAFKA".into(),
            value_format: "JSON".into(),
            is_windowed: false,
        }]);
        let entity = listing(&result, "SHOW STREAMS;").unwrap();
        assert_eq!(
            entity,
            json!({
                "@type": "streams",
                "statementText": "SHOW STREAMS;",
                "warnings": [],
                "streams": [{
                    "type": "STREAM", "name": "PAGEVIEWS", "topic": "pageviews",
                    "keyFormat": "KAFKA", "valueFormat": "JSON", "isWindowed": false,
                }],
            })
        );
        assert_eq!(listing(&StatementResult::Inserted, "INSERT ..."), None);
    }

    #[test]
    fn schemas_are_trees() {
        let ty = SqlType::structure([
            ("A", SqlType::array(SqlType::decimal(4, 2).unwrap())),
            ("B", SqlType::String),
        ]);
        assert_eq!(
            schema_info(&ty),
            json!({
                "type": "STRUCT",
                "memberSchema": null,
                "fields": [
                    {"name": "A", "schema": {
                        "type": "ARRAY", "fields": null,
                        "memberSchema": {"type": "DECIMAL", "fields": null, "memberSchema": null,
                                         "parameters": {"precision": 4, "scale": 2}}}},
                    {"name": "B", "schema": {"type": "STRING", "fields": null, "memberSchema": null}},
                ],
            })
        );
    }
}
