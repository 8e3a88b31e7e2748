//! Topic administration over the Kafka protocol: CreateTopics, DeleteTopics and
//! CreatePartitions ([`topics`]), DescribeConfigs and IncrementalAlterConfigs ([`configs`]),
//! and DeleteRecords ([`records`]), all on top of the [`crate::Broker`] admin API.
//!
//! Eddy is a single broker, so replication factors other than 1 and replica assignments that
//! name anything but this node are refused rather than silently ignored. Every refusal is a
//! Kafka error code, with a message wherever the negotiated version has a field for one.

mod configs;
mod records;
mod topics;

use std::collections::BTreeMap;

use kafka_protocol::error::ResponseError;

pub(crate) use configs::{describe_configs, incremental_alter_configs};
pub(crate) use records::delete_records;
pub(crate) use topics::{create_partitions, create_topics, delete_topics};

use super::error_code;
use crate::config::TopicConfig;
use crate::error::Error;

/// Why one topic, partition or config resource of an admin request was refused.
#[derive(Debug)]
struct Failure {
    code: i16,
    message: String,
}

impl Failure {
    fn new(error: ResponseError, message: impl Into<String>) -> Self {
        Self {
            code: error.code(),
            message: message.into(),
        }
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Self {
            code: error_code(&error),
            message: error.to_string(),
        }
    }
}

/// Kafka's config sources (`DescribeConfigsResponse` `ConfigSource`).
mod source {
    /// Set on the topic itself.
    pub(super) const DYNAMIC_TOPIC_CONFIG: i8 = 1;
    /// Set in the broker's own (start-up) configuration.
    pub(super) const STATIC_BROKER_CONFIG: i8 = 4;
    /// The built-in default.
    pub(super) const DEFAULT_CONFIG: i8 = 5;
}

/// Kafka's config types (`DescribeConfigsResponse` `ConfigType`, v3+).
mod config_type {
    pub(super) const UNKNOWN: i8 = 0;
    pub(super) const BOOLEAN: i8 = 1;
    pub(super) const STRING: i8 = 2;
    pub(super) const INT: i8 = 3;
    pub(super) const LONG: i8 = 5;
    pub(super) const LIST: i8 = 7;
}

/// What the protocol says about one topic config key.
struct TopicKey {
    /// The topic-level key.
    name: &'static str,
    /// The broker-level key whose value is the default (Kafka's synonym).
    broker_synonym: &'static str,
    /// A [`config_type`] value.
    config_type: i8,
    /// One line for DescribeConfigs' documentation field.
    doc: &'static str,
}

/// Every key [`TopicConfig::entries`] reports, with its type, broker synonym and doc.
const TOPIC_KEYS: &[TopicKey] = &[
    TopicKey {
        name: "cleanup.policy",
        broker_synonym: "log.cleanup.policy",
        config_type: config_type::LIST,
        doc: "How old data goes: \"delete\" drops old segments by retention.ms and \
              retention.bytes, \"compact\" keeps the latest record per key; both may be set.",
    },
    TopicKey {
        name: "delete.retention.ms",
        broker_synonym: "log.cleaner.delete.retention.ms",
        config_type: config_type::LONG,
        doc: "How long a tombstone (a record with a null value) survives compaction.",
    },
    TopicKey {
        name: "index.interval.bytes",
        broker_synonym: "log.index.interval.bytes",
        config_type: config_type::INT,
        doc: "Bytes of log between entries of the sparse offset index.",
    },
    TopicKey {
        name: "max.message.bytes",
        broker_synonym: "message.max.bytes",
        config_type: config_type::INT,
        doc: "The largest record batch the topic accepts.",
    },
    TopicKey {
        name: "min.compaction.lag.ms",
        broker_synonym: "log.cleaner.min.compaction.lag.ms",
        config_type: config_type::LONG,
        doc: "Records younger than this are never compacted away.",
    },
    TopicKey {
        name: "retention.bytes",
        broker_synonym: "log.retention.bytes",
        config_type: config_type::LONG,
        doc: "Oldest segments are deleted while a partition is larger than this; -1 is unbounded.",
    },
    TopicKey {
        name: "retention.ms",
        broker_synonym: "log.retention.ms",
        config_type: config_type::LONG,
        doc: "Segments whose newest record is older than this are deleted; -1 keeps them forever.",
    },
    TopicKey {
        name: "segment.bytes",
        broker_synonym: "log.segment.bytes",
        config_type: config_type::INT,
        doc: "A partition rolls to a new segment file at this size.",
    },
    TopicKey {
        name: "segment.ms",
        broker_synonym: "log.roll.ms",
        config_type: config_type::LONG,
        doc: "A partition rolls to a new segment when its record timestamps span more than this.",
    },
];

fn topic_key(name: &str) -> Option<&'static TopicKey> {
    TOPIC_KEYS.iter().find(|k| k.name == name)
}

/// The built-in topic defaults, by Kafka key.
fn topic_defaults() -> BTreeMap<&'static str, String> {
    TopicConfig::default().entries()
}

/// Where a topic config value comes from: the default, or set on the topic.
fn topic_config_source(defaults: &BTreeMap<&'static str, String>, key: &str, value: &str) -> i8 {
    if defaults.get(key).is_some_and(|d| d == value) {
        source::DEFAULT_CONFIG
    } else {
        source::DYNAMIC_TOPIC_CONFIG
    }
}
