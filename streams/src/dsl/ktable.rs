//! [`KTable`]: a changelog stream seen as a table (the latest value per key), and its
//! operators. Table nodes pass [`Change`]s (new and old value) so that aggregations of
//! tables can subtract what a row contributed before.

use std::sync::Arc;

use crate::ops::aggregate::{KvState, MaterializeNode};
use crate::ops::fk_join::{
    FkJoinFn, ForeignKeyFn, ForeignTableJoinNode, ResponseJoinNode, ResponseSerde,
    ResponseSinkNode, Subscription, SubscriptionReceiveNode, SubscriptionSendNode,
    SubscriptionSerde, UnmatchedFn,
};
use crate::ops::join::{TableJoinFn, TableJoinSide};
use crate::ops::sink::{SinkTopic, ValueBytes};
use crate::ops::stateless::StatelessNode;
use crate::processor::{Node, NodeId};
use crate::record::{Change, Record};
use crate::serdes::{ChangeSerde, SerdeRef, Serdes};
use crate::topology::{NodeKind, StoreKind, TopicName};

use super::Data;
use super::builder::{GraphRef, add_source, add_table_source, pass_through};
use super::grouped::KGroupedTable;
use super::kstream::{KStream, add_processor, check_node, require, same_serde, value_bytes};

/// A table with keys `K` and values `V`.
pub struct KTable<K, V> {
    pub(crate) graph: GraphRef,
    pub(crate) node: NodeId,
    /// The key-value store holding the table, if it is materialised.
    pub(crate) store: Option<String>,
    pub(crate) key_serde: Option<SerdeRef<K>>,
    pub(crate) value_serde: Option<SerdeRef<V>>,
}

impl<K, V> Clone for KTable<K, V> {
    fn clone(&self) -> Self {
        Self {
            graph: self.graph.clone(),
            node: self.node,
            store: self.store.clone(),
            key_serde: self.key_serde.clone(),
            value_serde: self.value_serde.clone(),
        }
    }
}

impl<K, V> std::fmt::Debug for KTable<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KTable")
            .field("node", &self.graph.borrow().node_name(self.node))
            .field("store", &self.store)
            .finish()
    }
}

type ChangeFn<K, V, VO> = crate::ops::stateless::BatchFn<K, Change<V>, K, Change<VO>>;

impl<K: Data, V: Data> KTable<K, V> {
    pub(crate) fn new(
        graph: GraphRef,
        node: NodeId,
        store: Option<String>,
        key_serde: Option<SerdeRef<K>>,
        value_serde: Option<SerdeRef<V>>,
    ) -> Self {
        Self {
            graph,
            node,
            store,
            key_serde,
            value_serde,
        }
    }

    /// A typed view of a node of `builder`'s graph (one added through its
    /// [`TopologyBuilder`](crate::TopologyBuilder), say) as a table, so that DSL operators
    /// can follow it. The node must forward `Vec<Record<K, Change<V>>>` batches: each row
    /// update with the row's new value (`None`: deleted) and its old one (`None`: there was
    /// none), records partitioned by `K` as Kafka's partitioner would place them. `store`
    /// names the key-value store (added to the graph, connected to the node) that holds the
    /// table's rows encoded with the serdes, if there is one: joins and interactive queries
    /// read it; without one, the operators that need a store add `KTABLE-MATERIALIZE`
    /// first. A node that is not in the graph is a build error.
    pub fn from_node(
        builder: &crate::StreamsBuilder,
        node: NodeId,
        store: Option<String>,
        key_serde: Option<SerdeRef<K>>,
        value_serde: Option<SerdeRef<V>>,
    ) -> Self {
        check_node(&builder.graph, node, "KTable::from_node");
        Self::new(builder.graph.clone(), node, store, key_serde, value_serde)
    }

    /// The node whose output this table is (for [`TopologyBuilder`](crate::TopologyBuilder)
    /// nodes that follow it: they receive `Vec<Record<K, Change<V>>>` batches).
    pub fn node(&self) -> NodeId {
        self.node
    }

