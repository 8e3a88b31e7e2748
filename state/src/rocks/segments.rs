//! [`RocksSegments`]: segment storage for window and session stores, one RocksDB column
//! family per time segment in one database per store, so that expiring a segment is a cheap
//! `drop_cf` rather than per-key deletes.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use crate::error::Result;
use crate::kv::KeyValueStore;
use crate::rocks::db::Db;
use crate::rocks::env::RocksEnv;
use crate::rocks::format::StoreKind;
use crate::rocks::kv::RocksKeyValueStore;
use crate::segments::SegmentStorage;

const PREFIX: &str = "segment.";

fn column_family(id: i64) -> String {
    format!("{PREFIX}{id}")
}

fn segment_id(column_family: &str) -> Option<i64> {
    column_family.strip_prefix(PREFIX)?.parse().ok()
}

/// Segments of one window or session store on RocksDB. Open with [`RocksSegments::open`] or
/// [`RocksEnv::open_segments`], then build the store with
/// [`SegmentedWindowStore::open`](crate::SegmentedWindowStore::open) or
/// [`SegmentedSessionStore::open`](crate::SegmentedSessionStore::open) (or use
/// [`RocksEnv::open_window_store`] and [`RocksEnv::open_session_store`]).
pub struct RocksSegments {
    db: Arc<Db>,
    name: String,
}

impl fmt::Debug for RocksSegments {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RocksSegments")
            .field("name", &self.name)
            .field("path", &self.db.path)
            .finish()
    }
}

impl RocksSegments {
    /// Opens (creating if needed) the segment storage whose database lives in directory
    /// `dir`, with the segments left there by a previous run.
    pub fn open(env: &RocksEnv, dir: &Path, name: &str) -> Result<Self> {
        Ok(Self {
            db: Db::open(env, dir, name, StoreKind::Segments)?,
            name: name.to_owned(),
        })
    }

    /// The store's directory.
    pub fn path(&self) -> &Path {
        &self.db.path
    }

    fn store(&self, id: i64, column_family: String) -> Arc<dyn KeyValueStore> {
        Arc::new(RocksKeyValueStore::on_column_family(
            Arc::clone(&self.db),
            column_family,
            format!("{}.{id}", self.name),
        ))
    }
}

impl SegmentStorage for RocksSegments {
    fn open_segment(&self, id: i64) -> Result<Arc<dyn KeyValueStore>> {
        let name = column_family(id);
        let mut families = self.db.column_families.lock();
        if !families.contains(&name) {
            self.db
                .raw
                .create_cf(&name, &self.db.env.cf_options())
                .map_err(|e| self.db.error(&self.name, "create segment", e))?;
            families.insert(name.clone());
        }
        drop(families);
        Ok(self.store(id, name))
    }

    fn drop_segment(&self, id: i64) -> Result<()> {
        let name = column_family(id);
        let mut families = self.db.column_families.lock();
        if families.contains(&name) {
            self.db
                .raw
                .drop_cf(&name)
                .map_err(|e| self.db.error(&self.name, "drop segment", e))?;
            families.remove(&name);
        }
        Ok(())
    }

