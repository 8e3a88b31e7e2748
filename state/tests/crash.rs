//! Crash test: a child process writes to a RocksDB-backed, changelogged store (a cached
//! key-value store, a window store or a session store) and is SIGKILLed at random moments
//! (while restoring, between commits, during commits); after each kill the parent checks the
//! store reopens to exactly the state the changelog determines, and that this state extends
//! the child's last reported commit. All three kinds (key-value, window, session) are checked the same way: a
//! window or session store's contents are compared as a map from its encoded keys (key, then
//! window start; key, then session end and start) to values, which is what its changelog
//! records (retention is long enough that nothing expires).
//!
//! The changelog is [`FileChangelog`], defined here: an append-only file of length-prefixed,
//! CRC-32C checked records, fsynced at `flush`, a torn tail ignored and cut at open. In even
//! cycles records are written at `append` (a kill keeps them, like a broker that received
//! them); in odd cycles they are buffered until `flush` (a kill loses them, like a producer's
//! in-flight records), so the local store holds writes the changelog never got.
//!
//! Per cycle the parent:
//! 1. reads the changelog file and checks that the records below the offset of the last
//!    commit the child reported fold to the model digest the child reported for it (the
//!    state at the last commit is a prefix of the changelog);
//! 2. sometimes cuts the changelog's tail after that offset (a broker that lost unsynced
//!    records), and sometimes compacts it (keeping the last record of each key, so offsets
//!    get gaps);
//! 3. reopens the store (restoring it) and checks it equals the fold of the whole changelog;
//!    then closes it cleanly or drops it, so the next child restores incrementally or fully.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use eddy_state::keys::{session_key, windowed_key};
use eddy_state::{
    Change, Changelog, ChangelogRecord, ChangeloggedConfig, ChangeloggedSessionStore,
    ChangeloggedStore, ChangeloggedWindowStore, Error, KeyValueStore, RestoreKind, RestoreReport,
    Retention, RocksConfig, RocksEnv, SessionStore, SessionWindow, WindowStore,
};
use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const CHILD_DIR_ENV: &str = "EDDY_STATE_CRASH_DIR";
const CHILD_SEED_ENV: &str = "EDDY_STATE_CRASH_SEED";
const CHILD_KIND_ENV: &str = "EDDY_STATE_CRASH_KIND";
const CHILD_TEST: &str = "crash_child";
const LINE_MARK: &str = "@@eddy ";
const STORE: &str = "crash-store";
const CYCLES: usize = 40;
const WINDOW_CYCLES: usize = 20;
const SESSION_CYCLES: usize = 20;
const KEYS: u32 = 300;
const CACHE_BYTES: usize = 4096;
/// The parent compacts the changelog file beyond this many records.
const COMPACT_ABOVE: usize = 3_000;

// ---------------------------------------------------------------------------------------
// A file-backed changelog.

/// One record's header: body length (u32 LE), CRC-32C of the body (u32 LE). The body: offset
/// (i64 LE), key length (u32 LE), key, tag (0: tombstone, 1: value), value.
const HEADER: usize = 8;

fn encode_record(offset: i64, key: &[u8], value: Option<&[u8]>, out: &mut Vec<u8>) {
    let mut body = Vec::with_capacity(13 + key.len() + value.map_or(0, <[u8]>::len));
    body.extend_from_slice(&offset.to_le_bytes());
    body.extend_from_slice(&(key.len() as u32).to_le_bytes());
    body.extend_from_slice(key);
    match value {
        Some(value) => {
            body.push(1);
            body.extend_from_slice(value);
        }
        None => body.push(0),
    }
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32c::crc32c(&body).to_le_bytes());
    out.extend_from_slice(&body);
}