    /// The table of a stream of upserts: `Some(value)` sets the key's row, `None` deletes
    /// it, kept in the key-value store `store` with the stream's key serde and
    /// `value_serde`. This is the `KTABLE-SOURCE` processor of
    /// [`StreamsBuilder::table`](crate::StreamsBuilder::table), after the stream instead of
    /// a topic: each update is forwarded as a `Change` with the row's old value. Unlike
    /// `table`, a delete of a key the table does not have is forwarded too (as
    /// `Change { new: None, old: None }`, as Kafka Streams' `KTableSource` does).
    ///
    /// A stream [marked for repartitioning](KStream::mark_for_repartition) is first written
    /// through `<application id>-<store>-repartition` (deletes as tombstones).
    ///
    /// ```
    /// use eddy_streams::{KTable, StreamsBuilder, TopologyTestDriver, serdes::Serdes};
    /// let builder = StreamsBuilder::new();
    /// let upserts = builder
    ///     .stream("in", Serdes::string(), Serdes::string())
    ///     .map_values(|v: String| (v != "delete").then_some(v));
    /// KTable::from_upserts(&upserts, "rows", Serdes::string()).to("rows-out");
    /// let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    /// let input = driver.input_topic("in", Serdes::string(), Serdes::string());
    /// input.pipe("a".into(), "1".into(), 1).unwrap();
    /// input.pipe("a".into(), "delete".into(), 2).unwrap();
    /// let out = driver.output_topic("rows-out", Serdes::string(), Serdes::string());
    /// assert_eq!(
    ///     out.read_key_values().unwrap(),
    ///     vec![("a".to_string(), Some("1".to_string())), ("a".to_string(), None)]
    /// );
    /// ```
    pub fn from_upserts(
        stream: &KStream<K, Option<V>>,
        store: &str,
        value_serde: SerdeRef<V>,
    ) -> Self {
        let graph = &stream.graph;
        let key_serde = require(graph, &stream.key_serde, "a table of upserts");
        let parent = if stream.repartition {
            let suffix = format!("{store}-repartition");
            graph.borrow_mut().add_internal_topic(suffix.clone());
            let topic = TopicName::Internal(suffix);
            let vs = value_serde.clone();
            let bytes: ValueBytes<Option<V>> =
                Arc::new(move |v: &Option<V>| v.as_ref().map(|v| vs.serialize(v)).transpose());
            stream.add_sink(SinkTopic::Fixed(topic.clone()), key_serde.clone(), bytes);
            add_source(
                graph,
                topic,
                key_serde.clone(),
                value_serde.clone(),
                None,
                true,
            )
        } else {
            stream.node
        };
        let node = add_table_source(
            graph,
            parent,
            store,
            key_serde.clone(),
            value_serde.clone(),
            true,
        );
        KTable::new(
            graph.clone(),
            node,
            Some(store.to_string()),
            Some(key_serde),
            Some(value_serde),
        )
    }

    /// The table's changes as a stream node (for sinks and joins).
    fn changes(&self) -> KStream<K, Change<V>> {
        KStream::new(
            self.graph.clone(),
            self.node,
            self.key_serde.clone(),
            None,
            false,
        )
    }

    fn map_changes<VO: Data>(
        &self,
        prefix: &str,
        f: ChangeFn<K, V, VO>,
        value_serde: Option<SerdeRef<VO>>,
    ) -> KTable<K, VO> {
        let node = add_processor(&self.graph, &[self.node], prefix, Vec::new(), move |name| {
            Box::new(StatelessNode::new(name, f.clone()))
        });
        KTable::new(
            self.graph.clone(),
            node,
            None,
            self.key_serde.clone(),
            value_serde,
        )
    }

    /// The name of the store that holds this table, if it is materialised (source tables,
    /// aggregations, `to_table`), for interactive queries.
    pub fn queryable_store_name(&self) -> Option<&str> {
        self.store.as_deref()
    }

    /// The table, materialised in a store (a new one, if it was not already).
    pub(crate) fn materialized(&self) -> KTable<K, V> {
        if self.store.is_some() {
            return self.clone();
        }
        let store = self.graph.borrow_mut().next_name("KTABLE-STATE-STORE");
        self.materialize_in(store)
    }

