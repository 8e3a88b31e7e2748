//! Foreign-key table-table joins: semantics on the `TopologyTestDriver` (inner and left,
//! both sides' inserts, updates and deletes, foreign-key changes, no foreign key, stale
//! responses), topology and partition planning, and runs on the embedded runtime and on the
//! Kafka backend (two instances) with the two tables on different partition counts.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use common::{TestBroker, wait_for};
use eddy_streams::driver::TestInputTopic;
use eddy_streams::runtime::{Backend, RunningApp};
use eddy_streams::serdes::Serdes;
use eddy_streams::topology::TopicName;
use eddy_streams::{
    App, AppConfig, EmbeddedBackend, KTable, StreamsBuilder, Topology, TopologyTestDriver,
};

type Kv = Vec<(String, Option<String>)>;
type Table = KTable<String, String>;
/// Builds one of the joins into a store.
type Join = fn(&Table, &Table, &str) -> Table;

fn s(x: &str) -> String {
    x.to_string()
}

fn kv(key: &str, value: Option<&str>) -> (String, Option<String>) {
    (s(key), value.map(s))
}

/// An order's value is `customer|item`; an empty customer is no foreign key.
fn customer_of(order: &str) -> Option<String> {
    let customer = order.split('|').next().unwrap_or_default();
    (!customer.is_empty()).then(|| s(customer))
}

fn inner(
    orders: &KTable<String, String>,
    customers: &KTable<String, String>,
    store: &str,
) -> KTable<String, String> {
    orders.join_foreign_key(
        customers,
        |order: &String| customer_of(order),
        |order, name| format!("{order}/{name}"),
        store,
        Serdes::string(),
    )
}

fn left(
    orders: &KTable<String, String>,
    customers: &KTable<String, String>,
    store: &str,
) -> KTable<String, String> {
    orders.left_join_foreign_key(
        customers,
        |order: &String| customer_of(order),
        |order, name| format!("{order}/{}", name.map_or("-", String::as_str)),
        store,
        Serdes::string(),
    )
}

struct Fixture {
    driver: TopologyTestDriver,
    orders: TestInputTopic<String, String>,
    customers: TestInputTopic<String, String>,
    time: std::cell::Cell<i64>,
}

impl Fixture {
    fn new(join: Join) -> Self {
        let b = StreamsBuilder::new();
        let orders = b.table("orders", Serdes::string(), Serdes::string(), "orders");
        let customers = b.table("customers", Serdes::string(), Serdes::string(), "customers");
        join(&orders, &customers, "enriched").to("out");
        let driver = TopologyTestDriver::new(b.build().unwrap()).unwrap();
        Self {
            orders: driver.input_topic("orders", Serdes::string(), Serdes::string()),
            customers: driver.input_topic("customers", Serdes::string(), Serdes::string()),
            driver,
            time: std::cell::Cell::new(0),
        }
    }

    fn tick(&self) -> i64 {
        self.time.set(self.time.get() + 1);
        self.time.get()
    }

    fn order(&self, key: &str, value: Option<&str>) -> Kv {
        match value {
            Some(v) => self.orders.pipe(s(key), s(v), self.tick()).unwrap(),
            None => self.orders.pipe_tombstone(s(key), self.tick()).unwrap(),
        }
        self.out()
    }

    fn customer(&self, key: &str, value: Option<&str>) -> Kv {
        match value {
            Some(v) => self.customers.pipe(s(key), s(v), self.tick()).unwrap(),
            None => self.customers.pipe_tombstone(s(key), self.tick()).unwrap(),
        }
        self.out()
    }

    fn out(&self) -> Kv {
        self.driver
            .output_topic("out", Serdes::string(), Serdes::string())
            .read_key_values()
            .unwrap()
    }

    /// The subscriptions the right side holds, as (foreign key, left key): the store's keys
    /// are the foreign key's bytes, length-prefixed, then the left key's.
    fn subscriptions(&self) -> Vec<(String, String)> {
        let store = self
            .driver
            .kv_store(
                "enriched-subscription-store",
                Serdes::bytes(),
                Serdes::bytes(),
            )
            .unwrap();
        store
            .all()
            .unwrap()
            .map(|entry| {
                let (key, _) = entry.unwrap();
                let len = u32::from_be_bytes(key[..4].try_into().unwrap()) as usize;
                let text = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
                (text(&key[4..4 + len]), text(&key[4 + len..]))
            })
            .collect()
    }

