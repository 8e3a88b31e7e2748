//! confluent-kafka for Python against an in-process Eddy server: runs
//! `tests/python/confluent_check.py` (idempotent producer, a consumer group with manual
//! commits, a second consumer resuming from the committed offsets) with the Python of the venv
//! that `scripts/setup.sh` makes (`$EDDY_VENV`, by default `$HOME/.cache/eddy/venv`).

mod support;

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use support::TestServer;

/// The venv's Python, or a failure telling how to make it.
fn venv_python() -> Result<PathBuf> {
    let venv = match std::env::var_os("EDDY_VENV") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").context("HOME is not set")?)
            .join(".cache/eddy/venv"),
    };
    let python = venv.join("bin/python");
    ensure!(
        python.is_file(),
        "no Python venv at {} (set EDDY_VENV to use another): run scripts/setup.sh, which \
         creates it and installs confluent-kafka",
        venv.display()
    );
    let check = Command::new(&python)
        .args(["-c", "import confluent_kafka"])
        .output()
        .with_context(|| format!("running {}", python.display()))?;
    ensure!(
        check.status.success(),
        "{} cannot import confluent_kafka ({}): run scripts/setup.sh",
        python.display(),
        String::from_utf8_lossy(&check.stderr).trim()
    );
    Ok(python)
}

#[test]
fn confluent_kafka_python_produces_idempotently_and_resumes_from_commits() -> Result<()> {
    let python = venv_python()?;
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/confluent_check.py");
    let server = TestServer::start()?;
    server.create_topic("python-check", 3)?;

    let started = Instant::now();
    let mut child = Command::new(&python)
        .arg(&script)
        .args(["--bootstrap", &server.bootstrap()])
        .args(["--topic", "python-check", "--group", "python-group"])
        .args(["--records", "5000"])
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
            bail!("confluent_check.py ran longer than {limit:?}; stdout:\n{out}\nstderr:\n{err}");
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
        "confluent_check.py failed ({status}); stdout:\n{out}\nstderr:\n{err}"
    );
    ensure!(
        out.contains("confluent_check: OK"),
        "confluent_check.py exited 0 without its OK line; stdout:\n{out}"
    );
    // The broker agrees with what the script saw.
    ensure!(
        server.end_offsets("python-check", 3)?.iter().sum::<i64>() == 5000,
        "the log does not hold exactly 5000 records"
    );
    Ok(())
}
