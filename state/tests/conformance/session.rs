//! Session store conformance: [`SegmentedSessionStore`] on each engine's segment storage.

use std::sync::Arc;

use eddy_state::{Retention, SegmentedSessionStore, SessionStore, SessionWindow};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::engines::SegEngine;

fn open(
    storage: Arc<dyn eddy_state::SegmentStorage>,
    retention: Retention,
) -> SegmentedSessionStore {
    SegmentedSessionStore::open(storage, retention).expect("open session store")
}

fn sw(start: i64, end: i64) -> SessionWindow {
    SessionWindow { start, end }
}

fn windows(found: Vec<eddy_state::SessionEntry>, key: &[u8]) -> Vec<SessionWindow> {
    found
        .into_iter()
        .map(|e| {
            assert_eq!(e.key, key);
            assert_eq!(
                e.value,
                format!("{}..{}", e.window.start, e.window.end).into_bytes()
            );
            e.window
        })
        .collect()
}

fn label(w: SessionWindow) -> Vec<u8> {
    format!("{}..{}", w.start, w.end).into_bytes()
}

/// `find_sessions(key, earliest_end, latest_start)` returns exactly `key`'s sessions with
/// `end >= earliest_end && start <= latest_start`, ordered by end, then start, for every
/// query in a grid around the stored sessions; neighbouring keys never leak in.
pub fn session_find_overlap_semantics(engine: SegEngine) {
    let h = (engine.open)();
    let s = open(
        h.storage(),
        Retention::with_segment_ms(1_000_000, 20).unwrap(),
    );
    let mine = [
        sw(-10, -5),
        sw(0, 10),
        sw(3, 10),
        sw(5, 5),
        sw(15, 50),
        sw(20, 30),
        sw(40, 40),
        sw(60, 70),
        sw(-30, 65),
    ];
    for &w in mine.iter().rev() {
        assert!(s.put(b"k", w, &label(w)).unwrap());
    }
    for key in [&b""[..], b"k\x00", b"kk", b"j", b"k\xff", b"\x00"] {
        for w in [sw(0, 100), sw(-50, -40), sw(7, 7)] {
            assert!(s.put(key, w, &label(w)).unwrap());
        }
    }
    let mut queries = 0;
    for earliest_end in -45..=75 {
        for latest_start in -45..=75 {
            let mut expected: Vec<SessionWindow> = mine
                .iter()
                .copied()
                .filter(|w| w.end >= earliest_end && w.start <= latest_start)
                .collect();
            expected.sort_by_key(|w| (w.end, w.start));
            let found = s.find_sessions(b"k", earliest_end, latest_start).unwrap();
            assert_eq!(
                windows(found, b"k"),
                expected,
                "find_sessions(k, {earliest_end}, {latest_start})"
            );
            queries += 1;
        }
    }
    assert_eq!(queries, 121 * 121);
    let all = windows(s.find_sessions(b"k", i64::MIN, i64::MAX).unwrap(), b"k");
    assert_eq!(all.len(), mine.len());
    assert_eq!(
        windows(s.find_sessions(b"", i64::MIN, i64::MAX).unwrap(), b""),
        [sw(-50, -40), sw(7, 7), sw(0, 100)]
    );
    assert!(
        s.find_sessions(b"absent", i64::MIN, i64::MAX)
            .unwrap()
            .is_empty()
    );
}

pub fn session_fetch_and_remove(engine: SegEngine) {
    let h = (engine.open)();
    let s = open(h.storage(), Retention::with_segment_ms(1_000, 100).unwrap());
    let w = sw(10, 250);
    assert!(s.put(b"k", w, b"v1").unwrap());
    assert_eq!(s.fetch_session(b"k", w).unwrap(), Some(b"v1".to_vec()));
    assert!(s.put(b"k", w, b"v2").unwrap());
    assert_eq!(s.fetch_session(b"k", w).unwrap(), Some(b"v2".to_vec()));
    assert_eq!(s.fetch_session(b"k", sw(10, 251)).unwrap(), None);
    assert_eq!(s.fetch_session(b"k", sw(11, 250)).unwrap(), None);
    assert_eq!(s.fetch_session(b"k\x00", w).unwrap(), None);
    assert_eq!(s.find_sessions(b"k", 0, 1_000).unwrap().len(), 1);
    s.remove(b"k", w).unwrap();
    s.remove(b"k", sw(0, 999_999)).unwrap();
    assert_eq!(s.fetch_session(b"k", w).unwrap(), None);
    assert!(
        s.find_sessions(b"k", i64::MIN, i64::MAX)
            .unwrap()
            .is_empty()
    );
}

