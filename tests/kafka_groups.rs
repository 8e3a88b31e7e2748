//! Consumer groups with real librdkafka consumers (rdkafka) against an in-process Eddy server.
//!
//! 100,000 keyed records go to a 6-partition topic through an idempotent, acks=all, batching
//! producer, in phases, while consumers in one group split, hand over and resume the
//! partitions:
//! - two consumers split the 6 partitions 3/3 (range assignor, and again with
//!   `cooperative-sticky`);
//! - one is closed and the other takes over its partitions;
//! - a new consumer joins (a restart) and resumes from the committed offsets;
//! - all are closed, more records are produced, and a last consumer starts exactly at the
//!   committed offsets;
//! - a consumer in a child process is SIGKILLed, so it stops heartbeating without leaving,
//!   and the other member takes over once its session times out.
//!
//! Consumers commit their processed positions synchronously (every 1000 records or 200 ms,
//! and when partitions are revoked). A [`Ledger`] checks every delivery as it happens:
//! within one assignment a partition's offsets come strictly one after another (order, no
//! gaps); a partition newly assigned to a member starts at or after the last offset the group
//! committed and no later than one past the highest offset anyone saw (no loss). So
//! duplicates can only be records processed but not yet committed before a hand-over, which
//! is what at-least-once allows. At the end every acknowledged record was seen, with the key
//! and value it was produced with, on the partition Kafka's murmur2 partitioner picks, and the
//! group's committed offsets are the log end offsets.

mod support;

use eddy::streams::partitioner;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, RebalanceProtocol,
};
use rdkafka::message::Message;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use support::{
    Delivered, TestServer, WAIT, client_config, idempotent_producer_config, key_of, number_in,
    produce_numbered, wait_for,
};

const TOPIC: &str = "orders";
const PARTITIONS: i32 = 6;
const VALUE_SIZE: usize = 64;
/// The session timeout the consumers ask for.
const SESSION_TIMEOUT_MS: u32 = 6000;

/// What a consumer reports about itself: an in-process one to the ledger directly, the child
/// process one as lines on its standard output.
trait Observer: Send + Sync {
    fn assigned(&self, partitions: &[i32], incremental: bool);
    fn revoked(&self, partitions: &[i32]);
    fn delivered(&self, partition: i32, offset: i64, number: u64);
    fn committed(&self, offsets: &[(i32, i64)]);
    fn problem(&self, text: String);
}

/// Record number of a consumed record, after checking that key and value belong together.
fn parse_record(key: Option<&[u8]>, value: Option<&[u8]>) -> Result<u64, String> {
    let value = value.ok_or("a record without a value")?;
    let number = number_in(value).ok_or_else(|| {
        format!(
            "unexpected value {:?}",
            String::from_utf8_lossy(&value[..value.len().min(40)])
        )
    })?;
    if key != Some(key_of(number).as_bytes()) {
        return Err(format!(
            "record {number} has key {:?}",
            key.map(String::from_utf8_lossy)
        ));
    }
    Ok(number)
}

#[derive(Default)]
struct LedgerState {
    /// Acknowledged records: (partition, offset) -> number.
    expected: HashMap<(i32, i64), u64>,
    /// Every delivery in the order the ledger heard of it: (member, partition, offset, number).
    received: Vec<(String, i32, i64, u64)>,
    counts: HashMap<(i32, i64), u32>,
    distinct: usize,
    duplicates: u64,
    committed: BTreeMap<i32, i64>,
    max_seen: BTreeMap<i32, i64>,
    last: HashMap<(String, i32), i64>,
    fresh: HashSet<(String, i32)>,
    assignment: HashMap<String, BTreeSet<i32>>,
    violations: Vec<String>,
}

/// The group's consumption, checked as it happens (see the file's documentation).
#[derive(Default)]
struct Ledger {
    state: Mutex<LedgerState>,
}

impl Ledger {
    fn expect(&self, deliveries: &[Delivered]) -> Result<()> {
        let mut s = self.state.lock().unwrap();
        for d in deliveries {
            if let Some(other) = s.expected.insert((d.partition, d.offset), d.number) {
                bail!(
                    "records {other} and {} both acknowledged at {}/{}",
                    d.number,
                    d.partition,
                    d.offset
                );
            }
        }
        Ok(())
    }

