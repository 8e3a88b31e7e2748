//! DescribeConfigs and IncrementalAlterConfigs.
//!
//! Topic configs are the keys of [`TopicConfig::entries`]: each is reported as set on the topic
//! (DYNAMIC_TOPIC_CONFIG) when it differs from the built-in default, else as the default, with
//! the broker-level key it defaults from as a synonym. The broker resource describes a small,
//! read-only set: how this broker was started and the topic defaults it applies. Broker
//! configs cannot be altered at runtime.

use std::collections::{HashMap, HashSet};

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::incremental_alter_configs_request::AlterConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{
    DescribeConfigsRequest, DescribeConfigsResponse, IncrementalAlterConfigsRequest,
    IncrementalAlterConfigsResponse,
};

use super::{
    Failure, TOPIC_KEYS, config_type, source, topic_config_source, topic_defaults, topic_key,
};
use crate::broker::is_internal_topic;
use crate::config::TOPIC_CONFIG_KEYS;
use crate::server::apis::str_bytes;
use crate::server::dispatch::RequestContext;

/// Kafka's `ConfigResource.Type` for a topic.
const TOPIC: i8 = 2;
/// Kafka's `ConfigResource.Type` for a broker.
const BROKER: i8 = 4;

/// IncrementalAlterConfigs operations (`AlterConfigOp.OpType`).
const SET: i8 = 0;
const DELETE: i8 = 1;
const APPEND: i8 = 2;
const SUBTRACT: i8 = 3;

/// One config as DescribeConfigs reports it.
struct Entry {
    name: String,
    value: String,
    read_only: bool,
    source: i8,
    /// (name, value, source), highest precedence first.
    synonyms: Vec<(String, String, i8)>,
    config_type: i8,
    doc: Option<&'static str>,
}

fn unsupported_resource(resource_type: i8) -> Failure {
    Failure::new(
        ResponseError::InvalidRequest,
        format!(
            "config resource type {resource_type} is not supported; Eddy has topic ({TOPIC}) \
             and broker ({BROKER}) configs"
        ),
    )
}

pub(crate) fn describe_configs(
    ctx: &RequestContext,
    request: DescribeConfigsRequest,
) -> DescribeConfigsResponse {
    let include_synonyms = request.include_synonyms;
    let include_documentation = ctx.version >= 3 && request.include_documentation;
    let results = request
        .resources
        .into_iter()
        .map(|resource| describe_resource(ctx, resource, include_synonyms, include_documentation))
        .collect();
    DescribeConfigsResponse::default().with_results(results)
}

fn describe_resource(
    ctx: &RequestContext,
    resource: DescribeConfigsResource,
    include_synonyms: bool,
    include_documentation: bool,
) -> DescribeConfigsResult {
    let result = DescribeConfigsResult::default()
        .with_resource_type(resource.resource_type)
        .with_resource_name(resource.resource_name.clone());
    let entries = match resource.resource_type {
        TOPIC => topic_entries(ctx, &resource.resource_name),
        BROKER => broker_entries(ctx, &resource.resource_name),
        other => Err(unsupported_resource(other)),
    };
    let entries = match entries {
        Ok(entries) => entries,
        Err(failure) => {
            return result
                .with_error_code(failure.code)
                .with_error_message(Some(str_bytes(failure.message)));
        }
    };
    // Null (or, as some clients send it, empty) means every key; unknown keys are left out.
    let wanted: Option<HashSet<&str>> = resource
        .configuration_keys
        .as_ref()
        .filter(|keys| !keys.is_empty())
        .map(|keys| keys.iter().map(|k| k.as_str()).collect());
    let configs = entries
        .into_iter()
        .filter(|e| wanted.as_ref().is_none_or(|w| w.contains(e.name.as_str())))
        .map(|e| {
            let synonyms = if include_synonyms {
                e.synonyms
                    .into_iter()
                    .map(|(name, value, source)| {
                        DescribeConfigsSynonym::default()
                            .with_name(str_bytes(name))
                            .with_value(Some(str_bytes(value)))
                            .with_source(source)
                    })
                    .collect()
            } else {
                Vec::new()
            };
            let mut config = DescribeConfigsResourceResult::default()
                .with_name(str_bytes(e.name))
                .with_value(Some(str_bytes(e.value)))
                .with_read_only(e.read_only)
                .with_config_source(e.source)
                .with_is_sensitive(false)
                .with_synonyms(synonyms)
                .with_documentation(None);
            if ctx.version >= 3 {
                config = config.with_config_type(e.config_type);
                if include_documentation {
                    config = config.with_documentation(e.doc.map(str_bytes));
                }
            }
            config
        })
        .collect();
    result.with_error_message(None).with_configs(configs)
}

