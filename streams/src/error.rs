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
}

/// A `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
