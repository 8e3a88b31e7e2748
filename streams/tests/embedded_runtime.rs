//! The runtime on the embedded broker: word count end to end over two partitions and two
//! threads, interactive queries, restart with local state, restart with state rebuilt from
//! the changelog topics, and start-up errors.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use eddy_broker::{Durability, NewRecord, OffsetSpec, decode_records};
use eddy_streams::runtime::{Backend, RunningApp, StoreEngine};
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

fn produce(backend: &EmbeddedBackend, topic: &str, partition: i32, values: &[&str]) {
    let records: Vec<NewRecord> = values
        .iter()
        .map(|v| NewRecord {
            key: Some(Bytes::from(format!("k{partition}"))),
            value: Some(Bytes::copy_from_slice(v.as_bytes())),
            headers: Vec::new(),
            timestamp: Some(1_000),
        })
        .collect();
    backend
        .block_on(
            backend
                .broker()
                .produce(topic, partition, &records, Durability::Durable),
        )
        .unwrap();
}

/// Latest count per word in the output topic.
fn latest_counts(backend: &EmbeddedBackend, topic: &str) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    let partitions = backend.partitions(topic).unwrap().unwrap();
    for p in 0..partitions {
        let end = backend
            .block_on(backend.broker().list_offset(topic, p, OffsetSpec::Latest))
            .unwrap()
            .unwrap()
            .0;
        let mut offset = 0;
        while offset < end {
            let fetched = backend
                .block_on(
                    backend
                        .broker()
                        .fetch(topic, p, offset, 1 << 20, Duration::ZERO),
                )
                .unwrap();
            for r in decode_records(&fetched.records).unwrap() {
                if r.offset < offset {
                    continue;
                }
                let key = String::from_utf8(r.key.unwrap().to_vec()).unwrap();
                let value = i64::from_be_bytes(r.value.unwrap()[..].try_into().unwrap());
                out.insert(key, value);
                offset = r.offset + 1;
            }
        }
    }
    out
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn config(id: &str, backend: &Arc<EmbeddedBackend>, state: &std::path::Path) -> AppConfig {
    AppConfig {
        threads: 2,
        commit_interval: Duration::from_millis(50),
        state_dir: state.to_path_buf(),
        ..AppConfig::new(id, backend.clone())
    }
}

fn count(app: &RunningApp, word: &str) -> Option<i64> {
    app.get("counts", &word.to_string(), Serdes::string(), Serdes::i64())
        .unwrap()
}

#[test]
fn word_count_runs_restarts_and_restores() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Arc::new(EmbeddedBackend::open(dir.path().join("broker")).unwrap());
    backend.create_topic("lines", 2, false).unwrap();
    backend.create_topic("counts-out", 2, false).unwrap();
    produce(&backend, "lines", 0, &["a b a", "c"]);
    produce(&backend, "lines", 1, &["b a"]);
    let state = dir.path().join("state");

    let app = App::new(word_count(), config("wc", &backend, &state))
        .start()
        .unwrap();
    let expected: BTreeMap<String, i64> = [("a", 3), ("b", 2), ("c", 1)]
        .map(|(w, n)| (w.to_string(), n))
        .into();
    wait_for("first counts", || {
        latest_counts(&backend, "counts-out") == expected
    });
    wait_for("interactive query", || count(&app, "a") == Some(3));
    assert_eq!(count(&app, "zzz"), None);
    let all = app
        .range("counts", .., Serdes::string(), Serdes::i64())
        .unwrap();
    assert_eq!(all.len(), 3);
    let metrics = app.metrics();
    assert!(
        metrics.processed >= 3 + 6,
        "source records of both sub-topologies: {metrics:?}"
    );
    assert!(
        app.metrics_text()
            .contains("eddy_streams_records_processed_total")
    );
    app.stop().unwrap();
    assert!(backend.partitions("wc-counts-changelog").unwrap() == Some(2));
    assert!(backend.partitions("wc-counts-repartition").unwrap() == Some(2));

    // Restart: offsets were committed, so only new lines are read; counts continue.
    produce(&backend, "lines", 0, &["a"]);
    let app = App::new(word_count(), config("wc", &backend, &state))
        .start()
        .unwrap();
    wait_for("count after restart", || count(&app, "a") == Some(4));
    app.stop().unwrap();

    // Lose the local state: it is rebuilt from the changelog topic.
    std::fs::remove_dir_all(&state).unwrap();
    produce(&backend, "lines", 1, &["c"]);
    let app = App::new(
        word_count(),
        AppConfig {
            store_engine: StoreEngine::Memory,
            ..config("wc", &backend, &state)
        },
    )
    .start()
    .unwrap();
    wait_for("count after restore", || count(&app, "c") == Some(2));
    assert_eq!(count(&app, "a"), Some(4));
    assert_eq!(count(&app, "b"), Some(2));
    assert!(app.metrics().restored_records >= 3);
    app.stop().unwrap();
    let expected: BTreeMap<String, i64> = [("a", 4), ("b", 2), ("c", 2)]
        .map(|(w, n)| (w.to_string(), n))
        .into();
    assert_eq!(latest_counts(&backend, "counts-out"), expected);
}

