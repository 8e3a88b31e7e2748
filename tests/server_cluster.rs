//! Two `eddy server start --bootstrap-servers` processes with one service id, on one Kafka
//! cluster (an Eddy broker's protocol server on loopback): a stream and a persistent
//! query created through one server run on both, their consumer group shares the input's
//! partitions between them, and when the first server stops the second takes its
//! partitions over, state restored from the changelog, so every row is counted once.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use serde_json::{Value, json};
use support::sql_server::{ServerProcess, query_metric};

const QUERY: &str = "CTAS_PER_USER_0";

fn start(dir: &Path, name: &str, bootstrap: &str) -> Result<ServerProcess> {
    let data = dir.join(name);
    let config = dir.join("server.toml");
    ServerProcess::start(
        dir,
        &[
            "--bootstrap-servers".as_ref(),
            bootstrap.as_ref(),
            "--service-id".as_ref(),
            "shared_".as_ref(),
            "--data-dir".as_ref(),
            data.as_os_str(),
            "--config".as_ref(),
            config.as_os_str(),
        ],
    )
}

/// The table's rows through a pull query on `server`.
async fn counts(client: &reqwest::Client, server: &ServerProcess) -> Result<BTreeMap<String, i64>> {
    let response = client
        .post(format!("{}/query-stream", server.base))
        .header("Accept", "application/json")
        .body(json!({"sql": "SELECT user, n FROM per_user;"}).to_string())
        .send()
        .await?;
    ensure!(response.status().is_success(), "{}", response.text().await?);
    let answer: Value = response.json().await?;
    let rows = answer.as_array().map(|a| &a[1..]).unwrap_or_default();
    Ok(rows
        .iter()
        .filter_map(|r| Some((r[0].as_str()?.to_string(), r[1].as_i64()?)))
        .collect())
}

/// Waits until `server`'s pull query shows `want`.
async fn counts_reach(
    client: &reqwest::Client,
    server: &ServerProcess,
    want: &BTreeMap<String, i64>,
) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let got = counts(client, server).await?;
        if got == *want {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "counts {got:?}, expected {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn insert(client: &reqwest::Client, server: &ServerProcess, user: &str) -> Result<()> {
    server
        .ksql(
            client,
            &format!("INSERT INTO clicks (user, page) VALUES ('{user}', 'p');"),
        )
        .await?;
    Ok(())
}

#[test]
fn servers_with_one_service_id_share_and_take_over_the_queries() -> Result<()> {
    let kafka = support::TestServer::start()?;
    let dir = tempfile::tempdir()?;
    std::fs::write(
        dir.path().join("server.toml"),
        "[properties]\n\"auto.offset.reset\" = \"earliest\"\n\"commit.interval.ms\" = \"100\"\n",
    )?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    runtime.block_on(async {
        let bootstrap = kafka.bootstrap();
        let mut first = start(dir.path(), "first", &bootstrap)?;
        let second = start(dir.path(), "second", &bootstrap)?;
        first
            .ksql(
                &client,
                "CREATE STREAM clicks (user STRING KEY, page STRING) \
                     WITH (kafka_topic='clicks', partitions=2, value_format='JSON');
                 CREATE TABLE per_user AS SELECT user, COUNT(*) AS n FROM clicks GROUP BY user;",
            )
            .await?;
        // The second server follows the command topic: the query runs there too.
        let queries = second.ksql(&client, "SHOW QUERIES;").await?;
        assert_eq!(queries[0]["queries"][0]["id"], QUERY, "{queries}");

        // Rows go in until both servers have read some: the group shares the partitions.
        let users: Vec<String> = (0..8).map(|i| format!("u{i}")).collect();
        let mut want: BTreeMap<String, i64> = BTreeMap::new();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            for (i, user) in users.iter().enumerate() {
                let server = if i % 2 == 0 { &first } else { &second };
                insert(&client, server, user).await?;
                *want.entry(user.clone()).or_default() += 1;
            }
            counts_reach(&client, &second, &want).await?;
            let read = |scrape: &str| {
                query_metric(scrape, "eddy_query_records_in_total", QUERY).unwrap_or(0.0)
            };
            let (a, b) = (
                read(&first.metrics(&client).await?),
                read(&second.metrics(&client).await?),
            );
            if a > 0.0 && b > 0.0 {
                // Shared, not each reading everything: every row was read once in all.
                let total: i64 = want.values().sum();
                let settle = Instant::now() + Duration::from_secs(30);
                let (mut a, mut b) = (a, b);
                while a + b != total as f64 && Instant::now() < settle {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    a = read(&first.metrics(&client).await?);
                    b = read(&second.metrics(&client).await?);
                }
                assert_eq!(
                    a + b,
                    total as f64,
                    "rows read by the two servers: {a} and {b}"
                );
                break;
            }
            ensure!(
                Instant::now() < deadline,
                "one server read every row: {a} and {b}"
            );
            tokio::time::sleep(Duration::from_secs(1)).await;
        }

        // The first server stops; the second takes its partitions and their state over.
        first.signal("TERM")?;
        ensure!(first.wait()?.success(), "the first server failed to stop");
        for user in &users {
            insert(&client, &second, user).await?;
            *want.entry(user.clone()).or_default() += 1;
        }
        counts_reach(&client, &second, &want).await?;
        second.signal("TERM")?;
        Ok(())
    })
}
