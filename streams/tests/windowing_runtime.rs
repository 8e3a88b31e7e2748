//! On-close emission of time, sliding and session windows on the real runtime (RocksDB
//! stores, changelog topics), on both backends: across a restart, and across a restart that
//! rebuilds the state from the changelogs, every final result is written exactly once.

#[macro_use]
mod common;

use std::time::Duration;

use common::{Start, TestBroker, wait_for};
use eddy_streams::runtime::StoreEngine;
use eddy_streams::serdes::{SerdeRef, Serdes};
use eddy_streams::{
    App, AppConfig, EmitStrategy, SessionWindows, SlidingWindows, StreamsBuilder, TimeWindows,
    Topology, Windowed,
};

/// A final result: key, window start, window end, count.
type Final = (String, i64, i64, i64);

/// Counts of the same stream per sliding window (difference 10 ms) and per session (gap
/// 10 ms), both emitted only on close, with no grace.
fn topology() -> Topology {
    let b = StreamsBuilder::new();
    let grouped = b
        .stream("events", Serdes::string(), Serdes::string())
        .group_by_key();
    grouped
        .windowed_by_sliding(SlidingWindows::of_time_difference_with_no_grace(
            Duration::from_millis(10),
        ))
        .emit_strategy(EmitStrategy::on_window_close())
        .count("sliding")
        .to_stream()
        .to("sliding-out");
    grouped
        .windowed_by_session(SessionWindows::with_inactivity_gap_and_no_grace(
            Duration::from_millis(10),
        ))
        .emit_strategy(EmitStrategy::on_window_close())
        .count("sessions")
        .to_stream()
        .to("sessions-out");
    b.build().unwrap()
}

/// Appends one record of key "k" per time to `events`.
fn produce(broker: &TestBroker, times: &[i64]) {
    for t in times {
        broker.produce("events", 0, &[("k", "v")], Some(*t));
    }
}

/// Every record of a one-partition output topic, decoded.
fn read_all(broker: &TestBroker, topic: &str, keys: &SerdeRef<Windowed<String>>) -> Vec<Final> {
    broker
        .read(topic)
        .into_iter()
        .map(|(key, value)| {
            let key = keys.deserialize(&key).unwrap();
            let count = Serdes::i64().deserialize(&value.unwrap()).unwrap();
            (key.key, key.window.start, key.window.end, count)
        })
        .collect()
}

fn finals(list: &[(i64, i64, i64)]) -> Vec<Final> {
    list.iter()
        .map(|&(start, end, count)| ("k".to_string(), start, end, count))
        .collect()
}

fn on_close_emission_neither_repeats_nor_loses_results_across_restarts(start: Start) {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(&dir.path().join("broker"));
    let backend = broker.backend.clone();
    for topic in ["events", "sliding-out", "sessions-out"] {
        broker.create_topic(topic, 1, false);
    }
    let state = dir.path().join("state");
    let config = |engine| AppConfig {
        threads: 1,
        commit_interval: Duration::from_millis(50),
        state_dir: state.clone(),
        store_engine: engine,
        ..AppConfig::new("win", backend.clone())
    };
    let sliding_keys = Serdes::time_windowed(Serdes::string(), 10);
    let session_keys = Serdes::session_windowed(Serdes::string());
    let sliding = || read_all(&broker, "sliding-out", &sliding_keys);
    let sessions = || read_all(&broker, "sessions-out", &session_keys);
    let wait_until = |what: &str, sliding_expected: &[Final], sessions_expected: &[Final]| {
        // Wait for the newest expected result of each, then compare whole topics: a
        // repeated result would be written before it.
        wait_for(what, || {
            sliding().last() == sliding_expected.last()
                && sessions().last() == sessions_expected.last()
        });
        assert_eq!(sliding(), sliding_expected, "{what}: sliding windows");
        assert_eq!(sessions(), sessions_expected, "{what}: sessions");
    };

    // 100 and 105: windows [90,100], [95,105] (both), [101,111] (105); one session
    // [100,105]. 130 closes all of them (close time 130; sessions: 130 - gap = 120) and
    // leaves [120,130] and the session [130,130] pending in the stores.
    produce(&broker, &[100, 105, 130]);
    let app = App::new(topology(), config(StoreEngine::default()))
        .start()
        .unwrap();
    let mut sliding_expected = finals(&[(90, 100, 1), (95, 105, 2), (101, 111, 1)]);
    let mut sessions_expected = finals(&[(100, 105, 2)]);
    wait_until("first finals", &sliding_expected, &sessions_expected);
    // Interactive queries read the sliding store's counts (not its stored record times).
    let windows = app
        .window_fetch(
            "sliding",
            &"k".to_string(),
            0,
            200,
            Serdes::string(),
            Serdes::i64(),
        )
        .unwrap();
    assert_eq!(windows, vec![(90, 1), (95, 2), (101, 1), (120, 1)]);
    app.stop().unwrap();

    // Restart on the local state: 150 closes what was pending before the restart, and only
    // that (the windows already emitted are still in the stores).
    produce(&broker, &[150]);
    let app = App::new(topology(), config(StoreEngine::default()))
        .start()
        .unwrap();
    sliding_expected.extend(finals(&[(120, 130, 1)]));
    sessions_expected.extend(finals(&[(130, 130, 1)]));
    wait_until(
        "finals after a restart",
        &sliding_expected,
        &sessions_expected,
    );
    app.stop().unwrap();

    // Lose the local state: stores and emission progress come back from the changelogs.
    std::fs::remove_dir_all(&state).unwrap();
    produce(&broker, &[165]);
    let app = App::new(topology(), config(StoreEngine::Memory))
        .start()
        .unwrap();
    sliding_expected.extend(finals(&[(140, 150, 1)]));
    sessions_expected.extend(finals(&[(150, 150, 1)]));
    wait_until(
        "finals after a restore",
        &sliding_expected,
        &sessions_expected,
    );
    assert!(app.metrics().restored_records > 0);
    app.stop().unwrap();
}

