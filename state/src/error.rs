//! The state crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong in a state store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The storage engine failed (I/O, corruption reported by the engine, ...).
    #[error("state store {store}: storage engine error: {message}")]
    Engine {
        /// The store's name.
        store: String,
        /// The engine's message.
        message: String,
    },
    /// The store on disk was written by an incompatible version of Eddy.
    #[error(
        "state store at {path} has on-disk format version {found}, this build reads version {expected}; delete the directory to rebuild it from its changelog"
    )]
    IncompatibleFormat {
        /// The store's directory.
        path: PathBuf,
        /// The version found.
        found: u32,
        /// The version this build understands.
        expected: u32,
    },
    /// A stored or changelogged key or value that cannot be decoded.
    #[error("cannot decode {what}: {reason}")]
    Decode {
        /// What was being decoded.
        what: &'static str,
        /// Why it failed.
        reason: String,
    },
    /// A value that cannot be encoded by its serde codec.
    #[error("cannot encode {what}: {reason}")]
    Encode {
        /// What was being encoded.
        what: &'static str,
        /// Why it failed.
        reason: String,
    },
    /// The changelog could not be written or read.
    #[error("changelog of store {store}: {message}")]
    Changelog {
        /// The store's name.
        store: String,
        /// What went wrong.
        message: String,
    },
    /// The changelog's writer lost the right to write it: a newer writer fenced it, or its
    /// transaction was aborted under it (exactly-once). The store's owner should close it
    /// without committing and reopen it, restoring from the changelog.
    #[error("changelog of store {store}: its writer was fenced: {message}")]
    ChangelogFenced {
        /// The store's name.
        store: String,
        /// What the broker said.
        message: String,
    },
    /// An invalid argument (a window size of zero, a retention shorter than a window, ...).
    #[error("invalid store configuration: {0}")]
    InvalidConfig(String),
    /// Filesystem I/O outside the engine (checkpoint files, directories).
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// The state crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
