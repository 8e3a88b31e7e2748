//! The untyped topology API ([`TopologyBuilder`]: raw sources, processors and raw sinks,
//! with headers), typed views of untyped nodes mixed with the DSL's operators, tables of
//! upserts, and names for the state of joins and materialised tables, on the
//! `TopologyTestDriver`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use eddy_streams::processor::{AnyBatch, Context, Node, downcast};
use eddy_streams::record::{Headers, RawRecord, Record, SourceRecord};
use eddy_streams::serdes::Serdes;
use eddy_streams::topology::{NodeFactory, StoreKind, StoreSpec, TopicName};
use eddy_streams::{
    Change, JoinWindows, KStream, KTable, StreamsBuilder, TopologyBuilder, TopologyTestDriver,
};

fn external(topic: &str) -> TopicName {
    TopicName::External(topic.to_string())
}

fn bytes(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn factory(make: impl Fn() -> Box<dyn Node> + Send + Sync + 'static) -> NodeFactory {
    Arc::new(make)
}

/// Copies each source record to a raw record, headers included, adding a header
/// `seen: <offset>`; moves stream time as a decoding node must.
struct CopyHeaders;

impl Node for CopyHeaders {
    fn process(&mut self, batch: AnyBatch, ctx: &mut Context<'_>) -> eddy_streams::Result<()> {
        let records = downcast::<Vec<SourceRecord>>(batch, "copy")?;
        let mut out = Vec::with_capacity(records.len());
        for r in records {
            ctx.observe_time(r.timestamp);
            let mut headers = r.headers;
            headers.push(("seen".to_string(), Some(bytes(&r.offset.to_string()))));
            out.push(RawRecord {
                key: r.key,
                value: r.value,
                timestamp: r.timestamp,
                headers,
                partition: None,
            });
        }
        ctx.forward(out);
        Ok(())
    }
}

/// `in` -> raw source -> [`CopyHeaders`] -> raw sink -> `out`.
fn copy_topology() -> TopologyBuilder {
    let b = TopologyBuilder::new();
    let source = b.add_source(b.next_name("SOURCE"), vec![external("in")]);
    let copy = b.add_processor(
        b.next_name("COPY"),
        &[source],
        Vec::new(),
        factory(|| Box::new(CopyHeaders)),
    );
    b.add_sink(b.next_name("SINK"), external("out"), &[copy]);
    b
}

fn headers(pairs: &[(&str, Option<&str>)]) -> Headers {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.map(bytes)))
        .collect()
}

#[test]
fn raw_source_processor_and_sink_keep_records_as_they_are() {
    let topology = copy_topology().build().unwrap();
    assert_eq!(
        topology.describe(),
        "Topologies:\n   Sub-topology: 0\n\
         \x20   Source: SOURCE-0000000000 (topics: [in])\n\
         \x20     --> COPY-0000000001\n\
         \x20   Processor: COPY-0000000001 (stores: [])\n\
         \x20     --> SINK-0000000002\n\
         \x20     <-- SOURCE-0000000000\n\
         \x20   Sink: SINK-0000000002 (topic: out)\n\
         \x20     <-- COPY-0000000001\n\n"
    );
    let driver = TopologyTestDriver::new(topology).unwrap();
    let h = headers(&[("a", Some("1")), ("a", Some("2")), ("null", None)]);
    driver
        .pipe_raw_with_headers("in", Some(b"k".to_vec()), Some(b"v".to_vec()), 7, h.clone())
        .unwrap();
    // A tombstone and an unkeyed record are forwarded too: nothing is decoded.
    driver.pipe_raw("in", Some(b"k".to_vec()), None, 8).unwrap();
    driver.pipe_raw("in", None, Some(b"x".to_vec()), 3).unwrap();
    assert_eq!(driver.output_topic_names(), vec!["out".to_string()]);
    let out = driver.read_output_raw("out");
    let seen: Vec<_> = out
        .iter()
        .map(|r| {
            (
                r.key.clone(),
                r.value.clone(),
                r.timestamp,
                r.headers.clone(),
                r.partition,
                r.topic.to_string(),
            )
        })
        .collect();
    let mut first = h.clone();
    first.push(("seen".into(), Some(bytes("0"))));
    assert_eq!(
        seen,
        vec![
            (
                Some(bytes("k")),
                Some(bytes("v")),
                7,
                first,
                None,
                "out".into()
            ),
            (
                Some(bytes("k")),
                None,
                8,
                headers(&[("seen", Some("1"))]),
                None,
                "out".into()
            ),
            (
                None,
                Some(bytes("x")),
                3,
                headers(&[("seen", Some("2"))]),
                None,
                "out".into()
            ),
        ]
    );
    // Reading takes the records; the topic stays listed.
    assert!(driver.read_output_raw("out").is_empty());
    assert_eq!(driver.output_topic_names(), vec!["out".to_string()]);
    assert_eq!(driver.counters().processed, 3);
    assert_eq!(driver.counters().skipped, 0);
}

