//! Eddy: a Kafka-compatible event streaming and stream-processing platform in one workspace.
//!
//! This facade re-exports the member crates under short names:
//! - [`broker`]: the durable partitioned log and the Kafka protocol server;
//! - [`state`]: state stores (key-value, window, session) on RocksDB or in memory, with
//!   write caches, changelogs, checkpoints and restore;
//! - [`streams`], [`sql`]: the streams DSL and the SQL layer, which are not built yet and
//!   export nothing.

pub use eddy_broker as broker;
pub use eddy_sql as sql;
pub use eddy_state as state;
pub use eddy_streams as streams;
