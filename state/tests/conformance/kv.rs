//! Key-value store conformance: every test takes a [`KvEngine`] and checks one behaviour of
//! the [`KeyValueStore`] trait against a plain `BTreeMap` or literal expectations.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use eddy_state::{Entry, EntryIter};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use crate::engines::{IterView, KvEngine};

/// Collects an iterator, failing on the first error.
pub fn collect(iter: eddy_state::Result<EntryIter<'_>>) -> Vec<Entry> {
    iter.expect("open iterator")
        .collect::<eddy_state::Result<Vec<_>>>()
        .expect("iterate")
}

fn keys(entries: &[Entry]) -> Vec<Vec<u8>> {
    entries.iter().map(|(k, _)| k.clone()).collect()
}

/// Runs `f` on another thread and fails (instead of hanging) if it takes over a minute.
pub fn within_a_minute<F: FnOnce() + Send + 'static>(what: &str, f: F) {
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(()) => worker.join().expect("worker"),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            // The worker panicked: re-raise its panic here.
            if let Err(panic) = worker.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what}: no progress in 60 s (deadlock?)"),
    }
}

pub fn get_put_overwrite_delete(engine: KvEngine) {
    let h = (engine.open)();
    let s = &*h.store;
    assert_eq!(s.get(b"k").unwrap(), None);
    s.put(b"k", b"v1").unwrap();
    assert_eq!(s.get(b"k").unwrap(), Some(b"v1".to_vec()));
    s.put(b"k", b"v2").unwrap();
    assert_eq!(s.get(b"k").unwrap(), Some(b"v2".to_vec()));
    // Similar keys stay apart.
    assert_eq!(s.get(b"k\x00").unwrap(), None);
    assert_eq!(s.get(b"").unwrap(), None);
    s.delete(b"k").unwrap();
    assert_eq!(s.get(b"k").unwrap(), None);
    // Deleting what is not there is fine.
    s.delete(b"k").unwrap();
    s.delete(b"never").unwrap();
    // An empty value is a value, not a deletion; the empty key is a key.
    s.put(b"empty", b"").unwrap();
    assert_eq!(s.get(b"empty").unwrap(), Some(vec![]));
    s.put(b"", b"empty key").unwrap();
    assert_eq!(s.get(b"").unwrap(), Some(b"empty key".to_vec()));
    assert_eq!(
        collect(s.all()),
        vec![
            (b"".to_vec(), b"empty key".to_vec()),
            (b"empty".to_vec(), vec![])
        ]
    );
    // Put after delete.
    s.put(b"k", b"v3").unwrap();
    assert_eq!(s.get(b"k").unwrap(), Some(b"v3".to_vec()));
}

pub fn write_batch_semantics(engine: KvEngine) {
    let h = (engine.open)();
    let s = &*h.store;
    s.put(b"old", b"1").unwrap();
    s.put(b"keep", b"2").unwrap();
    s.write_batch(&[
        (b"a".to_vec(), Some(b"1".to_vec())),
        (b"old".to_vec(), None),
        (b"missing".to_vec(), None),
        // Later entries for the same key win, in batch order.
        (b"twice".to_vec(), Some(b"first".to_vec())),
        (b"twice".to_vec(), Some(b"second".to_vec())),
        (b"put-then-delete".to_vec(), Some(b"x".to_vec())),
        (b"put-then-delete".to_vec(), None),
        (b"delete-then-put".to_vec(), None),
        (b"delete-then-put".to_vec(), Some(b"y".to_vec())),
        (b"empty".to_vec(), Some(vec![])),
    ])
    .unwrap();
    let expected: Vec<Entry> = [
        ("a", "1"),
        ("delete-then-put", "y"),
        ("empty", ""),
        ("keep", "2"),
        ("twice", "second"),
    ]
    .iter()
    .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
    .collect();
    assert_eq!(collect(s.all()), expected);
    assert_eq!(s.get(b"put-then-delete").unwrap(), None);
    // An empty batch is fine.
    s.write_batch(&[]).unwrap();
    // put_all is a batch of puts.
    s.put_all(&[
        (b"a".to_vec(), b"9".to_vec()),
        (b"z".to_vec(), b"26".to_vec()),
    ])
    .unwrap();
    assert_eq!(s.get(b"a").unwrap(), Some(b"9".to_vec()));
    assert_eq!(s.get(b"z").unwrap(), Some(b"26".to_vec()));
}