/// Forwards, per record, the stream time the node saw before observing the record's time
/// (as the value, big-endian), then observes it.
struct StreamTimeProbe {
    observe: bool,
}

impl Node for StreamTimeProbe {
    fn process(&mut self, batch: AnyBatch, ctx: &mut Context<'_>) -> eddy_streams::Result<()> {
        let records = downcast::<Vec<SourceRecord>>(batch, "probe")?;
        let mut out = Vec::new();
        for r in records {
            let before = ctx.stream_time();
            if self.observe {
                ctx.observe_time(r.timestamp);
            }
            out.push(RawRecord::new(
                r.key,
                Some(Bytes::copy_from_slice(&before.to_be_bytes())),
                r.timestamp,
            ));
        }
        ctx.forward(out);
        Ok(())
    }
}

fn stream_times(observe: bool) -> Vec<i64> {
    let b = TopologyBuilder::new();
    let source = b.add_source("source", vec![external("in")]);
    let probe = b.add_processor(
        "probe",
        &[source],
        Vec::new(),
        factory(move || Box::new(StreamTimeProbe { observe })),
    );
    b.add_sink("sink", external("out"), &[probe]);
    let driver = TopologyTestDriver::new(b.build().unwrap()).unwrap();
    for ts in [10, 30, 20] {
        driver.pipe_raw("in", None, Some(vec![1]), ts).unwrap();
    }
    driver
        .read_output_raw("out")
        .iter()
        .map(|r| i64::from_be_bytes(r.value.as_deref().unwrap().try_into().unwrap()))
        .collect()
}

#[test]
fn raw_sources_leave_stream_time_to_the_decoding_node() {
    // The source did not move stream time before the probe saw each record...
    assert_eq!(stream_times(false), vec![i64::MIN; 3]);
    // ... and observe_time moves it, never backwards.
    assert_eq!(stream_times(true), vec![i64::MIN, 10, 30]);
}

#[test]
fn raw_sinks_write_internal_topics_and_partitions_and_headers_come_back() {
    let b = TopologyBuilder::new();
    let topic = b.add_internal_topic("through-repartition");
    assert_eq!(topic, TopicName::Internal("through-repartition".into()));
    let source = b.add_source("source", vec![external("in")]);
    let copy = b.add_processor(
        "copy",
        &[source],
        Vec::new(),
        factory(|| Box::new(CopyHeaders)),
    );
    b.add_sink("to-internal", topic.clone(), &[copy]);
    let back = b.add_source("from-internal", vec![topic]);
    let copy_again = b.add_processor(
        "copy-again",
        &[back],
        Vec::new(),
        factory(|| Box::new(CopyHeaders)),
    );
    /// Sends every record to partition 1.
    struct ToPartitionOne;
    impl Node for ToPartitionOne {
        fn process(&mut self, batch: AnyBatch, ctx: &mut Context<'_>) -> eddy_streams::Result<()> {
            let mut records = downcast::<Vec<RawRecord>>(batch, "p1")?;
            for r in &mut records {
                r.partition = Some(1);
            }
            ctx.forward(records);
            Ok(())
        }
    }
    let p1 = b.add_processor(
        "partition-one",
        &[copy_again],
        Vec::new(),
        factory(|| Box::new(ToPartitionOne)),
    );
    b.add_sink("sink", external("out"), &[p1]);
    let topology = b.build().unwrap();
    assert_eq!(topology.subtopologies().len(), 2);
    assert_eq!(topology.internal_topics()[0].suffix, "through-repartition");

    let driver = TopologyTestDriver::new(topology).unwrap();
    driver
        .pipe_raw_with_headers(
            "in",
            Some(b"k".to_vec()),
            Some(b"v".to_vec()),
            5,
            headers(&[("h", Some("x"))]),
        )
        .unwrap();
    // Internal topics are fed back, not captured.
    assert_eq!(driver.output_topic_names(), vec!["out".to_string()]);
    let out = driver.read_output_raw("out");
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].partition, Some(1));
    assert_eq!(
        out[0].headers,
        headers(&[("h", Some("x")), ("seen", Some("0")), ("seen", Some("0"))])
    );
}

