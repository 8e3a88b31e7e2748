//! [`LogicalSchema`]: the columns of a stream or table: key columns (serialised into the
//! record key), value columns (into the value) and header columns (read from record
//! headers), plus the pseudo columns every source has (`ROWTIME`, `ROWPARTITION`,
//! `ROWOFFSET`, and `WINDOWSTART`/`WINDOWEND` for windowed sources), which are not part of
//! the schema but resolved by name.

use std::fmt;

use crate::types::SqlType;

/// Where a column's value lives in a record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ColumnKind {
    /// In the key.
    Key,
    /// In the value.
    Value,
    /// Every header, as `ARRAY<STRUCT<KEY STRING, VALUE BYTES>>` (`HEADERS`).
    Headers,
    /// The last header with this key, as BYTES (`HEADER('key')`).
    Header(String),
}

impl ColumnKind {
    /// Whether the column comes from headers.
    pub fn is_header(&self) -> bool {
        matches!(self, Self::Headers | Self::Header(_))
    }
}

/// A column.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Column {
    /// The name (case as ksqlDB keeps it).
    pub name: String,
    /// The type.
    pub ty: SqlType,
    /// Key, value or header.
    pub kind: ColumnKind,
}

impl Column {
    /// A column.
    pub fn new(name: impl Into<String>, ty: SqlType, kind: ColumnKind) -> Self {
        Self {
            name: name.into(),
            ty,
            kind,
        }
    }
}

/// The pseudo column holding a record's timestamp.
pub const ROWTIME: &str = "ROWTIME";
/// The pseudo column holding a record's partition.
pub const ROWPARTITION: &str = "ROWPARTITION";
/// The pseudo column holding a record's offset.
pub const ROWOFFSET: &str = "ROWOFFSET";
/// The pseudo column holding a windowed record's window start.
pub const WINDOWSTART: &str = "WINDOWSTART";
/// The pseudo column holding a windowed record's window end.
pub const WINDOWEND: &str = "WINDOWEND";

/// The pseudo columns and their types (ksqlDB's `SystemColumns`).
pub fn pseudo_column_type(name: &str) -> Option<SqlType> {
    match name {
        ROWTIME | ROWOFFSET | WINDOWSTART | WINDOWEND => Some(SqlType::BigInt),
        ROWPARTITION => Some(SqlType::Int),
        _ => None,
    }
}

/// Names users may not give columns (ksqlDB's reserved system column names).
pub fn is_reserved_column_name(name: &str) -> bool {
    matches!(
        name,
        ROWTIME | ROWPARTITION | ROWOFFSET | WINDOWSTART | WINDOWEND
    )
}

/// The columns of a source: keys first, then values (headers among them, as declared).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct LogicalSchema {
    columns: Vec<Column>,
}

impl LogicalSchema {
    /// A schema of these columns; key columns are moved to the front (in order).
    pub fn new(columns: Vec<Column>) -> Self {
        let (mut keys, values): (Vec<_>, Vec<_>) =
            columns.into_iter().partition(|c| c.kind == ColumnKind::Key);
        keys.extend(values);
        Self { columns: keys }
    }

    /// Every column.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// The key columns.
    pub fn key_columns(&self) -> impl Iterator<Item = &Column> {
        self.columns.iter().filter(|c| c.kind == ColumnKind::Key)
    }

    /// The columns serialised into the value (headers excluded).
    pub fn value_columns(&self) -> impl Iterator<Item = &Column> {
        self.columns.iter().filter(|c| c.kind == ColumnKind::Value)
    }

    /// The non-key columns (values and headers), in order.
    pub fn non_key_columns(&self) -> impl Iterator<Item = &Column> {
        self.columns.iter().filter(|c| c.kind != ColumnKind::Key)
    }

    /// The header columns.
    pub fn header_columns(&self) -> impl Iterator<Item = &Column> {
        self.columns.iter().filter(|c| c.kind.is_header())
    }

    /// A column by name.
    pub fn find(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The index of a column by name.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// Adds value columns at the end (ALTER ... ADD COLUMN).
    pub fn with_added(&self, columns: Vec<Column>) -> Self {
        let mut all = self.columns.clone();
        all.extend(columns);
        Self::new(all)
    }

    /// The number of key columns.
    pub fn key_count(&self) -> usize {
        self.key_columns().count()
    }
}

impl fmt::Display for LogicalSchema {
    /// ksqlDB's schema text: `` `ID` INTEGER KEY, `NAME` STRING ``.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, c) in self.columns.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "`{}` {}", c.name, c.ty)?;
            match &c.kind {
                ColumnKind::Key => f.write_str(" KEY")?,
                ColumnKind::Value => {}
                ColumnKind::Headers => f.write_str(" HEADERS")?,
                ColumnKind::Header(k) => write!(f, " HEADER('{k}')")?,
            }
        }
        Ok(())
    }
}