/// Parses the valid records of a changelog file; returns them with their end positions in
/// the file, and the length of the valid part (a torn or corrupt tail is ignored).
fn parse_records(bytes: &[u8]) -> (Vec<(ChangelogRecord, u64)>, u64) {
    let mut records = Vec::new();
    let mut at = 0usize;
    while let Some(header) = bytes.get(at..at + HEADER) {
        let len = u32::from_le_bytes(header[..4].try_into().unwrap_or_default()) as usize;
        let crc = u32::from_le_bytes(header[4..].try_into().unwrap_or_default());
        let Some(body) = bytes.get(at + HEADER..at + HEADER + len) else {
            break;
        };
        if crc32c::crc32c(body) != crc || len < 13 {
            break;
        }
        let offset = i64::from_le_bytes(body[..8].try_into().unwrap_or_default());
        let key_len = u32::from_le_bytes(body[8..12].try_into().unwrap_or_default()) as usize;
        let (Some(key), Some(&tag)) = (body.get(12..12 + key_len), body.get(12 + key_len)) else {
            break;
        };
        let value = match tag {
            0 if body.len() == 13 + key_len => None,
            1 => Some(body[13 + key_len..].to_vec()),
            _ => break,
        };
        at += HEADER + len;
        records.push((
            ChangelogRecord {
                offset,
                key: key.to_vec(),
                value,
            },
            at as u64,
        ));
    }
    (records, at as u64)
}

struct FileLog {
    file: File,
    /// Encoded records not yet written (buffered mode).
    unwritten: Vec<u8>,
    records: Vec<ChangelogRecord>,
    next: i64,
    durable_end: i64,
}

/// A changelog in one append-only file (see the module docs). Unbuffered, `append` writes
/// at once (a kill keeps the records, a power loss may not); buffered, it keeps the records
/// in memory until `flush` (a kill loses them, like a producer's in-flight records).
struct FileChangelog {
    path: PathBuf,
    buffered: bool,
    log: Mutex<FileLog>,
}

impl FileChangelog {
    /// Opens (creating) the file, cutting a torn tail.
    fn open(path: &Path, buffered: bool) -> anyhow::Result<Self> {
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let (records, valid) = parse_records(&bytes);
        if valid < bytes.len() as u64 {
            file.set_len(valid)?;
            file.sync_all()?;
        }
        let next = records.last().map_or(0, |(r, _)| r.offset + 1);
        Ok(Self {
            path: path.to_path_buf(),
            buffered,
            log: Mutex::new(FileLog {
                file,
                unwritten: Vec::new(),
                records: records.into_iter().map(|(r, _)| r).collect(),
                next,
                durable_end: next,
            }),
        })
    }

    fn error(&self, e: std::io::Error) -> Error {
        Error::Io {
            path: self.path.clone(),
            source: e,
        }
    }
}

impl Changelog for FileChangelog {
    fn name(&self) -> &str {
        "crash-changelog-0"
    }

    fn append(&self, records: &[Change]) -> eddy_state::Result<()> {
        let mut log = self.log.lock();
        let mut bytes = Vec::new();
        let first = log.next;
        for (i, (key, value)) in records.iter().enumerate() {
            encode_record(first + i as i64, key, value.as_deref(), &mut bytes);
        }
        if self.buffered {
            log.unwritten.extend_from_slice(&bytes);
        } else {
            log.file.write_all(&bytes).map_err(|e| self.error(e))?;
        }
        for (key, value) in records {
            let offset = log.next;
            log.next += 1;
            log.records.push(ChangelogRecord {
                offset,
                key: key.clone(),
                value: value.clone(),
            });
        }
        Ok(())
    }

    fn flush(&self) -> eddy_state::Result<i64> {
        let mut log = self.log.lock();
        let unwritten = std::mem::take(&mut log.unwritten);
        log.file.write_all(&unwritten).map_err(|e| self.error(e))?;
        log.file.sync_data().map_err(|e| self.error(e))?;
        log.durable_end = log.next;
        Ok(log.durable_end)
    }

    fn start_offset(&self) -> eddy_state::Result<i64> {
        Ok(0)
    }

    fn end_offset(&self) -> eddy_state::Result<i64> {
        Ok(self.log.lock().durable_end)
    }

    fn read(&self, from_offset: i64, max: usize) -> eddy_state::Result<Vec<ChangelogRecord>> {
        let log = self.log.lock();
        let at = log.records.partition_point(|r| r.offset < from_offset);
        Ok(log.records[at..]
            .iter()
            .take_while(|r| r.offset < log.durable_end)
            .take(max)
            .cloned()
            .collect())
    }
}

