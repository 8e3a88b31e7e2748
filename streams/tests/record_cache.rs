//! Aggregations' record cache on the runtime (Kafka Streams' `cache.max.bytes.buffering`):
//! the updates of a key between two commits reach the output topic as one record, and
//! turning the cache off (`cache_max_bytes: 0`) forwards every update.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use eddy_broker::{Durability, NewRecord, OffsetSpec, decode_records};
use eddy_streams::runtime::Backend;
use eddy_streams::serdes::Serdes;
use eddy_streams::{App, AppConfig, EmbeddedBackend, StreamsBuilder, Topology};

fn word_count() -> Topology {
    let b = StreamsBuilder::new();
    b.stream("lines", Serdes::string(), Serdes::string())
        .flat_map_values(|line: String| {
            line.split_whitespace()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .with_value_serde(Serdes::string())
        .group_by(|_, w| w.clone(), Serdes::string())
        .count("counts")
        .to_stream()
        .to("counts-out");
    b.build().unwrap()
}

/// Every (word, count) record of the output topic, in offset order.
fn output(backend: &EmbeddedBackend) -> Vec<(String, i64)> {
    let broker = backend.broker();
    let end = backend
        .block_on(broker.list_offset("counts-out", 0, OffsetSpec::Latest))
        .unwrap()
        .unwrap()
        .0;
    let mut out = Vec::new();
    while (out.len() as i64) < end {
        let fetched = backend
            .block_on(broker.fetch("counts-out", 0, out.len() as i64, 1 << 20, Duration::ZERO))
            .unwrap();
        for r in decode_records(&fetched.records).unwrap() {
            if r.offset < out.len() as i64 {
                continue;
            }
            let word = String::from_utf8(r.key.unwrap().to_vec()).unwrap();
            let count = i64::from_be_bytes(r.value.unwrap()[..].try_into().unwrap());
            out.push((word, count));
        }
    }
    out
}

/// Counts 100 lines of "a a b" in one commit interval; returns the output topic.
fn run(cache_max_bytes: usize) -> Vec<(String, i64)> {
    let dir = tempfile::tempdir().unwrap();
    let backend = Arc::new(EmbeddedBackend::open(dir.path().join("broker")).unwrap());
    backend.create_topic("lines", 1, false).unwrap();
    backend.create_topic("counts-out", 1, false).unwrap();
    let lines: Vec<NewRecord> = (0..100)
        .map(|_| NewRecord {
            key: None,
            value: Some(Bytes::from_static(b"a a b")),
            headers: Vec::new(),
            timestamp: Some(1_000),
        })
        .collect();
    backend
        .block_on(
            backend
                .broker()
                .produce("lines", 0, &lines, Durability::Durable),
        )
        .unwrap();
    let config = AppConfig {
        threads: 1,
        // No commit before stop: all 300 updates fall in one interval.
        commit_interval: Duration::from_secs(3_600),
        cache_max_bytes,
        state_dir: dir.path().join("state"),
        ..AppConfig::new("cached", backend.clone())
    };
    let app = App::new(word_count(), config).start().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    // 100 lines plus 300 words through the repartition topic.
    while app.metrics().processed < 400 {
        assert!(Instant::now() < deadline, "timed out: {:?}", app.metrics());
        std::thread::sleep(Duration::from_millis(20));
    }
    app.stop().unwrap();
    output(&backend)
}

#[test]
fn cached_aggregation_sends_one_update_per_key_and_commit() {
    let mut out = run(10 << 20);
    out.sort();
    assert_eq!(out, vec![("a".to_string(), 200), ("b".to_string(), 100)]);
}

#[test]
fn without_the_cache_every_update_is_sent() {
    let out = run(0);
    assert_eq!(out.len(), 300);
    assert_eq!(out.iter().rfind(|(w, _)| w == "a").unwrap().1, 200);
    assert_eq!(out[0], ("a".to_string(), 1));
}
