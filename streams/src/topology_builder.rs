//! [`TopologyBuilder`]: the untyped way to build a [`Topology`], node by node. The typed DSL
//! ([`StreamsBuilder`](crate::StreamsBuilder)) builds on the same graph, so a front end
//! (the SQL planner) can add its own nodes, working on whole batches of its own type, and
//! use the DSL's stateful operators on the same topology through
//! [`KStream::from_node`](crate::KStream::from_node) and
//! [`KTable::from_node`](crate::KTable::from_node).

use std::cell::{Ref, RefCell, RefMut};
use std::collections::BTreeSet;
use std::rc::Rc;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::ops::raw::{RawSinkNode, RawSourceNode};
use crate::processor::{Node, NodeId};
use crate::topology::{
    CopartitionGroup, NodeFactory, NodeKind, NodeSpec, StoreKind, StoreSpec, TopicKind, TopicName,
    Topology,
};

/// The graph under construction, shared by every handle on it (the builders, and every
/// stream and table made from them).
#[derive(Default)]
pub(crate) struct Graph {
    nodes: Vec<NodeSpec>,
    stores: Vec<StoreSpec>,
    internal_topics: Vec<TopicKind>,
    copartition: Vec<CopartitionGroup>,
    errors: Vec<String>,
    counter: usize,
}

impl Graph {
    /// Kafka Streams' generated names: `PREFIX-0000000007`.
    pub fn next_name(&mut self, prefix: &str) -> String {
        let name = format!("{prefix}-{:010}", self.counter);
        self.counter += 1;
        name
    }

    /// Adds a node under `parents` (ids that are not in the graph are a build error).
    pub fn add_node(
        &mut self,
        name: String,
        kind: NodeKind,
        parents: &[NodeId],
        stores: Vec<String>,
        factory: NodeFactory,
    ) -> NodeId {
        let id = self.nodes.len();
        let mut known = Vec::with_capacity(parents.len());
        for &parent in parents {
            match self.nodes.get_mut(parent) {
                Some(node) => {
                    node.children.push(id);
                    known.push(parent);
                }
                None => self.errors.push(format!(
                    "{name} has parent node {parent}, which is not in this topology"
                )),
            }
        }
        self.nodes.push(NodeSpec {
            name,
            kind,
            parents: known,
            children: Vec::new(),
            stores,
            factory,
        });
        id
    }

    /// Whether `id` is a node of the graph.
    pub fn contains(&self, id: NodeId) -> bool {
        id < self.nodes.len()
    }

    /// The number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn add_store_spec(&mut self, spec: StoreSpec) {
        self.stores.push(spec);
    }

    pub fn add_store(&mut self, name: &str, kind: StoreKind) {
        self.add_store_spec(StoreSpec::new(name, kind));
    }

    /// Marks store `name` as keeping a record time in front of each value.
    pub fn mark_timestamped(&mut self, name: &str) {
        if let Some(spec) = self.stores.iter_mut().find(|s| s.name == name) {
            spec.timestamped = true;
        }
    }

    pub fn add_global_store(&mut self, name: &str, topic: &str) {
        self.stores.push(StoreSpec {
            logged: false,
            global_topic: Some(topic.to_string()),
            ..StoreSpec::new(name, StoreKind::KeyValue)
        });
    }

    pub fn add_internal_topic(&mut self, suffix: String) {
        self.internal_topics.push(TopicKind { suffix });
    }

    pub fn error(&mut self, message: String) {
        self.errors.push(message);
    }

    /// A node's name (a placeholder for an id that is not in the graph).
    pub fn node_name(&self, id: NodeId) -> &str {
        self.nodes
            .get(id)
            .map_or("<not a node of this topology>", |n| n.name.as_str())
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
            let Some(node) = self.nodes.get(n) else {
                continue;
            };
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

    /// The topology, or the first problem recorded while building it. The graph stays as
    /// it is: `build` takes a snapshot.
    fn build(&self) -> Result<Topology> {
        if let Some(first) = self.errors.first() {
            let more = self.errors.len() - 1;
            let suffix = if more > 0 {
                format!(" (and {more} more problems)")
            } else {
                String::new()
            };
            return Err(Error::topology(format!("{first}{suffix}")));
        }
        let nodes = self
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
        Topology::new(
            nodes,
            self.stores.clone(),
            self.internal_topics.clone(),
            self.copartition.clone(),
        )
    }
}

