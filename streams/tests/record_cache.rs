//! Aggregations' record cache on the runtime (Kafka Streams' `cache.max.bytes.buffering`):
//! the updates of a key between two commits reach the output topic as one record, and
//! turning the cache off (`cache_max_bytes: 0`) forwards every update; `cache_max_bytes`
//! bounds all the app's caches together, however many tasks and stores. On both backends.

#[macro_use]
mod common;

use std::time::Duration;

use common::{Start, TestBroker, wait_for, word_count};
use eddy_streams::{App, AppConfig};

/// Counts 100 lines of "a a b" in one commit interval; returns the output topic's records.
fn run(start: Start, cache_max_bytes: usize) -> Vec<(String, i64)> {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(&dir.path().join("broker"));
    broker.create_topic("lines", 1, false);
    broker.create_topic("counts-out", 1, false);
    broker.produce("lines", 0, &[("k", "a a b"); 100], Some(1_000));
    let config = AppConfig {
        threads: 1,
        // No commit before stop: all 300 updates fall in one interval.
        commit_interval: Duration::from_secs(3_600),
        cache_max_bytes,
        state_dir: dir.path().join("state"),
        ..AppConfig::new("cached", broker.backend.clone())
    };
    let app = App::new(word_count(), config).start().unwrap();
    // 100 lines plus 300 words through the repartition topic.
    wait_for("every record processed", || app.metrics().processed >= 400);
    app.stop().unwrap();
    broker
        .read("counts-out")
        .into_iter()
        .map(|(word, count)| {
            let word = String::from_utf8(word.to_vec()).unwrap();
            (
                word,
                i64::from_be_bytes(count.unwrap()[..].try_into().unwrap()),
            )
        })
        .collect()
}

fn cached_aggregation_sends_one_update_per_key_and_commit(start: Start) {
    let mut out = run(start, 10 << 20);
    out.sort();
    assert_eq!(out, vec![("a".to_string(), 200), ("b".to_string(), 100)]);
}

fn without_the_cache_every_update_is_sent(start: Start) {
    let out = run(start, 0);
    assert_eq!(out.len(), 300);
    assert_eq!(out.iter().rfind(|(w, _)| w == "a").unwrap().1, 200);
    assert_eq!(out[0], ("a".to_string(), 1));
}

/// Twelve tasks, each with a record cache and a store write cache, share one 64 KiB bound:
/// with many distinct keys and no commit, all 24 caches together stay within it (plus at
/// most an entry each). A bound per cache would let them hold 24 times as much.
fn one_bound_covers_every_cache_of_every_task(start: Start) {
    const PARTITIONS: i32 = 12;
    const KEYS_PER_PARTITION: usize = 1_500;
    const BUDGET: usize = 64 << 10;
    let dir = tempfile::tempdir().unwrap();
    let broker = start(&dir.path().join("broker"));
    broker.create_topic("many", PARTITIONS, false);
    for p in 0..PARTITIONS {
        let keys: Vec<String> = (0..KEYS_PER_PARTITION)
            .map(|i| format!("key-{p}-{i:05}"))
            .collect();
        let records: Vec<(&str, &str)> = keys.iter().map(|k| (k.as_str(), "v")).collect();
        broker.produce("many", p, &records, Some(1_000));
    }
    let b = eddy_streams::StreamsBuilder::new();
    b.stream(
        "many",
        eddy_streams::serdes::Serdes::string(),
        eddy_streams::serdes::Serdes::string(),
    )
    .group_by_key()
    .count("many-counts");
    let config = AppConfig {
        threads: 1,
        commit_interval: Duration::from_secs(3_600),
        cache_max_bytes: BUDGET,
        state_dir: dir.path().join("state"),
        ..AppConfig::new("bounded", broker.backend.clone())
    };
    let app = App::new(b.build().unwrap(), config).start().unwrap();
    let total = PARTITIONS as u64 * KEYS_PER_PARTITION as u64;
    let mut most = 0;
    wait_for("every record processed", || {
        let metrics = app.metrics();
        most = most.max(metrics.cache_bytes);
        metrics.processed >= total
    });
    let slack = 2 * PARTITIONS as usize * 256;
    assert!(
        most > BUDGET / 2 && most <= BUDGET + slack,
        "the caches held {most} bytes at most, bound {BUDGET}"
    );
    app.stop().unwrap();
}

on_each_backend!(
    cached_aggregation_sends_one_update_per_key_and_commit,
    without_the_cache_every_update_is_sent,
    one_bound_covers_every_cache_of_every_task,
);