    fn violation(s: &mut LedgerState, text: String) {
        if s.violations.len() < 20 {
            s.violations.push(text);
        }
    }

    fn assigned(&self, member: &str, partitions: &[i32], incremental: bool) {
        let mut s = self.state.lock().unwrap();
        let owned = s.assignment.entry(member.to_string()).or_default();
        if !incremental {
            owned.clear();
        }
        owned.extend(partitions.iter().copied());
        for &p in partitions {
            s.fresh.insert((member.to_string(), p));
        }
    }

    fn revoked(&self, member: &str, partitions: &[i32]) {
        let mut s = self.state.lock().unwrap();
        let owned = s.assignment.entry(member.to_string()).or_default();
        for p in partitions {
            owned.remove(p);
        }
    }

    fn committed(&self, offsets: &[(i32, i64)]) {
        let mut s = self.state.lock().unwrap();
        for &(p, o) in offsets {
            let entry = s.committed.entry(p).or_insert(o);
            *entry = (*entry).max(o);
        }
    }

    fn delivered(&self, member: &str, partition: i32, offset: i64, number: u64) {
        let mut s = self.state.lock().unwrap();
        let key = (member.to_string(), partition);
        if !s
            .assignment
            .get(member)
            .is_some_and(|a| a.contains(&partition))
        {
            Self::violation(
                &mut s,
                format!("{member} got {partition}/{offset} while not assigned that partition"),
            );
        }
        let fresh = s.fresh.remove(&key);
        match s.last.get(&key).copied() {
            Some(last) if !fresh => {
                if offset != last + 1 {
                    Self::violation(
                        &mut s,
                        format!(
                            "{member}: partition {partition} jumped from offset {last} to {offset} within one assignment"
                        ),
                    );
                }
            }
            _ => {
                let committed = s.committed.get(&partition).copied().unwrap_or(0);
                let max_seen = s.max_seen.get(&partition).copied().unwrap_or(-1);
                if offset < committed || offset > max_seen + 1 {
                    Self::violation(
                        &mut s,
                        format!(
                            "{member}: partition {partition} (newly assigned) started at offset {offset}; \
                             the group had committed {committed} and the highest offset seen was {max_seen}"
                        ),
                    );
                }
            }
        }
        s.last.insert(key, offset);
        let seen = s.max_seen.entry(partition).or_insert(offset);
        *seen = (*seen).max(offset);
        let count = s.counts.entry((partition, offset)).or_insert(0);
        *count += 1;
        if *count == 1 {
            s.distinct += 1;
        } else {
            s.duplicates += 1;
        }
        s.received
            .push((member.to_string(), partition, offset, number));
    }

    fn problem(&self, member: &str, text: String) {
        let mut s = self.state.lock().unwrap();
        Self::violation(&mut s, format!("{member}: {text}"));
    }

    fn assignment(&self, member: &str) -> BTreeSet<i32> {
        let s = self.state.lock().unwrap();
        s.assignment.get(member).cloned().unwrap_or_default()
    }

    /// Fails at once on a recorded violation, so a broken run stops early with the reason.
    fn check_violations(&self) -> Result<()> {
        let s = self.state.lock().unwrap();
        ensure!(
            s.violations.is_empty(),
            "consumption rules broken:\n  {}",
            s.violations.join("\n  ")
        );
        Ok(())
    }

    /// Whether every acknowledged record has been consumed at least once.
    fn all_seen(&self) -> Result<bool> {
        self.check_violations()?;
        let s = self.state.lock().unwrap();
        Ok(s.distinct >= s.expected.len())
    }

    fn progress(&self) -> String {
        let s = self.state.lock().unwrap();
        format!(
            "{} of {} records seen, {} duplicate deliveries, assignments {:?}",
            s.distinct,
            s.expected.len(),
            s.duplicates,
            s.assignment
        )
    }

    /// The offsets `member` consumed on `partition`.
    fn offsets_of(&self, member: &str, partition: i32) -> Vec<i64> {
        let s = self.state.lock().unwrap();
        s.received
            .iter()
            .filter(|(m, p, _, _)| m == member && *p == partition)
            .map(|(_, _, o, _)| *o)
            .collect()
    }

