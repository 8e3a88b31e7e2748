//! The query planner: from a parsed query and the catalog to an eddy-streams `Topology`,
//! following ksqlDB's logical planner (`LogicalPlanner`): sources, WHERE, PARTITION BY,
//! table functions, aggregation or projection, then the sink, with ksqlDB's naming, key
//! and validation rules.
//!
//! Stateless steps run as vectorised stages over Arrow batches ([`crate::runtime`]);
//! stateful steps (repartitions, aggregations, joins) are eddy-streams' DSL operators over
//! rows, with the state stores and changelogs of the runtime.
//!
//! - [`flow`]: what a plan step produces (a stream of batches or a table of rows) and the
//!   columns queries may name there;
//! - [`source`]: reading a stream or table;
//! - [`select`]: select items: `*` expansion, ksqlDB's generated names;
//! - [`stream`]: queries over one stream or table without aggregation;
//! - [`aggregate`]: GROUP BY, windows, HAVING;
//! - [`join`] plans joins; [`joined`] is a join's result as the steps over it see it;
//! - [`sanitize`] makes ksqlDB's checks of a query being prepared (qualifiers, ambiguous
//!   columns of joins);
//! - [`sink`]: the result's source (topic, formats, schema) and the sink nodes;
//! - [`finish`]: a push query's output or a persistent query's sink, and the planned query.

pub mod aggregate;
pub mod finish;
pub mod flatmap;
pub mod flow;
pub mod join;
pub mod joined;
pub mod partition;
pub mod sanitize;
pub mod select;
pub mod sink;
pub mod source;
pub mod stream;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion_expr::LogicalPlan;
use eddy_streams::processor::NodeId;
use eddy_streams::topology::NodeFactory;
use eddy_streams::{StreamsBuilder, Topology, TopologyBuilder};

use crate::catalog::schema::{ROWOFFSET, ROWPARTITION, ROWTIME, WINDOWEND, WINDOWSTART};
use crate::catalog::{DataSource, MetaStore};
use crate::engine::config::Config;
use crate::error::{Result, SqlError};
use crate::expr::compile::Compiler;
use crate::expr::{Scope, TExpr, Typer};
use crate::functions::FunctionRegistry;
use crate::parser::ast::{Expr, ExprKind, Properties, Query, SelectItem, SourceKind};
use crate::runtime::processing_log::ProcessingLog;
use crate::types::SqlType;

/// What a query's results become.
#[derive(Debug, Clone)]
pub enum Target {
    /// A new stream or table (`CREATE ... AS SELECT`).
    Create {
        /// Its name.
        name: String,
        /// Stream or table.
        kind: SourceKind,
        /// The `WITH` properties.
        properties: Properties,
        /// The statement text.
        sql: String,
    },
    /// An existing stream (`INSERT INTO`).
    Insert {
        /// The stream.
        target: DataSource,
    },
    /// Rows returned to the caller (a push query).
    Transient,
}

/// A sink topic the query needs: its name and partition count (`None`: as its source's).
pub type SinkTopic = (String, Option<i32>);

/// A planned query.
pub struct PlannedQuery {
    /// The topology.
    pub topology: Topology,
    /// The sink created or written (none for transient queries).
    pub sink: Option<DataSource>,
    /// The sources read.
    pub sources: Vec<String>,
    /// Whether the result is a stream or a table.
    pub result_kind: SourceKind,
    /// The result's columns, as a transient query returns them.
    pub columns: Vec<(String, SqlType)>,
    /// ksqlDB-style execution steps, for EXPLAIN.
    pub steps: Vec<String>,
    /// The DataFusion logical plan of each vectorised stage, for EXPLAIN.
    pub stages: Vec<(String, LogicalPlan)>,
    /// Sink topic to create: name and partitions (`None`: as the source's).
    pub sink_topic: Option<SinkTopic>,
    /// The processing log the query's nodes write to.
    pub log: ProcessingLog,
    /// The node whose output a transient query returns (its rows' stage).
    pub transient_output: Option<TransientOutput>,
}

