//! [`StreamsBuilder`]: where a topology starts (sources) and the graph it accumulates.

use std::sync::Arc;

use crate::error::Result;
use crate::ops::source::{
    SourceNode, TableSourceNode, TimestampExtractor, stream_value, table_value,
};
use crate::processor::{Node, NodeId};
use crate::record::Record;
use crate::serdes::SerdeRef;
use crate::topology::{NodeFactory, NodeKind, StoreKind, TopicName, Topology, TopologyBuilder};

use super::{Data, GlobalKTable, KStream, KTable};

/// The graph the DSL builds: the untyped builder's, shared by the builder and every stream
/// and table made from it.
pub(crate) type GraphRef = TopologyBuilder;

/// Starts topologies: streams and tables from topics. Cheap to clone; all clones build the
/// same topology.
///
/// ```
/// use eddy_streams::{StreamsBuilder, serdes::Serdes};
/// let builder = StreamsBuilder::new();
/// let words = builder.stream("lines", Serdes::string(), Serdes::string())
///     .flat_map_values(|line| line.split(' ').map(str::to_string).collect::<Vec<_>>());
/// words.to("words");
/// assert_eq!(builder.build().unwrap().subtopologies().len(), 1);
/// ```
#[derive(Clone, Default)]
pub struct StreamsBuilder {
    pub(crate) graph: GraphRef,
}

impl std::fmt::Debug for StreamsBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamsBuilder")
            .field("nodes", &self.graph.borrow().len())
            .finish()
    }
}

