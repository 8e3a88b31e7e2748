//! [`KsqlService`]: the engine behind the REST API. It runs a request's statements in
//! order with the request's properties and variables, records those that change what runs
//! in the command topic, answers with ksqlDB's entities, starts push queries, and at start
//! replays the command topic with the persistent queries held until the replay is done.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use eddy_sql::engine::{
    Cluster, Config, Engine, PreparedQuery, QueryAnswer, QueryRunner, StatementResult,
};
use eddy_sql::parser::ast::{ParsedStatement, QueryTarget, SourceKind, Statement};
use eddy_sql::parser::{parse_one, substitute_variables};
use eddy_sql::{ErrorKind, SqlError};
use serde_json::{Value, json};

use crate::command_log::{Command, CommandLog, command_topic};
use crate::entities::{CommandStatus, current_status, listing};
use crate::error::Result;
use crate::held_runner::HeldRunner;
use crate::print::{PrintSpec, Printer};
use crate::push::PushRegistry;
use crate::rest::error::RestError;

mod terminate;
pub use terminate::{ServerState, TERMINATE_CLUSTER};

/// The server's own settings (the engine's come as its [`Config`]).
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// The version `GET /info` reports.
    pub version: String,
    /// The Kafka cluster's id, for `GET /info`.
    pub kafka_cluster_id: String,
    /// How many push queries may be open at once.
    pub max_push_queries: usize,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            version: env!("CARGO_PKG_VERSION").to_string(),
            kafka_cluster_id: "eddy".to_string(),
            max_push_queries: 100,
        }
    }
}

/// A request's statements and what applies to them alone.
#[derive(Debug, Clone, Default)]
pub struct KsqlRequest {
    /// The statements.
    pub ksql: String,
    /// `streamsProperties`: properties over the server's.
    pub properties: BTreeMap<String, String>,
    /// `sessionVariables`: variables for `${...}`.
    pub variables: BTreeMap<String, String>,
}

/// What the start-up replay did.
#[derive(Debug, Clone, Default)]
pub struct ReplayReport {
    /// Commands replayed.
    pub commands: usize,
    /// Persistent queries running afterwards.
    pub queries: usize,
    /// Commands (by offset) or queries (by id) that failed, with the reason.
    pub failures: Vec<(String, String)>,
}

struct Inner {
    engine: Engine,
    commands: CommandLog,
    /// The sequence number the next command gets (its offset in the command topic).
    next_sequence: i64,
    /// Each command id's last status and message, for `GET /status`.
    statuses: BTreeMap<String, (String, String)>,
    /// The offset of the next command this server has not applied (or skipped as its own).
    applied_to: i64,
}

/// The engine, its command topic and its push queries.
pub struct KsqlService {
    inner: Mutex<Inner>,
    push: Arc<PushRegistry>,
    config: ServiceConfig,
    service_id: String,
    /// Numbers `PRINT`s.
    next_print: std::sync::atomic::AtomicU64,
    /// The broker's metrics, for `GET /metrics`, when it runs in this process.
    broker_metrics: Option<crate::metrics::ExtraMetrics>,
    /// This process's name in the commands it records (`Command::origin`).
    instance: String,
    /// Set by [`KsqlService::shutdown`]: the follower stops.
    stopping: std::sync::atomic::AtomicBool,
    /// Whether a follower ([`crate::follower`]) applies the command topic's new commands.
    following: std::sync::atomic::AtomicBool,
    cluster: Arc<dyn Cluster>,
    command_topic: String,
    /// A [`ServerState`], as its number.
    state: std::sync::atomic::AtomicU8,
}

impl std::fmt::Debug for KsqlService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KsqlService")
            .field("service_id", &self.service_id)
            .finish_non_exhaustive()
    }
}

