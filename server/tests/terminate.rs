//! `POST /ksql/terminate` (ksqlDB's `TERMINATE CLUSTER`) over a real socket and a real
//! broker: what it removes (queries with their internal topics and local state, the
//! query-made topics the request names, the command topic), what it keeps (topics the user
//! made, query-made topics not named), the server's answers afterwards, and a termination
//! cut short before it finished, completed at the next start.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use eddy_server::ServiceConfig;
use eddy_server::command_log::{Command, CommandLog, command_topic};
use eddy_server::service::TERMINATE_CLUSTER;
use eddy_sql::engine::{BrokerCluster, Cluster};
use serde_json::{Value, json};
use support::{TestServer, http1, open_broker, open_service};

const SETUP: &str = "CREATE STREAM pageviews (user_id STRING KEY, page STRING) \
        WITH (kafka_topic='pageviews', partitions=1, value_format='JSON'); \
    CREATE STREAM upper_pages AS SELECT user_id, UCASE(page) AS page FROM pageviews; \
    CREATE TABLE page_counts AS SELECT page, COUNT(*) AS n FROM pageviews GROUP BY page; \
    CREATE TYPE address AS STRUCT<street STRING, city STRING>; \
    INSERT INTO pageviews (user_id, page) VALUES ('u1', 'home'); \
    INSERT INTO pageviews (user_id, page) VALUES ('u2', 'cart');";

/// The prefix of every query's internal topics (changelogs, repartition topics).
const INTERNAL: &str = "_confluent-ksql-default_query_";

async fn topics(cluster: &BrokerCluster) -> Result<Vec<String>> {
    let cluster = cluster.clone();
    let mut names = tokio::task::spawn_blocking(move || cluster.topics()).await??;
    names.sort();
    Ok(names)
}

/// Waits until `topic` holds `n` records.
async fn wait_for_records(cluster: &BrokerCluster, topic: &str, n: usize) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (c, t) = (cluster.clone(), topic.to_string());
        let have = tokio::task::spawn_blocking(move || c.read(&t, usize::MAX))
            .await?
            .map_or(0, |records| records.len());
        if have >= n {
            return Ok(());
        }
        ensure!(Instant::now() < deadline, "{topic} holds {have} of {n}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The query state directories under the test's state dir.
fn state_dirs(dir: &tempfile::TempDir) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.path().join("state"))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

async fn post(client: &reqwest::Client, url: String, body: Value) -> Result<(u16, Value)> {
    let response = client.post(url).json(&body).send().await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminating_the_cluster_removes_the_queries_and_only_the_topics_asked_for() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let server = TestServer::start(&dir, ServiceConfig::default()).await?;
    let cluster = BrokerCluster::new(server.broker.clone(), tokio::runtime::Handle::current());
    let client = http1();
    let (status, created) = server.ksql(&client, SETUP).await?;
    assert_eq!(status, 200, "{created}");
    wait_for_records(&cluster, "UPPER_PAGES", 2).await?;
    wait_for_records(&cluster, "PAGE_COUNTS", 2).await?;
    let before = topics(&cluster).await?;
    for topic in [
        "pageviews",
        "UPPER_PAGES",
        "PAGE_COUNTS",
        "_confluent-ksql-default__command_topic",
    ] {
        assert!(
            before.iter().any(|t| t == topic),
            "{topic} not in {before:?}"
        );
    }
    assert!(
        before.iter().any(|t| t.starts_with(INTERNAL)),
        "the aggregation has a changelog: {before:?}"
    );
    assert_eq!(
        state_dirs(&dir),
        ["_confluent-ksql-default_query_CTAS_PAGE_COUNTS_1"],
        "the aggregation keeps local state"
    );

    // A pattern that is not a regular expression is refused, and nothing happens.
    let (status, refused) = post(
        &client,
        server.url("/ksql/terminate"),
        json!({"deleteTopicList": ["UPPER_(PAGES"]}),
    )
    .await?;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["error_code"], 40000);
    assert_eq!(refused["message"], "Invalid pattern: UPPER_(PAGES");
    let (status, listed) = server.ksql(&client, "SHOW QUERIES;").await?;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed[0]["queries"].as_array().map(Vec::len), Some(2));

    // `pageviews` matches too, but the user made it: only query-made topics go.
    let (status, answer) = post(
        &client,
        server.url("/ksql/terminate"),
        json!({"deleteTopicList": ["UPPER.*", "pageviews"]}),
    )
    .await?;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer[0]["@type"], "currentStatus", "{answer}");
    assert_eq!(answer[0]["statementText"], TERMINATE_CLUSTER);
    assert_eq!(answer[0]["commandId"], "cluster/TerminateCluster/terminate");
    assert_eq!(answer[0]["commandStatus"]["status"], "SUCCESS");

    let after = topics(&cluster).await?;
    let expected: Vec<String> = before
        .iter()
        .filter(|t| {
            !t.starts_with(INTERNAL)
                && *t != "UPPER_PAGES"
                && *t != "_confluent-ksql-default__command_topic"
        })
        .cloned()
        .collect();
    assert_eq!(after, expected, "before: {before:?}");
    assert!(after.iter().any(|t| t == "PAGE_COUNTS") && after.iter().any(|t| t == "pageviews"));
    assert_eq!(
        state_dirs(&dir),
        Vec::<String>::new(),
        "local state removed"
    );

    // Terminated: statements, queries and inserts get ksqlDB's 503.
    let (status, refused) = server.ksql(&client, "SHOW STREAMS;").await?;
    assert_eq!(
        (status, &refused["error_code"]),
        (503, &json!(50304)),
        "{refused}"
    );
    assert_eq!(refused["message"], "The server is shut down");
    let (status, refused) = post(
        &client,
        server.url("/query-stream"),
        json!({"sql": "SELECT * FROM pageviews EMIT CHANGES;"}),
    )
    .await?;
    assert_eq!(
        (status, &refused["error_code"]),
        (503, &json!(50304)),
        "{refused}"
    );
    let (status, again) = post(&client, server.url("/ksql/terminate"), json!({})).await?;
    assert_eq!(
        (status, &again["error_code"]),
        (503, &json!(50304)),
        "{again}"
    );

    // A restart (a new service on the same broker) begins a new, empty cluster.
    let (service, report) = open_service(&server.broker, &dir, ServiceConfig::default()).await?;
    assert_eq!((report.commands, report.queries), (0, 0), "{report:?}");
    assert!(service.with_engine(|e| e.metastore().sources().next().is_none()));
    tokio::task::spawn_blocking(move || service.shutdown()).await?;
    server.stop().await?;
    Ok(())
}

