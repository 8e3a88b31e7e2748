//! Push queries (`SELECT ... EMIT CHANGES [LIMIT n]`): a transient query whose result rows
//! come back to the caller through a bounded channel, as ksqlDB's push queries stream
//! them. The query runs until the caller closes (or drops) the [`PushQuery`], or until
//! `LIMIT` rows were delivered.

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use super::Stopper;
use crate::error::Result;
use crate::runtime::transient::PushRow;
use crate::types::SqlType;

/// How many rows a push query may hold before its stream thread waits for the caller.
pub const PUSH_BUFFER_ROWS: usize = 1024;

/// A running push query.
pub struct PushQuery {
    id: String,
    columns: Vec<(String, SqlType)>,
    rows: Receiver<PushRow>,
    limit: Option<u64>,
    delivered: u64,
    stopper: Option<Stopper>,
}

impl std::fmt::Debug for PushQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushQuery")
            .field("id", &self.id)
            .field("columns", &self.columns)
            .field("limit", &self.limit)
            .field("delivered", &self.delivered)
            .finish_non_exhaustive()
    }
}

impl PushQuery {
    pub(super) fn new(
        id: String,
        columns: Vec<(String, SqlType)>,
        rows: Receiver<PushRow>,
        limit: Option<u64>,
        stopper: Stopper,
    ) -> Self {
        Self {
            id,
            columns,
            rows,
            limit,
            delivered: 0,
            stopper: Some(stopper),
        }
    }

    /// The query's id (`transient_<SOURCE>_<n>`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The result's columns.
    pub fn columns(&self) -> &[(String, SqlType)] {
        &self.columns
    }

    /// Whether the query delivered its `LIMIT` rows (it has stopped then).
    pub fn is_complete(&self) -> bool {
        self.limit.is_some_and(|l| self.delivered >= l)
    }

    /// The next row, waiting up to `timeout`; `None` when none came in time or the query
    /// is complete.
    pub fn next_row(&mut self, timeout: Duration) -> Result<Option<PushRow>> {
        if self.is_complete() {
            return Ok(None);
        }
        match self.rows.recv_timeout(timeout) {
            Ok(row) => {
                self.delivered += 1;
                if self.is_complete() {
                    self.stop()?;
                }
                Ok(Some(row))
            }
            Err(RecvTimeoutError::Timeout) => Ok(None),
            // The query's nodes are gone: it stopped.
            Err(RecvTimeoutError::Disconnected) => Ok(None),
        }
    }

    /// Stops the query.
    pub fn close(mut self) -> Result<()> {
        self.stop()
    }

    fn stop(&mut self) -> Result<()> {
        match self.stopper.take() {
            Some(stop) => stop(),
            None => Ok(()),
        }
    }
}

impl Drop for PushQuery {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            tracing::warn!(query = %self.id, error = %e, "stopping a push query failed");
        }
    }
}

/// What a `SELECT` gives: a running push query, or a pull query's answer.
#[derive(Debug)]
pub enum QueryAnswer {
    /// `SELECT ... EMIT CHANGES`: rows as they come.
    Push(PushQuery),
    /// `SELECT ...` without `EMIT`: the rows there are now.
    Pull(super::PullResult),
}

/// A `SELECT` started under the engine ([`super::Engine::prepare_query`]): a running push
/// query, or a pull query planned and left to run without the engine.
#[derive(Debug)]
pub enum PreparedQuery {
    /// `SELECT ... EMIT CHANGES`, running.
    Push(PushQuery),
    /// `SELECT ...` without `EMIT`, to [`super::PreparedPull::run`].
    Pull(super::PreparedPull),
}

impl super::Engine {
    /// Runs a `SELECT`: a push query with `EMIT CHANGES`, a pull query without `EMIT`.
    pub fn query(&mut self, sql: &str) -> Result<QueryAnswer> {
        Ok(match self.prepare_query(sql)? {
            PreparedQuery::Push(push) => QueryAnswer::Push(push),
            PreparedQuery::Pull(pull) => QueryAnswer::Pull(pull.run()?),
        })
    }

    /// Starts a `SELECT` as far as it needs the engine: a push query runs; a pull query is
    /// planned, to be run by the caller (outside any lock on the engine).
    pub fn prepare_query(&mut self, sql: &str) -> Result<PreparedQuery> {
        use crate::parser::ast::{Refinement, Statement};

        let substituted = crate::parser::substitute_variables(sql, &self.variables)?;
        let parsed = crate::parser::parse_one(&substituted)?;
        match &parsed.statement {
            Statement::Query(q) if q.refinement.is_none() => {
                Ok(PreparedQuery::Pull(self.prepare_pull(sql)?))
            }
            Statement::Query(q) if q.refinement == Some(Refinement::Final) => {
                Err(crate::error::SqlError::at(
                    q.pos,
                    "EMIT FINAL is only supported in CREATE TABLE ... AS SELECT",
                ))
            }
            _ => Ok(PreparedQuery::Push(self.push_query(sql)?)),
        }
    }

