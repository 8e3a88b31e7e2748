//! A stream thread's consumer on Kafka: the group member, with revocations held back until
//! the thread has committed, and lag from librdkafka's statistics.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer as _, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Headers as _, Message, Timestamp};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientContext, Offset, Statistics, TopicPartitionList};

use super::{MAX_POLL_RECORDS, kafka_error};
use crate::error::{Error, Result};
use crate::record::SourceRecord;
use crate::runtime::backend::{Consumer, Polled};

/// Keeps librdkafka's latest per-partition offsets (for lag), and holds back eager
/// revocations until the stream thread has committed and closed the
/// revoked tasks (Kafka Streams does that work in `onPartitionsRevoked`, inside the
/// consumer's poll). librdkafka's group stays in the rebalance, and no other member gets the
/// partitions, until the consumer unassigns them ([`Consumer::release_revoked`]).
#[derive(Default)]
pub(super) struct RebalanceContext {
    /// Partitions of a revocation not yet released.
    pub(super) revoking: Mutex<Option<Vec<(String, i32)>>>,
    /// Set when the consumer closes: revocations then go through at once.
    pub(super) closing: AtomicBool,
    /// Set from a release until the next assignment arrives.
    pub(super) awaiting_assignment: AtomicBool,
    /// Per partition, offsets from librdkafka's latest statistics.
    pub(super) offsets: Mutex<HashMap<(String, i32), PartitionOffsets>>,
}

impl ClientContext for RebalanceContext {
    fn stats(&self, statistics: Statistics) {
        let mut offsets = HashMap::new();
        for (name, topic) in &statistics.topics {
            for (&partition, p) in &topic.partitions {
                // -1 is librdkafka's internal "unassigned" partition.
                if partition >= 0 && p.desired {
                    offsets.insert(
                        (name.clone(), partition),
                        PartitionOffsets {
                            high_watermark: p.hi_offset,
                            committed: p.committed_offset,
                            next_fetch: p.next_offset,
                            queued: p.fetchq_cnt,
                        },
                    );
                }
            }
        }
        *self.offsets.lock() = offsets;
    }
}

impl ConsumerContext for RebalanceContext {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        partitions: &mut TopicPartitionList,
    ) {
        if err != RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS {
            self.awaiting_assignment.store(false, Ordering::SeqCst);
        }
        // Only eager rebalances happen: the consumer is configured with the range assignor
        // and the classic group protocol.
        let result = match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => consumer.assign(partitions),
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS
                if !self.closing.load(Ordering::SeqCst) && !consumer.assignment_lost() =>
            {
                let revoked = partitions
                    .elements()
                    .iter()
                    .map(|e| (e.topic().to_string(), e.partition()))
                    .collect();
                tracing::info!(partitions = ?revoked, "partitions revoked; committing before releasing them");
                *self.revoking.lock() = Some(revoked);
                Ok(())
            }
            _ => {
                // Closing, an error, or the assignment was lost (the member was expelled:
                // its session timed out, or it did not poll for max.poll.interval.ms). The
                // partitions may already be another member's: let go at once, commit
                // nothing; the stream thread closes their tasks without committing.
                if consumer.assignment_lost() {
                    tracing::warn!(
                        "the group assignment was lost; closing its tasks without a commit"
                    );
                }
                self.revoking.lock().take();
                consumer.unassign()
            }
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "rebalance: updating the assignment failed");
        }
    }
}

/// How often librdkafka reports its statistics, high watermarks among them (for lag).
pub(super) const STATISTICS_INTERVAL_MS: &str = "250";

/// What librdkafka's statistics say of one partition (offsets are -1001 when unknown).
#[derive(Debug, Clone, Copy)]
pub(super) struct PartitionOffsets {
    /// The high watermark as of the last fetch response.
    pub(super) high_watermark: i64,
    /// The group's committed offset: where consumption starts after an assignment.
    pub(super) committed: i64,
    /// The next offset to fetch.
    pub(super) next_fetch: i64,
    /// Records fetched, not yet handed out.
    pub(super) queued: i64,
}

pub(super) struct KafkaConsumer {
    pub(super) consumer: BaseConsumer<RebalanceContext>,
    /// Per partition, the offset after the last record handed out.
    pub(super) next: HashMap<(String, i32), i64>,
}

impl KafkaConsumer {
    pub(super) fn new(consumer: BaseConsumer<RebalanceContext>) -> Self {
        Self {
            consumer,
            next: HashMap::new(),
        }
    }

    fn revocation_pending(&self) -> bool {
        self.consumer.context().revoking.lock().is_some()
    }
}

impl Consumer for KafkaConsumer {
    fn poll(&mut self, timeout: Duration) -> Result<Vec<Polled>> {
        let mut by_partition: BTreeMap<(String, i32), Vec<SourceRecord>> = BTreeMap::new();
        let mut wait = timeout;
        let mut taken = 0;
        // A pending revocation ends the poll: the thread must commit and release first.
        while taken < MAX_POLL_RECORDS && !self.revocation_pending() {
            let Some(result) = self.consumer.poll(wait) else {
                break;
            };
            wait = Duration::ZERO;
            let message = match result {
                Ok(m) => m,
                Err(KafkaError::PartitionEOF(_)) => continue,
                // Transient (a broker restarting, a dropped connection): librdkafka
                // reconnects and retries by itself; only fatal errors stop the thread.
                Err(KafkaError::MessageConsumption(code)) => {
                    tracing::warn!(%code, "consumer error; librdkafka retries");
                    break;
                }
                Err(e) => return Err(kafka_error("polling", e)),
            };
            let timestamp = match message.timestamp() {
                Timestamp::CreateTime(t) | Timestamp::LogAppendTime(t) => t,
                Timestamp::NotAvailable => -1,
            };
            let key = (message.topic().to_string(), message.partition());
            self.next.insert(key.clone(), message.offset() + 1);
            by_partition.entry(key).or_default().push(SourceRecord {
                offset: message.offset(),
                timestamp,
                key: message.key().map(Bytes::copy_from_slice),
                value: message.payload().map(Bytes::copy_from_slice),
                headers: message
                    .headers()
                    .map(|headers| {
                        headers
                            .iter()
                            .map(|h| (h.key.to_string(), h.value.map(Bytes::copy_from_slice)))
                            .collect()
                    })
                    .unwrap_or_default(),
            });
            taken += 1;
        }
        Ok(by_partition
            .into_iter()
            .map(|((topic, partition), records)| Polled {
                topic,
                partition,
                records,
            })
            .collect())
    }

