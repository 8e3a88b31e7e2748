//! The broker's side of consumer-group offsets: commits written durably to
//! `__consumer_offsets` and mirrored in memory, lookups, deletion, and the holds that keep
//! in-process groups' offsets from expiring.

use super::Broker;
use crate::error::Result;
use crate::group_offsets::{CommittedOffset, OFFSETS_TOPIC, OffsetKey, commit_record};
use crate::partition::Durability;

/// A group in use by a consumer in this process (see [`Broker::hold_group`]); released when
/// dropped.
#[derive(Debug)]
pub struct GroupHold {
    broker: Broker,
    group: String,
}

impl Drop for GroupHold {
    fn drop(&mut self) {
        self.broker.inner.local_groups.release(&self.group);
    }
}

impl Broker {
    /// Commits offsets for a group, durably, in one write.
    pub async fn commit_offsets(
        &self,
        group: &str,
        offsets: &[(String, i32, CommittedOffset)],
    ) -> Result<()> {
        let records = offsets
            .iter()
            .map(|(t, p, o)| ((group.to_string(), t.clone(), *p), Some(o.clone())))
            .collect();
        self.write_offset_records(records).await
    }

    pub(super) async fn write_offset_records(
        &self,
        records: Vec<(OffsetKey, Option<CommittedOffset>)>,
    ) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let encoded = records
            .iter()
            .map(|(k, v)| commit_record(k, v.as_ref()))
            .collect::<Result<Vec<_>>>()?;
        let info = self
            .produce(OFFSETS_TOPIC, 0, &encoded, Durability::Durable)
            .await?;
        for (i, (key, value)) in records.into_iter().enumerate() {
            self.inner
                .offsets
                .apply(info.base_offset + i as i64, key, value);
        }
        Ok(())
    }

    /// A group's committed offset for one partition.
    pub fn committed_offset(
        &self,
        group: &str,
        topic: &str,
        partition: i32,
    ) -> Option<CommittedOffset> {
        self.inner
            .offsets
            .get(&(group.to_string(), topic.to_string(), partition))
    }

    /// Every committed offset of a group: (topic, partition, offset).
    pub fn group_offsets(&self, group: &str) -> Vec<(String, i32, CommittedOffset)> {
        self.inner.offsets.group(group)
    }

    /// Groups that have committed offsets.
    pub fn groups_with_offsets(&self) -> Vec<String> {
        self.inner.offsets.groups()
    }

    /// Marks `group` as used by a consumer in this process that commits through
    /// [`Broker::commit_offsets`] rather than joining the group over the protocol (the
    /// streams runtime's embedded backend): until the hold is dropped, offsets retention
    /// treats the group as having members and keeps its offsets.
    pub fn hold_group(&self, group: &str) -> GroupHold {
        self.inner.local_groups.hold(group);
        GroupHold {
            broker: self.clone(),
            group: group.to_string(),
        }
    }

    /// Whether some [`GroupHold`] on `group` is alive.
    pub fn group_is_held(&self, group: &str) -> bool {
        self.inner.local_groups.is_held(group)
    }

    /// Deletes all of a group's committed offsets.
    pub async fn delete_group_offsets(&self, group: &str) -> Result<()> {
        let keys = self.inner.offsets.keys_where(|(g, _, _)| g == group);
        self.write_offset_records(keys.into_iter().map(|k| (k, None)).collect())
            .await
    }
}