    /// The table, materialised in the key-value store `store` (Kafka Streams'
    /// `Materialized.as(store)`), which interactive queries and joins then read: a
    /// `KTABLE-MATERIALIZE` node keeps each row's latest value there and passes the
    /// changes on. Operators that need a table's rows (joins) materialise a table that has
    /// no store in a store with a generated name (`KTABLE-STATE-STORE-0000000007`); name it
    /// this way instead to keep the name, and the changelog topic named after it, stable.
    /// Needs the table's serdes.
    pub fn materialize(&self, store: &str) -> KTable<K, V> {
        self.materialize_in(store.to_string())
    }

    fn materialize_in(&self, store: String) -> KTable<K, V> {
        self.graph
            .borrow_mut()
            .add_store(&store, StoreKind::KeyValue);
        let key_serde = require(&self.graph, &self.key_serde, "materialising a table");
        let value_serde = require(&self.graph, &self.value_serde, "materialising a table");
        let (s, k, v) = (store.clone(), key_serde, value_serde);
        let node = add_processor(
            &self.graph,
            &[self.node],
            "KTABLE-MATERIALIZE",
            vec![store.clone()],
            move |name| {
                Box::new(MaterializeNode::new(
                    name,
                    KvState::new(&s, k.clone(), v.clone()),
                ))
            },
        );
        KTable::new(
            self.graph.clone(),
            node,
            Some(store),
            self.key_serde.clone(),
            self.value_serde.clone(),
        )
    }

    /// Rows for which `predicate` holds; a row that stops matching is deleted downstream.
    pub fn filter(&self, predicate: impl Fn(&K, &V) -> bool + Send + Sync + 'static) -> Self {
        self.map_changes(
            "KTABLE-FILTER",
            Arc::new(move |batch, out| {
                for r in batch {
                    let keep = |v: Option<V>| v.filter(|v| predicate(&r.key, v));
                    let change = Change::new(keep(r.value.new), keep(r.value.old));
                    if change.new.is_some() || change.old.is_some() {
                        out.push(Record::new(r.key, change, r.timestamp).with_headers(r.headers));
                    }
                }
            }),
            self.value_serde.clone(),
        )
    }

    /// Rows for which `predicate` does not hold.
    pub fn filter_not(&self, predicate: impl Fn(&K, &V) -> bool + Send + Sync + 'static) -> Self {
        self.filter(move |k, v| !predicate(k, v))
    }

    /// A new value per row.
    pub fn map_values<VO: Data>(
        &self,
        f: impl Fn(&V) -> VO + Send + Sync + 'static,
    ) -> KTable<K, VO> {
        self.map_changes(
            "KTABLE-MAPVALUES",
            Arc::new(move |batch, out| {
                out.extend(batch.into_iter().map(|r| {
                    let change =
                        Change::new(r.value.new.as_ref().map(&f), r.value.old.as_ref().map(&f));
                    Record::new(r.key, change, r.timestamp).with_headers(r.headers)
                }))
            }),
            same_serde(&self.value_serde),
        )
    }

    /// Sets the value serde (after `map_values`).
    pub fn with_value_serde(mut self, serde: SerdeRef<V>) -> Self {
        self.value_serde = Some(serde);
        self
    }

    /// The table's updates as a stream of new values. Deletes are not forwarded (a stream
    /// value cannot be null); [`to`](Self::to) writes them as tombstones.
    pub fn to_stream(&self) -> KStream<K, V> {
        let f: crate::ops::stateless::BatchFn<K, Change<V>, K, V> = Arc::new(|batch, out| {
            out.extend(batch.into_iter().filter_map(|r| {
                let headers = r.headers;
                r.value
                    .new
                    .map(|v| Record::new(r.key, v, r.timestamp).with_headers(headers))
            }))
        });
        let node = add_processor(
            &self.graph,
            &[self.node],
            "KTABLE-TOSTREAM",
            Vec::new(),
            move |name| Box::new(StatelessNode::new(name, f.clone())),
        );
        KStream::new(
            self.graph.clone(),
            node,
            self.key_serde.clone(),
            self.value_serde.clone(),
            false,
        )
    }

