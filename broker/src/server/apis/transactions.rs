//! InitProducerId (idempotent and transactional producers) and the transaction APIs:
//! AddPartitionsToTxn, AddOffsetsToTxn, TxnOffsetCommit, EndTxn, DescribeTransactions and
//! ListTransactions. This broker is the coordinator of every transactional id; the state
//! machine is in [`crate::txn::coordinator`], its I/O in [`crate::Broker`].
//!
//! Versions are those of KIP-98/KIP-447/KIP-588 (AddPartitionsToTxn up to v3: the batched,
//! broker-to-broker v4 and KIP-890's v5 are not implemented). Requests older than KIP-588's
//! versions get INVALID_PRODUCER_EPOCH where newer ones get PRODUCER_FENCED, as Kafka does.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::describe_transactions_response::{self, TopicData};
use kafka_protocol::messages::list_transactions_response;
use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddOffsetsToTxnResponse, AddPartitionsToTxnRequest,
    AddPartitionsToTxnResponse, DescribeTransactionsRequest, DescribeTransactionsResponse,
    EndTxnRequest, EndTxnResponse, InitProducerIdRequest, InitProducerIdResponse,
    ListTransactionsRequest, ListTransactionsResponse, ProducerId, TopicName, TransactionalId,
    TxnOffsetCommitRequest, TxnOffsetCommitResponse,
};

use super::{error_code, str_bytes};
use crate::error::Error;
use crate::server::dispatch::RequestContext;
use crate::txn::Outcome;
use crate::txn::coordinator::{PendingOffset, TxnMetadata};

/// Largest commit metadata string accepted (Kafka's `offset.metadata.max.bytes`).
const MAX_METADATA_BYTES: usize = 4096;

/// The error code for `error` in a response of `version`, where `fenced_from` is the first
/// version that knows PRODUCER_FENCED.
fn code_for(error: &Error, version: i16, fenced_from: i16) -> i16 {
    if matches!(error, Error::ProducerFenced { .. }) && version < fenced_from {
        return ResponseError::InvalidProducerEpoch.code();
    }
    error_code(error)
}

fn log_refusal(api: &str, error: &Error) {
    tracing::debug!(api, error = %error, "transaction request refused");
}

pub(crate) async fn init_producer_id(
    ctx: &RequestContext,
    request: InitProducerIdRequest,
) -> InitProducerIdResponse {
    let refused = |code| {
        InitProducerIdResponse::default()
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1)
            .with_error_code(code)
    };
    let broker = &ctx.state.broker;
    let result = match &request.transactional_id {
        None => broker.allocate_producer_id().await.map(|id| (id, 0)),
        Some(id) => {
            // v3+ lets a producer present its current id and epoch (KIP-360).
            let expected = (ctx.version >= 3 && request.producer_id.0 >= 0)
                .then_some((request.producer_id.0, request.producer_epoch));
            broker
                .init_transactional_producer(id, request.transaction_timeout_ms, expected)
                .await
        }
    };
    match result {
        Ok((id, epoch)) => InitProducerIdResponse::default()
            .with_producer_id(ProducerId(id))
            .with_producer_epoch(epoch),
        Err(e) => {
            log_refusal("InitProducerId", &e);
            refused(code_for(&e, ctx.version, 4))
        }
    }
}

