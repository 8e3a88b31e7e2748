//! The last step of planning a query: a push query's rows handed to the caller, or a
//! persistent query's sink recorded, and the [`PlannedQuery`] built from the context.

use std::sync::Arc;

use eddy_streams::processor::NodeId;

use super::sink::ResultSchema;
use super::{PlanContext, PlannedQuery, SinkTopic, TransientOutput};
use crate::catalog::DataSource;
use crate::error::Result;
use crate::expr::TExpr;
use crate::parser::ast::SourceKind;
use crate::runtime::transient::{StreamPushNode, TablePushNode};
use crate::types::SqlType;

impl PlanContext<'_> {
    /// Finishes a push query whose rows are `node`'s: a stream stage's batches of
    /// `columns` then `#nullrow`, or a table stage's changes with `columns` as values.
    pub fn finish_transient(
        &mut self,
        node: NodeId,
        kind: SourceKind,
        sources: Vec<String>,
        columns: &[(String, TExpr)],
    ) -> Result<PlannedQuery> {
        let columns: Vec<(String, SqlType)> = columns
            .iter()
            .map(|(n, t)| (n.clone(), t.ty.clone().unwrap_or(SqlType::String)))
            .collect();
        if let Some(sender) = self.push.clone() {
            match kind {
                SourceKind::Stream => {
                    let indexed: Vec<(usize, SqlType)> = columns
                        .iter()
                        .enumerate()
                        .map(|(i, (_, t))| (i, t.clone()))
                        .collect();
                    let null_row = columns.len();
                    self.processor(
                        "Push",
                        node,
                        Arc::new(move || {
                            Box::new(StreamPushNode::new(
                                "Push",
                                indexed.clone(),
                                null_row,
                                sender.clone(),
                            ))
                        }),
                    );
                }
                SourceKind::Table => {
                    let indexes: Vec<usize> = (0..columns.len()).collect();
                    self.processor(
                        "Push",
                        node,
                        Arc::new(move || {
                            Box::new(TablePushNode::new("Push", indexes.clone(), sender.clone()))
                        }),
                    );
                }
            }
        }
        let topology = self.build()?;
        Ok(PlannedQuery {
            topology,
            sink: None,
            sources,
            result_kind: kind,
            columns: columns.clone(),
            steps: std::mem::take(&mut self.steps),
            stages: std::mem::take(&mut self.stages),
            sink_topic: None,
            log: self.log.clone(),
            transient_output: Some(TransientOutput { columns }),
        })
    }

    /// Finishes a persistent query writing `result` to `sink`.
    pub fn finish_persistent(
        &mut self,
        kind: SourceKind,
        sources: Vec<String>,
        sink: DataSource,
        sink_topic: Option<SinkTopic>,
        result: &ResultSchema,
    ) -> Result<PlannedQuery> {
        let topology = self.build()?;
        Ok(PlannedQuery {
            topology,
            sink: Some(sink),
            sources,
            result_kind: kind,
            columns: result.key.iter().chain(&result.value).cloned().collect(),
            steps: std::mem::take(&mut self.steps),
            stages: std::mem::take(&mut self.stages),
            sink_topic,
            log: self.log.clone(),
            transient_output: None,
        })
    }
}
