//! Produce: append each partition's record batches, stored exactly as sent (compressed or
//! not), and answer per `acks`: 0 sends no response, 1 answers once the batches are written,
//! -1 (all) once they are fsynced.
//!
//! The appends happen in request order before the next request on the connection is read;
//! the fsync wait for `acks=all` is left to the returned future, so pipelined produce
//! requests share group-commit fsyncs.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse, ResponseKind};

use super::{error_code, message};
use crate::partition::{Durability, Partition};
use crate::server::dispatch::{Pending, RequestContext, ready};
use crate::server::metrics::TopicLabels;

/// One partition's result so far, and what it still waits for.
struct PartitionOutcome {
    response: PartitionProduceResponse,
    wait: Option<(Arc<Partition>, i64)>,
}

pub(crate) async fn handle(ctx: RequestContext, request: ProduceRequest) -> Pending {
    let version = ctx.version;
    let acks = request.acks;
    let durability = match acks {
        0 | 1 => Durability::Written,
        -1 => Durability::Durable,
        _ => {
            let topics = request
                .topic_data
                .into_iter()
                .map(|t| {
                    let partitions = t
                        .partition_data
                        .iter()
                        .map(|p| {
                            PartitionProduceResponse::default()
                                .with_index(p.index)
                                .with_error_code(ResponseError::InvalidRequiredAcks.code())
                        })
                        .collect();
                    TopicProduceResponse::default()
                        .with_name(t.name)
                        .with_partition_responses(partitions)
                })
                .collect();
            return ready(ProduceResponse::default().with_responses(topics));
        }
    };
    let transactional = request.transactional_id.is_some();
    let mut topics = Vec::with_capacity(request.topic_data.len());
    for topic in request.topic_data {
        let name = topic.name.0.to_string();
        let mut outcomes = Vec::with_capacity(topic.partition_data.len());
        for data in topic.partition_data {
            let mut response = PartitionProduceResponse::default()
                .with_index(data.index)
                .with_base_offset(-1)
                .with_log_append_time_ms(-1);
            if version >= 5 {
                response = response.with_log_start_offset(-1);
            }
            let mut wait = None;
            let result = match (transactional, data.records) {
                (true, _) => Err((
                    ResponseError::TransactionalIdAuthorizationFailed.code(),
                    "transactions are not supported by Eddy".to_string(),
                )),
                (false, None) => Err((
                    ResponseError::CorruptMessage.code(),
                    "no record batches".to_string(),
                )),
                (false, Some(records)) => {
                    let size = records.len() as u64;
                    match ctx.state.broker.partition(&name, data.index) {
                        Err(e) => Err((error_code(&e), e.to_string())),
                        Ok(partition) => match partition.append_unflushed(records).await {
                            Err(e) => Err((error_code(&e), e.to_string())),
                            Ok(info) => {
                                let labels = TopicLabels {
                                    topic: name.clone(),
                                };
                                let metrics = &ctx.state.metrics;
                                metrics.bytes_in.get_or_create(&labels).inc_by(size);
                                metrics
                                    .records_in
                                    .get_or_create(&labels)
                                    .inc_by((info.last_offset - info.base_offset + 1) as u64);
                                if partition.must_wait_for_fsync(durability) {
                                    wait = Some((Arc::clone(&partition), info.last_offset + 1));
                                }
                                Ok(info)
                            }
                        },
                    }
                }
            };
            match result {
                Ok(info) => {
                    response = response.with_base_offset(info.base_offset);
                    if version >= 5 {
                        response = response.with_log_start_offset(info.log_start_offset);
                    }
                }
                Err((code, text)) => {
                    tracing::debug!(topic = %name, partition = data.index, error = %text, "produce refused");
                    response = response.with_error_code(code);
                    if version >= 8 {
                        response = response.with_error_message(Some(super::str_bytes(text)));
                    }
                }
            }
            outcomes.push(PartitionOutcome { response, wait });
        }
        topics.push((topic.name, outcomes));
    }
    Box::pin(async move {
        let mut responses = Vec::with_capacity(topics.len());
        for (name, outcomes) in topics {
            let mut partitions = Vec::with_capacity(outcomes.len());
            for mut outcome in outcomes {
                if let Some((partition, end)) = outcome.wait.take()
                    && let Err(e) = partition.wait_durable(end).await
                {
                    outcome.response = outcome
                        .response
                        .with_error_code(error_code(&e))
                        .with_base_offset(-1);
                    if version >= 8 {
                        outcome.response = outcome.response.with_error_message(message(&e));
                    }
                }
                partitions.push(outcome.response);
            }
            responses.push(
                TopicProduceResponse::default()
                    .with_name(name)
                    .with_partition_responses(partitions),
            );
        }
        if acks == 0 {
            return None;
        }
        Some(ResponseKind::Produce(
            ProduceResponse::default().with_responses(responses),
        ))
    })
}
