//! What the engine tells about itself: `SHOW STREAMS|TABLES|QUERIES|TOPICS|FUNCTIONS|
//! TYPES|PROPERTIES|VARIABLES`, `DESCRIBE [EXTENDED]`, `DESCRIBE FUNCTION` and `EXPLAIN`,
//! as plain data (ksqlDB's REST entities carry the same fields) that the REPL prints as
//! tables and the server sends as JSON.

use serde::Serialize;

use super::{Engine, StatementResult};
use crate::catalog::DataSource;
use crate::catalog::schema::ColumnKind;
use crate::error::{Result, SqlError};
use crate::functions::FunctionKind;
use crate::parser::ast::{DescribeTarget, Explain, Show, SourceKind, Statement};
use crate::plan::Target;
use crate::types::SqlType;

/// A stream or table in a listing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceSummary {
    /// Its name.
    pub name: String,
    /// `STREAM` or `TABLE`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Its topic.
    pub topic: String,
    /// The key format.
    pub key_format: String,
    /// The value format.
    pub value_format: String,
    /// Whether its keys are windowed.
    pub is_windowed: bool,
}

/// A column of a described source.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldInfo {
    /// Its name.
    pub name: String,
    /// Its type, as ksqlDB prints it.
    #[serde(rename = "type")]
    pub ty: String,
    /// Its type (the REST API describes it as a tree).
    #[serde(skip)]
    pub sql_type: SqlType,
    /// `KEY`, `PRIMARY KEY`, `HEADERS` or `HEADER('k')`; none for value columns.
    pub kind: Option<String>,
}

/// `DESCRIBE [EXTENDED] source`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceDescription {
    /// The source in a listing's terms.
    #[serde(flatten)]
    pub summary: SourceSummary,
    /// Its columns, key columns first.
    pub fields: Vec<FieldInfo>,
    /// The TIMESTAMP column, if one sets ROWTIME.
    pub timestamp: Option<String>,
    /// The window type of windowed keys.
    pub window_type: Option<String>,
    /// The queries reading it.
    pub read_queries: Vec<QuerySummary>,
    /// The queries writing it.
    pub write_queries: Vec<QuerySummary>,
    /// Its topic's partition count (EXTENDED only).
    pub partitions: Option<i32>,
    /// The statement that made it.
    pub statement: String,
    /// Whether it was made by `CREATE SOURCE` (read-only).
    pub is_source: bool,
}

/// A persistent or push query in a listing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuerySummary {
    /// Its id.
    pub id: String,
    /// `PERSISTENT`.
    pub query_type: String,
    /// Its statement.
    pub sql: String,
    /// What it writes.
    pub sinks: Vec<String>,
    /// The topics of what it writes.
    pub sink_topics: Vec<String>,
    /// `RUNNING`, `ERROR` or `NOT_RUNNING`.
    pub state: String,
    /// The error it stopped with.
    pub error: Option<String>,
}

/// `EXPLAIN`: a query's plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueryDescription {
    /// Its id (`EXPLAIN` of a statement not run: none).
    pub id: Option<String>,
    /// Its statement.
    pub sql: String,
    /// What it reads.
    pub sources: Vec<String>,
    /// What it writes.
    pub sinks: Vec<String>,
    /// The result's columns.
    pub fields: Vec<FieldInfo>,
    /// Its execution steps, in order.
    pub execution_plan: Vec<String>,
    /// The DataFusion logical plans of its vectorised stages.
    pub stages: Vec<(String, String)>,
    /// Its topology, as Kafka Streams describes it.
    pub topology: String,
    /// Its state (running queries only).
    pub state: Option<String>,
}

/// A topic in `SHOW TOPICS`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopicSummary {
    /// Its name.
    pub name: String,
    /// Its partition count.
    pub partitions: i32,
}

/// A function in `SHOW FUNCTIONS`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunctionSummary {
    /// Its name.
    pub name: String,
    /// `SCALAR`, `AGGREGATE` or `TABLE`.
    #[serde(rename = "type")]
    pub kind: String,
    /// What it does.
    pub description: String,
}

/// `DESCRIBE FUNCTION`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunctionDescription {
    /// The function.
    #[serde(flatten)]
    pub summary: FunctionSummary,
    /// Its signatures (scalar functions; aggregates and table functions resolve theirs
    /// from the argument types).
    pub signatures: Vec<String>,
}

fn kind_name(kind: SourceKind) -> &'static str {
    match kind {
        SourceKind::Stream => "STREAM",
        SourceKind::Table => "TABLE",
    }
}

