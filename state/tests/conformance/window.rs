//! Window store conformance: [`SegmentedWindowStore`] on each engine's segment storage.

use std::sync::Arc;

use eddy_state::{Retention, SegmentedWindowStore, WindowEntry, WindowStore};

use crate::engines::SegEngine;

fn open(
    storage: Arc<dyn eddy_state::SegmentStorage>,
    retention: Retention,
) -> SegmentedWindowStore {
    SegmentedWindowStore::open(storage, retention).expect("open window store")
}

fn value(key: &[u8], t: i64) -> Vec<u8> {
    let mut v = key.to_vec();
    v.extend_from_slice(format!("@{t}").as_bytes());
    v
}

fn entry(key: &[u8], t: i64) -> WindowEntry {
    WindowEntry {
        key: key.to_vec(),
        window_start: t,
        value: value(key, t),
    }
}

pub fn window_put_fetch_ordering(engine: SegEngine) {
    let h = (engine.open)();
    let w = open(
        h.storage(),
        Retention::with_segment_ms(10_000, 1_000).unwrap(),
    );
    assert_eq!(w.observed_time(), i64::MIN, "nothing written yet");
    let times = [3_500, -200, 0, 999, 1_000, 7_000, 2_500];
    for key in [&b"b"[..], b"c", b"a"] {
        for t in times {
            assert!(w.put(key, t, &value(key, t)).unwrap());
        }
    }
    assert_eq!(w.observed_time(), 7_000);
    let mut sorted = times.to_vec();
    sorted.sort();
    let expect = |key: &[u8], ts: &[i64]| -> Vec<(i64, Vec<u8>)> {
        ts.iter().map(|&t| (t, value(key, t))).collect()
    };
    assert_eq!(
        w.fetch(b"b", i64::MIN, i64::MAX).unwrap(),
        expect(b"b", &sorted)
    );
    // Bounds are inclusive at both ends, also across a segment boundary.
    assert_eq!(
        w.fetch(b"b", 0, 1_000).unwrap(),
        expect(b"b", &[0, 999, 1_000])
    );
    assert_eq!(w.fetch(b"b", 1, 999).unwrap(), expect(b"b", &[999]));
    assert_eq!(w.fetch(b"b", 1_001, 2_499).unwrap(), vec![]);
    assert_eq!(w.fetch(b"b", 999, 999).unwrap(), expect(b"b", &[999]));
    // Inverted ranges are empty.
    assert_eq!(w.fetch(b"b", 1_000, 0).unwrap(), vec![]);
    assert_eq!(w.fetch_all(1_000, 0).unwrap(), vec![]);
    assert_eq!(w.fetch(b"absent", i64::MIN, i64::MAX).unwrap(), vec![]);
    for t in times {
        assert_eq!(w.fetch_one(b"c", t).unwrap(), Some(value(b"c", t)));
    }
    assert_eq!(w.fetch_one(b"c", 1).unwrap(), None);

    let all = w.fetch_all(-200, 2_500).unwrap();
    let mut expected = Vec::new();
    for key in [&b"a"[..], b"b", b"c"] {
        for t in [-200, 0, 999, 1_000, 2_500] {
            expected.push(entry(key, t));
        }
    }
    assert_eq!(all, expected, "fetch_all is by key, then time");

    // Overwrite and delete.
    assert!(w.put(b"a", 999, b"new").unwrap());
    assert_eq!(w.fetch_one(b"a", 999).unwrap(), Some(b"new".to_vec()));
    assert_eq!(
        w.fetch(b"a", 999, 999).unwrap(),
        vec![(999, b"new".to_vec())]
    );
    w.delete(b"a", 999).unwrap();
    w.delete(b"a", 123_456).unwrap();
    assert_eq!(w.fetch_one(b"a", 999).unwrap(), None);
    assert_eq!(w.fetch(b"a", 0, 1_000).unwrap(), expect(b"a", &[0, 1_000]));
    assert_eq!(w.observed_time(), 7_000);
}

