//! Helpers shared by the durability tests (`crash`, `corruption`, `disk_full`): deterministic
//! payloads that can be checked from their id alone, reading a whole partition back with every
//! check a consumer relies on, running a broker in its own runtime, re-running the test binary
//! as a child process, and parsing segment files without the crate's own code; and, in
//! [`protocol`], the raw Kafka client and server harness of the protocol tests.

// Each test crate uses a different subset of these helpers.
#![allow(dead_code)]

pub mod protocol;

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail, ensure};
use eddy_broker::{Broker, Error, NewRecord, Record};

/// SplitMix64: a tiny, well-mixed generator, so payloads need no shared state.
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The value stored for a payload id: 8 to ~600 bytes, every byte derived from the id, so a
/// record read back can be checked against its id alone (a torn, shifted or mixed-up record
/// cannot pass).
pub fn payload(id: u64) -> Vec<u8> {
    let mut state = id ^ 0x5EED_0FED_D1CE;
    let len = 8 + (splitmix64(&mut state) % 600) as usize;
    let mut out = Vec::with_capacity(len + 8);
    out.extend_from_slice(&id.to_be_bytes());
    while out.len() < len {
        out.extend_from_slice(&splitmix64(&mut state).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// The record written for a payload id: the id (decimal) as key, [`payload`] as value.
pub fn record(id: u64) -> NewRecord {
    NewRecord::new(id.to_string(), payload(id))
}

/// Like [`record`], with an explicit timestamp.
pub fn record_at(id: u64, timestamp: i64) -> NewRecord {
    record(id).at(timestamp)
}

/// Checks a record read back against its id; returns the id.
pub fn check_record(r: &Record) -> anyhow::Result<u64> {
    let key = r
        .key
        .as_ref()
        .ok_or_else(|| anyhow!("record at offset {} has no key", r.offset))?;
    let id: u64 = std::str::from_utf8(key)
        .ok()
        .and_then(|k| k.parse().ok())
        .ok_or_else(|| {
            anyhow!(
                "record at offset {} has a key that is not an id: {key:?}",
                r.offset
            )
        })?;
    let expected = payload(id);
    ensure!(
        r.value.as_deref() == Some(&expected[..]),
        "record at offset {} (id {id}) has a value that does not match its id ({} bytes, expected {})",
        r.offset,
        r.value.as_ref().map_or(0, |v| v.len()),
        expected.len()
    );
    Ok(id)
}

/// A record read back, checked: its offset, payload id and timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    pub offset: i64,
    pub id: u64,
    pub timestamp: i64,
}

/// Reads a partition from its log start to its log end the way a consumer does and checks
/// everything on the way: the log starts at `expected_start`, every fetch decodes cleanly,
/// offsets are dense, every record matches its id, the last record is just below the log end,
/// and nothing is served past the log end.
pub async fn read_partition(
    broker: &Broker,
    topic: &str,
    partition: i32,
    expected_start: i64,
) -> anyhow::Result<Vec<Stored>> {
    let description = broker.describe_topic(topic)?;
    let p = description
        .partitions
        .iter()
        .find(|d| d.partition == partition)
        .ok_or_else(|| anyhow!("{topic}/{partition} is not described"))?;
    ensure!(
        p.log_start_offset == expected_start,
        "{topic}/{partition}: log start offset {} (expected {expected_start})",
        p.log_start_offset
    );
    let end = p.log_end_offset;
    let mut out = Vec::new();
    let mut next = expected_start;
    while next < end {
        let fetched = broker
            .fetch(topic, partition, next, 64 << 10, Duration::ZERO)
            .await
            .with_context(|| format!("{topic}/{partition}: fetch at {next} (log end {end})"))?;
        ensure!(
            !fetched.records.is_empty(),
            "{topic}/{partition}: fetch at {next} returned nothing, but the log end is {end}"
        );
        ensure!(
            fetched.high_watermark == end,
            "{topic}/{partition}: high watermark {} (log end {end})",
            fetched.high_watermark
        );
        let records = eddy_broker::decode_records(&fetched.records)
            .with_context(|| format!("{topic}/{partition}: decoding the fetch at {next}"))?;
        ensure!(
            !records.is_empty(),
            "{topic}/{partition}: fetch at {next} decoded to no records"
        );
        for r in &records {
            ensure!(
                r.offset == next,
                "{topic}/{partition}: offset {} where {next} was expected (offsets must be dense)",
                r.offset
            );
            let id = check_record(r).with_context(|| format!("{topic}/{partition}"))?;
            out.push(Stored {
                offset: r.offset,
                id,
                timestamp: r.timestamp,
            });
            next += 1;
        }
    }
    ensure!(
        next == end,
        "{topic}/{partition}: read up to {next}, past the log end {end}"
    );
    // Nothing is served at or past the log end.
    let at_end = broker
        .fetch(topic, partition, end, 1 << 20, Duration::ZERO)
        .await?;
    ensure!(
        at_end.records.is_empty(),
        "{topic}/{partition}: a fetch at the log end {end} returned {} bytes",
        at_end.records.len()
    );
    match broker
        .fetch(topic, partition, end + 1, 1 << 20, Duration::ZERO)
        .await
    {
        Err(Error::OffsetOutOfRange { .. }) => {}
        other => bail!("{topic}/{partition}: a fetch past the log end gave {other:?}"),
    }
    Ok(out)
}

/// Appends `ids` as one batch and checks the offsets it was given.
pub async fn append_expecting(
    broker: &Broker,
    topic: &str,
    partition: i32,
    ids: &[u64],
    expected_base: i64,
) -> anyhow::Result<()> {
    let records: Vec<_> = ids.iter().map(|&id| record(id)).collect();
    let info = broker
        .produce(topic, partition, &records, eddy_broker::Durability::Durable)
        .await
        .with_context(|| format!("{topic}/{partition}: appending {} records", ids.len()))?;
    ensure!(
        info.base_offset == expected_base
            && info.last_offset == expected_base + ids.len() as i64 - 1,
        "{topic}/{partition}: append got offsets {}..={}, expected {expected_base}..={}",
        info.base_offset,
        info.last_offset,
        expected_base + ids.len() as i64 - 1
    );
    Ok(())
}

/// Runs `f` on a fresh current-thread runtime and drops the runtime afterwards. A broker opened
/// inside is dropped with it, background tasks included, so its directory lock is released
/// when this returns: the next open never races a background task still holding the broker.
pub fn in_runtime<T>(f: impl std::future::Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("building a tokio runtime")?;
    let result = runtime.block_on(f);
    drop(runtime);
    result
}

/// Where a partition's files live.
pub fn partition_dir(data_dir: &Path, topic: &str, partition: i32) -> PathBuf {
    data_dir
        .join("topics")
        .join(topic)
        .join(partition.to_string())
}

/// The segment files of a partition directory, by base offset (parsed from the 20-digit name).
pub fn segment_files(dir: &Path) -> anyhow::Result<Vec<(i64, PathBuf)>> {
    files_by_offset(dir, ".log")
}

/// The files of a partition directory named `<20-digit offset><suffix>` (segments, producer
/// snapshots), by offset.
pub fn files_by_offset(dir: &Path, suffix: &str) -> anyhow::Result<Vec<(i64, PathBuf)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if let Some(stem) = name.strip_suffix(suffix) {
            ensure!(stem.len() == 20, "{name} is not named by a 20-digit offset");
            out.push((stem.parse()?, path));
        }
    }
    out.sort();
    Ok(out)
}

