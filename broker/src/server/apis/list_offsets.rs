//! ListOffsets (earliest, latest, by timestamp) and OffsetForLeaderEpoch.
//!
//! Eddy's partitions have a single leader epoch, 0, stamped on every stored batch, so
//! OffsetForLeaderEpoch answers epoch 0 with the log end offset, which is what a client
//! validating its position after a leader change needs to hear.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{
    ListOffsetsRequest, ListOffsetsResponse, OffsetForLeaderEpochRequest,
    OffsetForLeaderEpochResponse,
};

use super::error_code;
use crate::broker::OffsetSpec;
use crate::server::dispatch::RequestContext;

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;

pub(crate) async fn handle(
    ctx: &RequestContext,
    request: ListOffsetsRequest,
) -> ListOffsetsResponse {
    // read_committed (v2+): "latest" is the last stable offset, and nothing at or past it
    // is found by timestamp.
    let committed = ctx.version >= 2 && request.isolation_level == 1;
    let mut topics = Vec::with_capacity(request.topics.len());
    for topic in request.topics {
        let name = topic.name.0.to_string();
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for p in topic.partitions {
            let spec = match p.timestamp {
                LATEST if committed => Ok(OffsetSpec::LastStable),
                LATEST => Ok(OffsetSpec::Latest),
                EARLIEST => Ok(OffsetSpec::Earliest),
                ts if ts >= 0 => Ok(OffsetSpec::Timestamp(ts)),
                _ => Err(ResponseError::InvalidRequest.code()),
            };
            let mut response = ListOffsetsPartitionResponse::default()
                .with_partition_index(p.partition_index)
                .with_timestamp(-1)
                .with_offset(-1);
            let broker = &ctx.state.broker;
            let result = match spec {
                Err(code) => Err(code),
                Ok(spec) => {
                    let found = broker.list_offset(&name, p.partition_index, spec).await;
                    match (found, spec) {
                        (Ok(Some((offset, ts))), OffsetSpec::Timestamp(_)) if committed => broker
                            .list_offset(&name, p.partition_index, OffsetSpec::LastStable)
                            .await
                            .map(|stable| {
                                stable
                                    .filter(|&(lso, _)| offset < lso)
                                    .map(|_| (offset, ts))
                            }),
                        (found, _) => found,
                    }
                    .map_err(|e| error_code(&e))
                }
            };
            match result {
                Ok(Some((offset, timestamp))) => {
                    response = response.with_offset(offset).with_timestamp(timestamp);
                    if ctx.version >= 4 {
                        response = response.with_leader_epoch(0);
                    }
                }
                Ok(None) => {} // no record that new: offset -1, as Kafka answers
                Err(code) => response = response.with_error_code(code),
            }
            partitions.push(response);
        }
        topics.push(
            ListOffsetsTopicResponse::default()
                .with_name(topic.name)
                .with_partitions(partitions),
        );
    }
    ListOffsetsResponse::default().with_topics(topics)
}

pub(crate) fn offset_for_leader_epoch(
    ctx: &RequestContext,
    request: OffsetForLeaderEpochRequest,
) -> OffsetForLeaderEpochResponse {
    let topics = request
        .topics
        .into_iter()
        .map(|topic| {
            let name = topic.topic.0.to_string();
            let partitions = topic
                .partitions
                .into_iter()
                .map(|p| {
                    let answer = EpochEndOffset::default().with_partition(p.partition);
                    match ctx.state.broker.partition(&name, p.partition) {
                        Err(e) => answer
                            .with_error_code(error_code(&e))
                            .with_leader_epoch(-1)
                            .with_end_offset(-1),
                        Ok(_) if p.leader_epoch > 0 => {
                            // An epoch this log never had: "undefined", as Kafka answers.
                            answer.with_leader_epoch(-1).with_end_offset(-1)
                        }
                        Ok(partition) => answer
                            .with_leader_epoch(0)
                            .with_end_offset(partition.log_end_offset()),
                    }
                })
                .collect();
            OffsetForLeaderTopicResult::default()
                .with_topic(topic.topic)
                .with_partitions(partitions)
        })
        .collect();
    OffsetForLeaderEpochResponse::default().with_topics(topics)
}