fn topic_entries(ctx: &RequestContext, name: &str) -> Result<Vec<Entry>, Failure> {
    let description = ctx.state.broker.describe_topic(name)?;
    let defaults = topic_defaults();
    let entries = description
        .config
        .entries()
        .into_iter()
        .map(|(key, value)| {
            let meta = topic_key(key);
            let source = topic_config_source(&defaults, key, &value);
            let mut synonyms = Vec::new();
            if source == source::DYNAMIC_TOPIC_CONFIG {
                synonyms.push((key.to_string(), value.clone(), source));
            }
            if let (Some(meta), Some(default)) = (meta, defaults.get(key)) {
                synonyms.push((
                    meta.broker_synonym.to_string(),
                    default.clone(),
                    source::DEFAULT_CONFIG,
                ));
            }
            Entry {
                name: key.to_string(),
                value,
                read_only: false,
                source,
                synonyms,
                config_type: meta.map_or(config_type::UNKNOWN, |m| m.config_type),
                doc: meta.map(|m| m.doc),
            }
        })
        .collect();
    Ok(entries)
}

/// The broker resource: "" (the cluster-wide default, as Kafka names it) or this node's id.
fn broker_entries(ctx: &RequestContext, name: &str) -> Result<Vec<Entry>, Failure> {
    let config = &ctx.state.config;
    if !name.is_empty() && name != config.node_id.to_string() {
        return Err(Failure::new(
            ResponseError::InvalidRequest,
            format!(
                "broker {name:?} is not this broker: this is node {}",
                config.node_id
            ),
        ));
    }
    let fixed = |name: &str, value: String, config_type: i8, source: i8, doc: &'static str| Entry {
        name: name.to_string(),
        value: value.clone(),
        read_only: true,
        source,
        synonyms: vec![(name.to_string(), value, source)],
        config_type,
        doc: Some(doc),
    };
    let mut entries = vec![
        fixed(
            "auto.create.topics.enable",
            config.auto_create_topics.to_string(),
            config_type::BOOLEAN,
            source::STATIC_BROKER_CONFIG,
            "Whether a Metadata request for an unknown topic creates it.",
        ),
        fixed(
            "broker.id",
            config.node_id.to_string(),
            config_type::INT,
            source::STATIC_BROKER_CONFIG,
            "This broker's node id.",
        ),
        fixed(
            "fetch.max.bytes",
            config.fetch_max_bytes.to_string(),
            config_type::INT,
            source::STATIC_BROKER_CONFIG,
            "The most record bytes a fetch response holds, whatever the client asks.",
        ),
        fixed(
            "memory.budget.bytes",
            config.memory_budget_bytes.to_string(),
            config_type::LONG,
            source::STATIC_BROKER_CONFIG,
            "Bytes of requests and fetch responses held in memory at once (0: no budget).",
        ),
        fixed(
            "log.dirs",
            ctx.state.broker.data_dir().display().to_string(),
            config_type::STRING,
            source::STATIC_BROKER_CONFIG,
            "The data directory holding every topic.",
        ),
        fixed(
            "num.partitions",
            config.default_partitions.to_string(),
            config_type::INT,
            source::STATIC_BROKER_CONFIG,
            "Partitions of topics created without a partition count.",
        ),
        fixed(
            "socket.request.max.bytes",
            config.max_request_bytes.to_string(),
            config_type::INT,
            source::STATIC_BROKER_CONFIG,
            "The largest request accepted.",
        ),
    ];
    let defaults = topic_defaults();
    for meta in TOPIC_KEYS {
        if let Some(default) = defaults.get(meta.name) {
            entries.push(fixed(
                meta.broker_synonym,
                default.clone(),
                meta.config_type,
                source::DEFAULT_CONFIG,
                meta.doc,
            ));
        }
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}

