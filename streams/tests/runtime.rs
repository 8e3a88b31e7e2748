//! The runtime on both backends: every test here is a function of a [`Start`] that makes a
//! broker, instantiated once on the embedded backend (`embedded::`) and once on the Kafka
//! backend against Eddy's Kafka protocol server on a real socket (`kafka::`). They cover
//! word count end to end over two partitions and two threads, interactive queries, restart
//! from committed offsets with local state, state rebuilt from the changelog topics after
//! the state directory is lost, start-up errors, a global-table join with updates, and a
//! stream-table join that must see the table's older rows first (timestamp order across a
//! task's partitions), and a long restore that leaves the thread's other tasks running.

#[macro_use]
mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{Start, TestBroker, wait_for, word_count};
use eddy_streams::runtime::{RunningApp, StoreEngine};
use eddy_streams::serdes::Serdes;
use eddy_streams::{App, AppConfig, StreamsBuilder};

fn config(id: &str, broker: &TestBroker, state: &std::path::Path) -> AppConfig {
    AppConfig {
        threads: 2,
        commit_interval: Duration::from_millis(50),
        state_dir: state.to_path_buf(),
        ..AppConfig::new(id, broker.backend.clone())
    }
}

fn count(app: &RunningApp, word: &str) -> Option<i64> {
    app.get("counts", &word.to_string(), Serdes::string(), Serdes::i64())
        .unwrap()
}

fn counts(words: &[(&str, i64)]) -> BTreeMap<String, i64> {
    words.iter().map(|(w, n)| (w.to_string(), *n)).collect()
}

fn word_count_runs_restarts_and_restores(start: Start) {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(&dir.path().join("broker"));
    broker.create_topic("lines", 2, false);
    broker.create_topic("counts-out", 2, false);
    broker.produce("lines", 0, &[("k0", "a b a"), ("k0", "c")], Some(1_000));
    broker.produce("lines", 1, &[("k1", "b a")], Some(1_000));
    let state = dir.path().join("state");

    let app = App::new(word_count(), config("wc", &broker, &state))
        .start()
        .unwrap();
    let expected = counts(&[("a", 3), ("b", 2), ("c", 1)]);
    wait_for("first counts", || {
        broker.latest_counts("counts-out") == expected
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
    assert_eq!(
        broker.backend.partitions("wc-counts-changelog").unwrap(),
        Some(2)
    );
    assert_eq!(
        broker.backend.partitions("wc-counts-repartition").unwrap(),
        Some(2)
    );
    // Stopping committed every input offset.
    assert_eq!(broker.committed("wc", "lines", 0), Some(2));
    assert_eq!(broker.committed("wc", "lines", 1), Some(1));

    // Restart: offsets were committed, so only new lines are read; counts continue.
    broker.produce("lines", 0, &[("k0", "a")], Some(1_000));
    let app = App::new(word_count(), config("wc", &broker, &state))
        .start()
        .unwrap();
    wait_for("count after restart", || count(&app, "a") == Some(4));
    app.stop().unwrap();

    // Lose the local state: it is rebuilt from the changelog topic.
    std::fs::remove_dir_all(&state).unwrap();
    broker.produce("lines", 1, &[("k1", "c")], Some(1_000));
    let app = App::new(
        word_count(),
        AppConfig {
            store_engine: StoreEngine::Memory,
            ..config("wc", &broker, &state)
        },
    )
    .start()
    .unwrap();
    wait_for("count after restore", || count(&app, "c") == Some(2));
    assert_eq!(count(&app, "a"), Some(4));
    assert_eq!(count(&app, "b"), Some(2));
    assert!(app.metrics().restored_records >= 3);
    app.stop().unwrap();
    assert_eq!(
        broker.latest_counts("counts-out"),
        counts(&[("a", 4), ("b", 2), ("c", 2)])
    );
}

fn start_up_errors_say_what_to_fix(start: Start) {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(&dir.path().join("broker"));
    let state = dir.path().join("state");
    let err = App::new(word_count(), config("wc", &broker, &state))
        .start()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("input topic \"lines\" does not exist"),
        "{err}"
    );

    broker.create_topic("orders", 2, false);
    broker.create_topic("customers", 3, false);
    let b = StreamsBuilder::new();
    let customers = b.table("customers", Serdes::string(), Serdes::string(), "customers");
    b.stream("orders", Serdes::string(), Serdes::string())
        .join_table(&customers, |o, c| format!("{o}{c}"))
        .to_with("out", Serdes::string(), Serdes::string());
    let err = App::new(b.build().unwrap(), config("join", &broker, &state))
        .start()
        .unwrap_err()
        .to_string();
    assert!(err.contains("co-partitioned"), "{err}");
    assert!(
        err.contains("customers (3 partitions)") && err.contains("orders (2 partitions)"),
        "{err}"
    );

    let err = App::new(word_count(), config("bad id!", &broker, &state))
        .start()
        .unwrap_err()
        .to_string();
    assert!(err.contains("application id"), "{err}");

    // A global table's topic must exist too.
    broker.create_topic("visits", 2, false);
    let b = StreamsBuilder::new();
    let regions = b.global_table("regions", Serdes::string(), Serdes::string(), "regions");
    b.stream("visits", Serdes::string(), Serdes::string())
        .join_global(&regions, |_, user| user.clone(), |u, r| format!("{u}@{r}"))
        .with_value_serde(Serdes::string())
        .to("visits-out");
    let err = App::new(b.build().unwrap(), config("geo", &broker, &state))
        .start()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("global table topic \"regions\" does not exist"),
        "{err}"
    );
}

