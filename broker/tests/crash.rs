//! Crash test: a child process appends durably from several tasks to a partitioned topic with
//! small segments and prints every acknowledged record; the parent SIGKILLs it at random
//! moments, reopens the broker on the same data directory and checks that nothing
//! acknowledged was lost, nothing torn is served, and the broker says it recovered. The child
//! is this test binary run again (see [`crash_child`]), which works under `cargo test` and
//! `cargo nextest` alike.
//!
//! Reproduce a run with the seed it prints: `EDDY_CRASH_SEED=<seed> cargo test --test crash`.

mod support;

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use eddy_broker::{Broker, BrokerConfig, Durability, TopicConfig};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use support::{
    Ack, ChildProcess, acks_by_partition, append_bytes, emit, in_runtime, partition_dir,
    read_partition, record, segment_files, walk_batches,
};

const TOPIC: &str = "crash";
const PARTITIONS: i32 = 3;
/// Appending tasks in the child that write small batches (one more writes large ones).
const TASKS: u64 = 4;
/// Kill/reopen cycles; two more cycles end with a clean shutdown instead.
const KILL_CYCLES: u32 = 24;
/// Records each task appends in a clean cycle.
const CLEAN_RECORDS_PER_TASK: u32 = 60;

const ENV_DIR: &str = "EDDY_CRASH_CHILD_DIR";
const ENV_CYCLE: &str = "EDDY_CRASH_CHILD_CYCLE";
const ENV_MODE: &str = "EDDY_CRASH_CHILD_MODE";

fn topic_config() -> TopicConfig {
    TopicConfig {
        partitions: PARTITIONS,
        // Small segments, so that kills land around rolls too.
        segment_bytes: 32 << 10,
        index_interval_bytes: 1024,
        retention_ms: -1,
        ..TopicConfig::default()
    }
}

/// Payload ids name their writer: cycle, task and a per-task sequence number.
fn payload_id(cycle: u32, task: u64, seq: u32) -> u64 {
    (u64::from(cycle) << 40) | (task << 32) | u64::from(seq)
}

/// The child's side. A no-op in a normal test run; with `EDDY_CRASH_CHILD_DIR` set (by the
/// parent) it opens the broker there and appends until it is killed ("kill" mode), or appends
/// a fixed amount and shuts down cleanly ("clean" mode).
#[test]
fn crash_child() {
    let Some(dir) = std::env::var_os(ENV_DIR) else {
        return;
    };
    let cycle: u32 = std::env::var(ENV_CYCLE)
        .expect("cycle set")
        .parse()
        .expect("cycle is a number");
    let clean = std::env::var(ENV_MODE).expect("mode set") == "clean";
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime
        .block_on(child_main(Path::new(&dir), cycle, clean))
        .expect("the child failed");
}