    /// The final check: nothing lost, nothing unknown, every record as produced and on the
    /// partition Kafka's partitioner picks. Returns the number of duplicate deliveries.
    fn verify_complete(&self) -> Result<u64> {
        self.check_violations()?;
        let s = self.state.lock().unwrap();
        for ((p, o), n) in &s.expected {
            ensure!(
                s.counts.contains_key(&(*p, *o)),
                "record {n} at {p}/{o} was acknowledged but never consumed"
            );
        }
        for (member, p, o, n) in &s.received {
            match s.expected.get(&(*p, *o)) {
                None => bail!(
                    "{member} consumed record {n} at {p}/{o}, which was never acknowledged there"
                ),
                Some(e) if e != n => {
                    bail!(
                        "{member} consumed record {n} at {p}/{o}, where record {e} was acknowledged"
                    )
                }
                Some(_) => {}
            }
            let want = partitioner::partition_for_key(key_of(*n).as_bytes(), PARTITIONS);
            ensure!(
                want == *p,
                "record {n} is on partition {p}; Kafka's murmur2 partitioner picks {want}"
            );
        }
        Ok(s.duplicates)
    }
}

/// An in-process member's observer: straight into the ledger.
struct Member {
    name: String,
    ledger: Arc<Ledger>,
}

impl Observer for Member {
    fn assigned(&self, partitions: &[i32], incremental: bool) {
        self.ledger.assigned(&self.name, partitions, incremental);
    }
    fn revoked(&self, partitions: &[i32]) {
        self.ledger.revoked(&self.name, partitions);
    }
    fn delivered(&self, partition: i32, offset: i64, number: u64) {
        self.ledger.delivered(&self.name, partition, offset, number);
    }
    fn committed(&self, offsets: &[(i32, i64)]) {
        self.ledger.committed(offsets);
    }
    fn problem(&self, text: String) {
        self.ledger.problem(&self.name, text);
    }
}

const CHILD_PREFIX: &str = "EDDY-CHILD";

