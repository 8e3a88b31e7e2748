//! [`KStream`]: an unbounded stream of typed records and its operators.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::ops::aggregate::{KvState, MaterializeNode};
use crate::ops::encode;
use crate::ops::join::{
    JoinFn, LookupJoinNode, LookupJoiner, LookupKey, StreamJoinSide, UnmatchedFn,
};
use crate::ops::sink::{SinkNode, SinkTopic, ValueBytes};
use crate::ops::stateless::{BatchFn, BranchNode, StatelessNode, UserProcessorNode};
use crate::processor::{Node, NodeId, Processor};
use crate::record::{Change, Record};
use crate::serdes::{MissingSerde, SerdeRef};
use crate::topology::{NodeKind, StoreKind, TopicName};

use super::builder::{GraphRef, add_source, pass_through};
use super::grouped::KGroupedStream;
use super::ktable::KTable;
use super::{Data, GlobalKTable, JoinWindows, Predicate};

/// A stream of records with keys `K` and values `V`.
///
/// Operators that keep key and value types keep the serdes; operators that change a type
/// drop that serde (set it again with [`with_key_serde`](Self::with_key_serde) /
/// [`with_value_serde`](Self::with_value_serde), or pass one to the operator that needs
/// it). Operators that may change the key ([`map`](Self::map),
/// [`select_key`](Self::select_key), [`flat_map`](Self::flat_map)) mark the stream for
/// repartitioning: the next stateful operator (grouping, join) first writes it through a
/// repartition topic, so that records of one key meet in one task.
pub struct KStream<K, V> {
    pub(crate) graph: GraphRef,
    pub(crate) node: NodeId,
    pub(crate) key_serde: Option<SerdeRef<K>>,
    pub(crate) value_serde: Option<SerdeRef<V>>,
    pub(crate) repartition: bool,
}

impl<K, V> Clone for KStream<K, V> {
    fn clone(&self) -> Self {
        Self {
            graph: self.graph.clone(),
            node: self.node,
            key_serde: self.key_serde.clone(),
            value_serde: self.value_serde.clone(),
            repartition: self.repartition,
        }
    }
}

impl<K, V> std::fmt::Debug for KStream<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KStream")
            .field("node", &self.graph.borrow().node_name(self.node))
            .field("repartition", &self.repartition)
            .finish()
    }
}

/// The serde of `T` as the serde of `U` when they are the same type (an operator that
/// "changes" a type to itself keeps its serde), else `None`.
pub(crate) fn same_serde<T: 'static, U: 'static>(
    serde: &Option<SerdeRef<T>>,
) -> Option<SerdeRef<U>> {
    let any: Box<dyn std::any::Any> = Box::new(serde.clone());
    any.downcast::<Option<SerdeRef<U>>>().ok().and_then(|s| *s)
}

/// A serde, or a recorded build error and a stand-in.
pub(crate) fn require<T: 'static>(
    graph: &GraphRef,
    serde: &Option<SerdeRef<T>>,
    what: &str,
) -> SerdeRef<T> {
    match serde {
        Some(s) => s.clone(),
        None => {
            graph.borrow_mut().error(format!(
                "{what} needs a serde for {} and the stream has none (an operator changed the \
                 type); set one with with_key_serde/with_value_serde or pass it to the operator",
                std::any::type_name::<T>()
            ));
            Arc::new(MissingSerde)
        }
    }
}

impl<K: Data, V: Data> KStream<K, V> {
    pub(crate) fn new(
        graph: GraphRef,
        node: NodeId,
        key_serde: Option<SerdeRef<K>>,
        value_serde: Option<SerdeRef<V>>,
        repartition: bool,
    ) -> Self {
        Self {
            graph,
            node,
            key_serde,
            value_serde,
            repartition,
        }
    }