/// One RecordBatch in a segment file, as the test reads it (no code of the crate involved).
#[derive(Debug, Clone, Copy)]
pub struct RawBatch {
    pub position: u64,
    pub len: u64,
    pub base_offset: i64,
    pub last_offset: i64,
}

/// Walks the batches at the start of `bytes` by their length fields (no CRC check), stopping
/// at the first one that is incomplete or has no v2 magic: the batches found, and the length
/// they cover (the rest is a torn or foreign tail).
pub fn walk_batches(bytes: &[u8]) -> (Vec<RawBatch>, u64) {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at + 61 <= bytes.len() && bytes[at + 16] == 2 {
        let be_i32 = |from: usize| i32::from_be_bytes(bytes[from..from + 4].try_into().unwrap());
        let base_offset = i64::from_be_bytes(bytes[at..at + 8].try_into().unwrap());
        let len = 12 + be_i32(at + 8).max(0) as usize;
        if len < 61 || at + len > bytes.len() {
            break;
        }
        out.push(RawBatch {
            position: at as u64,
            len: len as u64,
            base_offset,
            last_offset: base_offset + be_i32(at + 23) as i64,
        });
        at += len;
    }
    (out, at as u64)
}

/// The batches of an intact segment file.
pub fn raw_batches(path: &Path) -> anyhow::Result<Vec<RawBatch>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let (batches, valid) = walk_batches(&bytes);
    ensure!(
        valid == bytes.len() as u64,
        "{}: {} bytes after the last whole batch",
        path.display(),
        bytes.len() as u64 - valid
    );
    Ok(batches)
}

