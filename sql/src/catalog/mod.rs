//! The catalog (ksqlDB's metastore): streams and tables with their schemas, topics and
//! formats ([`DataSource`]), types made by `CREATE TYPE`, and which persistent queries read
//! and write each source.

pub mod schema;

use std::collections::{BTreeMap, BTreeSet};

pub use schema::{Column, ColumnKind, LogicalSchema};

use crate::error::{Result, SqlError};
use crate::parser::ast::SourceKind;
use crate::serde::FormatInfo;
use crate::types::SqlType;

/// How a windowed source's keys are windowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WindowType {
    /// Tumbling windows.
    Tumbling,
    /// Hopping windows.
    Hopping,
    /// Session windows.
    Session,
}

impl WindowType {
    /// The name ksqlDB prints.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Tumbling => "TUMBLING",
            Self::Hopping => "HOPPING",
            Self::Session => "SESSION",
        }
    }
}

/// The window of a windowed source's keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WindowInfo {
    /// The kind.
    pub kind: WindowType,
    /// The window size in milliseconds (time windows; `None` for sessions).
    pub size_ms: Option<i64>,
}

/// A stream's or table's timestamp column (`WITH (TIMESTAMP='col')`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TimestampColumn {
    /// The column.
    pub column: String,
    /// `TIMESTAMP_FORMAT`, for STRING columns (a Java date-time pattern).
    pub format: Option<String>,
}

/// A stream or table.
#[derive(Debug, Clone, PartialEq)]
pub struct DataSource {
    /// Its name.
    pub name: String,
    /// Stream or table.
    pub kind: SourceKind,
    /// Its columns.
    pub schema: LogicalSchema,
    /// The Kafka topic it reads or writes.
    pub topic: String,
    /// The key format.
    pub key_format: FormatInfo,
    /// The value format.
    pub value_format: FormatInfo,
    /// Whether a single value column is wrapped in an object (JSON) or record.
    pub wrap_single_value: bool,
    /// For windowed sources, the window of the keys.
    pub window: Option<WindowInfo>,
    /// The timestamp column, if ROWTIME comes from one.
    pub timestamp: Option<TimestampColumn>,
    /// `CREATE SOURCE`: read-only.
    pub is_source: bool,
    /// Made by `CREATE ... AS SELECT` (a query writes it).
    pub is_sink: bool,
    /// The statement that made it.
    pub sql: String,
}

impl DataSource {
    /// The key columns as (name, type) pairs.
    pub fn key_columns(&self) -> Vec<(String, SqlType)> {
        self.schema
            .key_columns()
            .map(|c| (c.name.clone(), c.ty.clone()))
            .collect()
    }

    /// The value columns as (name, type) pairs.
    pub fn value_columns(&self) -> Vec<(String, SqlType)> {
        self.schema
            .value_columns()
            .map(|c| (c.name.clone(), c.ty.clone()))
            .collect()
    }
}

/// A persistent query as the catalog sees it: what it reads and writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryLinks {
    /// The sources it reads.
    pub sources: BTreeSet<String>,
    /// The source it writes.
    pub sink: Option<String>,
}

/// Streams, tables, types and the links of queries to them.
#[derive(Debug, Clone, Default)]
pub struct MetaStore {
    sources: BTreeMap<String, DataSource>,
    types: BTreeMap<String, SqlType>,
    queries: BTreeMap<String, QueryLinks>,
}

impl MetaStore {
    /// An empty catalog.
    pub fn new() -> Self {
        Self::default()
    }

    /// A source by name.
    pub fn source(&self, name: &str) -> Option<&DataSource> {
        self.sources.get(name)
    }

    /// ksqlDB's hint for a source name that differs only in case from existing ones
    /// (`\nDid you mean "input"? Hint: ...`), or nothing; `kind` narrows the candidates.
    pub fn alternatives(&self, name: &str, kind: Option<SourceKind>) -> String {
        let matched: Vec<&DataSource> = self
            .sources
            .values()
            .filter(|s| s.name.eq_ignore_ascii_case(name) && kind.is_none_or(|k| k == s.kind))
            .collect();
        match matched.as_slice() {
            [] => String::new(),
            [one] if one.name.chars().any(|c| c.is_lowercase()) => format!(
                "\nDid you mean \"{}\"? Hint: wrap the source name in double quotes to make it \
                 case-sensitive.",
                one.name
            ),
            [one] => format!(
                "\nDid you mean {}? Hint: try removing double quotes from the source name.",
                one.name
            ),
            many => {
                let n = many.len();
                let mut hint = String::from("\nDid you mean ");
                for (i, s) in many.iter().enumerate() {
                    let punctuation = if i + 2 < n {
                        ", "
                    } else if i + 2 == n {
                        if i == 0 { " or " } else { ", or " }
                    } else {
                        "? "
                    };
                    hint.push_str(&format!("\"{}\" ({}){punctuation}", s.name, s.kind));
                }
                hint.push_str(
                    "Hint: wrap the source name in double quotes to make it case-sensitive.",
                );
                hint
            }
        }
    }

    /// Every source, by name.
    pub fn sources(&self) -> impl Iterator<Item = &DataSource> {
        self.sources.values()
    }

    /// Adds or replaces a source.
    pub fn put_source(&mut self, source: DataSource) {
        self.sources.insert(source.name.clone(), source);
    }

    /// Removes a source; refused while queries read or write it.
    pub fn remove_source(&mut self, name: &str) -> Result<Option<DataSource>> {
        let readers: Vec<&String> = self
            .queries
            .iter()
            .filter(|(_, q)| q.sources.contains(name))
            .map(|(id, _)| id)
            .collect();
        let writers: Vec<&String> = self
            .queries
            .iter()
            .filter(|(_, q)| q.sink.as_deref() == Some(name))
            .map(|(id, _)| id)
            .collect();
        if !readers.is_empty() || !writers.is_empty() {
            let list = |ids: &[&String]| {
                ids.iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Err(SqlError::semantic(format!(
                "Cannot drop {name}.\nThe following queries read from this source: [{}].\n\
                 The following queries write into this source: [{}].\n\
                 You need to terminate them before dropping {name}.",
                list(&readers),
                list(&writers)
            )));
        }
        Ok(self.sources.remove(name))
    }

    /// A type made by `CREATE TYPE`.
    pub fn custom_type(&self, name: &str) -> Option<&SqlType> {
        self.types.get(name)
    }

    /// Every custom type, by name.
    pub fn custom_types(&self) -> &BTreeMap<String, SqlType> {
        &self.types
    }

    /// Registers a custom type.
    pub fn put_type(&mut self, name: &str, ty: SqlType) {
        self.types.insert(name.to_string(), ty);
    }

    /// Removes a custom type.
    pub fn remove_type(&mut self, name: &str) -> Option<SqlType> {
        self.types.remove(name)
    }

    /// Records what a persistent query reads and writes.
    pub fn link_query(&mut self, id: &str, links: QueryLinks) {
        self.queries.insert(id.to_string(), links);
    }

    /// Forgets a query's links (it was terminated).
    pub fn unlink_query(&mut self, id: &str) {
        self.queries.remove(id);
    }

    /// The queries writing into a source.
    pub fn writers_of(&self, name: &str) -> Vec<String> {
        self.queries
            .iter()
            .filter(|(_, q)| q.sink.as_deref() == Some(name))
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// The queries reading a source.
    pub fn readers_of(&self, name: &str) -> Vec<String> {
        self.queries
            .iter()
            .filter(|(_, q)| q.sources.contains(name))
            .map(|(id, _)| id.clone())
            .collect()
    }
}