fn global_table_join_needs_no_copartitioning(start: Start) {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(&dir.path().join("broker"));
    broker.create_topic("regions", 3, true);
    broker.create_topic("visits", 2, false);
    broker.create_topic("visits-out", 2, false);
    let ts = Some(1_000);
    broker.produce("regions", 2, &[("ann", "eu")], ts);
    broker.produce("regions", 0, &[("bob", "us")], ts);
    broker.produce("visits", 0, &[("v1", "ann")], ts);
    broker.produce("visits", 1, &[("v2", "bob")], ts);
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
        config("geo", &broker, &dir.path().join("state")),
    )
    .start()
    .unwrap();
    wait_for("both visits joined", || {
        broker.latest_strings("visits-out").len() == 2
    });
    assert_eq!(broker.latest_strings("visits-out")["v1"], "ann@eu");
    assert_eq!(broker.latest_strings("visits-out")["v2"], "bob@us");
    // The global thread keeps the table current.
    broker.produce("regions", 2, &[("ann", "apac")], ts);
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
    broker.produce("visits", 0, &[("v3", "ann")], ts);
    wait_for("the next visit joined with the update", || {
        broker
            .latest_strings("visits-out")
            .get("v3")
            .map(String::as_str)
            == Some("ann@apac")
    });
    app.stop().unwrap();
}

