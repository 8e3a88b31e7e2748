//! Eddy: a Kafka-compatible event streaming and stream-processing platform in one workspace.
//!
//! This facade re-exports the member crates under short names:
//! - [`broker`]: the durable partitioned log (and, later, the Kafka protocol server);
//! - [`state`], [`streams`], [`sql`]: state stores, the streams DSL and the SQL layer, which
//!   are not built yet and export nothing.

pub use eddy_broker as broker;
pub use eddy_sql as sql;
pub use eddy_state as state;
pub use eddy_streams as streams;
