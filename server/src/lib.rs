//! eddy-server: ksqlDB's server over Eddy's SQL engine.
//!
//! [`KsqlService`] holds an [`eddy_sql::engine::Engine`] and the command topic
//! ([`command_log`]): every statement that changes what runs (DDL, persistent queries,
//! `TERMINATE`, `DROP`) is recorded there once it succeeded, and replayed when the server
//! starts, so the persistent queries come back after a restart and resume from their
//! committed offsets. [`rest`] serves ksqlDB's REST API on it (`/ksql`, `/query`,
//! `/query-stream`, `/close-query`, `/info`, `/healthcheck`, `/status`) over HTTP/1.1 and
//! HTTP/2 cleartext on one port, with ksqlDB's JSON shapes ([`entities`]) so that existing
//! ksqlDB clients work unchanged.
//!
//! While it runs, [`follower`] applies the commands other servers of the same service id
//! record, so several servers share the persistent queries. [`metrics`] serves each persistent query's numbers in Prometheus' format.
//!
//! The engine is synchronous; handlers call it on tokio's blocking pool, and each push
//! query's rows are pulled on a thread of their own ([`push`]).

pub mod command_log;
pub mod entities;
pub mod error;
pub mod follower;
pub mod held_runner;
pub mod metrics;
pub mod print;
pub mod push;
pub mod rest;
pub mod service;

pub use error::{Error, Result};
pub use service::{KsqlService, ServiceConfig};
