//! Runs the built `eddy` binary: the demo on temporary data directories (twice, to see the
//! topic reused and offsets continue); `eddy broker start` as a child process with the client
//! commands (`topics`, `produce`, `consume`) against it, stopped by SIGTERM or SIGINT; its
//! config file; and the error messages a person gets for a locked or foreign data directory,
//! a bad config file or a missing broker.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const EDDY: &str = env!("CARGO_BIN_EXE_eddy");

fn eddy(args: &[&str]) -> Output {
    Command::new(EDDY)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("the eddy binary runs")
}

/// Runs eddy, asserts success, returns stdout.
fn eddy_ok(args: &[&str]) -> String {
    let out = eddy(args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "eddy {args:?} failed ({})\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    stdout
}

/// Runs eddy, asserts failure, returns stderr.
fn eddy_err(args: &[&str]) -> String {
    let out = eddy(args);
    assert!(
        !out.status.success(),
        "eddy {args:?} should have failed; stdout:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn path_arg(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

/// One row of the demo's partition table.
#[derive(Debug)]
struct Row {
    partition: i32,
    records: i64,
    /// First and last offset written by this run, if any.
    offsets: Option<(i64, i64)>,
    log_start: i64,
    log_end: i64,
}

fn table(stdout: &str) -> Vec<Row> {
    stdout
        .lines()
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let partition = cols.first()?.parse().ok()?;
            let offsets = match cols[2] {
                "-" => None,
                range => {
                    let (a, b) = range.split_once('-').expect("first-last");
                    Some((a.parse().unwrap(), b.parse().unwrap()))
                }
            };
            Some(Row {
                partition,
                records: cols[1].parse().unwrap(),
                offsets,
                log_start: cols[3].parse().unwrap(),
                log_end: cols[4].parse().unwrap(),
            })
        })
        .collect()
}

#[test]
fn demo_writes_reads_back_and_reuses_the_topic() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let dir = path_arg(&data);

    let first = eddy_ok(&["demo", "--data-dir", dir]);
    assert!(first.contains("new data directory"), "{first}");
    assert!(
        first.contains("topic       demo: created with 3 partitions"),
        "{first}"
    );
    assert!(first.contains("wrote       1000 records"), "{first}");
    assert!(first.contains("read back   1000 records"), "{first}");
    assert!(
        first.contains("every key, value and offset as written"),
        "{first}"
    );
    assert!(first.contains("shut down   cleanly"), "{first}");
    let canonical = std::fs::canonicalize(&data).unwrap();
    assert!(
        first.contains(&format!("data dir    {}", canonical.display())),
        "{first}"
    );
    let rows = table(&first);
    assert_eq!(
        rows.iter().map(|r| r.partition).collect::<Vec<_>>(),
        [0, 1, 2],
        "{first}"
    );
    assert_eq!(rows.iter().map(|r| r.records).sum::<i64>(), 1000);
    for row in &rows {
        // 1000 keys hash over 3 partitions: every partition gets some.
        assert!(row.records > 0, "{first}");
        assert_eq!(row.offsets, Some((0, row.records - 1)), "{first}");
        assert_eq!((row.log_start, row.log_end), (0, row.records), "{first}");
    }
    assert!(data.join(".clean-shutdown").exists());

    let second = eddy_ok(&[
        "demo",
        "--data-dir",
        dir,
        "--records",
        "500",
        "--batch-size",
        "7",
    ]);
    assert!(second.contains("previous shutdown was clean"), "{second}");
    assert!(
        second.contains("already exists with 3 partitions, reused"),
        "{second}"
    );
    assert!(second.contains("wrote       500 records"), "{second}");
    assert!(second.contains("read back   500 records"), "{second}");
    let again = table(&second);
    assert_eq!(again.len(), 3, "{second}");
    for (before, after) in rows.iter().zip(&again) {
        // This run's offsets continue where the first run's ended.
        if let Some((first_offset, last_offset)) = after.offsets {
            assert_eq!(first_offset, before.log_end, "{second}");
            assert_eq!(last_offset, before.log_end + after.records - 1, "{second}");
        }
        assert_eq!(after.log_end, before.log_end + after.records, "{second}");
    }
    assert_eq!(again.iter().map(|r| r.log_end).sum::<i64>(), 1500);
    assert!(second.contains("1500 records in the topic"), "{second}");
}

#[test]
fn a_data_directory_in_use_is_refused_with_a_clear_message() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let broker = runtime
        .block_on(eddy::broker::Broker::open(eddy::broker::BrokerConfig::new(
            &data,
        )))
        .unwrap();

    for args in [
        &["demo", "--data-dir", path_arg(&data)][..],
        &[
            "broker",
            "start",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            path_arg(&data),
        ][..],
    ] {
        let err = eddy_err(args);
        assert!(err.contains("is in use by another Eddy process"), "{err}");
        assert!(err.contains(".lock"), "{err}");
    }

    runtime.block_on(broker.shutdown()).unwrap();
    drop(broker);
    // Once the other broker is gone, the directory opens again.
    let out = eddy_ok(&["demo", "--records", "10", "--data-dir", path_arg(&data)]);
    assert!(out.contains("previous shutdown was clean"), "{out}");
}