#[test]
fn generated_names_are_shared_with_the_dsl() {
    let builder = StreamsBuilder::new();
    let stream = builder.stream("in", Serdes::string(), Serdes::string());
    let raw = builder.topology_builder();
    assert_eq!(raw.next_name("PLANNER"), "PLANNER-0000000001");
    stream.to("out");
    assert_eq!(
        raw.node_name(stream.node()).as_deref(),
        Some("KSTREAM-SOURCE-0000000000")
    );
    assert_eq!(raw.node_name(1).as_deref(), Some("KSTREAM-SINK-0000000002"));
    assert_eq!(raw.node_name(2), None);
    assert_eq!(raw.node_count(), 2);
    // Both handles build the same graph.
    let again = StreamsBuilder::from_topology_builder(raw.clone());
    again
        .stream("in2", Serdes::string(), Serdes::string())
        .to("out2");
    assert_eq!(builder.build().unwrap().subtopologies().len(), 2);
    assert_eq!(
        raw.build().unwrap().describe(),
        builder.build().unwrap().describe()
    );
}

#[test]
fn build_errors_are_recorded_not_panics() {
    let b = TopologyBuilder::new();
    b.add_source("source", vec![external("in")]);
    b.add_processor("orphan", &[], Vec::new(), factory(|| Box::new(CopyHeaders)));
    let err = b.build().unwrap_err().to_string();
    assert!(err.contains("processor orphan has no parents"), "{err}");

    let b = TopologyBuilder::new();
    b.add_source("source", vec![external("in")]);
    b.add_sink("sink", external("out"), &[41]);
    let err = b.build().unwrap_err().to_string();
    assert!(err.contains("sink has parent node 41"), "{err}");

    let b = TopologyBuilder::new();
    b.add_source("source", Vec::new());
    b.error("the planner found a problem");
    let err = b.build().unwrap_err().to_string();
    assert!(err.contains("source source reads no topics"), "{err}");
    assert!(err.contains("(and 1 more problems)"), "{err}");

    // What Topology::new checks: stores never added, names used twice.
    let b = TopologyBuilder::new();
    let s = b.add_source("source", vec![external("in")]);
    b.add_processor(
        "p",
        &[s],
        vec!["missing".into()],
        factory(|| Box::new(CopyHeaders)),
    );
    let err = b.build().unwrap_err().to_string();
    assert!(
        err.contains("store \"missing\", which was never added"),
        "{err}"
    );
    b.add_store(StoreSpec::key_value("missing"));
    b.add_sink("p", external("out"), &[s]);
    let err = b.build().unwrap_err().to_string();
    assert!(err.contains("\"p\" is used twice"), "{err}");

    // Typed views of nodes that are not in the graph.
    let builder = StreamsBuilder::new();
    let _ = KStream::<String, String>::from_node(&builder, 5, None, None);
    let err = builder.build().unwrap_err().to_string();
    assert!(
        err.contains("KStream::from_node: node 5 is not in this topology"),
        "{err}"
    );
    let builder = StreamsBuilder::new();
    let _ = KTable::<String, String>::from_node(&builder, 0, None, None, None);
    let err = builder.build().unwrap_err().to_string();
    assert!(err.contains("KTable::from_node: node 0"), "{err}");
}

/// Decodes string keys and values, dropping tombstones (the node a planner would put after
/// a raw source).
struct DecodeStrings;

impl Node for DecodeStrings {
    fn process(&mut self, batch: AnyBatch, ctx: &mut Context<'_>) -> eddy_streams::Result<()> {
        let mut out = Vec::new();
        for r in downcast::<Vec<SourceRecord>>(batch, "decode")? {
            ctx.observe_time(r.timestamp);
            let key = String::from_utf8(r.key.unwrap_or_default().to_vec()).unwrap();
            if let Some(v) = r.value {
                out.push(Record::new(
                    key,
                    String::from_utf8(v.to_vec()).unwrap(),
                    r.timestamp,
                ));
            }
        }
        ctx.forward_records(out);
        Ok(())
    }
}

