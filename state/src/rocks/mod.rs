//! The RocksDB engine: key-value stores (one RocksDB database per store) and segment storage
//! for window and session stores (one database per store, one column family per time
//! segment), all sharing **one memory budget per process**.
//!
//! No RocksDB type appears in any public signature (the idea of TiKV's `engine_traits`): a
//! [`RocksEnv`] is built from a plain [`RocksConfig`] and hands out
//! `Arc<dyn KeyValueStore>`, `Arc<dyn SegmentStorage>` and the segmented window and session
//! stores.
//!
//! # Memory
//!
//! Unbounded RocksDB memory with many stores is the top complaint of Kafka Streams and ksqlDB
//! users: every store gets its own block cache and memtables, so memory grows with the number
//! of stores. Here, as in Kafka Streams' `BoundedMemoryRocksDBConfig`, one [`RocksEnv`] per
//! process owns:
//!
//! - one LRU **block cache** whose capacity is the whole budget
//!   ([`RocksConfig::memory_budget_bytes`]);
//! - one **write buffer manager** that caps the memtables of all stores at
//!   [`RocksConfig::write_buffer_share`] of the budget and *charges* them to the block cache
//!   (memtable memory is reserved as dummy cache entries), so memtables and cached blocks
//!   together stay within the budget; reaching the cap makes the writing store flush (writers
//!   are not stalled by default: see [`RocksConfig::stall_writes_at_limit`] for why);
//! - index and filter blocks are kept **in the block cache** (not in per-table-reader memory
//!   outside it), with high priority, L0 ones pinned.
//!
//! What stays outside the budget: per-database fixed overhead (a few hundred KiB: the
//! manifest, info log, thread-local state), iterators' pinned blocks beyond the cache, and
//! allocator fragmentation. `examples/memory_budget.rs` measures the whole process with 100
//! stores open; the figures are in `docs/benchmarks.md`.
//!
//! # Defaults ([`RocksConfig::default`])
//!
//! | setting | default | why |
//! |---|---|---|
//! | `memory_budget_bytes` | 256 MiB | block cache + memtables of every store of the process |
//! | `write_buffer_share` | 0.5 | memtables may take up to half the budget |
//! | `write_buffer_bytes` | 8 MiB | per store (per segment): small, many stores share the cap |
//! | `max_write_buffers` | 2 | one active memtable plus one being flushed |
//! | `bloom_bits_per_key` | 10 | ~1% false positives: point lookups of absent keys skip files |
//! | `block_size_bytes` | 16 KiB | fewer index entries to cache than RocksDB's 4 KiB |
//! | `use_wal` | true | writes survive a process crash; `flush` syncs the log |
//! | `stall_writes_at_limit` | false | stalling can wait forever on idle stores' memtables |
//! | `max_background_jobs` | 2 | flush + compaction threads (shared process-wide pool) |
//!
//! Compression is LZ4 on every level.
//!
//! # Durability
//!
//! With the write-ahead log on (the default), every write goes to the log (not synced) and
//! [`KeyValueStore::flush`] syncs it: when `flush` returns, every earlier write is durable.
//! With `use_wal: false` (Kafka Streams' choice: the changelog topic is the source of truth)
//! writes only reach the memtable and `flush` flushes memtables to table files and waits.
//! A [`KeyValueStore::write_batch`] is one RocksDB write batch: all or nothing, also across a
//! crash.
//!
//! # On-disk format
//!
//! Every store directory holds a small `EDDY-FORMAT` file (`eddy-state-format 1` and the
//! store kind), written before the database is created. Opening a directory with another
//! version fails with [`Error::IncompatibleFormat`](crate::Error::IncompatibleFormat) (found
//! version `0` means a RocksDB directory without the marker), never silently misreads it.
//!
//! # Example
//!
//! ```no_run
//! use eddy_state::rocks::{RocksConfig, RocksEnv};
//! use eddy_state::{Retention, WindowStore};
//!
//! # fn main() -> eddy_state::Result<()> {
//! let env = RocksEnv::new(RocksConfig {
//!     memory_budget_bytes: 128 << 20,
//!     ..RocksConfig::default()
//! })?;
//! let counts = env.open_kv("/var/lib/eddy/state/task-0_1/counts".as_ref(), "counts")?;
//! counts.put(b"k", b"v")?;
//! let windows = env.open_window_store(
//!     "/var/lib/eddy/state/task-0_1/windows".as_ref(),
//!     "windows",
//!     Retention::new(3_600_000)?,
//! )?;
//! windows.put(b"k", 0, b"1")?;
//! # Ok(())
//! # }
//! ```

mod db;
mod env;
mod format;
mod kv;
mod segments;

pub use env::{MemoryUsage, RocksConfig, RocksEnv};
pub use format::{FORMAT_FILE, FORMAT_VERSION};
pub use kv::RocksKeyValueStore;
pub use segments::RocksSegments;
