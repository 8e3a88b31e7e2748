//! Kafka transactions (KIP-98, KIP-447): what partitions know of them ([`log_state`],
//! [`markers`]) and the transaction coordinator ([`coordinator`], with its durable log in
//! `__transaction_state`, [`state_log`]).

pub(crate) mod coordinator;
pub(crate) mod log_state;
pub(crate) mod markers;
pub(crate) mod state_log;

pub use log_state::AbortedTxn;
pub use markers::Outcome;