    /// A typed view of a node of `builder`'s graph (one added through its
    /// [`TopologyBuilder`](crate::TopologyBuilder), say), so that DSL operators can follow
    /// it. The node must forward `Vec<Record<K, V>>` batches (a node that forwards anything
    /// else fails the task at the first batch, naming the operator that got it), and its
    /// records must be partitioned by `K` as Kafka's partitioner would place them, unless
    /// the stream is [marked for repartitioning](Self::mark_for_repartition). The serdes
    /// are those operators use for repartition topics, stores and sinks; `None` leaves
    /// them to be set later ([`with_key_serde`](Self::with_key_serde)) or passed to the
    /// operator. A node that is not in the graph is a build error.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use eddy_streams::processor::{AnyBatch, Context, Node, downcast};
    /// use eddy_streams::record::{Record, SourceRecord};
    /// use eddy_streams::serdes::Serdes;
    /// use eddy_streams::topology::TopicName;
    /// use eddy_streams::{KStream, StreamsBuilder, TopologyTestDriver};
    ///
    /// /// Decodes UTF-8 values keyed by UTF-8 keys; drops tombstones.
    /// struct Decode;
    /// impl Node for Decode {
    ///     fn process(&mut self, batch: AnyBatch, ctx: &mut Context<'_>) -> eddy_streams::Result<()> {
    ///         let mut out = Vec::new();
    ///         for r in downcast::<Vec<SourceRecord>>(batch, "decode")? {
    ///             ctx.observe_time(r.timestamp);
    ///             let key = String::from_utf8_lossy(r.key.as_deref().unwrap_or_default());
    ///             if let Some(v) = r.value {
    ///                 let value = String::from_utf8_lossy(&v).into_owned();
    ///                 out.push(Record::new(key.into_owned(), value, r.timestamp));
    ///             }
    ///         }
    ///         ctx.forward_records(out);
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let builder = StreamsBuilder::new();
    /// let raw = builder.topology_builder();
    /// let source = raw.add_source(raw.next_name("SOURCE"), vec![TopicName::External("words".into())]);
    /// let decode = raw.add_processor(
    ///     raw.next_name("DECODE"),
    ///     &[source],
    ///     Vec::new(),
    ///     Arc::new(|| Box::new(Decode) as Box<dyn Node>),
    /// );
    /// KStream::<String, String>::from_node(&builder, decode, Some(Serdes::string()), Some(Serdes::string()))
    ///     .group_by_key()
    ///     .count("counts")
    ///     .to_stream()
    ///     .to("counts-out");
    ///
    /// let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    /// let input = driver.input_topic("words", Serdes::string(), Serdes::string());
    /// input.pipe("a".into(), "x".into(), 1).unwrap();
    /// input.pipe("a".into(), "y".into(), 2).unwrap();
    /// let counts = driver.output_topic("counts-out", Serdes::string(), Serdes::i64());
    /// assert_eq!(
    ///     counts.read_key_values().unwrap(),
    ///     vec![("a".to_string(), Some(1)), ("a".to_string(), Some(2))]
    /// );
    /// ```
    pub fn from_node(
        builder: &crate::StreamsBuilder,
        node: NodeId,
        key_serde: Option<SerdeRef<K>>,
        value_serde: Option<SerdeRef<V>>,
    ) -> Self {
        check_node(&builder.graph, node, "KStream::from_node");
        Self::new(builder.graph.clone(), node, key_serde, value_serde, false)
    }

    /// The node whose output this stream is (for [`TopologyBuilder`](crate::TopologyBuilder)
    /// nodes that follow it: they receive `Vec<Record<K, V>>` batches).
    pub fn node(&self) -> NodeId {
        self.node
    }

    /// Marks the stream as possibly not partitioned by its key (as [`map`](Self::map) and
    /// [`select_key`](Self::select_key) do): the next stateful operator (grouping, join,
    /// [`to_table`](Self::to_table)) first writes it through a repartition topic named after
    /// that operator's store. [`repartition`](Self::repartition) repartitions at once
    /// through a topic of a chosen name.
    pub fn mark_for_repartition(mut self) -> Self {
        self.repartition = true;
        self
    }

    /// Whether the next stateful operator repartitions the stream first.
    pub fn needs_repartition(&self) -> bool {
        self.repartition
    }

    /// Adds a processor node after this stream.
    pub(crate) fn add_processor(
        &self,
        prefix: &str,
        stores: Vec<String>,
        make: impl Fn(&str) -> Box<dyn Node> + Send + Sync + 'static,
    ) -> NodeId {
        add_processor(&self.graph, &[self.node], prefix, stores, make)
    }

    fn stateless<KO: Data, VO: Data>(
        &self,
        prefix: &str,
        f: BatchFn<K, V, KO, VO>,
        key_serde: Option<SerdeRef<KO>>,
        value_serde: Option<SerdeRef<VO>>,
        repartition: bool,
    ) -> KStream<KO, VO> {
        let node = self.add_processor(prefix, Vec::new(), move |name| {
            Box::new(StatelessNode::new(name, f.clone()))
        });
        KStream::new(
            self.graph.clone(),
            node,
            key_serde,
            value_serde,
            repartition,
        )
    }

    /// Records for which `predicate` holds.
    pub fn filter(&self, predicate: impl Fn(&K, &V) -> bool + Send + Sync + 'static) -> Self {
        self.stateless(
            "KSTREAM-FILTER",
            Arc::new(move |batch, out| {
                out.extend(batch.into_iter().filter(|r| predicate(&r.key, &r.value)))
            }),
            self.key_serde.clone(),
            self.value_serde.clone(),
            self.repartition,
        )
    }

    /// Records for which `predicate` does not hold.
    pub fn filter_not(&self, predicate: impl Fn(&K, &V) -> bool + Send + Sync + 'static) -> Self {
        self.filter(move |k, v| !predicate(k, v))
    }

    /// A new key and value per record (marks the stream for repartitioning).
    pub fn map<KO: Data, VO: Data>(
        &self,
        f: impl Fn(K, V) -> (KO, VO) + Send + Sync + 'static,
    ) -> KStream<KO, VO> {
        self.stateless(
            "KSTREAM-MAP",
            Arc::new(move |batch, out| {
                out.extend(batch.into_iter().map(|r| {
                    let (key, value) = f(r.key, r.value);
                    Record::new(key, value, r.timestamp).with_headers(r.headers)
                }))
            }),
            same_serde(&self.key_serde),
            same_serde(&self.value_serde),
            true,
        )
    }