    fn result(&self, key: &str) -> Option<String> {
        self.driver
            .kv_store("enriched", Serdes::string(), Serdes::string())
            .unwrap()
            .get(&s(key))
            .unwrap()
    }
}

#[test]
fn inner_foreign_key_join() {
    let f = Fixture::new(inner);
    // A left row without a right row: no result.
    assert_eq!(f.order("o1", Some("c1|book")), vec![]);
    // The right row arrives: the subscribed left row joins.
    assert_eq!(
        f.customer("c1", Some("Ann")),
        vec![kv("o1", Some("c1|book/Ann"))]
    );
    // A left insert with a match joins at once.
    assert_eq!(
        f.order("o2", Some("c1|pen")),
        vec![kv("o2", Some("c1|pen/Ann"))]
    );
    assert_eq!(f.order("o3", Some("c2|cup")), vec![]);
    // A right update fans out to every subscribed left row.
    assert_eq!(
        f.customer("c1", Some("Anna")),
        vec![
            kv("o1", Some("c1|book/Anna")),
            kv("o2", Some("c1|pen/Anna"))
        ]
    );
    assert_eq!(
        f.customer("c2", Some("Bob")),
        vec![kv("o3", Some("c2|cup/Bob"))]
    );
    // A left update keeping its foreign key.
    assert_eq!(
        f.order("o2", Some("c1|pencil")),
        vec![kv("o2", Some("c1|pencil/Anna"))]
    );
    // A foreign-key change joins the new right row...
    assert_eq!(
        f.order("o1", Some("c2|book")),
        vec![kv("o1", Some("c2|book/Bob"))]
    );
    // ...and unsubscribes from the old one.
    assert_eq!(
        f.customer("c1", Some("Ann")),
        vec![kv("o2", Some("c1|pencil/Ann"))]
    );
    // A foreign-key change to a key without a right row retracts the result.
    assert_eq!(f.order("o2", Some("c3|pen")), vec![kv("o2", None)]);
    // A right delete retracts every subscribed left row's result.
    assert_eq!(f.customer("c2", None), vec![kv("o1", None), kv("o3", None)]);
    // A left delete without a result emits nothing and unsubscribes.
    assert_eq!(f.order("o3", None), vec![]);
    assert_eq!(
        f.customer("c2", Some("Bob")),
        vec![kv("o1", Some("c2|book/Bob"))]
    );
    // No foreign key: the result is retracted, and the old right row no longer reaches it.
    assert_eq!(f.order("o1", Some("|book")), vec![kv("o1", None)]);
    assert_eq!(f.customer("c2", Some("Bobby")), vec![]);
    assert_eq!(f.order("o4", Some("|mug")), vec![]);
    // A left delete with a result emits a tombstone.
    assert_eq!(
        f.order("o1", Some("c2|mug")),
        vec![kv("o1", Some("c2|mug/Bobby"))]
    );
    assert_eq!(f.order("o1", None), vec![kv("o1", None)]);
    assert_eq!(f.customer("c2", Some("Rob")), vec![]);
    // The right row of a pending subscription arrives late.
    assert_eq!(
        f.customer("c3", Some("Cy")),
        vec![kv("o2", Some("c3|pen/Cy"))]
    );
    assert_eq!(f.result("o2").as_deref(), Some("c3|pen/Cy"));
    for gone in ["o1", "o3", "o4"] {
        assert_eq!(f.result(gone), None, "{gone}");
    }
    // Foreign-key changes and deletes left no subscription behind.
    assert_eq!(f.subscriptions(), vec![(s("c3"), s("o2"))]);
}

