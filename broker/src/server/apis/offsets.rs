//! FindCoordinator, OffsetCommit and OffsetFetch: this broker coordinates every group, and
//! committed offsets live in `__consumer_offsets` through [`crate::Broker::commit_offsets`].

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{
    BrokerId, FindCoordinatorRequest, FindCoordinatorResponse, OffsetCommitRequest,
    OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::{error_code, str_bytes};
use crate::broker::now_ms;
use crate::group_offsets::CommittedOffset;
use crate::server::dispatch::RequestContext;

/// Largest commit metadata string accepted (Kafka's `offset.metadata.max.bytes`).
const MAX_METADATA_BYTES: usize = 4096;

const GROUP_KEY: i8 = 0;
const TRANSACTION_KEY: i8 = 1;

pub(crate) fn find_coordinator(
    ctx: &RequestContext,
    request: FindCoordinatorRequest,
) -> FindCoordinatorResponse {
    let state = &ctx.state;
    // This broker coordinates every group and every transactional id.
    let error = (request.key_type != GROUP_KEY && request.key_type != TRANSACTION_KEY).then(|| {
        (
            ResponseError::InvalidRequest.code(),
            "unknown coordinator key type (0 is a group, 1 a transactional id)",
        )
    });
    if ctx.version >= 4 {
        let coordinators = request
            .coordinator_keys
            .into_iter()
            .map(|key| {
                let c = Coordinator::default().with_key(key);
                match error {
                    Some((code, text)) => c
                        .with_error_code(code)
                        .with_error_message(Some(StrBytes::from_static_str(text)))
                        .with_node_id(BrokerId(-1))
                        .with_port(-1),
                    None => c
                        .with_node_id(BrokerId(state.config.node_id))
                        .with_host(str_bytes(state.advertised_host.clone()))
                        .with_port(state.advertised_port),
                }
            })
            .collect();
        return FindCoordinatorResponse::default().with_coordinators(coordinators);
    }
    let response = FindCoordinatorResponse::default();
    match error {
        Some((code, text)) => {
            let response = response
                .with_error_code(code)
                .with_node_id(BrokerId(-1))
                .with_port(-1);
            if ctx.version >= 1 {
                response.with_error_message(Some(StrBytes::from_static_str(text)))
            } else {
                response
            }
        }
        None => response
            .with_node_id(BrokerId(state.config.node_id))
            .with_host(str_bytes(state.advertised_host.clone()))
            .with_port(state.advertised_port),
    }
}

pub(crate) async fn commit(
    ctx: &RequestContext,
    request: OffsetCommitRequest,
) -> OffsetCommitResponse {
    let group = request.group_id.0.to_string();
    let membership = ctx.state.groups.validate_commit(
        &group,
        &request.member_id,
        request.generation_id_or_member_epoch,
        request.group_instance_id.as_deref(),
    );
    let now = now_ms();
    let mut to_commit = Vec::new();
    // (topic index, partition index, code) for every partition, in request order.
    let mut codes: Vec<Vec<(i32, i16)>> = Vec::new();
    for topic in &request.topics {
        let name = topic.name.0.to_string();
        let mut topic_codes = Vec::new();
        for p in &topic.partitions {
            let metadata = p.committed_metadata.as_deref().unwrap_or("");
            let code = if let Err(code) = membership {
                code
            } else if metadata.len() > MAX_METADATA_BYTES {
                ResponseError::OffsetMetadataTooLarge.code()
            } else if let Err(e) = ctx.state.broker.partition(&name, p.partition_index) {
                error_code(&e)
            } else {
                to_commit.push((
                    name.clone(),
                    p.partition_index,
                    CommittedOffset {
                        offset: p.committed_offset,
                        leader_epoch: p.committed_leader_epoch,
                        metadata: metadata.to_string(),
                        commit_timestamp: now,
                    },
                ));
                0
            };
            topic_codes.push((p.partition_index, code));
        }
        codes.push(topic_codes);
    }
    let write_error = match ctx.state.broker.commit_offsets(&group, &to_commit).await {
        Ok(()) => None,
        Err(e) => {
            tracing::error!(%group, error = %e, "offset commit failed");
            Some(error_code(&e))
        }
    };
    let topics = request
        .topics
        .into_iter()
        .zip(codes)
        .map(|(topic, topic_codes)| {
            let partitions = topic_codes
                .into_iter()
                .map(|(partition, code)| {
                    let code = if code == 0 {
                        write_error.unwrap_or(0)
                    } else {
                        code
                    };
                    OffsetCommitResponsePartition::default()
                        .with_partition_index(partition)
                        .with_error_code(code)
                })
                .collect();
            OffsetCommitResponseTopic::default()
                .with_name(topic.name)
                .with_partitions(partitions)
        })
        .collect();
    OffsetCommitResponse::default().with_topics(topics)
}

/// Committed offsets of one topic's partitions (`None`: nothing committed).
type TopicCommits = (String, Vec<(i32, Option<CommittedOffset>, i16)>);

/// A group's committed offsets for the requested partitions (all of them when `None`), each
/// with its error code: with `require_stable` (v7+), a partition with offsets pending in an
/// open transaction is UNSTABLE_OFFSET_COMMIT (retriable) rather than a stale answer.
fn committed(
    ctx: &RequestContext,
    group: &str,
    wanted: Option<Vec<(String, Vec<i32>)>>,
    require_stable: bool,
) -> Vec<TopicCommits> {
    let broker = &ctx.state.broker;
    let mut found = committed_offsets(broker, group, wanted);
    if require_stable {
        for (topic, partitions) in &mut found {
            for (p, offset, code) in partitions {
                if broker.has_pending_txn_offset(group, topic, *p) {
                    *offset = None;
                    *code = ResponseError::UnstableOffsetCommit.code();
                }
            }
        }
    }
    found
}

fn committed_offsets(
    broker: &crate::Broker,
    group: &str,
    wanted: Option<Vec<(String, Vec<i32>)>>,
) -> Vec<TopicCommits> {
    match wanted {
        Some(topics) => topics
            .into_iter()
            .map(|(topic, partitions)| {
                let found = partitions
                    .into_iter()
                    .map(|p| (p, broker.committed_offset(group, &topic, p), 0))
                    .collect();
                (topic, found)
            })
            .collect(),
        None => {
            let mut by_topic: Vec<TopicCommits> = Vec::new();
            for (topic, partition, offset) in broker.group_offsets(group) {
                match by_topic.last_mut() {
                    Some((t, list)) if *t == topic => list.push((partition, Some(offset), 0)),
                    _ => by_topic.push((topic, vec![(partition, Some(offset), 0)])),
                }
            }
            by_topic
        }
    }
}

pub(crate) fn fetch(ctx: &RequestContext, request: OffsetFetchRequest) -> OffsetFetchResponse {
    if ctx.version >= 8 {
        let groups = request
            .groups
            .into_iter()
            .map(|g| {
                let wanted = g.topics.map(|ts| {
                    ts.into_iter()
                        .map(|t| (t.name.0.to_string(), t.partition_indexes))
                        .collect()
                });
                let topics = committed(ctx, &g.group_id.0, wanted, request.require_stable)
                    .into_iter()
                    .map(|(topic, partitions)| {
                        let partitions = partitions
                            .into_iter()
                            .map(|(p, c, code)| {
                                let (offset, epoch, metadata) = unpack(c);
                                OffsetFetchResponsePartitions::default()
                                    .with_partition_index(p)
                                    .with_error_code(code)
                                    .with_committed_offset(offset)
                                    .with_committed_leader_epoch(epoch)
                                    .with_metadata(Some(metadata))
                            })
                            .collect();
                        OffsetFetchResponseTopics::default()
                            .with_name(TopicName(str_bytes(topic)))
                            .with_partitions(partitions)
                    })
                    .collect();
                OffsetFetchResponseGroup::default()
                    .with_group_id(g.group_id)
                    .with_topics(topics)
            })
            .collect();
        return OffsetFetchResponse::default().with_groups(groups);
    }
    let wanted = request.topics.map(|ts| {
        ts.into_iter()
            .map(|t| (t.name.0.to_string(), t.partition_indexes))
            .collect()
    });
    let require_stable = ctx.version >= 7 && request.require_stable;
    let topics = committed(ctx, &request.group_id.0, wanted, require_stable)
        .into_iter()
        .map(|(topic, partitions)| {
            let partitions = partitions
                .into_iter()
                .map(|(p, c, code)| {
                    let (offset, epoch, metadata) = unpack(c);
                    let partition = OffsetFetchResponsePartition::default()
                        .with_partition_index(p)
                        .with_error_code(code)
                        .with_committed_offset(offset)
                        .with_metadata(Some(metadata));
                    if ctx.version >= 5 {
                        partition.with_committed_leader_epoch(epoch)
                    } else {
                        partition
                    }
                })
                .collect();
            OffsetFetchResponseTopic::default()
                .with_name(TopicName(str_bytes(topic)))
                .with_partitions(partitions)
        })
        .collect();
    OffsetFetchResponse::default().with_topics(topics)
}

/// (offset, leader epoch, metadata), or Kafka's "nothing committed": -1, -1, "".
fn unpack(committed: Option<CommittedOffset>) -> (i64, i32, StrBytes) {
    match committed {
        Some(c) => (c.offset, c.leader_epoch, str_bytes(c.metadata)),
        None => (-1, -1, StrBytes::default()),
    }
}
