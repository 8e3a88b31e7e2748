//! Topic names and topic configuration: validation as Kafka does it, defaults, and the
//! string key/value form that the wire protocol and the command line use.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Longest topic name Kafka accepts.
pub const MAX_TOPIC_NAME_LEN: usize = 249;

/// Checks a topic name the way Kafka does: `[a-zA-Z0-9._-]`, 1..=249 characters, not `.` or `..`.
pub fn validate_topic_name(name: &str) -> Result<()> {
    let refuse = |reason: String| {
        Err(Error::InvalidTopicName {
            name: name.to_string(),
            reason,
        })
    };
    if name.is_empty() {
        return refuse("the name is empty".into());
    }
    if name == "." || name == ".." {
        return refuse("'.' and '..' are not allowed".into());
    }
    if name.len() > MAX_TOPIC_NAME_LEN {
        return refuse(format!(
            "{} characters is longer than the maximum {MAX_TOPIC_NAME_LEN}",
            name.len()
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return refuse(format!(
            "character {bad:?} is not allowed; use ASCII letters, digits, '.', '_' and '-'"
        ));
    }
    Ok(())
}

/// What happens to old data in a topic (`cleanup.policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CleanupPolicy {
    /// Whole old segments are deleted by `retention.ms` and `retention.bytes`.
    pub delete: bool,
    /// Only the latest record per key is kept (log compaction).
    pub compact: bool,
}

impl CleanupPolicy {
    /// `cleanup.policy=delete`, Kafka's default.
    pub const DELETE: Self = Self {
        delete: true,
        compact: false,
    };
    /// `cleanup.policy=compact`, for changelogs and offsets.
    pub const COMPACT: Self = Self {
        delete: false,
        compact: true,
    };

    fn parse(value: &str) -> Option<Self> {
        let mut policy = Self {
            delete: false,
            compact: false,
        };
        for part in value.split(',').map(str::trim) {
            match part {
                "delete" => policy.delete = true,
                "compact" => policy.compact = true,
                _ => return None,
            }
        }
        (policy.delete || policy.compact).then_some(policy)
    }

    fn render(self) -> &'static str {
        match (self.compact, self.delete) {
            (true, true) => "compact,delete",
            (true, false) => "compact",
            _ => "delete",
        }
    }
}

/// A topic's configuration. Field names follow Kafka's config keys; `-1` means "no limit"
/// where Kafka uses it that way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicConfig {
    /// Number of partitions.
    pub partitions: i32,
    /// `retention.ms`: delete segments whose newest record is older than this; -1 keeps forever.
    pub retention_ms: i64,
    /// `retention.bytes`: delete oldest segments while a partition is larger; -1 is unbounded.
    pub retention_bytes: i64,
    /// `segment.bytes`: roll to a new segment file at this size.
    pub segment_bytes: u64,
    /// `segment.ms`: roll when the segment's record timestamps span more than this.
    pub segment_ms: i64,
    /// `cleanup.policy`.
    pub cleanup_policy: CleanupPolicy,
    /// `max.message.bytes`: the largest record batch accepted.
    pub max_message_bytes: u32,
    /// `min.compaction.lag.ms`: records younger than this are never compacted away.
    pub min_compaction_lag_ms: i64,
    /// `delete.retention.ms`: how long a tombstone survives compaction.
    pub delete_retention_ms: i64,
    /// `index.interval.bytes`: bytes between sparse index entries.
    pub index_interval_bytes: u32,
}

impl Default for TopicConfig {
    /// Kafka's broker defaults, with one partition.
    fn default() -> Self {
        Self {
            partitions: 1,
            retention_ms: 7 * 24 * 3600 * 1000,
            retention_bytes: -1,
            segment_bytes: 1 << 30,
            segment_ms: 7 * 24 * 3600 * 1000,
            cleanup_policy: CleanupPolicy::DELETE,
            max_message_bytes: 1_048_588,
            min_compaction_lag_ms: 0,
            delete_retention_ms: 24 * 3600 * 1000,
            index_interval_bytes: 4096,
        }
    }
}

/// Smallest `segment.bytes` accepted (Kafka allows 14; that tiny a segment only makes sense in
/// tests, which is also why it is allowed here).
pub const MIN_SEGMENT_BYTES: u64 = 14;

/// The config keys a topic understands, for error messages and `describe`.
pub const TOPIC_CONFIG_KEYS: &[&str] = &[
    "cleanup.policy",
    "delete.retention.ms",
    "index.interval.bytes",
    "max.message.bytes",
    "min.compaction.lag.ms",
    "retention.bytes",
    "retention.ms",
    "segment.bytes",
    "segment.ms",
];

impl TopicConfig {
    /// A config with `partitions` and the defaults, then `overrides` applied (Kafka's keys).
    pub fn from_overrides<'a>(
        partitions: i32,
        overrides: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self> {
        let mut config = Self {
            partitions,
            ..Self::default()
        };
        config.validate_partitions()?;
        for (key, value) in overrides {
            config.set(key, value)?;
        }
        Ok(config)
    }

