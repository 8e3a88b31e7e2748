//! Python Kafka clients against an in-process Eddy server, with the Python of the venv that
//! `scripts/setup.sh` makes (`$EDDY_VENV`, by default `$HOME/.cache/eddy/venv`):
//! - confluent-kafka (librdkafka underneath): `tests/python/confluent_check.py`, an idempotent
//!   producer, a consumer group with manual commits, a second consumer resuming from them;
//! - kafka-python (pure Python, its own protocol code): `tests/python/kafka_python_check.py`,
//!   topic creation through its admin client, acks=all produce, a group with manual commits,
//!   resumption, end offsets and offsets-for-times.

mod support;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use support::TestServer;

/// The venv's Python with `module` importable, or a failure telling how to make it.
fn venv_python(module: &str) -> Result<PathBuf> {
    let venv = match std::env::var_os("EDDY_VENV") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").context("HOME is not set")?)
            .join(".cache/eddy/venv"),
    };
    let python = venv.join("bin/python");
    ensure!(
        python.is_file(),
        "no Python venv at {} (set EDDY_VENV to use another): run scripts/setup.sh, which \
         creates it and installs confluent-kafka and kafka-python",
        venv.display()
    );
    let check = Command::new(&python)
        .args(["-c", &format!("import {module}")])
        .output()
        .with_context(|| format!("running {}", python.display()))?;
    ensure!(
        check.status.success(),
        "{} cannot import {module} ({}): run scripts/setup.sh",
        python.display(),
        String::from_utf8_lossy(&check.stderr).trim()
    );
    Ok(python)
}

/// Runs one of the Python check scripts in `tests/python` and requires its OK line.
fn run_script(python: &Path, script: &str, args: &[&str], ok_line: &str) -> Result<()> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python")
        .join(script);
    let started = Instant::now();
    let mut child = Command::new(python)
        .arg(&script)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {} {}", python.display(), script.display()))?;
    let mut stdout = child.stdout.take().context("stdout")?;
    let mut stderr = child.stderr.take().context("stderr")?;
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let limit = Duration::from_secs(150);
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            let (out, err) = (
                out.join().unwrap_or_default(),
                err.join().unwrap_or_default(),
            );
            bail!(
                "{} ran longer than {limit:?}; stdout:\n{out}\nstderr:\n{err}",
                script.display()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let (out, err) = (
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default(),
    );
    eprintln!("{}{}", out, err);
    ensure!(
        status.success(),
        "{} failed ({status}); stdout:\n{out}\nstderr:\n{err}",
        script.display()
    );
    ensure!(
        out.contains(ok_line),
        "{} exited 0 without its OK line; stdout:\n{out}",
        script.display()
    );
    Ok(())
}

#[test]
fn confluent_kafka_python_produces_idempotently_and_resumes_from_commits() -> Result<()> {
    let python = venv_python("confluent_kafka")?;
    let server = TestServer::start()?;
    server.create_topic("python-check", 3)?;
    let bootstrap = server.bootstrap();
    run_script(
        &python,
        "confluent_check.py",
        &[
            "--bootstrap",
            &bootstrap,
            "--topic",
            "python-check",
            "--group",
            "python-group",
            "--records",
            "5000",
        ],
        "confluent_check: OK",
    )?;
    // The broker agrees with what the script saw.
    ensure!(
        server.end_offsets("python-check", 3)?.iter().sum::<i64>() == 5000,
        "the log does not hold exactly 5000 records"
    );
    Ok(())
}

#[test]
fn kafka_python_admin_produce_group_commit_and_offsets_for_times() -> Result<()> {
    let python = venv_python("kafka")?;
    let server = TestServer::start()?;
    let bootstrap = server.bootstrap();
    run_script(
        &python,
        "kafka_python_check.py",
        &[
            "--bootstrap",
            &bootstrap,
            "--topic",
            "kafka-python-check",
            "--group",
            "kafka-python-group",
            "--records",
            "2000",
        ],
        "kafka_python_check: OK",
    )?;
    ensure!(
        server
            .end_offsets("kafka-python-check", 3)?
            .iter()
            .sum::<i64>()
            == 2000,
        "the log does not hold exactly 2000 records"
    );
    Ok(())
}

/// Runs `tests/python/transactions_check.py` with one client against a fresh server.
fn check_transactions(client: &str, module: &str) -> Result<()> {
    let python = venv_python(module)?;
    let server = TestServer::start()?;
    server.create_topic("txn-input", 1)?;
    server.create_topic("txn-output", 2)?;
    let inputs: Vec<_> = (0..10)
        .map(|i| eddy_broker::NewRecord::value(format!("in-{i}")))
        .collect();
    let broker = server.broker().clone();
    server.block_on(broker.produce("txn-input", 0, &inputs, eddy_broker::Durability::Durable))?;
    let bootstrap = server.bootstrap();
    run_script(
        &python,
        "transactions_check.py",
        &[
            "--client",
            client,
            "--bootstrap",
            &bootstrap,
            "--input",
            "txn-input",
            "--output",
            "txn-output",
            "--group",
            "txn-group",
        ],
        "transactions_check: OK",
    )?;
    // Nothing is left open, and the group's offset is what the transaction committed.
    for p in 0..2 {
        let stable = server.block_on(broker.list_offset(
            "txn-output",
            p,
            eddy_broker::OffsetSpec::LastStable,
        ))?;
        let end = server.block_on(broker.list_offset(
            "txn-output",
            p,
            eddy_broker::OffsetSpec::Latest,
        ))?;
        ensure!(
            stable == end,
            "partition {p}: stable {stable:?}, end {end:?}"
        );
    }
    let committed = broker.committed_offset("txn-group", "txn-input", 0);
    ensure!(
        committed.as_ref().map(|c| c.offset) == Some(10),
        "committed {committed:?}"
    );
    Ok(())
}

#[test]
fn kafka_python_transactions_commit_abort_fence_and_commit_offsets() -> Result<()> {
    check_transactions("kafka-python", "kafka")
}

#[test]
fn confluent_kafka_python_transactions_commit_abort_fence_and_commit_offsets() -> Result<()> {
    check_transactions("confluent", "confluent_kafka")
}
