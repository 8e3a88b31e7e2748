//! The crate's error type.

/// Errors of eddy-streams.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The broker refused or failed an operation.
    #[error("broker: {0}")]
    Broker(#[from] eddy_broker::Error),
    /// A state store failed.
    #[error("state store: {0}")]
    State(#[from] eddy_state::Error),
    /// The topology is not valid (a missing serde, a name used twice, joined streams that are
    /// not co-partitioned, ...). The message says what to change.
    #[error("invalid topology: {0}")]
    Topology(String),
    /// The application's configuration is not valid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A record could not be serialised for an output topic or a store.
    #[error("serialising a record for {target}: {source}")]
    Serialize {
        /// The topic or store written to.
        target: String,
        /// What the serde said.
        source: eddy_state::Error,
    },
    /// The backend (the embedded broker or a Kafka cluster) failed.
    #[error("{backend} backend: {message}")]
    Backend {
        /// Which backend.
        backend: &'static str,
        /// What failed.
        message: String,
    },
    /// A user processor failed.
    #[error("processor {node}: {message}")]
    Processor {
        /// The node's name.
        node: String,
        /// What it said.
        message: String,
    },
    /// A file or directory of the state directory could not be used.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A stream thread lost its tasks: its transaction was fenced or aborted by the
    /// coordinator (a newer producer with its transactional id, or its timeout), or a
    /// rebalance moved its partitions while it committed. The thread closes the tasks without
    /// committing, rewinds to the committed offsets, reopens them (their stores from their
    /// changelogs) and goes on (Kafka Streams' `TaskMigratedException`).
    #[error("tasks migrated: {0}")]
    TaskMigrated(String),
    /// The application is not running (stopped, or a thread failed).
    #[error("application is not running: {0}")]
    NotRunning(String),
}

impl Error {
    pub(crate) fn topology(message: impl Into<String>) -> Self {
        Self::Topology(message.into())
    }

    /// Whether the thread recovers from it by closing its tasks and rejoining.
    pub fn is_task_migrated(&self) -> bool {
        matches!(
            self,
            Self::TaskMigrated(_) | Self::State(eddy_state::Error::ChangelogFenced { .. })
        )
    }
}

/// A `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
