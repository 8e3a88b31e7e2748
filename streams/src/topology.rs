//! [`Topology`]: the graph of sources, processors, stores and sinks that both front ends
//! (the typed DSL and, later, SQL) build, through one [`TopologyBuilder`], and the runtime
//! runs.
//!
//! Nodes are created by factories, one instance per task. The graph splits into
//! *sub-topologies*: the parts connected by edges or shared stores; topics (repartition
//! topics included) are the only links between them. A task is one sub-topology on one
//! partition of its input topics.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::{self, Write as _};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::processor::{Node, NodeId};
pub use crate::topology_builder::TopologyBuilder;

/// Makes one instance of a node per task.
pub type NodeFactory = Arc<dyn Fn() -> Box<dyn Node> + Send + Sync>;

/// A topic a topology reads or writes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TopicName {
    /// A user topic, by its name.
    External(String),
    /// An internal topic (repartition), by its suffix: the real name is
    /// `<application id>-<suffix>`.
    Internal(String),
}

impl TopicName {
    /// The topic's name in an application.
    pub fn resolve(&self, application_id: &str) -> String {
        match self {
            Self::External(name) => name.clone(),
            Self::Internal(suffix) => format!("{application_id}-{suffix}"),
        }
    }

    fn describe(&self) -> String {
        match self {
            Self::External(name) => name.clone(),
            Self::Internal(suffix) => suffix.clone(),
        }
    }
}

/// What kind of node this is, for `describe` and for wiring.
#[derive(Debug, Clone)]
pub enum NodeKind {
    /// Reads topics.
    Source {
        /// The topics.
        topics: Vec<TopicName>,
    },
    /// Transforms records.
    Processor,
    /// Writes a topic.
    Sink {
        /// The topic, or `None` when chosen per record.
        topic: Option<TopicName>,
    },
}

/// A state store a topology needs in each task that uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSpec {
    /// The store's name, unique in the topology; its changelog topic is
    /// `<application id>-<name>-changelog`.
    pub name: String,
    /// Kind and retention.
    pub kind: StoreKind,
    /// Whether the store is backed by a changelog topic (default yes).
    pub logged: bool,
    /// For a global table's store: the topic it copies, all partitions, in every task (kept
    /// up to date by the runtime's global thread; the topic is its changelog).
    pub global_topic: Option<String>,
    /// Whether values are stored behind an 8-byte big-endian record time (Kafka Streams'
    /// `ValueAndTimestamp`: time- and sliding-window aggregates keep their newest record
    /// time so).
    /// Typed reads (interactive queries, the test driver) skip it.
    pub timestamped: bool,
}

impl StoreSpec {
    /// A store of this kind, backed by a changelog topic, not global, not timestamped.
    pub fn new(name: impl Into<String>, kind: StoreKind) -> Self {
        Self {
            name: name.into(),
            kind,
            logged: true,
            global_topic: None,
            timestamped: false,
        }
    }

    /// A key-value store, backed by a changelog topic.
    pub fn key_value(name: impl Into<String>) -> Self {
        Self::new(name, StoreKind::KeyValue)
    }

    /// A window store keeping windows `retention_ms` behind stream time, backed by a
    /// changelog topic.
    pub fn window(name: impl Into<String>, retention_ms: i64) -> Self {
        Self::new(name, StoreKind::Window { retention_ms })
    }

    /// A session store keeping sessions `retention_ms` behind stream time, backed by a
    /// changelog topic.
    pub fn session(name: impl Into<String>, retention_ms: i64) -> Self {
        Self::new(name, StoreKind::Session { retention_ms })
    }
}

/// The kind of a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// Key-value.
    KeyValue,
    /// Windows, kept for `retention_ms` behind stream time.
    Window {
        /// Retention in milliseconds.
        retention_ms: i64,
    },
    /// Sessions, kept for `retention_ms` behind stream time.
    Session {
        /// Retention in milliseconds.
        retention_ms: i64,
    },
}

pub(crate) struct NodeSpec {
    pub name: String,
    pub kind: NodeKind,
    pub parents: Vec<NodeId>,
    pub children: Vec<NodeId>,
    pub stores: Vec<String>,
    pub factory: NodeFactory,
}

/// Topics of one sub-topology that must have the same number of partitions, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopartitionGroup {
    /// The topics.
    pub topics: BTreeSet<TopicName>,
    /// What needs them co-partitioned (a join's name).
    pub reason: String,
}