/// A global table's bootstrap reads to the end by the reader's position: a topic whose last
/// offset is a transaction marker (no record at end - 1) is loaded, not waited on forever.
fn a_global_table_whose_topic_ends_in_a_transaction_marker_loads(start: Start) {
    use eddy_broker::batch::{ProducerFields, encode_producer_batch};
    let dir = tempfile::tempdir().unwrap();
    let broker = start(&dir.path().join("broker"));
    broker.create_topic("regions", 1, true);
    broker.create_topic("visits", 1, false);
    broker.create_topic("visits-out", 1, false);
    let b = broker.broker().clone();
    broker.block_on(async {
        let (id, epoch) = b
            .init_transactional_producer("regions-writer", 60_000, None)
            .await
            .unwrap();
        b.add_partitions_to_txn("regions-writer", id, epoch, vec![("regions".into(), 0)])
            .await
            .unwrap();
        let records = [
            eddy_broker::NewRecord::new("ann", "eu"),
            eddy_broker::NewRecord::new("bob", "us"),
        ];
        let producer = ProducerFields {
            producer_id: id,
            producer_epoch: epoch,
            base_sequence: 0,
            transactional: true,
        };
        let batch = encode_producer_batch(
            &records,
            1_000,
            eddy_broker::Compression::None,
            Some(producer),
        )
        .unwrap();
        b.produce_batch("regions", 0, batch, eddy_broker::Durability::Durable)
            .await
            .unwrap();
        b.end_txn("regions-writer", id, epoch, eddy_broker::Outcome::Commit)
            .await
            .unwrap();
    });
    // Two records and the commit marker.
    assert_eq!(
        broker
            .block_on(b.list_offset("regions", 0, eddy_broker::OffsetSpec::Latest))
            .unwrap(),
        Some((3, -1))
    );
    let builder = StreamsBuilder::new();
    let regions = builder.global_table("regions", Serdes::string(), Serdes::string(), "regions");
    builder
        .stream("visits", Serdes::string(), Serdes::string())
        .join_global(&regions, |_, user| user.clone(), |u, r| format!("{u}@{r}"))
        .with_value_serde(Serdes::string())
        .to("visits-out");
    let started = std::time::Instant::now();
    let app = App::new(
        builder.build().unwrap(),
        config("geo-txn", &broker, &dir.path().join("state")),
    )
    .start()
    .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the bootstrap took {:?}",
        started.elapsed()
    );
    assert_eq!(
        app.get(
            "regions",
            &"bob".to_string(),
            Serdes::string(),
            Serdes::string()
        )
        .unwrap(),
        Some("us".to_string())
    );
    broker.produce("visits", 0, &[("v1", "ann")], Some(1_000));
    wait_for("the visit joined", || {
        broker
            .latest_strings("visits-out")
            .get("v1")
            .map(String::as_str)
            == Some("ann@eu")
    });
    app.stop().unwrap();
}

fn stream_table_join_sees_older_table_rows_first(start: Start) {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(&dir.path().join("broker"));
    for topic in ["customers", "orders", "enriched"] {
        broker.create_topic(topic, 2, false);
    }
    // Every table row is older than every order, and all is on the broker before the app
    // starts: processing in timestamp order joins every order with its customer, however
    // the consumer happens to fetch the two topics.
    for p in 0..2 {
        let customers: Vec<(String, String)> = (0..20)
            .map(|i| (format!("c{p}-{i}"), format!("name{p}-{i}")))
            .collect();
        let rows: Vec<(&str, &str)> = customers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        // Orders first, so that a consumer is as likely to fetch them first.
        broker.produce(
            "orders",
            p,
            &rows.iter().map(|(k, _)| (*k, "order")).collect::<Vec<_>>(),
            Some(2_000),
        );
        broker.produce("customers", p, &rows, Some(1_000));
    }
    let b = StreamsBuilder::new();
    let customers = b.table("customers", Serdes::string(), Serdes::string(), "customers");
    b.stream("orders", Serdes::string(), Serdes::string())
        .left_join_table(&customers, |order, customer| {
            format!("{order} by {}", customer.map_or("nobody", String::as_str))
        })
        .with_value_serde(Serdes::string())
        .to("enriched");
    let app = App::new(
        b.build().unwrap(),
        config("shop", &broker, &dir.path().join("state")),
    )
    .start()
    .unwrap();
    wait_for("every order joined", || {
        broker.latest_strings("enriched").len() == 40
    });
    app.stop().unwrap();
    let unmatched: Vec<_> = broker
        .latest_strings("enriched")
        .into_iter()
        .filter(|(_, v)| v.ends_with("nobody"))
        .collect();
    assert!(
        unmatched.is_empty(),
        "orders joined before their customers: {unmatched:?}"
    );
}

