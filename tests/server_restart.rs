//! `eddy server start` as a child process, SIGKILLed and started again on its data
//! directory: the persistent queries come back from the command topic, resume from their
//! committed offsets with their state restored, and every row the REST API acknowledged is
//! counted exactly once. Then SIGTERM stops it cleanly.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};

const EDDY: &str = env!("CARGO_BIN_EXE_eddy");

/// The server as a child process; killed if the test fails first.
struct ServerProcess {
    child: Child,
    base: String,
}

impl ServerProcess {
    fn start(dir: &Path) -> Result<Self> {
        let stderr = File::create(dir.join(format!("stderr-{}.txt", now_ns())))?;
        let mut child = Command::new(EDDY)
            .args([
                "server",
                "start",
                "--listen",
                "127.0.0.1:0",
                "--http-listen",
            ])
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(dir.join("data"))
            .arg("--config")
            .arg(dir.join("server.toml"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .context("the eddy binary runs")?;
        let stdout = child.stdout.take().context("stdout")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            for _ in lines {}
        });
        let Ok(line) = rx.recv_timeout(Duration::from_secs(120)) else {
            let _ = child.kill();
            bail!("no start-up line from the server");
        };
        // eddy server: REST API on http://ADDR, Kafka protocol on ADDR (...)
        let base = line
            .split("REST API on ")
            .nth(1)
            .and_then(|rest| rest.split(',').next())
            .with_context(|| format!("unexpected first line: {line}"))?
            .to_string();
        Ok(Self { child, base })
    }

    fn signal(&self, name: &str) -> Result<()> {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()?;
        ensure!(status.success(), "kill -{name} failed");
        Ok(())
    }

    fn wait(&mut self) -> Result<std::process::ExitStatus> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            ensure!(Instant::now() < deadline, "the server did not exit");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn now_ns() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

async fn ksql(client: &reqwest::Client, server: &ServerProcess, sql: &str) -> Result<Value> {
    let response = client
        .post(format!("{}/ksql", server.base))
        .body(json!({ "ksql": sql }).to_string())
        .send()
        .await?;
    let status = response.status();
    let body: Value = response.json().await?;
    ensure!(status.is_success(), "{sql} failed: {body}");
    Ok(body)
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
        let mut server = ServerProcess::start(dir.path())?;
        ksql(
            &client,
            &server,
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
            ksql(
                &client,
                &server,
                &format!("INSERT INTO clicks (user, page) VALUES ('{user}', '{page}');"),
            )
            .await?;
        }
        let want = BTreeMap::from([("u1".to_string(), 3), ("u2".to_string(), 2)]);
        assert_eq!(counts_reach(&client, &server, &want).await?, want);
        // Past a few commit intervals, so the query's offsets are committed.
        tokio::time::sleep(Duration::from_secs(1)).await;
        server.signal("KILL")?;
        server.wait()?;

        let mut server = ServerProcess::start(dir.path())?;
        let queries = ksql(&client, &server, "SHOW QUERIES;").await?;
        assert_eq!(
            queries[0]["queries"][0]["id"], "CTAS_PER_USER_0",
            "{queries}"
        );
        ksql(
            &client,
            &server,
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
            let scrape = client
                .get(format!("{}/metrics", server.base))
                .send()
                .await?
                .text()
                .await?;
            let records_in = scrape
                .lines()
                .find_map(|l| {
                    l.strip_prefix("eddy_query_records_in_total{query_id=\"CTAS_PER_USER_0\"} ")
                })
                .and_then(|v| v.parse::<u64>().ok());
            if records_in == Some(2) || std::time::Instant::now() > deadline {
                break (records_in, scrape);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(records_in, Some(2), "{scrape}");
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
