//! The command topic: statements that change what runs are recorded and replayed when the
//! service opens again; queries terminated before the restart stay terminated and never
//! run during the replay.

mod support;

use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use eddy_server::ServiceConfig;
use eddy_server::command_log::{Command, CommandLog, command_topic};
use eddy_server::service::KsqlRequest;
use eddy_sql::engine::{BrokerCluster, Cluster};
use serde_json::Value;
use support::{open_broker, open_service};

fn request(ksql: &str) -> KsqlRequest {
    KsqlRequest {
        ksql: ksql.to_string(),
        ..KsqlRequest::default()
    }
}

/// Records in `topic` now.
fn count(cluster: &dyn Cluster, topic: &str) -> Result<usize> {
    Ok(cluster.read(topic, usize::MAX)?.len())
}

async fn wait_for_count(cluster: &BrokerCluster, topic: &str, n: usize) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let cluster = cluster.clone();
        let name = topic.to_string();
        let have = tokio::task::spawn_blocking(move || count(&cluster, &name)).await??;
        if have == n {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "{topic} holds {have} records, expected {n}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_topic_brings_back_what_ran_and_nothing_else() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let broker = open_broker(&dir).await?;
    let cluster = BrokerCluster::new(broker.clone(), tokio::runtime::Handle::current());
    let (service, report) = open_service(&broker, &dir, ServiceConfig::default()).await?;
    assert_eq!(report.commands, 0);
    let service = std::sync::Arc::new(service);
    let run = |ksql: &'static str| {
        let service = service.clone();
        async move {
            tokio::task::spawn_blocking(move || service.execute(&request(ksql)))
                .await?
                .map_err(|e| anyhow::anyhow!("{}", e.body))
        }
    };
    run("CREATE STREAM clicks (id INT KEY, page STRING) \
             WITH (kafka_topic='clicks', partitions=1, value_format='JSON');
         CREATE STREAM kept AS SELECT id, page FROM clicks;
         CREATE STREAM stopped AS SELECT id, page AS p FROM clicks;
         CREATE STREAM scratch (id INT KEY) \
             WITH (kafka_topic='scratch', partitions=1, value_format='JSON');
         DROP STREAM scratch DELETE TOPIC;
         INSERT INTO clicks (id, page) VALUES (1, 'a');")
    .await?;
    wait_for_count(&cluster, "STOPPED", 1).await?;
    let terminated: Vec<Value> = run("TERMINATE CSAS_STOPPED_1;").await?;
    assert_eq!(
        terminated[0]["commandId"],
        "terminate/CSAS_STOPPED_1/execute"
    );
    wait_for_count(&cluster, "KEPT", 1).await?;
    {
        let service = service.clone();
        tokio::task::spawn_blocking(move || service.shutdown()).await?;
    }
    drop(service);

    // What was recorded: the statements that changed what runs, DROP without DELETE TOPIC.
    let log = CommandLog::open(
        std::sync::Arc::new(cluster.clone()),
        command_topic("default_"),
    )?;
    let recorded: Vec<String> = log
        .read_all()?
        .into_iter()
        .map(|(_, Command { statement, .. })| statement)
        .collect();
    assert_eq!(recorded.len(), 6, "{recorded:#?}");
    assert_eq!(recorded[4], "DROP STREAM `SCRATCH`;");
    assert_eq!(recorded[5], "TERMINATE CSAS_STOPPED_1;");

    // Reopened: the catalog and the kept query are back; the terminated query is not, and
    // rows written now reach only the kept one.
    let (service, report) = open_service(&broker, &dir, ServiceConfig::default()).await?;
    assert_eq!((report.commands, report.queries), (6, 1), "{report:?}");
    assert!(report.failures.is_empty(), "{report:?}");
    let queries: Vec<String> = service.with_engine(|e| e.queries().keys().cloned().collect());
    assert_eq!(queries, ["CSAS_KEPT_0"]);
    let service = std::sync::Arc::new(service);
    let svc = service.clone();
    let listed = tokio::task::spawn_blocking(move || {
        svc.execute(&request(
            "SHOW STREAMS; INSERT INTO clicks (id, page) VALUES (2, 'b');",
        ))
    })
    .await?
    .map_err(|e| anyhow::anyhow!("{}", e.body))?;
    let names: Vec<&str> = listed[0]["streams"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, ["CLICKS", "KEPT", "STOPPED"]);
    wait_for_count(&cluster, "KEPT", 2).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(count(&cluster, "STOPPED")?, 1);
    // The sequence goes on from the replayed commands.
    let svc = service.clone();
    let next = tokio::task::spawn_blocking(move || {
        svc.execute(&request("CREATE STREAM more AS SELECT * FROM clicks;"))
    })
    .await?
    .map_err(|e| anyhow::anyhow!("{}", e.body))?;
    assert_eq!(next[0]["commandSequenceNumber"], 6);
    assert_eq!(next[0]["commandStatus"]["queryId"], "CSAS_MORE_2");
    tokio::task::spawn_blocking(move || service.shutdown()).await?;
    broker.shutdown().await?;
    Ok(())
}

