//! Eddy's AST of ksqlDB statements. Names are as ksqlDB sees them: unquoted identifiers are
//! upper-cased by the parser, quoted ones (`"x"`, `` `x` ``) keep their case.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use crate::error::Pos;

/// A statement with the text it was parsed from.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedStatement {
    /// The statement's text, as written (without the trailing `;`).
    pub text: String,
    /// Where it starts in the script (line and column of its first token).
    pub pos: Pos,
    /// The statement.
    pub statement: Statement,
}

/// Streams or tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceKind {
    /// A stream: every record is an event.
    Stream,
    /// A table: the latest value per key.
    Table,
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Stream => "STREAM",
            Self::Table => "TABLE",
        })
    }
}

/// A statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    /// `CREATE [OR REPLACE] [SOURCE] STREAM|TABLE [IF NOT EXISTS] name (elements) WITH (...)`.
    CreateSource(CreateSource),
    /// `CREATE [OR REPLACE] STREAM|TABLE [IF NOT EXISTS] name [WITH (...)] AS SELECT ...`.
    CreateAsSelect(CreateAsSelect),
    /// `INSERT INTO name [WITH (...)] SELECT ...`.
    InsertInto {
        /// The target stream.
        target: Name,
        /// Properties.
        properties: Properties,
        /// The query.
        query: Box<Query>,
    },
    /// `INSERT INTO name [(columns)] VALUES (...)`.
    InsertValues {
        /// The target stream or table.
        target: Name,
        /// The columns named, if any.
        columns: Option<Vec<Name>>,
        /// The values.
        values: Vec<Expr>,
    },
    /// A push or pull query: `SELECT ...`.
    Query(Box<Query>),
    /// `DROP STREAM|TABLE [IF EXISTS] name [DELETE TOPIC]`.
    DropSource {
        /// Stream or table.
        kind: SourceKind,
        /// The source.
        name: Name,
        /// `IF EXISTS`.
        if_exists: bool,
        /// `DELETE TOPIC`.
        delete_topic: bool,
    },
    /// `CREATE TYPE [IF NOT EXISTS] name AS type`.
    CreateType {
        /// The type's name.
        name: Name,
        /// `IF NOT EXISTS`.
        if_not_exists: bool,
        /// The type.
        ty: AstType,
    },
    /// `DROP TYPE [IF EXISTS] name`.
    DropType {
        /// The type's name.
        name: Name,
        /// `IF EXISTS`.
        if_exists: bool,
    },
    /// `ALTER STREAM|TABLE name ADD [COLUMN] col type, ...`.
    AlterSource {
        /// Stream or table.
        kind: SourceKind,
        /// The source.
        name: Name,
        /// The columns to add.
        columns: Vec<TableElement>,
    },
    /// `SHOW|LIST ...`.
    Show(Show),
    /// `DESCRIBE [EXTENDED] name`, `DESCRIBE STREAMS|TABLES [EXTENDED]`.
    Describe {
        /// What to describe.
        target: DescribeTarget,
        /// `EXTENDED`.
        extended: bool,
    },
    /// `DESCRIBE FUNCTION name`.
    DescribeFunction(String),
    /// `EXPLAIN statement` or `EXPLAIN query_id`.
    Explain(Explain),
    /// `TERMINATE id | ALL`.
    Terminate(QueryTarget),
    /// `PAUSE id | ALL`.
    Pause(QueryTarget),
    /// `RESUME id | ALL`.
    Resume(QueryTarget),
    /// `PRINT topic [FROM BEGINNING] [INTERVAL n] [LIMIT n]`.
    Print {
        /// The topic, case kept.
        topic: String,
        /// `FROM BEGINNING`.
        from_beginning: bool,
        /// Print every n-th record.
        interval: Option<u64>,
        /// Stop after n records.
        limit: Option<u64>,
    },
    /// `SET 'name' = 'value'`.
    Set {
        /// The property.
        name: String,
        /// Its value.
        value: String,
    },
    /// `UNSET 'name'`.
    Unset(String),
    /// `ALTER SYSTEM 'name' = 'value'`.
    AlterSystem {
        /// The property.
        name: String,
        /// Its value.
        value: String,
    },
    /// `DEFINE name = 'value'`.
    Define {
        /// The variable.
        name: String,
        /// Its value.
        value: String,
    },
    /// `UNDEFINE name`.
    Undefine(String),
    /// `RUN SCRIPT 'path'`.
    RunScript(String),
    /// `ASSERT [NOT EXISTS] TOPIC name [WITH (...)] [TIMEOUT n unit]`.
    AssertTopic {
        /// The topic.
        topic: String,
        /// `NOT EXISTS`.
        not_exists: bool,
        /// Expected properties.
        properties: Properties,
        /// How long to wait.
        timeout: Option<Duration>,
    },
}

