//! Tests of the changelogged window and session stores.

use std::path::Path;
use std::sync::Arc;

use super::*;
use crate::changelog::{Changelog, MemoryChangelog};
use crate::keys::windowed_key;
use crate::logged::{ChangeloggedConfig, RestoreReport};
use crate::rocks::{RocksConfig, RocksEnv};
use crate::session::{SessionStore, SessionWindow};
use crate::window::Retention;
use crate::window::WindowStore;

fn env() -> RocksEnv {
    RocksEnv::new(RocksConfig {
        memory_budget_bytes: 16 << 20,
        ..RocksConfig::default()
    })
    .unwrap()
}

fn open_window(
    env: &RocksEnv,
    dir: &Path,
    log: &Arc<MemoryChangelog>,
) -> (ChangeloggedWindowStore, RestoreReport) {
    let retention = Retention::with_segment_ms(1_000, 100).unwrap();
    let log: Arc<dyn Changelog> = log.clone();
    ChangeloggedWindowStore::open(dir, "w", log, &ChangeloggedConfig::default(), |d| {
        Ok(Arc::new(env.open_window_store(d, "w", retention)?) as Arc<dyn WindowStore>)
    })
    .unwrap()
}

#[test]
fn window_store_restores_from_its_changelog_alone() {
    let env = env();
    let first = tempfile::tempdir().unwrap();
    let log = Arc::new(MemoryChangelog::new("w-changelog-0"));
    let (store, _) = open_window(&env, first.path(), &log);
    for t in (0..2_000).step_by(50) {
        assert!(store.put(b"k", t, &t.to_be_bytes()).unwrap());
        store.put(b"j", t, b"x").unwrap();
    }
    store.delete(b"j", 1_950).unwrap();
    // Past retention: dropped, not logged.
    let logged = log.pending();
    assert!(!store.put(b"k", 100, b"late").unwrap());
    assert_eq!(log.pending(), logged);
    store.commit().unwrap();
    let expected = store.fetch_all(i64::MIN, i64::MAX).unwrap();
    assert!(expected.iter().all(|e| e.window_start >= 950));
    assert!(!expected.is_empty());
    drop(store);

    // Another machine: an empty directory, the changelog alone.
    let second = tempfile::tempdir().unwrap();
    let (store, report) = open_window(&env, second.path(), &log);
    assert!(matches!(report.kind, crate::RestoreKind::Full(_)));
    assert_eq!(report.records, log.records().len() as u64);
    assert_eq!(store.fetch_all(i64::MIN, i64::MAX).unwrap(), expected);
    assert_eq!(store.fetch_one(b"j", 1_950).unwrap(), None);
    store.close().unwrap();

    // Reopened where it was: nothing to replay. (Time resumes at the newest segment's
    // start, so compare from the oldest live window start before the restart.)
    let (store, report) = open_window(&env, second.path(), &log);
    assert_eq!(report.kind, crate::RestoreKind::Incremental);
    assert_eq!(report.records, 0);
    assert_eq!(store.fetch_all(950, i64::MAX).unwrap(), expected);
}

#[test]
fn window_cache_sends_one_update_per_window_and_commit_down() {
    let env = env();
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(MemoryChangelog::new("w-changelog-0"));
    let (store, _) = open_window(&env, dir.path(), &log);
    for n in 1..=100u32 {
        assert!(store.put(b"k", 500, &n.to_be_bytes()).unwrap());
    }
    store.put(b"j", 500, b"x").unwrap();
    store.delete(b"j", 500).unwrap();
    // Reads see the cache; nothing went down yet.
    assert_eq!(
        store.fetch_one(b"k", 500).unwrap(),
        Some(100u32.to_be_bytes().to_vec())
    );
    assert_eq!(store.fetch_one(b"j", 500).unwrap(), None);
    assert_eq!(store.fetch(b"k", 0, 1_000).unwrap().len(), 1);
    assert_eq!(store.fetch_all(0, 1_000).unwrap().len(), 1);
    assert_eq!(log.pending(), 0);
    // Time counts cached writes: 500 - retention (1 000) is the oldest live start.
    assert!(store.put(b"k", 1_600, b"y").unwrap());
    assert!(!store.put(b"k", 500, b"late").unwrap());
    store.commit().unwrap();
    let records = log.records();
    assert_eq!(
        records.len(),
        3,
        "k@500, j@500 (a tombstone) and k@1600, one each: {records:?}"
    );
    let k500 = records
        .iter()
        .find(|r| r.key == windowed_key(b"k", 500))
        .expect("k@500 logged");
    assert_eq!(
        k500.value,
        Some(100u32.to_be_bytes().to_vec()),
        "the latest value"
    );
    assert_eq!(
        store.cache_absorbed(),
        100,
        "99 updates of k@500, the delete of j@500"
    );
    // A second process restores what was committed.
    let other = tempfile::tempdir().unwrap();
    drop(store);
    let (store, _) = open_window(&env, other.path(), &log);
    assert_eq!(store.fetch_one(b"k", 1_600).unwrap(), Some(b"y".to_vec()));
}