/// A part of a topology connected by edges or shared stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubTopology {
    /// Its index, in the order of its first node.
    pub id: usize,
    /// Its nodes, in creation order (parents before children).
    pub nodes: Vec<NodeId>,
    /// The topics its sources read.
    pub source_topics: BTreeSet<TopicName>,
    /// The stores its nodes use (global stores excepted: every task has those).
    pub stores: BTreeSet<String>,
}

/// A repartition topic the topology needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicKind {
    /// The suffix after `<application id>-`.
    pub suffix: String,
}

/// A graph of sources, processors, stores and sinks.
pub struct Topology {
    pub(crate) nodes: Vec<NodeSpec>,
    pub(crate) stores: Vec<StoreSpec>,
    pub(crate) internal_topics: Vec<TopicKind>,
    pub(crate) copartition: Vec<CopartitionGroup>,
    pub(crate) subtopologies: Vec<SubTopology>,
}

impl fmt::Debug for Topology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Topology {
    pub(crate) fn new(
        nodes: Vec<NodeSpec>,
        stores: Vec<StoreSpec>,
        internal_topics: Vec<TopicKind>,
        copartition: Vec<CopartitionGroup>,
    ) -> Result<Self> {
        let mut topology = Self {
            nodes,
            stores,
            internal_topics,
            copartition,
            subtopologies: Vec::new(),
        };
        topology.validate()?;
        topology.subtopologies = topology.split();
        Ok(topology)
    }

    fn validate(&self) -> Result<()> {
        let mut seen = BTreeSet::new();
        for store in &self.stores {
            if !seen.insert(store.name.as_str()) {
                return Err(Error::topology(format!(
                    "store name {:?} is used twice; store names must be unique",
                    store.name
                )));
            }
        }
        let mut names = BTreeSet::new();
        let mut topics: HashMap<&TopicName, &str> = HashMap::new();
        for node in &self.nodes {
            if !names.insert(node.name.as_str()) {
                return Err(Error::topology(format!(
                    "processor name {:?} is used twice",
                    node.name
                )));
            }
            for store in &node.stores {
                if !seen.contains(store.as_str()) {
                    return Err(Error::topology(format!(
                        "{} uses store {store:?}, which was never added",
                        node.name
                    )));
                }
            }
            if let NodeKind::Source { topics: ts } = &node.kind {
                for topic in ts {
                    if let Some(other) = topics.insert(topic, &node.name) {
                        return Err(Error::topology(format!(
                            "topic {:?} is read by two sources ({other} and {}); read it once \
                             and reuse the stream",
                            topic.describe(),
                            node.name
                        )));
                    }
                }
            }
        }
        if self.nodes.is_empty() {
            return Err(Error::topology("the topology has no nodes; add a source"));
        }
        Ok(())
    }

    /// Union-find over edges and shared stores.
    fn split(&self) -> Vec<SubTopology> {
        let n = self.nodes.len();
        let mut parent: Vec<usize> = (0..n).collect();
        fn find(parent: &mut [usize], mut x: usize) -> usize {
            while parent[x] != x {
                parent[x] = parent[parent[x]];
                x = parent[x];
            }
            x
        }
        let union = |parent: &mut Vec<usize>, a: usize, b: usize| {
            let (ra, rb) = (find(parent, a), find(parent, b));
            if ra != rb {
                parent[ra.max(rb)] = ra.min(rb);
            }
        };
        let global: BTreeSet<&str> = self
            .stores
            .iter()
            .filter(|s| s.global_topic.is_some())
            .map(|s| s.name.as_str())
            .collect();
        let mut store_owner: HashMap<&str, NodeId> = HashMap::new();
        for (id, node) in self.nodes.iter().enumerate() {
            for &child in &node.children {
                union(&mut parent, id, child);
            }
            for store in node.stores.iter().filter(|s| !global.contains(s.as_str())) {
                if let Some(&other) = store_owner.get(store.as_str()) {
                    union(&mut parent, id, other);
                } else {
                    store_owner.insert(store, id);
                }
            }
        }
        let mut groups: BTreeMap<usize, Vec<NodeId>> = BTreeMap::new();
        for id in 0..n {
            let root = find(&mut parent, id);
            groups.entry(root).or_default().push(id);
        }
        groups
            .into_values()
            .enumerate()
            .map(|(index, nodes)| {
                let mut source_topics = BTreeSet::new();
                let mut stores = BTreeSet::new();
                for &id in &nodes {
                    let node = &self.nodes[id];
                    if let NodeKind::Source { topics } = &node.kind {
                        source_topics.extend(topics.iter().cloned());
                    }
                    stores.extend(
                        node.stores
                            .iter()
                            .filter(|s| !global.contains(s.as_str()))
                            .cloned(),
                    );
                }
                SubTopology {
                    id: index,
                    nodes,
                    source_topics,
                    stores,
                }
            })
            .collect()
    }