    /// A new value per record; the key (and its serde, and partitioning) stay.
    pub fn map_values<VO: Data>(
        &self,
        f: impl Fn(V) -> VO + Send + Sync + 'static,
    ) -> KStream<K, VO> {
        self.stateless(
            "KSTREAM-MAPVALUES",
            Arc::new(move |batch, out| {
                out.extend(
                    batch.into_iter().map(|r| {
                        Record::new(r.key, f(r.value), r.timestamp).with_headers(r.headers)
                    }),
                )
            }),
            self.key_serde.clone(),
            same_serde(&self.value_serde),
            self.repartition,
        )
    }

    /// A new value per record, computed from the key too.
    pub fn map_values_with_key<VO: Data>(
        &self,
        f: impl Fn(&K, V) -> VO + Send + Sync + 'static,
    ) -> KStream<K, VO> {
        self.stateless(
            "KSTREAM-MAPVALUES",
            Arc::new(move |batch, out| {
                out.extend(batch.into_iter().map(|r| {
                    let value = f(&r.key, r.value);
                    Record::new(r.key, value, r.timestamp).with_headers(r.headers)
                }))
            }),
            self.key_serde.clone(),
            same_serde(&self.value_serde),
            self.repartition,
        )
    }

    /// Zero or more records per record (marks the stream for repartitioning).
    pub fn flat_map<KO: Data, VO: Data, I>(
        &self,
        f: impl Fn(K, V) -> I + Send + Sync + 'static,
    ) -> KStream<KO, VO>
    where
        I: IntoIterator<Item = (KO, VO)>,
    {
        self.stateless(
            "KSTREAM-FLATMAP",
            Arc::new(move |batch, out| {
                for r in batch {
                    let (ts, headers) = (r.timestamp, r.headers);
                    out.extend(
                        f(r.key, r.value)
                            .into_iter()
                            .map(|(k, v)| Record::new(k, v, ts).with_headers(headers.clone())),
                    );
                }
            }),
            None,
            None,
            true,
        )
    }

    /// Zero or more values per record, under the same key.
    pub fn flat_map_values<VO: Data, I>(
        &self,
        f: impl Fn(V) -> I + Send + Sync + 'static,
    ) -> KStream<K, VO>
    where
        I: IntoIterator<Item = VO>,
    {
        self.stateless(
            "KSTREAM-FLATMAPVALUES",
            Arc::new(move |batch, out| {
                for r in batch {
                    let (key, ts, headers) = (r.key, r.timestamp, r.headers);
                    for v in f(r.value) {
                        out.push(Record::new(key.clone(), v, ts).with_headers(headers.clone()));
                    }
                }
            }),
            self.key_serde.clone(),
            same_serde(&self.value_serde),
            self.repartition,
        )
    }

    /// A new key per record (marks the stream for repartitioning).
    pub fn select_key<KO: Data>(
        &self,
        f: impl Fn(&K, &V) -> KO + Send + Sync + 'static,
    ) -> KStream<KO, V> {
        self.stateless(
            "KSTREAM-KEY-SELECT",
            Arc::new(move |batch, out| {
                out.extend(batch.into_iter().map(|r| {
                    Record::new(f(&r.key, &r.value), r.value, r.timestamp).with_headers(r.headers)
                }))
            }),
            same_serde(&self.key_serde),
            self.value_serde.clone(),
            true,
        )
    }

    /// Calls `f` on each record and passes it on.
    pub fn peek(&self, f: impl Fn(&K, &V) + Send + Sync + 'static) -> Self {
        self.stateless(
            "KSTREAM-PEEK",
            Arc::new(move |batch, out| {
                for r in &batch {
                    f(&r.key, &r.value);
                }
                out.extend(batch);
            }),
            self.key_serde.clone(),
            self.value_serde.clone(),
            self.repartition,
        )
    }

    /// Calls `f` on each record (a terminal operation).
    pub fn foreach(&self, f: impl Fn(&K, &V) + Send + Sync + 'static) {
        let _: KStream<K, V> = self.stateless(
            "KSTREAM-FOREACH",
            Arc::new(move |batch, _out| {
                for r in &batch {
                    f(&r.key, &r.value);
                }
            }),
            None,
            None,
            false,
        );
    }

    /// Splits the stream into named branches: each record goes to the first branch whose
    /// predicate holds (Kafka Streams' `split()`).
    ///
    /// ```
    /// use eddy_streams::{StreamsBuilder, serdes::Serdes};
    /// let builder = StreamsBuilder::new();
    /// let branches = builder
    ///     .stream("numbers", Serdes::string(), Serdes::i64())
    ///     .split()
    ///     .branch("negative", |_, v| *v < 0)
    ///     .branch("zero", |_, v| *v == 0)
    ///     .default_branch("positive");
    /// branches["negative"].to("negatives");
    /// assert_eq!(branches.len(), 3);
    /// ```
    pub fn split(&self) -> BranchedKStream<K, V> {
        BranchedKStream {
            stream: self.clone(),
            branches: Vec::new(),
        }
    }

