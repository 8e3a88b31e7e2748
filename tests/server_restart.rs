//! `eddy server start` as a child process, SIGKILLed and started again on its data
//! directory: the persistent queries come back from the command topic, resume from their
//! committed offsets with their state restored, and every row the REST API acknowledged is
//! counted exactly once; what a push query open at the kill left (its internal topics and
//! local state) is deleted at the restart. Then SIGTERM stops it cleanly.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Result, bail, ensure};
use serde_json::{Value, json};

mod support;

use support::sql_server::{ServerProcess, query_metric};

/// The topics `SHOW ALL TOPICS` lists whose names hold `part`.
async fn topics_with(
    client: &reqwest::Client,
    server: &ServerProcess,
    part: &str,
) -> Result<Vec<String>> {
    let listed = server.ksql(client, "SHOW ALL TOPICS;").await?;
    let topics = listed[0]["topics"]
        .as_array()
        .ok_or_else(|| anyhow::anyhow!("no topics in {listed}"))?;
    Ok(topics
        .iter()
        .filter_map(|t| t["name"].as_str())
        .filter(|name| name.contains(part))
        .map(String::from)
        .collect())
}

/// The query state directories under the server's data dir whose names hold `part`.
fn state_dirs_with(dir: &Path, part: &str) -> Vec<String> {
    std::fs::read_dir(dir.join("data").join("query-state"))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| name.contains(part))
                .collect()
        })
        .unwrap_or_default()
}

fn start(dir: &Path) -> Result<ServerProcess> {
    let data = dir.join("data");
    let config = dir.join("server.toml");
    ServerProcess::start(
        dir,
        &[
            "--listen".as_ref(),
            "127.0.0.1:0".as_ref(),
            "--data-dir".as_ref(),
            data.as_os_str(),
            "--config".as_ref(),
            config.as_os_str(),
        ],
    )
}

/// Reads the table's changes until every key in `want` shows its count, then returns the
/// highest count seen per key (a row counted twice would show as a higher count).
async fn counts_reach(
    client: &reqwest::Client,
    server: &ServerProcess,
    want: &BTreeMap<String, i64>,
) -> Result<BTreeMap<String, i64>> {
    let mut response = client
        .post(format!("{}/query-stream", server.base))
        .body(json!({"sql": "SELECT * FROM per_user EMIT CHANGES;"}).to_string())
        .send()
        .await?;
    ensure!(response.status().is_success(), "{}", response.text().await?);
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut text = String::new();
    let mut latest = BTreeMap::new();
    let mut highest = BTreeMap::new();
    while latest != *want {
        ensure!(
            Instant::now() < deadline,
            "the counts did not reach {want:?}; latest {latest:?}"
        );
        let Ok(chunk) = tokio::time::timeout(Duration::from_secs(5), response.chunk()).await else {
            continue;
        };
        let Some(chunk) = chunk? else {
            bail!("the push query ended; latest {latest:?}")
        };
        text.push_str(std::str::from_utf8(&chunk)?);
        while let Some(end) = text.find('\n') {
            let line: String = text.drain(..=end).collect();
            let row: Value = serde_json::from_str(&line)?;
            if let (Some(user), Some(n)) = (row[0].as_str(), row[1].as_i64()) {
                latest.insert(user.to_string(), n);
                let top = highest.entry(user.to_string()).or_insert(n);
                *top = (*top).max(n);
            }
        }
    }
    Ok(highest)
}

#[test]
fn persistent_queries_survive_sigkill_with_their_state() -> Result<()> {
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
        .timeout(Duration::from_secs(120))
        .build()?;
    runtime.block_on(async {
        let mut server = start(dir.path())?;
        server
            .ksql(
                &client,
                "CREATE STREAM clicks (user STRING KEY, page STRING) \
                 WITH (kafka_topic='clicks', partitions=2, value_format='JSON');
             CREATE TABLE per_user AS SELECT user, COUNT(*) AS n FROM clicks GROUP BY user;",
            )
            .await?;
        for (user, page) in [
            ("u1", "a"),
            ("u2", "b"),
            ("u1", "c"),
            ("u1", "d"),
            ("u2", "e"),
        ] {
            server
                .ksql(
                    &client,
                    &format!("INSERT INTO clicks (user, page) VALUES ('{user}', '{page}');"),
                )
                .await?;
        }
        let want = BTreeMap::from([("u1".to_string(), 3), ("u2".to_string(), 2)]);
        assert_eq!(counts_reach(&client, &server, &want).await?, want);
        // A push query with state of its own (an aggregation: a changelog, a repartition
        // topic, a store), open when the server is killed.
        let mut open_push = client
            .post(format!("{}/query-stream", server.base))
            .body(
                json!({"sql": "SELECT page, COUNT(*) AS n FROM clicks GROUP BY page EMIT CHANGES;"})
                    .to_string(),
            )
            .send()
            .await?;
        ensure!(
            open_push.status().is_success(),
            "{}",
            open_push.text().await?
        );
        let header = open_push.chunk().await?;
        ensure!(header.is_some(), "the push query sent no header");
        let left = topics_with(&client, &server, "_transient_").await?;
        ensure!(left.len() >= 2, "the push query's topics: {left:?}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while state_dirs_with(dir.path(), "_transient_").is_empty() {
            ensure!(
                Instant::now() < deadline,
                "the push query has no local state"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Past a few commit intervals, so the query's offsets are committed.
        tokio::time::sleep(Duration::from_secs(1)).await;
        server.signal("KILL")?;
        server.wait()?;
        drop(open_push);

        let mut server = start(dir.path())?;
        // What the killed push query left is gone; the persistent query's topics are not.
        assert_eq!(
            topics_with(&client, &server, "_transient_").await?,
            Vec::<String>::new()
        );
        assert_eq!(
            state_dirs_with(dir.path(), "_transient_"),
            Vec::<String>::new()
        );
        ensure!(
            !topics_with(&client, &server, "CTAS_PER_USER_0")
                .await?
                .is_empty(),
            "the persistent query's changelog went too"
        );
        let queries = server.ksql(&client, "SHOW QUERIES;").await?;
        assert_eq!(
            queries[0]["queries"][0]["id"], "CTAS_PER_USER_0",
            "{queries}"
        );
        server
            .ksql(
                &client,
                "INSERT INTO clicks (user, page) VALUES ('u1', 'f');
             INSERT INTO clicks (user, page) VALUES ('u3', 'g');",
            )
            .await?;
        // The count goes on from the restored state (4, not 1), and nothing counted twice.
        let want = BTreeMap::from([
            ("u1".to_string(), 4),
            ("u2".to_string(), 2),
            ("u3".to_string(), 1),
        ]);
        assert_eq!(counts_reach(&client, &server, &want).await?, want);
        // The query's metrics, then the built-in broker's, on the REST port: it read the
        // two records since the restart.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let (records_in, scrape) = loop {
            let scrape = server.metrics(&client).await?;
            let records_in =
                query_metric(&scrape, "eddy_query_records_in_total", "CTAS_PER_USER_0");
            if records_in == Some(2.0) || std::time::Instant::now() > deadline {
                break (records_in, scrape);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(records_in, Some(2.0), "{scrape}");
        assert!(
            scrape.contains("eddy_log_end_offset{topic=\"clicks\",partition=\"0\"} 7"),
            "{scrape}"
        );

        server.signal("TERM")?;
        let status = server.wait()?;
        ensure!(status.success(), "the server exited with {status}");
        Ok(())
    })
}
