//! The engines the conformance suite runs on: how to open a fresh store of each kind, how to
//! reopen it (a process restart for on-disk engines), and what each engine promises beyond
//! the traits (exact counts, snapshot iterators).

use std::any::Any;
use std::sync::Arc;

use eddy_state::cache::CachingKeyValueStore;
use eddy_state::memory::{MemoryKeyValueStore, MemorySegments};
use eddy_state::rocks::{RocksConfig, RocksEnv};
use eddy_state::{KeyValueStore, SegmentStorage};

/// What an iterator sees of writes made after it was created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IterView {
    /// A snapshot: nothing written after creation (RocksDB iterators).
    Snapshot,
    /// Chunked live reads: writes at keys ahead of the cursor, beyond the chunk already
    /// buffered, are seen; writes behind the cursor are not (the in-memory store reads 256
    /// entries per lock).
    Live,
    /// Depends on state the test does not control (the write cache over the in-memory
    /// store: a snapshot of the cached entries merged with live reads of the store below,
    /// which sees entries the cache evicts meanwhile). Only the common guarantees are
    /// checked.
    Mixed,
}

/// A key-value engine under test.
#[derive(Clone, Copy)]
pub struct KvEngine {
    /// Opens a fresh, empty store.
    pub open: fn() -> KvHandle,
    /// Whether `approximate_len` is exact.
    pub exact_len: bool,
    /// What iterators see of concurrent writes.
    pub iter_view: IterView,
}

type Reopen<T> = Box<dyn Fn() -> Arc<T>>;
/// Closes a store (given the last reference to it) and opens it again.
type ReopenKv = Box<dyn Fn(Arc<dyn KeyValueStore>) -> Arc<dyn KeyValueStore>>;

/// An open store and whatever keeps it alive (a temporary directory, an environment).
pub struct KvHandle {
    pub store: Arc<dyn KeyValueStore>,
    reopen: Option<ReopenKv>,
    _keep: Vec<Box<dyn Any>>,
}

impl KvHandle {
    pub fn new(
        store: Arc<dyn KeyValueStore>,
        reopen: Option<ReopenKv>,
        keep: Vec<Box<dyn Any>>,
    ) -> Self {
        Self {
            store,
            reopen,
            _keep: keep,
        }
    }

    /// Closes and reopens the store from its directory, if the engine persists; returns
    /// whether it did. The caller must hold no other reference to the store.
    pub fn reopen(&mut self) -> bool {
        let Some(reopen) = &self.reopen else {
            return false;
        };
        assert_eq!(
            Arc::strong_count(&self.store),
            1,
            "the test still holds the store"
        );
        let old = std::mem::replace(
            &mut self.store,
            Arc::new(MemoryKeyValueStore::new("closed")),
        );
        self.store = reopen(old);
        true
    }
}

/// A segment-storage engine under test (for window and session stores).
#[derive(Clone, Copy)]
pub struct SegEngine {
    /// Opens fresh, empty segment storage.
    pub open: fn() -> SegHandle,
}

/// Open segment storage and whatever keeps it alive.
pub struct SegHandle {
    storage: Option<Arc<dyn SegmentStorage>>,
    reopen: Reopen<dyn SegmentStorage>,
    /// References to the storage when no store uses it.
    idle_refs: usize,
    _keep: Vec<Box<dyn Any>>,
}

impl SegHandle {
    pub fn new(
        storage: Arc<dyn SegmentStorage>,
        reopen: Reopen<dyn SegmentStorage>,
        keep: Vec<Box<dyn Any>>,
    ) -> Self {
        Self {
            storage: Some(storage),
            reopen,
            idle_refs: 1,
            _keep: keep,
        }
    }

    pub fn storage(&self) -> Arc<dyn SegmentStorage> {
        Arc::clone(self.storage.as_ref().expect("storage is open"))
    }

    /// Closes and reopens the storage (from its directory on disk; the in-memory engine
    /// hands back the same segments, as after a store is closed and reopened in-process).
    /// Every store built on the storage must have been dropped.
    pub fn reopen(&mut self) {
        let old = self.storage.take().expect("storage is open");
        assert_eq!(
            Arc::strong_count(&old),
            self.idle_refs,
            "a store still holds the segments"
        );
        drop(old);
        self.storage = Some((self.reopen)());
    }
}