    /// Writes the table's updates to `topic`; deleted rows become tombstones.
    pub fn to(&self, topic: &str) {
        let key_serde = require(&self.graph, &self.key_serde, &format!("writing to {topic}"));
        let value_serde = require(
            &self.graph,
            &self.value_serde,
            &format!("writing to {topic}"),
        );
        self.to_with(topic, key_serde, value_serde);
    }

    /// Writes the table's updates to `topic` with these serdes.
    pub fn to_with(&self, topic: &str, key_serde: SerdeRef<K>, value_serde: SerdeRef<V>) {
        let bytes: ValueBytes<Change<V>> = Arc::new(move |c: &Change<V>| {
            c.new.as_ref().map(|v| value_serde.serialize(v)).transpose()
        });
        self.changes().add_sink(
            SinkTopic::Fixed(TopicName::External(topic.to_string())),
            key_serde,
            bytes,
        );
    }

    fn table_join<VO: Data, VR: Data>(
        &self,
        other: &KTable<K, VO>,
        joiner: TableJoinFn<K, V, VO, VR>,
        prefix: &str,
    ) -> KTable<K, VR> {
        let left = self.materialized();
        let right = other.materialized();
        let key_serde = require(&self.graph, &left.key_serde, "a table-table join");
        let left_serde = require(&self.graph, &left.value_serde, "a table-table join");
        let right_serde = require(&self.graph, &right.value_serde, "a table-table join");
        let (ls, rs) = (
            left.store.clone().unwrap_or_default(),
            right.store.clone().unwrap_or_default(),
        );
        let (k, r, j) = (key_serde.clone(), right_serde, joiner.clone());
        let rstore = rs.clone();
        let left_node = add_processor(
            &self.graph,
            &[left.node],
            prefix,
            vec![rs.clone()],
            move |name| {
                Box::new(TableJoinSide {
                    name: name.to_string(),
                    other: KvState::new(&rstore, k.clone(), r.clone()),
                    joiner: j.clone(),
                })
            },
        );
        let k = key_serde.clone();
        let lstore = ls.clone();
        let right_node = add_processor(
            &self.graph,
            &[right.node],
            &format!("{prefix}-OTHER"),
            vec![ls],
            move |name| {
                let j = joiner.clone();
                Box::new(TableJoinSide {
                    name: name.to_string(),
                    other: KvState::new(&lstore, k.clone(), left_serde.clone()),
                    joiner: Arc::new(move |key: &K, this: Option<&VO>, other: Option<&V>| {
                        j(key, other, this)
                    }),
                })
            },
        );
        let f = pass_through::<K, Change<VR>>();
        let merge = add_processor(
            &self.graph,
            &[left_node, right_node],
            "KTABLE-MERGE",
            Vec::new(),
            move |name| Box::new(StatelessNode::new(name, f.clone())),
        );
        let mut g = self.graph.borrow_mut();
        let mut topics = g.upstream_topics(left.node);
        topics.extend(g.upstream_topics(right.node));
        let reason = format!("table-table join {}", g.node_name(left_node));
        g.require_copartitioned(topics, reason);
        drop(g);
        KTable::new(self.graph.clone(), merge, None, Some(key_serde), None)
    }

    /// Inner table-table join: a row exists while both tables have the key.
    pub fn join<VO: Data, VR: Data>(
        &self,
        other: &KTable<K, VO>,
        joiner: impl Fn(&V, &VO) -> VR + Send + Sync + 'static,
    ) -> KTable<K, VR> {
        self.table_join(
            other,
            Arc::new(move |_, l, r| match (l, r) {
                (Some(l), Some(r)) => Some(joiner(l, r)),
                _ => None,
            }),
            "KTABLE-JOINTHIS",
        )
    }