#[test]
fn left_foreign_key_join() {
    let f = Fixture::new(left);
    // A left row without a right row is joined with none.
    assert_eq!(
        f.order("o1", Some("c1|book")),
        vec![kv("o1", Some("c1|book/-"))]
    );
    assert_eq!(
        f.customer("c1", Some("Ann")),
        vec![kv("o1", Some("c1|book/Ann"))]
    );
    assert_eq!(
        f.order("o2", Some("c1|pen")),
        vec![kv("o2", Some("c1|pen/Ann"))]
    );
    // No foreign key: joined with none.
    assert_eq!(f.order("o3", Some("|cup")), vec![kv("o3", Some("|cup/-"))]);
    // A right update fans out; a right delete joins the subscribers with none.
    assert_eq!(
        f.customer("c1", Some("Anna")),
        vec![
            kv("o1", Some("c1|book/Anna")),
            kv("o2", Some("c1|pen/Anna"))
        ]
    );
    assert_eq!(
        f.customer("c1", None),
        vec![kv("o1", Some("c1|book/-")), kv("o2", Some("c1|pen/-"))]
    );
    assert_eq!(f.customer("c2", Some("Bob")), vec![]);
    // Foreign-key changes: to a right row, to none, from none.
    assert_eq!(
        f.order("o1", Some("c2|book")),
        vec![kv("o1", Some("c2|book/Bob"))]
    );
    assert_eq!(f.order("o2", Some("|pen")), vec![kv("o2", Some("|pen/-"))]);
    assert_eq!(
        f.order("o3", Some("c2|cup")),
        vec![kv("o3", Some("c2|cup/Bob"))]
    );
    // The old foreign key no longer reaches a row that moved away.
    assert_eq!(f.customer("c1", Some("Ann")), vec![]);
    // Left deletes: with a foreign key and without one.
    assert_eq!(f.order("o3", None), vec![kv("o3", None)]);
    assert_eq!(f.order("o2", None), vec![kv("o2", None)]);
    assert_eq!(
        f.customer("c2", Some("Bobby")),
        vec![kv("o1", Some("c2|book/Bobby"))]
    );
    assert_eq!(f.result("o1").as_deref(), Some("c2|book/Bobby"));
    assert_eq!(f.result("o2"), None);
    assert_eq!(f.result("o3"), None);
    assert_eq!(f.subscriptions(), vec![(s("c2"), s("o1"))]);
}

/// Two updates of one left row in one batch: the first row's response arrives after the
/// second row replaced it, and must be dropped as stale.
fn stale_fixture(join: Join) -> (TopologyTestDriver, TestInputTopic<String, String>) {
    let b = StreamsBuilder::new();
    let customers = b.table("customers", Serdes::string(), Serdes::string(), "customers");
    let orders = b
        .stream("order-batches", Serdes::string(), Serdes::string())
        .flat_map_values(|v: String| v.split(';').map(s).collect::<Vec<_>>())
        .with_value_serde(Serdes::string())
        .to_table("orders");
    join(&orders, &customers, "enriched").to("out");
    let driver = TopologyTestDriver::new(b.build().unwrap()).unwrap();
    driver
        .input_topic("customers", Serdes::string(), Serdes::string())
        .pipe(s("c1"), s("Ann"), 1)
        .unwrap();
    let batches = driver.input_topic("order-batches", Serdes::string(), Serdes::string());
    (driver, batches)
}

#[test]
fn a_stale_response_is_dropped() {
    // Inner: `c1|a` joins Ann, but its response arrives after `c2|b` (no right row)
    // replaced it; only the current row counts, and it has no result.
    let (driver, batches) = stale_fixture(inner);
    batches.pipe(s("o1"), s("c1|a;c2|b"), 2).unwrap();
    let out = driver.output_topic("out", Serdes::string(), Serdes::string());
    assert_eq!(out.read_key_values().unwrap(), vec![]);
    let store = driver
        .kv_store("enriched", Serdes::string(), Serdes::string())
        .unwrap();
    assert_eq!(store.get(&s("o1")).unwrap(), None);

    // Left: the stale `c1|a/Ann` is never emitted, only the current row's result.
    let (driver, batches) = stale_fixture(left);
    batches.pipe(s("o1"), s("c1|a;c2|b"), 2).unwrap();
    let out = driver.output_topic("out", Serdes::string(), Serdes::string());
    assert_eq!(
        out.read_key_values().unwrap(),
        vec![kv("o1", Some("c2|b/-"))]
    );
}