fn join_partitions(partitions: &[i32]) -> String {
    partitions
        .iter()
        .map(i32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// The child process's observer: one line per event on standard output, read by the parent.
struct Printer;

impl Observer for Printer {
    fn assigned(&self, partitions: &[i32], incremental: bool) {
        let kind = if incremental { "inc" } else { "full" };
        println!(
            "{CHILD_PREFIX} assigned {kind} {}",
            join_partitions(partitions)
        );
    }
    fn revoked(&self, partitions: &[i32]) {
        println!("{CHILD_PREFIX} revoked {}", join_partitions(partitions));
    }
    fn delivered(&self, partition: i32, offset: i64, number: u64) {
        println!("{CHILD_PREFIX} msg {partition} {offset} {number}");
    }
    fn committed(&self, offsets: &[(i32, i64)]) {
        let text: Vec<String> = offsets.iter().map(|(p, o)| format!("{p}:{o}")).collect();
        println!("{CHILD_PREFIX} commit {}", text.join(","));
    }
    fn problem(&self, text: String) {
        println!("{CHILD_PREFIX} problem {}", text.replace('\n', " "));
    }
}

/// Applies one line of the child's output to the ledger.
fn apply_child_line(ledger: &Ledger, member: &str, line: &str) {
    // The first line may follow libtest's "test child_consumer_process ... " on one line.
    let Some(start) = line.find(CHILD_PREFIX) else {
        return;
    };
    let rest = &line[start + CHILD_PREFIX.len()..];
    let words: Vec<&str> = rest.split_whitespace().collect();
    let parts = |s: &str| -> Vec<i32> { s.split(',').filter_map(|p| p.parse().ok()).collect() };
    match words.as_slice() {
        ["assigned", kind, list] => ledger.assigned(member, &parts(list), *kind == "inc"),
        ["assigned", kind] => ledger.assigned(member, &[], *kind == "inc"),
        ["revoked", list] => ledger.revoked(member, &parts(list)),
        ["msg", p, o, n] => {
            if let (Ok(p), Ok(o), Ok(n)) = (p.parse(), o.parse(), n.parse()) {
                ledger.delivered(member, p, o, n);
            }
        }
        ["commit", list] => {
            let offsets: Vec<(i32, i64)> = list
                .split(',')
                .filter_map(|e| {
                    let (p, o) = e.split_once(':')?;
                    Some((p.parse().ok()?, o.parse().ok()?))
                })
                .collect();
            ledger.committed(&offsets);
        }
        ["problem", ..] => ledger.problem(member, rest.trim().to_string()),
        // A line cut short by SIGKILL, or a revocation of nothing.
        _ => {}
    }
}

/// The consumer context: tracks the member's assignment and processed positions, commits them
/// synchronously when partitions are revoked, and tells its observer.
struct GroupContext {
    observer: Arc<dyn Observer>,
    /// Owned partitions -> next offset to commit (`None` until a record was processed).
    owned: Mutex<BTreeMap<i32, Option<i64>>>,
}

fn partitions_of(tpl: &TopicPartitionList) -> Vec<i32> {
    tpl.elements().iter().map(|e| e.partition()).collect()
}

impl GroupContext {
    /// Commits the processed positions of the owned partitions (or of `only` among them).
    fn commit(&self, consumer: &BaseConsumer<GroupContext>, only: Option<&[i32]>) {
        let offsets: Vec<(i32, i64)> = self
            .owned
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| only.is_none_or(|only| only.contains(p)))
            .filter_map(|(p, next)| next.map(|n| (*p, n)))
            .collect();
        if offsets.is_empty() {
            return;
        }
        let mut tpl = TopicPartitionList::new();
        for &(p, o) in &offsets {
            if let Err(e) = tpl.add_partition_offset(TOPIC, p, Offset::Offset(o)) {
                self.observer.problem(format!("building a commit: {e}"));
                return;
            }
        }
        match consumer.commit(&tpl, CommitMode::Sync) {
            Ok(()) => self.observer.committed(&offsets),
            // A commit can legitimately fail around a rebalance (the member's generation is
            // gone); the records are then redelivered, which the ledger allows.
            Err(e) => eprintln!("commit of {offsets:?} failed: {e}"),
        }
    }
}

/// librdkafka's errors count as problems (the ledger fails the test on them); its warnings
/// are only printed.
impl ClientContext for GroupContext {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        if let Some(line) = support::client_log_problem(level, facility, message) {
            self.observer.problem(line);
        }
    }
    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        self.observer
            .problem(format!("librdkafka error: {error}: {reason}"));
    }
}

impl ConsumerContext for GroupContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            let partitions = partitions_of(tpl);
            self.commit(consumer, Some(&partitions));
            let mut owned = self.owned.lock().unwrap();
            for p in &partitions {
                owned.remove(p);
            }
            drop(owned);
            self.observer.revoked(&partitions);
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(tpl) => {
                let partitions = partitions_of(tpl);
                let incremental = matches!(
                    consumer.rebalance_protocol(),
                    RebalanceProtocol::Cooperative
                );
                let mut owned = self.owned.lock().unwrap();
                if !incremental {
                    owned.clear();
                }
                for &p in &partitions {
                    owned.insert(p, None);
                }
                drop(owned);
                self.observer.assigned(&partitions, incremental);
            }
            Rebalance::Revoke(_) => {}
            Rebalance::Error(e) => self.observer.problem(format!("rebalance error: {e}")),
        }
    }
}

/// How a consumer is set up.
#[derive(Clone)]
struct ConsumerSpec {
    bootstrap: String,
    group: String,
    strategy: String,
    /// Sleep this long after each record (to keep a consumer busy when it is killed).
    per_record_delay: Duration,
}