/// A restarted time-window aggregation that emits on close keeps the windows it emitted
/// closed: a record for one of them is late, counted and dropped, not added to a window
/// that will never be emitted again. (Its store's own notion of time only counts whole
/// segments, far behind after a restart.)
fn time_windows_emitted_before_a_restart_stay_closed(start: Start) {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(&dir.path().join("broker"));
    let backend = broker.backend.clone();
    for topic in ["events", "tumbling-out"] {
        broker.create_topic(topic, 1, false);
    }
    let topology = || {
        let b = StreamsBuilder::new();
        b.stream("events", Serdes::string(), Serdes::string())
            .group_by_key()
            .windowed_by(TimeWindows::of_size_with_no_grace(Duration::from_millis(
                10,
            )))
            .emit_strategy(EmitStrategy::on_window_close())
            .count("tumbling")
            .to_stream()
            .to("tumbling-out");
        b.build().unwrap()
    };
    let config = || AppConfig {
        threads: 1,
        commit_interval: Duration::from_millis(50),
        state_dir: dir.path().join("state"),
        ..AppConfig::new("tumbling", backend.clone())
    };
    let keys = Serdes::time_windowed(Serdes::string(), 10);
    let out = || read_all(&broker, "tumbling-out", &keys);

    // 110 closes [100,110). (It is emitted because 110 falls in the next window: as in
    // Kafka Streams, a record further ahead would write a window that puts [100,110) past
    // the store's retention before the closed windows are read back.)
    produce(&broker, &[100, 110]);
    let app = App::new(topology(), config()).start().unwrap();
    wait_for("the first final", || out() == finals(&[(100, 110, 1)]));
    app.stop().unwrap();

    produce(&broker, &[105, 120]);
    let app = App::new(topology(), config()).start().unwrap();
    wait_for("the next final", || out().len() == 2);
    assert_eq!(out(), finals(&[(100, 110, 1), (110, 120, 1)]));
    // A stream thread sends a poll's outputs before it adds the poll's counts to the
    // metrics: the count may lag the output a moment.
    wait_for("the late record counted", || {
        app.metrics().late_dropped >= 1
    });
    assert_eq!(
        app.metrics().late_dropped,
        1,
        "105 came after [100, 110) was emitted"
    );
    // Interactive queries read the counts (not the record times stored in front of them),
    // from the windows within retention (10 ms behind the newest window start, 120).
    let windows = app
        .window_fetch(
            "tumbling",
            &"k".to_string(),
            0,
            200,
            Serdes::string(),
            Serdes::i64(),
        )
        .unwrap();
    assert_eq!(windows, vec![(110, 1), (120, 1)]);
    app.stop().unwrap();
}

/// The changelogs the runtime creates: a key-value store's is compact-only; a windowed
/// store's keys carry window times, so its changelog is `compact,delete` with the store's
/// retention plus a day (Kafka Streams' `windowstore.changelog.additional.retention.ms`),
/// or it would grow forever.
fn changelogs_of_windowed_stores_expire_with_the_store(start: Start) {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(&dir.path().join("broker"));
    for topic in ["events", "tumbling-out", "totals-out"] {
        broker.create_topic(topic, 1, false);
    }
    let b = StreamsBuilder::new();
    let grouped = b
        .stream("events", Serdes::string(), Serdes::string())
        .group_by_key();
    grouped
        .windowed_by(TimeWindows::of_size_and_grace(
            Duration::from_millis(10),
            Duration::from_millis(5),
        ))
        .count("tumbling")
        .to_stream()
        .to("tumbling-out");
    grouped.count("totals").to_stream().to("totals-out");
    let topology = b.build().unwrap();
    let retention = match topology.store("tumbling").unwrap().kind {
        eddy_streams::StoreKind::Window { retention_ms } => retention_ms,
        other => panic!("the windowed count's store is {other:?}"),
    };
    let config = AppConfig {
        threads: 1,
        state_dir: dir.path().join("state"),
        ..AppConfig::new("expiring", broker.backend.clone())
    };
    let app = App::new(topology, config).start().unwrap();
    let described = |topic: &str| broker.broker().describe_topic(topic).unwrap().config;
    let windowed = described("expiring-tumbling-changelog");
    assert!(
        windowed.cleanup_policy.compact && windowed.cleanup_policy.delete,
        "{:?}",
        windowed.cleanup_policy
    );
    assert_eq!(windowed.retention_ms, retention + 86_400_000);
    let plain = described("expiring-totals-changelog");
    assert!(plain.cleanup_policy.compact && !plain.cleanup_policy.delete);
    app.stop().unwrap();
}

on_each_backend!(
    on_close_emission_neither_repeats_nor_loses_results_across_restarts,
    time_windows_emitted_before_a_restart_stay_closed,
    changelogs_of_windowed_stores_expire_with_the_store,
);
