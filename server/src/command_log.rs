//! The command topic (`_confluent-ksql-<service id>_command_topic`, as ksqlDB names it):
//! one record per statement that changed what the server runs, keyed by its command id
//! (`stream/PAGEVIEWS/create`), valued by the statement and the properties it ran with.
//! The server appends to it after a statement succeeded and replays it, in order, when it
//! starts, and servers sharing the service id follow it ([`crate::follower`]). One
//! partition, nothing deleted (`retention.ms=-1`): the order is the history.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use eddy_sql::engine::Cluster;
use eddy_streams::record::RawRecord;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A recorded statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    /// The statement, variables substituted.
    pub statement: String,
    /// The properties set for it (the request's `streamsProperties` and the `SET`s before
    /// it), over the server's own.
    #[serde(rename = "streamsProperties", default)]
    pub properties: BTreeMap<String, String>,
    /// The server process that ran it first (servers sharing a service id skip their own
    /// commands as they follow the topic).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
}

/// Decodes a command record's value.
pub fn decode(topic: &str, offset: i64, value: Option<&[u8]>) -> Result<Command> {
    let corrupt = |reason: String| Error::CorruptCommand {
        topic: topic.to_string(),
        offset,
        reason,
    };
    let value = value.ok_or_else(|| corrupt("a record without a value".into()))?;
    serde_json::from_slice(value).map_err(|e| corrupt(e.to_string()))
}

/// The command topic of one service id.
pub struct CommandLog {
    cluster: Arc<dyn Cluster>,
    topic: String,
}

impl std::fmt::Debug for CommandLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandLog")
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

/// ksqlDB's name of the command topic of `service_id`.
pub fn command_topic(service_id: &str) -> String {
    format!("_confluent-ksql-{service_id}_command_topic")
}

impl CommandLog {
    /// The command topic `topic` on `cluster`, created (one partition, kept forever) if it
    /// does not exist.
    pub fn open(cluster: Arc<dyn Cluster>, topic: String) -> Result<Self> {
        if cluster.partitions(&topic)?.is_none() {
            let config = BTreeMap::from([
                ("cleanup.policy".to_string(), "delete".to_string()),
                ("retention.ms".to_string(), "-1".to_string()),
            ]);
            cluster.create_topic(&topic, 1, 1, &config)?;
        }
        Ok(Self { cluster, topic })
    }

    /// The topic's name.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Every recorded command, oldest first, with its offset.
    pub fn read_all(&self) -> Result<Vec<(i64, Command)>> {
        let records = self.cluster.read(&self.topic, usize::MAX)?;
        let mut commands = Vec::with_capacity(records.len());
        for (_, offset, record) in records {
            commands.push((
                offset,
                decode(&self.topic, offset, record.value.as_deref())?,
            ));
        }
        Ok(commands)
    }

    /// Appends a command; it is durable when this returns.
    pub fn append(&self, command_id: &str, command: &Command) -> Result<()> {
        let value = serde_json::to_vec(command).map_err(|e| Error::CorruptCommand {
            topic: self.topic.clone(),
            offset: -1,
            reason: e.to_string(),
        })?;
        let mut record = RawRecord::new(
            Some(Bytes::copy_from_slice(command_id.as_bytes())),
            Some(Bytes::from(value)),
            now_ms(),
        );
        record.partition = Some(0);
        self.cluster.produce(&self.topic, record)?;
        Ok(())
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
