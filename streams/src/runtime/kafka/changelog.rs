//! [`KafkaChangelog`]: a store's changelog on one partition of a Kafka topic, written through
//! the stream thread's producer and read with its restore reader.

use std::sync::Arc;
use std::time::Duration;

use eddy_state::{Change, Changelog, ChangelogRecord};
use parking_lot::Mutex;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use super::TIMEOUT;
use super::producer::{ThreadTransaction, flush};

/// A store's changelog on one partition of a Kafka topic.
pub struct KafkaChangelog {
    pub(super) name: String,
    pub(super) topic: String,
    pub(super) partition: i32,
    /// The stream thread's producer and transaction.
    pub(super) txn: Arc<ThreadTransaction>,
    /// The stream thread's restore reader.
    pub(super) reader: Arc<Mutex<BaseConsumer>>,
    pub(super) pending: Mutex<Vec<Change>>,
}

impl std::fmt::Debug for KafkaChangelog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaChangelog")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl KafkaChangelog {
    fn error(&self, e: impl std::fmt::Display) -> eddy_state::Error {
        eddy_state::Error::Changelog {
            store: self.name.clone(),
            message: e.to_string(),
        }
    }

    /// A failed write: fencing (exactly-once) is [`eddy_state::Error::ChangelogFenced`], so
    /// the stream thread recovers its tasks instead of stopping.
    fn write_error(&self, e: crate::Error) -> eddy_state::Error {
        if e.is_task_migrated() {
            eddy_state::Error::ChangelogFenced {
                store: self.name.clone(),
                message: e.to_string(),
            }
        } else {
            self.error(e)
        }
    }

    fn watermarks(&self) -> eddy_state::Result<(i64, i64)> {
        self.reader
            .lock()
            .fetch_watermarks(&self.topic, self.partition, TIMEOUT)
            .map_err(|e| self.error(format!("offsets of {}: {e}", self.name)))
    }
}

impl Changelog for KafkaChangelog {
    fn name(&self) -> &str {
        &self.name
    }

    fn append(&self, records: &[Change]) -> eddy_state::Result<()> {
        self.pending.lock().extend_from_slice(records);
        Ok(())
    }

    fn flush(&self) -> eddy_state::Result<i64> {
        let pending = std::mem::take(&mut *self.pending.lock());
        for (key, value) in &pending {
            self.txn
                .send(
                    &self.topic,
                    self.partition,
                    Some(key),
                    value.as_deref(),
                    None,
                    &[],
                )
                .map_err(|e| self.write_error(e))?;
        }
        flush(&self.txn.producer).map_err(|e| self.write_error(self.txn.classify(e)))?;
        self.end_offset()
    }

    fn start_offset(&self) -> eddy_state::Result<i64> {
        Ok(self.watermarks()?.0)
    }

    fn end_offset(&self) -> eddy_state::Result<i64> {
        Ok(self.watermarks()?.1)
    }

    fn read(&self, from_offset: i64, max: usize) -> eddy_state::Result<Vec<ChangelogRecord>> {
        let end = self.end_offset()?;
        if from_offset >= end {
            return Ok(Vec::new());
        }
        let reader = self.reader.lock();
        let mut list = TopicPartitionList::new();
        list.add_partition_offset(&self.topic, self.partition, Offset::Offset(from_offset))
            .map_err(|e| self.error(e))?;
        reader.assign(&list).map_err(|e| self.error(e))?;
        let mut out = Vec::new();
        let deadline = std::time::Instant::now() + TIMEOUT;
        while out.len() < max {
            let Some(result) = reader.poll(Duration::from_millis(100)) else {
                // Compaction or control records may leave nothing more below the end.
                let position = reader.position().ok().and_then(|l| {
                    l.find_partition(&self.topic, self.partition)
                        .and_then(|e| e.offset().to_raw())
                });
                if position.is_some_and(|p| p >= end) {
                    break;
                }
                if std::time::Instant::now() > deadline {
                    return Err(self.error(format!(
                        "reading {} timed out at offset {from_offset}",
                        self.name
                    )));
                }
                continue;
            };
            let message = result.map_err(|e| self.error(e))?;
            if message.offset() < from_offset {
                continue;
            }
            let Some(key) = message.key() else { continue };
            out.push(ChangelogRecord {
                offset: message.offset(),
                key: key.to_vec(),
                value: message.payload().map(<[u8]>::to_vec),
            });
            if message.offset() + 1 >= end {
                break;
            }
        }
        // Stop fetching: a restore is done reading, and an assigned reader would keep
        // prefetching the changelog for the task's whole life.
        reader.unassign().map_err(|e| self.error(e))?;
        Ok(out)
    }
}