/// A name with where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    /// The name: upper-cased unless it was quoted.
    pub value: String,
    /// Where it was written.
    pub pos: Pos,
}

impl Name {
    /// A name at a position.
    pub fn new(value: impl Into<String>, pos: Pos) -> Self {
        Self {
            value: value.into(),
            pos,
        }
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

/// `CREATE ... STREAM|TABLE name (elements) WITH (...)`.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateSource {
    /// Stream or table.
    pub kind: SourceKind,
    /// The name.
    pub name: Name,
    /// `OR REPLACE`.
    pub or_replace: bool,
    /// `IF NOT EXISTS`.
    pub if_not_exists: bool,
    /// `SOURCE` (read-only, materialised for pull queries).
    pub is_source: bool,
    /// The columns (may be empty: the schema then comes from a schema registry, which Eddy
    /// does not have).
    pub elements: Vec<TableElement>,
    /// The `WITH` properties.
    pub properties: Properties,
}

/// `CREATE ... STREAM|TABLE name [WITH (...)] AS SELECT ...`.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateAsSelect {
    /// Stream or table.
    pub kind: SourceKind,
    /// The name.
    pub name: Name,
    /// `OR REPLACE`.
    pub or_replace: bool,
    /// `IF NOT EXISTS`.
    pub if_not_exists: bool,
    /// The `WITH` properties.
    pub properties: Properties,
    /// The query.
    pub query: Box<Query>,
}

/// A column definition.
#[derive(Debug, Clone, PartialEq)]
pub struct TableElement {
    /// The column's name.
    pub name: Name,
    /// Its type.
    pub ty: AstType,
    /// `KEY`, `PRIMARY KEY`, `HEADERS` or `HEADER('k')`.
    pub constraint: ColumnConstraint,
}

/// What kind of column a definition makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnConstraint {
    /// A value column.
    None,
    /// `KEY` (streams).
    Key,
    /// `PRIMARY KEY` (tables).
    PrimaryKey,
    /// `HEADERS`: all headers, as `ARRAY<STRUCT<KEY STRING, VALUE BYTES>>`.
    Headers,
    /// `HEADER('key')`: one header's value, as BYTES.
    Header(String),
}

/// A type as written: ksqlDB's types, or the name of a type made by `CREATE TYPE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AstType {
    /// BOOLEAN.
    Boolean,
    /// INT.
    Int,
    /// BIGINT.
    BigInt,
    /// DOUBLE.
    Double,
    /// DECIMAL(p, s).
    Decimal(u32, u32),
    /// STRING / VARCHAR.
    String,
    /// BYTES.
    Bytes,
    /// TIMESTAMP.
    Timestamp,
    /// DATE.
    Date,
    /// TIME.
    Time,
    /// `ARRAY<T>`.
    Array(Box<AstType>),
    /// MAP<K, V>.
    Map(Box<AstType>, Box<AstType>),
    /// STRUCT<name T, ...>.
    Struct(Vec<(String, AstType)>),
    /// A custom type's name.
    Named(Name),
}

/// A property value in `WITH (...)`.
#[derive(Debug, Clone, PartialEq)]
pub enum PropertyValue {
    /// A string literal.
    String(String),
    /// A number, as written.
    Number(String),
    /// TRUE or FALSE.
    Boolean(bool),
}