fn decoded(builder: &StreamsBuilder, topic: &str) -> KStream<String, String> {
    let raw = builder.topology_builder();
    let source = raw.add_source(raw.next_name("SOURCE"), vec![external(topic)]);
    let decode = raw.add_processor(
        raw.next_name("DECODE"),
        &[source],
        Vec::new(),
        factory(|| Box::new(DecodeStrings)),
    );
    KStream::from_node(
        builder,
        decode,
        Some(Serdes::string()),
        Some(Serdes::string()),
    )
}

#[test]
fn streams_of_untyped_nodes_repartition_when_marked() {
    let builder = StreamsBuilder::new();
    let words = decoded(&builder, "lines");
    assert!(!words.needs_repartition());
    let marked = words.clone().mark_for_repartition();
    assert!(marked.needs_repartition());
    marked
        .group_by_key()
        .count("counts")
        .to_stream()
        .to("counts-out");
    let topology = builder.build().unwrap();
    let internal: Vec<_> = topology
        .internal_topics()
        .iter()
        .map(|t| t.suffix.clone())
        .collect();
    assert_eq!(internal, vec!["counts-repartition".to_string()]);
    assert_eq!(topology.subtopologies().len(), 2);

    let driver = TopologyTestDriver::new(topology).unwrap();
    let input = driver.input_topic("lines", Serdes::string(), Serdes::string());
    input.pipe("a".into(), "x".into(), 1).unwrap();
    input.pipe("a".into(), "y".into(), 2).unwrap();
    input.pipe("b".into(), "z".into(), 3).unwrap();
    let counts = driver.output_topic("counts-out", Serdes::string(), Serdes::i64());
    assert_eq!(
        counts.read_key_values().unwrap(),
        vec![
            ("a".to_string(), Some(1)),
            ("a".to_string(), Some(2)),
            ("b".to_string(), Some(1))
        ]
    );
}

/// Encodes string records as raw records (the node a planner would put before a raw sink).
struct EncodeStrings;

impl Node for EncodeStrings {
    fn process(&mut self, batch: AnyBatch, ctx: &mut Context<'_>) -> eddy_streams::Result<()> {
        let out: Vec<RawRecord> = downcast::<Vec<Record<String, String>>>(batch, "encode")?
            .into_iter()
            .map(|r| RawRecord {
                headers: headers(&[("from", Some("dsl"))]),
                ..RawRecord::new(Some(bytes(&r.key)), Some(bytes(&r.value)), r.timestamp)
            })
            .collect();
        ctx.forward(out);
        Ok(())
    }
}

#[test]
fn untyped_nodes_follow_dsl_operators() {
    let builder = StreamsBuilder::new();
    let upper = builder
        .stream("in", Serdes::string(), Serdes::string())
        .map_values(|v: String| v.to_uppercase());
    let raw = builder.topology_builder();
    let encode = raw.add_processor(
        raw.next_name("ENCODE"),
        &[upper.node()],
        Vec::new(),
        factory(|| Box::new(EncodeStrings)),
    );
    raw.add_sink(raw.next_name("SINK"), external("out"), &[encode]);
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    driver
        .input_topic("in", Serdes::string(), Serdes::string())
        .pipe("k".into(), "abc".into(), 4)
        .unwrap();
    let out = driver.read_output_raw("out");
    assert_eq!(out.len(), 1);
    assert_eq!(
        (out[0].key.clone(), out[0].value.clone(), out[0].timestamp),
        (Some(bytes("k")), Some(bytes("ABC")), 4)
    );
    assert_eq!(out[0].headers, headers(&[("from", Some("dsl"))]));
}

/// Keeps a table of the latest string per key in a store the node owns, forwarding
/// changes: what a planner's own table node would do.
struct StringTable {
    store: Option<Arc<dyn eddy_state::KeyValueStore>>,
    store_name: Option<String>,
    /// Without a store of its own: the rows, in memory.
    rows: std::collections::HashMap<String, String>,
}

impl Node for StringTable {
    fn init(&mut self, ctx: &mut eddy_streams::InitContext<'_>) -> eddy_streams::Result<()> {
        if let Some(name) = &self.store_name {
            self.store = Some(ctx.kv_store(name)?);
        }
        Ok(())
    }

