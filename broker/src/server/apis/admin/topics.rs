//! CreateTopics, DeleteTopics and CreatePartitions.
//!
//! Each topic in a request succeeds or fails on its own; a name given twice in one request is
//! refused (INVALID_REQUEST) for every occurrence, as Kafka does. The request's `timeout_ms`
//! is not needed: on a single broker the work is finished when the response is sent.

use std::collections::HashMap;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::create_topics_request::{CreatableReplicaAssignment, CreatableTopic};
use kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{
    BrokerId, CreatePartitionsRequest, CreatePartitionsResponse, CreateTopicsRequest,
    CreateTopicsResponse, DeleteTopicsRequest, DeleteTopicsResponse, TopicName,
};
use uuid::Uuid;

use super::{Failure, topic_config_source, topic_defaults};
use crate::broker::is_internal_topic;
use crate::config::{TopicConfig, validate_topic_name};
use crate::error::Error;
use crate::server::apis::str_bytes;
use crate::server::dispatch::RequestContext;

/// How many times each name occurs.
fn occurrences<'a>(names: impl IntoIterator<Item = &'a str>) -> HashMap<&'a str, usize> {
    let mut counts = HashMap::new();
    for name in names {
        *counts.entry(name).or_insert(0) += 1;
    }
    counts
}

fn duplicate(name: &str) -> Failure {
    Failure::new(
        ResponseError::InvalidRequest,
        format!("topic {name:?} appears more than once in the request"),
    )
}

/// Whether a replica list is exactly this node.
fn is_this_node(replicas: &[BrokerId], node: i32) -> bool {
    matches!(replicas, [only] if only.0 == node)
}

/// A topic created (or, with `validate_only`, that would be).
struct Created {
    id: Uuid,
    config: TopicConfig,
}

pub(crate) async fn create_topics(
    ctx: &RequestContext,
    request: CreateTopicsRequest,
) -> CreateTopicsResponse {
    let counts = occurrences(request.topics.iter().map(|t| t.name.0.as_str()));
    let mut outcomes = Vec::with_capacity(request.topics.len());
    for topic in &request.topics {
        let name = topic.name.0.as_str();
        let outcome = if counts.get(name).copied().unwrap_or(0) > 1 {
            Err(duplicate(name))
        } else {
            create_one(ctx, topic, request.validate_only).await
        };
        if let Err(failure) = &outcome {
            tracing::debug!(topic = name, code = failure.code, message = %failure.message, "CreateTopics refused");
        }
        outcomes.push(outcome);
    }
    let topics = request
        .topics
        .into_iter()
        .zip(outcomes)
        .map(|(topic, outcome)| creatable_result(ctx.version, topic.name, outcome))
        .collect();
    CreateTopicsResponse::default().with_topics(topics)
}

async fn create_one(
    ctx: &RequestContext,
    topic: &CreatableTopic,
    validate_only: bool,
) -> Result<Created, Failure> {
    let broker = &ctx.state.broker;
    let name = topic.name.0.as_str();
    validate_topic_name(name)?;
    if broker.describe_topic(name).is_ok() {
        return Err(Error::TopicAlreadyExists(name.to_string()).into());
    }
    let partitions = if topic.assignments.is_empty() {
        match topic.num_partitions {
            -1 => ctx.state.config.default_partitions,
            n if n >= 1 => n,
            n => {
                return Err(Failure::new(
                    ResponseError::InvalidPartitions,
                    format!(
                        "the number of partitions must be at least 1 (or -1 for the broker \
                         default); got {n}"
                    ),
                ));
            }
        }
    } else {
        if topic.num_partitions != -1 || topic.replication_factor != -1 {
            return Err(Failure::new(
                ResponseError::InvalidRequest,
                "replica assignments cannot be given together with num_partitions or \
                 replication_factor; set both to -1",
            ));
        }
        trivial_assignment_count(&topic.assignments, ctx.state.config.node_id)?
    };
    match topic.replication_factor {
        -1 | 1 => {}
        factor => {
            return Err(Failure::new(
                ResponseError::InvalidReplicationFactor,
                format!(
                    "replication factor {factor} is not possible: Eddy is a single broker, so \
                     the replication factor is 1 (or -1 for the default)"
                ),
            ));
        }
    }
    let mut overrides = Vec::with_capacity(topic.configs.len());
    for config in &topic.configs {
        let Some(value) = config.value.as_deref() else {
            return Err(Failure::new(
                ResponseError::InvalidConfig,
                format!(
                    "config {} has a null value; give it a value",
                    config.name.as_str()
                ),
            ));
        };
        overrides.push((config.name.as_str(), value));
    }
    let config = TopicConfig::from_overrides(partitions, overrides)?;
    if validate_only {
        broker.check_partition_caps(name, partitions, 0)?;
        return Ok(Created {
            id: Uuid::nil(),
            config,
        });
    }
    let created = broker.create_topic(name, config).await?;
    Ok(Created {
        id: created.id,
        config: created.config,
    })
}

