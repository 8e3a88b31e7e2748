//! [`Plan`]: an application's topics resolved once at start: external inputs checked,
//! internal topics created (repartition topics and changelogs, configured for what they are
//! for) and sized, co-partitioning checked.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::backend::TopicKind;
use super::config::AppConfig;
use crate::error::{Error, Result};
use crate::topology::{TopicName, Topology};

/// Topic names and partition counts, resolved once at start.
pub(super) struct Plan {
    /// Resolved source topic -> sub-topology.
    pub(super) topic_sub: HashMap<String, usize>,
    /// Every resolved source topic.
    pub(super) source_topics: Vec<String>,
}

impl Plan {
    pub(super) fn new(topology: &Topology, config: &AppConfig) -> Result<Self> {
        let app = &config.application_id;
        let backend = &config.backend;
        // External inputs must exist; their partition counts size the internal topics.
        let mut external = BTreeMap::new();
        for sub in topology.subtopologies() {
            for topic in &sub.source_topics {
                if let TopicName::External(name) = topic {
                    let n = backend.partitions(name)?.ok_or_else(|| {
                        Error::Config(format!(
                            "input topic {name:?} does not exist on the {} backend; create it first",
                            backend.name()
                        ))
                    })?;
                    external.insert(name.clone(), n);
                }
            }
        }
        for (topic, wanted) in topology.internal_topic_partitions(app, &external)? {
            let name = topic.resolve(app);
            backend.create_topic(&name, wanted, TopicKind::Plain)?;
            // An internal topic left by an earlier run with other input sizes would send
            // records to the wrong tasks (Kafka Streams refuses these too).
            let actual = backend.partitions(&name)?.unwrap_or(0);
            if actual != wanted {
                return Err(Error::Topology(format!(
                    "internal topic {name} has {actual} partitions but the topology needs \
                     {wanted} (the input topics changed size?); delete it, with the \
                     application's state, to start over"
                )));
            }
        }
        for group in topology.copartition_groups() {
            let mut counts = Vec::new();
            for topic in &group.topics {
                let name = topic.resolve(app);
                let n = backend.partitions(&name)?.unwrap_or(0);
                counts.push((name, n));
            }
            if counts.windows(2).any(|w| w[0].1 != w[1].1) {
                let listed: Vec<String> = counts
                    .iter()
                    .map(|(t, n)| format!("{t} ({n} partitions)"))
                    .collect();
                return Err(Error::Topology(format!(
                    "{} needs its input topics co-partitioned, but they differ: {}; give them the \
                     same number of partitions (and the same partitioner), or repartition one side",
                    group.reason,
                    listed.join(", ")
                )));
            }
        }
        let mut topic_sub = HashMap::new();
        for sub in topology.subtopologies() {
            let mut task_partitions = 1;
            for topic in &sub.source_topics {
                let name = topic.resolve(app);
                task_partitions = task_partitions.max(backend.partitions(&name)?.unwrap_or(1));
                topic_sub.insert(name, sub.id);
            }
            for store in &sub.stores {
                let changelog = changelog_topic(app, store);
                let kind = topology
                    .store(store)
                    .map_or(TopicKind::Compacted, TopicKind::changelog_for);
                backend.create_topic(&changelog, task_partitions, kind)?;
            }
        }
        let source_topics = topic_sub
            .keys()
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        Ok(Self {
            topic_sub,
            source_topics,
        })
    }
}

/// The changelog topic of a store.
pub fn changelog_topic(application_id: &str, store: &str) -> String {
    format!("{application_id}-{store}-changelog")
}