/// Runs one group member until `stop` is set, then commits and closes it.
fn run_consumer(spec: &ConsumerSpec, observer: Arc<dyn Observer>, stop: &AtomicBool) {
    let context = GroupContext {
        observer: Arc::clone(&observer),
        owned: Mutex::new(BTreeMap::new()),
    };
    let consumer: BaseConsumer<GroupContext> = match client_config(&spec.bootstrap)
        .set("group.id", &spec.group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", SESSION_TIMEOUT_MS.to_string())
        .set("heartbeat.interval.ms", "500")
        .set("partition.assignment.strategy", &spec.strategy)
        .set("enable.partition.eof", "false")
        .set("fetch.wait.max.ms", "100")
        .create_with_context(context)
    {
        Ok(c) => c,
        Err(e) => {
            observer.problem(format!("creating the consumer: {e}"));
            return;
        }
    };
    if let Err(e) = consumer.subscribe(&[TOPIC]) {
        observer.problem(format!("subscribing: {e}"));
        return;
    }
    let mut uncommitted = 0u32;
    let mut last_commit = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(message)) => {
                let (p, o) = (message.partition(), message.offset());
                match parse_record(message.key(), message.payload()) {
                    Ok(number) => observer.delivered(p, o, number),
                    Err(text) => observer.problem(format!("{p}/{o}: {text}")),
                }
                if let Some(next) = consumer.context().owned.lock().unwrap().get_mut(&p) {
                    *next = Some(o + 1);
                }
                uncommitted += 1;
                if !spec.per_record_delay.is_zero() {
                    std::thread::sleep(spec.per_record_delay);
                }
            }
            Some(Err(e)) => observer.problem(format!("consumer error: {e}")),
            None => {}
        }
        if uncommitted >= 1000
            || (uncommitted > 0 && last_commit.elapsed() > Duration::from_millis(200))
        {
            consumer.context().commit(&consumer, None);
            uncommitted = 0;
            last_commit = Instant::now();
        }
    }
    consumer.context().commit(&consumer, None);
    // Dropping closes the consumer: it revokes its partitions (committing again) and leaves
    // the group.
    drop(consumer);
}

/// A group member on a thread of this process.
struct LocalConsumer {
    name: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl LocalConsumer {
    fn start(name: &str, spec: &ConsumerSpec, ledger: &Arc<Ledger>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let observer: Arc<dyn Observer> = Arc::new(Member {
            name: name.to_string(),
            ledger: Arc::clone(ledger),
        });
        let thread = {
            let (spec, stop) = (spec.clone(), Arc::clone(&stop));
            std::thread::Builder::new()
                .name(name.to_string())
                .spawn(move || run_consumer(&spec, observer, &stop))
                .expect("spawning a consumer thread")
        };
        Self {
            name: name.to_string(),
            stop,
            thread: Some(thread),
        }
    }

    /// Stops and closes the consumer (commit, revoke, LeaveGroup), waiting at most [`WAIT`].
    fn close(mut self) -> Result<()> {
        self.stop.store(true, Ordering::SeqCst);
        let thread = self.thread.take().expect("closed once");
        let name = self.name.clone();
        wait_for(WAIT, &format!("consumer {name} to close"), || {
            Ok(thread.is_finished().then_some(()))
        })?;
        thread
            .join()
            .map_err(|_| anyhow::anyhow!("consumer {name} panicked"))
    }
}

impl Drop for LocalConsumer {
    fn drop(&mut self) {
        // On a failing test: ask the thread to stop, but do not wait for it.
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// A group member in a child process (this test binary running [`child_consumer_process`]),
/// whose events are read from its standard output into the ledger.
struct ChildConsumer {
    child: Child,
    reader: Option<JoinHandle<()>>,
}

impl ChildConsumer {
    fn start(member: &str, spec: &ConsumerSpec, ledger: &Arc<Ledger>) -> Result<Self> {
        let exe = std::env::current_exe().context("locating the test binary")?;
        let mut child = Command::new(exe)
            .args([
                "child_consumer_process",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("EDDY_CHILD_BOOTSTRAP", &spec.bootstrap)
            .env("EDDY_CHILD_GROUP", &spec.group)
            .env("EDDY_CHILD_STRATEGY", &spec.strategy)
            .env(
                "EDDY_CHILD_DELAY_US",
                spec.per_record_delay.as_micros().to_string(),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .context("starting the child consumer process")?;
        let stdout = child.stdout.take().context("the child's stdout")?;
        let (ledger, member) = (Arc::clone(ledger), member.to_string());
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                apply_child_line(&ledger, &member, &line);
            }
        });
        Ok(Self {
            child,
            reader: Some(reader),
        })
    }

    /// SIGKILLs the child (no commit, no LeaveGroup) and waits until all it printed is read.
    fn kill(mut self) -> Result<()> {
        self.child.kill().context("killing the child consumer")?;
        self.child.wait().context("reaping the child consumer")?;
        let reader = self.reader.take().expect("killed once");
        wait_for(
            Duration::from_secs(10),
            "the child's output to be read",
            || Ok(reader.is_finished().then_some(())),
        )?;
        let _ = reader.join();
        Ok(())
    }
}

impl Drop for ChildConsumer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Not a test by itself: the body of the child process of
/// [`a_member_that_stops_heartbeating_is_replaced_after_its_session_timeout`], started by
/// re-running this test binary with `--ignored --exact child_consumer_process`.
#[test]
#[ignore = "runs only as the child process of the SIGKILL takeover test"]
fn child_consumer_process() {
    let Ok(bootstrap) = std::env::var("EDDY_CHILD_BOOTSTRAP") else {
        return;
    };
    let spec = ConsumerSpec {
        bootstrap,
        group: std::env::var("EDDY_CHILD_GROUP").expect("EDDY_CHILD_GROUP"),
        strategy: std::env::var("EDDY_CHILD_STRATEGY").expect("EDDY_CHILD_STRATEGY"),
        per_record_delay: Duration::from_micros(
            std::env::var("EDDY_CHILD_DELAY_US")
                .ok()
                .and_then(|d| d.parse().ok())
                .unwrap_or(0),
        ),
    };
    // Start on a line of our own, after libtest's "test child_consumer_process ... ".
    println!();
    // Runs until killed (or, should the parent vanish, for at most two minutes).
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(120));
            stop.store(true, Ordering::SeqCst);
        });
    }
    run_consumer(&spec, Arc::new(Printer), &stop);
}