#[test]
fn foreign_data_directories_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let foreign = tmp.path().join("foreign");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), "mine").unwrap();
    let err = eddy_err(&["demo", "--data-dir", path_arg(&foreign)]);
    assert!(err.contains("is not an Eddy data directory"), "{err}");
    let err = eddy_err(&[
        "broker",
        "start",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        path_arg(&foreign),
    ]);
    assert!(err.contains("is not an Eddy data directory"), "{err}");
    assert!(!foreign.join("topics").exists());

    let missing = tmp.path().join("missing");
    let err = eddy_err(&["demo", "--records", "0", "--data-dir", path_arg(&missing)]);
    assert!(err.contains("--records"), "{err}");
    assert!(!missing.exists());
}

/// Runs eddy with `input` on standard input; returns the output whatever the exit status.
fn eddy_with_input(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(EDDY)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the eddy binary runs");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input).unwrap();
    drop(stdin);
    child.wait_with_output().unwrap()
}

/// `eddy broker start` running as a child process; killed if a test fails before stopping it.
struct BrokerProcess {
    child: Child,
    /// The Kafka protocol address it printed.
    addr: String,
    /// The metrics endpoint it printed, if on.
    metrics: Option<String>,
    /// Where its stderr goes.
    stderr: PathBuf,
}

impl BrokerProcess {
    fn start(args: &[&str], stderr: PathBuf) -> Self {
        let mut child = Command::new(EDDY)
            .args(["broker", "start"])
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(File::create(&stderr).unwrap())
            .spawn()
            .expect("the eddy binary runs");
        // Read the listening line, then keep draining stdout so the broker never blocks on it.
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            for _ in lines {}
        });
        let line = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "no listening line from the broker; stderr:\n{}",
                    std::fs::read_to_string(&stderr).unwrap_or_default()
                );
            }
        };
        // eddy broker listening on 127.0.0.1:PORT (data dir DIR, metrics http://ADDR/metrics)
        let addr = line
            .split("listening on ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("unexpected first line: {line}"))
            .to_string();
        let metrics = line
            .split("metrics http://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .map(str::to_string);
        BrokerProcess {
            child,
            addr,
            metrics,
            stderr,
        }
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits for the broker to exit (up to 60 s); returns its status and stderr.
    fn wait(mut self) -> (ExitStatus, String) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "the broker did not exit");
            std::thread::sleep(Duration::from_millis(50));
        };
        let stderr = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        (status, stderr)
    }
}

impl Drop for BrokerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The `partition leader replicas in-sync` rows of `eddy topics describe`.
fn partition_rows(described: &str) -> Vec<Vec<String>> {
    described
        .lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .filter(|cols| cols.len() == 4 && cols[0].parse::<i32>().is_ok())
        .collect()
}

