//! [`Engine`]: executes ksqlDB statements against a catalog, a [`Cluster`] (the topics)
//! and a [`QueryRunner`] (where persistent queries' topologies run: the embedded broker,
//! a Kafka cluster, or the conformance runner's test drivers).
//!
//! Query ids follow ksqlDB: `CSAS_<SINK>_<n>`, `CTAS_<SINK>_<n>`, `INSERTQUERY_<n>`, with
//! `n` counting persistent queries from 0; application ids are
//! `_confluent-ksql-<service id>query_<id>`.

mod clean_up;
pub mod cluster;
pub mod config;
pub mod ddl;
pub mod describe;
pub mod insert;
pub mod pull;
pub mod push;
mod push_file;
pub mod runner;
pub mod scan;
pub mod snapshot;

use std::collections::BTreeMap;
use std::sync::Arc;

use eddy_streams::Topology;

pub use cluster::{BrokerCluster, Cluster, KafkaCluster};
pub use config::Config;
pub use pull::{PreparedPull, PullResult};
pub use push::{PreparedQuery, PushQuery, QueryAnswer};
pub use runner::AppRunner;

use crate::catalog::{DataSource, MetaStore, QueryLinks};
use crate::error::{Pos, Result, SqlError};
use crate::expr::typer::resolve_type;
use crate::functions::FunctionRegistry;
use crate::parser::ast::{CreateAsSelect, ParsedStatement, Query, SourceKind, Statement};
use crate::parser::{parse, split_statements, substitute_variables};
use crate::plan::{PlanContext, PlannedQuery, Target, plan_query};
use crate::runtime::processing_log::ProcessingLog;

/// A persistent query the engine runs.
#[derive(Debug, Clone)]
pub struct PersistentQuery {
    /// Its id.
    pub id: String,
    /// The statement.
    pub sql: String,
    /// The source it writes.
    pub sink: Option<String>,
    /// The sources it reads.
    pub sources: Vec<String>,
    /// Its application id.
    pub application_id: String,
    /// The topology, as Kafka Streams describes it.
    pub topology: String,
    /// Execution steps.
    pub steps: Vec<String>,
    /// The DataFusion logical plans of its vectorised stages.
    pub stages: Vec<(String, String)>,
    /// Its processing log.
    pub log: ProcessingLog,
    /// The engine's properties when it started (its streams settings among them).
    pub properties: BTreeMap<String, String>,
    /// The topics its application makes for itself (changelogs, repartition topics):
    /// deleted when the query is terminated.
    pub internal_topics: Vec<String>,
}

/// Runs persistent queries' topologies.
pub trait QueryRunner: Send {
    /// Starts a persistent query.
    fn start(&mut self, query: &PersistentQuery, topology: Topology) -> Result<()>;
    /// Starts a push query's topology; the stopper ends it.
    fn start_transient(
        &mut self,
        _id: &str,
        _application_id: &str,
        _properties: &BTreeMap<String, String>,
        _topology: Topology,
    ) -> Result<Stopper> {
        Err(SqlError::semantic("this engine does not run push queries"))
    }
    /// Stops a persistent query.
    fn stop(&mut self, id: &str) -> Result<()>;
    /// How a query is doing.
    fn status(&self, _id: &str) -> QueryStatus {
        QueryStatus::Running
    }
    /// What a running query's application reports.
    fn app(&self, _id: &str) -> Option<runner::AppView> {
        None
    }
    /// Stops a persistent query's processing until [`QueryRunner::resume`], keeping its
    /// committed offsets and state (`PAUSE`).
    fn pause(&mut self, id: &str) -> Result<()> {
        Err(SqlError::semantic(format!(
            "this engine cannot pause queries ({id})"
        )))
    }
    /// Takes a persistent query that is paused from the start (a server replaying a
    /// `PAUSE`): it is ready to [`QueryRunner::resume`] and processes nothing before.
    fn start_paused(&mut self, query: &PersistentQuery, topology: Topology) -> Result<()> {
        self.start(query, topology)?;
        self.pause(&query.id)
    }
    /// Starts a paused query again where it stopped (`RESUME`).
    fn resume(&mut self, id: &str) -> Result<()> {
        Err(SqlError::semantic(format!(
            "this engine cannot resume queries ({id})"
        )))
    }
    /// Deletes the local state of the application `application_id`, stopped for good (a
    /// terminated query, a push query a killed process left): its stores and checkpoints
    /// on this machine, as ksqlDB's query clean-up does.
    fn clean_up(&mut self, _application_id: &str) -> Result<()> {
        Ok(())
    }
    /// Where this runner keeps queries' local state, if on disk: the engine lists its
    /// running push queries there (a `push-queries` file), to clean up after a killed process.
    fn state_dir(&self) -> Option<std::path::PathBuf> {
        None
    }
}