/// Session windowing with an inactivity gap, done through the store the way a session
/// aggregation does it: find the sessions a record merges with, remove them, put the
/// merged session. Compared with sessions computed offline from the sorted times.
pub fn session_merging(engine: SegEngine) {
    const GAP: i64 = 10;
    let h = (engine.open)();
    let s = open(
        h.storage(),
        Retention::with_segment_ms(1_000_000, 25).unwrap(),
    );
    let record = |key: &[u8], t: i64| {
        let found = s.find_sessions(key, t - GAP, t + GAP).unwrap();
        let mut merged = sw(t, t);
        let mut count = 1u64;
        for e in &found {
            merged.start = merged.start.min(e.window.start);
            merged.end = merged.end.max(e.window.end);
            count += u64::from_be_bytes(e.value.as_slice().try_into().unwrap());
        }
        for e in &found {
            s.remove(key, e.window).unwrap();
        }
        assert!(s.put(key, merged, &count.to_be_bytes()).unwrap());
        found.len()
    };
    let sessions = |key: &[u8]| -> Vec<(SessionWindow, u64)> {
        s.find_sessions(key, i64::MIN, i64::MAX)
            .unwrap()
            .into_iter()
            .map(|e| (e.window, u64::from_be_bytes(e.value.try_into().unwrap())))
            .collect()
    };

    // The scenario by hand: two sessions, then a record that bridges them.
    assert_eq!(record(b"user", 0), 0);
    assert_eq!(record(b"user", 12), 0, "12 - 0 > gap");
    assert_eq!(sessions(b"user"), [(sw(0, 0), 1), (sw(12, 12), 1)]);
    assert_eq!(record(b"user", 30), 0);
    assert_eq!(record(b"other", 20), 0);
    assert_eq!(record(b"user", 20), 2, "20 bridges 12 and 30");
    assert_eq!(sessions(b"user"), [(sw(0, 0), 1), (sw(12, 30), 3)]);
    assert_eq!(record(b"user", 5), 2, "5 bridges 0 and 12..30");
    assert_eq!(sessions(b"user"), [(sw(0, 30), 5)]);
    assert_eq!(sessions(b"other"), [(sw(20, 20), 1)]);
    assert_eq!(s.fetch_session(b"user", sw(12, 30)).unwrap(), None);

    // Then out-of-order records at random, checked against offline sessionisation.
    let mut rng = StdRng::seed_from_u64(0x5e55_1011);
    let mut times = Vec::new();
    for _ in 0..400 {
        let t = rng.random_range(-500..1_500);
        times.push(t);
        record(b"random", t);
    }
    times.sort();
    let mut expected: Vec<(SessionWindow, u64)> = Vec::new();
    for t in times {
        match expected.last_mut() {
            Some((w, n)) if t - w.end <= GAP => {
                w.end = t;
                *n += 1;
            }
            _ => expected.push((sw(t, t), 1)),
        }
    }
    assert_eq!(sessions(b"random"), expected);
}

/// Sessions are segmented by end and expire a segment at a time, relative to the newest
/// session end seen; a long session that ends recently is kept however early it started.
pub fn session_retention(engine: SegEngine) {
    let h = (engine.open)();
    let storage = h.storage();
    let s = open(
        Arc::clone(&storage),
        Retention::with_segment_ms(100, 50).unwrap(),
    );
    for w in [sw(0, 10), sw(100, 120), sw(150, 170)] {
        assert!(s.put(b"k", w, &label(w)).unwrap());
    }
    // Newest end 170: oldest live end 70, segment 0 (ends 0..50) dropped.
    assert_eq!(storage.existing_segments().unwrap(), [2, 3]);
    assert_eq!(s.fetch_session(b"k", sw(0, 10)).unwrap(), None);
    assert!(!s.put(b"k", sw(0, 69), b"late").unwrap());
    assert!(!s.put(b"k", sw(60, 60), b"late").unwrap());
    assert_eq!(storage.existing_segments().unwrap(), [2, 3]);
    assert!(s.put(b"k", sw(-1_000, 80), &label(sw(-1_000, 80))).unwrap());
    assert_eq!(storage.existing_segments().unwrap(), [1, 2, 3]);
    assert_eq!(
        windows(s.find_sessions(b"k", i64::MIN, i64::MAX).unwrap(), b"k"),
        [sw(-1_000, 80), sw(100, 120), sw(150, 170)]
    );
    assert_eq!(
        windows(s.find_sessions(b"k", -2_000, -500).unwrap(), b"k"),
        [sw(-1_000, 80)]
    );
    // Newest end 199: oldest live end 99. Segment 1 (ends 50..100) stays, but the session
    // ending at 80 is past retention, so reads skip it.
    assert!(s.put(b"k", sw(190, 199), &label(sw(190, 199))).unwrap());
    assert_eq!(storage.existing_segments().unwrap(), [1, 2, 3]);
    assert_eq!(s.fetch_session(b"k", sw(-1_000, 80)).unwrap(), None);
    assert_eq!(
        windows(s.find_sessions(b"k", i64::MIN, i64::MAX).unwrap(), b"k"),
        [sw(100, 120), sw(150, 170), sw(190, 199)]
    );
    // Newest end 400: everything before end 300 goes.
    assert!(s.put(b"k", sw(390, 400), &label(sw(390, 400))).unwrap());
    assert_eq!(storage.existing_segments().unwrap(), [8]);
    assert_eq!(
        windows(s.find_sessions(b"k", i64::MIN, i64::MAX).unwrap(), b"k"),
        [sw(390, 400)]
    );
}