impl PropertyValue {
    /// The value as text (numbers and booleans as written).
    pub fn as_text(&self) -> String {
        match self {
            Self::String(s) | Self::Number(s) => s.clone(),
            Self::Boolean(b) => b.to_string(),
        }
    }
}

/// `WITH (name = value, ...)`: names upper-cased.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Properties {
    /// The properties, by upper-cased name.
    pub values: BTreeMap<String, (PropertyValue, Pos)>,
}

impl Properties {
    /// The text of property `name`, if set.
    pub fn get(&self, name: &str) -> Option<String> {
        self.values.get(name).map(|(v, _)| v.as_text())
    }

    /// Whether property `name` is set.
    pub fn contains(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }
}

/// `SHOW` / `LIST` targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Show {
    /// `SHOW STREAMS [EXTENDED]`.
    Streams {
        /// `EXTENDED`.
        extended: bool,
    },
    /// `SHOW TABLES [EXTENDED]`.
    Tables {
        /// `EXTENDED`.
        extended: bool,
    },
    /// `SHOW QUERIES [EXTENDED]`.
    Queries {
        /// `EXTENDED`.
        extended: bool,
    },
    /// `SHOW [ALL] TOPICS [EXTENDED]`.
    Topics {
        /// `ALL`: internal topics too.
        all: bool,
        /// `EXTENDED`.
        extended: bool,
    },
    /// `SHOW PROPERTIES`.
    Properties,
    /// `SHOW FUNCTIONS`.
    Functions,
    /// `SHOW TYPES`.
    Types,
    /// `SHOW VARIABLES`.
    Variables,
}

/// What `DESCRIBE` describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DescribeTarget {
    /// One source.
    Source(Name),
    /// `DESCRIBE STREAMS`.
    Streams,
    /// `DESCRIBE TABLES`.
    Tables,
}

/// What `EXPLAIN` explains.
#[derive(Debug, Clone, PartialEq)]
pub enum Explain {
    /// A statement not yet run.
    Statement(Box<Statement>),
    /// A running query, by id.
    Query(String),
}

/// `id` or `ALL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryTarget {
    /// One query.
    Id(String),
    /// Every query.
    All,
}

/// `SELECT ... FROM ...`.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// The projection.
    pub select: Vec<SelectItem>,
    /// `FROM` and joins.
    pub from: Relation,
    /// `WINDOW ...`.
    pub window: Option<WindowExpr>,
    /// `WHERE`.
    pub where_clause: Option<Expr>,
    /// `GROUP BY`.
    pub group_by: Vec<Expr>,
    /// `PARTITION BY`.
    pub partition_by: Vec<Expr>,
    /// `HAVING`.
    pub having: Option<Expr>,
    /// `EMIT CHANGES` / `EMIT FINAL`.
    pub refinement: Option<Refinement>,
    /// `LIMIT n`.
    pub limit: Option<u64>,
    /// Where `SELECT` was written.
    pub pos: Pos,
}

/// `EMIT CHANGES` or `EMIT FINAL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refinement {
    /// Every change.
    Changes,
    /// Final window results only.
    Final,
}

/// An item of the projection.
#[derive(Debug, Clone, PartialEq)]
pub enum SelectItem {
    /// `expr [AS alias]`.
    Expr {
        /// The expression.
        expr: Expr,
        /// The alias.
        alias: Option<Name>,
    },
    /// `*`.
    Wildcard(Pos),
    /// `source.*`.
    QualifiedWildcard(Name),
    /// `struct->*`.
    StructWildcard(Expr),
}

/// The `FROM` clause: a source and any joins.
#[derive(Debug, Clone, PartialEq)]
pub struct Relation {
    /// The first source.
    pub source: AliasedSource,
    /// The joins, in order.
    pub joins: Vec<Join>,
}

/// `name [[AS] alias]`.
#[derive(Debug, Clone, PartialEq)]
pub struct AliasedSource {
    /// The source's name.
    pub name: Name,
    /// Its alias.
    pub alias: Option<Name>,
}