    /// Left table-table join: a row exists while this table has the key.
    pub fn left_join<VO: Data, VR: Data>(
        &self,
        other: &KTable<K, VO>,
        joiner: impl Fn(&V, Option<&VO>) -> VR + Send + Sync + 'static,
    ) -> KTable<K, VR> {
        self.table_join(
            other,
            Arc::new(move |_, l, r| l.map(|l| joiner(l, r))),
            "KTABLE-LEFTTHIS",
        )
    }

    /// Outer table-table join: a row exists while either table has the key.
    pub fn outer_join<VO: Data, VR: Data>(
        &self,
        other: &KTable<K, VO>,
        joiner: impl Fn(Option<&V>, Option<&VO>) -> VR + Send + Sync + 'static,
    ) -> KTable<K, VR> {
        self.table_join(
            other,
            Arc::new(move |_, l, r| (l.is_some() || r.is_some()).then(|| joiner(l, r))),
            "KTABLE-OUTERTHIS",
        )
    }

    /// Inner foreign-key join (Kafka Streams' `KTable.join(other, foreignKeyExtractor,
    /// joiner)`): each row of this table joins the row of `other` whose key
    /// `foreign_key(value)` names; a row exists while both do. The result is keyed like this
    /// table and materialised in `store` (with `value_serde`). Rows whose foreign key is
    /// `None` do not join. Neither table needs to be co-partitioned with the other: the join
    /// goes through the internal topics `<application id>-<store>-subscription-registration-topic`
    /// (partitioned by foreign key, like `other`) and
    /// `<application id>-<store>-subscription-response-topic` (back to this table's
    /// partitions); `other` keeps the subscriptions in store `<store>-subscription-store`.
    pub fn join_foreign_key<KO: Data, VO: Data, VR: Data>(
        &self,
        other: &KTable<KO, VO>,
        foreign_key: impl Fn(&V) -> Option<KO> + Send + Sync + 'static,
        joiner: impl Fn(&V, &VO) -> VR + Send + Sync + 'static,
        store: &str,
        value_serde: SerdeRef<VR>,
    ) -> KTable<K, VR> {
        self.foreign_key_join(
            other,
            Arc::new(foreign_key),
            Arc::new(move |l, r| r.map(|r| joiner(l, r))),
            None,
            store,
            value_serde,
        )
    }

    /// Left foreign-key join (Kafka Streams' `KTable.leftJoin(other, foreignKeyExtractor,
    /// joiner)`): like [`join_foreign_key`](Self::join_foreign_key), but every row of this
    /// table has a result, joined with `None` while `other` has no row for its foreign key
    /// (or the foreign key is `None`).
    pub fn left_join_foreign_key<KO: Data, VO: Data, VR: Data>(
        &self,
        other: &KTable<KO, VO>,
        foreign_key: impl Fn(&V) -> Option<KO> + Send + Sync + 'static,
        joiner: impl Fn(&V, Option<&VO>) -> VR + Send + Sync + 'static,
        store: &str,
        value_serde: SerdeRef<VR>,
    ) -> KTable<K, VR> {
        let joiner = Arc::new(joiner);
        let unmatched = joiner.clone();
        self.foreign_key_join(
            other,
            Arc::new(foreign_key),
            Arc::new(move |l, r| Some(joiner(l, r))),
            Some(Arc::new(move |l: &V| unmatched(l, None))),
            store,
            value_serde,
        )
    }