/// A server killed after recording the termination but before finishing it: the next start
/// replays what came before the command (so it knows what to remove), finishes the job, and
/// starts empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_termination_cut_short_is_finished_at_the_next_start() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let broker = open_broker(&dir).await?;
    let cluster = BrokerCluster::new(broker.clone(), tokio::runtime::Handle::current());
    let (service, _) = open_service(&broker, &dir, ServiceConfig::default()).await?;
    let service = Arc::new(service);
    let svc = service.clone();
    tokio::task::spawn_blocking(move || {
        svc.execute(&eddy_server::service::KsqlRequest {
            ksql: SETUP.to_string(),
            ..Default::default()
        })
    })
    .await?
    .map_err(|e| anyhow::anyhow!("{}", e.body))?;
    wait_for_records(&cluster, "PAGE_COUNTS", 2).await?;
    let svc = service.clone();
    tokio::task::spawn_blocking(move || svc.shutdown()).await?;
    drop(service);

    // What `/ksql/terminate` records first, with nothing done after it.
    let log = CommandLog::open(Arc::new(cluster.clone()), command_topic("default_"))?;
    log.append(
        "cluster/TerminateCluster/terminate",
        &Command {
            statement: TERMINATE_CLUSTER.to_string(),
            properties: [("deleteTopicList".to_string(), r#"["PAGE_.*"]"#.to_string())].into(),
            origin: Some("a server that was killed".to_string()),
        },
    )?;
    let before = topics(&cluster).await?;
    assert!(before.iter().any(|t| t.starts_with(INTERNAL)), "{before:?}");

    let (service, report) = open_service(&broker, &dir, ServiceConfig::default()).await?;
    assert_eq!(report.queries, 0, "{report:?}");
    assert!(report.failures.is_empty(), "{report:?}");
    assert!(service.with_engine(|e| e.metastore().sources().next().is_none()));
    let after = topics(&cluster).await?;
    let expected: Vec<String> = before
        .iter()
        .filter(|t| !t.starts_with(INTERNAL) && *t != "PAGE_COUNTS")
        .cloned()
        .collect();
    assert_eq!(after, expected, "before: {before:?}");
    let log = CommandLog::open(Arc::new(cluster.clone()), command_topic("default_"))?;
    assert!(log.read_all()?.is_empty(), "a new command topic");
    assert_eq!(state_dirs(&dir), Vec::<String>::new());

    // The new cluster works: a statement is recorded and runs.
    let service = Arc::new(service);
    let svc = service.clone();
    let created = tokio::task::spawn_blocking(move || {
        svc.execute(&eddy_server::service::KsqlRequest {
            ksql: SETUP.to_string(),
            ..Default::default()
        })
    })
    .await?
    .map_err(|e| anyhow::anyhow!("{}", e.body))?;
    assert_eq!(created.len(), 4, "{created:?}");
    assert_eq!(log.read_all()?.len(), 4);
    let svc = service.clone();
    tokio::task::spawn_blocking(move || svc.shutdown()).await?;
    broker.shutdown().await?;
    Ok(())
}
