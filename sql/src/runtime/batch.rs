//! [`SqlBatch`]: the Arrow batch that moves between the stateless nodes of a stream query,
//! and the layout of its columns ([`StageSchema`]).
//!
//! Every stage carries, besides the query's columns, the pseudo column `ROWTIME` (the
//! record time: sinks write it as the record's timestamp) and `#nullrow`, true for a record
//! whose value was null: ksqlDB passes such records through projections as null values and
//! drops them in filters.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch, RecordBatchOptions};
use arrow::datatypes::SchemaRef;

use super::columns::ColumnView;
use crate::arrow_conv::{to_array, value_at};
use crate::error::{Result, SqlError};
use crate::expr::compile::schema_of;
use crate::types::SqlType;
use crate::value::{Row, Value};

/// The name of the column marking rows whose record value was null.
pub const NULL_ROW: &str = "#nullrow";

/// The columns of a stage: names (internal) and types, in batch order.
#[derive(Debug, Clone, PartialEq)]
pub struct StageSchema {
    /// The columns.
    pub columns: Vec<(String, SqlType)>,
}

impl StageSchema {
    /// A schema of these columns.
    pub fn new(columns: Vec<(String, SqlType)>) -> Self {
        Self { columns }
    }

    /// The index of a column.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|(n, _)| n == name)
    }

    /// The type of a column.
    pub fn type_of(&self, name: &str) -> Option<&SqlType> {
        self.columns.iter().find(|(n, _)| n == name).map(|(_, t)| t)
    }

    /// The Arrow schema.
    pub fn arrow(&self) -> SchemaRef {
        schema_of(&self.columns)
    }
}

/// A batch of rows of one stage.
#[derive(Debug, Clone)]
pub struct SqlBatch {
    /// The rows, one column per stage column.
    pub rows: RecordBatch,
    /// Per row, the headers of the record it came from; `None` when no row has any (the
    /// common case, which costs nothing). Sinks write them, as Kafka Streams forwards a
    /// record's headers with what it becomes.
    pub headers: Option<Arc<Vec<RecordHeaders>>>,
}

/// One record's headers, as eddy-streams' records hold them.
pub type RecordHeaders = Option<Arc<eddy_streams::record::Headers>>;

impl SqlBatch {
    /// Rows without headers.
    pub fn new(rows: RecordBatch) -> Self {
        Self {
            rows,
            headers: None,
        }
    }

    /// The batch with these per-row headers (kept only if one row has some).
    pub fn with_headers(mut self, headers: Vec<RecordHeaders>) -> Self {
        self.headers = headers
            .iter()
            .any(Option::is_some)
            .then(|| Arc::new(headers));
        self
    }

    /// Row `i`'s headers.
    pub fn headers_of(&self, i: usize) -> RecordHeaders {
        self.headers
            .as_ref()
            .and_then(|h| h.get(i).cloned().flatten())
    }

    /// The headers of the rows `mask` keeps.
    pub fn filtered_headers(&self, mask: &BooleanArray) -> Option<Arc<Vec<RecordHeaders>>> {
        let headers = self.headers.as_ref()?;
        Some(Arc::new(
            headers
                .iter()
                .zip(mask.iter())
                .filter(|(_, keep)| keep.unwrap_or(false))
                .map(|(h, _)| h.clone())
                .collect(),
        ))
    }

    /// The headers of rows `indices`, in that order.
    pub fn taken_headers(&self, indices: &[u32]) -> Option<Arc<Vec<RecordHeaders>>> {
        let headers = self.headers.as_ref()?;
        Some(Arc::new(
            indices
                .iter()
                .map(|&i| headers.get(i as usize).cloned().flatten())
                .collect(),
        ))
    }

    /// A batch from rows of values in the schema's column order.
    pub fn from_rows(schema: &StageSchema, arrow: &SchemaRef, rows: &[Row]) -> Result<Self> {
        let columns = schema
            .columns
            .iter()
            .enumerate()
            .map(|(i, (_, ty))| {
                let column: Vec<&Value> = rows.iter().map(|r| &r[i]).collect();
                to_array(&column, ty)
            })
            .collect::<Result<Vec<ArrayRef>>>()?;
        Ok(Self {
            headers: None,
            rows: RecordBatch::try_new_with_options(
                arrow.clone(),
                columns,
                &RecordBatchOptions::new().with_row_count(Some(rows.len())),
            )?,
        })
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        self.rows.num_rows()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.num_rows() == 0
    }

    /// A column by index.
    pub fn column(&self, i: usize) -> &ArrayRef {
        self.rows.column(i)
    }

    /// Typed views of columns (index and type each), for reading them row by row.
    pub fn views<'b>(&'b self, columns: &'b [(usize, SqlType)]) -> Vec<ColumnView<'b>> {
        columns
            .iter()
            .map(|(c, ty)| ColumnView::new(self.column(*c), ty))
            .collect()
    }

    /// The value of column `column` (of type `ty`) in row `row`.
    pub fn value(&self, column: usize, row: usize, ty: &SqlType) -> Result<Value> {
        value_at(self.rows.column(column).as_ref(), row, ty)
    }

    /// The `#nullrow` flags, if the batch has that column at `index`.
    pub fn null_rows(&self, index: usize) -> Result<&BooleanArray> {
        self.rows
            .column(index)
            .as_any()
            .downcast_ref::<BooleanArray>()
            .ok_or_else(|| SqlError::eval("#nullrow is not a BOOLEAN column"))
    }
}

/// Shares an Arrow schema.
pub fn shared(schema: &StageSchema) -> SchemaRef {
    Arc::clone(&schema.arrow())
}

/// Whether row `i` of a `#nullrow` column is set.
pub fn is_null_row(flags: &BooleanArray, i: usize) -> bool {
    flags.is_valid(i) && flags.value(i)
}
