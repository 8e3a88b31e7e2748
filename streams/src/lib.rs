//! eddy-streams: the typed stream-processing DSL and its runtime (the Kafka Streams analogue).
//!
//! **Mostly not built yet.** This crate will hold `StreamsBuilder`, `KStream`/`KTable`,
//! windows, joins, the `Topology` both front ends compile to, and the runtime with its
//! `Embedded` and `Kafka` backends (see the "eddy-streams" issue). What exists today:
//!
//! - [`changelog`]: [`BrokerChangelog`], the state stores' changelog
//!   ([`eddy_state::Changelog`]) on one partition of a topic of the embedded broker.

pub mod changelog;
mod error;

pub use changelog::BrokerChangelog;
pub use error::{Error, Result};
