//! The baselines: the same results by hand, single-threaded, over the events in memory.

use std::collections::{BTreeMap, HashMap};
use std::hint::black_box;
use std::time::Instant;

use super::model::{Bid, Event, HotItems, NewUser, Q8Agg, Q8Side};
use super::queries::{Q5_ADVANCE_MS, Q5_SIZE_MS, Q7_SIZE_MS, Q8_SIZE_MS, q2_keeps, to_euros};

/// Tumbling or hopping windows `[start, start + size)` holding `t`, as Kafka Streams cuts them.
pub fn window_starts(t: i64, size: i64, advance: i64) -> impl Iterator<Item = i64> {
    let first = ((t - size + advance).max(0) / advance) * advance;
    (0..)
        .map(move |i| first + i * advance)
        .take_while(move |s| *s <= t)
}

pub fn base_q0(bids: &[Bid]) -> Vec<Bid> {
    bids.to_vec()
}

pub fn base_q1(bids: &[Bid]) -> Vec<Bid> {
    bids.iter()
        .map(|b| Bid {
            price: to_euros(b.price),
            ..b.clone()
        })
        .collect()
}

pub fn base_q2(bids: &[Bid]) -> Vec<Bid> {
    bids.iter().filter(|b| q2_keeps(b)).cloned().collect()
}

/// q5 by hand: open windows' counts, closed (and their hot items computed) once the
/// largest time seen reaches their end. Returns the results per window start and how many
/// (auction, window) counts the first step emits.
pub fn base_q5(bids: &[Bid]) -> (BTreeMap<i64, HotItems>, u64) {
    let mut open: BTreeMap<i64, HashMap<i64, i64>> = BTreeMap::new();
    let mut results = BTreeMap::new();
    let mut counts_emitted = 0u64;
    let mut observed = i64::MIN;
    for b in bids {
        observed = observed.max(b.date_time);
        for start in window_starts(b.date_time, Q5_SIZE_MS, Q5_ADVANCE_MS) {
            *open.entry(start).or_default().entry(b.auction).or_insert(0) += 1;
        }
        while let Some(entry) = open.first_entry() {
            if *entry.key() + Q5_SIZE_MS > observed {
                break;
            }
            let (start, counts) = entry.remove_entry();
            counts_emitted += counts.len() as u64;
            let hot = counts
                .iter()
                .fold(HotItems::default(), |hot, (a, c)| hot.add(*a, *c));
            results.insert(start, hot);
        }
    }
    (results, counts_emitted)
}

/// q7 by hand: the highest bid per closed tumbling window, in window order.
pub fn base_q7(bids: &[Bid]) -> Vec<(i64, Bid)> {
    let mut open: BTreeMap<i64, Bid> = BTreeMap::new();
    let mut results = Vec::new();
    let mut observed = i64::MIN;
    for b in bids {
        observed = observed.max(b.date_time);
        for start in window_starts(b.date_time, Q7_SIZE_MS, Q7_SIZE_MS) {
            match open.get_mut(&start) {
                Some(best) => {
                    if b.price > best.price {
                        *best = b.clone();
                    }
                }
                None => {
                    open.insert(start, b.clone());
                }
            }
        }
        while let Some(entry) = open.first_entry() {
            if *entry.key() + Q7_SIZE_MS > observed {
                break;
            }
            results.push(entry.remove_entry());
        }
    }
    results
}

/// q8 by hand: per closed window, persons who registered in it and opened an auction in it.
pub fn base_q8(events: &[Event]) -> Vec<NewUser> {
    let mut open: BTreeMap<i64, HashMap<i64, Q8Agg>> = BTreeMap::new();
    let mut results = Vec::new();
    let mut observed = i64::MIN;
    for e in events {
        let (id, side, t) = match e {
            Event::Person(p) => (p.id, Q8Side::Person(p.name.clone()), p.date_time),
            Event::Auction(a) => (a.seller, Q8Side::Auction, a.date_time),
            Event::Bid(_) => continue,
        };
        observed = observed.max(t);
        for start in window_starts(t, Q8_SIZE_MS, Q8_SIZE_MS) {
            let agg = open.entry(start).or_default().entry(id).or_default();
            *agg = std::mem::take(agg).add(&side);
        }
        while let Some(entry) = open.first_entry() {
            if *entry.key() + Q8_SIZE_MS > observed {
                break;
            }
            let (start, people) = entry.remove_entry();
            let mut found: Vec<NewUser> = people
                .into_iter()
                .filter(|(_, agg)| agg.auctions > 0)
                .filter_map(|(id, agg)| {
                    agg.name.map(|name| NewUser {
                        window_start: start,
                        id,
                        name,
                    })
                })
                .collect();
            found.sort();
            results.extend(found);
        }
    }
    results
}

/// Runs `f` `rounds` times; its result and the best time.
pub fn time_best<T>(rounds: usize, mut f: impl FnMut() -> T) -> (T, f64) {
    let mut best = f64::INFINITY;
    let mut result = None;
    for _ in 0..rounds {
        let started = Instant::now();
        let r = black_box(f());
        best = best.min(started.elapsed().as_secs_f64());
        result = Some(r);
    }
    (result.expect("at least one round"), best)
}
