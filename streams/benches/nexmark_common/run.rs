//! Running on the embedded backend: pre-loading a topic, running an app until it has
//! processed its input, reading a topic back, CPU time.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use bytes::Bytes;
use eddy_broker::{Durability, Isolation, NewRecord};
use eddy_streams::runtime::KafkaBackend;
use eddy_streams::runtime::{ProcessingGuarantee, StoreEngine};
use eddy_streams::serdes::SerdeRef;
use eddy_streams::{App, AppConfig, Backend, EmbeddedBackend, Topology};

/// User + system CPU time of the whole process, seconds.
// getrusage is the only unsafe code of the benches.
#[allow(unsafe_code)]
pub fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes the struct it is given; all-zero bytes are a valid rusage.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer to a rusage we own.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    assert_eq!(rc, 0, "getrusage failed");
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// CPU time per thread of this process, read from `/proc/self/task` (Linux): where a
/// run's CPU time went. Threads that end between two readings are missing from the
/// difference (the process total still counts them).
#[derive(Debug, Clone, Default)]
pub struct ThreadCpu(HashMap<u32, (String, f64)>);

impl ThreadCpu {
    /// The threads' CPU times now (empty where `/proc` cannot be read).
    pub fn now() -> Self {
        // utime and stime are in clock ticks; 100 per second on Linux.
        const TICKS: f64 = 100.0;
        let mut threads = HashMap::new();
        let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
            return Self(threads);
        };
        for task in tasks.flatten() {
            let Ok(tid) = task.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
                continue;
            };
            // `tid (comm) state ...`: comm may hold spaces, so split at the last ')'.
            let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
                continue;
            };
            let name = stat[open + 1..close].to_string();
            let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
            // After the state (field 3), utime and stime are fields 14 and 15.
            let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
            if let (Some(user), Some(system)) = (ticks(11), ticks(12)) {
                threads.insert(tid, (name, (user + system) / TICKS));
            }
        }
        Self(threads)
    }

    /// The CPU seconds used since `before`, per thread name, busiest first:
    /// `name 0.52s, name 0.10s, ...` (names of less than 10 ms left out).
    pub fn since(&self, before: &ThreadCpu) -> String {
        let mut by_name: HashMap<&str, f64> = HashMap::new();
        for (tid, (name, secs)) in &self.0 {
            let earlier = before.0.get(tid).map_or(0.0, |(_, s)| *s);
            *by_name.entry(name).or_default() += secs - earlier;
        }
        let mut names: Vec<(&str, f64)> = by_name.into_iter().filter(|(_, s)| *s >= 0.01).collect();
        names.sort_by(|a, b| b.1.total_cmp(&a.1));
        names
            .iter()
            .map(|(name, secs)| format!("{name} {secs:.2}s"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

pub fn produce(
    backend: &EmbeddedBackend,
    topic: &str,
    values: impl Iterator<Item = (i64, Vec<u8>)>,
) -> anyhow::Result<u64> {
    backend.create_topic(topic, 1, eddy_streams::runtime::TopicKind::Plain)?;
    let mut chunk = Vec::with_capacity(5_000);
    let mut n = 0u64;
    let flush = |chunk: &mut Vec<NewRecord>| -> anyhow::Result<()> {
        if !chunk.is_empty() {
            backend.block_on(
                backend
                    .broker()
                    .produce(topic, 0, chunk, Durability::Written),
            )?;
            chunk.clear();
        }
        Ok(())
    };
    for (timestamp, value) in values {
        chunk.push(NewRecord {
            key: Some(Bytes::new()),
            value: Some(Bytes::from(value)),
            headers: Vec::new(),
            timestamp: Some(timestamp),
        });
        n += 1;
        if chunk.len() == 5_000 {
            flush(&mut chunk)?;
        }
    }
    flush(&mut chunk)?;
    Ok(n)
}

/// Every committed record of partition 0 of `topic` (read `read_committed`, past whole
/// batches: transaction markers and aborted batches hold offsets no record shows): key,
/// value, timestamp.
pub fn read_topic(
    backend: &EmbeddedBackend,
    topic: &str,
) -> anyhow::Result<Vec<(Bytes, Option<Bytes>, i64)>> {
    let mut out = Vec::new();
    let mut position = 0;
    loop {
        let fetched = backend.block_on(backend.broker().fetch_isolated(
            topic,
            0,
            position,
            8 << 20,
            Duration::ZERO,
            Isolation::ReadCommitted,
        ))?;
        let Some(next) = eddy_broker::batch::next_offset_after(&fetched.records) else {
            break;
        };
        let committed = eddy_broker::batch::without_aborted(&fetched.records, &fetched.aborted);
        for r in eddy_broker::decode_records(&committed)? {
            if r.offset >= position {
                out.push((r.key.unwrap_or_default(), r.value, r.timestamp));
            }
        }
        position = next;
        if position >= fetched.high_watermark {
            break;
        }
    }
    Ok(out)
}

pub fn decode_values<T>(
    records: &[(Bytes, Option<Bytes>, i64)],
    serde: &SerdeRef<T>,
) -> anyhow::Result<Vec<T>> {
    records
        .iter()
        .map(|(_, v, _)| {
            let v = v.as_ref().context("a tombstone in the output")?;
            Ok(serde.deserialize(v)?)
        })
        .collect()
}

pub struct Measured {
    /// From `App::start` until every record was processed.
    pub wall: f64,
    /// Process CPU time over the same span.
    pub cpu: f64,
    /// Commits during the span.
    pub commits: u64,
    /// Then `stop()`: the final commit (flushes outputs, changelogs, stores) and close.
    pub stop: f64,
    /// The CPU time of the span per thread ([`ThreadCpu::since`]).
    pub threads: String,
}

pub struct Bench {
    pub backend: Arc<EmbeddedBackend>,
    /// The same broker through its Kafka protocol server, for apps on the Kafka backend.
    pub kafka: Option<Arc<KafkaBackend>>,
    pub state_dir: std::path::PathBuf,
    /// How often the apps commit.
    pub commit_interval: Duration,
}

impl Bench {
    /// End offsets of the topics, and the offsets `app` committed: for a stall's report.
    pub fn offsets(&self, app: &str) -> String {
        let broker = self.backend.broker();
        let committed: HashMap<String, i64> = broker
            .group_offsets(app)
            .into_iter()
            .map(|(t, _, c)| (t, c.offset))
            .collect();
        let mut topics = broker.list_topics();
        topics.sort();
        topics
            .iter()
            .map(|t| {
                format!(
                    "{t}: end {:?} committed {:?}",
                    self.backend.end_offset(t, 0),
                    committed.get(t)
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Starts `topology` as application `app`, waits until it has processed `expected`
    /// records (input and repartition topics), stops it.
    pub fn run(
        &self,
        app: &str,
        topology: Topology,
        engine: StoreEngine,
        guarantee: ProcessingGuarantee,
        on_kafka: bool,
        expected: u64,
    ) -> anyhow::Result<Measured> {
        let backend: Arc<dyn Backend> = match (&self.kafka, on_kafka) {
            (Some(kafka), true) => kafka.clone(),
            (None, true) => bail!("no Kafka backend started"),
            (_, false) => self.backend.clone(),
        };
        let config = AppConfig {
            threads: 1,
            commit_interval: self.commit_interval,
            store_engine: engine,
            processing_guarantee: guarantee,
            state_dir: self.state_dir.clone(),
            ..AppConfig::new(app, backend)
        };
        let threads_before = ThreadCpu::now();
        let cpu_before = cpu_seconds();
        let started = Instant::now();
        let running = App::new(topology, config).start()?;
        let (mut last, mut last_change) = (0, Instant::now());
        loop {
            let m = running.metrics();
            if m.processed >= expected {
                break;
            }
            if let Some(failure) = running.failure() {
                bail!("{app} failed: {failure}");
            }
            if m.processed != last {
                (last, last_change) = (m.processed, Instant::now());
            } else if last_change.elapsed() > Duration::from_secs(60) {
                bail!(
                    "{app} stalled at {} of {expected} records processed: {m:?}; {}",
                    m.processed,
                    self.offsets(app)
                );
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let wall = started.elapsed().as_secs_f64();
        let cpu = cpu_seconds() - cpu_before;
        let threads = ThreadCpu::now().since(&threads_before);
        let m = running.metrics();
        ensure!(
            m.processed == expected,
            "{app} processed {} records, expected {expected}",
            m.processed
        );
        ensure!(
            m.late_dropped == 0 && m.skipped == 0,
            "{app} dropped {} late and skipped {} records",
            m.late_dropped,
            m.skipped
        );
        let stopping = Instant::now();
        running.stop()?;
        Ok(Measured {
            wall,
            cpu,
            commits: m.commits,
            stop: stopping.elapsed().as_secs_f64(),
            threads,
        })
    }
}

/// The embedded backend's broker served over the Kafka protocol on loopback, and a Kafka
/// backend on it: the same broker and topics, reached through rdkafka.
pub struct KafkaFront {
    pub backend: Arc<KafkaBackend>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl KafkaFront {
    pub fn start(embedded: &EmbeddedBackend) -> anyhow::Result<Self> {
        let config = eddy_broker::ServerConfig {
            listen: "127.0.0.1:0".parse()?,
            ..eddy_broker::ServerConfig::default()
        };
        let server =
            embedded.block_on(eddy_broker::Server::bind(embedded.broker().clone(), config))?;
        let addr = server.local_addr().to_string();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        embedded.handle().spawn(server.run(async {
            let _ = stopped.await;
        }));
        Ok(Self {
            backend: Arc::new(KafkaBackend::new(&addr)?),
            _stop: stop,
        })
    }
}
