//! Pull queries (`SELECT ... FROM source [WHERE ...] [LIMIT n]`, no `EMIT`): one answer,
//! then done. A pull query is planned as the push query it would be and run, on a
//! [`TopologyTestDriver`], over the rows the source holds now, so that its projection,
//! filter, types and NULL rules are exactly a push query's:
//! - on a table, over its [`TableSnapshot`] (read up to date first): the rows whose key the
//!   `WHERE` fixes (`K = v`, `K IN (...)`, for the table's one key column; on a windowed
//!   table, that key's windows), else every row;
//! - on a stream, over its topic, read from the start up to its end (ksqlDB 0.23+'s stream
//!   pull queries), stopping at `LIMIT`.
//!
//! The full `WHERE` is applied to whatever rows are fed, so the key lookup only narrows the
//! work; it never changes the answer.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use eddy_streams::TopologyTestDriver;
use eddy_streams::record::RawRecord;

use super::snapshot::{Positions, TableSnapshot, read_to_end};
use super::{Cluster, Engine};
use crate::catalog::DataSource;
use crate::error::{Result, SqlError};
use crate::parser::ast::{BinaryOp, Expr, ExprKind, Query, Refinement, SourceKind, Statement};
use crate::runtime::transient::{PushRow, push_channel};
use crate::serde::codec_for;
use crate::types::SqlType;
use crate::value::Row;

/// Rows a pull query's driver may hold before they are collected (after every record).
const ROWS_PER_RECORD: usize = 1024;

/// A pull query's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct PullResult {
    /// Its id (`query_<n>`).
    pub id: String,
    /// The result's columns.
    pub columns: Vec<(String, SqlType)>,
    /// The rows.
    pub rows: Vec<Row>,
}

/// ksqlDB's refusals of what a pull query cannot have.
fn check_shape(query: &Query) -> Result<()> {
    let refuse = |clause: &str| {
        Err(SqlError::at(
            query.pos,
            format!("Pull queries don't support {clause} clauses."),
        ))
    };
    if !query.from.joins.is_empty() {
        return refuse("JOIN");
    }
    if !query.group_by.is_empty() {
        return refuse("GROUP BY");
    }
    if query.window.is_some() {
        return refuse("WINDOW");
    }
    if !query.partition_by.is_empty() {
        return refuse("PARTITION BY");
    }
    if query.having.is_some() {
        return refuse("HAVING");
    }
    Ok(())
}

/// The conjuncts of a `WHERE`.
fn conjuncts<'e>(e: &'e Expr, out: &mut Vec<&'e Expr>) {
    match &e.kind {
        ExprKind::Binary {
            op: BinaryOp::And,
            left,
            right,
        } => {
            conjuncts(left, out);
            conjuncts(right, out);
        }
        _ => out.push(e),
    }
}

fn is_column(e: &Expr, name: &str) -> bool {
    matches!(&e.kind, ExprKind::Column { name: n, .. } if n == name)
}

/// The values the `WHERE` fixes the key column `key` to, if it does (`key = v`,
/// `v = key`, `key IN (...)` at the top level).
fn key_values<'e>(where_clause: &'e Expr, key: &str) -> Option<Vec<&'e Expr>> {
    let mut all = Vec::new();
    conjuncts(where_clause, &mut all);
    all.into_iter().find_map(|c| match &c.kind {
        ExprKind::Binary {
            op: BinaryOp::Eq,
            left,
            right,
        } if is_column(left, key) => Some(vec![&**right]),
        ExprKind::Binary {
            op: BinaryOp::Eq,
            left,
            right,
        } if is_column(right, key) => Some(vec![&**left]),
        ExprKind::InList {
            expr,
            list,
            negated: false,
        } if is_column(expr, key) => Some(list.iter().collect()),
        _ => None,
    })
}

/// A pull query planned under the engine and ready to run without it
/// ([`Engine::prepare_pull`]): a server answers it without holding its engine, so pull
/// queries on different tables, and statements, go on meanwhile.
pub struct PreparedPull {
    id: String,
    columns: Vec<(String, SqlType)>,
    driver: TopologyTestDriver,
    rows: std::sync::mpsc::Receiver<PushRow>,
    limit: usize,
    topic: String,
    cluster: Arc<dyn Cluster>,
    from: PullFrom,
}

/// What a pull query reads.
enum PullFrom {
    /// A table's snapshot: the rows of `keys` when the `WHERE` fixes them, else all.
    Table {
        snapshot: Arc<Mutex<TableSnapshot>>,
        keys: Option<Vec<Vec<u8>>>,
    },
    /// A stream's topic, from the start to its end now.
    Stream,
}