impl AliasedSource {
    /// The alias, or the name.
    pub fn alias_or_name(&self) -> &str {
        self.alias.as_ref().map_or(&self.name.value, |a| &a.value)
    }
}

/// `[INNER|LEFT|RIGHT|FULL] JOIN source [WITHIN ...] ON expr`.
#[derive(Debug, Clone, PartialEq)]
pub struct Join {
    /// The kind.
    pub kind: JoinKind,
    /// The joined source.
    pub source: AliasedSource,
    /// `WITHIN` for stream-stream joins.
    pub within: Option<WithinExpr>,
    /// The join criteria.
    pub on: Expr,
    /// Where `JOIN` was written.
    pub pos: Pos,
}

/// Join kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinKind {
    /// INNER.
    Inner,
    /// `LEFT [OUTER]`.
    Left,
    /// `RIGHT [OUTER]`.
    Right,
    /// `FULL [OUTER]`.
    Full,
}

/// `WITHIN n unit | (before, after) [GRACE PERIOD n unit]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WithinExpr {
    /// How far a right record may be before a left one.
    pub before: Duration,
    /// How far after.
    pub after: Duration,
    /// `GRACE PERIOD`.
    pub grace: Option<Duration>,
}

/// `WINDOW TUMBLING|HOPPING|SESSION (...)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowExpr {
    /// Fixed-size, non-overlapping windows.
    Tumbling {
        /// Size.
        size: Duration,
        /// `RETENTION`.
        retention: Option<Duration>,
        /// `GRACE PERIOD`.
        grace: Option<Duration>,
    },
    /// Fixed-size windows every `advance`.
    Hopping {
        /// Size.
        size: Duration,
        /// `ADVANCE BY`.
        advance: Duration,
        /// `RETENTION`.
        retention: Option<Duration>,
        /// `GRACE PERIOD`.
        grace: Option<Duration>,
    },
    /// Sessions separated by an inactivity gap.
    Session {
        /// The gap.
        gap: Duration,
        /// `RETENTION`.
        retention: Option<Duration>,
        /// `GRACE PERIOD`.
        grace: Option<Duration>,
    },
}

/// An expression with where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// The expression.
    pub kind: ExprKind,
    /// Where it starts.
    pub pos: Pos,
}

impl Expr {
    /// An expression at a position.
    pub fn new(kind: ExprKind, pos: Pos) -> Self {
        Self { kind, pos }
    }
}

/// A literal.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// NULL.
    Null,
    /// TRUE / FALSE.
    Boolean(bool),
    /// An integer that fits INT.
    Int(i32),
    /// An integer that needs BIGINT.
    BigInt(i64),
    /// A number with a point and no exponent: DECIMAL, as written (sign included).
    Decimal(String),
    /// A number with an exponent: DOUBLE.
    Double(f64),
    /// A string.
    String(String),
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `+`.
    Add,
    /// `-`.
    Subtract,
    /// `*`.
    Multiply,
    /// `/`.
    Divide,
    /// `%`.
    Modulo,
    /// `||` (string concatenation).
    Concat,
    /// `=`.
    Eq,
    /// `<>` / `!=`.
    NotEq,
    /// `<`.
    Lt,
    /// `<=`.
    LtEq,
    /// `>`.
    Gt,
    /// `>=`.
    GtEq,
    /// AND.
    And,
    /// OR.
    Or,
}

impl BinaryOp {
    /// Whether this compares its operands.
    pub fn is_comparison(&self) -> bool {
        matches!(
            self,
            Self::Eq | Self::NotEq | Self::Lt | Self::LtEq | Self::Gt | Self::GtEq
        )
    }

    /// Whether this is arithmetic.
    pub fn is_arithmetic(&self) -> bool {
        matches!(
            self,
            Self::Add | Self::Subtract | Self::Multiply | Self::Divide | Self::Modulo
        )
    }