async fn child_main(dir: &Path, cycle: u32, clean: bool) -> anyhow::Result<()> {
    let broker = Broker::open(BrokerConfig::new(dir)).await?;
    emit("ready");
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..=TASKS {
        let broker = broker.clone();
        // Task `TASKS` writes large batches (tens of KiB, many pages), now and then: a kill can
        // interrupt a write that long part-way, which is how torn tails come about.
        let big = task == TASKS;
        tasks.spawn(async move {
            let mut rng = StdRng::seed_from_u64((u64::from(cycle) << 8) | task);
            let mut seq = 0u32;
            while !clean || seq < CLEAN_RECORDS_PER_TASK {
                let partition = rng.random_range(0..PARTITIONS);
                let mut count = if big {
                    tokio::time::sleep(Duration::from_millis(rng.random_range(1..10))).await;
                    rng.random_range(60..200u32)
                } else {
                    rng.random_range(1..=4u32)
                };
                if clean {
                    count = count.min(CLEAN_RECORDS_PER_TASK - seq);
                }
                let ids: Vec<u64> = (seq..seq + count)
                    .map(|s| payload_id(cycle, task, s))
                    .collect();
                seq += count;
                let records: Vec<_> = ids.iter().map(|&id| record(id)).collect();
                let info = broker
                    .produce(TOPIC, partition, &records, Durability::Durable)
                    .await
                    .with_context(|| format!("appending to {TOPIC}/{partition}"))?;
                ensure!(info.last_offset - info.base_offset + 1 == i64::from(count));
                for (i, &id) in ids.iter().enumerate() {
                    let offset = info.base_offset + i as i64;
                    emit(
                        &Ack {
                            partition,
                            offset,
                            id,
                        }
                        .line(),
                    );
                }
            }
            anyhow::Ok(())
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined??;
    }
    broker.shutdown().await?;
    emit("done");
    Ok(())
}

/// How the parent ends one cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// SIGKILL this long after the child was spawned, maybe before it finished opening.
    KillEarly(Duration),
    /// SIGKILL this long after the child said it was appending.
    KillAppending(Duration),
    /// Let the child shut down cleanly.
    Clean,
}

fn choose_ending(rng: &mut StdRng, cycle: u32) -> Ending {
    if cycle == KILL_CYCLES / 2 || cycle == KILL_CYCLES + 2 {
        return Ending::Clean;
    }
    let micros =
        |lo: u64, hi: u64, rng: &mut StdRng| Duration::from_micros(rng.random_range(lo..hi));
    match rng.random_range(0..100) {
        0..15 => Ending::KillEarly(micros(0, 40_000, rng)),
        15..45 => Ending::KillAppending(micros(0, 2_000, rng)),
        45..80 => Ending::KillAppending(micros(2_000, 50_000, rng)),
        _ => Ending::KillAppending(micros(50_000, 250_000, rng)),
    }
}

#[derive(Debug, Default)]
struct Totals {
    acked: usize,
    recovered_with_truncation: usize,
    truncated_bytes: u64,
}

#[test]
fn killed_appender_loses_no_acknowledged_record() -> anyhow::Result<()> {
    let started = Instant::now();
    let seed = match std::env::var("EDDY_CRASH_SEED") {
        Ok(s) => s.parse().context("EDDY_CRASH_SEED must be a number")?,
        Err(_) => rand::random::<u64>(),
    };
    eprintln!("crash test seed: {seed} (rerun with EDDY_CRASH_SEED={seed})");
    let mut rng = StdRng::seed_from_u64(seed);
    let tmp = tempfile::tempdir()?;
    let data = tmp.path().join("data");
    in_runtime(async {
        let broker = Broker::open(BrokerConfig::new(&data)).await?;
        broker.create_topic(TOPIC, topic_config()).await?;
        Ok(()) // dropped without shutdown: the first child starts from an unclean stop
    })?;

    // Every record seen in the log so far, by partition, in offset order. Once recovery has
    // kept a record, every later open must serve it unchanged at the same offset.
    let mut model: Vec<Vec<u64>> = vec![Vec::new(); PARTITIONS as usize];
    let mut totals = Totals::default();
    let mut endings = Vec::new();
    for cycle in 1..=KILL_CYCLES + 2 {
        let ending = choose_ending(&mut rng, cycle);
        endings.push(ending);
        let mode = if ending == Ending::Clean {
            "clean"
        } else {
            "kill"
        };
        let envs: [(&str, OsString); 3] = [
            (ENV_DIR, data.clone().into()),
            (ENV_CYCLE, cycle.to_string().into()),
            (ENV_MODE, mode.into()),
        ];
        let mut child = ChildProcess::spawn("crash_child", &envs)?;
        let output = match ending {
            Ending::Clean => {
                let output = child.wait(Duration::from_secs(60))?;
                ensure!(
                    output.status.success() && output.lines.iter().any(|l| l == "done"),
                    "cycle {cycle}: the clean child failed: {:?}\nstderr:\n{}",
                    output.status,
                    output.stderr
                );
                output
            }
            Ending::KillEarly(delay) => {
                std::thread::sleep(delay);
                child.kill()?
            }
            Ending::KillAppending(delay) => {
                child.wait_for("ready", Duration::from_secs(30))?;
                std::thread::sleep(delay);
                child.kill()?
            }
        };
        if ending != Ending::Clean {
            ensure!(
                output.status.signal() == Some(libc::SIGKILL),
                "cycle {cycle}: the child ended by itself, not by the kill: {:?}\nstderr:\n{}",
                output.status,
                output.stderr
            );
        }
        let torn_tails = if ending == Ending::Clean {
            HashMap::new()
        } else {
            let tear = rng
                .random_bool(0.35)
                .then(|| rng.random_range(0..PARTITIONS));
            inspect_tails(&data, tear, &mut rng)?
        };
        let acks = acks_by_partition(&output.lines)?;
        let acked: usize = acks.values().map(Vec::len).sum();
        if ending == Ending::Clean {
            ensure!(
                acked == ((TASKS + 1) as u32 * CLEAN_RECORDS_PER_TASK) as usize,
                "cycle {cycle}: a clean child acknowledged {acked} records"
            );
        }
        totals.acked += acked;
        let clean = ending == Ending::Clean;
        let truncated = in_runtime(verify(&data, cycle, clean, &acks, &torn_tails, &mut model))
            .with_context(|| format!("cycle {cycle} ({ending:?}, seed {seed})"))?;
        if truncated > 0 {
            totals.recovered_with_truncation += 1;
            totals.truncated_bytes += truncated;
        }
    }

    // The run exercised what it claims to: records in every partition, segments rolled.
    let segments = in_runtime(async {
        let broker = Broker::open(BrokerConfig::new(&data)).await?;
        Ok(broker.describe_topic(TOPIC)?.partitions)
    })?;
    for p in &segments {
        ensure!(
            p.segments >= 3,
            "partition {} has only {} segments: rolls were not exercised",
            p.partition,
            p.segments
        );
    }
    let stored: usize = model.iter().map(Vec::len).sum();
    ensure!(
        totals.acked > 500,
        "only {} records were acknowledged in all cycles",
        totals.acked
    );
    eprintln!(
        "crash test: {} cycles ({endings:?}), {} records acknowledged, {stored} stored, \
         {} recoveries cut {} torn bytes (most simulated), segments per partition {:?}, {:.1?}",
        endings.len(),
        totals.acked,
        totals.recovered_with_truncation,
        totals.truncated_bytes,
        segments.iter().map(|p| p.segments).collect::<Vec<_>>(),
        started.elapsed()
    );
    Ok(())
}

/// Looks at each partition's tail segment after a kill: how many bytes follow the last whole
/// batch (a write the kill interrupted). With `tear`, also simulates a torn write on that
/// partition, since a kill rarely lands inside a write: the first bytes of what the next
/// batch would be (the last batch again, with the next base offset). Returns, by partition,
/// the bytes recovery must cut.
fn inspect_tails(
    data: &Path,
    tear: Option<i32>,
    rng: &mut StdRng,
) -> anyhow::Result<HashMap<i32, u64>> {
    let mut torn = HashMap::new();
    for p in 0..PARTITIONS {
        let segments = segment_files(&partition_dir(data, TOPIC, p))?;
        let Some((_, tail)) = segments.last() else {
            continue;
        };
        let bytes = std::fs::read(tail)?;
        let (batches, valid) = walk_batches(&bytes);
        let mut cut = bytes.len() as u64 - valid;
        if cut > 0 {
            eprintln!(
                "crash test: a kill left {cut} torn bytes in {}",
                tail.display()
            );
        }
        if tear == Some(p) {
            // The batch to imitate: the tail's last, or the one before the tail if it is empty.
            let previous = match batches.last() {
                Some(b) => Some((bytes.clone(), *b)),
                None if segments.len() >= 2 => {
                    let before = std::fs::read(&segments[segments.len() - 2].1)?;
                    let b = walk_batches(&before).0.last().copied();
                    b.map(|b| (before, b))
                }
                None => None,
            };
            if let Some((source, batch)) = previous {
                let mut next =
                    source[batch.position as usize..(batch.position + batch.len) as usize].to_vec();
                next[..8].copy_from_slice(&(batch.last_offset + 1).to_be_bytes());
                let keep = rng.random_range(1..next.len());
                append_bytes(tail, &next[..keep])?;
                cut += keep as u64;
            }
        }
        if cut > 0 {
            torn.insert(p, cut);
        }
    }
    Ok(torn)
}

/// Reopens the broker after a cycle and checks the log against the model and the child's
/// acknowledgements; returns the bytes recovery truncated.
async fn verify(
    data: &Path,
    cycle: u32,
    clean: bool,
    acks: &HashMap<i32, Vec<Ack>>,
    torn_tails: &HashMap<i32, u64>,
    model: &mut [Vec<u64>],
) -> anyhow::Result<u64> {
    let (broker, report) = Broker::open_with_report(BrokerConfig::new(data)).await?;
    ensure!(
        report.clean_shutdown == clean,
        "the open reported clean_shutdown={} after a {} stop",
        report.clean_shutdown,
        if clean { "clean" } else { "killed" }
    );
    if clean {
        ensure!(
            report.repaired.is_empty(),
            "a clean open repaired something: {:?}",
            report.repaired
        );
    }
    for ((topic, p), recovery) in &report.repaired {
        let expected = if topic == TOPIC {
            torn_tails.get(p).copied().unwrap_or(0)
        } else {
            0
        };
        ensure!(
            recovery.truncated_bytes == expected && recovery.dropped_segments == 0,
            "{topic}/{p}: recovery {recovery:?}, but the tail had {expected} torn bytes"
        );
    }
    for (&p, &torn) in torn_tails {
        let truncated = report
            .repaired
            .get(&(TOPIC.to_string(), p))
            .map_or(0, |r| r.truncated_bytes);
        ensure!(
            truncated == torn,
            "partition {p}: {torn} torn bytes, recovery cut {truncated}"
        );
    }
    let mut all_ids = HashSet::new();
    for p in 0..PARTITIONS {
        let stored = read_partition(&broker, TOPIC, p, 0).await?;
        let ids: Vec<u64> = stored.iter().map(|s| s.id).collect();
        let known = &model[p as usize];
        ensure!(
            ids.len() >= known.len(),
            "partition {p}: {} records after reopening, {} were there before",
            ids.len(),
            known.len()
        );
        if let Some(i) = (0..known.len()).find(|&i| ids[i] != known[i]) {
            anyhow::bail!(
                "partition {p}: offset {i} holds id {:#x}, it held {:#x} before",
                ids[i],
                known[i]
            );
        }
        for ack in acks.get(&p).map_or(&[][..], Vec::as_slice) {
            ensure!(
                ids.get(ack.offset as usize) == Some(&ack.id),
                "partition {p}: acknowledged id {:#x} at offset {} is missing (found {:?}, log end {})",
                ack.id,
                ack.offset,
                ids.get(ack.offset as usize).map(|id| format!("{id:#x}")),
                ids.len()
            );
        }
        // Each writer's records are in the order it appended them, none twice, none from the
        // future.
        let mut last_seq: HashMap<u64, u32> = HashMap::new();
        for &id in &ids {
            ensure!(
                all_ids.insert(id),
                "partition {p}: id {id:#x} is stored twice"
            );
            ensure!(
                id >> 40 <= u64::from(cycle),
                "partition {p}: id {id:#x} from a later cycle"
            );
            let seq = id as u32;
            if let Some(prev) = last_seq.insert(id >> 32, seq) {
                ensure!(
                    seq > prev,
                    "partition {p}: writer {:#x} has sequence {seq} after {prev}",
                    id >> 32
                );
            }
        }
        model[p as usize] = ids;
    }
    Ok(report
        .repaired
        .values()
        .map(|r| r.truncated_bytes)
        .sum::<u64>())
}