impl std::fmt::Debug for PreparedPull {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedPull")
            .field("id", &self.id)
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

impl PreparedPull {
    /// Reads the source (a table's snapshot read up to date first, under that snapshot's
    /// own lock) through the query's topology: the answer.
    pub fn run(self) -> Result<PullResult> {
        let Self {
            id,
            columns,
            driver,
            rows,
            limit,
            topic,
            cluster,
            from,
        } = self;
        let mut out = Vec::new();
        let mut feed = |record: &RawRecord| -> Result<bool> {
            driver.pipe_raw_with_headers(
                &topic,
                record.key.as_ref().map(|k| k.to_vec()),
                record.value.as_ref().map(|v| v.to_vec()),
                record.timestamp,
                record.headers.clone(),
            )?;
            while let Ok(PushRow { values, tombstone }) = rows.try_recv() {
                if !tombstone && out.len() < limit {
                    out.push(values);
                }
            }
            Ok(out.len() < limit)
        };
        match from {
            PullFrom::Table { snapshot, keys } => {
                let mut snapshot = snapshot.lock().unwrap_or_else(|e| e.into_inner());
                snapshot.catch_up(&*cluster)?;
                match keys {
                    Some(keys) => {
                        'keys: for key in keys {
                            for record in snapshot.with_prefix(&key) {
                                if !feed(record)? {
                                    break 'keys;
                                }
                            }
                        }
                    }
                    None => {
                        for record in snapshot.all() {
                            if !feed(record)? {
                                break;
                            }
                        }
                    }
                }
            }
            PullFrom::Stream => {
                let mut reader = cluster.reader(&topic)?;
                let mut failure = None;
                let mut positions = Positions::new();
                read_to_end(
                    &*cluster,
                    &mut *reader,
                    &topic,
                    &mut positions,
                    |_, record| match feed(&record) {
                        Ok(more) => more,
                        Err(e) => {
                            failure = Some(e);
                            false
                        }
                    },
                )?;
                if let Some(e) = failure {
                    return Err(e);
                }
            }
        }
        Ok(PullResult {
            id,
            columns,
            rows: out,
        })
    }
}

impl Engine {
    /// Runs a pull query.
    pub fn pull_query(&mut self, sql: &str) -> Result<PullResult> {
        self.prepare_pull(sql)?.run()
    }

    /// Plans a pull query: parsed, checked and compiled against the catalog now; reading
    /// the source is left to [`PreparedPull::run`], which needs no engine.
    pub fn prepare_pull(&mut self, sql: &str) -> Result<PreparedPull> {
        let sql = crate::parser::substitute_variables(sql, &self.variables)?;
        let parsed = crate::parser::parse_one(&sql)?;
        let Statement::Query(query) = &parsed.statement else {
            return Err(SqlError::semantic("A pull query is a SELECT statement"));
        };
        if query.refinement.is_some() {
            return Err(SqlError::at(
                query.pos,
                "A pull query has no EMIT clause (EMIT CHANGES makes it a push query)",
            ));
        }
        check_shape(query)?;
        let source = self
            .metastore
            .source(&query.from.source.name.value)
            .cloned()
            .ok_or_else(|| {
                let name = &query.from.source.name;
                SqlError::at(
                    name.pos,
                    format!(
                        "{} does not exist.{}",
                        name.value,
                        self.metastore.alternatives(&name.value, None)
                    ),
                )
            })?;
        self.next_transient += 1;
        let id = format!("query_{}", self.next_transient);
        let mut as_push = (**query).clone();
        as_push.refinement = Some(Refinement::Changes);
        as_push.limit = None;
        let (sender, rows) = push_channel(ROWS_PER_RECORD);
        // Records go straight through: no record cache holds them back.
        let config = self.config.overlay(&BTreeMap::from([(
            "cache.max.bytes.buffering".to_string(),
            "0".to_string(),
        )]));
        let mut ctx = crate::plan::PlanContext::new(&self.metastore, &self.registry, &config, &id);
        ctx.push = Some(sender);
        let planned = crate::plan::plan_query(&mut ctx, &as_push, &crate::plan::Target::Transient)
            .map_err(|e| e.or_at(query.pos))?;
        drop(ctx);
        let columns = planned
            .transient_output
            .map(|o| o.columns)
            .ok_or_else(|| SqlError::semantic("internal: a pull query without output"))?;
        let driver = TopologyTestDriver::new(planned.topology)?;
        let from = match source.kind {
            SourceKind::Table => PullFrom::Table {
                keys: self.lookup_keys(&source, query.where_clause.as_ref()),
                snapshot: self.snapshot(&source)?,
            },
            SourceKind::Stream => PullFrom::Stream,
        };
        Ok(PreparedPull {
            id,
            columns,
            driver,
            rows,
            limit: query.limit.map_or(usize::MAX, |l| l as usize),
            topic: source.topic.clone(),
            cluster: self.cluster.clone(),
            from,
        })
    }

    /// The key bytes the `WHERE` narrows a table to, if it does and the values encode.
    fn lookup_keys(
        &self,
        source: &DataSource,
        where_clause: Option<&Expr>,
    ) -> Option<Vec<Vec<u8>>> {
        let key_columns = source.key_columns();
        let [(name, ty)] = key_columns.as_slice() else {
            return None;
        };
        let values = key_values(where_clause?, name)?;
        let codec = codec_for(&source.key_format, key_columns.clone(), false).ok()?;
        let mut keys = Vec::new();
        for e in values {
            let value =
                super::insert::evaluate(e, ty, &self.registry, self.metastore.custom_types())
                    .ok()?;
            if value.is_null() {
                continue;
            }
            keys.push(codec.encode(&[value]).ok()??);
        }
        keys.sort();
        keys.dedup();
        Some(keys)
    }

    /// The snapshot of a table (made at its first pull query; read up to date by each).
    fn snapshot(&mut self, source: &DataSource) -> Result<Arc<Mutex<TableSnapshot>>> {
        if let Some(snapshot) = self.snapshots.get(&source.topic) {
            return Ok(Arc::clone(snapshot));
        }
        let reader = self.cluster.reader(&source.topic)?;
        let snapshot = Arc::new(Mutex::new(TableSnapshot::new(&source.topic, reader)));
        self.snapshots
            .insert(source.topic.clone(), Arc::clone(&snapshot));
        Ok(snapshot)
    }
}
