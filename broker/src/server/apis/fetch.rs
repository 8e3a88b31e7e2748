//! Fetch: whole stored batches from each requested partition, as a long-poll that returns as
//! soon as `min_bytes` are available or `max_wait_ms` has passed. Record sets are never null
//! (an empty one when there is nothing), an offset inside a batch gets the whole batch, and an
//! offset outside the log is OFFSET_OUT_OF_RANGE with the log's bounds.
//!
//! Fetch sessions (KIP-227) are not kept: every response has session id 0, which tells clients
//! to send full fetch requests, as they must with a broker that does not cache sessions.

use std::time::Duration;

use futures_util::future::select_all;
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{FetchRequest, FetchResponse};
use tokio::sync::watch;

use super::error_code;
use crate::error::Error;
use crate::server::dispatch::RequestContext;
use crate::server::metrics::TopicLabels;

/// Longest a fetch may wait, whatever the client asks (Kafka clients ask for 0.5 s by default).
const MAX_WAIT_CAP: Duration = Duration::from_secs(30);

pub(crate) async fn handle(ctx: &RequestContext, request: FetchRequest) -> FetchResponse {
    let wait = Duration::from_millis(request.max_wait_ms.max(0) as u64).min(MAX_WAIT_CAP);
    let deadline = tokio::time::Instant::now() + wait;
    let min_bytes = request.min_bytes.max(0) as usize;
    loop {
        // Watch every partition before reading, so an append racing the read is not missed.
        let mut watchers = watch_all(ctx, &request);
        let (response, bytes, any_error) = read_all(ctx, &request).await;
        if bytes >= min_bytes.max(1)
            || any_error
            || tokio::time::Instant::now() >= deadline
            || watchers.is_empty()
        {
            return response;
        }
        let changed = select_all(watchers.iter_mut().map(|w| Box::pin(w.changed())));
        if tokio::time::timeout_at(deadline, changed).await.is_err() {
            // Deadline: answer with what is there (possibly nothing, possibly a little).
            return read_all(ctx, &request).await.0;
        }
    }
}

fn watch_all(ctx: &RequestContext, request: &FetchRequest) -> Vec<watch::Receiver<i64>> {
    request
        .topics
        .iter()
        .flat_map(|t| {
            let name = t.topic.0.to_string();
            t.partitions
                .iter()
                .filter_map(move |p| ctx.state.broker.partition(&name, p.partition).ok())
                .map(|p| p.watch_end_offset())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Reads every requested partition once, without waiting. Returns the response, the record
/// bytes in it, and whether any partition had an error (which ends the long-poll at once).
async fn read_all(ctx: &RequestContext, request: &FetchRequest) -> (FetchResponse, usize, bool) {
    let version = ctx.version;
    let mut budget = if version >= 3 && request.max_bytes > 0 {
        request.max_bytes as usize
    } else {
        usize::MAX
    };
    let mut total = 0usize;
    let mut any_error = false;
    let mut topics = Vec::with_capacity(request.topics.len());
    for topic in &request.topics {
        let name = topic.topic.0.to_string();
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for p in &topic.partitions {
            let mut data = PartitionData::default()
                .with_partition_index(p.partition)
                .with_high_watermark(-1)
                .with_records(Some(bytes::Bytes::new()));
            if version >= 4 {
                data = data.with_last_stable_offset(-1);
            }
            if version >= 5 {
                data = data.with_log_start_offset(-1);
            }
            if version >= 4 && request.isolation_level == 1 {
                data = data.with_aborted_transactions(Some(Vec::new()));
            }
            let max_bytes = (p.partition_max_bytes.max(0) as usize).min(budget);
            let result = match ctx.state.broker.partition(&name, p.partition) {
                Err(e) => Err(e),
                // With the budget spent, a partition still reports its offsets, with no data.
                Ok(partition) if max_bytes == 0 => Ok((
                    bytes::Bytes::new(),
                    partition.log_end_offset(),
                    partition.log_start_offset(),
                )),
                Ok(partition) => partition
                    .fetch(p.fetch_offset, max_bytes, Duration::ZERO)
                    .await
                    .map(|f| (f.records, f.high_watermark, f.log_start_offset)),
            };
            match result {
                Ok((records, high_watermark, log_start)) => {
                    if !records.is_empty() {
                        count_out(ctx, &name, &records);
                    }
                    total += records.len();
                    budget = budget.saturating_sub(records.len());
                    data = data
                        .with_high_watermark(high_watermark)
                        .with_records(Some(records));
                    if version >= 4 {
                        data = data.with_last_stable_offset(high_watermark);
                    }
                    if version >= 5 {
                        data = data.with_log_start_offset(log_start);
                    }
                }
                Err(e) => {
                    any_error = true;
                    if let Error::OffsetOutOfRange {
                        log_start, log_end, ..
                    } = &e
                    {
                        data = data.with_high_watermark(*log_end);
                        if version >= 4 {
                            data = data.with_last_stable_offset(*log_end);
                        }
                        if version >= 5 {
                            data = data.with_log_start_offset(*log_start);
                        }
                    } else {
                        tracing::debug!(topic = %name, partition = p.partition, error = %e, "fetch failed");
                    }
                    data = data.with_error_code(error_code(&e));
                }
            }
            partitions.push(data);
        }
        topics.push(
            FetchableTopicResponse::default()
                .with_topic(topic.topic.clone())
                .with_partitions(partitions),
        );
    }
    (
        FetchResponse::default().with_responses(topics),
        total,
        any_error,
    )
}

fn count_out(ctx: &RequestContext, topic: &str, batches: &[u8]) {
    let labels = TopicLabels {
        topic: topic.to_string(),
    };
    let metrics = &ctx.state.metrics;
    metrics
        .bytes_out
        .get_or_create(&labels)
        .inc_by(batches.len() as u64);
    metrics
        .records_out
        .get_or_create(&labels)
        .inc_by(crate::batch::count_records(batches));
}