#[test]
fn describe_shows_the_join_and_partitions_follow_the_tables() {
    let b = StreamsBuilder::new();
    let orders = b.table("orders", Serdes::string(), Serdes::string(), "orders");
    let customers = b.table("customers", Serdes::string(), Serdes::string(), "customers");
    inner(&orders, &customers, "enriched").to("out");
    let topology = b.build().unwrap();
    let described = topology.describe();
    for part in [
        "Processor: KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-",
        "(topic: enriched-subscription-registration-topic)",
        "(topics: [enriched-subscription-registration-topic])",
        "Processor: KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-",
        "(stores: [enriched-subscription-store, customers])",
        "Processor: KTABLE-FK-JOIN-FOREIGN-TABLE-PROCESSOR-",
        "Sink: KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-SINK-",
        "(topic: enriched-subscription-response-topic)",
        "(topics: [enriched-subscription-response-topic])",
        "Processor: KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-RESOLVER-PROCESSOR-",
        "Processor: KTABLE-FK-JOIN-OUTPUT-",
        "(stores: [enriched])",
    ] {
        assert!(described.contains(part), "{part} missing from\n{described}");
    }
    // The left table with the response topic, the right table with the registrations.
    let subs = topology.subtopologies();
    assert_eq!(subs.len(), 2, "{described}");
    let topics = |i: usize| -> Vec<String> {
        subs[i]
            .source_topics
            .iter()
            .map(|t| t.resolve("app"))
            .collect()
    };
    assert_eq!(
        topics(0),
        vec![s("orders"), s("app-enriched-subscription-response-topic")]
    );
    assert_eq!(
        topics(1),
        vec![
            s("customers"),
            s("app-enriched-subscription-registration-topic")
        ]
    );

    // Each internal topic takes the partition count of the table it is co-partitioned with.
    let external: BTreeMap<String, i32> = [(s("orders"), 3), (s("customers"), 2)].into();
    let planned = topology
        .internal_topic_partitions("app", &external)
        .unwrap();
    let expected: BTreeMap<TopicName, i32> = [
        (
            TopicName::Internal(s("enriched-subscription-registration-topic")),
            2,
        ),
        (
            TopicName::Internal(s("enriched-subscription-response-topic")),
            3,
        ),
    ]
    .into();
    assert_eq!(planned, expected);
}

#[test]
fn internal_topics_take_their_writers_input_sizes() {
    // A repartition topic is sized by the inputs of the sub-topology writing it, not by the
    // largest topic of the application; a repartition topic fed by another follows it.
    let b = StreamsBuilder::new();
    b.stream("small", Serdes::string(), Serdes::string())
        .group_by(|_, v| v.clone(), Serdes::string())
        .count("by-value")
        .to_stream()
        .group_by(|_, n| n.to_string(), Serdes::string())
        .count("by-count");
    b.stream("big", Serdes::string(), Serdes::string())
        .to("big-out");
    let topology = b.build().unwrap();
    let external: BTreeMap<String, i32> = [(s("small"), 2), (s("big"), 8)].into();
    let planned = topology
        .internal_topic_partitions("app", &external)
        .unwrap();
    let expected: BTreeMap<TopicName, i32> = [
        (TopicName::Internal(s("by-value-repartition")), 2),
        (TopicName::Internal(s("by-count-repartition")), 2),
    ]
    .into();
    assert_eq!(planned, expected);

    // A join of a repartitioned stream with a table: the repartition topic takes the
    // table's size, whatever its writer reads.
    let b = StreamsBuilder::new();
    let table = b.table("table", Serdes::string(), Serdes::string(), "table");
    b.stream("stream", Serdes::string(), Serdes::string())
        .select_key(|_, v| v.clone())
        .join_table(&table, |v, t| format!("{v}{t}"))
        .with_value_serde(Serdes::string())
        .to("joined");
    let topology = b.build().unwrap();
    let external: BTreeMap<String, i32> = [(s("table"), 3), (s("stream"), 5)].into();
    let planned = topology
        .internal_topic_partitions("app", &external)
        .unwrap();
    assert_eq!(planned.values().copied().collect::<Vec<_>>(), vec![3]);

    // Co-partitioned external topics that differ are refused, naming both.
    let b = StreamsBuilder::new();
    let table = b.table("t", Serdes::string(), Serdes::string(), "t");
    b.stream("st", Serdes::string(), Serdes::string())
        .join_table(&table, |v, t| format!("{v}{t}"))
        .with_value_serde(Serdes::string())
        .to("j");
    let external: BTreeMap<String, i32> = [(s("t"), 3), (s("st"), 5)].into();
    let err = b
        .build()
        .unwrap()
        .internal_topic_partitions("app", &external)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("co-partitioned")
            && err.contains("t (3 partitions)")
            && err.contains("st (5 partitions)"),
        "{err}"
    );
}