/// Where a transient query's rows come out.
#[derive(Debug, Clone)]
pub struct TransientOutput {
    /// The column names and types of the rows.
    pub columns: Vec<(String, SqlType)>,
}

/// The number of partitions of a topic (`None`: no such topic).
pub type PartitionCounts<'a> = Box<dyn Fn(&str) -> Option<i32> + 'a>;

/// Everything planning one query needs.
pub struct PlanContext<'a> {
    /// The catalog.
    pub metastore: &'a MetaStore,
    /// The functions.
    pub registry: &'a FunctionRegistry,
    /// Properties in effect.
    pub config: &'a Config,
    /// The query's id (`CSAS_OUTPUT_0`).
    pub query_id: String,
    /// The graph being built.
    pub builder: StreamsBuilder,
    /// The compiler of the query's expressions (one error sink).
    pub compiler: Compiler,
    /// The query's processing log.
    pub log: ProcessingLog,
    /// Execution steps so far.
    pub steps: Vec<String>,
    /// Stages' logical plans so far.
    pub stages: Vec<(String, LogicalPlan)>,
    /// Where a push query's rows go.
    pub push: Option<std::sync::mpsc::SyncSender<crate::runtime::transient::PushRow>>,
    /// Counter for unique node names.
    counter: usize,
    /// The number of partitions of a topic, as the cluster has it (joins check that their
    /// sides are co-partitioned); without it the check is skipped.
    partitions: Option<PartitionCounts<'a>>,
}

impl<'a> PlanContext<'a> {
    /// A context for planning query `query_id`.
    pub fn new(
        metastore: &'a MetaStore,
        registry: &'a FunctionRegistry,
        config: &'a Config,
        query_id: &str,
    ) -> Self {
        Self {
            metastore,
            registry,
            config,
            query_id: query_id.to_string(),
            builder: StreamsBuilder::new(),
            compiler: Compiler::default(),
            log: ProcessingLog::new(query_id),
            steps: Vec::new(),
            stages: Vec::new(),
            push: None,
            counter: 0,
            partitions: None,
        }
    }

    /// The context with the cluster's partition counts (`partitions(topic)`, `None` for a
    /// topic that does not exist).
    pub fn with_partitions(mut self, partitions: impl Fn(&str) -> Option<i32> + 'a) -> Self {
        self.partitions = Some(Box::new(partitions));
        self
    }

    /// The number of partitions of `topic`, if known.
    pub fn partitions(&self, topic: &str) -> Option<i32> {
        self.partitions.as_ref().and_then(|f| f(topic))
    }

    /// The untyped graph.
    pub fn graph(&self) -> TopologyBuilder {
        self.builder.topology_builder()
    }

    /// A node name unique in the query: `name`, then `name-2`, ...
    pub fn node_name(&mut self, name: &str) -> String {
        self.counter += 1;
        format!("{name}-{:04}", self.counter)
    }

    /// Adds a processor node.
    pub fn processor(&mut self, name: &str, parent: NodeId, factory: NodeFactory) -> NodeId {
        let name = self.node_name(name);
        self.graph()
            .add_processor(name, &[parent], Vec::new(), factory)
    }

    /// Records an execution step.
    pub fn step(&mut self, text: impl Into<String>) {
        self.steps.push(text.into());
    }

    /// A typer over `scope`.
    pub fn typer<'s>(&'s self, scope: &'s Scope) -> Typer<'s> {
        Typer::new(scope, self.registry, self.metastore.custom_types())
    }

    /// Types an expression over `scope`.
    pub fn type_expr(&self, scope: &Scope, e: &Expr) -> Result<TExpr> {
        self.typer(scope).type_expr(e)
    }