/// The command id and success message of a statement that is recorded, `None` for one
/// that is not (queries, listings, `INSERT ... VALUES`, `SET`, `DEFINE`, no-ops).
fn command_of(statement: &Statement, result: &StatementResult) -> Option<(String, String)> {
    let word = |kind: &SourceKind| match kind {
        SourceKind::Stream => "stream",
        SourceKind::Table => "table",
    };
    Some(match (statement, result) {
        (Statement::CreateSource(c), StatementResult::SourceCreated { .. }) => (
            format!("{}/{}/create", word(&c.kind), c.name.value),
            match c.kind {
                SourceKind::Stream => "Stream created".into(),
                SourceKind::Table => "Table created".into(),
            },
        ),
        (Statement::CreateAsSelect(c), StatementResult::QueryStarted { id, .. }) => (
            format!("{}/{}/create", word(&c.kind), c.name.value),
            format!("Created query with ID {id}"),
        ),
        (Statement::InsertInto { target, .. }, StatementResult::QueryStarted { id, .. }) => (
            format!("stream/{}/create", target.value),
            format!("Created query with ID {id}"),
        ),
        (Statement::DropSource { kind, name, .. }, StatementResult::SourceDropped { .. }) => (
            format!("{}/{}/drop", word(kind), name.value),
            format!("Source `{}` was dropped.", name.value),
        ),
        (Statement::Terminate(_), StatementResult::QueryTerminated { id }) => (
            format!("terminate/{id}/execute"),
            "Query terminated.".into(),
        ),
        (Statement::Pause(target), StatementResult::Done(message)) => (
            format!("pause/{}/execute", target_text(target)),
            message.clone(),
        ),
        (Statement::Resume(target), StatementResult::Done(message)) => (
            format!("resume/{}/execute", target_text(target)),
            message.clone(),
        ),
        (Statement::CreateType { name, .. }, StatementResult::Done(message)) => {
            (format!("type/{}/create", name.value), message.clone())
        }
        (Statement::DropType { name, .. }, StatementResult::Done(message)) => {
            (format!("type/{}/drop", name.value), message.clone())
        }
        (Statement::AlterSource { kind, name, .. }, StatementResult::Done(message)) => (
            format!("{}/{}/alter", word(kind), name.value),
            message.clone(),
        ),
        _ => return None,
    })
}

/// A `TERMINATE`, `PAUSE` or `RESUME` target as a command id names it.
fn target_text(target: &QueryTarget) -> &str {
    match target {
        QueryTarget::All => "ALL",
        QueryTarget::Id(id) => id,
    }
}

/// The text recorded for a statement: as written, except that `DROP ... DELETE TOPIC` is
/// recorded without `DELETE TOPIC` (the topic is deleted once, now; a replay must not
/// delete a topic of the same name made later), as ksqlDB's `TopicDeleteInjector` does.
fn recorded_text(parsed: &ParsedStatement) -> String {
    match &parsed.statement {
        Statement::DropSource {
            kind,
            name,
            delete_topic: true,
            ..
        } => format!("DROP {kind} `{}`;", name.value.replace('`', "``")),
        _ => with_semicolon(&parsed.text),
    }
}

/// A statement's text ending in `;`, as ksqlDB's `statementText` is.
fn with_semicolon(text: &str) -> String {
    let text = text.trim_end();
    if text.ends_with(';') {
        text.to_string()
    } else {
        format!("{text};")
    }
}