    fn process(&mut self, batch: AnyBatch, ctx: &mut Context<'_>) -> eddy_streams::Result<()> {
        let mut out = Vec::new();
        for r in downcast::<Vec<Record<String, String>>>(batch, "table")? {
            let old = match &self.store {
                Some(store) => {
                    let old = store
                        .get(r.key.as_bytes())?
                        .map(|b| String::from_utf8(b.to_vec()).unwrap());
                    store.put(r.key.as_bytes(), r.value.as_bytes())?;
                    old
                }
                None => self.rows.insert(r.key.clone(), r.value.clone()),
            };
            out.push(Record::new(
                r.key,
                Change::new(Some(r.value), old),
                r.timestamp,
            ));
        }
        ctx.forward_records(out);
        Ok(())
    }
}

fn joined_with_table(store: Option<&str>) -> (String, Vec<(String, Option<String>)>) {
    let builder = StreamsBuilder::new();
    let rows = decoded(&builder, "rows");
    let raw = builder.topology_builder();
    if let Some(name) = store {
        raw.add_store(StoreSpec::key_value(name));
    }
    let store_name = store.map(str::to_string);
    let table_node = raw.add_processor(
        raw.next_name("TABLE"),
        &[rows.node()],
        store_name.iter().cloned().collect(),
        factory(move || {
            Box::new(StringTable {
                store: None,
                store_name: store_name.clone(),
                rows: Default::default(),
            })
        }),
    );
    let table = KTable::from_node(
        &builder,
        table_node,
        store.map(str::to_string),
        Some(Serdes::string()),
        Some(Serdes::string()),
    );
    assert_eq!(table.node(), table_node);
    assert_eq!(table.queryable_store_name(), store);
    builder
        .stream("clicks", Serdes::string(), Serdes::string())
        .join_table(&table, |click, row| format!("{click}@{row}"))
        .with_value_serde(Serdes::string())
        .to("joined");
    let topology = builder.build().unwrap();
    let describe = topology.describe();
    let driver = TopologyTestDriver::new(topology).unwrap();
    let rows_in = driver.input_topic("rows", Serdes::string(), Serdes::string());
    let clicks = driver.input_topic("clicks", Serdes::string(), Serdes::string());
    rows_in.pipe("u1".into(), "alice".into(), 1).unwrap();
    clicks.pipe("u1".into(), "c1".into(), 2).unwrap();
    clicks.pipe("u2".into(), "c2".into(), 3).unwrap();
    rows_in.pipe("u1".into(), "alicia".into(), 4).unwrap();
    clicks.pipe("u1".into(), "c3".into(), 5).unwrap();
    let out = driver
        .output_topic("joined", Serdes::string(), Serdes::string())
        .read_key_values()
        .unwrap();
    (describe, out)
}

#[test]
fn tables_of_untyped_nodes_join_with_their_store_or_a_materialized_one() {
    let expected = vec![
        ("u1".to_string(), Some("c1@alice".to_string())),
        ("u1".to_string(), Some("c3@alicia".to_string())),
    ];
    let (describe, out) = joined_with_table(Some("rows-store"));
    assert_eq!(out, expected);
    assert!(!describe.contains("KTABLE-MATERIALIZE"), "{describe}");
    assert!(describe.contains("(stores: [rows-store])"), "{describe}");
    let (describe, out) = joined_with_table(None);
    assert_eq!(out, expected);
    assert!(describe.contains("KTABLE-MATERIALIZE"), "{describe}");
}

/// String keys; values `"-"` are deletes.
fn upserts(stream: &KStream<String, String>) -> KStream<String, Option<String>> {
    stream.map_values(|v: String| (v != "-").then_some(v))
}

fn pipe_upserts(driver: &TopologyTestDriver) {
    let input = driver.input_topic("in", Serdes::string(), Serdes::string());
    input.pipe("a".into(), "1".into(), 1).unwrap();
    input.pipe("b".into(), "-".into(), 2).unwrap(); // a delete of a key never seen
    input.pipe("a".into(), "2".into(), 3).unwrap();
    input.pipe("a".into(), "-".into(), 4).unwrap();
}

type Changes = Vec<(String, Change<String>, i64)>;