fn summary(source: &DataSource) -> SourceSummary {
    SourceSummary {
        name: source.name.clone(),
        kind: kind_name(source.kind).to_string(),
        topic: source.topic.clone(),
        key_format: source.key_format.format.to_string(),
        value_format: source.value_format.format.to_string(),
        is_windowed: source.window.is_some(),
    }
}

fn fields(source: &DataSource) -> Vec<FieldInfo> {
    source
        .schema
        .columns()
        .iter()
        .map(|c| FieldInfo {
            name: c.name.clone(),
            ty: c.ty.to_string(),
            sql_type: c.ty.clone(),
            kind: match &c.kind {
                ColumnKind::Key if source.kind == SourceKind::Table => Some("PRIMARY KEY".into()),
                ColumnKind::Key => Some("KEY".into()),
                ColumnKind::Value => None,
                ColumnKind::Headers => Some("HEADERS".into()),
                ColumnKind::Header(k) => Some(format!("HEADER('{k}')")),
            },
        })
        .collect()
}

fn function_kind(kind: FunctionKind) -> &'static str {
    match kind {
        FunctionKind::Scalar => "SCALAR",
        FunctionKind::Aggregate => "AGGREGATE",
        FunctionKind::Table => "TABLE",
    }
}

impl Engine {
    /// Runs `SHOW`, `DESCRIBE` and `EXPLAIN` statements.
    pub(super) fn describe_statement(&self, statement: &Statement) -> Result<StatementResult> {
        match statement {
            Statement::Show(show) => self.show(show),
            Statement::Describe { target, extended } => match target {
                DescribeTarget::Source(name) => Ok(StatementResult::Source(Box::new(
                    self.describe_source(&name.value, *extended)?,
                ))),
                DescribeTarget::Streams | DescribeTarget::Tables => {
                    let kind = if matches!(target, DescribeTarget::Streams) {
                        SourceKind::Stream
                    } else {
                        SourceKind::Table
                    };
                    let mut all = Vec::new();
                    for s in self.metastore.sources().filter(|s| s.kind == kind) {
                        all.push(self.describe_source(&s.name, *extended)?);
                    }
                    Ok(StatementResult::Sources(all))
                }
            },
            Statement::DescribeFunction(name) => {
                Ok(StatementResult::Function(self.describe_function(name)?))
            }
            Statement::Explain(explain) => {
                Ok(StatementResult::Query(Box::new(self.explain(explain)?)))
            }
            _ => Err(SqlError::semantic("internal: not a describing statement")),
        }
    }

    fn show(&self, show: &Show) -> Result<StatementResult> {
        Ok(match show {
            Show::Streams { .. } => StatementResult::Streams(self.sources_of(SourceKind::Stream)),
            Show::Tables { .. } => StatementResult::Tables(self.sources_of(SourceKind::Table)),
            Show::Queries { .. } => StatementResult::Queries(self.query_summaries()),
            Show::Topics { all, .. } => {
                let prefix = self.config.internal_prefix();
                let mut topics = Vec::new();
                for name in self.cluster.topics()? {
                    if !*all && (name.starts_with(&prefix) || name.starts_with('_')) {
                        continue;
                    }
                    let partitions = self.cluster.partitions(&name)?.unwrap_or(0);
                    topics.push(TopicSummary { name, partitions });
                }
                StatementResult::Topics(topics)
            }
            Show::Functions => StatementResult::Functions(
                self.registry
                    .list()
                    .into_iter()
                    .map(|(name, kind, description)| FunctionSummary {
                        name,
                        kind: function_kind(kind).into(),
                        description,
                    })
                    .collect(),
            ),
            Show::Types => StatementResult::Types(
                self.metastore
                    .custom_types()
                    .iter()
                    .map(|(n, t)| (n.clone(), t.clone()))
                    .collect(),
            ),
            Show::Properties => StatementResult::Properties(
                self.config
                    .values()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ),
            Show::Variables => StatementResult::Variables(
                self.variables
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ),
        })
    }

    fn sources_of(&self, kind: SourceKind) -> Vec<SourceSummary> {
        self.metastore
            .sources()
            .filter(|s| s.kind == kind)
            .map(summary)
            .collect()
    }

    /// The persistent queries, as `SHOW QUERIES` lists them.
    pub fn query_summaries(&self) -> Vec<QuerySummary> {
        self.queries
            .values()
            .map(|q| {
                let status = self.runner.status(&q.id);
                QuerySummary {
                    id: q.id.clone(),
                    query_type: "PERSISTENT".into(),
                    sql: q.sql.clone(),
                    sinks: q.sink.iter().cloned().collect(),
                    sink_topics: q
                        .sink
                        .iter()
                        .filter_map(|s| self.metastore.source(s))
                        .map(|s| s.topic.clone())
                        .collect(),
                    state: status.name().into(),
                    error: match status {
                        super::QueryStatus::Error(e) => Some(e),
                        _ => None,
                    },
                }
            })
            .collect()
    }

