//! Reading a source's records: [`SourceDecoder`] turns a raw record into key columns, the
//! window of a windowed key, the non-key columns (value columns from the value format,
//! header columns from the headers) and the record time (`ROWTIME`, or the `TIMESTAMP`
//! column). [`StreamDecodeNode`] builds Arrow batches of a stream's rows with the pseudo
//! columns; [`TableDecodeNode`] forwards a table's upserts as typed records.
//!
//! A record that cannot be read (bad bytes, an invalid timestamp) is logged to the
//! query's processing log and skipped, as ksqlDB does.

use std::sync::Arc;

use arrow::array::{RecordBatch, RecordBatchOptions};
use arrow::datatypes::SchemaRef;
use bytes::Bytes;
use eddy_streams::processor::{AnyBatch, Context, Node, downcast};
use eddy_streams::record::{Record, SourceRecord};

use super::batch::{SqlBatch, StageSchema};
use super::columns::ColumnBuilder;
use super::processing_log::ProcessingLog;
use crate::catalog::{WindowInfo, WindowType};
use crate::error::{Result, SqlError};
use crate::functions::java_time::{JavaPattern, Zone};
use crate::serde::cell::Cell;
use crate::serde::codec::CodecRef;
use crate::types::SqlType;
use crate::value::{Row, Value};

/// Where a non-key column's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NonKeySource {
    /// Position `n` of the decoded value.
    Value(usize),
    /// All headers.
    Headers,
    /// The last header with this key.
    Header(String),
}

/// How ROWTIME is found.
#[derive(Debug, Clone)]
pub enum TimestampSource {
    /// The record's timestamp.
    Record,
    /// A BIGINT or TIMESTAMP non-key column (its index among the non-key columns).
    Column(usize),
    /// A STRING non-key column parsed with a Java pattern.
    Formatted(usize, JavaPattern),
}

/// Decodes a source's records.
#[derive(Debug, Clone)]
pub struct SourceDecoder {
    /// The key format's codec (for the inner key of windowed keys).
    pub key: CodecRef,
    /// The number of key columns.
    pub key_width: usize,
    /// The value format's codec.
    pub value: CodecRef,
    /// The number of value columns.
    pub value_width: usize,
    /// The window of windowed keys.
    pub window: Option<WindowInfo>,
    /// The non-key columns, in schema order.
    pub non_key: Vec<NonKeySource>,
    /// Where ROWTIME comes from.
    pub timestamp: TimestampSource,
    /// Where unreadable records are reported.
    pub log: ProcessingLog,
    /// The source's topic, for messages.
    pub topic: String,
}

/// A decoded record.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// The key columns.
    pub key: Row,
    /// The window of a windowed key: start and end.
    pub window: Option<(i64, i64)>,
    /// The non-key columns, `None` for a null value.
    pub value: Option<Row>,
    /// The record time.
    pub timestamp: i64,
}

fn split_window(bytes: &[u8], window: &WindowInfo) -> Result<(Vec<u8>, i64, i64)> {
    let time = |b: &[u8]| i64::from_be_bytes(b.try_into().unwrap_or([0; 8]));
    match window.kind {
        WindowType::Session => {
            if bytes.len() < 16 {
                return Err(SqlError::serde(
                    "session-windowed key is shorter than 16 bytes",
                ));
            }
            let n = bytes.len() - 16;
            let end = time(&bytes[n..n + 8]);
            let start = time(&bytes[n + 8..]);
            Ok((bytes[..n].to_vec(), start, end))
        }
        _ => {
            if bytes.len() < 8 {
                return Err(SqlError::serde("time-windowed key is shorter than 8 bytes"));
            }
            let n = bytes.len() - 8;
            let start = time(&bytes[n..]);
            let end = start.saturating_add(window.size_ms.unwrap_or(0));
            Ok((bytes[..n].to_vec(), start, end))
        }
    }
}

