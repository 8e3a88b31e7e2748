//! The engine's properties: ksqlDB's `ksql.*` settings that change planning (default
//! formats, topic name prefix, service id, sink partitions) and the `ksql.streams.*` /
//! plain Kafka Streams settings passed to the runtime, with ksqlDB's defaults.

use std::collections::BTreeMap;

/// Default formats for sources that do not name one.
pub const DEFAULT_KEY_FORMAT: &str = "ksql.persistence.default.format.key";
/// The default value format (none: statements must name one).
pub const DEFAULT_VALUE_FORMAT: &str = "ksql.persistence.default.format.value";
/// Whether single value columns are wrapped by default.
pub const WRAP_SINGLE_VALUES: &str = "ksql.persistence.wrap.single.values";
/// A prefix for sink topics named after their sources.
pub const OUTPUT_TOPIC_PREFIX: &str = "ksql.output.topic.name.prefix";
/// The service id: it prefixes internal topics and query application ids.
pub const SERVICE_ID: &str = "ksql.service.id";
/// Partitions of sink topics when neither the statement nor the source decides.
pub const SINK_PARTITIONS: &str = "ksql.sink.partitions";
/// Replicas of sink topics.
pub const SINK_REPLICAS: &str = "ksql.sink.replicas";
/// Where transient queries start: `earliest` or `latest`.
pub const AUTO_OFFSET_RESET: &str = "auto.offset.reset";
/// SUBSTRING's pre-0.6 argument semantics.
pub const SUBSTRING_LEGACY: &str = "ksql.functions.substring.legacy.args";

/// Properties, by name. Unset properties take ksqlDB's defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    values: BTreeMap<String, String>,
}

impl Config {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// These properties over the defaults.
    pub fn with(values: BTreeMap<String, String>) -> Self {
        Self { values }
    }

    /// Sets a property.
    pub fn set(&mut self, name: &str, value: &str) {
        self.values.insert(name.to_string(), value.to_string());
    }

    /// Removes a property.
    pub fn unset(&mut self, name: &str) {
        self.values.remove(name);
    }

    /// A property as set (no default).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .or_else(|| {
                // `ksql.streams.x` and `x` name the same Kafka Streams setting.
                name.strip_prefix("ksql.streams.")
                    .and_then(|plain| self.values.get(plain))
            })
            .map(String::as_str)
    }

    /// Every property set, by name.
    pub fn values(&self) -> &BTreeMap<String, String> {
        &self.values
    }

    /// These properties with `overrides` on top.
    pub fn overlay(&self, overrides: &BTreeMap<String, String>) -> Self {
        let mut values = self.values.clone();
        values.extend(overrides.iter().map(|(k, v)| (k.clone(), v.clone())));
        Self { values }
    }

    /// The service id (default `default_`).
    pub fn service_id(&self) -> &str {
        self.get(SERVICE_ID).unwrap_or("default_")
    }

    /// The default key format (default KAFKA).
    pub fn default_key_format(&self) -> &str {
        self.get(DEFAULT_KEY_FORMAT).unwrap_or("KAFKA")
    }

    /// The default value format, if one is configured.
    pub fn default_value_format(&self) -> Option<&str> {
        self.get(DEFAULT_VALUE_FORMAT)
    }

    /// Whether single value columns are wrapped by default (default true).
    pub fn wrap_single_values(&self) -> Option<bool> {
        self.get(WRAP_SINGLE_VALUES)
            .map(|v| v.eq_ignore_ascii_case("true"))
    }

    /// The prefix of sink topics named after their sink (default none).
    pub fn output_topic_prefix(&self) -> &str {
        self.get(OUTPUT_TOPIC_PREFIX).unwrap_or("")
    }

    /// A boolean property.
    pub fn flag(&self, name: &str) -> bool {
        self.get(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    /// An integer property.
    pub fn int(&self, name: &str) -> Option<i64> {
        self.get(name).and_then(|v| v.trim().parse().ok())
    }

    /// The internal topic prefix, `_confluent-ksql-<service id>`.
    pub fn internal_prefix(&self) -> String {
        format!("_confluent-ksql-{}", self.service_id())
    }

    /// The application id of a persistent query (ksqlDB's `QueryApplicationId`).
    pub fn application_id(&self, query_id: &str) -> String {
        format!("{}query_{query_id}", self.internal_prefix())
    }
}