/// Readers never see half a batch: a writer sets two keys to the same number in one batch
/// (and deletes a third) while a reader scans; every scan sees equal values.
pub fn write_batch_is_atomic_for_readers(engine: KvEngine) {
    let h = (engine.open)();
    let store = Arc::clone(&h.store);
    store
        .write_batch(&[
            (b"a".to_vec(), Some(b"0".to_vec())),
            (b"b".to_vec(), Some(b"0".to_vec())),
        ])
        .unwrap();
    within_a_minute("atomic batches", move || {
        let done = Arc::new(AtomicBool::new(false));
        let writer = {
            let store = Arc::clone(&store);
            let done = Arc::clone(&done);
            std::thread::spawn(move || {
                for i in 1..=3_000u32 {
                    let v = i.to_string().into_bytes();
                    let c = if i % 2 == 0 { Some(v.clone()) } else { None };
                    store
                        .write_batch(&[
                            (b"a".to_vec(), Some(v.clone())),
                            (b"b".to_vec(), Some(v)),
                            (b"c".to_vec(), c),
                        ])
                        .unwrap();
                }
                done.store(true, Ordering::SeqCst);
            })
        };
        let mut scans = 0;
        loop {
            let finished = done.load(Ordering::SeqCst);
            let all = collect(store.all());
            let a = &all[0];
            let b = &all[1];
            assert_eq!((a.0.as_slice(), b.0.as_slice()), (&b"a"[..], &b"b"[..]));
            assert_eq!(a.1, b.1, "a scan saw half a batch: {all:?}");
            if let Some(c) = all.get(2) {
                assert_eq!(c.1, a.1, "a scan saw half a batch: {all:?}");
                let n: u32 = String::from_utf8(a.1.clone()).unwrap().parse().unwrap();
                assert_eq!(n % 2, 0, "c present with an odd batch: {all:?}");
            }
            scans += 1;
            if finished {
                break;
            }
        }
        writer.join().unwrap();
        assert!(scans > 0);
    });
}

/// Keys chosen so that byte order differs from length order, signed-byte order and
/// string-with-terminator order; returned sorted.
fn tricky_keys() -> Vec<Vec<u8>> {
    [
        &b""[..],
        b"\x00",
        b"\x00\x00",
        b"\x00\x01",
        b"a",
        b"a\x00",
        b"a\xff",
        b"ab",
        b"b",
        b"\x7f",
        b"\x80",
        b"\xfe\xff",
        b"\xff",
        b"\xff\x00",
        b"\xff\xff",
    ]
    .iter()
    .map(|k| k.to_vec())
    .collect::<std::collections::BTreeSet<_>>()
    .into_iter()
    .collect()
}

fn in_range(key: &[u8], from: Bound<&[u8]>, to: Bound<&[u8]>) -> bool {
    let above = match from {
        Bound::Included(f) => key >= f,
        Bound::Excluded(f) => key > f,
        Bound::Unbounded => true,
    };
    let below = match to {
        Bound::Included(t) => key <= t,
        Bound::Excluded(t) => key < t,
        Bound::Unbounded => true,
    };
    above && below
}

/// Every combination of bounds over existing and absent probe keys, equal bounds and
/// inverted ranges: the result is exactly the keys in range, in order; never a panic.
pub fn range_all_bound_combinations(engine: KvEngine) {
    let h = (engine.open)();
    let s = &*h.store;
    let stored = tricky_keys();
    for (i, k) in stored.iter().enumerate() {
        s.put(k, &[i as u8]).unwrap();
    }
    let mut probes = stored.clone();
    probes.extend([
        b"aa".to_vec(),
        b"c".to_vec(),
        b"\x00\x00\x00".to_vec(),
        b"\xff\xff\xff".to_vec(),
    ]);
    let mut bounds: Vec<Bound<&[u8]>> = vec![Bound::Unbounded];
    for p in &probes {
        bounds.push(Bound::Included(p));
        bounds.push(Bound::Excluded(p));
    }
    let mut checked = 0;
    for &from in &bounds {
        for &to in &bounds {
            let expected: Vec<Vec<u8>> = stored
                .iter()
                .filter(|k| in_range(k, from, to))
                .cloned()
                .collect();
            let got = collect(s.range(from, to));
            assert_eq!(keys(&got), expected, "range({from:?}, {to:?})");
            for (k, v) in &got {
                let i = stored.iter().position(|s| s == k).unwrap();
                assert_eq!(v, &[i as u8]);
            }
            checked += 1;
        }
    }
    assert_eq!(checked, bounds.len() * bounds.len());
    // Explicitly: empty and inverted ranges.
    assert!(collect(s.range(Bound::Included(b"b"), Bound::Excluded(b"b"))).is_empty());
    assert!(collect(s.range(Bound::Excluded(b"b"), Bound::Excluded(b"b"))).is_empty());
    assert!(collect(s.range(Bound::Excluded(b"b"), Bound::Included(b"b"))).is_empty());
    assert!(collect(s.range(Bound::Included(b"b"), Bound::Included(b"a"))).is_empty());
    assert_eq!(
        keys(&collect(
            s.range(Bound::Included(b"b"), Bound::Included(b"b"))
        )),
        vec![b"b".to_vec()]
    );
}