    fn validate_partitions(&self) -> Result<()> {
        if self.partitions < 1 {
            return Err(Error::InvalidConfig {
                key: "partitions".into(),
                value: self.partitions.to_string(),
                reason: "a topic needs at least one partition".into(),
            });
        }
        Ok(())
    }

    /// Sets one config key from its string form, checking the value.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        let invalid = |reason: &str| Error::InvalidConfig {
            key: key.to_string(),
            value: value.to_string(),
            reason: reason.to_string(),
        };
        let int = |min: i64| -> Result<i64> {
            let v: i64 = value
                .trim()
                .parse()
                .map_err(|_| invalid("expected an integer"))?;
            if v < min {
                return Err(invalid(&format!("must be at least {min}")));
            }
            Ok(v)
        };
        match key {
            "retention.ms" => self.retention_ms = int(-1)?,
            "retention.bytes" => self.retention_bytes = int(-1)?,
            "segment.bytes" => {
                let v = int(MIN_SEGMENT_BYTES as i64)?;
                if v > i32::MAX as i64 {
                    return Err(invalid(
                        "must fit a 32-bit file position (at most 2147483647)",
                    ));
                }
                self.segment_bytes = v as u64;
            }
            "segment.ms" => self.segment_ms = int(1)?,
            "cleanup.policy" => {
                self.cleanup_policy = CleanupPolicy::parse(value)
                    .ok_or_else(|| invalid("expected delete, compact or compact,delete"))?
            }
            "max.message.bytes" => {
                let v = int(0)?;
                self.max_message_bytes =
                    u32::try_from(v).map_err(|_| invalid("must fit in 32 bits"))?;
            }
            "min.compaction.lag.ms" => self.min_compaction_lag_ms = int(0)?,
            "delete.retention.ms" => self.delete_retention_ms = int(0)?,
            "index.interval.bytes" => {
                let v = int(0)?;
                self.index_interval_bytes =
                    u32::try_from(v).map_err(|_| invalid("must fit in 32 bits"))?;
            }
            _ => {
                return Err(Error::InvalidConfig {
                    key: key.to_string(),
                    value: value.to_string(),
                    reason: format!(
                        "unknown config key; known keys: {}",
                        TOPIC_CONFIG_KEYS.join(", ")
                    ),
                });
            }
        }
        Ok(())
    }

    /// Every config key with its current value, in Kafka's string form.
    pub fn entries(&self) -> BTreeMap<&'static str, String> {
        BTreeMap::from([
            ("cleanup.policy", self.cleanup_policy.render().to_string()),
            ("delete.retention.ms", self.delete_retention_ms.to_string()),
            (
                "index.interval.bytes",
                self.index_interval_bytes.to_string(),
            ),
            ("max.message.bytes", self.max_message_bytes.to_string()),
            (
                "min.compaction.lag.ms",
                self.min_compaction_lag_ms.to_string(),
            ),
            ("retention.bytes", self.retention_bytes.to_string()),
            ("retention.ms", self.retention_ms.to_string()),
            ("segment.bytes", self.segment_bytes.to_string()),
            ("segment.ms", self.segment_ms.to_string()),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_follow_kafka_rules() {
        for ok in ["a", "orders", "my.topic_v2-x", &"x".repeat(249)] {
            validate_topic_name(ok).unwrap();
        }
        for (bad, why) in [
            ("", "empty"),
            (".", "not allowed"),
            ("..", "not allowed"),
            ("a b", "' '"),
            ("a/b", "'/'"),
            ("é", "'é'"),
        ] {
            let err = validate_topic_name(bad).unwrap_err().to_string();
            assert!(err.contains(why), "{bad:?}: {err}");
        }
        let err = validate_topic_name(&"x".repeat(250))
            .unwrap_err()
            .to_string();
        assert!(err.contains("250 characters"), "{err}");
    }

    #[test]
    fn overrides_are_checked_and_round_trip() {
        let config = TopicConfig::from_overrides(
            3,
            [
                ("cleanup.policy", "compact,delete"),
                ("retention.ms", "-1"),
                ("segment.bytes", "1024"),
            ],
        )
        .unwrap();
        assert_eq!(config.partitions, 3);
        assert!(config.cleanup_policy.compact && config.cleanup_policy.delete);
        assert_eq!(config.retention_ms, -1);
        let entries = config.entries();
        let again =
            TopicConfig::from_overrides(3, entries.iter().map(|(k, v)| (*k, v.as_str()))).unwrap();
        assert_eq!(again, config);

        let err = TopicConfig::from_overrides(1, [("segment.bytes", "ten")]).unwrap_err();
        assert!(err.to_string().contains("segment.bytes"), "{err}");
        let err = TopicConfig::from_overrides(1, [("retention.mss", "1")]).unwrap_err();
        assert!(err.to_string().contains("unknown config key"), "{err}");
        let err = TopicConfig::from_overrides(1, [("cleanup.policy", "forever")]).unwrap_err();
        assert!(err.to_string().contains("compact"), "{err}");
        assert!(TopicConfig::from_overrides(0, []).is_err());
    }
}