/// Captures the changes a table forwards.
fn capture(table: &KTable<String, String>, builder: &StreamsBuilder) -> Arc<Mutex<Changes>> {
    let seen: Arc<Mutex<Changes>> = Arc::default();
    let s = seen.clone();
    struct Capture(Arc<Mutex<Changes>>);
    impl Node for Capture {
        fn process(&mut self, batch: AnyBatch, _ctx: &mut Context<'_>) -> eddy_streams::Result<()> {
            let records = downcast::<Vec<Record<String, Change<String>>>>(batch, "capture")?;
            let mut seen = self.0.lock().unwrap();
            seen.extend(records.into_iter().map(|r| (r.key, r.value, r.timestamp)));
            Ok(())
        }
    }
    let raw = builder.topology_builder();
    raw.add_processor(
        "capture",
        &[table.node()],
        Vec::new(),
        factory(move || Box::new(Capture(s.clone()))),
    );
    seen
}

fn change(new: Option<&str>, old: Option<&str>) -> Change<String> {
    Change::new(new.map(str::to_string), old.map(str::to_string))
}

#[test]
fn tables_of_upserts_store_delete_and_forward_changes() {
    let builder = StreamsBuilder::new();
    let stream = builder.stream("in", Serdes::string(), Serdes::string());
    let table = KTable::from_upserts(&upserts(&stream), "rows", Serdes::string());
    assert_eq!(table.queryable_store_name(), Some("rows"));
    let seen = capture(&table, &builder);
    table.to("rows-out");
    let topology = builder.build().unwrap();
    assert!(
        topology
            .describe()
            .contains("KTABLE-SOURCE-0000000002 (stores: [rows])")
    );
    assert!(matches!(
        topology.store("rows").map(|s| s.kind),
        Some(StoreKind::KeyValue)
    ));
    let driver = TopologyTestDriver::new(topology).unwrap();
    pipe_upserts(&driver);
    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            ("a".to_string(), change(Some("1"), None), 1),
            // Forwarded as Kafka Streams' KTableSource does.
            ("b".to_string(), change(None, None), 2),
            ("a".to_string(), change(Some("2"), Some("1")), 3),
            ("a".to_string(), change(None, Some("2")), 4),
        ]
    );
    let out = driver
        .output_topic("rows-out", Serdes::string(), Serdes::string())
        .read_key_values()
        .unwrap();
    assert_eq!(
        out,
        vec![
            ("a".to_string(), Some("1".to_string())),
            ("b".to_string(), None),
            ("a".to_string(), Some("2".to_string())),
            ("a".to_string(), None),
        ]
    );
    let store = driver
        .kv_store("rows", Serdes::string(), Serdes::string())
        .unwrap();
    assert_eq!(store.get(&"a".to_string()).unwrap(), None);
    driver
        .input_topic("in", Serdes::string(), Serdes::string())
        .pipe("c".into(), "3".into(), 5)
        .unwrap();
    assert_eq!(store.get(&"c".to_string()).unwrap(), Some("3".to_string()));
}

#[test]
fn source_tables_do_not_forward_deletes_of_absent_keys() {
    // What `StreamsBuilder::table` does with the same records (unchanged).
    let builder = StreamsBuilder::new();
    let table = builder.table("in", Serdes::string(), Serdes::string(), "rows");
    let seen = capture(&table, &builder);
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let input = driver.input_topic("in", Serdes::string(), Serdes::string());
    input.pipe("a".into(), "1".into(), 1).unwrap();
    input.pipe_tombstone("b".into(), 2).unwrap();
    input.pipe_tombstone("a".into(), 3).unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            ("a".to_string(), change(Some("1"), None), 1),
            ("a".to_string(), change(None, Some("1")), 3),
        ]
    );
}

#[test]
fn tables_of_repartitioned_upserts_keep_deletes_through_the_topic() {
    let builder = StreamsBuilder::new();
    // Re-keyed: "key:value" lines keyed by what is before the colon.
    let rekeyed = builder
        .stream("in", Serdes::string(), Serdes::string())
        .select_key(|_, v: &String| v.split(':').next().unwrap_or_default().to_string())
        .map_values(|v: String| v.split(':').nth(1).unwrap_or_default().to_string());
    assert!(rekeyed.needs_repartition());
    let table = KTable::from_upserts(&upserts(&rekeyed), "rows", Serdes::string());
    table.to("rows-out");
    let topology = builder.build().unwrap();
    assert_eq!(topology.internal_topics()[0].suffix, "rows-repartition");
    assert_eq!(topology.subtopologies().len(), 2);
    let driver = TopologyTestDriver::new(topology).unwrap();
    let input = driver.input_topic("in", Serdes::string(), Serdes::string());
    input.pipe("x".into(), "a:1".into(), 1).unwrap();
    input.pipe("y".into(), "a:-".into(), 2).unwrap();
    input.pipe("z".into(), "b:2".into(), 3).unwrap();
    let out = driver
        .output_topic("rows-out", Serdes::string(), Serdes::string())
        .read_key_values()
        .unwrap();
    assert_eq!(
        out,
        vec![
            ("a".to_string(), Some("1".to_string())),
            ("a".to_string(), None),
            ("b".to_string(), Some("2".to_string())),
        ]
    );
}

