//! The untyped edges of a topology ([`TopologyBuilder`](crate::TopologyBuilder)): a source
//! that forwards the records it read as they are, and a sink that writes raw records.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::processor::{AnyBatch, Context, InitContext, Node, downcast};
use crate::record::{RawRecord, SinkRecord, SourceRecord};
use crate::topology::TopicName;

/// Forwards `Vec<SourceRecord>` batches unchanged, counting them as processed. Stream time
/// is the decoding node's to move.
pub(crate) struct RawSourceNode {
    name: String,
}

impl RawSourceNode {
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
        }
    }
}

impl Node for RawSourceNode {
    fn process(&mut self, batch: AnyBatch, ctx: &mut Context<'_>) -> Result<()> {
        let records = downcast::<Vec<SourceRecord>>(batch, &self.name)?;
        ctx.record_processed(records.len() as u64);
        if !records.is_empty() {
            ctx.forward(records);
        }
        Ok(())
    }
}

/// Writes `Vec<RawRecord>` batches to one topic.
pub(crate) struct RawSinkNode {
    name: String,
    topic: TopicName,
    resolved: Option<Arc<str>>,
}

impl RawSinkNode {
    pub fn new(name: &str, topic: TopicName) -> Self {
        Self {
            name: name.to_string(),
            topic,
            resolved: None,
        }
    }
}

impl Node for RawSinkNode {
    fn init(&mut self, ctx: &mut InitContext<'_>) -> Result<()> {
        self.resolved = Some(self.topic.resolve(ctx.application_id()).into());
        Ok(())
    }

    fn process(&mut self, batch: AnyBatch, ctx: &mut Context<'_>) -> Result<()> {
        let records = downcast::<Vec<RawRecord>>(batch, &self.name)?;
        let topic = self.resolved.clone().ok_or_else(|| Error::Processor {
            node: self.name.clone(),
            message: "sink used before init".into(),
        })?;
        for r in records {
            ctx.send(SinkRecord {
                topic: topic.clone(),
                partition: r.partition,
                key: r.key,
                value: r.value,
                timestamp: r.timestamp,
                headers: r.headers,
            });
        }
        Ok(())
    }
}
