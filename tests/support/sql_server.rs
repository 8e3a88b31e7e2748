//! `eddy server start` as a child process for the tests: started with the flags a test
//! gives, its REST API's address read from its first line, stopped by a signal, and killed
//! if the test fails first.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};

const EDDY: &str = env!("CARGO_BIN_EXE_eddy");

/// A running `eddy server start`.
pub struct ServerProcess {
    child: Child,
    /// The REST API's base URL.
    pub base: String,
}

impl ServerProcess {
    /// Starts a server with its REST API on a free port and `args` after it; its standard
    /// error goes to a file in `logs`.
    pub fn start(logs: &Path, args: &[&std::ffi::OsStr]) -> Result<Self> {
        let stderr = File::create(logs.join(format!("stderr-{}.txt", now_ns())))?;
        let mut child = Command::new(EDDY)
            .args(["server", "start", "--http-listen", "127.0.0.1:0"])
            .args(args)
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

    /// Sends signal `name` (`TERM`, `KILL`).
    pub fn signal(&self, name: &str) -> Result<()> {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()?;
        ensure!(status.success(), "kill -{name} failed");
        Ok(())
    }

    /// Waits up to a minute for the process to exit.
    pub fn wait(&mut self) -> Result<std::process::ExitStatus> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            ensure!(Instant::now() < deadline, "the server did not exit");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `POST /ksql`, which must succeed: its entities.
    pub async fn ksql(&self, client: &reqwest::Client, sql: &str) -> Result<Value> {
        let response = client
            .post(format!("{}/ksql", self.base))
            .body(json!({ "ksql": sql }).to_string())
            .send()
            .await?;
        let status = response.status();
        let body: Value = response.json().await?;
        ensure!(status.is_success(), "{sql} failed: {body}");
        Ok(body)
    }

    /// `GET /metrics`.
    pub async fn metrics(&self, client: &reqwest::Client) -> Result<String> {
        Ok(client
            .get(format!("{}/metrics", self.base))
            .send()
            .await?
            .text()
            .await?)
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

/// The value of `metric{query_id="id"}` in a scrape.
pub fn query_metric(scrape: &str, metric: &str, id: &str) -> Option<f64> {
    let prefix = format!("{metric}{{query_id=\"{id}\"}} ");
    scrape
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.parse().ok())
}

fn now_ns() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}