    /// The sub-topologies, in order.
    pub fn subtopologies(&self) -> &[SubTopology] {
        &self.subtopologies
    }

    /// The topics a sub-topology's sinks write (those chosen per record excepted).
    pub fn sink_topics(&self, sub: &SubTopology) -> BTreeSet<TopicName> {
        sub.nodes
            .iter()
            .filter_map(|&id| match &self.nodes[id].kind {
                NodeKind::Sink { topic } => topic.clone(),
                _ => None,
            })
            .collect()
    }

    /// The stores.
    pub fn stores(&self) -> &[StoreSpec] {
        &self.stores
    }

    /// A store by name.
    pub fn store(&self, name: &str) -> Option<&StoreSpec> {
        self.stores.iter().find(|s| s.name == name)
    }

    /// The stores of global tables.
    pub fn global_stores(&self) -> impl Iterator<Item = &StoreSpec> {
        self.stores.iter().filter(|s| s.global_topic.is_some())
    }

    /// The repartition topics the topology needs.
    pub fn internal_topics(&self) -> &[TopicKind] {
        &self.internal_topics
    }

    /// Groups of topics that joins need co-partitioned.
    pub fn copartition_groups(&self) -> &[CopartitionGroup] {
        &self.copartition
    }

    /// The partition count of every internal topic, as Kafka Streams sizes them: a topic
    /// that must be co-partitioned with external topics gets their count (directly, or
    /// through a group of internal topics co-partitioned with such a topic); any other gets
    /// the largest count among the input topics of the sub-topologies that write into it,
    /// resolved to a fixed point because internal topics feed each other; internal topics
    /// co-partitioned only with each other all get the largest of their counts.
    ///
    /// `external` holds the partition count of every external input topic. Fails when
    /// co-partitioned external topics differ, or when an internal topic cannot be sized.
    pub fn internal_topic_partitions(
        &self,
        application_id: &str,
        external: &BTreeMap<String, i32>,
    ) -> Result<BTreeMap<TopicName, i32>> {
        let mut counts: BTreeMap<TopicName, i32> = BTreeMap::new();
        let count = |counts: &BTreeMap<TopicName, i32>, topic: &TopicName| match topic {
            TopicName::External(name) => external.get(name).copied(),
            TopicName::Internal(_) => counts.get(topic).copied(),
        };
        // Pinned: fixed by co-partitioning with an external topic, directly or through
        // other pinned internal topics.
        let mut pinned: BTreeSet<TopicName> = BTreeSet::new();
        loop {
            let mut changed = false;
            for group in &self.copartition {
                let externals: Vec<(String, i32)> = group
                    .topics
                    .iter()
                    .filter_map(|t| match t {
                        TopicName::External(name) => Some((name.clone(), external.get(name)?)),
                        TopicName::Internal(_) => None,
                    })
                    .map(|(name, &n)| (name, n))
                    .collect();
                if externals.windows(2).any(|w| w[0].1 != w[1].1) {
                    let listed: Vec<String> = externals
                        .iter()
                        .map(|(t, n)| format!("{t} ({n} partitions)"))
                        .collect();
                    return Err(Error::topology(format!(
                        "{} needs its input topics co-partitioned, but they differ: {}; give \
                         them the same number of partitions (and the same partitioner), or \
                         repartition one side",
                        group.reason,
                        listed.join(", ")
                    )));
                }
                let target = externals.first().map(|(_, n)| *n).or_else(|| {
                    group
                        .topics
                        .iter()
                        .find(|t| pinned.contains(*t))
                        .and_then(|t| counts.get(t).copied())
                });
                let Some(target) = target else { continue };
                for topic in &group.topics {
                    if matches!(topic, TopicName::Internal(_)) && pinned.insert(topic.clone()) {
                        counts.insert(topic.clone(), target);
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
        // The rest grow to the largest input of their writers (and of their group) until
        // nothing changes; counts only grow and are bounded, so this ends.
        loop {
            let mut changed = false;
            let mut raise = |counts: &mut BTreeMap<TopicName, i32>, topic: &TopicName, n: i32| {
                if matches!(topic, TopicName::Internal(_))
                    && !pinned.contains(topic)
                    && counts.get(topic).is_none_or(|&m| m < n)
                {
                    counts.insert(topic.clone(), n);
                    changed = true;
                }
            };
            for sub in &self.subtopologies {
                let inputs = sub.source_topics.iter().filter_map(|t| count(&counts, t));
                let Some(n) = inputs.max() else { continue };
                for topic in self.sink_topics(sub) {
                    raise(&mut counts, &topic, n);
                }
            }
            for group in &self.copartition {
                let Some(n) = group.topics.iter().filter_map(|t| count(&counts, t)).max() else {
                    continue;
                };
                for topic in &group.topics {
                    raise(&mut counts, topic, n);
                }
            }
            if !changed {
                break;
            }
        }
        let declared: BTreeSet<TopicName> = self
            .internal_topics
            .iter()
            .map(|t| TopicName::Internal(t.suffix.clone()))
            .collect();
        counts.retain(|t, _| declared.contains(t));
        if let Some(missing) = declared.iter().find(|t| !counts.contains_key(*t)) {
            return Err(Error::topology(format!(
                "cannot choose a partition count for internal topic {}: no sub-topology that \
                 writes to it reads a topic of known size",
                missing.resolve(application_id)
            )));
        }
        Ok(counts)
    }

    /// Every topic the topology reads, resolved for an application.
    pub fn source_topics(&self, application_id: &str) -> Vec<String> {
        self.subtopologies
            .iter()
            .flat_map(|s| s.source_topics.iter())
            .map(|t| t.resolve(application_id))
            .collect()
    }

    /// The topology in Kafka Streams' `describe()` format.
    ///
    /// ```
    /// use eddy_streams::{StreamsBuilder, serdes::Serdes};
    /// let builder = StreamsBuilder::new();
    /// builder
    ///     .stream("in", Serdes::string(), Serdes::string())
    ///     .filter(|_, v| !v.is_empty())
    ///     .to("out");
    /// let topology = builder.build().unwrap();
    /// assert_eq!(
    ///     topology.describe(),
    ///     "Topologies:\n   Sub-topology: 0\n\
    ///     \x20   Source: KSTREAM-SOURCE-0000000000 (topics: [in])\n\
    ///     \x20     --> KSTREAM-FILTER-0000000001\n\
    ///     \x20   Processor: KSTREAM-FILTER-0000000001 (stores: [])\n\
    ///     \x20     --> KSTREAM-SINK-0000000002\n\
    ///     \x20     <-- KSTREAM-SOURCE-0000000000\n\
    ///     \x20   Sink: KSTREAM-SINK-0000000002 (topic: out)\n\
    ///     \x20     <-- KSTREAM-FILTER-0000000001\n\n"
    /// );
    /// ```
    pub fn describe(&self) -> String {
        let mut out = String::from("Topologies:\n");
        let names = |ids: &[NodeId]| -> String {
            if ids.is_empty() {
                "none".to_string()
            } else {
                ids.iter()
                    .map(|&id| self.nodes[id].name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        for sub in &self.subtopologies {
            let _ = writeln!(out, "   Sub-topology: {}", sub.id);
            for &id in &sub.nodes {
                let node = &self.nodes[id];
                match &node.kind {
                    NodeKind::Source { topics } => {
                        let topics: Vec<String> = topics.iter().map(TopicName::describe).collect();
                        let _ = writeln!(
                            out,
                            "    Source: {} (topics: [{}])",
                            node.name,
                            topics.join(", ")
                        );
                        let _ = writeln!(out, "      --> {}", names(&node.children));
                    }
                    NodeKind::Processor => {
                        let _ = writeln!(
                            out,
                            "    Processor: {} (stores: [{}])",
                            node.name,
                            node.stores.join(", ")
                        );
                        let _ = writeln!(out, "      --> {}", names(&node.children));
                        let _ = writeln!(out, "      <-- {}", names(&node.parents));
                    }
                    NodeKind::Sink { topic } => {
                        let topic = topic
                            .as_ref()
                            .map_or("<chosen per record>".to_string(), TopicName::describe);
                        let _ = writeln!(out, "    Sink: {} (topic: {topic})", node.name);
                        let _ = writeln!(out, "      <-- {}", names(&node.parents));
                    }
                }
            }
            out.push('\n');
        }
        out
    }
}