    /// The records of both streams.
    pub fn merge(&self, other: &KStream<K, V>) -> KStream<K, V> {
        let f = pass_through::<K, V>();
        let node = add_processor(
            &self.graph,
            &[self.node, other.node],
            "KSTREAM-MERGE",
            Vec::new(),
            move |name| Box::new(StatelessNode::new(name, f.clone())),
        );
        KStream::new(
            self.graph.clone(),
            node,
            self.key_serde.clone().or_else(|| other.key_serde.clone()),
            self.value_serde
                .clone()
                .or_else(|| other.value_serde.clone()),
            self.repartition || other.repartition,
        )
    }

    /// Sets the key serde (after an operator that changed the key type).
    pub fn with_key_serde(mut self, serde: SerdeRef<K>) -> Self {
        self.key_serde = Some(serde);
        self
    }

    /// Sets the value serde (after an operator that changed the value type).
    pub fn with_value_serde(mut self, serde: SerdeRef<V>) -> Self {
        self.value_serde = Some(serde);
        self
    }

    /// Writes the stream through a repartition topic `<application id>-<name>-repartition`,
    /// partitioned by the current key (Kafka Streams' `repartition()`).
    pub fn repartition(&self, name: &str) -> KStream<K, V> {
        self.through_repartition_topic(name)
    }

    /// The stream partitioned by its key: itself, or through a repartition topic named after
    /// `name` if an earlier operator may have changed keys.
    pub(crate) fn partitioned(&self, name: &str) -> KStream<K, V> {
        if self.repartition {
            self.through_repartition_topic(name)
        } else {
            self.clone()
        }
    }

    fn through_repartition_topic(&self, name: &str) -> KStream<K, V> {
        let key_serde = require(&self.graph, &self.key_serde, "a repartition topic");
        let value_serde = require(&self.graph, &self.value_serde, "a repartition topic");
        let suffix = format!("{name}-repartition");
        self.graph.borrow_mut().add_internal_topic(suffix.clone());
        let topic = TopicName::Internal(suffix);
        self.add_sink(
            SinkTopic::Fixed(topic.clone()),
            key_serde.clone(),
            value_bytes(value_serde.clone()),
        );
        let node = add_source(
            &self.graph,
            topic,
            key_serde.clone(),
            value_serde.clone(),
            None,
            false,
        );
        KStream::new(
            self.graph.clone(),
            node,
            Some(key_serde),
            Some(value_serde),
            false,
        )
    }

    pub(crate) fn add_sink<T: Data>(
        &self,
        topic: SinkTopic<K, T>,
        key_serde: SerdeRef<K>,
        value_bytes: ValueBytes<T>,
    ) {
        let described = match &topic {
            SinkTopic::Fixed(t) => Some(t.clone()),
            SinkTopic::PerRecord(_) => None,
        };
        let topic = Arc::new(topic);
        let mut graph = self.graph.borrow_mut();
        let name = graph.next_name("KSTREAM-SINK");
        let n = name.clone();
        graph.add_node(
            name,
            NodeKind::Sink { topic: described },
            &[self.node],
            Vec::new(),
            Arc::new(move || {
                let topic = match &*topic {
                    SinkTopic::Fixed(t) => SinkTopic::Fixed(t.clone()),
                    SinkTopic::PerRecord(f) => SinkTopic::PerRecord(f.clone()),
                };
                Box::new(SinkNode::new(
                    &n,
                    topic,
                    key_serde.clone(),
                    value_bytes.clone(),
                )) as Box<dyn Node>
            }),
        );
    }

    /// Writes the stream to `topic` with its serdes (a build error if it has none).
    pub fn to(&self, topic: &str) {
        let key_serde = require(&self.graph, &self.key_serde, &format!("writing to {topic}"));
        let value_serde = require(
            &self.graph,
            &self.value_serde,
            &format!("writing to {topic}"),
        );
        self.to_with(topic, key_serde, value_serde);
    }

    /// Writes the stream to `topic` with these serdes.
    pub fn to_with(&self, topic: &str, key_serde: SerdeRef<K>, value_serde: SerdeRef<V>) {
        self.add_sink(
            SinkTopic::Fixed(TopicName::External(topic.to_string())),
            key_serde,
            value_bytes(value_serde),
        );
    }

    /// Writes each record to the topic `choose(key, value)` names (Kafka Streams'
    /// `TopicNameExtractor`); the topics must exist.
    pub fn to_dynamic(&self, choose: impl Fn(&K, &V) -> String + Send + Sync + 'static) {
        let key_serde = require(&self.graph, &self.key_serde, "writing to topics");
        let value_serde = require(&self.graph, &self.value_serde, "writing to topics");
        self.add_sink(
            SinkTopic::PerRecord(Arc::new(choose)),
            key_serde,
            value_bytes(value_serde),
        );
    }