// ---------------------------------------------------------------------------------------
// Shared helpers.

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// FNV-1a over the length-prefixed entries, in key order.
fn digest(model: &Model) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    for (k, v) in model {
        eat(&(k.len() as u32).to_le_bytes());
        eat(k);
        eat(&(v.len() as u32).to_le_bytes());
        eat(v);
    }
    hash
}

fn fold<'a>(records: impl IntoIterator<Item = &'a ChangelogRecord>) -> Model {
    let mut model = Model::new();
    for r in records {
        match &r.value {
            Some(v) => model.insert(r.key.clone(), v.clone()),
            None => model.remove(&r.key),
        };
    }
    model
}

/// Which store the child writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    KeyValue,
    Window,
    Session,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::KeyValue => "kv",
            Kind::Window => "window",
            Kind::Session => "session",
        }
    }

    fn parse(text: &str) -> anyhow::Result<Self> {
        match text {
            "kv" => Ok(Kind::KeyValue),
            "window" => Ok(Kind::Window),
            "session" => Ok(Kind::Session),
            other => bail!("unknown store kind {other:?}"),
        }
    }
}

/// Window starts the child writes: 0, 1000, ..., 49000, in 10 s segments; retention long
/// enough that nothing expires, so the store holds exactly the fold of its changelog.
const WINDOW_STARTS: i64 = 50;
fn window_retention() -> Retention {
    Retention::with_segment_ms(1 << 40, 10_000).expect("valid retention")
}

/// The store under test, of either kind.
enum Store {
    KeyValue(ChangeloggedStore),
    Window(ChangeloggedWindowStore),
    Session(ChangeloggedSessionStore),
}

/// The session the child writes for time `start`: a function of it, so that put, remove and
/// get of the same (key, start) name the same session.
fn session(start: i64) -> SessionWindow {
    SessionWindow {
        start,
        end: start + (start / 1_000 % 3) * 100,
    }
}

impl Store {
    /// Puts under a model key: for a window store, the model key is the encoded
    /// `windowed_key(key, start)`, split back apart here.
    fn put(&self, key: &[u8], start: i64, value: &[u8]) -> eddy_state::Result<()> {
        match self {
            Store::KeyValue(store) => store.put(key, value),
            Store::Window(store) => store.put(key, start, value).map(|_| ()),
            Store::Session(store) => store.put(key, session(start), value).map(|_| ()),
        }
    }

    fn delete(&self, key: &[u8], start: i64) -> eddy_state::Result<()> {
        match self {
            Store::KeyValue(store) => store.delete(key),
            Store::Window(store) => store.delete(key, start),
            Store::Session(store) => store.remove(key, session(start)),
        }
    }

    fn get(&self, key: &[u8], start: i64) -> eddy_state::Result<Option<Vec<u8>>> {
        match self {
            Store::KeyValue(store) => store.get(key),
            Store::Window(store) => store.fetch_one(key, start),
            Store::Session(store) => store.fetch_session(key, session(start)),
        }
    }

    /// The key the model (and the changelog) uses for `key` (and `start`).
    fn model_key(&self, key: &[u8], start: i64) -> Vec<u8> {
        match self {
            Store::KeyValue(_) => key.to_vec(),
            Store::Window(_) => windowed_key(key, start),
            Store::Session(_) => {
                let w = session(start);
                session_key(key, w.start, w.end)
            }
        }
    }

    fn commit(&self) -> eddy_state::Result<i64> {
        match self {
            Store::KeyValue(store) => store.commit(),
            Store::Window(store) => store.commit(),
            Store::Session(store) => store.commit(),
        }
    }

    fn close(self) -> eddy_state::Result<i64> {
        match self {
            Store::KeyValue(store) => store.close(),
            Store::Window(store) => store.close(),
            Store::Session(store) => store.close(),
        }
    }

