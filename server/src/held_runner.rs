//! A [`QueryRunner`] that can hold back persistent queries while the command topic is
//! replayed: a query started by an early command and terminated (or replaced) by a later
//! one never runs, so it writes nothing it did not write before the restart. Once the
//! replay is over, [`Hold::release`] starts the queries still held, in the order they were
//! started, and the runner passes everything straight through from then on.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use eddy_sql::engine::runner::AppView;
use eddy_sql::engine::{PersistentQuery, QueryRunner, QueryStatus, Stopper};
use eddy_streams::Topology;

/// Queries started during the replay, in start order, each with whether a later `PAUSE`
/// paused it.
type Held = Vec<(PersistentQuery, Topology, bool)>;

struct Shared {
    inner: Box<dyn QueryRunner>,
    /// `Some` while holding.
    held: Option<Held>,
}

/// The runner the engine is given.
pub struct HeldRunner {
    shared: Arc<Mutex<Shared>>,
}

/// Ends the holding.
pub struct Hold {
    shared: Arc<Mutex<Shared>>,
}

fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

impl HeldRunner {
    /// `inner`, holding persistent queries until the [`Hold`] is released.
    pub fn new(inner: Box<dyn QueryRunner>) -> (Self, Hold) {
        let shared = Arc::new(Mutex::new(Shared {
            inner,
            held: Some(Vec::new()),
        }));
        (
            Self {
                shared: shared.clone(),
            },
            Hold { shared },
        )
    }
}

impl Hold {
    /// Starts the queries still held; returns the ids of those that failed to start, with
    /// the reason (they stay in the catalog, reported as not running).
    pub fn release(self) -> Vec<(String, eddy_sql::SqlError)> {
        let mut shared = lock(&self.shared);
        let held = shared.held.take().unwrap_or_default();
        let mut failed = Vec::new();
        for (query, topology, paused) in held {
            // A paused query is handed over without starting: it processes nothing until
            // RESUME starts it from its committed offsets.
            let started = match paused {
                true => shared.inner.start_paused(&query, topology),
                false => shared.inner.start(&query, topology),
            };
            if let Err(e) = started {
                failed.push((query.id.clone(), e));
            }
        }
        failed
    }
}

impl QueryRunner for HeldRunner {
    fn start(&mut self, query: &PersistentQuery, topology: Topology) -> eddy_sql::Result<()> {
        let mut shared = lock(&self.shared);
        match shared.held.as_mut() {
            Some(held) => {
                // CREATE OR REPLACE restarts a query under the same id: the newest wins.
                held.retain(|(q, ..)| q.id != query.id);
                held.push((query.clone(), topology, false));
                Ok(())
            }
            None => shared.inner.start(query, topology),
        }
    }

    fn start_transient(
        &mut self,
        id: &str,
        application_id: &str,
        properties: &BTreeMap<String, String>,
        topology: Topology,
    ) -> eddy_sql::Result<Stopper> {
        lock(&self.shared)
            .inner
            .start_transient(id, application_id, properties, topology)
    }

    fn stop(&mut self, id: &str) -> eddy_sql::Result<()> {
        let mut shared = lock(&self.shared);
        if let Some(held) = shared.held.as_mut()
            && let Some(at) = held.iter().position(|(q, ..)| q.id == id)
        {
            held.remove(at);
            return Ok(());
        }
        shared.inner.stop(id)
    }

    fn clean_up(&mut self, application_id: &str) -> eddy_sql::Result<()> {
        lock(&self.shared).inner.clean_up(application_id)
    }

    fn state_dir(&self) -> Option<std::path::PathBuf> {
        lock(&self.shared).inner.state_dir()
    }

    fn status(&self, id: &str) -> QueryStatus {
        let shared = lock(&self.shared);
        match &shared.held {
            Some(held) => match held.iter().find(|(q, ..)| q.id == id) {
                Some((.., true)) => QueryStatus::Paused,
                Some(_) => QueryStatus::Stopped,
                None => shared.inner.status(id),
            },
            _ => shared.inner.status(id),
        }
    }

    fn app(&self, id: &str) -> Option<AppView> {
        lock(&self.shared).inner.app(id)
    }

    fn pause(&mut self, id: &str) -> eddy_sql::Result<()> {
        self.set_paused(id, true)
    }

    fn start_paused(
        &mut self,
        query: &PersistentQuery,
        topology: Topology,
    ) -> eddy_sql::Result<()> {
        let mut shared = lock(&self.shared);
        match shared.held.as_mut() {
            Some(held) => {
                held.retain(|(q, ..)| q.id != query.id);
                held.push((query.clone(), topology, true));
                Ok(())
            }
            None => shared.inner.start_paused(query, topology),
        }
    }

    fn resume(&mut self, id: &str) -> eddy_sql::Result<()> {
        self.set_paused(id, false)
    }
}

impl HeldRunner {
    /// Pauses or resumes a held query (a flag until the release) or a running one.
    fn set_paused(&mut self, id: &str, paused: bool) -> eddy_sql::Result<()> {
        let mut shared = lock(&self.shared);
        if let Some(held) = shared.held.as_mut()
            && let Some(entry) = held.iter_mut().find(|(q, ..)| q.id == id)
        {
            entry.2 = paused;
            return Ok(());
        }
        match paused {
            true => shared.inner.pause(id),
            false => shared.inner.resume(id),
        }
    }
}
