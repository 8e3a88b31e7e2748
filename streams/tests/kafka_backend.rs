//! The runtime on the Kafka backend (librdkafka) against Eddy's own Kafka protocol server:
//! word count, then a second instance joins the consumer group and takes over half the
//! partitions (restoring their stores from the changelog topic), then the first instance
//! stops and the second takes over everything. Nothing commits on a timer, so exact counts
//! show that each hand-over committed outputs, changelogs and offsets before the partitions
//! moved. (Two instances need a group; the embedded backend assigns statically.)

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{TestBroker, wait_for, word_count};
use eddy_streams::partitioner::partition_for_key;
use eddy_streams::runtime::RunningApp;
use eddy_streams::serdes::Serdes;
use eddy_streams::{App, AppConfig};

const PARTITIONS: i32 = 4;

/// Appends each line to the partition its key hashes to, as a Kafka producer would.
fn produce_lines(broker: &TestBroker, lines: &[&str]) {
    for (i, line) in lines.iter().enumerate() {
        let key = format!("line-{i}-{line}");
        let partition = partition_for_key(key.as_bytes(), PARTITIONS);
        broker.produce("lines", partition, &[(&key, line)], None);
    }
}

fn counts(apps: &[&RunningApp]) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for app in apps {
        for (k, v) in app
            .range("counts", .., Serdes::string(), Serdes::i64())
            .unwrap()
        {
            out.insert(k, v);
        }
    }
    out
}

fn expected(words: &[(&str, i64)]) -> BTreeMap<String, i64> {
    words.iter().map(|(w, n)| (w.to_string(), *n)).collect()
}

#[test]
fn two_instances_share_and_hand_over_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::kafka(&dir.path().join("broker"));
    let backend = broker.backend.clone();
    broker.create_topic("lines", PARTITIONS, false);
    broker.create_topic("counts-out", PARTITIONS, false);
    let config = |state: &str| AppConfig {
        // No commit on a timer during the test: the hand-overs alone must commit (a
        // revocation is held back until the old owner has committed), or counts repeat.
        commit_interval: Duration::from_secs(600),
        state_dir: dir.path().join(state),
        ..AppConfig::new("wc-kafka", backend.clone())
    };
    let words = [
        "apple", "banana", "cherry", "damson", "elder", "fig", "grape", "hazel",
    ];

    produce_lines(&broker, &words);
    let a = App::new(word_count(), config("a")).start().unwrap();
    wait_for("instance a to count every word once", || {
        counts(&[&a]) == expected(&words.map(|w| (w, 1)))
    });
    assert_eq!(
        backend.partitions("wc-kafka-counts-changelog").unwrap(),
        Some(PARTITIONS)
    );

    let b = App::new(word_count(), config("b")).start().unwrap();
    wait_for("the group to split the words between a and b", || {
        let (ca, cb) = (counts(&[&a]), counts(&[&b]));
        !ca.is_empty() && !cb.is_empty() && ca.keys().all(|k| !cb.contains_key(k))
    });
    assert!(
        b.metrics().restored_records > 0,
        "b restored the tasks it took over"
    );
    produce_lines(&broker, &words);
    wait_for("a and b to count every word twice", || {
        counts(&[&a, &b]) == expected(&words.map(|w| (w, 2)))
    });

    a.stop().unwrap();
    produce_lines(&broker, &words);
    wait_for("b alone to count every word three times", || {
        counts(&[&b]) == expected(&words.map(|w| (w, 3)))
    });
    b.stop().unwrap();
}

/// A stream thread's stores write and restore their changelogs through the thread's own
/// clients (one producer, one restore reader), not a producer and a reader each: 24 stores
/// on one thread keep the connection count a small constant, where a client pair per store
/// would open 48 more.
#[test]
fn a_thread_runs_many_stores_on_its_own_two_clients() {
    const WIDE: i32 = 12;
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::kafka(&dir.path().join("broker"));
    broker.create_topic("wide", WIDE, false);
    for p in 0..WIDE {
        broker.produce("wide", p, &[(&format!("k{p}"), "v")], None);
    }
    let b = eddy_streams::StreamsBuilder::new();
    let grouped = b
        .stream("wide", Serdes::string(), Serdes::string())
        .group_by_key();
    grouped.count("first");
    grouped.count("second");
    let config = AppConfig {
        threads: 1,
        state_dir: dir.path().join("state"),
        ..AppConfig::new("many-stores", broker.backend.clone())
    };
    let app = App::new(b.build().unwrap(), config).start().unwrap();
    wait_for("every key counted in both stores", || {
        ["first", "second"].iter().all(|store| {
            app.range(store, .., Serdes::string(), Serdes::i64())
                .unwrap()
                .len()
                == WIDE as usize
        })
    });
    let open = broker
        .connections()
        .expect("the server's connections gauge");
    assert!(
        (1..=12).contains(&open),
        "{open} connections for one thread with {} stores",
        2 * WIDE
    );
    app.stop().unwrap();
}