    /// Every entry, under its model key.
    fn contents(&self) -> anyhow::Result<Model> {
        let mut model = Model::new();
        match self {
            Store::KeyValue(store) => {
                for entry in store.all()? {
                    let (k, v) = entry?;
                    model.insert(k, v);
                }
            }
            Store::Window(store) => {
                for entry in store.fetch_all(i64::MIN, i64::MAX)? {
                    model.insert(windowed_key(&entry.key, entry.window_start), entry.value);
                }
            }
            Store::Session(store) => {
                // Session stores have no full scan: ask for every key the child uses.
                for k in 0..KEYS {
                    let key = format!("k{k:03}").into_bytes();
                    for entry in store.find_sessions(&key, i64::MIN, i64::MAX)? {
                        let w = entry.window;
                        model.insert(session_key(&entry.key, w.start, w.end), entry.value);
                    }
                }
            }
        }
        Ok(model)
    }
}

fn open_store(
    kind: Kind,
    dir: &Path,
    env: &RocksEnv,
    buffered: bool,
) -> anyhow::Result<(Store, RestoreReport)> {
    let changelog: Arc<dyn Changelog> =
        Arc::new(FileChangelog::open(&dir.join("changelog.log"), buffered)?);
    let config = ChangeloggedConfig {
        cache_max_bytes: CACHE_BYTES,
        restore_batch: 5_000,
        ..ChangeloggedConfig::default()
    };
    let store = dir.join("store");
    Ok(match kind {
        Kind::KeyValue => {
            let (store, report) = ChangeloggedStore::open(store, STORE, changelog, &config, |d| {
                env.open_kv(d, STORE)
            })?;
            (Store::KeyValue(store), report)
        }
        Kind::Window => {
            let (store, report) =
                ChangeloggedWindowStore::open(store, STORE, changelog, &config, |d| {
                    Ok(
                        Arc::new(env.open_window_store(d, STORE, window_retention())?)
                            as Arc<dyn WindowStore>,
                    )
                })?;
            (Store::Window(store), report)
        }
        Kind::Session => {
            let (store, report) =
                ChangeloggedSessionStore::open(store, STORE, changelog, &config, |d| {
                    Ok(
                        Arc::new(env.open_session_store(d, STORE, window_retention())?)
                            as Arc<dyn SessionStore>,
                    )
                })?;
            (Store::Session(store), report)
        }
    })
}

fn rocks_env() -> anyhow::Result<RocksEnv> {
    Ok(RocksEnv::new(RocksConfig {
        memory_budget_bytes: 16 << 20,
        ..RocksConfig::default()
    })?)
}

/// Prints one line for the parent in a single write.
fn emit(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(format!("{LINE_MARK}{line}\n").as_bytes());
    let _ = out.flush();
}

// ---------------------------------------------------------------------------------------
// The child.

