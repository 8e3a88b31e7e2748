//! A task: one sub-topology on one input partition. It owns its node instances and runs
//! each input batch through the graph depth first, then fires due punctuations.

use std::collections::HashMap;
use std::fmt;

use crate::error::{Error, Result};
use crate::processor::{
    AnyBatch, Context, InitContext, Node, NodeId, PunctuationType, Schedule, StoreHandle,
    TaskCounters, TaskState,
};
use crate::record::{SinkRecord, SourceRecord};
use crate::topology::{NodeKind, Topology};

/// A task's identity: `<sub-topology>_<partition>`, as Kafka Streams names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId {
    /// The sub-topology.
    pub subtopology: usize,
    /// The input partition.
    pub partition: i32,
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_{}", self.subtopology, self.partition)
    }
}

pub(crate) struct Task {
    pub id: TaskId,
    names: Vec<String>,
    nodes: Vec<Option<Box<dyn Node>>>,
    children: Vec<Vec<NodeId>>,
    sources: HashMap<String, NodeId>,
    queue: Vec<(NodeId, AnyBatch)>,
    state: TaskState,
    schedules: Vec<Schedule>,
    stores: HashMap<String, StoreHandle>,
    /// The task's nodes, parents before children (node ids are assigned in build order).
    order: Vec<NodeId>,
}

impl Task {
    /// Instantiates and initialises the nodes of a sub-topology, with its stores open.
    pub fn new(
        topology: &Topology,
        id: TaskId,
        application_id: &str,
        stores: HashMap<String, StoreHandle>,
    ) -> Result<Self> {
        let sub = topology
            .subtopologies()
            .get(id.subtopology)
            .ok_or_else(|| {
                Error::topology(format!(
                    "no sub-topology {} in the topology",
                    id.subtopology
                ))
            })?;
        let n = topology.nodes.len();
        let mut nodes: Vec<Option<Box<dyn Node>>> = (0..n).map(|_| None).collect();
        let mut sources = HashMap::new();
        for &node in &sub.nodes {
            let spec = &topology.nodes[node];
            nodes[node] = Some((spec.factory)());
            if let NodeKind::Source { topics } = &spec.kind {
                for topic in topics {
                    sources.insert(topic.resolve(application_id), node);
                }
            }
        }
        let mut task = Self {
            id,
            names: topology.nodes.iter().map(|n| n.name.clone()).collect(),
            nodes,
            children: topology.nodes.iter().map(|n| n.children.clone()).collect(),
            sources,
            queue: Vec::new(),
            state: TaskState {
                stream_time: i64::MIN,
                partition: id.partition,
                ..TaskState::default()
            },
            schedules: Vec::new(),
            stores,
            order: {
                let mut order = sub.nodes.clone();
                order.sort_unstable();
                order
            },
        };
        for &node in &sub.nodes {
            let mut ctx = InitContext {
                node,
                node_name: &task.names[node],
                application_id,
                partition: id.partition,
                stores: &task.stores,
                schedules: &mut task.schedules,
            };
            if let Some(instance) = task.nodes[node].as_mut() {
                instance.init(&mut ctx)?;
            }
        }
        Ok(task)
    }

    /// The topics this task reads (resolved names).
    pub fn source_topics(&self) -> impl Iterator<Item = &String> {
        self.sources.keys()
    }

    /// Runs a batch of records of `topic` through the graph.
    pub fn process(&mut self, topic: &str, records: Vec<SourceRecord>) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let source = *self.sources.get(topic).ok_or_else(|| {
            Error::topology(format!("task {} does not read topic {topic:?}", self.id))
        })?;
        self.queue.push((source, Box::new(records)));
        self.drain()?;
        self.punctuate(PunctuationType::StreamTime, self.state.stream_time)
    }

    /// Fires wall-clock punctuations due at `now_ms`.
    pub fn punctuate_wall_clock(&mut self, now_ms: i64) -> Result<()> {
        self.state.wall_clock_ms = now_ms;
        self.punctuate(PunctuationType::WallClock, now_ms)
    }

    fn punctuate(&mut self, kind: PunctuationType, now: i64) -> Result<()> {
        if now == i64::MIN {
            return Ok(());
        }
        for i in 0..self.schedules.len() {
            let schedule = &mut self.schedules[i];
            if schedule.kind != kind {
                continue;
            }
            let due = match schedule.next_ms {
                // As Kafka Streams: stream-time punctuation fires as soon as there is data,
                // wall-clock punctuation first once its interval has passed.
                None => {
                    schedule.next_ms = Some(now + schedule.interval_ms);
                    kind == PunctuationType::StreamTime
                }
                Some(next) if now >= next => {
                    schedule.next_ms = Some(now + schedule.interval_ms);
                    true
                }
                Some(_) => false,
            };
            if !due {
                continue;
            }
            let node = schedule.node;
            self.run_node(node, |instance, ctx| instance.punctuate(kind, now, ctx))?;
        }
        Ok(())
    }

    /// Calls `f` on node `node` (if it is in this task), then processes what it forwarded.
    fn run_node(
        &mut self,
        node: NodeId,
        f: impl FnOnce(&mut dyn Node, &mut Context<'_>) -> Result<()>,
    ) -> Result<()> {
        let before = self.queue.len();
        let Some(instance) = self.nodes[node].as_mut() else {
            return Ok(());
        };
        let mut ctx = Context {
            children: &self.children[node],
            queue: &mut self.queue,
            state: &mut self.state,
        };
        f(instance.as_mut(), &mut ctx).map_err(|e| in_node(e, &self.names[node]))?;
        self.queue[before..].reverse();
        self.drain()
    }

    /// Processes queued batches depth first: a node's outputs are processed (first child
    /// first) before anything queued earlier.
    fn drain(&mut self) -> Result<()> {
        while let Some((node, batch)) = self.queue.pop() {
            let before = self.queue.len();
            let instance = self.nodes[node].as_mut().ok_or_else(|| {
                Error::topology(format!(
                    "node {} is not part of task {}",
                    self.names[node], self.id
                ))
            })?;
            let mut ctx = Context {
                children: &self.children[node],
                queue: &mut self.queue,
                state: &mut self.state,
            };
            instance
                .process(batch, &mut ctx)
                .map_err(|e| in_node(e, &self.names[node]))?;
            self.queue[before..].reverse();
        }
        Ok(())
    }

    /// Sets the bound of each aggregation's record cache (0, the default: no caching).
    pub fn set_record_cache(&mut self, budget: std::sync::Arc<eddy_state::CacheBudget>) {
        self.state.record_cache = Some(budget);
    }

    /// Makes every node forward what it holds back, parents first (a parent's flush may
    /// fill a child's cache, which is flushed after it). Called before each commit.
    pub fn flush(&mut self) -> Result<()> {
        for i in 0..self.order.len() {
            self.run_node(self.order[i], |instance, ctx| instance.flush(ctx))?;
        }
        Ok(())
    }

    /// Takes the records sinks have queued since the last call.
    pub fn take_output(&mut self) -> Vec<SinkRecord> {
        std::mem::take(&mut self.state.output)
    }

    /// The task's counters.
    pub fn counters(&self) -> &TaskCounters {
        &self.state.counters
    }
}

/// Adds the node's name to an error that lacks context.
fn in_node(error: Error, node: &str) -> Error {
    match error {
        Error::Processor { .. } | Error::Topology(_) => error,
        other => Error::Processor {
            node: node.to_string(),
            message: other.to_string(),
        },
    }
}
