//! The processing log: records that could not be read and rows whose expressions failed,
//! reported per query and never fatal to it (ksqlDB's `ksql_processing_log`). Entries go to
//! the `eddy_sql::processing_log` tracing target and are counted; the most recent are kept
//! for inspection.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// How many recent entries a log keeps.
const RECENT: usize = 100;

/// A query's processing log. Cheap to clone; clones share the log.
#[derive(Debug, Clone, Default)]
pub struct ProcessingLog {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    query: String,
    count: AtomicU64,
    recent: Mutex<VecDeque<String>>,
}

impl ProcessingLog {
    /// The log of query `query`.
    pub fn new(query: impl Into<String>) -> Self {
        Self {
            inner: Arc::new(Inner {
                query: query.into(),
                ..Inner::default()
            }),
        }
    }

    /// Records an entry.
    pub fn record(&self, message: impl Into<String>) {
        let message = message.into();
        self.inner.count.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(target: "eddy_sql::processing_log", query = %self.inner.query, "{message}");
        let mut recent = self.inner.recent.lock().unwrap_or_else(|e| e.into_inner());
        if recent.len() == RECENT {
            recent.pop_front();
        }
        recent.push_back(message);
    }

    /// How many entries were recorded.
    pub fn count(&self) -> u64 {
        self.inner.count.load(Ordering::Relaxed)
    }

    /// The most recent entries, oldest first.
    pub fn recent(&self) -> Vec<String> {
        self.inner
            .recent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }
}
