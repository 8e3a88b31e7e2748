//! Metadata: the broker list (just this one), and topics with their partitions, leaders and
//! topic ids; creates unknown topics on request when auto-creation is on.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse, TopicName};

use super::{error_code, str_bytes};
use crate::config::{TopicConfig, validate_topic_name};
use crate::error::Error;
use crate::server::dispatch::RequestContext;

pub(crate) async fn handle(ctx: &RequestContext, request: MetadataRequest) -> MetadataResponse {
    let state = &ctx.state;
    let broker = &state.broker;
    let version = ctx.version;
    // v0: an empty list means all topics; v1+: null means all topics.
    let wanted: Option<Vec<(Option<String>, uuid::Uuid)>> = match request.topics {
        None => None,
        Some(list) if list.is_empty() && version == 0 => None,
        Some(list) => Some(
            list.into_iter()
                .map(|t| (t.name.map(|n| n.0.to_string()), t.topic_id))
                .collect(),
        ),
    };
    let auto_create =
        state.config.auto_create_topics && (version < 4 || request.allow_auto_topic_creation);
    let mut topics = Vec::new();
    match wanted {
        None => {
            for name in broker.list_topics() {
                topics.push(describe(ctx, &name, None));
            }
        }
        Some(list) => {
            for (name, id) in list {
                let name = match name {
                    Some(name) => name,
                    None => match broker.topic_name_by_id(id) {
                        Some(name) => name,
                        None => {
                            topics.push(
                                MetadataResponseTopic::default()
                                    .with_error_code(ResponseError::UnknownTopicId.code())
                                    .with_topic_id(id),
                            );
                            continue;
                        }
                    },
                };
                let mut error = None;
                if broker.describe_topic(&name).is_err() {
                    if let Err(e) = validate_topic_name(&name) {
                        error = Some(error_code(&e));
                    } else if auto_create {
                        let config = TopicConfig {
                            partitions: state.config.default_partitions,
                            ..TopicConfig::default()
                        };
                        match broker.create_topic(&name, config).await {
                            Ok(_) | Err(Error::TopicAlreadyExists(_)) => {
                                tracing::info!(topic = %name, "auto-created topic");
                            }
                            Err(e) => error = Some(error_code(&e)),
                        }
                    }
                }
                topics.push(describe(ctx, &name, error));
            }
        }
    }
    let mut response = MetadataResponse::default()
        .with_brokers(vec![
            MetadataResponseBroker::default()
                .with_node_id(BrokerId(state.config.node_id))
                .with_host(str_bytes(state.advertised_host.clone()))
                .with_port(state.advertised_port),
        ])
        .with_topics(topics);
    if version >= 1 {
        response = response.with_controller_id(BrokerId(state.config.node_id));
    }
    if version >= 2 {
        response = response.with_cluster_id(Some(str_bytes(state.config.cluster_id.clone())));
    }
    response
}

fn describe(ctx: &RequestContext, name: &str, error: Option<i16>) -> MetadataResponseTopic {
    let node = BrokerId(ctx.state.config.node_id);
    let topic_name = Some(TopicName(str_bytes(name)));
    let description = match (error, ctx.state.broker.describe_topic(name)) {
        (None, Ok(d)) => d,
        (error, _) => {
            return MetadataResponseTopic::default()
                .with_name(topic_name)
                .with_error_code(error.unwrap_or(ResponseError::UnknownTopicOrPartition.code()));
        }
    };
    let partitions = description
        .partitions
        .iter()
        .map(|p| {
            let mut partition = MetadataResponsePartition::default()
                .with_partition_index(p.partition)
                .with_leader_id(node)
                .with_replica_nodes(vec![node])
                .with_isr_nodes(vec![node]);
            if ctx.version >= 7 {
                partition = partition.with_leader_epoch(0);
            }
            partition
        })
        .collect();
    let mut topic = MetadataResponseTopic::default()
        .with_name(topic_name)
        .with_partitions(partitions);
    if ctx.version >= 1 {
        topic = topic.with_is_internal(description.internal);
    }
    if ctx.version >= 10 {
        topic = topic.with_topic_id(description.id);
    }
    topic
}