pub fn session_reopen(engine: SegEngine) {
    let mut h = (engine.open)();
    let retention = Retention::with_segment_ms(1_000, 100).unwrap();
    {
        let s = open(h.storage(), retention);
        for w in [sw(0, 10), sw(50, 150), sw(300, 320)] {
            assert!(s.put(b"k", w, &label(w)).unwrap());
        }
        assert!(s.put(b"j", sw(5, 5), &label(sw(5, 5))).unwrap());
        s.remove(b"k", sw(50, 150)).unwrap();
        s.flush().unwrap();
    }
    h.reopen();
    let s = open(h.storage(), retention);
    assert_eq!(
        windows(s.find_sessions(b"k", i64::MIN, i64::MAX).unwrap(), b"k"),
        [sw(0, 10), sw(300, 320)]
    );
    assert_eq!(
        s.fetch_session(b"j", sw(5, 5)).unwrap(),
        Some(label(sw(5, 5)))
    );
    // Time resumes at least at the newest segment's start (300): ends before -700 expired.
    assert!(!s.put(b"k", sw(-800, -701), b"late").unwrap());
}

/// `fetch_ended(earliest_end, latest_end)` returns every key's sessions ending in the range,
/// ordered by end, then key, then start, across segments, and never sessions past
/// retention.
pub fn session_fetch_ended(engine: SegEngine) {
    let h = (engine.open)();
    let s = open(h.storage(), Retention::with_segment_ms(100, 20).unwrap());
    let stored: [(&[u8], SessionWindow); 6] = [
        (b"b", sw(0, 10)),
        (b"a", sw(5, 10)),
        (b"a", sw(0, 10)),
        (b"c", sw(15, 25)),
        (b"a", sw(40, 40)),
        (b"b", sw(30, 60)),
    ];
    for (key, w) in stored {
        assert!(s.put(key, w, &label(w)).unwrap());
    }
    let found = |from, to| -> Vec<(Vec<u8>, SessionWindow)> {
        s.fetch_ended(from, to)
            .unwrap()
            .into_iter()
            .map(|e| {
                assert_eq!(e.value, label(e.window));
                (e.key, e.window)
            })
            .collect()
    };
    let k = |key: &[u8], start, end| (key.to_vec(), sw(start, end));
    assert_eq!(
        found(10, 40),
        [
            k(b"a", 0, 10),
            k(b"a", 5, 10),
            k(b"b", 0, 10),
            k(b"c", 15, 25),
            k(b"a", 40, 40)
        ]
    );
    assert_eq!(found(11, 24), []);
    assert_eq!(found(25, 25), [k(b"c", 15, 25)]);
    assert_eq!(found(41, i64::MAX), [k(b"b", 30, 60)]);
    assert_eq!(found(60, 59), []);
    // Newest end 130: ends before 30 are past retention.
    assert!(s.put(b"a", sw(130, 130), &label(sw(130, 130))).unwrap());
    assert_eq!(found(i64::MIN, 100), [k(b"a", 40, 40), k(b"b", 30, 60)]);
}

/// Expands to one `#[test]` per session store conformance test, for one engine.
macro_rules! session_conformance {
    ($engine:expr) => {
        $crate::session::session_conformance!(@tests $engine;
            session_find_overlap_semantics,
            session_fetch_and_remove,
            session_merging,
            session_retention,
            session_reopen,
            session_fetch_ended,
        );
    };
    (@tests $engine:expr; $($test:ident),* $(,)?) => {
        $(
            #[test]
            fn $test() {
                $crate::session::$test($engine);
            }
        )*
    };
}
pub(crate) use session_conformance;