    /// The stream as a table (latest value per key), materialised in store `store`.
    pub fn to_table(&self, store: &str) -> KTable<K, V> {
        let stream = self.partitioned(store);
        let key_serde = require(&self.graph, &stream.key_serde, "to_table");
        let value_serde = require(&self.graph, &stream.value_serde, "to_table");
        let as_changes = stream.stateless::<K, Change<V>>(
            "KSTREAM-TOTABLE",
            Arc::new(|batch, out| {
                out.extend(batch.into_iter().map(|r| {
                    Record::new(r.key, Change::new(Some(r.value), None), r.timestamp)
                        .with_headers(r.headers)
                }))
            }),
            None,
            None,
            false,
        );
        self.graph
            .borrow_mut()
            .add_store(store, StoreKind::KeyValue);
        let (s, k, v) = (store.to_string(), key_serde.clone(), value_serde.clone());
        let node =
            as_changes.add_processor("KTABLE-SOURCE", vec![store.to_string()], move |name| {
                Box::new(MaterializeNode::new(
                    name,
                    KvState::new(&s, k.clone(), v.clone()),
                ))
            });
        KTable::new(
            self.graph.clone(),
            node,
            Some(store.to_string()),
            Some(key_serde),
            Some(value_serde),
        )
    }

    /// Runs a user [`Processor`] (made once per task by `supplier`) with access to the
    /// named stores (add them with [`StreamsBuilder::add_state_store`]).
    ///
    /// [`StreamsBuilder::add_state_store`]: crate::StreamsBuilder::add_state_store
    pub fn process<KO: Data, VO: Data, P>(
        &self,
        supplier: impl Fn() -> P + Send + Sync + 'static,
        stores: &[&str],
    ) -> KStream<KO, VO>
    where
        P: Processor<K, V, KO, VO> + 'static,
    {
        let node = self.add_processor(
            "KSTREAM-PROCESSOR",
            stores.iter().map(|s| s.to_string()).collect(),
            move |name| Box::new(UserProcessorNode::new(name, Box::new(supplier()))),
        );
        KStream::new(self.graph.clone(), node, None, None, true)
    }

    /// Groups by the current key, for aggregations.
    pub fn group_by_key(&self) -> KGroupedStream<K, V> {
        KGroupedStream::new(self.clone())
    }

    /// Groups by a new key (records are repartitioned by it before aggregating).
    pub fn group_by<KO: Data>(
        &self,
        f: impl Fn(&K, &V) -> KO + Send + Sync + 'static,
        key_serde: SerdeRef<KO>,
    ) -> KGroupedStream<KO, V> {
        KGroupedStream::new(self.select_key(f).with_key_serde(key_serde))
    }

    fn stream_table_join<VT: Data, VR: Data>(
        &self,
        table: &KTable<K, VT>,
        joiner: LookupJoiner<K, V, VT, VR>,
        prefix: &str,
    ) -> KStream<K, VR> {
        let table = table.materialized();
        let stream = self.partitioned(&format!(
            "{prefix}-{}",
            table.store.clone().unwrap_or_default()
        ));
        let store = table.store.clone().unwrap_or_default();
        let key_serde = require(&self.graph, &table.key_serde, "a stream-table join");
        let value_serde = require(&self.graph, &table.value_serde, "a stream-table join");
        let (s, ks) = (store.clone(), key_serde.clone());
        let lookup_key: LookupKey<K, V> = Arc::new(move |k, _| encode(&*ks, k, &s));
        let node = stream.add_processor(prefix, vec![store.clone()], move |name| {
            Box::new(LookupJoinNode {
                name: name.to_string(),
                table: KvState::new(&store, key_serde.clone(), value_serde.clone()),
                lookup_key: lookup_key.clone(),
                joiner: joiner.clone(),
            })
        });
        let reason = format!("stream-table join {}", self.graph.borrow().node_name(node));
        let mut graph = self.graph.borrow_mut();
        let mut topics = graph.upstream_topics(stream.node);
        topics.extend(graph.upstream_topics(table.node));
        graph.require_copartitioned(topics, reason);
        drop(graph);
        KStream::new(
            self.graph.clone(),
            node,
            stream.key_serde.clone(),
            None,
            false,
        )
    }

    /// Joins each record with the table's row for its key; records without a row are
    /// dropped. Table updates do not produce output (Kafka Streams' stream-table join).
    pub fn join_table<VT: Data, VR: Data>(
        &self,
        table: &KTable<K, VT>,
        joiner: impl Fn(&V, &VT) -> VR + Send + Sync + 'static,
    ) -> KStream<K, VR> {
        self.stream_table_join(
            table,
            Arc::new(move |_, v, t| t.map(|t| joiner(v, t))),
            "KSTREAM-JOIN",
        )
    }

    /// Like [`join_table`](Self::join_table), but records without a row are joined with
    /// `None`.
    pub fn left_join_table<VT: Data, VR: Data>(
        &self,
        table: &KTable<K, VT>,
        joiner: impl Fn(&V, Option<&VT>) -> VR + Send + Sync + 'static,
    ) -> KStream<K, VR> {
        self.stream_table_join(
            table,
            Arc::new(move |_, v, t| Some(joiner(v, t))),
            "KSTREAM-LEFTJOIN",
        )
    }

