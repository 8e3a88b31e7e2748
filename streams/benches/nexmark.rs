//! Nexmark on eddy-streams (embedded backend), next to a hand-written single-threaded
//! baseline over the same events in memory (not a timed test).
//!
//! ```text
//! cargo bench -p eddy-streams --bench nexmark [-- --events N] [--q8-events N] [--delay-us US]
//!     [--queries q0,q1,q2,q5,q7,q8] [--engines rocksdb,memory] [--json] [--seed S]
//! ```
//!
//! - A seeded, deterministic Nexmark generator (the Beam/Flink generator's rules: persons,
//!   auctions and bids in proportions 1:3:46 per 50 events; auctions name recent persons as
//!   sellers, bids recent auctions and persons, with hot auctions/sellers/bidders; event `i`
//!   is a pure function of the seed and `i`, and its time is `base + i * delay`: base is the
//!   run's start rounded down to a minute, delay 100 µs by default (Beam's default rate of
//!   10k events/s).
//! - Values use a small fixed binary serde (little-endian integers, length-prefixed UTF-8);
//!   `--json` switches every value to `Serdes::json()`.
//! - Each query's input is produced into a 1-partition topic first (`bids` holds the first
//!   N bids; `persons-auctions` the first N persons and auctions, in event order); then the
//!   app is started and timed from `App::start` until its `processed` metric has counted
//!   every input record (plus the records of its repartition topics), with the process' CPU
//!   time (getrusage: user + sys, all threads, the broker's included) over the same span;
//!   under each run's line, that span's CPU seconds per thread name.
//! - The output topic is read back and compared with the baseline's results; any difference
//!   fails the run.
//!
//! Goals (from the issue): >= 1M events/s per core for q0-q2, >= 300k for q5, q7, q8.
//!
//! The model, generator, DSL queries, baselines and running helpers are in
//! `nexmark_common/`, shared with the SQL engine's Nexmark bench (`sql/benches/nexmark_sql.rs`).

/// The app's allocator: mimalloc, as a throughput-minded Rust service would pick (the
/// figures with glibc's malloc: `--features bench-system-alloc`, see docs/benchmarks.md).
#[cfg(not(feature = "bench-system-alloc"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "nexmark_common/mod.rs"]
mod nexmark_common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use eddy_streams::runtime::{ProcessingGuarantee, StoreEngine};
use eddy_streams::serdes::{SerdeRef, Serdes};
use eddy_streams::{Backend, EmbeddedBackend, Topology};

use nexmark_common::baseline::{base_q0, base_q1, base_q2, base_q5, base_q7, base_q8, time_best};
use nexmark_common::generator::{BASE_TIME_ALIGN_MS, Generator};
use nexmark_common::model::{Bid, Event, Format, HotItems, serde_of};
use nexmark_common::queries::{BIDS, PERSONS_AUCTIONS, Q7_SIZE_MS, q0, q1, q2, q5, q7, q8};
use nexmark_common::run::{Bench, Measured, decode_values, produce, read_topic};

struct Row {
    query: &'static str,
    engine: &'static str,
    guarantee: String,
    events: u64,
    measured: Measured,
    baseline_rate: f64,
    outputs: usize,
    goal: f64,
}

impl Row {
    fn wall_rate(&self) -> f64 {
        self.events as f64 / self.measured.wall
    }
    fn core_rate(&self) -> f64 {
        self.events as f64 / self.measured.cpu
    }
}

fn print_header() {
    println!(
        "{:<5} {:<8} {:<10} {:>9} {:>8} {:>12} {:>7} {:>13} {:>7} {:>6} {:>13} {:>9} {:>8}  goal/core",
        "query",
        "engine",
        "mode",
        "events",
        "wall s",
        "events/s",
        "cpu s",
        "ev/s per core",
        "commits",
        "stop s",
        "baseline ev/s",
        "DSL/base",
        "outputs"
    );
}

fn print_row(r: &Row) {
    println!(
        "{:<5} {:<8} {:<10} {:>9} {:>8.2} {:>12.0} {:>7.2} {:>13.0} {:>7} {:>6.2} {:>13.0} {:>9.4} {:>8}  {:>7.0}k {}",
        r.query,
        r.engine,
        r.guarantee,
        r.events,
        r.measured.wall,
        r.wall_rate(),
        r.measured.cpu,
        r.core_rate(),
        r.measured.commits,
        r.measured.stop,
        r.baseline_rate,
        r.wall_rate() / r.baseline_rate,
        r.outputs,
        r.goal / 1000.0,
        if r.core_rate() >= r.goal {
            "met"
        } else {
            "MISSED"
        }
    );
}