    /// Wires a foreign-key join (see `ops::fk_join`): the left side's subscription sender and
    /// response joiner, the right side's subscription receiver and update fan-out, the two
    /// internal topics between them, and the result store.
    fn foreign_key_join<KO: Data, VO: Data, VR: Data>(
        &self,
        other: &KTable<KO, VO>,
        foreign_key: ForeignKeyFn<V, KO>,
        joiner: FkJoinFn<V, VO, VR>,
        unmatched: Option<UnmatchedFn<V, VR>>,
        store: &str,
        value_serde: SerdeRef<VR>,
    ) -> KTable<K, VR> {
        const WHAT: &str = "a foreign-key join";
        let left = self.materialized();
        let right = other.materialized();
        let key_serde = require(&self.graph, &left.key_serde, WHAT);
        let left_serde = require(&self.graph, &left.value_serde, WHAT);
        let fk_serde = require(&self.graph, &right.key_serde, WHAT);
        let right_serde = require(&self.graph, &right.value_serde, WHAT);
        let left_store = left.store.clone().unwrap_or_default();
        let right_store = right.store.clone().unwrap_or_default();
        // Named like Kafka Streams' internal topics and store of a named foreign-key join.
        let registration_suffix = format!("{store}-subscription-registration-topic");
        let response_suffix = format!("{store}-subscription-response-topic");
        let subscription_store = format!("{store}-subscription-store");
        let registration = TopicName::Internal(registration_suffix.clone());
        let response = TopicName::Internal(response_suffix.clone());
        {
            let mut g = self.graph.borrow_mut();
            g.add_internal_topic(registration_suffix);
            g.add_internal_topic(response_suffix);
            g.add_store(&subscription_store, StoreKind::KeyValue);
            g.add_store(store, StoreKind::KeyValue);
        }

        // Left side: subscribe each row to its foreign key.
        let (k, v, fk, f, u) = (
            key_serde.clone(),
            left_serde.clone(),
            fk_serde.clone(),
            foreign_key,
            unmatched.clone(),
        );
        let send = add_processor(
            &self.graph,
            &[left.node],
            "KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION",
            Vec::new(),
            move |name| {
                Box::new(SubscriptionSendNode {
                    name: name.to_string(),
                    key_serde: k.clone(),
                    value_serde: v.clone(),
                    foreign_key_serde: fk.clone(),
                    extractor: f.clone(),
                    unmatched: u.clone(),
                })
            },
        );
        let subscription_serde: SerdeRef<Subscription> = Arc::new(SubscriptionSerde);
        KStream::<Vec<u8>, Subscription>::new(self.graph.clone(), send, None, None, false)
            .add_sink(
                SinkTopic::Fixed(registration.clone()),
                Serdes::bytes(),
                value_bytes(subscription_serde.clone()),
            );

        // Right side: keep subscriptions and answer them; answer again on every update.
        let registration_topic = registration.clone();
        let registrations = add_source(
            &self.graph,
            registration,
            Serdes::bytes(),
            subscription_serde,
            None,
            false,
        );
        let (ss, rs) = (subscription_store.clone(), right_store);
        let receive = add_processor(
            &self.graph,
            &[registrations],
            "KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR",
            vec![subscription_store.clone(), rs.clone()],
            move |name| {
                Box::new(SubscriptionReceiveNode {
                    name: name.to_string(),
                    subscription_store: ss.clone(),
                    right_store: rs.clone(),
                    subscriptions: None,
                    right: None,
                })
            },
        );
        let (ss, ko, vo) = (subscription_store.clone(), fk_serde, right_serde.clone());
        let fan_out = add_processor(
            &self.graph,
            &[right.node],
            "KTABLE-FK-JOIN-FOREIGN-TABLE-PROCESSOR",
            vec![subscription_store],
            move |name| {
                Box::new(ForeignTableJoinNode {
                    name: name.to_string(),
                    subscription_store: ss.clone(),
                    key_serde: ko.clone(),
                    value_serde: vo.clone(),
                    subscriptions: None,
                })
            },
        );
        {
            let mut g = self.graph.borrow_mut();
            let name = g.next_name("KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-SINK");
            let (n, topic) = (name.clone(), response.clone());
            g.add_node(
                name,
                NodeKind::Sink {
                    topic: Some(response.clone()),
                },
                &[receive, fan_out],
                Vec::new(),
                Arc::new(move || {
                    Box::new(ResponseSinkNode {
                        name: n.clone(),
                        topic: topic.clone(),
                        resolved: None,
                    }) as Box<dyn Node>
                }),
            );
        }

        // Left side: join fresh responses with the current row, into the result store.
        let responses = add_source(
            &self.graph,
            response.clone(),
            Serdes::bytes(),
            Arc::new(ResponseSerde),
            None,
            false,
        );
        let (ls, k) = (left_store, key_serde.clone());
        let resolve = add_processor(
            &self.graph,
            &[responses],
            "KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-RESOLVER-PROCESSOR",
            vec![ls.clone()],
            move |name| {
                Box::new(ResponseJoinNode {
                    name: name.to_string(),
                    left_store: ls.clone(),
                    key_serde: k.clone(),
                    left_serde: left_serde.clone(),
                    right_serde: right_serde.clone(),
                    joiner: joiner.clone(),
                    left: None,
                })
            },
        );
        // The sender also emits straight to the output: retractions of deleted rows and of
        // rows that lost their foreign key, and left-join rows without a foreign key.
        let parents: Vec<NodeId> = vec![resolve, send];
        let (s, k, v) = (store.to_string(), key_serde.clone(), value_serde.clone());
        let output = add_processor(
            &self.graph,
            &parents,
            "KTABLE-FK-JOIN-OUTPUT",
            vec![store.to_string()],
            move |name| {
                Box::new(MaterializeNode::new(
                    name,
                    KvState::new(&s, k.clone(), v.clone()),
                ))
            },
        );

        let mut g = self.graph.borrow_mut();
        let reason = format!("foreign-key join {}", g.node_name(send));
        let mut subscriptions = g.upstream_topics(right.node);
        subscriptions.insert(registration_topic);
        g.require_copartitioned(subscriptions, format!("{reason} (subscriptions)"));
        let mut answers = g.upstream_topics(left.node);
        answers.insert(response);
        g.require_copartitioned(answers, format!("{reason} (responses)"));
        drop(g);
        KTable::new(
            self.graph.clone(),
            output,
            Some(store.to_string()),
            Some(key_serde),
            Some(value_serde),
        )
    }