    fn global_join<KG: Data, VG: Data, VR: Data>(
        &self,
        table: &GlobalKTable<KG, VG>,
        key_mapper: impl Fn(&K, &V) -> KG + Send + Sync + 'static,
        joiner: LookupJoiner<K, V, VG, VR>,
        prefix: &str,
    ) -> KStream<K, VR> {
        let (store, ks, vs) = (
            table.store.clone(),
            table.key_serde.clone(),
            table.value_serde.clone(),
        );
        let (s, k) = (store.clone(), ks.clone());
        let lookup_key: LookupKey<K, V> =
            Arc::new(move |key, value| encode(&*k, &key_mapper(key, value), &s));
        let node = self.add_processor(prefix, vec![table.store.clone()], move |name| {
            Box::new(LookupJoinNode {
                name: name.to_string(),
                table: KvState::new(&store, ks.clone(), vs.clone()),
                lookup_key: lookup_key.clone(),
                joiner: joiner.clone(),
            })
        });
        KStream::new(
            self.graph.clone(),
            node,
            self.key_serde.clone(),
            None,
            self.repartition,
        )
    }

    /// Joins each record with the global table's row for `key_mapper(key, value)`; records
    /// without a row are dropped. No repartitioning or co-partitioning is needed: every task
    /// has the whole table.
    pub fn join_global<KG: Data, VG: Data, VR: Data>(
        &self,
        table: &GlobalKTable<KG, VG>,
        key_mapper: impl Fn(&K, &V) -> KG + Send + Sync + 'static,
        joiner: impl Fn(&V, &VG) -> VR + Send + Sync + 'static,
    ) -> KStream<K, VR> {
        self.global_join(
            table,
            key_mapper,
            Arc::new(move |_, v, t| t.map(|t| joiner(v, t))),
            "KSTREAM-JOIN",
        )
    }