impl SourceDecoder {
    fn decode_key(&self, bytes: Option<&Bytes>) -> Result<(Row, Option<(i64, i64)>)> {
        let Some(bytes) = bytes else {
            return Ok((vec![Value::Null; self.key_width], None));
        };
        let (inner, window) = match &self.window {
            Some(w) => {
                let (inner, start, end) = split_window(bytes, w)?;
                (inner, Some((start, end)))
            }
            None => (bytes.to_vec(), None),
        };
        if self.key_width == 0 {
            return Ok((Vec::new(), window));
        }
        let row = self
            .key
            .decode(&inner)?
            .unwrap_or_else(|| vec![Value::Null; self.key_width]);
        Ok((row, window))
    }

    /// [`Self::decode_key`] into `cells` (borrowing the key's bytes unless it is windowed).
    fn decode_key_cells<'r>(
        &self,
        bytes: Option<&'r Bytes>,
        cells: &mut Vec<Cell<'r>>,
    ) -> Result<Option<(i64, i64)>> {
        if self.window.is_some() || self.key_width == 0 {
            let (key, window) = self.decode_key(bytes)?;
            cells.extend(key.into_iter().map(Cell::Value));
            return Ok(window);
        }
        let decoded = match bytes {
            Some(bytes) => self.key.decode_cells(bytes, cells)?,
            None => false,
        };
        if !decoded {
            cells.clear();
            cells.resize(self.key_width, Cell::Null);
        }
        Ok(None)
    }

    /// Decodes a record into rows of values; `Err` for records to skip.
    pub fn decode(&self, record: &SourceRecord) -> Result<Decoded> {
        let (mut scratch, mut cells) = (Vec::new(), Vec::new());
        let decoded = self.decode_cells(record, &mut scratch, &mut cells)?;
        let mut values = cells.into_iter().map(Cell::into_value);
        let key: Row = values.by_ref().take(self.key_width).collect();
        Ok(Decoded {
            key,
            window: decoded.window,
            value: decoded.has_value.then(|| values.collect()),
            timestamp: decoded.timestamp,
        })
    }

    /// Decodes a record into cells; `Err` for records to skip. `cells` gets the key columns then the non-key columns
    /// (NULLs for a null value), borrowing the record's bytes where the formats allow;
    /// `scratch` is room for the value format's columns.
    pub fn decode_cells<'r>(
        &self,
        record: &'r SourceRecord,
        scratch: &mut Vec<Cell<'r>>,
        cells: &mut Vec<Cell<'r>>,
    ) -> Result<DecodedCells> {
        cells.clear();
        let window = self
            .decode_key_cells(record.key.as_ref(), cells)
            .map_err(|e| {
                SqlError::serde(format!(
                    "Failed to deserialize key from topic: {}. {e}",
                    self.topic
                ))
            })?;
        let has_value = match &record.value {
            None => false,
            Some(bytes) => self.value.decode_cells(bytes, scratch).map_err(|e| {
                SqlError::serde(format!(
                    "Failed to deserialize value from topic: {}. {e}",
                    self.topic
                ))
            })?,
        };
        if has_value {
            for source in &self.non_key {
                cells.push(match source {
                    NonKeySource::Value(i) => scratch
                        .get_mut(*i)
                        .map_or(Cell::Null, |c| std::mem::replace(c, Cell::Null)),
                    NonKeySource::Headers => Cell::Value(headers_value(record)),
                    NonKeySource::Header(key) => Cell::Value(header_value(record, key)),
                });
            }
        } else {
            cells.extend(std::iter::repeat_n(Cell::Null, self.non_key.len()));
        }
        let non_key = |i: usize| cells.get(self.key_width + i);
        let timestamp = match &self.timestamp {
            _ if !has_value => record.timestamp,
            TimestampSource::Record => record.timestamp,
            TimestampSource::Column(i) => non_key(*i).and_then(Cell::as_i64).unwrap_or(-1),
            TimestampSource::Formatted(i, pattern) => {
                non_key(*i).and_then(Cell::as_str).map_or(-1, |s| {
                    pattern.parse_timestamp(s, &Zone::utc()).unwrap_or(-1)
                })
            }
        };
        self.check_timestamp(timestamp, record)?;
        Ok(DecodedCells {
            window,
            has_value,
            timestamp,
        })
    }

    fn check_timestamp(&self, timestamp: i64, record: &SourceRecord) -> Result<()> {
        if timestamp < 0 {
            return Err(SqlError::serde(format!(
                "Invalid timestamp {timestamp} in record from topic {} offset {}: the record \
                 is skipped",
                self.topic, record.offset
            )));
        }
        Ok(())
    }
}