fn lag_counts_records_not_yet_processed(start: Start) {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(&dir.path().join("broker"));
    broker.create_topic("backlog", 1, false);
    broker.create_topic("backlog-out", 1, false);
    let values: Vec<String> = (0..30_000).map(|i| i.to_string()).collect();
    let records: Vec<(&str, &str)> = values.iter().map(|v| ("k", v.as_str())).collect();
    broker.produce("backlog", 0, &records, Some(1_000));
    let b = StreamsBuilder::new();
    b.stream("backlog", Serdes::string(), Serdes::string())
        .filter(|_, v: &String| {
            // Slow enough that the backlog is seen.
            if v.ends_with("00") {
                std::thread::sleep(Duration::from_millis(3));
            }
            v.as_str() == "29999"
        })
        .to("backlog-out");
    let app = App::new(
        b.build().unwrap(),
        AppConfig {
            threads: 1,
            metrics_listen: Some("127.0.0.1:0".parse().unwrap()),
            ..config("lagging", &broker, &dir.path().join("state"))
        },
    )
    .start()
    .unwrap();
    let endpoint = app.metrics_addr().expect("the metrics endpoint runs");
    let lag_series =
        r#"eddy_streams_lag_records{application_id="lagging",topic="backlog",partition="0"}"#;
    let (mut max_lag, mut max_scraped_lag) = (0, 0.0f64);
    wait_for("the backlog processed", || {
        max_lag = max_lag.max(app.metrics().lag);
        if let Some(lag) = sample(&scrape(endpoint), lag_series) {
            max_scraped_lag = max_scraped_lag.max(lag);
        }
        broker.read("backlog-out").len() == 1
    });
    assert!(
        max_scraped_lag > 0.0,
        "the endpoint showed the backlog's lag: {max_scraped_lag}"
    );
    // More than one poll takes (10,000 records on Kafka): the broker-side lag counts too.
    assert!(
        max_lag > 10_000,
        "lag seen while the backlog lasted: {max_lag}"
    );
    assert!(max_lag <= 30_000, "lag {max_lag}");
    wait_for("no lag", || app.metrics().lag == 0);
    wait_for("the endpoint's counters", || {
        let text = scrape(endpoint);
        sample(&text, lag_series) == Some(0.0)
            && sample(
                &text,
                r#"eddy_streams_records_processed_total{application_id="lagging"}"#,
            ) == Some(30_000.0)
            && sample(
                &text,
                r#"eddy_streams_records_produced_total{application_id="lagging",topic="backlog-out"}"#,
            ) == Some(1.0)
    });
    // The same families as `metrics_text` (values move with every commit).
    let families = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.starts_with("# TYPE"))
            .map(String::from)
            .collect()
    };
    assert_eq!(families(&scrape(endpoint)), families(&app.metrics_text()));
    assert!(families(&app.metrics_text()).len() >= 10);
    app.stop().unwrap();
    // Stopped with the app.
    assert!(std::net::TcpStream::connect(endpoint).is_err());
}

/// `GET /metrics` from the app's metrics endpoint: the body of a 200 response.
fn scrape(addr: std::net::SocketAddr) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: eddy\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_string()
}

/// The value of the sample whose line starts with `series` (name and labels).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

