//! The end of a transient (push) query: rows handed to the caller through a bounded
//! channel. A full channel blocks the query's stream thread (backpressure); a closed one
//! (the caller went away) drops rows until the query is stopped.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use eddy_streams::processor::{AnyBatch, Context, Node, downcast};
use eddy_streams::record::{Change, Record};

use super::batch::{SqlBatch, is_null_row};
use crate::types::SqlType;
use crate::value::Row;

/// A row of a push query's result.
#[derive(Debug, Clone, PartialEq)]
pub struct PushRow {
    /// The values, one per result column.
    pub values: Row,
    /// For table results: the row was deleted (the values hold the key only).
    pub tombstone: bool,
}

/// A channel for a push query's rows.
pub fn push_channel(capacity: usize) -> (SyncSender<PushRow>, Receiver<PushRow>) {
    sync_channel(capacity)
}

/// Sends a stream's result rows: the columns at `columns` of each batch.
pub struct StreamPushNode {
    name: String,
    columns: Vec<(usize, SqlType)>,
    null_row: usize,
    sender: SyncSender<PushRow>,
}

impl StreamPushNode {
    /// A node sending the `columns` of each batch row.
    pub fn new(
        name: &str,
        columns: Vec<(usize, SqlType)>,
        null_row: usize,
        sender: SyncSender<PushRow>,
    ) -> Self {
        Self {
            name: name.to_string(),
            columns,
            null_row,
            sender,
        }
    }
}

impl Node for StreamPushNode {
    fn process(&mut self, batch: AnyBatch, _ctx: &mut Context<'_>) -> eddy_streams::Result<()> {
        let batch = downcast::<SqlBatch>(batch, &self.name)?;
        let err = |e: crate::SqlError| eddy_streams::Error::Processor {
            node: self.name.clone(),
            message: e.to_string(),
        };
        let nulls = batch.null_rows(self.null_row).map_err(err)?.clone();
        for i in 0..batch.len() {
            if is_null_row(&nulls, i) {
                continue;
            }
            let values = self
                .columns
                .iter()
                .map(|(c, t)| batch.value(*c, i, t))
                .collect::<crate::Result<Row>>()
                .map_err(err)?;
            // A caller that went away drops the rest until the query is stopped.
            let _ = self.sender.send(PushRow {
                values,
                tombstone: false,
            });
        }
        Ok(())
    }
}

/// Sends a table's result changes: the new row's columns at `columns`, or the key of a
/// deleted row.
pub struct TablePushNode {
    name: String,
    columns: Vec<usize>,
    sender: SyncSender<PushRow>,
}

impl TablePushNode {
    /// A node sending the `columns` of each change's new row (a deletion's key).
    pub fn new(name: &str, columns: Vec<usize>, sender: SyncSender<PushRow>) -> Self {
        Self {
            name: name.to_string(),
            columns,
            sender,
        }
    }
}

impl Node for TablePushNode {
    fn process(&mut self, batch: AnyBatch, _ctx: &mut Context<'_>) -> eddy_streams::Result<()> {
        let changes = downcast::<Vec<Record<Row, Change<Row>>>>(batch, &self.name)?;
        for change in changes {
            let (values, tombstone) = match change.value.new {
                Some(row) => (
                    self.columns.iter().map(|&i| row[i].clone()).collect(),
                    false,
                ),
                None => (change.key, true),
            };
            let _ = self.sender.send(PushRow { values, tombstone });
        }
        Ok(())
    }
}
