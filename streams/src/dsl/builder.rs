//! [`StreamsBuilder`]: where a topology starts (sources) and the graph it accumulates.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::ops::source::{
    SourceNode, TableSourceNode, TimestampExtractor, stream_value, table_value,
};
use crate::processor::{Node, NodeId};
use crate::record::Record;
use crate::serdes::SerdeRef;
use crate::topology::{
    CopartitionGroup, InternalTopic, NodeFactory, NodeKind, NodeSpec, StoreKind, StoreSpec,
    TopicName, Topology,
};

use super::{Data, GlobalKTable, KStream, KTable};

/// The graph under construction, shared by the builder and every stream and table made
/// from it.
#[derive(Default)]
pub(crate) struct Graph {
    nodes: Vec<NodeSpec>,
    stores: Vec<StoreSpec>,
    internal_topics: Vec<InternalTopic>,
    copartition: Vec<CopartitionGroup>,
    errors: Vec<String>,
    counter: usize,
}

pub(crate) type GraphRef = Rc<RefCell<Graph>>;

impl Graph {
    /// Kafka Streams' generated names: `PREFIX-0000000007`.
    pub fn next_name(&mut self, prefix: &str) -> String {
        let name = format!("{prefix}-{:010}", self.counter);
        self.counter += 1;
        name
    }

    pub fn add_node(
        &mut self,
        name: String,
        kind: NodeKind,
        parents: &[NodeId],
        stores: Vec<String>,
        factory: NodeFactory,
    ) -> NodeId {
        let id = self.nodes.len();
        for &parent in parents {
            self.nodes[parent].children.push(id);
        }
        self.nodes.push(NodeSpec {
            name,
            kind,
            parents: parents.to_vec(),
            children: Vec::new(),
            stores,
            factory,
        });
        id
    }

    pub fn add_store(&mut self, name: &str, kind: StoreKind) {
        self.stores.push(StoreSpec {
            name: name.to_string(),
            kind,
            logged: true,
            global_topic: None,
            timestamped: false,
        });
    }

    /// Marks store `name` as keeping a record time in front of each value.
    pub fn mark_timestamped(&mut self, name: &str) {
        if let Some(spec) = self.stores.iter_mut().find(|s| s.name == name) {
            spec.timestamped = true;
        }
    }

    pub fn add_global_store(&mut self, name: &str, topic: &str) {
        self.stores.push(StoreSpec {
            name: name.to_string(),
            kind: StoreKind::KeyValue,
            logged: false,
            global_topic: Some(topic.to_string()),
            timestamped: false,
        });
    }

    pub fn add_internal_topic(&mut self, suffix: String) {
        self.internal_topics.push(InternalTopic { suffix });
    }

    pub fn error(&mut self, message: String) {
        self.errors.push(message);
    }

    pub fn node_name(&self, id: NodeId) -> &str {
        &self.nodes[id].name
    }

    /// The source topics upstream of a node (within its sub-topology).
    pub fn upstream_topics(&self, id: NodeId) -> BTreeSet<TopicName> {
        let mut topics = BTreeSet::new();
        let mut stack = vec![id];
        let mut seen = BTreeSet::new();
        while let Some(n) = stack.pop() {
            if !seen.insert(n) {
                continue;
            }
            let node = &self.nodes[n];
            if let NodeKind::Source { topics: ts } = &node.kind {
                topics.extend(ts.iter().cloned());
            }
            stack.extend(node.parents.iter().copied());
        }
        topics
    }

    pub fn require_copartitioned(&mut self, topics: BTreeSet<TopicName>, reason: String) {
        if topics.len() > 1 {
            self.copartition.push(CopartitionGroup { topics, reason });
        }
    }
}

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
            .field("nodes", &self.graph.borrow().nodes.len())
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
        let mut graph = self.graph.borrow_mut();
        let name = graph.next_name("KTABLE-SOURCE");
        graph.add_store(store, StoreKind::KeyValue);
        let (k, v, s, n) = (
            key_serde.clone(),
            value_serde.clone(),
            store.to_string(),
            name.clone(),
        );
        let node = graph.add_node(
            name,
            NodeKind::Processor,
            &[source],
            vec![store.to_string()],
            Arc::new(move || {
                Box::new(TableSourceNode::new(&n, &s, k.clone(), v.clone())) as Box<dyn Node>
            }),
        );
        drop(graph);
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

    /// The topology, or the first problem found while building it.
    pub fn build(&self) -> Result<Topology> {
        let mut graph = self.graph.borrow_mut();
        if let Some(first) = graph.errors.first() {
            let more = graph.errors.len() - 1;
            let suffix = if more > 0 {
                format!(" (and {more} more problems)")
            } else {
                String::new()
            };
            return Err(Error::topology(format!("{first}{suffix}")));
        }
        // The builder stays usable: build takes a snapshot of the graph.
        let nodes = graph
            .nodes
            .iter()
            .map(|n| NodeSpec {
                name: n.name.clone(),
                kind: n.kind.clone(),
                parents: n.parents.clone(),
                children: n.children.clone(),
                stores: n.stores.clone(),
                factory: n.factory.clone(),
            })
            .collect();
        let g = &mut *graph;
        Topology::new(
            nodes,
            g.stores.clone(),
            g.internal_topics.clone(),
            g.copartition.clone(),
        )
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

/// Keeps the records of a batch as they are (used by merges and branch children).
pub(crate) fn pass_through<K: Data, V: Data>() -> crate::ops::stateless::BatchFn<K, V, K, V> {
    Arc::new(|batch: Vec<Record<K, V>>, out: &mut Vec<Record<K, V>>| out.extend(batch))
}
