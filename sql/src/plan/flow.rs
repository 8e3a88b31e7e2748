//! What a plan step produces: a stream of Arrow batches ([`StreamFlow`]) or a table of row
//! changes ([`TableFlow`]), with the columns queries may name at that point.

use eddy_streams::KTable;
use eddy_streams::processor::NodeId;

use crate::catalog::WindowInfo;
use crate::catalog::schema::{ROWOFFSET, ROWPARTITION, ROWTIME, WINDOWEND, WINDOWSTART};
use crate::expr::{Scope, ScopeColumn};
use crate::runtime::batch::{NULL_ROW, StageSchema};
use crate::types::SqlType;
use crate::value::Row;

/// What a column is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A key column.
    Key,
    /// A value (or header) column.
    Value,
    /// ROWTIME, ROWPARTITION or ROWOFFSET.
    Pseudo,
    /// WINDOWSTART or WINDOWEND.
    WindowBound,
}

/// A column queries may name.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowColumn {
    /// The source alias qualifying it.
    pub qualifier: Option<String>,
    /// Its name in SQL.
    pub name: String,
    /// The column of batches or rows holding it.
    pub internal: String,
    /// Its type.
    pub ty: SqlType,
    /// What it is.
    pub role: Role,
}

/// A scope over flow columns.
pub fn scope_of(columns: &[FlowColumn], qualifiers: &[String]) -> Scope {
    Scope {
        columns: columns
            .iter()
            .map(|c| ScopeColumn {
                qualifier: c.qualifier.clone(),
                name: c.name.clone(),
                internal: c.internal.clone(),
                ty: c.ty.clone(),
            })
            .collect(),
        qualifiers: qualifiers.to_vec(),
    }
}

/// A stream of batches.
#[derive(Debug, Clone)]
pub struct StreamFlow {
    /// The node producing the batches.
    pub node: NodeId,
    /// The batches' columns.
    pub schema: StageSchema,
    /// The columns queries may name.
    pub columns: Vec<FlowColumn>,
    /// Internal names of the key columns, in key order (window bounds not included).
    pub key: Vec<String>,
    /// The window of windowed keys.
    pub window: Option<WindowInfo>,
    /// The source aliases in scope.
    pub qualifiers: Vec<String>,
}

impl StreamFlow {
    /// The scope for expressions.
    pub fn scope(&self) -> Scope {
        scope_of(&self.columns, &self.qualifiers)
    }

    /// The pseudo columns of a source stage, after its key and non-key columns.
    pub fn pseudo_columns(window: bool) -> Vec<(String, SqlType)> {
        let mut columns = vec![
            (ROWTIME.to_string(), SqlType::BigInt),
            (ROWPARTITION.to_string(), SqlType::Int),
            (ROWOFFSET.to_string(), SqlType::BigInt),
        ];
        if window {
            columns.push((WINDOWSTART.to_string(), SqlType::BigInt));
            columns.push((WINDOWEND.to_string(), SqlType::BigInt));
        }
        columns.push((NULL_ROW.to_string(), SqlType::Boolean));
        columns
    }
}

/// A table of row changes: records keyed by the key columns (window bounds last for
/// windowed keys), whose rows hold the `row` columns.
#[derive(Clone)]
pub struct TableFlow {
    /// The table.
    pub table: KTable<Row, Row>,
    /// The key columns (internal names and types; window bounds last when windowed).
    pub key: Vec<(String, SqlType)>,
    /// The row columns (internal names and types).
    pub row: Vec<(String, SqlType)>,
    /// The columns queries may name.
    pub columns: Vec<FlowColumn>,
    /// The window of windowed keys.
    pub window: Option<WindowInfo>,
    /// The source aliases in scope.
    pub qualifiers: Vec<String>,
    /// The store holding the table, if materialised.
    pub store: Option<String>,
}

impl TableFlow {
    /// The scope for expressions.
    pub fn scope(&self) -> Scope {
        scope_of(&self.columns, &self.qualifiers)
    }

    /// The columns of the batches a table stage evaluates: key columns then row columns.
    pub fn stage_schema(&self) -> StageSchema {
        StageSchema::new(self.key.iter().chain(&self.row).cloned().collect())
    }
}

impl std::fmt::Debug for TableFlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableFlow")
            .field("key", &self.key)
            .field("row", &self.row)
            .field("store", &self.store)
            .finish()
    }
}

/// A stream or a table.
#[derive(Debug, Clone)]
pub enum Flow {
    /// A stream of batches.
    Stream(StreamFlow),
    /// A table of changes.
    Table(TableFlow),
}