/// Keys that are prefixes of one another (and contain the escape byte) never show up in
/// each other's fetches, and `fetch_all` orders them by key bytes.
pub fn window_prefix_keys_do_not_leak(engine: SegEngine) {
    let h = (engine.open)();
    let w = open(
        h.storage(),
        Retention::with_segment_ms(100_000, 1_000).unwrap(),
    );
    let keys: Vec<&[u8]> = vec![
        b"",
        b"\x00",
        b"\x00\x00",
        b"\x00\xff",
        b"a",
        b"a\x00",
        b"a\x00\x00",
        b"a\x00\x00\x80",
        b"a\x01",
        b"a\xff",
        b"ab",
        b"\xff",
        b"\xff\xff",
    ];
    let sorted = {
        let mut sorted = keys.clone();
        sorted.sort();
        sorted
    };
    assert_ne!(keys, sorted, "insertion order differs from key order");
    let times = [-1, 0, 1, 1_000, 5_000];
    for &k in keys.iter().rev() {
        for t in times {
            assert!(w.put(k, t, &value(k, t)).unwrap());
        }
    }
    for &k in &keys {
        let expected: Vec<(i64, Vec<u8>)> = times.iter().map(|&t| (t, value(k, t))).collect();
        assert_eq!(
            w.fetch(k, i64::MIN, i64::MAX).unwrap(),
            expected,
            "key {k:?}"
        );
        assert_eq!(
            w.fetch(k, 0, 1).unwrap(),
            expected[1..3].to_vec(),
            "key {k:?}"
        );
    }
    let all = w.fetch_all(i64::MIN, i64::MAX).unwrap();
    let mut expected = Vec::new();
    for &k in &sorted {
        for t in times {
            expected.push(entry(k, t));
        }
    }
    assert_eq!(all, expected);
}

pub fn window_negative_times(engine: SegEngine) {
    let h = (engine.open)();
    let storage = h.storage();
    let w = open(
        Arc::clone(&storage),
        Retention::with_segment_ms(1_000_000, 100).unwrap(),
    );
    let times = [-1_000, -101, -100, -99, -1, 0, 1, 99, 100];
    for t in times.iter().rev() {
        assert!(w.put(b"k", *t, &value(b"k", *t)).unwrap());
        assert!(w.put(b"j", *t, &value(b"j", *t)).unwrap());
    }
    assert_eq!(w.observed_time(), 100);
    let get = |from, to| -> Vec<i64> {
        w.fetch(b"k", from, to)
            .unwrap()
            .into_iter()
            .map(|(t, v)| {
                assert_eq!(v, value(b"k", t));
                t
            })
            .collect()
    };
    assert_eq!(get(i64::MIN, i64::MAX), times);
    assert_eq!(get(-100, 0), [-100, -99, -1, 0]);
    assert_eq!(get(-101, -100), [-101, -100]);
    assert_eq!(get(-2_000, -1_000), [-1_000]);
    assert_eq!(get(-999, -102), Vec::<i64>::new());
    let all: Vec<(Vec<u8>, i64)> = w
        .fetch_all(-101, -1)
        .unwrap()
        .into_iter()
        .map(|e| (e.key, e.window_start))
        .collect();
    let mut expected = Vec::new();
    for k in [b"j", b"k"] {
        for t in [-101, -100, -99, -1] {
            expected.push((k.to_vec(), t));
        }
    }
    assert_eq!(all, expected);
    // Segments are floor(t / segment_ms): -1 is in segment -1, not 0.
    assert_eq!(storage.existing_segments().unwrap(), [-10, -2, -1, 0, 1]);
}