/// Ranges on an empty store are empty, whatever the bounds.
pub fn range_on_empty_store(engine: KvEngine) {
    let h = (engine.open)();
    let s = &*h.store;
    assert!(collect(s.all()).is_empty());
    assert!(collect(s.range(Bound::Included(b"a"), Bound::Excluded(b"z"))).is_empty());
    assert!(collect(s.range(Bound::Included(b"z"), Bound::Excluded(b"a"))).is_empty());
    assert!(collect(s.prefix_scan(b"")).is_empty());
    assert!(collect(s.prefix_scan(b"\xff")).is_empty());
}

/// Prefix scans with `0x00` and `0xFF` bytes in keys and prefixes, including all-`0xFF`
/// prefixes (no successor key) and the empty prefix (everything).
pub fn prefix_scan_with_extreme_bytes(engine: KvEngine) {
    let h = (engine.open)();
    let s = &*h.store;
    let mut stored = tricky_keys();
    stored.extend([
        b"\xff\xff\xff".to_vec(),
        b"\xff\xff\x00".to_vec(),
        b"a\xff\xff".to_vec(),
        b"a\xff\xff\x00".to_vec(),
        b"b\x00".to_vec(),
    ]);
    stored.sort();
    for k in &stored {
        s.put(k, k).unwrap();
    }
    let prefixes: Vec<&[u8]> = vec![
        b"",
        b"\x00",
        b"\x00\x00",
        b"\x00\x00\x00",
        b"a",
        b"a\xff",
        b"a\xff\xff",
        b"a\xff\xff\xff",
        b"b",
        b"\x7f",
        b"\xfe",
        b"\xff",
        b"\xff\xff",
        b"\xff\xff\xff",
        b"\xff\xff\xff\xff",
        b"zz",
    ];
    for prefix in prefixes {
        let expected: Vec<Entry> = stored
            .iter()
            .filter(|k| k.starts_with(prefix))
            .map(|k| (k.clone(), k.clone()))
            .collect();
        assert_eq!(
            collect(s.prefix_scan(prefix)),
            expected,
            "prefix {prefix:?}"
        );
    }
}

/// `all()` returns every entry in unsigned byte order, whatever the insertion order, across
/// many more entries than one internal read chunk.
pub fn all_is_in_byte_order(engine: KvEngine) {
    let h = (engine.open)();
    let s = &*h.store;
    let mut rng = StdRng::seed_from_u64(0x5eed_0001);
    let mut model = BTreeMap::new();
    for i in 0..1_500u32 {
        let len = rng.random_range(0..6);
        let key: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        model.insert(key, i.to_be_bytes().to_vec());
    }
    let mut shuffled: Vec<_> = model.clone().into_iter().collect();
    shuffled.shuffle(&mut rng);
    for (k, v) in &shuffled {
        s.put(k, v).unwrap();
    }
    let expected: Vec<Entry> = model.into_iter().collect();
    let got = collect(s.all());
    assert_eq!(got.len(), expected.len());
    assert!(
        got.windows(2).all(|w| w[0].0 < w[1].0),
        "not strictly ordered"
    );
    assert_eq!(got, expected);
}