struct Args {
    events: u64,
    q8_events: u64,
    delay_us: i64,
    seed: u64,
    format: Format,
    queries: Vec<String>,
    engines: Vec<StoreEngine>,
    guarantees: Vec<ProcessingGuarantee>,
    /// Run the apps on the Kafka backend (against the same broker's protocol server on
    /// loopback) as well as, or instead of, the embedded one.
    backends: Vec<bool>,
    commit_interval: Duration,
}

impl Args {
    /// Every (guarantee, on the Kafka backend) pair to run a query with.
    fn modes(&self) -> Vec<(ProcessingGuarantee, bool)> {
        let backends = &self.backends;
        self.guarantees
            .iter()
            .flat_map(|&g| backends.iter().map(move |&b| (g, b)))
            .collect()
    }

    /// Every (engine, guarantee, on the Kafka backend) to run a stateful query with.
    fn runs(&self) -> Vec<(StoreEngine, ProcessingGuarantee, bool)> {
        let modes = self.modes();
        self.engines
            .iter()
            .flat_map(|&e| modes.iter().map(move |&(g, b)| (e, g, b)))
            .collect()
    }
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        events: 1_000_000,
        q8_events: 1_000_000,
        delay_us: 100,
        seed: 42,
        format: Format::Binary,
        queries: ["q0", "q1", "q2", "q5", "q7", "q8"]
            .map(String::from)
            .to_vec(),
        engines: vec![StoreEngine::RocksDb, StoreEngine::Memory],
        guarantees: vec![ProcessingGuarantee::AtLeastOnce],
        backends: vec![false],
        commit_interval: Duration::from_secs(1),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--events" => args.events = value()?.parse()?,
            "--q8-events" => args.q8_events = value()?.parse()?,
            "--delay-us" => args.delay_us = value()?.parse()?,
            "--seed" => args.seed = value()?.parse()?,
            "--json" => args.format = Format::Json,
            "--queries" => args.queries = value()?.split(',').map(String::from).collect(),
            "--engines" => {
                args.engines = value()?
                    .split(',')
                    .map(|e| match e {
                        "rocksdb" => Ok(StoreEngine::RocksDb),
                        "memory" => Ok(StoreEngine::Memory),
                        other => bail!("unknown engine {other:?}"),
                    })
                    .collect::<anyhow::Result<_>>()?
            }
            "--guarantees" => {
                args.guarantees = value()?
                    .split(',')
                    .map(|g| match g {
                        "alos" => Ok(ProcessingGuarantee::AtLeastOnce),
                        "eos" => Ok(ProcessingGuarantee::ExactlyOnceV2),
                        other => bail!("unknown guarantee {other:?} (alos or eos)"),
                    })
                    .collect::<anyhow::Result<_>>()?
            }
            "--backends" => {
                args.backends = value()?
                    .split(',')
                    .map(|b| match b {
                        "embedded" => Ok(false),
                        "kafka" => Ok(true),
                        other => bail!("unknown backend {other:?} (embedded or kafka)"),
                    })
                    .collect::<anyhow::Result<_>>()?
            }
            "--commit-interval-ms" => {
                args.commit_interval = Duration::from_millis(value()?.parse()?)
            }
            // `cargo bench` passes --bench; ignore whatever else we do not know.
            _ => {}
        }
    }
    ensure!(args.delay_us > 0, "--delay-us must be positive");
    Ok(args)
}

fn engine_name(engine: StoreEngine) -> &'static str {
    match engine {
        StoreEngine::RocksDb => "rocksdb",
        StoreEngine::Memory => "memory",
    }
}

/// `alos` or `eos`, with `-kafka` on the Kafka backend (a part of topic names).
fn mode_name(guarantee: ProcessingGuarantee, on_kafka: bool) -> String {
    let guarantee = match guarantee {
        ProcessingGuarantee::AtLeastOnce => "alos",
        ProcessingGuarantee::ExactlyOnceV2 => "eos",
    };
    if on_kafka {
        format!("{guarantee}-kafka")
    } else {
        guarantee.to_string()
    }
}