    /// Like [`join_global`](Self::join_global), with `None` for records without a row.
    pub fn left_join_global<KG: Data, VG: Data, VR: Data>(
        &self,
        table: &GlobalKTable<KG, VG>,
        key_mapper: impl Fn(&K, &V) -> KG + Send + Sync + 'static,
        joiner: impl Fn(&V, Option<&VG>) -> VR + Send + Sync + 'static,
    ) -> KStream<K, VR> {
        self.global_join(
            table,
            key_mapper,
            Arc::new(move |_, v, t| Some(joiner(v, t))),
            "KSTREAM-LEFTJOIN",
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn stream_stream_join<VO: Data, VR: Data>(
        &self,
        other: &KStream<K, VO>,
        windows: JoinWindows,
        join: JoinFn<K, V, VO, VR>,
        unmatched_left: Option<UnmatchedFn<K, V, VR>>,
        unmatched_right: Option<UnmatchedFn<K, VO, VR>>,
        kind: &str,
        name: Option<&str>,
    ) -> KStream<K, VR> {
        let (this_prefix, other_prefix) = match kind {
            "outer" => ("KSTREAM-OUTERTHIS", "KSTREAM-OUTEROTHER"),
            _ => ("KSTREAM-JOINTHIS", "KSTREAM-JOINOTHER"),
        };
        let (this_store, other_store, shared_store, left_topic, right_topic) = match name {
            Some(name) => (
                format!("{name}-this-join-store"),
                format!("{name}-other-join-store"),
                format!("{name}-shared-join-store"),
                format!("{name}-left"),
                format!("{name}-right"),
            ),
            None => {
                let mut g = self.graph.borrow_mut();
                let this_store = format!("{}-store", g.next_name(this_prefix));
                let other_store = format!("{}-store", g.next_name(other_prefix));
                let shared_store = format!("{}-store", g.next_name("KSTREAM-OUTERSHARED"));
                let (l, r) = (this_store.clone(), other_store.clone());
                (this_store, other_store, shared_store, l, r)
            }
        };
        let left = self.partitioned(&left_topic);
        let right = other.partitioned(&right_topic);
        let key_serde = require(
            &self.graph,
            &left.key_serde.clone().or(right.key_serde.clone()),
            "a stream-stream join",
        );
        let left_serde = require(
            &self.graph,
            &left.value_serde,
            "a stream-stream join (left values)",
        );
        let right_serde = require(
            &self.graph,
            &right.value_serde,
            "a stream-stream join (right values)",
        );
        let retention = windows.retention_ms();
        // Legacy windows emit unmatched results at once: no store holds them back.
        let unmatched_store = (windows.spurious_result_fix
            && (unmatched_left.is_some() || unmatched_right.is_some()))
        .then(|| shared_store.clone());
        {
            let mut g = self.graph.borrow_mut();
            g.add_store(
                &this_store,
                StoreKind::Window {
                    retention_ms: retention,
                },
            );
            g.add_store(
                &other_store,
                StoreKind::Window {
                    retention_ms: retention,
                },
            );
            if unmatched_store.is_some() {
                g.add_store(&shared_store, StoreKind::KeyValue);
            }
        }
        let mut stores = vec![this_store.clone(), other_store.clone()];
        stores.extend(unmatched_store.clone());

        let (ts, os, us, ks, ls, rs) = (
            this_store.clone(),
            other_store.clone(),
            unmatched_store.clone(),
            key_serde.clone(),
            left_serde.clone(),
            right_serde.clone(),
        );
        let (j, ul, ur) = (
            join.clone(),
            unmatched_left.clone(),
            unmatched_right.clone(),
        );
        let shared_time = crate::ops::join::SharedJoinTime::default();
        let time = shared_time.clone();
        let left_node = left.add_processor(this_prefix, stores.clone(), move |name| {
            Box::new(StreamJoinSide {
                name: name.to_string(),
                this_is_left: true,
                this_store: ts.clone(),
                other_store: os.clone(),
                unmatched_store: us.clone(),
                before_ms: windows.before_ms,
                after_ms: windows.after_ms,
                grace_ms: windows.grace_ms,
                key_serde: ks.clone(),
                this_serde: ls.clone(),
                other_serde: rs.clone(),
                join: j.clone(),
                unmatched_this: ul.clone(),
                unmatched_other: ur.clone(),
                this: None,
                other: None,
                unmatched: None,
                shared_time: time.clone(),
                time: None,
            })
        });
        let (ts, os, us, ks, ls, rs) = (
            this_store,
            other_store,
            unmatched_store,
            key_serde.clone(),
            left_serde,
            right_serde,
        );
        let right_node = right.add_processor(other_prefix, stores, move |name| {
            let j = join.clone();
            Box::new(StreamJoinSide {
                name: name.to_string(),
                this_is_left: false,
                this_store: os.clone(),
                other_store: ts.clone(),
                unmatched_store: us.clone(),
                before_ms: windows.after_ms,
                after_ms: windows.before_ms,
                grace_ms: windows.grace_ms,
                key_serde: ks.clone(),
                this_serde: rs.clone(),
                other_serde: ls.clone(),
                join: Arc::new(move |k: &K, r: &VO, l: &V| j(k, l, r)),
                unmatched_this: unmatched_right.clone(),
                unmatched_other: unmatched_left.clone(),
                this: None,
                other: None,
                unmatched: None,
                shared_time: shared_time.clone(),
                time: None,
            })
        });
        let f = pass_through::<K, VR>();
        let merge = add_processor(
            &self.graph,
            &[left_node, right_node],
            "KSTREAM-MERGE",
            Vec::new(),
            move |name| Box::new(StatelessNode::new(name, f.clone())),
        );
        let mut graph = self.graph.borrow_mut();
        let mut topics = graph.upstream_topics(left.node);
        topics.extend(graph.upstream_topics(right.node));
        let reason = format!("stream-stream join {}", graph.node_name(left_node));
        graph.require_copartitioned(topics, reason);
        drop(graph);
        KStream::new(self.graph.clone(), merge, Some(key_serde), None, false)
    }

    /// Joins records of the two streams with the same key whose times are within
    /// `windows` (inner join: only matches are emitted, as soon as they are found).
    pub fn join<VO: Data, VR: Data>(
        &self,
        other: &KStream<K, VO>,
        joiner: impl Fn(&V, &VO) -> VR + Send + Sync + 'static,
        windows: JoinWindows,
    ) -> KStream<K, VR> {
        self.stream_stream_join(
            other,
            windows,
            Arc::new(move |_, l, r| joiner(l, r)),
            None,
            None,
            "inner",
            None,
        )
    }

    /// [`join`](Self::join) with named state: the join buffers are the window stores
    /// `<name>-this-join-store` and `<name>-other-join-store`, and a side that needs
    /// repartitioning goes through `<application id>-<name>-left-repartition` or
    /// `<name>-right-repartition` (the names Kafka Streams gives with `StreamJoined`), so
    /// that they stay the same when the topology changes elsewhere.
    pub fn join_named<VO: Data, VR: Data>(
        &self,
        other: &KStream<K, VO>,
        joiner: impl Fn(&V, &VO) -> VR + Send + Sync + 'static,
        windows: JoinWindows,
        name: &str,
    ) -> KStream<K, VR> {
        self.stream_stream_join(
            other,
            windows,
            Arc::new(move |_, l, r| joiner(l, r)),
            None,
            None,
            "inner",
            Some(name),
        )
    }

    /// Left join: matches as for [`join`](Self::join); a left record that found no match
    /// is emitted with `None` once its join window has closed (after grace), as Kafka
    /// Streams does since 3.1, so there are no spurious `None` results.
    pub fn left_join<VO: Data, VR: Data>(
        &self,
        other: &KStream<K, VO>,
        joiner: impl Fn(&V, Option<&VO>) -> VR + Send + Sync + 'static,
        windows: JoinWindows,
    ) -> KStream<K, VR> {
        self.left_join_with(other, joiner, windows, None)
    }

    /// [`left_join`](Self::left_join) with named state, as for
    /// [`join_named`](Self::join_named); unmatched records wait in the key-value store
    /// `<name>-shared-join-store`.
    pub fn left_join_named<VO: Data, VR: Data>(
        &self,
        other: &KStream<K, VO>,
        joiner: impl Fn(&V, Option<&VO>) -> VR + Send + Sync + 'static,
        windows: JoinWindows,
        name: &str,
    ) -> KStream<K, VR> {
        self.left_join_with(other, joiner, windows, Some(name))
    }

    fn left_join_with<VO: Data, VR: Data>(
        &self,
        other: &KStream<K, VO>,
        joiner: impl Fn(&V, Option<&VO>) -> VR + Send + Sync + 'static,
        windows: JoinWindows,
        name: Option<&str>,
    ) -> KStream<K, VR> {
        let joiner = Arc::new(joiner);
        let unmatched = joiner.clone();
        self.stream_stream_join(
            other,
            windows,
            Arc::new(move |_, l, r| joiner(l, Some(r))),
            Some(Arc::new(move |_, l| unmatched(l, None))),
            None,
            "left",
            name,
        )
    }

    /// Outer join: like [`left_join`](Self::left_join), for unmatched records of both
    /// sides.
    pub fn outer_join<VO: Data, VR: Data>(
        &self,
        other: &KStream<K, VO>,
        joiner: impl Fn(Option<&V>, Option<&VO>) -> VR + Send + Sync + 'static,
        windows: JoinWindows,
    ) -> KStream<K, VR> {
        self.outer_join_with(other, joiner, windows, None)
    }

    /// [`outer_join`](Self::outer_join) with named state, as for
    /// [`left_join_named`](Self::left_join_named).
    pub fn outer_join_named<VO: Data, VR: Data>(
        &self,
        other: &KStream<K, VO>,
        joiner: impl Fn(Option<&V>, Option<&VO>) -> VR + Send + Sync + 'static,
        windows: JoinWindows,
        name: &str,
    ) -> KStream<K, VR> {
        self.outer_join_with(other, joiner, windows, Some(name))
    }

    fn outer_join_with<VO: Data, VR: Data>(
        &self,
        other: &KStream<K, VO>,
        joiner: impl Fn(Option<&V>, Option<&VO>) -> VR + Send + Sync + 'static,
        windows: JoinWindows,
        name: Option<&str>,
    ) -> KStream<K, VR> {
        let joiner = Arc::new(joiner);
        let (left_only, right_only) = (joiner.clone(), joiner.clone());
        self.stream_stream_join(
            other,
            windows,
            Arc::new(move |_, l, r| joiner(Some(l), Some(r))),
            Some(Arc::new(move |_, l| left_only(Some(l), None))),
            Some(Arc::new(move |_, r| right_only(None, Some(r)))),
            "outer",
            name,
        )
    }
}

/// Adds a processor node with the given parents.
pub(crate) fn add_processor(
    graph: &GraphRef,
    parents: &[NodeId],
    prefix: &str,
    stores: Vec<String>,
    make: impl Fn(&str) -> Box<dyn Node> + Send + Sync + 'static,
) -> NodeId {
    let mut g = graph.borrow_mut();
    let name = g.next_name(prefix);
    let n = name.clone();
    g.add_node(
        name,
        NodeKind::Processor,
        parents,
        stores,
        Arc::new(move || make(&n)),
    )
}

/// Records a build error if `node` is not in the graph.
pub(crate) fn check_node(graph: &GraphRef, node: NodeId, what: &str) {
    let missing = !graph.borrow().contains(node);
    if missing {
        graph
            .borrow_mut()
            .error(format!("{what}: node {node} is not in this topology"));
    }
}

/// Value bytes of a stream value.
pub(crate) fn value_bytes<V: 'static>(serde: SerdeRef<V>) -> ValueBytes<V> {
    Arc::new(move |v: &V| serde.serialize(v).map(Some))
}

/// Branches of a split stream, built by [`KStream::split`].
pub struct BranchedKStream<K, V> {
    stream: KStream<K, V>,
    branches: Vec<(String, Predicate<K, V>)>,
}

impl<K: Data, V: Data> BranchedKStream<K, V> {
    /// A branch of the records for which `predicate` holds (and no earlier one did).
    pub fn branch(
        mut self,
        name: &str,
        predicate: impl Fn(&K, &V) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.branches.push((name.to_string(), Arc::new(predicate)));
        self
    }