/// `auto_offset_reset: Latest`: records written before the application first started are
/// not read; records written once it runs are.
fn latest_reset_skips_records_written_before_start(start: Start) {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(&dir.path().join("broker"));
    broker.create_topic("events", 1, false);
    broker.create_topic("events-out", 1, false);
    broker.produce("events", 0, &[("k", "old-1"), ("k", "old-2")], Some(1_000));
    let b = StreamsBuilder::new();
    b.stream("events", Serdes::string(), Serdes::string())
        .to("events-out");
    let app = App::new(
        b.build().unwrap(),
        AppConfig {
            threads: 1,
            auto_offset_reset: eddy_streams::runtime::OffsetReset::Latest,
            ..config("latest", &broker, &dir.path().join("state"))
        },
    )
    .start()
    .unwrap();
    // The consumer positions itself asynchronously: write until something arrives.
    let mut written = 0;
    wait_for("new records read", || {
        written += 1;
        broker.produce(
            "events",
            0,
            &[("k", &format!("new-{written}"))],
            Some(2_000),
        );
        std::thread::sleep(Duration::from_millis(20));
        !broker.read("events-out").is_empty()
    });
    let values: Vec<String> = broker
        .read("events-out")
        .into_iter()
        .filter_map(|(_, v)| v.map(|v| String::from_utf8_lossy(&v).into_owned()))
        .collect();
    assert!(
        values.iter().all(|v| v.starts_with("new-")),
        "read records written before the start: {values:?}"
    );
    app.stop().unwrap();
}

/// Changelog records of task 0_0's store in the restore test: enough that replaying them
/// takes many of the thread's restore slices.
const LONG_RESTORE_RECORDS: usize = 300_000;

/// Writes [`LONG_RESTORE_RECORDS`] counts of keys `old-<i>` to partition 0 of a count
/// store's changelog, as the store keeps them (big-endian i64).
fn write_long_changelog(broker: &TestBroker, changelog: &str) {
    let history: Vec<eddy_broker::NewRecord> = (0..LONG_RESTORE_RECORDS)
        .map(|i| eddy_broker::NewRecord {
            key: Some(format!("old-{i}").into_bytes().into()),
            value: Some(1i64.to_be_bytes().to_vec().into()),
            headers: Vec::new(),
            timestamp: Some(1_000),
        })
        .collect();
    for chunk in history.chunks(20_000) {
        broker.produce_records(changelog, 0, chunk);
    }
}

/// One thread with two tasks: task 0_0's store has a long changelog to restore, task 0_1's
/// none. The restore goes on between polls with 0_0's partition paused, so 0_1 processes
/// its input while 0_0 is still restoring; then 0_0 runs too, over its restored state.
fn a_long_restore_does_not_stall_the_threads_other_tasks(start: Start) {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(&dir.path().join("broker"));
    broker.create_topic("events", 2, false);
    broker.create_topic("events-out", 2, false);
    let changelog = eddy_streams::runtime::changelog_topic("restorer", "counts");
    broker.create_topic(&changelog, 2, true);
    write_long_changelog(&broker, &changelog);
    broker.produce(
        "events",
        1,
        &[("b", "x"), ("b", "x"), ("b", "x")],
        Some(1_000),
    );
    broker.produce("events", 0, &[("a", "x"), ("old-7", "x")], Some(1_000));
    let b = StreamsBuilder::new();
    b.stream("events", Serdes::string(), Serdes::string())
        .group_by_key()
        .count("counts")
        .to_stream()
        .to("events-out");
    let app = App::new(
        b.build().unwrap(),
        AppConfig {
            threads: 1,
            ..config("restorer", &broker, &dir.path().join("state"))
        },
    )
    .start()
    .unwrap();
    wait_for("task 0_1's counts", || {
        broker.latest_counts("events-out").get("b") == Some(&3)
    });
    let restored_then = app.metrics().restored_records;
    assert!(
        restored_then < LONG_RESTORE_RECORDS as u64,
        "task 0_1 ran only after task 0_0's restore ({restored_then} records restored)"
    );
    wait_for("task 0_0's counts", || {
        broker.latest_counts("events-out").get("a") == Some(&1)
    });
    assert!(app.metrics().restored_records >= LONG_RESTORE_RECORDS as u64);
    // Counted over the restored state.
    assert_eq!(broker.latest_counts("events-out").get("old-7"), Some(&2));
    assert!(app.is_running(), "{:?}", app.failure());
    app.stop().unwrap();
}