/// Ends a running push query.
pub type Stopper = Box<dyn FnOnce() -> Result<()> + Send>;

/// The state of a query, as `SHOW QUERIES` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryStatus {
    /// Processing.
    Running,
    /// Not running (stopped, or not started).
    Stopped,
    /// Failed: the application stopped with this error.
    Error(String),
    /// Stopped by `PAUSE`, its offsets committed and its state kept, until `RESUME`.
    Paused,
}

impl QueryStatus {
    /// ksqlDB's name of the state (`RUNNING`, `ERROR`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Running => "RUNNING",
            Self::Stopped => "NOT_RUNNING",
            Self::Error(_) => "ERROR",
            Self::Paused => "PAUSED",
        }
    }
}

/// What a statement did.
#[derive(Debug, Clone, PartialEq)]
pub enum StatementResult {
    /// A stream or table was created (or replaced).
    SourceCreated {
        /// Stream or table.
        kind: SourceKind,
        /// Its name.
        name: String,
    },
    /// `IF NOT EXISTS` found it already there.
    SourceExists {
        /// Its name.
        name: String,
    },
    /// A source was dropped.
    SourceDropped {
        /// Its name.
        name: String,
    },
    /// A persistent query was started.
    QueryStarted {
        /// Its id.
        id: String,
        /// The source it writes.
        sink: String,
    },
    /// A query was terminated.
    QueryTerminated {
        /// Its id.
        id: String,
    },
    /// A row was inserted.
    Inserted,
    /// `SHOW STREAMS`.
    Streams(Vec<describe::SourceSummary>),
    /// `SHOW TABLES`.
    Tables(Vec<describe::SourceSummary>),
    /// `SHOW QUERIES`.
    Queries(Vec<describe::QuerySummary>),
    /// `SHOW TOPICS`.
    Topics(Vec<describe::TopicSummary>),
    /// `SHOW FUNCTIONS`.
    Functions(Vec<describe::FunctionSummary>),
    /// `SHOW TYPES`: names and types.
    Types(Vec<(String, crate::types::SqlType)>),
    /// `SHOW PROPERTIES`: names and values.
    Properties(Vec<(String, String)>),
    /// `SHOW VARIABLES`: names and values.
    Variables(Vec<(String, String)>),
    /// `DESCRIBE source`.
    Source(Box<describe::SourceDescription>),
    /// `DESCRIBE STREAMS|TABLES`.
    Sources(Vec<describe::SourceDescription>),
    /// `DESCRIBE FUNCTION`.
    Function(describe::FunctionDescription),
    /// `EXPLAIN`.
    Query(Box<describe::QueryDescription>),
    /// A type was created or dropped, a property set, a variable defined...
    Done(String),
}

/// Executes statements.
pub struct Engine {
    metastore: MetaStore,
    config: Config,
    registry: Arc<FunctionRegistry>,
    cluster: Arc<dyn Cluster>,
    runner: Box<dyn QueryRunner>,
    queries: BTreeMap<String, PersistentQuery>,
    variables: BTreeMap<String, String>,
    next_query: u64,
    next_transient: u64,
    /// The running push queries, listed for the clean-up after a crash.
    push_file: Option<Arc<push_file::PushQueryFile>>,
    /// Tables followed for pull queries, by topic.
    /// Tables' snapshots for pull queries, by topic; each has its own lock, so pull
    /// queries read them without the engine.
    snapshots: BTreeMap<String, Arc<std::sync::Mutex<snapshot::TableSnapshot>>>,
    clock: Box<dyn Fn() -> i64 + Send>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("sources", &self.metastore.sources().count())
            .field("queries", &self.queries.len())
            .finish()
    }
}