pub fn approximate_len(engine: KvEngine) {
    let h = (engine.open)();
    let s = &*h.store;
    assert_eq!(s.approximate_len().unwrap(), 0, "empty store");
    let n = 1_000u64;
    for i in 0..n {
        s.put(format!("key-{i:05}").as_bytes(), b"value").unwrap();
    }
    s.flush().unwrap();
    let len = s.approximate_len().unwrap();
    if engine.exact_len {
        assert_eq!(len, n);
        for i in 0..10 {
            s.put(format!("key-{i:05}").as_bytes(), b"overwritten")
                .unwrap();
        }
        assert_eq!(s.approximate_len().unwrap(), n, "overwrites do not count");
        for i in 0..100 {
            s.delete(format!("key-{i:05}").as_bytes()).unwrap();
        }
        s.delete(b"absent").unwrap();
        assert_eq!(s.approximate_len().unwrap(), n - 100);
        s.write_batch(&[
            (b"new".to_vec(), Some(vec![])),
            (b"key-00500".to_vec(), None),
        ])
        .unwrap();
        assert_eq!(s.approximate_len().unwrap(), n - 100);
    } else {
        assert!(
            (n / 2..=n * 2).contains(&len),
            "estimate {len} for {n} distinct keys after flush"
        );
    }
}

/// A single thread iterating and writing to the same store does not deadlock. Every
/// original, untouched key is seen exactly once with its original value, in order; what
/// else is seen depends on the engine's [`IterView`]:
/// - `Snapshot`: exactly the entries at iterator creation (the deleted key too, not the
///   key added ahead of the cursor);
/// - `Live`: a key added far ahead of the cursor is seen, a key deleted far ahead is not;
///   keys added behind the cursor are never seen;
/// - `Mixed`: either, per key.
pub fn iterate_while_writing_same_thread(engine: KvEngine) {
    let h = (engine.open)();
    let store = Arc::clone(&h.store);
    let view = engine.iter_view;
    within_a_minute("iterate while writing", move || {
        let s = &*store;
        let n = 1_000;
        for i in 0..n {
            s.put(format!("k{i:04}").as_bytes(), b"original").unwrap();
        }
        let mut seen = Vec::new();
        for (i, entry) in s.all().unwrap().enumerate() {
            let (k, v) = entry.unwrap();
            if i == 0 {
                s.put(b"z-added-ahead", b"late").unwrap();
                s.put(b"a-added-behind", b"late").unwrap();
                s.delete(b"k0900").unwrap();
            }
            // Overwrite what was just read (behind the cursor now), except the key deleted
            // above, which a snapshot still shows.
            if k != b"k0900" {
                s.put(&k, b"overwritten").unwrap();
            }
            seen.push((k, v));
        }
        assert!(seen.windows(2).all(|w| w[0].0 < w[1].0), "not in order");
        let seen: BTreeMap<Vec<u8>, Vec<u8>> = seen.into_iter().collect();
        for i in 0..n {
            let k = format!("k{i:04}").into_bytes();
            if i == 900 {
                continue;
            }
            assert_eq!(
                seen.get(&k).map(Vec::as_slice),
                Some(&b"original"[..]),
                "key {i}"
            );
        }
        assert!(!seen.contains_key(&b"a-added-behind"[..]));
        let saw_deleted = seen.contains_key(&b"k0900"[..]);
        let saw_added = seen.contains_key(&b"z-added-ahead"[..]);
        match view {
            IterView::Snapshot => {
                assert!(
                    saw_deleted,
                    "a snapshot iterator misses a key deleted later"
                );
                assert!(!saw_added, "a snapshot iterator sees a key added later");
                assert_eq!(seen.len(), n);
            }
            IterView::Live => {
                assert!(!saw_deleted, "a live iterator sees a key deleted far ahead");
                assert!(saw_added, "a live iterator misses a key added far ahead");
                assert_eq!(seen.len(), n);
            }
            IterView::Mixed => {
                let extra = usize::from(saw_added) + usize::from(saw_deleted);
                assert_eq!(seen.len(), n - 1 + extra);
            }
        }
        // And the writes all landed.
        assert_eq!(s.get(b"k0000").unwrap(), Some(b"overwritten".to_vec()));
        assert_eq!(s.get(b"k0900").unwrap(), None);
    });
}