pub(crate) async fn add_partitions(
    ctx: &RequestContext,
    request: AddPartitionsToTxnRequest,
) -> AddPartitionsToTxnResponse {
    let broker = &ctx.state.broker;
    let topics = request.v3_and_below_topics;
    // Every partition must exist; if one does not, none is added (Kafka's answer: the
    // unknown ones UNKNOWN_TOPIC_OR_PARTITION, the others OPERATION_NOT_ATTEMPTED).
    let unknown: Vec<(String, i32)> = topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(move |&p| (t.name.0.to_string(), p)))
        .filter(|(t, p)| broker.partition(t, *p).is_err())
        .collect();
    let outcome = if unknown.is_empty() {
        let partitions = topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(move |&p| (t.name.0.to_string(), p)))
            .collect();
        broker
            .add_partitions_to_txn(
                &request.v3_and_below_transactional_id,
                request.v3_and_below_producer_id.0,
                request.v3_and_below_producer_epoch,
                partitions,
            )
            .await
            .map_err(|e| {
                log_refusal("AddPartitionsToTxn", &e);
                code_for(&e, ctx.version, 2)
            })
    } else {
        Err(ResponseError::OperationNotAttempted.code())
    };
    let results = topics
        .into_iter()
        .map(|t| {
            let name = t.name.0.to_string();
            let partitions = t
                .partitions
                .iter()
                .map(|&p| {
                    let code = if unknown.contains(&(name.clone(), p)) {
                        ResponseError::UnknownTopicOrPartition.code()
                    } else {
                        outcome.err().unwrap_or(0)
                    };
                    AddPartitionsToTxnPartitionResult::default()
                        .with_partition_index(p)
                        .with_partition_error_code(code)
                })
                .collect();
            AddPartitionsToTxnTopicResult::default()
                .with_name(t.name)
                .with_results_by_partition(partitions)
        })
        .collect();
    AddPartitionsToTxnResponse::default().with_results_by_topic_v3_and_below(results)
}

pub(crate) async fn add_offsets(
    ctx: &RequestContext,
    request: AddOffsetsToTxnRequest,
) -> AddOffsetsToTxnResponse {
    let result = ctx
        .state
        .broker
        .add_offsets_to_txn(
            &request.transactional_id,
            request.producer_id.0,
            request.producer_epoch,
            &request.group_id,
        )
        .await;
    let code = result.map_or_else(
        |e| {
            log_refusal("AddOffsetsToTxn", &e);
            code_for(&e, ctx.version, 2)
        },
        |()| 0,
    );
    AddOffsetsToTxnResponse::default().with_error_code(code)
}

pub(crate) async fn txn_offset_commit(
    ctx: &RequestContext,
    request: TxnOffsetCommitRequest,
) -> TxnOffsetCommitResponse {
    let group = request.group_id.0.to_string();
    let too_long = |p: &kafka_protocol::messages::txn_offset_commit_request::TxnOffsetCommitRequestPartition| {
        p.committed_metadata.as_ref().map_or(0, |m| m.len()) > MAX_METADATA_BYTES
    };
    let offsets: Vec<PendingOffset> = request
        .topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(move |p| (t, p)))
        .filter(|(_, p)| !too_long(p))
        .map(|(t, p)| PendingOffset {
            group: group.clone(),
            topic: t.name.0.to_string(),
            partition: p.partition_index,
            offset: p.committed_offset,
            leader_epoch: p.committed_leader_epoch,
            metadata: p
                .committed_metadata
                .as_ref()
                .map(|m| m.to_string())
                .unwrap_or_default(),
        })
        .collect();
    // KIP-447: from version 3 the request names the consumer's membership, and a member of
    // an older generation (a zombie after a rebalance) may not commit.
    let membership = ctx.state.groups.validate_txn_commit(
        &group,
        &request.member_id,
        request.generation_id,
        request.group_instance_id.as_deref(),
    );
    let code = match membership {
        Err(code) => code,
        Ok(()) => ctx
            .state
            .broker
            .txn_offset_commit(
                &request.transactional_id,
                request.producer_id.0,
                request.producer_epoch,
                offsets,
            )
            .await
            .map_or_else(
                |e| {
                    log_refusal("TxnOffsetCommit", &e);
                    code_for(&e, ctx.version, 3)
                },
                |()| 0,
            ),
    };
    let topics = request
        .topics
        .into_iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let code = if too_long(p) {
                        ResponseError::OffsetMetadataTooLarge.code()
                    } else {
                        code
                    };
                    TxnOffsetCommitResponsePartition::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(code)
                })
                .collect();
            TxnOffsetCommitResponseTopic::default()
                .with_name(t.name)
                .with_partitions(partitions)
        })
        .collect();
    TxnOffsetCommitResponse::default().with_topics(topics)
}