    /// The operator as written.
    pub fn symbol(&self) -> &'static str {
        match self {
            Self::Add => "+",
            Self::Subtract => "-",
            Self::Multiply => "*",
            Self::Divide => "/",
            Self::Modulo => "%",
            Self::Concat => "||",
            Self::Eq => "=",
            Self::NotEq => "<>",
            Self::Lt => "<",
            Self::LtEq => "<=",
            Self::Gt => ">",
            Self::GtEq => ">=",
            Self::And => "AND",
            Self::Or => "OR",
        }
    }
}

/// Expression kinds.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// A column, possibly qualified by a source or alias.
    Column {
        /// The source or alias.
        source: Option<String>,
        /// The column.
        name: String,
    },
    /// A literal.
    Literal(Literal),
    /// `-x`.
    Negate(Box<Expr>),
    /// `NOT x`.
    Not(Box<Expr>),
    /// `a op b`.
    Binary {
        /// The operator.
        op: BinaryOp,
        /// Left operand.
        left: Box<Expr>,
        /// Right operand.
        right: Box<Expr>,
    },
    /// `x IS [NOT] NULL`.
    IsNull {
        /// The operand.
        expr: Box<Expr>,
        /// `NOT`.
        negated: bool,
    },
    /// `a IS [NOT] DISTINCT FROM b`.
    IsDistinctFrom {
        /// Left.
        left: Box<Expr>,
        /// Right.
        right: Box<Expr>,
        /// `NOT`.
        negated: bool,
    },
    /// `x [NOT] BETWEEN low AND high`.
    Between {
        /// The operand.
        expr: Box<Expr>,
        /// Low bound.
        low: Box<Expr>,
        /// High bound.
        high: Box<Expr>,
        /// `NOT`.
        negated: bool,
    },
    /// `x [NOT] IN (list)`.
    InList {
        /// The operand.
        expr: Box<Expr>,
        /// The list.
        list: Vec<Expr>,
        /// `NOT`.
        negated: bool,
    },
    /// `x [NOT] LIKE pattern [ESCAPE 'c']`.
    Like {
        /// The operand.
        expr: Box<Expr>,
        /// The pattern.
        pattern: Box<Expr>,
        /// The escape character.
        escape: Option<char>,
        /// `NOT`.
        negated: bool,
    },
    /// `CASE [operand] WHEN ... THEN ... [ELSE ...] END`.
    Case {
        /// The operand of a simple CASE.
        operand: Option<Box<Expr>>,
        /// `WHEN condition THEN result` pairs.
        whens: Vec<(Expr, Expr)>,
        /// `ELSE`.
        else_result: Option<Box<Expr>>,
    },
    /// `CAST(x AS type)`.
    Cast {
        /// The operand.
        expr: Box<Expr>,
        /// The target type.
        ty: AstType,
    },
    /// A function call (name upper-cased). `COUNT(*)` has no arguments and `star`.
    Function {
        /// The function.
        name: String,
        /// Its arguments.
        args: Vec<Expr>,
        /// Called as `f(*)`.
        star: bool,
    },
    /// `x[i]` (arrays, 1-based; negative from the end) or `m[k]` (maps).
    Subscript {
        /// The array or map.
        expr: Box<Expr>,
        /// The index or key.
        index: Box<Expr>,
    },
    /// `s->f`.
    Deref {
        /// The struct.
        expr: Box<Expr>,
        /// The field (case as written: quoted fields keep theirs).
        field: String,
    },
    /// `ARRAY[...]`.
    Array(Vec<Expr>),
    /// `MAP(k := v, ...)`.
    Map(Vec<(Expr, Expr)>),
    /// `STRUCT(name := v, ...)`.
    Struct(Vec<(String, Expr)>),
    /// `x => body`, `(x, y) => body`.
    Lambda {
        /// The parameters (names as written, upper-cased unless quoted).
        params: Vec<String>,
        /// The body.
        body: Box<Expr>,
    },
    /// A time unit passed to a function (`TIMESTAMPADD(MINUTES, ...)`).
    TimeUnit(String),
}