    /// Ends the split with a branch for the records no predicate took.
    pub fn default_branch(mut self, name: &str) -> BTreeMap<String, KStream<K, V>> {
        self.branches
            .push((name.to_string(), Arc::new(|_, _| true)));
        self.finish()
    }

    /// Ends the split; records no predicate took are dropped.
    pub fn no_default_branch(self) -> BTreeMap<String, KStream<K, V>> {
        self.finish()
    }

    fn finish(self) -> BTreeMap<String, KStream<K, V>> {
        let stream = self.stream;
        let predicates: Arc<Vec<Predicate<K, V>>> =
            Arc::new(self.branches.iter().map(|(_, p)| p.clone()).collect());
        let branch = stream.add_processor("KSTREAM-BRANCH", Vec::new(), move |name| {
            Box::new(BranchNode::new(name, predicates.clone()))
        });
        let mut out = BTreeMap::new();
        for (name, _) in self.branches {
            let f = pass_through::<K, V>();
            let child = add_processor(
                &stream.graph,
                &[branch],
                "KSTREAM-BRANCHCHILD",
                Vec::new(),
                move |n| Box::new(StatelessNode::new(n, f.clone())),
            );
            out.insert(
                name,
                KStream::new(
                    stream.graph.clone(),
                    child,
                    stream.key_serde.clone(),
                    stream.value_serde.clone(),
                    stream.repartition,
                ),
            );
        }
        out
    }
}