#[test]
fn the_broker_serves_the_client_commands_and_stops_cleanly_on_sigterm() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let broker = BrokerProcess::start(
        &["--data-dir", path_arg(&data), "--listen", "127.0.0.1:0"],
        tmp.path().join("broker.stderr"),
    );
    assert!(broker.addr.starts_with("127.0.0.1:"), "{}", broker.addr);
    assert_eq!(broker.metrics, None);
    let b = broker.addr.as_str();

    let created = eddy_ok(&[
        "topics",
        "create",
        "orders",
        "--partitions",
        "3",
        "--config",
        "retention.ms=3600000",
        "-b",
        b,
    ]);
    assert_eq!(created.trim(), "created topic orders with 3 partition(s)");
    let err = eddy_err(&["topics", "create", "orders", "-b", b]);
    assert!(err.contains("already exists"), "{err}");
    let listed = eddy_ok(&["topics", "list", "-b", b]);
    assert!(listed.lines().any(|l| l == "orders"), "{listed}");

    // Keys and values split at ':', two headers on every record, one value not UTF-8.
    let input = b"k1:v1\nk2:v2\n\nk3:v3\r\nk1:v4\nk4:\xff\x00\n";
    let out = eddy_with_input(
        &[
            "produce",
            "--topic",
            "orders",
            "-K",
            ":",
            "-H",
            "source=cli",
            "-H",
            "trace=42",
            "-b",
            b,
        ],
        input,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("produced 5 records"), "{stderr}");

    let consumed = eddy_ok(&[
        "consume", "--topic", "orders", "--format", "json", "--count", "5", "-b", b,
    ]);
    let records: Vec<serde_json::Value> = consumed
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(records.len(), 5, "{consumed}");
    let mut pairs = Vec::new();
    let mut k1 = Vec::new();
    for r in &records {
        assert_eq!(r["topic"], "orders");
        assert!(r["timestamp"].as_i64().unwrap() > 0, "{r}");
        assert_eq!(r["key_encoding"], "utf8", "{r}");
        assert_eq!(
            r["headers"],
            serde_json::json!([
                {"key": "source", "value": "cli", "value_encoding": "utf8"},
                {"key": "trace", "value": "42", "value_encoding": "utf8"},
            ])
        );
        let key = r["key"].as_str().unwrap().to_string();
        let value = r["value"].as_str().unwrap().to_string();
        let encoding = r["value_encoding"].as_str().unwrap();
        assert_eq!(encoding, if key == "k4" { "base64" } else { "utf8" }, "{r}");
        if key == "k1" {
            k1.push((
                r["partition"].as_i64().unwrap(),
                r["offset"].as_i64().unwrap(),
            ));
        }
        pairs.push((key, value));
    }
    pairs.sort();
    assert_eq!(
        pairs,
        [
            ("k1", "v1"),
            ("k1", "v4"),
            ("k2", "v2"),
            ("k3", "v3"),
            ("k4", "/wA="),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
    );
    // Same key, same partition, in order.
    assert_eq!(k1.len(), 2);
    assert_eq!(k1[0].0, k1[1].0);
    assert!(k1[0].1 < k1[1].1);

    // Text: key, separator, value; stops at the end of every partition.
    let out = eddy_with_input(
        &[
            "consume",
            "-t",
            "orders",
            "--exit-at-end",
            "--key-separator",
            "=",
            "-b",
            b,
        ],
        b"",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines: Vec<&[u8]> = out.stdout.split(|&c| c == b'\n').collect();
    assert_eq!(lines.pop(), Some(&b""[..]));
    lines.sort();
    assert_eq!(
        lines,
        [&b"k1=v1"[..], b"k1=v4", b"k2=v2", b"k3=v3", b"k4=\xff\x00"]
    );
    let at_end = eddy_ok(&["consume", "-t", "orders", "--from", "end", "-e", "-b", b]);
    assert_eq!(at_end, "");
    let err = eddy_err(&["consume", "-t", "nope", "-e", "-b", b]);
    assert!(err.contains("no topic named \"nope\""), "{err}");

    let described = eddy_ok(&["topics", "describe", "orders", "-b", b]);
    assert!(
        described.contains("topic orders: 3 partition(s), replication factor 1"),
        "{described}"
    );
    assert!(
        described
            .lines()
            .any(|l| l.contains("retention.ms=3600000") && l.contains("(set on the topic)")),
        "{described}"
    );
    assert_eq!(
        partition_rows(&described),
        (0..3)
            .map(|p| vec![p.to_string(), "1".into(), "1".into(), "1".into()])
            .collect::<Vec<_>>(),
        "{described}"
    );

    let altered = eddy_ok(&[
        "topics",
        "alter",
        "orders",
        "--set",
        "cleanup.policy=compact",
        "--delete",
        "retention.ms",
        "--partitions",
        "4",
        "-b",
        b,
    ]);
    assert!(altered.contains("set cleanup.policy=compact"), "{altered}");
    assert!(altered.contains("deleted retention.ms"), "{altered}");
    assert!(altered.contains("now has 4 partition(s)"), "{altered}");
    let described = eddy_ok(&["topics", "describe", "orders", "-b", b]);
    assert!(
        described
            .lines()
            .any(|l| l.contains("cleanup.policy=compact") && l.contains("(set on the topic)")),
        "{described}"
    );
    assert!(!described.contains("retention.ms=3600000"), "{described}");
    assert_eq!(partition_rows(&described).len(), 4, "{described}");
    let err = eddy_err(&[
        "topics",
        "alter",
        "orders",
        "--set",
        "retention.mss=1",
        "-b",
        b,
    ]);
    assert!(err.contains("retention.mss"), "{err}");
    let err = eddy_err(&["topics", "alter", "orders", "--partitions", "2", "-b", b]);
    assert!(err.contains("not removed"), "{err}");

    let deleted = eddy_ok(&["topics", "delete", "orders", "-b", b]);
    assert_eq!(deleted.trim(), "deleted topic orders");
    let listed = eddy_ok(&["topics", "list", "-b", b]);
    assert!(!listed.lines().any(|l| l == "orders"), "{listed}");
    let err = eddy_err(&["topics", "describe", "orders", "-b", b]);
    assert!(err.contains("no topic named \"orders\""), "{err}");
    let err = eddy_err(&["topics", "delete", "orders", "-b", b]);
    assert!(err.contains("no topic named \"orders\""), "{err}");

    broker.signal("TERM");
    let (status, stderr) = broker.wait();
    assert!(status.success(), "{status}\n{stderr}");
    assert!(stderr.contains("SIGTERM"), "{stderr}");
    assert!(stderr.contains("shut down cleanly"), "{stderr}");
    assert!(data.join(".clean-shutdown").exists());
}

#[test]
fn the_config_file_sets_the_broker_up_and_flags_override_it() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("eddy.toml");
    std::fs::write(
        &config,
        r#"
        # Relative to this file.
        data_dir = "from-file"
        listen = "127.0.0.1:1"
        metrics_listen = "127.0.0.1:0"
        auto_create_topics = true
        default_partitions = 2
        max_connections = 16
        max_request_bytes = 1048576
        flush = "interval"
        flush_interval_ms = 200
        min_session_timeout_ms = 1000
        max_session_timeout_ms = 60000
        initial_rebalance_delay_ms = 0
        "#,
    )
    .unwrap();
    // --listen overrides the file's (unusable) port 1.
    let broker = BrokerProcess::start(
        &["--config", path_arg(&config), "--listen", "127.0.0.1:0"],
        tmp.path().join("broker.stderr"),
    );
    let b = broker.addr.as_str();

    let metrics = broker.metrics.clone().expect("metrics are on");
    let mut stream = TcpStream::connect(&metrics).unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.0\r\nHost: eddy\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.0 200") || response.starts_with("HTTP/1.1 200"));
    assert!(response.contains("# TYPE"), "{response}");

    // Producing to a missing topic creates it with the file's default_partitions.
    let out = eddy_with_input(&["produce", "-t", "auto", "-b", b], b"one\ntwo\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let described = eddy_ok(&["topics", "describe", "auto", "-b", b]);
    assert!(
        described.contains("topic auto: 2 partition(s)"),
        "{described}"
    );

    // A group member commits what it printed: the next one goes on from there
    // (initial_rebalance_delay_ms = 0 keeps the joins quick).
    let group = ["consume", "-t", "auto", "--group", "g1", "-b", b];
    let first = eddy_ok(&[&group[..], &["--count", "1"]].concat());
    let second = eddy_ok(&[&group[..], &["--count", "1"]].concat());
    let mut values = vec![first.trim(), second.trim()];
    values.sort_unstable();
    assert_eq!(values, ["one", "two"]);
    let rest = eddy_ok(&[&group[..], &["--exit-at-end"]].concat());
    assert_eq!(rest, "");

    broker.signal("INT");
    let (status, stderr) = broker.wait();
    assert!(status.success(), "{status}\n{stderr}");
    assert!(stderr.contains("SIGINT"), "{stderr}");
    assert!(tmp.path().join("from-file/.clean-shutdown").exists());
}

#[test]
fn a_bad_config_file_is_refused_naming_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("eddy.toml");
    let data = tmp.path().join("data");
    let start = |text: &str| {
        std::fs::write(&config, text).unwrap();
        eddy_err(&[
            "broker",
            "start",
            "--config",
            path_arg(&config),
            "--data-dir",
            path_arg(&data),
            "--listen",
            "127.0.0.1:0",
        ])
    };
    let err = start("default_partitions = 2\nretention_hours = 5\n");
    assert!(err.contains("invalid config file"), "{err}");
    assert!(err.contains("unknown field `retention_hours`"), "{err}");
    let err = start("flush = \"sometimes\"\n");
    assert!(err.contains("sometimes"), "{err}");
    let err = start("default_partitions = 0\n");
    assert!(
        err.contains("default_partitions must be at least 1"),
        "{err}"
    );
    assert!(
        !data.exists(),
        "a refused start must not create the data directory"
    );

    let err = eddy_err(&[
        "broker",
        "start",
        "--config",
        path_arg(&tmp.path().join("missing.toml")),
    ]);
    assert!(err.contains("cannot read config file"), "{err}");
}

#[test]
fn client_commands_without_a_broker_fail_clearly() {
    // Port 1 on loopback: nothing listens there.
    let err = eddy_err(&["topics", "list", "-b", "127.0.0.1:1"]);
    assert!(
        err.contains("cannot get metadata from 127.0.0.1:1"),
        "{err}"
    );
    let out = eddy_with_input(
        &[
            "produce",
            "-t",
            "x",
            "-b",
            "127.0.0.1:1",
            "--delivery-timeout-ms",
            "1000",
        ],
        b"a\n",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("1 of 1 records failed"), "{stderr}");
    assert!(
        stderr.contains("is a broker running at 127.0.0.1:1"),
        "{stderr}"
    );
    let out = eddy_with_input(
        &["produce", "-t", "x", "-K", ":", "-b", "127.0.0.1:1"],
        b"nokey\n",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("line 1: no key separator"), "{stderr}");
}