/// Retention drops whole segments once every window in them is older than the retention
/// (relative to the newest window start seen), and writes to expired windows are refused.
pub fn window_retention(engine: SegEngine) {
    let h = (engine.open)();
    let storage = h.storage();
    // Segments of 50 ms, retention 100 ms.
    let w = open(
        Arc::clone(&storage),
        Retention::with_segment_ms(100, 50).unwrap(),
    );
    for t in [0, 10, 60, 120] {
        assert!(w.put(b"k", t, &value(b"k", t)).unwrap());
    }
    // Newest 120: oldest live time 20, inside segment 0, so nothing is dropped; but reads
    // skip the windows before 20 (as Kafka Streams' segmented stores do).
    assert_eq!(storage.existing_segments().unwrap(), [0, 1, 2]);
    assert_eq!(w.fetch_one(b"k", 0).unwrap(), None);
    let times: Vec<i64> = w
        .fetch(b"k", i64::MIN, i64::MAX)
        .unwrap()
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    assert_eq!(times, [60, 120]);
    assert_eq!(w.fetch_all(0, 60).unwrap(), vec![entry(b"k", 60)]);
    assert!(!w.put(b"k", 19, b"late").unwrap(), "19 < 120 - 100");
    assert!(w.put(b"k", 20, &value(b"k", 20)).unwrap());

    // Newest 160: oldest live time 60, so segment 0 (0..50) is dropped whole.
    assert!(w.put(b"k", 160, &value(b"k", 160)).unwrap());
    assert_eq!(storage.existing_segments().unwrap(), [1, 2, 3]);
    assert_eq!(w.fetch_one(b"k", 0).unwrap(), None);
    assert_eq!(w.fetch_one(b"k", 20).unwrap(), None);
    let times: Vec<i64> = w
        .fetch(b"k", i64::MIN, i64::MAX)
        .unwrap()
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    assert_eq!(times, [60, 120, 160]);

    // Expired writes are refused and create no segment.
    assert!(!w.put(b"k", 0, b"late").unwrap());
    assert!(!w.put(b"other", 59, b"late").unwrap());
    assert!(!w.put(b"other", -1_000, b"late").unwrap());
    assert_eq!(storage.existing_segments().unwrap(), [1, 2, 3]);
    assert_eq!(w.fetch_one(b"other", 59).unwrap(), None);
    assert!(w.put(b"other", 60, b"in time").unwrap());
    // Writing an older window does not move time back.
    assert_eq!(w.observed_time(), 160);

    // A jump far ahead drops every older segment.
    assert!(w.put(b"k", 10_000, b"far").unwrap());
    assert_eq!(storage.existing_segments().unwrap(), [200]);
    assert_eq!(
        w.fetch_all(i64::MIN, i64::MAX).unwrap(),
        vec![WindowEntry {
            key: b"k".to_vec(),
            window_start: 10_000,
            value: b"far".to_vec()
        }]
    );
}