/// Where an engine starts numbering push queries: the clock's nanoseconds, a different
/// number for every engine in practice.
fn transient_base() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64 & 0x3fff_ffff_ffff_ffff)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Engine {
    /// An engine over `cluster`, running queries with `runner`.
    ///
    /// Push queries an earlier engine on the same state directory left running (its
    /// process was killed) are cleaned up first (they are listed in its `push-queries` file).
    pub fn new(config: Config, cluster: Arc<dyn Cluster>, runner: Box<dyn QueryRunner>) -> Self {
        let registry = FunctionRegistry::configured(|name| config.get(name).map(str::to_string));
        let push_file = runner
            .state_dir()
            .map(|dir| Arc::new(push_file::PushQueryFile::open(&dir)));
        let mut engine = Self {
            metastore: MetaStore::new(),
            config,
            registry,
            cluster,
            runner,
            queries: BTreeMap::new(),
            variables: BTreeMap::new(),
            next_query: 0,
            // Push queries' ids (and consumer groups) differ from one engine to the next,
            // as ksqlDB's random ones do: a restarted server must not resume a previous
            // run's push query from that query's committed offsets.
            next_transient: transient_base(),
            snapshots: BTreeMap::new(),
            clock: Box::new(now_ms),
            push_file,
        };
        engine.clean_up_left_push_queries();
        engine
    }

    /// Uses `clock` for the timestamps of inserted rows (tests).
    pub fn with_clock(mut self, clock: impl Fn() -> i64 + Send + 'static) -> Self {
        self.clock = Box::new(clock);
        self
    }

    /// The catalog.
    pub fn metastore(&self) -> &MetaStore {
        &self.metastore
    }

    /// The properties in effect.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The running persistent queries, by id.
    pub fn queries(&self) -> &BTreeMap<String, PersistentQuery> {
        &self.queries
    }

    /// A persistent query's state and what its application reports (`None` when it
    /// runs nowhere in this process), for metrics.
    pub fn query_health(&self, id: &str) -> (QueryStatus, Option<runner::AppView>) {
        (self.runner.status(id), self.runner.app(id))
    }

    /// The cluster under the engine.
    pub fn cluster(&self) -> &Arc<dyn Cluster> {
        &self.cluster
    }

    /// The function library.
    pub fn registry(&self) -> &Arc<FunctionRegistry> {
        &self.registry
    }

    /// The variables `DEFINE` set, by name.
    pub fn variables(&self) -> &BTreeMap<String, String> {
        &self.variables
    }

    /// Runs `f` with `properties` set and `variables` defined over the engine's own, as a
    /// REST request's `streamsProperties` and `sessionVariables` (and the `SET`s and
    /// `DEFINE`s among its statements) apply to that request alone. The engine's
    /// properties and variables are as they were afterwards; the queries `f` starts keep
    /// the properties they started with.
    pub fn scoped<T>(
        &mut self,
        properties: &BTreeMap<String, String>,
        variables: &BTreeMap<String, String>,
        f: impl FnOnce(&mut Self) -> T,
    ) -> T {
        let saved_config = self.config.clone();
        let saved_variables = self.variables.clone();
        self.config = self.config.overlay(properties);
        self.variables
            .extend(variables.iter().map(|(k, v)| (k.clone(), v.clone())));
        let result = f(self);
        self.config = saved_config;
        self.variables = saved_variables;
        result
    }

    /// Executes a script of statements, stopping at the first error.
    pub fn execute(&mut self, sql: &str) -> Result<Vec<StatementResult>> {
        let mut results = Vec::new();
        self.each_statement(sql, |engine, statement| {
            results.push(engine.execute_statement(statement)?);
            Ok::<_, SqlError>(())
        })?;
        Ok(results)
    }

    /// Parses a script and hands `run` its statements in order, stopping at the first
    /// error (a server decides per statement what to do: run it, record it, refuse it).
    /// Without variables the whole script is parsed first, as ksqlDB does: a syntax error
    /// anywhere runs nothing. With `${...}` in it, each statement is substituted just
    /// before it runs, so a `DEFINE` applies from there on; positions in errors stay true
    /// to the script either way.
    pub fn each_statement<E: From<SqlError>>(
        &mut self,
        sql: &str,
        mut run: impl FnMut(&mut Self, &ParsedStatement) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        if !sql.contains("${") {
            for statement in &parse(sql)? {
                run(self, statement)?;
            }
            return Ok(());
        }
        for (text, at) in split_statements(sql)? {
            let text = substitute_variables(&text, &self.variables)?;
            let placed = format!(
                "{}{}{text}",
                "\n".repeat(at.line.saturating_sub(1) as usize),
                " ".repeat(at.column.saturating_sub(1) as usize)
            );
            for statement in &parse(&placed)? {
                run(self, statement)?;
            }
        }
        Ok(())
    }

    /// Executes one parsed statement.
    pub fn execute_statement(&mut self, parsed: &ParsedStatement) -> Result<StatementResult> {
        match &parsed.statement {
            Statement::CreateSource(create) => self.create_source(create, &parsed.text),
            Statement::CreateAsSelect(create) => self.create_as_select(create, &parsed.text),
            Statement::InsertInto { target, query, .. } => {
                let sink = self
                    .metastore
                    .source(&target.value)
                    .cloned()
                    .ok_or_else(|| {
                        SqlError::at(
                            target.pos,
                            format!(
                                "Source `{}` does not exist.{}",
                                target.value,
                                self.metastore.alternatives(&target.value, None)
                            ),
                        )
                    })?;
                if sink.kind != SourceKind::Stream {
                    return Err(SqlError::semantic(format!(
                        "INSERT INTO can only be used to insert into a stream. {} is a table.",
                        sink.name
                    )));
                }
                if sink.schema.header_columns().next().is_some() {
                    return Err(SqlError::semantic(format!(
                        "Cannot insert into {} because it has header columns",
                        sink.name
                    )));
                }
                let id = format!("INSERTQUERY_{}", self.next_query);
                self.start_query(&id, query, &Target::Insert { target: sink }, &parsed.text)
            }
            Statement::InsertValues {
                target,
                columns,
                values,
            } => {
                let sink = self
                    .metastore
                    .source(&target.value)
                    .cloned()
                    .ok_or_else(|| {
                        SqlError::semantic(format!(
                            "Cannot insert values into an unknown stream/table: `{}`{}",
                            target.value,
                            self.metastore.alternatives(&target.value, None)
                        ))
                    })?;
                if sink.is_source {
                    return Err(SqlError::semantic(format!(
                        "Cannot insert values into read-only {}: {}",
                        match sink.kind {
                            SourceKind::Stream => "stream",
                            SourceKind::Table => "table",
                        },
                        sink.name
                    )));
                }
                insert::insert_values(
                    &*self.cluster,
                    &sink,
                    columns.as_deref(),
                    values,
                    &self.registry,
                    self.metastore.custom_types(),
                    (self.clock)(),
                )?;
                Ok(StatementResult::Inserted)
            }
            Statement::DropSource {
                kind,
                name,
                if_exists,
                delete_topic,
            } => {
                let Some(source) = self.metastore.source(&name.value).cloned() else {
                    if *if_exists {
                        return Ok(StatementResult::Done(format!(
                            "{} does not exist",
                            name.value
                        )));
                    }
                    return Err(SqlError::at(
                        name.pos,
                        format!(
                            "{} {} does not exist.{}",
                            match kind {
                                SourceKind::Stream => "Stream",
                                SourceKind::Table => "Table",
                            },
                            name.value,
                            self.metastore.alternatives(&name.value, Some(*kind))
                        ),
                    ));
                };
                if source.kind != *kind {
                    return Err(SqlError::semantic(format!(
                        "Incompatible data source type is {}, but statement was DROP {kind}. Did you mean DROP {}?",
                        match source.kind {
                            SourceKind::Stream => "STREAM",
                            SourceKind::Table => "TABLE",
                        },
                        source.kind
                    )));
                }
                if *delete_topic && source.is_source {
                    return Err(SqlError::semantic(format!(
                        "Cannot delete topic for read-only source: {}",
                        source.name
                    )));
                }
                self.metastore.remove_source(&name.value)?;
                self.snapshots.remove(&source.topic);
                if *delete_topic {
                    self.cluster.delete_topic(&source.topic)?;
                }
                Ok(StatementResult::SourceDropped {
                    name: name.value.clone(),
                })
            }
            Statement::CreateType {
                name,
                if_not_exists,
                ty,
            } => {
                if self.metastore.custom_type(&name.value).is_some() {
                    if *if_not_exists {
                        return Ok(StatementResult::Done(format!("type {} exists", name.value)));
                    }
                    return Err(SqlError::at(
                        name.pos,
                        format!(
                            "Cannot register custom type '{}' since it is already registered with type: {}",
                            name.value,
                            self.metastore
                                .custom_type(&name.value)
                                .map(|t| t.to_string())
                                .unwrap_or_default()
                        ),
                    ));
                }
                let ty = resolve_type(ty, self.metastore.custom_types())?;
                self.metastore.put_type(&name.value, ty);
                Ok(StatementResult::Done(format!(
                    "Created type {}",
                    name.value
                )))
            }
            Statement::DropType { name, if_exists } => {
                if self.metastore.remove_type(&name.value).is_none() && !*if_exists {
                    return Err(SqlError::at(
                        name.pos,
                        format!("Type {} does not exist.", name.value),
                    ));
                }
                Ok(StatementResult::Done(format!(
                    "Dropped type {}",
                    name.value
                )))
            }
            Statement::AlterSource {
                kind,
                name,
                columns,
            } => {
                let source = self.metastore.source(&name.value).cloned().ok_or_else(|| {
                    SqlError::at(name.pos, format!("Source {} does not exist.", name.value))
                })?;
                if source.kind != *kind {
                    return Err(SqlError::semantic(format!(
                        "Incompatible data source type is {}, but statement was ALTER {kind}",
                        source.kind
                    )));
                }
                if source.is_source {
                    return Err(SqlError::semantic(format!(
                        "Cannot alter {} '{}': ALTER operations are not supported on source {}s.",
                        kind_word(*kind),
                        source.name,
                        kind_word(*kind)
                    )));
                }
                if source.is_sink {
                    return Err(SqlError::semantic(
                        "ALTER command is not supported for CREATE ... AS statements.".to_string(),
                    ));
                }
                let mut added = Vec::new();
                for c in columns {
                    if source.schema.find(&c.name.value).is_some() {
                        return Err(SqlError::at(
                            c.name.pos,
                            format!(
                                "Cannot add column `{}` to schema. A column with the same name already exists.",
                                c.name.value
                            ),
                        ));
                    }
                    added.push(crate::catalog::Column::new(
                        &c.name.value,
                        resolve_type(&c.ty, self.metastore.custom_types())?,
                        crate::catalog::ColumnKind::Value,
                    ));
                }
                let mut altered = source;
                altered.schema = altered.schema.with_added(added);
                self.metastore.put_source(altered);
                Ok(StatementResult::Done(format!("Altered {}", name.value)))
            }
            Statement::Set { name, value } => {
                self.config.set(name, value);
                Ok(StatementResult::Done(format!("Set {name}={value}")))
            }
            Statement::Unset(name) => {
                self.config.unset(name);
                Ok(StatementResult::Done(format!("Unset {name}")))
            }
            Statement::Define { name, value } => {
                self.variables.insert(name.clone(), value.clone());
                Ok(StatementResult::Done(format!("Defined {name}")))
            }
            Statement::Undefine(name) => {
                self.variables.remove(name);
                Ok(StatementResult::Done(format!("Undefined {name}")))
            }
            Statement::Terminate(target) => self.terminate(target),
            Statement::Pause(target) => self.pause_or_resume(target, true),
            Statement::Resume(target) => self.pause_or_resume(target, false),
            Statement::Query(_) => Err(SqlError::semantic(
                "Push and pull queries are run with Engine::push_query, not executed as statements",
            )),
            Statement::Explain(_)
            | Statement::Show(_)
            | Statement::Describe { .. }
            | Statement::DescribeFunction(_) => self.describe_statement(&parsed.statement),
            // As ksqlDB's server: scripts are the CLI's to read.
            Statement::RunScript(_) => Err(SqlError::parse(
                parsed.pos,
                "Unknown statement 'RUN'\nRUN SCRIPT is a command of the CLI (`eddy sql run FILE`); send the file's statements instead.",
            )),
            other => Err(SqlError::semantic(format!(
                "{} is not supported by the engine yet",
                statement_name(other)
            ))),
        }
    }

    fn create_source(
        &mut self,
        create: &crate::parser::ast::CreateSource,
        sql: &str,
    ) -> Result<StatementResult> {
        let name = &create.name.value;
        let existing_is_source = self.metastore.source(name).is_some_and(|s| s.is_source);
        if create.or_replace && (create.is_source || existing_is_source) {
            return Err(SqlError::semantic(format!(
                "Cannot add {} '{name}': CREATE OR REPLACE is not supported on source {}s.",
                kind_word(create.kind),
                kind_word(create.kind)
            )));
        }
        if let Some(existing) = self.metastore.source(name) {
            if create.if_not_exists {
                return Ok(StatementResult::SourceExists { name: name.clone() });
            }
            if create.or_replace && (create.is_source || existing.is_source) {
                return Err(SqlError::semantic(format!(
                    "Cannot add {} '{name}': CREATE OR REPLACE is not supported on source {}s.",
                    kind_word(create.kind),
                    kind_word(create.kind)
                )));
            }
            if !create.or_replace {
                return Err(SqlError::semantic(format!(
                    "Cannot add {} '{name}': A {} with the same name already exists",
                    kind_word(create.kind),
                    kind_word(existing.kind)
                )));
            }
        }
        let source =
            ddl::source_from_statement(create, sql, &self.config, self.metastore.custom_types())?;
        ddl::ensure_topic(&*self.cluster, &source, &create.properties)?;
        self.metastore.put_source(source);
        Ok(StatementResult::SourceCreated {
            kind: create.kind,
            name: name.clone(),
        })
    }

    fn create_as_select(&mut self, create: &CreateAsSelect, sql: &str) -> Result<StatementResult> {
        let name = &create.name.value;
        if let Some(existing) = self.metastore.source(name) {
            if create.if_not_exists {
                return Ok(StatementResult::SourceExists { name: name.clone() });
            }
            if !create.or_replace {
                return Err(SqlError::semantic(format!(
                    "Cannot add {} '{name}': A {} with the same name already exists",
                    kind_word(create.kind),
                    kind_word(existing.kind)
                )));
            }
        }
        let prefix = match create.kind {
            SourceKind::Stream => "CSAS",
            SourceKind::Table => "CTAS",
        };
        let id = self
            .metastore
            .writers_of(name)
            .into_iter()
            .find(|q| q.starts_with(prefix))
            .filter(|_| create.or_replace)
            .unwrap_or_else(|| format!("{prefix}_{name}_{}", self.next_query));
        let target = Target::Create {
            name: name.clone(),
            kind: create.kind,
            properties: create.properties.clone(),
            sql: sql.to_string(),
        };
        self.start_query(&id, &create.query, &target, sql)
    }

    fn plan(&self, id: &str, query: &Query, target: &Target) -> Result<PlannedQuery> {
        let cluster = self.cluster.clone();
        let mut ctx = PlanContext::new(&self.metastore, &self.registry, &self.config, id)
            .with_partitions(move |t| cluster.partitions(t).ok().flatten());
        plan_query(&mut ctx, query, target)
    }

    fn start_query(
        &mut self,
        id: &str,
        query: &Query,
        target: &Target,
        sql: &str,
    ) -> Result<StatementResult> {
        // Planning first: its errors (a non-aggregate column, say) come before this one.
        let planned = self
            .plan(id, query, target)
            .map_err(|e| e.or_at(query.pos))?;
        if query.refinement == Some(crate::parser::ast::Refinement::Final)
            && (query.window.is_none() || query.group_by.is_empty())
        {
            return Err(SqlError::semantic(
                "EMIT FINAL is only supported for windowed aggregations.",
            ));
        }
        let sink = planned
            .sink
            .clone()
            .ok_or_else(|| SqlError::semantic("internal: a persistent query without a sink"))?;
        if let Some((topic, partitions)) = &planned.sink_topic {
            let wanted = match partitions {
                Some(p) => *p,
                None => {
                    let source = self.metastore.source(&planned.sources[0]);
                    match source {
                        Some(s) => self.cluster.partitions(&s.topic)?.unwrap_or(1),
                        None => 1,
                    }
                }
            };
            match self.cluster.partitions(topic)? {
                Some(existing) if partitions.is_some() && existing != wanted => {
                    return Err(SqlError::semantic(format!(
                        "A Kafka topic with the name '{topic}' already exists, with different partition/replica configuration than required by KSQL. KSQL requires {wanted} partitions (topic has {existing})."
                    )));
                }
                Some(_) => {}
                None => {
                    let mut config = BTreeMap::new();
                    if planned.result_kind == SourceKind::Table {
                        config.insert("cleanup.policy".to_string(), "compact".to_string());
                    }
                    self.cluster.create_topic(topic, wanted, 1, &config)?;
                }
            }
        }
        let application_id = self.config.application_id(id);
        let persistent = PersistentQuery {
            id: id.to_string(),
            sql: sql.to_string(),
            sink: Some(sink.name.clone()),
            sources: planned.sources.clone(),
            internal_topics: push::internal_topics(&application_id, &planned.topology),
            application_id,
            topology: planned.topology.describe(),
            steps: planned.steps.clone(),
            stages: planned
                .stages
                .iter()
                .map(|(n, p)| (n.clone(), p.display_indent().to_string()))
                .collect(),
            log: planned.log.clone(),
            properties: self.config.values().clone(),
        };
        // Replacing a query: the old one stops first.
        if self.queries.contains_key(id) {
            self.runner.stop(id)?;
        }
        self.runner.start(&persistent, planned.topology)?;
        if matches!(target, Target::Create { .. }) {
            self.metastore.put_source(sink.clone());
        }
        self.metastore.link_query(
            id,
            QueryLinks {
                sources: planned.sources.iter().cloned().collect(),
                sink: Some(sink.name.clone()),
            },
        );
        if !self.queries.contains_key(id) {
            self.next_query += 1;
        }
        self.queries.insert(id.to_string(), persistent);
        Ok(StatementResult::QueryStarted {
            id: id.to_string(),
            sink: sink.name,
        })
    }

    /// `TERMINATE`: stops the queries and removes what was theirs alone, as ksqlDB's
    /// query clean-up does: their local state and their internal topics (changelogs,
    /// repartition topics). A clean-up that fails is logged; the query is terminated
    /// all the same.
    fn terminate(&mut self, target: &crate::parser::ast::QueryTarget) -> Result<StatementResult> {
        let ids = self.target_ids(target)?;
        for id in &ids {
            self.runner.stop(id)?;
            self.metastore.unlink_query(id);
            if let Some(query) = self.queries.remove(id) {
                self.clean_up(&query);
            }
        }
        Ok(StatementResult::QueryTerminated { id: ids.join(", ") })
    }

    /// `PAUSE` (`pause`) or `RESUME` a persistent query, or all of them. Pausing a paused
    /// query, or resuming a running one, changes nothing.
    fn pause_or_resume(
        &mut self,
        target: &crate::parser::ast::QueryTarget,
        pause: bool,
    ) -> Result<StatementResult> {
        for id in self.target_ids(target)? {
            let paused = self.runner.status(&id) == QueryStatus::Paused;
            match (pause, paused) {
                (true, false) => self.runner.pause(&id)?,
                (false, true) => self.runner.resume(&id)?,
                _ => {}
            }
        }
        Ok(StatementResult::Done(
            if pause {
                "Query paused."
            } else {
                "Query resumed."
            }
            .into(),
        ))
    }

    /// The ids of the persistent queries `target` names (case-insensitive, as ksqlDB).
    fn target_ids(&self, target: &crate::parser::ast::QueryTarget) -> Result<Vec<String>> {
        Ok(match target {
            crate::parser::ast::QueryTarget::All => self.queries.keys().cloned().collect(),
            crate::parser::ast::QueryTarget::Id(id) => {
                let id = self
                    .queries
                    .keys()
                    .find(|q| q.eq_ignore_ascii_case(id))
                    .cloned()
                    .ok_or_else(|| SqlError::semantic(format!("Unknown queryId: {id}")))?;
                vec![id]
            }
        })
    }

    /// Stops every persistent query's application and keeps the queries in the catalog (a
    /// server shutting down: they start again from the command topic).
    pub fn stop_all(&mut self) -> Result<()> {
        let mut first_error = None;
        for id in self.queries.keys() {
            if let Err(e) = self.runner.stop(id) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// The source `name`, if it exists.
    pub fn source(&self, name: &str) -> Option<&DataSource> {
        self.metastore.source(name)
    }

    /// Plans a query without running it (EXPLAIN, tests).
    pub fn explain_query(&self, query: &Query, target: &Target) -> Result<PlannedQuery> {
        self.plan("EXPLAIN", query, target)
    }
}

fn kind_word(kind: SourceKind) -> &'static str {
    match kind {
        SourceKind::Stream => "stream",
        SourceKind::Table => "table",
    }
}

fn statement_name(s: &Statement) -> &'static str {
    match s {
        Statement::Show(_) => "SHOW",
        Statement::Describe { .. } | Statement::DescribeFunction(_) => "DESCRIBE",
        Statement::Print { .. } => "PRINT",
        Statement::AlterSystem { .. } => "ALTER SYSTEM",
        Statement::RunScript(_) => "RUN SCRIPT",
        Statement::AssertTopic { .. } => "ASSERT TOPIC",
        _ => "This statement",
    }
}

/// The position of a statement for errors.
pub fn statement_pos(parsed: &ParsedStatement) -> Pos {
    parsed.pos
}
