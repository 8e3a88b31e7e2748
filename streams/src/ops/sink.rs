//! Sink nodes: serialise records for a topic (fixed, or chosen per record) and queue them
//! in the task's output, which the runtime writes before committing.

use std::sync::Arc;

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::processor::{AnyBatch, Context, InitContext, Node, downcast};
use crate::record::{Record, SinkRecord};
use crate::serdes::SerdeRef;
use crate::topology::TopicName;

/// Chooses the topic of each record.
pub type TopicChooser<K, V> = Arc<dyn Fn(&K, &V) -> String + Send + Sync>;

/// Turns an output value into the record's value bytes (`None`: a tombstone).
pub(crate) type ValueBytes<V> =
    Arc<dyn Fn(&V) -> eddy_state::Result<Option<Vec<u8>>> + Send + Sync>;

pub(crate) enum SinkTopic<K, V> {
    Fixed(TopicName),
    PerRecord(TopicChooser<K, V>),
}

pub(crate) struct SinkNode<K, V> {
    name: String,
    topic: SinkTopic<K, V>,
    resolved: Option<Arc<str>>,
    key_serde: SerdeRef<K>,
    value_bytes: ValueBytes<V>,
}

impl<K, V> SinkNode<K, V> {
    pub fn new(
        name: &str,
        topic: SinkTopic<K, V>,
        key_serde: SerdeRef<K>,
        value_bytes: ValueBytes<V>,
    ) -> Self {
        Self {
            name: name.to_string(),
            topic,
            resolved: None,
            key_serde,
            value_bytes,
        }
    }
}

impl<K, V> Node for SinkNode<K, V>
where
    K: Send + 'static,
    V: Send + 'static,
{
    fn init(&mut self, ctx: &mut InitContext<'_>) -> Result<()> {
        if let SinkTopic::Fixed(topic) = &self.topic {
            self.resolved = Some(topic.resolve(ctx.application_id()).into());
        }
        Ok(())
    }

    fn process(&mut self, batch: AnyBatch, ctx: &mut Context<'_>) -> Result<()> {
        let input = downcast::<Vec<Record<K, V>>>(batch, &self.name)?;
        for record in input {
            let topic: Arc<str> = match (&self.topic, &self.resolved) {
                (_, Some(topic)) => topic.clone(),
                (SinkTopic::PerRecord(choose), None) => choose(&record.key, &record.value).into(),
                (SinkTopic::Fixed(_), None) => {
                    return Err(Error::Processor {
                        node: self.name.clone(),
                        message: "sink used before init".into(),
                    });
                }
            };
            let key = self
                .key_serde
                .serialize(&record.key)
                .map_err(|source| Error::Serialize {
                    target: format!("topic {topic}"),
                    source,
                })?;
            let value = (self.value_bytes)(&record.value).map_err(|source| Error::Serialize {
                target: format!("topic {topic}"),
                source,
            })?;
            ctx.send(SinkRecord {
                topic,
                partition: None,
                key: Some(Bytes::from(key)),
                value: value.map(Bytes::from),
                timestamp: record.timestamp,
                headers: record.headers.map(|h| (*h).clone()).unwrap_or_default(),
            });
        }
        Ok(())
    }
}
