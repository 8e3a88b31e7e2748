//! One run of a query, in the DSL or in SQL, on a fresh embedded broker with its input
//! pre-loaded: timed, then its output topic read back.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure};
use bytes::Bytes;
use eddy_sql::engine::runner::AppView;
use eddy_sql::engine::{
    AppRunner, BrokerCluster, Config, Engine, PersistentQuery, QueryRunner, QueryStatus, Stopper,
};
use eddy_streams::runtime::{ProcessingGuarantee, StoreEngine};
use eddy_streams::{Backend, EmbeddedBackend, Topology};

use crate::nexmark_common::run::{Bench, Measured, ThreadCpu, cpu_seconds, produce, read_topic};

/// An output topic's records: key, value, timestamp.
pub type Records = Vec<(Bytes, Option<Bytes>, i64)>;

/// A query's input: its topic, and the records to pre-load (timestamp, value).
pub struct Input {
    pub topic: &'static str,
    pub records: Vec<(i64, Vec<u8>)>,
}

impl Input {
    pub fn len(&self) -> u64 {
        self.records.len() as u64
    }

    pub fn mean_size(&self) -> f64 {
        let bytes: usize = self.records.iter().map(|(_, v)| v.len()).sum();
        bytes as f64 / self.records.len().max(1) as f64
    }
}

/// A fresh broker in a fresh directory, holding the input.
struct Fresh {
    dir: tempfile::TempDir,
    backend: Arc<EmbeddedBackend>,
}

impl Fresh {
    fn new(input: &Input) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let backend = Arc::new(EmbeddedBackend::open(dir.path().join("broker"))?);
        let n = produce(&backend, input.topic, input.records.iter().cloned())?;
        ensure!(n == input.len(), "{n} of {} records produced", input.len());
        Ok(Self { dir, backend })
    }

    fn close(self) -> anyhow::Result<()> {
        self.backend.block_on(self.backend.broker().shutdown())?;
        Ok(())
    }
}

/// Runs a DSL topology until it has processed the input plus `extra` records (its
/// repartition topics'), with RocksDB stores; its measures and output.
pub fn run_dsl(
    input: &Input,
    query: &str,
    topology: Topology,
    out: &str,
    extra: u64,
) -> anyhow::Result<(Measured, Records)> {
    let fresh = Fresh::new(input)?;
    fresh
        .backend
        .create_topic(out, 1, eddy_streams::runtime::TopicKind::Plain)?;
    let bench = Bench {
        kafka: None,
        backend: fresh.backend.clone(),
        state_dir: fresh.dir.path().join("state"),
        commit_interval: Duration::from_secs(1),
    };
    let measured = bench.run(
        &format!("nexmark-{query}"),
        topology,
        StoreEngine::RocksDb,
        ProcessingGuarantee::AtLeastOnce,
        false,
        input.len() + extra,
    )?;
    let records = read_topic(&fresh.backend, out)?;
    fresh.close()?;
    Ok((measured, records))
}

/// The engine's [`AppRunner`], shared with the bench so that it can read the queries'
/// metrics (the engine keeps its runner to itself).
#[derive(Clone)]
struct SharedRunner(Arc<Mutex<AppRunner>>);

impl SharedRunner {
    fn lock(&self) -> MutexGuard<'_, AppRunner> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl QueryRunner for SharedRunner {
    fn start(&mut self, query: &PersistentQuery, topology: Topology) -> eddy_sql::Result<()> {
        self.lock().start(query, topology)
    }

    fn start_transient(
        &mut self,
        id: &str,
        application_id: &str,
        properties: &std::collections::BTreeMap<String, String>,
        topology: Topology,
    ) -> eddy_sql::Result<Stopper> {
        self.lock()
            .start_transient(id, application_id, properties, topology)
    }

    fn stop(&mut self, id: &str) -> eddy_sql::Result<()> {
        self.lock().stop(id)
    }

    fn clean_up(&mut self, application_id: &str) -> eddy_sql::Result<()> {
        self.lock().clean_up(application_id)
    }

    fn state_dir(&self) -> Option<std::path::PathBuf> {
        self.lock().state_dir()
    }

    fn status(&self, id: &str) -> QueryStatus {
        self.lock().status(id)
    }

    fn app(&self, id: &str) -> Option<AppView> {
        self.lock().app(id)
    }
}

