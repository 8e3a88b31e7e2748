//! A stream thread's producer on Kafka: deliveries checked at flush, and under exactly-once
//! its transaction, shared by the thread's sinks and changelogs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use eddy_state::Changelog;
use parking_lot::Mutex;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer as _, ProducerContext};
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use super::changelog::KafkaChangelog;
use super::consumer::KafkaConsumer;
use super::{TIMEOUT, kafka_error};
use crate::error::{Error, Result};
use crate::record::SinkRecord;
use crate::runtime::backend::{Consumer, Producer};

/// Keeps the first delivery failure librdkafka reports.
#[derive(Default)]
pub(super) struct DeliveryFailures {
    pub(super) first: Mutex<Option<String>>,
}

impl ClientContext for DeliveryFailures {}

impl ProducerContext for DeliveryFailures {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, message)) = result {
            self.first
                .lock()
                .get_or_insert_with(|| format!("{}-{}: {e}", message.topic(), message.partition()));
        }
    }
}

/// Sends one record, polling the producer while its queue is full.
pub(super) fn send(
    producer: &BaseProducer<DeliveryFailures>,
    topic: &str,
    partition: i32,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    timestamp: Option<i64>,
    headers: &[(String, Option<Bytes>)],
) -> Result<()> {
    let mut record = BaseRecord::<[u8], [u8]>::to(topic).partition(partition);
    if let Some(k) = key {
        record = record.key(k);
    }
    if let Some(v) = value {
        record = record.payload(v);
    }
    if let Some(ts) = timestamp {
        record = record.timestamp(ts);
    }
    if !headers.is_empty() {
        let mut owned = OwnedHeaders::new_with_capacity(headers.len());
        for (key, value) in headers {
            owned = owned.insert(Header {
                key: key.as_str(),
                value: value.as_deref(),
            });
        }
        record = record.headers(owned);
    }
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                record = returned;
                producer.poll(Duration::from_millis(10));
            }
            Err((e, _)) => return Err(kafka_error(&format!("sending to {topic}-{partition}"), e)),
        }
    }
}

/// Waits for every delivery; fails if one failed.
pub(super) fn flush(producer: &BaseProducer<DeliveryFailures>) -> Result<()> {
    flush_promptly(producer, TIMEOUT).map_err(|e| kafka_error("flushing the producer", e))?;
    if let Some(failure) = producer.context().first.lock().take() {
        return Err(kafka_error("delivering records", failure));
    }
    Ok(())
}

/// `BaseProducer::flush` without its 100 ms steps. rdkafka's flush alternates a
/// non-blocking `rd_kafka_flush` with `poll(100 ms)`, and its `poll` waits out its whole
/// timeout even once the last delivery report has been served, so every flush with records
/// in flight took at least 100 ms: with a commit every 100 ms, half the thread's time.
/// Here the poll steps are of 1 ms (`flush(ZERO)` still tells librdkafka to send what
/// lingers at once).
pub(super) fn flush_promptly(
    producer: &BaseProducer<DeliveryFailures>,
    timeout: Duration,
) -> rdkafka::error::KafkaResult<()> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        match producer.flush(Duration::ZERO) {
            Err(KafkaError::Flush(code)) if code == RDKafkaErrorCode::OperationTimedOut => {
                if std::time::Instant::now() >= deadline {
                    return Err(KafkaError::Flush(code));
                }
                producer.poll(Duration::from_millis(1));
            }
            other => return other,
        }
    }
}

/// A stream thread's producer and, under exactly-once, its open transaction: shared by the
/// thread's sinks and its stores' changelogs, which all write in the same transaction.
pub(super) struct ThreadTransaction {
    pub(super) producer: BaseProducer<DeliveryFailures>,
    pub(super) transactional: bool,
    /// Whether a transaction has begun since the last commit.
    pub(super) open: AtomicBool,
}

impl ThreadTransaction {
    /// Begins a transaction before the first record after a commit (exactly-once only).
    fn ensure_open(&self) -> Result<()> {
        if self.transactional && !self.open.swap(true, Ordering::SeqCst) {
            self.producer
                .begin_transaction()
                .map_err(|e| self.classify(kafka_error("beginning a transaction", e)))?;
        }
        Ok(())
    }

