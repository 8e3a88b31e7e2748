//! The crate's error type. Every user mistake (bad SQL, unknown names, wrong types, bad
//! properties) is a message a person can act on; syntax errors and most semantic errors name
//! the line and column they refer to.

use std::fmt;

/// A position in a statement's text, 1-based (line 0 means "unknown").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pos {
    /// Line, from 1.
    pub line: u64,
    /// Column, from 1.
    pub column: u64,
}

impl Pos {
    /// A position.
    pub fn new(line: u64, column: u64) -> Self {
        Self { line, column }
    }

    /// Whether the position is known.
    pub fn is_known(&self) -> bool {
        self.line > 0
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}:{}", self.line, self.column)
    }
}

/// What kind of failure an error is, as ksqlDB's exception classes tell them apart (the
/// conformance runner matches expected exceptions by these).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The text is not a statement (ksqlDB's `ParseFailedException`).
    Parse,
    /// The statement is well formed but wrong (`KsqlStatementException`).
    Statement,
    /// Anything else: a failure running it (`KsqlException`).
    Other,
}

/// Errors of eddy-sql.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SqlError {
    /// A syntax error.
    #[error("{pos}: Syntax Error\n{message}")]
    Parse {
        /// Where.
        pos: Pos,
        /// What was expected and found.
        message: String,
    },
    /// A statement that parses but cannot be executed: unknown names, type errors, bad
    /// properties, unsupported combinations.
    /// ksqlDB prints where as `Line: 3, Col: 70: ` for these (and `line 3:70:` for syntax
    /// errors).
    #[error("{}{message}", pos.map(|p| format!("Line: {}, Col: {}: ", p.line, p.column)).unwrap_or_default())]
    Statement {
        /// Where, if known.
        pos: Option<Pos>,
        /// What is wrong.
        message: String,
    },
    /// A record or value that cannot be (de)serialised in a format.
    #[error("{0}")]
    Serde(String),
    /// An error evaluating an expression.
    #[error("{0}")]
    Eval(String),
    /// The streams runtime failed.
    #[error(transparent)]
    Streams(#[from] eddy_streams::Error),
    /// The broker failed.
    #[error(transparent)]
    Broker(#[from] eddy_broker::Error),
    /// A state store failed.
    #[error(transparent)]
    State(#[from] eddy_state::Error),
    /// DataFusion failed while planning or evaluating.
    #[error("{0}")]
    DataFusion(#[from] datafusion_common::DataFusionError),
    /// Arrow failed.
    #[error("{0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// An I/O error.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// The crate's result type.
pub type Result<T, E = SqlError> = std::result::Result<T, E>;

impl SqlError {
    /// A statement error without a position.
    pub fn semantic(message: impl Into<String>) -> Self {
        Self::Statement {
            pos: None,
            message: message.into(),
        }
    }

    /// A statement error at a position (ignored if unknown).
    pub fn at(pos: Pos, message: impl Into<String>) -> Self {
        Self::Statement {
            pos: pos.is_known().then_some(pos),
            message: message.into(),
        }
    }

    /// A syntax error at a position.
    pub fn parse(pos: Pos, message: impl Into<String>) -> Self {
        Self::Parse {
            pos,
            message: message.into(),
        }
    }

    /// A serialisation error.
    pub fn serde(message: impl Into<String>) -> Self {
        Self::Serde(message.into())
    }

    /// An evaluation error.
    pub fn eval(message: impl Into<String>) -> Self {
        Self::Eval(message.into())
    }

    /// The kind of failure, as ksqlDB's exception classes tell them apart.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Parse { .. } => ErrorKind::Parse,
            Self::Statement { .. } => ErrorKind::Statement,
            _ => ErrorKind::Other,
        }
    }

    /// The same error with `pos` attached if it has none yet (statement errors only).
    pub fn or_at(self, at: Pos) -> Self {
        match self {
            Self::Statement { pos: None, message } if at.is_known() => Self::Statement {
                pos: Some(at),
                message,
            },
            other => other,
        }
    }
}