// ---- the runtime, on the embedded broker and on the Kafka backend ----

const ORDER_PARTITIONS: i32 = 3;
const CUSTOMER_PARTITIONS: i32 = 2;

/// What the joins should hold for these tables.
fn expected(
    orders: &BTreeMap<String, String>,
    customers: &BTreeMap<String, String>,
    left_join: bool,
) -> BTreeMap<String, String> {
    orders
        .iter()
        .filter_map(|(k, order)| {
            let name = customer_of(order).and_then(|c| customers.get(&c));
            match (name, left_join) {
                (Some(n), _) => Some((k.clone(), format!("{order}/{n}"))),
                (None, true) => Some((k.clone(), format!("{order}/-"))),
                (None, false) => None,
            }
        })
        .collect()
}

/// An inner and a left foreign-key join of the same tables, written to output topics.
fn two_joins() -> Topology {
    let b = StreamsBuilder::new();
    let orders = b.table("orders", Serdes::string(), Serdes::string(), "orders");
    let customers = b.table("customers", Serdes::string(), Serdes::string(), "customers");
    inner(&orders, &customers, "enriched").to("enriched-out");
    left(&orders, &customers, "enriched-left").to("enriched-left-out");
    b.build().unwrap()
}

fn create_topics(backend: &dyn Backend) {
    backend
        .create_topic(
            "orders",
            ORDER_PARTITIONS,
            eddy_streams::runtime::TopicKind::Plain,
        )
        .unwrap();
    backend
        .create_topic(
            "customers",
            CUSTOMER_PARTITIONS,
            eddy_streams::runtime::TopicKind::Plain,
        )
        .unwrap();
    for out in ["enriched-out", "enriched-left-out"] {
        backend
            .create_topic(
                out,
                ORDER_PARTITIONS,
                eddy_streams::runtime::TopicKind::Plain,
            )
            .unwrap();
    }
}

/// Both joins' results as the apps' stores hold them (each app holds its partitions).
fn results(apps: &[&RunningApp], store: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for app in apps {
        out.extend(
            app.range(store, .., Serdes::string(), Serdes::string())
                .unwrap(),
        );
    }
    out
}

/// Inserts, then foreign-key changes, no foreign key, deletes and updates on both sides,
/// waiting after each phase until the apps' stores and the output topics hold the joins of
/// what was written.
fn run_scenario(broker: &TestBroker, apps: &[&RunningApp]) {
    let mut orders: BTreeMap<String, String> = BTreeMap::new();
    let mut customers: BTreeMap<String, String> = BTreeMap::new();
    let mut ts = 1_000;
    let mut order = |rows: &mut BTreeMap<String, String>, key: &str, value: Option<&str>| {
        ts += 1;
        broker.put_keyed("orders", ORDER_PARTITIONS, key, value, ts);
        match value {
            Some(v) => rows.insert(s(key), s(v)),
            None => rows.remove(key),
        };
    };
    let customer = |rows: &mut BTreeMap<String, String>, key: &str, value: Option<&str>| {
        broker.put_keyed("customers", CUSTOMER_PARTITIONS, key, value, 1_000);
        match value {
            Some(v) => rows.insert(s(key), s(v)),
            None => rows.remove(key),
        };
    };
    let settled = |orders: &BTreeMap<String, String>, customers: &BTreeMap<String, String>| {
        results(apps, "enriched") == expected(orders, customers, false)
            && results(apps, "enriched-left") == expected(orders, customers, true)
    };

    // Phase 1: customers c0..c5, orders spread over c0..c7 (c6 and c7 absent).
    for c in 0..6 {
        customer(&mut customers, &format!("c{c}"), Some(&format!("name{c}")));
    }
    for i in 0..24 {
        let value = format!("c{}|item{i}", i % 8);
        order(&mut orders, &format!("o{i}"), Some(&value));
    }
    wait_for("the first results", || settled(&orders, &customers));

    // Phase 2, interleaved on both sides.
    for i in 0..6 {
        let value = format!("c{}|moved{i}", (i + 3) % 8);
        order(&mut orders, &format!("o{i}"), Some(&value));
    }
    customer(&mut customers, "c1", Some("renamed1"));
    customer(&mut customers, "c6", Some("name6"));
    order(&mut orders, "o7", Some("|no-customer"));
    order(&mut orders, "o8", None);
    customer(&mut customers, "c2", None);
    order(&mut orders, "o9", Some("c2|late"));
    order(&mut orders, "o10", None);
    customer(&mut customers, "c3", None);
    customer(&mut customers, "c3", Some("back3"));
    order(&mut orders, "o15", Some("|none"));
    order(&mut orders, "o15", None);
    customer(&mut customers, "c5", None);
    order(&mut orders, "o11", Some("c0|again"));
    wait_for("the results after changes", || settled(&orders, &customers));

    let inner_expected = expected(&orders, &customers, false);
    let left_expected = expected(&orders, &customers, true);
    assert!(inner_expected.len() > 10 && inner_expected.len() < left_expected.len());
    wait_for("the output topics", || {
        broker.latest_strings("enriched-out") == inner_expected
            && broker.latest_strings("enriched-left-out") == left_expected
    });
}

