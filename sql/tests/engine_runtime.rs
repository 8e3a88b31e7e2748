//! The engine end to end on both backends (see `common`): DDL and `INSERT ... VALUES`
//! through the cluster, persistent queries (filter, aggregation, stream-table join) run
//! as applications whose outputs are read back from the broker, push queries with and
//! without `LIMIT`, the listings and descriptions, and `TERMINATE` (with its clean-up).

#[macro_use]
mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{Start, TestEngine, wait_for};

use eddy_sql::engine::StatementResult;
use eddy_sql::value::Value;

const PAGEVIEWS: &str = "
    CREATE STREAM pageviews (user_id STRING KEY, page STRING, region STRING)
      WITH (kafka_topic='pageviews', value_format='JSON', partitions=2);
    INSERT INTO pageviews (user_id, page, region) VALUES ('u1', '/home', 'eu');
    INSERT INTO pageviews (user_id, page, region) VALUES ('u2', '/cart', 'us');
    INSERT INTO pageviews (user_id, page, region) VALUES ('u3', '/home', 'eu');
    INSERT INTO pageviews (user_id, page, region) VALUES ('u1', '/pay', 'eu');
";

fn json_map(entries: &[(&str, &str)]) -> BTreeMap<String, String> {
    entries
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn persistent_queries_run_and_terminate(start: Start) {
    let dir = tempfile::tempdir().unwrap();
    let mut t = start(dir.path());
    t.run(PAGEVIEWS);
    t.run(
        "CREATE TABLE views_per_region AS
           SELECT region, COUNT(*) AS views FROM pageviews GROUP BY region EMIT CHANGES;",
    );
    t.run("CREATE STREAM eu_views AS SELECT user_id, page FROM pageviews WHERE region = 'eu';");
    t.run(
        "CREATE TABLE customers (id STRING PRIMARY KEY, name STRING)
           WITH (kafka_topic='customers', value_format='JSON', partitions=2);
         CREATE STREAM orders (order_id INT KEY, customer STRING, amount DOUBLE)
           WITH (kafka_topic='orders', value_format='JSON', partitions=2);
         INSERT INTO customers (id, name) VALUES ('c1', 'Ada');
         INSERT INTO customers (id, name) VALUES ('c2', 'Grace');",
    );
    // The table rows are written before the orders, with earlier timestamps.
    std::thread::sleep(Duration::from_millis(20));
    t.run(
        "CREATE STREAM enriched AS
           SELECT o.customer, o.order_id, c.name, o.amount
           FROM orders o JOIN customers c ON o.customer = c.id;
         INSERT INTO orders (order_id, customer, amount) VALUES (1, 'c1', 9.5);
         INSERT INTO orders (order_id, customer, amount) VALUES (2, 'c2', 20.0);",
    );
    wait_for("views per region", || {
        t.latest("VIEWS_PER_REGION")
            == json_map(&[("eu", r#"{"VIEWS":3}"#), ("us", r#"{"VIEWS":1}"#)])
    });
    wait_for("european views", || t.values("EU_VIEWS").len() == 3);
    let mut pages: Vec<String> = t.values("EU_VIEWS").into_iter().flatten().collect();
    pages.sort();
    assert_eq!(
        pages,
        [
            r#"{"PAGE":"/home"}"#,
            r#"{"PAGE":"/home"}"#,
            r#"{"PAGE":"/pay"}"#
        ]
    );
    wait_for("enriched orders", || {
        t.latest("ENRICHED")
            == json_map(&[
                ("c1", r#"{"ORDER_ID":1,"NAME":"Ada","AMOUNT":9.5}"#),
                ("c2", r#"{"ORDER_ID":2,"NAME":"Grace","AMOUNT":20.0}"#),
            ])
    });

    let results = t.engine.execute("SHOW QUERIES;").unwrap();
    let StatementResult::Queries(queries) = &results[0] else {
        panic!("SHOW QUERIES gave {results:?}")
    };
    let ids: Vec<&str> = queries.iter().map(|q| q.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "CSAS_ENRICHED_2",
            "CSAS_EU_VIEWS_1",
            "CTAS_VIEWS_PER_REGION_0"
        ]
    );
    assert!(queries.iter().all(|q| q.state == "RUNNING"), "{queries:?}");

    let results = t.engine.execute("DESCRIBE views_per_region;").unwrap();
    let StatementResult::Source(description) = &results[0] else {
        panic!("DESCRIBE gave {results:?}")
    };
    let writers: Vec<&str> = description
        .write_queries
        .iter()
        .map(|q| q.id.as_str())
        .collect();
    assert_eq!(writers, ["CTAS_VIEWS_PER_REGION_0"]);
    let fields: Vec<(String, Option<String>)> = description
        .fields
        .iter()
        .map(|f| (format!("{} {}", f.name, f.ty), f.kind.clone()))
        .collect();
    assert_eq!(
        fields,
        [
            ("REGION STRING".to_string(), Some("PRIMARY KEY".to_string())),
            ("VIEWS BIGINT".to_string(), None)
        ]
    );

    // Dropping a source a query writes is refused until the query is terminated.
    let err = t.engine.execute("DROP STREAM eu_views;").unwrap_err();
    assert!(err.to_string().contains("CSAS_EU_VIEWS_1"), "{err}");
    t.run("TERMINATE CSAS_EU_VIEWS_1; DROP STREAM eu_views;");
    let results = t.engine.execute("SHOW QUERIES;").unwrap();
    let StatementResult::Queries(queries) = &results[0] else {
        panic!()
    };
    assert_eq!(queries.len(), 2);

    // TERMINATE removes what was the queries' alone: internal topics, local state and
    // consumer groups.
    let internal = |t: &TestEngine| -> Vec<String> {
        let mut topics = t.engine.cluster().topics().unwrap();
        topics.retain(|name| name.starts_with("_confluent-ksql-default_query_"));
        topics.sort();
        topics
    };
    let state = dir.path().join("state");
    let app_dir = state.join("_confluent-ksql-default_query_CTAS_VIEWS_PER_REGION_0");
    let kept = internal(&t);
    assert!(
        kept.iter()
            .any(|name| name.contains("CTAS_VIEWS_PER_REGION_0")),
        "the aggregation has internal topics: {kept:?}"
    );
    assert!(app_dir.is_dir(), "the aggregation keeps local state");
    let group = "_confluent-ksql-default_query_CTAS_VIEWS_PER_REGION_0";
    wait_for("the aggregation's offsets committed", || {
        !t.broker().group_offsets(group).is_empty()
    });
    t.run("TERMINATE ALL;");
    assert_eq!(internal(&t), Vec::<String>::new());
    assert!(!app_dir.exists(), "{} is left", app_dir.display());
    let offsets = t.broker().group_offsets(group);
    assert!(
        offsets.is_empty(),
        "the group's offsets are left: {offsets:?}"
    );
    let topics = t.engine.cluster().topics().unwrap();
    assert!(
        topics.iter().any(|name| name == "VIEWS_PER_REGION"),
        "output topics stay: {topics:?}"
    );
}

fn push_queries_stream_rows_until_closed_or_limited(start: Start) {
    let dir = tempfile::tempdir().unwrap();
    let mut t = start(dir.path());
    t.run(PAGEVIEWS);
    let mut limited = t
        .engine
        .push_query("SELECT user_id, page FROM pageviews WHERE region = 'eu' EMIT CHANGES LIMIT 2;")
        .unwrap();
    let columns: Vec<&str> = limited.columns().iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(columns, ["USER_ID", "PAGE"]);
    let mut rows = Vec::new();
    while !limited.is_complete() {
        if let Some(row) = limited.next_row(Duration::from_secs(60)).unwrap() {
            rows.push(row.values);
        } else {
            panic!("no row within 60 s; got {rows:?}");
        }
    }
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter()
            .all(|r| r[0] == Value::String("u1".into()) || r[0] == Value::String("u3".into())),
        "{rows:?}"
    );
    limited.close().unwrap();

    let mut counts = t
        .engine
        .push_query("SELECT region, COUNT(*) AS n FROM pageviews GROUP BY region EMIT CHANGES;")
        .unwrap();
    let mut latest = BTreeMap::new();
    wait_for("the counts of both regions", || {
        while let Some(row) = counts.next_row(Duration::from_millis(50)).unwrap() {
            latest.insert(row.values[0].to_string(), row.values[1].clone());
        }
        latest.get("eu") == Some(&Value::BigInt(3)) && latest.get("us") == Some(&Value::BigInt(1))
    });
    // New input reaches a running push query.
    t.run("INSERT INTO pageviews (user_id, page, region) VALUES ('u4', '/home', 'us');");
    wait_for("the new row counted", || {
        while let Some(row) = counts.next_row(Duration::from_millis(50)).unwrap() {
            latest.insert(row.values[0].to_string(), row.values[1].clone());
        }
        latest.get("us") == Some(&Value::BigInt(2))
    });
    drop(counts);
}

fn explain_and_bad_statements(start: Start) {
    let dir = tempfile::tempdir().unwrap();
    let mut t = start(dir.path());
    t.run(PAGEVIEWS);
    let results = t
        .engine
        .execute("EXPLAIN SELECT region, COUNT(*) FROM pageviews GROUP BY region EMIT CHANGES;")
        .unwrap();
    let StatementResult::Query(plan) = &results[0] else {
        panic!("EXPLAIN gave {results:?}")
    };
    assert_eq!(plan.sources, ["PAGEVIEWS"]);
    assert!(
        plan.topology.contains("KSTREAM-SOURCE"),
        "{}",
        plan.topology
    );
    assert!(plan.topology.contains("repartition"), "{}", plan.topology);
    // Bad SQL names the line and column and what was expected; nothing is created.
    let err = t
        .engine
        .execute("CREATE STREAM s AS\n  SELECT region FROM pageviews WHER region = 'eu';")
        .unwrap_err();
    assert!(err.to_string().starts_with("line 2:"), "{err}");
    let err = t
        .engine
        .execute("CREATE STREAM s AS SELECT nope FROM pageviews;")
        .unwrap_err();
    assert!(
        err.to_string().contains("'NOPE' cannot be resolved"),
        "{err}"
    );
    assert!(t.engine.source("S").is_none());
}

/// A pull query's rows, sorted, as text.
fn pull(t: &mut TestEngine, sql: &str) -> Vec<String> {
    let result = t
        .engine
        .pull_query(sql)
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let mut rows: Vec<String> = result
        .rows
        .iter()
        .map(|r| {
            r.iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    rows.sort();
    rows
}

fn pull_queries_answer_from_tables_and_streams(start: Start) {
    let dir = tempfile::tempdir().unwrap();
    let mut t = start(dir.path());
    t.run(PAGEVIEWS);
    t.run(
        "CREATE TABLE views_per_region AS
           SELECT region, COUNT(*) AS views FROM pageviews GROUP BY region;
         CREATE STREAM clicks (user STRING KEY, page STRING)
           WITH (kafka_topic='clicks', value_format='JSON', partitions=2);
         INSERT INTO clicks (ROWTIME, user, page) VALUES (1000, 'u1', 'a');
         INSERT INTO clicks (ROWTIME, user, page) VALUES (2000, 'u1', 'b');
         INSERT INTO clicks (ROWTIME, user, page) VALUES (3000, 'u2', 'c');
         INSERT INTO clicks (ROWTIME, user, page) VALUES (3700000, 'u1', 'd');
         CREATE TABLE clicks_per_hour AS
           SELECT user, COUNT(*) AS n FROM clicks WINDOW TUMBLING (SIZE 1 HOUR) GROUP BY user;",
    );
    wait_for("views per region", || {
        pull(&mut t, "SELECT * FROM views_per_region;") == ["eu,3", "us,1"]
    });
    let columns: Vec<String> = t
        .engine
        .pull_query("SELECT * FROM views_per_region WHERE region = 'eu';")
        .unwrap()
        .columns
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(columns, ["REGION", "VIEWS"]);
    // Key lookups, IN lists, filters on any column, expressions.
    assert_eq!(
        pull(
            &mut t,
            "SELECT * FROM views_per_region WHERE region = 'eu';"
        ),
        ["eu,3"]
    );
    assert_eq!(
        pull(
            &mut t,
            "SELECT region FROM views_per_region WHERE region IN ('us', 'mars');"
        ),
        ["us"]
    );
    assert_eq!(
        pull(
            &mut t,
            "SELECT region, views * 10 AS tens FROM views_per_region WHERE views > 1;"
        ),
        ["eu,30"]
    );
    assert_eq!(
        pull(
            &mut t,
            "SELECT * FROM views_per_region WHERE region = 'mars';"
        ),
        Vec::<String>::new()
    );
    // A windowed table: a key's windows, bounded by WINDOWSTART.
    wait_for("clicks per hour", || {
        pull(
            &mut t,
            "SELECT user, WINDOWSTART AS ws, n FROM clicks_per_hour WHERE user = 'u1';",
        ) == ["u1,0,2", "u1,3600000,1"]
    });
    assert_eq!(
        pull(
            &mut t,
            "SELECT user, n FROM clicks_per_hour WHERE user = 'u1' AND WINDOWSTART >= 3600000;"
        ),
        ["u1,1"]
    );
    assert_eq!(
        pull(&mut t, "SELECT user, n FROM clicks_per_hour;"),
        ["u1,1", "u1,2", "u2,1"]
    );
    // Streams are scanned to their end; LIMIT stops the scan.
    assert_eq!(
        pull(
            &mut t,
            "SELECT user_id, page FROM pageviews WHERE region = 'eu';"
        ),
        ["u1,/home", "u1,/pay", "u3,/home"]
    );
    assert_eq!(
        t.engine
            .pull_query("SELECT * FROM pageviews LIMIT 2;")
            .unwrap()
            .rows
            .len(),
        2
    );
    // A change written before the query is in its answer.
    t.run("INSERT INTO pageviews (user_id, page, region) VALUES ('u9', '/x', 'us');");
    wait_for("the new view counted", || {
        pull(
            &mut t,
            "SELECT * FROM views_per_region WHERE region = 'us';",
        ) == ["us,2"]
    });
    let err = t
        .engine
        .pull_query("SELECT region, COUNT(*) FROM pageviews GROUP BY region;")
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("Pull queries don't support GROUP BY clauses."),
        "{err}"
    );
    let err = t.engine.pull_query("SELECT * FROM nowhere;").unwrap_err();
    assert!(err.to_string().contains("NOWHERE does not exist"), "{err}");
    t.run("TERMINATE ALL;");
}

/// `processing.guarantee = exactly_once_v2`: a persistent query's application commits in
/// transactions, and its output is read back `read_committed`, whole.
fn exactly_once_queries_commit_in_transactions(start: Start) {
    let dir = tempfile::tempdir().unwrap();
    let mut t = start(dir.path());
    t.run("SET 'processing.guarantee'='exactly_once_v2';");
    t.run(PAGEVIEWS);
    t.run(
        "CREATE TABLE views_per_region AS
           SELECT region, COUNT(*) AS views FROM pageviews GROUP BY region EMIT CHANGES;",
    );
    wait_for("views per region", || {
        t.latest("VIEWS_PER_REGION")
            == json_map(&[("eu", r#"{"VIEWS":3}"#), ("us", r#"{"VIEWS":1}"#)])
    });
    let broker = t.broker().clone();
    let handle = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let transactions = handle.block_on(broker.list_transactions());
    // The query's stream thread, `<application id>-<process id>-<thread>`, committed.
    assert!(
        transactions.iter().any(|m| m
            .transactional_id
            .contains("query_CTAS_VIEWS_PER_REGION_0-")
            && m.status.name() == "CompleteCommit"),
        "no transaction of the query committed: {transactions:?}"
    );
    t.run("TERMINATE ALL;");
    let err = t
        .engine
        .execute(
            "SET 'processing.guarantee'='twice';
             CREATE STREAM again AS SELECT * FROM pageviews;",
        )
        .unwrap_err();
    assert!(err.to_string().contains("processing.guarantee"), "{err}");
}

on_each_backend!(
    exactly_once_queries_commit_in_transactions,
    persistent_queries_run_and_terminate,
    push_queries_stream_rows_until_closed_or_limited,
    pull_queries_answer_from_tables_and_streams,
    explain_and_bad_statements,
);