    /// Types an expression of a clause; unknown columns are reported as ksqlDB does, naming
    /// the clause ("PARTITION BY column 'X' cannot be resolved.").
    pub fn type_in_clause(&self, scope: &Scope, e: &Expr, clause: &str) -> Result<TExpr> {
        self.type_expr(scope, e).map_err(|err| match err {
            SqlError::Statement { pos, message }
                if message.starts_with("Column '")
                    && message.ends_with("' cannot be resolved.") =>
            {
                SqlError::Statement {
                    pos,
                    message: format!("{clause} {}", message.replacen("Column", "column", 1)),
                }
            }
            other => other,
        })
    }

    /// The topology built so far.
    pub fn build(&self) -> Result<Topology> {
        Ok(self.builder.build()?)
    }
}

/// ksqlDB's checks of select items named like system columns: an alias may not be one,
/// and a persistent query may not select one unaliased.
fn check_reserved_names(query: &Query, persistent: bool) -> Result<()> {
    for item in &query.select {
        let SelectItem::Expr { expr, alias } = item else {
            continue;
        };
        let named = match (alias, &expr.kind) {
            (Some(a), _) => a.value.clone(),
            // A join names a qualified pseudo column after its source (`L_ROWTIME`).
            (
                None,
                ExprKind::Column {
                    source: Some(_), ..
                },
            ) if !query.from.joins.is_empty() => continue,
            (None, ExprKind::Column { name, .. }) => name.clone(),
            (None, _) => continue,
        };
        let Some(reserved) = [ROWTIME, ROWPARTITION, ROWOFFSET, WINDOWSTART, WINDOWEND]
            .into_iter()
            .find(|r| r.eq_ignore_ascii_case(&named))
        else {
            continue;
        };
        let is_that_column = matches!(&expr.kind, ExprKind::Column { name, .. } if name.eq_ignore_ascii_case(reserved));
        if !is_that_column {
            return Err(SqlError::semantic(format!(
                "`{reserved}` is a reserved column name. You cannot use it as an alias for a column."
            )));
        }
        if persistent {
            return Err(SqlError::semantic(format!(
                "Reserved column name in select: `{reserved}`. Please remove or alias the column."
            )));
        }
    }
    Ok(())
}

/// Plans a query into a topology.
pub fn plan_query(
    ctx: &mut PlanContext<'_>,
    query: &Query,
    target: &Target,
) -> Result<PlannedQuery> {
    sanitize::check_qualifiers(query)?;
    check_reserved_names(query, !matches!(target, Target::Transient))?;
    let is_join = !query.from.joins.is_empty();
    let aggregated = !query.group_by.is_empty() || select::has_aggregates(ctx, query);
    if flatmap::has_table_functions(ctx, &query.select) {
        if aggregated {
            return Err(SqlError::semantic(
                "Table functions cannot be used with aggregations.",
            ));
        }
        if is_join {
            return Err(SqlError::semantic(
                "Table functions are not supported over joins yet: create the join as a stream, \
                 then select from it.",
            ));
        }
        if ctx
            .metastore
            .source(&query.from.source.name.value)
            .is_some_and(|s| s.kind == SourceKind::Table)
        {
            return Err(SqlError::semantic(
                "Table source is not supported with table functions",
            ));
        }
    }
    if is_join {
        join::plan(ctx, query, target)
    } else if aggregated {
        aggregate::plan(ctx, query, target)
    } else {
        stream::plan(ctx, query, target)
    }
}

/// Shares a value with node factories.
pub fn shared<T>(value: T) -> Arc<T> {
    Arc::new(value)
}

/// The properties of a target, if it creates a source.
pub fn target_properties(target: &Target) -> BTreeMap<String, String> {
    match target {
        Target::Create { properties, .. } => properties
            .values
            .iter()
            .map(|(k, (v, _))| (k.clone(), v.as_text()))
            .collect(),
        _ => BTreeMap::new(),
    }
}