#[test]
fn cached_windows_past_retention_are_not_read() {
    let env = env();
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(MemoryChangelog::new("w-changelog-0"));
    let (store, _) = open_window(&env, dir.path(), &log);
    store.put(b"k", 0, b"old").unwrap();
    store.put(b"k", 2_000, b"new").unwrap();
    // Both only in the cache: 0 is past the retention (1 000) of 2 000 all the same.
    assert_eq!(store.fetch_one(b"k", 0).unwrap(), None);
    assert_eq!(store.fetch(b"k", 0, 0).unwrap(), vec![]);
    assert_eq!(store.fetch_all(0, 0).unwrap(), vec![]);
    assert_eq!(store.fetch(b"k", 0, 2_000).unwrap().len(), 1);
}

#[test]
fn window_cache_over_its_bound_writes_down_before_the_commit() {
    let env = env();
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(MemoryChangelog::new("w-changelog-0"));
    let config = ChangeloggedConfig {
        cache_max_bytes: 1_000,
        ..ChangeloggedConfig::default()
    };
    let retention = Retention::with_segment_ms(1_000, 100).unwrap();
    let changelog: Arc<dyn Changelog> = log.clone();
    let (store, _) = ChangeloggedWindowStore::open(dir.path(), "w", changelog, &config, |d| {
        Ok(Arc::new(env.open_window_store(d, "w", retention)?) as Arc<dyn WindowStore>)
    })
    .unwrap();
    for key in 0..100u32 {
        store.put(&key.to_be_bytes(), 0, b"v").unwrap();
    }
    let pending = log.pending();
    assert!(
        pending > 0 && pending < 100,
        "written down early: {pending}"
    );
    assert_eq!(store.fetch_all(0, 0).unwrap().len(), 100);
}

/// A small deterministic generator for the randomized tests.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: u64) -> i64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % bound) as i64
    }
}

