//! [`RocksKeyValueStore`]: a [`KeyValueStore`] on one RocksDB column family — the default
//! one of a store's own database, or a segment's column family.

use std::fmt;
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rocksdb::{BoundColumnFamily, DBRawIteratorWithThreadMode, ReadOptions, WriteBatch};

use crate::error::Result;
use crate::kv::{Entry, EntryIter, KeyValueStore};
use crate::rocks::db::{Db, RawDb};
use crate::rocks::env::RocksEnv;
use crate::rocks::format::StoreKind;

/// A key-value store on RocksDB. Open with [`RocksKeyValueStore::open`] or
/// [`RocksEnv::open_kv`]; segments of a [`RocksSegments`](crate::rocks::RocksSegments) are
/// also of this type, each on its own column family.
pub struct RocksKeyValueStore {
    db: Arc<Db>,
    /// Restored writes went to the memtable without the log: the next `flush` must flush
    /// the memtable, not just sync the log.
    unlogged: AtomicBool,
    /// `None`: the default column family; `Some`: a segment's column family.
    column_family: Option<String>,
    name: String,
}

impl fmt::Debug for RocksKeyValueStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RocksKeyValueStore")
            .field("name", &self.name)
            .field("path", &self.db.path)
            .field("column_family", &self.column_family)
            .finish()
    }
}

/// Where an operation goes.
enum Target<'a> {
    Default,
    Family(Arc<BoundColumnFamily<'a>>),
    /// The segment's column family was dropped: reads see nothing, writes fail.
    Dropped,
}

impl RocksKeyValueStore {
    /// Opens (creating if needed) the store whose database lives in directory `dir`, using
    /// the shared cache and memory budget of `env`. Fails with
    /// [`Error::IncompatibleFormat`](crate::Error::IncompatibleFormat) if the directory was
    /// written with another on-disk format version.
    pub fn open(env: &RocksEnv, dir: &Path, name: &str) -> Result<Self> {
        let db = Db::open(env, dir, name, StoreKind::KeyValue)?;
        Ok(Self {
            db,
            unlogged: AtomicBool::new(false),
            column_family: None,
            name: name.to_owned(),
        })
    }

    /// A store over one column family of an open database (a segment).
    pub(crate) fn on_column_family(db: Arc<Db>, column_family: String, name: String) -> Self {
        Self {
            db,
            unlogged: AtomicBool::new(false),
            column_family: Some(column_family),
            name,
        }
    }

    /// The store's directory.
    pub fn path(&self) -> &Path {
        &self.db.path
    }

    fn target(&self) -> Target<'_> {
        match &self.column_family {
            None => Target::Default,
            Some(cf) => match self.db.raw.cf_handle(cf) {
                Some(handle) => Target::Family(handle),
                None => Target::Dropped,
            },
        }
    }

    fn error(&self, what: &str, e: impl fmt::Display) -> crate::Error {
        self.db.error(&self.name, what, e)
    }

    /// Writes entries as one batch with `options`.
    fn write_with<'e>(
        &self,
        entries: impl IntoIterator<Item = &'e (Vec<u8>, Option<Vec<u8>>)>,
        options: &rocksdb::WriteOptions,
    ) -> Result<()> {
        let mut batch = WriteBatch::default();
        match self.target() {
            Target::Default => {
                for (key, value) in entries.into_iter() {
                    match value {
                        Some(value) => batch.put(key, value),
                        None => batch.delete(key),
                    }
                }
            }
            Target::Family(cf) => {
                for (key, value) in entries.into_iter() {
                    match value {
                        Some(value) => batch.put_cf(&cf, key, value),
                        None => batch.delete_cf(&cf, key),
                    }
                }
            }
            Target::Dropped => return Err(self.dropped()),
        }
        let bytes = batch.size_in_bytes();
        self.db
            .raw
            .write_opt(batch, options)
            .map_err(|e| self.error("write batch", e))?;
        self.db.env.note_write(bytes);
        Ok(())
    }

    fn dropped(&self) -> crate::Error {
        self.error("write", "the segment was dropped")
    }
}

/// The exclusive upper bound that makes `key` itself the last key included: the smallest
/// key greater than `key` in byte order is `key` followed by a zero byte.
fn successor(key: &[u8]) -> Vec<u8> {
    let mut next = Vec::with_capacity(key.len() + 1);
    next.extend_from_slice(key);
    next.push(0);
    next
}

/// Entries of a RocksDB iterator; the iterator reads from an implicit snapshot taken when
/// it was created, and never blocks writers.
struct RangeIter<'a> {
    inner: Option<DBRawIteratorWithThreadMode<'a, RawDb>>,
    started: bool,
    store: &'a RocksKeyValueStore,
}

impl Iterator for RangeIter<'_> {
    type Item = Result<Entry>;

    fn next(&mut self) -> Option<Self::Item> {
        let inner = self.inner.as_mut()?;
        if self.started {
            inner.next();
        }
        self.started = true;
        if let (Some(key), Some(value)) = (inner.key(), inner.value()) {
            return Some(Ok((key.to_vec(), value.to_vec())));
        }
        let status = inner.status();
        self.inner = None;
        match status {
            Ok(()) => None,
            Err(e) => Some(Err(self.store.error("iterate", e))),
        }
    }
}

