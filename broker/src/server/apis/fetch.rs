//! Fetch: whole stored batches from each requested partition, as a long-poll that returns as
//! soon as `min_bytes` are available or `max_wait_ms` has passed. Record sets are never null
//! (an empty one when there is nothing), an offset inside a batch gets the whole batch, and an
//! offset outside the log is OFFSET_OUT_OF_RANGE with the log's bounds.
//!
//! `read_committed` fetches (isolation level 1) stop at the last stable offset and list the
//! aborted transactions among the records returned, which clients skip.
//!
//! Fetch sessions (KIP-227) are not kept: every response has session id 0, which tells clients
//! to send full fetch requests, as they must with a broker that does not cache sessions.

use std::time::Duration;

use futures_util::future::select_all;
use kafka_protocol::messages::fetch_response::{
    AbortedTransaction, FetchableTopicResponse, PartitionData,
};
use kafka_protocol::messages::{FetchRequest, FetchResponse, ProducerId};
use tokio::sync::watch;

use super::error_code;
use crate::error::Error;
use crate::partition::{FetchResult, Isolation};
use crate::server::dispatch::RequestContext;
use crate::server::memory_budget::Reservation;
use crate::server::metrics::TopicLabels;

/// Longest a fetch may wait, whatever the client asks (Kafka clients ask for 0.5 s by default).
const MAX_WAIT_CAP: Duration = Duration::from_secs(30);

pub(crate) async fn handle(
    ctx: &RequestContext,
    request: FetchRequest,
) -> (FetchResponse, Reservation) {
    let wait = Duration::from_millis(request.max_wait_ms.max(0) as u64).min(MAX_WAIT_CAP);
    let deadline = tokio::time::Instant::now() + wait;
    let min_bytes = request.min_bytes.max(0) as usize;
    loop {
        // Watch every partition before reading, so an append racing the read is not missed.
        let mut watchers = watch_all(ctx, &request);
        let read = read_all(ctx, &request).await;
        if read.bytes >= min_bytes.max(1)
            || read.any_error
            || tokio::time::Instant::now() >= deadline
            || watchers.is_empty()
        {
            return (read.response, read.reservation);
        }
        // Not enough yet: give the memory back before waiting (a long-poll holds none).
        drop(read);
        let changed = select_all(watchers.iter_mut().map(|w| Box::pin(w.changed())));
        if tokio::time::timeout_at(deadline, changed).await.is_err() {
            // Deadline: answer with what is there (possibly nothing, possibly a little).
            let read = read_all(ctx, &request).await;
            return (read.response, read.reservation);
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

/// One pass over the requested partitions.
struct Read {
    response: FetchResponse,
    /// Record bytes in the response.
    bytes: usize,
    /// Whether any partition had an error (which ends the long-poll at once).
    any_error: bool,
    /// The response's share of the fetch memory budget, trimmed to `bytes`.
    reservation: Reservation,
}

/// Reads every requested partition once, without waiting, within the response limit
/// (min(request max_bytes, `fetch_max_bytes`)) and the bytes it could reserve from the fetch
/// memory budget. The budget is asked once, for the whole response, before any read (a fetch
/// never waits for budget while holding some), then trimmed to what was read.
async fn read_all(ctx: &RequestContext, request: &FetchRequest) -> Read {
    let version = ctx.version;
    // read_committed exists from v4; older fetches read everything.
    let isolation = if version >= 4 && request.isolation_level == 1 {
        Isolation::ReadCommitted
    } else {
        Isolation::ReadUncommitted
    };
    let server_max = ctx.state.config.fetch_max_bytes.max(1);
    // Versions before 3 carry no response limit: the server's still applies.
    let mut budget = if version >= 3 && request.max_bytes > 0 {
        (request.max_bytes as usize).min(server_max)
    } else {
        server_max
    };
    let partitions: Vec<Vec<_>> = request
        .topics
        .iter()
        .map(|t| {
            let name = t.topic.0.to_string();
            t.partitions
                .iter()
                .map(|p| ctx.state.broker.partition(&name, p.partition))
                .collect()
        })
        .collect();
    // What this response can hold at most: no partition returns more than its log's size.
    let wanted = request
        .topics
        .iter()
        .zip(&partitions)
        .flat_map(|(t, found)| t.partitions.iter().zip(found))
        .filter_map(|(p, found)| {
            let partition = found.as_ref().ok()?;
            let size = partition.size_bytes();
            Some(
                (p.partition_max_bytes.max(0) as usize)
                    .min(usize::try_from(size).unwrap_or(usize::MAX)),
            )
        })
        .fold(0usize, usize::saturating_add)
        .min(budget);
    let reservation = ctx.state.memory_budget.reserve(wanted).await;
    budget = budget.min(reservation.bytes());
    let mut total = 0usize;
    let mut any_error = false;
    let mut topics = Vec::with_capacity(request.topics.len());
    for (topic, found) in request.topics.iter().zip(partitions) {
        let name = topic.topic.0.to_string();
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for (p, found) in topic.partitions.iter().zip(found) {
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
            // Until some partition has returned data, one whole batch is returned even if it
            // is larger than the limits (as Kafka does), so a big batch is never stuck; after
            // that, a batch that does not fit is left for the next fetch.
            let min_one = total == 0;
            let result = match found {
                Err(e) => Err(e),
                // With the budget spent, a partition still reports its offsets, with no data.
                Ok(partition) if max_bytes == 0 && !min_one => Ok(FetchResult {
                    high_watermark: partition.log_end_offset(),
                    log_start_offset: partition.log_start_offset(),
                    last_stable_offset: partition.last_stable_offset(),
                    ..FetchResult::default()
                }),
                Ok(partition) => {
                    partition
                        .read_now(p.fetch_offset, max_bytes, min_one, isolation)
                        .await
                }
            };
            match result {
                Ok(FetchResult {
                    records,
                    high_watermark,
                    log_start_offset: log_start,
                    last_stable_offset,
                    aborted,
                }) => {
                    if !records.is_empty() {
                        count_out(ctx, &name, &records);
                    }
                    total += records.len();
                    budget = budget.saturating_sub(records.len());
                    data = data
                        .with_high_watermark(high_watermark)
                        .with_records(Some(records));
                    if version >= 4 {
                        data = data.with_last_stable_offset(last_stable_offset);
                    }
                    if isolation == Isolation::ReadCommitted {
                        data = data.with_aborted_transactions(Some(
                            aborted
                                .into_iter()
                                .map(|t| {
                                    AbortedTransaction::default()
                                        .with_producer_id(ProducerId(t.producer_id))
                                        .with_first_offset(t.first_offset)
                                })
                                .collect(),
                        ));
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
    let mut reservation = reservation;
    reservation.shrink_to(total);
    Read {
        response: FetchResponse::default().with_responses(topics),
        bytes: total,
        any_error,
        reservation,
    }
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