/// The records a query reads: its sources' (the input's, or `extra`'s for an intermediate
/// source), once more per repartition.
fn expected_records(query: &PersistentQuery, input: &Input, extra: &[(&str, u64)]) -> u64 {
    let read: u64 = query
        .sources
        .iter()
        .map(|s| {
            extra
                .iter()
                .find(|(name, _)| name == s)
                .map_or(input.len(), |(_, n)| *n)
        })
        .sum();
    let repartitions = query
        .steps
        .iter()
        .filter(|s| s.starts_with("Repartition"))
        .count() as u64;
    read * (1 + repartitions)
}

/// Runs SQL: `ddl` (not timed) declares the input, `sql` (timed from its execution) starts
/// the persistent queries; they run until their apps have processed what they read (see
/// [`expected_records`]). Their measures and the records of topic `out`.
pub fn run_sql(
    input: &Input,
    ddl: &str,
    sql: &str,
    out: &str,
    extra: &[(&str, u64)],
) -> anyhow::Result<(Measured, Records)> {
    let fresh = Fresh::new(input)?;
    let cluster = Arc::new(BrokerCluster::new(
        fresh.backend.broker().clone(),
        fresh.backend.handle().clone(),
    ));
    let runner = SharedRunner(Arc::new(Mutex::new(AppRunner::new(
        fresh.backend.clone(),
        fresh.dir.path().join("query-state"),
    ))));
    let mut config = Config::new();
    config.set("auto.offset.reset", "earliest");
    config.set("commit.interval.ms", "1000");
    let mut engine = Engine::new(config, cluster, Box::new(runner.clone()));
    engine.execute(ddl)?;

    let threads_before = ThreadCpu::now();
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    engine.execute(sql)?;
    let queries: Vec<PersistentQuery> = engine.queries().values().cloned().collect();
    let expected: u64 = queries
        .iter()
        .map(|q| expected_records(q, input, extra))
        .sum();
    let views = || -> Vec<Option<AppView>> { queries.iter().map(|q| runner.app(&q.id)).collect() };
    let processed = |views: &[Option<AppView>]| -> u64 {
        views.iter().flatten().map(|v| v.snapshot.processed).sum()
    };
    let (mut last, mut last_change) = (0, Instant::now());
    loop {
        let now = views();
        let done = processed(&now);
        if done >= expected {
            break;
        }
        for q in &queries {
            if let QueryStatus::Error(e) = runner.status(&q.id) {
                bail!("SQL query {} failed: {e}", q.id);
            }
        }
        if done != last {
            (last, last_change) = (done, Instant::now());
        } else if last_change.elapsed() > Duration::from_secs(60) {
            let each: Vec<String> = queries
                .iter()
                .zip(&now)
                .map(|(q, v)| {
                    format!(
                        "{}: {:?} (expected {}; steps {:?})",
                        q.id,
                        v.as_ref().map(|v| &v.snapshot),
                        expected_records(q, input, extra),
                        q.steps
                    )
                })
                .collect();
            bail!(
                "SQL stalled at {done} of {expected} records processed: {}",
                each.join("; ")
            );
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu_before;
    let threads = ThreadCpu::now().since(&threads_before);
    let now = views();
    let done = processed(&now);
    ensure!(
        done == expected,
        "SQL processed {done} records, expected {expected}"
    );
    let mut commits = 0;
    for (q, view) in queries.iter().zip(&now) {
        let Some(view) = view else {
            bail!("SQL query {} is not running", q.id)
        };
        let m = &view.snapshot;
        ensure!(
            m.late_dropped == 0 && m.skipped == 0,
            "SQL query {} dropped {} late and skipped {} records",
            q.id,
            m.late_dropped,
            m.skipped
        );
        ensure!(
            q.log.count() == 0,
            "SQL query {} logged {} processing errors: {:?}",
            q.id,
            q.log.count(),
            q.log.recent()
        );
        commits += m.commits;
    }
    let stopping = Instant::now();
    engine.execute("TERMINATE ALL;")?;
    let stop = stopping.elapsed().as_secs_f64();
    let records = read_topic(&fresh.backend, out)?;
    drop(engine);
    fresh.close()?;
    Ok((
        Measured {
            wall,
            cpu,
            commits,
            stop,
            threads,
        },
        records,
    ))
}
