//! `POST /ksql/terminate`: ksqlDB's `TERMINATE CLUSTER`. The request is recorded in the
//! command topic first (so a server killed halfway finishes the job at its next start),
//! then every persistent query is terminated with its clean-up (local state, internal
//! topics), every source and type is dropped, the topics of the sources queries made are
//! deleted where they match the request's `deleteTopicList` (names or regular expressions,
//! matched against the whole name as Java's `Pattern.matches` does; topics the user made
//! are never deleted), and last the command topic itself. The server then answers every
//! statement, query and insert with ksqlDB's "The server is shut down" (503); a restart
//! begins a new, empty cluster.
//!
//! Other servers sharing the service id stop their queries and push queries when they read
//! the command, and refuse requests from then on, as ksqlDB's do.

use std::sync::atomic::Ordering;

use eddy_sql::engine::Engine;
use eddy_sql::parser::ast::SourceKind;
use regex::Regex;
use serde_json::Value;

use super::KsqlService;
use crate::command_log::Command;
use crate::entities::{CommandStatus, current_status};
use crate::rest::error::RestError;

/// The statement ksqlDB records for the request and names in its answer.
pub const TERMINATE_CLUSTER: &str = "TERMINATE CLUSTER;";
/// Its command id (ksqlDB's `CommandIdAssigner.getTerminateClusterCommandId`).
const COMMAND_ID: &str = "cluster/TerminateCluster/terminate";
/// The recorded command's property holding the patterns, as a JSON array.
const DELETE_TOPIC_LIST: &str = "deleteTopicList";

/// Whether the server takes requests (ksqlDB's `ServerState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ServerState {
    /// Serving.
    Ready = 0,
    /// A termination is under way.
    Terminating = 1,
    /// Terminated: every request but `/info` and the health checks is refused.
    Terminated = 2,
}

/// A `deleteTopicList` entry as Java's `Pattern.matches` reads it: the whole name must match.
fn whole_name(pattern: &str) -> Result<Regex, regex::Error> {
    Regex::new(&format!("^(?:{pattern})$"))
}

/// Compiles `deleteTopicList`. A pattern that is not a regular expression is a bad request
/// naming it, as in ksqlDB.
pub fn topic_patterns(list: &[String]) -> Result<Vec<Regex>, RestError> {
    list.iter()
        .map(|pattern| {
            whole_name(pattern)
                .map_err(|_| RestError::bad_request(format!("Invalid pattern: {pattern}")))
        })
        .collect()
}

impl KsqlService {
    /// The server's state.
    pub fn state(&self) -> ServerState {
        match self.state.load(Ordering::Acquire) {
            0 => ServerState::Ready,
            1 => ServerState::Terminating,
            _ => ServerState::Terminated,
        }
    }

    fn set_state(&self, state: ServerState) {
        self.state.store(state as u8, Ordering::Release);
    }

    /// `Ok` while the server takes requests; ksqlDB's 503 answers once it is terminating
    /// or terminated.
    pub fn check_ready(&self) -> Result<(), RestError> {
        match self.state() {
            ServerState::Ready => Ok(()),
            ServerState::Terminating => Err(RestError::shutting_down()),
            ServerState::Terminated => Err(RestError::shut_down()),
        }
    }