pub fn memory_kv() -> KvHandle {
    KvHandle::new(
        Arc::new(MemoryKeyValueStore::new("conformance")),
        None,
        vec![],
    )
}

pub const MEMORY_KV: KvEngine = KvEngine {
    open: memory_kv,
    exact_len: true,
    iter_view: IterView::Live,
};

pub fn memory_segments() -> SegHandle {
    let segments = Arc::new(MemorySegments::new("conformance"));
    let kept = Arc::clone(&segments);
    let mut handle = SegHandle::new(
        segments,
        Box::new(move || Arc::clone(&kept) as Arc<dyn SegmentStorage>),
        vec![],
    );
    // The closure holds one reference to the segments across "reopens".
    handle.idle_refs = 2;
    handle
}

pub const MEMORY_SEGMENTS: SegEngine = SegEngine {
    open: memory_segments,
};

/// A RocksDB environment small enough for tests: many run at once.
fn rocks_env() -> Arc<RocksEnv> {
    Arc::new(
        RocksEnv::new(RocksConfig {
            memory_budget_bytes: 64 << 20,
            write_buffer_bytes: 4 << 20,
            ..RocksConfig::default()
        })
        .expect("RocksDB environment"),
    )
}

/// A RocksDB store in a fresh temporary directory; reopening closes the database and opens
/// it again from the directory (no flush first: the write-ahead log must suffice).
pub fn rocks_kv() -> KvHandle {
    let env = rocks_env();
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("kv");
    let store = env
        .open_kv(&path, "conformance")
        .expect("open RocksDB store");
    let reopen_env = Arc::clone(&env);
    KvHandle::new(
        store,
        Some(Box::new(move |old| {
            drop(old);
            reopen_env
                .open_kv(&path, "conformance")
                .expect("reopen RocksDB store")
        })),
        vec![Box::new(dir), Box::new(env)],
    )
}

pub const ROCKS_KV: KvEngine = KvEngine {
    open: rocks_kv,
    exact_len: false,
    iter_view: IterView::Snapshot,
};

/// The cache bound of the caching engines: the small tests fit, the large-value test
/// evicts.
const CACHE_BYTES: usize = 1 << 20;

fn cached(handle: KvHandle) -> KvHandle {
    let KvHandle {
        store,
        reopen,
        _keep: keep,
    } = handle;
    let cache: Arc<dyn KeyValueStore> = Arc::new(CachingKeyValueStore::new(store, CACHE_BYTES));
    // Reopening is a clean shutdown: flush the cache, close the store below, reopen it and
    // put a fresh cache in front.
    let reopen: Option<ReopenKv> = reopen.map(|reopen_below| -> ReopenKv {
        Box::new(move |old: Arc<dyn KeyValueStore>| {
            old.flush().expect("flush the cache");
            // Dropping the cache (the caller holds no other reference) closes the store
            // below; its reopen function is handed a placeholder to "close".
            drop(old);
            let below = reopen_below(Arc::new(MemoryKeyValueStore::new("closed")));
            Arc::new(CachingKeyValueStore::new(below, CACHE_BYTES)) as Arc<dyn KeyValueStore>
        })
    });
    KvHandle::new(cache, reopen, keep)
}

pub const CACHED_MEMORY_KV: KvEngine = KvEngine {
    open: || cached(memory_kv()),
    // Cached puts are counted on top of the store's count until flushed.
    exact_len: false,
    iter_view: IterView::Mixed,
};

pub const CACHED_ROCKS_KV: KvEngine = KvEngine {
    open: || cached(rocks_kv()),
    exact_len: false,
    // The cached entries are copied and the RocksDB iterator (a snapshot) created under the
    // cache's lock.
    iter_view: IterView::Snapshot,
};

/// RocksDB segments (one database, a column family per segment) in a fresh temporary
/// directory; reopening closes the database and opens it again from the directory.
pub fn rocks_segments() -> SegHandle {
    let env = rocks_env();
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("segments");
    let storage = env
        .open_segments(&path, "conformance")
        .expect("open RocksDB segments");
    let reopen_env = Arc::clone(&env);
    SegHandle::new(
        storage,
        Box::new(move || {
            reopen_env
                .open_segments(&path, "conformance")
                .expect("reopen RocksDB segments")
        }),
        vec![Box::new(dir), Box::new(env)],
    )
}

pub const ROCKS_SEGMENTS: SegEngine = SegEngine {
    open: rocks_segments,
};