/// What [`SourceDecoder::decode_cells`] found besides the cells.
#[derive(Debug, Clone, Copy)]
pub struct DecodedCells {
    /// The window of a windowed key: start and end.
    pub window: Option<(i64, i64)>,
    /// Whether the record has a (non-null) value.
    pub has_value: bool,
    /// The record time.
    pub timestamp: i64,
}

/// The `HEADERS` column of a record.
fn headers_value(record: &SourceRecord) -> Value {
    Value::Array(
        record
            .headers
            .iter()
            .map(|(k, v)| {
                Value::Struct(vec![
                    Value::String(k.clone()),
                    v.as_ref().map_or(Value::Null, |b| Value::Bytes(b.to_vec())),
                ])
            })
            .collect(),
    )
}

/// A `HEADER('key')` column of a record: the last header with that key.
fn header_value(record: &SourceRecord, key: &str) -> Value {
    record
        .headers
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .and_then(|(_, v)| v.as_ref())
        .map_or(Value::Null, |b| Value::Bytes(b.to_vec()))
}

/// The type of the `HEADERS` column.
pub fn headers_type() -> SqlType {
    SqlType::array(SqlType::structure([
        ("KEY".to_string(), SqlType::String),
        ("VALUE".to_string(), SqlType::Bytes),
    ]))
}

/// A stream's source node: raw records to batches of the source stage, whose columns are
/// the key columns, the non-key columns, `ROWTIME`, `ROWPARTITION`, `ROWOFFSET`, then
/// `WINDOWSTART` and `WINDOWEND` for windowed sources, and `#nullrow`.
pub struct StreamDecodeNode {
    name: String,
    decoder: Arc<SourceDecoder>,
    schema: StageSchema,
    arrow: SchemaRef,
}

impl StreamDecodeNode {
    /// A node decoding with `decoder` into batches of `schema`.
    pub fn new(name: &str, decoder: Arc<SourceDecoder>, schema: StageSchema) -> Self {
        let arrow = schema.arrow();
        Self {
            name: name.to_string(),
            decoder,
            schema,
            arrow,
        }
    }
}

