//! eddy-sql: ksqlDB-style continuous SQL compiled through DataFusion into eddy-streams topologies.
//!
//! **Not built yet.** This crate will hold the KSQL dialect, the catalog of streams and tables,
//! planning through DataFusion, the query manager and the REPL core. It deliberately exports
//! nothing today.