pub(crate) async fn end_txn(ctx: &RequestContext, request: EndTxnRequest) -> EndTxnResponse {
    let outcome = if request.committed {
        Outcome::Commit
    } else {
        Outcome::Abort
    };
    let result = ctx
        .state
        .broker
        .end_txn(
            &request.transactional_id,
            request.producer_id.0,
            request.producer_epoch,
            outcome,
        )
        .await;
    let code = result.map_or_else(
        |e| {
            log_refusal("EndTxn", &e);
            code_for(&e, ctx.version, 2)
        },
        |()| 0,
    );
    EndTxnResponse::default().with_error_code(code)
}

pub(crate) async fn describe(
    ctx: &RequestContext,
    request: DescribeTransactionsRequest,
) -> DescribeTransactionsResponse {
    let mut states = Vec::with_capacity(request.transactional_ids.len());
    for id in request.transactional_ids {
        let state = describe_transactions_response::TransactionState::default()
            .with_transactional_id(id.clone());
        states.push(match ctx.state.broker.describe_transaction(&id).await {
            None => state
                .with_error_code(ResponseError::TransactionalIdNotFound.code())
                .with_transaction_state(str_bytes(""))
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1),
            Some(m) => described(state, m),
        });
    }
    DescribeTransactionsResponse::default().with_transaction_states(states)
}

fn described(
    state: describe_transactions_response::TransactionState,
    m: TxnMetadata,
) -> describe_transactions_response::TransactionState {
    let mut topics: Vec<TopicData> = Vec::new();
    for (topic, partition) in &m.partitions {
        match topics.last_mut() {
            Some(t) if t.topic.0.as_str() == topic => t.partitions.push(*partition),
            _ => topics.push(
                TopicData::default()
                    .with_topic(TopicName(str_bytes(topic.clone())))
                    .with_partitions(vec![*partition]),
            ),
        }
    }
    let started = if m.status == crate::txn::coordinator::TxnStatus::Ongoing {
        m.started_ms
    } else {
        -1
    };
    state
        .with_transaction_state(str_bytes(m.status.name()))
        .with_transaction_timeout_ms(m.timeout_ms)
        .with_transaction_start_time_ms(started)
        .with_producer_id(ProducerId(m.producer_id))
        .with_producer_epoch(m.producer_epoch)
        .with_topics(topics)
}

pub(crate) async fn list(
    ctx: &RequestContext,
    request: ListTransactionsRequest,
) -> ListTransactionsResponse {
    use crate::txn::coordinator::TxnStatus::{self, Ongoing};
    let unknown_filters: Vec<_> = request
        .state_filters
        .iter()
        .filter(|f| !TxnStatus::ALL.iter().any(|s| s.name() == f.as_str()))
        .cloned()
        .collect();
    let now = crate::broker::now_ms();
    let states = ctx
        .state
        .broker
        .list_transactions()
        .await
        .into_iter()
        .filter(|m| {
            request.state_filters.is_empty()
                || request
                    .state_filters
                    .iter()
                    .any(|f| f.as_str() == m.status.name())
        })
        .filter(|m| {
            request.producer_id_filters.is_empty()
                || request
                    .producer_id_filters
                    .contains(&ProducerId(m.producer_id))
        })
        // v1: only transactions running longer than this (ms); -1 for all.
        .filter(|m| {
            request.duration_filter < 0
                || (m.status == Ongoing && now - m.started_ms > request.duration_filter)
        })
        .map(|m| {
            list_transactions_response::TransactionState::default()
                .with_transactional_id(TransactionalId(str_bytes(m.transactional_id)))
                .with_producer_id(ProducerId(m.producer_id))
                .with_transaction_state(str_bytes(m.status.name()))
        })
        .collect();
    ListTransactionsResponse::default()
        .with_unknown_state_filters(unknown_filters)
        .with_transaction_states(states)
}