impl Node for StreamDecodeNode {
    fn process(&mut self, batch: AnyBatch, ctx: &mut Context<'_>) -> eddy_streams::Result<()> {
        let records = downcast::<Vec<SourceRecord>>(batch, &self.name)?;
        let err = |e: SqlError| eddy_streams::Error::Processor {
            node: self.name.clone(),
            message: e.to_string(),
        };
        // Columns are built as records are read: key and non-key columns from the
        // decoded cells, then the pseudo columns.
        let mut columns: Vec<ColumnBuilder> = self
            .schema
            .columns
            .iter()
            .map(|(_, ty)| ColumnBuilder::new(ty, records.len()))
            .collect();
        let decoded_width = self.decoder.key_width + self.decoder.non_key.len();
        let windowed = self.decoder.window.is_some();
        let mut headers = Vec::with_capacity(records.len());
        let (mut scratch, mut cells) = (Vec::new(), Vec::new());
        for record in &records {
            let decoded = match self.decoder.decode_cells(record, &mut scratch, &mut cells) {
                Ok(d) => d,
                Err(e) => {
                    self.decoder.log.record(e.to_string());
                    ctx.record_skipped(1);
                    continue;
                }
            };
            ctx.observe_time(decoded.timestamp);
            for (column, cell) in columns.iter_mut().zip(cells.drain(..)) {
                column.append(cell).map_err(err)?;
            }
            let mut pseudo = columns[decoded_width..].iter_mut();
            let mut push = |cell: Cell<'_>| match pseudo.next() {
                Some(column) => column.append(cell),
                None => Err(SqlError::eval("the source stage has too few columns")),
            };
            push(Cell::I64(decoded.timestamp)).map_err(err)?;
            push(Cell::I32(ctx.partition())).map_err(err)?;
            push(Cell::I64(record.offset)).map_err(err)?;
            match decoded.window {
                Some((start, end)) => {
                    push(Cell::I64(start)).map_err(err)?;
                    push(Cell::I64(end)).map_err(err)?;
                }
                None if windowed => {
                    push(Cell::Null).map_err(err)?;
                    push(Cell::Null).map_err(err)?;
                }
                None => {}
            }
            push(Cell::Bool(!decoded.has_value)).map_err(err)?;
            headers.push(eddy_streams::record::shared_headers(record.headers.clone()));
        }
        if headers.is_empty() {
            return Ok(());
        }
        let rows = headers.len();
        let arrays = columns
            .into_iter()
            .map(ColumnBuilder::finish)
            .collect::<Result<Vec<_>>>()
            .map_err(err)?;
        let batch = RecordBatch::try_new_with_options(
            self.arrow.clone(),
            arrays,
            &RecordBatchOptions::new().with_row_count(Some(rows)),
        )
        .map_err(|e| err(e.into()))?;
        ctx.forward(SqlBatch::new(batch).with_headers(headers));
        Ok(())
    }
}

/// A table's source node: raw records to upserts `Record<key, Option<row>>`, where the row
/// holds the non-key columns then `ROWTIME`, `ROWPARTITION` and `ROWOFFSET`; a windowed
/// table's key is its inner key plus `WINDOWSTART` and `WINDOWEND` at its end.
pub struct TableDecodeNode {
    name: String,
    decoder: Arc<SourceDecoder>,
}

impl TableDecodeNode {
    /// A node decoding with `decoder`.
    pub fn new(name: &str, decoder: Arc<SourceDecoder>) -> Self {
        Self {
            name: name.to_string(),
            decoder,
        }
    }
}

impl Node for TableDecodeNode {
    fn process(&mut self, batch: AnyBatch, ctx: &mut Context<'_>) -> eddy_streams::Result<()> {
        let records = downcast::<Vec<SourceRecord>>(batch, &self.name)?;
        let mut out: Vec<Record<Row, Option<Row>>> = Vec::with_capacity(records.len());
        for record in &records {
            let decoded = match self.decoder.decode(record) {
                Ok(d) => d,
                Err(e) => {
                    self.decoder.log.record(e.to_string());
                    ctx.record_skipped(1);
                    continue;
                }
            };
            ctx.observe_time(decoded.timestamp);
            let mut key = decoded.key;
            // Tables cannot have a NULL primary key: such records are skipped. A key of
            // several columns some of which are NULL is still a key (ksqlDB's GenericKey).
            let null_key = record.key.is_none() || (key.len() == 1 && key[0].is_null());
            if let Some((start, end)) = decoded.window {
                key.push(Value::BigInt(start));
                key.push(Value::BigInt(end));
            }
            if null_key {
                self.decoder.log.record(format!(
                    "Skipping a record of {} with a NULL key (offset {}): table keys must not be NULL",
                    self.decoder.topic, record.offset
                ));
                ctx.record_skipped(1);
                continue;
            }
            let value = decoded.value.map(|mut row| {
                row.push(Value::BigInt(decoded.timestamp));
                row.push(Value::Int(ctx.partition()));
                row.push(Value::BigInt(record.offset));
                row
            });
            out.push(
                Record::new(key, value, decoded.timestamp)
                    .with_headers(eddy_streams::record::shared_headers(record.headers.clone())),
            );
        }
        ctx.forward_records(out);
        Ok(())
    }
}