    /// Re-groups rows by a new key and value, for aggregations with an adder and a
    /// subtractor (Kafka Streams' `KTable.groupBy`); always repartitioned.
    pub fn group_by<KR: Data, VR: Data>(
        &self,
        f: impl Fn(&K, &V) -> (KR, VR) + Send + Sync + 'static,
        key_serde: SerdeRef<KR>,
        value_serde: SerdeRef<VR>,
    ) -> KGroupedTable<KR, VR> {
        // An update that keeps its group goes on as one change, subtracted and added
        // together (KIP-904): the aggregate then emits one result, not two.
        let same_group = {
            let serde = key_serde.clone();
            move |a: &KR, b: &KR| match (serde.serialize(a), serde.serialize(b)) {
                (Ok(a), Ok(b)) => a == b,
                _ => false,
            }
        };
        let f: crate::ops::stateless::BatchFn<K, Change<V>, KR, Change<VR>> =
            Arc::new(move |batch, out| {
                for r in batch {
                    let old = r.value.old.as_ref().map(|old| f(&r.key, old));
                    let new = r.value.new.as_ref().map(|new| f(&r.key, new));
                    match (old, new) {
                        (Some((ko, vo)), Some((kn, vn))) if same_group(&ko, &kn) => {
                            out.push(
                                Record::new(kn, Change::new(Some(vn), Some(vo)), r.timestamp)
                                    .with_headers(r.headers.clone()),
                            );
                        }
                        (old, new) => {
                            if let Some((k, v)) = old {
                                out.push(
                                    Record::new(k, Change::new(None, Some(v)), r.timestamp)
                                        .with_headers(r.headers.clone()),
                                );
                            }
                            if let Some((k, v)) = new {
                                out.push(
                                    Record::new(k, Change::new(Some(v), None), r.timestamp)
                                        .with_headers(r.headers.clone()),
                                );
                            }
                        }
                    }
                }
            });
        let node = add_processor(
            &self.graph,
            &[self.node],
            "KTABLE-SELECT",
            Vec::new(),
            move |name| Box::new(StatelessNode::new(name, f.clone())),
        );
        let change_serde: SerdeRef<Change<VR>> = Arc::new(ChangeSerde(value_serde.clone()));
        KGroupedTable::new(
            KStream::new(
                self.graph.clone(),
                node,
                Some(key_serde),
                Some(change_serde),
                true,
            ),
            value_serde,
        )
    }
}
