//! Writing query results: [`StreamSinkNode`] encodes a stream's batches (key columns with
//! the key format, windowed keys in Kafka Streams' layout, value columns with the value
//! format, `ROWTIME` as the record time, null rows as null values); [`TableSinkNode`]
//! encodes a table's changes (a deleted row is a tombstone). Both forward raw records to a
//! raw sink, or to a transient query's channel.

use eddy_streams::processor::{AnyBatch, Context, Node, downcast};
use eddy_streams::record::{Change, RawRecord, Record};
use eddy_streams::serdes::SerdeRef;

use super::batch::{SqlBatch, is_null_row};
use super::columns::ColumnView;
use super::processing_log::ProcessingLog;
use crate::error::SqlError;
use crate::serde::codec::CodecRef;
use crate::types::SqlType;
use crate::value::{Row, Value};

/// Where each part of a record comes from in a stream batch.
#[derive(Debug, Clone)]
pub struct SinkLayout {
    /// Key columns (window bounds last for windowed keys), with their types.
    pub key: Vec<(usize, SqlType)>,
    /// Value columns, with their types.
    pub value: Vec<(usize, SqlType)>,
    /// The ROWTIME column.
    pub rowtime: usize,
    /// The `#nullrow` column.
    pub null_row: usize,
    /// Whether a key of several columns that are all NULL is written as a null key (it
    /// was read as one: the key passed through unchanged), rather than as a key of NULLs
    /// (computed by PARTITION BY).
    pub null_key_when_all_null: bool,
}

/// Encodes stream batches into raw records.
pub struct StreamSinkNode {
    name: String,
    layout: SinkLayout,
    key: SerdeRef<Row>,
    value: CodecRef,
    log: ProcessingLog,
}

impl StreamSinkNode {
    /// A node encoding batches laid out as `layout`.
    pub fn new(
        name: &str,
        layout: SinkLayout,
        key: SerdeRef<Row>,
        value: CodecRef,
        log: ProcessingLog,
    ) -> Self {
        Self {
            name: name.to_string(),
            layout,
            key,
            value,
            log,
        }
    }
}

fn encode_key(
    serde: &SerdeRef<Row>,
    key: &Row,
    null_when_all_null: bool,
) -> Result<Option<bytes::Bytes>, String> {
    // A one-column key of NULL is a null key; a multi-column key of NULLs is one too when
    // it was read as a null key.
    if key.is_empty()
        || (key.len() == 1 && key[0].is_null())
        || (null_when_all_null && key.iter().all(Value::is_null))
    {
        return Ok(None);
    }
    // An empty serialisation (a KAFKA-format '') is still a key, not a null one.
    serde
        .serialize(key)
        .map(|b| Some(b.into()))
        .map_err(|e| e.to_string())
}

/// Kafka refuses records with negative timestamps: ksqlDB logs and drops them.
fn negative_timestamp(timestamp: i64) -> String {
    format!(
        "Dropping a record with a negative timestamp ({timestamp}): Kafka records need a timestamp of 0 or more"
    )
}

