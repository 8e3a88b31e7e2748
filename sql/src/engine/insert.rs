//! `INSERT INTO target [(columns)] VALUES (...)`: the values evaluated, coerced to the
//! columns' types, serialised with the target's formats and produced to its topic.

use std::collections::BTreeMap;

use arrow::array::RecordBatch;
use eddy_streams::record::RawRecord;

use super::cluster::Cluster;
use crate::arrow_conv::value_at;
use crate::catalog::DataSource;
use crate::catalog::schema::{ColumnKind, ROWTIME};
use crate::error::{Result, SqlError};
use crate::expr::compile::Compiler;
use crate::expr::typer::coerce_literal;
use crate::expr::{Scope, Typer};
use crate::functions::FunctionRegistry;
use crate::parser::ast::{Expr, Name};
use crate::serde::json::from_json;
use crate::serde::json_text::Json;
use crate::serde::{CodecRef, codec_for};
use crate::types::SqlType;
use crate::value::{Row, Value};

/// Evaluates a constant expression of the columnless scope.
pub(crate) fn evaluate(
    e: &Expr,
    ty: &SqlType,
    registry: &FunctionRegistry,
    custom: &BTreeMap<String, SqlType>,
) -> Result<Value> {
    let scope = Scope::default();
    let mut typer = Typer::new(&scope, registry, custom);
    let t = typer.type_expr(e)?;
    let t = coerce_literal(t, ty)?;
    if let Some(from) = &t.ty
        && from != ty
        && !crate::expr::typer::castable(from, ty)
    {
        return Err(SqlError::at(
            e.pos,
            format!("Expected type {ty} for column, got {from}: {e}"),
        ));
    }
    let t = t.cast_to(ty);
    let compiler = Compiler::default();
    let (program, _) = compiler.program(&[], None, &[("V".to_string(), t)])?;
    let batch = RecordBatch::try_new_with_options(
        std::sync::Arc::new(arrow::datatypes::Schema::empty()),
        Vec::new(),
        &arrow::array::RecordBatchOptions::new().with_row_count(Some(1)),
    )?;
    let out = program.project(&batch)?;
    if let Some(error) = compiler.errors.take().into_iter().next() {
        return Err(SqlError::at(
            e.pos,
            format!("Failed to insert values: {error}"),
        ));
    }
    value_at(out.column(0).as_ref(), 0, ty)
}