impl KeyValueStore for RocksKeyValueStore {
    fn name(&self) -> &str {
        &self.name
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let raw = &self.db.raw;
        let value = match self.target() {
            Target::Default => raw.get_pinned(key),
            Target::Family(cf) => raw.get_pinned_cf(&cf, key),
            Target::Dropped => return Ok(None),
        };
        value
            .map(|v| v.map(|slice| slice.to_vec()))
            .map_err(|e| self.error("get", e))
    }

    fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        let (raw, options) = (&self.db.raw, &self.db.write_options);
        match self.target() {
            Target::Default => raw.put_opt(key, value, options),
            Target::Family(cf) => raw.put_cf_opt(&cf, key, value, options),
            Target::Dropped => return Err(self.dropped()),
        }
        .map_err(|e| self.error("put", e))?;
        self.db.env.note_write(key.len() + value.len());
        Ok(())
    }

    fn write_batch(&self, entries: &[(Vec<u8>, Option<Vec<u8>>)]) -> Result<()> {
        self.write_with(entries, &self.db.write_options)
    }

    /// Without the write-ahead log: a restore has no checkpoint until its final `flush`, so
    /// a crash before then restores again anyway, and skipping the log halves the bytes
    /// written. `flush` then flushes the memtable to table files.
    fn restore_batch(&self, entries: &[(Vec<u8>, Option<Vec<u8>>)]) -> Result<()> {
        self.unlogged.store(true, Ordering::Release);
        // In key order, which makes memtable inserts cheaper; the sort is stable, so a key
        // written twice in the batch keeps its order and the later write wins.
        let mut sorted: Vec<&(Vec<u8>, Option<Vec<u8>>)> = entries.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        self.write_with(sorted, &self.db.unlogged_write_options)
    }

    fn delete(&self, key: &[u8]) -> Result<()> {
        let (raw, options) = (&self.db.raw, &self.db.write_options);
        match self.target() {
            Target::Default => raw.delete_opt(key, options),
            Target::Family(cf) => raw.delete_cf_opt(&cf, key, options),
            Target::Dropped => return Err(self.dropped()),
        }
        .map_err(|e| self.error("delete", e))?;
        self.db.env.note_write(key.len());
        Ok(())
    }

    fn range<'a>(&'a self, from: Bound<&[u8]>, to: Bound<&[u8]>) -> Result<EntryIter<'a>> {
        let mut options = ReadOptions::default();
        let lower = match from {
            Bound::Included(key) => Some(key.to_vec()),
            Bound::Excluded(key) => Some(successor(key)),
            Bound::Unbounded => None,
        };
        match to {
            Bound::Included(key) => options.set_iterate_upper_bound(successor(key)),
            Bound::Excluded(key) => options.set_iterate_upper_bound(key.to_vec()),
            Bound::Unbounded => {}
        }
        if let Some(lower) = &lower {
            options.set_iterate_lower_bound(lower.clone());
        }
        let raw = &self.db.raw;
        let mut inner = match self.target() {
            Target::Default => raw.raw_iterator_opt(options),
            Target::Family(cf) => raw.raw_iterator_cf_opt(&cf, options),
            Target::Dropped => {
                return Ok(Box::new(RangeIter {
                    inner: None,
                    started: false,
                    store: self,
                }));
            }
        };
        match &lower {
            Some(lower) => inner.seek(lower),
            None => inner.seek_to_first(),
        }
        Ok(Box::new(RangeIter {
            inner: Some(inner),
            started: false,
            store: self,
        }))
    }

    fn approximate_len(&self) -> Result<u64> {
        const PROPERTY: &str = "rocksdb.estimate-num-keys";
        let raw = &self.db.raw;
        let value = match self.target() {
            Target::Default => raw.property_int_value(PROPERTY),
            Target::Family(cf) => raw.property_int_value_cf(&cf, PROPERTY),
            Target::Dropped => return Ok(0),
        };
        value
            .map(|v| v.unwrap_or(0))
            .map_err(|e| self.error("estimate-num-keys", e))
    }

    fn flush(&self) -> Result<()> {
        let raw = &self.db.raw;
        let unlogged = self.unlogged.swap(false, Ordering::AcqRel);
        if unlogged || !self.db.use_wal {
            // Writes that skipped the log are durable only once their memtable is in a
            // table file.
            let flushed = match self.target() {
                Target::Default => raw.flush(),
                Target::Family(cf) => raw.flush_cf(&cf),
                Target::Dropped => Ok(()),
            };
            if let Err(e) = flushed {
                if unlogged {
                    self.unlogged.store(true, Ordering::Release);
                }
                return Err(self.error("flush memtable", e));
            }
        }
        if self.db.use_wal {
            // Every other write went to the log; syncing it makes them all durable, for
            // every column family of the database at once.
            raw.flush_wal(true).map_err(|e| self.error("sync log", e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;
    use crate::rocks::RocksConfig;

    fn env() -> anyhow::Result<RocksEnv> {
        Ok(RocksEnv::new(RocksConfig {
            memory_budget_bytes: 16 << 20,
            ..RocksConfig::default()
        })?)
    }

    fn collect(iter: EntryIter<'_>) -> anyhow::Result<Vec<Vec<u8>>> {
        Ok(iter
            .map(|e| e.map(|(k, _)| k))
            .collect::<Result<Vec<_>>>()?)
    }

    #[test]
    fn restored_batches_keep_write_order_per_key() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let env = env()?;
        {
            let store = RocksKeyValueStore::open(&env, dir.path(), "kv")?;
            let change = |k: &str, v: Option<&str>| {
                (k.as_bytes().to_vec(), v.map(|v| v.as_bytes().to_vec()))
            };
            store.restore_batch(&[
                change("b", Some("1")),
                change("a", Some("1")),
                change("b", Some("2")),
                change("c", Some("1")),
                change("a", None),
                change("c", Some("2")),
                change("b", Some("3")),
            ])?;
            // This checks order only: a clean close persists unlogged writes by itself, so
            // that `flush` makes them durable is checked by killing processes in crash.rs.
            store.flush()?;
        }
        let store = RocksKeyValueStore::open(&env, dir.path(), "kv")?;
        assert_eq!(store.get(b"a")?, None);
        assert_eq!(store.get(b"b")?, Some(b"3".to_vec()));
        assert_eq!(store.get(b"c")?, Some(b"2".to_vec()));
        Ok(())
    }

    #[test]
    fn put_get_delete_range_and_bounds() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let store = RocksKeyValueStore::open(&env()?, dir.path(), "kv")?;
        for key in [&b"a"[..], b"b", b"b\0", b"ba", b"c"] {
            store.put(key, b"v")?;
        }
        assert_eq!(store.get(b"b")?, Some(b"v".to_vec()));
        assert_eq!(store.get(b"z")?, None);
        let range = |from, to| collect(store.range(from, to)?);
        use Bound::*;
        assert_eq!(
            range(Included(&b"b"[..]), Included(&b"ba"[..]))?,
            vec![b"b".to_vec(), b"b\0".to_vec(), b"ba".to_vec()]
        );
        assert_eq!(
            range(Excluded(&b"b"[..]), Excluded(&b"ba"[..]))?,
            vec![b"b\0".to_vec()]
        );
        assert_eq!(range(Unbounded, Excluded(&b"b"[..]))?, vec![b"a".to_vec()]);
        assert_eq!(range(Excluded(&b"ba"[..]), Unbounded)?, vec![b"c".to_vec()]);
        assert!(range(Included(&b"c"[..]), Excluded(&b"a"[..]))?.is_empty());
        assert_eq!(collect(store.prefix_scan(b"b")?)?.len(), 3);
        store.write_batch(&[(b"a".to_vec(), None), (b"d".to_vec(), Some(b"w".to_vec()))])?;
        assert_eq!(store.get(b"a")?, None);
        assert_eq!(store.get(b"d")?, Some(b"w".to_vec()));
        store.delete(b"d")?;
        assert_eq!(collect(store.all()?)?.len(), 4);
        Ok(())
    }

    #[test]
    fn reopen_keeps_data_after_flush() -> anyhow::Result<()> {
        for use_wal in [true, false] {
            let dir = tempfile::tempdir()?;
            let env = RocksEnv::new(RocksConfig {
                memory_budget_bytes: 16 << 20,
                use_wal,
                ..RocksConfig::default()
            })?;
            {
                let store = env.open_kv(dir.path(), "kv")?;
                for i in 0..1000u32 {
                    store.put(&i.to_be_bytes(), &[7; 100])?;
                }
                store.flush()?;
            }
            let store = env.open_kv(dir.path(), "kv")?;
            assert_eq!(store.get(&999u32.to_be_bytes())?, Some(vec![7; 100]));
            assert_eq!(store.all()?.count(), 1000);
            let estimate = store.approximate_len()?;
            assert!((500..=2000).contains(&estimate), "estimate {estimate}");
        }
        Ok(())
    }

    #[test]
    fn incompatible_format_is_reported_with_path_and_versions() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let env = env()?;
        drop(env.open_kv(dir.path(), "kv")?);
        std::fs::write(
            dir.path().join(crate::rocks::FORMAT_FILE),
            "eddy-state-format 7\nkind key-value\n",
        )?;
        match env.open_kv(dir.path(), "kv") {
            Err(Error::IncompatibleFormat {
                path,
                found,
                expected,
            }) => {
                assert_eq!(path, dir.path());
                assert_eq!((found, expected), (7, 1));
            }
            Err(other) => panic!("expected IncompatibleFormat, got {other}"),
            Ok(_) => panic!("expected IncompatibleFormat, opened the store"),
        }
        Ok(())
    }

    #[test]
    fn opening_an_open_store_twice_is_an_engine_error() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let env = env()?;
        let _first = env.open_kv(dir.path(), "kv")?;
        assert!(matches!(
            env.open_kv(dir.path(), "kv"),
            Err(Error::Engine { .. })
        ));
        Ok(())
    }
}
