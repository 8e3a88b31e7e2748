//! eddy-state: state stores for stream processing.
//!
//! **Not built yet.** This crate will hold the key-value, window and session store traits, their
//! RocksDB and in-memory implementations, the per-store write cache, and changelog-backed
//! restore (see the "eddy-state" issue). It deliberately exports nothing today, so nothing can
//! depend on behaviour that does not exist.
