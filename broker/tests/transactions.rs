//! Kafka transactions with a real client (librdkafka through rdkafka) against an in-process
//! Eddy server: commit and abort seen through `read_committed` and `read_uncommitted`
//! consumers, an open transaction holding back the last stable offset, zombie fencing by a
//! second producer with the same `transactional.id`, consume-transform-produce with the
//! input offsets committed in the transaction, a transaction abandoned past its timeout, and
//! DescribeTransactions/ListTransactions on the wire.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use eddy_broker::{Broker, BrokerConfig, OffsetSpec, ServerConfig, TopicConfig};
use kafka_protocol::messages::{
    DescribeTransactionsRequest, DescribeTransactionsResponse, ListTransactionsRequest,
    TransactionalId,
};
use rdkafka::ClientConfig;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use support::protocol::{Harness, s};

const WAIT: Duration = Duration::from_secs(30);

/// A server in its own runtime; rdkafka's blocking calls run on the test thread.
struct Fixture {
    runtime: tokio::runtime::Runtime,
    harness: Option<Harness>,
}

impl Fixture {
    fn start() -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let harness = runtime.block_on(Harness::start(
            |dir: &std::path::Path| BrokerConfig::new(dir),
            ServerConfig::default(),
            "transactions-test",
        ))?;
        Ok(Self {
            runtime,
            harness: Some(harness),
        })
    }

    fn harness(&self) -> &Harness {
        self.harness.as_ref().expect("running")
    }

    fn broker(&self) -> &Broker {
        &self.harness().broker
    }

    fn bootstrap(&self) -> String {
        self.harness().addr.to_string()
    }

    fn create_topic(&self, name: &str, partitions: i32) -> Result<()> {
        let config = TopicConfig {
            partitions,
            ..TopicConfig::default()
        };
        self.runtime
            .block_on(self.broker().create_topic(name, config))?;
        Ok(())
    }

    fn offset(&self, topic: &str, partition: i32, spec: OffsetSpec) -> Result<i64> {
        let found = self
            .runtime
            .block_on(self.broker().list_offset(topic, partition, spec))?;
        Ok(found.context("an offset")?.0)
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(harness) = self.harness.take() {
            let _ = self.runtime.block_on(harness.stop());
        }
    }
}

fn client_config(bootstrap: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("broker.address.family", "v4")
        .set_log_level(RDKafkaLogLevel::Warning);
    config
}

fn transactional_producer(bootstrap: &str, id: &str, timeout_ms: u32) -> Result<BaseProducer> {
    let producer: BaseProducer = client_config(bootstrap)
        .set("transactional.id", id)
        .set("transaction.timeout.ms", timeout_ms.to_string())
        .set("linger.ms", "1")
        .create()?;
    producer.init_transactions(WAIT)?;
    Ok(producer)
}

/// Sends `values` to `topic`, partition by index modulo `partitions`, and waits until all
/// are delivered (written, not committed).
fn send_all(
    producer: &BaseProducer,
    topic: &str,
    partitions: i32,
    values: &[String],
) -> Result<()> {
    for (i, value) in values.iter().enumerate() {
        let record = BaseRecord::<str, str>::to(topic)
            .partition(i as i32 % partitions)
            .key(value)
            .payload(value);
        producer.send(record).map_err(|(e, _)| e)?;
    }
    producer.flush(WAIT)?;
    Ok(())
}