    /// Terminates the cluster (see the module docs); `patterns` are the request's
    /// `deleteTopicList`. Answers ksqlDB's `currentStatus` entity for the command.
    pub fn terminate_cluster(&self, patterns: &[String]) -> Result<Vec<Value>, RestError> {
        let regexes = topic_patterns(patterns)?;
        self.catch_up();
        // One termination at a time: the first request to get here wins.
        if self
            .state
            .compare_exchange(
                ServerState::Ready as u8,
                ServerState::Terminating as u8,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_err()
        {
            self.check_ready()?;
        }
        self.push.close_all();
        let mut inner = self.lock();
        let command = Command {
            statement: TERMINATE_CLUSTER.to_string(),
            properties: [(
                DELETE_TOPIC_LIST.to_string(),
                Value::from(patterns.to_vec()).to_string(),
            )]
            .into(),
            origin: Some(self.instance.clone()),
        };
        if let Err(e) = inner.commands.append(COMMAND_ID, &command) {
            self.set_state(ServerState::Ready);
            return Err(RestError::server(format!(
                "The cluster was not terminated: the command could not be recorded: {e}"
            )));
        }
        let sequence = inner.next_sequence;
        inner.next_sequence += 1;
        let deleted = terminate_engine(&mut inner.engine, &regexes);
        self.delete_command_topic();
        self.set_state(ServerState::Terminated);
        let message = if deleted.is_empty() {
            "Cluster terminated.".to_string()
        } else {
            format!(
                "Cluster terminated; topics deleted: {}.",
                deleted.join(", ")
            )
        };
        tracing::info!(topics = ?deleted, "the cluster was terminated");
        inner
            .statuses
            .insert(COMMAND_ID.to_string(), ("SUCCESS".into(), message.clone()));
        Ok(vec![current_status(
            TERMINATE_CLUSTER,
            &CommandStatus {
                command_id: COMMAND_ID.to_string(),
                status: "SUCCESS",
                message,
                query_id: None,
                sequence,
            },
        )])
    }

    /// Another server recorded a termination: stop everything here and refuse requests
    /// (that server deletes what is to be deleted).
    pub(super) fn follow_termination(&self, engine: &mut Engine) {
        self.set_state(ServerState::Terminated);
        self.push.close_all();
        if let Err(e) = engine.stop_all() {
            tracing::warn!(error = %e, "stopping the queries of a terminated cluster failed");
        }
    }

    pub(super) fn delete_command_topic(&self) {
        if let Err(e) = self.cluster.delete_topic(&self.command_topic) {
            tracing::warn!(topic = %self.command_topic, error = %e,
                "deleting the command topic of a terminated cluster failed");
        }
    }
}

/// The patterns a recorded termination carries.
pub(super) fn recorded_patterns(command: &Command) -> Vec<Regex> {
    let list: Vec<String> = command
        .properties
        .get(DELETE_TOPIC_LIST)
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or_default();
    // Checked when it was recorded; one that no longer compiles deletes nothing.
    list.iter().filter_map(|p| whole_name(p).ok()).collect()
}

/// Terminates every persistent query (with its clean-up), drops every source and type, and
/// deletes the topics of query-made sources matching `patterns`: the topics deleted.
pub(super) fn terminate_engine(engine: &mut Engine, patterns: &[Regex]) -> Vec<String> {
    if let Err(e) = engine.execute("TERMINATE ALL;") {
        tracing::warn!(error = %e, "terminating the queries of a terminated cluster failed");
    }
    let sources: Vec<(SourceKind, String, String, bool)> = engine
        .metastore()
        .sources()
        .map(|s| (s.kind, s.name.clone(), s.topic.clone(), s.is_sink))
        .collect();
    let mut deleted = Vec::new();
    for (kind, name, topic, made_by_query) in sources {
        let drop = format!("DROP {kind} `{}`;", name.replace('`', "``"));
        if let Err(e) = engine.execute(&drop) {
            tracing::warn!(source = %name, error = %e, "dropping a source of a terminated cluster failed");
        }
        let wanted = made_by_query && patterns.iter().any(|p| p.is_match(&topic));
        if !wanted || deleted.contains(&topic) {
            continue;
        }
        let cluster = engine.cluster().clone();
        match cluster.partitions(&topic) {
            Ok(Some(_)) => match cluster.delete_topic(&topic) {
                Ok(()) => deleted.push(topic),
                Err(e) => tracing::warn!(%topic, error = %e, "deleting a topic failed"),
            },
            Ok(None) => {}
            Err(e) => tracing::warn!(%topic, error = %e, "looking up a topic failed"),
        }
    }
    let types: Vec<String> = engine.metastore().custom_types().keys().cloned().collect();
    for name in types {
        if let Err(e) = engine.execute(&format!("DROP TYPE `{}`;", name.replace('`', "``"))) {
            tracing::warn!(r#type = %name, error = %e, "dropping a type of a terminated cluster failed");
        }
    }
    deleted
}