impl KsqlService {
    /// Opens the service: the engine over `cluster` with `runner`, the command topic of
    /// the engine's service id (created if missing), and a replay of every command in it.
    /// Queries are held during the replay and started at its end, so a query terminated
    /// by a later command never runs.
    pub fn open(
        engine_config: Config,
        cluster: Arc<dyn Cluster>,
        runner: Box<dyn QueryRunner>,
        config: ServiceConfig,
    ) -> Result<(Self, ReplayReport)> {
        let service_id = engine_config.service_id().to_string();
        let (runner, hold) = HeldRunner::new(runner);
        let mut engine = Engine::new(engine_config, cluster.clone(), Box::new(runner));
        let mut commands = CommandLog::open(cluster.clone(), command_topic(&service_id))?;
        let history = commands.read_all()?;
        let mut report = ReplayReport {
            commands: history.len(),
            ..ReplayReport::default()
        };
        let mut statuses = BTreeMap::new();
        let mut next_sequence = 0;
        // A termination recorded last time and maybe not finished: what came before it is
        // replayed (held), so that it knows what to remove.
        let terminated_at = history
            .iter()
            .position(|(_, c)| c.statement == TERMINATE_CLUSTER);
        for (offset, command) in &history[..terminated_at.unwrap_or(history.len())] {
            next_sequence = offset + 1;
            let replayed = apply(&mut engine, command);
            match replayed {
                Ok(done) => {
                    for (id, message) in done {
                        statuses.insert(id, ("SUCCESS".to_string(), message));
                    }
                }
                Err(e) => {
                    tracing::warn!(offset, error = %e, statement = %command.statement,
                        "a recorded statement failed on replay; skipped");
                    report
                        .failures
                        .push((format!("command at offset {offset}"), e.to_string()));
                }
            }
        }
        if let Some(at) = terminated_at {
            let patterns = terminate::recorded_patterns(&history[at].1);
            let deleted = terminate::terminate_engine(&mut engine, &patterns);
            tracing::warn!(topics = ?deleted,
                "the command topic ends with a cluster termination: finished it; this server \
                 starts a new, empty cluster");
            cluster.delete_topic(commands.topic())?;
            commands = CommandLog::open(cluster.clone(), command_topic(&service_id))?;
            next_sequence = 0;
            statuses.clear();
        }
        for (id, e) in hold.release() {
            tracing::warn!(query = %id, error = %e, "a replayed query failed to start");
            report.failures.push((id, e.to_string()));
        }
        report.queries = engine.queries().len();
        let service = Self {
            inner: Mutex::new(Inner {
                engine,
                commands,
                next_sequence,
                statuses,
                applied_to: next_sequence,
            }),
            push: Arc::new(PushRegistry::new(config.max_push_queries)),
            config,
            command_topic: command_topic(&service_id),
            service_id,
            next_print: std::sync::atomic::AtomicU64::new(1),
            broker_metrics: None,
            instance: instance_name(),
            stopping: std::sync::atomic::AtomicBool::new(false),
            following: std::sync::atomic::AtomicBool::new(false),
            cluster,
            state: std::sync::atomic::AtomicU8::new(ServerState::Ready as u8),
        };
        Ok((service, report))
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The service id.
    pub fn service_id(&self) -> &str {
        &self.service_id
    }

    /// The server's settings.
    pub fn config(&self) -> &ServiceConfig {
        &self.config
    }

    /// The open push queries.
    pub fn push_queries(&self) -> &Arc<PushRegistry> {
        &self.push
    }

    /// Serves `metrics` (the built-in broker's) after the queries' at `GET /metrics`.
    pub fn set_broker_metrics(&mut self, metrics: crate::metrics::ExtraMetrics) {
        self.broker_metrics = Some(metrics);
    }

    /// The broker's metrics, if set.
    pub fn broker_metrics(&self) -> Option<&crate::metrics::ExtraMetrics> {
        self.broker_metrics.as_ref()
    }

    /// Each persistent query's numbers, for `GET /metrics`.
    pub fn query_metrics(&self) -> Vec<crate::metrics::QueryMetrics> {
        let inner = self.lock();
        let engine = &inner.engine;
        engine
            .queries()
            .values()
            .map(|query| {
                let (status, app) = engine.query_health(&query.id);
                let sink_topic = query
                    .sink
                    .as_deref()
                    .and_then(|sink| engine.source(sink))
                    .map(|source| source.topic.clone());
                let mut metrics = crate::metrics::QueryMetrics {
                    id: query.id.clone(),
                    state: status.name().to_string(),
                    errors: query.log.count(),
                    ..Default::default()
                };
                if let Some(app) = app {
                    let s = app.snapshot;
                    metrics.records_in = s.processed;
                    metrics.records_out = sink_topic
                        .and_then(|t| s.produced.get(&t).copied())
                        .unwrap_or(0);
                    metrics.lag = s.lag;
                    metrics.skipped = s.skipped;
                    metrics.late = s.late_dropped;
                }
                metrics
            })
            .collect()
    }

    /// Every command's status and message, by command id.
    pub fn statuses(&self) -> BTreeMap<String, (String, String)> {
        self.lock().statuses.clone()
    }

    /// Runs `f` on the engine (tests, tools).
    pub fn with_engine<T>(&self, f: impl FnOnce(&mut Engine) -> T) -> T {
        f(&mut self.lock().engine)
    }

    /// Runs a `POST /ksql` request: its statements in order, each recorded in the command
    /// topic if it changed what runs. The answer holds one entity per statement that has
    /// one; an error stops at that statement, and carries the entities before it.
    pub fn execute(&self, request: &KsqlRequest) -> Result<Vec<Value>, RestError> {
        self.catch_up();
        self.check_ready()?;
        let mut inner = self.lock();
        let Inner {
            engine,
            commands,
            next_sequence,
            statuses,
            ..
        } = &mut *inner;
        let mut entities = Vec::new();
        // The properties a recorded statement ran with: the request's, then its SETs.
        let mut overrides = request.properties.clone();
        let outcome = engine.scoped(&request.properties, &request.variables, |engine| {
            engine.each_statement(&request.ksql, |engine, parsed| {
                let text = &with_semicolon(&parsed.text);
                match &parsed.statement {
                    Statement::Query(_) | Statement::Print { .. } => {
                        return Err(RestError::query_endpoint(text, &entities));
                    }
                    // A push query's id: close it, as ksqlDB does (not recorded).
                    Statement::Terminate(QueryTarget::Id(id)) if self.push.close(id) => {
                        entities.push(json!({
                            "@type": "terminate_query",
                            "statementText": text,
                            "queryId": id,
                            "wasTerminated": true,
                            "warnings": [],
                        }));
                        return Ok(());
                    }
                    Statement::Set { name, value } => {
                        overrides.insert(name.clone(), value.clone());
                    }
                    Statement::Unset(name) => {
                        overrides.remove(name);
                    }
                    _ => {}
                }
                let result = engine
                    .execute_statement(parsed)
                    .map_err(|e| RestError::statement(&e, text, &entities))?;
                if let Some(entity) = listing(&result, text) {
                    entities.push(entity);
                    return Ok(());
                }
                let (command_id, message) = match command_of(&parsed.statement, &result) {
                    Some(command) => command,
                    None => {
                        if let StatementResult::SourceExists { name } = &result {
                            entities.push(current_status(
                                text,
                                &CommandStatus {
                                    command_id: format!("source/{name}/create"),
                                    status: "SUCCESS",
                                    message: format!("{name} already exists"),
                                    query_id: None,
                                    sequence: *next_sequence - 1,
                                },
                            ));
                        }
                        return Ok(());
                    }
                };
                let command = Command {
                    statement: recorded_text(parsed),
                    properties: overrides.clone(),
                    origin: Some(self.instance.clone()),
                };
                commands.append(&command_id, &command).map_err(|e| {
                    RestError::server(format!(
                        "The statement ran but could not be recorded in the command topic, \
                         so it will not survive a restart: {e}"
                    ))
                })?;
                let status = CommandStatus {
                    command_id: command_id.clone(),
                    status: "SUCCESS",
                    message: message.clone(),
                    query_id: match &result {
                        StatementResult::QueryStarted { id, .. } => Some(id.clone()),
                        _ => None,
                    },
                    sequence: *next_sequence,
                };
                *next_sequence += 1;
                statuses.insert(command_id, ("SUCCESS".to_string(), message));
                entities.push(current_status(text, &status));
                Ok(())
            })
        });
        outcome.map(|()| entities)
    }

    /// Starts a `PRINT`, if the request is one (`POST /query-stream`, `POST /query`).
    pub fn start_print(&self, request: &KsqlRequest) -> Result<Option<Printer>, RestError> {
        self.check_ready()?;
        let mut variables = self.lock().engine.variables().clone();
        variables.extend(request.variables.clone());
        let Ok(sql) = substitute_variables(&request.ksql, &variables) else {
            return Ok(None);
        };
        let Ok(parsed) = parse_one(&sql) else {
            return Ok(None);
        };
        let Statement::Print {
            topic,
            from_beginning,
            interval,
            limit,
        } = parsed.statement
        else {
            return Ok(None);
        };
        if !self.push.has_room() {
            return Err(RestError::too_many_push_queries(
                self.config.max_push_queries,
            ));
        }
        let cluster = self.lock().engine.cluster().clone();
        let id = format!(
            "print_{}",
            self.next_print
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let spec = PrintSpec {
            topic,
            from_beginning,
            interval: interval.unwrap_or(1),
            limit,
        };
        Printer::open(id, &cluster, spec).map(Some)
    }

    /// Runs a `SELECT` (`POST /query-stream`, `POST /query`): a push query starts, a pull
    /// query answers.
    pub fn start_query(&self, request: &KsqlRequest) -> Result<QueryAnswer, RestError> {
        self.catch_up();
        self.check_ready()?;
        if !self.push.has_room() {
            return Err(RestError::too_many_push_queries(
                self.config.max_push_queries,
            ));
        }
        let as_rest_error = |e: SqlError| match e.kind() {
            ErrorKind::Other => RestError::server(e.to_string()),
            _ => RestError::statement(&e, request.ksql.trim(), &[]),
        };
        let prepared = self
            .lock()
            .engine
            .scoped(&request.properties, &request.variables, |engine| {
                engine.prepare_query(&request.ksql)
            })
            .map_err(as_rest_error)?;
        // A pull query reads its table or stream without the engine's lock: statements,
        // push queries and pull queries on other tables go on meanwhile.
        Ok(match prepared {
            PreparedQuery::Push(push) => QueryAnswer::Push(push),
            PreparedQuery::Pull(pull) => QueryAnswer::Pull(pull.run().map_err(as_rest_error)?),
        })
    }

    /// Stops every push query and every persistent query's application (a server
    /// shutting down); the catalog and the command topic stay as they are.
    pub fn shutdown(&self) {
        self.stopping
            .store(true, std::sync::atomic::Ordering::Release);
        self.push.close_all();
        if !self.push.wait_closed(std::time::Duration::from_secs(10)) {
            tracing::warn!("push queries did not stop within 10 s");
        }
        if let Err(e) = self.lock().engine.stop_all() {
            tracing::warn!(error = %e, "stopping the persistent queries failed");
        }
    }

    /// Whether [`KsqlService::shutdown`] was called.
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(std::sync::atomic::Ordering::Acquire)
    }

    /// The command topic's name.
    pub fn command_topic(&self) -> &str {
        &self.command_topic
    }

    /// The cluster under the engine.
    pub fn cluster(&self) -> &Arc<dyn Cluster> {
        &self.cluster
    }

    /// Applies a command another server sharing the service id recorded (one this server
    /// recorded itself, or one it applied already, is skipped), read at `offset` with
    /// command id `command_id`.
    pub fn follow(&self, offset: i64, command_id: &str, command: &Command) {
        let mut inner = self.lock();
        if offset < inner.applied_to {
            return;
        }
        inner.applied_to = offset + 1;
        inner.next_sequence = inner.next_sequence.max(offset + 1);
        if command.origin.as_deref() == Some(self.instance.as_str()) {
            return;
        }
        if command.statement == TERMINATE_CLUSTER {
            return self.follow_termination(&mut inner.engine);
        }
        match apply(&mut inner.engine, command) {
            Ok(done) => {
                for (id, message) in done {
                    inner.statuses.insert(id, ("SUCCESS".to_string(), message));
                }
            }
            Err(e) => {
                tracing::warn!(offset, error = %e, statement = %command.statement,
                    "a command another server recorded failed here");
                inner
                    .statuses
                    .insert(command_id.to_string(), ("ERROR".to_string(), e.to_string()));
            }
        }
    }

    /// Records that a follower runs (requests then wait for it to catch up).
    pub fn set_following(&self, following: bool) {
        self.following
            .store(following, std::sync::atomic::Ordering::Release);
    }

    /// Marks a command that could not be read as passed.
    pub fn skip(&self, offset: i64) {
        let mut inner = self.lock();
        inner.applied_to = inner.applied_to.max(offset + 1);
    }

    /// Waits (up to 10 s) until every command in the topic now has been applied, so that
    /// a request sees what a request to another server of the service id did before it.
    fn catch_up(&self) {
        if !self.following.load(std::sync::atomic::Ordering::Acquire) {
            return;
        }
        let Ok(Some(end)) = self.cluster.end_offset(&self.command_topic, 0) else {
            return;
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while self.lock().applied_to < end && !self.is_stopping() {
            if std::time::Instant::now() > deadline {
                tracing::warn!(
                    end,
                    "the command topic was not followed up to date within 10 s"
                );
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
}

/// Runs a recorded command on `engine`: the command ids and messages of what it did.
fn apply(engine: &mut Engine, command: &Command) -> Result<Vec<(String, String)>, SqlError> {
    engine.scoped(&command.properties, &BTreeMap::new(), |engine| {
        let mut outcome = Vec::new();
        let run = engine.each_statement(&command.statement, |engine, parsed| {
            let result = engine.execute_statement(parsed)?;
            outcome.extend(command_of(&parsed.statement, &result));
            Ok::<_, SqlError>(())
        });
        run.map(|()| outcome)
    })
}

/// A name for this server process, different from every other's in practice.
fn instance_name() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{}-{nanos:x}", std::process::id())
}
