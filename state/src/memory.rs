//! In-memory stores: a `BTreeMap` per store or segment. For tests, small state, and as the
//! reference the RocksDB stores are checked against (one conformance suite runs on both).

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use crate::error::Result;
use crate::kv::{Entry, EntryIter, KeyValueStore};
use crate::segments::SegmentStorage;

/// Entries copied out per lock acquisition while iterating: iterators never hold the lock
/// between items, so writers are never blocked for long.
const ITER_CHUNK: usize = 256;

/// An in-memory key-value store.
#[derive(Debug, Default)]
pub struct MemoryKeyValueStore {
    name: String,
    map: RwLock<BTreeMap<Vec<u8>, Vec<u8>>>,
}

impl MemoryKeyValueStore {
    /// An empty store.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            map: RwLock::new(BTreeMap::new()),
        }
    }
}

fn owned(bound: Bound<&[u8]>) -> Bound<Vec<u8>> {
    match bound {
        Bound::Included(b) => Bound::Included(b.to_vec()),
        Bound::Excluded(b) => Bound::Excluded(b.to_vec()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// Reads a range chunk by chunk, re-locking for each chunk.
struct ChunkedRange<'a> {
    store: &'a MemoryKeyValueStore,
    next_from: Bound<Vec<u8>>,
    to: Bound<Vec<u8>>,
    buffer: std::vec::IntoIter<Entry>,
    done: bool,
}

impl Iterator for ChunkedRange<'_> {
    type Item = Result<Entry>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(entry) = self.buffer.next() {
            return Some(Ok(entry));
        }
        if self.done {
            return None;
        }
        let chunk: Vec<Entry> = {
            let map = self.store.map.read();
            // An empty or inverted range would make BTreeMap::range panic.
            let valid = match (&self.next_from, &self.to) {
                (Bound::Included(a), Bound::Included(b)) => a <= b,
                (Bound::Included(a), Bound::Excluded(b))
                | (Bound::Excluded(a), Bound::Included(b))
                | (Bound::Excluded(a), Bound::Excluded(b)) => a < b,
                _ => true,
            };
            if !valid {
                Vec::new()
            } else {
                map.range((self.next_from.clone(), self.to.clone()))
                    .take(ITER_CHUNK)
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            }
        };
        if chunk.len() < ITER_CHUNK {
            self.done = true;
        }
        if let Some((last, _)) = chunk.last() {
            self.next_from = Bound::Excluded(last.clone());
        }
        self.buffer = chunk.into_iter();
        self.buffer.next().map(Ok)
    }
}

impl KeyValueStore for MemoryKeyValueStore {
    fn name(&self) -> &str {
        &self.name
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.map.read().get(key).cloned())
    }

    fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.map.write().insert(key.to_vec(), value.to_vec());
        Ok(())
    }

    fn write_batch(&self, entries: &[(Vec<u8>, Option<Vec<u8>>)]) -> Result<()> {
        let mut map = self.map.write();
        for (key, value) in entries {
            match value {
                Some(value) => map.insert(key.clone(), value.clone()),
                None => map.remove(key),
            };
        }
        Ok(())
    }

    fn delete(&self, key: &[u8]) -> Result<()> {
        self.map.write().remove(key);
        Ok(())
    }

    fn range<'a>(&'a self, from: Bound<&[u8]>, to: Bound<&[u8]>) -> Result<EntryIter<'a>> {
        Ok(Box::new(ChunkedRange {
            store: self,
            next_from: owned(from),
            to: owned(to),
            buffer: Vec::new().into_iter(),
            done: false,
        }))
    }

    fn approximate_len(&self) -> Result<u64> {
        Ok(self.map.read().len() as u64)
    }

    fn flush(&self) -> Result<()> {
        Ok(())
    }
}

/// In-memory segments for window and session stores.
#[derive(Default)]
pub struct MemorySegments {
    name: String,
    segments: Mutex<HashMap<i64, Arc<MemoryKeyValueStore>>>,
}

impl MemorySegments {
    /// No segments yet.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            segments: Mutex::new(HashMap::new()),
        }
    }
}

impl SegmentStorage for MemorySegments {
    fn open_segment(&self, id: i64) -> Result<Arc<dyn KeyValueStore>> {
        let mut segments = self.segments.lock();
        let segment = segments
            .entry(id)
            .or_insert_with(|| Arc::new(MemoryKeyValueStore::new(format!("{}.{id}", self.name))));
        Ok(Arc::clone(segment) as Arc<dyn KeyValueStore>)
    }

    fn drop_segment(&self, id: i64) -> Result<()> {
        self.segments.lock().remove(&id);
        Ok(())
    }

    fn existing_segments(&self) -> Result<Vec<i64>> {
        let mut ids: Vec<i64> = self.segments.lock().keys().copied().collect();
        ids.sort_unstable();
        Ok(ids)
    }
}
