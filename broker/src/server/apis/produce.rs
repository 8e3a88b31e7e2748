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
    let transactional_id = request.transactional_id.as_ref().map(|id| id.0.to_string());
    let transactional_id = transactional_id.as_deref();
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
            let result = match data.records {
                None => Err((
                    ResponseError::CorruptMessage.code(),
                    "no record batches".to_string(),
                )),
                Some(records) => {
                    match check_transactional(&ctx, transactional_id, &name, data.index, &records)
                        .await
                    {
                        Err(refused) => Err(refused),
                        Ok(()) => {
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
                                        metrics.records_in.get_or_create(&labels).inc_by(
                                            (info.last_offset - info.base_offset + 1) as u64,
                                        );
                                        if partition.must_wait_for_fsync(durability) {
                                            wait = Some((
                                                Arc::clone(&partition),
                                                info.last_offset + 1,
                                            ));
                                        }
                                        Ok(info)
                                    }
                                },
                            }
                        }
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

/// A transactional produce (one with a transactional id) must come from the id's current
/// producer, in an open transaction the partition was added to, with transactional batches;
/// a produce without one must not carry transactional batches. The error to answer with if
/// not.
async fn check_transactional(
    ctx: &RequestContext,
    transactional_id: Option<&str>,
    topic: &str,
    partition: i32,
    records: &[u8],
) -> Result<(), (i16, String)> {
    let Ok(header) = crate::batch::BatchHeader::parse(records) else {
        return Ok(()); // the append reports what is wrong with the batch
    };
    match (transactional_id, header.is_transactional()) {
        (None, false) => Ok(()),
        (None, true) => Err((
            ResponseError::InvalidRecord.code(),
            "transactional batches need a transactional id".to_string(),
        )),
        (Some(id), false) => Err((
            ResponseError::InvalidRecord.code(),
            format!("a produce for transactional id {id:?} with non-transactional batches"),
        )),
        (Some(id), true) => ctx
            .state
            .broker
            .check_transactional_produce(
                id,
                header.producer_id,
                header.producer_epoch,
                topic,
                partition,
            )
            .await
            .map_err(|e| {
                // Produce has no PRODUCER_FENCED: a fenced producer is told its epoch is old.
                let code = match e {
                    crate::Error::ProducerFenced { .. } => {
                        ResponseError::InvalidProducerEpoch.code()
                    }
                    _ => error_code(&e),
                };
                (code, e.to_string())
            }),
    }
}
