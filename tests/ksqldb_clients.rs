//! Third-party ksqlDB clients against `eddy server start` run as a child process (its own data
//! directory, OS-chosen ports), each driving the REST API the way it drives ksqlDB 0.29:
//! - Python: ksql-python-ng (module `ksql`, in the venv `scripts/setup.sh` makes,
//!   `$EDDY_VENV`, by default `$HOME/.cache/eddy/venv`), `tests/python/ksql_python_check.py`:
//!   `/ksql` statements and listings, push queries over `/query` (HTTP/1.1) and
//!   `/query-stream` (h2c), `/close-query`, errors;
//! - Node.js: ksqldb-js (in `$EDDY_NODE/node_modules`, by default `$HOME/.cache/eddy/node`,
//!   also made by `scripts/setup.sh`), `tests/node/ksqldb_js_check.mjs`: `/ksql`, `/info`,
//!   `/healthcheck`, push queries over `/query-stream` with axios (HTTP/1.1) and Node's
//!   http2 (h2c), TERMINATE of a push query, errors.
//!
//! Each script prints one line per check and an OK line at the end; the test requires that
//! line, then stops the server with SIGTERM and requires a clean exit.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

const EDDY: &str = env!("CARGO_BIN_EXE_eddy");
/// How long one client script may run.
const SCRIPT_LIMIT: Duration = Duration::from_secs(180);

/// The server as a child process; killed if the test fails first.
struct ServerProcess {
    child: Child,
    url: String,
    dir: tempfile::TempDir,
}

impl ServerProcess {
    fn start() -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let config = dir.path().join("server.toml");
        std::fs::write(
            &config,
            "[properties]\n\"auto.offset.reset\" = \"earliest\"\n\"commit.interval.ms\" = \"100\"\n",
        )?;
        let stderr = File::create(dir.path().join("stderr.txt"))?;
        let mut child = Command::new(EDDY)
            .args(["server", "start", "--listen", "127.0.0.1:0"])
            .args(["--http-listen", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .arg("--config")
            .arg(&config)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
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
            let _ = child.wait();
            bail!("no start-up line from the server");
        };
        // eddy server: REST API on http://ADDR, Kafka protocol on ADDR (...)
        let url = line
            .split("REST API on ")
            .nth(1)
            .and_then(|rest| rest.split(',').next())
            .with_context(|| format!("unexpected first line: {line}"))?
            .to_string();
        Ok(Self { child, url, dir })
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.txt")).unwrap_or_default()
    }

    /// SIGTERM, then the exit status (within 60 s).
    fn terminate(mut self) -> Result<ExitStatus> {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()?;
        ensure!(status.success(), "kill -TERM failed");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            ensure!(
                Instant::now() < deadline,
                "the server did not exit within 60 s of SIGTERM; stderr:\n{}",
                self.stderr()
            );
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

fn cache_dir(var: &str, default: &str) -> Result<PathBuf> {
    Ok(match std::env::var_os(var) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").context("HOME is not set")?).join(default),
    })
}

/// The venv's Python with ksql-python-ng importable, or a failure telling how to get it.
fn ksql_python() -> Result<PathBuf> {
    let venv = cache_dir("EDDY_VENV", ".cache/eddy/venv")?;
    let python = venv.join("bin/python");
    ensure!(
        python.is_file(),
        "no Python venv at {} (set EDDY_VENV to use another): run scripts/setup.sh, which \
         creates it and installs ksql-python-ng",
        venv.display()
    );
    let check = Command::new(&python)
        .args(["-c", "import ksql.client, httpx, h2"])
        .output()
        .with_context(|| format!("running {}", python.display()))?;
    ensure!(
        check.status.success(),
        "{} cannot import ksql-python-ng ({}): run scripts/setup.sh",
        python.display(),
        String::from_utf8_lossy(&check.stderr).trim()
    );
    Ok(python)
}

/// The node_modules holding ksqldb-js, or a failure telling how to get it.
fn ksqldb_js_modules() -> Result<PathBuf> {
    let prefix = cache_dir("EDDY_NODE", ".cache/eddy/node")?;
    let modules = prefix.join("node_modules");
    let node = Command::new("node").arg("--version").output();
    ensure!(
        node.is_ok_and(|out| out.status.success()),
        "no `node` on PATH: run scripts/setup.sh (it installs Debian's nodejs)"
    );
    ensure!(
        modules.join("ksqldb-js/package.json").is_file(),
        "ksqldb-js is not installed in {} (set EDDY_NODE to use another prefix): run \
         scripts/setup.sh",
        modules.display()
    );
    Ok(modules)
}

/// Runs `program args` for at most [`SCRIPT_LIMIT`] and requires exit 0 and `ok_line`.
fn run_client(program: &Path, args: &[&str], ok_line: &str, server: &ServerProcess) -> Result<()> {
    let started = Instant::now();
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {} {args:?}", program.display()))?;
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
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if started.elapsed() > SCRIPT_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let (out, err) = (
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default(),
    );
    let Some(status) = status else {
        bail!(
            "{} {args:?} ran longer than {SCRIPT_LIMIT:?}; stdout:\n{out}\nstderr:\n{err}",
            program.display()
        );
    };
    ensure!(
        status.success(),
        "{} {args:?} failed ({status}); stdout:\n{out}\nstderr:\n{err}\nserver stderr:\n{}",
        program.display(),
        server.stderr()
    );
    ensure!(
        out.lines().any(|line| line == ok_line),
        "{} exited 0 without the line {ok_line:?}; stdout:\n{out}",
        program.display()
    );
    eprintln!("{out}{err}");
    Ok(())
}

fn script(relative: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(relative)
        .display()
        .to_string()
}

#[test]
fn ksql_python_ng_drives_the_rest_api() -> Result<()> {
    let python = ksql_python()?;
    let server = ServerProcess::start()?;
    run_client(
        &python,
        &[
            &script("tests/python/ksql_python_check.py"),
            "--url",
            &server.url,
        ],
        "ksql_python_check: OK",
        &server,
    )?;
    let status = server.terminate()?;
    ensure!(status.success(), "the server exited with {status}");
    Ok(())
}

#[test]
fn ksqldb_js_drives_the_rest_api() -> Result<()> {
    let modules = ksqldb_js_modules()?;
    let server = ServerProcess::start()?;
    run_client(
        Path::new("node"),
        &[
            &script("tests/node/ksqldb_js_check.mjs"),
            "--url",
            &server.url,
            "--node-modules",
            &modules.display().to_string(),
        ],
        "ksqldb_js_check: OK",
        &server,
    )?;
    let status = server.terminate()?;
    ensure!(status.success(), "the server exited with {status}");
    Ok(())
}