/// The partition count of a manual assignment, if it is the only one possible here: partitions
/// 0..n, each exactly once, each on this node alone.
fn trivial_assignment_count(
    assignments: &[CreatableReplicaAssignment],
    node: i32,
) -> Result<i32, Failure> {
    let refuse = |message: String| {
        Err(Failure::new(
            ResponseError::InvalidReplicaAssignment,
            message,
        ))
    };
    let count = assignments.len();
    let mut seen = vec![false; count];
    for assignment in assignments {
        let index = assignment.partition_index;
        let Some(slot) = usize::try_from(index).ok().and_then(|i| seen.get_mut(i)) else {
            return refuse(format!(
                "partition {index} is outside 0..{count}: an assignment must list partitions \
                 0 to n-1"
            ));
        };
        if *slot {
            return refuse(format!("partition {index} is assigned more than once"));
        }
        *slot = true;
        if !is_this_node(&assignment.broker_ids, node) {
            let ids: Vec<i32> = assignment.broker_ids.iter().map(|b| b.0).collect();
            return refuse(format!(
                "partition {index} is assigned to brokers {ids:?}; Eddy is a single broker, so \
                 each partition's replicas must be exactly [{node}]"
            ));
        }
    }
    i32::try_from(count).or_else(|_| refuse(format!("{count} partitions are too many")))
}

fn creatable_result(
    version: i16,
    name: TopicName,
    outcome: Result<Created, Failure>,
) -> CreatableTopicResult {
    let result = CreatableTopicResult::default().with_name(name);
    let created = match outcome {
        Ok(created) => created,
        Err(failure) => {
            return result
                .with_error_code(failure.code)
                .with_error_message(Some(str_bytes(failure.message)));
        }
    };
    let mut result = result.with_error_message(None);
    if version >= 5 {
        let defaults = topic_defaults();
        let configs = created
            .config
            .entries()
            .into_iter()
            .map(|(key, value)| {
                CreatableTopicConfigs::default()
                    .with_config_source(topic_config_source(&defaults, key, &value))
                    .with_name(str_bytes(key))
                    .with_value(Some(str_bytes(value)))
                    .with_read_only(false)
                    .with_is_sensitive(false)
            })
            .collect();
        result = result
            .with_num_partitions(created.config.partitions)
            .with_replication_factor(1)
            .with_configs(Some(configs));
    }
    if version >= 7 {
        result = result.with_topic_id(created.id);
    }
    result
}

pub(crate) async fn delete_topics(
    ctx: &RequestContext,
    request: DeleteTopicsRequest,
) -> DeleteTopicsResponse {
    let broker = &ctx.state.broker;
    // (name, id) as the client gave them; v1-5 name topics only.
    let targets: Vec<(Option<TopicName>, Uuid)> = if ctx.version >= 6 {
        request
            .topics
            .into_iter()
            .map(|t| (t.name, t.topic_id))
            .collect()
    } else {
        request
            .topic_names
            .into_iter()
            .map(|name| (Some(name), Uuid::nil()))
            .collect()
    };
    // A topic named (or, v6, identified) twice is refused every time.
    let names = occurrences(targets.iter().filter_map(|(name, id)| match name {
        Some(name) if id.is_nil() => Some(name.0.as_str()),
        _ => None,
    }));
    let mut ids: HashMap<Uuid, usize> = HashMap::new();
    for (name, id) in &targets {
        if name.is_none() && !id.is_nil() {
            *ids.entry(*id).or_insert(0) += 1;
        }
    }
    let mut responses = Vec::with_capacity(targets.len());
    for (given_name, given_id) in &targets {
        // The name and id to report, and the outcome.
        let (name, id, outcome) = match (given_name, given_id.is_nil()) {
            (Some(name), true) => {
                let name = name.0.to_string();
                let id = broker.describe_topic(&name).map_or(Uuid::nil(), |d| d.id);
                let outcome = if names.get(name.as_str()).copied().unwrap_or(0) > 1 {
                    Err(duplicate(&name))
                } else {
                    delete_one(ctx, &name).await
                };
                (Some(name), id, outcome)
            }
            (None, false) => match broker.topic_name_by_id(*given_id) {
                _ if ids.get(given_id).copied().unwrap_or(0) > 1 => (
                    None,
                    *given_id,
                    Err(Failure::new(
                        ResponseError::InvalidRequest,
                        format!("topic id {given_id} appears more than once in the request"),
                    )),
                ),
                Some(name) => {
                    let outcome = delete_one(ctx, &name).await;
                    (Some(name), *given_id, outcome)
                }
                None => (
                    None,
                    *given_id,
                    Err(Failure::new(
                        ResponseError::UnknownTopicId,
                        format!("no topic has id {given_id}"),
                    )),
                ),
            },
            (Some(name), false) => (
                Some(name.0.to_string()),
                *given_id,
                Err(Failure::new(
                    ResponseError::InvalidRequest,
                    "give a topic's name or its id, not both",
                )),
            ),
            (None, true) => (
                None,
                Uuid::nil(),
                Err(Failure::new(
                    ResponseError::InvalidRequest,
                    "a topic to delete needs a name or an id",
                )),
            ),
        };
        let (code, message) = match outcome {
            Ok(()) => (0, None),
            Err(failure) => {
                tracing::debug!(topic = ?name, code = failure.code, message = %failure.message, "DeleteTopics refused");
                (failure.code, Some(str_bytes(failure.message)))
            }
        };
        let mut result = DeletableTopicResult::default()
            .with_name(name.map(|n| TopicName(str_bytes(n))))
            .with_error_code(code);
        if ctx.version >= 5 {
            result = result.with_error_message(message);
        }
        if ctx.version >= 6 {
            result = result.with_topic_id(id);
        }
        responses.push(result);
    }
    DeleteTopicsResponse::default().with_responses(responses)
}

