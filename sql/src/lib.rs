//! eddy-sql: ksqlDB-style continuous SQL, planned through DataFusion and run on eddy-streams.
//!
//! - [`parser`]: ksqlDB's statements and expressions, with errors that name line and column;
//! - [`types`]: ksqlDB's SQL types and their Arrow types; [`value`]: values outside Arrow;
//! - [`catalog`]: streams, tables and types (the metastore);
//! - [`serde`]: the KAFKA, JSON, DELIMITED and NONE formats, and Eddy's internal encoding.

pub mod arrow_conv;
pub mod catalog;
pub mod engine;
pub mod error;
pub mod expr;
pub mod functions;
pub mod parser;
pub mod plan;
pub mod qtt;
pub mod runtime;
pub mod serde;
pub mod types;
pub mod value;

pub use error::{ErrorKind, Pos, Result, SqlError};
pub use types::SqlType;