/// Readers iterating while another thread writes: no deadlock, ordered output, and every
/// key that is never written during the scan is seen with its value.
pub fn iterate_while_another_thread_writes(engine: KvEngine) {
    let h = (engine.open)();
    let store = Arc::clone(&h.store);
    within_a_minute("concurrent iteration", move || {
        for i in 0..600u32 {
            store
                .put(format!("stable-{i:04}").as_bytes(), &i.to_be_bytes())
                .unwrap();
        }
        let done = Arc::new(AtomicBool::new(false));
        let writer = {
            let store = Arc::clone(&store);
            let done = Arc::clone(&done);
            std::thread::spawn(move || {
                for i in 0..5_000u32 {
                    let k = format!("churn-{:04}", i % 700);
                    if i % 3 == 0 {
                        store.delete(k.as_bytes()).unwrap();
                    } else {
                        store.put(k.as_bytes(), &i.to_be_bytes()).unwrap();
                    }
                }
                done.store(true, Ordering::SeqCst);
            })
        };
        loop {
            let finished = done.load(Ordering::SeqCst);
            let all = collect(store.all());
            assert!(all.windows(2).all(|w| w[0].0 < w[1].0), "not in order");
            let stable: Vec<&Entry> = all
                .iter()
                .filter(|(k, _)| k.starts_with(b"stable-"))
                .collect();
            assert_eq!(stable.len(), 600);
            for (i, (_, v)) in stable.iter().enumerate() {
                assert_eq!(v.as_slice(), &(i as u32).to_be_bytes());
            }
            if finished {
                break;
            }
        }
        writer.join().unwrap();
    });
}

pub fn large_values_and_keys(engine: KvEngine) {
    let h = (engine.open)();
    let s = &*h.store;
    let pattern = |len: usize, seed: u8| -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    };
    let big = pattern(8 << 20, 1);
    let medium = pattern(1 << 20, 2);
    let long_key = pattern(64 << 10, 3);
    s.put(b"big", &big).unwrap();
    s.put(b"medium", &medium).unwrap();
    s.put(&long_key, b"long key").unwrap();
    for i in 0..4u8 {
        s.put(&[b'm', i], &pattern(1 << 20, i)).unwrap();
    }
    s.flush().unwrap();
    assert_eq!(s.get(b"big").unwrap().as_deref(), Some(big.as_slice()));
    assert_eq!(
        s.get(b"medium").unwrap().as_deref(),
        Some(medium.as_slice())
    );
    assert_eq!(s.get(&long_key).unwrap(), Some(b"long key".to_vec()));
    for i in 0..4u8 {
        assert_eq!(s.get(&[b'm', i]).unwrap(), Some(pattern(1 << 20, i)));
    }
    let scanned = collect(s.prefix_scan(b"big"));
    assert_eq!(scanned.len(), 1);
    assert!(scanned[0].1 == big);
    // Overwrite a large value with a small one and back.
    s.put(b"big", b"small").unwrap();
    assert_eq!(s.get(b"big").unwrap(), Some(b"small".to_vec()));
    s.put(b"big", &medium).unwrap();
    assert_eq!(s.get(b"big").unwrap().as_deref(), Some(medium.as_slice()));
}

/// Writes survive closing and reopening the store (engines that persist; others pass
/// trivially by keeping the same store).
pub fn reopen_keeps_data(engine: KvEngine) {
    let mut h = (engine.open)();
    h.store.put(b"a", b"1").unwrap();
    h.store
        .write_batch(&[(b"b".to_vec(), Some(b"2".to_vec())), (b"a".to_vec(), None)])
        .unwrap();
    h.store.put(b"c", b"3").unwrap();
    h.store.flush().unwrap();
    h.store.put(b"d", b"4").unwrap();
    h.reopen();
    assert_eq!(
        collect(h.store.all()),
        vec![
            (b"b".to_vec(), b"2".to_vec()),
            (b"c".to_vec(), b"3".to_vec()),
            (b"d".to_vec(), b"4".to_vec()),
        ]
    );
}

/// Expands to one `#[test]` per key-value conformance test, for one engine.
macro_rules! kv_conformance {
    ($engine:expr) => {
        $crate::kv::kv_conformance!(@tests $engine;
            get_put_overwrite_delete,
            write_batch_semantics,
            write_batch_is_atomic_for_readers,
            range_all_bound_combinations,
            range_on_empty_store,
            prefix_scan_with_extreme_bytes,
            all_is_in_byte_order,
            approximate_len,
            iterate_while_writing_same_thread,
            iterate_while_another_thread_writes,
            large_values_and_keys,
            reopen_keeps_data,
        );
    };
    (@tests $engine:expr; $($test:ident),* $(,)?) => {
        $(
            #[test]
            fn $test() {
                $crate::kv::$test($engine);
            }
        )*
    };
}
pub(crate) use kv_conformance;