async fn delete_one(ctx: &RequestContext, name: &str) -> Result<(), Failure> {
    match ctx.state.broker.delete_topic(name).await {
        Ok(()) => Ok(()),
        // The broker refuses to delete its offsets topic; answered as an invalid topic, the
        // code Kafka uses for operations internal topics do not allow.
        Err(_) if is_internal_topic(name) => Err(Failure::new(
            ResponseError::InvalidTopicException,
            format!("{name} is one of Eddy's internal topics and cannot be deleted"),
        )),
        Err(e) => Err(e.into()),
    }
}

pub(crate) async fn create_partitions(
    ctx: &RequestContext,
    request: CreatePartitionsRequest,
) -> CreatePartitionsResponse {
    let counts = occurrences(request.topics.iter().map(|t| t.name.0.as_str()));
    let mut results = Vec::with_capacity(request.topics.len());
    for topic in &request.topics {
        let name = topic.name.0.as_str();
        let outcome = if counts.get(name).copied().unwrap_or(0) > 1 {
            Err(duplicate(name))
        } else {
            grow(ctx, topic, request.validate_only).await
        };
        let result = CreatePartitionsTopicResult::default().with_name(topic.name.clone());
        results.push(match outcome {
            Ok(()) => result.with_error_message(None),
            Err(failure) => {
                tracing::debug!(topic = name, code = failure.code, message = %failure.message, "CreatePartitions refused");
                result
                    .with_error_code(failure.code)
                    .with_error_message(Some(str_bytes(failure.message)))
            }
        });
    }
    CreatePartitionsResponse::default().with_results(results)
}

async fn grow(
    ctx: &RequestContext,
    topic: &CreatePartitionsTopic,
    validate_only: bool,
) -> Result<(), Failure> {
    let broker = &ctx.state.broker;
    let name = topic.name.0.as_str();
    let current = broker.describe_topic(name)?.config.partitions;
    let invalid = |message: String| Err(Failure::new(ResponseError::InvalidPartitions, message));
    if is_internal_topic(name) {
        return invalid("an internal topic's partition count is fixed".into());
    }
    if topic.count <= current {
        return invalid(format!(
            "topic {name:?} has {current} partitions; the new count ({}) must be larger",
            topic.count
        ));
    }
    if let Some(assignments) = &topic.assignments {
        let added = i64::from(topic.count) - i64::from(current);
        let node = ctx.state.config.node_id;
        let refuse = |message: String| {
            Err(Failure::new(
                ResponseError::InvalidReplicaAssignment,
                message,
            ))
        };
        if assignments.len() as i64 != added {
            return refuse(format!(
                "{} assignments were given for {added} new partitions",
                assignments.len()
            ));
        }
        if let Some(bad) = assignments
            .iter()
            .find(|a| !is_this_node(&a.broker_ids, node))
        {
            let ids: Vec<i32> = bad.broker_ids.iter().map(|b| b.0).collect();
            return refuse(format!(
                "a new partition is assigned to brokers {ids:?}; Eddy is a single broker, so \
                 each partition's replicas must be exactly [{node}]"
            ));
        }
    }
    if validate_only {
        broker.check_partition_caps(name, topic.count, current)?;
    } else {
        broker.create_partitions(name, topic.count).await?;
    }
    Ok(())
}