    /// Starts a push query (`SELECT ... EMIT CHANGES [LIMIT n]`); its rows come through
    /// [`PushQuery::next_row`]. Reads from `auto.offset.reset` (ksqlDB's default: only new
    /// records; `SET 'auto.offset.reset'='earliest'` reads the topics from the start).
    pub fn push_query(&mut self, sql: &str) -> Result<PushQuery> {
        use crate::error::SqlError;
        use crate::parser::ast::{Refinement, Statement};

        let sql = crate::parser::substitute_variables(sql, &self.variables)?;
        let parsed = crate::parser::parse_one(&sql)?;
        let Statement::Query(query) = &parsed.statement else {
            return Err(SqlError::semantic(
                "A push query is a SELECT statement (SELECT ... EMIT CHANGES)",
            ));
        };
        if query.refinement != Some(Refinement::Changes) {
            return Err(SqlError::semantic(
                "A push query needs EMIT CHANGES (without it, run it as a pull query)",
            ));
        }
        let source = query.from.source.name.value.clone();
        self.next_transient += 1;
        let id = format!("transient_{source}_{}", self.next_transient);
        let application_id = format!("{}transient_{id}", self.config.internal_prefix());
        let (sender, rows) = crate::runtime::transient::push_channel(PUSH_BUFFER_ROWS);
        let cluster = self.cluster.clone();
        let mut ctx =
            crate::plan::PlanContext::new(&self.metastore, &self.registry, &self.config, &id)
                .with_partitions(move |t| cluster.partitions(t).ok().flatten());
        ctx.push = Some(sender);
        let planned = crate::plan::plan_query(&mut ctx, query, &crate::plan::Target::Transient)
            .map_err(|e| e.or_at(query.pos))?;
        drop(ctx);
        let columns = planned
            .transient_output
            .map(|o| o.columns)
            .ok_or_else(|| SqlError::semantic("internal: a push query without output"))?;
        let internal_topics = internal_topics(&application_id, &planned.topology);
        if let Some(file) = &self.push_file {
            file.add(&application_id);
        }
        let started = self.runner.start_transient(
            &id,
            &application_id,
            self.config.values(),
            planned.topology,
        );
        let stop_app = match started {
            Ok(stop_app) => stop_app,
            Err(e) => {
                // It made nothing of its own to leave behind.
                if let Some(file) = &self.push_file {
                    file.remove(&application_id);
                }
                return Err(e);
            }
        };
        // A push query's changelog and repartition topics and its consumer group are its
        // own: they go when it ends, as ksqlDB's cleanup of transient queries removes them.
        let cluster = self.cluster.clone();
        let query_id = id.clone();
        let push_file = self.push_file.clone();
        let stopper: super::Stopper = Box::new(move || {
            let stopped = stop_app();
            let mut deleted = true;
            for topic in internal_topics {
                if matches!(cluster.partitions(&topic), Ok(Some(_)))
                    && let Err(e) = cluster.delete_topic(&topic)
                {
                    tracing::warn!(query = %query_id, %topic, error = %e, "deleting a push query's topic failed");
                    deleted = false;
                }
            }
            if let Err(e) = cluster.delete_group(&application_id) {
                tracing::warn!(query = %query_id, error = %e, "deleting a push query's consumer group failed");
            }
            // Listed until its topics are gone: the next engine deletes what is left.
            if let (Some(file), true) = (push_file, deleted) {
                file.remove(&application_id);
            }
            stopped
        });
        Ok(PushQuery::new(id, columns, rows, query.limit, stopper))
    }
}

/// The topics an app of `topology` creates for itself: its stores' changelogs and its
/// repartition topics.
pub(super) fn internal_topics(
    application_id: &str,
    topology: &eddy_streams::Topology,
) -> Vec<String> {
    let changelogs = topology
        .stores()
        .iter()
        .filter(|s| s.logged && s.global_topic.is_none())
        .map(|s| eddy_streams::runtime::changelog_topic(application_id, &s.name));
    let repartitions = topology
        .internal_topics()
        .iter()
        .map(|t| format!("{application_id}-{}", t.suffix));
    changelogs.chain(repartitions).collect()
}
