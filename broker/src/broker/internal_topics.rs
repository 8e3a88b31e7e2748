//! The broker's internal topics (`__consumer_offsets`, `__transaction_state`): created on
//! demand, compacted, one partition, and replayed into memory at open.

use std::time::Duration;

use super::Broker;
use crate::config::{CleanupPolicy, TopicConfig};
use crate::error::{Error, Result};
use crate::group_offsets::OFFSETS_TOPIC;
use crate::partition::Isolation;

impl Broker {
    pub(super) async fn load_offsets(&self) -> Result<()> {
        self.ensure_internal_topic(OFFSETS_TOPIC).await?;
        let offsets = &self.inner.offsets;
        self.replay_internal_topic(OFFSETS_TOPIC, |record| {
            offsets.apply_record(record);
            Ok(())
        })
        .await
    }

    /// Creates an internal compacted topic (one partition) if it is missing.
    pub(super) async fn ensure_internal_topic(&self, topic: &str) -> Result<()> {
        if self.topic(topic).is_ok() {
            return Ok(());
        }
        let config = TopicConfig {
            cleanup_policy: CleanupPolicy::COMPACT,
            segment_bytes: 100 << 20,
            ..TopicConfig::default()
        };
        match self.create_topic(topic, config).await {
            Ok(_) | Err(Error::TopicAlreadyExists(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Passes every record of an internal topic to `apply`, oldest first (none if the topic
    /// does not exist).
    pub(super) async fn replay_internal_topic(
        &self,
        topic: &str,
        mut apply: impl FnMut(&crate::batch::Record) -> Result<()>,
    ) -> Result<()> {
        let Ok(partition) = self.partition(topic, 0) else {
            return Ok(());
        };
        let mut offset = partition.log_start_offset();
        let end = partition.log_end_offset();
        while offset < end {
            let fetched = partition
                .fetch(offset, 1 << 20, Duration::ZERO, Isolation::ReadUncommitted)
                .await?;
            // Advance by batch headers: a batch whose records were all compacted away still
            // moves the position.
            let Some(next) = crate::batch::next_offset_after(&fetched.records) else {
                break;
            };
            offset = next;
            for record in &crate::batch::decode_records(&fetched.records)? {
                apply(record)?;
            }
        }
        Ok(())
    }
}