/// Data survives closing and reopening the storage (for RocksDB: the database is closed and
/// reopened from its directory); the reopened store's time is the start of its newest
/// segment or later, never earlier, so retention keeps working.
pub fn window_reopen(engine: SegEngine) {
    let mut h = (engine.open)();
    let before;
    {
        let w = open(h.storage(), Retention::with_segment_ms(100, 50).unwrap());
        for t in [0, 60, 120, 175] {
            assert!(w.put(b"k", t, &value(b"k", t)).unwrap());
        }
        assert!(w.put(b"k2", 130, &value(b"k2", 130)).unwrap());
        w.delete(b"k2", 130).unwrap();
        assert!(w.put(b"k2", 131, &value(b"k2", 131)).unwrap());
        w.flush().unwrap();
        before = w.fetch_all(i64::MIN, i64::MAX).unwrap();
        assert_eq!(
            before.len(),
            3,
            "0 and 60 past retention at 175: {before:?}"
        );
    }
    h.reopen();
    let storage = h.storage();
    assert_eq!(storage.existing_segments().unwrap(), [1, 2, 3]);
    let w = open(
        Arc::clone(&storage),
        Retention::with_segment_ms(100, 50).unwrap(),
    );
    // Time resumes at the newest segment's start (150) or later, so 60 may be visible again
    // until time moves on (as in Kafka Streams after a restart); from 75 on, all is as before.
    assert_eq!(w.fetch_all(75, i64::MAX).unwrap(), before);
    assert_eq!(w.fetch_one(b"k", 175).unwrap(), Some(value(b"k", 175)));
    let observed = w.observed_time();
    assert!(
        (150..=175).contains(&observed),
        "observed time after reopen: {observed}"
    );
    // Expired whether time resumed at 150 or at 175.
    assert!(!w.put(b"k", 40, b"late").unwrap());
    assert!(w.put(b"k", 80, b"in time").unwrap());
    assert!(w.put(b"k", 200, b"new").unwrap());
    assert_eq!(w.observed_time(), 200);
    drop((w, storage));

    // And once more, with nothing written in between: the same data.
    h.reopen();
    let w = open(h.storage(), Retention::with_segment_ms(100, 50).unwrap());
    let times: Vec<i64> = w
        .fetch(b"k", i64::MIN, i64::MAX)
        .unwrap()
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    assert_eq!(
        times,
        [120, 175, 200],
        "80 is in segment 1, dropped at time 200"
    );
}

/// `write_batch` leaves a store as the same writes one at a time do: values, deletes,
/// writes spread over segments, and writes the batch's own newest window expires.
pub fn window_write_batch_equals_single_writes(engine: SegEngine) {
    let retention = Retention::with_segment_ms(1_000, 100).unwrap();
    let (one, batched) = ((engine.open)(), (engine.open)());
    let single = open(one.storage(), retention);
    let batch = open(batched.storage(), retention);
    let mut writes: Vec<(Vec<u8>, i64, Option<Vec<u8>>)> = Vec::new();
    for round in 0..3i64 {
        for key in [&b"a"[..], b"b", b"ab"] {
            for t in [round * 400, round * 400 + 150, round * 400 + 399] {
                writes.push((key.to_vec(), t, Some(value(key, t + round))));
            }
        }
        writes.push((b"a".to_vec(), round * 400 + 150, None));
    }
    // The newest window makes 1 250 - 1 000 = 250 the oldest live start: 5 is expired, 260
    // is live in a segment (200-299) that starts before it.
    writes.push((b"c".to_vec(), 1_250, Some(b"new".to_vec())));
    writes.push((b"c".to_vec(), 260, Some(b"live".to_vec())));
    writes.push((b"late".to_vec(), 5, Some(b"x".to_vec())));
    for (key, t, value) in &writes {
        match value {
            Some(v) => {
                single.put(key, *t, v).unwrap();
            }
            None => single.delete(key, *t).unwrap(),
        }
    }
    batch.write_batch(&writes).unwrap();
    let all = |w: &SegmentedWindowStore| w.fetch_all(i64::MIN, i64::MAX).unwrap();
    assert_eq!(all(&batch), all(&single));
    assert_eq!(batch.observed_time(), single.observed_time());
    assert!(all(&batch).iter().all(|e| e.key != b"late"));
    assert_eq!(batch.fetch_one(b"c", 260).unwrap(), Some(b"live".to_vec()));
    assert!(!all(&batch).is_empty());
}

/// Expands to one `#[test]` per window store conformance test, for one engine.
macro_rules! window_conformance {
    ($engine:expr) => {
        $crate::window::window_conformance!(@tests $engine;
            window_put_fetch_ordering,
            window_prefix_keys_do_not_leak,
            window_negative_times,
            window_retention,
            window_reopen,
            window_write_batch_equals_single_writes,
        );
    };
    (@tests $engine:expr; $($test:ident),* $(,)?) => {
        $(
            #[test]
            fn $test() {
                $crate::window::$test($engine);
            }
        )*
    };
}
pub(crate) use window_conformance;
