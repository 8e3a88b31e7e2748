//! eddy-state: state stores for stream processing.
//!
//! Three kinds of store, as traits with no storage engine in any signature (the idea of
//! TiKV's `engine_traits`):
//! - [`KeyValueStore`]: bytes to bytes, ordered by key bytes;
//! - [`WindowStore`]: values per key and window start, expired a time segment at a time;
//! - [`SessionStore`]: values per key and session, found by overlap for session merging.
//!
//! Window and session stores are built once, generically, on a [`SegmentStorage`] (one
//! key-value store per time segment); engines provide key-value stores and segment storage.
//! [`memory`] is the in-memory engine; [`rocks`] is the RocksDB engine, whose stores share one
//! memory budget per process ([`RocksEnv`]).
//!
//! [`cache`] is the per-store write cache (de-duplicating, bounded in bytes); [`changelog`]
//! the trait a store's changelog topic is reached through; [`logged`] stacks cache, changelog
//! and engine into a [`ChangeloggedStore`] with checkpoints ([`checkpoint`]) at commit and
//! restore from the changelog on open, and documents its crash-safety invariant;
//! [`logged_segmented`] does the same for window and session stores.
//!
//! [`typed`] wraps each store kind with serde-based codecs for keys and values.

pub mod cache;
pub mod cache_budget;
pub mod changelog;
pub mod checkpoint;
mod error;
pub mod keys;
mod kv;
pub mod logged;
pub mod logged_segmented;
pub mod memory;
pub mod restore;
pub mod rocks;
mod segments;
mod session;
mod time_cache;
pub mod typed;
mod window;

pub use cache::{CacheStats, CachingKeyValueStore};
pub use cache_budget::{CacheBudget, CacheShare};
pub use changelog::{Change, Changelog, ChangelogRecord, MemoryChangelog};
pub use error::{Error, Result};
pub use kv::{Entry, EntryIter, KeyValueStore};
pub use logged::{ChangeloggedConfig, ChangeloggedStore, RestoreKind, RestoreReport};
pub use logged_segmented::{ChangeloggedSessionStore, ChangeloggedWindowStore};
pub use restore::Restoring;
pub use rocks::{MemoryUsage, RocksConfig, RocksEnv, RocksKeyValueStore, RocksSegments};
pub use segments::SegmentStorage;
pub use session::{SegmentedSessionStore, SessionEntry, SessionStore, SessionWindow};
pub use typed::{
    BytesSerde, I32Serde, I64Serde, JsonSerde, OrderedI64Serde, Serde, StringSerde,
    TypedKeyValueStore, TypedSessionStore, TypedWindowStore,
};
pub use window::{Retention, SegmentedWindowStore, WindowEntry, WindowStore, WindowWrite};