/// `SHOW QUERIES`' state of each query.
fn states(service: &eddy_server::KsqlService) -> Result<Vec<(String, String)>> {
    let listed = service
        .execute(&request("SHOW QUERIES;"))
        .map_err(|e| anyhow::anyhow!("{}", e.body))?;
    Ok(listed[0]["queries"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|q| {
            (
                q["id"].as_str().unwrap_or_default().to_string(),
                q["state"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_query_stays_paused_across_a_restart_and_resumes_where_it_stopped() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let broker = open_broker(&dir).await?;
    let cluster = BrokerCluster::new(broker.clone(), tokio::runtime::Handle::current());
    let (service, _) = open_service(&broker, &dir, ServiceConfig::default()).await?;
    let service = std::sync::Arc::new(service);
    let run = |service: &std::sync::Arc<eddy_server::KsqlService>, ksql: String| {
        let service = service.clone();
        async move {
            tokio::task::spawn_blocking(move || service.execute(&request(&ksql)))
                .await?
                .map_err(|e| anyhow::anyhow!("{}", e.body))
        }
    };
    run(
        &service,
        "CREATE STREAM clicks (id INT KEY, page STRING) \
             WITH (kafka_topic='clicks', partitions=1, value_format='JSON');
         CREATE STREAM copied AS SELECT id, page FROM clicks;
         INSERT INTO clicks (id, page) VALUES (1, 'a');"
            .into(),
    )
    .await?;
    wait_for_count(&cluster, "COPIED", 1).await?;
    let paused = run(&service, "PAUSE csas_copied_0;".into()).await?;
    assert_eq!(
        paused[0]["commandId"], "pause/CSAS_COPIED_0/execute",
        "{paused:?}"
    );
    assert_eq!(paused[0]["commandStatus"]["message"], "Query paused.");
    let svc = service.clone();
    let listed = tokio::task::spawn_blocking(move || states(&svc)).await??;
    assert_eq!(
        listed,
        [("CSAS_COPIED_0".to_string(), "PAUSED".to_string())]
    );
    run(
        &service,
        "INSERT INTO clicks (id, page) VALUES (2, 'b');".into(),
    )
    .await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(count(&cluster, "COPIED")?, 1, "a paused query wrote");

    // Restarted: the PAUSE was recorded, so the query is back paused.
    let svc = service.clone();
    tokio::task::spawn_blocking(move || svc.shutdown()).await?;
    drop(service);
    let (service, report) = open_service(&broker, &dir, ServiceConfig::default()).await?;
    assert!(report.failures.is_empty(), "{report:?}");
    let service = std::sync::Arc::new(service);
    let svc = service.clone();
    let listed = tokio::task::spawn_blocking(move || states(&svc)).await??;
    assert_eq!(
        listed,
        [("CSAS_COPIED_0".to_string(), "PAUSED".to_string())]
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        count(&cluster, "COPIED")?,
        1,
        "a paused query wrote after the restart"
    );

    // RESUME: the row written while it was paused comes through, once.
    let resumed = run(&service, "RESUME ALL;".into()).await?;
    assert_eq!(resumed[0]["commandId"], "resume/ALL/execute");
    wait_for_count(&cluster, "COPIED", 2).await?;
    let svc = service.clone();
    let listed = tokio::task::spawn_blocking(move || states(&svc)).await??;
    assert_eq!(
        listed,
        [("CSAS_COPIED_0".to_string(), "RUNNING".to_string())]
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(count(&cluster, "COPIED")?, 2);
    tokio::task::spawn_blocking(move || service.shutdown()).await?;
    broker.shutdown().await?;
    Ok(())
}