#[test]
fn start_up_errors_say_what_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Arc::new(EmbeddedBackend::open(dir.path().join("broker")).unwrap());
    let state = dir.path().join("state");
    let err = App::new(word_count(), config("wc", &backend, &state))
        .start()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("input topic \"lines\" does not exist"),
        "{err}"
    );

    backend.create_topic("orders", 2, false).unwrap();
    backend.create_topic("customers", 3, false).unwrap();
    let b = StreamsBuilder::new();
    let customers = b.table("customers", Serdes::string(), Serdes::string(), "customers");
    b.stream("orders", Serdes::string(), Serdes::string())
        .join_table(&customers, |o, c| format!("{o}{c}"))
        .to_with("out", Serdes::string(), Serdes::string());
    let err = App::new(b.build().unwrap(), config("join", &backend, &state))
        .start()
        .unwrap_err()
        .to_string();
    assert!(err.contains("co-partitioned"), "{err}");
    assert!(
        err.contains("customers (3 partitions)") && err.contains("orders (2 partitions)"),
        "{err}"
    );

    let err = App::new(word_count(), config("bad id!", &backend, &state))
        .start()
        .unwrap_err()
        .to_string();
    assert!(err.contains("application id"), "{err}");
}

#[test]
fn global_table_join_needs_no_copartitioning() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Arc::new(EmbeddedBackend::open(dir.path().join("broker")).unwrap());
    backend.create_topic("regions", 3, true).unwrap();
    backend.create_topic("visits", 2, false).unwrap();
    backend.create_topic("visits-out", 2, false).unwrap();
    let put = |topic: &str, partition: i32, key: &str, value: &str| {
        let record = NewRecord {
            key: Some(Bytes::copy_from_slice(key.as_bytes())),
            value: Some(Bytes::copy_from_slice(value.as_bytes())),
            headers: Vec::new(),
            timestamp: Some(1_000),
        };
        backend
            .block_on(
                backend
                    .broker()
                    .produce(topic, partition, &[record], Durability::Durable),
            )
            .unwrap();
    };
    put("regions", 2, "ann", "eu");
    put("regions", 0, "bob", "us");
    put("visits", 0, "v1", "ann");
    put("visits", 1, "v2", "bob");
    let b = StreamsBuilder::new();
    let regions = b.global_table("regions", Serdes::string(), Serdes::string(), "regions");
    b.stream("visits", Serdes::string(), Serdes::string())
        .join_global(
            &regions,
            |_, user| user.clone(),
            |user, region| format!("{user}@{region}"),
        )
        .with_value_serde(Serdes::string())
        .to("visits-out");
    let app = App::new(
        b.build().unwrap(),
        config("geo", &backend, &dir.path().join("state")),
    )
    .start()
    .unwrap();
    let read = || -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for p in 0..2 {
            let fetched = backend
                .block_on(
                    backend
                        .broker()
                        .fetch("visits-out", p, 0, 1 << 20, Duration::ZERO),
                )
                .unwrap();
            for r in decode_records(&fetched.records).unwrap() {
                out.insert(
                    String::from_utf8(r.key.unwrap().to_vec()).unwrap(),
                    String::from_utf8(r.value.unwrap().to_vec()).unwrap(),
                );
            }
        }
        out
    };
    wait_for("both visits joined", || read().len() == 2);
    assert_eq!(read()["v1"], "ann@eu");
    // The global thread keeps the table current.
    put("regions", 2, "ann", "apac");
    wait_for("the update to reach the store", || {
        app.get(
            "regions",
            &"ann".to_string(),
            Serdes::string(),
            Serdes::string(),
        )
        .unwrap()
            == Some("apac".to_string())
    });
    put("visits", 0, "v3", "ann");
    wait_for("the next visit joined with the update", || {
        read().get("v3").map(String::as_str) == Some("ann@apac")
    });
    app.stop().unwrap();
}