/// Builds a [`Topology`] node by node, untyped: sources that forward the records they read
/// as they are, processors made by the caller's factories, sinks that write raw records,
/// stores, internal topics and co-partitioning requirements (Kafka Streams' `Topology`
/// API).
///
/// A cheap-to-clone handle: clones, the [`StreamsBuilder`](crate::StreamsBuilder) it came
/// from ([`StreamsBuilder::topology_builder`](crate::StreamsBuilder::topology_builder)) and
/// every stream and table made from either add to the same graph, with one counter for
/// generated names ([`next_name`](Self::next_name)). Problems are recorded and reported by
/// [`build`](Self::build), as the DSL's are; duplicate node or store names, stores no one
/// added and topics read twice are found there too.
///
/// Nodes exchange batches ([`AnyBatch`](crate::processor::AnyBatch)): what a node forwards
/// is what its children receive, so the builder's caller decides the batch types, except at
/// the edges: a [raw source](TopologyBuilder::add_source) forwards the `Vec<SourceRecord>` it
/// read, a [raw sink](TopologyBuilder::add_sink) takes `Vec<RawRecord>`, and DSL nodes take
/// and forward `Vec<Record<K, V>>` (tables: `Vec<Record<K, Change<V>>>`).
///
/// ```
/// use std::sync::Arc;
/// use bytes::Bytes;
/// use eddy_streams::processor::{AnyBatch, Context, Node, downcast};
/// use eddy_streams::record::{RawRecord, SourceRecord};
/// use eddy_streams::topology::TopicName;
/// use eddy_streams::{TopologyBuilder, TopologyTestDriver};
///
/// /// Upper-cases values, keeps keys, times and headers.
/// struct Upper;
/// impl Node for Upper {
///     fn process(&mut self, batch: AnyBatch, ctx: &mut Context<'_>) -> eddy_streams::Result<()> {
///         let records = downcast::<Vec<SourceRecord>>(batch, "upper")?;
///         let mut out = Vec::with_capacity(records.len());
///         for r in records {
///             ctx.observe_time(r.timestamp); // the node that reads the records moves stream time
///             out.push(RawRecord {
///                 key: r.key,
///                 value: r.value.map(|v| Bytes::from(v.to_ascii_uppercase())),
///                 timestamp: r.timestamp,
///                 headers: r.headers,
///                 partition: None,
///             });
///         }
///         ctx.forward(out);
///         Ok(())
///     }
/// }
///
/// let builder = TopologyBuilder::new();
/// let source = builder.add_source(
///     builder.next_name("SOURCE"),
///     vec![TopicName::External("in".into())],
/// );
/// let upper = builder.add_processor(
///     builder.next_name("UPPER"),
///     &[source],
///     Vec::new(),
///     Arc::new(|| Box::new(Upper) as Box<dyn Node>),
/// );
/// builder.add_sink(builder.next_name("SINK"), TopicName::External("out".into()), &[upper]);
/// let topology = builder.build().unwrap();
///
/// let driver = TopologyTestDriver::new(topology).unwrap();
/// let headers = vec![("trace".to_string(), Some(Bytes::from_static(b"t-1")))];
/// driver
///     .pipe_raw_with_headers("in", Some(b"k".to_vec()), Some(b"hello".to_vec()), 5, headers.clone())
///     .unwrap();
/// let out = driver.read_output_raw("out");
/// assert_eq!(out.len(), 1);
/// assert_eq!(out[0].value.as_deref(), Some(&b"HELLO"[..]));
/// assert_eq!((out[0].timestamp, &out[0].headers), (5, &headers));
/// assert_eq!(driver.output_topic_names(), vec!["out".to_string()]);
/// ```
#[derive(Clone, Default)]
pub struct TopologyBuilder {
    graph: Rc<RefCell<Graph>>,
}

impl std::fmt::Debug for TopologyBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TopologyBuilder")
            .field("nodes", &self.graph.borrow().len())
            .finish()
    }
}