fn values(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

/// A consumer assigned to every partition of `topic` from the start.
fn reader(bootstrap: &str, topic: &str, partitions: i32, isolation: &str) -> Result<BaseConsumer> {
    let consumer: BaseConsumer = client_config(bootstrap)
        .set("group.id", format!("reader-{isolation}"))
        .set("enable.auto.commit", "false")
        .set("isolation.level", isolation)
        .set("fetch.wait.max.ms", "50")
        .create()?;
    let mut assignment = TopicPartitionList::new();
    for p in 0..partitions {
        assignment.add_partition_offset(topic, p, Offset::Beginning)?;
    }
    consumer.assign(&assignment)?;
    Ok(consumer)
}

/// Polls until `quiet` passes with nothing new (after at least `expected` values, or
/// [`WAIT`]); returns the values read, by partition in order.
fn read_values(
    consumer: &BaseConsumer,
    expected: usize,
    quiet: Duration,
) -> Result<BTreeMap<i32, Vec<String>>> {
    let started = Instant::now();
    let mut last = Instant::now();
    let mut read: BTreeMap<i32, Vec<String>> = BTreeMap::new();
    let mut count = 0;
    loop {
        if let Some(message) = consumer.poll(Duration::from_millis(50)) {
            let message = message?;
            let value = String::from_utf8(message.payload().unwrap_or_default().to_vec())?;
            read.entry(message.partition()).or_default().push(value);
            count += 1;
            last = Instant::now();
        }
        if count >= expected && last.elapsed() >= quiet {
            return Ok(read);
        }
        if started.elapsed() > WAIT {
            bail!("read {count} values in {WAIT:?}, expected {expected}: {read:?}");
        }
    }
}

/// `values` as they land with [`send_all`] over `partitions` partitions.
fn by_partition(values: &[String], partitions: i32) -> BTreeMap<i32, Vec<String>> {
    let mut map: BTreeMap<i32, Vec<String>> = BTreeMap::new();
    for (i, v) in values.iter().enumerate() {
        map.entry(i as i32 % partitions)
            .or_default()
            .push(v.clone());
    }
    map
}

fn merge(parts: &[BTreeMap<i32, Vec<String>>]) -> BTreeMap<i32, Vec<String>> {
    let mut all: BTreeMap<i32, Vec<String>> = BTreeMap::new();
    for part in parts {
        for (p, vs) in part {
            all.entry(*p).or_default().extend(vs.iter().cloned());
        }
    }
    all
}

#[test]
fn read_committed_sees_committed_transactions_and_skips_aborted_ones() -> Result<()> {
    let fixture = Fixture::start()?;
    fixture.create_topic("tx", 2)?;
    let bootstrap = fixture.bootstrap();
    let producer = transactional_producer(&bootstrap, "app-1", 60_000)?;
    let plain: BaseProducer = client_config(&bootstrap)
        .set("enable.idempotence", "true")
        .create()?;

    let (a, b, n, c) = (
        values("a", 10),
        values("b", 10),
        values("n", 4),
        values("c", 10),
    );
    producer.begin_transaction()?;
    send_all(&producer, "tx", 2, &a)?;
    producer.commit_transaction(WAIT)?;
    producer.begin_transaction()?;
    send_all(&producer, "tx", 2, &b)?;
    // A non-transactional producer writes while the aborted transaction is open.
    send_all(&plain, "tx", 2, &n)?;
    producer.abort_transaction(WAIT)?;
    producer.begin_transaction()?;
    send_all(&producer, "tx", 2, &c)?;
    producer.commit_transaction(WAIT)?;

    let committed = reader(&bootstrap, "tx", 2, "read_committed")?;
    let seen = read_values(&committed, 24, Duration::from_millis(700))?;
    let expected = merge(&[
        by_partition(&a, 2),
        by_partition(&n, 2),
        by_partition(&c, 2),
    ]);
    ensure!(
        seen == expected,
        "read_committed saw {seen:?}, expected {expected:?}"
    );

    let uncommitted = reader(&bootstrap, "tx", 2, "read_uncommitted")?;
    let everything = read_values(&uncommitted, 34, Duration::from_millis(700))?;
    let expected = merge(&[
        by_partition(&a, 2),
        by_partition(&b, 2),
        by_partition(&n, 2),
        by_partition(&c, 2),
    ]);
    ensure!(
        everything == expected,
        "read_uncommitted saw {everything:?}"
    );

    // Nothing is open: the last stable offset is the log end (markers included).
    for p in 0..2 {
        let end = fixture.offset("tx", p, OffsetSpec::Latest)?;
        ensure!(fixture.offset("tx", p, OffsetSpec::LastStable)? == end);
        // 5 a, 5 b, 2 n, 5 c and three markers.
        ensure!(end == 20, "partition {p} ends at {end}");
    }
    Ok(())
}

#[test]
fn an_open_transaction_holds_back_read_committed_readers_until_it_commits() -> Result<()> {
    let fixture = Fixture::start()?;
    fixture.create_topic("open", 1)?;
    let bootstrap = fixture.bootstrap();
    let producer = transactional_producer(&bootstrap, "app-open", 60_000)?;
    let early = values("early", 3);
    send_plain(&bootstrap, "open", &early)?;
    producer.begin_transaction()?;
    let pending = values("p", 5);
    send_all(&producer, "open", 1, &pending)?;

    ensure!(fixture.offset("open", 0, OffsetSpec::LastStable)? == 3);
    ensure!(fixture.offset("open", 0, OffsetSpec::Latest)? == 8);
    let committed = reader(&bootstrap, "open", 1, "read_committed")?;
    let seen = read_values(&committed, 3, Duration::from_millis(1500))?;
    ensure!(
        seen == by_partition(&early, 1),
        "before the commit: {seen:?}"
    );
    let uncommitted = reader(&bootstrap, "open", 1, "read_uncommitted")?;
    let all = read_values(&uncommitted, 8, Duration::from_millis(300))?;
    ensure!(all[&0].len() == 8, "read_uncommitted: {all:?}");

    producer.commit_transaction(WAIT)?;
    let rest = read_values(&committed, 5, Duration::from_millis(300))?;
    ensure!(
        rest == by_partition(&pending, 1),
        "after the commit: {rest:?}"
    );
    ensure!(fixture.offset("open", 0, OffsetSpec::LastStable)? == 9);
    Ok(())
}

fn send_plain(bootstrap: &str, topic: &str, values: &[String]) -> Result<()> {
    let plain: BaseProducer = client_config(bootstrap).create()?;
    send_all(&plain, topic, 1, values)
}

#[test]
fn a_second_producer_with_the_same_id_fences_the_first_and_aborts_its_transaction() -> Result<()> {
    let fixture = Fixture::start()?;
    fixture.create_topic("fence", 1)?;
    let bootstrap = fixture.bootstrap();
    let zombie = transactional_producer(&bootstrap, "app-f", 60_000)?;
    zombie.begin_transaction()?;
    send_all(&zombie, "fence", 1, &values("z", 4))?;

    let successor = transactional_producer(&bootstrap, "app-f", 60_000)?;
    // The zombie's open transaction was aborted when the successor initialised.
    ensure!(fixture.offset("fence", 0, OffsetSpec::LastStable)? == 5);
    let refused = zombie.commit_transaction(WAIT);
    ensure!(refused.is_err(), "the fenced producer's commit succeeded");
    let error = refused.unwrap_err();
    let text = error.to_string();
    ensure!(
        text.contains("fenced") || text.contains("Fenced") || text.contains("epoch"),
        "the zombie's commit failed with {text}"
    );

    successor.begin_transaction()?;
    let fresh = values("s", 3);
    send_all(&successor, "fence", 1, &fresh)?;
    successor.commit_transaction(WAIT)?;
    let committed = reader(&bootstrap, "fence", 1, "read_committed")?;
    let seen = read_values(&committed, 3, Duration::from_millis(700))?;
    ensure!(
        seen == by_partition(&fresh, 1),
        "read_committed saw {seen:?}"
    );
    Ok(())
}

#[test]
fn consume_transform_produce_commits_the_input_offsets_with_the_output() -> Result<()> {
    let fixture = Fixture::start()?;
    fixture.create_topic("input", 1)?;
    fixture.create_topic("output", 1)?;
    let bootstrap = fixture.bootstrap();
    send_plain(&bootstrap, "input", &values("in", 20))?;

    let consumer: BaseConsumer = client_config(&bootstrap)
        .set("group.id", "transformer")
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .set("auto.offset.reset", "earliest")
        .create()?;
    let mut assignment = TopicPartitionList::new();
    assignment.add_partition_offset("input", 0, Offset::Beginning)?;
    consumer.assign(&assignment)?;
    let producer = transactional_producer(&bootstrap, "app-ctp", 60_000)?;

    let committed_offset = |consumer: &BaseConsumer| -> Result<i64> {
        let mut wanted = TopicPartitionList::new();
        wanted.add_partition("input", 0);
        let committed = consumer.committed_offsets(wanted, WAIT)?;
        let offset = committed
            .find_partition("input", 0)
            .context("the partition")?
            .offset();
        Ok(offset.to_raw().unwrap_or(-1))
    };

    // Each round: transform 10 input records, then commit (first round) or abort (second).
    for (round, commit) in [(0, true), (1, false)] {
        let batch = read_values(&consumer, 10, Duration::ZERO)?;
        let inputs = batch.get(&0).cloned().unwrap_or_default();
        ensure!(inputs.len() == 10, "round {round} read {inputs:?}");
        producer.begin_transaction()?;
        let outputs: Vec<String> = inputs.iter().map(|v| format!("out-{v}")).collect();
        send_all(&producer, "output", 1, &outputs)?;
        let mut offsets = TopicPartitionList::new();
        offsets.add_partition_offset("input", 0, Offset::Offset(10 * (round + 1)))?;
        let group = consumer.group_metadata().context("group metadata")?;
        producer.send_offsets_to_transaction(&offsets, &group, WAIT)?;
        // While the transaction is open, a read_committed consumer (which asks for stable
        // offsets) is told to retry (UNSTABLE_OFFSET_COMMIT) rather than given the old one.
        let mut wanted = TopicPartitionList::new();
        wanted.add_partition("input", 0);
        let pending = consumer.committed_offsets(wanted, Duration::from_millis(800));
        ensure!(
            pending.is_err(),
            "round {round}: committed offsets while pending: {pending:?}"
        );
        if commit {
            producer.commit_transaction(WAIT)?;
        } else {
            producer.abort_transaction(WAIT)?;
        }
        ensure!(
            committed_offset(&consumer)? == 10,
            "after round {round} the group's offset is {}",
            committed_offset(&consumer)?
        );
    }
    let out = reader(&bootstrap, "output", 1, "read_committed")?;
    let seen = read_values(&out, 10, Duration::from_millis(700))?;
    let expected: Vec<String> = values("in", 10)
        .iter()
        .map(|v| format!("out-{v}"))
        .collect();
    ensure!(seen == by_partition(&expected, 1), "output: {seen:?}");
    Ok(())
}

#[test]
fn a_transaction_abandoned_past_its_timeout_is_aborted_and_its_producer_fenced() -> Result<()> {
    let fixture = Fixture::start()?;
    fixture.create_topic("slow", 1)?;
    let bootstrap = fixture.bootstrap();
    let producer = transactional_producer(&bootstrap, "app-slow", 2_000)?;
    producer.begin_transaction()?;
    send_all(&producer, "slow", 1, &values("x", 3))?;
    ensure!(fixture.offset("slow", 0, OffsetSpec::LastStable)? == 0);

    // A maintenance pass before the timeout leaves it; one after it aborts it.
    let broker = fixture.broker().clone();
    fixture
        .runtime
        .block_on(broker.run_maintenance(eddy_broker::now_ms()))?;
    ensure!(fixture.offset("slow", 0, OffsetSpec::LastStable)? == 0);
    fixture
        .runtime
        .block_on(broker.run_maintenance(eddy_broker::now_ms() + 5_000))?;
    ensure!(fixture.offset("slow", 0, OffsetSpec::LastStable)? == 4);
    let state = fixture
        .runtime
        .block_on(broker.describe_transaction("app-slow"))
        .context("the transaction's state")?;
    ensure!(state.status.name() == "CompleteAbort" && state.producer_epoch == 1);
    ensure!(
        producer.commit_transaction(WAIT).is_err(),
        "a commit after the timeout abort succeeded"
    );
    let committed = reader(&bootstrap, "slow", 1, "read_committed")?;
    let seen = read_values(&committed, 0, Duration::from_millis(700))?;
    ensure!(seen.is_empty(), "read_committed saw {seen:?}");
    Ok(())
}

#[test]
fn transactions_are_described_and_listed_on_the_wire() -> Result<()> {
    let fixture = Fixture::start()?;
    fixture.create_topic("desc", 2)?;
    let bootstrap = fixture.bootstrap();
    let producer = transactional_producer(&bootstrap, "app-d", 60_000)?;
    producer.begin_transaction()?;
    send_all(&producer, "desc", 2, &values("d", 2))?;
    let idle = transactional_producer(&bootstrap, "app-idle", 60_000)?;

    let (described, listed) = fixture.runtime.block_on(async {
        let mut client = fixture.harness().client().await?;
        let described: DescribeTransactionsResponse = client
            .call(
                0,
                &DescribeTransactionsRequest::default().with_transactional_ids(vec![
                    TransactionalId(s("app-d")),
                    TransactionalId(s("nobody")),
                ]),
            )
            .await?;
        let listed = client
            .call(
                1,
                &ListTransactionsRequest::default()
                    .with_state_filters(vec![s("Ongoing")])
                    .with_duration_filter(-1),
            )
            .await?;
        anyhow::Ok((described, listed))
    })?;
    let states = &described.transaction_states;
    ensure!(states.len() == 2);
    ensure!(states[0].error_code == 0 && states[0].transaction_state.as_str() == "Ongoing");
    ensure!(states[0].transaction_timeout_ms == 60_000 && states[0].transaction_start_time_ms > 0);
    let topics: Vec<(String, Vec<i32>)> = states[0]
        .topics
        .iter()
        .map(|t| (t.topic.0.to_string(), t.partitions.clone()))
        .collect();
    ensure!(
        topics == vec![("desc".to_string(), vec![0, 1])],
        "{topics:?}"
    );
    ensure!(
        states[1].error_code == 105,
        "unknown id: {}",
        states[1].error_code
    );
    let ids: Vec<String> = listed
        .transaction_states
        .iter()
        .map(|t| t.transactional_id.0.to_string())
        .collect();
    ensure!(ids == vec!["app-d".to_string()], "listed {ids:?}");
    producer.abort_transaction(WAIT)?;
    drop(idle);
    Ok(())
}

/// KIP-447: offsets sent in a transaction carry the consumer's group membership. A member
/// of an older generation (a zombie that missed a rebalance) is refused, so its transaction
/// must abort; the current member's offsets commit.
#[test]
fn a_zombie_generation_cannot_commit_offsets_in_a_transaction() -> Result<()> {
    let fixture = Fixture::start()?;
    fixture.create_topic("zombie-in", 2)?;
    let bootstrap = fixture.bootstrap();
    let member = || -> Result<BaseConsumer> {
        let consumer: BaseConsumer = client_config(&bootstrap)
            .set("group.id", "zombies")
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .set("partition.assignment.strategy", "range")
            .create()?;
        consumer.subscribe(&["zombie-in"])?;
        Ok(consumer)
    };
    // Polls every consumer until each owns `each` partitions.
    let settle = |consumers: &[&BaseConsumer], each: usize| -> Result<()> {
        let deadline = Instant::now() + WAIT;
        loop {
            for c in consumers {
                let _ = c.poll(Duration::from_millis(50));
            }
            let owned: Vec<usize> = consumers
                .iter()
                .map(|c| c.assignment().map_or(0, |a| a.count()))
                .collect();
            if owned.iter().all(|&n| n == each) {
                return Ok(());
            }
            ensure!(Instant::now() < deadline, "assignments: {owned:?}");
        }
    };
    let first = member()?;
    settle(&[&first], 2)?;
    let stale = first.group_metadata().context("group metadata")?;
    let second = member()?;
    settle(&[&first, &second], 1)?;

    let producer = transactional_producer(&bootstrap, "zombie-app", 60_000)?;
    let mut offsets = TopicPartitionList::new();
    offsets.add_partition_offset("zombie-in", 0, Offset::Offset(1))?;
    producer.begin_transaction()?;
    let refused = producer.send_offsets_to_transaction(&offsets, &stale, WAIT);
    ensure!(
        refused.is_err(),
        "offsets of the previous generation were accepted"
    );
    producer.abort_transaction(WAIT)?;

    producer.begin_transaction()?;
    let current = first.group_metadata().context("group metadata")?;
    producer.send_offsets_to_transaction(&offsets, &current, WAIT)?;
    producer.commit_transaction(WAIT)?;
    let mut wanted = TopicPartitionList::new();
    wanted.add_partition("zombie-in", 0);
    let committed = first.committed_offsets(wanted, WAIT)?;
    let offset = committed
        .find_partition("zombie-in", 0)
        .context("the partition")?
        .offset();
    ensure!(
        offset == Offset::Offset(1),
        "committed offset {offset:?} after the current member's transaction"
    );
    Ok(())
}