/// The members of consumer group `group` as the broker lists them (ids, sorted).
fn group_members(bootstrap: &str, group: &str) -> Vec<String> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let client: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .unwrap();
    let list = client
        .fetch_group_list(Some(group), Duration::from_secs(10))
        .unwrap();
    let mut ids: Vec<String> = list
        .groups()
        .iter()
        .flat_map(|g| g.members().iter().map(|m| m.id().to_string()))
        .collect();
    ids.sort();
    ids
}

/// The Kafka backend with a short `max.poll.interval.ms` (1.5 s; the broker allows sessions
/// that short here): a restore taking several times that keeps the stream thread in its
/// group, because it polls between restore slices. A thread that stopped polling for the
/// restore would be dropped from the group by librdkafka and rejoin as a new member.
#[test]
fn a_restore_longer_than_max_poll_interval_keeps_the_thread_in_its_group() {
    let dir = tempfile::tempdir().unwrap();
    let max_poll = Duration::from_millis(1500);
    let broker = TestBroker::kafka_with(
        &dir.path().join("broker"),
        eddy_broker::server::groups::GroupConfig {
            initial_rebalance_delay: Duration::from_millis(300),
            min_session_timeout: Duration::from_millis(500),
            ..Default::default()
        },
        &[
            ("session.timeout.ms", "1000"),
            ("heartbeat.interval.ms", "200"),
            ("max.poll.interval.ms", "1500"),
        ],
    );
    let bootstrap = broker
        .addr
        .clone()
        .expect("the Kafka backend has an address");
    broker.create_topic("events", 1, false);
    broker.create_topic("events-out", 1, false);
    let changelog = eddy_streams::runtime::changelog_topic("slow-restorer", "counts");
    broker.create_topic(&changelog, 1, true);
    write_long_changelog(&broker, &changelog);
    broker.produce("events", 0, &[("old-7", "x")], Some(1_000));
    let b = StreamsBuilder::new();
    b.stream("events", Serdes::string(), Serdes::string())
        .group_by_key()
        .count("counts")
        .to_stream()
        .to("events-out");
    let started = std::time::Instant::now();
    let app = App::new(
        b.build().unwrap(),
        AppConfig {
            threads: 1,
            ..config("slow-restorer", &broker, &dir.path().join("state"))
        },
    )
    .start()
    .unwrap();
    let mut members = Vec::new();
    wait_for("the thread in its group", || {
        members = group_members(&bootstrap, "slow-restorer");
        !members.is_empty()
    });
    assert!(
        app.metrics().restored_records < LONG_RESTORE_RECORDS as u64,
        "the restore ended before the group could be looked at"
    );
    wait_for("the restore", || {
        app.metrics().restored_records >= LONG_RESTORE_RECORDS as u64
    });
    let restore_took = started.elapsed();
    wait_for("the count over the restored state", || {
        broker.latest_counts("events-out").get("old-7") == Some(&2)
    });
    assert!(
        restore_took > max_poll * 2,
        "the restore took {restore_took:?}, too little to show anything against a \
         max.poll.interval.ms of {max_poll:?}"
    );
    assert_eq!(
        group_members(&bootstrap, "slow-restorer"),
        members,
        "the thread left its group during a {restore_took:?} restore and rejoined"
    );
    assert!(app.is_running(), "{:?}", app.failure());
    app.stop().unwrap();
}

on_each_backend!(
    a_long_restore_does_not_stall_the_threads_other_tasks,
    latest_reset_skips_records_written_before_start,
    word_count_runs_restarts_and_restores,
    start_up_errors_say_what_to_fix,
    global_table_join_needs_no_copartitioning,
    a_global_table_whose_topic_ends_in_a_transaction_marker_loads,
    stream_table_join_sees_older_table_rows_first,
    lag_counts_records_not_yet_processed,
);