impl TopologyBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn borrow(&self) -> Ref<'_, Graph> {
        self.graph.borrow()
    }

    pub(crate) fn borrow_mut(&self) -> RefMut<'_, Graph> {
        self.graph.borrow_mut()
    }

    /// A generated node name, `PREFIX-0000000007` as in Kafka Streams: the prefix and the
    /// graph's counter, which the DSL's operators share (each call takes the next number).
    pub fn next_name(&self, prefix: &str) -> String {
        self.borrow_mut().next_name(prefix)
    }

    /// A raw source reading `topics`: it forwards each batch as it was read, a
    /// `Vec<SourceRecord>` (tombstones and unkeyed records included, nothing decoded), and
    /// counts the records as processed. It does not move the task's stream time: the node
    /// that decodes the records must, by calling
    /// [`Context::observe_time`](crate::processor::Context::observe_time) with each
    /// record's event time (stream-time punctuations and windows depend on it).
    ///
    /// Internal topics (`TopicName::Internal`) must be declared with
    /// [`add_internal_topic`](Self::add_internal_topic).
    pub fn add_source(&self, name: impl Into<String>, topics: Vec<TopicName>) -> NodeId {
        let name = name.into();
        let mut graph = self.borrow_mut();
        if topics.is_empty() {
            graph.error(format!("source {name} reads no topics"));
        }
        let n = name.clone();
        graph.add_node(
            name,
            NodeKind::Source { topics },
            &[],
            Vec::new(),
            Arc::new(move || Box::new(RawSourceNode::new(&n)) as Box<dyn Node>),
        )
    }

    /// A processor under `parents` (in this order: a node forwards to its children in the
    /// order they were added), connected to the named `stores` (add them with
    /// [`add_store`](Self::add_store)), and made once per task by `factory`. Its input
    /// batches are whatever its parents forward.
    pub fn add_processor(
        &self,
        name: impl Into<String>,
        parents: &[NodeId],
        stores: Vec<String>,
        factory: NodeFactory,
    ) -> NodeId {
        let name = name.into();
        let mut graph = self.borrow_mut();
        if parents.is_empty() {
            graph.error(format!("processor {name} has no parents"));
        }
        graph.add_node(name, NodeKind::Processor, parents, stores, factory)
    }

    /// A raw sink under `parents`, writing to `topic` the `Vec<RawRecord>` batches they
    /// forward: key, value, timestamp and headers as they are, to the record's partition,
    /// or (`partition: None`) to the one Kafka's default partitioner picks for its key.
    /// An internal topic is written as `<application id>-<suffix>`, as the DSL's sinks do.
    pub fn add_sink(
        &self,
        name: impl Into<String>,
        topic: TopicName,
        parents: &[NodeId],
    ) -> NodeId {
        let name = name.into();
        let mut graph = self.borrow_mut();
        if parents.is_empty() {
            graph.error(format!("sink {name} has no parents"));
        }
        let (n, t) = (name.clone(), topic.clone());
        graph.add_node(
            name,
            NodeKind::Sink { topic: Some(topic) },
            parents,
            Vec::new(),
            Arc::new(move || Box::new(RawSinkNode::new(&n, t.clone())) as Box<dyn Node>),
        )
    }

    /// Adds a state store; processors name the stores they use when they are added.
    pub fn add_store(&self, spec: StoreSpec) {
        self.borrow_mut().add_store_spec(spec);
    }

    /// Declares an internal topic (a repartition topic, created by the runtime with as many
    /// partitions as Kafka Streams would give it) and returns its name for sources and
    /// sinks. Its real name is `<application id>-<suffix>`; Kafka Streams ends repartition
    /// topics' suffixes with `-repartition`.
    pub fn add_internal_topic(&self, suffix: impl Into<String>) -> TopicName {
        let suffix = suffix.into();
        self.borrow_mut().add_internal_topic(suffix.clone());
        TopicName::Internal(suffix)
    }

    /// Requires `topics` to have the same number of partitions (the runtime checks it, and
    /// sizes internal topics to match), because of `reason` (a join's name, for the error).
    /// Fewer than two topics require nothing.
    pub fn require_copartitioned(&self, topics: BTreeSet<TopicName>, reason: impl Into<String>) {
        self.borrow_mut()
            .require_copartitioned(topics, reason.into());
    }

    /// The topics read by the sources upstream of `node`, in its sub-topology (what a join
    /// of `node` with another node needs co-partitioned).
    pub fn upstream_topics(&self, node: NodeId) -> BTreeSet<TopicName> {
        self.borrow().upstream_topics(node)
    }

    /// The name of node `id`, or `None` if it is not in this topology.
    pub fn node_name(&self, id: NodeId) -> Option<String> {
        let graph = self.borrow();
        graph.contains(id).then(|| graph.node_name(id).to_string())
    }

    /// The number of nodes added so far (node ids are `0..node_count()`).
    pub fn node_count(&self) -> usize {
        self.borrow().len()
    }

    /// Records a problem: [`build`](Self::build) then fails with it (the first of them,
    /// and how many more there are).
    pub fn error(&self, message: impl Into<String>) {
        self.borrow_mut().error(message.into());
    }

    /// The topology, or the first problem found while building it. The builder stays
    /// usable: `build` takes a snapshot of the graph.
    pub fn build(&self) -> Result<Topology> {
        self.borrow().build()
    }
}

#[cfg(test)]
mod tests {
    /// The code of the first fenced block in `lines` (from the line after its opening fence
    /// to its closing one).
    fn fenced<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
        lines
            .skip_while(|l| !l.starts_with("```"))
            .skip(1)
            .take_while(|l| !l.starts_with("```"))
            .collect()
    }

    /// The untyped API's example in `docs/streams.md` is `TopologyBuilder`'s doc test, so
    /// the guide's example compiles and runs.
    #[test]
    fn the_guide_shows_the_doc_test() {
        let source = include_str!("topology_builder.rs");
        let doc = fenced(
            source
                .lines()
                .skip_while(|l| !l.starts_with("/// Builds a [`Topology`] node by node"))
                .take_while(|l| l.starts_with("///"))
                .map(|l| {
                    l.strip_prefix("/// ")
                        .unwrap_or(l.trim_start_matches("///"))
                }),
        );
        let guide = include_str!("../../docs/streams.md");
        let shown = fenced(
            guide
                .lines()
                .skip_while(|l| !l.contains("The example is TopologyBuilder's doc test")),
        );
        assert!(doc.len() > 20, "found the doc test: {doc:?}");
        assert_eq!(shown, doc);
    }
}