    fn existing_segments(&self) -> Result<Vec<i64>> {
        let mut ids: Vec<i64> = self
            .db
            .column_families
            .lock()
            .iter()
            .filter_map(|cf| segment_id(cf))
            .collect();
        ids.sort_unstable();
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rocks::RocksConfig;
    use crate::{Retention, WindowStore};

    fn env() -> anyhow::Result<RocksEnv> {
        Ok(RocksEnv::new(RocksConfig {
            memory_budget_bytes: 16 << 20,
            ..RocksConfig::default()
        })?)
    }

    #[test]
    fn segments_survive_reopen_and_drop_removes_data() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let env = env()?;
        {
            let segments = env.open_segments(dir.path(), "w")?;
            for id in [-3, 0, 5] {
                let segment = segments.open_segment(id)?;
                segment.put(b"k", &id.to_be_bytes())?;
                segment.flush()?;
            }
            assert_eq!(segments.existing_segments()?, vec![-3, 0, 5]);
        }
        let segments = env.open_segments(dir.path(), "w")?;
        assert_eq!(segments.existing_segments()?, vec![-3, 0, 5]);
        let held = segments.open_segment(0)?;
        assert_eq!(held.get(b"k")?, Some(0i64.to_be_bytes().to_vec()));
        segments.drop_segment(0)?;
        segments.drop_segment(0)?; // idempotent
        assert_eq!(segments.existing_segments()?, vec![-3, 5]);
        // A handle to a dropped segment reads nothing and refuses writes.
        assert_eq!(held.get(b"k")?, None);
        assert_eq!(held.all()?.count(), 0);
        assert!(held.put(b"k", b"v").is_err());
        // Recreated, the segment is empty.
        assert_eq!(segments.open_segment(0)?.get(b"k")?, None);
        drop((held, segments));
        let segments = env.open_segments(dir.path(), "w")?;
        assert_eq!(segments.existing_segments()?, vec![-3, 0, 5]);
        assert_eq!(segments.open_segment(0)?.get(b"k")?, None);
        assert!(segments.open_segment(5)?.get(b"k")?.is_some());
        Ok(())
    }

    #[test]
    fn window_store_expires_whole_segments() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let env = env()?;
        let retention = Retention::with_segment_ms(1_000, 100)?;
        {
            let store = env.open_window_store(dir.path(), "w", retention)?;
            for t in (0..3_000).step_by(10) {
                store.put(b"k", t, &t.to_be_bytes())?;
            }
            store.flush()?;
            let found = store.fetch(b"k", 0, 3_000)?;
            assert!(found.iter().all(|(t, _)| *t >= 1_900), "{found:?}");
            assert_eq!(found.last().map(|(t, _)| *t), Some(2_990));
        }
        {
            let segments = env.open_segments(dir.path(), "w")?;
            let ids = segments.existing_segments()?;
            assert!(ids.len() <= 12, "segments left: {ids:?}");
        }
        let store = env.open_window_store(dir.path(), "w", retention)?;
        assert_eq!(
            store.fetch_one(b"k", 2_990)?,
            Some(2_990i64.to_be_bytes().to_vec())
        );
        Ok(())
    }

    #[test]
    fn kinds_are_not_mixed_up() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let env = env()?;
        drop(env.open_kv(dir.path(), "kv")?);
        assert!(matches!(
            env.open_segments(dir.path(), "kv"),
            Err(crate::Error::InvalidConfig(_))
        ));
        Ok(())
    }

    #[test]
    fn stores_share_one_budget() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let env = env()?;
        let mut stores = Vec::new();
        for i in 0..5 {
            let kv = env.open_kv(&dir.path().join(format!("kv{i}")), "kv")?;
            for k in 0..2_000u32 {
                kv.put(&k.to_be_bytes(), &[i as u8; 100])?;
            }
            stores.push(kv);
        }
        let window = env.open_window_store(
            &dir.path().join("w"),
            "w",
            Retention::with_segment_ms(10_000, 1_000)?,
        )?;
        window.put(b"k", 5, b"v")?;
        let usage = env.memory_usage();
        assert_eq!(usage.open_databases, 6);
        assert_eq!(usage.budget_bytes, 16 << 20);
        assert_eq!(usage.write_buffer_limit_bytes, 8 << 20);
        assert!(usage.memtable_bytes > 5 * 2_000 * 100, "{usage:?}");
        assert!(usage.write_buffer_usage_bytes > 0, "{usage:?}");
        // Memtables are charged to the one shared cache.
        assert!(
            usage.block_cache_usage_bytes >= usage.write_buffer_usage_bytes,
            "{usage:?}"
        );
        drop(stores);
        drop(window);
        assert_eq!(env.memory_usage().open_databases, 0);
        Ok(())
    }
}