/// Cached and uncached stores, given the same random writes (with commits and
/// over-the-bound write-downs between them), answer every read alike.
#[test]
fn cached_window_and_session_stores_read_like_uncached_ones() {
    let env = env();
    let dir = tempfile::tempdir().unwrap();
    let open_pair = |name: &str| {
        let mut stores = Vec::new();
        for bound in [0, 300] {
            let config = ChangeloggedConfig {
                cache_max_bytes: bound,
                ..ChangeloggedConfig::default()
            };
            let log: Arc<dyn Changelog> = Arc::new(MemoryChangelog::new("log"));
            let name = format!("{name}-{bound}");
            let retention = Retention::with_segment_ms(400, 100).unwrap();
            let window = ChangeloggedWindowStore::open(
                dir.path().join(&name),
                &name,
                log.clone(),
                &config,
                |d| Ok(Arc::new(env.open_window_store(d, "w", retention)?) as Arc<dyn WindowStore>),
            )
            .unwrap()
            .0;
            let sessions = ChangeloggedSessionStore::open(
                dir.path().join(format!("{name}-s")),
                &name,
                Arc::new(MemoryChangelog::new("slog")),
                &config,
                |d| {
                    let store = env.open_session_store(d, "s", retention)?;
                    Ok(Arc::new(store) as Arc<dyn SessionStore>)
                },
            )
            .unwrap()
            .0;
            stores.push((window, sessions));
        }
        stores
    };
    let pair = open_pair("r");
    let mut rng = Lcg(7);
    for step in 0..1_500 {
        let key = [b'a' + rng.next(4) as u8];
        let t = step / 4 + rng.next(40);
        let value = step.to_be_bytes();
        let window = SessionWindow {
            start: t,
            end: t + rng.next(30),
        };
        let op = rng.next(10);
        for (w, s) in &pair {
            match op {
                0 => w.delete(&key, t).unwrap(),
                1 => s.remove(&key, window).unwrap(),
                2 if step % 7 == 0 => {
                    w.commit().unwrap();
                    s.commit().unwrap();
                }
                _ => {
                    w.put(&key, t, &value).unwrap();
                    s.put(&key, window, &value).unwrap();
                }
            }
        }
        let (w0, s0) = &pair[0];
        let (w1, s1) = &pair[1];
        let (from, to) = (t - 50, t + 10);
        assert_eq!(
            w0.fetch_one(&key, t).unwrap(),
            w1.fetch_one(&key, t).unwrap()
        );
        assert_eq!(
            w0.fetch(&key, from, to).unwrap(),
            w1.fetch(&key, from, to).unwrap()
        );
        assert_eq!(
            w0.fetch_all(from, to).unwrap(),
            w1.fetch_all(from, to).unwrap()
        );
        assert_eq!(w0.is_expired(from), w1.is_expired(from));
        assert_eq!(
            s0.find_sessions(&key, from, to).unwrap(),
            s1.find_sessions(&key, from, to).unwrap()
        );
        assert_eq!(
            s0.fetch_ended(from, to).unwrap(),
            s1.fetch_ended(from, to).unwrap()
        );
        assert_eq!(
            s0.fetch_session(&key, window).unwrap(),
            s1.fetch_session(&key, window).unwrap()
        );
    }
    assert!(pair[1].0.cache_absorbed() > 0 && pair[1].1.cache_absorbed() > 0);
}

#[test]
fn session_store_restores_merges_from_its_changelog() {
    let env = env();
    let log = Arc::new(MemoryChangelog::new("s-changelog-0"));
    let open = |dir: &Path| {
        let log: Arc<dyn Changelog> = log.clone();
        ChangeloggedSessionStore::open(dir, "s", log, &ChangeloggedConfig::default(), |d| {
            let store = env.open_session_store(d, "s", Retention::new(60_000)?)?;
            Ok(Arc::new(store) as Arc<dyn SessionStore>)
        })
        .unwrap()
    };
    let first = tempfile::tempdir().unwrap();
    let (store, _) = open(first.path());
    let a = SessionWindow { start: 0, end: 10 };
    let b = SessionWindow { start: 20, end: 30 };
    store.put(b"k", a, b"1").unwrap();
    store.put(b"k", b, b"1").unwrap();
    // A record at 15 merges both sessions into one (found in the cache).
    let merged: Vec<_> = store.find_sessions(b"k", 15 - 10, 15 + 10).unwrap();
    assert_eq!(merged.len(), 2);
    assert_eq!(store.fetch_ended(0, 10).unwrap().len(), 1);
    assert_eq!(store.fetch_session(b"k", b).unwrap(), Some(b"1".to_vec()));
    store.remove(b"k", a).unwrap();
    store.remove(b"k", b).unwrap();
    store
        .put(b"k", SessionWindow { start: 0, end: 30 }, b"3")
        .unwrap();
    store.commit().unwrap();
    drop(store);

    let second = tempfile::tempdir().unwrap();
    let (store, report) = open(second.path());
    // Through the write cache: the two merged-away sessions' tombstones and the merged
    // session (their puts were absorbed before the commit).
    assert_eq!(report.records, 3);
    let found = store.find_sessions(b"k", i64::MIN, i64::MAX).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].window, SessionWindow { start: 0, end: 30 });
    assert_eq!(found[0].value, b"3");
}
