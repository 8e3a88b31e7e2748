//! Eddy: a Kafka-compatible event streaming and stream-processing platform in one workspace.
//!
//! This facade re-exports the member crates under short names:
//! - [`broker`]: the durable partitioned log and the Kafka protocol server;
//! - [`state`]: state stores (key-value, window, session) on RocksDB or in memory, with
//!   write caches, changelogs, checkpoints and restore;
//! - [`streams`]: the typed streams DSL (Kafka Streams' analogue), its test driver, and the
//!   runtime on the embedded broker;
//! - [`sql`]: ksqlDB's SQL: parser, catalog, planner to topologies, and the engine;
//! - [`server`]: the SQL server: ksqlDB's REST API over the engine, with a command topic.

pub use eddy_broker as broker;
pub use eddy_server as server;
pub use eddy_sql as sql;
pub use eddy_state as state;
pub use eddy_streams as streams;
