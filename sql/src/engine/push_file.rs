//! The push queries running in this process, kept in a small file in the runner's state
//! directory (`push-queries`, one application id per line), as ksqlDB keeps its "local
//! commands" file. A push query is listed from its start until its topics are deleted at
//! its end, so the ids found in the file when an engine opens are those of push queries an
//! earlier process never finished (it was killed): their internal topics (changelogs,
//! repartition topics) and local state are left over, and the engine removes them
//! ([`super::Engine::new`]).
//!
//! Best effort: a file that cannot be read or written is logged, never fatal to a query.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use std::sync::Mutex;

/// The file's name in the state directory.
const FILE: &str = "push-queries";

/// The running push queries' application ids, mirrored in their file.
#[derive(Debug)]
pub(super) struct PushQueryFile {
    path: PathBuf,
    ids: Mutex<BTreeSet<String>>,
}

impl PushQueryFile {
    /// The registry of `state_dir`, holding what an earlier process left there.
    pub(super) fn open(state_dir: &Path) -> Self {
        let path = state_dir.join(FILE);
        let ids = match std::fs::read_to_string(&path) {
            Ok(text) => text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from)
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeSet::new(),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot read the push-query registry");
                BTreeSet::new()
            }
        };
        Self {
            path,
            ids: Mutex::new(ids),
        }
    }

    /// The ids listed now (at open: the leftovers).
    pub(super) fn listed(&self) -> Vec<String> {
        self.ids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    /// Lists a push query about to start.
    pub(super) fn add(&self, application_id: &str) {
        let mut ids = self.ids.lock().unwrap_or_else(|e| e.into_inner());
        if ids.insert(application_id.to_string()) {
            self.save(&ids);
        }
    }

    /// Unlists a push query whose topics are gone.
    pub(super) fn remove(&self, application_id: &str) {
        let mut ids = self.ids.lock().unwrap_or_else(|e| e.into_inner());
        if ids.remove(application_id) {
            self.save(&ids);
        }
    }

    /// Rewrites the file (a temporary file renamed over it: a crash leaves the old list or
    /// the new one). No fsync: after a machine crash a missed entry leaks a push query's
    /// topics, nothing more.
    fn save(&self, ids: &BTreeSet<String>) {
        let mut text = String::new();
        for id in ids {
            text.push_str(id);
            text.push('\n');
        }
        let tmp = self.path.with_extension("tmp");
        let written = self
            .path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&tmp, text))
            .and_then(|()| std::fs::rename(&tmp, &self.path));
        if let Err(e) = written {
            tracing::warn!(path = %self.path.display(), error = %e,
                "cannot write the push-query registry; a crash now may leave a push query's topics");
        }
    }
}