#[test]
fn stream_stream_joins_can_name_their_stores_and_topics() {
    let builder = StreamsBuilder::new();
    let left = builder
        .stream("left", Serdes::string(), Serdes::string())
        .select_key(|_, v: &String| v.clone());
    let right = builder.stream("right", Serdes::string(), Serdes::string());
    let windows = JoinWindows::of_time_difference_with_no_grace(Duration::from_secs(1));
    left.join_named(&right, |l, r| format!("{l}+{r}"), windows, "clicks")
        .with_value_serde(Serdes::string())
        .to("inner");
    left.outer_join_named(&right, |l, r| format!("{l:?}+{r:?}"), windows, "views")
        .with_value_serde(Serdes::string())
        .to("outer");
    let topology = builder.build().unwrap();
    let mut stores: Vec<_> = topology.stores().iter().map(|s| s.name.clone()).collect();
    stores.sort();
    assert_eq!(
        stores,
        vec![
            "clicks-other-join-store",
            "clicks-this-join-store",
            "views-other-join-store",
            "views-shared-join-store",
            "views-this-join-store",
        ]
    );
    let internal: Vec<_> = topology
        .internal_topics()
        .iter()
        .map(|t| t.suffix.clone())
        .collect();
    // Only the re-keyed side is repartitioned.
    assert_eq!(
        internal,
        vec!["clicks-left-repartition", "views-left-repartition"]
    );

    let driver = TopologyTestDriver::new(topology).unwrap();
    driver
        .input_topic("right", Serdes::string(), Serdes::string())
        .pipe("k".into(), "r".into(), 1_000)
        .unwrap();
    driver
        .input_topic("left", Serdes::string(), Serdes::string())
        .pipe("ignored".into(), "k".into(), 1_500)
        .unwrap();
    assert_eq!(
        driver
            .output_topic("inner", Serdes::string(), Serdes::string())
            .read_key_values()
            .unwrap(),
        vec![("k".to_string(), Some("k+r".to_string()))]
    );
}

#[test]
fn tables_can_be_materialized_in_a_named_store() {
    let builder = StreamsBuilder::new();
    let rows = builder
        .table("rows", Serdes::string(), Serdes::string(), "rows-store")
        .filter(|_, v| !v.is_empty());
    assert_eq!(rows.queryable_store_name(), None);
    let named = rows.materialize("filtered-rows");
    assert_eq!(named.queryable_store_name(), Some("filtered-rows"));
    builder
        .stream("clicks", Serdes::string(), Serdes::string())
        .join_table(&named, |c, r| format!("{c}@{r}"))
        .with_value_serde(Serdes::string())
        .to("joined");
    let topology = builder.build().unwrap();
    let describe = topology.describe();
    assert!(
        describe.contains("KTABLE-MATERIALIZE-0000000003 (stores: [filtered-rows])"),
        "{describe}"
    );
    assert!(!describe.contains("KTABLE-STATE-STORE"), "{describe}");
    let driver = TopologyTestDriver::new(topology).unwrap();
    driver
        .input_topic("rows", Serdes::string(), Serdes::string())
        .pipe("u".into(), "row".into(), 1)
        .unwrap();
    driver
        .input_topic("clicks", Serdes::string(), Serdes::string())
        .pipe("u".into(), "click".into(), 2)
        .unwrap();
    let store = driver
        .kv_store("filtered-rows", Serdes::string(), Serdes::string())
        .unwrap();
    assert_eq!(
        store.get(&"u".to_string()).unwrap(),
        Some("row".to_string())
    );
    assert_eq!(
        driver
            .output_topic("joined", Serdes::string(), Serdes::string())
            .read_key_values()
            .unwrap(),
        vec![("u".to_string(), Some("click@row".to_string()))]
    );
}