    /// Under exactly-once, an error after which the producer cannot go on (librdkafka
    /// reports a fatal error: it was fenced) or its transaction was aborted means the
    /// thread's tasks are lost ([`Error::TaskMigrated`]), not that the thread must stop.
    pub(super) fn classify(&self, error: Error) -> Error {
        if !self.transactional {
            return error;
        }
        match self.producer.client().fatal_error() {
            Some((code, reason)) => Error::TaskMigrated(format!("{error} ({code:?}: {reason})")),
            None => error,
        }
    }

    pub(super) fn send(
        &self,
        topic: &str,
        partition: i32,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        timestamp: Option<i64>,
        headers: &[(String, Option<Bytes>)],
    ) -> Result<()> {
        self.ensure_open()?;
        send(
            &self.producer,
            topic,
            partition,
            key,
            value,
            timestamp,
            headers,
        )
        .map_err(|e| self.classify(e))
    }

    /// Sends the input offsets in the transaction and commits it. An error that leaves the
    /// transaction abortable aborts it (nothing of it becomes visible); either way the
    /// error is returned.
    fn commit(&self, offsets: &[(String, i32, i64)], consumer: &KafkaConsumer) -> Result<()> {
        self.ensure_open()?;
        let group = match offsets.is_empty() {
            true => None,
            false => Some(consumer.consumer.group_metadata().ok_or_else(|| {
                kafka_error(
                    "committing the transaction",
                    "the consumer has no group metadata (it has not joined its group)",
                )
            })?),
        };
        let result = (|| -> rdkafka::error::KafkaResult<()> {
            if let Some(group) = &group {
                let mut list = TopicPartitionList::new();
                for (topic, partition, offset) in offsets {
                    list.add_partition_offset(topic, *partition, Offset::Offset(*offset))?;
                }
                self.producer
                    .send_offsets_to_transaction(&list, group, TIMEOUT)?;
            }
            self.producer.commit_transaction(TIMEOUT)
        })();
        self.open.store(false, Ordering::SeqCst);
        if let Err(KafkaError::Transaction(e)) = &result
            && e.txn_requires_abort()
            && let Err(abort) = self.producer.abort_transaction(TIMEOUT)
        {
            tracing::warn!(error = %abort, "aborting the failed transaction failed too");
        }
        // The transaction is over either way (committed, aborted, or the producer fenced):
        // a failure loses the thread's tasks.
        if let Err(e) = result {
            return Err(Error::TaskMigrated(format!(
                "committing the transaction: {e}"
            )));
        }
        if let Some(failure) = self.producer.context().first.lock().take() {
            return Err(self.classify(kafka_error("delivering records", failure)));
        }
        Ok(())
    }
}

/// A stream thread's clients: its producer (with its transaction), shared by its sinks and
/// its stores' changelogs, and the reader its stores restore with.
pub(super) struct KafkaProducer {
    pub(super) txn: Arc<ThreadTransaction>,
    pub(super) restore: Arc<Mutex<BaseConsumer>>,
}

impl Producer for KafkaProducer {
    fn send(&mut self, topic: &str, partition: i32, records: Vec<SinkRecord>) -> Result<()> {
        for r in &records {
            self.txn.send(
                topic,
                partition,
                r.key.as_deref(),
                r.value.as_deref(),
                Some(r.timestamp),
                &r.headers,
            )?;
        }
        self.txn.producer.poll(Duration::ZERO);
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        flush(&self.txn.producer).map_err(|e| self.txn.classify(e))
    }

    fn commit_offsets(
        &mut self,
        offsets: &[(String, i32, i64)],
        consumer: &mut dyn Consumer,
    ) -> Result<()> {
        if !self.txn.transactional {
            self.flush()?;
            return consumer.commit(offsets);
        }
        let consumer = consumer
            .as_any()
            .downcast_ref::<KafkaConsumer>()
            .ok_or_else(|| {
                Error::Config("a Kafka transaction needs the Kafka backend's consumer".into())
            })?;
        self.txn.commit(offsets, consumer)
    }

    fn changelog(&self, topic: &str, partition: i32) -> Result<Arc<dyn Changelog>> {
        Ok(Arc::new(KafkaChangelog {
            name: format!("{topic}-{partition}"),
            topic: topic.to_string(),
            partition,
            txn: Arc::clone(&self.txn),
            reader: Arc::clone(&self.restore),
            pending: Mutex::new(Vec::new()),
        }))
    }
}