#[test]
fn runs_across_partitions_on_the_embedded_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::embedded(&dir.path().join("broker"));
    let backend = broker.backend.clone();
    create_topics(&*backend);
    let app = App::new(
        two_joins(),
        AppConfig {
            threads: 2,
            commit_interval: Duration::from_millis(50),
            state_dir: dir.path().join("state"),
            ..AppConfig::new("fk", backend.clone())
        },
    )
    .start()
    .unwrap();
    // Each internal topic has its table's partition count.
    for (topic, partitions) in [
        (
            "fk-enriched-subscription-registration-topic",
            CUSTOMER_PARTITIONS,
        ),
        ("fk-enriched-subscription-response-topic", ORDER_PARTITIONS),
        (
            "fk-enriched-subscription-store-changelog",
            CUSTOMER_PARTITIONS,
        ),
        ("fk-enriched-changelog", ORDER_PARTITIONS),
    ] {
        assert_eq!(
            backend.partitions(topic).unwrap(),
            Some(partitions),
            "{topic}"
        );
    }
    run_scenario(&broker, &[&app]);
    app.stop().unwrap();
}

#[test]
fn runs_across_two_instances_on_the_kafka_backend() {
    // Two instances in one consumer group: a subscription sent by one instance's left task
    // is often answered by the other's right task.
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::kafka(&dir.path().join("broker"));
    let backend = broker.backend.clone();
    create_topics(&*backend);
    let config = |state: &str| AppConfig {
        commit_interval: Duration::from_millis(100),
        state_dir: dir.path().join(state),
        ..AppConfig::new("fk-kafka", backend.clone())
    };
    let a = App::new(two_joins(), config("a")).start().unwrap();
    let b = App::new(two_joins(), config("b")).start().unwrap();
    run_scenario(&broker, &[&a, &b]);
    assert!(
        !results(&[&a], "enriched-left").is_empty() && !results(&[&b], "enriched-left").is_empty(),
        "both instances hold some of the results"
    );
    a.stop().unwrap();
    b.stop().unwrap();
}

#[test]
fn an_internal_topic_of_the_wrong_size_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Arc::new(EmbeddedBackend::open(dir.path().join("broker")).unwrap());
    backend
        .create_topic("orders", 3, eddy_streams::runtime::TopicKind::Plain)
        .unwrap();
    backend
        .create_topic("customers", 2, eddy_streams::runtime::TopicKind::Plain)
        .unwrap();
    // Left by an earlier run, when the orders had one partition.
    backend
        .create_topic(
            "fk-enriched-subscription-response-topic",
            1,
            eddy_streams::runtime::TopicKind::Plain,
        )
        .unwrap();
    let b = StreamsBuilder::new();
    let orders = b.table("orders", Serdes::string(), Serdes::string(), "orders");
    let customers = b.table("customers", Serdes::string(), Serdes::string(), "customers");
    inner(&orders, &customers, "enriched").to("out");
    let err = App::new(
        b.build().unwrap(),
        AppConfig {
            state_dir: dir.path().join("state"),
            ..AppConfig::new("fk", backend.clone())
        },
    )
    .start()
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("fk-enriched-subscription-response-topic has 1 partitions")
            && err.contains("needs 3"),
        "{err}"
    );
}