/// Flips the bits of one byte of a file in place.
pub fn flip_byte(path: &Path, position: u64, mask: u8) -> anyhow::Result<()> {
    use std::os::unix::fs::FileExt;
    assert_ne!(mask, 0);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    let mut byte = [0u8];
    file.read_exact_at(&mut byte, position)?;
    byte[0] ^= mask;
    file.write_all_at(&byte, position)?;
    Ok(())
}

/// Cuts a file to `len` bytes.
pub fn truncate_file(path: &Path, len: u64) -> anyhow::Result<()> {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    file.set_len(len)?;
    Ok(())
}

/// Appends bytes to a file.
pub fn append_bytes(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    file.write_all(bytes)?;
    Ok(())
}

/// Prefix of every line a child prints for the parent, so lines from the test harness (which
/// shares stdout, and may put "test name ... " before the first one) are told apart.
pub const LINE_MARK: &str = "@@eddy ";

/// Prints one line for the parent with a single write, so a kill leaves either the whole line
/// or (at the very end) a partial one without its newline, which the parent ignores. Direct
/// writes to stdout are not captured by the test harness.
pub fn emit(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(format!("{LINE_MARK}{line}\n").as_bytes())
        .expect("stdout is open");
    out.flush().expect("stdout is open");
}

/// The test binary re-run as a child process that runs only `test_name`, with `envs` set.
/// Works the same under `cargo test` and `cargo nextest` (both run test binaries with
/// `--exact <name>`).
pub struct ChildProcess {
    child: Child,
    lines: mpsc::Receiver<String>,
    received: Vec<String>,
    stdout_thread: Option<JoinHandle<()>>,
    stderr_thread: Option<JoinHandle<String>>,
}

