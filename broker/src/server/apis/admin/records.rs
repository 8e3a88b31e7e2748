//! DeleteRecords: moves each partition's log start offset forward (Kafka's "low watermark")
//! through [`crate::Broker::delete_records`]. Offset -1 means the high watermark (on a single
//! broker, the log end offset); an offset past the end is OFFSET_OUT_OF_RANGE; one at or
//! before the current log start changes nothing and reports the current log start.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse};

use crate::broker::OffsetSpec;
use crate::broker::is_internal_topic;
use crate::error::Result;
use crate::server::apis::error_code;
use crate::server::dispatch::RequestContext;

/// The offset that means "the high watermark".
const HIGH_WATERMARK: i64 = -1;

pub(crate) async fn delete_records(
    ctx: &RequestContext,
    request: DeleteRecordsRequest,
) -> DeleteRecordsResponse {
    let mut topics = Vec::with_capacity(request.topics.len());
    for topic in request.topics {
        let name = topic.name.0.as_str();
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for p in &topic.partitions {
            let result =
                DeleteRecordsPartitionResult::default().with_partition_index(p.partition_index);
            partitions.push(if is_internal_topic(name) {
                // Deleting committed offsets from under the groups is never wanted; Kafka
                // refuses DeleteRecords on internal topics the same way.
                result
                    .with_low_watermark(-1)
                    .with_error_code(ResponseError::InvalidTopicException.code())
            } else {
                match delete(ctx, name, p.partition_index, p.offset).await {
                    Ok(low_watermark) => result.with_low_watermark(low_watermark),
                    Err(e) => {
                        tracing::debug!(topic = name, partition = p.partition_index, error = %e, "DeleteRecords refused");
                        result.with_low_watermark(-1).with_error_code(error_code(&e))
                    }
                }
            });
        }
        topics.push(
            DeleteRecordsTopicResult::default()
                .with_name(topic.name)
                .with_partitions(partitions),
        );
    }
    DeleteRecordsResponse::default().with_topics(topics)
}

async fn delete(ctx: &RequestContext, topic: &str, partition: i32, offset: i64) -> Result<i64> {
    let broker = &ctx.state.broker;
    let offset = if offset == HIGH_WATERMARK {
        broker
            .list_offset(topic, partition, OffsetSpec::Latest)
            .await?
            .map_or(0, |(end, _)| end)
    } else {
        offset
    };
    broker.delete_records(topic, partition, offset).await
}
