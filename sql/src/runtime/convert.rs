//! Between Arrow batches and typed records: stateful operators (aggregations, joins,
//! repartitions) are eddy-streams' DSL operators over `Record<Row, Row>`; the stateless
//! stages around them work on batches.

use arrow::datatypes::SchemaRef;
use eddy_streams::processor::{AnyBatch, Context, Node, downcast};
use eddy_streams::record::Record;

use super::batch::{SqlBatch, StageSchema, is_null_row};
use super::columns::ColumnView;
use crate::error::SqlError;
use crate::types::SqlType;
use crate::value::{Row, Value};

fn processor_error(node: &str, e: SqlError) -> eddy_streams::Error {
    eddy_streams::Error::Processor {
        node: node.to_string(),
        message: e.to_string(),
    }
}

/// Which batch columns make a record.
#[derive(Debug, Clone)]
pub struct RecordLayout {
    /// Key columns and types.
    pub key: Vec<(usize, SqlType)>,
    /// Value columns and types.
    pub value: Vec<(usize, SqlType)>,
    /// The column holding the record time.
    pub rowtime: usize,
    /// The `#nullrow` column: null rows are dropped (stateful operators ignore records
    /// without a value, as Kafka Streams' do).
    pub null_row: usize,
    /// Drop rows whose key has a NULL (grouping and joining ignore them, as ksqlDB does).
    pub drop_null_keys: bool,
}

/// Batches to records.
pub struct ToRecordsNode {
    name: String,
    layout: RecordLayout,
}

impl ToRecordsNode {
    /// A node making records laid out as `layout`.
    pub fn new(name: &str, layout: RecordLayout) -> Self {
        Self {
            name: name.to_string(),
            layout,
        }
    }
}

impl Node for ToRecordsNode {
    fn process(&mut self, batch: AnyBatch, ctx: &mut Context<'_>) -> eddy_streams::Result<()> {
        let batch = downcast::<SqlBatch>(batch, &self.name)?;
        let err = |e| processor_error(&self.name, e);
        let nulls = batch.null_rows(self.layout.null_row).map_err(err)?.clone();
        // Columns read through typed views: one downcast per column, not per value.
        let (keys, values) = (
            batch.views(&self.layout.key),
            batch.views(&self.layout.value),
        );
        let rowtime = ColumnView::new(batch.column(self.layout.rowtime), &SqlType::BigInt);
        let row = |columns: &[ColumnView<'_>], i: usize| -> crate::Result<Row> {
            columns.iter().map(|c| c.value(i)).collect()
        };
        let mut out: Vec<Record<Row, Row>> = Vec::with_capacity(batch.len());
        for i in 0..batch.len() {
            if is_null_row(&nulls, i) {
                continue;
            }
            let key = row(&keys, i).map_err(err)?;
            if self.layout.drop_null_keys && key.iter().any(Value::is_null) {
                continue;
            }
            let value = row(&values, i).map_err(err)?;
            let timestamp = rowtime.cell(i).map_err(err)?.as_i64().unwrap_or(0);
            out.push(Record::new(key, value, timestamp).with_headers(batch.headers_of(i)));
        }
        ctx.forward_records(out);
        Ok(())
    }
}

/// Records to batches of a stage whose columns are the key's values, the value's values,
/// then `ROWTIME` (the record time) and `#nullrow` (false).
pub struct FromRecordsNode {
    name: String,
    schema: StageSchema,
    arrow: SchemaRef,
}

impl FromRecordsNode {
    /// A node making batches of `schema`.
    pub fn new(name: &str, schema: StageSchema) -> Self {
        let arrow = schema.arrow();
        Self {
            name: name.to_string(),
            schema,
            arrow,
        }
    }
}

impl Node for FromRecordsNode {
    fn process(&mut self, batch: AnyBatch, ctx: &mut Context<'_>) -> eddy_streams::Result<()> {
        let records = downcast::<Vec<Record<Row, Row>>>(batch, &self.name)?;
        if records.is_empty() {
            return Ok(());
        }
        let mut headers = Vec::with_capacity(records.len());
        let rows: Vec<Row> = records
            .into_iter()
            .map(|r| {
                headers.push(r.headers);
                let mut row = r.key;
                row.extend(r.value);
                row.push(Value::BigInt(r.timestamp));
                row.push(Value::Boolean(false));
                row
            })
            .collect();
        let batch = SqlBatch::from_rows(&self.schema, &self.arrow, &rows)
            .map_err(|e| processor_error(&self.name, e))?
            .with_headers(headers);
        ctx.forward(batch);
        Ok(())
    }
}