/// The record an `INSERT ... VALUES` writes.
pub fn insert_record(
    target: &DataSource,
    columns: Option<&[Name]>,
    values: &[Expr],
    registry: &FunctionRegistry,
    custom: &BTreeMap<String, SqlType>,
    now_ms: i64,
) -> Result<RawRecord> {
    let names: Vec<String> = match columns {
        Some(c) => c.iter().map(|n| n.value.clone()).collect(),
        // Every column, header columns included (ksqlDB then refuses those).
        None => target
            .schema
            .columns()
            .iter()
            .map(|c| c.name.clone())
            .collect(),
    };
    if names.len() != values.len() {
        return Err(SqlError::semantic(format!(
            "Failed to prepare statement: Expected a value for each column. Expected Columns: [{}]. Got [{}]",
            names.join(", "),
            values
                .iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let mut given: BTreeMap<&str, Value> = BTreeMap::new();
    let mut timestamp = now_ms;
    for (name, e) in names.iter().zip(values) {
        if name == ROWTIME {
            let v = evaluate(e, &SqlType::BigInt, registry, custom)?;
            timestamp = v.as_i64().unwrap_or(now_ms);
            continue;
        }
        let column = target
            .schema
            .find(name)
            .ok_or_else(|| SqlError::semantic(format!("Column name {name} does not exist.")))?;
        if column.kind.is_header() {
            return Err(SqlError::semantic(format!(
                "Cannot insert into HEADER columns: {name}"
            )));
        }
        given.insert(name, evaluate(e, &column.ty, registry, custom)?);
    }
    RowEncoder::new(target)?.encode(&given, timestamp)
}

/// Encodes rows for one target with its key and value codecs, made once.
pub struct RowEncoder {
    target: DataSource,
    key: CodecRef,
    value: CodecRef,
}

impl std::fmt::Debug for RowEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowEncoder")
            .field("target", &self.target.name)
            .finish_non_exhaustive()
    }
}

impl RowEncoder {
    /// The encoder of `target`'s rows.
    pub fn new(target: &DataSource) -> Result<Self> {
        Ok(Self {
            key: codec_for(&target.key_format, target.key_columns(), false)?,
            value: codec_for(
                &target.value_format,
                target.value_columns(),
                target.wrap_single_value,
            )?,
            target: target.clone(),
        })
    }

    /// The target.
    pub fn target(&self) -> &DataSource {
        &self.target
    }

    /// The record of a row given as column values by name (columns not given are null).
    fn encode(&self, given: &BTreeMap<&str, Value>, timestamp: i64) -> Result<RawRecord> {
        let pick = |kind: &dyn Fn(&ColumnKind) -> bool| -> Row {
            self.target
                .schema
                .columns()
                .iter()
                .filter(|c| kind(&c.kind))
                .map(|c| given.get(c.name.as_str()).cloned().unwrap_or(Value::Null))
                .collect()
        };
        let key = pick(&|k| *k == ColumnKind::Key);
        let value = pick(&|k| *k == ColumnKind::Value);
        let key_bytes = if key.is_empty() || key.iter().all(Value::is_null) {
            None
        } else {
            self.key.encode(&key)?
        };
        Ok(RawRecord {
            key: key_bytes.map(Into::into),
            value: self.value.encode(&value)?.map(Into::into),
            timestamp,
            headers: Vec::new(),
            partition: None,
        })
    }

    /// The record a row of `POST /inserts-stream` writes: a JSON object of column values
    /// by column name (matched exactly, else case-insensitively), coerced as the JSON
    /// format coerces; `ROWTIME` sets the timestamp; columns not given are null.
    pub fn json_row(&self, row: &Json, now_ms: i64) -> Result<RawRecord> {
        let Json::Object(fields) = row else {
            return Err(SqlError::semantic("A row to insert must be a JSON object"));
        };
        let target = &self.target;
        let mut given: BTreeMap<&str, Value> = BTreeMap::new();
        let mut timestamp = now_ms;
        for (name, json) in fields {
            let upper = name.to_ascii_uppercase();
            if upper == ROWTIME {
                timestamp = match from_json(json, &SqlType::BigInt)? {
                    Value::BigInt(ms) => ms,
                    _ => now_ms,
                };
                continue;
            }
            let column = target
                .schema
                .find(name)
                .or_else(|| target.schema.find(&upper))
                .ok_or_else(|| {
                    SqlError::semantic(format!(
                        "Column name {name} does not exist in {}",
                        target.name
                    ))
                })?;
            if column.kind.is_header() {
                return Err(SqlError::semantic(format!(
                    "Cannot insert into HEADER columns: {}",
                    column.name
                )));
            }
            let value = from_json(json, &column.ty)
                .map_err(|e| SqlError::semantic(format!("Column {}: {e}", column.name)))?;
            given.insert(column.name.as_str(), value);
        }
        self.encode(&given, timestamp)
    }
}

/// Writes an `INSERT ... VALUES` row.
pub fn insert_values(
    cluster: &dyn Cluster,
    target: &DataSource,
    columns: Option<&[Name]>,
    values: &[Expr],
    registry: &FunctionRegistry,
    custom: &BTreeMap<String, SqlType>,
    now_ms: i64,
) -> Result<()> {
    let record = insert_record(target, columns, values, registry, custom, now_ms)?;
    cluster.produce(&target.topic, record)
}