    /// The summaries of the queries with these ids.
    fn queries_among(&self, ids: &[String]) -> Vec<QuerySummary> {
        self.query_summaries()
            .into_iter()
            .filter(|q| ids.contains(&q.id))
            .collect()
    }

    /// `DESCRIBE [EXTENDED] name`.
    pub fn describe_source(&self, name: &str, extended: bool) -> Result<SourceDescription> {
        let source = self.metastore.source(name).ok_or_else(|| {
            SqlError::semantic(format!(
                "Could not find STREAM/TABLE '{name}' in the Metastore{}",
                self.metastore.alternatives(name, None)
            ))
        })?;
        Ok(SourceDescription {
            summary: summary(source),
            fields: fields(source),
            timestamp: source.timestamp.as_ref().map(|t| t.column.clone()),
            window_type: source.window.map(|w| w.kind.name().to_string()),
            read_queries: self.queries_among(&self.metastore.readers_of(name)),
            write_queries: self.queries_among(&self.metastore.writers_of(name)),
            partitions: if extended {
                self.cluster.partitions(&source.topic)?
            } else {
                None
            },
            statement: source.sql.clone(),
            is_source: source.is_source,
        })
    }

    /// `DESCRIBE FUNCTION name`.
    pub fn describe_function(&self, name: &str) -> Result<FunctionDescription> {
        let upper = name.to_ascii_uppercase();
        let (_, kind, description) = self
            .registry
            .list()
            .into_iter()
            .find(|(n, _, _)| *n == upper)
            .ok_or_else(|| {
                SqlError::semantic(format!("Can't find any functions with the name '{upper}'"))
            })?;
        let signatures = self
            .registry
            .scalar(&upper)
            .map(|f| f.signatures())
            .unwrap_or_default();
        Ok(FunctionDescription {
            summary: FunctionSummary {
                name: upper,
                kind: function_kind(kind).into(),
                description,
            },
            signatures,
        })
    }

    /// `EXPLAIN query_id` (a running query) or `EXPLAIN statement` (planned, not run).
    pub fn explain(&self, explain: &Explain) -> Result<QueryDescription> {
        match explain {
            Explain::Query(id) => {
                let q = self
                    .queries
                    .values()
                    .find(|q| q.id.eq_ignore_ascii_case(id))
                    .ok_or_else(|| SqlError::semantic(format!("Query with id:{id} does not exist, use SHOW QUERIES to view the full set of queries.")))?;
                let sink = q.sink.as_ref().and_then(|s| self.metastore.source(s));
                Ok(QueryDescription {
                    id: Some(q.id.clone()),
                    sql: q.sql.clone(),
                    sources: q.sources.clone(),
                    sinks: q.sink.iter().cloned().collect(),
                    fields: sink.map(fields).unwrap_or_default(),
                    execution_plan: q.steps.clone(),
                    stages: q.stages.clone(),
                    topology: q.topology.clone(),
                    state: Some(self.runner.status(&q.id).name().to_string()),
                })
            }
            Explain::Statement(statement) => {
                let (query, target, sql) = match &**statement {
                    Statement::CreateAsSelect(create) => (
                        &*create.query,
                        Target::Create {
                            name: create.name.value.clone(),
                            kind: create.kind,
                            properties: create.properties.clone(),
                            sql: String::new(),
                        },
                        String::new(),
                    ),
                    Statement::Query(query) => (&**query, Target::Transient, String::new()),
                    _ => {
                        return Err(SqlError::semantic(
                            "EXPLAIN takes a query id, a SELECT or a CREATE ... AS SELECT",
                        ));
                    }
                };
                let planned = self.explain_query(query, &target)?;
                let (sinks, fields) = match &planned.sink {
                    Some(sink) => (vec![sink.name.clone()], self::fields(sink)),
                    None => (
                        Vec::new(),
                        planned
                            .columns
                            .iter()
                            .map(|(n, t)| FieldInfo {
                                name: n.clone(),
                                ty: t.to_string(),
                                sql_type: t.clone(),
                                kind: None,
                            })
                            .collect(),
                    ),
                };
                Ok(QueryDescription {
                    id: None,
                    sql,
                    sources: planned.sources.clone(),
                    sinks,
                    fields,
                    execution_plan: planned.steps.clone(),
                    stages: planned
                        .stages
                        .iter()
                        .map(|(n, p)| (n.clone(), p.display_indent().to_string()))
                        .collect(),
                    topology: planned.topology.describe(),
                    state: None,
                })
            }
        }
    }
}