pub(crate) async fn incremental_alter_configs(
    ctx: &RequestContext,
    request: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    let mut counts: HashMap<(i8, &str), usize> = HashMap::new();
    for resource in &request.resources {
        *counts
            .entry((resource.resource_type, resource.resource_name.as_str()))
            .or_insert(0) += 1;
    }
    let mut responses = Vec::with_capacity(request.resources.len());
    for resource in &request.resources {
        let key = (resource.resource_type, resource.resource_name.as_str());
        let outcome = if counts.get(&key).copied().unwrap_or(0) > 1 {
            Err(Failure::new(
                ResponseError::InvalidRequest,
                format!(
                    "resource {:?} (type {}) appears more than once in the request",
                    key.1, key.0
                ),
            ))
        } else {
            match resource.resource_type {
                TOPIC => alter_topic(ctx, resource, request.validate_only).await,
                BROKER => Err(Failure::new(
                    ResponseError::InvalidRequest,
                    "broker configs cannot be changed at runtime; restart the broker with new \
                     settings",
                )),
                other => Err(unsupported_resource(other)),
            }
        };
        let response = AlterConfigsResourceResponse::default()
            .with_resource_type(resource.resource_type)
            .with_resource_name(resource.resource_name.clone());
        responses.push(match outcome {
            Ok(()) => response.with_error_message(None),
            Err(failure) => {
                tracing::debug!(resource = %resource.resource_name, code = failure.code, message = %failure.message, "IncrementalAlterConfigs refused");
                response
                    .with_error_code(failure.code)
                    .with_error_message(Some(str_bytes(failure.message)))
            }
        });
    }
    IncrementalAlterConfigsResponse::default().with_responses(responses)
}

/// Applies one topic's operations together: all of them, or (on any error) none.
async fn alter_topic(
    ctx: &RequestContext,
    resource: &AlterConfigsResource,
    validate_only: bool,
) -> Result<(), Failure> {
    let broker = &ctx.state.broker;
    let name = resource.resource_name.as_str();
    let mut working = broker.describe_topic(name)?.config;
    if is_internal_topic(name) {
        return Err(Failure::new(
            ResponseError::InvalidRequest,
            "an internal topic's config is managed by Eddy and cannot be changed",
        ));
    }
    let mut seen = HashSet::new();
    if let Some(again) = resource
        .configs
        .iter()
        .find(|c| !seen.insert(c.name.as_str()))
    {
        return Err(Failure::new(
            ResponseError::InvalidRequest,
            format!(
                "config {} appears more than once for one resource",
                again.name.as_str()
            ),
        ));
    }
    let defaults = topic_defaults();
    let mut changes: Vec<(String, String)> = Vec::with_capacity(resource.configs.len());
    for op in &resource.configs {
        let key = op.name.as_str();
        let value = match op.config_operation {
            SET => required_value(key, op.value.as_deref(), "SET")?.to_string(),
            DELETE => defaults.get(key).cloned().ok_or_else(|| unknown_key(key))?,
            code @ (APPEND | SUBTRACT) => {
                let verb = if code == APPEND { "APPEND" } else { "SUBTRACT" };
                let items = required_value(key, op.value.as_deref(), verb)?;
                let Some(meta) = topic_key(key) else {
                    return Err(unknown_key(key));
                };
                if meta.config_type != config_type::LIST {
                    return Err(Failure::new(
                        ResponseError::InvalidConfig,
                        format!("{verb} applies to list configs only; {key} is not a list"),
                    ));
                }
                let current = working.entries().get(key).cloned().unwrap_or_default();
                edit_list(&current, items, code == APPEND)
            }
            other => {
                return Err(Failure::new(
                    ResponseError::InvalidRequest,
                    format!(
                        "unknown config operation {other} for {key}; expected SET (0), \
                         DELETE (1), APPEND (2) or SUBTRACT (3)"
                    ),
                ));
            }
        };
        working.set(key, &value)?;
        changes.push((key.to_string(), value));
    }
    if !validate_only && !changes.is_empty() {
        broker
            .alter_topic_config(name, changes.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .await?;
    }
    Ok(())
}

fn required_value<'a>(key: &str, value: Option<&'a str>, verb: &str) -> Result<&'a str, Failure> {
    value.ok_or_else(|| {
        Failure::new(
            ResponseError::InvalidRequest,
            format!("{verb} of {key} needs a value; null is not allowed"),
        )
    })
}

fn unknown_key(key: &str) -> Failure {
    Failure::new(
        ResponseError::InvalidConfig,
        format!(
            "unknown topic config {key:?}; known keys: {}",
            TOPIC_CONFIG_KEYS.join(", ")
        ),
    )
}

/// A comma-separated list with `items` appended (those not already in it) or removed.
fn edit_list(current: &str, items: &str, append: bool) -> String {
    let split = |s: &str| -> Vec<String> {
        s.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    };
    let mut list = split(current);
    for item in split(items) {
        if append {
            if !list.contains(&item) {
                list.push(item);
            }
        } else {
            list.retain(|existing| *existing != item);
        }
    }
    list.join(",")
}