impl Node for StreamSinkNode {
    fn process(&mut self, batch: AnyBatch, ctx: &mut Context<'_>) -> eddy_streams::Result<()> {
        let batch = downcast::<SqlBatch>(batch, &self.name)?;
        let err = |e: SqlError| eddy_streams::Error::Processor {
            node: self.name.clone(),
            message: e.to_string(),
        };
        let nulls = batch.null_rows(self.layout.null_row).map_err(err)?.clone();
        // Columns are read as cells: values are encoded without building rows of them.
        let key_columns = batch.views(&self.layout.key);
        let value_columns = batch.views(&self.layout.value);
        let rowtime = ColumnView::new(batch.column(self.layout.rowtime), &SqlType::BigInt);
        let mut cells = Vec::with_capacity(value_columns.len());
        let mut out = Vec::with_capacity(batch.len());
        for i in 0..batch.len() {
            let key = key_columns
                .iter()
                .map(|c| c.value(i))
                .collect::<crate::Result<Row>>()
                .map_err(err)?;
            // A TIMESTAMP column that is NULL (or failed to parse) gives no record time:
            // the record is dropped, as ksqlDB's sink does.
            let Some(timestamp) = rowtime.cell(i).map_err(err)?.as_i64() else {
                self.log.record(
                    "Dropping a record whose TIMESTAMP column is NULL or could not be parsed",
                );
                continue;
            };
            if timestamp < 0 {
                self.log.record(negative_timestamp(timestamp));
                continue;
            }
            let key_bytes = match encode_key(&self.key, &key, self.layout.null_key_when_all_null) {
                Ok(k) => k,
                Err(e) => {
                    self.log.record(format!("Failed to serialize key: {e}"));
                    continue;
                }
            };
            let value_bytes = if is_null_row(&nulls, i) {
                None
            } else {
                cells.clear();
                for column in &value_columns {
                    cells.push(column.cell(i).map_err(err)?);
                }
                match self.value.encode_cells(&cells) {
                    Ok(v) => v.map(Into::into),
                    Err(e) => {
                        self.log.record(format!("Failed to serialize value: {e}"));
                        continue;
                    }
                }
            };
            out.push(RawRecord {
                key: key_bytes,
                value: value_bytes,
                timestamp,
                headers: batch
                    .headers_of(i)
                    .map(|h| (*h).clone())
                    .unwrap_or_default(),
                partition: None,
            });
        }
        if !out.is_empty() {
            ctx.forward(out);
        }
        Ok(())
    }
}

/// Encodes table changes into raw records: the new row, or a tombstone.
pub struct TableSinkNode {
    name: String,
    key: SerdeRef<Row>,
    value: CodecRef,
    /// Positions of the value columns in the change rows (the rest are dropped).
    value_columns: Vec<usize>,
    /// Where ROWTIME is in the change rows, if it sets the record time.
    rowtime: Option<usize>,
    log: ProcessingLog,
}

impl TableSinkNode {
    /// A node encoding changes whose rows hold `value_columns` (and ROWTIME at `rowtime`).
    pub fn new(
        name: &str,
        key: SerdeRef<Row>,
        value: CodecRef,
        value_columns: Vec<usize>,
        rowtime: Option<usize>,
        log: ProcessingLog,
    ) -> Self {
        Self {
            name: name.to_string(),
            key,
            value,
            value_columns,
            rowtime,
            log,
        }
    }
}

impl Node for TableSinkNode {
    fn process(&mut self, batch: AnyBatch, ctx: &mut Context<'_>) -> eddy_streams::Result<()> {
        let changes = downcast::<Vec<Record<Row, Change<Row>>>>(batch, &self.name)?;
        let mut out = Vec::with_capacity(changes.len());
        for change in changes {
            let key = match encode_key(&self.key, &change.key, false) {
                Ok(k) => k,
                Err(e) => {
                    self.log.record(format!("Failed to serialize key: {e}"));
                    continue;
                }
            };
            let mut timestamp = change.timestamp;
            let value = match &change.value.new {
                None => None,
                Some(row) => {
                    if let Some(t) = self
                        .rowtime
                        .and_then(|i| row.get(i))
                        .and_then(Value::as_i64)
                    {
                        timestamp = t;
                    }
                    let values: Row = self.value_columns.iter().map(|&i| row[i].clone()).collect();
                    match self.value.encode(&values) {
                        Ok(v) => v.map(Into::into),
                        Err(e) => {
                            self.log.record(format!("Failed to serialize value: {e}"));
                            continue;
                        }
                    }
                }
            };
            if timestamp < 0 {
                self.log.record(negative_timestamp(timestamp));
                continue;
            }
            out.push(RawRecord {
                key,
                value,
                timestamp,
                headers: change.headers.map(|h| (*h).clone()).unwrap_or_default(),
                partition: None,
            });
        }
        if !out.is_empty() {
            ctx.forward(out);
        }
        Ok(())
    }
}
