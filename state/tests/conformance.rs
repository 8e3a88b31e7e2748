//! The state store conformance suite: one set of tests, written once, run against every
//! implementation. Each engine gets a module below, so every test runs per engine under its
//! own name (`memory::kv::range_all_bound_combinations`, `rocksdb::window::window_reopen`, ...).
//!
//! The tests live in `tests/conformance/`: [`kv`] (the key-value trait), [`window`] and
//! [`session`] (the segmented stores on each engine's segment storage) and [`model`] (a
//! seeded randomized test against a `BTreeMap`). [`engines`] says how to open and reopen
//! each engine and what it promises beyond the traits:
//!
//! | engine | `approximate_len` | iterators see later writes |
//! |---|---|---|
//! | in-memory | exact | live, 256-entry chunks: writes ahead of the cursor beyond the buffered chunk are seen |
//! | RocksDB | estimate (checked within 2x after flush) | none: a snapshot at creation |
//! | write cache over in-memory | store's count plus cached puts | cached entries as at creation, the store below live |
//! | write cache over RocksDB | store's estimate plus cached puts | none: a snapshot at creation |
//!
//! Window and session stores run on in-memory segments and on RocksDB segments (a column
//! family per segment); "reopen" closes the RocksDB database and opens it from its directory.

#[path = "conformance/engines.rs"]
mod engines;
#[path = "conformance/kv.rs"]
mod kv;
#[path = "conformance/model.rs"]
mod model;
#[path = "conformance/session.rs"]
mod session;
#[path = "conformance/window.rs"]
mod window;

/// One module per engine: key-value tests and the model-based test for key-value engines,
/// window and session tests for segment-storage engines.
macro_rules! engine {
    ($module:ident, kv: $kv:expr) => {
        mod $module {
            mod kv {
                use crate::engines::*;
                crate::kv::kv_conformance!($kv);

                #[test]
                fn randomized_against_btreemap() {
                    crate::model::randomized_against_btreemap($kv);
                }
            }
        }
    };
    ($module:ident, kv: $kv:expr, segments: $segments:expr) => {
        mod $module {
            mod kv {
                use crate::engines::*;
                crate::kv::kv_conformance!($kv);

                #[test]
                fn randomized_against_btreemap() {
                    crate::model::randomized_against_btreemap($kv);
                }
            }
            mod window {
                use crate::engines::*;
                crate::window::window_conformance!($segments);
            }
            mod session {
                use crate::engines::*;
                crate::session::session_conformance!($segments);
            }
        }
    };
}

engine!(memory, kv: MEMORY_KV, segments: MEMORY_SEGMENTS);
engine!(rocksdb, kv: ROCKS_KV, segments: ROCKS_SEGMENTS);
engine!(cached_memory, kv: CACHED_MEMORY_KV);
engine!(cached_rocksdb, kv: CACHED_ROCKS_KV);