fn check<T: PartialEq + std::fmt::Debug>(query: &str, got: &[T], want: &[T]) -> anyhow::Result<()> {
    if got.len() != want.len() {
        bail!(
            "{query}: WRONG RESULT: {} output records, the baseline has {}",
            got.len(),
            want.len()
        );
    }
    if let Some(i) = (0..got.len()).find(|&i| got[i] != want[i]) {
        bail!(
            "{query}: WRONG RESULT at output {i}: {:?}, the baseline has {:?}",
            got[i],
            want[i]
        );
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let format = args.format;
    let generator = Generator {
        seed: args.seed,
        delay_us: args.delay_us,
        base_ms: eddy_broker::now_ms() / BASE_TIME_ALIGN_MS * BASE_TIME_ALIGN_MS,
    };
    let wants = |q: &str| args.queries.iter().any(|x| x == q);
    let dir = tempfile::tempdir()?;
    let backend = Arc::new(EmbeddedBackend::open(dir.path().join("broker"))?);
    let kafka = if args.backends.contains(&true) {
        Some(nexmark_common::run::KafkaFront::start(&backend)?)
    } else {
        None
    };
    let bench = Bench {
        kafka: kafka.as_ref().map(|k| k.backend.clone()),
        backend: backend.clone(),
        state_dir: dir.path().join("state"),
        commit_interval: args.commit_interval,
    };
    println!(
        "nexmark on eddy-streams, embedded backend, 1 partition, 1 stream thread; values: {}; \
         event time: {} us per event; seed {}; commit interval {} ms; allocator: {}",
        match format {
            Format::Binary => "fixed binary serde",
            Format::Json => "JSON",
        },
        args.delay_us,
        args.seed,
        args.commit_interval.as_millis(),
        if cfg!(feature = "bench-system-alloc") {
            "system (glibc malloc)"
        } else {
            "mimalloc"
        }
    );

    let mut rows = Vec::new();
    let bid_queries = ["q0", "q1", "q2", "q5", "q7"];
    if bid_queries.iter().any(|q| wants(q)) {
        let started = Instant::now();
        let bids: Vec<Bid> = (0..args.events as i64)
            .map(|k| generator.bid(Generator::bid_event(k)))
            .collect();
        let generated = started.elapsed().as_secs_f64();
        let serde: SerdeRef<Bid> = serde_of(format);
        let started = Instant::now();
        let mut bytes = 0usize;
        let n = produce(
            &backend,
            BIDS,
            bids.iter().map(|b| {
                let v = serde.serialize(b).expect("bids encode");
                bytes += v.len();
                (b.date_time, v)
            }),
        )?;
        let span = (bids.last().map_or(0, |b| b.date_time) - bids[0].date_time) as f64 / 1000.0;
        println!(
            "input: {n} bids ({:.1} bytes/value, {span:.1} s of event time): generated in {generated:.2} s, \
             produced to {BIDS:?} in {:.2} s",
            bytes as f64 / n as f64,
            started.elapsed().as_secs_f64()
        );
        print_header();
        let bid_serde: SerdeRef<Bid> = serde_of(format);

        type Stateless = fn(&[Bid]) -> Vec<Bid>;
        type Build = fn(Format, &str) -> anyhow::Result<Topology>;
        let stateless: [(&'static str, Stateless, Build); 3] = [
            ("q0", base_q0, q0),
            ("q1", base_q1, q1),
            ("q2", base_q2, q2),
        ];
        for (query, baseline, build) in stateless {
            if !wants(query) {
                continue;
            }
            let (want, secs) = time_best(3, || baseline(&bids));
            for (guarantee, on_kafka) in args.modes() {
                let mode = mode_name(guarantee, on_kafka);
                let out = format!("{query}-{mode}-out");
                backend.create_topic(&out, 1, eddy_streams::runtime::TopicKind::Plain)?;
                let measured = bench.run(
                    &format!("nexmark-{query}-{mode}"),
                    build(format, &out)?,
                    StoreEngine::Memory,
                    guarantee,
                    on_kafka,
                    n,
                )?;
                let got = decode_values(&read_topic(&backend, &out)?, &bid_serde)?;
                check(query, &got, &want)?;
                let row = Row {
                    query,
                    engine: "-",
                    guarantee: mode.clone(),
                    events: n,
                    measured,
                    baseline_rate: n as f64 / secs,
                    outputs: got.len(),
                    goal: 1_000_000.0,
                };
                print_row(&row);
                println!("      threads: {}", row.measured.threads);
                rows.push(row);
            }
        }

        if wants("q5") {
            let ((want, counts), secs) = time_best(3, || base_q5(&bids));
            for (engine, guarantee, on_kafka) in args.runs() {
                let mode = mode_name(guarantee, on_kafka);
                let out = format!("q5-{}-{mode}-out", engine_name(engine));
                backend.create_topic(&out, 1, eddy_streams::runtime::TopicKind::Plain)?;
                let measured = bench.run(
                    &format!("nexmark-q5-{}-{mode}", engine_name(engine)),
                    q5(format, &out)?,
                    engine,
                    guarantee,
                    on_kafka,
                    2 * n + counts,
                )?;
                let records = read_topic(&backend, &out)?;
                let hot = decode_values(&records, &serde_of::<HotItems>(format))?;
                // The second step's record cache merges the updates of a window between
                // commits: at most one update per count, at least one per window.
                ensure!(
                    records.len() as u64 <= counts && records.len() >= want.len(),
                    "q5: WRONG RESULT: {} updates in the output, the baseline's first step emits {counts} counts for {} windows",
                    records.len(),
                    want.len()
                );
                println!(
                    "q5 {} {mode}: {} updates in the output for {} counts (record cache)",
                    engine_name(engine),
                    records.len(),
                    counts
                );
                // The result per window is its last update.
                let mut last = BTreeMap::new();
                for ((key, _, _), hot) in records.iter().zip(hot) {
                    last.insert(Serdes::i64().deserialize(key)?, hot);
                }
                let got: Vec<_> = last.into_iter().collect();
                let want: Vec<_> = want.clone().into_iter().collect();
                check("q5", &got, &want)?;
                let row = Row {
                    query: "q5",
                    engine: engine_name(engine),
                    guarantee: mode.clone(),
                    events: n,
                    measured,
                    baseline_rate: n as f64 / secs,
                    outputs: got.len(),
                    goal: 300_000.0,
                };
                print_row(&row);
                println!("      threads: {}", row.measured.threads);
                rows.push(row);
            }
        }

        if wants("q7") {
            let (want, secs) = time_best(3, || base_q7(&bids));
            let windowed = Serdes::time_windowed(Serdes::string(), Q7_SIZE_MS);
            for (engine, guarantee, on_kafka) in args.runs() {
                let mode = mode_name(guarantee, on_kafka);
                let out = format!("q7-{}-{mode}-out", engine_name(engine));
                backend.create_topic(&out, 1, eddy_streams::runtime::TopicKind::Plain)?;
                let measured = bench.run(
                    &format!("nexmark-q7-{}-{mode}", engine_name(engine)),
                    q7(format, &out)?,
                    engine,
                    guarantee,
                    on_kafka,
                    n,
                )?;
                let records = read_topic(&backend, &out)?;
                let values = decode_values(&records, &bid_serde)?;
                let got = records
                    .iter()
                    .zip(values)
                    .map(|((k, _, _), b)| Ok((windowed.deserialize(k)?.window.start, b)))
                    .collect::<anyhow::Result<Vec<_>>>()?;
                check("q7", &got, &want)?;
                let row = Row {
                    query: "q7",
                    engine: engine_name(engine),
                    guarantee: mode.clone(),
                    events: n,
                    measured,
                    baseline_rate: n as f64 / secs,
                    outputs: got.len(),
                    goal: 300_000.0,
                };
                print_row(&row);
                println!("      threads: {}", row.measured.threads);
                rows.push(row);
            }
        }
    }

    if wants("q8") {
        let started = Instant::now();
        let events: Vec<Event> = (0..args.q8_events as i64)
            .map(|k| generator.event(Generator::person_or_auction_event(k)))
            .collect();
        let generated = started.elapsed().as_secs_f64();
        let serde: SerdeRef<Event> = serde_of(format);
        let started = Instant::now();
        let n = produce(
            &backend,
            PERSONS_AUCTIONS,
            events.iter().map(|e| {
                let t = match e {
                    Event::Person(p) => p.date_time,
                    Event::Auction(a) => a.date_time,
                    Event::Bid(b) => b.date_time,
                };
                (t, serde.serialize(e).expect("events encode"))
            }),
        )?;
        println!(
            "input: {n} persons and auctions: generated in {generated:.2} s, produced to \
             {PERSONS_AUCTIONS:?} in {:.2} s",
            started.elapsed().as_secs_f64()
        );
        print_header();
        let (want, secs) = time_best(3, || base_q8(&events));
        for (engine, guarantee, on_kafka) in args.runs() {
            let mode = mode_name(guarantee, on_kafka);
            let out = format!("q8-{}-{mode}-out", engine_name(engine));
            backend.create_topic(&out, 1, eddy_streams::runtime::TopicKind::Plain)?;
            let measured = bench.run(
                &format!("nexmark-q8-{}-{mode}", engine_name(engine)),
                q8(format, &out)?,
                engine,
                guarantee,
                on_kafka,
                2 * n,
            )?;
            let mut got = decode_values(&read_topic(&backend, &out)?, &serde_of(format))?;
            got.sort();
            check("q8", &got, &want)?;
            let row = Row {
                query: "q8",
                engine: engine_name(engine),
                guarantee: mode.clone(),
                events: n,
                measured,
                baseline_rate: n as f64 / secs,
                outputs: got.len(),
                goal: 300_000.0,
            };
            print_row(&row);
            println!("      threads: {}", row.measured.threads);
            rows.push(row);
        }
    }

    println!("\nsummary (all outputs equal the baseline's):");
    print_header();
    for row in &rows {
        print_row(row);
    }
    backend.block_on(backend.broker().shutdown())?;
    Ok(())
}