impl StreamsBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// A stream of the records of `topic`, decoded with the serdes (records that fail to
    /// decode are logged, counted as skipped, and dropped; tombstones are dropped too, since
    /// a stream value cannot be null). A record without a key is decoded from an empty key.
    pub fn stream<K: Data, V: Data>(
        &self,
        topic: &str,
        key_serde: SerdeRef<K>,
        value_serde: SerdeRef<V>,
    ) -> KStream<K, V> {
        self.stream_with(topic, key_serde, value_serde, None)
    }

    /// A stream whose record times come from `extractor(key, value, record timestamp)`
    /// (Kafka Streams' `TimestampExtractor`); negative times are skipped.
    pub fn stream_with_timestamps<K: Data, V: Data>(
        &self,
        topic: &str,
        key_serde: SerdeRef<K>,
        value_serde: SerdeRef<V>,
        extractor: impl Fn(&K, &V, i64) -> i64 + Send + Sync + 'static,
    ) -> KStream<K, V> {
        self.stream_with(topic, key_serde, value_serde, Some(Arc::new(extractor)))
    }

    fn stream_with<K: Data, V: Data>(
        &self,
        topic: &str,
        key_serde: SerdeRef<K>,
        value_serde: SerdeRef<V>,
        extractor: Option<TimestampExtractor<K, V>>,
    ) -> KStream<K, V> {
        let node = self.add_source(
            TopicName::External(topic.to_string()),
            key_serde.clone(),
            value_serde.clone(),
            extractor,
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

    pub(crate) fn add_source<K: Data, V: Data>(
        &self,
        topic: TopicName,
        key_serde: SerdeRef<K>,
        value_serde: SerdeRef<V>,
        extractor: Option<TimestampExtractor<K, V>>,
        keep_tombstones: bool,
    ) -> NodeId {
        add_source(
            &self.graph,
            topic,
            key_serde,
            value_serde,
            extractor,
            keep_tombstones,
        )
    }

    /// A table: the latest value per key of `topic` (a tombstone deletes the key),
    /// materialised in a key-value store named `store` that interactive queries and joins
    /// read.
    pub fn table<K: Data, V: Data>(
        &self,
        topic: &str,
        key_serde: SerdeRef<K>,
        value_serde: SerdeRef<V>,
        store: &str,
    ) -> KTable<K, V> {
        let source = self.add_source(
            TopicName::External(topic.to_string()),
            key_serde.clone(),
            value_serde.clone(),
            None,
            true,
        );
        let node = add_table_source(
            &self.graph,
            source,
            store,
            key_serde.clone(),
            value_serde.clone(),
            false,
        );
        KTable::new(
            self.graph.clone(),
            node,
            Some(store.to_string()),
            Some(key_serde),
            Some(value_serde),
        )
    }

    /// A global table: every partition of `topic`, in every task, in store `store` (Kafka
    /// Streams' `GlobalKTable`). Streams join it by a key they compute
    /// ([`KStream::join_global`]), with no co-partitioning needed. The runtime reads the
    /// whole topic before processing starts and keeps the copy up to date; the topic itself
    /// is the store's changelog (it should be compacted).
    pub fn global_table<K: Data, V: Data>(
        &self,
        topic: &str,
        key_serde: SerdeRef<K>,
        value_serde: SerdeRef<V>,
        store: &str,
    ) -> GlobalKTable<K, V> {
        self.graph.borrow_mut().add_global_store(store, topic);
        GlobalKTable {
            store: store.to_string(),
            key_serde,
            value_serde,
        }
    }

    /// Adds a store for [`KStream::process`] processors (Kafka Streams' `addStateStore`);
    /// it is backed by a changelog topic.
    pub fn add_state_store(&self, name: &str, kind: StoreKind) {
        self.graph.borrow_mut().add_store(name, kind);
    }

    /// The topology, or the first problem found while building it. The builder stays
    /// usable: `build` takes a snapshot of the graph.
    pub fn build(&self) -> Result<Topology> {
        self.graph.build()
    }

    /// The untyped builder of this builder's graph (the same graph, not a copy): nodes
    /// added through it and through the DSL make one topology, with one counter for
    /// generated names. See [`KStream::from_node`] and [`KTable::from_node`] for typed views
    /// of its nodes.
    pub fn topology_builder(&self) -> TopologyBuilder {
        self.graph.clone()
    }

    /// A DSL builder on the graph of `builder` (the same graph, not a copy).
    pub fn from_topology_builder(builder: TopologyBuilder) -> Self {
        Self { graph: builder }
    }
}

pub(crate) fn add_source<K: Data, V: Data>(
    graph: &GraphRef,
    topic: TopicName,
    key_serde: SerdeRef<K>,
    value_serde: SerdeRef<V>,
    extractor: Option<TimestampExtractor<K, V>>,
    keep_tombstones: bool,
) -> NodeId {
    let mut graph = graph.borrow_mut();
    let name = graph.next_name("KSTREAM-SOURCE");
    let n = name.clone();
    let factory: NodeFactory = if keep_tombstones {
        Arc::new(move || {
            Box::new(SourceNode::<K, V, Option<V>>::new(
                &n,
                key_serde.clone(),
                value_serde.clone(),
                None,
                table_value::<V>,
            )) as Box<dyn Node>
        })
    } else {
        Arc::new(move || {
            Box::new(SourceNode::<K, V, V>::new(
                &n,
                key_serde.clone(),
                value_serde.clone(),
                extractor.clone(),
                stream_value::<V>,
            )) as Box<dyn Node>
        })
    };
    graph.add_node(
        name,
        NodeKind::Source {
            topics: vec![topic],
        },
        &[],
        Vec::new(),
        factory,
    )
}

/// Adds `KTABLE-SOURCE` under `parent` (which forwards `Vec<Record<K, Option<V>>>`): it
/// keeps the latest value per key in the key-value store `store` (added here), deleting on
/// `None`, and forwards each update as a `Change` with the old value. A delete of a key the
/// store does not have is forwarded (as `Change { new: None, old: None }`, which Kafka
/// Streams' `KTableSource` forwards too) only with `forward_absent_deletes`.
pub(crate) fn add_table_source<K: Data, V: Data>(
    graph: &GraphRef,
    parent: NodeId,
    store: &str,
    key_serde: SerdeRef<K>,
    value_serde: SerdeRef<V>,
    forward_absent_deletes: bool,
) -> NodeId {
    let mut graph = graph.borrow_mut();
    let name = graph.next_name("KTABLE-SOURCE");
    graph.add_store(store, StoreKind::KeyValue);
    let (s, n) = (store.to_string(), name.clone());
    graph.add_node(
        name,
        NodeKind::Processor,
        &[parent],
        vec![store.to_string()],
        Arc::new(move || {
            Box::new(TableSourceNode::new(
                &n,
                &s,
                key_serde.clone(),
                value_serde.clone(),
                forward_absent_deletes,
            )) as Box<dyn Node>
        }),
    )
}

/// Keeps the records of a batch as they are (used by merges and branch children).
pub(crate) fn pass_through<K: Data, V: Data>() -> crate::ops::stateless::BatchFn<K, V, K, V> {
    Arc::new(|batch: Vec<Record<K, V>>, out: &mut Vec<Record<K, V>>| out.extend(batch))
}
