//! Model-based randomized test: random operations on a key-value store, each checked against
//! a `BTreeMap` model. Seeds are fixed so runs are reproducible; set
//! `EDDY_CONFORMANCE_SEEDS=1,2,3` to try others. A failure prints its seed and step.

use std::collections::BTreeMap;
use std::ops::Bound;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::engines::KvEngine;
use crate::kv::collect;

const DEFAULT_SEEDS: [u64; 4] = [1, 0xdead_beef, 42, 0x0123_4567_89ab_cdef];
const STEPS: usize = 1_500;

fn seeds() -> Vec<u64> {
    match std::env::var("EDDY_CONFORMANCE_SEEDS") {
        Ok(list) => list
            .split(',')
            .map(|s| {
                s.trim()
                    .parse()
                    .expect("EDDY_CONFORMANCE_SEEDS: comma-separated u64s")
            })
            .collect(),
        Err(_) => DEFAULT_SEEDS.to_vec(),
    }
}

/// Keys from a tiny alphabet with the extreme bytes, lengths 0 to 4: few enough that
/// operations collide, many enough (781) to cross internal read chunks.
fn random_key(rng: &mut StdRng) -> Vec<u8> {
    const ALPHABET: [u8; 5] = [0x00, 0x01, b'a', 0xfe, 0xff];
    let len = rng.random_range(0..=4);
    (0..len)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())])
        .collect()
}

fn random_value(rng: &mut StdRng) -> Vec<u8> {
    let len = if rng.random_bool(0.05) {
        rng.random_range(1_000..20_000)
    } else {
        rng.random_range(0..8)
    };
    (0..len).map(|_| rng.random()).collect()
}

fn random_bound(rng: &mut StdRng) -> Bound<Vec<u8>> {
    match rng.random_range(0..5) {
        0 => Bound::Unbounded,
        1 | 2 => Bound::Included(random_key(rng)),
        _ => Bound::Excluded(random_key(rng)),
    }
}

fn as_ref(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(k) => Bound::Included(k),
        Bound::Excluded(k) => Bound::Excluded(k),
        Bound::Unbounded => Bound::Unbounded,
    }
}

fn model_range(
    model: &BTreeMap<Vec<u8>, Vec<u8>>,
    from: Bound<&[u8]>,
    to: Bound<&[u8]>,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    model
        .iter()
        .filter(|(k, _)| {
            let k = k.as_slice();
            (match from {
                Bound::Included(f) => k >= f,
                Bound::Excluded(f) => k > f,
                Bound::Unbounded => true,
            }) && (match to {
                Bound::Included(t) => k <= t,
                Bound::Excluded(t) => k < t,
                Bound::Unbounded => true,
            })
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn run(engine: KvEngine, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut h = (engine.open)();
    let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    for step in 0..STEPS {
        let ctx = format!("seed {seed}, step {step}");
        match rng.random_range(0..100) {
            0..=29 => {
                let (k, v) = (random_key(&mut rng), random_value(&mut rng));
                h.store.put(&k, &v).unwrap();
                model.insert(k, v);
            }
            30..=39 => {
                let k = random_key(&mut rng);
                h.store.delete(&k).unwrap();
                model.remove(&k);
            }
            40..=49 => {
                let n = rng.random_range(0..12);
                let mut batch = Vec::new();
                for _ in 0..n {
                    let k = random_key(&mut rng);
                    let v = rng.random_bool(0.7).then(|| random_value(&mut rng));
                    batch.push((k, v));
                }
                h.store.write_batch(&batch).unwrap();
                for (k, v) in batch {
                    match v {
                        Some(v) => model.insert(k, v),
                        None => model.remove(&k),
                    };
                }
            }
            50..=64 => {
                let k = random_key(&mut rng);
                assert_eq!(
                    h.store.get(&k).unwrap(),
                    model.get(&k).cloned(),
                    "get {k:?}: {ctx}"
                );
            }
            65..=79 => {
                let (from, to) = (random_bound(&mut rng), random_bound(&mut rng));
                let got = collect(h.store.range(as_ref(&from), as_ref(&to)));
                let expected = model_range(&model, as_ref(&from), as_ref(&to));
                assert_eq!(got, expected, "range({from:?}, {to:?}): {ctx}");
            }
            80..=89 => {
                let prefix = random_key(&mut rng);
                let got = collect(h.store.prefix_scan(&prefix));
                let expected: Vec<_> = model
                    .iter()
                    .filter(|(k, _)| k.starts_with(&prefix))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                assert_eq!(got, expected, "prefix_scan({prefix:?}): {ctx}");
            }
            90..=94 => {
                let got = collect(h.store.all());
                let expected: Vec<_> = model.clone().into_iter().collect();
                assert_eq!(got, expected, "all(): {ctx}");
                if engine.exact_len {
                    assert_eq!(
                        h.store.approximate_len().unwrap(),
                        model.len() as u64,
                        "approximate_len: {ctx}"
                    );
                }
            }
            95..=97 => h.store.flush().unwrap(),
            _ => {
                h.reopen();
            }
        }
    }
    let got = collect(h.store.all());
    let expected: Vec<_> = model.into_iter().collect();
    assert_eq!(got, expected, "final state: seed {seed}");
}

/// Runs every seed; on failure, prints how to rerun just that seed.
pub fn randomized_against_btreemap(engine: KvEngine) {
    for seed in seeds() {
        let outcome = std::panic::catch_unwind(|| run(engine, seed));
        if let Err(panic) = outcome {
            eprintln!(
                "model-based test failed with seed {seed}; rerun with EDDY_CONFORMANCE_SEEDS={seed}"
            );
            std::panic::resume_unwind(panic);
        }
    }
}