impl ChildProcess {
    pub fn spawn(test_name: &str, envs: &[(&str, OsString)]) -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("finding the test binary")?;
        let mut command = Command::new(exe);
        command
            .args([test_name, "--exact", "--nocapture", "--test-threads=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in envs {
            command.env(key, value);
        }
        let mut child = command.spawn().context("spawning the child process")?;
        let stdout = child.stdout.take().expect("piped");
        let mut stderr = child.stderr.take().expect("piped");
        let (tx, lines) = mpsc::channel();
        let stdout_thread = std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match reader.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => return,
                    // A line cut by a kill has no newline: it was never fully printed.
                    Ok(_) if buf.last() != Some(&b'\n') => return,
                    Ok(_) => {
                        let line = String::from_utf8_lossy(&buf);
                        if let Some(at) = line.find(LINE_MARK) {
                            let ours = line[at + LINE_MARK.len()..].trim_end().to_string();
                            if tx.send(ours).is_err() {
                                return;
                            }
                        }
                    }
                }
            }
        });
        let stderr_thread = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        Ok(Self {
            child,
            lines,
            received: Vec::new(),
            stdout_thread: Some(stdout_thread),
            stderr_thread: Some(stderr_thread),
        })
    }

    /// Waits until the child prints `line` (lines before it are kept).
    pub fn wait_for(&mut self, line: &str, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    let found = l == line;
                    self.received.push(l);
                    if found {
                        return Ok(());
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let _ = self.child.kill();
                    bail!("the child did not print {line:?} within {timeout:?}");
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let output = self.finish()?;
                    bail!(
                        "the child closed its output before printing {line:?}: {:?}\nstderr:\n{}",
                        output.status,
                        output.stderr
                    );
                }
            }
        }
    }

    /// Waits until the child prints a line starting with `prefix`; returns the rest of it.
    pub fn wait_for_prefix(&mut self, prefix: &str, timeout: Duration) -> anyhow::Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    let rest = l.strip_prefix(prefix).map(str::to_string);
                    self.received.push(l);
                    if let Some(rest) = rest {
                        return Ok(rest);
                    }
                }
                Err(_) => {
                    let _ = self.child.kill();
                    let output = self.finish()?;
                    bail!(
                        "the child did not print a line starting {prefix:?} within {timeout:?}: \
                         {:?}\nstderr:\n{}",
                        output.status,
                        output.stderr
                    );
                }
            }
        }
    }

    /// SIGKILLs the child and collects everything it printed.
    pub fn kill(mut self) -> anyhow::Result<ChildOutput> {
        // Errors only if the child already exited, which `finish` reports through the status.
        let _ = self.child.kill();
        self.finish()
    }

    /// Waits (at most `timeout`) for the child to exit by itself and collects its output.
    pub fn wait(mut self, timeout: Duration) -> anyhow::Result<ChildOutput> {
        let deadline = Instant::now() + timeout;
        while self.child.try_wait()?.is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let output = self.finish()?;
                bail!(
                    "the child did not exit within {timeout:?}; stderr:\n{}",
                    output.stderr
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        self.finish()
    }

    fn finish(&mut self) -> anyhow::Result<ChildOutput> {
        let status = self.child.wait()?;
        if let Some(t) = self.stdout_thread.take() {
            t.join().map_err(|_| anyhow!("stdout reader panicked"))?;
        }
        let stderr = match self.stderr_thread.take() {
            Some(t) => t.join().map_err(|_| anyhow!("stderr reader panicked"))?,
            None => String::new(),
        };
        let mut lines = std::mem::take(&mut self.received);
        lines.extend(self.lines.try_iter());
        Ok(ChildOutput {
            status,
            lines,
            stderr,
        })
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        if self.stdout_thread.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// What a child printed (its marked lines, in order) and how it ended.
#[derive(Debug)]
pub struct ChildOutput {
    pub status: ExitStatus,
    pub lines: Vec<String>,
    pub stderr: String,
}

/// One acknowledged append, as a child reports it: `ack <partition> <offset> <id>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ack {
    pub partition: i32,
    pub offset: i64,
    pub id: u64,
}

impl Ack {
    pub fn line(&self) -> String {
        format!("ack {} {} {}", self.partition, self.offset, self.id)
    }

    pub fn parse(line: &str) -> anyhow::Result<Option<Self>> {
        let Some(rest) = line.strip_prefix("ack ") else {
            return Ok(None);
        };
        let parts: Vec<&str> = rest.split(' ').collect();
        ensure!(parts.len() == 3, "malformed ack line {line:?}");
        Ok(Some(Self {
            partition: parts[0].parse()?,
            offset: parts[1].parse()?,
            id: parts[2].parse()?,
        }))
    }
}

/// The acks in a child's lines, grouped by partition.
pub fn acks_by_partition(lines: &[String]) -> anyhow::Result<HashMap<i32, Vec<Ack>>> {
    let mut out: HashMap<i32, Vec<Ack>> = HashMap::new();
    for line in lines {
        if let Some(ack) = Ack::parse(line)? {
            out.entry(ack.partition).or_default().push(ack);
        }
    }
    Ok(out)
}
