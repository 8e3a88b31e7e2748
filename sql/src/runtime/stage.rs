//! Stateless stages: a compiled [`ExprProgram`] (filter, then projections) applied to a
//! stream's Arrow batches ([`StreamStageNode`]) or to a table's changes
//! ([`TableStageNode`], which evaluates new and old rows as one batch and turns rows the
//! filter rejects into deletes, as Kafka Streams' table filters do).

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use eddy_streams::processor::{AnyBatch, Context, Node, downcast};
use eddy_streams::record::{Change, Record};

use super::batch::{SqlBatch, StageSchema};
use super::processing_log::ProcessingLog;
use crate::arrow_conv::value_at;
use crate::error::SqlError;
use crate::expr::ExprProgram;
use crate::types::SqlType;
use crate::value::Row;

fn processor_error(node: &str, e: SqlError) -> eddy_streams::Error {
    eddy_streams::Error::Processor {
        node: node.to_string(),
        message: e.to_string(),
    }
}

/// Applies a program to stream batches.
pub struct StreamStageNode {
    name: String,
    program: Arc<ExprProgram>,
    log: ProcessingLog,
}

impl StreamStageNode {
    /// A node running `program`, logging row errors to `log`.
    pub fn new(name: &str, program: Arc<ExprProgram>, log: ProcessingLog) -> Self {
        Self {
            name: name.to_string(),
            program,
            log,
        }
    }
}

impl Node for StreamStageNode {
    fn process(&mut self, batch: AnyBatch, ctx: &mut Context<'_>) -> eddy_streams::Result<()> {
        let input = downcast::<SqlBatch>(batch, &self.name)?;
        let err = |e| processor_error(&self.name, e);
        // Filter, then project; the rows' headers follow the rows the filter keeps.
        let (rows, headers) = match self.program.filter_mask(&input.rows).map_err(err)? {
            Some(mask) => (
                arrow::compute::filter_record_batch(&input.rows, &mask)
                    .map_err(|e| err(e.into()))?,
                input.filtered_headers(&mask),
            ),
            None => (input.rows.clone(), input.headers.clone()),
        };
        let out = self.program.project(&rows).map_err(err)?;
        for error in self.program.errors.take() {
            self.log.record(error);
        }
        if out.num_rows() > 0 {
            ctx.forward(SqlBatch { rows: out, headers });
        }
        Ok(())
    }
}

/// Applies a program to a table's changes. Input rows are the key columns followed by the
/// value columns; the program's first `key_width` outputs are the output key, the rest the
/// output value.
pub struct TableStageNode {
    name: String,
    program: Arc<ExprProgram>,
    input: StageSchema,
    arrow: SchemaRef,
    key_width: usize,
    /// Append the record time to each row as a last `ROWTIME` column before evaluating.
    append_rowtime: bool,
    log: ProcessingLog,
}

impl TableStageNode {
    /// A node running `program` over rows of `input`.
    pub fn new(
        name: &str,
        program: Arc<ExprProgram>,
        input: StageSchema,
        key_width: usize,
        log: ProcessingLog,
    ) -> Self {
        let arrow = input.arrow();
        Self {
            name: name.to_string(),
            program,
            input,
            arrow,
            key_width,
            append_rowtime: false,
            log,
        }
    }

    /// Also gives the program each record's time, as a last `ROWTIME` input column.
    pub fn with_record_time(mut self) -> Self {
        self.append_rowtime = true;
        self
    }

    /// Evaluates rows (key ++ value); `None` where the filter rejects the row.
    fn evaluate(&self, rows: &[Row]) -> crate::Result<Vec<Option<(Row, Row)>>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let batch = SqlBatch::from_rows(&self.input, &self.arrow, rows)?;
        let mask = self.program.filter_mask(&batch.rows)?;
        let projected = self.program.project(&batch.rows)?;
        let types: Vec<&SqlType> = self.program.outputs.iter().map(|(_, t)| t).collect();
        let mut out = Vec::with_capacity(rows.len());
        for i in 0..rows.len() {
            if let Some(mask) = &mask
                && !mask.value(i)
            {
                out.push(None);
                continue;
            }
            let mut key = Vec::with_capacity(self.key_width);
            let mut value = Vec::with_capacity(types.len() - self.key_width);
            for (c, ty) in types.iter().enumerate() {
                let v = value_at(projected.column(c).as_ref(), i, ty)?;
                if c < self.key_width {
                    key.push(v);
                } else {
                    value.push(v);
                }
            }
            out.push(Some((key, value)));
        }
        Ok(out)
    }
}

impl Node for TableStageNode {
    fn process(&mut self, batch: AnyBatch, ctx: &mut Context<'_>) -> eddy_streams::Result<()> {
        let input = downcast::<Vec<Record<Row, Change<Row>>>>(batch, &self.name)?;
        // Every present new and old row, evaluated together.
        let mut rows = Vec::new();
        for r in &input {
            for v in [&r.value.new, &r.value.old].into_iter().flatten() {
                let mut row = r.key.clone();
                row.extend(v.iter().cloned());
                if self.append_rowtime {
                    row.push(crate::value::Value::BigInt(r.timestamp));
                }
                rows.push(row);
            }
        }
        let results = self
            .evaluate(&rows)
            .map_err(|e| processor_error(&self.name, e))?;
        for error in self.program.errors.take() {
            self.log.record(error);
        }
        let mut results = results.into_iter();
        let mut out = Vec::with_capacity(input.len());
        for r in input {
            let had_new = r.value.new.is_some();
            let new = r.value.new.as_ref().and_then(|_| results.next().flatten());
            let old = r.value.old.as_ref().and_then(|_| results.next().flatten());
            // A row the filter rejects whose previous row was rejected too (or unknown)
            // changes nothing downstream (Kafka Streams' filter sending old values).
            if had_new && new.is_none() && old.is_none() {
                continue;
            }
            // The key comes from whichever side is present (the input key, projected).
            let key = match (&new, &old) {
                (Some((k, _)), _) | (None, Some((k, _))) => k.clone(),
                (None, None) => r.key.clone(),
            };
            out.push(
                Record::new(
                    key,
                    Change::new(new.map(|(_, v)| v), old.map(|(_, v)| v)),
                    r.timestamp,
                )
                .with_headers(r.headers),
            );
        }
        ctx.forward_records(out);
        Ok(())
    }
}
