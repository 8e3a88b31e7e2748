//! One open RocksDB database (a store's directory) and its column families.

use std::collections::BTreeSet;
use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;
use rocksdb::{
    ColumnFamilyDescriptor, DBWithThreadMode, FlushOptions, MultiThreaded, WriteOptions,
};

use crate::error::{Error, Result};
use crate::rocks::env::RocksEnv;
use crate::rocks::format::{StoreKind, prepare_dir};

/// The RocksDB handle type used throughout: column families created and dropped via `&self`.
pub(crate) type RawDb = DBWithThreadMode<MultiThreaded>;

/// Name of RocksDB's default column family.
pub(crate) const DEFAULT_CF: &str = "default";

/// An open database with what every store over it needs.
pub(crate) struct Db {
    pub(crate) raw: RawDb,
    pub(crate) path: PathBuf,
    pub(crate) write_options: WriteOptions,
    /// For restores: no write-ahead log (see `KeyValueStore::restore_batch`).
    pub(crate) unlogged_write_options: WriteOptions,
    pub(crate) use_wal: bool,
    /// Column families other than the default one.
    pub(crate) column_families: Mutex<BTreeSet<String>>,
    pub(crate) env: RocksEnv,
}

impl Db {
    /// Opens the database in `dir` with every column family it has, after checking the
    /// format marker.
    pub(crate) fn open(env: &RocksEnv, dir: &Path, name: &str, kind: StoreKind) -> Result<Arc<Db>> {
        prepare_dir(dir, kind)?;
        let engine = |e: rocksdb::Error| Error::Engine {
            store: name.to_owned(),
            message: format!("opening {}: {e}", dir.display()),
        };
        let options = env.db_options();
        let existing: Vec<String> = if dir.join("CURRENT").exists() {
            RawDb::list_cf(&options, dir).map_err(engine)?
        } else {
            Vec::new()
        };
        let column_families: BTreeSet<String> =
            existing.into_iter().filter(|cf| cf != DEFAULT_CF).collect();
        let descriptors = column_families
            .iter()
            .map(|cf| ColumnFamilyDescriptor::new(cf, env.cf_options()));
        let raw = RawDb::open_cf_descriptors(&options, dir, descriptors).map_err(engine)?;
        let use_wal = env.config().use_wal;
        let mut write_options = WriteOptions::default();
        write_options.set_sync(false);
        write_options.disable_wal(!use_wal);
        let mut unlogged_write_options = WriteOptions::default();
        unlogged_write_options.set_sync(false);
        unlogged_write_options.disable_wal(true);
        let db = Arc::new(Db {
            raw,
            path: dir.to_path_buf(),
            write_options,
            unlogged_write_options,
            use_wal,
            column_families: Mutex::new(column_families),
            env: env.clone(),
        });
        env.register(&db);
        Ok(db)
    }

    /// An engine error of store `store`.
    pub(crate) fn error(&self, store: &str, what: &str, e: impl Display) -> Error {
        Error::Engine {
            store: store.to_owned(),
            message: format!("{what} in {}: {e}", self.path.display()),
        }
    }

    /// Starts flushing the memtables of every column family, without waiting.
    pub(crate) fn flush_memtables_in_background(&self) {
        let mut options = FlushOptions::default();
        options.set_wait(false);
        let mut result = self.raw.flush_opt(&options);
        let names: Vec<String> = self.column_families.lock().iter().cloned().collect();
        for cf in names {
            if let Some(handle) = self.raw.cf_handle(&cf) {
                result = result.and(self.raw.flush_cf_opt(&handle, &options));
            }
        }
        if let Err(error) = result {
            tracing::warn!(path = %self.path.display(), %error, "flushing memtables failed");
        }
    }

    /// Sum of an integer property over all column families (0 where unavailable).
    pub(crate) fn property_sum(&self, property: &str) -> u64 {
        let mut sum = self
            .raw
            .property_int_value(property)
            .ok()
            .flatten()
            .unwrap_or(0);
        let names: Vec<String> = self.column_families.lock().iter().cloned().collect();
        for cf in names {
            if let Some(handle) = self.raw.cf_handle(&cf) {
                sum += self
                    .raw
                    .property_int_value_cf(&handle, property)
                    .ok()
                    .flatten()
                    .unwrap_or(0);
            }
        }
        sum
    }
}
