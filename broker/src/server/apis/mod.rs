//! One module per Kafka API (or family of APIs), and the table of versions implemented.
//!
//! The version ranges are what this server really implements: each handler fills exactly the
//! fields those versions carry. They were checked against what librdkafka 2.x,
//! kafka-python and kafkajs negotiate (see docs/kafka-api.md).

pub(crate) mod admin;
pub(crate) mod api_versions;
pub(crate) mod fetch;
pub(crate) mod list_offsets;
pub(crate) mod metadata;
pub(crate) mod offsets;
pub(crate) mod produce;
pub(crate) mod transactions;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::StrBytes;

use crate::error::Error;

/// Every API this server answers, with the (min, max) versions implemented.
pub(crate) const SUPPORTED: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Produce, 3, 11),
    (ApiKey::Fetch, 4, 12),
    (ApiKey::ListOffsets, 1, 6),
    (ApiKey::Metadata, 0, 12),
    (ApiKey::OffsetCommit, 2, 8),
    (ApiKey::OffsetFetch, 1, 8),
    (ApiKey::FindCoordinator, 0, 4),
    (ApiKey::JoinGroup, 0, 9),
    (ApiKey::Heartbeat, 0, 4),
    (ApiKey::LeaveGroup, 0, 5),
    (ApiKey::SyncGroup, 0, 5),
    (ApiKey::DescribeGroups, 0, 5),
    (ApiKey::ListGroups, 0, 4),
    (ApiKey::ApiVersions, 0, 4),
    (ApiKey::CreateTopics, 2, 7),
    (ApiKey::DeleteTopics, 1, 6),
    (ApiKey::DeleteRecords, 0, 2),
    (ApiKey::InitProducerId, 0, 4),
    (ApiKey::OffsetForLeaderEpoch, 2, 4),
    (ApiKey::DescribeConfigs, 1, 4),
    (ApiKey::CreatePartitions, 0, 3),
    (ApiKey::DeleteGroups, 0, 2),
    (ApiKey::IncrementalAlterConfigs, 0, 1),
    (ApiKey::AddPartitionsToTxn, 0, 3),
    (ApiKey::AddOffsetsToTxn, 0, 3),
    (ApiKey::EndTxn, 0, 3),
    (ApiKey::TxnOffsetCommit, 0, 3),
    (ApiKey::DescribeTransactions, 0, 0),
    (ApiKey::ListTransactions, 0, 1),
];

/// Kafka's names for the supported APIs (metric labels, docs).
pub(crate) const SUPPORTED_NAMES: &[(ApiKey, &str)] = &[
    (ApiKey::Produce, "Produce"),
    (ApiKey::Fetch, "Fetch"),
    (ApiKey::ListOffsets, "ListOffsets"),
    (ApiKey::Metadata, "Metadata"),
    (ApiKey::OffsetCommit, "OffsetCommit"),
    (ApiKey::OffsetFetch, "OffsetFetch"),
    (ApiKey::FindCoordinator, "FindCoordinator"),
    (ApiKey::JoinGroup, "JoinGroup"),
    (ApiKey::Heartbeat, "Heartbeat"),
    (ApiKey::LeaveGroup, "LeaveGroup"),
    (ApiKey::SyncGroup, "SyncGroup"),
    (ApiKey::DescribeGroups, "DescribeGroups"),
    (ApiKey::ListGroups, "ListGroups"),
    (ApiKey::ApiVersions, "ApiVersions"),
    (ApiKey::CreateTopics, "CreateTopics"),
    (ApiKey::DeleteTopics, "DeleteTopics"),
    (ApiKey::DeleteRecords, "DeleteRecords"),
    (ApiKey::InitProducerId, "InitProducerId"),
    (ApiKey::OffsetForLeaderEpoch, "OffsetForLeaderEpoch"),
    (ApiKey::DescribeConfigs, "DescribeConfigs"),
    (ApiKey::CreatePartitions, "CreatePartitions"),
    (ApiKey::DeleteGroups, "DeleteGroups"),
    (ApiKey::IncrementalAlterConfigs, "IncrementalAlterConfigs"),
    (ApiKey::AddPartitionsToTxn, "AddPartitionsToTxn"),
    (ApiKey::AddOffsetsToTxn, "AddOffsetsToTxn"),
    (ApiKey::EndTxn, "EndTxn"),
    (ApiKey::TxnOffsetCommit, "TxnOffsetCommit"),
    (ApiKey::DescribeTransactions, "DescribeTransactions"),
    (ApiKey::ListTransactions, "ListTransactions"),
];

/// The versions implemented for an API, or `None` if it is not implemented.
pub(crate) fn supported_versions(key: ApiKey) -> Option<(i16, i16)> {
    SUPPORTED
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|&(_, min, max)| (min, max))
}

/// The Kafka error code for a broker error.
pub(crate) fn error_code(error: &Error) -> i16 {
    let kafka = match error {
        Error::UnknownTopicOrPartition { .. } => ResponseError::UnknownTopicOrPartition,
        Error::InvalidTopicName { .. } => ResponseError::InvalidTopicException,
        Error::InvalidConfig { .. } => ResponseError::InvalidConfig,
        Error::TopicAlreadyExists(_) => ResponseError::TopicAlreadyExists,
        Error::InvalidPartitions { .. } => ResponseError::InvalidPartitions,
        Error::CorruptBatch(_) => ResponseError::CorruptMessage,
        Error::MessageTooLarge { .. } => ResponseError::MessageTooLarge,
        Error::OffsetOutOfRange { .. } => ResponseError::OffsetOutOfRange,
        Error::OutOfOrderSequence { .. } => ResponseError::OutOfOrderSequenceNumber,
        Error::InvalidProducerEpoch { .. } => ResponseError::InvalidProducerEpoch,
        Error::UnknownProducerId { .. } => ResponseError::UnknownProducerId,
        Error::ProducerFenced { .. } => ResponseError::ProducerFenced,
        Error::InvalidProducerIdMapping { .. } => ResponseError::InvalidProducerIdMapping,
        Error::InvalidTxnState { .. } => ResponseError::InvalidTxnState,
        Error::ConcurrentTransactions(_) => ResponseError::ConcurrentTransactions,
        Error::InvalidTransactionTimeout { .. } => ResponseError::InvalidTransactionTimeout,
        Error::CorruptLog { .. } | Error::Io { .. } | Error::PartitionOffline { .. } => {
            ResponseError::KafkaStorageError
        }
        _ => ResponseError::UnknownServerError,
    };
    kafka.code()
}

/// An error message for the response fields that carry one.
pub(crate) fn message(error: &Error) -> Option<StrBytes> {
    Some(StrBytes::from_string(error.to_string()))
}

/// A `StrBytes` from anything string-like.
pub(crate) fn str_bytes(s: impl Into<String>) -> StrBytes {
    StrBytes::from_string(s.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_supported_api_is_named_and_within_the_codec_range() {
        for &(key, min, max) in SUPPORTED {
            assert!(
                SUPPORTED_NAMES.iter().any(|(k, _)| *k == key),
                "{key:?} has no name"
            );
            let codec = key.valid_versions();
            assert!(
                min >= codec.min && max <= codec.max,
                "{key:?} {min}..={max} vs codec {codec:?}"
            );
        }
        assert_eq!(SUPPORTED.len(), SUPPORTED_NAMES.len());
    }
}
