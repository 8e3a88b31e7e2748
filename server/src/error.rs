//! The crate's error type.

/// What can go wrong running the server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The engine refused or failed a statement, or the cluster under it failed.
    #[error(transparent)]
    Sql(#[from] eddy_sql::SqlError),
    /// A record of the command topic is not a command this server can read.
    #[error("command topic {topic}, offset {offset}: not a command ({reason})")]
    CorruptCommand {
        /// The command topic.
        topic: String,
        /// The record's offset.
        offset: i64,
        /// What is wrong with it.
        reason: String,
    },
    /// A thread of the server could not start.
    #[error("cannot start the {0} thread: {1}")]
    Thread(&'static str, #[source] std::io::Error),
    /// The HTTP listener failed.
    #[error("the HTTP server failed: {0}")]
    Serve(#[source] std::io::Error),
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