/// Waits until the members' assignments are disjoint, `sizes` long each, and cover all
/// partitions.
fn wait_for_split(ledger: &Ledger, members: &[&str], sizes: &[usize]) -> Result<()> {
    wait_for(
        WAIT,
        &format!("members {members:?} to hold {sizes:?} partitions"),
        || {
            ledger.check_violations()?;
            let sets: Vec<BTreeSet<i32>> = members.iter().map(|m| ledger.assignment(m)).collect();
            let all: BTreeSet<i32> = sets.iter().flatten().copied().collect();
            let total: usize = sets.iter().map(BTreeSet::len).sum();
            let ok = sets.iter().map(BTreeSet::len).eq(sizes.iter().copied())
                && total == PARTITIONS as usize
                && all.len() == PARTITIONS as usize;
            Ok(ok.then_some(()))
        },
    )
    .with_context(|| ledger.progress())
}

fn wait_all_seen(ledger: &Ledger, what: &str) -> Result<()> {
    wait_for(WAIT, what, || Ok(ledger.all_seen()?.then_some(()))).with_context(|| ledger.progress())
}

/// The group's committed offsets, read through OffsetFetch by a consumer of the group that
/// does not join it.
fn committed_offsets(bootstrap: &str, group: &str) -> Result<Vec<i64>> {
    let consumer: BaseConsumer = client_config(bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()?;
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition(TOPIC, p);
    }
    let committed = consumer
        .committed_offsets(tpl, Duration::from_secs(20))
        .context("OffsetFetch through rdkafka")?;
    let mut offsets = Vec::new();
    for p in 0..PARTITIONS {
        let offset = committed
            .find_partition(TOPIC, p)
            .context("partition missing from OffsetFetch")?
            .offset();
        offsets.push(match offset {
            Offset::Offset(o) => o,
            Offset::Invalid => -1,
            other => bail!("partition {p}: committed offset {other:?}"),
        });
    }
    Ok(offsets)
}

