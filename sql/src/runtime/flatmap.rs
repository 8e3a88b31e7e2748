//! [`FlatMapNode`]: the table functions of a projection (`EXPLODE`, `CUBE_EXPLODE`), as
//! ksqlDB's `KudtfFlatMapper` runs them. Each input row gives as many rows as its longest
//! table-function result, the shorter results padded with NULLs and the row's other
//! columns repeated; a row whose functions all give nothing (or a null value) gives no
//! rows. A function that fails on a row is logged and the row gives no rows.

use std::sync::Arc;

use arrow::array::{ArrayRef, UInt32Array};
use arrow::compute::take;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use eddy_streams::processor::{AnyBatch, Context, Node, downcast};

use super::batch::{SqlBatch, is_null_row};
use super::processing_log::ProcessingLog;
use crate::arrow_conv::{to_array_owned, value_at};
use crate::functions::TableFn;
use crate::types::SqlType;
use crate::value::Value;

/// One table function call: its function, the input columns holding its arguments (and
/// their types), and its output type.
#[derive(Clone)]
pub struct TableCall {
    /// The function, resolved for the argument types.
    pub function: TableFn,
    /// The name, for the processing log.
    pub name: String,
    /// Argument columns and types.
    pub args: Vec<(usize, SqlType)>,
    /// The type of the values it gives.
    pub output: SqlType,
}

/// Expands each row by its table functions' results, appending one column per call.
pub struct FlatMapNode {
    name: String,
    calls: Vec<TableCall>,
    null_row: usize,
    schema: SchemaRef,
    log: ProcessingLog,
}

impl FlatMapNode {
    /// A node over batches whose `#nullrow` flag is column `null_row`, producing batches
    /// of `schema` (the input columns, then one per call).
    pub fn new(
        name: &str,
        calls: Vec<TableCall>,
        null_row: usize,
        schema: SchemaRef,
        log: ProcessingLog,
    ) -> Self {
        Self {
            name: name.to_string(),
            calls,
            null_row,
            schema,
            log,
        }
    }

    fn error(&self, message: impl std::fmt::Display) -> eddy_streams::Error {
        eddy_streams::Error::Processor {
            node: self.name.clone(),
            message: message.to_string(),
        }
    }
}

impl Node for FlatMapNode {
    fn process(&mut self, batch: AnyBatch, ctx: &mut Context<'_>) -> eddy_streams::Result<()> {
        let input = downcast::<SqlBatch>(batch, &self.name)?;
        let nulls = input
            .null_rows(self.null_row)
            .map_err(|e| self.error(e))?
            .clone();
        let mut indices: Vec<u32> = Vec::new();
        let mut outputs: Vec<Vec<Value>> = vec![Vec::new(); self.calls.len()];
        'rows: for row in 0..input.len() {
            if is_null_row(&nulls, row) {
                continue;
            }
            let mut results = Vec::with_capacity(self.calls.len());
            for call in &self.calls {
                let args = call
                    .args
                    .iter()
                    .map(|(c, ty)| value_at(input.column(*c).as_ref(), row, ty))
                    .collect::<crate::Result<Vec<Value>>>()
                    .map_err(|e| self.error(e))?;
                match (call.function)(&args) {
                    Ok(values) => results.push(values),
                    Err(e) => {
                        self.log
                            .record(format!("Table function {} failed: {e}", call.name));
                        continue 'rows;
                    }
                }
            }
            let n = results.iter().map(Vec::len).max().unwrap_or(0);
            for i in 0..n {
                indices.push(row as u32);
                for (out, values) in outputs.iter_mut().zip(&results) {
                    out.push(values.get(i).cloned().unwrap_or(Value::Null));
                }
            }
        }
        if indices.is_empty() {
            return Ok(());
        }
        let headers = input.taken_headers(&indices);
        let indices = UInt32Array::from(indices);
        let mut columns: Vec<ArrayRef> = input
            .rows
            .columns()
            .iter()
            .map(|c| take(c.as_ref(), &indices, None))
            .collect::<Result<_, _>>()
            .map_err(|e| self.error(e))?;
        for (call, values) in self.calls.iter().zip(&outputs) {
            columns.push(to_array_owned(values, &call.output).map_err(|e| self.error(e))?);
        }
        let rows =
            RecordBatch::try_new(Arc::clone(&self.schema), columns).map_err(|e| self.error(e))?;
        ctx.forward(SqlBatch { rows, headers });
        Ok(())
    }
}