    fn assignment(&self) -> Vec<(String, i32)> {
        self.consumer
            .assignment()
            .map(|list| {
                list.elements()
                    .iter()
                    .map(|e| (e.topic().to_string(), e.partition()))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn commit(&mut self, offsets: &[(String, i32, i64)]) -> Result<()> {
        let assigned = self.assignment();
        let mut list = TopicPartitionList::new();
        for (topic, partition, offset) in offsets {
            // Partitions lost in a rebalance are the new owner's to commit.
            if assigned.iter().any(|(t, p)| t == topic && p == partition) {
                list.add_partition_offset(topic, *partition, Offset::Offset(*offset))
                    .map_err(|e| kafka_error("committing", e))?;
            }
        }
        if list.count() == 0 {
            return Ok(());
        }
        self.consumer
            .commit(&list, CommitMode::Sync)
            .map_err(|e| match e.rdkafka_error_code() {
                // The group moved on (a rebalance this member missed): its tasks are lost.
                Some(
                    RDKafkaErrorCode::RebalanceInProgress
                    | RDKafkaErrorCode::IllegalGeneration
                    | RDKafkaErrorCode::UnknownMemberId,
                ) => Error::TaskMigrated(format!("committing offsets: {e}")),
                _ => kafka_error("committing offsets", e),
            })
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn position(&self, topic: &str, partition: i32) -> Option<i64> {
        // librdkafka's application position: past the last record handed out, and past
        // control records (transaction markers) it skipped.
        let positions = self.consumer.position().ok()?;
        positions
            .find_partition(topic, partition)?
            .offset()
            .to_raw()
            .filter(|&o| o >= 0)
    }

    fn lag(&self, topic: &str, partition: i32) -> Option<i64> {
        let key = (topic.to_string(), partition);
        let stats = *self.consumer.context().offsets.lock().get(&key)?;
        if stats.high_watermark < 0 {
            return None;
        }
        // Where this consumer is: after what it handed out; before anything, where it
        // starts (the committed offset, or the fetch position once nothing is queued).
        let position = match self.next.get(&key) {
            Some(&next) => next,
            None if stats.committed >= 0 => stats.committed,
            None if stats.queued == 0 && stats.next_fetch >= 0 => stats.next_fetch,
            None => return None,
        };
        Some((stats.high_watermark - position).max(0))
    }

    fn rebalancing(&self) -> bool {
        self.awaiting_assignment()
    }

    fn pause(&mut self, partitions: &[(String, i32)]) -> Result<()> {
        let list = self.assigned_list(partitions)?;
        if list.count() > 0 {
            self.consumer
                .pause(&list)
                .map_err(|e| kafka_error("pausing partitions", e))?;
        }
        Ok(())
    }

    fn resume(&mut self, partitions: &[(String, i32)]) -> Result<()> {
        let list = self.assigned_list(partitions)?;
        if list.count() > 0 {
            self.consumer
                .resume(&list)
                .map_err(|e| kafka_error("resuming partitions", e))?;
        }
        Ok(())
    }

    fn revoking(&self) -> Vec<(String, i32)> {
        self.consumer
            .context()
            .revoking
            .lock()
            .clone()
            .unwrap_or_default()
    }

    fn release_revoked(&mut self) -> Result<()> {
        let context = self.consumer.context();
        if context.revoking.lock().take().is_some() {
            context.awaiting_assignment.store(true, Ordering::SeqCst);
            self.next.clear();
            self.consumer
                .unassign()
                .map_err(|e| kafka_error("releasing revoked partitions", e))?;
        }
        Ok(())
    }
}

impl KafkaConsumer {
    /// Those of `partitions` assigned to this consumer, as librdkafka's list.
    fn assigned_list(&self, partitions: &[(String, i32)]) -> Result<TopicPartitionList> {
        let assigned = self
            .consumer
            .assignment()
            .map_err(|e| kafka_error("reading the assignment", e))?;
        let mut list = TopicPartitionList::new();
        for (topic, partition) in partitions {
            if assigned.find_partition(topic, *partition).is_some() {
                list.add_partition(topic, *partition);
            }
        }
        Ok(list)
    }

    fn awaiting_assignment(&self) -> bool {
        self.consumer
            .context()
            .awaiting_assignment
            .load(Ordering::SeqCst)
    }
}

impl Drop for KafkaConsumer {
    fn drop(&mut self) {
        // Closing revokes everything; nothing is left to commit by then.
        self.consumer
            .context()
            .closing
            .store(true, Ordering::SeqCst);
        if let Err(e) = self.release_revoked() {
            tracing::warn!(error = %e, "releasing revoked partitions on close");
        }
    }
}