/// The whole split / hand-over / restart / resume scenario with one assignment strategy.
fn split_hand_over_restart_resume(strategy: &str) -> Result<()> {
    let started = Instant::now();
    let server = TestServer::start()?;
    server.create_topic(TOPIC, PARTITIONS)?;
    let bootstrap = server.bootstrap();
    let producer = idempotent_producer_config(&bootstrap);
    let ledger = Arc::new(Ledger::default());
    let spec = ConsumerSpec {
        bootstrap: bootstrap.clone(),
        group: format!("group-{strategy}"),
        strategy: strategy.to_string(),
        per_record_delay: Duration::ZERO,
    };
    let mut all_deliveries = Vec::new();
    let mut produce = |range: std::ops::Range<u64>| -> Result<()> {
        let delivered = produce_numbered(&producer, TOPIC, range, VALUE_SIZE)?;
        ledger.expect(&delivered)?;
        all_deliveries.extend(delivered);
        Ok(())
    };

    // Phase 1: two members split the partitions 3/3 and consume 40k records.
    produce(0..40_000)?;
    let c1 = LocalConsumer::start("c1", &spec, &ledger);
    let c2 = LocalConsumer::start("c2", &spec, &ledger);
    wait_for_split(&ledger, &["c1", "c2"], &[3, 3]).context("phase 1: two members")?;
    wait_all_seen(&ledger, "phase 1: all 40k records consumed")?;
    let c2_partitions = ledger.assignment("c2");
    let ends_1 = server.end_offsets(TOPIC, PARTITIONS)?;
    eprintln!(
        "[{strategy}] phase 1 done at {:?}: c2 had {c2_partitions:?}",
        started.elapsed()
    );

    // Phase 2: c2 closes; c1 takes over its partitions and consumes 30k more.
    c2.close()?;
    wait_for_split(&ledger, &["c1"], &[6]).context("phase 2: c1 takes over c2's partitions")?;
    produce(40_000..70_000)?;
    wait_all_seen(&ledger, "phase 2: all 70k records consumed")?;
    for &p in &c2_partitions {
        let later: Vec<i64> = ledger
            .offsets_of("c1", p)
            .into_iter()
            .filter(|&o| o >= ends_1[p as usize])
            .collect();
        ensure!(
            !later.is_empty(),
            "c1 consumed none of the records produced to c2's former partition {p} after c2 closed"
        );
    }
    eprintln!("[{strategy}] phase 2 done at {:?}", started.elapsed());

    // Phase 3: a restarted member (new consumer, same group) gets half the partitions back
    // and resumes from the committed offsets.
    let c3 = LocalConsumer::start("c3", &spec, &ledger);
    wait_for_split(&ledger, &["c1", "c3"], &[3, 3]).context("phase 3: c1 and the restarted c3")?;
    produce(70_000..96_000)?;
    wait_all_seen(&ledger, "phase 3: all 96k records consumed")?;
    let c3_partitions = ledger.assignment("c3");
    for &p in &c3_partitions {
        ensure!(
            !ledger.offsets_of("c3", p).is_empty(),
            "the restarted c3 consumed nothing from its partition {p}"
        );
    }
    c1.close()?;
    c3.close()?;
    eprintln!("[{strategy}] phase 3 done at {:?}", started.elapsed());

    // Every member closed cleanly after committing: the group's offsets are the log ends.
    let ends_3 = server.end_offsets(TOPIC, PARTITIONS)?;
    let committed = committed_offsets(&bootstrap, &spec.group)?;
    ensure!(
        committed == ends_3,
        "after every member closed, committed offsets {committed:?} != log end offsets {ends_3:?}"
    );

    // Phase 4: 4k more records while nobody consumes; a new member starts exactly at the
    // committed offsets and sees only the new records.
    produce(96_000..100_000)?;
    let c4 = LocalConsumer::start("c4", &spec, &ledger);
    wait_for_split(&ledger, &["c4"], &[6]).context("phase 4: a lone member")?;
    wait_all_seen(&ledger, "phase 4: all 100k records consumed")?;
    for p in 0..PARTITIONS {
        let offsets = ledger.offsets_of("c4", p);
        let first = offsets.iter().min().copied();
        let end = ends_3[p as usize];
        ensure!(
            first.is_none_or(|f| f == end),
            "partition {p}: the new member started at offset {first:?}, not at the committed offset {end}"
        );
    }
    c4.close()?;
    let ends_4 = server.end_offsets(TOPIC, PARTITIONS)?;
    let committed = committed_offsets(&bootstrap, &spec.group)?;
    ensure!(
        committed == ends_4,
        "at the end, committed offsets {committed:?} != log end offsets {ends_4:?}"
    );

    // Production order per partition, and the consumers' whole record.
    support::delivery_map(&all_deliveries)?;
    ensure!(all_deliveries.len() == 100_000);
    ensure!(
        ends_4.iter().sum::<i64>() == 100_000,
        "the log holds {} records for 100000 acknowledged (ends {ends_4:?})",
        ends_4.iter().sum::<i64>()
    );
    let duplicates = ledger.verify_complete()?;
    eprintln!(
        "[{strategy}] done in {:?}: 100000 records, {duplicates} duplicate deliveries",
        started.elapsed()
    );
    drop(server);
    Ok(())
}