/// Runs only as the child (with the directory in the environment); a no-op otherwise.
#[test]
fn crash_child() -> anyhow::Result<()> {
    let Some(dir) = std::env::var_os(CHILD_DIR_ENV) else {
        return Ok(());
    };
    let dir = PathBuf::from(dir);
    let seed: u64 = std::env::var(CHILD_SEED_ENV)?.parse()?;
    let kind = Kind::parse(&std::env::var(CHILD_KIND_ENV)?)?;
    let mut rng = StdRng::seed_from_u64(seed);
    let env = rocks_env()?;
    // Odd cycles lose unflushed changelog records at the kill, even ones keep them.
    let (store, report) = open_store(kind, &dir, &env, seed % 2 == 1)?;
    let mut model = store.contents()?;
    emit(&format!(
        "ready {} {}",
        matches!(report.kind, RestoreKind::Incremental),
        report.records
    ));
    if seed.is_multiple_of(3) {
        // Idle after the restore, with the checkpoint written and nothing else yet: a kill
        // here checks that what the restore wrote is durable (RocksDB restores skip its log).
        std::thread::sleep(Duration::from_millis(300));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seq = 0u64;
    let mut until_commit = rng.random_range(1..80);
    let random_key = |rng: &mut StdRng| {
        let key = format!("k{:03}", rng.random_range(0..KEYS)).into_bytes();
        (key, rng.random_range(0..WINDOW_STARTS) * 1_000)
    };
    while Instant::now() < deadline {
        let (key, start) = random_key(&mut rng);
        let model_key = store.model_key(&key, start);
        match rng.random_range(0..20) {
            0..=13 => {
                let len = rng.random_range(0..100);
                let value: Vec<u8> = (0..len).map(|_| rng.random()).collect();
                store.put(&key, start, &value)?;
                model.insert(model_key, value);
            }
            14..=17 => {
                store.delete(&key, start)?;
                model.remove(&model_key);
            }
            18 => match &store {
                Store::KeyValue(kv) => {
                    let mut batch = Vec::new();
                    for _ in 0..rng.random_range(1..10) {
                        let (key, _) = random_key(&mut rng);
                        let value = rng.random_bool(0.7).then(|| vec![rng.random(); 20]);
                        match &value {
                            Some(v) => model.insert(key.clone(), v.clone()),
                            None => model.remove(&key),
                        };
                        batch.push((key, value));
                    }
                    kv.write_batch(&batch)?;
                }
                Store::Window(_) | Store::Session(_) => {
                    // A burst of puts to one key's consecutive windows (or sessions).
                    for i in 0..rng.random_range(1..10) {
                        let start = (start + i * 1_000) % (WINDOW_STARTS * 1_000);
                        let value = vec![rng.random(); 20];
                        store.put(&key, start, &value)?;
                        model.insert(store.model_key(&key, start), value);
                    }
                }
            },
            _ => ensure!(
                store.get(&key, start)? == model.get(&model_key).cloned(),
                "read of {key:?} at {start} disagrees with the model"
            ),
        }
        until_commit -= 1;
        if until_commit == 0 {
            until_commit = rng.random_range(1..80);
            seq += 1;
            emit(&format!("begin {seq}"));
            let offset = store.commit()?;
            emit(&format!("commit {seq} {offset} {:016x}", digest(&model)));
            if rng.random_range(0..10) == 0 {
                ensure!(store.contents()? == model, "scan disagrees with the model");
            }
            std::thread::sleep(Duration::from_micros(rng.random_range(0..2000)));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The parent.

struct ChildProcess {
    child: Child,
    lines: mpsc::Receiver<String>,
    reader: Option<std::thread::JoinHandle<()>>,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl ChildProcess {
    fn spawn(kind: Kind, dir: &Path, seed: u64) -> anyhow::Result<Self> {
        let exe = std::env::current_exe()?;
        let mut child = Command::new(exe)
            .args([CHILD_TEST, "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_DIR_ENV, dir)
            .env(CHILD_SEED_ENV, seed.to_string())
            .env(CHILD_KIND_ENV, kind.as_str())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("spawning the child")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut stderr = child.stderr.take().context("no stderr")?;
        let (tx, lines) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match reader.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => return,
                    // A line cut by the kill was never fully printed.
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
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        Ok(Self {
            child,
            lines,
            reader: Some(reader),
            stderr: Some(stderr),
        })
    }

    /// Waits for a line starting with `prefix`, keeping every line received in `seen`.
    fn wait_for(
        &mut self,
        prefix: &str,
        seen: &mut Vec<String>,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = line.starts_with(prefix);
                    seen.push(line);
                    if found {
                        return Ok(());
                    }
                }
                Err(_) => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    let stderr = self
                        .stderr
                        .take()
                        .and_then(|t| t.join().ok())
                        .unwrap_or_default();
                    bail!("the child did not print {prefix:?} in time; stderr:\n{stderr}");
                }
            }
        }
    }

    /// SIGKILLs the child; returns every line it printed, and whether it had already exited.
    fn kill(mut self, seen: &mut Vec<String>) -> anyhow::Result<Option<String>> {
        let exited = self.child.try_wait()?.is_some();
        let _ = self.child.kill();
        self.child.wait()?;
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        seen.extend(self.lines.try_iter());
        let stderr = self
            .stderr
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default();
        Ok(exited.then_some(stderr))
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The last commit the child reported: the offset it reflects and the model's digest.
#[derive(Debug, Clone, Copy)]
struct Commit {
    offset: i64,
    digest: u64,
}

fn parse_commit(line: &str) -> anyhow::Result<Option<Commit>> {
    let Some(rest) = line.strip_prefix("commit ") else {
        return Ok(None);
    };
    let parts: Vec<&str> = rest.split(' ').collect();
    ensure!(parts.len() == 3, "malformed commit line {line:?}");
    Ok(Some(Commit {
        offset: parts[1].parse()?,
        digest: u64::from_str_radix(parts[2], 16)?,
    }))
}

/// Rewrites the changelog file keeping the last record of each key (offsets kept).
fn compact_file(path: &Path) -> anyhow::Result<()> {
    let bytes = std::fs::read(path)?;
    let (records, _) = parse_records(&bytes);
    let mut last: HashMap<&[u8], i64> = HashMap::new();
    for (r, _) in &records {
        last.insert(&r.key, r.offset);
    }
    let mut out = Vec::new();
    for (r, _) in &records {
        if last.get(r.key.as_slice()) == Some(&r.offset) {
            encode_record(r.offset, &r.key, r.value.as_deref(), &mut out);
        }
    }
    let temp = path.with_extension("compacting");
    let mut file = File::create(&temp)?;
    file.write_all(&out)?;
    file.sync_all()?;
    std::fs::rename(&temp, path)?;
    Ok(())
}

#[derive(Default)]
struct Stats {
    killed_in_restore: usize,
    killed_in_commit: usize,
    killed_between_commits: usize,
    tails_cut: usize,
    compactions: usize,
    incremental_restores: usize,
    full_restores: usize,
    checkpoints_removed: usize,
    commits: usize,
}

#[test]
fn store_equals_changelog_after_random_kills() -> anyhow::Result<()> {
    random_kills(Kind::KeyValue, CYCLES, 0x5eed_c4a5)
}

#[test]
fn window_store_equals_changelog_after_random_kills() -> anyhow::Result<()> {
    random_kills(Kind::Window, WINDOW_CYCLES, 0x5eed_3d0f)
}

#[test]
fn session_store_equals_changelog_after_random_kills() -> anyhow::Result<()> {
    random_kills(Kind::Session, SESSION_CYCLES, 0x5eed_5e55)
}

fn random_kills(kind: Kind, cycles: usize, seed: u64) -> anyhow::Result<()> {
    if std::env::var_os(CHILD_DIR_ENV).is_some() {
        return Ok(());
    }
    let started = Instant::now();
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path();
    let log_path = dir.join("changelog.log");
    let mut rng = StdRng::seed_from_u64(seed);
    let mut last_commit: Option<Commit> = None;
    let mut stats = Stats::default();
    let env = rocks_env()?;

    for cycle in 0..cycles {
        let mut child = ChildProcess::spawn(kind, dir, cycle as u64)?;
        let mut lines = Vec::new();
        let mode = rng.random_range(0..6);
        if mode == 0 {
            // During the open (and restore), or soon after.
            std::thread::sleep(Duration::from_millis(rng.random_range(0..60)));
        } else {
            child.wait_for("ready", &mut lines, Duration::from_secs(30))?;
            if mode <= 2 {
                std::thread::sleep(Duration::from_millis(rng.random_range(0..150)));
            } else {
                // Right after a commit begins.
                for _ in 0..rng.random_range(1..20) {
                    child.wait_for("begin", &mut lines, Duration::from_secs(30))?;
                }
                std::thread::sleep(Duration::from_micros(rng.random_range(0..1500)));
            }
        }
        if let Some(stderr) = child.kill(&mut lines)? {
            bail!("cycle {cycle}: the child exited by itself; lines {lines:?}\n{stderr}");
        }
        for line in &lines {
            if let Some(commit) = parse_commit(line)? {
                last_commit = Some(commit);
                stats.commits += 1;
            }
        }
        match lines.last().map(String::as_str) {
            None => stats.killed_in_restore += 1,
            Some(l) if l.starts_with("ready") => stats.killed_between_commits += 1,
            Some(l) if l.starts_with("begin") => stats.killed_in_commit += 1,
            Some(_) => stats.killed_between_commits += 1,
        }

        // 1. The state at the last reported commit is a prefix of the changelog.
        let bytes = std::fs::read(&log_path).unwrap_or_default();
        let (records, valid_len) = parse_records(&bytes);
        let mut keep_from = 0u64;
        if let Some(commit) = last_commit {
            let below: Vec<&ChangelogRecord> = records
                .iter()
                .map(|(r, _)| r)
                .take_while(|r| r.offset < commit.offset)
                .collect();
            let end = records.last().map_or(0, |(r, _)| r.offset + 1);
            ensure!(
                commit.offset <= end,
                "cycle {cycle}: commit at offset {} but the changelog ends at {end}",
                commit.offset
            );
            ensure!(
                digest(&fold(below.iter().copied())) == commit.digest,
                "cycle {cycle}: the changelog below offset {} is not the committed state",
                commit.offset
            );
            keep_from = records
                .iter()
                .take_while(|(r, _)| r.offset < commit.offset)
                .last()
                .map_or(0, |(_, end)| *end);
        }

        // 2. Sometimes lose an unsynced tail, sometimes compact.
        if rng.random_range(0..3) == 0 && valid_len > keep_from {
            let cut = rng.random_range(keep_from..=valid_len);
            let file = OpenOptions::new().write(true).open(&log_path)?;
            file.set_len(cut)?;
            stats.tails_cut += 1;
        }
        if records.len() > COMPACT_ABOVE {
            compact_file(&log_path)?;
            // The committed prefix no longer folds to the committed state: checked above.
            last_commit = None;
            stats.compactions += 1;
        }

        // 3. Reopen, restore, compare with the changelog's contents.
        let expected = {
            let bytes = std::fs::read(&log_path).unwrap_or_default();
            let (records, _) = parse_records(&bytes);
            fold(records.iter().map(|(r, _)| r))
        };
        let (store, report) = open_store(kind, dir, &env, false)?;
        match report.kind {
            RestoreKind::Incremental => stats.incremental_restores += 1,
            RestoreKind::Full(_) => stats.full_restores += 1,
        }
        let actual = store.contents()?;
        if actual != expected {
            let only_store: Vec<_> = actual
                .iter()
                .filter(|(k, v)| expected.get(*k) != Some(*v))
                .map(|(k, _)| String::from_utf8_lossy(k).into_owned())
                .collect();
            let only_log: Vec<_> = expected
                .iter()
                .filter(|(k, v)| actual.get(*k) != Some(*v))
                .map(|(k, _)| String::from_utf8_lossy(k).into_owned())
                .collect();
            bail!(
                "cycle {cycle}: restored store differs from the changelog ({report:?}); keys \
                 differing in the store {only_store:?}, in the changelog {only_log:?}"
            );
        }
        if rng.random_bool(0.5) {
            store.close()?;
        } else {
            drop(store);
        }
        // Sometimes make the next child restore in full, so that kills land right after a
        // full restore too (the parent's own restores are made durable by a clean close).
        if rng.random_range(0..4) == 0 {
            let checkpoint = dir
                .join("store")
                .join(eddy_state::checkpoint::CHECKPOINT_FILE);
            if checkpoint.exists() {
                std::fs::remove_file(&checkpoint)?;
                stats.checkpoints_removed += 1;
            }
        }
    }
    let Stats {
        killed_in_restore,
        killed_in_commit,
        killed_between_commits,
        tails_cut,
        compactions,
        incremental_restores,
        full_restores,
        checkpoints_removed,
        commits,
    } = stats;
    eprintln!(
        "crash test ({kind:?}): {cycles} cycles in {:?}: kills while opening {killed_in_restore}, during a \
         commit {killed_in_commit}, between commits {killed_between_commits}; tails cut \
         {tails_cut}, compactions {compactions}; restores incremental {incremental_restores}, \
         full {full_restores}; checkpoints removed {checkpoints_removed}; commits {commits}",
        started.elapsed()
    );
    ensure!(commits > 0, "the child never committed");
    Ok(())
}