#[test]
fn two_members_split_hand_over_and_resume_with_the_range_assignor() -> Result<()> {
    split_hand_over_restart_resume("range")
}

#[test]
fn two_members_split_hand_over_and_resume_with_cooperative_sticky() -> Result<()> {
    split_hand_over_restart_resume("cooperative-sticky")
}

#[test]
fn a_member_that_stops_heartbeating_is_replaced_after_its_session_timeout() -> Result<()> {
    let started = Instant::now();
    let server = TestServer::start()?;
    server.create_topic(TOPIC, PARTITIONS)?;
    let bootstrap = server.bootstrap();
    let producer = idempotent_producer_config(&bootstrap);
    let ledger = Arc::new(Ledger::default());
    let spec = ConsumerSpec {
        bootstrap: bootstrap.clone(),
        group: "group-kill".to_string(),
        strategy: "range".to_string(),
        per_record_delay: Duration::ZERO,
    };
    ledger.expect(&produce_numbered(&producer, TOPIC, 0..10_000, VALUE_SIZE)?)?;
    let c1 = LocalConsumer::start("c1", &spec, &ledger);
    wait_for_split(&ledger, &["c1"], &[6]).context("c1 alone")?;
    wait_all_seen(&ledger, "c1 consuming the first 10k records")?;

    // The child joins and consumes slowly, so it is killed with records still to go.
    let child_spec = ConsumerSpec {
        per_record_delay: Duration::from_millis(2),
        ..spec.clone()
    };
    let child = ChildConsumer::start("child", &child_spec, &ledger)?;
    wait_for_split(&ledger, &["c1", "child"], &[3, 3]).context("c1 and the child process")?;
    let child_partitions = ledger.assignment("child");
    ledger.expect(&produce_numbered(
        &producer,
        TOPIC,
        10_000..30_000,
        VALUE_SIZE,
    )?)?;
    let child_count = || {
        child_partitions
            .iter()
            .map(|&p| ledger.offsets_of("child", p).len())
            .sum::<usize>()
    };
    wait_for(WAIT, "the child to consume 300 records", || {
        ledger.check_violations()?;
        Ok((child_count() >= 300).then_some(()))
    })
    .with_context(|| ledger.progress())?;

    let killed_at = Instant::now();
    child.kill()?;
    let consumed_by_child = child_count();
    eprintln!(
        "killed the child at {:?} after it consumed {consumed_by_child} records on {child_partitions:?}",
        started.elapsed()
    );
    wait_for_split(&ledger, &["c1"], &[6])
        .context("c1 takes over after the killed member's session times out")?;
    let takeover = killed_at.elapsed();
    wait_all_seen(&ledger, "all 30k records consumed after the takeover")?;
    let ends = server.end_offsets(TOPIC, PARTITIONS)?;
    for &p in &child_partitions {
        ensure!(
            ledger.offsets_of("c1", p).contains(&(ends[p as usize] - 1)),
            "c1 did not consume the last record of the killed member's partition {p}"
        );
    }
    c1.close()?;
    let committed = committed_offsets(&bootstrap, &spec.group)?;
    ensure!(
        committed == ends,
        "committed offsets {committed:?} != log end offsets {ends:?}"
    );
    let duplicates = ledger.verify_complete()?;
    eprintln!(
        "takeover {takeover:?} after SIGKILL (session timeout {SESSION_TIMEOUT_MS} ms); \
         {duplicates} duplicate deliveries; total {:?}",
        started.elapsed()
    );
    // A killed member sends no LeaveGroup; Kafka notices it only when its session times out.
    ensure!(
        takeover >= Duration::from_millis(u64::from(SESSION_TIMEOUT_MS) / 2),
        "the takeover after {takeover:?} came before the killed member's session could have \
         timed out: it cannot have been detected by missed heartbeats"
    );
    drop(server);
    Ok(())
}
